//! A relay session: one verified identity's connection to the relay (or, as a link, another
//! POP's), with the virtual ports it listens on, its routes, and the allowances that bound
//! what it may cost: forwarding bytes per second, routes, ports and tickets.

use std::collections::{HashMap, HashSet};

use steamnet_proto::endpoint::ConnectionId;

/// Caps per relay session.
pub(in crate::server) const MAX_ROUTES: usize = 256;
const MAX_LISTEN_PORTS: usize = 64;
/// Forwarding allowance per session: bytes per second, and the burst it may save up.
pub const DEFAULT_SESSION_RATE: u64 = 8 * 1024 * 1024;
const SESSION_BURST: u64 = 512 * 1024;
/// Tickets a session may ask for: a burst, then one per this many microseconds.
const TICKET_BURST: u64 = 16;
const TICKET_INTERVAL_USEC: u64 = 100_000;

/// What a call to a session's virtual port came by: which of its ports it may reach, and what
/// the listener learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::server) enum Call {
    /// `connectP2P`: P2P listen sockets.
    P2P,
    /// A FakeIP's port: P2P listen sockets; the listener learns the caller's FakeIP.
    FakeIp,
    /// `connectToHostedDedicatedServer` with a good ticket: hosted listen sockets.
    Hosted,
}

/// A relay session: one verified identity's connection.
pub(in crate::server) struct Session {
    pub(in crate::server) identity: u64,
    pub(in crate::server) listening: HashSet<u32>,
    /// Virtual ports it listens on as a hosted dedicated server.
    pub(in crate::server) hosted: HashSet<u32>,
    /// Tickets it may still ask for, and when that was last topped up.
    ticket_credit: u64,
    ticket_topped_up: u64,
    /// Our route number -> (peer session, the peer's route number).
    pub(in crate::server) routes: HashMap<u32, (ConnectionId, u32)>,
    next_route: u32,
    /// Forwarding allowance left (bytes) and when it was last topped up.
    allowance: u64,
    topped_up: u64,
    /// Its FakeIP and ports, once it asked for them.
    pub(in crate::server) fake: Option<(u32, Vec<u16>)>,
    /// The secret its RELAYED datagrams carry.
    pub(in crate::server) token: u64,
    /// Set when this session is a link to another POP of the cluster.
    pub(in crate::server) link: Option<super::cluster::Link>,
}

impl Session {
    pub(in crate::server) fn new(identity: u64, now: u64) -> Session {
        Session {
            identity,
            listening: HashSet::new(),
            hosted: HashSet::new(),
            ticket_credit: TICKET_BURST,
            ticket_topped_up: now,
            routes: HashMap::new(),
            next_route: 1,
            allowance: SESSION_BURST,
            topped_up: now,
            fake: None,
            token: steamnet_proto::random::u64(),
            link: None,
        }
    }

    /// Take `bytes` from the allowance, topping it up at `rate` first.
    fn spend(&mut self, now: u64, bytes: u64, rate: u64) -> bool {
        let earned = now.saturating_sub(self.topped_up) as u128 * rate as u128 / 1_000_000;
        self.allowance = (self.allowance as u128 + earned).min(SESSION_BURST as u128) as u64;
        self.topped_up = now;
        if self.allowance < bytes {
            return false;
        }
        self.allowance -= bytes;
        true
    }

    /// Where a datagram of `len` bytes on `route` goes (the peer session and its route), if the
    /// route exists and the allowance covers it (then spent).
    pub(in crate::server) fn route_out(
        &mut self,
        route: u32,
        len: usize,
        now: u64,
        rate: u64,
    ) -> Option<(ConnectionId, u32)> {
        let &(peer, peer_route) = self.routes.get(&route)?;
        // A link carries many clients' traffic, each limited at its own POP.
        (self.link.is_some() || self.spend(now, len as u64, rate)).then_some((peer, peer_route))
    }

    /// Take one ticket from the session's credit, if it has one.
    pub(in crate::server) fn spend_ticket(&mut self, now: u64) -> bool {
        let earned = now.saturating_sub(self.ticket_topped_up) / TICKET_INTERVAL_USEC;
        if earned > 0 {
            self.ticket_credit = (self.ticket_credit + earned).min(TICKET_BURST);
            self.ticket_topped_up = now;
        }
        let granted = self.ticket_credit > 0;
        self.ticket_credit = self.ticket_credit.saturating_sub(1);
        granted
    }

    /// Its FakeIP and first port, as a caller it shows them; (0, 0) without one.
    pub(in crate::server) fn fake_address(&self) -> (u32, u16) {
        self.fake.as_ref().map_or((0, 0), |(ip, ports)| (*ip, ports.first().copied().unwrap_or(0)))
    }

    /// Whether another route fits under the session's cap.
    pub(in crate::server) fn free_route_left(&self) -> bool {
        self.routes.len() < if self.link.is_some() { super::cluster::MAX_LINK_ROUTES } else { MAX_ROUTES }
    }

    pub(in crate::server) fn ports_full(&self) -> bool {
        self.listening.len() + self.hosted.len() >= MAX_LISTEN_PORTS
    }

    pub(in crate::server) fn free_route(&mut self) -> Option<u32> {
        if !self.free_route_left() {
            return None;
        }
        while self.next_route == 0 || self.routes.contains_key(&self.next_route) {
            self.next_route = self.next_route.wrapping_add(1);
        }
        let route = self.next_route;
        self.next_route = self.next_route.wrapping_add(1);
        Some(route)
    }
}
