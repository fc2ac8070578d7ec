//! Everything that happens on a UDP endpoint reaches the sockets' state here: endpoint events
//! become connection states and callbacks, relay news becomes relay status and ended calls, and
//! received messages move into the connections' queues. The endpoint's own work (sending what
//! is due, its relay link, forgetting finished connections) is [`UdpEndpoint::run_own`], which
//! its driver runs too, without the interface's lock.

use smallvec::SmallVec;

use super::*;

/// After anything happened on an endpoint: let it do its own work, then turn what it left for
/// the application into API state and callbacks and move received messages into the
/// connections' queues; last, send what that led to and re-arm the driver.
pub(in crate::sockets) fn pump(state: &mut State, key: EndpointKey, now: u64) {
    let Some(shared) = state.endpoints.shared(key) else { return };
    pump_locked(state, key, table::lock(key, &shared), now);
}

/// [`pump`], for a caller that holds the endpoint's lock already (through its own handle on
/// the endpoint, so that `state` stays free). The lock is kept throughout when nothing needs
/// the interface's state while the endpoint is free (no events, no relay news): the usual case
/// of datagrams that only carry messages and acknowledgements.
pub(in crate::sockets) fn pump_locked(state: &mut State, key: EndpointKey, mut guard: EndpointGuard<'_>, now: u64) {
    let ep = &mut *guard;
    if ep.fake_epoch != state.config_epoch {
        ep.fake.configure(&ep.config, &state.global_config);
        ep.fake_epoch = state.config_epoch;
    }
    ep.run_own(now);
    if ep.is_through() {
        drop(guard);
        state.endpoints.remove(key); // its driver stops as it drops
        return;
    }
    let news = ep.relay.as_mut().map(|link| std::mem::take(&mut link.news)).unwrap_or_default();
    let mut events = Vec::new();
    while let Some(event) = ep.endpoint.poll_event() {
        events.push(event);
    }
    let role = ep.role;
    // Usually the one connection a datagram or a call was about: kept inline, as this runs for
    // every datagram the application reads.
    let mut touched: SmallVec<[(ConnectionId, Handle); 4]> = SmallVec::new();
    let mut counters: SmallVec<[(Handle, [u64; 4]); 4]> = SmallVec::new();
    for id in ep.endpoint.take_touched() {
        let Some(&handle) = ep.handles.get(&id) else { continue };
        touched.push((id, handle));
        if let Some(session) = ep.endpoint.session(id) {
            counters.push((handle, session.traffic()));
        }
    }
    if events.is_empty() && news.is_empty() {
        record_traffic(state, counters, now);
        return finish(state, key, guard, touched, now);
    }
    drop(guard);
    p2p::apply_link_news(state, key, news, now);
    for event in events {
        // What the event leads to (state changes, refusals, path moves) is traced within the
        // connection it is about: its handle, once it has one, and its id on the endpoint.
        let id = event.id();
        let handle = handle_of(state, key, id).unwrap_or(INVALID_HANDLE);
        let _span = tracing::error_span!("connection", handle, id).entered();
        apply_event(state, key, role, event, now);
    }
    record_traffic(state, counters, now);
    let Some(shared) = state.endpoints.shared(key) else { return };
    finish(state, key, table::lock(key, &shared), touched, now);
}

/// The end of a pump, under the endpoint's lock: the touched connections' messages into their
/// queues, then what that led to sent and the driver re-armed, unless applying events made
/// more (a loopback pair's accept), which go round once more.
fn finish(
    state: &mut State,
    key: EndpointKey,
    mut ep: EndpointGuard<'_>,
    touched: SmallVec<[(ConnectionId, Handle); 4]>,
    now: u64,
) {
    for (id, handle) in touched {
        deliver_from(state, &mut ep, id, handle, now);
    }
    if ep.endpoint.has_events() {
        drop(ep);
        return pump(state, key, now);
    }
    ep.send_due(now);
    ep.rearm();
}

/// The connections' traffic counters, for their rate figures.
fn record_traffic(state: &mut State, counters: SmallVec<[(Handle, [u64; 4]); 4]>, now: u64) {
    for (handle, counts) in counters {
        if let Some(conn) = state.connections.get_mut(&handle) {
            let [po, bo, pi, bi] = counts;
            let [cpo, cbo, cpi, cbi] = conn.counted;
            conn.sent.record_many(now, po - cpo, bo - cbo);
            conn.received.record_many(now, pi - cpi, bi - cbi);
            conn.counted = counts;
        }
    }
}

