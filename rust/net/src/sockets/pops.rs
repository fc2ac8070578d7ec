//! Choosing a relay point of presence (POP): with several configured
//! (`steamnet/relay/address` or `STEAMNET_RELAY` as a comma-separated list), the relay link
//! pings each one (plain PING datagrams the POPs answer at once) and connects to the one
//! that answers fastest. A POP whose link is lost is skipped for the next choice, so the
//! link's clients move to another POP.

use std::net::SocketAddr;

use steamnet_relay::messages::{parse_pong, ping};

/// How long a first choice waits for every POP to answer before it takes the best so far.
pub(super) const PROBE_WAIT_USEC: u64 = 500_000;

#[derive(Debug, Clone)]
pub(super) struct PopProbe {
    pub address: SocketAddr,
    /// Its POP code, from its answer ("" if it has none).
    pub code: String,
    /// Round trip of its last answer.
    pub rtt_usec: Option<u64>,
    /// The ping out: its nonce and when it left.
    sent: Option<(u64, u64)>,
    /// Our link to it was lost; not chosen again until it answers a ping.
    failed: bool,
}

#[derive(Debug, Clone)]
pub(super) struct PopChoice {
    pub probes: Vec<PopProbe>,
    /// When the last round of pings left.
    probed_at: Option<u64>,
}

impl PopChoice {
    pub fn new(addresses: &[SocketAddr]) -> PopChoice {
        let probes = addresses
            .iter()
            .map(|&address| PopProbe { address, code: String::new(), rtt_usec: None, sent: None, failed: false })
            .collect();
        PopChoice { probes, probed_at: None }
    }

    /// Ping every POP (with one there is nothing to choose, but its answer still tells its
    /// code and ping for the status; nothing waits for it).
    pub fn probe(&mut self, now: u64, sender: &std::net::UdpSocket) {
        self.probed_at = Some(now);
        for probe in &mut self.probes {
            let nonce = steamnet_proto::random::u64();
            probe.sent = Some((nonce, now));
            let _ = sender.send_to(&ping(nonce), probe.address);
        }
    }

    /// A datagram from `from`: `true` if it was a POP's answer (then noted).
    pub fn on_pong(&mut self, now: u64, from: SocketAddr, datagram: &[u8]) -> bool {
        let Some((nonce, code)) = parse_pong(datagram) else { return false };
        let Some(probe) = self.probes.iter_mut().find(|p| p.address == from) else { return false };
        if let Some((sent_nonce, at)) = probe.sent
            && sent_nonce == nonce
        {
            probe.rtt_usec = Some(now.saturating_sub(at));
            probe.code = code;
            probe.sent = None;
            probe.failed = false;
        }
        true
    }

    /// Whether a choice can be made now: one POP, every POP answered, or the wait is over.
    pub fn ready(&self, now: u64) -> bool {
        self.probes.len() < 2
            || self.probes.iter().all(|p| p.rtt_usec.is_some() || p.failed)
            || self.probed_at.is_none_or(|at| now >= at + PROBE_WAIT_USEC)
    }

    /// When [`ready`](Self::ready) turns true by itself.
    pub fn deadline(&self) -> Option<u64> {
        self.probed_at.map(|at| at + PROBE_WAIT_USEC)
    }

    /// The POP to connect to: the fastest that answered and has not failed, else the first
    /// that has not failed, else (all failed) the first.
    pub fn best(&self) -> SocketAddr {
        let usable = || self.probes.iter().filter(|p| !p.failed);
        usable()
            .filter(|p| p.rtt_usec.is_some())
            .min_by_key(|p| p.rtt_usec)
            .or_else(|| usable().next())
            .or(self.probes.first())
            .map(|p| p.address)
            .expect("at least one relay address")
    }

    /// Our link to `address` was lost: choose another next time (until it answers again).
    pub fn fail(&mut self, address: SocketAddr) {
        for probe in self.probes.iter_mut().filter(|p| p.address == address) {
            probe.failed = true;
            probe.rtt_usec = None;
        }
        if self.probes.iter().all(|p| p.failed) {
            // Nothing left to prefer: try them all again, in order.
            for probe in &mut self.probes {
                probe.failed = false;
            }
        }
    }

    /// The code a POP told us, for status text ("" if unknown).
    pub fn code_of(&self, address: SocketAddr) -> &str {
        self.probes.iter().find(|p| p.address == address).map_or("", |p| p.code.as_str())
    }

    pub fn rtt_of(&self, address: SocketAddr) -> Option<u64> {
        self.probes.iter().find(|p| p.address == address).and_then(|p| p.rtt_usec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fastest_live_pop_is_chosen_and_a_lost_one_skipped() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let mut choice = PopChoice::new(&[a, b]);
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        choice.probe(0, &sender);
        assert!(!choice.ready(1), "waits for the answers");
        let answer = |choice: &PopChoice, i: usize, code: &str| {
            let (nonce, _) = choice.probes[i].sent.unwrap();
            steamnet_relay::messages::pong_for(&ping(nonce), Some(code)).unwrap()
        };
        let pong_b = answer(&choice, 1, "bbb");
        let pong_a = answer(&choice, 0, "aaa");
        assert!(choice.on_pong(10_000, b, &pong_b));
        assert!(!choice.ready(10_000), "a has not answered yet");
        assert!(choice.on_pong(30_000, a, &pong_a));
        assert!(choice.ready(30_000));
        assert_eq!(choice.best(), b, "b answered in 10 ms, a in 30 ms");
        assert_eq!(choice.code_of(b), "bbb");
        choice.fail(b);
        assert_eq!(choice.best(), a, "a lost POP is skipped");
        choice.fail(a);
        assert_eq!(choice.best(), a, "all lost: start over from the first");
        assert!(!choice.on_pong(0, a, &[12, 0]), "not a pong");
        let late = PopChoice { probed_at: Some(0), ..PopChoice::new(&[a, b]) };
        assert!(late.ready(PROBE_WAIT_USEC), "no answers: the wait ends");
    }
}

/// One configured POP as `getRelayPOPs` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopStatus {
    /// `host:port` as configured (resolved).
    pub address: String,
    /// Its POP code, once it answered ("" before, or for a relay without one).
    pub pop: String,
    /// Round trip of its last answer to our ping; -1 if none yet (or it was lost).
    pub ping_ms: i32,
    /// The relay link is connected (or connecting) to this one.
    pub current: bool,
}

impl super::Sockets {
    /// `getRelayPOPs` (an extension): every configured POP, its ping and which one is in use.
    /// Empty until the relay link exists (`initRelayNetworkAccess` or a first P2P call).
    pub fn relay_pops(&self) -> Vec<PopStatus> {
        self.lock().with_relay_link(pop_statuses).unwrap_or_default()
    }
}

fn pop_statuses(link: &super::relay_link::RelayLink) -> Vec<PopStatus> {
    link.pops
        .probes
        .iter()
        .map(|p| PopStatus {
            address: p.address.to_string(),
            pop: if p.address == link.relay {
                link.pop.clone().unwrap_or_else(|| p.code.clone())
            } else {
                p.code.clone()
            },
            ping_ms: p.rtt_usec.map_or(-1, |rtt| (rtt / 1000).min(i32::MAX as u64) as i32),
            current: p.address == link.relay && link.has_connection(),
        })
        .collect()
}
