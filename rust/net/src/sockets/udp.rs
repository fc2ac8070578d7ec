//! UDP connections: each UDP socket has a `steamnet_proto` [`Endpoint`] and a task on the
//! background runtime that feeds it datagrams and timer ticks. Each endpoint has a lock of its
//! own: its driver task takes only that one, and application calls (send, accept, close) take
//! the interface's lock and then the endpoint's, send what became due at once from the
//! caller's thread, and wake the task only if its timer must fire sooner.
//!
//! A listen socket owns one endpoint that accepts handshakes. A connecting client gets an
//! endpoint (and an ephemeral port) of its own, as in GNS, which goes away with the connection.
//!
//! This file has the endpoints and the IP calls (listen, connect); `udp/table.rs` the table of
//! endpoints and their locks; `udp/driver.rs` the task that drives an endpoint and
//! `udp/readiness.rs` when it watches the socket; `udp/events.rs` turns what happens on an
//! endpoint into API state and callbacks; `udp/ops.rs` has the calls on one connection (accept,
//! close, send, flush, lanes, status); and `udp/io.rs` the batched system calls (GSO out,
//! recvmmsg and GRO in).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use steamnet_proto::SessionStats;
use steamnet_proto::endpoint::{
    ConnectionId, ConnectionProblem, Endpoint, EndpointConfig, EndpointEvent, generate_static_keypair,
};
use steamnet_proto::session::{SendError, SessionConfig};

use self::driver::{DriverSignal, drive};
use self::io::{Batcher, Outgoing, UdpIo};
use self::readiness::DriverSocket;
use super::*;
use crate::fake_network::FakeNetwork;

pub(super) type EndpointKey = u64;

pub(super) struct UdpEndpoint {
    pub(super) endpoint: Endpoint,
    /// The socket, for sending and reading from any thread, with batched system calls. (Not
    /// the driver's tokio handle: a fresh tokio socket refuses sends until its reactor has seen
    /// it writable, which would hold the first datagram back.)
    io: Arc<UdpIo>,
    /// The batch of datagrams being gathered.
    outgoing: Outgoing,
    /// Fake loss, lag and the like, applied to both directions (a perfect link by default).
    fake: FakeNetwork,
    /// The socket's own config (its listen socket's, or its one connection's).
    pub(super) config: ConnectionConfig,
    /// The config epoch `fake` was last set up for.
    fake_epoch: u64,
    signal: Arc<DriverSignal>,
    pub(super) role: Role,
    /// Whether a connection ever lived here (an endpoint that closes with its last connection
    /// must not close before its first).
    pub(super) had_connection: bool,
    /// Endpoint connection id -> API handle.
    pub(super) handles: IdMap<ConnectionId, Handle>,
    /// Connections the application closed with `linger` that are still flushing.
    pub(super) lingering: Vec<ConnectionId>,
    /// The P2P endpoint's connection to the relay (role [`Role::P2P`] only).
    pub(super) relay: Option<Box<super::p2p::RelayLink>>,
}

