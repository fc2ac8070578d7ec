//! Forward error correction, a steamnet extension (off unless configured): after each group of
//! data packets the sender adds Reed–Solomon repair packets, and a receiver missing some of the
//! group rebuilds them from the repairs, with no round trip.
//!
//! Why: a lost packet is otherwise repaired only after the receiver's acknowledgement reaches the
//! sender and the copy crosses again, about a round trip and a half. On a long path that is the
//! whole cost of loss for a short transfer or a burst of game state, and no congestion or
//! recovery tuning removes it; spending some bandwidth on repairs does.
//!
//! ```text
//! data packet   = number FEC_MEMBER(group, index) data-frames...
//! repair packet = number REPAIR(group, count, repairs, index, shard)
//! shard         = number (u64 LE) | length (u16 LE) | data-frames | zero padding
//! ```
//!
//! A member's shard is its packet number and the frames after its FEC_MEMBER frame; the group's
//! shards are padded to one even length and `repairs` recovery shards are computed over them
//! (any `count` of the `count + repairs` shards rebuild the rest). A group closes at
//! [`GROUP_SIZE`] members, or earlier when the sender has nothing more queued, so the tail of a
//! burst is protected too; a partial group gets repairs in proportion, at least one.
//!
//! The receiver keeps the members of a few open groups only (bounded in groups and bytes), and a
//! rebuilt packet is processed as if it had arrived, so it is acknowledged and never sent again.

use std::collections::{BTreeMap, VecDeque};

use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

/// Data packets per repair group.
pub const GROUP_SIZE: usize = 16;
/// Most members a REPAIR may declare (bounds what a hostile peer makes us decode).
pub const MAX_COUNT: u64 = 32;
/// Most repair packets per group.
pub const MAX_REPAIRS: u64 = GROUP_SIZE as u64;
/// Largest shard accepted: more than any packet plus the shard header.
pub const MAX_SHARD: u64 = 2048;
/// Bytes of a shard before the data frames: packet number and length.
pub const SHARD_HEADER: usize = 10;
/// Room a protected packet leaves free so that a repair for it (REPAIR header, shard header,
/// padding, a longer packet number) still fits the packet size. Checked by a test.
pub const RESERVE: usize = 32;
/// Groups a receiver keeps open at once; the oldest goes first.
const OPEN_GROUPS: usize = 8;
/// Bytes of shards a receiver holds at once, whatever the peer sends.
const MAX_HELD: usize = 256 * 1024;

/// One repair packet's contents, ready to encode as a REPAIR frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    pub group: u64,
    pub count: u8,
    pub repairs: u8,
    pub index: u8,
    pub shard: Vec<u8>,
}

/// A packet rebuilt from its group: its number and its data frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    pub number: u64,
    pub payload: Vec<u8>,
}

/// A member's shard, unpadded: its packet number, the length of its data frames, and those frames
/// (the layout both halves share; padding to the group's size comes when the group is coded).
fn shard(number: u64, data: &[u8]) -> Vec<u8> {
    let mut shard = Vec::with_capacity(SHARD_HEADER + data.len() + 1);
    shard.extend_from_slice(&number.to_le_bytes());
    shard.extend_from_slice(&(data.len() as u16).to_le_bytes());
    shard.extend_from_slice(data);
    shard
}

/// The sender's half: collects the shards of the open group and computes its repairs.
#[derive(Debug, Default)]
pub struct FecEncoder {
    /// Repair packets per [`GROUP_SIZE`] data packets; 0 turns protection off.
    repairs: usize,
    group: u64,
    shards: Vec<Vec<u8>>,
    ready: VecDeque<Repair>,
}

impl FecEncoder {
    /// Set the repair packets per [`GROUP_SIZE`] data packets (0 = off, capped at the group
    /// size). A group already started is closed with the old setting.
    pub fn set_repairs(&mut self, repairs: usize) {
        let repairs = repairs.min(GROUP_SIZE);
        if repairs != self.repairs {
            self.flush();
            self.repairs = repairs;
        }
    }

    /// The group and index the next data packet takes, when protection is on.
    pub fn next_member(&self) -> Option<(u64, u8)> {
        (self.repairs > 0).then_some((self.group, self.shards.len() as u8))
    }

    /// Packet `number` carried `data` as member [`next_member`](Self::next_member).
    pub fn add_member(&mut self, number: u64, data: &[u8]) {
        self.shards.push(shard(number, data));
        if self.shards.len() == GROUP_SIZE {
            self.flush();
        }
    }

    /// Close the open group (nothing more to send for now): compute its repairs.
    pub fn flush(&mut self) {
        if self.shards.is_empty() {
            return;
        }
        let count = self.shards.len();
        let repairs = (self.repairs * count).div_ceil(GROUP_SIZE).max(1);
        let shard_bytes = self.shards.iter().map(Vec::len).max().unwrap_or(0).next_multiple_of(2);
        let mut encoder = ReedSolomonEncoder::new(count, repairs, shard_bytes).expect("group shape is supported");
        for shard in &mut self.shards {
            shard.resize(shard_bytes, 0);
            encoder.add_original_shard(&*shard).expect("shards are of one size");
        }
        let result = encoder.encode().expect("all originals added");
        for (index, shard) in result.recovery_iter().enumerate() {
            self.ready.push_back(Repair {
                group: self.group,
                count: count as u8,
                repairs: repairs as u8,
                index: index as u8,
                shard: shard.to_vec(),
            });
        }
        self.shards.clear();
        self.group += 1;
    }

