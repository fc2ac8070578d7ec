//! [`Sockets`]: the state behind the `SteamNetworkingSockets` singleton.
//!
//! The calls here check handles, states and arguments as GNS does; what then depends on how a
//! connection travels goes through one dispatch (`transport.rs`) to one of two transports:
//! - socket pairs (`createSocketPair(loopback = false)`, `pair.rs`): two handles of this process
//!   that pass messages to each other without touching the network, like GNS's pipe connections;
//! - UDP connections (`connectByIPAddress`, `createListenSocketIP`, P2P; `udp.rs`):
//!   `steamnet_proto` endpoints driven by a background runtime.
//!
//! P2P, FakeIP and hosted dedicated servers go through the relay (`p2p.rs`, `fake_ip.rs`,
//! `hosted.rs`); certificates come from its CA (`auth.rs`). A call that cannot work fails with
//! the documented failure value (handle 0, `false`, `RESULT_*`) and says why, never pretending
//! success.
//!
//! Threads and locks: the interface's lock guards the tables the application sees (`State`);
//! each UDP endpoint has a lock of its own, which its driver task takes alone, never the
//! interface's (`udp/table.rs`). Application calls lock the interface, then an endpoint.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use steamnet_proto::IdMap;

use crate::config::{ConfigError, ConfigInput, ConfigValue, ConnectionConfig, ids};
use crate::events::{ConnectionInfo, Event};
use crate::identity::Identity;
use crate::log::category;
use crate::refusal;
use crate::types::*;

/// A message as `receiveMessages*` hands it out.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMessage {
    /// Shares its buffer with the other messages that arrived in the same stretch of stream.
    pub payload: Bytes,
    pub connection: Handle,
    /// Sender as a Steam ID; 0 for non-SteamID identities.
    pub identity: u64,
    /// The receiving connection's user data at the moment the message was dequeued.
    pub receiver_user_data: i64,
    /// Microseconds on [`Sockets::local_timestamp`]'s clock.
    pub time_received: i64,
    pub message_number: i64,
    /// Only `send_flags::RELIABLE` is meaningful on receive.
    pub flags: i32,
    pub lane: u16,
}

/// What every connection adds up to: the figures a game's performance monitors show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    /// Connection handles open, in any state.
    pub connections: usize,
    /// Of those, the connected ones; the figures below are over these.
    pub connected: usize,
    /// The worst ping, ms (0 with no connection).
    pub ping_ms_max: i32,
    /// The worst share of the peer's packets that reach us (0 to 1), once any is known.
    pub quality_min: Option<f32>,
    pub bytes_in_per_sec: f64,
    pub bytes_out_per_sec: f64,
    /// Reliable and unreliable bytes waiting to be sent.
    pub queued_bytes: u64,
}

/// `SteamNetConnectionRealTimeStatus_t`.
#[derive(Debug, Clone, PartialEq)]
pub struct RealTimeStatus {
    pub state: ConnectionState,
    pub ping_ms: i32,
    pub local_quality: f32,
    pub remote_quality: f32,
    pub packets_out_per_sec: f32,
    pub bytes_out_per_sec: f32,
    pub packets_in_per_sec: f32,
    pub bytes_in_per_sec: f32,
    pub send_rate_bytes_per_sec: i32,
    pub pending_unreliable: i32,
    pub pending_reliable: i32,
    pub sent_unacked_reliable: i32,
    pub queue_time_usec: i64,
    /// steamnet extension: the path in use, `"direct"`, `"relayed"` (P2P) or `"local"` (a pair).
    pub path: &'static str,
}

/// `SteamNetConnectionRealTimeLaneStatus_t`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LaneStatus {
    pub pending_unreliable: i32,
    pub pending_reliable: i32,
    pub sent_unacked_reliable: i32,
    pub queue_time_usec: i64,
}

/// What `getFakeIP` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeIpInfo {
    pub result: SteamResult,
    pub identity_type: i32,
    pub ip: String,
    pub ports: [u16; 8],
}

/// What the game thread and the background runtime share.
struct Inner {
    state: Mutex<State>,
    clock_base: Instant,
    /// A driver left something in its endpoint for the interface (events, messages, relay
    /// news): the next call settles it.
    unsettled: AtomicBool,
}

