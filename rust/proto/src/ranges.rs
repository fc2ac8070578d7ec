//! A set of `u64` values kept as disjoint half-open ranges: which packet numbers arrived, which
//! stream bytes were acknowledged. Adjacent and overlapping ranges merge on insert.

use std::collections::BTreeMap;
use std::ops::Range;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// start -> end (exclusive); ranges never touch or overlap.
    ranges: BTreeMap<u64, u64>,
}

impl RangeSet {
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn contains(&self, value: u64) -> bool {
        self.ranges.range(..=value).next_back().is_some_and(|(_, &end)| value < end)
    }

    /// Insert `range`; returns whether any value in it was new.
    pub fn insert(&mut self, range: Range<u64>) -> bool {
        if range.is_empty() {
            return false;
        }
        // The common case, in order (the next packet number, the next stream bytes): the last
        // range grows in place, and nothing lies beyond it to merge with.
        if let Some(mut last) = self.ranges.last_entry()
            && *last.key() <= range.start
            && *last.get() >= range.start
        {
            let end = last.get_mut();
            let grew = range.end > *end;
            *end = (*end).max(range.end);
            return grew;
        }
        let (mut start, mut end) = (range.start, range.end);
        // Merge with a range that starts before and reaches into (or touches) this one.
        if let Some((&s, &e)) = self.ranges.range(..=start).next_back()
            && e >= start
        {
            if e >= end {
                return false;
            }
            start = s;
        }
        // Absorb ranges that start inside (or touching) the new one.
        while let Some((&s, &e)) = self.ranges.range(start..=end).next() {
            self.ranges.remove(&s);
            end = end.max(e);
        }
        self.ranges.insert(start, end);
        // Ranges never touch, so a range not inside one existing range covers some gap.
        true
    }

    /// Remove every value in `range`.
    pub fn remove(&mut self, range: Range<u64>) {
        if range.is_empty() {
            return;
        }
        // The range that starts at or before range.start may stick out on either side.
        if let Some((&s, &e)) = self.ranges.range(..range.start).next_back()
            && e > range.start
        {
            self.ranges.insert(s, range.start);
            if e > range.end {
                self.ranges.insert(range.end, e);
                return;
            }
        }
        while let Some((&s, &e)) = self.ranges.range(range.start..range.end).next() {
            self.ranges.remove(&s);
            if e > range.end {
                self.ranges.insert(range.end, e);
                break;
            }
        }
    }

    /// The parts of `range` not in the set, lowest first.
    pub fn gaps_in(&self, range: Range<u64>) -> Vec<Range<u64>> {
        let mut gaps = Vec::new();
        let mut cursor = range.start;
        let first = self.ranges.range(..=range.start).next_back().map(|(&s, _)| s).unwrap_or(range.start);
        for (&s, &e) in self.ranges.range(first..range.end) {
            if s > cursor {
                gaps.push(cursor..s.min(range.end));
            }
            cursor = cursor.max(e);
            if cursor >= range.end {
                break;
            }
        }
        if cursor < range.end {
            gaps.push(cursor..range.end);
        }
        gaps
    }

    /// Remove every value below `bound`.
    pub fn remove_below(&mut self, bound: u64) {
        while let Some((&s, &e)) = self.ranges.iter().next() {
            if s >= bound {
                break;
            }
            self.ranges.remove(&s);
            if e > bound {
                self.ranges.insert(bound, e);
                break;
            }
        }
    }

    pub fn min(&self) -> Option<u64> {
        self.ranges.keys().next().copied()
    }

    pub fn max(&self) -> Option<u64> {
        self.ranges.values().next_back().map(|e| e - 1)
    }

    /// Ranges from highest to lowest.
    pub fn iter_rev(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        self.ranges.iter().rev().map(|(&s, &e)| s..e)
    }

    pub fn iter(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        self.ranges.iter().map(|(&s, &e)| s..e)
    }

    /// Drop the lowest ranges until at most `max` remain.
    pub fn truncate_low(&mut self, max: usize) {
        while self.ranges.len() > max {
            let first = *self.ranges.keys().next().expect("non-empty");
            self.ranges.remove(&first);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ranges: &[Range<u64>]) -> RangeSet {
        let mut s = RangeSet::default();
        for r in ranges {
            s.insert(r.clone());
        }
        s
    }

    #[test]
    fn merges_touching_and_overlapping() {
        let s = set(&[0..2, 4..6, 2..4]);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0..6]);
        let s = set(&[10..20, 0..5, 3..12]);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0..20]);
        let s = set(&[0..1, 5..6]);
        assert_eq!(s.len(), 2);
        assert!(s.contains(5) && !s.contains(4) && !s.contains(6));
    }

    #[test]
    fn insert_reports_news() {
        let mut s = RangeSet::default();
        s.insert(0..10);
        assert!(!s.insert(2..5));
        assert!(!s.insert(0..10));
        assert!(s.insert(9..11));
        assert!(!s.insert(7..7));
    }

    #[test]
    fn remove_cuts_holes() {
        let mut s = set(&[0..10, 20..30]);
        s.remove(5..25);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0..5, 25..30]);
        s.remove(1..2);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0..1, 2..5, 25..30]);
        s.remove(0..100);
        assert!(s.is_empty());
    }

    #[test]
    fn gaps_are_the_complement_within_a_range() {
        let s = set(&[2..4, 6..8]);
        assert_eq!(s.gaps_in(0..10), vec![0..2, 4..6, 8..10]);
        assert_eq!(s.gaps_in(3..7), vec![4..6]);
        assert_eq!(s.gaps_in(2..4), vec![]);
        assert_eq!(RangeSet::default().gaps_in(1..3), vec![1..3]);
    }

    #[test]
    fn remove_below_splits() {
        let mut s = set(&[0..4, 6..10]);
        s.remove_below(7);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![7..10]);
        assert_eq!((s.min(), s.max()), (Some(7), Some(9)));
    }

    #[test]
    fn matches_a_plain_set() {
        // Deterministic pseudo-random inserts checked against a BTreeSet.
        let mut x: u64 = 12345;
        let mut s = RangeSet::default();
        let mut plain = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let start = x % 500;
            let len = (x >> 20) % 8;
            let news = (start..start + len).any(|v| !plain.contains(&v));
            assert_eq!(s.insert(start..start + len), news);
            plain.extend(start..start + len);
        }
        for _ in 0..300 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let start = x % 500;
            let len = (x >> 20) % 30;
            if x & 1 == 0 {
                s.remove(start..start + len);
                for v in start..start + len {
                    plain.remove(&v);
                }
            } else {
                let gaps: Vec<u64> = s.gaps_in(start..start + len).into_iter().flatten().collect();
                let expected: Vec<u64> = (start..start + len).filter(|v| !plain.contains(v)).collect();
                assert_eq!(gaps, expected);
            }
        }
        for v in 0..560 {
            assert_eq!(s.contains(v), plain.contains(&v), "{v}");
        }
    }
}
