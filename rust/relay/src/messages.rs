//! Messages on a connection to the CA, one reliable message each way:
//!
//! ```text
//! client -> CA   REQUEST      1 | app_id u32
//! CA -> client   CERTIFICATE  2 | certificate (see steamnet_proto::cert)
//!             or ERROR        3 | UTF-8 text
//! ```
//!
//! The key to certify is the client's Noise static key from the connection's handshake.

const REQUEST: u8 = 1;
const CERTIFICATE: u8 = 2;
const ERROR: u8 = 3;
/// Longest error text the CA sends.
const MAX_ERROR_LEN: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaMessage {
    Request { app_id: u32 },
    Certificate(Vec<u8>),
    Error(String),
}

impl CaMessage {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            CaMessage::Request { app_id } => [&[REQUEST][..], &app_id.to_be_bytes()].concat(),
            CaMessage::Certificate(cert) => [&[CERTIFICATE][..], cert].concat(),
            CaMessage::Error(text) => {
                let mut end = text.len().min(MAX_ERROR_LEN);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                [&[ERROR][..], &text.as_bytes()[..end]].concat()
            }
        }
    }

    /// Never panics; `None` for anything malformed.
    pub fn decode(bytes: &[u8]) -> Option<CaMessage> {
        let (&kind, body) = bytes.split_first()?;
        match kind {
            REQUEST => Some(CaMessage::Request { app_id: u32::from_be_bytes(body.try_into().ok()?) }),
            CERTIFICATE if body.len() == steamnet_proto::cert::CERT_LEN => Some(CaMessage::Certificate(body.to_vec())),
            ERROR if body.len() <= MAX_ERROR_LEN => Some(CaMessage::Error(String::from_utf8_lossy(body).into_owned())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refusals() {
        for m in [
            CaMessage::Request { app_id: 480 },
            CaMessage::Certificate(vec![9; steamnet_proto::cert::CERT_LEN]),
            CaMessage::Error("no".into()),
        ] {
            assert_eq!(CaMessage::decode(&m.encode()), Some(m));
        }
        assert_eq!(CaMessage::decode(&[]), None);
        assert_eq!(CaMessage::decode(&[1, 0, 0]), None);
        assert_eq!(CaMessage::decode(&[2, 0]), None);
        assert_eq!(CaMessage::decode(&[7]), None);
        let long = CaMessage::Error("é".repeat(300)).encode();
        assert!(long.len() <= 1 + MAX_ERROR_LEN && CaMessage::decode(&long).is_some());
    }
}
