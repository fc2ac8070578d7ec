//! What the session reports: connection quality, per-lane queues and traffic counters.

use super::*;

impl Session {
    pub fn stats(&self) -> SessionStats {
        let mut stats = self.stats.clone();
        stats.smoothed_rtt_usec = self.smoothed_rtt;
        stats.local_quality = self.local_quality();
        for lane in 0..self.send_lanes.len() {
            let pending = self.lane_pending(lane);
            stats.pending_unreliable_bytes += pending.unreliable;
            stats.pending_reliable_bytes += pending.reliable;
            stats.sent_unacked_reliable_bytes += pending.sent_unacked_reliable;
        }
        stats.queue_time_usec = self.queue_time_usec(stats.pending_reliable_bytes + stats.pending_unreliable_bytes);
        stats
    }

    /// Distinct packets received over the packet numbers the peer has used since our first.
    pub(super) fn local_quality(&self) -> Option<f32> {
        let first = self.first_received?;
        let span = self.received.max()? + 1 - first;
        Some((self.distinct_received as f32 / span as f32).min(1.0))
    }

    /// Bytes waiting on one lane (zero for a lane that does not exist).
    pub fn lane_pending(&self, lane: usize) -> LanePending {
        let Some(lane) = self.send_lanes.get(lane) else { return LanePending::default() };
        let retransmit: u64 = lane.retransmit.iter().map(|r| r.end - r.start).sum();
        let mut pending = LanePending::default();
        let mut unsent_reliable = 0;
        for entry in &lane.queue {
            match entry.item {
                Queued::Reliable { .. } => unsent_reliable += entry.remaining(),
                Queued::Unreliable { .. } => pending.unreliable += entry.remaining(),
            }
        }
        let acked: u64 = lane.acked.iter().map(|r| r.end - r.start).sum();
        pending.reliable = unsent_reliable + retransmit;
        pending.sent_unacked_reliable = (lane.stream.len() as u64).saturating_sub(pending.reliable + acked);
        pending
    }

    /// Time `bytes_ahead` queued bytes take to go out at the send rate.
    pub fn queue_time_usec(&self, bytes_ahead: u64) -> u64 {
        bytes_ahead * MICROS_PER_SEC / self.send_rate().max(1)
    }

    /// Packets and bytes sent and received so far: the cheap part of [`stats`](Self::stats),
    /// for callers that sample traffic often.
    pub fn traffic(&self) -> [u64; 4] {
        let s = &self.stats;
        [s.packets_sent, s.bytes_sent, s.packets_received, s.bytes_received]
    }

    // ----- sending -----------------------------------------------------------------------
}
