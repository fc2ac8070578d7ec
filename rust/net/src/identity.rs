//! `SteamNetworkingIdentity`, reduced to what this API can express from GDScript.

use std::net::SocketAddr;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Identity {
    /// No identity known (GNS's `k_ESteamNetworkingIdentityType_Invalid`).
    #[default]
    Invalid,
    /// A 64-bit Steam ID, the identity GDScript code passes around.
    SteamId(u64),
    /// An IP address identity, what plain UDP peers without certificates have.
    Ip(SocketAddr),
    /// GNS's generic "localhost" identity, used by socket pairs given no identity.
    LocalHost,
}

impl Identity {
    /// GodotSteam turns an int into an identity with `SetSteamID64`; 0 means "none given".
    pub fn from_steam_id(id: u64) -> Identity {
        if id == 0 { Identity::Invalid } else { Identity::SteamId(id) }
    }

    /// What GodotSteam reports: `GetSteamID64()`, which is 0 for every non-SteamID identity.
    pub fn steam_id64(&self) -> u64 {
        match self {
            Identity::SteamId(id) => *id,
            _ => 0,
        }
    }

    pub fn is_valid(&self) -> bool {
        !matches!(self, Identity::Invalid)
    }

    /// The text form GNS uses in descriptions (`steamid:…`, `ip:…`, `str:localhost`).
    pub fn describe(&self) -> String {
        match self {
            Identity::Invalid => "invalid".into(),
            Identity::SteamId(id) => format!("steamid:{id}"),
            Identity::Ip(addr) => format!("ip:{addr}"),
            Identity::LocalHost => "str:localhost".into(),
        }
    }
}
