//! The numeric vocabulary of the API (Steam's EResult, connection states and end reasons, send
//! flags), as the values GDScript sees. Only what this crate produces or inspects is named here;
//! the full list of constants lives in the Godot binding, generated from the API contract.

/// Steam's `EResult`, restricted to the codes the sockets interface returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum SteamResult {
    Ok = 1,
    Fail = 2,
    NoConnection = 3,
    InvalidParam = 8,
    Busy = 10,
    InvalidState = 11,
    LimitExceeded = 25,
    IpNotFound = 31,
    Ignored = 41,
    NoMatch = 42,
}

impl SteamResult {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// `ESteamNetworkingConnectionState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum ConnectionState {
    Dead = -3,
    Linger = -2,
    FinWait = -1,
    None = 0,
    Connecting = 1,
    FindingRoute = 2,
    Connected = 3,
    ClosedByPeer = 4,
    ProblemDetectedLocally = 5,
}

impl ConnectionState {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn name(self) -> &'static str {
        match self {
            ConnectionState::Dead => "dead",
            ConnectionState::Linger => "linger",
            ConnectionState::FinWait => "fin-wait",
            ConnectionState::None => "none",
            ConnectionState::Connecting => "connecting",
            ConnectionState::FindingRoute => "finding route",
            ConnectionState::Connected => "connected",
            ConnectionState::ClosedByPeer => "closed by peer",
            ConnectionState::ProblemDetectedLocally => "problem detected locally",
        }
    }
}

/// `ESteamNetConnectionEnd` values this crate assigns, as the `int`s the game sees. The numbers
/// live in [`steamnet_proto::end_reason`].
pub mod end_reason {
    use steamnet_proto::end_reason as wire;

    pub const INVALID: i32 = wire::INVALID as i32;
    pub const APP_MIN: i32 = wire::APP_MIN as i32;
    pub const APP_GENERIC: i32 = wire::APP_GENERIC as i32;
    pub const APP_MAX: i32 = wire::APP_MAX as i32;
    pub const APP_EXCEPTION_MIN: i32 = wire::APP_EXCEPTION_MIN as i32;
    pub const APP_EXCEPTION_MAX: i32 = wire::APP_EXCEPTION_MAX as i32;
    pub const LOCAL_RIGHTS: i32 = wire::LOCAL_RIGHTS as i32;
    pub const REMOTE_BAD_CERT: i32 = wire::REMOTE_BAD_CERT as i32;
    pub const MISC_GENERIC: i32 = wire::MISC_GENERIC as i32;
    pub const MISC_TIMEOUT: i32 = wire::MISC_TIMEOUT as i32;
    pub const MISC_RELAY_CONNECTIVITY: i32 = wire::MISC_RELAY_CONNECTIVITY as i32;
    pub const MISC_P2P_RENDEZVOUS: i32 = wire::MISC_P2P_RENDEZVOUS as i32;
}

/// `k_nSteamNetworkingSend_*` bits, as the protocol core defines them.
pub use steamnet_proto::session::flags as send_flags;

/// `k_nSteamNetworkConnectionInfoFlags_*` bits.
pub mod info_flags {
    pub const UNAUTHENTICATED: i32 = 1;
    pub const UNENCRYPTED: i32 = 2;
    pub const LOOPBACK_BUFFERS: i32 = 4;
    pub const FAST: i32 = 8;
}

/// `ESteamNetworkingAvailability` values this crate reports.
pub mod availability {
    pub const CANNOT_TRY: i32 = -102;
    pub const FAILED: i32 = -101;
    pub const PREVIOUSLY: i32 = -100;
    pub const RETRYING: i32 = -10;
    pub const NEVER_TRIED: i32 = 1;
    pub const WAITING: i32 = 2;
    pub const ATTEMPTING: i32 = 3;
    pub const CURRENT: i32 = 100;
}

/// The largest message GNS accepts for sending (`k_cbMaxSteamNetworkingSocketsMessageSizeSend`).
pub const MAX_MESSAGE_SIZE_SEND: usize = 512 * 1024;

/// Handles are uint32 on the API; 0 is always invalid.
pub type Handle = u32;
pub const INVALID_HANDLE: Handle = 0;
