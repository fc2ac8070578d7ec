//! This installation's link to the relay: a steamnet connection to it (the control
//! [`Endpoint`]) on which it registers the virtual ports it listens on, asks for routes to
//! other identities (each [`Route`] named, on the P2P endpoint, by a stand-in address), and
//! wraps the datagrams of relayed connections in FORWARDs. `p2p.rs` runs it.

use std::collections::HashMap;
use std::net::{Ipv6Addr, SocketAddr};

use steamnet_proto::endpoint::{ConnectionId, Endpoint, EndpointConfig};
use steamnet_proto::session::{SessionConfig, flags};
use steamnet_relay::messages::RelayMessage;

use super::*;

/// How often a CONNECT is repeated until the peer's handshake answers: the relay answers
/// nothing when the target is not (yet) listening, so a listener that registers a moment after
/// the call still gets it.
const CONNECT_REPEAT_USEC: u64 = 500_000;

/// The stand-in address of relay route `route`.
pub(in crate::sockets) fn relayed_address(route: u32) -> SocketAddr {
    SocketAddr::new(Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, (route >> 16) as u16, route as u16).into(), 1)
}

/// The route a stand-in address names, if it is one.
pub(in crate::sockets) fn route_of(address: SocketAddr) -> Option<u32> {
    let std::net::IpAddr::V6(ip) = address.ip() else { return None };
    let s = ip.segments();
    (s[..6] == [0x100, 0, 0, 0, 0, 0]).then(|| (u32::from(s[6]) << 16) | u32::from(s[7]))
}

/// What a route leads to.
#[derive(Debug, Clone)]
pub(in crate::sockets) struct Route {
    /// The identity at the other end (who we asked for, or who the relay says is calling; 0
    /// for a call to a FakeIP, whose owner only the relay knows).
    pub(in crate::sockets) peer: u64,
    pub(in crate::sockets) vport: u32,
    /// The other end's FakeIP and port, for calls made to or from one.
    pub(in crate::sockets) fake: Option<std::net::SocketAddrV4>,
    /// A call to a hosted dedicated server, with the ticket the game gave it
    /// (`SDR_CLIENT_DEV_TICKET`; empty: one from the relay).
    pub(in crate::sockets) hosted: Option<Vec<u8>>,
}

impl Route {
    /// A P2P call to, or from, `peer`'s `vport`.
    pub fn p2p(peer: u64, vport: u32) -> Route {
        Route { peer, vport, fake: None, hosted: None }
    }
}

/// This installation's connection to the relay.
pub(in crate::sockets) struct RelayLink {
    pub(in crate::sockets) relay: SocketAddr,
    pub(in crate::sockets) control: Endpoint,
    /// The connection to the relay, once started.
    pub(in crate::sockets) conn: Option<ConnectionId>,
    pub(in crate::sockets) up: bool,
    /// Reliable messages for the relay, waiting for the link to be up.
    pub(in crate::sockets) waiting: Vec<Vec<u8>>,
    pub(in crate::sockets) routes: HashMap<u32, Route>,
    pub(in crate::sockets) next_route: u32,
    /// Virtual port -> its listen socket.
    pub(in crate::sockets) listening: HashMap<u32, Handle>,
    /// Those of them that are hosted dedicated server ports.
    pub(in crate::sockets) hosted: std::collections::HashSet<u32>,
    /// Tickets the relay gave us for hosted servers: (server, vport) -> ticket.
    pub(in crate::sockets) tickets: HashMap<(u64, u32), Vec<u8>>,
    /// Our calls not answered yet: route -> when to repeat its CONNECT.
    pub(in crate::sockets) calling: HashMap<u32, u64>,
    /// The address the relay sees us at (behind any NAT), a candidate for direct paths.
    pub(in crate::sockets) observed: Option<SocketAddr>,
    /// The secret that lets our datagrams go beside the session (RELAYED), once the relay
    /// sent it.
    pub(in crate::sockets) token: Option<u64>,
    /// The relay's point of presence, if it named one.
    pub(in crate::sockets) pop: Option<String>,
    /// Every configured POP and how fast each answers; `relay` is the one chosen.
    pub(in crate::sockets) pops: super::pops::PopChoice,
    /// A connection is wanted, once the POPs have answered (or had their time).
    pub(in crate::sockets) wanted: bool,
    /// What the link did that the interface must act on, kept until it next settles the
    /// endpoint (the driver runs the link without the interface's lock).
    pub(in crate::sockets) news: Vec<super::p2p::LinkNews>,
}