/// Settle what the drivers left in their endpoints (see `table.rs`).
pub(in crate::sockets) fn settle(state: &mut State, now: u64) {
    for key in state.endpoints.take_unsettled() {
        pump(state, key, now);
    }
}

/// Move what a connection received into its queue for the application, as far as the queue's
/// limits (`RECV_BUFFER_SIZE`, `RECV_BUFFER_MESSAGES`) allow. The rest waits in the session,
/// where it counts against the session's own budget, so a peer whose messages are not read
/// soon has its further data refused rather than held without bound.
pub(in crate::sockets) fn deliver(state: &mut State, key: EndpointKey, id: ConnectionId, handle: Handle, now: u64) {
    let Some(shared) = state.endpoints.shared(key) else { return };
    deliver_from(state, &mut table::lock(key, &shared), id, handle, now);
}

/// [`deliver`] from an endpoint the caller holds locked.
fn deliver_from(state: &mut State, ep: &mut UdpEndpoint, id: ConnectionId, handle: Handle, now: u64) {
    let Some(conn) = state.connections.get(&handle) else { return };
    // Read once per call, not once per message.
    let max_messages = conn.config.int32(ids::RECV_BUFFER_MESSAGES).max(1) as usize;
    let max_bytes = conn.config.int32(ids::RECV_BUFFER_SIZE).max(1) as usize;
    loop {
        let Some(conn) = state.connections.get_mut(&handle) else { return };
        let full = conn.inbox.len() >= max_messages || conn.inbox_bytes >= max_bytes;
        conn.backlogged = full;
        if full {
            return;
        }
        let identity = conn.remote_identity.steam_id64();
        let Some(message) = ep.endpoint.poll_message(id) else { return };
        let received = ReceivedMessage {
            payload: message.data,
            connection: handle,
            identity,
            receiver_user_data: -1,
            time_received: now as i64,
            message_number: message.number as i64,
            flags: if message.reliable { send_flags::RELIABLE } else { 0 },
            lane: message.lane,
        };
        state.enqueue(handle, received);
    }
}

