//! Demultiplexing: which connection (or handshake step) an arriving datagram belongs to, decryption
//! and the replay window for data, and control messages (reject, path challenge and response,
//! candidates).

use super::*;

impl Endpoint {
    pub fn handle_datagram(&mut self, now: u64, from: SocketAddr, datagram: &[u8]) {
        let outcome = match datagram.first() {
            Some(&KIND_REQUEST) => self.on_request(now, from, datagram),
            Some(&KIND_CHALLENGE) => self.on_challenge(from, datagram),
            Some(&KIND_HELLO) => self.on_hello(now, from, datagram),
            Some(&KIND_REPLY) => self.on_reply(now, from, datagram),
            Some(&KIND_FINISH) => self.on_finish(now, from, datagram),
            Some(&KIND_DATA) => self.on_data(now, from, datagram),
            Some(&KIND_CONTROL) => self.on_control(now, from, datagram),
            _ => Err(Dropped::Malformed),
        };
        match outcome {
            Err(why) => {
                self.stats.dropped_datagrams += 1;
                if why == Dropped::Replay {
                    self.stats.replays_refused += 1;
                }
                let kind = datagram.first().copied();
                tracing::trace!(target: "steamnet::packet_decode", %from, ?kind, ?why, "datagram dropped");
            }
            Ok(()) => {
                // Every kind but the client's first two names our connection id: that
                // connection may have news.
                if !matches!(datagram.first(), Some(&KIND_REQUEST | &KIND_HELLO))
                    && let Some(id) = read_u32(datagram, 1)
                {
                    self.mark(id);
                }
            }
        }
    }

    pub(super) fn on_data(&mut self, now: u64, from: SocketAddr, d: &[u8]) -> Result<(), Dropped> {
        let (Some(id), Some(number)) = (read_u32(d, 1), read_u64(d, 5)) else { return Err(Dropped::Malformed) };
        if number & CONTROL_NONCE_BIT != 0 {
            return Err(Dropped::Malformed);
        }
        let conn = self.connections.get_mut(&id).ok_or(Dropped::UnknownConnection)?;
        if !matches!(conn.phase, Phase::Established { .. } | Phase::ClientAwaitAccept { .. }) {
            return Err(Dropped::WrongPhase);
        }
        let crypto = conn.phase.crypto().expect("keys in these phases");
        let plain = &mut self.buffers.plain;
        Self::open(crypto, &mut conn.data_window, (number, number), d, plain)?;
        if let Phase::ClientAwaitAccept { .. } = conn.phase {
            let Phase::ClientAwaitAccept { crypto, identity, .. } = std::mem::replace(&mut conn.phase, Phase::Ended)
            else {
                unreachable!()
            };
            let session = Session::new(self.config.session.clone(), now);
            conn.phase = Phase::Established { crypto, session: Box::new(session) };
            self.events.push_back(EndpointEvent::Connected { id, identity });
        }
        if from == conn.peer {
            conn.last_heard = now;
        } else if conn.fallback == Some(from) {
            // Stragglers on the path we left, or a peer that fell back to it already: either
            // way, our own fallback timer decides, after the current path has gone quiet.
        } else {
            let probing = conn.probes.len();
            match conn.probes.iter_mut().find(|p| p.address == from) {
                // A candidate being checked is in use by the peer already: follow it there.
                Some(probe) => probe.moves = true,
                None if probing < MAX_PROBES => {
                    // Genuine and fresh, from somewhere new: the peer may have moved. Check it.
                    tracing::debug!(target: "steamnet::p2p_rendezvous", id, %from, "authenticated packet from a new address: validating the path");
                    conn.probes.push(PathProbe::new(from, now, true));
                }
                None => {}
            }
        }
        // Everything the other connections hold counts against what this one may take.
        let others = self.held_total - conn.held;
        let Phase::Established { session, .. } = &mut conn.phase else { unreachable!() };
        session.set_recv_cap(self.config.memory_budget.saturating_sub(others));
        let was_connected = session.is_connected();
        session.handle_packet(now, number, plain);
        let held = session.recv_held().total();
        self.held_total = others + held;
        conn.held = held;
        self.touched.push(id);
        if was_connected {
            Self::report_session_end(&mut self.events, id, session);
        }
        Ok(())
    }

