//! Configuration values (`ESteamNetworkingConfigValue`) as the `config_options` Dictionary of the
//! connect and listen calls sets them.
//!
//! GodotSteam sets an int as int32 (int64 for `CONNECTION_USER_DATA`), a float as float and a
//! String as a string; GNS then converts to the value's declared type and clamps into its bounds:
//! a float going into an int32 is rounded, a numeric string is parsed, an int64 that does not fit
//! an int32 is rejected. A key that is unknown, read-only, global-only or a function pointer cannot
//! be set on one connection, so the call that carried it fails, as in GNS.

use std::collections::BTreeMap;

use crate::config_table::CONFIG_SPECS;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ConfigKind {
    Int32 {
        default: i32,
        min: i32,
        max: i32,
    },
    Int64 {
        default: i64,
    },
    Float {
        default: f32,
        min: f32,
        max: f32,
    },
    Str,
    /// A callback pointer: meaningless from GDScript.
    FunctionPtr,
    /// Derived by the library; cannot be set.
    ReadOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigScope {
    Global,
    Connection,
}

#[derive(Debug, Clone, Copy)]
pub struct ConfigSpec {
    pub id: i32,
    pub name: &'static str,
    pub scope: ConfigScope,
    pub kind: ConfigKind,
}

pub fn spec(id: i32) -> Option<&'static ConfigSpec> {
    // The generated table is in id order (a test checks it): a lookup on every message for a
    // value left at its default costs a few comparisons, not a walk of 75 entries.
    CONFIG_SPECS.binary_search_by_key(&id, |s| s.id).ok().map(|i| &CONFIG_SPECS[i])
}

/// A value as it arrives from GDScript, before conversion to the value's declared type.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigInput {
    Int(i64),
    Float(f64),
    Str(String),
    /// Any other Variant type (GodotSteam would pass a meaningless pointer).
    Unsupported,
}

/// A value converted to its declared type and clamped.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    Int32(i32),
    Int64(i64),
    Float(f32),
    Str(String),
}

/// Why a config option was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Convert and clamp one input for the value `spec` describes.
pub fn convert(spec: &ConfigSpec, input: &ConfigInput) -> Result<ConfigValue, ConfigError> {
    let bad = |why: &str| Err(ConfigError(format!("{} ({}): {why}", spec.name, spec.id)));
    match spec.kind {
        ConfigKind::Int32 { min, max, .. } => {
            let wide: i64 = match input {
                ConfigInput::Int(v) => *v,
                ConfigInput::Float(v) if v.is_finite() => v.round() as i64,
                ConfigInput::Str(s) => match s.trim().parse::<i64>() {
                    Ok(v) => v,
                    Err(_) => return bad("not a number"),
                },
                _ => return bad("wrong type"),
            };
            let Ok(narrow) = i32::try_from(wide) else { return bad("does not fit int32") };
            Ok(ConfigValue::Int32(narrow.clamp(min, max)))
        }
        ConfigKind::Int64 { .. } => match input {
            ConfigInput::Int(v) => Ok(ConfigValue::Int64(*v)),
            ConfigInput::Float(v) if v.is_finite() => Ok(ConfigValue::Int64(v.round() as i64)),
            ConfigInput::Str(s) => s.trim().parse().map(ConfigValue::Int64).or_else(|_| bad("not a number")),
            _ => bad("wrong type"),
        },
        ConfigKind::Float { min, max, .. } => {
            let v = match input {
                ConfigInput::Int(v) => *v as f32,
                ConfigInput::Float(v) => *v as f32,
                ConfigInput::Str(s) => match s.trim().parse::<f32>() {
                    Ok(v) => v,
                    Err(_) => return bad("not a number"),
                },
                ConfigInput::Unsupported => return bad("wrong type"),
            };
            if v.is_nan() {
                return bad("not a number");
            }
            Ok(ConfigValue::Float(v.clamp(min, max)))
        }
        ConfigKind::Str => match input {
            ConfigInput::Str(s) => Ok(ConfigValue::Str(s.clone())),
            ConfigInput::Int(v) => Ok(ConfigValue::Str(v.to_string())),
            ConfigInput::Float(v) => Ok(ConfigValue::Str(v.to_string())),
            ConfigInput::Unsupported => bad("wrong type"),
        },
        ConfigKind::FunctionPtr => bad("callbacks cannot be set from GDScript; use the signals"),
        ConfigKind::ReadOnly => bad("read-only"),
    }
}

