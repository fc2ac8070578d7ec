//! The relay on a UDP socket: one steamnet endpoint (cookies and admission limits keep floods
//! from costing state) serving two kinds of client.
//!
//! - **CA clients** send one REQUEST, get one answer, and are closed. A connection that says
//!   nothing for [`REQUEST_DEADLINE_USEC`] is closed too, so none holds anything for long.
//! - **Relay sessions**: a client whose certificate this CA signed (the handshake verified it)
//!   listens on virtual ports, asks to reach other identities, and exchanges their datagrams on
//!   routes (see [`RelayMessage`]). Forwarding is limited per session in bytes per second, and
//!   routes and ports per session are capped, so a session's cost is bounded.
//! - **Other POPs** of a cluster (`--directory`): links that are sessions too, whose routes
//!   lead to clients of the other POP (see `cluster.rs`).
//! - **Hosted dedicated servers** are relay sessions too, listening on hosted ports that only
//!   a caller with a [ticket](crate::ticket) reaches. The relay issues tickets to any
//!   authenticated session (at a capped rate: each costs a signature).

use std::collections::HashMap;
use std::net::SocketAddr;

use steamnet_proto::admission::AdmissionLimits;
use steamnet_proto::cert::Trust;
use steamnet_proto::endpoint::{ConnectionId, Endpoint, EndpointConfig, EndpointEvent, generate_static_keypair};
use steamnet_proto::session::{SessionConfig, flags};
use tokio::net::UdpSocket;

use crate::authority::CaService;
use crate::directory::Query;
use crate::driver::Driver;
use crate::messages::{CaMessage, FAKE_PORT_VPORT, MAX_FAKE_PORTS, RelayMessage};
use crate::ticket::{Ticket, TicketError};

mod cluster;
mod session;
use cluster::RemoteCall;
pub use session::DEFAULT_SESSION_RATE;
use session::{Call, MAX_ROUTES, Session};
use steamnet_proto::end_reason::{LOCAL_RIGHTS, REMOTE_BAD_CERT};

/// Time a connected client has to send its first message.
pub const REQUEST_DEADLINE_USEC: u64 = 5_000_000;
/// App-range reasons the relay closes with.
const CLOSE_DONE: u32 = 1000;
const CLOSE_BAD_REQUEST: u32 = 1001;
const CLOSE_TOO_SLOW: u32 = 1002;
const CLOSE_NOT_AUTHENTICATED: u32 = 1003;
const CLOSE_REPLACED: u32 = 1004;

/// Counters, for tests and logs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RelayStats {
    pub issued: u64,
    pub refused: u64,
    pub malformed: u64,
    pub sessions: u64,
    pub routes: u64,
    pub forwarded: u64,
    /// Datagrams dropped: unknown route, or over the session's rate.
    pub dropped: u64,
    /// Hosted-server tickets issued, and hosted calls refused for their ticket.
    pub tickets: u64,
    pub ticket_refusals: u64,
}

pub struct RelayServer {
    driver: Driver,
    service: CaService,
    /// Connections that have not said what they are yet: when they were accepted and the
    /// identity their certificate proved.
    open: HashMap<ConnectionId, (u64, Option<u64>)>,
    sessions: HashMap<ConnectionId, Session>,
    by_identity: HashMap<u64, ConnectionId>,
    /// FakeIPs in use, and their sessions.
    fake_ips: HashMap<u32, ConnectionId>,
    /// Tokens of RELAYED datagrams, and their sessions.
    tokens: HashMap<u64, ConnectionId>,
    /// Connections closed by us, removed once their last datagrams are out.
    closing: Vec<ConnectionId>,
    /// Forwarding allowance per session, bytes per second.
    pub session_rate: u64,
    /// This relay's point of presence (`--pop`), told to every session.
    pub pop: Option<String>,
    /// The cluster this relay is one POP of (`--directory`); `None`: a relay on its own.
    cluster: Option<cluster::Cluster>,
    /// Our Noise static public key (what a POP proves it holds).
    #[cfg_attr(not(feature = "redis-directory"), allow(dead_code))]
    static_public: Vec<u8>,
    pub stats: RelayStats,
}

/// The relay's sessions carry other peers' traffic: pace them by the forwarding allowance, not
/// by GNS's 256 KB/s default.
fn relay_session_config() -> SessionConfig {
    SessionConfig { send_rate: 64 * 1024 * 1024, ..SessionConfig::default() }
}

