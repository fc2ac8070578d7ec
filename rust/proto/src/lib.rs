//! steamnet's sans-IO protocol core.
//!
//! Everything here is a pure state machine in the quinn-proto habit: it takes bytes and `now`, and
//! hands back bytes and timeouts. Nothing in this crate opens a socket, spawns a thread or reads a
//! clock, so every behaviour can be driven deterministically from tests.
//!
//! Today it holds the lane model (priorities, weights and per-lane message numbering) that every
//! connection kind shares; wire format, handshake, reliability and congestion control will join it.

pub mod lanes;
pub mod ranges;
pub mod varint;
pub mod wire;

pub use lanes::{LaneConfigError, Lanes};
