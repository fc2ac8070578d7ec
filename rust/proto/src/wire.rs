//! The packet format of an established session (what travels inside the encryption, once that
//! exists). Every field is a varint (see [`crate::varint`]):
//!
//! ```text
//! packet   = packet_number frame*
//! PING     = 0x01                                       ask for an acknowledgement
//! ACK      = 0x02 largest delay_usec count first_len (gap len){count}
//! RELIABLE = 0x03 lane offset len bytes                 bytes of the lane's reliable stream
//! UNREL    = 0x04 lane message_number offset total len bytes   a fragment of one message
//! CLOSE    = 0x05 reason len utf8
//! STATS    = 0x06 quality_permille                       how much of the peer's traffic arrives
//! FEC_MEMBER = 0x07 group index                          the frames after it are a repair-group member
//! REPAIR   = 0x08 group count repairs index len bytes    a recovery shard of a group (see crate::fec)
//! ```
//!
//! ACK ranges run from the highest down: the first covers `largest + 1 - first_len ..= largest`;
//! each further range ends `gap` below the start of the one before it. Decoding checks every
//! length against the input and every value against its limit, so hostile input yields an error,
//! never a panic or a large allocation.

use std::ops::Range;

use crate::{fec, varint};

pub const FRAME_PING: u64 = 0x01;
pub const FRAME_ACK: u64 = 0x02;
pub const FRAME_RELIABLE: u64 = 0x03;
pub const FRAME_UNRELIABLE: u64 = 0x04;
pub const FRAME_CLOSE: u64 = 0x05;
pub const FRAME_STATS: u64 = 0x06;
pub const FRAME_FEC_MEMBER: u64 = 0x07;
pub const FRAME_REPAIR: u64 = 0x08;

/// Most ACK ranges one frame may carry.
pub const MAX_ACK_RANGES: usize = 64;
/// Largest message the protocol carries (GNS's send limit, 512 KiB).
pub const MAX_MESSAGE_SIZE: u64 = 512 * 1024;
/// Longest close text (GNS: 128 bytes including the NUL).
pub const MAX_CLOSE_TEXT: u64 = 127;

