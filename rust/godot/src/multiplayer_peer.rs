//! `SteamMultiplayerPeer`: Godot's high-level multiplayer (`@rpc`, `MultiplayerSpawner`,
//! `MultiplayerSynchronizer`) over steamnet. GodotSteam's method names, so GodotSteam code ports
//! unchanged, plus `ENetMultiplayerPeer`-style `create_server` / `create_client_ip` for games
//! without Steam IDs. The protocol lives in `steamnet_net::multiplayer`; this is conversion.

use godot::classes::multiplayer_peer::{ConnectionStatus, TransferMode as GdTransferMode};
use godot::classes::{IMultiplayerPeerExtension, MultiplayerPeerExtension};
use godot::global::Error;
use godot::prelude::*;
use steamnet_net::multiplayer::{MAX_PACKET_SIZE, MultiplayerPeer, PeerError, PeerEvent, Status, TransferMode};

use crate::convert;

/// A `MultiplayerPeer` on steamnet's encrypted UDP transport, for `@rpc`, `MultiplayerSpawner` and
/// `MultiplayerSynchronizer`.
///
/// Use it like `ENetMultiplayerPeer`: `create_server(port, max_clients)` on the host,
/// `create_client_ip(address, port)` on a player, then set it as `multiplayer.multiplayer_peer`.
/// GodotSteam's `create_host(virtual_port)` and `create_client(steam_id, virtual_port)` (P2P by
/// Steam ID) are not available on this peer yet: they return ERR_UNAVAILABLE and say why.
/// Godot's channels map to connection lanes; reliable and unreliable transfer modes map to
/// reliable and unreliable messages.
#[derive(GodotClass)]
#[class(init, tool, base = MultiplayerPeerExtension)]
pub struct SteamMultiplayerPeer {
    peer: MultiplayerPeer,
    target: i32,
    #[init(val = GdTransferMode::RELIABLE)]
    transfer_mode: GdTransferMode,
    transfer_channel: i32,
    /// Address `create_server` binds (ENet's `set_bind_ip`); any address when empty.
    bind_ip: Option<std::net::IpAddr>,
    /// Config values for the connections made next (`NETWORKING_CONFIG_*` keys), as GodotSteam's
    /// `options` property and `set_config` hold them.
    #[var]
    options: VarDictionary,
    /// GodotSteam's flags. steamnet sends every packet without Nagle delay already, so these are
    /// kept for compatibility only.
    #[var]
    #[init(val = true)]
    no_nagle: bool,
    /// GodotSteam's flag, kept for compatibility: steamnet never holds a packet back.
    #[var]
    no_delay: bool,
    base: Base<MultiplayerPeerExtension>,
}

fn error_of(what: &str, error: PeerError) -> Error {
    godot_error!("SteamMultiplayerPeer.{what}: {error}");
    match error {
        PeerError::AlreadyActive => Error::ERR_ALREADY_IN_USE,
        PeerError::InvalidParameter(_) => Error::ERR_INVALID_PARAMETER,
        PeerError::CantCreate(_) => Error::ERR_CANT_CREATE,
        PeerError::NotActive => Error::ERR_UNCONFIGURED,
        PeerError::TooBig => Error::ERR_OUT_OF_MEMORY,
        PeerError::Busy => Error::ERR_BUSY,
        PeerError::Failed(_) => Error::FAILED,
    }
}

fn port_of(what: &str, port: i64) -> Result<u16, Error> {
    match u16::try_from(port) {
        Ok(port) if port != 0 => Ok(port),
        _ => {
            godot_error!("SteamMultiplayerPeer.{what}: port {port} is not 1 to 65535");
            Err(Error::ERR_INVALID_PARAMETER)
        }
    }
}

impl SteamMultiplayerPeer {
    /// The connection options in force: the `options` property.
    fn apply_options(&mut self) {
        self.peer.set_options(convert::config_options(&self.options));
    }

    fn relay_unavailable(what: &str) -> Error {
        godot_error!(
            "SteamMultiplayerPeer.{what}: P2P by Steam ID is not wired into SteamMultiplayerPeer yet (its \
             connections have no Steam ID of their own). Use create_server(port) / create_client_ip(address, port), \
             or SteamNetworkingSockets.connectP2P for P2P by Steam ID."
        );
        Error::ERR_UNAVAILABLE
    }
}

