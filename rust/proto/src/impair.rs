//! A lossy, laggy one-way link, sans-IO: datagrams go in with `send`, come out when due with
//! `pop_arrived`. It is the network of the seeded simulator (`sim`, built for tests and with
//! the `sim` feature) and, in the UDP driver, what GNS's `FAKE_PACKET_*` / `FAKE_RATE_LIMIT_*`
//! settings do to real traffic, so the one model serves both: loss, duplication (the copy a
//! little later), reordering (extra delay for some datagrams), lag, jitter, and a bandwidth
//! limit with a bounded queue.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// splitmix64: small, fast, the same on every platform, and seedable so a simulation replays
/// exactly. It only shapes traffic; it is predictable and must never produce keys, ids or
/// cookies (those come from [`crate::random`]).
#[derive(Debug, Clone)]
pub struct FastRng(u64);

impl FastRng {
    pub fn new(seed: u64) -> FastRng {
        FastRng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, bound)`; 0 when `bound` is 0.
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 { 0 } else { self.next_u64() % bound }
    }

    pub fn chance(&mut self, probability: f64) -> bool {
        probability > 0.0 && self.next_f64() < probability
    }
}

/// Bursty loss (the Gilbert–Elliott model): the link flips between a good state and a bad one,
/// and loses datagrams at a different rate in each, as radio links and congested routers do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurstLoss {
    /// Per datagram: chance of going from good to bad, and from bad back to good.
    pub enter_bad: f64,
    pub leave_bad: f64,
    /// Loss probability while bad (while good, `LinkConfig::loss` applies).
    pub bad_loss: f64,
}

impl BurstLoss {
    /// The long-run share of datagrams lost, with `good_loss` in the good state.
    pub fn mean_loss(&self, good_loss: f64) -> f64 {
        let bad_share = self.enter_bad / (self.enter_bad + self.leave_bad);
        bad_share * self.bad_loss + (1.0 - bad_share) * good_loss
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// Probability a datagram is dropped (in the good state, with `burst`).
    pub loss: f64,
    /// Bursty loss on top, if any.
    pub burst: Option<BurstLoss>,
    /// Probability a datagram is delivered twice.
    pub duplicate: f64,
    /// The copy of a duplicated datagram arrives up to this much later.
    pub duplicate_delay_usec: u64,
    /// Probability a datagram is held back by up to `reorder_usec` more.
    pub reorder: f64,
    pub reorder_usec: u64,
    /// One-way delay.
    pub lag_usec: u64,
    /// Probability a datagram gets extra random delay, uniform in `[0, jitter_usec)`. Jitter
    /// keeps the order (a datagram never overtakes the one before, as in a queue); only
    /// `reorder` reorders.
    pub jitter: f64,
    pub jitter_usec: u64,
    /// Bytes per second the link carries; `None` for unlimited.
    pub bandwidth: Option<u64>,
    /// Bytes that may wait for the bandwidth; more are dropped (tail drop).
    pub queue_limit: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            loss: 0.0,
            burst: None,
            duplicate: 0.0,
            duplicate_delay_usec: 0,
            reorder: 0.0,
            reorder_usec: 0,
            lag_usec: 10_000,
            jitter: 1.0,
            jitter_usec: 0,
            bandwidth: None,
            queue_limit: 256 * 1024,
        }
    }
}

impl LinkConfig {
    /// A link that changes nothing: every datagram through at once.
    pub fn perfect() -> LinkConfig {
        LinkConfig { lag_usec: 0, ..LinkConfig::default() }
    }

    pub fn is_perfect(&self) -> bool {
        self.loss <= 0.0
            && self.burst.is_none()
            && self.duplicate <= 0.0
            && self.reorder <= 0.0
            && self.lag_usec == 0
            && (self.jitter <= 0.0 || self.jitter_usec == 0)
            && self.bandwidth.is_none()
    }
}

/// One direction of a network. `T` is what travels: bytes in the simulator, bytes with an
/// address in the UDP driver.
#[derive(Debug)]
pub struct Link<T = Vec<u8>> {
    config: LinkConfig,
    rng: FastRng,
    /// Whether a bursty link is in its bad state.
    bad: bool,
    /// Arrival time of the last datagram that kept its place in line.
    last_in_order: u64,
    /// (arrival time, sequence for a stable order), and the datagram in `items`.
    in_flight: BinaryHeap<Reverse<(u64, u64)>>,
    items: std::collections::HashMap<u64, T>,
    seq: u64,
    /// When the bandwidth-limited wire is free again.
    wire_free_at: u64,
    pub delivered: u64,
    pub dropped: u64,
}

impl<T: Clone> Link<T> {
    pub fn new(config: LinkConfig, seed: u64) -> Link<T> {
        Link {
            config,
            rng: FastRng::new(seed),
            bad: false,
            last_in_order: 0,
            in_flight: BinaryHeap::new(),
            items: std::collections::HashMap::new(),
            seq: 0,
            wire_free_at: 0,
            delivered: 0,
            dropped: 0,
        }
    }

    pub fn config(&self) -> &LinkConfig {
        &self.config
    }

    /// Change the link's behaviour; datagrams already on their way keep their arrival times.
    pub fn set_config(&mut self, config: LinkConfig) {
        self.config = config;
    }

    /// Put a datagram of `len` bytes on the link at `now`.
    pub fn send(&mut self, now: u64, item: T, len: usize) {
        let mut departs = now;
        if let Some(bandwidth) = self.config.bandwidth {
            let bandwidth = bandwidth.max(1);
            let queued_bytes = self.wire_free_at.saturating_sub(now).saturating_mul(bandwidth) / 1_000_000;
            if queued_bytes as usize + len > self.config.queue_limit {
                self.dropped += 1;
                return;
            }
            let start = self.wire_free_at.max(now);
            self.wire_free_at = start + (len as u64 * 1_000_000).div_ceil(bandwidth);
            departs = self.wire_free_at;
        }
        let loss = match self.config.burst {
            Some(burst) => {
                let flip = if self.bad { burst.leave_bad } else { burst.enter_bad };
                if self.rng.chance(flip) {
                    self.bad = !self.bad;
                }
                if self.bad { burst.bad_loss } else { self.config.loss }
            }
            None => self.config.loss,
        };
        if self.rng.chance(loss) {
            self.dropped += 1;
            return;
        }
        let mut arrival = departs + self.config.lag_usec;
        if self.rng.chance(self.config.jitter) {
            arrival += self.rng.below(self.config.jitter_usec);
        }
        arrival = arrival.max(self.last_in_order);
        self.last_in_order = arrival;
        if self.rng.chance(self.config.reorder) {
            arrival += self.rng.below(self.config.reorder_usec + 1);
        }
        if self.rng.chance(self.config.duplicate) {
            let copy_arrival = arrival + self.rng.below(self.config.duplicate_delay_usec + 1);
            self.push(copy_arrival, item.clone());
        }
        self.push(arrival, item);
    }

    fn push(&mut self, arrival: u64, item: T) {
        self.seq += 1;
        self.in_flight.push(Reverse((arrival, self.seq)));
        self.items.insert(self.seq, item);
    }

    pub fn next_arrival(&self) -> Option<u64> {
        self.in_flight.peek().map(|Reverse((t, _))| *t)
    }

    pub fn pop_arrived(&mut self, now: u64) -> Option<T> {
        if self.next_arrival()? > now {
            return None;
        }
        let Reverse((_, seq)) = self.in_flight.pop()?;
        self.delivered += 1;
        self.items.remove(&seq)
    }

    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_link_delivers_at_once_in_order() {
        let mut link: Link = Link::new(LinkConfig::perfect(), 1);
        assert!(LinkConfig::perfect().is_perfect());
        for i in 0..10u8 {
            link.send(5, vec![i], 1);
        }
        let got: Vec<u8> = std::iter::from_fn(|| link.pop_arrived(5)).map(|d| d[0]).collect();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn loss_and_duplication_rates_match_the_config() {
        let config = LinkConfig { loss: 0.3, duplicate: 0.2, duplicate_delay_usec: 1000, ..LinkConfig::perfect() };
        let mut link: Link = Link::new(config, 7);
        for _ in 0..10_000 {
            link.send(0, vec![0], 1);
        }
        while link.pop_arrived(u64::MAX).is_some() {}
        // 70% survive, 20% of those twice: ~8,400 deliveries.
        assert!((8_000..8_800).contains(&link.delivered), "{}", link.delivered);
        assert!((2_700..3_300).contains(&link.dropped), "{}", link.dropped);
    }

    #[test]
    fn bursty_loss_comes_in_runs() {
        let burst = BurstLoss { enter_bad: 0.02, leave_bad: 0.2, bad_loss: 0.5 };
        let mut link: Link = Link::new(LinkConfig { loss: 0.01, burst: Some(burst), ..LinkConfig::perfect() }, 3);
        let mut lost = Vec::new();
        for i in 0..100_000 {
            let before = link.dropped;
            link.send(0, vec![0], 1);
            if link.dropped > before {
                lost.push(i);
            }
        }
        let rate = lost.len() as f64 / 100_000.0;
        let expected = burst.mean_loss(0.01);
        assert!((rate - expected).abs() < 0.01, "loss {rate:.3}, model {expected:.3}");
        // Runs: a loss is followed by another far more often than the mean rate.
        let followed = lost.windows(2).filter(|w| w[1] == w[0] + 1).count() as f64 / lost.len() as f64;
        assert!(followed > 2.0 * rate, "losses cluster: {followed:.3} vs {rate:.3}");
    }

    #[test]
    fn lag_holds_datagrams_back() {
        let mut link: Link = Link::new(LinkConfig { lag_usec: 50_000, ..LinkConfig::perfect() }, 1);
        link.send(1_000, vec![1], 1);
        assert_eq!(link.next_arrival(), Some(51_000));
        assert!(link.pop_arrived(50_999).is_none());
        assert_eq!(link.pop_arrived(51_000), Some(vec![1]));
    }
}
