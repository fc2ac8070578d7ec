//! One UDP socket's worth of connections, sans-IO: the connection handshake (Noise XX), packet
//! encryption, replay protection, path validation, and demultiplexing datagrams to [`Session`]s.
//!
//! Handshake, with the datagram kinds below:
//!
//! ```text
//! client                                   server
//! REQUEST  (padded, client id, cipher preferred) ->
//!                                  <-      CHALLENGE (cookie = MAC(secret, address, id), cipher picked)
//! HELLO    (cookie, cipher, noise e) ->    cookie checked, admission limits checked:
//!                                          only now is any state allocated
//!                                  <-      REPLY (server id, noise e ee s es + certificate)
//! FINISH   (noise s se + certificate) ->   certificate checked, then Incoming: the
//!                                          application accepts or closes
//!                                  <-      DATA (encrypted session packets): the client is connected
//!                                  <-      or CONTROL/REJECT (encrypted reason and text)
//! ```
//!
//! Each side's certificate (see [`crate::cert`]) rides in its encrypted Noise payload, or
//! nothing for an anonymous peer. The receiver verifies it against the CAs it trusts and
//! against the static key the handshake proved; a bad certificate is always refused (REJECT
//! with `Remote_BadCert`), and an anonymous peer only where the `allow_without_auth` policy
//! lets it in. Events carry the verified identity, or `None` for an anonymous peer.
//!
//! A spoofed source address never sees its cookie, so it cannot get past CHALLENGE, and the
//! CHALLENGE is smaller than the padded REQUEST, so the server cannot be used to amplify traffic.
//!
//! After the handshake, each datagram is `DATA to_id packet_number ciphertext`: the session's
//! packet number is the AEAD nonce. It is checked against a replay window before decryption and
//! marked only after the datagram authenticated, so replays cost no cipher work and never reach
//! the session. `CONTROL to_id nonce ciphertext` carries what belongs to the endpoint rather
//! than the session (rejection, path validation) in a nonce space of its own (top bit set).
//!
//! Path validation: an authenticated, fresh packet from a new address (a NAT rebinding) is
//! processed as usual, and the endpoint sends a PATH_CHALLENGE there; only a PATH_RESPONSE
//! from that address moves the connection. A spoofer cannot authenticate, and a replay is
//! refused by the window, so neither can move a path.
//!
//! The types and the application's calls live here; the rest is split by concern:
//! `handshake.rs` (request, cookie challenge, Noise XX, admission), `demux.rs` (arriving
//! datagrams to connections, decryption, control messages), `paths.rs` (candidates, path
//! validation, fallback) and `timers.rs` (the deadline heap, timers and transmission).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;

use snow::{HandshakeState, StatelessTransportState};

use crate::admission::{Admission, AdmissionLimits, Refusal};
use crate::cert::{Certificate, Trust};
use crate::cipher::Cipher;
use crate::cookie::{COOKIE_LEN, CookieJar};
use crate::end_reason;
use crate::replay::ReplayWindow;
use crate::session::{Admit, Message, Numbered, Problem, SendError, Session, SessionConfig, SessionState, flags};
use connection::{Connection, PathProbe, Phase};

const KIND_REQUEST: u8 = 1;
const KIND_CHALLENGE: u8 = 2;
const KIND_HELLO: u8 = 3;
const KIND_REPLY: u8 = 4;
const KIND_FINISH: u8 = 5;
const KIND_DATA: u8 = 6;
const KIND_CONTROL: u8 = 8;

/// What a CONTROL datagram says (first byte of its plaintext).
const CONTROL_REJECT: u8 = 1;
const CONTROL_PATH_CHALLENGE: u8 = 2;
const CONTROL_PATH_RESPONSE: u8 = 3;
/// Addresses the sender can also be reached at (candidates for a direct path).
const CONTROL_CANDIDATES: u8 = 4;

/// CONTROL nonces have this bit set, so they never collide with a session packet number.
const CONTROL_NONCE_BIT: u64 = 1 << 63;

