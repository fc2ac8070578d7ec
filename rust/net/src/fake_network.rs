//! GNS's fake network conditions (`NETWORKING_CONFIG_FAKE_PACKET_*`, `FAKE_RATE_LIMIT_*`) on
//! real UDP: what a game developer turns on to see their netcode under loss, lag, jitter,
//! reordering, duplication and a bandwidth cap, without a network emulator. Each UDP socket has
//! one [`FakeNetwork`], a pair of [`Link`]s from `steamnet-proto` (the model the seeded simulator
//! uses too), one for what it sends and one for what it receives.
//!
//! Values come from the socket's own config (a steamnet extension: GNS has them global only)
//! or else the global config, and changes to either take effect on the next datagram.

use std::net::SocketAddr;

use steamnet_proto::impair::{Link, LinkConfig};

use crate::config::{ConnectionConfig, GlobalConfig, ids};

type Datagram = (SocketAddr, Vec<u8>);

pub struct FakeNetwork {
    pub send: Link<Datagram>,
    pub recv: Link<Datagram>,
}

impl FakeNetwork {
    pub fn new(seed: u64) -> FakeNetwork {
        FakeNetwork {
            send: Link::new(LinkConfig::perfect(), seed),
            recv: Link::new(LinkConfig::perfect(), seed ^ 0x5eed),
        }
    }

    /// Read the settings in force for a socket with `own` config.
    pub fn configure(&mut self, own: &ConnectionConfig, global: &GlobalConfig) {
        let (send, recv) = link_configs(own, global);
        if *self.send.config() != send {
            self.send.set_config(send);
        }
        if *self.recv.config() != recv {
            self.recv.set_config(recv);
        }
    }

    /// When a held datagram is next due, either way.
    pub fn next_due(&self) -> Option<u64> {
        steamnet_proto::earliest([self.send.next_arrival(), self.recv.next_arrival()])
    }
}

/// Which config ids describe one direction.
struct Direction {
    loss: i32,
    lag: i32,
    reorder: i32,
    dup: i32,
    rate: i32,
    burst: i32,
    jitter_avg: i32,
    jitter_max: i32,
    jitter_pct: i32,
}

const SEND: Direction = Direction {
    loss: ids::FAKE_PACKET_LOSS_SEND,
    lag: ids::FAKE_PACKET_LAG_SEND,
    reorder: ids::FAKE_PACKET_REORDER_SEND,
    dup: ids::FAKE_PACKET_DUP_SEND,
    rate: ids::FAKE_RATE_LIMIT_SEND_RATE,
    burst: ids::FAKE_RATE_LIMIT_SEND_BURST,
    jitter_avg: ids::FAKE_PACKET_JITTER_SEND_AVG,
    jitter_max: ids::FAKE_PACKET_JITTER_SEND_MAX,
    jitter_pct: ids::FAKE_PACKET_JITTER_SEND_PCT,
};

const RECV: Direction = Direction {
    loss: ids::FAKE_PACKET_LOSS_RECV,
    lag: ids::FAKE_PACKET_LAG_RECV,
    reorder: ids::FAKE_PACKET_REORDER_RECV,
    dup: ids::FAKE_PACKET_DUP_RECV,
    rate: ids::FAKE_RATE_LIMIT_RECV_RATE,
    burst: ids::FAKE_RATE_LIMIT_RECV_BURST,
    jitter_avg: ids::FAKE_PACKET_JITTER_RECV_AVG,
    jitter_max: ids::FAKE_PACKET_JITTER_RECV_MAX,
    jitter_pct: ids::FAKE_PACKET_JITTER_RECV_PCT,
};

/// GNS's settings as link models: (what we send, what we receive). Percentages become
/// probabilities and milliseconds microseconds. Jitter: with probability `PCT`, a delay uniform
/// in `[0, min(2 * AVG, MAX))` ms, whose mean is `AVG` unless capped.
pub fn link_configs(own: &ConnectionConfig, global: &GlobalConfig) -> (LinkConfig, LinkConfig) {
    let f = |id| own.effective_f32(global, id) as f64;
    let i = |id| own.effective_i32(global, id).max(0) as u64;
    let direction = |d: &Direction| {
        let rate = i(d.rate);
        LinkConfig {
            loss: f(d.loss) / 100.0,
            burst: None,
            duplicate: f(d.dup) / 100.0,
            duplicate_delay_usec: i(ids::FAKE_PACKET_DUP_TIME_MAX) * 1000,
            reorder: f(d.reorder) / 100.0,
            reorder_usec: i(ids::FAKE_PACKET_REORDER_TIME) * 1000,
            lag_usec: i(d.lag) * 1000,
            jitter: f(d.jitter_pct) / 100.0,
            jitter_usec: ((2.0 * f(d.jitter_avg)).min(f(d.jitter_max)) * 1000.0) as u64,
            bandwidth: (rate > 0).then_some(rate),
            queue_limit: i(d.burst) as usize,
        }
    };
    (direction(&SEND), direction(&RECV))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigInput;

    #[test]
    fn defaults_change_nothing() {
        let (send, recv) = link_configs(&ConnectionConfig::default(), &GlobalConfig::default());
        assert!(send.is_perfect() && recv.is_perfect());
    }

    #[test]
    fn gns_units_become_link_units() {
        let mut global = GlobalConfig::default();
        global.set(ids::FAKE_PACKET_LOSS_SEND, &ConfigInput::Float(25.0), true).unwrap();
        global.set(ids::FAKE_PACKET_LAG_RECV, &ConfigInput::Int(40), true).unwrap();
        global.set(ids::FAKE_RATE_LIMIT_SEND_RATE, &ConfigInput::Int(100_000), true).unwrap();
        let own =
            ConnectionConfig::from_options(&[(ids::FAKE_PACKET_JITTER_SEND_AVG as i64, ConfigInput::Int(10))]).unwrap();
        let (send, recv) = link_configs(&own, &global);
        assert_eq!(send.loss, 0.25);
        assert_eq!(recv.lag_usec, 40_000);
        assert_eq!(send.bandwidth, Some(100_000));
        assert_eq!(send.queue_limit, 16_384, "GNS's default burst");
        assert_eq!((send.jitter, send.jitter_usec), (0.75, 20_000), "own jitter, GNS's default 75%");
        assert!(recv.bandwidth.is_none() && send.lag_usec == 0);
    }
}
