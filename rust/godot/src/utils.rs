//! Networking Utils methods that games call for this interface. GodotSteam binds them on
//! `Steam` (from `ISteamNetworkingUtils`); steamnet has no `Steam` object, so they live on the
//! `SteamNetworkingSockets` singleton under the same names and arguments (the contract's
//! `related_networking_utils`). Each is listed in `tests/api/extensions.json`.

use godot::prelude::*;
use steamnet_net::ConfigInput;
use steamnet_net::log::{DebugOutput, detail};

use crate::convert::{handle, put};
use crate::singleton::SteamNetworkingSockets;

/// steamnet's diagnostics. Errors are shown until the game asks for more or less detail.
static DEBUG_OUTPUT: DebugOutput = DebugOutput::new(detail::ERROR);

/// Send steamnet's `tracing` events to [`DEBUG_OUTPUT`] (once, at startup). A game or another
/// extension that installed its own global subscriber first keeps it.
pub fn install_debug_output() {
    steamnet_net::log::install(&DEBUG_OUTPUT);
}

/// Print what was logged since the last frame to Godot's output, on the main thread: errors
/// and bugs as errors, warnings as warnings, the rest as plain lines.
pub fn print_debug_output() {
    for (level, line) in DEBUG_OUTPUT.take() {
        match level {
            detail::BUG | detail::ERROR => godot_error!("{line}"),
            detail::IMPORTANT | detail::WARNING => godot_warn!("{line}"),
            _ => godot_print!("{line}"),
        }
    }
}

impl SteamNetworkingSockets {
    /// A refused config value says why, rate-limited like every other refused call.
    fn report(&self, what: &'static str, result: Result<(), steamnet_net::config::ConfigError>) -> bool {
        match result {
            Ok(()) => true,
            Err(why) => {
                crate::complaints::complain(what, &why.to_string());
                false
            }
        }
    }

    fn set_global(&self, what: &'static str, config: i64, input: ConfigInput) -> bool {
        self.report(what, self.sockets().set_global_config_value(config, &input))
    }

    fn set_connection(&self, what: &'static str, connection: i64, config: i64, input: ConfigInput) -> bool {
        self.report(what, self.sockets().set_connection_config_value(handle(connection), config, &input))
    }
}

#[godot_api(secondary)]
impl SteamNetworkingSockets {
    /// Microseconds on the clock `time_received` uses.
    #[func(rename = getLocalTimestamp)]
    fn get_local_timestamp(&self) -> i64 {
        self.call("getLocalTimestamp").local_timestamp()
    }

    /// `{result, type, value, buffer}`: `value` holds the bytes GNS would write (little-endian
    /// numbers, NUL-terminated strings) and `buffer` their count.
    #[func(rename = getConfigValue)]
    fn get_config_value(&self, config_value: i64, scope_type: i64, connection_handle: i64) -> VarDictionary {
        let scope = i32::try_from(scope_type).unwrap_or(-1);
        let reading = self.call("getConfigValue").config_value(config_value, scope, handle(connection_handle));
        let mut d = VarDictionary::new();
        put(&mut d, "result", reading.result as i64);
        put(&mut d, "type", reading.data_type as i64);
        put(&mut d, "buffer", reading.value.len() as i64);
        put(&mut d, "value", PackedByteArray::from(reading.value.as_slice()));
        d
    }

    /// `{type, scope}`, or an empty Dictionary for an unknown value.
    #[func(rename = getConfigValueInfo)]
    fn get_config_value_info(&self, config_value: i64) -> VarDictionary {
        let mut d = VarDictionary::new();
        if let Some((data_type, scope)) = self.call("getConfigValueInfo").config_value_info(config_value) {
            put(&mut d, "type", data_type as i64);
            put(&mut d, "scope", scope as i64);
        }
        d
    }

    /// GNS's `SetDebugOutputFunction`: show steamnet's diagnostics up to `detail_level` (a
    /// `NETWORKING_SOCKET_DEBUG_OUTPUT_TYPE_*` value) in Godot's output panel, every frame. The
    /// output always goes to the panel, so there is no function to pass. Default: errors.
    #[func(rename = setDebugOutputFunction, gd_self)]
    fn set_debug_output_function(_this: Gd<Self>, detail_level: i64) {
        DEBUG_OUTPUT.set_level(detail_level.clamp(i32::MIN as i64, i32::MAX as i64) as i32);
    }

    /// Networking Utils' `SetGlobalConfigValueInt32`: set an int config value (a
    /// `NETWORKING_CONFIG_*` key) for every connection made from now on. `false`, with an error in
    /// the output saying why, for an unknown key, a key of another type or a value out of range.
    #[func(rename = setGlobalConfigValueInt32, gd_self)]
    fn set_global_config_value_int32(this: Gd<Self>, config: i64, value: i64) -> bool {
        this.bind().set_global("setGlobalConfigValueInt32", config, ConfigInput::Int(value))
    }

    /// Networking Utils' `SetGlobalConfigValueFloat`: like `setGlobalConfigValueInt32`, for the
    /// float keys (the `FAKE_PACKET_*` percentages among them).
    #[func(rename = setGlobalConfigValueFloat, gd_self)]
    fn set_global_config_value_float(this: Gd<Self>, config: i64, value: f64) -> bool {
        this.bind().set_global("setGlobalConfigValueFloat", config, ConfigInput::Float(value))
    }

    /// Networking Utils' `SetGlobalConfigValueString`: like `setGlobalConfigValueInt32`, for the
    /// string keys.
    #[func(rename = setGlobalConfigValueString, gd_self)]
    fn set_global_config_value_string(this: Gd<Self>, config: i64, value: GString) -> bool {
        this.bind().set_global("setGlobalConfigValueString", config, ConfigInput::Str(value.to_string()))
    }

    /// Networking Utils' `SetConnectionConfigValueInt32`: set an int config value on one open
    /// connection. `false`, with an error saying why, for a bad handle, an unknown key, a key of
    /// another type or scope, or a value out of range.
    #[func(rename = setConnectionConfigValueInt32, gd_self)]
    fn set_connection_config_value_int32(this: Gd<Self>, connection: i64, config: i64, value: i64) -> bool {
        this.bind().set_connection("setConnectionConfigValueInt32", connection, config, ConfigInput::Int(value))
    }

    /// Networking Utils' `SetConnectionConfigValueFloat`: like `setConnectionConfigValueInt32`, for
    /// the float keys.
    #[func(rename = setConnectionConfigValueFloat, gd_self)]
    fn set_connection_config_value_float(this: Gd<Self>, connection: i64, config: i64, value: f64) -> bool {
        this.bind().set_connection("setConnectionConfigValueFloat", connection, config, ConfigInput::Float(value))
    }

    /// Networking Utils' `SetConnectionConfigValueString`: like `setConnectionConfigValueInt32`,
    /// for the string keys (`NETWORKING_CONFIG_P2P_STUN_SERVER_LIST` among them).
    #[func(rename = setConnectionConfigValueString, gd_self)]
    fn set_connection_config_value_string(this: Gd<Self>, connection: i64, config: i64, value: GString) -> bool {
        this.bind().set_connection(
            "setConnectionConfigValueString",
            connection,
            config,
            ConfigInput::Str(value.to_string()),
        )
    }
}