/// Admission for a relay: a few connections per address suffice (one session, CA requests).
fn admission() -> AdmissionLimits {
    AdmissionLimits { max_connections: 16_384, max_connections_per_ip: 64, ..AdmissionLimits::default() }
}

impl RelayServer {
    /// Bind `address` now (so "address in use" is known at once). Call from within a tokio
    /// runtime.
    pub fn bind(address: SocketAddr, service: CaService) -> std::io::Result<RelayServer> {
        RelayServer::on_socket(std::net::UdpSocket::bind(address)?, service)
    }

    /// Serve on a socket bound already. Call from within a tokio runtime.
    pub fn on_socket(socket: std::net::UdpSocket, service: CaService) -> std::io::Result<RelayServer> {
        socket.set_nonblocking(true)?;
        let socket = UdpSocket::from_std(socket)?;
        let session = relay_session_config();
        let config =
            EndpointConfig { accept_incoming: true, admission: admission(), session, ..EndpointConfig::default() };
        let (static_key, static_public) = generate_static_keypair();
        let mut endpoint = Endpoint::new(config, static_key.clone());
        // Clients' certificates from this CA are verified in the handshake (any app).
        endpoint.set_credentials(
            static_key,
            Vec::new(),
            Trust { app_id: 0, cas: vec![service.authority.public_key()] },
        );
        Ok(RelayServer {
            driver: Driver::new(socket, endpoint),
            service,
            open: HashMap::new(),
            sessions: HashMap::new(),
            by_identity: HashMap::new(),
            fake_ips: HashMap::new(),
            tokens: HashMap::new(),
            closing: Vec::new(),
            session_rate: DEFAULT_SESSION_RATE,
            pop: None,
            cluster: None,
            static_public,
            stats: RelayStats::default(),
        })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.driver.local_addr()
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.service.authority.public_key()
    }

    /// Connections held right now (any phase), for tests of flood behaviour.
    pub fn connection_count(&self) -> usize {
        self.driver.endpoint.connection_count()
    }

    /// Serve forever.
    pub async fn run(mut self) {
        loop {
            self.step().await;
        }
    }

    /// One turn of the loop: wait for input or a timer, then answer what came.
    pub async fn step(&mut self) {
        match self.cluster.as_mut() {
            Some(cluster) => {
                if let Some(Some(answer)) = self.driver.turn_or(cluster.directory.answer()).await {
                    self.on_directory_answer(answer);
                }
                while let Some(answer) = self.cluster.as_mut().and_then(|c| c.directory.try_answer()) {
                    self.on_directory_answer(answer);
                }
            }
            None => self.driver.turn().await,
        }
        // Forward a burst of what has arrived before anything else: relayed datagrams need no
        // more than a lookup each.
        self.forward_raw();
        for _ in 0..256 {
            if !self.driver.try_more() {
                break;
            }
            self.forward_raw();
        }
        self.serve();
        self.driver.flush().await;
    }

    /// A RELAYED datagram: from a session's own address with its token, along one of its
    /// routes, within its allowance; anything else is dropped.
    fn forward_raw(&mut self) {
        let now = self.driver.now();
        let rate = self.session_rate;
        let (endpoint, socket) = (&self.driver.endpoint, &self.driver.socket);
        let Some((from, bytes)) = self.driver.raw.take().map(|(f, len)| (f, &self.driver.buf[..len])) else { return };
        if let Some(pong) = crate::messages::pong_for(bytes, self.pop.as_deref()) {
            let _ = socket.try_send_to(&pong, from);
            return;
        }
        let Some((token, route, datagram)) = crate::messages::parse_relayed_from_client(bytes) else { return };
        let target = self
            .tokens
            .get(&token)
            .copied()
            .filter(|&id| endpoint.peer_address(id) == Some(from))
            .and_then(|id| self.sessions.get_mut(&id)?.route_out(route, datagram.len(), now, rate));
        let Some((peer, peer_route)) = target else {
            self.stats.dropped += 1;
            return;
        };
        if let Some(to) = endpoint.peer_address(peer) {
            self.stats.forwarded += 1;
            // To another POP: as its client would send it, with the token that POP gave us.
            let out = match self.sessions.get(&peer).and_then(|s| s.link.as_ref()).and_then(|l| l.their_token) {
                Some(token) => crate::messages::relayed_from_client(token, peer_route, datagram),
                None => crate::messages::relayed_to_client(peer_route, datagram),
            };
            let _ = socket.try_send_to(&out, to);
        }
    }

