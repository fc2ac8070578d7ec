//! `ISteamNetworkingUtils`' config calls for this interface: set and read configuration values
//! globally, per connection, or per listen socket, as GNS does. Values are converted and
//! clamped by [`crate::config`]; a changed value reaches live UDP connections at once where GNS
//! applies it live (send rate, Nagle, buffers, timeouts, fake network conditions).

use super::*;
use crate::config::{ConfigKind, ConfigScope};

/// `ESteamNetworkingGetConfigValueResult`.
pub mod get_result {
    pub const BAD_VALUE: i32 = -1;
    pub const BAD_SCOPE_OBJ: i32 = -2;
    pub const OK: i32 = 1;
    pub const OK_INHERITED: i32 = 2;
}

/// `ESteamNetworkingConfigScope`.
pub mod scope {
    pub const GLOBAL: i32 = 1;
    pub const SOCKETS_INTERFACE: i32 = 2;
    pub const LISTEN_SOCKET: i32 = 3;
    pub const CONNECTION: i32 = 4;
}

/// `ESteamNetworkingConfigDataType`.
pub mod data_type {
    pub const INT32: i32 = 1;
    pub const INT64: i32 = 2;
    pub const FLOAT: i32 = 3;
    pub const STRING: i32 = 4;
    pub const FUNCTION_PTR: i32 = 5;
}

/// What `GetConfigValue` reports: result, data type, and the value's bytes as GNS writes them
/// (little-endian numbers, NUL-terminated strings).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigReading {
    pub result: i32,
    pub data_type: i32,
    pub value: Vec<u8>,
}

fn type_of(kind: ConfigKind) -> i32 {
    match kind {
        ConfigKind::Int32 { .. } | ConfigKind::ReadOnly => data_type::INT32,
        ConfigKind::Int64 { .. } => data_type::INT64,
        ConfigKind::Float { .. } => data_type::FLOAT,
        ConfigKind::Str => data_type::STRING,
        ConfigKind::FunctionPtr => data_type::FUNCTION_PTR,
    }
}

fn value_bytes(config: &ConnectionConfig, id: i32, kind: ConfigKind) -> Vec<u8> {
    match kind {
        ConfigKind::Int32 { .. } => config.int32(id).to_le_bytes().to_vec(),
        ConfigKind::Int64 { .. } => config.int64(id).to_le_bytes().to_vec(),
        ConfigKind::Float { .. } => config.float(id).to_le_bytes().to_vec(),
        ConfigKind::Str => {
            let mut bytes = match config.get(id) {
                Some(ConfigValue::Str(s)) => s.as_bytes().to_vec(),
                _ => Vec::new(),
            };
            bytes.push(0);
            bytes
        }
        // MTU_DATA_SIZE, the one read-only value: what fits a packet after our headers.
        ConfigKind::ReadOnly => {
            let packet = config.int32(ids::MTU_PACKET_SIZE);
            (packet - steamnet_proto::endpoint::DATA_OVERHEAD as i32).to_le_bytes().to_vec()
        }
        ConfigKind::FunctionPtr => 0u64.to_le_bytes().to_vec(),
    }
}

impl Sockets {
    /// `SetGlobalConfigValue*`: false for an unknown, read-only or callback value, or a value
    /// that cannot be converted.
    pub fn set_global_config_value(&self, id: i64, input: &ConfigInput) -> Result<(), ConfigError> {
        let id = i32::try_from(id).map_err(|_| ConfigError(format!("unknown config value {id}")))?;
        let mut state = self.lock();
        state.global_config.set(id, input, true)?;
        // The LOG_LEVEL_* values set the level of their log category (process-wide, like the
        // debug output itself).
        if let Some(&ConfigValue::Int32(level)) = state.global_config.get(id) {
            crate::log::set_category_level(id, level);
        }
        state.config_epoch += 1;
        self.rearm_all(&mut state);
        Ok(())
    }

    /// `SetConnectionConfigValue*`: set on one live connection; the session takes it at once.
    pub fn set_connection_config_value(&self, handle: Handle, id: i64, input: &ConfigInput) -> Result<(), ConfigError> {
        let id = i32::try_from(id).map_err(|_| ConfigError(format!("unknown config value {id}")))?;
        let mut state = self.lock();
        let conn = state.connections.get_mut(&handle).ok_or_else(|| ConfigError(format!("no connection {handle}")))?;
        conn.config.set(id, input, false)?;
        if id == ids::CONNECTION_USER_DATA {
            conn.user_data = conn.config.int64(id);
        }
        let config = conn.config.clone();
        if let Transport::Udp { endpoint, id: conn_id } = conn.transport {
            udp::apply_config(&mut state, endpoint, conn_id, &config);
        }
        state.config_epoch += 1;
        self.rearm_all(&mut state);
        Ok(())
    }