/// 4: FEC_MEMBER and REPAIR frames (forward error correction). 5: the cipher is chosen in the
/// handshake (see [`crate::cipher`]).
pub const PROTOCOL_VERSION: u8 = 5;
const PROLOGUE: &[u8] = b"steamnet/5";
/// Room for a handshake message: Noise's keys and tags plus a certificate.
const HANDSHAKE_MSG_MAX: usize = 512;
/// A REQUEST is padded to this size so that the CHALLENGE answering it is smaller.
const REQUEST_LEN: usize = 128;
const TAG_LEN: usize = 16;
/// Bytes before the ciphertext of DATA and CONTROL: kind, connection id, nonce.
const SEALED_HEADER: usize = 1 + 4 + 8;
const HANDSHAKE_RETRY_USEC: u64 = 250_000;
const HANDSHAKE_RETRY_MAX_USEC: u64 = 1_000_000;
/// How long a connection we closed keeps answering its peer with CLOSE, in case the first was lost.
const CLOSE_WAIT_USEC: u64 = 2_000_000;
/// Path validation: time between PATH_CHALLENGEs, and how many before giving up on an address.
const PATH_RETRY_USEC: u64 = 200_000;
const PATH_MAX_TRIES: u32 = 5;
/// Paths being checked at once per connection (a moved peer, or candidate paths).
const MAX_PROBES: usize = 8;
/// Candidates one CANDIDATES message carries.
pub const MAX_CANDIDATES: usize = 8;
/// Nothing heard for this long on a path other than the fallback path: go back to it.
const FALLBACK_AFTER_USEC: u64 = 3_000_000;
/// Keepalive on a path other than the fallback path (well inside FALLBACK_AFTER_USEC).
const PATH_KEEPALIVE_USEC: u64 = 1_000_000;
/// Bytes the DATA header and the AEAD tag add to a session packet.
pub const DATA_OVERHEAD: usize = SEALED_HEADER + TAG_LEN;

/// A connection's id on this endpoint (what the peer puts in `to_id`). Never 0.
pub type ConnectionId = u32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointEvent {
    /// A client finished the handshake on a listening endpoint; `accept` or `close` it.
    /// `identity` is the one its certificate proves, `None` for an anonymous client.
    Incoming {
        id: ConnectionId,
        address: SocketAddr,
        identity: Option<u64>,
    },
    /// The connection is established (client: the server accepted; server: after `accept`).
    /// `identity`: the peer's verified identity, `None` if it is anonymous.
    Connected {
        id: ConnectionId,
        identity: Option<u64>,
    },
    /// We refused the peer during the handshake (its certificate, or the lack of one); the
    /// connection has ended on our side with `reason` (an end reason) and `text`.
    Refused {
        id: ConnectionId,
        reason: u32,
        text: String,
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
    /// Traffic goes to `address` from now on: the peer proved it moved there (NAT rebinding),
    /// the application chose that path, or the chosen path broke and the connection went back
    /// to its fallback path.
    PathChanged {
        id: ConnectionId,
        address: SocketAddr,
    },
    /// The peer says it can also be reached at these addresses (see
    /// [`Endpoint::send_candidates`]); [`Endpoint::probe_path`] checks them.
    Candidates {
        id: ConnectionId,
        addresses: Vec<SocketAddr>,
    },
    /// A path asked for with [`Endpoint::probe_path`] works: the peer answered there, after
    /// `rtt_usec`. [`Endpoint::switch_path`] moves the connection onto it.
    PathValidated {
        id: ConnectionId,
        address: SocketAddr,
        rtt_usec: u64,
    },
}

impl EndpointEvent {
    /// The connection it is about.
    pub fn id(&self) -> ConnectionId {
        match self {
            EndpointEvent::Incoming { id, .. }
            | EndpointEvent::Connected { id, .. }
            | EndpointEvent::Refused { id, .. }
            | EndpointEvent::ClosedByPeer { id, .. }
            | EndpointEvent::ProblemDetected { id, .. }
            | EndpointEvent::PathChanged { id, .. }
            | EndpointEvent::Candidates { id, .. }
            | EndpointEvent::PathValidated { id, .. } => *id,
        }
    }
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
    /// Caps on handshakes and connections, in total and per source IP.
    pub admission: AdmissionLimits,
    /// Bytes all connections together may hold for their peers (receive buffers); each
    /// connection also has its own `session.recv_buffer_size`.
    pub memory_budget: usize,
    /// GNS `IP_AllowWithoutAuth`: 0 refuses peers without a certificate, 1 and 2 accept them
    /// (anonymous, identity 0).
    pub allow_without_auth: i32,
    /// GNS `IPLocalHost_AllowWithoutAuth`, for loopback peers; the larger of the two applies.
    pub localhost_allow_without_auth: i32,
    /// The packet cipher this end prefers (a client offers it, a server agrees to AES-GCM only
    /// when it prefers it too): by default the faster one on this CPU.
    pub cipher: Cipher,
}

impl EndpointConfig {
    /// Whether a peer at `address` may connect without a certificate.
    fn allows_anonymous(&self, address: SocketAddr) -> bool {
        let ip = match address.ip() {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(address.ip()),
            ip => ip,
        };
        let local = if ip.is_loopback() { self.localhost_allow_without_auth } else { 0 };
        self.allow_without_auth.max(local) > 0
    }
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            session: SessionConfig::default(),
            handshake_timeout_usec: 10_000_000,
            accept_incoming: false,
            admission: AdmissionLimits::default(),
            memory_budget: 256 * 1024 * 1024,
            allow_without_auth: 2,
            localhost_allow_without_auth: 2,
            cipher: Cipher::for_this_cpu(),
        }
    }
}