/// An ACK's ranges: held inline up to 8 (almost every ACK), so encoding and decoding one
/// allocates nothing.
pub type AckRanges = smallvec::SmallVec<[Range<u64>; 8]>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckFrame {
    pub delay_usec: u64,
    /// Disjoint ranges of packet numbers, highest first.
    pub ranges: AckRanges,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    Ping,
    Ack(AckFrame),
    Reliable {
        lane: u16,
        offset: u64,
        data: &'a [u8],
    },
    Unreliable {
        lane: u16,
        message_number: u64,
        offset: u32,
        total_len: u32,
        data: &'a [u8],
    },
    Close {
        reason: u32,
        text: &'a str,
    },
    /// The sender's measure of our packets that reach it, in thousandths.
    Stats {
        quality_permille: u16,
    },
    /// The rest of this packet (`rest`, the frames after this one) is member `index` of repair
    /// group `group` (forward error correction, [`crate::fec`]).
    FecMember {
        group: u64,
        index: u8,
        rest: &'a [u8],
    },
    /// Recovery shard `index` of the `repairs` computed over the `count` members of `group`.
    Repair {
        group: u64,
        count: u8,
        repairs: u8,
        index: u8,
        shard: &'a [u8],
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    Truncated,
    UnknownFrame(u64),
    BadValue(&'static str),
}

impl<'a> Frame<'a> {
    /// Whether the receiver must acknowledge a packet carrying this frame.
    pub fn is_ack_eliciting(&self) -> bool {
        !matches!(self, Frame::Ack(_) | Frame::Stats { .. } | Frame::Repair { .. })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Ping => varint::write(out, FRAME_PING),
            Frame::Ack(ack) => {
                let Some(first) = ack.ranges.first() else { return };
                varint::write(out, FRAME_ACK);
                varint::write(out, first.end - 1);
                varint::write(out, ack.delay_usec);
                varint::write(out, (ack.ranges.len() - 1) as u64);
                varint::write(out, first.end - first.start);
                for pair in ack.ranges.windows(2) {
                    varint::write(out, pair[0].start - pair[1].end);
                    varint::write(out, pair[1].end - pair[1].start);
                }
            }
            Frame::Reliable { lane, offset, data } => {
                varint::write(out, FRAME_RELIABLE);
                varint::write(out, *lane as u64);
                varint::write(out, *offset);
                varint::write(out, data.len() as u64);
                out.extend_from_slice(data);
            }
            Frame::Unreliable { lane, message_number, offset, total_len, data } => {
                varint::write(out, FRAME_UNRELIABLE);
                varint::write(out, *lane as u64);
                varint::write(out, *message_number);
                varint::write(out, *offset as u64);
                varint::write(out, *total_len as u64);
                varint::write(out, data.len() as u64);
                out.extend_from_slice(data);
            }
            Frame::Close { reason, text } => {
                varint::write(out, FRAME_CLOSE);
                varint::write(out, *reason as u64);
                varint::write(out, text.len() as u64);
                out.extend_from_slice(text.as_bytes());
            }
            Frame::Stats { quality_permille } => {
                varint::write(out, FRAME_STATS);
                varint::write(out, *quality_permille as u64);
            }
            // `rest` is not written here: it is whatever the packet carries next.
            Frame::FecMember { group, index, .. } => {
                varint::write(out, FRAME_FEC_MEMBER);
                varint::write(out, *group);
                varint::write(out, *index as u64);
            }
            Frame::Repair { group, count, repairs, index, shard } => {
                varint::write(out, FRAME_REPAIR);
                varint::write(out, *group);
                varint::write(out, *count as u64);
                varint::write(out, *repairs as u64);
                varint::write(out, *index as u64);
                varint::write(out, shard.len() as u64);
                out.extend_from_slice(shard);
            }
        }
    }

    /// Encoded size of a data frame's header, so a sender can fit payload to the space left.
    pub fn reliable_header_len(lane: u16, offset: u64, len: usize) -> usize {
        1 + varint::len(lane as u64) + varint::len(offset) + varint::len(len as u64)
    }

    pub fn unreliable_header_len(lane: u16, message_number: u64, offset: u32, total_len: u32, len: usize) -> usize {
        1 + varint::len(lane as u64)
            + varint::len(message_number)
            + varint::len(offset as u64)
            + varint::len(total_len as u64)
            + varint::len(len as u64)
    }
}

#[inline]
fn read(input: &mut &[u8]) -> Result<u64, DecodeError> {
    varint::read(input).ok_or(DecodeError::Truncated)
}

#[inline]
fn take<'a>(input: &mut &'a [u8], len: u64) -> Result<&'a [u8], DecodeError> {
    let len = usize::try_from(len).map_err(|_| DecodeError::Truncated)?;
    if input.len() < len {
        return Err(DecodeError::Truncated);
    }
    let (head, tail) = input.split_at(len);
    *input = tail;
    Ok(head)
}

fn lane(value: u64) -> Result<u16, DecodeError> {
    if value >= crate::lanes::MAX_LANES as u64 {
        return Err(DecodeError::BadValue("lane"));
    }
    Ok(value as u16)
}

