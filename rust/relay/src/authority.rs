//! The certificate authority's decisions, free of I/O but the registry file: which identity a
//! key gets, and which requests get a certificate.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use steamnet_proto::cert::{Authority, CertRequest, Certificate, PublicKey, key_from_hex, to_hex};

/// How long certificates last unless configured (Steam's are valid for days too).
pub const DEFAULT_LIFETIME_SECS: u64 = 7 * 24 * 3600;
/// Identities tried for one key before giving up (each further try is a fresh 32-bit draw).
const MAX_ATTEMPTS: u32 = 16;

/// Identities handed out so far: the same key always gets the same identity, and two keys
/// never share one, even across restarts when a registry file is kept.
#[derive(Default)]
pub struct Registry {
    by_identity: HashMap<u64, PublicKey>,
    file: Option<PathBuf>,
}

impl Registry {
    /// A registry kept in `file` (lines `identity key-hex`), read now if it exists.
    pub fn open(file: PathBuf) -> std::io::Result<Registry> {
        let mut by_identity = HashMap::new();
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                for line in text.lines() {
                    let mut parts = line.split_whitespace();
                    if let (Some(Ok(id)), Some(Some(key))) =
                        (parts.next().map(str::parse::<u64>), parts.next().map(key_from_hex))
                    {
                        by_identity.insert(id, key);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(Registry { by_identity, file: Some(file) })
    }

    pub fn len(&self) -> usize {
        self.by_identity.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_identity.is_empty()
    }

    /// The identity of `key`: its first derived identity not taken by another key.
    pub fn identity(&mut self, ca: &Authority, key: &PublicKey) -> Result<u64, String> {
        for attempt in 0..MAX_ATTEMPTS {
            let id = ca.identity_for(key, attempt);
            match self.by_identity.get(&id) {
                Some(owner) if owner == key => return Ok(id),
                Some(_) => continue,
                None => {
                    self.record(id, key)?;
                    return Ok(id);
                }
            }
        }
        Err("no free identity for this key".into())
    }

    fn record(&mut self, id: u64, key: &PublicKey) -> Result<(), String> {
        if let Some(path) = &self.file {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("registry {}: {e}", path.display()))?;
            writeln!(file, "{id} {}", to_hex(key)).map_err(|e| format!("registry {}: {e}", path.display()))?;
        }
        self.by_identity.insert(id, *key);
        Ok(())
    }
}

/// A CA: its key, its registry, and what it signs.
pub struct CaService {
    pub authority: Authority,
    pub registry: Registry,
    pub lifetime_secs: u64,
    /// App ids it issues certificates for; empty means any.
    pub app_ids: Vec<u32>,
}

impl CaService {
    pub fn new(authority: Authority, registry: Registry) -> CaService {
        CaService { authority, registry, lifetime_secs: DEFAULT_LIFETIME_SECS, app_ids: Vec::new() }
    }

    /// A certificate for `key` in app `app_id`, or why not.
    pub fn issue(&mut self, key: &PublicKey, app_id: u32, unix_now: u64) -> Result<Certificate, String> {
        if !self.app_ids.is_empty() && !self.app_ids.contains(&app_id) {
            return Err(format!("this CA does not issue certificates for app {app_id}"));
        }
        let identity = self.registry.identity(&self.authority, key)?;
        Ok(self.authority.issue(identity, app_id, *key, unix_now, self.lifetime_secs))
    }

    /// The offline flow: sign an encoded [`CertRequest`] (from `getCertificateRequest`).
    pub fn sign_request(&mut self, request: &[u8], unix_now: u64) -> Result<Certificate, String> {
        let request = CertRequest::decode(request)?;
        self.issue(&request.key, request.app_id, unix_now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_stable_distinct_and_survive_a_restart() {
        let path = std::env::temp_dir().join(format!("steamnet-registry-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let ca = Authority::generate();
        let mut service = CaService::new(Authority::from_secret(&ca.secret()), Registry::open(path.clone()).unwrap());
        let a = service.issue(&[1; 32], 480, 1000).unwrap();
        let b = service.issue(&[2; 32], 480, 1000).unwrap();
        assert_ne!(a.identity, b.identity);
        assert_eq!(service.issue(&[1; 32], 480, 2000).unwrap().identity, a.identity);
        // A collision: another key already holds the first identity `[3; 32]` would get.
        let taken = ca.identity_for(&[3; 32], 0);
        let mut registry = Registry::open(path.clone()).unwrap();
        registry.by_identity.insert(taken, [9; 32]);
        let second = registry.identity(&ca, &[3; 32]).unwrap();
        assert_ne!(second, taken);
        assert_eq!(second, ca.identity_for(&[3; 32], 1));
        // After a restart, the file gives the same answers.
        let mut again = Registry::open(path.clone()).unwrap();
        assert_eq!(again.len(), 3);
        assert_eq!(again.identity(&ca, &[2; 32]).unwrap(), b.identity);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn app_restriction_and_offline_requests() {
        let mut service = CaService::new(Authority::generate(), Registry::default());
        service.app_ids = vec![480];
        assert!(service.issue(&[1; 32], 730, 0).unwrap_err().contains("app 730"));
        let request = CertRequest { app_id: 480, key: [4; 32] }.encode();
        let cert = service.sign_request(&request, 0).unwrap();
        assert_eq!((cert.key, cert.app_id), ([4; 32], 480));
        assert!(service.sign_request(b"garbage", 0).is_err());
    }
}