/// Configuration values by id; values not set fall back to the GNS defaults. Two uses: the
/// values of one connection or listen socket (given when it was created, plus connection-scope
/// global values set before), and the global values (`setGlobalConfigValue*`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionConfig {
    values: BTreeMap<i32, ConfigValue>,
    /// Values copied from the global config at creation rather than set on this object.
    inherited: std::collections::BTreeSet<i32>,
}

/// The global values: global-scope ones take effect at once, connection-scope ones become the
/// defaults of connections and listen sockets created afterwards (as in GNS).
pub type GlobalConfig = ConnectionConfig;

/// Global-scope values that steamnet also takes per connection or listen socket (an extension:
/// GNS has them global only): the fake network conditions, so one connection can be tested
/// under loss while another is not. For a listen socket they apply to all its connections.
pub fn is_per_connection_extension(id: i32) -> bool {
    matches!(id, 2..=8 | 26..=28 | 42..=45 | 53..=58)
}

/// Config value ids this crate reads.
pub mod ids {
    pub const SEND_BUFFER_SIZE: i32 = 9;
    pub const SEND_RATE_MIN: i32 = 10;
    pub const SEND_RATE_MAX: i32 = 11;
    pub const NAGLE_TIME: i32 = 12;
    pub const IP_ALLOW_WITHOUT_AUTH: i32 = 23;
    pub const TIMEOUT_INITIAL: i32 = 24;
    pub const TIMEOUT_CONNECTED: i32 = 25;
    pub const MTU_PACKET_SIZE: i32 = 32;
    pub const CONNECTION_USER_DATA: i32 = 40;
    pub const RECV_BUFFER_SIZE: i32 = 47;
    pub const RECV_BUFFER_MESSAGES: i32 = 48;
    pub const RECV_MAX_MESSAGE_SIZE: i32 = 49;
    pub const RECV_MAX_SEGMENTS_PER_PACKET: i32 = 50;
    pub const IP_LOCAL_HOST_ALLOW_WITHOUT_AUTH: i32 = 52;
    pub const SDR_CLIENT_DEV_TICKET: i32 = 30;
    pub const P2P_TRANSPORT_ICE_ENABLE: i32 = 104;
    pub const P2P_TRANSPORT_ICE_PENALTY: i32 = 105;
    pub const P2P_TRANSPORT_SDR_PENALTY: i32 = 106;
    pub const FAKE_PACKET_LOSS_SEND: i32 = 2;
    pub const FAKE_PACKET_LOSS_RECV: i32 = 3;
    pub const FAKE_PACKET_LAG_SEND: i32 = 4;
    pub const FAKE_PACKET_LAG_RECV: i32 = 5;
    pub const FAKE_PACKET_REORDER_SEND: i32 = 6;
    pub const FAKE_PACKET_REORDER_RECV: i32 = 7;
    pub const FAKE_PACKET_REORDER_TIME: i32 = 8;
    pub const FAKE_PACKET_DUP_SEND: i32 = 26;
    pub const FAKE_PACKET_DUP_RECV: i32 = 27;
    pub const FAKE_PACKET_DUP_TIME_MAX: i32 = 28;
    pub const FAKE_RATE_LIMIT_SEND_RATE: i32 = 42;
    pub const FAKE_RATE_LIMIT_SEND_BURST: i32 = 43;
    pub const FAKE_RATE_LIMIT_RECV_RATE: i32 = 44;
    pub const FAKE_RATE_LIMIT_RECV_BURST: i32 = 45;
    pub const FAKE_PACKET_JITTER_SEND_AVG: i32 = 53;
    pub const FAKE_PACKET_JITTER_SEND_MAX: i32 = 54;
    pub const FAKE_PACKET_JITTER_SEND_PCT: i32 = 55;
    pub const FAKE_PACKET_JITTER_RECV_AVG: i32 = 56;
    pub const FAKE_PACKET_JITTER_RECV_MAX: i32 = 57;
    pub const FAKE_PACKET_JITTER_RECV_PCT: i32 = 58;
    /// steamnet extension: repair packets per 16 data packets (forward error correction).
    pub const FEC_REPAIRS: i32 = 1001;
}

