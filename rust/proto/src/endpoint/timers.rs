//! Timers and transmission: the heap of connection deadlines, running those that are due, and
//! sending what the connections with news have ready.

use super::*;

impl Endpoint {
    /// Note that connection `id` may have a new deadline or something to send.
    pub(super) fn mark(&mut self, id: ConnectionId) {
        if let Some(conn) = self.connections.get_mut(&id)
            && !conn.dirty
        {
            conn.dirty = true;
            self.dirty.push(id);
        }
    }

    /// Bring the timer heap up to date for every marked connection, and unmark them.
    pub(super) fn settle(&mut self) {
        // Most calls find nothing marked (it runs before every deadline query): cheaply.
        if self.dirty.is_empty() {
            return;
        }
        let timeout = self.config.handshake_timeout_usec;
        // Taken and put back, so the list keeps its room and marking allocates nothing.
        let mut dirty = std::mem::take(&mut self.dirty);
        for id in dirty.drain(..) {
            let Some(conn) = self.connections.get_mut(&id) else { continue };
            conn.dirty = false;
            let deadline = conn.deadline(timeout);
            if deadline != conn.scheduled {
                conn.scheduled = deadline;
                if let Some(at) = deadline {
                    self.timers.push(Reverse((at, id)));
                }
            }
        }
        self.dirty = dirty;
        // Superseded entries pile up while deadlines move; rebuild now and then.
        if self.timers.len() > 64 + 4 * self.connections.len() {
            self.timers =
                self.connections.iter().filter_map(|(&id, c)| c.scheduled.map(|at| Reverse((at, id)))).collect();
        }
    }