    fn serve(&mut self) {
        let now = self.driver.now();
        while let Some(event) = self.driver.endpoint.poll_event() {
            match event {
                EndpointEvent::Incoming { id, identity, .. } => {
                    self.driver.endpoint.accept(now, id);
                    self.open.insert(id, (now, identity));
                }
                EndpointEvent::ClosedByPeer { id, .. }
                | EndpointEvent::ProblemDetected { id, .. }
                | EndpointEvent::Refused { id, .. } => self.forget(id),
                EndpointEvent::Connected { id, .. } => self.on_link_connected(id, now),
                EndpointEvent::PathChanged { .. }
                | EndpointEvent::Candidates { .. }
                | EndpointEvent::PathValidated { .. } => {}
            }
        }
        for id in self.driver.endpoint.take_touched() {
            while let Some(message) = self.driver.endpoint.poll_message(id) {
                if self.sessions.contains_key(&id) {
                    self.on_session_message(id, &message.data, now);
                } else if let Some((_, identity)) = self.open.remove(&id) {
                    self.on_first_message(id, identity, &message.data, now);
                }
            }
        }
        let slow: Vec<ConnectionId> =
            self.open.iter().filter(|(_, (at, _))| now >= *at + REQUEST_DEADLINE_USEC).map(|(id, _)| *id).collect();
        for id in slow {
            self.open.remove(&id);
            self.close(id, CLOSE_TOO_SLOW, "no request in time");
        }
        let endpoint = &mut self.driver.endpoint;
        self.closing.retain(|&id| {
            if endpoint.is_finished(id) {
                endpoint.remove(id);
                false
            } else {
                true
            }
        });
    }

    fn close(&mut self, id: ConnectionId, reason: u32, text: &str) {
        self.forget(id);
        self.driver.endpoint.close(id, reason, text, true);
    }

    /// Drop what a connection held: its session, its routes (and their other ends).
    fn forget(&mut self, id: ConnectionId) {
        self.open.remove(&id);
        if let Some(mut session) = self.sessions.remove(&id) {
            let registered = self.by_identity.get(&session.identity) == Some(&id);
            if registered {
                self.by_identity.remove(&session.identity);
            }
            if let Some((ip, _)) = session.fake {
                self.fake_ips.remove(&ip);
            }
            self.tokens.remove(&session.token);
            let now = self.driver.now();
            // A lost link to another POP takes its clients' routes through it: tell them, so
            // their connections end at once, saying why, instead of timing out.
            let tell_clients = session.link.is_some();
            for (peer, peer_route) in std::mem::take(&mut session.routes).into_values() {
                self.drop_route_end(peer, peer_route, tell_clients, now);
            }
            self.leave_directory(id, &session, registered);
        }
        if !self.closing.contains(&id) {
            self.closing.push(id);
        }
    }

    /// The far end of a route went away: drop the route from `peer`'s session, and when `peer`
    /// is a link (or `tell_client`), tell it with CLOSE_ROUTE so it drops its end too.
    fn drop_route_end(&mut self, peer: ConnectionId, peer_route: u32, tell_client: bool, now: u64) {
        let Some(session) = self.sessions.get_mut(&peer) else { return };
        if session.routes.remove(&peer_route).is_some() && (tell_client || session.link.is_some()) {
            self.send(peer, &RelayMessage::CloseRoute { route: peer_route }.encode(), true, now);
        }
    }

    fn send(&mut self, id: ConnectionId, message: &[u8], reliable: bool, now: u64) {
        let send_flags = if reliable { flags::RELIABLE | flags::NO_NAGLE } else { flags::NO_NAGLE };
        if let Some(session) = self.driver.endpoint.session_mut(id) {
            let _ = session.send_message(now, 0, message, send_flags);
        }
    }