    /// The next repair packet to send, oldest first.
    pub fn poll_repair(&mut self) -> Option<Repair> {
        self.ready.pop_front()
    }

    pub fn has_repair(&self) -> bool {
        !self.ready.is_empty()
    }
}

/// What a REPAIR frame declares about its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    count: usize,
    repairs: usize,
    shard_bytes: usize,
}

#[derive(Debug, Default)]
struct Group {
    shape: Option<Shape>,
    members: BTreeMap<u8, Vec<u8>>,
    repairs: BTreeMap<u8, Vec<u8>>,
    /// Every member is here or was rebuilt; later frames of the group are ignored.
    done: bool,
}

impl Group {
    fn held(&self) -> usize {
        self.members.values().chain(self.repairs.values()).map(Vec::len).sum()
    }
}

/// The receiver's half: holds recent members and repairs, and rebuilds what is missing.
#[derive(Debug, Default)]
pub struct FecDecoder {
    groups: BTreeMap<u64, Group>,
    /// Groups below this were closed or dropped; their frames are ignored.
    floor: u64,
    held: usize,
}

impl FecDecoder {
    /// Packet `number` arrived as member `index` of `group`, carrying `data`.
    pub fn on_member(&mut self, group: u64, index: u8, number: u64, data: &[u8]) -> Vec<Recovered> {
        if u64::from(index) >= MAX_COUNT || data.len() + SHARD_HEADER > MAX_SHARD as usize {
            return Vec::new();
        }
        let Some(open) = self.open(group) else { return Vec::new() };
        if open.members.contains_key(&index) {
            return Vec::new();
        }
        let shard = shard(number, data);
        let len = shard.len();
        open.members.insert(index, shard);
        self.held += len;
        self.settle(group)
    }

    /// A REPAIR frame arrived (its fields already checked against the wire limits).
    pub fn on_repair(&mut self, group: u64, count: u8, repairs: u8, index: u8, shard: &[u8]) -> Vec<Recovered> {
        let shape = Shape { count: count as usize, repairs: repairs as usize, shard_bytes: shard.len() };
        let Some(open) = self.open(group) else { return Vec::new() };
        if *open.shape.get_or_insert(shape) != shape || open.repairs.contains_key(&index) {
            return Vec::new();
        }
        open.repairs.insert(index, shard.to_vec());
        self.held += shard.len();
        self.settle(group)
    }

    /// Bytes of shards held now.
    pub fn held(&self) -> usize {
        self.held
    }

    /// The open group `id`, created if new; `None` if it is closed or too old.
    fn open(&mut self, id: u64) -> Option<&mut Group> {
        if id < self.floor {
            return None;
        }
        if let std::collections::btree_map::Entry::Vacant(entry) = self.groups.entry(id) {
            entry.insert(Group::default());
            while self.groups.len() > OPEN_GROUPS {
                self.drop_oldest();
            }
        }
        self.groups.get_mut(&id).filter(|g| !g.done)
    }

    fn drop_oldest(&mut self) {
        if let Some((id, group)) = self.groups.pop_first() {
            self.held -= group.held();
            self.floor = self.floor.max(id.saturating_add(1));
        }
    }

    /// Close `id` if it is complete, rebuild its missing members if it can, and keep the bytes
    /// held under the cap.
    fn settle(&mut self, id: u64) -> Vec<Recovered> {
        let mut recovered = Vec::new();
        if let Some(group) = self.groups.get_mut(&id)
            && let Some(shape) = group.shape
            && group.members.len() + group.repairs.len() >= shape.count
        {
            // Counted before rebuilding, which pads the members in place.
            let held = group.held();
            if group.members.len() < shape.count {
                recovered = Self::rebuild(group, shape);
            }
            group.members.clear();
            group.repairs.clear();
            group.done = true;
            self.held -= held;
        }
        while self.held > MAX_HELD && !self.groups.is_empty() {
            self.drop_oldest();
        }
        recovered
    }

