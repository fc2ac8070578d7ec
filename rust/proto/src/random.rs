//! Randomness for anything an attacker must not predict: connection ids, cookie secrets,
//! path-validation tokens. Every value comes straight from the operating system's CSPRNG
//! (`getrandom`), so no value reveals anything about another. The simulator's fast generator
//! ([`crate::impair::FastRng`]) is for shaping test traffic only and never feeds these.

/// Fill `buf` from the OS CSPRNG. An OS that cannot supply randomness cannot run a secure
/// transport at all, so that is treated as fatal rather than silently weakened.
pub fn fill(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

pub fn u64() -> u64 {
    let mut bytes = [0u8; 8];
    fill(&mut bytes);
    u64::from_le_bytes(bytes)
}

/// A random non-zero `u32` (0 means "no id" on the wire).
pub fn nonzero_u32() -> u32 {
    loop {
        let mut bytes = [0u8; 4];
        fill(&mut bytes);
        let value = u32::from_le_bytes(bytes);
        if value != 0 {
            return value;
        }
    }
}

pub fn key() -> [u8; 32] {
    let mut key = [0u8; 32];
    fill(&mut key);
    key
}