fn decode_frame<'a>(input: &mut &'a [u8]) -> Result<Frame<'a>, DecodeError> {
    match read(input)? {
        FRAME_PING => Ok(Frame::Ping),
        FRAME_ACK => {
            let largest = read(input)?;
            let delay_usec = read(input)?;
            let count = read(input)?;
            if count >= MAX_ACK_RANGES as u64 {
                return Err(DecodeError::BadValue("ack range count"));
            }
            let first_len = read(input)?;
            if first_len == 0 || first_len > largest + 1 {
                return Err(DecodeError::BadValue("ack range"));
            }
            let mut ranges = AckRanges::with_capacity(count as usize + 1);
            let mut start = largest + 1 - first_len;
            ranges.push(start..largest + 1);
            for _ in 0..count {
                let gap = read(input)?;
                let len = read(input)?;
                let end = start.checked_sub(gap).filter(|_| gap > 0).ok_or(DecodeError::BadValue("ack gap"))?;
                start = end.checked_sub(len).filter(|_| len > 0).ok_or(DecodeError::BadValue("ack range"))?;
                ranges.push(start..end);
            }
            Ok(Frame::Ack(AckFrame { delay_usec, ranges }))
        }
        FRAME_RELIABLE => {
            let lane = lane(read(input)?)?;
            let offset = read(input)?;
            let len = read(input)?;
            if offset.checked_add(len).is_none_or(|end| end > varint::MAX) {
                return Err(DecodeError::BadValue("stream offset"));
            }
            Ok(Frame::Reliable { lane, offset, data: take(input, len)? })
        }
        FRAME_UNRELIABLE => {
            let lane = lane(read(input)?)?;
            let message_number = read(input)?;
            let offset = read(input)?;
            let total_len = read(input)?;
            let len = read(input)?;
            if total_len > MAX_MESSAGE_SIZE || offset.checked_add(len).is_none_or(|end| end > total_len) {
                return Err(DecodeError::BadValue("fragment"));
            }
            let data = take(input, len)?;
            Ok(Frame::Unreliable { lane, message_number, offset: offset as u32, total_len: total_len as u32, data })
        }
        FRAME_CLOSE => {
            let reason = u32::try_from(read(input)?).map_err(|_| DecodeError::BadValue("close reason"))?;
            let len = read(input)?;
            if len > MAX_CLOSE_TEXT {
                return Err(DecodeError::BadValue("close text"));
            }
            let text = std::str::from_utf8(take(input, len)?).map_err(|_| DecodeError::BadValue("close text"))?;
            Ok(Frame::Close { reason, text })
        }
        FRAME_STATS => {
            let quality = read(input)?;
            if quality > 1000 {
                return Err(DecodeError::BadValue("quality"));
            }
            Ok(Frame::Stats { quality_permille: quality as u16 })
        }
        FRAME_FEC_MEMBER => {
            let group = read(input)?;
            let index = read(input)?;
            if index >= fec::MAX_COUNT {
                return Err(DecodeError::BadValue("fec member index"));
            }
            Ok(Frame::FecMember { group, index: index as u8, rest: input })
        }
        FRAME_REPAIR => {
            let group = read(input)?;
            let count = read(input)?;
            let repairs = read(input)?;
            let index = read(input)?;
            let len = read(input)?;
            if !(1..=fec::MAX_COUNT).contains(&count) || !(1..=fec::MAX_REPAIRS).contains(&repairs) || index >= repairs
            {
                return Err(DecodeError::BadValue("repair shape"));
            }
            if len % 2 != 0 || len < fec::SHARD_HEADER as u64 || len > fec::MAX_SHARD {
                return Err(DecodeError::BadValue("repair shard"));
            }
            let shard = take(input, len)?;
            Ok(Frame::Repair { group, count: count as u8, repairs: repairs as u8, index: index as u8, shard })
        }
        other => Err(DecodeError::UnknownFrame(other)),
    }
}

/// Split a packet into its number and frames.
pub fn decode_packet(mut input: &[u8]) -> Result<(u64, Frames<'_>), DecodeError> {
    let number = read(&mut input)?;
    Ok((number, decode_frames(input)?))
}

/// A packet's frames: inline up to 8 (a packet of small messages may hold more, and then
/// spills to the heap).
pub type Frames<'a> = smallvec::SmallVec<[Frame<'a>; 8]>;

/// The frames of a payload, decoded one by one as they are read: no list to hold them, so a
/// packet of a few hundred small messages costs no allocation. It ends after an error.
#[derive(Clone)]
pub struct FrameReader<'a> {
    input: &'a [u8],
}

impl<'a> Iterator for FrameReader<'a> {
    type Item = Result<Frame<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.input.is_empty() {
            return None;
        }
        let frame = decode_frame(&mut self.input);
        if frame.is_err() {
            self.input = &[];
        }
        Some(frame)
    }
}

/// The frames of a packet whose number travelled separately, as they are read.
pub fn read_frames(input: &[u8]) -> FrameReader<'_> {
    FrameReader { input }
}

