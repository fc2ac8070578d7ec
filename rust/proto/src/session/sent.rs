//! The packets in flight, by number. Packets leave in number order, so they sit in a ring indexed
//! by number: recording one, finding the ones an ACK covers and dropping one cost O(1) and
//! allocate nothing once the ring has grown to the flight's size (a `BTreeMap` here was 5% of a
//! small-message benchmark). Packets that need no acknowledgement are not recorded: their
//! numbers are empty slots, which drop off the front as it is acknowledged.

use std::collections::VecDeque;
use std::ops::Range;

use super::SentPacket;

#[derive(Debug, Default)]
pub(super) struct SentPackets {
    /// The number of the packet in `slots[0]`.
    base: u64,
    slots: VecDeque<Option<SentPacket>>,
    /// Occupied slots.
    len: usize,
}

impl SentPackets {
    /// Record packet `number`, which is higher than any recorded before.
    pub(super) fn insert(&mut self, number: u64, packet: SentPacket) {
        if self.len == 0 {
            self.slots.clear();
            self.base = number;
        }
        debug_assert!(number >= self.base + self.slots.len() as u64, "packets are recorded in number order");
        let index = (number - self.base) as usize;
        self.slots.resize_with(index, || None);
        self.slots.push_back(Some(packet));
        self.len += 1;
    }

    pub(super) fn remove(&mut self, number: u64) -> Option<SentPacket> {
        let index = usize::try_from(number.checked_sub(self.base)?).ok()?;
        let packet = self.slots.get_mut(index)?.take()?;
        self.len -= 1;
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.base += 1;
        }
        Some(packet)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slots' numbers that fall in `range`, clamped to what the ring holds (a peer's ACK
    /// may name any numbers at all).
    fn clamp(&self, range: Range<u64>) -> Range<u64> {
        let end = self.base + self.slots.len() as u64;
        range.start.clamp(self.base, end)..range.end.clamp(self.base, end)
    }

    /// Remove every recorded packet in `range`, handing each to `each` in number order.
    pub(super) fn remove_range(&mut self, range: Range<u64>, mut each: impl FnMut(u64, SentPacket)) {
        for number in self.clamp(range) {
            if let Some(packet) = self.remove(number) {
                each(number, packet);
            }
        }
    }

    /// The recorded packets numbered below `end`, in number order.
    pub(super) fn below(&self, end: u64) -> impl Iterator<Item = (u64, &SentPacket)> {
        let range = self.clamp(self.base..end);
        let base = self.base;
        self.slots
            .range((range.start - base) as usize..(range.end - base) as usize)
            .enumerate()
            .filter_map(move |(i, slot)| Some((range.start + i as u64, slot.as_ref()?)))
    }

    /// Every recorded number, in order.
    pub(super) fn numbers(&self) -> impl Iterator<Item = u64> + '_ {
        self.below(u64::MAX).map(|(number, _)| number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(size: u64) -> SentPacket {
        SentPacket { time: 0, size, ack_eliciting: true, reliable: Default::default(), delivery: Default::default() }
    }

    #[test]
    fn records_finds_and_forgets_by_number() {
        let mut sent = SentPackets::default();
        for number in [5, 6, 9, 10, 14] {
            sent.insert(number, packet(number));
        }
        assert_eq!(sent.numbers().collect::<Vec<_>>(), vec![5, 6, 9, 10, 14]);
        assert_eq!(sent.below(10).map(|(n, _)| n).collect::<Vec<_>>(), vec![5, 6, 9]);
        let mut acked = Vec::new();
        sent.remove_range(6..11, |n, p| acked.push((n, p.size)));
        assert_eq!(acked, vec![(6, 6), (9, 9), (10, 10)]);
        assert!(sent.remove(6).is_none(), "gone once");
        assert_eq!(sent.remove(5).map(|p| p.size), Some(5));
        assert_eq!(sent.numbers().collect::<Vec<_>>(), vec![14]);
        assert_eq!(sent.slots.len(), 1, "the empty front dropped off");
        assert!(sent.remove(14).is_some() && sent.is_empty());
        // After emptying, numbering carries on anywhere higher.
        sent.insert(100, packet(1));
        assert_eq!(sent.numbers().collect::<Vec<_>>(), vec![100]);
    }

    #[test]
    fn a_hostile_ack_range_costs_no_more_than_the_flight() {
        let mut sent = SentPackets::default();
        sent.insert(1_000, packet(1));
        sent.insert(1_001, packet(1));
        let mut count = 0;
        sent.remove_range(0..u64::MAX, |_, _| count += 1);
        assert_eq!(count, 2);
        sent.remove_range(u64::MAX - 5..u64::MAX, |_, _| count += 1);
        assert!(sent.below(0).next().is_none() && sent.remove(u64::MAX).is_none());
    }
}