    /// A connection's first message says what it is: a CA request or a relay session.
    fn on_first_message(&mut self, id: ConnectionId, identity: Option<u64>, data: &[u8], now: u64) {
        if let Some(CaMessage::Request { app_id }) = CaMessage::decode(data) {
            self.answer_certificate_request(id, app_id, now);
            return;
        }
        if RelayMessage::decode(data).is_none() {
            self.stats.malformed += 1;
            self.send(id, &CaMessage::Error("malformed request".into()).encode(), true, now);
            self.close(id, CLOSE_BAD_REQUEST, "malformed request");
            return;
        }
        // Another POP of our cluster proves itself with the CA's signature, not a certificate.
        if let Some(RelayMessage::PeerHello { proof, code }) = RelayMessage::decode(data) {
            return self.on_peer_hello(id, &proof, code, now);
        }
        let Some(identity) = identity else {
            self.close(id, CLOSE_NOT_AUTHENTICATED, "relay sessions need a certificate: call initAuthentication()");
            return;
        };
        // One session per identity: a newer one (a restarted game) replaces the older.
        if let Some(old) = self.by_identity.insert(identity, id) {
            self.close(old, CLOSE_REPLACED, "replaced by a newer session of the same identity");
        }
        let session = Session::new(identity, now);
        let token = session.token;
        self.tokens.insert(token, id);
        self.sessions.insert(id, session);
        self.stats.sessions += 1;
        if let Some(cluster) = &self.cluster {
            cluster.directory.ask(Query::Register { identity });
        }
        self.send(id, &RelayMessage::Token { token }.encode(), true, now);
        if let Some(code) = self.pop.clone() {
            self.send(id, &RelayMessage::Pop { code: &code }.encode(), true, now);
        }
        tracing::info!(identity, "relay session");
        // Where we see it from: its public address behind any NAT, a candidate for direct paths.
        if let Some(address) = self.driver.endpoint.peer_address(id) {
            self.send(id, &RelayMessage::Observed { address }.encode(), true, now);
        }
        self.on_session_message(id, data, now);
    }

    fn answer_certificate_request(&mut self, id: ConnectionId, app_id: u32, now: u64) {
        let Some(key) = self.driver.endpoint.remote_key(id) else { return };
        let answer = match self.service.issue(&key, app_id, crate::unix_now()) {
            Ok(cert) => {
                self.stats.issued += 1;
                tracing::info!(identity = cert.identity, app_id, "certificate issued");
                CaMessage::Certificate(cert.encode())
            }
            Err(why) => {
                self.stats.refused += 1;
                CaMessage::Error(why)
            }
        };
        self.send(id, &answer.encode(), true, now);
        self.close(id, CLOSE_DONE, "");
    }

    fn on_session_message(&mut self, id: ConnectionId, data: &[u8], now: u64) {
        let Some(message) = RelayMessage::decode(data) else {
            self.stats.malformed += 1;
            return;
        };
        let Some(session) = self.sessions.get_mut(&id) else { return };
        // A link to another POP carries calls (PEER_CONNECT), not a client's requests.
        let client_request = matches!(
            message,
            RelayMessage::Listen { .. }
                | RelayMessage::HostedListen { .. }
                | RelayMessage::Connect { .. }
                | RelayMessage::ConnectFake { .. }
                | RelayMessage::ConnectHosted { .. }
                | RelayMessage::FakeIpRequest { .. }
                | RelayMessage::TicketRequest { .. }
        );
        if client_request && session.link.is_some() {
            self.stats.malformed += 1;
            return;
        }
        match message {
            RelayMessage::Listen { vport } => {
                if !session.ports_full() {
                    session.listening.insert(vport);
                }
            }
            RelayMessage::HostedListen { vport } => {
                if !session.ports_full() && session.hosted.insert(vport) {
                    tracing::info!(identity = session.identity, vport, "hosted dedicated server listening");
                    if let Some(cluster) = &self.cluster {
                        cluster.directory.ask(Query::Hosted { identity: session.identity, vport, listening: true });
                    }
                }
            }
            RelayMessage::Unlisten { vport } => {
                session.listening.remove(&vport);
                if session.hosted.remove(&vport)
                    && let Some(cluster) = &self.cluster
                {
                    cluster.directory.ask(Query::Hosted { identity: session.identity, vport, listening: false });
                }
            }
            RelayMessage::TicketRequest { server, vport } => {
                let ticket = if server != 0 && session.spend_ticket(now) {
                    self.stats.tickets += 1;
                    Ticket::issue(&self.service.authority, session.identity, server, vport, crate::unix_now()).encode()
                } else {
                    Vec::new()
                };
                self.send(id, &RelayMessage::Ticket { server, vport, ticket: &ticket }.encode(), true, now);
            }
            RelayMessage::ConnectHosted { route, ticket } => self.connect_hosted(id, route, ticket, now),
            RelayMessage::Connect { route, target, vport } => self.connect(id, route, target, vport, now),
            RelayMessage::Forward { route, datagram } => {
                let Some((peer, peer_route)) = session.route_out(route, datagram.len(), now, self.session_rate) else {
                    self.stats.dropped += 1;
                    return;
                };
                self.stats.forwarded += 1;
                let forward = RelayMessage::Forward { route: peer_route, datagram }.encode();
                self.send(peer, &forward, false, now);
            }
            RelayMessage::CloseRoute { route } => {
                if let Some((peer, peer_route)) = session.routes.remove(&route) {
                    self.drop_route_end(peer, peer_route, false, now);
                }
            }
            RelayMessage::FakeIpRequest { ports } => self.allocate_fake_ip(id, ports, now),
            RelayMessage::ConnectFake { route, ip, port } => {
                let target = self.fake_ips.get(&ip).copied().and_then(|owner| {
                    let (_, ports) = self.sessions.get(&owner)?.fake.as_ref()?;
                    Some((owner, FAKE_PORT_VPORT + ports.iter().position(|&p| p == port)? as u32))
                });
                match target {
                    Some((owner, vport)) => self.join(id, route, owner, vport, Call::FakeIp, None, now),
                    None => self.connect_fake_elsewhere(id, route, ip, port),
                }
            }
            RelayMessage::PeerHello { proof, code } => self.on_peer_hello(id, &proof, code, now),
            RelayMessage::PeerConnect { route, from, target, vport, kind, caller_ip, caller_port } => {
                self.on_peer_connect(id, route, from, target, vport, kind, (caller_ip, caller_port), now)
            }
            RelayMessage::Token { token } if session.link.is_some() => self.on_link_token(id, token, now),
            RelayMessage::Incoming { .. }
            | RelayMessage::Observed { .. }
            | RelayMessage::FakeIp { .. }
            | RelayMessage::IncomingFake { .. }
            | RelayMessage::Token { .. }
            | RelayMessage::Ticket { .. }
            | RelayMessage::Refused { .. }
            | RelayMessage::Pop { .. } => self.stats.malformed += 1,
        }
    }

