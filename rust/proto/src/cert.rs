//! Certificates: what a certificate authority (CA) vouches for about the other end of a connection.
//!
//! A certificate binds a 64-bit Steam-style identity and an app id to a Noise static public key
//! until an expiry time, signed by a CA's Ed25519 key. In the handshake each side sends its
//! certificate inside the encrypted Noise payload; the receiver checks the signature against
//! the CA keys it trusts, the expiry, the app id, and that the certified key is the static key
//! the Noise handshake just proved the peer holds. A stolen certificate is therefore useless
//! without its private key, and a peer without a certificate is anonymous (identity 0).
//!
//! Encoding (all integers big-endian), 160 bytes:
//!
//! ```text
//! "SNC1" | identity u64 | app_id u32 | key [32] | issued_at u64 | expires_at u64 | ca_key [32] | signature [64]
//! ```
//!
//! The signature covers everything before it. Times are Unix seconds.
//!
//! A certificate *request* (the offline flow: `getCertificateRequest`, then a CA signs it) is
//! `"SNR1" | app_id u32 | key [32]`. It needs no proof of possession: a certificate for a key
//! one does not hold cannot be used in a handshake.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// Steam IDs of individual accounts: universe Public (1), type Individual (1), instance 1, and
/// a 32-bit account number (`76561197960265728 + account`).
pub const INDIVIDUAL_ACCOUNT_BASE: u64 = 0x0110_0001_0000_0000;

const CERT_MAGIC: &[u8; 4] = b"SNC1";
const REQUEST_MAGIC: &[u8; 4] = b"SNR1";
/// Length of an encoded certificate.
pub const CERT_LEN: usize = 4 + 8 + 4 + 32 + 8 + 8 + 32 + 64;
const SIGNED_LEN: usize = CERT_LEN - 64;
/// Length of an encoded certificate request.
pub const REQUEST_LEN: usize = 4 + 4 + 32;
/// How far a peer's clock may be ahead of ours before its fresh certificate looks "not yet valid".
const CLOCK_SKEW_SECS: u64 = 3600;

pub type PublicKey = [u8; 32];

/// Whether `id` is in the individual-account range a CA assigns from.
pub fn is_individual_account(id: u64) -> bool {
    id & !0xFFFF_FFFF == INDIVIDUAL_ACCOUNT_BASE && id as u32 != 0
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub identity: u64,
    pub app_id: u32,
    /// The Noise static public key of the identity's holder.
    pub key: PublicKey,
    pub issued_at: u64,
    pub expires_at: u64,
    /// The Ed25519 public key of the CA that signed it.
    pub ca_key: PublicKey,
    pub signature: [u8; 64],
}

/// Whom a receiver trusts, and for which app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// The app certificates must be for; 0 accepts any app (a relay serving several).
    pub app_id: u32,
    /// Public keys of the CAs whose certificates are accepted.
    pub cas: Vec<PublicKey>,
}

impl Certificate {
    fn signed_part(&self) -> [u8; SIGNED_LEN] {
        let mut out = [0u8; SIGNED_LEN];
        let mut w = Writer { buf: &mut out, at: 0 };
        w.put(CERT_MAGIC);
        w.put(&self.identity.to_be_bytes());
        w.put(&self.app_id.to_be_bytes());
        w.put(&self.key);
        w.put(&self.issued_at.to_be_bytes());
        w.put(&self.expires_at.to_be_bytes());
        w.put(&self.ca_key);
        out
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.signed_part().to_vec();
        out.extend_from_slice(&self.signature);
        out
    }

