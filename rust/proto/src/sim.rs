//! A deterministic simulated network for driving two [`Session`]s: each direction is a [`Link`]
//! with loss, duplication, reordering (extra delay for some datagrams), lag, jitter and a
//! bandwidth limit with a bounded queue. Everything random comes from one seed, so a failing
//! case replays exactly.

use crate::session::Session;

pub use crate::impair::{FastRng as Rng, Link, LinkConfig};

/// Anything the simulator can drive: datagrams in and out, and timers.
pub trait Node {
    fn poll_transmit(&mut self, now: u64) -> Option<Vec<u8>>;
    fn handle_datagram(&mut self, now: u64, datagram: &[u8]);
    fn poll_timeout(&mut self) -> Option<u64>;
    fn handle_timeout(&mut self, now: u64);
}

impl Node for Session {
    fn poll_transmit(&mut self, now: u64) -> Option<Vec<u8>> {
        Session::poll_transmit(self, now)
    }
    fn handle_datagram(&mut self, now: u64, datagram: &[u8]) {
        Session::handle_datagram(self, now, datagram)
    }
    fn poll_timeout(&mut self) -> Option<u64> {
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
            let len = d.len();
            self.a_to_b.send(self.now, d, len);
        }
        while let Some(d) = self.b.poll_transmit(self.now) {
            let len = d.len();
            self.b_to_a.send(self.now, d, len);
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