    /// `GetConfigValue`: the value in force for `scope_type` and object `handle`.
    pub fn config_value(&self, id: i64, scope_type: i32, handle: Handle) -> ConfigReading {
        let bad = |result| ConfigReading { result, data_type: 0, value: Vec::new() };
        let Some(spec) = i32::try_from(id).ok().and_then(crate::config::spec) else {
            return bad(get_result::BAD_VALUE);
        };
        let state = self.lock();
        let global = &state.global_config;
        let own: Option<&ConnectionConfig> = match scope_type {
            scope::GLOBAL | scope::SOCKETS_INTERFACE => None,
            scope::CONNECTION => match state.connections.get(&handle) {
                Some(conn) => Some(&conn.config),
                None => return bad(get_result::BAD_SCOPE_OBJ),
            },
            scope::LISTEN_SOCKET => match state.listen_sockets.get(&handle) {
                Some(listen) => Some(listen.config()),
                None => return bad(get_result::BAD_SCOPE_OBJ),
            },
            _ => return bad(get_result::BAD_SCOPE_OBJ),
        };
        let (source, set_here) = match own {
            Some(config) if config.is_own(spec.id) => (config, true),
            // A connection-scope value not set on the object is what it inherited at creation
            // (its config already holds it); a global one is read live.
            Some(config) if spec.scope == ConfigScope::Connection => (config, false),
            _ => (global, own.is_none() && global.is_set(spec.id)),
        };
        ConfigReading {
            result: if set_here { get_result::OK } else { get_result::OK_INHERITED },
            data_type: type_of(spec.kind),
            value: value_bytes(source, spec.id, spec.kind),
        }
    }

    /// `GetConfigValueInfo`: (data type, scope), or `None` for an unknown value.
    pub fn config_value_info(&self, id: i64) -> Option<(i32, i32)> {
        let spec = i32::try_from(id).ok().and_then(crate::config::spec)?;
        let scope = match spec.scope {
            ConfigScope::Global => scope::GLOBAL,
            ConfigScope::Connection => scope::CONNECTION,
        };
        Some((type_of(spec.kind), scope))
    }

    /// Wake every UDP driver so it re-reads config (fake network) and re-arms its timer.
    fn rearm_all(&self, state: &mut State) {
        let now = self.inner.now();
        for key in state.endpoints.keys() {
            udp::pump(state, key, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_values_round_trip_with_gns_results() {
        let sockets = Sockets::new();
        let r = sockets.config_value(ids::SEND_RATE_MAX as i64, scope::GLOBAL, 0);
        assert_eq!((r.result, r.data_type), (get_result::OK_INHERITED, data_type::INT32));
        assert_eq!(r.value, 262_144i32.to_le_bytes());
        sockets.set_global_config_value(ids::SEND_RATE_MAX as i64, &ConfigInput::Int(1_000_000)).unwrap();
        let r = sockets.config_value(ids::SEND_RATE_MAX as i64, scope::GLOBAL, 0);
        assert_eq!((r.result, r.value), (get_result::OK, 1_000_000i32.to_le_bytes().to_vec()));
        assert!(sockets.set_global_config_value(33, &ConfigInput::Int(5)).is_err(), "read-only");
        assert!(sockets.set_global_config_value(1 << 40, &ConfigInput::Int(5)).is_err());
        assert_eq!(sockets.config_value(998, scope::GLOBAL, 0).result, get_result::BAD_VALUE);
        assert_eq!(sockets.config_value(9, scope::CONNECTION, 12345).result, get_result::BAD_SCOPE_OBJ);
        assert_eq!(sockets.config_value(9, 77, 0).result, get_result::BAD_SCOPE_OBJ);
        assert_eq!(sockets.config_value_info(2), Some((data_type::FLOAT, scope::GLOBAL)));
        assert_eq!(sockets.config_value_info(9), Some((data_type::INT32, scope::CONNECTION)));
        assert_eq!(sockets.config_value_info(0), None);
        let s = sockets.config_value(ids::FAKE_PACKET_LOSS_SEND as i64, scope::GLOBAL, 0);
        assert_eq!(s.value, 0.0f32.to_le_bytes());
    }

    #[test]
    fn connection_values_inherit_and_override() {
        let sockets = Sockets::new();
        sockets.set_global_config_value(ids::NAGLE_TIME as i64, &ConfigInput::Int(1234)).unwrap();
        let (a, _b) = sockets.create_socket_pair(false, Identity::LocalHost, Identity::LocalHost).unwrap();
        let r = sockets.config_value(ids::NAGLE_TIME as i64, scope::CONNECTION, a);
        assert_eq!(r.result, get_result::OK_INHERITED);
        sockets.set_connection_config_value(a, ids::NAGLE_TIME as i64, &ConfigInput::Int(7)).unwrap();
        let r = sockets.config_value(ids::NAGLE_TIME as i64, scope::CONNECTION, a);
        assert_eq!((r.result, r.value), (get_result::OK, 7i32.to_le_bytes().to_vec()));
        assert!(sockets.set_connection_config_value(a, 18, &ConfigInput::Int(1)).is_err(), "global-only");
        assert!(sockets.set_connection_config_value(999, 12, &ConfigInput::Int(1)).is_err(), "no such connection");
        sockets.set_connection_config_value(a, ids::CONNECTION_USER_DATA as i64, &ConfigInput::Int(99)).unwrap();
        assert_eq!(sockets.connection_user_data(a), 99);
    }
}
