//! One UDP endpoint: a socket, its `steamnet_proto` [`Endpoint`], and the work it does on its
//! own (reading datagrams into the protocol, sending what is due, its timers, the fake network
//! and the relay link), whichever thread holds its lock. How the interface's calls reach it is
//! `udp.rs`'s; its driver task is `driver.rs`.

use super::*;

/// A UDP socket's protocol endpoint, with what it needs beside it: the socket, its batch of
/// datagrams on their way out, the fake network, its driver's signal, and the API handles of
/// its connections.
pub(in crate::sockets) struct UdpEndpoint {
    pub(in crate::sockets) endpoint: Endpoint,
    /// The socket, for sending and reading from any thread, with batched system calls. (Not
    /// the driver's tokio handle: a fresh tokio socket refuses sends until its reactor has seen
    /// it writable, which would hold the first datagram back.)
    pub(super) io: Arc<UdpIo>,
    /// The batch of datagrams being gathered.
    pub(super) outgoing: Outgoing,
    /// Fake loss, lag and the like, applied to both directions (a perfect link by default).
    pub(super) fake: FakeNetwork,
    /// The socket's own config (its listen socket's, or its one connection's).
    pub(in crate::sockets) config: ConnectionConfig,
    /// The config epoch `fake` was last set up for.
    pub(super) fake_epoch: u64,
    pub(super) signal: Arc<DriverSignal>,
    pub(in crate::sockets) role: Role,
    /// Whether a connection ever lived here (an endpoint that closes with its last connection
    /// must not close before its first).
    pub(in crate::sockets) had_connection: bool,
    /// Endpoint connection id -> API handle.
    pub(in crate::sockets) handles: IdMap<ConnectionId, Handle>,
    /// Connections the application closed with `linger` that are still flushing.
    pub(in crate::sockets) lingering: Vec<ConnectionId>,
    /// The P2P endpoint's connection to the relay (role [`Role::P2P`] only).
    pub(in crate::sockets) relay: Option<Box<crate::sockets::p2p::RelayLink>>,
}

