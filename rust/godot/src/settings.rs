//! Project settings that configure steamnet, read into `steamnet-net`'s settings once the main
//! loop starts (environment variables still override them there).
//!
//! | setting | meaning |
//! |---|---|
//! | `steamnet/auth/app_id` | app id certificates are for (default: `SteamAppId`, else 480) |
//! | `steamnet/auth/trusted_ca_keys` | hex public keys of trusted CAs (default: this machine's local CA) |
//! | `steamnet/relay/address` | `host:port` of the CA/relay (default `127.0.0.1:27190`, hosted in-process); several POPs comma-separated, the fastest is used (the first is the CA) |

use godot::classes::ProjectSettings;
use godot::prelude::*;
use steamnet_net::auth::AuthSettings;

pub const APP_ID: &str = "steamnet/auth/app_id";
pub const TRUSTED_CA_KEYS: &str = "steamnet/auth/trusted_ca_keys";
pub const RELAY_ADDRESS: &str = "steamnet/relay/address";
/// Identity keys live in the project's user data folder unless `STEAMNET_IDENTITY_DIR` says.
const IDENTITY_DIR: &str = "user://steamnet/identity";

pub fn auth_settings() -> AuthSettings {
    let settings = ProjectSettings::singleton();
    let get = |name: &str| settings.get_setting(name);
    let app_id = get(APP_ID).try_to::<i64>().ok().and_then(|id| u32::try_from(id).ok()).filter(|&id| id != 0);
    let relay = get(RELAY_ADDRESS).try_to::<GString>().ok().map(|s| s.to_string()).filter(|s| !s.trim().is_empty());
    let keys = get(TRUSTED_CA_KEYS);
    let trusted_ca_keys = if let Ok(list) = keys.try_to::<PackedStringArray>() {
        list.as_slice().iter().map(|s| s.to_string()).collect()
    } else if let Ok(text) = keys.try_to::<GString>() {
        text.to_string().split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_string).collect()
    } else {
        Vec::new()
    };
    let identity_dir = Some(settings.globalize_path(IDENTITY_DIR).to_string().into());
    AuthSettings { app_id, relay, trusted_ca_keys, identity_dir }
}