#[godot_api]
impl SteamMultiplayerPeer {
    /// Listen for clients on UDP `port` (ENetMultiplayerPeer's `create_server`). Connection
    /// options come from the `options` property (or `set_config`).
    #[func]
    fn create_server(&mut self, port: i64, #[opt(default = 32)] max_clients: i64) -> Error {
        let port = match port_of("create_server", port) {
            Ok(port) => port,
            Err(e) => return e,
        };
        let Ok(max_clients) = usize::try_from(max_clients) else {
            godot_error!("SteamMultiplayerPeer.create_server: max_clients {max_clients} is negative");
            return Error::ERR_INVALID_PARAMETER;
        };
        self.apply_options();
        let ip = self.bind_ip.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        match self.peer.create_server(std::net::SocketAddr::new(ip, port), max_clients) {
            Ok(()) => Error::OK,
            Err(e) => error_of("create_server", e),
        }
    }

    /// Connect to a server at `address`:`port` (ENetMultiplayerPeer's `create_client`).
    /// Connection options come from the `options` property (or `set_config`).
    #[func]
    fn create_client_ip(&mut self, address: GString, port: i64) -> Error {
        let port = match port_of("create_client_ip", port) {
            Ok(port) => port,
            Err(e) => return e,
        };
        let Ok(ip) = address.to_string().parse::<std::net::IpAddr>() else {
            godot_error!("SteamMultiplayerPeer.create_client_ip: '{address}' is not an IP address");
            return Error::ERR_INVALID_PARAMETER;
        };
        self.apply_options();
        match self.peer.create_client(std::net::SocketAddr::new(ip, port)) {
            Ok(()) => Error::OK,
            Err(e) => error_of("create_client_ip", e),
        }
    }

    /// The address `create_server` binds, as ENet's `set_bind_ip` ("*" for any).
    #[func]
    fn set_bind_ip(&mut self, ip: GString) {
        let text = ip.to_string();
        self.bind_ip = match text.as_str() {
            "*" | "" => None,
            _ => match text.parse() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    godot_error!("SteamMultiplayerPeer.set_bind_ip: '{text}' is not an IP address");
                    None
                }
            },
        };
    }

    /// GodotSteam: host on a P2P virtual port. Not available on this peer yet: returns
    /// ERR_UNAVAILABLE and says why (use `create_server`). (gdext cannot give a Dictionary
    /// argument a default: pass `{}`.)
    #[func]
    fn create_host(&mut self, virtual_port: i64, options: VarDictionary) -> Error {
        let _ = (virtual_port, options);
        Self::relay_unavailable("create_host")
    }

    /// GodotSteam: connect to a host by Steam ID. Not available on this peer yet: returns
    /// ERR_UNAVAILABLE and says why (use `create_client_ip`).
    #[func]
    fn create_client(&mut self, steam_id: i64, virtual_port: i64, options: VarDictionary) -> Error {
        let _ = (steam_id, virtual_port, options);
        Self::relay_unavailable("create_client")
    }

    /// GodotSteam: the Steam ID behind a peer id (0 for a peer known only by its address).
    #[func]
    fn get_steam64_from_peer_id(&self, peer_id: i64) -> i64 {
        let Ok(peer_id) = i32::try_from(peer_id) else { return 0 };
        self.peer
            .connection_of(peer_id)
            .and_then(|h| self.peer.sockets().connection_info(h))
            .map_or(0, |info| convert::steam_id_to_int(info.identity))
    }

    /// GodotSteam: the peer id of a Steam ID, or -1.
    #[func]
    fn get_peer_id_from_steam64(&self, steam_id: i64) -> i64 {
        let map = self.get_peer_map();
        map.iter_shared().find(|(_, id)| id.to::<i64>() == steam_id && steam_id != 0).map_or(-1, |(peer, _)| peer.to())
    }

    /// GodotSteam: `{peer_id: steam_id}` for every connected peer.
    #[func]
    fn get_peer_map(&self) -> VarDictionary {
        let mut map = VarDictionary::new();
        for id in self.peer.peer_ids() {
            map.set(id as i64, self.get_steam64_from_peer_id(id as i64));
        }
        map
    }

    /// GodotSteam: the listen socket handle (0 when not a server). It belongs to this peer's
    /// own connections, not to the `SteamNetworkingSockets` singleton's.
    #[func]
    fn get_listen_socket(&self) -> i64 {
        self.peer.listen_socket() as i64
    }

    /// GodotSteam: set one config value for the connections made next.
    #[func]
    fn set_config(&mut self, config: i64, value: Variant) {
        self.options.set(config, &value);
    }

    /// GodotSteam: forget one config value set with `set_config`.
    #[func]
    fn clear_config(&mut self, config: i64) {
        self.options.remove(config);
    }

    /// GodotSteam: forget every config value set with `set_config`.
    #[func]
    fn clear_all_configs(&mut self) {
        self.options.clear();
    }
}

