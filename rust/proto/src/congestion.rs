//! Congestion control that tells random loss from congestion: a model-based controller in the
//! manner of BBR. It measures the path, and loss does not enter the model at all:
//!
//! - **bottleneck bandwidth**: the highest delivery rate seen over the last ten round trips
//!   (bytes newly acknowledged over the time they took), ignoring samples taken while the
//!   application had nothing to send unless they raise the estimate;
//! - **minimum round trip**: the smallest sample of the last ten seconds.
//!
//! From those it sets the pacing rate (a gain times the bandwidth, kept within GNS's
//! `SEND_RATE_MIN`..`SEND_RATE_MAX`) and the window (twice the bandwidth-delay product). A Wi-Fi
//! link that drops 10% of packets at random keeps its full rate; a queue that builds up shows as
//! a delivery rate that stops growing, and the sender stops pushing.
//!
//! One departure from BBR: under heavy random loss the delivery rate is the send rate less the
//! loss, so a plain maximum filter would shrink with every probe cycle (at 30% loss, 1.25 x 0.7
//! < 1) and the rate would collapse. While the round trip shows no queue (within 10 ms, or an
//! eighth, of the minimum), loss is taken to be random and the sample is scaled back up by the recent loss
//! rate; with a queue, losses count as congestion and samples stay as measured.
//!
//! Phases: *startup* doubles the rate every round trip until the bandwidth stops growing by 25%
//! three rounds in a row; *drain* empties the queue startup built; *probe bandwidth* then cycles
//! its gain (1.25, 0.75, then six rounds at 1) to find more room and give it back.

use std::collections::VecDeque;

const MICROS_PER_SEC: u64 = 1_000_000;
/// Startup's gain: 2/ln 2, the smallest that doubles the delivery rate every round trip.
const STARTUP_GAIN: f64 = 2.885;
const PROBE_GAINS: [f64; 8] = [1.25, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
const CWND_GAIN: f64 = 2.0;
/// Round trips the bandwidth estimate remembers.
const BANDWIDTH_ROUNDS: u64 = 10;
const MIN_RTT_WINDOW_USEC: u64 = 10 * MICROS_PER_SEC;
/// Weight of each packet's outcome in the running loss rate.
const LOSS_EWMA: f64 = 1.0 / 128.0;
/// Loss above this is not compensated further (the path is then mostly broken).
const MAX_COMPENSATED_LOSS: f64 = 0.5;
/// Window floor, in packets: enough to keep acknowledgements flowing whatever the estimate.
pub(crate) const MIN_WINDOW_PACKETS: u64 = 4;
pub const INITIAL_WINDOW_PACKETS: u64 = 32;
/// After a congestion loss, the bytes in flight are capped at this share of what was in flight
/// when it happened (BBRv2's `beta`), and the cap then grows by this share per round trip
/// without one.
const INFLIGHT_CAP_BETA: f64 = 0.85;
const INFLIGHT_CAP_GROWTH: f64 = 1.1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Startup,
    Drain,
    ProbeBandwidth,
}

/// What the controller notes about a packet when it is sent, to measure delivery when it is
/// acknowledged.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendState {
    /// Bytes delivered (acknowledged) when the packet left.
    delivered: u64,
    /// When the latest of those deliveries happened.
    delivered_at: u64,
    /// When the packet whose acknowledgement was that latest delivery had been sent, and when
    /// this one was: the sending side of the interval (BBR takes the longer of the sending and
    /// acknowledging intervals, so bunched acknowledgements cannot fake a higher rate).
    first_sent_at: u64,
    sent_at: u64,
    /// Whether the application had nothing more to send then.
    app_limited: bool,
}