impl ConnectionConfig {
    /// Build from `(id, value)` options; the first option that cannot be applied is the error.
    pub fn from_options(options: &[(i64, ConfigInput)]) -> Result<Self, ConfigError> {
        let mut config = ConnectionConfig::default();
        for (id, input) in options {
            let spec = i32::try_from(*id)
                .ok()
                .and_then(spec)
                .ok_or_else(|| ConfigError(format!("unknown config value {id}")))?;
            if spec.scope != ConfigScope::Connection && !is_per_connection_extension(spec.id) {
                return Err(ConfigError(format!(
                    "{} ({}) is global; it cannot be set per connection",
                    spec.name, spec.id
                )));
            }
            config.values.insert(spec.id, convert(spec, input)?);
        }
        Ok(config)
    }

    /// Set one value from `setGlobalConfigValue*` / `setConnectionConfigValue*`; `global` says
    /// whether global-scope values are allowed. The value is converted and clamped as GNS does.
    pub fn set(&mut self, id: i32, input: &ConfigInput, global: bool) -> Result<(), ConfigError> {
        let spec = spec(id).ok_or_else(|| ConfigError(format!("unknown config value {id}")))?;
        if !global && spec.scope != ConfigScope::Connection && !is_per_connection_extension(id) {
            return Err(ConfigError(format!("{} ({}) is global; it cannot be set per connection", spec.name, id)));
        }
        let value = convert(spec, input)?;
        self.values.insert(id, value);
        self.inherited.remove(&id);
        Ok(())
    }

    /// These values, with the connection-scope values of `global` filling what is not set here.
    pub fn over(mut self, global: &GlobalConfig) -> ConnectionConfig {
        for (id, value) in &global.values {
            if spec(*id).is_some_and(|s| s.scope == ConfigScope::Connection) && !self.values.contains_key(id) {
                self.values.insert(*id, value.clone());
                self.inherited.insert(*id);
            }
        }
        self
    }

    /// Whether `id` was set on this object itself (not inherited from the global config).
    pub fn is_own(&self, id: i32) -> bool {
        self.values.contains_key(&id) && !self.inherited.contains(&id)
    }

    /// The value set here, if any.
    pub fn get(&self, id: i32) -> Option<&ConfigValue> {
        self.values.get(&id)
    }

    /// The value in force for `id`: set here, else set globally, else GNS's default.
    pub fn effective_f32(&self, global: &GlobalConfig, id: i32) -> f32 {
        if self.is_set(id) { self.float(id) } else { global.float(id) }
    }

    pub fn effective_i32(&self, global: &GlobalConfig, id: i32) -> i32 {
        if self.is_set(id) { self.int32(id) } else { global.int32(id) }
    }

    pub fn float(&self, id: i32) -> f32 {
        match self.values.get(&id) {
            Some(ConfigValue::Float(v)) => *v,
            _ => match spec(id).map(|s| s.kind) {
                Some(ConfigKind::Float { default, .. }) => default,
                _ => 0.0,
            },
        }
    }

    pub fn int32(&self, id: i32) -> i32 {
        match self.values.get(&id) {
            Some(ConfigValue::Int32(v)) => *v,
            _ => match spec(id).map(|s| s.kind) {
                Some(ConfigKind::Int32 { default, .. }) => default,
                _ => 0,
            },
        }
    }

    pub fn int64(&self, id: i32) -> i64 {
        match self.values.get(&id) {
            Some(ConfigValue::Int64(v)) => *v,
            _ => match spec(id).map(|s| s.kind) {
                Some(ConfigKind::Int64 { default }) => default,
                _ => 0,
            },
        }
    }

    /// A string value ("" when unset: every string setting defaults to empty).
    pub fn string(&self, id: i32) -> &str {
        match self.values.get(&id) {
            Some(ConfigValue::Str(v)) => v,
            _ => "",
        }
    }