impl UdpEndpoint {
    pub(in crate::sockets) fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.io.socket().local_addr()
    }

    /// This endpoint's socket exchanges datagrams with `peer` alone (see
    /// [`io::UdpIo::talk_only_to`]). If the system refuses, it goes on as it was.
    pub(in crate::sockets) fn talk_only_to(&self, peer: SocketAddr) {
        if let Err(error) = self.io.talk_only_to(peer) {
            tracing::debug!(%peer, %error, "the socket stays unconnected");
        }
    }

    pub(in crate::sockets) fn sender(&self) -> &std::net::UdpSocket {
        self.io.socket()
    }

    /// The relay link and the socket it sends on, together (P2P endpoint only).
    pub(in crate::sockets) fn link_and_sender(
        &mut self,
    ) -> Option<(&mut crate::sockets::p2p::RelayLink, &std::net::UdpSocket)> {
        Some((self.relay.as_deref_mut()?, self.io.socket()))
    }

    /// A one-byte datagram to `to` that dies two hops out: it opens our NAT's mapping towards
    /// `to` without reaching `to`'s NAT (see `ice::on_candidates`). Endpoints ignore it.
    pub(in crate::sockets) fn send_opener(&self, to: SocketAddr) {
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
    pub(in crate::sockets) fn run_own(&mut self, now: u64) {
        self.with_own_batch(|this, out| this.run_own_into(now, out));
    }

    /// Run `gather` with a batch on this endpoint's own buffers, which sends when `gather` is
    /// done (under the caller's lock: see [`run_own_into`](Self::run_own_into) for sending
    /// after it).
    pub(super) fn with_own_batch(&mut self, gather: impl FnOnce(&mut Self, &mut Batcher<'_>)) {
        let io = self.io.clone();
        let mut outgoing = std::mem::take(&mut self.outgoing);
        gather(self, &mut Batcher::new(&io, &mut outgoing));
        self.outgoing = outgoing;
    }

    /// [`run_own`](Self::run_own), gathering what is due into `out`, whose system calls are
    /// the caller's to make (the driver makes them after letting go of the endpoint's lock).
    pub(in crate::sockets) fn run_own_into(&mut self, now: u64, out: &mut Batcher<'_>) {
        crate::sockets::p2p::run_link(self, now);
        self.send_due_into(now, out);
        // Closed connections that are through (at once, or after lingering): forget them.
        let finished: Vec<ConnectionId> =
            self.lingering.iter().copied().filter(|&id| self.endpoint.is_finished(id)).collect();
        for id in finished {
            if let Some(link) = self.relay.as_mut() {
                crate::sockets::p2p::release_route(link, crate::sockets::p2p::route_for(&self.endpoint, id), now);
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
    pub(in crate::sockets) fn stop_lingering(&mut self, now: u64) {
        for &id in &self.lingering {
            if let Some(session) = self.endpoint.session_mut(id) {
                session.stop_lingering();
            }
        }
        self.send_due(now);
    }

    /// Send what every connection has due.
    pub(in crate::sockets) fn send_due(&mut self, now: u64) {
        self.with_own_batch(|this, out| this.send_due_into(now, out));
    }

    /// [`send_due`](Self::send_due) into `out`.
    pub(super) fn send_due_into(&mut self, now: u64, out: &mut Batcher<'_>) {
        let (fake, mut relay) = (&mut self.fake, self.relay.as_deref_mut());
        self.endpoint.transmit_all(now, |to, datagram| output(fake, out, relay.as_deref_mut(), now, to, datagram));
    }

    /// A socket that exists for one connection (a client's, a pair end's) whose connection is
    /// gone and through: the endpoint closes with it.
    pub(in crate::sockets) fn is_through(&self) -> bool {
        let closes_with_connection = !self.role.carries_many();
        closes_with_connection && self.had_connection && self.handles.is_empty() && self.lingering.is_empty()
    }

    /// Whether something waits for the interface: events, received or sent data to account,
    /// relay news, or an endpoint that is through.
    pub(in crate::sockets) fn is_unsettled(&self) -> bool {
        self.endpoint.has_events()
            || self.endpoint.has_touched()
            || self.relay.as_ref().is_some_and(|link| !link.news.is_empty())
            || self.is_through()
    }

    /// Connection `id` got its answer (connected, or ended): a relayed call stops repeating.
    pub(in crate::sockets) fn relay_answered(&mut self, id: ConnectionId) {
        if let Some(link) = self.relay.as_mut() {
            link.answered(crate::sockets::p2p::route_for(&self.endpoint, id));
        }
    }

    /// Gather what one connection has due into `out`, without visiting the others.
    pub(super) fn send_due_for(&mut self, id: ConnectionId, now: u64, out: &mut Batcher<'_>) {
        let (fake, mut relay) = (&mut self.fake, self.relay.as_deref_mut());
        self.endpoint.transmit_for(id, now, |to, datagram| output(fake, out, relay.as_deref_mut(), now, to, datagram));
    }

    /// Send what one connection has due, from the caller's thread, then re-arm the driver;
    /// the system calls come after the endpoint's lock is let go (the driver may want it).
    pub(in crate::sockets) fn send_now(mut this: EndpointGuard<'_>, id: ConnectionId, now: u64) {
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
    pub(super) fn receive_batch(
        &mut self,
        now: u64,
        socket: Option<quinn_udp::UdpSockRef<'_>>,
    ) -> std::io::Result<io::Received> {
        let io = self.io.clone();
        match socket {
            Some(socket) => io.recv_batch(socket, |from, datagram| self.input(now, from, datagram)),
            None => io.recv_some(|from, datagram| self.input(now, from, datagram)),
        }
    }

    /// A datagram arrived from the socket: the relay's go to the relay link; the rest to the
    /// endpoint, through the fake network if on.
    pub(super) fn input(&mut self, now: u64, from: SocketAddr, datagram: &[u8]) {
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
    pub(super) fn advance(&mut self, now: u64) -> bool {
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
    pub(super) fn next_deadline(&mut self) -> Option<u64> {
        let link = self.relay.as_mut().and_then(|l| l.next_deadline());
        steamnet_proto::earliest([self.endpoint.poll_timeout(), self.fake.next_due(), link])
    }

    /// Stop the driver task.
    pub(in crate::sockets) fn shut_down(&self) {
        self.signal.close();
    }

    /// Work out the endpoint's next deadline and publish it for the driver, which is woken only
    /// if it would otherwise look too late.
    pub(in crate::sockets) fn rearm(&mut self) {
        let next = self.next_deadline();
        self.signal.publish(next);
    }

    /// Receive-buffer bytes its connections hold.
    pub(in crate::sockets) fn held_bytes(&self) -> usize {
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

pub(super) fn socket_buffers(socket: &std::net::UdpSocket) {
    let socket = socket2::SockRef::from(socket);
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER_BYTES);
}

/// Send one datagram, through the fake network if it is on. A full socket buffer drops the
/// datagram, like any loss: the protocol recovers.
pub(super) fn output(
    fake: &mut FakeNetwork,
    out: &mut Batcher<'_>,
    relay: Option<&mut crate::sockets::p2p::RelayLink>,
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
pub(super) fn transmit(
    out: &mut Batcher<'_>,
    relay: Option<&mut crate::sockets::p2p::RelayLink>,
    now: u64,
    to: SocketAddr,
    datagram: &[u8],
) {
    match (crate::sockets::relay_link::route_of(to), relay) {
        (Some(route), Some(link)) => link.forward(now, route, datagram, out.socket()),
        (Some(_), None) => {}
        (None, _) => out.push(to, datagram),
    }
}