/// Why an arriving datagram was dropped: counted in [`EndpointStats::dropped_datagrams`] and
/// traced (target `steamnet::packet_decode`, level trace), never silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Too short, of no kind we know, or with fields that do not parse.
    Malformed,
    /// A handshake in a protocol version we do not speak.
    WrongVersion,
    /// A handshake for an endpoint that accepts none (not a listen socket).
    NotListening,
    /// It names a connection this endpoint does not have (any more).
    UnknownConnection,
    /// It names a connection, from another address than the connection's peer.
    WrongAddress,
    /// Not what the connection expects at its stage.
    WrongPhase,
    /// A handshake cookie that is forged, stale or another address's.
    BadCookie,
    /// The admission limits (per address, half-open table) refused the handshake.
    AdmissionLimits,
    /// A handshake message that does not authenticate or decode.
    BadHandshake,
    /// A sealed datagram whose number was seen before (or is too old to tell).
    Replay,
    /// A sealed datagram that does not authenticate.
    BadTag,
    /// A path response that answers no challenge of ours.
    UnknownPath,
}

/// A message a session took ([`Endpoint::send_numbered`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    /// The connection's deadline may have come forward: a caller that keeps a timer re-arms it.
    pub deadline_moved: bool,
    /// Bytes of messages its send buffer can still take.
    pub room: u64,
}