    /// `id` asks for a FakeIP with `ports` ports: a fresh one, or the one it has.
    fn allocate_fake_ip(&mut self, id: ConnectionId, ports: u8, now: u64) {
        let Some(session) = self.sessions.get(&id) else { return };
        let answer = if let Some((ip, ports)) = &session.fake {
            RelayMessage::FakeIp { ip: *ip, ports: ports.clone() }
        } else if ports == 0 || ports > MAX_FAKE_PORTS {
            RelayMessage::FakeIp { ip: 0, ports: Vec::new() }
        } else {
            let mut chosen: Vec<u16> = Vec::new();
            while chosen.len() < usize::from(ports) {
                // Above 1024, as GNS promises.
                let port = 1025 + (steamnet_proto::random::u64() % (65536 - 1025)) as u16;
                if !chosen.contains(&port) {
                    chosen.push(port);
                }
            }
            if let Some(cluster) = self.cluster.as_mut() {
                // One claim at a time per session: repeated requests wait for its answer
                // rather than each take an address.
                let waiting = cluster.fake_ip_claims.values().any(|(claimant, _, _)| *claimant == id);
                if waiting || cluster.fake_ip_claims.len() >= cluster::MAX_PENDING {
                    return;
                }
                // Unique across the cluster: the directory picks it.
                let tag = cluster.directory.tag();
                let identity = session.identity;
                cluster.directory.ask(Query::ClaimFakeIp { tag, identity, ports: chosen.clone() });
                cluster.fake_ip_claims.insert(tag, (id, identity, chosen));
                return;
            }
            // A random address no live session of ours holds.
            let ip = loop {
                let ip = crate::messages::random_fake_ip();
                if !self.fake_ips.contains_key(&ip) {
                    break ip;
                }
            };
            let identity = session.identity;
            return self.grant_fake_ip(id, identity, ip, chosen, now);
        };
        self.send(id, &answer.encode(), true, now);
    }

    /// Give session `id` (of `identity`) FakeIP `ip` with `ports` (`ip` 0: refused).
    fn grant_fake_ip(&mut self, id: ConnectionId, identity: u64, ip: u32, ports: Vec<u16>, now: u64) {
        let Some(session) = self.sessions.get_mut(&id) else {
            // Gone while the directory was asked: give the address back.
            if let Some(cluster) = &self.cluster
                && ip != 0
            {
                cluster.directory.ask(Query::ReleaseFakeIp { ip, identity });
            }
            return;
        };
        if ip == 0 {
            return self.send(id, &RelayMessage::FakeIp { ip: 0, ports: Vec::new() }.encode(), true, now);
        }
        session.fake = Some((ip, ports.clone()));
        self.fake_ips.insert(ip, id);
        tracing::info!(id, ip = %std::net::Ipv4Addr::from(ip), "FakeIP allocated");
        self.send(id, &RelayMessage::FakeIp { ip, ports }.encode(), true, now);
    }