impl Inner {
    /// The interface's state, with whatever the drivers left in their endpoints settled into
    /// it, so every call sees all that has happened.
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the tables half-updated in a way that is
        // worse than refusing every later call, so keep serving.
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Looked at before it is cleared: most calls find nothing, and a load costs less.
        if self.unsettled.load(Ordering::Relaxed) && self.unsettled.swap(false, Ordering::AcqRel) {
            udp::settle(&mut state, self.now());
        }
        state
    }

    fn now(&self) -> u64 {
        self.clock_base.elapsed().as_micros() as u64
    }
}

/// One instance of the sockets interface.
pub struct Sockets {
    inner: Arc<Inner>,
    /// The background runtime that drives UDP sockets, started on first use. Dropping the
    /// interface stops it; its tasks hold only weak references to `inner`.
    runtime: OnceLock<tokio::runtime::Runtime>,
}

impl Default for Sockets {
    fn default() -> Self {
        Self::new()
    }
}

impl Sockets {
    pub fn new() -> Self {
        Sockets {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                clock_base: Instant::now(),
                unsettled: AtomicBool::new(false),
            }),
            runtime: OnceLock::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.lock()
    }

    /// Microseconds since this interface was created (`GetLocalTimestamp`'s clock).
    pub fn local_timestamp(&self) -> i64 {
        self.inner.now() as i64
    }

    // ----- identity -------------------------------------------------------------------------

    pub fn local_identity(&self) -> Identity {
        self.lock().local_identity.clone()
    }

    // ----- connections --------------------------------------------------------------------

    /// `CreateSocketPair`. `identity1` is connection 1's own identity (so connection 2's remote),
    /// and the other way round; an invalid identity means the local one, or "localhost". With
    /// `network_loopback` the two ends talk over real UDP on 127.0.0.1.
    pub fn create_socket_pair(
        &self,
        network_loopback: bool,
        identity1: Identity,
        identity2: Identity,
    ) -> Option<(Handle, Handle)> {
        let mut state = self.lock();
        let fallback = if state.local_identity.is_valid() { state.local_identity.clone() } else { Identity::LocalHost };
        let id1 = if identity1.is_valid() { identity1 } else { fallback.clone() };
        let id2 = if identity2.is_valid() { identity2 } else { fallback };
        if network_loopback {
            drop(state);
            return self.create_loopback_pair(id1, id2);
        }
        Some(pair::create(&mut state, id1, id2))
    }

    /// `AcceptConnection`.
    pub fn accept_connection(&self, handle: Handle) -> SteamResult {
        let mut state = self.lock();
        let Some(conn) = state.connection(handle) else { return SteamResult::InvalidParam };
        // As GNS checks, in this order: it must wait in Connecting, and it must have been
        // initiated by the peer (arrived on a listen socket), not by us.
        if conn.state != ConnectionState::Connecting {
            return SteamResult::InvalidState;
        }
        if conn.listen_socket == INVALID_HANDLE {
            return SteamResult::InvalidParam;
        }
        let transport = conn.transport;
        transport.accept(&mut state, self.inner.now())
    }

    /// `CloseConnection`: the handle is freed at once; the peer learns the reason.
    pub fn close_connection(&self, handle: Handle, reason: i32, debug: &str, linger: bool) -> bool {
        let mut state = self.lock();
        if state.connection(handle).is_none() {
            return false;
        }
        let mut conn = state.connections.remove(&handle).expect("checked above");
        let (reason, debug) = normalise_close_reason(reason, debug);
        let debug = truncate_utf8(debug, MAX_CLOSE_DEBUG_BYTES).to_string();
        // GNS tells the application about connections it destroys too: one last change, to
        // state None (its example chat program notes these callbacks and ignores them). A
        // connection still alive ends with the application's reason.
        if conn.state != ConnectionState::None {
            if conn.is_alive() {
                conn.end_reason = reason;
                conn.end_debug = debug.clone();
            }
            let mut info = conn.info(handle);
            info.state = ConnectionState::None;
            state.events.push(Event::ConnectionStatusChanged { handle, info, old_state: conn.state });
        }
        conn.transport.close(&mut state, reason, debug, linger, self.inner.now());
        true
    }

    pub fn connection_info(&self, handle: Handle) -> Option<ConnectionInfo> {
        self.lock().connection(handle).map(|c| c.info(handle))
    }

    pub fn set_connection_user_data(&self, handle: Handle, user_data: i64) -> bool {
        match self.lock().connection_mut(handle) {
            Some(conn) => {
                conn.user_data = user_data;
                true
            }
            None => false,
        }
    }

    /// -1 when the handle is invalid, as in GNS.
    pub fn connection_user_data(&self, handle: Handle) -> i64 {
        self.lock().connection(handle).map_or(-1, |c| c.user_data)
    }

    pub fn set_connection_name(&self, handle: Handle, name: &str) -> bool {
        match self.lock().connection_mut(handle) {
            Some(conn) => {
                conn.name = name.to_string();
                true
            }
            None => false,
        }
    }

    pub fn connection_name(&self, handle: Handle) -> Option<String> {
        self.lock().connection(handle).map(|c| c.name.clone())
    }

    /// `SendMessageToConnection`: the message number on success.
    pub fn send_message(&self, handle: Handle, data: &[u8], flags: i32) -> Result<i64, SteamResult> {
        self.send_message_on_lane(handle, 0, data, flags)
    }

    /// `SendMessages` for one message: as `send_message`, on lane `lane` (GNS's
    /// `SteamNetworkingMessage_t::m_idxLane`). A lane the connection does not have is
    /// `InvalidParam`, as in GNS.
    pub fn send_message_on_lane(&self, handle: Handle, lane: i64, data: &[u8], flags: i32) -> Result<i64, SteamResult> {
        let now = self.local_timestamp();
        let mut state = self.lock();
        let Some(conn) = state.connection(handle) else { return Err(SteamResult::InvalidParam) };
        let lane = match usize::try_from(lane) {
            Ok(lane) if lane < conn.lanes.count() => lane as u16,
            _ => {
                refusal::refuse(format!(
                    "lane {lane} does not exist: connection {handle} has {} lane(s)",
                    conn.lanes.count()
                ));
                return Err(SteamResult::InvalidParam);
            }
        };
        match conn.state {
            ConnectionState::Connected => {}
            // GNS drops a no-delay message that cannot go out at once.
            ConnectionState::Connecting if flags & send_flags::NO_DELAY != 0 => return Err(SteamResult::Ignored),
            // Queued until the connection is established, as in GNS.
            ConnectionState::Connecting if conn.transport.queues_while_connecting() => {}
            ConnectionState::ClosedByPeer | ConnectionState::ProblemDetectedLocally => {
                refusal::refuse(format!(
                    "connection {handle} has ended (end reason {}: {}); closeConnection frees its handle",
                    conn.end_reason, conn.end_debug
                ));
                return Err(SteamResult::NoConnection);
            }
            state => {
                refusal::refuse(format!("connection {handle} cannot send in state {state:?}"));
                return Err(SteamResult::InvalidState);
            }
        }
        if data.len() > MAX_MESSAGE_SIZE_SEND {
            refusal::refuse(format!(
                "a message of {} bytes is over the {MAX_MESSAGE_SIZE_SEND}-byte limit",
                data.len()
            ));
            return Err(SteamResult::InvalidParam);
        }
        let reliable = flags & send_flags::RELIABLE != 0;
        tracing::debug!(target: category::MESSAGE, handle, lane, bytes = data.len(), reliable, "message sent");
        let transport = conn.transport;
        transport.send(&mut state, handle, lane, data, flags, now as u64)
    }

    /// `FlushMessagesOnConnection`. A pair never holds messages back; a UDP connection sends what
    /// Nagle is holding.
    pub fn flush_messages(&self, handle: Handle) -> SteamResult {
        let mut state = self.lock();
        let Some(conn) = state.connection(handle) else { return SteamResult::InvalidParam };
        match conn.state {
            ConnectionState::Connected => {
                let transport = conn.transport;
                transport.flush(&mut state, self.inner.now());
                SteamResult::Ok
            }
            ConnectionState::Connecting | ConnectionState::FindingRoute => SteamResult::Ignored,
            ConnectionState::ClosedByPeer | ConnectionState::ProblemDetectedLocally => SteamResult::NoConnection,
            _ => SteamResult::InvalidState,
        }
    }

    /// `ReceiveMessagesOnConnection`: `None` for an invalid handle.
    pub fn receive_on_connection(&self, handle: Handle, max_messages: usize) -> Option<Vec<ReceivedMessage>> {
        let mut state = self.lock();
        let conn = state.connection_mut(handle)?;
        if conn.inbox.is_empty() {
            let transport = conn.transport;
            transport.poll_arrivals(&mut state, self.inner.now());
        }
        let conn = state.connection_mut(handle)?;
        let count = max_messages.min(conn.inbox.len());
        let out = (0..count).filter_map(|_| dequeue(conn)).collect();
        self.refill(&mut state, [handle]);
        Some(out)
    }

    /// Messages were taken from these connections' queues: those that had messages waiting
    /// in their session (the queue was full) get them now.
    fn refill(&self, state: &mut State, handles: impl IntoIterator<Item = Handle>) {
        for handle in handles {
            let Some(conn) = state.connections.get(&handle) else { continue };
            if conn.backlogged {
                let transport = conn.transport;
                // The clock only when there is something to stamp: most calls find no backlog.
                transport.refill(state, handle, self.inner.now());
            }
        }
    }

    /// Bytes held for peers right now, across all connections: what protocol endpoints buffer
    /// for reassembly and delivery plus the messages waiting in the application's queues. A
    /// diagnostic (and what the hostile-peer tests watch); each part is bounded by the
    /// `RECV_BUFFER_*` values.
    pub fn receive_buffer_bytes(&self) -> usize {
        let state = self.lock();
        let mut endpoints = 0;
        state.endpoints.each(|_, ep| endpoints += ep.held_bytes());
        endpoints + state.connections.values().map(|c| c.inbox_bytes).sum::<usize>()
    }

    /// Half-open handshakes the listening endpoints hold now: a diagnostic, for the tests that
    /// fill the half-open table (what a flooder sees of it is no measure: the REPLYs of
    /// handshakes evicted before their turn to be sent never go out).
    pub fn half_open_handshakes(&self) -> usize {
        let mut half_open = 0;
        self.lock().endpoints.each(|_, ep| half_open += ep.endpoint.half_open_handshakes());
        half_open
    }

    pub fn create_poll_group(&self) -> Handle {
        let mut state = self.lock();
        let handle = state.allocate_handle();
        state.poll_groups.insert(handle, PollGroup::default());
        handle
    }

    /// `DestroyPollGroup`: its connections are left in no group.
    pub fn destroy_poll_group(&self, group: Handle) -> bool {
        let mut state = self.lock();
        if state.poll_groups.remove(&group).is_none() {
            refusal::refuse(state.not_a("poll group", group));
            return false;
        }
        for conn in state.connections.values_mut().filter(|c| c.poll_group == group) {
            conn.poll_group = INVALID_HANDLE;
        }
        true
    }

    /// `SetConnectionPollGroup`; group 0 removes the connection from its group. Messages already
    /// waiting on the connection become receivable through the new group.
    pub fn set_connection_poll_group(&self, handle: Handle, group: Handle) -> bool {
        let mut state = self.lock();
        if group != INVALID_HANDLE && !state.poll_groups.contains_key(&group) {
            refusal::refuse(state.not_a("poll group", group));
            return false;
        }
        let Some(conn) = state.connection_mut(handle) else { return false };
        if conn.poll_group == group {
            return true;
        }
        conn.poll_group = group;
        let waiting: Vec<(Handle, u64)> = conn.inbox.iter().map(|q| (handle, q.seq)).collect();
        if let Some(g) = state.poll_groups.get_mut(&group) {
            g.arrivals.extend(waiting);
        }
        true
    }

    /// `ReceiveMessagesOnPollGroup`: `None` for an invalid group.
    pub fn receive_on_poll_group(&self, group: Handle, max_messages: usize) -> Option<Vec<ReceivedMessage>> {
        let mut state = self.lock();
        let state = &mut *state;
        if !state.poll_groups.contains_key(&group) {
            refusal::refuse(state.not_a("poll group", group));
            return None;
        }
        if state.poll_groups[&group].arrivals.is_empty() {
            Transport::poll_shared_arrivals(state, self.inner.now());
        }
        let arrivals = &mut state.poll_groups.get_mut(&group)?.arrivals;
        let mut out = Vec::new();
        while out.len() < max_messages {
            let Some((handle, seq)) = arrivals.pop_front() else { break };
            let Some(conn) = state.connections.get_mut(&handle) else { continue };
            if conn.poll_group != group || conn.inbox.front().map(|q| q.seq) != Some(seq) {
                continue; // stale: received through the connection, or it left the group
            }
            out.extend(dequeue(conn));
        }
        let backlogged: Vec<Handle> = out
            .iter()
            .map(|m| m.connection)
            .filter(|h| state.connections.get(h).is_some_and(|c| c.backlogged))
            .collect();
        self.refill(state, backlogged);
        Some(out)
    }

    /// `ConfigureConnectionLanes`.
    pub fn configure_lanes(&self, handle: Handle, count: i64, priorities: &[i64], weights: &[i64]) -> SteamResult {
        let mut state = self.lock();
        let Some(conn) = state.connection_mut(handle) else { return SteamResult::NoConnection };
        if !conn.is_alive() {
            return SteamResult::InvalidState;
        }
        let Ok(count) = usize::try_from(count) else { return SteamResult::InvalidParam };
        if conn.lanes.configure(count, priorities, weights).is_err() {
            return SteamResult::InvalidParam;
        }
        let transport = conn.transport;
        transport.configure_lanes(&mut state, count, priorities, weights);
        SteamResult::Ok
    }

    /// `GetConnectionRealTimeStatus` for the first `lanes` lanes.
    pub fn real_time_status(
        &self,
        handle: Handle,
        lanes: i64,
    ) -> Result<(RealTimeStatus, Vec<LaneStatus>), SteamResult> {
        let now = self.local_timestamp() as u64;
        let mut state = self.lock();
        let Some(conn) = state.connection_mut(handle) else { return Err(SteamResult::NoConnection) };
        let lanes =
            usize::try_from(lanes).ok().filter(|n| *n <= conn.lanes.count()).ok_or(SteamResult::InvalidParam)?;
        let (packets_out, bytes_out) = conn.sent.rates(now);
        let (packets_in, bytes_in) = conn.received.rates(now);
        let conn = state.connection(handle).ok_or(SteamResult::NoConnection)?;
        Ok(conn.transport.real_time_status(&state, conn, lanes, [packets_out, bytes_out, packets_in, bytes_in]))
    }

    /// Totals over every connection, for the game's performance monitors.
    pub fn totals(&self) -> Totals {
        let handles: Vec<Handle> = self.lock().connections.keys().copied().collect();
        let mut totals = Totals { connections: handles.len(), ..Totals::default() };
        for handle in handles {
            let Ok((status, _)) = self.real_time_status(handle, 0) else { continue };
            if status.state != ConnectionState::Connected {
                continue;
            }
            totals.connected += 1;
            totals.ping_ms_max = totals.ping_ms_max.max(status.ping_ms);
            if status.local_quality >= 0.0 {
                totals.quality_min =
                    Some(totals.quality_min.map_or(status.local_quality, |q| q.min(status.local_quality)));
            }
            totals.bytes_in_per_sec += status.bytes_in_per_sec as f64;
            totals.bytes_out_per_sec += status.bytes_out_per_sec as f64;
            totals.queued_bytes += (status.pending_reliable + status.pending_unreliable) as u64;
        }
        totals
    }

    /// `GetDetailedConnectionStatus`: a human-readable report, `None` for an invalid handle.
    pub fn detailed_status(&self, handle: Handle) -> Option<String> {
        let (status, _) = self.real_time_status(handle, 0).ok()?;
        let state = self.lock();
        let conn = state.connection(handle)?;
        Some(
            format!(
                "Connection {}\nState: {}\nEnd reason: {} {}\nPing: {} ms  Quality local {:.0}% remote {:.0}%\n\
             Sent: {:.1} pkt/s {:.1} B/s  Received: {:.1} pkt/s {:.1} B/s\nLanes: {}\nQueued for receive: {} messages, {} bytes\n",
                conn.describe(handle),
                conn.state.name(),
                conn.end_reason,
                conn.end_debug,
                status.ping_ms,
                status.local_quality * 100.0,
                status.remote_quality * 100.0,
                status.packets_out_per_sec,
                status.bytes_out_per_sec,
                status.packets_in_per_sec,
                status.bytes_in_per_sec,
                conn.lanes.count(),
                conn.inbox.len(),
                conn.inbox_bytes,
            ) + &conn.transport.detailed_status(&state),
        )
    }

    // ----- callbacks ----------------------------------------------------------------------

    /// Take every callback posted since the last call, oldest first.
    pub fn drain_events(&self) -> Vec<Event> {
        std::mem::take(&mut self.lock().events)
    }
}

mod auth;
mod config_values;
mod fake_ip;
mod hosted;
mod ice;
mod p2p;
mod pair;
mod pops;
mod relay_link;
mod state;
#[cfg(test)]
mod tests;
mod transport;
mod udp;

pub use config_values::{ConfigReading, data_type, get_result, scope};
pub use fake_ip::{fake_ip_type, is_fake_ip};
pub use hosted::HostedEnvironment;
pub use pops::PopStatus;
use state::*;
use transport::Transport;