#[derive(Debug)]
pub struct Controller {
    packet_size: u64,
    min_rate: u64,
    max_rate: u64,
    phase: Phase,
    delivered: u64,
    delivered_at: u64,
    /// Send time of the packet acknowledged most recently.
    first_sent_at: u64,
    /// Round trips: a round ends when a packet sent after its start is acknowledged.
    round: u64,
    round_ends_at_delivered: u64,
    /// (round, bytes per second) samples that may still be the maximum, newest last, each
    /// smaller than the one before it.
    bandwidth_samples: VecDeque<(u64, u64)>,
    min_rtt: Option<u64>,
    min_rtt_at: u64,
    /// Startup's exit test: the bandwidth three rounds ago and how many rounds it stalled.
    full_bandwidth: u64,
    stalled_rounds: u32,
    cycle_index: usize,
    cycle_started: u64,
    /// Share of recent packets lost (running average).
    loss_rate: f64,
    /// The latest round-trip sample.
    latest_rtt: Option<u64>,
    /// The smallest round-trip sample of this round, and of the round before: jitter lifts
    /// single samples, but only a standing queue lifts every sample of a round.
    round_min_rtt: Option<u64>,
    last_round_min_rtt: Option<u64>,
    /// The round of the last congestion back-off (at most one per round).
    backed_off_in_round: Option<u64>,
    /// A bound on bytes in flight learnt from congestion losses (BBRv2's `inflight_hi`): none
    /// until the path shows congestion.
    inflight_cap: Option<u64>,
}

impl Controller {
    pub fn new(packet_size: usize, min_rate: u64, max_rate: u64, now: u64) -> Controller {
        Controller {
            packet_size: packet_size as u64,
            min_rate: min_rate.min(max_rate).max(1),
            max_rate: max_rate.max(1),
            phase: Phase::Startup,
            delivered: 0,
            delivered_at: now,
            first_sent_at: now,
            round: 0,
            round_ends_at_delivered: 0,
            bandwidth_samples: VecDeque::new(),
            min_rtt: None,
            min_rtt_at: now,
            full_bandwidth: 0,
            stalled_rounds: 0,
            cycle_index: 0,
            cycle_started: now,
            loss_rate: 0.0,
            latest_rtt: None,
            round_min_rtt: None,
            last_round_min_rtt: None,
            backed_off_in_round: None,
            inflight_cap: None,
        }
    }

    /// The running share of packets lost.
    pub fn loss_rate(&self) -> f64 {
        self.loss_rate
    }

    /// Whether the latest round trip shows no standing queue: then loss is random, not ours.
    fn path_uncongested(&self) -> bool {
        match (self.latest_rtt, self.min_rtt) {
            (Some(latest), Some(min)) => latest <= min + Self::queue_margin(min),
            _ => false,
        }
    }

    /// The window never goes below a few packets.
    fn min_window(&self) -> u64 {
        MIN_WINDOW_PACKETS * self.packet_size
    }

    /// A queue worth 10 ms, or an eighth of the round trip on short paths, is a queue.
    fn queue_margin(min_rtt: u64) -> u64 {
        (min_rtt / 8).min(10_000) + 1_000
    }

    /// Whether the whole last round trip sat behind a queue (every sample above the minimum):
    /// then a loss is congestion, where jitter alone makes single samples look queued.
    fn queue_standing(&self) -> bool {
        match (self.last_round_min_rtt, self.min_rtt) {
            (Some(round_min), Some(min)) => round_min > min + Self::queue_margin(min),
            _ => false,
        }
    }