    /// The earliest live timer, dropping stale entries on the way.
    pub(super) fn earliest_timer(&mut self) -> Option<(u64, ConnectionId)> {
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if self.connections.get(&id).is_some_and(|c| c.scheduled == Some(at)) {
                return Some((at, id));
            }
            self.timers.pop();
        }
        None
    }

    /// The next datagram to send and where to. Call until `None`.
    pub fn poll_transmit(&mut self, now: u64) -> Option<(SocketAddr, Vec<u8>)> {
        if let Some(out) = self.stateless_out.pop() {
            return Some(out);
        }
        for i in 0..self.dirty.len() {
            let id = self.dirty[i];
            let Some(conn) = self.connections.get_mut(&id) else { continue };
            if let Some(to) = Self::transmit_one(conn, now, &mut self.buffers) {
                self.touched.push(id);
                return Some((to, self.buffers.datagram.clone()));
            }
        }
        None
    }

    /// Everything due on the connections with news, visiting each once: what a driver calls
    /// after datagrams, timers or application calls.
    pub fn transmit_all(&mut self, now: u64, mut send: impl FnMut(SocketAddr, &[u8])) {
        for (to, datagram) in self.stateless_out.drain(..) {
            send(to, &datagram);
        }
        for i in 0..self.dirty.len() {
            let id = self.dirty[i];
            self.transmit_connection(id, now, &mut send);
        }
        self.settle();
    }

    /// Like [`transmit_all`](Self::transmit_all), for one connection only: what an
    /// application call on that connection made due, without looking at any other.
    pub fn transmit_for(&mut self, id: ConnectionId, now: u64, mut send: impl FnMut(SocketAddr, &[u8])) {
        self.mark(id);
        self.transmit_connection(id, now, &mut send);
    }

    /// Everything one connection has due, each datagram handed to `send` from the reused buffer.
    fn transmit_connection(&mut self, id: ConnectionId, now: u64, send: &mut impl FnMut(SocketAddr, &[u8])) {
        let Some(conn) = self.connections.get_mut(&id) else { return };
        let mut any = false;
        while let Some(to) = Self::transmit_one(conn, now, &mut self.buffers) {
            send(to, &self.buffers.datagram);
            any = true;
        }
        if any {
            self.touched.push(id);
        }
    }

    /// The connection's next datagram, into `buffers.datagram`; where it goes.
    pub(super) fn transmit_one(conn: &mut Connection, now: u64, buffers: &mut Buffers) -> Option<SocketAddr> {
        let mut from_vec = |(to, datagram): (SocketAddr, Vec<u8>)| {
            buffers.datagram.clear();
            buffers.datagram.extend_from_slice(&datagram);
            Some(to)
        };
        if let Some(out) = conn.outbox.pop_front() {
            return from_vec(out);
        }
        // Addresses that never answered: stay where we are.
        conn.probes.retain(|p| p.retry_at > now || p.tries < PATH_MAX_TRIES);
        if let Some(probe) = conn.probes.iter_mut().find(|p| p.retry_at <= now) {
            probe.tries += 1;
            probe.retry_at = now + PATH_RETRY_USEC;
            probe.sent_at = now;
            let (address, token) = (probe.address, probe.token);
            if let Some(challenge) = conn.control_datagram(CONTROL_PATH_CHALLENGE, &token) {
                return from_vec((address, challenge));
            }
        }
        let Phase::Established { crypto, session } = &mut conn.phase else { return None };
        if !session.poll_transmit_into(now, &mut buffers.packet) {
            if matches!(session.state(), SessionState::ClosedLocally) && conn.closing_until.is_none() {
                conn.closing_until = Some(now + CLOSE_WAIT_USEC); // CLOSE is out; answer stragglers
            }
            return None;
        }
        seal_data(crypto, conn.remote_id, &buffers.packet, &mut buffers.datagram).then_some(conn.peer)
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due (0: output is waiting).
    /// Costs O(log n) in the connections with timers, not a scan of all of them.
    pub fn poll_timeout(&mut self) -> Option<u64> {
        self.settle();
        if !self.stateless_out.is_empty() {
            return Some(0);
        }
        self.earliest_timer().map(|(at, _)| at)
    }

    /// Run every timer that is due: handshake retries and timeouts, session timers, path
    /// validation, the end of closing. Only connections whose deadline passed are visited.
    pub fn handle_timeout(&mut self, now: u64) {
        self.settle();
        let mut due = std::mem::take(&mut self.due); // put back below, with its room
        while let Some((at, id)) = self.earliest_timer() {
            if at > now {
                break;
            }
            self.timers.pop();
            if let Some(conn) = self.connections.get_mut(&id) {
                conn.scheduled = None;
            }
            due.push(id);
        }
        for &id in &due {
            self.timeout_one(id, now);
            self.mark(id);
        }
        due.clear();
        self.due = due;
    }

    pub(super) fn timeout_one(&mut self, id: ConnectionId, now: u64) {
        let Some(conn) = self.connections.get_mut(&id) else { return };
        let timeout = conn.handshake_timeout.unwrap_or(self.config.handshake_timeout_usec);
        match &mut conn.phase {
            Phase::ClientRequest | Phase::ClientHello { .. } | Phase::ClientAwaitAccept { .. } => {
                if now >= conn.started + timeout {
                    conn.phase = Phase::Ended;
                    self.events.push_back(EndpointEvent::ProblemDetected { id, problem: ConnectionProblem::Timeout });
                    return;
                }
                if now >= conn.retry_at {
                    let resend = match &conn.phase {
                        Phase::ClientRequest => request_datagram(id, self.config.cipher),
                        Phase::ClientHello { hello, .. } => hello.clone(),
                        Phase::ClientAwaitAccept { finish, .. } => finish.clone(),
                        _ => unreachable!(),
                    };
                    conn.outbox.push_back((conn.peer, resend));
                    conn.retry_interval = (conn.retry_interval * 3 / 2).min(HANDSHAKE_RETRY_MAX_USEC);
                    conn.retry_at = now + conn.retry_interval;
                }
            }
            Phase::ServerHandshake { .. } | Phase::ServerAwaitAccept { .. } => {
                if now < conn.started + timeout {
                    return;
                }
                // An unaccepted incoming connection the application knows about ends as a
                // timeout; a half-finished handshake it never saw just disappears.
                if matches!(conn.phase, Phase::ServerAwaitAccept { .. }) {
                    conn.phase = Phase::Ended;
                    self.events.push_back(EndpointEvent::ProblemDetected { id, problem: ConnectionProblem::Timeout });
                } else {
                    self.remove(id);
                }
            }
            Phase::Established { .. } => {
                if conn.closing_until.is_some_and(|t| t <= now) {
                    conn.phase = Phase::Ended;
                    return;
                }
                if let Some(fallback) = conn.fallback.filter(|&f| f != conn.peer)
                    && now >= conn.last_heard + FALLBACK_AFTER_USEC
                {
                    tracing::info!(id, from = %conn.peer, to = %fallback, "path went quiet: back to the fallback path");
                    conn.last_heard = now;
                    Self::move_path(&mut self.events, id, conn, fallback, now);
                    return;
                }
                let Phase::Established { session, .. } = &mut conn.phase else { unreachable!() };
                let was_connected = session.is_connected();
                session.handle_timeout(now);
                if was_connected {
                    Self::report_session_end(&mut self.events, id, session);
                }
            }
            Phase::Ended => {}
        }
    }
}
