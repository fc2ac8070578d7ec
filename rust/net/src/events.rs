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
    /// `relay_network_status` (Networking Utils): the link to the relay changed state.
    RelayNetworkStatus(RelayStatus),
}

/// `SteamRelayNetworkStatus_t`, as this relay network has it: one relay, so `available_relay`
/// is the link to it, `ping_measurement` whether its round trip is known, and `available_config`
/// whether its address could be worked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayStatus {
    pub available: i32,
    pub ping_measurement: i32,
    pub available_config: i32,
    pub available_relay: i32,
    pub debug_message: String,
}

impl Default for RelayStatus {
    fn default() -> Self {
        let never = crate::types::availability::NEVER_TRIED;
        RelayStatus {
            available: never,
            ping_measurement: never,
            available_config: never,
            available_relay: never,
            debug_message: String::new(),
        }
    }
}
