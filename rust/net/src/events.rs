//! Callbacks waiting to be dispatched. Anything (the game thread, the UDP driver) may post; the
//! Godot layer drains them on the main thread and emits the matching signals, the way Steam's
//! callbacks only fire inside `run_callbacks()`.

use crate::types::{ConnectionState, Handle};

/// A snapshot of `SteamNetConnectionInfo_t` in the form GodotSteam reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionInfo {
    /// Remote identity as a Steam ID; 0 for non-SteamID identities.
    pub identity: u64,
    pub user_data: i64,
    pub listen_socket: Handle,
    /// Remote IP without port; `"::"` when unknown.
    pub remote_address: String,
    pub remote_pop: u32,
    pub pop_relay: u32,
    pub state: ConnectionState,
    pub end_reason: i32,
    pub end_debug: String,
    pub debug_description: String,
    pub info_flags: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `network_connection_status_changed`.
    ConnectionStatusChanged { handle: Handle, info: ConnectionInfo, old_state: ConnectionState },
    /// `network_authentication_status`.
    AuthenticationStatus { availability: i32, debug_message: String },
    /// `fake_ip_result`.
    FakeIpResult { result: i32, identity: u64, fake_ip: String, ports: [u16; 8] },
}