/// The frames of a packet whose number travelled separately, gathered.
pub fn decode_frames(input: &[u8]) -> Result<Frames<'_>, DecodeError> {
    read_frames(input).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(frames: Vec<Frame<'_>>) {
        let mut buf = Vec::new();
        varint::write(&mut buf, 77);
        for f in &frames {
            f.encode(&mut buf);
        }
        let (number, decoded) = decode_packet(&buf).unwrap();
        assert_eq!(number, 77);
        assert_eq!(decoded.to_vec(), frames);
    }

    #[test]
    fn every_frame_round_trips() {
        round_trip(vec![
            Frame::Ping,
            Frame::Ack(AckFrame { delay_usec: 250, ranges: smallvec::smallvec![90..101, 50..60, 0..1] }),
            Frame::Reliable { lane: 3, offset: 1 << 40, data: b"stream bytes" },
            Frame::Unreliable { lane: 0, message_number: 9, offset: 1200, total_len: 3000, data: &[7; 100] },
            Frame::Close { reason: 1000, text: "bye" },
            Frame::Stats { quality_permille: 975 },
            Frame::Repair { group: 1 << 33, count: 16, repairs: 4, index: 3, shard: &[9; 1210] },
        ]);
        // A member frame's `rest` is the frames after it.
        let mut buf = vec![5];
        Frame::FecMember { group: 7, index: 15, rest: &[] }.encode(&mut buf);
        let data = Frame::Reliable { lane: 0, offset: 0, data: b"abc" };
        data.encode(&mut buf);
        let (_, frames) = decode_packet(&buf).unwrap();
        let rest = &buf[buf.len() - Frame::reliable_header_len(0, 0, 3) - 3..];
        assert_eq!(frames.to_vec(), vec![Frame::FecMember { group: 7, index: 15, rest }, data]);
        round_trip(vec![]);
    }

    #[test]
    fn header_len_helpers_match_encoding() {
        let mut buf = Vec::new();
        Frame::Reliable { lane: 200, offset: 70000, data: &[0; 300] }.encode(&mut buf);
        assert_eq!(buf.len(), Frame::reliable_header_len(200, 70000, 300) + 300);
        let mut buf = Vec::new();
        Frame::Unreliable { lane: 1, message_number: 1 << 20, offset: 5, total_len: 400, data: &[0; 10] }
            .encode(&mut buf);
        assert_eq!(buf.len(), Frame::unreliable_header_len(1, 1 << 20, 5, 400, 10) + 10);
    }

    #[test]
    fn hostile_values_are_errors() {
        let packet = |frame: &[u64], tail: &[u8]| {
            let mut buf = vec![0];
            for v in frame {
                varint::write(&mut buf, *v);
            }
            buf.extend_from_slice(tail);
            decode_packet(&buf).map(|_| ())
        };
        assert_eq!(packet(&[0x3f], &[]), Err(DecodeError::UnknownFrame(0x3f)));
        assert!(packet(&[FRAME_ACK, 5, 0, 0, 7], &[]).is_err(), "range below zero");
        assert!(packet(&[FRAME_ACK, 5, 0, 0, 0], &[]).is_err(), "empty range");
        assert!(packet(&[FRAME_ACK, 5, 0, 1000, 1], &[]).is_err(), "too many ranges");
        assert!(packet(&[FRAME_ACK, 9, 0, 1, 2, 0, 1], &[]).is_err(), "zero gap");
        assert!(packet(&[FRAME_ACK, 9, 0, 1, 2, 7, 2], &[]).is_err(), "gap past zero");
        assert!(packet(&[FRAME_RELIABLE, 0, 0, 10], &[1, 2]).is_err(), "length past input");
        assert!(packet(&[FRAME_RELIABLE, 300, 0, 0], &[]).is_err(), "lane out of range");
        assert!(packet(&[FRAME_RELIABLE, 0, varint::MAX, 1], &[1]).is_err(), "offset overflow");
        assert!(packet(&[FRAME_UNRELIABLE, 0, 1, 10, 5, 6], &[0; 6]).is_err(), "fragment past total");
        assert!(packet(&[FRAME_UNRELIABLE, 0, 1, 0, MAX_MESSAGE_SIZE + 1, 1], &[0]).is_err(), "oversized");
        assert!(packet(&[FRAME_CLOSE, 1 << 40, 0], &[]).is_err(), "reason over 32 bits");
        assert!(packet(&[FRAME_CLOSE, 1, 2], &[0xff, 0xfe]).is_err(), "text not utf-8");
        assert!(packet(&[FRAME_STATS, 1001], &[]).is_err(), "quality over 100%");
        assert!(packet(&[FRAME_FEC_MEMBER, 0, fec::MAX_COUNT], &[]).is_err(), "member index past the limit");
        assert!(packet(&[FRAME_REPAIR, 0, 0, 1, 0, 12], &[0; 12]).is_err(), "empty group");
        assert!(packet(&[FRAME_REPAIR, 0, 4, 2, 2, 12], &[0; 12]).is_err(), "repair index past repairs");
        assert!(packet(&[FRAME_REPAIR, 0, 4, 17, 0, 12], &[0; 12]).is_err(), "too many repairs");
        assert!(packet(&[FRAME_REPAIR, 0, 4, 2, 0, 13], &[0; 13]).is_err(), "odd shard");
        assert!(packet(&[FRAME_REPAIR, 0, 4, 2, 0, 4096], &[0; 4096]).is_err(), "shard too large");
        assert!(packet(&[FRAME_REPAIR, 0, 4, 2, 0, 100], &[0; 10]).is_err(), "shard past input");
        assert!(decode_packet(&[]).is_err(), "no packet number");
    }
}
