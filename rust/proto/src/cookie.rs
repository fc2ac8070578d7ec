//! Stateless handshake cookies: `MAC(secret, client address, client id, cipher, time bucket)`.
//! Only the address that asked sees its cookie, so a HELLO carrying a valid one proves the
//! sender can receive at the address it claims, before the server spends a Diffie-Hellman or
//! any memory. The cipher the server picked is in the MAC too, so a HELLO cannot name another.
//!
//! The secret comes from the OS CSPRNG and is replaced every [`ROTATE_USEC`]; a cookie stays
//! good for the rest of its bucket and the whole next one. Knowing any number of connection
//! ids or earlier cookies tells nothing about the current secret.

use std::net::{IpAddr, SocketAddr};

use blake2::digest::{KeyInit, Mac};

pub const COOKIE_LEN: usize = 16;
/// How often the secret changes.
pub const ROTATE_USEC: u64 = 10_000_000;

pub struct CookieJar {
    /// Bucket the current secret belongs to.
    bucket: u64,
    current: [u8; 32],
    previous: [u8; 32],
}

impl CookieJar {
    pub fn new(now: u64) -> CookieJar {
        CookieJar { bucket: now / ROTATE_USEC, current: crate::random::key(), previous: crate::random::key() }
    }

    /// Move to the bucket of `now`, drawing a new secret when it changed.
    fn rotate(&mut self, now: u64) {
        let bucket = now / ROTATE_USEC;
        if bucket == self.bucket {
            return;
        }
        // After a long pause the old secret is as stale as any: replace both.
        self.previous = if bucket == self.bucket + 1 { self.current } else { crate::random::key() };
        self.current = crate::random::key();
        self.bucket = bucket;
    }

    pub fn make(&mut self, now: u64, address: SocketAddr, client_id: u32, cipher: u8) -> [u8; COOKIE_LEN] {
        self.rotate(now);
        mac(&self.current, address, client_id, cipher)
    }

    /// Constant-time check against the current and the previous secret.
    pub fn check(&mut self, now: u64, address: SocketAddr, client_id: u32, cipher: u8, cookie: &[u8]) -> bool {
        self.rotate(now);
        if cookie.len() != COOKIE_LEN {
            return false;
        }
        let matches = |secret: &[u8; 32]| constant_time_eq(&mac(secret, address, client_id, cipher), cookie);
        // Evaluate both so the time taken does not say which secret matched.
        let a = matches(&self.current);
        let b = matches(&self.previous);
        a | b
    }
}

fn mac(secret: &[u8; 32], address: SocketAddr, client_id: u32, cipher: u8) -> [u8; COOKIE_LEN] {
    let mut mac = <blake2::Blake2sMac256 as KeyInit>::new_from_slice(secret).expect("32-byte key");
    match address.ip() {
        IpAddr::V4(ip) => mac.update(&ip.octets()),
        IpAddr::V6(ip) => mac.update(&ip.octets()),
    }
    mac.update(&address.port().to_be_bytes());
    mac.update(&client_id.to_be_bytes());
    mac.update(&[cipher]);
    let full = mac.finalize().into_bytes();
    full[..COOKIE_LEN].try_into().expect("length")
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 4000);

    #[test]
    fn valid_for_its_bucket_and_the_next_only() {
        let mut jar = CookieJar::new(0);
        let cookie = jar.make(1, A, 7, 1);
        assert!(jar.check(ROTATE_USEC - 1, A, 7, 1, &cookie));
        assert!(jar.check(ROTATE_USEC + 5, A, 7, 1, &cookie), "next bucket still accepts it");
        assert!(!jar.check(2 * ROTATE_USEC + 5, A, 7, 1, &cookie), "two rotations later it is dead");
    }

    #[test]
    fn bound_to_address_and_id() {
        let mut jar = CookieJar::new(0);
        let cookie = jar.make(0, A, 7, 1);
        assert!(!jar.check(0, A, 8, 1, &cookie));
        assert!(!jar.check(0, SocketAddr::new(A.ip(), 4001), 7, 1, &cookie));
        assert!(!jar.check(0, A, 7, 2, &cookie), "the cipher picked is part of it");
        assert!(!jar.check(0, A, 7, 1, &cookie[..8]));
    }

    #[test]
    fn two_jars_never_agree() {
        // Secrets come from the OS, not from anything two endpoints could share.
        let (mut a, mut b) = (CookieJar::new(0), CookieJar::new(0));
        assert_ne!(a.make(0, A, 1, 1), b.make(0, A, 1, 1));
    }
}
