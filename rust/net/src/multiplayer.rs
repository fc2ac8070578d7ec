//! What Godot's high-level multiplayer needs from a transport, on steamnet connections: peer ids
//! (the server is 1, each client gets a random positive id from the server), packets addressed
//! to one peer, to all, or to all but one, with Godot's transfer modes and channels, and the
//! connection status `SceneMultiplayer` turns into `connected_to_server`, `connection_failed`
//! and `server_disconnected`. The Godot class `SteamMultiplayerPeer` wraps this.
//!
//! Each peer has a [`Sockets`] of its own, so its connections, callbacks and poll group never mix
//! with what the game does on the `SteamNetworkingSockets` singleton.
//!
//! Wire: every message starts with a header byte. System messages (top bit set) carry the peer
//! id the server assigns. Game packets: the transfer mode, then the channel, then (for
//! unreliable-ordered) a sequence number, then the payload. Channels map to lanes (so a stalled
//! reliable channel never holds up another); unreliable-ordered packets go unreliably, and the
//! receiver drops any older than the newest it delivered on that channel, where GodotSteam's peer
//! sends them reliably.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use crate::config::ConfigInput;
use crate::events::Event;
use crate::sockets::Sockets;
use crate::types::{ConnectionState, Handle, INVALID_HANDLE, MAX_MESSAGE_SIZE_SEND, SteamResult, send_flags};

/// The server's peer id, as in every Godot multiplayer peer.
pub const SERVER_ID: i32 = 1;
/// Lanes each connection has; channel `c` goes on lane `c % LANES`.
pub const LANES: usize = 4;
/// Bytes the header may take before the payload.
const MAX_HEADER: usize = 6;
/// Largest packet a game may put.
pub const MAX_PACKET_SIZE: usize = MAX_MESSAGE_SIZE_SEND - MAX_HEADER;

const SYSTEM: u8 = 0x80;
/// Server to client: "your id is" (4 bytes, big-endian).
const SYSTEM_ASSIGN_ID: u8 = SYSTEM | 1;

/// Godot's `MultiplayerPeer.TransferMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferMode {
    Unreliable = 0,
    UnreliableOrdered = 1,
    Reliable = 2,
}

impl TransferMode {
    fn from_byte(byte: u8) -> Option<TransferMode> {
        match byte {
            0 => Some(TransferMode::Unreliable),
            1 => Some(TransferMode::UnreliableOrdered),
            2 => Some(TransferMode::Reliable),
            _ => None,
        }
    }
}

/// Godot's `MultiplayerPeer.ConnectionStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Disconnected = 0,
    Connecting = 1,
    Connected = 2,
}

/// Why a call failed, as Godot's `Error` says it (the wrapper maps these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerError {
    /// Already a server or client (`ERR_ALREADY_IN_USE`).
    AlreadyActive,
    /// Bad address, port or argument (`ERR_INVALID_PARAMETER`).
    InvalidParameter(String),
    /// The socket could not be created (`ERR_CANT_CREATE`).
    CantCreate(String),
    /// Not connected (`ERR_UNCONFIGURED`).
    NotActive,
    /// Packet over the maximum size (`ERR_OUT_OF_MEMORY`, as ENet answers).
    TooBig,
    /// The transport refused it (`ERR_BUSY` when its buffer is full, `FAILED` otherwise).
    Busy,
    Failed(SteamResult),
}

impl std::fmt::Display for PeerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerError::AlreadyActive => f.write_str("the peer is already active; close() it first"),
            PeerError::InvalidParameter(why) | PeerError::CantCreate(why) => f.write_str(why),
            PeerError::NotActive => f.write_str("the peer is not connected"),
            PeerError::TooBig => write!(f, "packet larger than the maximum of {MAX_PACKET_SIZE} bytes"),
            PeerError::Busy => f.write_str("send buffer full; try again after the next poll"),
            PeerError::Failed(result) => write!(f, "send failed: {result:?}"),
        }
    }
}

