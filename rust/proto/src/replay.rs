//! The anti-replay window (WireGuard's, as boringtun keeps it): which packet counters of one
//! connection were already accepted. A datagram is checked *before* decryption, so old and
//! repeated counters cost no cipher work, and marked only *after* it authenticated, so a forged
//! datagram cannot burn a counter the real peer will use.

/// Counters this far below the highest accepted one are still told apart; older ones are
/// refused outright. 2048 packets covers any reordering a real path produces.
const WINDOW_BITS: u64 = 2048;
const WORDS: usize = (WINDOW_BITS / 64) as usize;

#[derive(Debug, Clone)]
pub struct ReplayWindow {
    /// Highest counter accepted plus one (0: none yet).
    next: u64,
    /// Bit `c % WINDOW_BITS` is set when counter `c` (within the window) was accepted.
    bits: [u64; WORDS],
}

impl Default for ReplayWindow {
    fn default() -> Self {
        ReplayWindow { next: 0, bits: [0; WORDS] }
    }
}

impl ReplayWindow {
    /// Whether `counter` would be new: above the window's floor and not seen before.
    pub fn is_fresh(&self, counter: u64) -> bool {
        if counter >= self.next {
            return true;
        }
        if self.next - counter > WINDOW_BITS {
            return false;
        }
        let (word, bit) = Self::slot(counter);
        self.bits[word] & (1 << bit) == 0
    }

    /// Record `counter` as accepted (call only after it authenticated). Returns false if it
    /// was not fresh after all.
    pub fn mark(&mut self, counter: u64) -> bool {
        if !self.is_fresh(counter) {
            return false;
        }
        if counter >= self.next {
            // Slide: forget the slots of counters that fall out of the window.
            let advance = counter + 1 - self.next;
            if advance >= WINDOW_BITS {
                self.bits = [0; WORDS];
            } else {
                for c in self.next..=counter {
                    let (word, bit) = Self::slot(c);
                    self.bits[word] &= !(1 << bit);
                }
            }
            self.next = counter + 1;
        }
        let (word, bit) = Self::slot(counter);
        self.bits[word] |= 1 << bit;
        true
    }

    fn slot(counter: u64) -> (usize, u32) {
        let index = counter % WINDOW_BITS;
        ((index / 64) as usize, (index % 64) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_each_counter_once_in_any_order() {
        let mut w = ReplayWindow::default();
        for c in [5, 0, 3, 4, 1, 2, 9, 7] {
            assert!(w.mark(c), "{c} is new");
        }
        for c in [5, 0, 3, 4, 1, 2, 9, 7] {
            assert!(!w.is_fresh(c), "{c} is a replay");
            assert!(!w.mark(c));
        }
        assert!(w.is_fresh(6) && w.is_fresh(8) && w.is_fresh(10_000));
    }

    #[test]
    fn refuses_counters_below_the_window() {
        let mut w = ReplayWindow::default();
        assert!(w.mark(10_000));
        assert!(!w.is_fresh(10_000 - WINDOW_BITS - 1), "too old to tell apart");
        assert!(w.is_fresh(10_000 - WINDOW_BITS + 1));
        assert!(w.mark(10_000 - 5));
        // A big jump clears the old slots rather than aliasing them.
        assert!(w.mark(10_000 + 3 * WINDOW_BITS));
        assert!(w.is_fresh(10_000 + 3 * WINDOW_BITS - 5));
    }

    #[test]
    fn slides_without_aliasing() {
        let mut w = ReplayWindow::default();
        for c in 0..10 * WINDOW_BITS {
            assert!(w.mark(c));
            assert!(!w.is_fresh(c));
            if c >= 1 {
                assert!(!w.is_fresh(c - 1));
            }
        }
    }
}
