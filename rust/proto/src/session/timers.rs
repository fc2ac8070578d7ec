//! Timers: when the session next needs `handle_timeout` (Nagle, acks, loss, probes, keepalive, idle
//! timeout, linger), and what it does then.

use super::*;

impl Session {
    /// When [`handle_timeout`](Self::handle_timeout) or [`poll_transmit`](Self::poll_transmit)
    /// next has work, if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        if matches!(self.state, SessionState::ProblemDetected { .. }) {
            return None;
        }
        if self.close_pending.is_some() || self.linger_done() {
            return Some(0);
        }
        if !self.is_connected() {
            return None;
        }
        let mut next = crate::earliest([
            self.ack_deadline,
            self.loss_time,
            self.pto_deadline(),
            Some(self.last_received + self.config.idle_timeout_usec),
            // With packets in flight the probe timeout covers silence; otherwise a keepalive.
            self.sent.is_empty().then(|| self.last_received + self.keepalive_interval()),
        ]);
        // Data the congestion window holds back needs no timer: an acknowledgement reopens it.
        let window = self.flow_window();
        let sendable = (self.send_lanes.iter().any(|l| l.has_sendable(window)) && self.window_open())
            || self.ping_pending
            || self.fec_send.has_repair();
        if sendable {
            let ready_at = if self.send_lanes.iter().any(|l| !l.retransmit.is_empty())
                || self.ping_pending
                || self.fec_send.has_repair()
                || self.flush_requested
                || self.queued_bytes >= self.config.max_packet_size as u64
            {
                self.tokens_at
            } else {
                self.nagle_deadline().unwrap_or(self.tokens_at)
            };
            let paced_at = if self.tokens > 0.0 {
                self.tokens_at
            } else {
                self.tokens_at + ((-self.tokens + 1.0) * MICROS_PER_SEC as f64 / self.send_rate() as f64).ceil() as u64
            };
            let at = ready_at.max(paced_at);
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        next
    }

    /// How long without hearing from the peer before a keepalive ping.
    pub(super) fn keepalive_interval(&self) -> u64 {
        self.keepalive_override.unwrap_or(self.config.keepalive_usec).min(self.config.idle_timeout_usec / 2).max(1)
    }

    /// Keep the path checked more often than the configured keepalive (`Some`), or go back to
    /// it (`None`): a connection on a path it may need to leave (a direct P2P path) wants to
    /// notice silence within seconds, idle or not.
    pub fn set_keepalive_override(&mut self, usec: Option<u64>) {
        self.keepalive_override = usec;
    }

    pub fn handle_timeout(&mut self, now: u64) {
        if !self.is_connected() {
            return;
        }
        if now >= self.last_received + self.config.idle_timeout_usec {
            self.state = SessionState::ProblemDetected { reason: Problem::Timeout };
            self.release_if_ended();
            return;
        }
        if self.loss_time.is_some_and(|t| t <= now) {
            self.detect_losses(now);
        }
        if self.pto_deadline().is_some_and(|t| t <= now) {
            // No acknowledgement for too long: resend everything in flight, back off.
            let in_flight: Vec<u64> = self.sent.numbers().collect();
            for number in in_flight {
                self.declare_lost(number);
            }
            self.pto_count += 1;
            self.ping_pending = true;
        }
        if self.sent.is_empty() && now >= self.last_received + self.keepalive_interval() {
            self.ping_pending = true;
        }
    }

    // ----- delivery ----------------------------------------------------------------------
}
