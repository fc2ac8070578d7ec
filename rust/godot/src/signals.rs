//! The singleton's signals: the callbacks the sockets queued, emitted on the main thread (each
//! frame and on `runNetworkingCallbacks()`), and every connection to them dropped at shutdown.

use godot::prelude::*;
use steamnet_net::Event;

use crate::convert::{self, steam_id_to_int};
use crate::singleton::SteamNetworkingSockets;

/// Mirrors GodotSteam's 255-byte buffer for debug text in signals.
const MAX_SIGNAL_DEBUG_CHARS: usize = 255;

/// Emit a signal for every queued callback. Called each frame and by `runNetworkingCallbacks()`.
/// The events are taken under a short borrow so that handlers can call back into the singleton.
pub fn dispatch_callbacks(singleton: Gd<SteamNetworkingSockets>) {
    crate::utils::print_debug_output();
    let events = singleton.bind().sockets().drain_events();
    if events.is_empty() {
        return;
    }
    let mut object = singleton.upcast::<Object>();
    for event in events {
        match event {
            Event::ConnectionStatusChanged { handle, info, old_state } => {
                let args = [
                    (handle as i64).to_variant(),
                    convert::connection_info_for_signal(&info).to_variant(),
                    (old_state.code() as i64).to_variant(),
                ];
                object.emit_signal("network_connection_status_changed", &args);
            }
            Event::AuthenticationStatus { availability, debug_message } => {
                let text: String = debug_message.chars().take(MAX_SIGNAL_DEBUG_CHARS).collect();
                let args = [(availability as i64).to_variant(), GString::from(text.as_str()).to_variant()];
                object.emit_signal("network_authentication_status", &args);
            }
            Event::RelayNetworkStatus(status) => {
                let text: String = status.debug_message.chars().take(MAX_SIGNAL_DEBUG_CHARS).collect();
                let args = [
                    (status.available as i64).to_variant(),
                    (status.ping_measurement as i64).to_variant(),
                    (status.available_config as i64).to_variant(),
                    (status.available_relay as i64).to_variant(),
                    GString::from(text.as_str()).to_variant(),
                ];
                object.emit_signal("relay_network_status", &args);
            }
            Event::FakeIpResult { result, identity, fake_ip, ports } => {
                let mut port_list = VarArray::new();
                for port in ports {
                    port_list.push(&(port as i64).to_variant());
                }
                let args = [
                    (result as i64).to_variant(),
                    steam_id_to_int(identity).to_variant(),
                    GString::from(fake_ip.as_str()).to_variant(),
                    port_list.to_variant(),
                ];
                object.emit_signal("fake_ip_result", &args);
            }
        }
    }
}

/// Drop every connection to our signals and every queued callback (see `on_stage_deinit`).
pub fn disconnect_all(singleton: Gd<SteamNetworkingSockets>) {
    drop(singleton.bind().sockets().drain_events());
    let mut object = singleton.upcast::<Object>();
    for signal in
        ["network_connection_status_changed", "network_authentication_status", "fake_ip_result", "relay_network_status"]
    {
        for connection in object.get_signal_connection_list(signal).iter_shared() {
            if let Some(callable) = connection.get("callable") {
                object.disconnect(signal, &callable.to::<Callable>());
            }
        }
    }
}
