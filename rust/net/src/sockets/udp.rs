//! UDP connections: each UDP socket has a `steamnet_proto` [`Endpoint`] and a task on the
//! background runtime that feeds it datagrams and timer ticks. Each endpoint has a lock of its
//! own: its driver task takes only that one, and application calls (send, accept, close) take
//! the interface's lock and then the endpoint's, send what became due at once from the
//! caller's thread, and wake the task only if its timer must fire sooner.
//!
//! A listen socket owns one endpoint that accepts handshakes. A connecting client gets an
//! endpoint (and an ephemeral port) of its own, as in GNS, which goes away with the connection.
//!
//! This file has the IP calls (listen, connect, loopback pairs) and what an endpoint is for
//! (its role, its config); `udp/endpoint.rs` an endpoint and the work it does on its own;
//! `udp/table.rs` the table of endpoints and their locks; `udp/driver.rs` the task that drives
//! an endpoint and `udp/readiness.rs` when it watches the socket; `udp/events.rs` turns what
//! happens on an endpoint into API state and callbacks; `udp/ops.rs` has the calls on one
//! connection (accept, close, send, flush, lanes, status), and `udp/handoff.rs` how a send
//! that finds the endpoint busy hands its message over instead of waiting; and `udp/io.rs` the
//! system calls (GSO out, recvmmsg and GRO in, single reads of lone datagrams).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use steamnet_proto::SessionStats;
use steamnet_proto::endpoint::{
    ConnectionId, ConnectionProblem, Endpoint, EndpointConfig, EndpointEvent, generate_static_keypair,
};
use steamnet_proto::session::{SendError, SessionConfig};

use self::driver::{DriverSignal, drive};
pub(super) use self::endpoint::UdpEndpoint;
use self::endpoint::socket_buffers;
use self::io::{Batcher, Outgoing, UdpIo};
use self::readiness::DriverSocket;
use super::*;
use crate::fake_network::FakeNetwork;

pub(super) type EndpointKey = u64;

/// What an endpoint is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Serves a listen socket: incoming connections are announced and wait to be accepted.
    Listen(Handle),
    /// A connecting client's own socket; it closes with its connection.
    Client,
    /// One end of a `createSocketPair(loopback = true)`: accepted at once, and, as GNS does for
    /// pairs, no callbacks while connecting. Closes with its connection.
    Pair,
    /// Every P2P connection, listening and connecting, through the relay (`sockets/p2p.rs`).
    P2P,
}

impl Role {
    /// Whether connections of many peers share its endpoint (a listen socket's, the P2P one),
    /// as the connections of a poll group usually do; the others close with their connection.
    pub(super) fn carries_many(self) -> bool {
        matches!(self, Role::Listen(_) | Role::P2P)
    }

    fn listen_socket(self) -> Handle {
        match self {
            Role::Listen(handle) => handle,
            _ => INVALID_HANDLE,
        }
    }
}

pub(super) struct ListenSocket {
    endpoint: EndpointKey,
    config: ConnectionConfig,
    /// The virtual port of a P2P listen socket (which shares the P2P endpoint).
    vport: Option<u32>,
}

impl ListenSocket {
    pub(super) fn relayed(endpoint: EndpointKey, config: ConnectionConfig, vport: u32) -> ListenSocket {
        ListenSocket { endpoint, config, vport: Some(vport) }
    }

    pub(super) fn config(&self) -> &ConnectionConfig {
        &self.config
    }
}

/// A connection's config changed: its session takes the new values, and a socket that exists
/// for this connection alone (a client's, a pair end's) takes them as its own.
pub(super) fn apply_config(state: &mut State, key: EndpointKey, id: ConnectionId, config: &ConnectionConfig) {
    let Some(mut ep) = state.endpoints.lock(key) else { return };
    if !matches!(ep.role, Role::Listen(_)) {
        ep.config = config.clone();
    }
    if let Some(session) = ep.endpoint.session_mut(id) {
        session.update_config(session_config(config));
    }
}

pub(super) fn session_config(config: &ConnectionConfig) -> SessionConfig {
    let packet = config.int32(ids::MTU_PACKET_SIZE) as usize;
    SessionConfig {
        // The MTU counts the whole datagram; leave room for the DATA header and AEAD tag.
        max_packet_size: packet.saturating_sub(steamnet_proto::endpoint::DATA_OVERHEAD).max(100),
        send_rate: config.int32(ids::SEND_RATE_MAX).max(1) as u64,
        send_rate_min: config.int32(ids::SEND_RATE_MIN).max(1) as u64,
        nagle_usec: config.int32(ids::NAGLE_TIME).max(0) as u64,
        send_buffer_size: config.int32(ids::SEND_BUFFER_SIZE).max(0) as usize,
        idle_timeout_usec: config.int32(ids::TIMEOUT_CONNECTED).max(1) as u64 * 1000,
        recv_buffer_size: config.int32(ids::RECV_BUFFER_SIZE).max(0) as usize,
        recv_buffer_messages: config.int32(ids::RECV_BUFFER_MESSAGES).max(0) as usize,
        recv_max_message_size: config.int32(ids::RECV_MAX_MESSAGE_SIZE).max(0) as u64,
        recv_max_segments_per_packet: config.int32(ids::RECV_MAX_SEGMENTS_PER_PACKET).max(1) as usize,
        fec_repairs: config.int32(ids::FEC_REPAIRS).max(0) as usize,
        ..SessionConfig::default()
    }
}

