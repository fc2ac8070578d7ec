//! One UDP socket's worth of connections, sans-IO: the connection handshake (Noise XX), packet
//! encryption, and demultiplexing datagrams to [`Session`]s.
//!
//! Handshake, with the datagram kinds below:
//!
//! ```text
//! client                                   server
//! REQUEST  (padded, client id)     ->
//!                                  <-      CHALLENGE (cookie = MAC(secret, address, id, time))
//! HELLO    (cookie, noise e)       ->      cookie checked: only now is any state allocated
//!                                  <-      REPLY (server id, noise e ee s es + identity)
//! FINISH   (noise s se + identity) ->      Incoming: the application accepts or closes
//!                                  <-      DATA (encrypted session packets): the client is connected
//!                                  <-      or REJECT (reason) if the application closed it
//! ```
//!
//! A spoofed source address never sees its cookie, so it cannot get past CHALLENGE, and the
//! CHALLENGE is smaller than the padded REQUEST, so the server cannot be used to amplify traffic.
//! After the handshake, each datagram is `DATA to_id nonce ciphertext`, decrypted with the nonce
//! in the clear; the session inside drops replays by packet number.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use blake2::digest::{KeyInit, Mac};
use snow::{HandshakeState, StatelessTransportState};

use crate::session::{Problem, Session, SessionConfig, SessionState};
use crate::sim::Rng;

const KIND_REQUEST: u8 = 1;
const KIND_CHALLENGE: u8 = 2;
const KIND_HELLO: u8 = 3;
const KIND_REPLY: u8 = 4;
const KIND_FINISH: u8 = 5;
const KIND_DATA: u8 = 6;
const KIND_REJECT: u8 = 7;

pub const PROTOCOL_VERSION: u8 = 1;
const NOISE_PARAMS: &str = "Noise_XX_25519_ChaChaPoly_BLAKE2s";
const PROLOGUE: &[u8] = b"steamnet/1";
/// A REQUEST is padded to this size so that the CHALLENGE answering it is smaller.
const REQUEST_LEN: usize = 128;
const COOKIE_LEN: usize = 16;
/// Cookies are valid for the time bucket they were made in and the one after.
const COOKIE_BUCKET_USEC: u64 = 10_000_000;
const TAG_LEN: usize = 16;
/// Half-open server handshakes kept at once; more HELLOs are dropped until some finish.
const MAX_HALF_OPEN: usize = 1024;
const HANDSHAKE_RETRY_USEC: u64 = 250_000;
const HANDSHAKE_RETRY_MAX_USEC: u64 = 1_000_000;
/// How long a connection we closed keeps answering its peer with CLOSE, in case the first was lost.
const CLOSE_WAIT_USEC: u64 = 2_000_000;
/// Bytes the DATA header and the AEAD tag add to a session packet.
pub const DATA_OVERHEAD: usize = 1 + 4 + 8 + TAG_LEN;

