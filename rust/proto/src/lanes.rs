//! Lanes: independent ordered streams inside one connection.
//!
//! Each lane has a priority (higher is served first) and, among lanes of equal priority, a weight
//! that shares the bandwidth between them. Message numbers are assigned per lane, starting at 1,
//! as GameNetworkingSockets does. The rules for (re)configuring lanes follow GNS's
//! `ConfigureConnectionLanes`: the count may grow but never shrink, and weights must be positive.

/// Most lanes one connection may have (GNS caps lanes the same way).
pub const MAX_LANES: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneConfigError {
    /// Fewer than one lane, more than [`MAX_LANES`], or fewer than are configured already.
    BadLaneCount,
    /// A weight that is zero, negative or does not fit 16 bits.
    BadWeight,
    /// Fewer priorities or weights were given than lanes requested.
    MissingValues,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Lane {
    priority: i32,
    weight: u16,
    /// Number the next message sent on this lane gets.
    next_message_number: i64,
}

impl Lane {
    fn new(priority: i32, weight: u16) -> Self {
        Lane { priority, weight, next_message_number: 1 }
    }
}

/// The lanes of one connection. A fresh connection has exactly one lane (priority 0, weight 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lanes {
    lanes: Vec<Lane>,
}

impl Default for Lanes {
    fn default() -> Self {
        Lanes { lanes: vec![Lane::new(0, 1)] }
    }
}

impl Lanes {
    pub fn count(&self) -> usize {
        self.lanes.len()
    }

    pub fn priority(&self, lane: usize) -> Option<i32> {
        self.lanes.get(lane).map(|l| l.priority)
    }

    pub fn weight(&self, lane: usize) -> Option<u16> {
        self.lanes.get(lane).map(|l| l.weight)
    }

    /// Set the lane count and every lane's priority and weight. Lanes that exist keep their
    /// message numbering; the count may not shrink. On error nothing changes.
    pub fn configure(&mut self, count: usize, priorities: &[i64], weights: &[i64]) -> Result<(), LaneConfigError> {
        if count == 0 || count > MAX_LANES || count < self.lanes.len() {
            return Err(LaneConfigError::BadLaneCount);
        }
        if priorities.len() < count || weights.len() < count {
            return Err(LaneConfigError::MissingValues);
        }
        let mut parsed = Vec::with_capacity(count);
        for i in 0..count {
            let weight = u16::try_from(weights[i]).ok().filter(|w| *w > 0).ok_or(LaneConfigError::BadWeight)?;
            // Priorities are C ints in GNS; clamp rather than wrap values GDScript's 64-bit ints carry.
            let priority = priorities[i].clamp(i32::MIN as i64, i32::MAX as i64) as i32;
            parsed.push((priority, weight));
        }
        for (i, (priority, weight)) in parsed.into_iter().enumerate() {
            match self.lanes.get_mut(i) {
                Some(lane) => {
                    lane.priority = priority;
                    lane.weight = weight;
                }
                None => self.lanes.push(Lane::new(priority, weight)),
            }
        }
        Ok(())
    }

    /// The number the next message sent on `lane` will get, or `None` if there is no such lane.
    pub fn next_message_number(&self, lane: usize) -> Option<i64> {
        self.lanes.get(lane).map(|l| l.next_message_number)
    }

    /// Take the next message number on `lane`, or `None` if there is no such lane.
    pub fn take_message_number(&mut self, lane: usize) -> Option<i64> {
        let lane = self.lanes.get_mut(lane)?;
        let number = lane.next_message_number;
        lane.next_message_number += 1;
        Some(number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_connection_has_one_lane_numbered_from_one() {
        let mut lanes = Lanes::default();
        assert_eq!(lanes.count(), 1);
        assert_eq!(lanes.take_message_number(0), Some(1));
        assert_eq!(lanes.take_message_number(0), Some(2));
        assert_eq!(lanes.take_message_number(1), None);
    }

    #[test]
    fn lanes_grow_keep_numbering_and_never_shrink() {
        let mut lanes = Lanes::default();
        lanes.take_message_number(0);
        lanes.configure(3, &[5, 1, 1], &[1, 2, 3]).unwrap();
        assert_eq!(lanes.count(), 3);
        assert_eq!(lanes.priority(0), Some(5));
        assert_eq!(lanes.weight(2), Some(3));
        assert_eq!(lanes.take_message_number(0), Some(2));
        assert_eq!(lanes.take_message_number(2), Some(1));
        assert_eq!(lanes.configure(2, &[0, 0], &[1, 1]), Err(LaneConfigError::BadLaneCount));
        assert_eq!(lanes.count(), 3);
    }

    #[test]
    fn bad_input_changes_nothing() {
        let mut lanes = Lanes::default();
        let before = lanes.clone();
        assert_eq!(lanes.configure(0, &[], &[]), Err(LaneConfigError::BadLaneCount));
        assert_eq!(lanes.configure(MAX_LANES + 1, &[0; 300], &[1; 300]), Err(LaneConfigError::BadLaneCount));
        assert_eq!(lanes.configure(2, &[0], &[1, 1]), Err(LaneConfigError::MissingValues));
        assert_eq!(lanes.configure(2, &[0, 0], &[1, 0]), Err(LaneConfigError::BadWeight));
        assert_eq!(lanes.configure(2, &[0, 0], &[1, 70000]), Err(LaneConfigError::BadWeight));
        assert_eq!(lanes.configure(2, &[0, 0], &[-1, 1]), Err(LaneConfigError::BadWeight));
        assert_eq!(lanes, before);
    }
}
