//! The Godot side of steamnet: one engine singleton, `SteamNetworkingSockets`, whose methods,
//! signals and constants are those of GodotSteam's Networking Sockets class. This crate only
//! converts Variants, Dictionaries and Arrays; the behaviour lives in `steamnet-net`.

use godot::prelude::*;

mod constants;
mod convert;
mod singleton;

pub use singleton::SteamNetworkingSockets;

struct SteamNetExtension;

#[gdextension]
unsafe impl ExtensionLibrary for SteamNetExtension {
    /// Pump callbacks every frame, so a game that never calls `runNetworkingCallbacks()` still
    /// gets its signals (GodotSteam games call `Steam.run_callbacks()`, which is not ours).
    fn on_main_loop_frame() {
        singleton::dispatch_callbacks(SteamNetworkingSockets::singleton());
    }
}
