//! The AEAD that seals a connection's packets, chosen in the handshake: AES-256-GCM when both
//! ends have AES instructions (there it is the faster of the two), ChaCha20-Poly1305 otherwise
//! (the faster one in software, and constant-time without hardware help). Both come from ring
//! through snow's ring resolver, with assembly for the CPU at hand.
//!
//! The client says which it prefers in its REQUEST; the server picks in its CHALLENGE, and the
//! client names the pick in its HELLO. The CHALLENGE's cookie covers the pick, so a HELLO that
//! names another is refused like a forged cookie, and the Noise protocol name, which holds the
//! cipher, goes into the handshake hash, so both ends provably use the same one. Either cipher is
//! sound: the choice is about speed only.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    ChaChaPoly = 1,
    AesGcm = 2,
}

impl Cipher {
    /// The one this CPU runs faster: AES-256-GCM with AES and carry-less multiply instructions.
    pub fn for_this_cpu() -> Cipher {
        if has_aes_instructions() { Cipher::AesGcm } else { Cipher::ChaChaPoly }
    }

    /// What the wire's byte names; `None` for anything else.
    pub fn from_wire(byte: u8) -> Option<Cipher> {
        match byte {
            1 => Some(Cipher::ChaChaPoly),
            2 => Some(Cipher::AesGcm),
            _ => None,
        }
    }

    pub fn to_wire(self) -> u8 {
        self as u8
    }

    /// The server's pick: AES-GCM only when both ends prefer it; whatever a client sends
    /// (nothing known, or an old client's zero padding) means ChaCha20-Poly1305.
    pub fn choose(client_prefers: u8, server_prefers: Cipher) -> Cipher {
        match (Cipher::from_wire(client_prefers), server_prefers) {
            (Some(Cipher::AesGcm), Cipher::AesGcm) => Cipher::AesGcm,
            _ => Cipher::ChaChaPoly,
        }
    }

    /// The Noise protocol name of a handshake that seals with this cipher.
    pub fn noise_params(self) -> &'static str {
        match self {
            Cipher::ChaChaPoly => "Noise_XX_25519_ChaChaPoly_BLAKE2s",
            Cipher::AesGcm => "Noise_XX_25519_AESGCM_BLAKE2s",
        }
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn has_aes_instructions() -> bool {
    std::arch::is_x86_feature_detected!("aes") && std::arch::is_x86_feature_detected!("pclmulqdq")
}

#[cfg(target_arch = "aarch64")]
fn has_aes_instructions() -> bool {
    std::arch::is_aarch64_feature_detected!("aes") && std::arch::is_aarch64_feature_detected!("pmull")
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
fn has_aes_instructions() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_only_when_both_ends_prefer_it() {
        assert_eq!(Cipher::choose(2, Cipher::AesGcm), Cipher::AesGcm);
        assert_eq!(Cipher::choose(1, Cipher::AesGcm), Cipher::ChaChaPoly);
        assert_eq!(Cipher::choose(2, Cipher::ChaChaPoly), Cipher::ChaChaPoly);
        assert_eq!(Cipher::choose(0, Cipher::AesGcm), Cipher::ChaChaPoly, "unknown means ChaCha");
        assert_eq!(Cipher::choose(77, Cipher::AesGcm), Cipher::ChaChaPoly);
    }

    #[test]
    fn wire_bytes_round_trip() {
        for cipher in [Cipher::ChaChaPoly, Cipher::AesGcm] {
            assert_eq!(Cipher::from_wire(cipher.to_wire()), Some(cipher));
            assert!(cipher.noise_params().parse::<snow::params::NoiseParams>().is_ok());
        }
        assert_eq!(Cipher::from_wire(0), None);
    }
}
