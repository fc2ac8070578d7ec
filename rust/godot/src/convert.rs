//! Variant conversions, following GodotSteam's rules (see ../shared/api/README.md).

use godot::prelude::*;
use steamnet_net::{ConfigInput, ConnectionInfo, Handle, INVALID_HANDLE};

/// GDScript ints are 64-bit; handles are uint32. Anything outside that range is no handle at all.
pub fn handle(value: i64) -> Handle {
    Handle::try_from(value).unwrap_or(INVALID_HANDLE)
}

/// Steam IDs travel as the bits of a uint64 in an int.
pub fn steam_id(value: i64) -> u64 {
    value as u64
}

pub fn steam_id_to_int(value: u64) -> i64 {
    value as i64
}

pub fn put(dict: &mut VarDictionary, key: &str, value: impl ToGodot) {
    dict.set(&key.to_variant(), &value.to_variant());
}

/// The `config_options` Dictionary as `(NetworkingConfigValue, value)` pairs. A key that is not
/// an int becomes id -1, which the sockets layer refuses like any other unknown value.
pub fn config_options(options: &VarDictionary) -> Vec<(i64, ConfigInput)> {
    options
        .iter_shared()
        .map(|(key, value)| {
            let id = strict_int(&key).unwrap_or(-1);
            let input = match value.get_type() {
                VariantType::INT => ConfigInput::Int(value.to::<i64>()),
                VariantType::BOOL => ConfigInput::Int(value.to::<bool>() as i64),
                VariantType::FLOAT => ConfigInput::Float(value.to::<f64>()),
                VariantType::STRING | VariantType::STRING_NAME => ConfigInput::Str(value.to::<GString>().to_string()),
                _ => ConfigInput::Unsupported,
            };
            (id, input)
        })
        .collect()
}

/// An Array of ints (priorities, weights) as i64s; `None` if any element is not an int.
pub fn int_array(array: &VarArray) -> Option<Vec<i64>> {
    array.iter_shared().map(|v| strict_int(&v)).collect()
}

/// An int Variant's value; `None` for every other type (no String or float coercion).
pub fn strict_int(value: &Variant) -> Option<i64> {
    (value.get_type() == VariantType::INT).then(|| value.to::<i64>())
}

/// The connection Dictionary of `network_connection_status_changed`: `getConnectionInfo`'s keys
/// except `info_flags`.
pub fn connection_info_for_signal(info: &ConnectionInfo) -> VarDictionary {
    let mut d = VarDictionary::new();
    put(&mut d, "identity", steam_id_to_int(info.identity));
    put(&mut d, "user_data", info.user_data);
    put(&mut d, "listen_socket", info.listen_socket as i64);
    put(&mut d, "remote_address", GString::from(info.remote_address.as_str()));
    put(&mut d, "remote_pop", info.remote_pop as i64);
    put(&mut d, "pop_relay", info.pop_relay as i64);
    put(&mut d, "connection_state", info.state.code() as i64);
    put(&mut d, "end_reason", info.end_reason as i64);
    put(&mut d, "end_debug", GString::from(info.end_debug.as_str()));
    put(&mut d, "debug_description", GString::from(info.debug_description.as_str()));
    d
}

pub fn connection_info(info: &ConnectionInfo) -> VarDictionary {
    let mut d = connection_info_for_signal(info);
    put(&mut d, "info_flags", info.info_flags as i64);
    d
}

/// One item of `sendMessages`, read.
pub struct OutgoingMessage {
    pub payload: PackedByteArray,
    pub connection: Handle,
    pub lane: i64,
    pub flags: i32,
}

/// A `sendMessages` item: a `PackedByteArray` (sent with the call's connection and flags on
/// lane 0), or a Dictionary `{payload, lane, flags, connection}` whose missing keys take those
/// defaults. `None` for anything else, or a key of the wrong type (never coerced).
pub fn outgoing_message(item: &Variant, connection: i64, flags: i64) -> Option<OutgoingMessage> {
    let flags32 = |v: i64| i32::try_from(v).ok();
    match item.get_type() {
        VariantType::PACKED_BYTE_ARRAY => Some(OutgoingMessage {
            payload: item.to::<PackedByteArray>(),
            connection: handle(connection),
            lane: 0,
            flags: flags32(flags).unwrap_or(0),
        }),
        VariantType::DICTIONARY => {
            let d = item.to::<VarDictionary>();
            let payload = d.get("payload")?;
            if payload.get_type() != VariantType::PACKED_BYTE_ARRAY {
                return None;
            }
            let int_or = |key: &str, default: i64| match d.get(key) {
                None => Some(default),
                Some(v) => strict_int(&v),
            };
            Some(OutgoingMessage {
                payload: payload.to::<PackedByteArray>(),
                connection: handle(int_or("connection", connection)?),
                lane: int_or("lane", 0)?,
                flags: flags32(int_or("flags", flags)?)?,
            })
        }
        _ => None,
    }
}
