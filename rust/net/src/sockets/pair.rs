//! The in-process transport: `createSocketPair(false, …)`, two handles of this process that
//! pass messages to each other without touching the network, like GNS's pipe connections. The
//! sockets interface's one dispatch (`transport.rs`) comes here for a [`Transport::Pair`]
//! connection and to `udp` for the others.

use super::*;

/// Two connected ends, `id1`'s and `id2`'s (each end's remote is the other's identity).
/// GNS posts no callbacks for a pair: both ends are connected from the start.
pub(super) fn create(state: &mut State, id1: Identity, id2: Identity) -> (Handle, Handle) {
    let config = ConnectionConfig::default().over(&state.global_config);
    let h1 = state.allocate_handle();
    state.connections.insert(h1, Connection::new(id2, config.clone(), Transport::Pair { peer: None }));
    let h2 = state.allocate_handle();
    state.connections.insert(h2, Connection::new(id1, config, Transport::Pair { peer: Some(h1) }));
    let flags = info_flags::LOOPBACK_BUFFERS | info_flags::FAST | info_flags::UNAUTHENTICATED | info_flags::UNENCRYPTED;
    for (handle, peer) in [(h1, h2), (h2, h1)] {
        let conn = state.connections.get_mut(&handle).expect("just inserted");
        conn.transport = Transport::Pair { peer: Some(peer) };
        conn.state = ConnectionState::Connected;
        conn.info_flags = flags;
    }
    (h1, h2)
}

/// Deliver a message from `handle` to its `peer` at once: the message number, or why not.
pub(super) fn send(
    state: &mut State,
    handle: Handle,
    peer: Handle,
    lane: u16,
    data: &[u8],
    flags: i32,
    now: i64,
) -> Result<i64, SteamResult> {
    let reliable = flags & send_flags::RELIABLE != 0;
    let Some(peer_conn) = state.connections.get(&peer) else { return Err(SteamResult::NoConnection) };
    let peer_full = peer_conn.inbox.len() >= peer_conn.config.int32(ids::RECV_BUFFER_MESSAGES) as usize
        || peer_conn.inbox_bytes + data.len() > peer_conn.config.int32(ids::RECV_BUFFER_SIZE) as usize;
    if peer_full && reliable {
        // In GNS a full receive buffer stops acks and the sender's buffer fills: the same
        // answer, without the wait.
        return Err(SteamResult::LimitExceeded);
    }
    let conn = state.connections.get_mut(&handle).ok_or(SteamResult::InvalidParam)?;
    let number = conn.lanes.take_message_number(lane as usize).expect("lane checked by the caller");
    conn.sent.record(now as u64, data.len());
    if peer_full {
        return Ok(number); // an unreliable message the receiver has no room for is dropped
    }
    // The receiver sees the sender's identity, i.e. the identity it has for its remote.
    let sender_identity = state.connections.get(&peer).map(|p| p.remote_identity.steam_id64()).unwrap_or(0);
    let message = ReceivedMessage {
        payload: Bytes::copy_from_slice(data),
        connection: peer,
        identity: sender_identity,
        receiver_user_data: -1,
        time_received: now,
        message_number: number,
        flags: flags & send_flags::RELIABLE,
        lane,
    };
    if let Some(peer_conn) = state.connections.get_mut(&peer) {
        peer_conn.received.record(now as u64, data.len());
    }
    state.enqueue(peer, message);
    Ok(number)
}

/// One end was closed with `reason`: the other, if still alive, is closed by its peer. Every
/// message of a pair is delivered the moment it is sent, so lingering has nothing to flush.
pub(super) fn close(state: &mut State, peer: Handle, reason: i32, debug: String) {
    let Some(peer_conn) = state.connections.get_mut(&peer) else { return };
    peer_conn.transport = Transport::Pair { peer: None };
    if peer_conn.is_alive() {
        let old = peer_conn.state;
        peer_conn.state = ConnectionState::ClosedByPeer;
        peer_conn.end_reason = reason;
        peer_conn.end_debug = debug;
        state.post_status_change(peer, old);
    }
}
