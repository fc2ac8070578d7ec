//! The sockets interface: what `ISteamNetworkingSockets` is to a game, minus Steam.
//!
//! [`Sockets`] owns every handle the game sees (connections, listen sockets, poll groups), the
//! per-connection configuration, the received-message queues and the callback queue that the Godot
//! layer drains into signals. Protocol logic lives in `steamnet-proto`; this crate wires it to
//! handles, queues and (later) the UDP driver and relay client.
//!
//! Thread-safety: one [`Sockets`] is shared by the game thread and background tasks, so all of
//! its state sits behind one mutex and every public method takes `&self`.

pub mod address;
pub mod config;
mod config_table;
pub mod events;
mod handles;
pub mod identity;
mod rate;
pub mod sockets;
pub mod types;

pub use address::{format_ip, format_ip_port, parse_ip_port};
pub use config::{ConfigInput, ConfigValue, ConnectionConfig};
pub use events::{Event, ConnectionInfo};
pub use identity::Identity;
pub use sockets::{LaneStatus, ReceivedMessage, RealTimeStatus, Sockets};
pub use types::*;