/// Connections on one UDP socket.
pub struct Endpoint {
    config: EndpointConfig,
    static_key: Vec<u8>,
    /// What this endpoint presents in handshakes (encoded; empty: anonymous).
    certificate: Vec<u8>,
    /// Whose certificates it accepts.
    trust: Trust,
    /// Unix time in microseconds minus `now`, for certificate expiry.
    unix_offset_usec: i128,
    cookies: CookieJar,
    admission: Admission,
    connections: crate::IdMap<ConnectionId, Connection>,
    /// Server side: (client address, client id) -> our id, so a repeated HELLO is answered again
    /// rather than starting a second connection.
    by_client: HashMap<(SocketAddr, u32), ConnectionId>,
    /// Half-open handshakes, oldest first (entries that finished are skipped when met), so a
    /// full table can make room by dropping its oldest.
    half_open_order: VecDeque<ConnectionId>,
    /// Stateless answers (CHALLENGE) waiting to go out.
    stateless_out: Vec<(SocketAddr, Vec<u8>)>,
    events: VecDeque<EndpointEvent>,
    /// Connections whose session sent or received since the last `take_touched`.
    touched: Vec<ConnectionId>,
    /// Connections with something new (see `Connection::dirty`): the only ones transmit and
    /// deadline work visits, so the cost follows connections with work, not all connections.
    dirty: Vec<ConnectionId>,
    /// (deadline, connection), earliest first; entries whose deadline is no longer the
    /// connection's `scheduled` are stale and skipped.
    timers: BinaryHeap<Reverse<(u64, ConnectionId)>>,
    /// Receive-buffer bytes held by all connections (sum of their `held`).
    held_total: usize,
    buffers: Buffers,
    /// `handle_timeout`'s list of connections whose timer fired, kept for its room.
    due: Vec<ConnectionId>,
    pub stats: EndpointStats,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointStats {
    pub dropped_datagrams: u64,
    pub challenges_sent: u64,
    /// Datagrams refused by a replay window before any decryption.
    pub replays_refused: u64,
    /// Handshakes turned away by an admission limit.
    pub handshakes_refused: u64,
    /// Half-open handshakes dropped to make room when the table was full.
    pub handshakes_evicted: u64,
    /// Connections moved to a new address after path validation.
    pub migrations: u64,
}

/// A new static key pair for [`Endpoint::new`]: (private, public).
pub fn generate_static_keypair() -> (Vec<u8>, Vec<u8>) {
    let keypair = snow::Builder::new(Cipher::ChaChaPoly.noise_params().parse().expect("valid params"))
        .generate_keypair()
        .expect("key generation");
    (keypair.private, keypair.public)
}

/// A Noise handshake with our static key, sealing with `cipher` once done.
fn builder(static_key: &[u8], cipher: Cipher) -> snow::Builder<'_> {
    snow::Builder::new(cipher.noise_params().parse().expect("valid params"))
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
fn request_datagram(client_id: ConnectionId, cipher: Cipher) -> Vec<u8> {
    let mut request = vec![KIND_REQUEST, PROTOCOL_VERSION];
    request.extend_from_slice(&client_id.to_be_bytes());
    request.push(cipher.to_wire());
    request.resize(REQUEST_LEN, 0);
    request
}

/// What a handshake payload (the peer's certificate, or nothing) says about the peer.
enum PeerAuth {
    Verified(u64),
    Anonymous,
    /// Refused with an end reason and why.
    Refused(u32, String),
}

/// The peer's static key, which the Noise handshake has proved it holds by now.
fn remote_static(noise: &HandshakeState) -> Option<[u8; 32]> {
    noise.get_remote_static()?.try_into().ok()
}

/// Seal a session packet (its number, then frames) as DATA for the peer's connection
/// `remote_id`, into `out` (reused from packet to packet). The number leaves the plaintext for
/// the clear header, where it is the nonce. False only for input the cipher refuses
/// (oversized), which a session never produces.
fn seal_data(crypto: &StatelessTransportState, remote_id: u32, packet: &[u8], out: &mut Vec<u8>) -> bool {
    let mut frames = packet;
    let Some(number) = crate::varint::read(&mut frames) else { return false };
    out.clear();
    out.resize(SEALED_HEADER + frames.len() + TAG_LEN, 0);
    out[0] = KIND_DATA;
    out[1..5].copy_from_slice(&remote_id.to_be_bytes());
    out[5..13].copy_from_slice(&number.to_be_bytes());
    let Ok(len) = crypto.write_message(number, frames, &mut out[SEALED_HEADER..]) else { return false };
    out.truncate(SEALED_HEADER + len);
    true
}

/// Buffers an endpoint reuses for every packet, so that sealing and opening allocate nothing
/// once they have grown to a packet's size.
#[derive(Default)]
pub(crate) struct Buffers {
    /// A session packet on its way out, before sealing.
    packet: Vec<u8>,
    /// The sealed datagram (or a handshake or control datagram) to send.
    datagram: Vec<u8>,
    /// An arrived packet, opened.
    plain: Vec<u8>,
}

/// CANDIDATES body: count, then the addresses (see [`crate::address`]).
fn encode_candidates(addresses: &[SocketAddr]) -> Vec<u8> {
    let mut body = vec![addresses.len() as u8];
    for &address in addresses {
        crate::address::put(&mut body, address);
    }
    body
}

/// The inverse of [`encode_candidates`]; stops at anything malformed. Never panics.
fn parse_candidates(body: &[u8]) -> Vec<SocketAddr> {
    let Some((&count, mut rest)) = body.split_first() else { return Vec::new() };
    let mut out = Vec::new();
    for _ in 0..usize::from(count).min(MAX_CANDIDATES) {
        let Some((address, len)) = crate::address::take(rest) else { break };
        out.push(address);
        rest = &rest[len..];
    }
    out
}

/// REJECT body: reason, then the application's debug text (as much as a close carries).
fn reject_body(reason: u32, text: &str) -> Vec<u8> {
    let text = crate::session::truncate_close_text(text);
    let mut body = reason.to_be_bytes().to_vec();
    body.extend_from_slice(text.as_bytes());
    body
}

fn parse_reject(body: &[u8]) -> (u32, String) {
    let reason = read_u32(body, 0).unwrap_or(end_reason::APP_GENERIC);
    let text = body.get(4..).map(|t| String::from_utf8_lossy(t).into_owned()).unwrap_or_default();
    (reason, crate::session::truncate_close_text(&text).to_string())
}

impl Endpoint {
    /// `static_key`: this endpoint's Noise private key (see [`generate_static_keypair`]).
    /// It starts anonymous, trusting no CA: see [`set_credentials`](Self::set_credentials).
    pub fn new(config: EndpointConfig, static_key: Vec<u8>) -> Endpoint {
        Endpoint {
            admission: Admission::new(config.admission),
            config,
            static_key,
            certificate: Vec::new(),
            trust: Trust::default(),
            unix_offset_usec: 0,
            cookies: CookieJar::new(0),
            connections: crate::IdMap::default(),
            by_client: HashMap::new(),
            half_open_order: VecDeque::new(),
            stateless_out: Vec::new(),
            events: VecDeque::new(),
            touched: Vec::new(),
            dirty: Vec::new(),
            timers: BinaryHeap::new(),
            held_total: 0,
            buffers: Buffers::default(),
            due: Vec::new(),
            stats: EndpointStats::default(),
        }
    }