impl RelayLink {
    /// `config`: the global connection config (timeouts).
    pub(in crate::sockets) fn new(relays: &[SocketAddr], static_key: Vec<u8>, config: &ConnectionConfig) -> RelayLink {
        let base = super::udp::session_config(config);
        let session = SessionConfig {
            // The link carries every relayed packet: pace it by them, not by GNS's 256 KB/s.
            send_rate: 64 * 1024 * 1024,
            nagle_usec: 0,
            // Notice a lost relay before the connections through it time out, so they end
            // saying so (`Misc_SteamConnectivity`) rather than with a bare timeout.
            idle_timeout_usec: (base.idle_timeout_usec * 2 / 3).max(2_000_000),
            // Repairs are the business of the connections it carries, end to end.
            fec_repairs: 0,
            ..base
        };
        let handshake_timeout_usec = u64::from(config.int32(crate::config::ids::TIMEOUT_INITIAL).max(1) as u32) * 1000;
        let control =
            Endpoint::new(EndpointConfig { session, handshake_timeout_usec, ..EndpointConfig::default() }, static_key);
        RelayLink {
            relay: relays[0],
            control,
            conn: None,
            up: false,
            waiting: Vec::new(),
            routes: HashMap::new(),
            next_route: 1,
            listening: HashMap::new(),
            hosted: Default::default(),
            tickets: HashMap::new(),
            calling: HashMap::new(),
            observed: None,
            token: None,
            pop: None,
            pops: super::pops::PopChoice::new(relays),
            wanted: false,
            news: Vec::new(),
        }
    }

    pub(in crate::sockets) fn is_up(&self) -> bool {
        self.up
    }

    /// The relay has set up our session (it sent our token, then its POP code, after handling
    /// the first of our messages, which carry our listen ports).
    pub(in crate::sockets) fn is_registered(&self) -> bool {
        self.up && self.token.is_some()
    }

    /// Connected or connecting to `relay`.
    pub(in crate::sockets) fn has_connection(&self) -> bool {
        self.conn.is_some()
    }

    /// Send a message to the relay reliably (held until the link is up).
    pub(in crate::sockets) fn send_reliable(&mut self, now: u64, message: Vec<u8>) {
        match self.conn.filter(|_| self.up).and_then(|id| self.control.session_mut(id)) {
            Some(session) => {
                let _ = session.send_message(now, 0, &message, flags::RELIABLE | flags::NO_NAGLE);
            }
            None => self.waiting.push(message),
        }
    }

    /// A datagram of the P2P endpoint for route `route`: into a FORWARD on the link. Dropped
    /// (like any loss; the handshake retries) while the link is not up.
    pub(in crate::sockets) fn forward(&mut self, now: u64, route: u32, datagram: &[u8], socket: &std::net::UdpSocket) {
        if !self.up {
            return;
        }
        // Beside the session when we can (no second sealing, no second congestion control);
        // inside it until the relay has told us our token.
        if let Some(token) = self.token {
            let _ = socket.send_to(&steamnet_relay::messages::relayed_from_client(token, route, datagram), self.relay);
            return;
        }
        let Some(session) = self.conn.and_then(|id| self.control.session_mut(id)) else { return };
        let _ = session.send_message(now, 0, &RelayMessage::Forward { route, datagram }.encode(), flags::NO_NAGLE);
    }

