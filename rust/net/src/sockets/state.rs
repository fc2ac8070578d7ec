//! The tables behind the interface: connections (their state, queue of received messages and
//! transport), poll groups, and the handles, events and configuration they share. The
//! interface's lock guards a [`State`]; the API in `sockets.rs` and the transports beside it
//! work on it. UDP endpoints sit in it behind locks of their own, which their driver tasks take
//! without this one (`udp/table.rs`).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use steamnet_proto::{IdMap, Lanes};

use super::transport::Transport;
use super::{ReceivedMessage, auth, fake_ip, hosted, udp};
use crate::config::{ConnectionConfig, GlobalConfig, ids};
use crate::events::{ConnectionInfo, Event};
use crate::handles::HandleAllocator;
use crate::identity::Identity;
use crate::log::category;
use crate::rate::RateMeter;
use crate::refusal;
use crate::types::*;

/// GNS caps the close reason text at 128 bytes including the terminating NUL.
pub(in crate::sockets) const MAX_CLOSE_DEBUG_BYTES: usize = 127;

#[derive(Debug)]
pub(in crate::sockets) struct QueuedMessage {
    /// Arrival order across the whole interface; poll groups use it to find their messages.
    pub(in crate::sockets) seq: u64,
    pub(in crate::sockets) message: ReceivedMessage,
}

#[derive(Debug)]
pub(in crate::sockets) struct Connection {
    pub(in crate::sockets) state: ConnectionState,
    pub(in crate::sockets) end_reason: i32,
    pub(in crate::sockets) end_debug: String,
    pub(in crate::sockets) user_data: i64,
    pub(in crate::sockets) name: String,
    pub(in crate::sockets) remote_identity: Identity,
    pub(in crate::sockets) listen_socket: Handle,
    pub(in crate::sockets) poll_group: Handle,
    pub(in crate::sockets) info_flags: i32,
    /// The lanes as configured, and the numbers of the messages the application sent on
    /// them: the interface numbers every message itself, whatever carries it, so a send knows
    /// its number before its session sees it (`udp/handoff.rs`).
    pub(in crate::sockets) lanes: Lanes,
    pub(in crate::sockets) config: ConnectionConfig,
    pub(in crate::sockets) transport: Transport,
    pub(in crate::sockets) inbox: VecDeque<QueuedMessage>,
    pub(in crate::sockets) inbox_bytes: usize,
    pub(in crate::sockets) sent: RateMeter,
    pub(in crate::sockets) received: RateMeter,
    /// The peer's address, for connections that have one.
    pub(in crate::sockets) remote_address: Option<SocketAddr>,
    /// Messages sent while still connecting: (lane, number, payload, flags), numbered from
    /// `lanes`; the session gets them, and the lanes' configuration, when it exists.
    pub(in crate::sockets) preconnect: Vec<(u16, u64, Vec<u8>, i32)>,
    /// Room the connection's send buffer surely has (UDP): what its session said after this
    /// interface's last send went straight in, less what was handed over since (only
    /// retransmissions queued meanwhile could have taken room; they are few and bounded by
    /// what was in flight). See `udp/handoff.rs`.
    pub(in crate::sockets) send_room: u64,
    /// Session counters already fed into the rate meters (packets and bytes out, then in).
    pub(in crate::sockets) counted: [u64; 4],
    /// The inbox was full when messages arrived, so some still wait in the session.
    pub(in crate::sockets) backlogged: bool,
}

impl Connection {
    /// What the handshake proved about the peer: its certified identity, or nothing (then it
    /// stays known by its address, and the connection is flagged unauthenticated).
    pub(in crate::sockets) fn set_verified_identity(&mut self, identity: Option<u64>) {
        match identity {
            Some(id) => {
                self.remote_identity = Identity::SteamId(id);
                self.info_flags &= !info_flags::UNAUTHENTICATED;
            }
            None => self.info_flags |= info_flags::UNAUTHENTICATED,
        }
    }

