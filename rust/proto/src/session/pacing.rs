//! Pacing: the token bucket that spaces packets at the congestion controller's rate, and the window
//! that bounds bytes in flight.

use super::*;

impl Session {
    /// Enough for a few packets, or 10 ms at the pacing rate if that is more.
    pub(super) fn burst_at(packet_size: usize, rate: u64) -> f64 {
        (4 * packet_size).max((rate / 100) as usize) as f64
    }

    /// Pin the rate (`SEND_RATE_MIN` = `SEND_RATE_MAX` = `bytes_per_sec`).
    pub fn set_send_rate(&mut self, bytes_per_sec: u64) {
        self.config.send_rate = bytes_per_sec.max(1);
        self.config.send_rate_min = self.config.send_rate;
        self.congestion.set_rates(self.config.send_rate_min, self.config.send_rate);
    }

    /// The congestion controller's view: bandwidth estimate, minimum round trip, phase.
    pub fn congestion(&self) -> &Controller {
        &self.congestion
    }

    /// The rate the connection paces at now (what GNS reports as the send rate).
    pub fn send_rate(&self) -> u64 {
        self.congestion.pacing_rate()
    }

    pub(super) fn refill_tokens(&mut self, now: u64) {
        let elapsed = now.saturating_sub(self.tokens_at);
        self.tokens_at = now;
        let rate = self.send_rate();
        let burst = Self::burst_at(self.config.max_packet_size, rate);
        self.tokens = (self.tokens + elapsed as f64 * rate as f64 / MICROS_PER_SEC as f64).min(burst);
    }

    /// Whether another full packet fits the congestion window (never more in flight than the
    /// receiver buffers ahead of a gap).
    pub(super) fn window_open(&self) -> bool {
        let window = self.congestion.window().min(WINDOWS_AHEAD * self.flow_window());
        self.bytes_in_flight == 0 || self.bytes_in_flight + self.config.max_packet_size as u64 <= window
    }
}