    /// New rate bounds (`SEND_RATE_MIN`, `SEND_RATE_MAX`) for a live connection.
    pub fn set_rates(&mut self, min_rate: u64, max_rate: u64) {
        self.max_rate = max_rate.max(1);
        self.min_rate = min_rate.min(self.max_rate).max(1);
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The bottleneck bandwidth estimate, bytes per second (0 before any sample).
    pub fn bandwidth(&self) -> u64 {
        // The samples fall from front to back (a new one drops those it beats), so the
        // largest is the first: no walk on every deadline and window query.
        self.bandwidth_samples.front().map_or(0, |&(_, bw)| bw)
    }

    pub fn min_rtt(&self) -> Option<u64> {
        self.min_rtt
    }

    fn pacing_gain(&self) -> f64 {
        match self.phase {
            Phase::Startup => STARTUP_GAIN,
            Phase::Drain => 1.0 / STARTUP_GAIN,
            Phase::ProbeBandwidth => PROBE_GAINS[self.cycle_index],
        }
    }

    /// Bytes per second to pace at now, within `[min_rate, max_rate]`.
    pub fn pacing_rate(&self) -> u64 {
        let bandwidth = self.bandwidth();
        let model = if bandwidth == 0 {
            // No measurement yet: the initial window per (assumed) round trip, with startup's gain.
            let rtt = self.min_rtt.unwrap_or(100_000).max(1_000);
            (INITIAL_WINDOW_PACKETS * self.packet_size * MICROS_PER_SEC / rtt) as f64 * STARTUP_GAIN
        } else {
            bandwidth as f64 * self.pacing_gain()
        };
        (model as u64).clamp(self.min_rate, self.max_rate)
    }

    /// Bytes allowed in flight: twice the bandwidth-delay product of the rate we pace at, so
    /// the window never stops a sender the pacing allows (and a pinned rate is never throttled
    /// by a window measured at a lower one).
    pub fn window(&self) -> u64 {
        let floor = self.min_window();
        let Some(rtt) = self.min_rtt else {
            // Before any round trip is measured: the initial window, or two assumed round trips
            // (100 ms) at the minimum rate the application asked for, if that is more.
            let at_min_rate = self.min_rate * 2 / 10;
            return (INITIAL_WINDOW_PACKETS * self.packet_size).max(at_min_rate).max(floor);
        };
        let rate = self.pacing_rate().max(self.bandwidth());
        let bdp = rate as f64 * rtt as f64 / MICROS_PER_SEC as f64;
        let window = ((bdp * CWND_GAIN) as u64).min(self.inflight_cap.unwrap_or(u64::MAX));
        window.max(floor)
    }

    /// A packet leaves at `now`; `app_limited` when nothing else waits to be sent.
    pub fn on_sent(&self, now: u64, app_limited: bool) -> SendState {
        SendState {
            delivered: self.delivered,
            delivered_at: self.delivered_at,
            first_sent_at: self.first_sent_at,
            sent_at: now,
            app_limited,
        }
    }

    /// A packet of `size` bytes sent with `state` was acknowledged at `now`; `rtt` is the
    /// round-trip sample it gave, if any; `in_flight` what remains in flight.
    pub fn on_acked(&mut self, now: u64, size: u64, state: SendState, rtt: Option<u64>, in_flight: u64) {
        self.delivered += size;
        self.delivered_at = now;
        self.loss_rate *= 1.0 - LOSS_EWMA;
        if let Some(rtt) = rtt {
            self.latest_rtt = Some(rtt);
            self.round_min_rtt = Some(self.round_min_rtt.map_or(rtt, |m| m.min(rtt)));
        }
        if let Some(rtt) = rtt
            && (self.min_rtt.is_none_or(|m| rtt <= m) || now > self.min_rtt_at + MIN_RTT_WINDOW_USEC)
        {
            self.min_rtt = Some(rtt.max(1));
            self.min_rtt_at = now;
        }
        let new_round = state.delivered >= self.round_ends_at_delivered;
        if new_round {
            self.round += 1;
            self.round_ends_at_delivered = self.delivered;
            self.last_round_min_rtt = self.round_min_rtt.take();
        }
        // Delivery rate over the packet's flight: what was acknowledged meanwhile, per time.
        self.first_sent_at = state.sent_at;
        let ack_interval = now.saturating_sub(state.delivered_at);
        let send_interval = state.sent_at.saturating_sub(state.first_sent_at);
        let interval = ack_interval.max(send_interval).max(1);
        let mut rate = (self.delivered - state.delivered) * MICROS_PER_SEC / interval;
        if self.path_uncongested() {
            rate = (rate as f64 / (1.0 - self.loss_rate.min(MAX_COMPENSATED_LOSS))) as u64;
        }
        if !state.app_limited || rate > self.bandwidth() {
            while self.bandwidth_samples.back().is_some_and(|&(_, bw)| bw <= rate) {
                self.bandwidth_samples.pop_back(); // can never be the maximum again
            }
            self.bandwidth_samples.push_back((self.round, rate));
        }
        while self.bandwidth_samples.front().is_some_and(|&(round, _)| round + BANDWIDTH_ROUNDS < self.round) {
            self.bandwidth_samples.pop_front();
        }
        if new_round {
            self.on_round(now, state.app_limited);
        }
        if self.phase == Phase::Drain && in_flight <= self.bdp() {
            self.enter_probe(now);
        }
        if self.phase == Phase::ProbeBandwidth {
            self.advance_cycle(now, in_flight);
        }
    }

    fn bdp(&self) -> u64 {
        let rtt = self.min_rtt.unwrap_or(100_000);
        (self.bandwidth() as f64 * rtt as f64 / MICROS_PER_SEC as f64) as u64
    }

    fn on_round(&mut self, now: u64, app_limited: bool) {
        // A round trip without a congestion loss: let the in-flight cap grow back, and drop it
        // once it no longer binds.
        if let Some(cap) = self.inflight_cap
            && self.backed_off_in_round.is_none_or(|round| round + 1 < self.round)
        {
            let grown = (cap as f64 * INFLIGHT_CAP_GROWTH) as u64 + self.packet_size;
            self.inflight_cap = (grown < 4 * self.bdp().max(1)).then_some(grown);
        }
        if self.phase != Phase::Startup || app_limited {
            return;
        }
        let bandwidth = self.bandwidth();
        if bandwidth >= self.full_bandwidth + self.full_bandwidth / 4 {
            self.full_bandwidth = bandwidth;
            self.stalled_rounds = 0;
        } else {
            self.stalled_rounds += 1;
        }
        // Growth stopped, or the rate is already at the configured maximum: the pipe is full.
        if self.stalled_rounds >= 3 || self.pacing_rate() >= self.max_rate {
            self.phase = Phase::Drain;
            self.cycle_started = now;
        }
    }

    fn enter_probe(&mut self, now: u64) {
        self.phase = Phase::ProbeBandwidth;
        self.cycle_index = 2; // start cruising; probe on the next cycle
        self.cycle_started = now;
    }

    fn advance_cycle(&mut self, now: u64, in_flight: u64) {
        let rtt = self.min_rtt.unwrap_or(100_000);
        let elapsed = now.saturating_sub(self.cycle_started) > rtt;
        let gain = PROBE_GAINS[self.cycle_index];
        // The draining phase may end early once the queue the probe built is gone.
        let done =
            elapsed && (gain <= 1.0 || in_flight >= self.bdp() * 5 / 4) || (gain < 1.0 && in_flight <= self.bdp());
        if done {
            self.cycle_index = (self.cycle_index + 1) % PROBE_GAINS.len();
            self.cycle_started = now;
        }
    }

    /// A packet was declared lost. Loss alone says nothing about congestion on the paths games
    /// use (radio links drop at random), so on a path without a queue it only feeds the loss
    /// rate that compensates delivery samples. Loss while a standing queue shows is congestion,
    /// ours or a competing flow's: then the bytes in flight are capped below what was in flight,
    /// once per round trip (BBRv2's `inflight_hi`), so that flows sharing a bottleneck converge
    /// on fair shares instead of the first one keeping the share it found while alone.
    pub fn on_lost(&mut self, _bytes: u64, in_flight: u64) {
        self.loss_rate = self.loss_rate * (1.0 - LOSS_EWMA) + LOSS_EWMA;
        if self.phase == Phase::ProbeBandwidth
            && self.queue_standing()
            && self.backed_off_in_round.is_none_or(|round| round < self.round)
        {
            self.backed_off_in_round = Some(self.round);
            let floor = self.min_window();
            let cap = ((in_flight as f64 * INFLIGHT_CAP_BETA) as u64).max(floor);
            self.inflight_cap = Some(self.inflight_cap.map_or(cap, |old| old.min(cap)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_does_not_lower_the_rate() {
        let mut c = Controller::new(1200, 16 * 1024, 1 << 30, 0);
        let state = c.on_sent(0, false);
        c.on_acked(50_000, 1200, state, Some(50_000), 0);
        let before = (c.pacing_rate(), c.window());
        for _ in 0..100 {
            c.on_lost(1200, 100 * 1200);
        }
        assert_eq!((c.pacing_rate(), c.window()), before);
    }

    #[test]
    fn rate_stays_within_the_configured_bounds() {
        let fast = Controller::new(1200, 16 * 1024, 1_000_000, 0);
        assert!(fast.pacing_rate() <= 1_000_000);
        let slow = Controller::new(1200, 300_000, 1_000_000, 0);
        assert!(slow.pacing_rate() >= 300_000);
        let mut pinned = Controller::new(1200, 262_144, 262_144, 0);
        assert_eq!(pinned.pacing_rate(), 262_144, "min == max pins the rate, as in GNS");
        pinned.set_rates(500_000, 100_000);
        assert_eq!(pinned.pacing_rate(), 100_000, "a minimum above the maximum is the maximum");
    }
}