    /// What later handshakes use: the static key, the certificate for it (encoded, empty for
    /// none) and whose certificates to accept. Established connections keep what they had.
    pub fn set_credentials(&mut self, static_key: Vec<u8>, certificate: Vec<u8>, trust: Trust) {
        self.static_key = static_key;
        self.certificate = certificate;
        self.trust = trust;
    }

    /// Tell the endpoint the wall-clock time (Unix seconds) at `now`, for certificate expiry.
    pub fn set_unix_time(&mut self, now: u64, unix_secs: u64) {
        self.unix_offset_usec = i128::from(unix_secs) * 1_000_000 - i128::from(now);
    }

    fn unix_secs(&self, now: u64) -> u64 {
        ((i128::from(now) + self.unix_offset_usec).max(0) / 1_000_000) as u64
    }

    /// The peer's Noise static public key, once its handshake got that far.
    pub fn remote_key(&self, id: ConnectionId) -> Option<[u8; 32]> {
        self.connections.get(&id)?.remote_key
    }

    /// A fresh connection id from the OS CSPRNG: ids tell nothing about one another.
    fn new_id(&self) -> ConnectionId {
        loop {
            let id = crate::random::nonzero_u32();
            if !self.connections.contains_key(&id) {
                return id;
            }
        }
    }

    // ----- application calls -------------------------------------------------------------

