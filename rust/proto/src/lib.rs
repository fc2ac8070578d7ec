//! steamnet's sans-IO protocol core.
//!
//! Everything here is a pure state machine in the quinn-proto habit: it takes bytes and `now`, and
//! hands back bytes and timeouts. Nothing in this crate opens a socket, spawns a thread or reads a
//! clock, so every behaviour can be driven deterministically from tests.
//!
//! - [`wire`]: the packet format of an established session, with a decoder that never panics.
//! - [`session`]: one end of an established connection: reliability, fragmentation, Nagle,
//!   lanes, pacing, receive budget, keepalive and timeout.
//! - [`congestion`]: the model-based congestion controller that sets the pacing rate and window.
//! - [`lanes`]: lane priorities, weights and per-lane message numbering.
//! - [`endpoint`]: one UDP socket's connections: the Noise XX handshake, packet encryption,
//!   replay protection, path validation, timers and demultiplexing to sessions.
//! - [`end_reason`]: why connections end, numbered as GNS numbers it; [`session::flags`]: send flags.
//! - [`address`]: socket addresses on the wire (direct-path candidates).
//! - [`cert`]: certificates (identity, app id, static key, expiry) signed by a CA, and the CA.
//! - [`cookie`], [`admission`], [`replay`], [`random`]: the endpoint's defences (stateless
//!   cookies, handshake and connection limits, the anti-replay window, the OS CSPRNG).
//! - [`impair`]: a lossy, laggy link model: the simulator's network and the fake network settings.
//! - `sim` (tests, or the `sim` feature): two nodes joined by links, driven from a seed.
//! - `fuzzing` (tests, or the `testing` feature): the fuzz targets' bodies.

/// A map keyed by handles or ids this process picks itself (never by what a peer sends, which
/// keeps SipHash's defence against chosen collisions): hashed with foldhash, for the per-packet
/// and per-call lookups.
pub type IdMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

pub mod address;
pub mod admission;
#[cfg(test)]
mod alloc_counter;
pub mod cert;
pub mod cipher;
pub mod congestion;
pub mod cookie;
pub mod end_reason;
pub mod endpoint;
pub mod fec;
#[cfg(any(test, feature = "testing"))]
pub mod fuzzing;
pub mod impair;
pub mod lanes;
pub mod random;
pub mod ranges;
pub mod replay;
pub mod session;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod varint;
pub mod wire;

/// The earliest of some deadlines, if any: what every deadline query ends with, several
/// times per packet. Over the array borrowed, which the compiler unrolls; the array's own
/// `into_iter().flatten().min()` kept its by-value iterator's bookkeeping (a visible cost per
/// packet in callgrind).
#[inline]
pub fn earliest<const N: usize>(times: [Option<u64>; N]) -> Option<u64> {
    let mut first: Option<u64> = None;
    for &t in times.iter().flatten() {
        first = Some(first.map_or(t, |f| f.min(t)));
    }
    first
}

pub use lanes::{LaneConfigError, Lanes};
pub use session::{Admit, Message, Numbered, SendError, Session, SessionConfig, SessionState, SessionStats};
