//! The sockets interface's calls on one UDP connection: accept, close, send, flush, lanes, and
//! the figures its status reports.

use steamnet_proto::{Admit, Numbered};

use super::*;

pub(in crate::sockets) fn accept(state: &mut State, key: EndpointKey, id: ConnectionId, now: u64) -> bool {
    let accepted = state.endpoints.lock(key).is_some_and(|mut ep| ep.endpoint.accept(now, id));
    if accepted {
        pump(state, key, now);
    }
    accepted
}

/// The application closed the handle: tell the peer, then forget the connection (after its
/// reliable data is through, with `linger`). A client's own endpoint closes with it.
pub(in crate::sockets) fn close(
    state: &mut State,
    key: EndpointKey,
    id: ConnectionId,
    reason: u32,
    text: &str,
    linger: bool,
    now: u64,
) {
    let Some(mut ep) = state.endpoints.lock(key) else { return };
    ep.endpoint.close(id, reason, text, linger);
    // The handle is gone for the application at once, lingering or not.
    ep.handles.remove(&id);
    ep.lingering.push(id);
    drop(ep);
    pump(state, key, now);
}

/// Send a message on a UDP connection. The interface numbers it (`Connection::lanes`, for
/// messages sent while connecting as for the rest), so a send that finds the endpoint's lock
/// taken by its driver can hand the message over and return at once (`handoff.rs`), when the
/// send buffer surely has room and the message need not leave from this thread.
pub(in crate::sockets) fn send(
    state: &mut State,
    handle: Handle,
    (key, id): (EndpointKey, ConnectionId),
    lane: u16,
    data: &[u8],
    flags: i32,
    now: u64,
) -> Result<i64, SteamResult> {
    let Some(shared) = state.endpoints.shared(key) else { return Err(SteamResult::NoConnection) };
    let conn = state.connections.get_mut(&handle).ok_or(SteamResult::InvalidParam)?;
    if conn.state != ConnectionState::Connected {
        // Kept until the interface learns the connection is up, even if its session exists
        // already (the news not settled yet): the messages kept before then go first.
        return keep_until_connected(conn, lane, data, flags);
    }
    let lanes = &mut conn.lanes;
    let number = lanes.next_message_number(lane as usize).expect("lane checked by the caller");
    let message = Numbered { lane, number: number as u64, data, send_flags: flags };
    let urgent = flags & (send_flags::NO_NAGLE | send_flags::NO_DELAY) != 0;
    let mut ep = match table::try_lock(key, &shared) {
        Some(ep) => ep,
        None if !urgent && data.len() as u64 <= conn.send_room => {
            conn.send_room -= data.len() as u64;
            lanes.take_message_number(lane as usize);
            table::hand_over((key, id), &shared, now, message);
            return Ok(number);
        }
        None => table::lock(key, &shared),
    };
    let Some(sent) = ep.endpoint.send_numbered(id, now, message, Admit::IfRoom) else {
        return keep_until_connected(conn, lane, data, flags);
    };
    let queued = sent.map_err(|e| match e {
        SendError::LimitExceeded => SteamResult::LimitExceeded,
        SendError::TooLarge | SendError::NoSuchLane => SteamResult::InvalidParam,
        SendError::NotConnected => SteamResult::NoConnection,
    })?;
    lanes.take_message_number(lane as usize);
    conn.send_room = queued.room;
    if urgent {
        // Out at once, from this thread.
        UdpEndpoint::send_now(ep, id, now);
    } else if queued.deadline_moved {
        // The driver thread sends what is due, a batch at a time (one system call for many
        // packets, while this thread goes on queueing). Its timer only needs moving when this
        // message can have made something due sooner: working the deadline out again for
        // every small message was a sixth of a GDScript send's time.
        ep.rearm();
    }
    Ok(number)
}

/// A message sent while connecting: numbered now, kept for the session (which takes over the
/// lanes) when the connection is up.
fn keep_until_connected(conn: &mut Connection, lane: u16, data: &[u8], flags: i32) -> Result<i64, SteamResult> {
    let queued: usize = conn.preconnect.iter().map(|(_, _, d, _)| d.len()).sum();
    if queued + data.len() > conn.config.int32(ids::SEND_BUFFER_SIZE) as usize {
        return Err(SteamResult::LimitExceeded);
    }
    let number = conn.lanes.take_message_number(lane as usize).expect("lane checked by the caller");
    conn.preconnect.push((lane, number as u64, data.to_vec(), flags));
    Ok(number)
}

pub(in crate::sockets) fn flush(state: &mut State, key: EndpointKey, id: ConnectionId, now: u64) {
    let Some(mut ep) = state.endpoints.lock(key) else { return };
    if let Some(session) = ep.endpoint.session_mut(id) {
        session.flush();
        // Pacing may hold the rest: the driver's timer, re-armed here, covers it.
        UdpEndpoint::send_now(ep, id, now);
    }
}

pub(in crate::sockets) fn configure_lanes(
    state: &mut State,
    key: EndpointKey,
    id: ConnectionId,
    count: usize,
    priorities: &[i64],
    weights: &[i64],
) {
    if let Some(mut ep) = state.endpoints.lock(key)
        && let Some(session) = ep.endpoint.session_mut(id)
    {
        let _ = session.configure_lanes(count, priorities, weights);
    }
}

/// The session behind a UDP connection, for status reports.
pub(in crate::sockets) fn session_status(
    state: &State,
    key: EndpointKey,
    id: ConnectionId,
    lanes: usize,
) -> Option<(SessionStats, u64, Vec<LaneStatus>)> {
    let ep = state.endpoints.lock(key)?;
    let session = ep.endpoint.session(id)?;
    let lane_status = (0..lanes)
        .map(|lane| {
            let p = session.lane_pending(lane);
            LaneStatus {
                pending_unreliable: p.unreliable as i32,
                pending_reliable: p.reliable as i32,
                sent_unacked_reliable: p.sent_unacked_reliable as i32,
                queue_time_usec: session.queue_time_usec(p.unreliable + p.reliable) as i64,
            }
        })
        .collect();
    Some((session.stats(), session.send_rate(), lane_status))
}

/// The congestion controller's state, for the detailed status: send rate, window, bandwidth
/// estimate, minimum round trip, loss rate and phase; then packets lost and rebuilt.
pub(in crate::sockets) fn congestion_summary(state: &State, key: EndpointKey, id: ConnectionId) -> String {
    let path = p2p::path_summary(state, key, id);
    let Some(ep) = state.endpoints.lock(key) else { return String::new() };
    let Some(session) = ep.endpoint.session(id) else { return String::new() };
    let cc = session.congestion();
    path + &format!(
        "Send rate: {} B/s  Window: {} B  Bandwidth estimate: {} B/s  Min RTT: {}  Loss: {:.1}%  Phase: {:?}\n",
        session.send_rate(),
        cc.window(),
        cc.bandwidth(),
        cc.min_rtt().map_or("-".to_string(), |rtt| format!("{:.1} ms", rtt as f64 / 1000.0)),
        cc.loss_rate() * 100.0,
        cc.phase(),
    ) + &format!(
        "Packets lost: {}  Rebuilt from repairs (NETWORKING_CONFIG_FEC_REPAIRS): {}\n",
        session.stats().packets_lost,
        session.stats().packets_recovered
    )
}