impl UdpEndpoint {
    pub(super) fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.io.socket().local_addr()
    }

    pub(super) fn sender(&self) -> &std::net::UdpSocket {
        self.io.socket()
    }

    /// The relay link and the socket it sends on, together (P2P endpoint only).
    pub(super) fn link_and_sender(&mut self) -> Option<(&mut super::p2p::RelayLink, &std::net::UdpSocket)> {
        Some((self.relay.as_deref_mut()?, self.io.socket()))
    }

    /// A one-byte datagram to `to` that dies two hops out: it opens our NAT's mapping towards
    /// `to` without reaching `to`'s NAT (see `ice::on_candidates`). Endpoints ignore it.
    pub(super) fn send_opener(&self, to: SocketAddr) {
        const OPENER_TTL: u32 = 2;
        let socket = self.io.socket();
        let previous = socket.ttl().unwrap_or(64);
        if socket.set_ttl(OPENER_TTL).is_ok() {
            let _ = socket.send_to(&[0], to);
            let _ = socket.set_ttl(previous);
        }
    }

    /// What the endpoint does on its own, with no part of the interface's state: run its relay
    /// link, send what is due, and forget closed connections that are through. Its driver runs
    /// this without the interface's lock; what the application must learn of stays queued in
    /// the endpoint (events, messages, relay news) for [`pump`].
    pub(super) fn run_own(&mut self, now: u64) {
        self.with_own_batch(|this, out| this.run_own_into(now, out));
    }

    /// Run `gather` with a batch on this endpoint's own buffers, which sends when `gather` is
    /// done (under the caller's lock: see [`run_own_into`](Self::run_own_into) for sending
    /// after it).
    fn with_own_batch(&mut self, gather: impl FnOnce(&mut Self, &mut Batcher<'_>)) {
        let io = self.io.clone();
        let mut outgoing = std::mem::take(&mut self.outgoing);
        gather(self, &mut Batcher::new(&io, &mut outgoing));
        self.outgoing = outgoing;
    }

    /// [`run_own`](Self::run_own), gathering what is due into `out`, whose system calls are
    /// the caller's to make (the driver makes them after letting go of the endpoint's lock).
    pub(super) fn run_own_into(&mut self, now: u64, out: &mut Batcher<'_>) {
        super::p2p::run_link(self, now);
        self.send_due_into(now, out);
        // Closed connections that are through (at once, or after lingering): forget them.
        let finished: Vec<ConnectionId> =
            self.lingering.iter().copied().filter(|&id| self.endpoint.is_finished(id)).collect();
        for id in finished {
            if let Some(link) = self.relay.as_mut() {
                super::p2p::release_route(link, super::p2p::route_for(&self.endpoint, id), now);
            }
            self.endpoint.remove(id);
            self.lingering.retain(|&l| l != id);
        }
        if let Some(link) = self.relay.as_mut() {
            while let Some((to, datagram)) = link.control.poll_transmit(now) {
                let _ = self.io.socket().send_to(&datagram, to);
            }
        }
    }

    /// The socket is about to close: connections still lingering send their CLOSE now rather
    /// than never (their peers learn of it at once instead of timing out), then everything
    /// due goes out.
    pub(super) fn stop_lingering(&mut self, now: u64) {
        for &id in &self.lingering {
            if let Some(session) = self.endpoint.session_mut(id) {
                session.stop_lingering();
            }
        }
        self.send_due(now);
    }

    /// Send what every connection has due.
    pub(super) fn send_due(&mut self, now: u64) {
        self.with_own_batch(|this, out| this.send_due_into(now, out));
    }

    /// [`send_due`](Self::send_due) into `out`.
    fn send_due_into(&mut self, now: u64, out: &mut Batcher<'_>) {
        let (fake, mut relay) = (&mut self.fake, self.relay.as_deref_mut());
        self.endpoint.transmit_all(now, |to, datagram| output(fake, out, relay.as_deref_mut(), now, to, datagram));
    }

    /// A socket that exists for one connection (a client's, a pair end's) whose connection is
    /// gone and through: the endpoint closes with it.
    pub(super) fn is_through(&self) -> bool {
        let closes_with_connection = !self.role.carries_many();
        closes_with_connection && self.had_connection && self.handles.is_empty() && self.lingering.is_empty()
    }

    /// Whether something waits for the interface: events, received or sent data to account,
    /// relay news, or an endpoint that is through.
    pub(super) fn is_unsettled(&self) -> bool {
        self.endpoint.has_events()
            || self.endpoint.has_touched()
            || self.relay.as_ref().is_some_and(|link| !link.news.is_empty())
            || self.is_through()
    }

    /// Connection `id` got its answer (connected, or ended): a relayed call stops repeating.
    pub(super) fn relay_answered(&mut self, id: ConnectionId) {
        if let Some(link) = self.relay.as_mut() {
            link.answered(super::p2p::route_for(&self.endpoint, id));
        }
    }

    /// Gather what one connection has due into `out`, without visiting the others.
    fn send_due_for(&mut self, id: ConnectionId, now: u64, out: &mut Batcher<'_>) {
        let (fake, mut relay) = (&mut self.fake, self.relay.as_deref_mut());
        self.endpoint.transmit_for(id, now, |to, datagram| output(fake, out, relay.as_deref_mut(), now, to, datagram));
    }

    /// Send what one connection has due, from the caller's thread, then re-arm the driver;
    /// the system calls come after the endpoint's lock is let go (the driver may want it).
    pub(super) fn send_now(mut this: EndpointGuard<'_>, id: ConnectionId, now: u64) {
        let io = this.io.clone();
        io::with_caller_outgoing(|outgoing| {
            let mut out = Batcher::new(&io, outgoing);
            this.send_due_for(id, now, &mut out);
            this.rearm();
            drop(this);
            drop(out); // the system calls
        });
    }

    /// Read what waits on the socket into the endpoint: a batch through `socket` (the driver's
    /// handle on it), or else (an application thread's read) as [`io::UdpIo::recv_some`]
    /// decides; `WouldBlock` when nothing waited.
    fn receive_batch(&mut self, now: u64, socket: Option<quinn_udp::UdpSockRef<'_>>) -> std::io::Result<io::Received> {
        let io = self.io.clone();
        match socket {
            Some(socket) => io.recv_batch(socket, |from, datagram| self.input(now, from, datagram)),
            None => io.recv_some(|from, datagram| self.input(now, from, datagram)),
        }
    }

    /// A datagram arrived from the socket: the relay's go to the relay link; the rest to the
    /// endpoint, through the fake network if on.
    fn input(&mut self, now: u64, from: SocketAddr, datagram: &[u8]) {
        if let Some(link) = self.relay.as_mut()
            && link.pops.on_pong(now, from, datagram)
        {
            return;
        }
        if let Some(link) = self.relay.as_mut().filter(|l| l.relay == from) {
            if let Some((stand_in, inner)) = link.input(now, datagram) {
                self.endpoint.handle_datagram(now, stand_in, inner);
            }
            return;
        }
        if self.fake.recv.config().is_perfect() && self.fake.recv.is_idle() {
            self.endpoint.handle_datagram(now, from, datagram);
        } else {
            self.fake.recv.send(now, (from, datagram.to_vec()), datagram.len());
        }
    }

    /// Let through what the fake network held back and is now due, both ways, then run the
    /// endpoint's timers if they are due. Returns whether anything reached the endpoint.
    fn advance(&mut self, now: u64) -> bool {
        let mut out = Batcher::new(&self.io, &mut self.outgoing);
        while let Some((to, datagram)) = self.fake.send.pop_arrived(now) {
            transmit(&mut out, self.relay.as_deref_mut(), now, to, &datagram);
        }
        drop(out);
        let mut any = false;
        while let Some((from, datagram)) = self.fake.recv.pop_arrived(now) {
            self.endpoint.handle_datagram(now, from, &datagram);
            any = true;
        }
        if self.endpoint.poll_timeout().is_some_and(|t| t <= now) {
            self.endpoint.handle_timeout(now);
            any = true;
        }
        any
    }

    /// The next time the driver must wake: endpoint timers or held datagrams.
    fn next_deadline(&mut self) -> Option<u64> {
        let link = self.relay.as_mut().and_then(|l| l.next_deadline());
        steamnet_proto::earliest([self.endpoint.poll_timeout(), self.fake.next_due(), link])
    }

    /// Stop the driver task.
    pub(super) fn shut_down(&self) {
        self.signal.close();
    }

    /// Work out the endpoint's next deadline and publish it for the driver, which is woken only
    /// if it would otherwise look too late.
    pub(super) fn rearm(&mut self) {
        let next = self.next_deadline();
        self.signal.publish(next);
    }

    /// Receive-buffer bytes its connections hold.
    pub(super) fn held_bytes(&self) -> usize {
        self.endpoint.held_bytes()
    }
}