    /// Close: an established connection sends CLOSE (with `linger`, only after its queued
    /// reliable data is acknowledged); one waiting to be accepted is refused with an
    /// authenticated REJECT carrying `reason` and `text`. See [`is_finished`] for when the
    /// connection can be removed.
    ///
    /// [`is_finished`]: Self::is_finished
    pub fn close(&mut self, id: ConnectionId, reason: u32, text: &str, linger: bool) {
        let Some(conn) = self.connections.get_mut(&id) else { return };
        match &mut conn.phase {
            Phase::Established { session, .. } if linger => session.close_after_flush(reason, text),
            Phase::Established { session, .. } => session.close(reason, text),
            Phase::ServerAwaitAccept { .. } => {
                if let Some(reject) = conn.control_datagram(CONTROL_REJECT, &reject_body(reason, text)) {
                    conn.outbox.push_back((conn.peer, reject));
                }
                conn.phase = Phase::Ended;
            }
            _ => conn.phase = Phase::Ended,
        }
        Self::leave_half_open(&mut self.admission, &mut self.by_client, conn);
        self.mark(id);
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

    /// Forget a connection entirely (after `close`, once the application lets go of it). Its
    /// memory and its admission slot are given back.
    pub fn remove(&mut self, id: ConnectionId) {
        let Some(mut conn) = self.connections.remove(&id) else { return };
        Self::leave_half_open(&mut self.admission, &mut self.by_client, &mut conn);
        if let Some(ip) = conn.admitted_from {
            self.admission.release(ip, false);
        }
        self.held_total -= conn.held;
    }

    pub fn session(&self, id: ConnectionId) -> Option<&Session> {
        match &self.connections.get(&id)?.phase {
            Phase::Established { session, .. } => Some(session),
            _ => None,
        }
    }

    /// Queue a message the caller numbered (an interface that hands out message numbers itself,
    /// before the session sees the message) on connection `id`, let into the send buffer as
    /// `admit` says: whether the connection's deadline may have moved (then a caller that keeps
    /// a timer re-arms it) and the room its send buffer has left, or why the message cannot be
    /// queued; `None` before the connection has a session. The deadline is only looked at
    /// again when the message can have brought it forward
    /// ([`Session::queueing_moved_deadline`]) or asks to go at once, so a stream of small
    /// messages costs no timer work each (and leaves the connection unmarked, so nobody
    /// transmits for it before its time).
    pub fn send_numbered(
        &mut self,
        id: ConnectionId,
        now: u64,
        message: Numbered<'_>,
        admit: Admit,
    ) -> Option<Result<Queued, SendError>> {
        let Phase::Established { session, .. } = &mut self.connections.get_mut(&id)?.phase else { return None };
        let queued_before = session.queued_bytes();
        let room = match session.send_numbered(now, message, admit) {
            Ok(room) => room,
            Err(e) => return Some(Err(e)),
        };
        let deadline_moved = message.send_flags & (flags::NO_NAGLE | flags::NO_DELAY) != 0
            || session.queueing_moved_deadline(queued_before);
        if deadline_moved {
            self.mark(id);
        }
        Some(Ok(Queued { deadline_moved, room }))
    }

    /// The session, to send on or configure: the connection is marked for transmission and
    /// its deadline is looked at again.
    pub fn session_mut(&mut self, id: ConnectionId) -> Option<&mut Session> {
        self.mark(id);
        match &mut self.connections.get_mut(&id)?.phase {
            Phase::Established { session, .. } => Some(session),
            _ => None,
        }
    }

    /// The next message a connection received, keeping the memory budget's count current.
    pub fn poll_message(&mut self, id: ConnectionId) -> Option<Message> {
        let conn = self.connections.get_mut(&id)?;
        let Phase::Established { session, .. } = &mut conn.phase else { return None };
        let message = session.poll_message()?;
        let held = session.recv_held().total();
        self.held_total = self.held_total - conn.held + held;
        conn.held = held;
        Some(message)
    }

    /// Connections holding state, in any phase (spoofed handshakes must not add to this).
    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }

    /// Receive-buffer bytes held by all connections together (bounded by `memory_budget`,
    /// give or take one packet per connection).
    pub fn held_bytes(&self) -> usize {
        self.held_total
    }

    /// The cipher sealing a connection's packets (`None` before the handshake picked one).
    pub fn cipher(&self, id: ConnectionId) -> Option<Cipher> {
        self.connections.get(&id)?.cipher
    }

    /// Server-side handshakes admitted and not yet finished (bounded by `max_half_open`).
    pub fn half_open_handshakes(&self) -> usize {
        self.admission.half_open()
    }

    pub fn peer_address(&self, id: ConnectionId) -> Option<SocketAddr> {
        self.connections.get(&id).map(|c| c.peer)
    }

    /// Connections whose session sent or received anything since the last call, so a caller
    /// can collect messages and counters from those alone rather than from every connection.
    /// Usually one or two: returned inline, and the list keeps its room (this runs for every
    /// datagram an application reads).
    pub fn take_touched(&mut self) -> smallvec::SmallVec<[ConnectionId; 4]> {
        self.touched.sort_unstable();
        self.touched.dedup();
        self.touched.drain(..).collect()
    }

    /// Whether any connection sent or received since the last `take_touched`.
    pub fn has_touched(&self) -> bool {
        !self.touched.is_empty()
    }

    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    pub fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.events.pop_front()
    }
}

#[cfg(any(test, feature = "testing"))]
impl Endpoint {
    /// Test hook: seal `packet` (a session packet: number, then frames) as DATA on connection
    /// `id`, exactly as a peer with the keys could. For tests that play a malicious peer.
    pub fn seal_raw(&mut self, id: ConnectionId, packet: &[u8]) -> Option<(SocketAddr, Vec<u8>)> {
        let conn = self.connections.get(&id)?;
        let mut datagram = Vec::new();
        seal_data(conn.phase.crypto()?, conn.remote_id, packet, &mut datagram).then_some((conn.peer, datagram))
    }
}

mod connection;
mod demux;
mod handshake;
mod paths;
mod timers;

#[cfg(test)]
mod tests;