fn apply_event(state: &mut State, key: EndpointKey, role: Role, event: EndpointEvent, now: u64) {
    let listen_socket = role.listen_socket();
    match event {
        // A peer with a verified certificate is known by its identity; an anonymous one only
        // by its address (Steam ID 0), unauthenticated.
        EndpointEvent::Incoming { id, address, identity } => {
            let relayed = role == Role::P2P;
            let listen_socket = if relayed {
                match p2p::incoming_listen_socket(state, key, address, identity) {
                    Some(listen) => listen,
                    None => {
                        // Not who the relay announced, or nobody listens there any more.
                        if let Some(mut ep) = state.endpoints.lock(key) {
                            ep.endpoint.close(
                                id,
                                steamnet_proto::end_reason::REMOTE_BAD_CERT,
                                "not the identity this route was opened for",
                                false,
                            );
                            ep.lingering.push(id);
                        }
                        return;
                    }
                }
            } else {
                listen_socket
            };
            let config = state.listen_sockets.get(&listen_socket).map(|l| l.config.clone()).unwrap_or_default();
            let handle = state.allocate_handle();
            let mut conn = Connection::new(Identity::Ip(address), config, Transport::Udp { endpoint: key, id });
            conn.set_verified_identity(identity);
            // A relayed peer's address is not ours to know (GNS shows a cleared address too).
            conn.remote_address = (!relayed).then_some(address);
            conn.listen_socket = listen_socket;
            conn.state = ConnectionState::Connecting;
            state.connections.insert(handle, conn);
            let Some(mut ep) = state.endpoints.lock(key) else { return };
            ep.handles.insert(id, handle);
            ep.had_connection = true;
            if role == Role::Pair {
                // The other end of a loopback pair: accepted at once, quietly.
                ep.endpoint.accept(now, id);
            } else {
                drop(ep);
                state.post_status_change(handle, ConnectionState::None);
            }
        }
        EndpointEvent::Connected { id, identity } => {
            if role == Role::P2P
                && let Some(expected) = p2p::expected_peer(state, key, id).map(|r| r.peer).filter(|&p| p != 0)
                && identity != Some(expected)
            {
                let text = format!("Cert was issued to steamid:{}, not steamid:{expected}", identity.unwrap_or(0));
                if let Some(mut ep) = state.endpoints.lock(key) {
                    ep.endpoint.close(id, steamnet_proto::end_reason::REMOTE_BAD_CERT, &text, false);
                }
                end_connection(
                    state,
                    key,
                    id,
                    ConnectionState::ProblemDetectedLocally,
                    end_reason::REMOTE_BAD_CERT,
                    text,
                );
                return;
            }
            if let Some(mut ep) = state.endpoints.lock(key) {
                ep.relay_answered(id);
            }
            let Some(handle) = handle_of(state, key, id) else { return };
            let Some(conn) = state.connections.get_mut(&handle) else { return };
            conn.set_verified_identity(identity);
            let old = conn.state;
            conn.state = ConnectionState::Connected;
            let preconnect = std::mem::take(&mut conn.preconnect);
            let lanes = conn.lanes.clone();
            if let Some(mut ep) = state.endpoints.lock(key)
                && let Some(session) = ep.endpoint.session_mut(id)
            {
                // The lanes as configured, and the numbers the messages sent meanwhile took.
                session.adopt_lanes(lanes);
                for (lane, number, data, flags) in preconnect {
                    let message = steamnet_proto::Numbered { lane, number, data: &data, send_flags: flags };
                    let _ = session.send_numbered(now, message, steamnet_proto::Admit::Already);
                }
            }
            if role == Role::P2P {
                ice::on_connected(state, key, id, handle);
            }
            if role != Role::Pair {
                state.post_status_change(handle, old);
            }
        }
        EndpointEvent::Candidates { id, addresses } => ice::on_candidates(state, key, id, &addresses, now),
        EndpointEvent::PathValidated { id, address, rtt_usec } => {
            ice::on_path_validated(state, key, id, address, rtt_usec, now)
        }
        EndpointEvent::PathChanged { id, address } => {
            // The peer moved (NAT rebinding) and proved it, or a P2P connection changed path:
            // report where it is now (a relayed peer's address stays unknown).
            if let Some(conn) = handle_of(state, key, id).and_then(|h| state.connections.get_mut(&h)) {
                conn.remote_address = relay_link::route_of(address).is_none().then_some(address);
                if matches!(conn.remote_identity, Identity::Ip(_)) {
                    conn.remote_identity = Identity::Ip(address);
                }
            }
        }
        EndpointEvent::ClosedByPeer { id, reason, text } => {
            end_connection(state, key, id, ConnectionState::ClosedByPeer, reason as i32, text);
        }
        EndpointEvent::Refused { id, reason, text } => {
            end_connection(state, key, id, ConnectionState::ProblemDetectedLocally, reason as i32, text);
        }
        EndpointEvent::ProblemDetected { id, problem } => {
            let connecting = handle_of(state, key, id)
                .and_then(|h| state.connections.get(&h))
                .is_some_and(|c| c.state == ConnectionState::Connecting);
            let (reason, text) = match (problem, role) {
                (ConnectionProblem::Timeout, Role::P2P) if connecting => {
                    let whom = match p2p::expected_peer(state, key, id) {
                        Some(p2p::Route { fake: Some(fake), peer: 0, .. }) => format!("FakeIP {fake}"),
                        Some(route) => format!("steamid:{} on virtual port {}", route.peer, route.vport),
                        None => "the peer".to_string(),
                    };
                    (
                        end_reason::MISC_P2P_RENDEZVOUS,
                        format!(
                            "P2P rendezvous failed: {whom} did not answer (offline, not listening there, or not accepting)"
                        ),
                    )
                }
                (ConnectionProblem::Timeout, _) => (end_reason::MISC_TIMEOUT, "timed out".to_string()),
                (ConnectionProblem::ProtocolViolation, _) => {
                    (end_reason::MISC_GENERIC, "protocol violation".to_string())
                }
            };
            end_connection(state, key, id, ConnectionState::ProblemDetectedLocally, reason, text);
        }
    }
}

fn handle_of(state: &State, key: EndpointKey, id: ConnectionId) -> Option<Handle> {
    state.endpoints.lock(key)?.handles.get(&id).copied()
}

pub(in crate::sockets) fn end_connection(
    state: &mut State,
    key: EndpointKey,
    id: ConnectionId,
    new_state: ConnectionState,
    reason: i32,
    text: String,
) {
    if let Some(mut ep) = state.endpoints.lock(key) {
        ep.relay_answered(id);
    }
    let Some(handle) = handle_of(state, key, id) else { return };
    let Some(conn) = state.connections.get_mut(&handle) else { return };
    if !conn.is_alive() {
        return;
    }
    tracing::info!(handle, ?new_state, reason, text = %text, "connection ended");
    let old = conn.state;
    conn.state = new_state;
    conn.end_reason = reason;
    conn.end_debug = text;
    state.post_status_change(handle, old);
}
