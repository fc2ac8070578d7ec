//! Who this installation is, and whom it trusts: the identity key kept on disk, the app id,
//! the CA keys certificates must be signed by, and where the CA is. The Sockets methods that
//! use these (`initAuthentication` and friends) are in `sockets/auth.rs`.
//!
//! Where things are found, first match wins:
//! - CA (relay) address: `STEAMNET_RELAY`, the `relay` setting (project setting
//!   `steamnet/relay/address`), else `127.0.0.1:27190`. A CA address on this machine is hosted
//!   in-process by the first process that needs it and finds the port free.
//! - Trusted CA keys: `STEAMNET_TRUSTED_CA_KEYS` (hex, comma-separated), the setting
//!   (`steamnet/auth/trusted_ca_keys`), else this machine's local CA key.
//! - Identity keys: `STEAMNET_IDENTITY_DIR`, the setting (the Godot layer passes
//!   `user://steamnet/identity`), else `<data dir>/identity`.
//! - Data dir (the local CA's key and registry, shared by every process of the user):
//!   `$XDG_DATA_HOME/steamnet`, `$HOME/.local/share/steamnet`, else the temp dir.

use std::fs::File;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use steamnet_proto::cert::{PublicKey, key_from_hex, to_hex};
use steamnet_relay::keyfile;

/// App id when none is configured: Spacewar, the id GodotSteam's examples use.
pub const DEFAULT_APP_ID: u32 = 480;
/// Identity slots per identity dir: how many processes of one project on one machine can each
/// have an identity of their own at once.
const MAX_SLOTS: usize = 64;

/// What the game configures (the Godot layer reads project settings into this).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthSettings {
    /// App id certificates are issued for and checked against; `None`: `SteamAppId` from the
    /// environment (as Steam sets it), else [`DEFAULT_APP_ID`].
    pub app_id: Option<u32>,
    /// `host:port` of the CA.
    pub relay: Option<String>,
    /// Hex public keys of trusted CAs.
    pub trusted_ca_keys: Vec<String>,
    pub identity_dir: Option<PathBuf>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

impl AuthSettings {
    pub fn app_id(&self) -> u32 {
        self.app_id.or_else(|| env("SteamAppId")?.parse().ok()).unwrap_or(DEFAULT_APP_ID)
    }

    /// The CA's address (the first relay listed), or why it cannot be used.
    pub fn relay_address(&self) -> Result<SocketAddr, String> {
        Ok(self.relay_addresses()?[0])
    }

    /// Every relay point of presence configured: a comma-separated list of `host:port`s (one
    /// is the usual case; the relay link pings them all and uses the fastest). Never empty.
    pub fn relay_addresses(&self) -> Result<Vec<SocketAddr>, String> {
        let (text, from) = match (env("STEAMNET_RELAY"), self.relay.as_deref().map(str::trim).filter(|r| !r.is_empty()))
        {
            (Some(text), _) => (text, "STEAMNET_RELAY"),
            (None, Some(text)) => (text.to_string(), "steamnet/relay/address"),
            (None, None) => return Ok(vec![SocketAddr::from(([127, 0, 0, 1], steamnet_relay::DEFAULT_PORT))]),
        };
        text.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut addrs| addrs.next())
                    .ok_or_else(|| format!("{from} is '{text}': '{entry}' is not a host:port this machine can resolve"))
            })
            .collect::<Result<Vec<_>, _>>()
            .and_then(
                |list| {
                    if list.is_empty() { Err(format!("{from} is '{text}', which names no relay")) } else { Ok(list) }
                },
            )
    }

    /// The CA keys certificates must be signed by, and any entries that were not keys. With
    /// none configured, the local CA's key: made now if `create_local`, else only if it exists
    /// (so merely opening a socket writes nothing to disk).
    pub fn trusted_cas(&self, create_local: bool) -> (Vec<PublicKey>, Vec<String>) {
        let listed: Vec<String> = match env("STEAMNET_TRUSTED_CA_KEYS") {
            Some(text) => text.split([',', ' ', ';']).filter(|s| !s.is_empty()).map(str::to_string).collect(),
            None => self.trusted_ca_keys.clone(),
        };
        if listed.is_empty() {
            if !create_local && !local_ca_key_path().exists() {
                return (Vec::new(), Vec::new());
            }
            return match local_ca_secret() {
                Ok(secret) => (vec![steamnet_proto::cert::Authority::from_secret(&secret).public_key()], Vec::new()),
                Err(why) => (Vec::new(), vec![why]),
            };
        }
        let mut bad = Vec::new();
        let keys = listed
            .iter()
            .filter_map(|k| {
                let key = key_from_hex(k);
                if key.is_none() {
                    bad.push(format!("'{k}' is not a 64-digit hex CA key"));
                }
                key
            })
            .collect();
        (keys, bad)
    }

    pub fn identity_base(&self) -> PathBuf {
        env("STEAMNET_IDENTITY_DIR")
            .map(PathBuf::from)
            .or_else(|| self.identity_dir.clone())
            .unwrap_or_else(|| data_dir().join("identity"))
    }
}

/// Where this user's steamnet data lives (the local CA).
pub fn data_dir() -> PathBuf {
    if let Some(dir) = env("XDG_DATA_HOME") {
        return PathBuf::from(dir).join("steamnet");
    }
    if let Some(home) = env("HOME").or_else(|| env("USERPROFILE")) {
        return PathBuf::from(home).join(".local/share/steamnet");
    }
    std::env::temp_dir().join("steamnet")
}

