//! Loss recovery: acknowledgements, round-trip estimates, loss detection (packet and time
//! thresholds, RFC 9002) and the probe timeout.

use super::*;

impl Session {
    pub(super) fn on_ack(&mut self, now: u64, ack: AckFrame) {
        // Taken and put back below, so it keeps its room: an ACK allocates nothing.
        let mut newly_acked = std::mem::take(&mut self.newly_acked);
        for range in &ack.ranges {
            self.sent.remove_range(range.clone(), |n, packet| newly_acked.push((n, packet)));
        }
        if newly_acked.is_empty() {
            self.newly_acked = newly_acked;
            return;
        }
        // Only numbers we really sent count; a peer cannot make us think later packets arrived.
        let largest = newly_acked.iter().map(|(n, _)| *n).max().expect("non-empty");
        let mut rtt_sample = None;
        if largest == ack.ranges[0].end - 1
            && let Some((_, packet)) = newly_acked.iter().find(|(n, _)| *n == largest)
            && packet.ack_eliciting
        {
            let sample = now.saturating_sub(packet.time);
            self.on_rtt_sample(sample, ack.delay_usec);
            rtt_sample = Some(self.latest_rtt);
        }
        self.largest_acked = Some(self.largest_acked.map_or(largest, |l| l.max(largest)));
        for (number, packet) in newly_acked.drain(..) {
            self.bytes_in_flight = self.bytes_in_flight.saturating_sub(packet.size);
            let rtt = if number == largest { rtt_sample } else { None };
            self.congestion.on_acked(now, packet.size, packet.delivery, rtt, self.bytes_in_flight);
            for (lane, range) in packet.reliable {
                if let Some(send_lane) = self.send_lanes.get_mut(lane as usize) {
                    send_lane.on_acked(range);
                }
            }
        }
        self.newly_acked = newly_acked;
        self.pto_count = 0;
        self.detect_losses(now);
    }

    pub(super) fn on_rtt_sample(&mut self, sample: u64, ack_delay: u64) {
        // RFC 9002: subtract the peer's ack delay unless that would go below the sample's floor.
        let adjusted = if sample > ack_delay.min(self.config.max_ack_delay_usec) {
            sample - ack_delay.min(self.config.max_ack_delay_usec)
        } else {
            sample
        };
        self.latest_rtt = adjusted;
        // Targets name GNS's log categories (see steamnet_net::log::category).
        tracing::trace!(target: "steamnet::ack_rtt", sample, ack_delay, adjusted, "round-trip sample");
        match self.smoothed_rtt {
            None => {
                self.smoothed_rtt = Some(adjusted);
                self.rtt_var = adjusted / 2;
            }
            Some(srtt) => {
                self.rtt_var = (3 * self.rtt_var + srtt.abs_diff(adjusted)) / 4;
                self.smoothed_rtt = Some((7 * srtt + adjusted) / 8);
            }
        }
    }

    pub(super) fn rtt(&self) -> u64 {
        self.smoothed_rtt.unwrap_or(INITIAL_RTT_USEC)
    }

    pub(super) fn loss_delay(&self) -> u64 {
        (self.rtt().max(self.latest_rtt) * 9 / 8).max(MIN_LOSS_DELAY_USEC)
    }

    pub(super) fn pto_duration(&self) -> u64 {
        let base = self.rtt() + (4 * self.rtt_var).max(1_000) + self.config.max_ack_delay_usec;
        base << self.pto_count.min(MAX_PTO_BACKOFF)
    }

    pub(super) fn detect_losses(&mut self, now: u64) {
        self.loss_time = None;
        let Some(largest) = self.largest_acked else { return };
        let loss_delay = self.loss_delay();
        let mut lost = smallvec::SmallVec::<[u64; 16]>::new();
        for (number, packet) in self.sent.below(largest) {
            if largest - number >= PACKET_THRESHOLD || packet.time + loss_delay <= now {
                lost.push(number);
            } else {
                let when = packet.time + loss_delay;
                self.loss_time = Some(self.loss_time.map_or(when, |t| t.min(when)));
            }
        }
        for number in lost {
            self.declare_lost(number);
        }
    }

    pub(super) fn declare_lost(&mut self, number: u64) {
        let Some(packet) = self.sent.remove(number) else { return };
        tracing::debug!(target: "steamnet::packet_gaps", number, bytes = packet.size, "packet lost");
        self.stats.packets_lost += 1;
        // In flight when the loss happened: what was, with the lost packet.
        self.congestion.on_lost(packet.size, self.bytes_in_flight);
        self.bytes_in_flight = self.bytes_in_flight.saturating_sub(packet.size);
        for (lane, range) in packet.reliable {
            if let Some(send_lane) = self.send_lanes.get_mut(lane as usize) {
                send_lane.on_lost(range);
            }
        }
    }

    pub(super) fn pto_deadline(&self) -> Option<u64> {
        if self.sent.is_empty() {
            return None;
        }
        self.last_ack_eliciting_sent.map(|t| t + self.pto_duration())
    }

    // ----- timers ------------------------------------------------------------------------
}