fn endpoint_config(config: &ConnectionConfig, accept_incoming: bool) -> EndpointConfig {
    EndpointConfig {
        session: session_config(config),
        handshake_timeout_usec: config.int32(ids::TIMEOUT_INITIAL).max(1) as u64 * 1000,
        accept_incoming,
        allow_without_auth: config.int32(ids::IP_ALLOW_WITHOUT_AUTH),
        localhost_allow_without_auth: config.int32(ids::IP_LOCAL_HOST_ALLOW_WITHOUT_AUTH),
        ..EndpointConfig::default()
    }
}

impl Sockets {
    pub(super) fn runtime(&self) -> Option<&tokio::runtime::Runtime> {
        if self.runtime.get().is_none() {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("steamnet-udp")
                .enable_io()
                .enable_time()
                .build()
                .ok()?;
            let _ = self.runtime.set(runtime);
        }
        self.runtime.get()
    }

    /// Bind a UDP socket and start its endpoint and driver. Returns the endpoint's key.
    pub(super) fn open_endpoint(
        &self,
        state: &mut State,
        bind: SocketAddr,
        own_config: &ConnectionConfig,
        accept_incoming: bool,
        role: Role,
    ) -> Option<EndpointKey> {
        let mut config = endpoint_config(own_config, accept_incoming);
        if role == Role::P2P {
            config = super::p2p::p2p_endpoint_config(config);
        }
        let runtime = self.runtime()?;
        let std_socket = match std::net::UdpSocket::bind(bind) {
            Ok(socket) => socket,
            Err(error) => {
                tracing::warn!(%bind, %error, "cannot bind a UDP socket");
                let hint = if error.kind() == std::io::ErrorKind::AddrInUse {
                    ": another socket (this game, another instance of it, or another program) has it; pick another port"
                } else {
                    ""
                };
                refusal::refuse(format!("cannot bind UDP {bind}: {error}{hint}"));
                return None;
            }
        };
        std_socket.set_nonblocking(true).ok()?;
        socket_buffers(&std_socket);
        let io = Arc::new(UdpIo::new(std_socket.try_clone().ok()?).ok()?);
        let socket = {
            let _guard = runtime.enter();
            DriverSocket::new(std_socket).ok()?
        };
        let static_key = state.static_key.get_or_insert_with(|| generate_static_keypair().0).clone();
        let mut endpoint = Endpoint::new(config, static_key.clone());
        endpoint.set_credentials(static_key, state.auth.certificate.clone(), state.trust());
        endpoint.set_unix_time(self.inner.now(), steamnet_relay::unix_now());
        let key = state.next_endpoint_key;
        state.next_endpoint_key += 1;
        let signal = Arc::new(DriverSignal::default());
        let mut fake = FakeNetwork::new(steamnet_proto::random::u64());
        fake.configure(own_config, &state.global_config);
        state.endpoints.insert(
            key,
            UdpEndpoint {
                endpoint,
                io,
                outgoing: Outgoing::default(),
                fake,
                config: own_config.clone(),
                fake_epoch: state.config_epoch,
                signal: signal.clone(),
                role,
                had_connection: false,
                handles: IdMap::default(),
                lingering: Vec::new(),
                relay: None,
            },
        );
        let endpoint = state.endpoints.weak(key).expect("just inserted");
        runtime.spawn(drive(Arc::downgrade(&self.inner), endpoint, key, socket, signal));
        Some(key)
    }

    /// `CreateListenSocketIP`: bind `address` (a missing or unparsable one means any address,
    /// any port) and accept handshakes there.
    pub fn create_listen_socket_ip(&self, address: Option<SocketAddr>, options: &[(i64, ConfigInput)]) -> Handle {
        let config = match ConnectionConfig::from_options(options) {
            Ok(config) => config,
            Err(why) => {
                refusal::refuse(format!("config_options: {why}"));
                return INVALID_HANDLE;
            }
        };
        let bind = address.unwrap_or(crate::address::CLEARED);
        let mut state = self.lock();
        let config = config.over(&state.global_config);
        let handle = state.allocate_handle();
        let Some(endpoint) = self.open_endpoint(&mut state, bind, &config, true, Role::Listen(handle)) else {
            return INVALID_HANDLE;
        };
        state.listen_sockets.insert(handle, ListenSocket { endpoint, config, vport: None });
        handle
    }

