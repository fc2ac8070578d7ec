//! Paths: direct-path candidates from the peer, validating a new path before moving to it, and
//! falling back to the relay path when a direct one goes quiet.

use super::*;

impl Endpoint {
    /// Point connection `id` at `address`: traffic goes there from now on.
    pub(super) fn move_path(
        events: &mut VecDeque<EndpointEvent>,
        id: ConnectionId,
        conn: &mut Connection,
        address: SocketAddr,
        now: u64,
    ) {
        conn.peer = address;
        conn.probes.retain(|p| p.address != address);
        // Off its fallback path, a connection keeps the path it is on checked every second,
        // so that it notices within FALLBACK_AFTER_USEC when it breaks, idle or not.
        let off_fallback = conn.fallback.is_some_and(|f| f != address);
        if let Phase::Established { session, .. } = &mut conn.phase {
            session.on_path_changed(now);
            session.set_keepalive_override(off_fallback.then_some(PATH_KEEPALIVE_USEC));
        }
        events.push_back(EndpointEvent::PathChanged { id, address });
    }

    /// Tell the peer of connection `id` it can also reach us at `addresses` (at most
    /// [`MAX_CANDIDATES`]), sealed like any control message.
    pub fn send_candidates(&mut self, id: ConnectionId, addresses: &[SocketAddr]) {
        let Some(conn) = self.connections.get_mut(&id) else { return };
        let body = encode_candidates(&addresses[..addresses.len().min(MAX_CANDIDATES)]);
        if let Some(datagram) = conn.control_datagram(CONTROL_CANDIDATES, &body) {
            let peer = conn.peer;
            conn.outbox.push_back((peer, datagram));
        }
        self.mark(id);
    }

    /// Check whether the peer of connection `id` answers at `address`; a
    /// [`EndpointEvent::PathValidated`] follows if it does.
    pub fn probe_path(&mut self, now: u64, id: ConnectionId, address: SocketAddr) {
        let Some(conn) = self.connections.get_mut(&id) else { return };
        if address == conn.peer || conn.probes.len() >= MAX_PROBES || conn.probes.iter().any(|p| p.address == address) {
            return;
        }
        // The first challenge waits a moment, so the peer's own first packets towards us (its
        // NAT openers) go out before ours arrive.
        let mut probe = PathProbe::new(address, now, false);
        probe.retry_at = now + PATH_RETRY_USEC;
        conn.probes.push(probe);
        self.mark(id);
    }

    /// Move connection `id` onto `address` (a path [`probe_path`](Self::probe_path) validated).
    pub fn switch_path(&mut self, now: u64, id: ConnectionId, address: SocketAddr) {
        let Some(conn) = self.connections.get_mut(&id) else { return };
        if conn.peer != address {
            Self::move_path(&mut self.events, id, conn, address, now);
            conn.last_heard = now;
            self.mark(id);
        }
    }

    /// The fallback path of connection `id`, if it has one.
    pub fn fallback_path(&self, id: ConnectionId) -> Option<SocketAddr> {
        self.connections.get(&id)?.fallback
    }

    /// The path connection `id` returns to when its current one goes quiet for 3 s.
    pub fn set_fallback_path(&mut self, id: ConnectionId, address: SocketAddr) {
        if let Some(conn) = self.connections.get_mut(&id) {
            conn.fallback = Some(address);
        }
    }
}