/// A packet for the game.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub from: i32,
    pub channel: u8,
    pub mode: TransferMode,
    pub data: Vec<u8>,
}

/// Something `SceneMultiplayer` must hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerEvent {
    Connected(i32),
    Disconnected(i32),
}

enum Role {
    Idle,
    Server { listen: Handle, group: Handle, max_clients: usize },
    Client { connection: Handle, group: Handle },
}

pub struct MultiplayerPeer {
    sockets: Sockets,
    role: Role,
    status: Status,
    unique_id: i32,
    refuse_new: bool,
    /// Connected peers: id -> connection, and back.
    peers: HashMap<i32, Handle>,
    ids: HashMap<Handle, i32>,
    /// Server: connections accepted but not yet told their id (none in practice: the id goes
    /// out at once; kept so a failed send is retried).
    packets: VecDeque<Packet>,
    events: VecDeque<PeerEvent>,
    /// Unreliable-ordered sequence numbers: next to send per (peer, channel), newest delivered
    /// per (peer, channel).
    ordered_out: HashMap<(i32, u8), u32>,
    ordered_in: HashMap<(i32, u8), u32>,
    options: Vec<(i64, ConfigInput)>,
}

impl Default for MultiplayerPeer {
    fn default() -> Self {
        Self::new()
    }
}

impl MultiplayerPeer {
    pub fn new() -> MultiplayerPeer {
        MultiplayerPeer {
            sockets: Sockets::new(),
            role: Role::Idle,
            status: Status::Disconnected,
            unique_id: 0,
            refuse_new: false,
            peers: HashMap::new(),
            ids: HashMap::new(),
            packets: VecDeque::new(),
            events: VecDeque::new(),
            ordered_out: HashMap::new(),
            ordered_in: HashMap::new(),
            options: Vec::new(),
        }
    }