/// A connection's id on this endpoint (what the peer puts in `to_id`). Never 0.
pub type ConnectionId = u32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointEvent {
    /// A client finished the handshake on a listening endpoint; `accept` or `close` it.
    Incoming {
        id: ConnectionId,
        address: SocketAddr,
        identity: u64,
    },
    /// The connection is established (client: the server accepted; server: after `accept`).
    Connected {
        id: ConnectionId,
        identity: u64,
    },
    ClosedByPeer {
        id: ConnectionId,
        reason: u32,
        text: String,
    },
    ProblemDetected {
        id: ConnectionId,
        problem: ConnectionProblem,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionProblem {
    /// No answer within the handshake timeout, or the peer went silent.
    Timeout,
    /// The peer broke the protocol (bad handshake or stream).
    ProtocolViolation,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointConfig {
    pub session: SessionConfig,
    /// Time a connection may take to be established (GNS `TimeoutInitial`).
    pub handshake_timeout_usec: u64,
    /// Whether REQUESTs are answered (a listen socket).
    pub accept_incoming: bool,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig { session: SessionConfig::default(), handshake_timeout_usec: 10_000_000, accept_incoming: false }
    }
}

enum Phase {
    ClientRequest,
    ClientHello {
        noise: Box<HandshakeState>,
        hello: Vec<u8>,
    },
    ClientAwaitAccept {
        crypto: Box<StatelessTransportState>,
        finish: Vec<u8>,
        identity: u64,
    },
    ServerHandshake {
        noise: Box<HandshakeState>,
        reply: Vec<u8>,
        client: (SocketAddr, u32),
    },
    ServerAwaitAccept {
        crypto: Box<StatelessTransportState>,
        identity: u64,
    },
    Established {
        crypto: Box<StatelessTransportState>,
        session: Box<Session>,
    },
    /// Ended; kept until the application lets go so its state stays readable.
    Ended,
}

struct Connection {
    peer: SocketAddr,
    /// The peer's id for this connection (0 until known).
    remote_id: u32,
    phase: Phase,
    started: u64,
    retry_at: u64,
    retry_interval: u64,
    tx_nonce: u64,
    /// Datagrams waiting to go out (handshake messages and rejections).
    outbox: Vec<Vec<u8>>,
    /// After we closed: until when the connection still answers with CLOSE.
    closing_until: Option<u64>,
}

/// Connections on one UDP socket.
pub struct Endpoint {
    config: EndpointConfig,
    local_identity: u64,
    static_key: Vec<u8>,
    cookie_key: [u8; 32],
    rng: Rng,
    connections: HashMap<ConnectionId, Connection>,
    /// Server side: (client address, client id) -> our id, so a repeated HELLO is answered again
    /// rather than starting a second connection.
    by_client: HashMap<(SocketAddr, u32), ConnectionId>,
    /// Stateless answers (CHALLENGE, REJECT) waiting to go out.
    stateless_out: Vec<(SocketAddr, Vec<u8>)>,
    events: VecDeque<EndpointEvent>,
    /// Connections whose session sent or received since the last `take_touched`.
    touched: Vec<ConnectionId>,
    pub stats: EndpointStats,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointStats {
    pub dropped_datagrams: u64,
    pub challenges_sent: u64,
}

/// A new static key pair for [`Endpoint::new`]: (private, public).
pub fn generate_static_keypair() -> (Vec<u8>, Vec<u8>) {
    let keypair =
        snow::Builder::new(NOISE_PARAMS.parse().expect("valid params")).generate_keypair().expect("key generation");
    (keypair.private, keypair.public)
}

fn builder<'a>(static_key: &'a [u8]) -> snow::Builder<'a> {
    snow::Builder::new(NOISE_PARAMS.parse().expect("valid params"))
        .prologue(PROLOGUE)
        .expect("prologue")
        .local_private_key(static_key)
        .expect("key")
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// A client's REQUEST, padded so the CHALLENGE answering it is smaller.
fn request_datagram(client_id: ConnectionId) -> Vec<u8> {
    let mut request = vec![KIND_REQUEST, PROTOCOL_VERSION];
    request.extend_from_slice(&client_id.to_be_bytes());
    request.resize(REQUEST_LEN, 0);
    request
}

fn identity_payload(identity: u64) -> [u8; 8] {
    identity.to_be_bytes()
}

fn parse_identity(payload: &[u8]) -> u64 {
    read_u64(payload, 0).unwrap_or(0)
}

impl Endpoint {
    /// `static_key`: this endpoint's Noise private key (see [`generate_static_keypair`]).
    /// `seed`: randomness for connection ids and the cookie key; give each endpoint a fresh one.
    pub fn new(config: EndpointConfig, static_key: Vec<u8>, local_identity: u64, seed: u64) -> Endpoint {
        let mut rng = Rng::new(seed);
        let mut cookie_key = [0u8; 32];
        for chunk in cookie_key.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        Endpoint {
            config,
            local_identity,
            static_key,
            cookie_key,
            rng,
            connections: HashMap::new(),
            by_client: HashMap::new(),
            stateless_out: Vec::new(),
            events: VecDeque::new(),
            touched: Vec::new(),
            stats: EndpointStats::default(),
        }
    }

    pub fn set_local_identity(&mut self, identity: u64) {
        self.local_identity = identity;
    }

    fn new_id(&mut self) -> ConnectionId {
        loop {
            let id = self.rng.next_u64() as u32;
            if id != 0 && !self.connections.contains_key(&id) {
                return id;
            }
        }
    }

    fn cookie(&self, address: SocketAddr, client_id: u32, bucket: u64) -> [u8; COOKIE_LEN] {
        let mut mac = <blake2::Blake2sMac256 as KeyInit>::new_from_slice(&self.cookie_key).expect("32-byte key");
        mac.update(address.to_string().as_bytes());
        mac.update(&client_id.to_be_bytes());
        mac.update(&bucket.to_be_bytes());
        let full = mac.finalize().into_bytes();
        full[..COOKIE_LEN].try_into().expect("length")
    }

    fn cookie_valid(&self, now: u64, address: SocketAddr, client_id: u32, cookie: &[u8]) -> bool {
        let bucket = now / COOKIE_BUCKET_USEC;
        [bucket, bucket.saturating_sub(1)].iter().any(|&b| self.cookie(address, client_id, b) == cookie)
    }

    // ----- application calls -------------------------------------------------------------

    /// Start connecting to `peer`.
    pub fn connect(&mut self, now: u64, peer: SocketAddr) -> ConnectionId {
        let id = self.new_id();
        let request = request_datagram(id);
        self.connections.insert(
            id,
            Connection {
                peer,
                remote_id: 0,
                phase: Phase::ClientRequest,
                started: now,
                retry_at: now + HANDSHAKE_RETRY_USEC,
                retry_interval: HANDSHAKE_RETRY_USEC,
                tx_nonce: 0,
                outbox: vec![request],
                closing_until: None,
            },
        );
        id
    }

    /// Accept an `Incoming` connection. `false` if it is not waiting to be accepted.
    pub fn accept(&mut self, now: u64, id: ConnectionId) -> bool {
        let Some(conn) = self.connections.get_mut(&id) else { return false };
        let Phase::ServerAwaitAccept { .. } = conn.phase else { return false };
        let Phase::ServerAwaitAccept { crypto, identity } = std::mem::replace(&mut conn.phase, Phase::Ended) else {
            unreachable!()
        };
        let mut session = Session::new(self.config.session.clone(), now);
        // The first DATA tells the client it was accepted.
        session.request_ping();
        conn.phase = Phase::Established { crypto, session: Box::new(session) };
        self.events.push_back(EndpointEvent::Connected { id, identity });
        true
    }

    /// Close: an established connection sends CLOSE (with `linger`, only after its queued
    /// reliable data is acknowledged); one not yet established is refused. See [`is_finished`]
    /// for when the connection can be removed.
    ///
    /// [`is_finished`]: Self::is_finished
    pub fn close(&mut self, id: ConnectionId, reason: u32, text: &str, linger: bool) {
        let Some(conn) = self.connections.get_mut(&id) else { return };
        match &mut conn.phase {
            Phase::Established { session, .. } if linger => session.close_after_flush(reason, text),
            Phase::Established { session, .. } => session.close(reason, text),
            Phase::ServerHandshake { .. } | Phase::ServerAwaitAccept { .. } => {
                let mut reject = vec![KIND_REJECT];
                reject.extend_from_slice(&conn.remote_id.to_be_bytes());
                reject.extend_from_slice(&reason.to_be_bytes());
                conn.outbox.push(reject);
                conn.phase = Phase::Ended;
            }
            _ => conn.phase = Phase::Ended,
        }
        self.by_client.retain(|_, v| *v != id);
    }

    /// Whether a closed connection has nothing left to send, so [`remove`](Self::remove) loses nothing.
    pub fn is_finished(&self, id: ConnectionId) -> bool {
        self.connections.get(&id).is_none_or(|conn| {
            conn.outbox.is_empty()
                && match &conn.phase {
                    Phase::Ended => true,
                    Phase::Established { session, .. } => {
                        !session.is_connected() && !matches!(session.state(), SessionState::ClosedLocally)
                    }
                    _ => false,
                }
        })
    }

    /// Forget a connection entirely (after `close`, once the application lets go of it).
    pub fn remove(&mut self, id: ConnectionId) {
        self.connections.remove(&id);
        self.by_client.retain(|_, v| *v != id);
    }

    pub fn session(&self, id: ConnectionId) -> Option<&Session> {
        match &self.connections.get(&id)?.phase {
            Phase::Established { session, .. } => Some(session),
            _ => None,
        }
    }

    pub fn session_mut(&mut self, id: ConnectionId) -> Option<&mut Session> {
        match &mut self.connections.get_mut(&id)?.phase {
            Phase::Established { session, .. } => Some(session),
            _ => None,
        }
    }

    /// Connections holding state, in any phase (spoofed handshakes must not add to this).
    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }

    pub fn peer_address(&self, id: ConnectionId) -> Option<SocketAddr> {
        self.connections.get(&id).map(|c| c.peer)
    }

    /// Connections whose session sent or received anything since the last call, so a caller
    /// can collect messages and counters from those alone rather than from every connection.
    pub fn take_touched(&mut self) -> Vec<ConnectionId> {
        let mut touched = std::mem::take(&mut self.touched);
        touched.sort_unstable();
        touched.dedup();
        touched
    }

    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    pub fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.events.pop_front()
    }

    // ----- datagrams in -------------------------------------------------------------------

    pub fn handle_datagram(&mut self, now: u64, from: SocketAddr, datagram: &[u8]) {
        let handled = match datagram.first() {
            Some(&KIND_REQUEST) => self.on_request(now, from, datagram),
            Some(&KIND_CHALLENGE) => self.on_challenge(from, datagram),
            Some(&KIND_HELLO) => self.on_hello(now, from, datagram),
            Some(&KIND_REPLY) => self.on_reply(now, from, datagram),
            Some(&KIND_FINISH) => self.on_finish(from, datagram),
            Some(&KIND_DATA) => self.on_data(now, from, datagram),
            Some(&KIND_REJECT) => self.on_reject(from, datagram),
            _ => false,
        };
        if !handled {
            self.stats.dropped_datagrams += 1;
        }
    }

    fn on_request(&mut self, now: u64, from: SocketAddr, d: &[u8]) -> bool {
        if !self.config.accept_incoming || d.len() < REQUEST_LEN || d[1] != PROTOCOL_VERSION {
            return false;
        }
        let Some(client_id) = read_u32(d, 2) else { return false };
        let mut challenge = vec![KIND_CHALLENGE];
        challenge.extend_from_slice(&client_id.to_be_bytes());
        challenge.extend_from_slice(&self.cookie(from, client_id, now / COOKIE_BUCKET_USEC));
        self.stateless_out.push((from, challenge));
        self.stats.challenges_sent += 1;
        true
    }

    fn on_challenge(&mut self, from: SocketAddr, d: &[u8]) -> bool {
        let (Some(id), Some(cookie)) = (read_u32(d, 1), d.get(5..5 + COOKIE_LEN)) else { return false };
        let Some(conn) = self.connections.get_mut(&id) else { return false };
        if conn.peer != from || !matches!(conn.phase, Phase::ClientRequest) {
            return false;
        }
        let Ok(mut noise) = builder(&self.static_key).build_initiator() else { return false };
        let mut msg = [0u8; 256];
        let Ok(len) = noise.write_message(&[], &mut msg) else { return false };
        let mut hello = vec![KIND_HELLO];
        hello.extend_from_slice(&id.to_be_bytes());
        hello.extend_from_slice(cookie);
        hello.extend_from_slice(&msg[..len]);
        conn.outbox.push(hello.clone());
        conn.phase = Phase::ClientHello { noise: Box::new(noise), hello };
        true
    }

    fn on_hello(&mut self, now: u64, from: SocketAddr, d: &[u8]) -> bool {
        if !self.config.accept_incoming {
            return false;
        }
        let (Some(client_id), Some(cookie)) = (read_u32(d, 1), d.get(5..5 + COOKIE_LEN)) else { return false };
        if !self.cookie_valid(now, from, client_id, cookie) {
            return false;
        }
        // A repeated HELLO: our REPLY was lost. Send it again.
        if let Some(&id) = self.by_client.get(&(from, client_id)) {
            if let Some(conn) = self.connections.get_mut(&id)
                && let Phase::ServerHandshake { reply, .. } = &conn.phase
            {
                conn.outbox.push(reply.clone());
            }
            return true;
        }
        let half_open = self.connections.values().filter(|c| matches!(c.phase, Phase::ServerHandshake { .. })).count();
        if half_open >= MAX_HALF_OPEN {
            return false;
        }
        let Ok(mut noise) = builder(&self.static_key).build_responder() else { return false };
        let mut scratch = [0u8; 256];
        if noise.read_message(&d[5 + COOKIE_LEN..], &mut scratch).is_err() {
            return false;
        }
        let mut msg = [0u8; 256];
        let Ok(len) = noise.write_message(&identity_payload(self.local_identity), &mut msg) else { return false };
        let id = self.new_id();
        let mut reply = vec![KIND_REPLY];
        reply.extend_from_slice(&client_id.to_be_bytes());
        reply.extend_from_slice(&id.to_be_bytes());
        reply.extend_from_slice(&msg[..len]);
        self.connections.insert(
            id,
            Connection {
                peer: from,
                remote_id: client_id,
                phase: Phase::ServerHandshake {
                    noise: Box::new(noise),
                    reply: reply.clone(),
                    client: (from, client_id),
                },
                started: now,
                retry_at: u64::MAX, // the client drives retries during the handshake
                retry_interval: HANDSHAKE_RETRY_USEC,
                tx_nonce: 0,
                outbox: vec![reply],
                closing_until: None,
            },
        );
        self.by_client.insert((from, client_id), id);
        true
    }

    fn on_reply(&mut self, now: u64, from: SocketAddr, d: &[u8]) -> bool {
        let (Some(id), Some(server_id)) = (read_u32(d, 1), read_u32(d, 5)) else { return false };
        let local_identity = self.local_identity;
        let Some(conn) = self.connections.get_mut(&id) else { return false };
        if conn.peer != from || server_id == 0 {
            return false;
        }
        let Phase::ClientHello { noise, .. } = &mut conn.phase else {
            // A repeated REPLY after we moved on: our FINISH may have been lost; resend it.
            if let Phase::ClientAwaitAccept { finish, .. } = &conn.phase {
                conn.outbox.push(finish.clone());
                return true;
            }
            return false;
        };
        let mut payload = [0u8; 256];
        let Ok(payload_len) = noise.read_message(&d[9..], &mut payload) else { return false };
        let identity = parse_identity(&payload[..payload_len]);
        let mut msg = [0u8; 256];
        let Ok(len) = noise.write_message(&identity_payload(local_identity), &mut msg) else { return false };
        let Phase::ClientHello { noise, .. } = std::mem::replace(&mut conn.phase, Phase::Ended) else { unreachable!() };
        let Ok(crypto) = noise.into_stateless_transport_mode() else { return false };
        let mut finish = vec![KIND_FINISH];
        finish.extend_from_slice(&server_id.to_be_bytes());
        finish.extend_from_slice(&msg[..len]);
        conn.remote_id = server_id;
        conn.outbox.push(finish.clone());
        conn.phase = Phase::ClientAwaitAccept { crypto: Box::new(crypto), finish, identity };
        conn.retry_interval = HANDSHAKE_RETRY_USEC;
        conn.retry_at = now + HANDSHAKE_RETRY_USEC;
        true
    }

    fn on_finish(&mut self, from: SocketAddr, d: &[u8]) -> bool {
        let Some(id) = read_u32(d, 1) else { return false };
        let Some(conn) = self.connections.get_mut(&id) else { return false };
        if conn.peer != from {
            return false;
        }
        let Phase::ServerHandshake { noise, .. } = &mut conn.phase else {
            return matches!(conn.phase, Phase::ServerAwaitAccept { .. } | Phase::Established { .. });
        };
        let mut payload = [0u8; 256];
        let Ok(payload_len) = noise.read_message(&d[5..], &mut payload) else { return false };
        let identity = parse_identity(&payload[..payload_len]);
        let Phase::ServerHandshake { noise, client, .. } = std::mem::replace(&mut conn.phase, Phase::Ended) else {
            unreachable!()
        };
        let Ok(crypto) = noise.into_stateless_transport_mode() else { return false };
        conn.phase = Phase::ServerAwaitAccept { crypto: Box::new(crypto), identity };
        self.by_client.remove(&client);
        self.events.push_back(EndpointEvent::Incoming { id, address: from, identity });
        true
    }

    fn on_data(&mut self, now: u64, from: SocketAddr, d: &[u8]) -> bool {
        let (Some(id), Some(nonce)) = (read_u32(d, 1), read_u64(d, 5)) else { return false };
        let session_config = self.config.session.clone();
        let Some(conn) = self.connections.get_mut(&id) else { return false };
        if conn.peer != from || d.len() < 13 + TAG_LEN {
            return false;
        }
        let crypto = match &conn.phase {
            Phase::Established { crypto, .. } | Phase::ClientAwaitAccept { crypto, .. } => crypto,
            _ => return false,
        };
        let mut plain = vec![0u8; d.len() - 13];
        let Ok(len) = crypto.read_message(nonce, &d[13..], &mut plain) else { return false };
        plain.truncate(len);
        if let Phase::ClientAwaitAccept { .. } = conn.phase {
            let Phase::ClientAwaitAccept { crypto, identity, .. } = std::mem::replace(&mut conn.phase, Phase::Ended)
            else {
                unreachable!()
            };
            let session = Session::new(session_config, now);
            conn.phase = Phase::Established { crypto, session: Box::new(session) };
            self.events.push_back(EndpointEvent::Connected { id, identity });
        }
        let Phase::Established { session, .. } = &mut conn.phase else { unreachable!() };
        let was_connected = session.is_connected();
        session.handle_datagram(now, &plain);
        self.touched.push(id);
        if was_connected {
            Self::report_session_end(&mut self.events, id, session);
        }
        true
    }

    fn on_reject(&mut self, from: SocketAddr, d: &[u8]) -> bool {
        let Some(id) = read_u32(d, 1) else { return false };
        let Some(conn) = self.connections.get_mut(&id) else { return false };
        // Only a connection still in its handshake believes an unauthenticated rejection.
        let handshaking =
            matches!(conn.phase, Phase::ClientRequest | Phase::ClientHello { .. } | Phase::ClientAwaitAccept { .. });
        if conn.peer != from || !handshaking {
            return false;
        }
        conn.phase = Phase::Ended;
        let reason = read_u32(d, 5).unwrap_or(crate::session::END_APP_GENERIC);
        self.events.push_back(EndpointEvent::ClosedByPeer { id, reason, text: "connection refused".into() });
        true
    }

    fn report_session_end(events: &mut VecDeque<EndpointEvent>, id: ConnectionId, session: &Session) {
        match session.state() {
            SessionState::ClosedByPeer { reason, text } => {
                events.push_back(EndpointEvent::ClosedByPeer { id, reason: *reason, text: text.clone() })
            }
            SessionState::ProblemDetected { reason } => {
                let problem = match reason {
                    Problem::Timeout => ConnectionProblem::Timeout,
                    Problem::ProtocolViolation => ConnectionProblem::ProtocolViolation,
                };
                events.push_back(EndpointEvent::ProblemDetected { id, problem });
            }
            _ => {}
        }
    }

    // ----- datagrams out and timers --------------------------------------------------------

    /// The next datagram to send and where to. Call until `None`.
    pub fn poll_transmit(&mut self, now: u64) -> Option<(SocketAddr, Vec<u8>)> {
        if let Some(out) = self.stateless_out.pop() {
            return Some(out);
        }
        let (id, out) =
            self.connections.iter_mut().find_map(|(&id, conn)| Self::transmit_one(conn, now).map(|out| (id, out)))?;
        self.touched.push(id);
        Some(out)
    }

    /// Everything due on every connection, visiting each once: what a driver calls after
    /// datagrams or timers, where `poll_transmit` would restart its search for every datagram.
    pub fn transmit_all(&mut self, now: u64, mut send: impl FnMut(SocketAddr, &[u8])) {
        for (to, datagram) in self.stateless_out.drain(..) {
            send(to, &datagram);
        }
        for (&id, conn) in self.connections.iter_mut() {
            let mut any = false;
            while let Some((to, datagram)) = Self::transmit_one(conn, now) {
                send(to, &datagram);
                any = true;
            }
            if any {
                self.touched.push(id);
            }
        }
    }

    /// Like [`poll_transmit`](Self::poll_transmit), for one connection only: what an
    /// application call on that connection made due, without looking at all the others.
    pub fn poll_transmit_for(&mut self, id: ConnectionId, now: u64) -> Option<(SocketAddr, Vec<u8>)> {
        let out = Self::transmit_one(self.connections.get_mut(&id)?, now)?;
        self.touched.push(id);
        Some(out)
    }

    fn transmit_one(conn: &mut Connection, now: u64) -> Option<(SocketAddr, Vec<u8>)> {
        if !conn.outbox.is_empty() {
            return Some((conn.peer, conn.outbox.remove(0)));
        }
        let Phase::Established { crypto, session } = &mut conn.phase else { return None };
        let Some(plain) = session.poll_transmit(now) else {
            if matches!(session.state(), SessionState::ClosedLocally) && conn.closing_until.is_none() {
                conn.closing_until = Some(now + CLOSE_WAIT_USEC); // CLOSE is out; answer stragglers
            }
            return None;
        };
        let mut d = Vec::with_capacity(plain.len() + DATA_OVERHEAD);
        d.push(KIND_DATA);
        d.extend_from_slice(&conn.remote_id.to_be_bytes());
        d.extend_from_slice(&conn.tx_nonce.to_be_bytes());
        d.resize(13 + plain.len() + TAG_LEN, 0);
        // Encryption only fails for oversized input, which a session never produces.
        let len = crypto.write_message(conn.tx_nonce, &plain, &mut d[13..]).ok()?;
        d.truncate(13 + len);
        conn.tx_nonce += 1;
        Some((conn.peer, d))
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        let mut next = None;
        for conn in self.connections.values() {
            let at = match &conn.phase {
                Phase::ClientRequest | Phase::ClientHello { .. } | Phase::ClientAwaitAccept { .. } => {
                    Some(conn.retry_at.min(conn.started + self.config.handshake_timeout_usec))
                }
                Phase::ServerHandshake { .. } | Phase::ServerAwaitAccept { .. } => {
                    Some(conn.started + self.config.handshake_timeout_usec)
                }
                Phase::Established { session, .. } => match (session.poll_timeout(), conn.closing_until) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                },
                Phase::Ended => None,
            };
            if let Some(at) = at {
                next = Some(next.map_or(at, |n: u64| n.min(at)));
            }
        }
        if !self.stateless_out.is_empty() || self.connections.values().any(|c| !c.outbox.is_empty()) {
            next = Some(0);
        }
        next
    }

    pub fn handle_timeout(&mut self, now: u64) {
        let timeout = self.config.handshake_timeout_usec;
        let mut expired_half_open = Vec::new();
        for (&id, conn) in self.connections.iter_mut() {
            match &mut conn.phase {
                Phase::ClientRequest | Phase::ClientHello { .. } | Phase::ClientAwaitAccept { .. } => {
                    if now >= conn.started + timeout {
                        conn.phase = Phase::Ended;
                        self.events
                            .push_back(EndpointEvent::ProblemDetected { id, problem: ConnectionProblem::Timeout });
                        continue;
                    }
                    if now >= conn.retry_at {
                        let resend = match &conn.phase {
                            Phase::ClientRequest => request_datagram(id),
                            Phase::ClientHello { hello, .. } => hello.clone(),
                            Phase::ClientAwaitAccept { finish, .. } => finish.clone(),
                            _ => unreachable!(),
                        };
                        conn.outbox.push(resend);
                        conn.retry_interval = (conn.retry_interval * 3 / 2).min(HANDSHAKE_RETRY_MAX_USEC);
                        conn.retry_at = now + conn.retry_interval;
                    }
                }
                Phase::ServerHandshake { .. } | Phase::ServerAwaitAccept { .. } => {
                    if now >= conn.started + timeout {
                        expired_half_open.push(id);
                    }
                }
                Phase::Established { session, .. } => {
                    if conn.closing_until.is_some_and(|t| t <= now) {
                        conn.phase = Phase::Ended;
                        continue;
                    }
                    let was_connected = session.is_connected();
                    session.handle_timeout(now);
                    if was_connected {
                        Self::report_session_end(&mut self.events, id, session);
                    }
                }
                Phase::Ended => {}
            }
        }
        for id in expired_half_open {
            // An unaccepted incoming connection the application knows about ends as a timeout;
            // a half-finished handshake it never saw just disappears.
            if matches!(self.connections.get(&id).map(|c| &c.phase), Some(Phase::ServerAwaitAccept { .. })) {
                self.events.push_back(EndpointEvent::ProblemDetected { id, problem: ConnectionProblem::Timeout });
                if let Some(conn) = self.connections.get_mut(&id) {
                    conn.phase = Phase::Ended;
                }
            } else {
                self.remove(id);
            }
        }
    }
}

#[cfg(test)]
mod tests;