    /// The missing members of a group with enough shards; nothing if the peer's shards do not
    /// fit the shape it declared.
    fn rebuild(group: &mut Group, shape: Shape) -> Vec<Recovered> {
        let Ok(mut decoder) = ReedSolomonDecoder::new(shape.count, shape.repairs, shape.shard_bytes) else {
            return Vec::new();
        };
        for (&index, shard) in &mut group.members {
            if index as usize >= shape.count || shard.len() > shape.shard_bytes {
                return Vec::new();
            }
            shard.resize(shape.shard_bytes, 0);
            if decoder.add_original_shard(index as usize, &*shard).is_err() {
                return Vec::new();
            }
        }
        for (&index, shard) in &group.repairs {
            if decoder.add_recovery_shard(index as usize, shard).is_err() {
                return Vec::new();
            }
        }
        let Ok(result) = decoder.decode() else { return Vec::new() };
        result
            .restored_original_iter()
            .filter_map(|(_, shard)| {
                let number = u64::from_le_bytes(shard[..8].try_into().ok()?);
                let len = u16::from_le_bytes(shard[8..SHARD_HEADER].try_into().ok()?) as usize;
                let payload = shard.get(SHARD_HEADER..SHARD_HEADER + len)?;
                Some(Recovered { number, payload: payload.to_vec() })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(number: u64) -> Vec<u8> {
        (0..(number as usize * 37) % 900 + 1).map(|i| (i as u64 * 7 + number) as u8).collect()
    }

    /// Encode `count` packets with `repairs` per group; deliver all but `lost` members and the
    /// repairs not in `lost_repairs`; return what the receiver rebuilt.
    fn run(count: u64, repairs: usize, lost: &[u64], lost_repairs: &[u8]) -> (Vec<Recovered>, usize) {
        let mut encoder = FecEncoder::default();
        encoder.set_repairs(repairs);
        let mut decoder = FecDecoder::default();
        let mut recovered = Vec::new();
        for number in 0..count {
            let (group, index) = encoder.next_member().unwrap();
            encoder.add_member(number, &packet(number));
            if !lost.contains(&number) {
                recovered.extend(decoder.on_member(group, index, number, &packet(number)));
            }
        }
        encoder.flush();
        while let Some(r) = encoder.poll_repair() {
            if !lost_repairs.contains(&r.index) {
                recovered.extend(decoder.on_repair(r.group, r.count, r.repairs, r.index, &r.shard));
            }
        }
        (recovered, decoder.held())
    }

    #[test]
    fn lost_members_are_rebuilt_from_repairs() {
        let (got, held) = run(16, 4, &[0, 5, 9, 15], &[]);
        assert_eq!(held, 0, "the group is closed and its shards freed");
        let numbers: Vec<u64> = got.iter().map(|r| r.number).collect();
        assert_eq!(numbers, [0, 5, 9, 15]);
        for r in &got {
            assert_eq!(r.payload, packet(r.number));
        }
    }

    #[test]
    fn more_losses_than_repairs_rebuild_nothing() {
        assert!(run(16, 2, &[1, 2, 3], &[]).0.is_empty());
        assert!(run(16, 2, &[1, 2], &[0]).0.is_empty());
    }

    #[test]
    fn a_partial_group_gets_repairs_in_proportion() {
        let mut encoder = FecEncoder::default();
        encoder.set_repairs(4);
        encoder.add_member(0, b"only");
        encoder.flush();
        let r = encoder.poll_repair().unwrap();
        assert_eq!((r.count, r.repairs), (1, 1));
        assert!(encoder.poll_repair().is_none());
        assert_eq!(run(5, 4, &[3], &[]).0.iter().map(|r| r.number).collect::<Vec<_>>(), [3]);
        assert_eq!(run(40, 4, &[2, 20, 39], &[]).0.len(), 3, "three groups, one loss each");
    }

    #[test]
    fn off_means_no_members() {
        let mut encoder = FecEncoder::default();
        assert!(encoder.next_member().is_none());
        encoder.set_repairs(2);
        assert_eq!(encoder.next_member(), Some((0, 0)));
        encoder.add_member(0, b"x");
        encoder.set_repairs(0);
        assert!(encoder.has_repair(), "turning it off closes the open group");
        assert!(encoder.next_member().is_none());
    }

    #[test]
    fn hostile_frames_are_bounded_and_ignored() {
        let mut decoder = FecDecoder::default();
        // Shapes that disagree, and shards of the wrong size, rebuild nothing and never panic.
        assert!(decoder.on_member(0, 0, 1, &[1; 100]).is_empty());
        assert!(decoder.on_repair(0, 2, 1, 0, &[0; 20]).is_empty(), "member longer than the shard");
        assert!(decoder.on_repair(0, 3, 1, 0, &[0; 200]).is_empty(), "another shape is ignored");
        assert!(decoder.on_member(1, 40, 1, &[0; 10]).is_empty(), "index past the limit");
        // Flooding many groups keeps at most the open-group and byte caps.
        for group in 0..10_000u64 {
            for index in 0..31 {
                decoder.on_member(group, index, group * 32 + index as u64, &[7; 1200]);
            }
            assert!(decoder.held() <= MAX_HELD);
            assert!(decoder.groups.len() <= OPEN_GROUPS);
        }
        assert!(decoder.on_member(0, 1, 0, &[0; 4]).is_empty(), "a dropped group stays closed");
        assert!(decoder.on_member(u64::MAX, 0, 0, &[0; 4]).is_empty());
        assert!(decoder.on_member(u64::MAX, 1, 0, &[0; 4]).is_empty());
    }
}
