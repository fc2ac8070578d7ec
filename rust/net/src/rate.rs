//! Packets and bytes per second, measured over whole one-second windows so a burst shows as what
//! it was rather than as a spike extrapolated from a few microseconds.

const WINDOW_USEC: u64 = 1_000_000;

#[derive(Debug, Clone, Default)]
pub struct RateMeter {
    window_start: u64,
    packets: u64,
    bytes: u64,
    packets_per_sec: f32,
    bytes_per_sec: f32,
}

impl RateMeter {
    pub fn record(&mut self, now_usec: u64, bytes: usize) {
        self.record_many(now_usec, 1, bytes as u64);
    }

    pub fn record_many(&mut self, now_usec: u64, packets: u64, bytes: u64) {
        self.roll(now_usec);
        self.packets += packets;
        self.bytes += bytes;
    }

    /// Rates of the last complete window (zero when it is more than a window old).
    pub fn rates(&mut self, now_usec: u64) -> (f32, f32) {
        self.roll(now_usec);
        (self.packets_per_sec, self.bytes_per_sec)
    }

    fn roll(&mut self, now_usec: u64) {
        let elapsed = now_usec.saturating_sub(self.window_start);
        if elapsed < WINDOW_USEC {
            return;
        }
        if elapsed < 2 * WINDOW_USEC {
            let secs = elapsed as f32 / WINDOW_USEC as f32;
            self.packets_per_sec = self.packets as f32 / secs;
            self.bytes_per_sec = self.bytes as f32 / secs;
        } else {
            // The last full window saw nothing.
            self.packets_per_sec = 0.0;
            self.bytes_per_sec = 0.0;
        }
        self.window_start = now_usec;
        self.packets = 0;
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_last_whole_window() {
        let mut m = RateMeter::default();
        for i in 0..10 {
            m.record(i * 1000, 100);
        }
        assert_eq!(m.rates(500_000), (0.0, 0.0), "window not complete yet");
        let (p, b) = m.rates(1_000_000);
        assert_eq!((p, b), (10.0, 1000.0));
        assert_eq!(m.rates(3_500_000), (0.0, 0.0), "idle window");
    }
}