    /// A datagram from the relay's address: a RELAYED one goes to the P2P endpoint (returned:
    /// the stand-in address and the peer's datagram), anything else to the link itself.
    pub(in crate::sockets) fn input<'a>(&mut self, now: u64, datagram: &'a [u8]) -> Option<(SocketAddr, &'a [u8])> {
        if let Some((route, inner)) = steamnet_relay::messages::parse_relayed_to_client(datagram) {
            return self.routes.contains_key(&route).then(|| (relayed_address(route), inner));
        }
        self.control.handle_datagram(now, self.relay, datagram);
        None
    }

    /// Connect to the relay (once authenticated), if not connected or connecting: to the
    /// fastest POP, once they have answered our pings or had their time.
    pub(in crate::sockets) fn start(&mut self, now: u64) {
        if self.conn.is_none() {
            self.wanted = true;
            self.connect_if_ready(now);
        }
    }

    pub(in crate::sockets) fn connect_if_ready(&mut self, now: u64) {
        if self.wanted && self.conn.is_none() && self.pops.ready(now) {
            self.wanted = false;
            self.relay = self.pops.best();
            self.pop = None;
            tracing::info!(target: category::RELAY_PINGS, relay = %self.relay, "connecting to the relay");
            self.conn = Some(self.control.connect(now, self.relay));
        }
    }

    /// The chosen POP, for status text: "the relay at ADDR (POP code, ping N ms)".
    pub(in crate::sockets) fn describe(&self) -> String {
        let code = self.pop.as_deref().unwrap_or_else(|| self.pops.code_of(self.relay));
        let mut details: Vec<String> = Vec::new();
        if !code.is_empty() {
            details.push(format!("POP {code}"));
        }
        if let Some(rtt) = self.pops.rtt_of(self.relay) {
            details.push(format!("ping {:.1} ms", rtt as f64 / 1000.0));
        }
        match details.is_empty() {
            true => format!("the relay at {}", self.relay),
            false => format!("the relay at {} ({})", self.relay, details.join(", ")),
        }
    }

    pub(in crate::sockets) fn new_route(&mut self, route: Route) -> u32 {
        while self.next_route == 0 || self.routes.contains_key(&self.next_route) {
            self.next_route = self.next_route.wrapping_add(1);
        }
        let id = self.next_route;
        self.next_route = self.next_route.wrapping_add(1);
        self.routes.insert(id, route);
        id
    }

    pub(in crate::sockets) fn next_deadline(&mut self) -> Option<u64> {
        let repeat = self.calling.values().min().copied().filter(|_| self.up);
        let choose = self.pops.deadline().filter(|_| self.wanted && self.conn.is_none());
        steamnet_proto::earliest([self.control.poll_timeout(), repeat, choose])
    }

    /// Ask the relay for route `route` to `peer`'s `vport` (again, until answered).
    pub(in crate::sockets) fn call(&mut self, now: u64, route: u32) {
        let Some(r) = self.routes.get(&route) else {
            self.calling.remove(&route);
            return;
        };
        let message = if let Some(given) = &r.hosted {
            // The game's own ticket, else one the relay gave us that is still good, else ask.
            let cached = self.tickets.get(&(r.peer, r.vport)).filter(|t| {
                steamnet_relay::ticket::Ticket::decode(t).is_some_and(|t| t.expires_at > steamnet_relay::unix_now())
            });
            match (given.is_empty(), cached) {
                (false, _) => RelayMessage::ConnectHosted { route, ticket: given }.encode(),
                (true, Some(ticket)) => RelayMessage::ConnectHosted { route, ticket }.encode(),
                (true, None) => RelayMessage::TicketRequest { server: r.peer, vport: r.vport }.encode(),
            }
        } else {
            match r.fake.filter(|_| r.peer == 0) {
                Some(fake) => {
                    RelayMessage::ConnectFake { route, ip: u32::from(*fake.ip()), port: fake.port() }.encode()
                }
                None => RelayMessage::Connect { route, target: r.peer, vport: r.vport }.encode(),
            }
        };
        self.send_reliable(now, message);
        self.calling.insert(route, now + CONNECT_REPEAT_USEC);
    }

    /// Our call on `route` was answered (or ended): stop repeating it.
    pub(in crate::sockets) fn answered(&mut self, route: Option<u32>) {
        if let Some(route) = route {
            self.calling.remove(&route);
        }
    }
}