    pub fn is_set(&self, id: i32) -> bool {
        self.values.contains_key(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_has_a_unique_id_in_order() {
        // In strictly increasing order: unique, and what `spec`'s binary search needs.
        assert!(CONFIG_SPECS.windows(2).all(|pair| pair[0].id < pair[1].id));
        assert!(CONFIG_SPECS.iter().all(|s| spec(s.id).is_some_and(|found| found.id == s.id)));
        assert!(spec(-5).is_none() && spec(35).is_none() && spec(1_000_000).is_none());
    }

    #[test]
    fn ints_are_clamped_and_converted() {
        let c = ConnectionConfig::from_options(&[
            (ids::SEND_BUFFER_SIZE as i64, ConfigInput::Int(1)),
            (ids::RECV_BUFFER_MESSAGES as i64, ConfigInput::Float(9.6)),
            (ids::RECV_MAX_MESSAGE_SIZE as i64, ConfigInput::Str(" 1000 ".into())),
        ])
        .unwrap();
        assert_eq!(c.int32(ids::SEND_BUFFER_SIZE), 4096, "clamped to GNS minimum");
        assert_eq!(c.int32(ids::RECV_BUFFER_MESSAGES), 10, "float rounded");
        assert_eq!(c.int32(ids::RECV_MAX_MESSAGE_SIZE), 1000, "numeric string parsed");
        assert_eq!(c.int32(ids::SEND_RATE_MAX), 262144, "default when unset");
        assert_eq!(c.int64(ids::CONNECTION_USER_DATA), -1);
    }

    #[test]
    fn fake_network_values_may_be_set_per_connection() {
        let c = ConnectionConfig::from_options(&[(2, ConfigInput::Float(150.0)), (4, ConfigInput::Int(30))]).unwrap();
        assert_eq!(c.float(2), 100.0, "loss clamped to 100%");
        assert_eq!(c.int32(4), 30);
    }

    #[test]
    fn globals_fill_in_and_own_values_win() {
        let mut global = GlobalConfig::default();
        global.set(ids::SEND_RATE_MAX, &ConfigInput::Int(1_000_000), true).unwrap();
        global.set(2, &ConfigInput::Float(10.0), true).unwrap();
        assert!(global.set(33, &ConfigInput::Int(1), true).is_err(), "read-only");
        assert!(global.set(12345, &ConfigInput::Int(1), true).is_err(), "unknown");
        let own = ConnectionConfig::from_options(&[(ids::NAGLE_TIME as i64, ConfigInput::Int(0))]).unwrap();
        let c = own.over(&global);
        assert_eq!(c.int32(ids::SEND_RATE_MAX), 1_000_000, "connection-scope global becomes the default");
        assert_eq!(c.int32(ids::NAGLE_TIME), 0);
        assert!(!c.is_set(2), "global-scope values stay global (they apply live)");
        assert_eq!(c.effective_f32(&global, 2), 10.0);
        let mut per_conn = c.clone();
        per_conn.set(2, &ConfigInput::Float(1.0), false).unwrap();
        assert_eq!(per_conn.effective_f32(&global, 2), 1.0, "own value wins");
        assert!(per_conn.set(18, &ConfigInput::Int(1), false).is_err(), "global-only per connection");
    }

    #[test]
    fn user_data_is_int64() {
        let c =
            ConnectionConfig::from_options(&[(ids::CONNECTION_USER_DATA as i64, ConfigInput::Int(1 << 40))]).unwrap();
        assert_eq!(c.int64(ids::CONNECTION_USER_DATA), 1 << 40);
    }

    #[test]
    fn refuses_what_gns_refuses() {
        let refused = |id: i64, v: ConfigInput| ConnectionConfig::from_options(&[(id, v)]).is_err();
        assert!(refused(ids::SEND_BUFFER_SIZE as i64, ConfigInput::Int(1 << 40)), "int64 into int32");
        assert!(refused(ids::SEND_BUFFER_SIZE as i64, ConfigInput::Str("lots".into())));
        assert!(refused(ids::SEND_BUFFER_SIZE as i64, ConfigInput::Unsupported));
        assert!(refused(12345, ConfigInput::Int(1)), "unknown id");
        assert!(refused(-1, ConfigInput::Int(1)));
        assert!(refused(1 << 40, ConfigInput::Int(1)));
        assert!(refused(18, ConfigInput::Int(5)), "global-only value (LOG_LEVEL_SRD_RELAY_PINGS)");
        assert!(refused(33, ConfigInput::Int(1000)), "read-only MTU_DATA_SIZE");
        assert!(refused(201, ConfigInput::Int(1)), "callback pointer");
        assert!(ConnectionConfig::from_options(&[]).is_ok());
    }
}