    /// `CloseListenSocket`: its connections are destroyed without ceremony, as in GNS.
    pub fn close_listen_socket(&self, handle: Handle) -> bool {
        let mut state = self.lock();
        let Some(listen) = state.listen_sockets.remove(&handle) else {
            refusal::refuse(state.not_a("listen socket", handle));
            return false;
        };
        if let Some(vport) = listen.vport {
            super::p2p::close_listen_socket(&mut state, listen.endpoint, handle, vport, self.inner.now());
            return true;
        }
        if let Some(shared) = state.endpoints.remove(listen.endpoint) {
            let mut ep = table::lock(listen.endpoint, &shared);
            ep.stop_lingering(self.inner.now());
            let handles: Vec<Handle> = ep.handles.values().copied().collect();
            drop(ep);
            for conn_handle in handles {
                state.connections.remove(&conn_handle);
            }
        }
        true
    }

    /// `GetListenSocketAddress`: the bound address, `None` for an invalid listen socket.
    pub fn listen_socket_address(&self, handle: Handle, with_port: bool) -> Option<String> {
        let state = self.lock();
        let listen = state.listen_sockets.get(&handle).filter(|l| l.vport.is_none())?;
        let local = state.endpoints.lock(listen.endpoint)?.local_addr().ok()?;
        Some(if with_port { crate::address::format_ip_port(local) } else { crate::address::format_ip(local.ip()) })
    }

    /// `ConnectByIPAddress`. An address without a port or IP cannot be connected to (0).
    pub fn connect_by_ip_address(&self, address: Option<SocketAddr>, options: &[(i64, ConfigInput)]) -> Handle {
        let Some(peer) = address.filter(|a| a.port() != 0 && !a.ip().is_unspecified()) else {
            refusal::refuse(match address {
                None => "not an address: give \"ip:port\", such as \"127.0.0.1:27015\" or \"[::1]:27015\"".to_string(),
                Some(a) => format!("{a} cannot be connected to: it needs a specific IP and a port other than 0"),
            });
            return INVALID_HANDLE;
        };
        if let SocketAddr::V4(v4) = peer
            && super::fake_ip::is_fake_ip(peer.ip())
        {
            return self.connect_fake_ip(v4, options);
        }
        let config = match ConnectionConfig::from_options(options) {
            Ok(config) => config,
            Err(why) => {
                refusal::refuse(format!("config_options: {why}"));
                return INVALID_HANDLE;
            }
        };
        let bind = steamnet_proto::address::any_local_for(peer);
        let now = self.inner.now();
        let mut state = self.lock();
        let config = config.over(&state.global_config);
        let Some(key) = self.open_endpoint(&mut state, bind, &config, false, Role::Client) else {
            return INVALID_HANDLE;
        };
        let handle = state.allocate_handle();
        let mut ep = state.endpoints.lock(key).expect("just opened");
        ep.talk_only_to(peer);
        let id = ep.endpoint.connect(now, peer);
        ep.handles.insert(id, handle);
        ep.had_connection = true;
        drop(ep);
        let mut conn = Connection::new(Identity::Ip(peer), config, Transport::Udp { endpoint: key, id });
        conn.remote_address = Some(peer);
        conn.state = ConnectionState::Connecting;
        conn.set_verified_identity(None);
        state.connections.insert(handle, conn);
        state.post_status_change(handle, ConnectionState::None);
        pump(&mut state, key, now);
        handle
    }
}

impl Drop for Sockets {
    /// Going away (the game quits): tell every UDP peer at once rather than let it time out.
    fn drop(&mut self) {
        let now = self.inner.now();
        let state = self.lock();
        state.endpoints.each(|_, ep| {
            let ids: Vec<ConnectionId> = ep.handles.keys().copied().collect();
            for id in ids {
                ep.endpoint.close(id, end_reason::APP_GENERIC as u32, "application closed", false);
            }
            ep.stop_lingering(now);
        });
    }
}