    /// Join `id`'s route `route` to `target`'s listen socket on `vport`, if it listens there.
    /// Otherwise nothing happens: as on Steam, nobody learns who is online.
    fn connect(&mut self, id: ConnectionId, route: u32, target: u64, vport: u32, now: u64) {
        match self.by_identity.get(&target) {
            Some(&peer) => self.join(id, route, peer, vport, Call::P2P, None, now),
            None => self.connect_elsewhere(RemoteCall { caller: id, route, target, vport, call: Call::P2P }, now),
        }
    }

    /// A call to a hosted dedicated server: the ticket says which server and port, and must
    /// have been issued to the caller. Without a usable one the call is refused at once, with
    /// the reason the caller's connection ends with.
    fn connect_hosted(&mut self, id: ConnectionId, route: u32, ticket: &[u8], now: u64) {
        let Some(session) = self.sessions.get(&id) else { return };
        let trusted = [self.service.authority.public_key()];
        let (reason, text) = match crate::ticket::check(ticket, &trusted, session.identity, crate::unix_now()) {
            Ok((server, vport)) => match self.by_identity.get(&server) {
                Some(&peer) => return self.join(id, route, peer, vport, Call::Hosted, None, now),
                None => {
                    let call = RemoteCall { caller: id, route, target: server, vport, call: Call::Hosted };
                    return self.connect_elsewhere(call, now);
                }
            },
            Err(TicketError::Missing) => (
                LOCAL_RIGHTS,
                "no ticket for this hosted server (the relay issues them to authenticated clients)".to_string(),
            ),
            Err(TicketError::Invalid(why)) => (REMOTE_BAD_CERT, why),
        };
        self.stats.ticket_refusals += 1;
        self.send(id, &RelayMessage::Refused { route, reason, text: &text }.encode(), true, now);
    }

    /// Join `id`'s route `route` to a new route of session `peer`, if it listens on `vport`
    /// for calls of this kind. `caller`: who calls and from which FakeIP, when `id` is a link
    /// from another POP (otherwise `id`'s own session says).
    #[allow(clippy::too_many_arguments)]
    fn join(
        &mut self,
        id: ConnectionId,
        route: u32,
        peer: ConnectionId,
        vport: u32,
        call: Call,
        caller: Option<(u64, (u32, u16))>,
        now: u64,
    ) {
        let (from, caller_fake) = match self.sessions.get(&id) {
            Some(s) if route != 0 && !s.routes.contains_key(&route) && s.free_route_left() => {
                caller.unwrap_or_else(|| (s.identity, s.fake_address()))
            }
            _ => return,
        };
        let Some(peer_session) = self.sessions.get_mut(&peer) else { return };
        let ports = if call == Call::Hosted { &peer_session.hosted } else { &peer_session.listening };
        if !ports.contains(&vport) {
            tracing::debug!(vport, "connect to a port nobody listens on");
            return;
        }
        let Some(peer_route) = peer_session.free_route() else { return };
        peer_session.routes.insert(peer_route, (id, route));
        if let Some(session) = self.sessions.get_mut(&id) {
            session.routes.insert(route, (peer, peer_route));
        }
        self.stats.routes += 1;
        let incoming = if call == Call::FakeIp {
            let (caller_ip, caller_port) = caller_fake;
            RelayMessage::IncomingFake { route: peer_route, from, vport, caller_ip, caller_port }
        } else {
            RelayMessage::Incoming { route: peer_route, from, vport }
        };
        self.send(peer, &incoming.encode(), true, now);
    }
}

/// Bind a relay at `address` and serve it on `runtime`. Returns the bound address.
pub fn spawn(runtime: &tokio::runtime::Handle, address: SocketAddr, service: CaService) -> std::io::Result<SocketAddr> {
    spawn_on(runtime, std::net::UdpSocket::bind(address)?, service)
}

/// Serve a relay on `socket` (bound already) on `runtime`. Returns its address.
pub fn spawn_on(
    runtime: &tokio::runtime::Handle,
    socket: std::net::UdpSocket,
    service: CaService,
) -> std::io::Result<SocketAddr> {
    let address = socket.local_addr()?;
    let _guard = runtime.enter();
    let server = RelayServer::on_socket(socket, service)?;
    runtime.spawn(server.run());
    Ok(address)
}
