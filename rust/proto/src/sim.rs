//! A deterministic simulated network for driving two [`Session`]s: each direction is a [`Link`]
//! with loss, duplication, reordering (extra delay for some datagrams), lag, jitter and a
//! bandwidth limit with a bounded queue. Everything random comes from one seed, so a failing
//! case replays exactly.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::session::Session;

/// splitmix64: small, fast, good enough to shape test traffic, and the same on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
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
        self.next_f64() < probability
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// Probability a datagram is dropped.
    pub loss: f64,
    /// Probability a datagram is delivered twice.
    pub duplicate: f64,
    /// Probability a datagram is held back by up to `reorder_usec` more.
    pub reorder: f64,
    pub reorder_usec: u64,
    /// One-way delay.
    pub lag_usec: u64,
    /// Extra random delay, uniform in `[0, jitter_usec)`.
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
            duplicate: 0.0,
            reorder: 0.0,
            reorder_usec: 0,
            lag_usec: 10_000,
            jitter_usec: 0,
            bandwidth: None,
            queue_limit: 256 * 1024,
        }
    }
}

/// One direction of the simulated network.
#[derive(Debug)]
pub struct Link {
    config: LinkConfig,
    rng: Rng,
    /// (arrival time, sequence for a stable order, datagram)
    in_flight: BinaryHeap<Reverse<(u64, u64, Vec<u8>)>>,
    seq: u64,
    /// When the bandwidth-limited wire is free again.
    wire_free_at: u64,
    pub delivered: u64,
    pub dropped: u64,
}

impl Link {
    pub fn new(config: LinkConfig, seed: u64) -> Link {
        Link {
            config,
            rng: Rng::new(seed),
            in_flight: BinaryHeap::new(),
            seq: 0,
            wire_free_at: 0,
            delivered: 0,
            dropped: 0,
        }
    }

    pub fn send(&mut self, now: u64, datagram: Vec<u8>) {
        let mut departs = now;
        if let Some(bandwidth) = self.config.bandwidth {
            let queued_bytes = self.wire_free_at.saturating_sub(now) * bandwidth / 1_000_000;
            if queued_bytes as usize + datagram.len() > self.config.queue_limit {
                self.dropped += 1;
                return;
            }
            let start = self.wire_free_at.max(now);
            self.wire_free_at = start + (datagram.len() as u64 * 1_000_000).div_ceil(bandwidth.max(1));
            departs = self.wire_free_at;
        }
        if self.rng.chance(self.config.loss) {
            self.dropped += 1;
            return;
        }
        let copies = if self.rng.chance(self.config.duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let mut arrival = departs + self.config.lag_usec + self.rng.below(self.config.jitter_usec);
            if self.rng.chance(self.config.reorder) {
                arrival += self.rng.below(self.config.reorder_usec + 1);
            }
            self.seq += 1;
            self.in_flight.push(Reverse((arrival, self.seq, datagram.clone())));
        }
    }

    pub fn next_arrival(&self) -> Option<u64> {
        self.in_flight.peek().map(|Reverse((t, _, _))| *t)
    }

    pub fn pop_arrived(&mut self, now: u64) -> Option<Vec<u8>> {
        if self.next_arrival()? > now {
            return None;
        }
        self.delivered += 1;
        self.in_flight.pop().map(|Reverse((_, _, d))| d)
    }
}

/// Anything the simulator can drive: datagrams in and out, and timers.
pub trait Node {
    fn poll_transmit(&mut self, now: u64) -> Option<Vec<u8>>;
    fn handle_datagram(&mut self, now: u64, datagram: &[u8]);
    fn poll_timeout(&self) -> Option<u64>;
    fn handle_timeout(&mut self, now: u64);
}

impl Node for Session {
    fn poll_transmit(&mut self, now: u64) -> Option<Vec<u8>> {
        Session::poll_transmit(self, now)
    }
    fn handle_datagram(&mut self, now: u64, datagram: &[u8]) {
        Session::handle_datagram(self, now, datagram)
    }
    fn poll_timeout(&self) -> Option<u64> {
        Session::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: u64) {
        Session::handle_timeout(self, now)
    }
}

/// Two nodes (sessions by default) joined by two links, advanced event by event in simulated time.
#[derive(Debug)]
pub struct Pair<A: Node = Session, B: Node = Session> {
    pub a: A,
    pub b: B,
    pub a_to_b: Link,
    pub b_to_a: Link,
    pub now: u64,
}

impl<A: Node, B: Node> Pair<A, B> {
    pub fn new(a: A, b: B, a_to_b: Link, b_to_a: Link) -> Self {
        Pair { a, b, a_to_b, b_to_a, now: 0 }
    }

    fn transmit_all(&mut self) {
        while let Some(d) = self.a.poll_transmit(self.now) {
            self.a_to_b.send(self.now, d);
        }
        while let Some(d) = self.b.poll_transmit(self.now) {
            self.b_to_a.send(self.now, d);
        }
    }

    /// Process everything due at the current time, then jump to the next event. Returns false
    /// when nothing will ever happen again.
    pub fn step(&mut self) -> bool {
        self.transmit_all();
        let next =
            [self.a.poll_timeout(), self.b.poll_timeout(), self.a_to_b.next_arrival(), self.b_to_a.next_arrival()]
                .into_iter()
                .flatten()
                .min();
        let Some(next) = next else { return false };
        // Timers in the past fire now; time never goes backwards.
        self.now = self.now.max(next);
        while let Some(d) = self.a_to_b.pop_arrived(self.now) {
            self.b.handle_datagram(self.now, &d);
        }
        while let Some(d) = self.b_to_a.pop_arrived(self.now) {
            self.a.handle_datagram(self.now, &d);
        }
        if self.a.poll_timeout().is_some_and(|t| t <= self.now) {
            self.a.handle_timeout(self.now);
        }
        if self.b.poll_timeout().is_some_and(|t| t <= self.now) {
            self.b.handle_timeout(self.now);
        }
        self.transmit_all();
        true
    }

    /// Step until `done` holds or simulated time passes `deadline`; returns whether `done` held.
    pub fn run_until(&mut self, deadline: u64, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        let mut stalled = 0;
        loop {
            if done(self) {
                return true;
            }
            if self.now > deadline {
                return false;
            }
            let before = self.now;
            if !self.step() {
                return done(self);
            }
            // Guard against a timer that keeps firing without advancing time.
            stalled = if self.now == before { stalled + 1 } else { 0 };
            assert!(stalled < 100_000, "simulation stuck at t={} us", self.now);
        }
    }
}