impl Sockets {
    /// `CreateSocketPair(loopback = true)`: two real UDP endpoints on 127.0.0.1 that connect to
    /// each other; `identity1`/`identity2` are the ends' own identities (already defaulted).
    /// Returns once both ends are connected (the handshake takes about a
    /// millisecond), or `None` if that does not happen within a few seconds.
    pub(super) fn create_loopback_pair(&self, identity1: Identity, identity2: Identity) -> Option<(Handle, Handle)> {
        let loopback = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        let config = ConnectionConfig::default().over(&self.lock().global_config);
        // Both ends live in this process, so the identities the application gave are known
        // here, not taken from the wire: each end's remote is the other's.
        let (remote_of_1, remote_of_2) = (identity2, identity1);
        let (h1, server) = {
            let mut state = self.lock();
            let server = self.open_endpoint(&mut state, loopback, &config, true, Role::Pair)?;
            let server_address = state.endpoints.lock(server).and_then(|ep| ep.local_addr().ok());
            let client = self.open_endpoint(&mut state, loopback, &config, false, Role::Pair);
            let (Some(server_address), Some(client)) = (server_address, client) else {
                state.endpoints.remove(server);
                return None;
            };
            let now = self.inner.now();
            let handle = state.allocate_handle();
            let client_address = state.endpoints.lock(client).and_then(|ep| ep.local_addr().ok());
            if let (Some(client_address), Some(server)) = (client_address, state.endpoints.lock(server)) {
                server.talk_only_to(client_address);
            }
            let mut ep = state.endpoints.lock(client).expect("just opened");
            ep.talk_only_to(server_address);
            let id = ep.endpoint.connect(now, server_address);
            ep.handles.insert(id, handle);
            ep.had_connection = true;
            drop(ep);
            let mut conn =
                Connection::new(Identity::Ip(server_address), config, Transport::Udp { endpoint: client, id });
            conn.remote_address = Some(server_address);
            conn.state = ConnectionState::Connecting;
            conn.info_flags = info_flags::UNAUTHENTICATED;
            state.connections.insert(handle, conn);
            pump(&mut state, client, now);
            (handle, server)
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            {
                let state = self.lock();
                let connected =
                    |h: Handle| state.connections.get(&h).is_some_and(|c| c.state == ConnectionState::Connected);
                if let Some(h2) = pair_server_handle(&state, server)
                    && connected(h1)
                    && connected(h2)
                {
                    drop(state);
                    let mut state = self.lock();
                    for (handle, remote) in [(h1, remote_of_1), (h2, remote_of_2)] {
                        if let Some(conn) = state.connections.get_mut(&handle) {
                            conn.remote_identity = remote;
                        }
                    }
                    return Some((h1, h2));
                }
            }
            if std::time::Instant::now() > deadline {
                self.close_connection(h1, 0, "", false);
                let h2 = pair_server_handle(&self.lock(), server);
                if let Some(h2) = h2 {
                    self.close_connection(h2, 0, "", false);
                }
                return None;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }
}

impl Sockets {
    /// Process, on the caller's thread, every datagram already waiting in this interface's
    /// sockets, and what became due: a game that polls once a frame then sees what arrived a
    /// moment ago at once rather than after the driver thread's turn (ENet works this way).
    pub fn service(&self) {
        let now = self.inner.now();
        let mut state = self.lock();
        for key in state.endpoints.keys() {
            service_endpoint(&mut state, key, now);
        }
    }
}

/// Read what is waiting on one endpoint's socket and run what is due, on the caller's thread,
/// when its datagrams come one at a time: then a thread wake-up each way would be most of a
/// round trip. Costs one system call when nothing is there, and no second one after a read
/// that emptied the socket (what arrives meanwhile is for the next call, or the driver). The
/// driver thread is woken only if its timer must now fire sooner.
///
/// Datagrams that come in batches (a bulk transfer, a server's many clients) are left to the
/// driver: it reads, opens and acknowledges them on its own thread while this one goes on with
/// the application's work, and what they carry is settled into the queues at the next call.
pub(super) fn service_endpoint(state: &mut State, key: EndpointKey, now: u64) {
    let Some(shared) = state.endpoints.shared(key) else { return };
    let mut ep = table::lock(key, &shared);
    if ep.io.comes_in_batches() {
        return;
    }
    ep.signal.app_read(now);
    let mut any = false;
    // Bounded, as the driver's turn is: under a flood the call returns (the rest waits for the
    // next call, or the driver) instead of reading for as long as datagrams keep coming.
    for _ in 0..driver::RECV_BATCHES_PER_TURN {
        let Ok(batch) = ep.receive_batch(now, None) else { break };
        any = true;
        if batch.drained {
            break;
        }
    }
    if ep.advance(now) || any {
        events::pump_locked(state, key, ep, now);
    }
}

/// The server end of a loopback pair, once it has arrived.
fn pair_server_handle(state: &State, server: EndpointKey) -> Option<Handle> {
    state.endpoints.lock(server)?.handles.values().next().copied()
}

mod driver;
mod endpoint;
mod events;
mod handoff;
mod io;
mod ops;
mod readiness;
mod table;

pub(super) use events::{deliver, end_connection, pump, settle};
pub(super) use ops::{accept, close, configure_lanes, congestion_summary, flush, send, session_status};
pub(super) use table::{EndpointGuard, Endpoints, lock as lock_endpoint};