fn local_ca_key_path() -> PathBuf {
    data_dir().join("local-ca.key")
}

/// The local CA's secret key, created on first use by whichever process gets there first.
pub fn local_ca_secret() -> Result<[u8; 32], String> {
    let path = local_ca_key_path();
    keyfile::load_or_create_secret(&path, || steamnet_proto::cert::Authority::generate().secret())
        .map_err(|e| format!("local CA key {}: {e}", path.display()))
}

/// The CA a process hosts for this machine when the CA address is local.
pub fn local_ca_service() -> Result<steamnet_relay::authority::CaService, String> {
    let secret = local_ca_secret()?;
    let registry_path = data_dir().join("local-ca.ids");
    let registry = steamnet_relay::authority::Registry::open(registry_path.clone())
        .map_err(|e| format!("local CA registry {}: {e}", registry_path.display()))?;
    Ok(steamnet_relay::authority::CaService::new(steamnet_proto::cert::Authority::from_secret(&secret), registry))
}

/// One identity: a Noise static key pair in `slot-N/` of the identity dir, held for this
/// process by an exclusive lock on `slot-N.lock`. A second process of the same project finds
/// slot 0 locked and takes slot 1, so each has its own identity, and each keeps it across runs.
#[derive(Debug)]
pub struct IdentitySlot {
    pub dir: PathBuf,
    /// Held for the process's lifetime; the OS releases it when the process ends.
    _lock: File,
    pub private: Vec<u8>,
    pub public: PublicKey,
}

impl IdentitySlot {
    pub fn claim(base: &Path) -> Result<IdentitySlot, String> {
        std::fs::create_dir_all(base).map_err(|e| format!("identity dir {}: {e}", base.display()))?;
        for n in 0..MAX_SLOTS {
            let lock_path = base.join(format!("slot-{n}.lock"));
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .map_err(|e| format!("identity lock {}: {e}", lock_path.display()))?;
            if lock.try_lock().is_err() {
                continue;
            }
            let dir = base.join(format!("slot-{n}"));
            let key_path = dir.join("identity.key");
            let lines = keyfile::load_or_create(&key_path, || {
                let (private, public) = steamnet_proto::endpoint::generate_static_keypair();
                vec![private, public]
            })
            .map_err(|e| format!("identity key {}: {e}", key_path.display()))?;
            let (Some(private), Some(public)) =
                (lines.first(), lines.get(1).and_then(|p| PublicKey::try_from(p.as_slice()).ok()))
            else {
                return Err(format!("identity key {} is damaged; delete it for a new identity", key_path.display()));
            };
            return Ok(IdentitySlot { dir, _lock: lock, private: private.clone(), public });
        }
        Err(format!("all {MAX_SLOTS} identity slots in {} are in use by other processes", base.display()))
    }

    fn certificate_path(&self) -> PathBuf {
        self.dir.join("certificate")
    }

    /// The certificate saved by an earlier run, if any.
    pub fn saved_certificate(&self) -> Option<Vec<u8>> {
        std::fs::read(self.certificate_path()).ok()
    }

    pub fn save_certificate(&self, certificate: &[u8]) {
        if let Err(error) = std::fs::write(self.certificate_path(), certificate) {
            tracing::warn!(%error, dir = %self.dir.display(), "cannot save the certificate; the next run asks the CA again");
        }
    }

    pub fn forget_certificate(&self) {
        let _ = std::fs::remove_file(self.certificate_path());
    }

    pub fn describe(&self) -> String {
        format!("{} (key {}…)", self.dir.display(), &to_hex(&self.public)[..12])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_claims_get_two_identities_and_a_released_slot_its_key_again() {
        let base = std::env::temp_dir().join(format!("steamnet-slots-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let first = IdentitySlot::claim(&base).unwrap();
        let second = IdentitySlot::claim(&base).unwrap();
        assert_ne!(first.public, second.public, "two holders, two identities");
        assert_ne!(first.dir, second.dir);
        let key = first.public;
        drop(first);
        let again = IdentitySlot::claim(&base).unwrap();
        assert_eq!(again.public, key, "slot 0 is free again and keeps its key");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn settings_parse_and_explain() {
        let settings = AuthSettings {
            relay: Some("localhost:4000".into()),
            trusted_ca_keys: vec!["ab".repeat(32), "nope".into()],
            app_id: Some(7),
            ..Default::default()
        };
        if std::env::var_os("STEAMNET_RELAY").is_none() {
            assert_eq!(settings.relay_address().unwrap().port(), 4000);
            let bad = AuthSettings { relay: Some("no port".into()), ..Default::default() };
            assert!(bad.relay_address().unwrap_err().contains("steamnet/relay/address"));
            let two = AuthSettings { relay: Some("127.0.0.1:1, 127.0.0.1:2".into()), ..Default::default() };
            assert_eq!(two.relay_addresses().unwrap().len(), 2);
            assert_eq!(two.relay_address().unwrap().port(), 1, "the CA is the first listed");
        }
        if std::env::var_os("STEAMNET_TRUSTED_CA_KEYS").is_none() {
            let (keys, bad) = settings.trusted_cas(false);
            assert_eq!((keys, bad.len()), (vec![[0xab; 32]], 1));
        }
        assert_eq!(settings.app_id(), 7);
    }
}