    pub(super) fn on_control(&mut self, now: u64, from: SocketAddr, d: &[u8]) -> Result<(), Dropped> {
        let (Some(id), Some(nonce)) = (read_u32(d, 1), read_u64(d, 5)) else { return Err(Dropped::Malformed) };
        if nonce & CONTROL_NONCE_BIT == 0 {
            return Err(Dropped::Malformed);
        }
        let conn = self.connections.get_mut(&id).ok_or(Dropped::UnknownConnection)?;
        let crypto = conn.phase.crypto().ok_or(Dropped::WrongPhase)?;
        let mut plain = Vec::new(); // control messages are rare: path checks, rejections
        Self::open(crypto, &mut conn.control_window, (nonce & !CONTROL_NONCE_BIT, nonce), d, &mut plain)?;
        let (Some(&kind), body) = (plain.first(), plain.get(1..).unwrap_or_default()) else {
            return Err(Dropped::Malformed);
        };
        match kind {
            CONTROL_REJECT => {
                if !matches!(conn.phase, Phase::ClientAwaitAccept { .. }) {
                    return Err(Dropped::WrongPhase);
                }
                conn.phase = Phase::Ended;
                let (reason, text) = parse_reject(body);
                self.events.push_back(EndpointEvent::ClosedByPeer { id, reason, text });
                Ok(())
            }
            CONTROL_PATH_CHALLENGE => {
                // Answer to where the challenge came from: that is the path being checked.
                let response = conn.control_datagram(CONTROL_PATH_RESPONSE, body).ok_or(Dropped::WrongPhase)?;
                conn.outbox.push_back((from, response));
                Ok(())
            }
            CONTROL_PATH_RESPONSE => {
                let Some(at) = conn
                    .probes
                    .iter()
                    .position(|p| p.address == from && crate::cookie::constant_time_eq(&p.token, body))
                else {
                    return Err(Dropped::UnknownPath);
                };
                let probe = conn.probes.swap_remove(at);
                conn.last_heard = now;
                if !probe.moves {
                    let rtt_usec = now.saturating_sub(probe.sent_at);
                    tracing::debug!(target: "steamnet::p2p_rendezvous", id, %from, rtt_usec, "candidate path works");
                    self.events.push_back(EndpointEvent::PathValidated { id, address: from, rtt_usec });
                    return Ok(());
                }
                tracing::info!(id, old = %conn.peer, new = %from, "peer moved; path validated");
                Self::move_path(&mut self.events, id, conn, from, now);
                self.stats.migrations += 1;
                self.touched.push(id);
                Ok(())
            }
            CONTROL_CANDIDATES => {
                let addresses = parse_candidates(body);
                if !addresses.is_empty() {
                    self.events.push_back(EndpointEvent::Candidates { id, addresses });
                }
                Ok(())
            }
            _ => Err(Dropped::Malformed),
        }
    }

    pub(super) fn report_session_end(events: &mut VecDeque<EndpointEvent>, id: ConnectionId, session: &Session) {
        match session.state() {
            SessionState::ProblemDetected { reason: Problem::ProtocolViolation } => {
                tracing::warn!(id, "peer broke the protocol; connection ended");
                events.push_back(EndpointEvent::ProblemDetected { id, problem: ConnectionProblem::ProtocolViolation });
            }
            SessionState::ClosedByPeer { reason, text } => {
                events.push_back(EndpointEvent::ClosedByPeer { id, reason: *reason, text: text.clone() })
            }
            SessionState::ProblemDetected { reason } => {
                let problem = match reason {
                    Problem::Timeout => ConnectionProblem::Timeout,
                    Problem::ProtocolViolation => ConnectionProblem::ProtocolViolation,
                };
                events.push_back(EndpointEvent::ProblemDetected { id, problem });
            }
            _ => {}
        }
    }
}