    pub(in crate::sockets) fn new(remote_identity: Identity, config: ConnectionConfig, transport: Transport) -> Self {
        Connection {
            state: ConnectionState::None,
            end_reason: end_reason::INVALID,
            end_debug: String::new(),
            user_data: config.int64(ids::CONNECTION_USER_DATA),
            name: String::new(),
            remote_identity,
            listen_socket: INVALID_HANDLE,
            poll_group: INVALID_HANDLE,
            info_flags: 0,
            lanes: Lanes::default(),
            config,
            transport,
            inbox: VecDeque::new(),
            inbox_bytes: 0,
            sent: RateMeter::default(),
            received: RateMeter::default(),
            remote_address: None,
            preconnect: Vec::new(),
            send_room: 0,
            counted: [0; 4],
            backlogged: false,
        }
    }

    pub(in crate::sockets) fn describe(&self, handle: Handle) -> String {
        let kind = match (self.transport, self.remote_address) {
            (Transport::Pair { .. }, _) => "socket pair".to_string(),
            (Transport::Udp { .. }, Some(addr)) => format!("UDP {}", crate::address::format_ip_port(addr)),
            (Transport::Udp { .. }, None) => "UDP".to_string(),
        };
        let mut text = format!("#{handle} {kind} {}", self.remote_identity.describe());
        if !self.name.is_empty() {
            text = format!("{text} '{}'", self.name);
        }
        truncate_utf8(&text, MAX_CLOSE_DEBUG_BYTES).to_string()
    }

    pub(in crate::sockets) fn info(&self, handle: Handle) -> ConnectionInfo {
        ConnectionInfo {
            identity: self.remote_identity.steam_id64(),
            user_data: self.user_data,
            listen_socket: self.listen_socket,
            remote_address: crate::address::format_ip(self.remote_address.unwrap_or(crate::address::CLEARED).ip()),
            remote_pop: 0,
            pop_relay: 0,
            state: self.state,
            end_reason: self.end_reason,
            end_debug: self.end_debug.clone(),
            debug_description: self.describe(handle),
            info_flags: self.info_flags,
        }
    }

    /// The state an application-visible problem or close can still change.
    pub(in crate::sockets) fn is_alive(&self) -> bool {
        matches!(self.state, ConnectionState::Connecting | ConnectionState::FindingRoute | ConnectionState::Connected)
    }
}

#[derive(Debug, Default)]
pub(in crate::sockets) struct PollGroup {
    /// `(connection, seq)` in arrival order. Entries go stale when their message is received
    /// through the connection itself or the connection leaves the group; they are skipped then.
    pub(in crate::sockets) arrivals: VecDeque<(Handle, u64)>,
}

#[derive(Default)]
pub(in crate::sockets) struct State {
    pub(in crate::sockets) handles: HandleAllocator,
    pub(in crate::sockets) connections: IdMap<Handle, Connection>,
    pub(in crate::sockets) poll_groups: HashMap<Handle, PollGroup>,
    pub(in crate::sockets) events: Vec<Event>,
    pub(in crate::sockets) local_identity: Identity,
    pub(in crate::sockets) next_seq: u64,
    /// Identity key, certificate and authentication status.
    pub(in crate::sockets) auth: auth::AuthState,
    /// The link to the relay, as `getRelayNetworkStatus` reports it.
    pub(in crate::sockets) relay_status: crate::events::RelayStatus,
    /// Our FakeIP: asked for, and what the relay gave.
    pub(in crate::sockets) fake_ip: fake_ip::FakeIpState,
    /// `SDR_LISTEN_PORT` and `SDR_POPID`, as they were when this interface was made.
    pub(in crate::sockets) hosted: hosted::HostedEnvironment,
    /// UDP sockets and their protocol endpoints.
    pub(in crate::sockets) endpoints: udp::Endpoints,
    pub(in crate::sockets) next_endpoint_key: udp::EndpointKey,
    pub(in crate::sockets) listen_sockets: HashMap<Handle, udp::ListenSocket>,
    /// This process's Noise static key, made on first use.
    pub(in crate::sockets) static_key: Option<Vec<u8>>,
    /// Values set with `setGlobalConfigValue*`.
    pub(in crate::sockets) global_config: GlobalConfig,
    /// Bumped whenever any config value changes after creation, so drivers re-read theirs.
    pub(in crate::sockets) config_epoch: u64,
}