impl Drop for UdpEndpoint {
    /// However the endpoint goes (closed, or its last connection gone), its driver stops.
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// Kernel buffer room each UDP socket asks for, each way. The usual default (208 KiB on
/// Linux) holds about 170 full datagrams: a burst at a high send rate, or a driver thread that
/// falls a moment behind, overflows it and every datagram past it is lost and sent again. Not
/// more than needed, though: under a flood, everything queued is work a server does before it
/// reaches an honest client's handshake (with 4 MiB the half-open flood test filled the table
/// too slowly one run in three). The kernel caps the request at `net.core.rmem_max`/`wmem_max`.
const SOCKET_BUFFER_BYTES: usize = 2 * 1024 * 1024;

fn socket_buffers(socket: &std::net::UdpSocket) {
    let socket = socket2::SockRef::from(socket);
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER_BYTES);
}

/// Send one datagram, through the fake network if it is on. A full socket buffer drops the
/// datagram, like any loss: the protocol recovers.
fn output(
    fake: &mut FakeNetwork,
    out: &mut Batcher<'_>,
    relay: Option<&mut super::p2p::RelayLink>,
    now: u64,
    to: SocketAddr,
    datagram: &[u8],
) {
    if fake.send.config().is_perfect() && fake.send.is_idle() {
        transmit(out, relay, now, to, datagram);
    } else {
        fake.send.send(now, (to, datagram.to_vec()), datagram.len());
    }
}

/// Put a datagram on its way: to a relayed peer's stand-in address through the relay link,
/// to anyone else on the socket.
fn transmit(
    out: &mut Batcher<'_>,
    relay: Option<&mut super::p2p::RelayLink>,
    now: u64,
    to: SocketAddr,
    datagram: &[u8],
) {
    match (super::relay_link::route_of(to), relay) {
        (Some(route), Some(link)) => link.forward(now, route, datagram, out.socket()),
        (Some(_), None) => {}
        (None, _) => out.push(to, datagram),
    }
}

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
            let mut ep = state.endpoints.lock(client).expect("just opened");
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
mod events;
mod io;
mod ops;
mod readiness;
mod table;

pub(super) use events::{deliver, end_connection, pump, settle};
pub(super) use ops::{accept, close, configure_lanes, congestion_summary, flush, send, session_status};
pub(super) use table::{EndpointGuard, Endpoints, lock as lock_endpoint};
