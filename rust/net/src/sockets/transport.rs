//! One dispatch from the API to a connection's transport. A connection is one end of an
//! in-process socket pair (`pair.rs`) or a connection of a UDP endpoint (`udp.rs`: IP, P2P,
//! FakeIP and hosted servers alike); the API in `sockets.rs` checks handles, states and
//! arguments as GNS does, then calls the transport here, and only here is it told apart.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::sockets) enum Transport {
    /// One end of an in-process socket pair; `peer` is `None` once the other end is closed.
    Pair { peer: Option<Handle> },
    /// A connection of the UDP endpoint `endpoint`, known there as `id`.
    Udp { endpoint: udp::EndpointKey, id: steamnet_proto::endpoint::ConnectionId },
}

impl Transport {
    /// Whether messages sent while connecting are kept for when the connection is up (GNS
    /// queues them); a pair is connected from the start.
    pub(super) fn queues_while_connecting(self) -> bool {
        matches!(self, Transport::Udp { .. })
    }

    /// `AcceptConnection` of a connection that arrived on a listen socket.
    pub(super) fn accept(self, state: &mut State, now: u64) -> SteamResult {
        match self {
            Transport::Udp { endpoint, id } if udp::accept(state, endpoint, id, now) => SteamResult::Ok,
            _ => SteamResult::InvalidState,
        }
    }

    /// The connection `handle` is gone from the tables: tell the peer (`reason`, `debug`).
    pub(super) fn close(self, state: &mut State, reason: i32, debug: String, linger: bool, now: u64) {
        match self {
            Transport::Pair { peer: Some(peer) } => pair::close(state, peer, reason, debug),
            Transport::Pair { peer: None } => {}
            Transport::Udp { endpoint, id } => udp::close(state, endpoint, id, reason as u32, &debug, linger, now),
        }
    }

    /// Send one message (checked already) from `handle`; its number.
    pub(super) fn send(
        self,
        state: &mut State,
        handle: Handle,
        lane: u16,
        data: &[u8],
        flags: i32,
        now: u64,
    ) -> Result<i64, SteamResult> {
        match self {
            Transport::Udp { endpoint, id } => udp::send(state, handle, (endpoint, id), lane, data, flags, now),
            Transport::Pair { peer: Some(peer) } => pair::send(state, handle, peer, lane, data, flags, now as i64),
            Transport::Pair { peer: None } => Err(SteamResult::NoConnection),
        }
    }

    /// Send what Nagle holds (a pair never holds anything back).
    pub(super) fn flush(self, state: &mut State, now: u64) {
        if let Transport::Udp { endpoint, id } = self {
            udp::flush(state, endpoint, id, now);
        }
    }

    /// Take in what has arrived for this connection now, on the caller's thread, rather than
    /// wait for the driver thread's turn (a thread wake-up each way is most of a loopback round
    /// trip). A pair's messages are in its queue the moment they are sent.
    pub(super) fn poll_arrivals(self, state: &mut State, now: u64) {
        if let Transport::Udp { endpoint, .. } = self {
            udp::service_endpoint(state, endpoint, now);
        }
    }

    /// As [`poll_arrivals`](Self::poll_arrivals), for a poll group: the sockets that carry
    /// many connections (a listen socket's, the P2P one), which a group's usually share.
    pub(super) fn poll_shared_arrivals(state: &mut State, now: u64) {
        let shared: smallvec::SmallVec<[udp::EndpointKey; 4]> =
            state.endpoints.with_role(udp::Role::carries_many).collect();
        for key in shared {
            udp::service_endpoint(state, key, now);
        }
    }

    /// Move messages that waited in the protocol (the queue for the application was full)
    /// into `handle`'s queue.
    pub(super) fn refill(self, state: &mut State, handle: Handle, now: u64) {
        if let Transport::Udp { endpoint, id } = self {
            udp::deliver(state, endpoint, id, handle, now);
        }
    }

    /// Lanes (validated and recorded on the connection already) for the protocol to schedule.
    pub(super) fn configure_lanes(self, state: &mut State, count: usize, priorities: &[i64], weights: &[i64]) {
        if let Transport::Udp { endpoint, id } = self {
            udp::configure_lanes(state, endpoint, id, count, priorities, weights);
        }
    }

    /// `GetConnectionRealTimeStatus` of `conn` for its first `lanes` lanes, given its measured
    /// rates (packets, bytes) out and in.
    pub(super) fn real_time_status(
        self,
        state: &State,
        conn: &Connection,
        lanes: usize,
        [packets_out, bytes_out, packets_in, bytes_in]: [f32; 4],
    ) -> (RealTimeStatus, Vec<LaneStatus>) {
        let Transport::Udp { endpoint, id } = self else {
            let connected = conn.state == ConnectionState::Connected;
            let status = RealTimeStatus {
                state: conn.state,
                // In-process delivery: no wire, no delay, nothing lost.
                ping_ms: if connected { 0 } else { -1 },
                local_quality: if connected { 1.0 } else { -1.0 },
                remote_quality: if connected { 1.0 } else { -1.0 },
                packets_out_per_sec: packets_out,
                bytes_out_per_sec: bytes_out,
                packets_in_per_sec: packets_in,
                bytes_in_per_sec: bytes_in,
                send_rate_bytes_per_sec: conn.config.int32(ids::SEND_RATE_MAX),
                pending_unreliable: 0,
                pending_reliable: 0,
                sent_unacked_reliable: 0,
                queue_time_usec: 0,
                path: "local",
            };
            return (status, vec![LaneStatus::default(); lanes]);
        };
        let session = udp::session_status(state, endpoint, id, lanes);
        let (stats, send_rate, lane_status) =
            session.unwrap_or_else(|| (Default::default(), 0, vec![LaneStatus::default(); lanes]));
        let status = RealTimeStatus {
            state: conn.state,
            ping_ms: stats.smoothed_rtt_usec.map_or(-1, |rtt| (rtt / 1000) as i32),
            // Share of the peer's packets reaching us, and of ours reaching it (as it reports);
            // -1 while unknown, as in GNS.
            local_quality: stats.local_quality.unwrap_or(-1.0),
            remote_quality: stats.remote_quality.unwrap_or(-1.0),
            packets_out_per_sec: packets_out,
            bytes_out_per_sec: bytes_out,
            packets_in_per_sec: packets_in,
            bytes_in_per_sec: bytes_in,
            send_rate_bytes_per_sec: send_rate.min(i32::MAX as u64) as i32,
            pending_unreliable: stats.pending_unreliable_bytes.min(i32::MAX as u64) as i32,
            pending_reliable: stats.pending_reliable_bytes.min(i32::MAX as u64) as i32,
            sent_unacked_reliable: stats.sent_unacked_reliable_bytes.min(i32::MAX as u64) as i32,
            queue_time_usec: stats.queue_time_usec as i64,
            path: match p2p::relayed(state, endpoint, id) {
                Some(true) => "relayed",
                _ => "direct",
            },
        };
        (status, lane_status)
    }

    /// The transport's part of `GetDetailedConnectionStatus` (congestion, path, losses).
    pub(super) fn detailed_status(self, state: &State) -> String {
        match self {
            Transport::Udp { endpoint, id } => udp::congestion_summary(state, endpoint, id),
            Transport::Pair { .. } => String::new(),
        }
    }
}