impl State {
    /// The connection `handle` names; `None`, with the reason for the caller, when it names none.
    pub(in crate::sockets) fn connection(&self, handle: Handle) -> Option<&Connection> {
        let found = self.connections.get(&handle);
        if found.is_none() {
            refusal::refuse(self.not_a("connection", handle));
        }
        found
    }

    pub(in crate::sockets) fn connection_mut(&mut self, handle: Handle) -> Option<&mut Connection> {
        if !self.connections.contains_key(&handle) {
            refusal::refuse(self.not_a("connection", handle));
        }
        self.connections.get_mut(&handle)
    }

    /// Why `handle` is not a live `wanted` (a connection, a listen socket or a poll group).
    pub(in crate::sockets) fn not_a(&self, wanted: &str, handle: Handle) -> String {
        let kind = if self.connections.contains_key(&handle) {
            Some("a connection")
        } else if self.listen_sockets.contains_key(&handle) {
            Some("a listen socket")
        } else if self.poll_groups.contains_key(&handle) {
            Some("a poll group")
        } else {
            None
        };
        match kind {
            _ if handle == INVALID_HANDLE => {
                format!("handle 0 is the invalid handle: the call that should have made this {wanted} failed")
            }
            Some(kind) => format!("handle {handle} is {kind}, not a {wanted}"),
            None => format!(
                "no {wanted} has handle {handle}: it was closed (closing frees a handle at once) or never existed"
            ),
        }
    }

    pub(in crate::sockets) fn allocate_handle(&mut self) -> Handle {
        let (connections, poll_groups, listen) = (&self.connections, &self.poll_groups, &self.listen_sockets);
        self.handles
            .allocate(|h| connections.contains_key(&h) || poll_groups.contains_key(&h) || listen.contains_key(&h))
    }

    pub(in crate::sockets) fn post_status_change(&mut self, handle: Handle, old_state: ConnectionState) {
        if let Some(conn) = self.connections.get(&handle) {
            let info = conn.info(handle);
            self.events.push(Event::ConnectionStatusChanged { handle, info, old_state });
        }
    }

    /// Queue `message` on `handle`, and on its poll group if it has one.
    pub(in crate::sockets) fn enqueue(&mut self, handle: Handle, message: ReceivedMessage) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let Some(conn) = self.connections.get_mut(&handle) else { return };
        tracing::debug!(target: category::MESSAGE, handle, lane = message.lane, bytes = message.payload.len(), "message received");
        conn.inbox_bytes += message.payload.len();
        conn.inbox.push_back(QueuedMessage { seq, message });
        if let Some(group) = self.poll_groups.get_mut(&conn.poll_group) {
            group.arrivals.push_back((handle, seq));
        }
    }
}

/// Pop the oldest message of `conn`, stamped with the user data it has now.
pub(in crate::sockets) fn dequeue(conn: &mut Connection) -> Option<ReceivedMessage> {
    let queued = conn.inbox.pop_front()?;
    conn.inbox_bytes -= queued.message.payload.len();
    let mut message = queued.message;
    message.receiver_user_data = conn.user_data;
    Some(message)
}

/// The reason and text a close carries, as GNS's `CloseConnection` settles them: 0 means the
/// generic application reason; a code outside the application ranges is replaced by
/// `App_Max` with GNS's debug text; no text gets GNS's default.
pub(in crate::sockets) fn normalise_close_reason(reason: i32, debug: &str) -> (i32, &str) {
    let (reason, debug) = match reason {
        0 => (end_reason::APP_GENERIC, debug),
        r if (end_reason::APP_MIN..=end_reason::APP_EXCEPTION_MAX).contains(&r) => (r, debug),
        _ => (end_reason::APP_MAX, "Invalid numeric reason code"),
    };
    if !debug.is_empty() {
        (reason, debug)
    } else if reason >= end_reason::APP_EXCEPTION_MIN {
        (reason, "Application closed connection in an unusual way")
    } else {
        (reason, "Application closed connection")
    }
}

pub(in crate::sockets) fn truncate_utf8(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
