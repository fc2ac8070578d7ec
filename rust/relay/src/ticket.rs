//! Tickets for hosted dedicated servers: the relay's word that one client may reach one
//! server's virtual port, for a while.
//!
//! On Steam a game coordinator hands clients these (`SteamDatagramRelayAuthTicket`) and a
//! client must hold one before `ConnectToHostedDedicatedServer` can work; once it has one it
//! can connect even while its backend is unreachable. Here the relay is the coordinator: it
//! issues a ticket to any client whose session its certificate authenticated, signed with the
//! CA key, so every relay point of presence that shares that CA can check it without asking
//! anyone.
//!
//! Encoding (all integers big-endian), 128 bytes:
//!
//! ```text
//! "SNT1" | client u64 | server u64 | vport u32 | expires_at u64 | ca_key [32] | signature [64]
//! ```
//!
//! The signature covers everything before it; `expires_at` is Unix seconds. A ticket names the
//! client it was issued to, so a copied ticket is useless on anybody else's session.

use steamnet_proto::cert::{Authority, PublicKey, verify_signature};

const MAGIC: &[u8; 4] = b"SNT1";
/// Length of an encoded ticket.
pub const TICKET_LEN: usize = 4 + 8 + 8 + 4 + 8 + 32 + 64;
const SIGNED_LEN: usize = TICKET_LEN - 64;
/// How long a ticket is good for: long enough to outlast a backend outage, short enough that
/// a leaked one soon stops mattering.
pub const TICKET_LIFETIME_SECS: u64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub client: u64,
    pub server: u64,
    pub vport: u32,
    pub expires_at: u64,
    pub ca_key: PublicKey,
    pub signature: [u8; 64],
}

/// Why a ticket does not admit a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketError {
    /// No ticket at all (GNS: the client has none cached).
    Missing,
    /// A ticket that cannot be used: forged, expired, or issued to someone else.
    Invalid(String),
}

impl Ticket {
    /// A ticket from `authority` for `client` to reach `server`'s `vport`.
    pub fn issue(authority: &Authority, client: u64, server: u64, vport: u32, unix_now: u64) -> Ticket {
        let mut ticket = Ticket {
            client,
            server,
            vport,
            expires_at: unix_now.saturating_add(TICKET_LIFETIME_SECS),
            ca_key: authority.public_key(),
            signature: [0; 64],
        };
        ticket.signature = authority.sign(&ticket.signed_part());
        ticket
    }

    fn signed_part(&self) -> [u8; SIGNED_LEN] {
        let mut out = [0u8; SIGNED_LEN];
        let fields: [&[u8]; 6] = [
            MAGIC,
            &self.client.to_be_bytes(),
            &self.server.to_be_bytes(),
            &self.vport.to_be_bytes(),
            &self.expires_at.to_be_bytes(),
            &self.ca_key,
        ];
        let mut at = 0;
        for field in fields {
            out[at..at + field.len()].copy_from_slice(field);
            at += field.len();
        }
        out
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.signed_part().to_vec();
        out.extend_from_slice(&self.signature);
        out
    }

    /// Decode without checking anything but the layout. Never panics.
    pub fn decode(bytes: &[u8]) -> Option<Ticket> {
        if bytes.len() != TICKET_LEN || &bytes[..4] != MAGIC {
            return None;
        }
        let u64_at = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        Some(Ticket {
            client: u64_at(4),
            server: u64_at(12),
            vport: u32::from_be_bytes(bytes[20..24].try_into().expect("4 bytes")),
            expires_at: u64_at(24),
            ca_key: bytes[32..64].try_into().expect("32 bytes"),
            signature: bytes[64..].try_into().expect("64 bytes"),
        })
    }

    /// Whether this ticket lets `client` reach `server`'s `vport` now, signed by one of
    /// `trusted`.
    pub fn admits(&self, trusted: &[PublicKey], client: u64, server: u64, vport: u32, unix_now: u64) -> bool {
        trusted.contains(&self.ca_key)
            && verify_signature(&self.ca_key, &self.signed_part(), &self.signature)
            && self.client == client
            && self.server == server
            && self.vport == vport
            && unix_now < self.expires_at
    }
}

/// Check the ticket bytes a client presented for `server`'s `vport`: the server it admits to,
/// or why not.
pub fn check(bytes: &[u8], trusted: &[PublicKey], client: u64, unix_now: u64) -> Result<(u64, u32), TicketError> {
    if bytes.is_empty() {
        return Err(TicketError::Missing);
    }
    let ticket = Ticket::decode(bytes).ok_or_else(|| TicketError::Invalid("not a steamnet relay ticket".into()))?;
    if !ticket.admits(trusted, client, ticket.server, ticket.vport, unix_now) {
        let why = if !trusted.contains(&ticket.ca_key) {
            "ticket signed by a CA this relay does not trust"
        } else if ticket.client != client {
            "ticket was issued to another identity"
        } else if unix_now >= ticket.expires_at {
            "ticket expired"
        } else {
            "ticket signature does not verify"
        };
        return Err(TicketError::Invalid(why.into()));
    }
    Ok((ticket.server, ticket.vport))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_admit_their_client_only_until_they_expire() {
        let ca = Authority::generate();
        let trusted = [ca.public_key()];
        let ticket = Ticket::issue(&ca, 1, 2, 27015, 1000);
        let bytes = ticket.encode();
        assert_eq!(bytes.len(), TICKET_LEN);
        assert_eq!(Ticket::decode(&bytes), Some(ticket.clone()));
        assert_eq!(check(&bytes, &trusted, 1, 1000), Ok((2, 27015)));
        assert_eq!(check(&[], &trusted, 1, 1000), Err(TicketError::Missing));
        assert!(matches!(check(&bytes, &trusted, 9, 1000), Err(TicketError::Invalid(why)) if why.contains("another")));
        let late = 1000 + TICKET_LIFETIME_SECS;
        assert!(matches!(check(&bytes, &trusted, 1, late), Err(TicketError::Invalid(why)) if why.contains("expired")));
        let stranger = [Authority::generate().public_key()];
        assert!(matches!(check(&bytes, &stranger, 1, 1000), Err(TicketError::Invalid(_))));
        // Any changed byte (another vport, a forged signature) spoils it.
        for at in [0, 5, 21, 30, 40, 100] {
            let mut forged = bytes.clone();
            forged[at] ^= 1;
            assert!(check(&forged, &trusted, 1, 1000).is_err(), "byte {at}");
        }
        assert!(matches!(check(&bytes[1..], &trusted, 1, 1000), Err(TicketError::Invalid(_))));
    }
}
