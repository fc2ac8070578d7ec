//! `ESteamNetConnectionEnd`: why a connection ended, numbered as GNS numbers it. The one home
//! for every reason steamnet assigns, from the protocol core (which carries them on the wire as
//! `u32`) up to the sockets interface (which reports them to the game as `int`).

/// No reason (a connection that has not ended).
pub const INVALID: u32 = 0;
/// `k_ESteamNetConnectionEnd_App_Min` ..= `App_Max`: the application's own reasons.
pub const APP_MIN: u32 = 1000;
/// `k_ESteamNetConnectionEnd_App_Generic`: the reason a close gives when none is said.
pub const APP_GENERIC: u32 = 1000;
pub const APP_MAX: u32 = 1999;
/// `k_ESteamNetConnectionEnd_AppException_Min` ..= `AppException_Max`: unusual closes.
pub const APP_EXCEPTION_MIN: u32 = 2000;
pub const APP_EXCEPTION_MAX: u32 = 2999;
/// `k_ESteamNetConnectionEnd_Local_Rights`: the relay refused us (a hosted server call
/// without a ticket).
pub const LOCAL_RIGHTS: u32 = 3005;
/// `k_ESteamNetConnectionEnd_Remote_BadCrypt`: the peer's handshake data could not be decoded.
pub const REMOTE_BAD_CRYPT: u32 = 4002;
/// `k_ESteamNetConnectionEnd_Remote_BadCert`: the peer's certificate is missing where one is
/// required, or is not valid (also a relay ticket that is forged, expired or someone else's).
pub const REMOTE_BAD_CERT: u32 = 4003;
/// `k_ESteamNetConnectionEnd_Misc_Generic`.
pub const MISC_GENERIC: u32 = 5001;
/// `k_ESteamNetConnectionEnd_Misc_Timeout`.
pub const MISC_TIMEOUT: u32 = 5003;
/// `k_ESteamNetConnectionEnd_Misc_SteamConnectivity`: trouble talking to the relay (our Steam).
pub const MISC_RELAY_CONNECTIVITY: u32 = 5005;
/// `k_ESteamNetConnectionEnd_Misc_P2P_Rendezvous`: the peer could not be reached.
pub const MISC_P2P_RENDEZVOUS: u32 = 5008;