    /// Decode without checking anything but the layout. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<Certificate, String> {
        if bytes.len() != CERT_LEN {
            return Err(format!("Cert failed decode: {} bytes, expected {CERT_LEN}", bytes.len()));
        }
        if &bytes[..4] != CERT_MAGIC {
            return Err("Cert failed decode: not a steamnet certificate".into());
        }
        let mut r = Reader { bytes, at: 4 };
        Ok(Certificate {
            identity: r.u64(),
            app_id: r.u32(),
            key: r.array(),
            issued_at: r.u64(),
            expires_at: r.u64(),
            ca_key: r.array(),
            signature: r.array(),
        })
    }

    /// Check this certificate for a peer whose Noise static key is `remote_key`, at Unix time
    /// `unix_now`. Returns the verified identity, or why it is refused (GNS-style text).
    pub fn check(&self, trust: &Trust, remote_key: &[u8], unix_now: u64) -> Result<u64, String> {
        if !trust.cas.contains(&self.ca_key) {
            return Err(format!("Bad cert: signed by CA {}, which is not trusted", short_hex(&self.ca_key)));
        }
        if !verify_signature(&self.ca_key, &self.signed_part(), &self.signature) {
            return Err("Bad cert: signature does not verify".into());
        }
        if unix_now >= self.expires_at {
            return Err(format!("Bad cert: expired {} s ago", unix_now - self.expires_at));
        }
        if self.issued_at > unix_now + CLOCK_SKEW_SECS {
            return Err("Bad cert: not valid yet (check the clocks)".into());
        }
        if trust.app_id != 0 && self.app_id != trust.app_id {
            return Err(format!("Bad cert: issued for app {}, not {}", self.app_id, trust.app_id));
        }
        if self.key.as_slice() != remote_key {
            return Err("Cert was issued for a different key than the peer holds (stolen certificate?)".into());
        }
        if !is_individual_account(self.identity) {
            return Err(format!("Bad cert identity: {} is not an individual account", self.identity));
        }
        Ok(self.identity)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRequest {
    pub app_id: u32,
    pub key: PublicKey,
}

impl CertRequest {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = REQUEST_MAGIC.to_vec();
        out.extend_from_slice(&self.app_id.to_be_bytes());
        out.extend_from_slice(&self.key);
        out
    }

    /// Never panics.
    pub fn decode(bytes: &[u8]) -> Result<CertRequest, String> {
        if bytes.len() != REQUEST_LEN || &bytes[..4] != REQUEST_MAGIC {
            return Err("not a steamnet certificate request".into());
        }
        let mut r = Reader { bytes, at: 4 };
        Ok(CertRequest { app_id: r.u32(), key: r.array() })
    }
}

/// A certificate authority: an Ed25519 signing key.
pub struct Authority {
    signing: SigningKey,
}

impl Authority {
    /// A new CA key from the OS CSPRNG.
    pub fn generate() -> Authority {
        let mut secret = [0u8; 32];
        crate::random::fill(&mut secret);
        Authority::from_secret(&secret)
    }

    pub fn from_secret(secret: &[u8; 32]) -> Authority {
        Authority { signing: SigningKey::from_bytes(secret) }
    }

    pub fn secret(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    pub fn public_key(&self) -> PublicKey {
        self.signing.verifying_key().to_bytes()
    }

    /// The identity this CA gives `key`, derived from both keys so it is the same every time
    /// for the same key. `attempt` > 0 picks another one when a registry finds a collision.
    pub fn identity_for(&self, key: &PublicKey, attempt: u32) -> u64 {
        use blake2::{Blake2s256, Digest};
        let mut n = attempt;
        loop {
            let mut hash = Blake2s256::new();
            hash.update(b"steamnet identity");
            hash.update(self.public_key());
            hash.update(key);
            hash.update(n.to_be_bytes());
            let digest = hash.finalize();
            let account = u32::from_be_bytes(digest[..4].try_into().expect("4 bytes"));
            if account != 0 {
                return INDIVIDUAL_ACCOUNT_BASE | u64::from(account);
            }
            n = n.wrapping_add(1);
        }
    }

    /// Sign `message` (anything else this CA vouches for, such as a relay ticket).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    pub fn issue(&self, identity: u64, app_id: u32, key: PublicKey, unix_now: u64, lifetime_secs: u64) -> Certificate {
        let mut cert = Certificate {
            identity,
            app_id,
            key,
            issued_at: unix_now,
            expires_at: unix_now.saturating_add(lifetime_secs),
            ca_key: self.public_key(),
            signature: [0; 64],
        };
        cert.signature = self.sign(&cert.signed_part());
        cert
    }
}

/// Whether `signature` is CA key `ca_key`'s signature of `message` (an invalid key: no).
pub fn verify_signature(ca_key: &PublicKey, message: &[u8], signature: &[u8; 64]) -> bool {
    VerifyingKey::from_bytes(ca_key).is_ok_and(|key| key.verify(message, &Signature::from_bytes(signature)).is_ok())
}

