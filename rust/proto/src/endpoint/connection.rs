//! One connection of an endpoint, as the endpoint keeps it: the phase of its handshake (and
//! then its session), its paths and the probes of new ones, replay windows, and what it has
//! waiting to go out. The endpoint's calls (`endpoint.rs` and the files beside this one) work
//! on it; nothing outside the endpoint sees it.

use std::collections::VecDeque;
use std::net::SocketAddr;

use snow::{HandshakeState, StatelessTransportState};

use super::*;
use crate::replay::ReplayWindow;
use crate::session::Session;

pub(super) enum Phase {
    ClientRequest,
    ClientHello {
        noise: Box<HandshakeState>,
        hello: Vec<u8>,
    },
    ClientAwaitAccept {
        crypto: Box<StatelessTransportState>,
        finish: Vec<u8>,
        identity: Option<u64>,
    },
    ServerHandshake {
        noise: Box<HandshakeState>,
        reply: Vec<u8>,
    },
    ServerAwaitAccept {
        crypto: Box<StatelessTransportState>,
        identity: Option<u64>,
    },
    Established {
        crypto: Box<StatelessTransportState>,
        session: Box<Session>,
    },
    /// Ended; kept until the application lets go so its state stays readable.
    Ended,
}

impl Phase {
    pub(super) fn crypto(&self) -> Option<&StatelessTransportState> {
        match self {
            Phase::ClientAwaitAccept { crypto, .. }
            | Phase::ServerAwaitAccept { crypto, .. }
            | Phase::Established { crypto, .. } => Some(crypto),
            _ => None,
        }
    }
}

/// A path being checked: an address the peer seems to have moved to, or a candidate.
pub(super) struct PathProbe {
    pub(super) address: SocketAddr,
    pub(super) token: [u8; 8],
    pub(super) retry_at: u64,
    pub(super) tries: u32,
    /// Move the connection there once it answers (a moved peer), rather than only reporting
    /// that it works (a candidate the application chooses).
    pub(super) moves: bool,
    /// When the last challenge went out, for the path's round trip.
    pub(super) sent_at: u64,
}

impl PathProbe {
    pub(super) fn new(address: SocketAddr, now: u64, moves: bool) -> PathProbe {
        let mut token = [0u8; 8];
        crate::random::fill(&mut token);
        PathProbe { address, token, retry_at: now, tries: 0, moves, sent_at: now }
    }
}

pub(super) struct Connection {
    pub(super) peer: SocketAddr,
    /// This connection's own `TIMEOUT_INITIAL`, where it differs from the endpoint's.
    pub(super) handshake_timeout: Option<u64>,
    /// The peer's Noise static public key, once the handshake proved it.
    pub(super) remote_key: Option<[u8; 32]>,
    /// The peer's id for this connection (0 until known).
    pub(super) remote_id: u32,
    /// The packet cipher, once the handshake picked it (a client learns it from the CHALLENGE).
    pub(super) cipher: Option<Cipher>,
    pub(super) phase: Phase,
    pub(super) started: u64,
    pub(super) retry_at: u64,
    pub(super) retry_interval: u64,
    /// Datagrams waiting to go out (handshake and control messages), with their destination.
    pub(super) outbox: VecDeque<(SocketAddr, Vec<u8>)>,
    /// After we closed: until when the connection still answers with CLOSE.
    pub(super) closing_until: Option<u64>,
    /// Session packet numbers (DATA nonces) already accepted.
    pub(super) data_window: ReplayWindow,
    /// CONTROL nonces already accepted, and the next one we use.
    pub(super) control_window: ReplayWindow,
    pub(super) next_control_nonce: u64,
    pub(super) probes: Vec<PathProbe>,
    /// Where traffic goes back to when the current path goes quiet (a relayed peer's relay
    /// path), and when anything authentic last came over the current path.
    pub(super) fallback: Option<SocketAddr>,
    pub(super) last_heard: u64,
    /// Server side: the (client address, client id) the HELLO came with, while it is a key of
    /// `Endpoint::by_client`.
    pub(super) client_key: Option<(SocketAddr, u32)>,
    /// Server side: the IP admission counted this connection under (where its HELLO came
    /// from, even if the path moves later), and whether it still counts as half-open.
    pub(super) admitted_from: Option<std::net::IpAddr>,
    pub(super) half_open: bool,
    /// Receive-buffer bytes this connection held when last looked at (for the memory budget).
    pub(super) held: usize,
    /// The deadline this connection has in the endpoint's timer heap, if any.
    pub(super) scheduled: Option<u64>,
    /// Listed in `Endpoint::dirty`: something happened that may change its deadline or give it
    /// something to send.
    pub(super) dirty: bool,
}

impl Connection {
    pub(super) fn new(peer: SocketAddr, remote_id: u32, phase: Phase, now: u64) -> Connection {
        Connection {
            peer,
            handshake_timeout: None,
            remote_key: None,
            remote_id,
            cipher: None,
            phase,
            started: now,
            retry_at: now + HANDSHAKE_RETRY_USEC,
            retry_interval: HANDSHAKE_RETRY_USEC,
            outbox: VecDeque::new(),
            closing_until: None,
            data_window: ReplayWindow::default(),
            control_window: ReplayWindow::default(),
            next_control_nonce: 0,
            probes: Vec::new(),
            fallback: None,
            last_heard: now,
            client_key: None,
            admitted_from: None,
            half_open: false,
            held: 0,
            scheduled: None,
            dirty: false,
        }
    }

    /// When this connection next needs `handle_timeout` (or has output now: 0).
    pub(super) fn deadline(&self, handshake_timeout: u64) -> Option<u64> {
        let handshake_timeout = self.handshake_timeout.unwrap_or(handshake_timeout);
        if !self.outbox.is_empty() {
            return Some(0);
        }
        match &self.phase {
            Phase::ClientRequest | Phase::ClientHello { .. } | Phase::ClientAwaitAccept { .. } => {
                Some(self.retry_at.min(self.started + handshake_timeout))
            }
            Phase::ServerHandshake { .. } | Phase::ServerAwaitAccept { .. } => Some(self.started + handshake_timeout),
            Phase::Established { session, .. } => {
                let probe = self.probes.iter().map(|p| p.retry_at).min();
                let fallback = self.fallback.filter(|&f| f != self.peer).map(|_| self.last_heard + FALLBACK_AFTER_USEC);
                crate::earliest([session.poll_timeout(), self.closing_until, probe, fallback])
            }
            Phase::Ended => None,
        }
    }

    /// Seal a CONTROL message of kind `kind` for the peer, if keys exist yet.
    pub(super) fn control_datagram(&mut self, kind: u8, body: &[u8]) -> Option<Vec<u8>> {
        let crypto = self.phase.crypto()?;
        let nonce = CONTROL_NONCE_BIT | self.next_control_nonce;
        self.next_control_nonce += 1;
        let mut plain = Vec::with_capacity(1 + body.len());
        plain.push(kind);
        plain.extend_from_slice(body);
        let mut d = vec![0u8; SEALED_HEADER + plain.len() + TAG_LEN];
        d[0] = KIND_CONTROL;
        d[1..5].copy_from_slice(&self.remote_id.to_be_bytes());
        d[5..13].copy_from_slice(&nonce.to_be_bytes());
        let len = crypto.write_message(nonce, &plain, &mut d[SEALED_HEADER..]).ok()?;
        d.truncate(SEALED_HEADER + len);
        Some(d)
    }
}