    /// Config values (`NETWORKING_CONFIG_*`) for the connections made from now on.
    pub fn set_options(&mut self, options: Vec<(i64, ConfigInput)>) {
        self.options = options;
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn unique_id(&self) -> i32 {
        self.unique_id
    }

    pub fn is_server(&self) -> bool {
        matches!(self.role, Role::Server { .. })
    }

    pub fn set_refuse_new_connections(&mut self, refuse: bool) {
        self.refuse_new = refuse;
    }

    pub fn is_refusing_new_connections(&self) -> bool {
        self.refuse_new
    }

    /// Connected peers' ids.
    pub fn peer_ids(&self) -> Vec<i32> {
        let mut ids: Vec<i32> = self.peers.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The listen socket (in [`sockets`](Self::sockets)) of a server, else 0.
    pub fn listen_socket(&self) -> Handle {
        match self.role {
            Role::Server { listen, .. } => listen,
            _ => INVALID_HANDLE,
        }
    }

    /// The connection to peer `id`, for the game's own use of the sockets API.
    pub fn connection_of(&self, id: i32) -> Option<Handle> {
        self.peers.get(&id).copied()
    }

    /// The sockets interface this peer's connections live in.
    pub fn sockets(&self) -> &Sockets {
        &self.sockets
    }

    /// Listen on `bind` for up to `max_clients` clients.
    pub fn create_server(&mut self, bind: SocketAddr, max_clients: usize) -> Result<(), PeerError> {
        if !matches!(self.role, Role::Idle) {
            return Err(PeerError::AlreadyActive);
        }
        if bind.port() == 0 {
            return Err(PeerError::InvalidParameter("the port must be 1 to 65535".into()));
        }
        if max_clients == 0 {
            return Err(PeerError::InvalidParameter("max_clients must be at least 1".into()));
        }
        let listen = self.sockets.create_listen_socket_ip(Some(bind), &self.options);
        if listen == INVALID_HANDLE {
            return Err(PeerError::CantCreate(format!("cannot listen on {bind} (port in use, or a bad option)")));
        }
        let group = self.sockets.create_poll_group();
        self.role = Role::Server { listen, group, max_clients };
        self.unique_id = SERVER_ID;
        self.status = Status::Connected;
        Ok(())
    }

    /// Connect to a server at `address`.
    pub fn create_client(&mut self, address: SocketAddr) -> Result<(), PeerError> {
        if !matches!(self.role, Role::Idle) {
            return Err(PeerError::AlreadyActive);
        }
        if address.port() == 0 || address.ip().is_unspecified() {
            return Err(PeerError::InvalidParameter(format!("cannot connect to {address}")));
        }
        let connection = self.sockets.connect_by_ip_address(Some(address), &self.options);
        if connection == INVALID_HANDLE {
            return Err(PeerError::CantCreate(format!("cannot connect to {address} (a bad option?)")));
        }
        let group = self.sockets.create_poll_group();
        self.sockets.set_connection_poll_group(connection, group);
        self.configure_lanes(connection);
        self.role = Role::Client { connection, group };
        self.status = Status::Connecting;
        Ok(())
    }

    fn configure_lanes(&self, connection: Handle) {
        let _ = self.sockets.configure_lanes(connection, LANES as i64, &[0; LANES], &[1; LANES]);
    }

    /// Process what happened: connections, ids, packets. Call every frame.
    pub fn poll(&mut self) {
        self.sockets.service();
        for event in self.sockets.drain_events() {
            if let Event::ConnectionStatusChanged { handle, info, .. } = event {
                self.on_status(handle, info.state, info.listen_socket);
            }
        }
        let group = match self.role {
            Role::Server { group, .. } | Role::Client { group, .. } => group,
            Role::Idle => return,
        };
        loop {
            let messages = self.sockets.receive_on_poll_group(group, 256).unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for message in messages {
                self.on_message(message.connection, &message.payload);
            }
        }
    }

    fn on_status(&mut self, handle: Handle, state: ConnectionState, listen_socket: Handle) {
        match (&self.role, state) {
            (Role::Server { listen, group, max_clients }, ConnectionState::Connecting) if listen_socket == *listen => {
                if self.refuse_new || self.peers.len() >= *max_clients {
                    self.sockets.close_connection(handle, 1001, "server full or not accepting new players", false);
                    return;
                }
                let group = *group;
                if self.sockets.accept_connection(handle) == SteamResult::Ok {
                    self.sockets.set_connection_poll_group(handle, group);
                    self.configure_lanes(handle);
                }
            }
            (Role::Server { .. }, ConnectionState::Connected) => {
                // Give the client its id; it counts as connected once it has it.
                let id = self.new_client_id();
                let mut hello = vec![SYSTEM_ASSIGN_ID];
                hello.extend_from_slice(&id.to_be_bytes());
                if self.sockets.send_message(handle, &hello, send_flags::RELIABLE | send_flags::NO_NAGLE).is_ok() {
                    self.peers.insert(id, handle);
                    self.ids.insert(handle, id);
                    self.events.push_back(PeerEvent::Connected(id));
                }
            }
            (Role::Server { .. }, ConnectionState::ClosedByPeer | ConnectionState::ProblemDetectedLocally) => {
                self.drop_peer(handle);
                self.sockets.close_connection(handle, 0, "", false);
            }
            (
                Role::Client { connection, .. },
                ConnectionState::ClosedByPeer | ConnectionState::ProblemDetectedLocally,
            ) if handle == *connection => {
                // Before the id arrived this is a failed connection; after, the server went away.
                let was_connected = self.status == Status::Connected;
                self.sockets.close_connection(handle, 0, "", false);
                if was_connected {
                    self.drop_peer_id(SERVER_ID);
                }
                self.reset();
            }
            _ => {}
        }
    }

    fn new_client_id(&self) -> i32 {
        loop {
            // Positive, not the server's, not in use: as ENetMultiplayerPeer chooses them.
            let id = (steamnet_proto::random::u64() as u32 & 0x7fff_ffff) as i32;
            if id > SERVER_ID && !self.peers.contains_key(&id) {
                return id;
            }
        }
    }

    fn on_message(&mut self, from_handle: Handle, payload: &[u8]) {
        let Some((&header, rest)) = payload.split_first() else { return };
        if header == SYSTEM_ASSIGN_ID {
            if let Role::Client { connection, .. } = self.role
                && from_handle == connection
                && self.status == Status::Connecting
                && let Some(id) = rest.get(..4).map(|b| i32::from_be_bytes(b.try_into().expect("4 bytes")))
                && id > SERVER_ID
            {
                self.unique_id = id;
                self.status = Status::Connected;
                self.peers.insert(SERVER_ID, connection);
                self.ids.insert(connection, SERVER_ID);
                self.events.push_back(PeerEvent::Connected(SERVER_ID));
            }
            return;
        }
        let Some(&from) = self.ids.get(&from_handle) else { return };
        let Some(mode) = TransferMode::from_byte(header) else { return };
        let Some((&channel, mut data)) = rest.split_first() else { return };
        if mode == TransferMode::UnreliableOrdered {
            let Some(seq) = data.get(..4).map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes"))) else { return };
            data = &data[4..];
            let newest = self.ordered_in.entry((from, channel)).or_insert(0);
            // Later than the newest delivered (with wrap-around), or it is stale: drop it.
            if seq.wrapping_sub(*newest) as i32 <= 0 && *newest != 0 {
                return;
            }
            *newest = seq;
        }
        self.packets.push_back(Packet { from, channel, mode, data: data.to_vec() });
    }

    fn drop_peer(&mut self, handle: Handle) {
        if let Some(id) = self.ids.get(&handle).copied() {
            self.drop_peer_id(id);
        }
    }

    fn drop_peer_id(&mut self, id: i32) {
        if let Some(handle) = self.peers.remove(&id) {
            self.ids.remove(&handle);
            self.ordered_in.retain(|(peer, _), _| *peer != id);
            self.ordered_out.retain(|(peer, _), _| *peer != id);
            self.events.push_back(PeerEvent::Disconnected(id));
        }
    }

    fn reset(&mut self) {
        self.role = Role::Idle;
        self.status = Status::Disconnected;
        self.unique_id = 0;
        self.peers.clear();
        self.ids.clear();
        self.ordered_in.clear();
        self.ordered_out.clear();
    }

    pub fn take_packet(&mut self) -> Option<Packet> {
        self.packets.pop_front()
    }

    pub fn peek_packet(&self) -> Option<&Packet> {
        self.packets.front()
    }

    pub fn available_packets(&self) -> usize {
        self.packets.len()
    }

    pub fn take_event(&mut self) -> Option<PeerEvent> {
        self.events.pop_front()
    }

    /// Send to `target`: a peer id, 0 for everyone, or `-id` for everyone but that peer.
    pub fn put_packet(&mut self, target: i32, channel: i32, mode: TransferMode, data: &[u8]) -> Result<(), PeerError> {
        if self.status != Status::Connected {
            return Err(PeerError::NotActive);
        }
        if data.len() > MAX_PACKET_SIZE {
            return Err(PeerError::TooBig);
        }
        let Ok(channel) = u8::try_from(channel) else {
            return Err(PeerError::InvalidParameter(format!("channel {channel} is not 0 to 255")));
        };
        let targets: Vec<i32> = match target {
            0 => self.peers.keys().copied().collect(),
            t if t < 0 => self.peers.keys().copied().filter(|&id| id != -t).collect(),
            t if self.peers.contains_key(&t) => vec![t],
            t => return Err(PeerError::InvalidParameter(format!("no peer {t}"))),
        };
        // Out at once, as ENet sends: a reply made while handling a packet reaches its peer in
        // the same frame. (Several packets of a frame still share a datagram when the pacer
        // holds them; the no-Nagle flag has the session send that rest as soon as it may.)
        let flags = match mode {
            TransferMode::Reliable => send_flags::RELIABLE | send_flags::NO_NAGLE,
            _ => send_flags::NO_NAGLE,
        };
        let mut result = Ok(());
        for id in targets {
            let mut message = Vec::with_capacity(data.len() + MAX_HEADER);
            message.push(mode as u8);
            message.push(channel);
            if mode == TransferMode::UnreliableOrdered {
                let seq = self.ordered_out.entry((id, channel)).or_insert(0);
                *seq = seq.wrapping_add(1).max(1);
                message.extend_from_slice(&seq.to_be_bytes());
            }
            message.extend_from_slice(data);
            let handle = self.peers[&id];
            let lane = (channel as usize % LANES) as i64;
            if let Err(error) = self.sockets.send_message_on_lane(handle, lane, &message, flags) {
                result = Err(match error {
                    SteamResult::LimitExceeded => PeerError::Busy,
                    other => PeerError::Failed(other),
                });
            }
        }
        result
    }

    /// Disconnect one peer (server: a client; client: the server). `force` skips the goodbye:
    /// the peer is forgotten at once and its side times out or hears nothing more.
    pub fn disconnect_peer(&mut self, id: i32, force: bool) {
        let Some(&handle) = self.peers.get(&id) else { return };
        self.sockets.close_connection(handle, 1000, "disconnected", !force);
        self.drop_peer_id(id);
        if matches!(self.role, Role::Client { .. }) {
            self.reset();
        }
    }

    /// Close everything at once, telling connected peers.
    pub fn close(&mut self) {
        let ids: Vec<i32> = self.peers.keys().copied().collect();
        for id in ids {
            if let Some(handle) = self.peers.get(&id).copied() {
                self.sockets.close_connection(handle, 1000, "closed", true);
            }
            self.drop_peer_id(id);
        }
        match self.role {
            Role::Server { listen, group, .. } => {
                self.sockets.close_listen_socket(listen);
                self.sockets.destroy_poll_group(group);
            }
            Role::Client { connection, group } => {
                self.sockets.close_connection(connection, 1000, "closed", true);
                self.sockets.destroy_poll_group(group);
            }
            Role::Idle => {}
        }
        self.reset();
        self.packets.clear();
        self.events.clear();
        self.sockets.drain_events();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll_until(peers: &mut [&mut MultiplayerPeer], mut done: impl FnMut(&mut [&mut MultiplayerPeer]) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !done(peers) {
            assert!(std::time::Instant::now() < deadline, "condition not met in time");
            for p in peers.iter_mut() {
                p.poll();
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    fn server_and_client() -> (MultiplayerPeer, MultiplayerPeer, i32) {
        let mut server = MultiplayerPeer::new();
        let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        server.create_server(format!("127.0.0.1:{port}").parse().unwrap(), 4).unwrap();
        let mut client = MultiplayerPeer::new();
        client.create_client(format!("127.0.0.1:{port}").parse().unwrap()).unwrap();
        assert_eq!(client.status(), Status::Connecting);
        let mut id = 0;
        poll_until(&mut [&mut server, &mut client], |p| {
            while let Some(e) = p[0].take_event() {
                if let PeerEvent::Connected(new) = e {
                    id = new;
                }
            }
            id != 0 && p[1].status() == Status::Connected
        });
        assert_eq!(client.unique_id(), id);
        assert_eq!(client.take_event(), Some(PeerEvent::Connected(SERVER_ID)));
        (server, client, id)
    }

    #[test]
    fn ids_packets_modes_and_channels() {
        let (mut server, mut client, id) = server_and_client();
        assert!(id > 1 && server.unique_id() == 1 && server.is_server() && !client.is_server());
        client.put_packet(SERVER_ID, 3, TransferMode::Reliable, b"reliable on 3").unwrap();
        client.put_packet(SERVER_ID, 0, TransferMode::UnreliableOrdered, b"ordered").unwrap();
        client.put_packet(SERVER_ID, 9, TransferMode::Unreliable, b"plain").unwrap();
        let mut got = Vec::new();
        poll_until(&mut [&mut server, &mut client], |p| {
            while let Some(packet) = p[0].take_packet() {
                got.push(packet);
            }
            got.len() == 3
        });
        got.sort_by_key(|p| p.channel);
        assert_eq!(
            got[0],
            Packet { from: id, channel: 0, mode: TransferMode::UnreliableOrdered, data: b"ordered".to_vec() }
        );
        assert_eq!(
            got[1],
            Packet { from: id, channel: 3, mode: TransferMode::Reliable, data: b"reliable on 3".to_vec() }
        );
        assert_eq!(got[2].mode, TransferMode::Unreliable);
        // Broadcast from the server reaches the client; to an unknown peer it is refused.
        server.put_packet(0, 1, TransferMode::Reliable, b"to all").unwrap();
        assert!(matches!(
            server.put_packet(12345, 0, TransferMode::Reliable, b"x"),
            Err(PeerError::InvalidParameter(_))
        ));
        assert_eq!(
            server.put_packet(id, 0, TransferMode::Reliable, &vec![0; MAX_PACKET_SIZE + 1]),
            Err(PeerError::TooBig)
        );
        poll_until(&mut [&mut server, &mut client], |p| {
            p[1].take_packet().is_some_and(|p| p.data == b"to all" && p.from == 1)
        });
        assert_eq!(server.create_server("127.0.0.1:1".parse().unwrap(), 1), Err(PeerError::AlreadyActive));
    }

    #[test]
    fn stale_unreliable_ordered_packets_are_dropped() {
        let (mut server, _client, id) = server_and_client();
        let handle = server.connection_of(id).unwrap();
        // Feed the server's receive path directly: sequence 5, then a late 3, then 6.
        for seq in [5u32, 3, 6] {
            let mut message = vec![TransferMode::UnreliableOrdered as u8, 2];
            message.extend_from_slice(&seq.to_be_bytes());
            message.push(seq as u8);
            server.on_message(handle, &message);
        }
        let delivered: Vec<u8> = std::iter::from_fn(|| server.take_packet()).map(|p| p.data[0]).collect();
        assert_eq!(delivered, vec![5, 6], "the late packet is dropped");
    }

    #[test]
    fn leaving_and_server_going_away() {
        let (mut server, mut client, id) = server_and_client();
        client.disconnect_peer(SERVER_ID, false);
        assert_eq!(client.take_event(), Some(PeerEvent::Disconnected(SERVER_ID)));
        assert_eq!(client.status(), Status::Disconnected);
        poll_until(&mut [&mut server], |p| p[0].take_event() == Some(PeerEvent::Disconnected(id)));
        // A new client, then the server closes: the client sees the server go.
        let (mut server, mut client, _) = server_and_client();
        server.close();
        poll_until(&mut [&mut client], |p| p[0].take_event() == Some(PeerEvent::Disconnected(SERVER_ID)));
        assert_eq!(client.status(), Status::Disconnected);
    }

    #[test]
    fn a_dead_address_fails_the_connection() {
        let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut client = MultiplayerPeer::new();
        client.set_options(vec![(24, ConfigInput::Int(300))]); // TIMEOUT_INITIAL
        client.create_client(format!("127.0.0.1:{port}").parse().unwrap()).unwrap();
        poll_until(&mut [&mut client], |p| p[0].status() == Status::Disconnected);
        assert_eq!(client.take_event(), None, "never connected, so no peer to lose");
        assert!(matches!(client.create_client("0.0.0.0:5".parse().unwrap()), Err(PeerError::InvalidParameter(_))));
    }

    #[test]
    fn refusing_new_connections() {
        let mut server = MultiplayerPeer::new();
        let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        server.create_server(format!("127.0.0.1:{port}").parse().unwrap(), 4).unwrap();
        server.set_refuse_new_connections(true);
        let mut client = MultiplayerPeer::new();
        client.create_client(format!("127.0.0.1:{port}").parse().unwrap()).unwrap();
        poll_until(&mut [&mut server, &mut client], |p| p[1].status() == Status::Disconnected);
        assert_eq!(server.take_event(), None);
    }
}
