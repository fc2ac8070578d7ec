//! steamnet's sans-IO protocol core.
//!
//! Everything here is a pure state machine in the quinn-proto habit: it takes bytes and `now`, and
//! hands back bytes and timeouts. Nothing in this crate opens a socket, spawns a thread or reads a
//! clock, so every behaviour can be driven deterministically from tests.
//!
//! - [`lanes`]: lane priorities, weights and per-lane message numbering.
//! - [`wire`]: the packet format of an established session, with a decoder that never panics.
//! - [`session`]: one end of an established connection: reliability, fragmentation, Nagle,
//!   lanes, pacing, keepalive and timeout.
//! - [`endpoint`]: one UDP socket's connections: the Noise XX handshake behind a stateless
//!   cookie, packet encryption, and demultiplexing to sessions.
//! - [`sim`]: a deterministic simulated network (loss, duplication, reordering, lag, bandwidth)
//!   that drives two sessions from a seed, for tests and benchmarks.
//!
//! Still to come: certificates (identities vouched for by the relay's CA) and congestion control
//! beyond a fixed pacing rate.

pub mod admission;
pub mod congestion;
pub mod cookie;
pub mod endpoint;
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

pub use lanes::{LaneConfigError, Lanes};
pub use session::{Message, SendError, Session, SessionConfig, SessionState, SessionStats};
