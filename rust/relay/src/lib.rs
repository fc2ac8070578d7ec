//! steamnet-relay: the services Steam's backend provides to `SteamNetworkingSockets`, as our own
//! server: the **certificate authority** (CA), which gives each installation's key a stable
//! Steam-style identity and signs a certificate that proves it to peers; the **relay** for P2P
//! calls by identity, FakeIPs and hosted dedicated servers; and, with several of them sharing
//! a Redis directory, a **relay network** of points of presence (POPs).
//!
//! - [`authority`]: the CA itself (identity registry, issuing), free of I/O.
//! - [`messages`]: what clients, the relay and other POPs say to each other.
//! - [`server`]: the CA and relay on a UDP socket, one steamnet endpoint, on a tokio runtime;
//!   its `cluster` part links POPs.
//! - [`directory`]: the state POPs share, in Redis.
//! - [`client`]: asking a CA for a certificate.
//! - [`keyfile`]: secret keys on disk, created atomically on first use.
//! - [`ticket`]: what admits a client to a hosted dedicated server.
//!
//! Requests travel over an ordinary steamnet connection (Noise XX): encrypted, and the Noise
//! handshake proves the client holds the static key it wants certified, so the CA signs
//! exactly that key. Answers are authenticated by the CA's signature on the certificate.

pub mod authority;
pub mod client;
pub mod directory;
mod driver;
pub mod keyfile;
pub mod messages;
pub mod server;
pub mod ticket;

/// The port a relay listens on unless told otherwise (UDP).
pub const DEFAULT_PORT: u16 = 27190;

/// Seconds since the Unix epoch, by the system clock (certificate times).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