/// Lower-case hex, the text form of keys in settings, files and messages.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The inverse of [`to_hex`] for 32-byte keys (surrounding whitespace allowed).
pub fn key_from_hex(text: &str) -> Option<PublicKey> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(key)
}

fn short_hex(key: &PublicKey) -> String {
    to_hex(&key[..6])
}

struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }
}

/// Reads fixed fields from input whose length was checked first.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let out: [u8; N] = self.bytes[self.at..self.at + N].try_into().expect("length checked");
        self.at += N;
        out
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }
    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.array())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn setup() -> (Authority, Trust, PublicKey) {
        let ca = Authority::generate();
        let trust = Trust { app_id: 480, cas: vec![ca.public_key()] };
        (ca, trust, [7u8; 32])
    }

    #[test]
    fn a_good_certificate_round_trips_and_verifies() {
        let (ca, trust, key) = setup();
        let id = ca.identity_for(&key, 0);
        assert!(is_individual_account(id));
        assert_eq!(id, ca.identity_for(&key, 0), "stable for the same key");
        assert_ne!(id, ca.identity_for(&[8u8; 32], 0));
        let cert = ca.issue(id, 480, key, NOW, 3600);
        let decoded = Certificate::decode(&cert.encode()).unwrap();
        assert_eq!(decoded, cert);
        assert_eq!(decoded.check(&trust, &key, NOW + 10), Ok(id));
    }

    #[test]
    fn every_kind_of_bad_certificate_is_refused() {
        let (ca, trust, key) = setup();
        let id = ca.identity_for(&key, 0);
        let cert = ca.issue(id, 480, key, NOW, 3600);
        let refused = |c: &Certificate, remote: &PublicKey, now: u64| c.check(&trust, remote, now).unwrap_err();
        assert!(refused(&cert, &key, NOW + 3600).contains("expired"));
        assert!(refused(&cert, &[9u8; 32], NOW).contains("different key"));
        let mut forged = cert.clone();
        forged.identity += 1;
        assert!(refused(&forged, &key, NOW).contains("signature"));
        let other_ca = Authority::generate();
        let foreign = other_ca.issue(id, 480, key, NOW, 3600);
        assert!(refused(&foreign, &key, NOW).contains("not trusted"));
        // A rogue CA claiming to be the trusted one cannot sign in its name.
        let mut impostor = other_ca.issue(id, 480, key, NOW, 3600);
        impostor.ca_key = ca.public_key();
        assert!(refused(&impostor, &key, NOW).contains("signature"));
        let wrong_app = ca.issue(id, 730, key, NOW, 3600);
        assert!(refused(&wrong_app, &key, NOW).contains("app 730"));
        let future = ca.issue(id, 480, key, NOW + 2 * CLOCK_SKEW_SECS, 3600 * 10);
        assert!(refused(&future, &key, NOW).contains("not valid yet"));
        let not_a_player = ca.issue(42, 480, key, NOW, 3600);
        assert!(refused(&not_a_player, &key, NOW).contains("individual"));
    }

    #[test]
    fn decoders_refuse_what_is_not_theirs() {
        let (ca, _, key) = setup();
        let bytes = ca.issue(ca.identity_for(&key, 0), 480, key, NOW, 60).encode();
        assert!(Certificate::decode(&bytes[..CERT_LEN - 1]).is_err());
        let mut wrong_magic = bytes.clone();
        wrong_magic[0] = b'X';
        assert!(Certificate::decode(&wrong_magic).is_err());
        let request = CertRequest { app_id: 480, key };
        assert_eq!(CertRequest::decode(&request.encode()), Ok(request));
        assert!(CertRequest::decode(&bytes).is_err());
        assert!(CertRequest::decode(&[]).is_err());
    }

    #[test]
    fn keys_in_hex() {
        let key = [0xabu8; 32];
        assert_eq!(key_from_hex(&format!(" {}\n", to_hex(&key))), Some(key));
        assert_eq!(key_from_hex("zz"), None);
        assert_eq!(key_from_hex(&"é".repeat(32)), None);
    }
}