#[godot_api]
impl IMultiplayerPeerExtension for SteamMultiplayerPeer {
    fn get_available_packet_count(&self) -> i32 {
        self.peer.available_packets() as i32
    }

    fn get_max_packet_size(&self) -> i32 {
        MAX_PACKET_SIZE as i32
    }

    fn get_packet_script(&mut self) -> PackedByteArray {
        self.peer.take_packet().map_or_else(PackedByteArray::new, |p| PackedByteArray::from(p.data.as_slice()))
    }

    fn put_packet_script(&mut self, buffer: PackedByteArray) -> Error {
        let mode = match self.transfer_mode {
            GdTransferMode::UNRELIABLE => TransferMode::Unreliable,
            GdTransferMode::UNRELIABLE_ORDERED => TransferMode::UnreliableOrdered,
            _ => TransferMode::Reliable,
        };
        match self.peer.put_packet(self.target, self.transfer_channel, mode, buffer.as_slice()) {
            Ok(()) => Error::OK,
            Err(e) => error_of("put_packet", e),
        }
    }

    fn get_packet_channel(&self) -> i32 {
        self.peer.peek_packet().map_or(0, |p| p.channel as i32)
    }

    fn get_packet_mode(&self) -> GdTransferMode {
        match self.peer.peek_packet().map(|p| p.mode) {
            Some(TransferMode::Unreliable) => GdTransferMode::UNRELIABLE,
            Some(TransferMode::UnreliableOrdered) => GdTransferMode::UNRELIABLE_ORDERED,
            _ => GdTransferMode::RELIABLE,
        }
    }

    fn set_transfer_channel(&mut self, channel: i32) {
        self.transfer_channel = channel;
    }

    fn get_transfer_channel(&self) -> i32 {
        self.transfer_channel
    }

    fn set_transfer_mode(&mut self, mode: GdTransferMode) {
        self.transfer_mode = mode;
    }

    fn get_transfer_mode(&self) -> GdTransferMode {
        self.transfer_mode
    }

    fn set_target_peer(&mut self, peer: i32) {
        self.target = peer;
    }

    fn get_packet_peer(&self) -> i32 {
        self.peer.peek_packet().map_or(0, |p| p.from)
    }

    fn is_server(&self) -> bool {
        self.peer.is_server()
    }

    fn poll(&mut self) {
        self.peer.poll();
        let mut events = Vec::new();
        while let Some(event) = self.peer.take_event() {
            events.push(event);
        }
        // Handlers (SceneMultiplayer's) call back into this peer: base_mut lets them.
        for event in events {
            let (signal, id) = match event {
                PeerEvent::Connected(id) => ("peer_connected", id),
                PeerEvent::Disconnected(id) => ("peer_disconnected", id),
            };
            self.base_mut().emit_signal(signal, &[(id as i64).to_variant()]);
        }
    }

    fn close(&mut self) {
        self.peer.close();
    }

    fn disconnect_peer(&mut self, peer: i32, force: bool) {
        self.peer.disconnect_peer(peer, force);
        if force {
            // ENet semantics: a forced disconnect is reported at once.
            while let Some(PeerEvent::Disconnected(id)) = self.peer.take_event() {
                self.base_mut().emit_signal("peer_disconnected", &[(id as i64).to_variant()]);
            }
        }
    }

    fn get_unique_id(&self) -> i32 {
        self.peer.unique_id()
    }

    fn set_refuse_new_connections(&mut self, enable: bool) {
        self.peer.set_refuse_new_connections(enable);
    }

    fn is_refusing_new_connections(&self) -> bool {
        self.peer.is_refusing_new_connections()
    }

    fn is_server_relay_supported(&self) -> bool {
        true
    }

    fn get_connection_status(&self) -> ConnectionStatus {
        match self.peer.status() {
            Status::Disconnected => ConnectionStatus::DISCONNECTED,
            Status::Connecting => ConnectionStatus::CONNECTING,
            Status::Connected => ConnectionStatus::CONNECTED,
        }
    }
}
