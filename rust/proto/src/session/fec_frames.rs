//! Forward error correction in the session (the codes are in [`crate::fec`]): a protected data
//! packet starts its data frames with FEC_MEMBER, repair packets go out before new data (paced
//! like it, but not in flight: nothing waits for them to be acknowledged), and a packet rebuilt
//! from its group is processed as if it had arrived.

use super::*;
use crate::fec::{Recovered, Repair};

/// How far beyond the highest packet received a rebuilt packet's number may lie (a sender's
/// group never spans more than a few dozen numbers).
const MAX_RECOVERED_AHEAD: u64 = 1 << 16;

impl Session {
    /// Bytes of frames a data packet may hold: less the room its repair needs when protected.
    pub(super) fn data_limit(&self) -> usize {
        match self.fec_send.next_member() {
            Some(_) => self.config.max_packet_size.saturating_sub(fec::RESERVE),
            None => self.config.max_packet_size,
        }
    }

    /// With protection on, mark the packet being built as the next member of the open group.
    /// Returns where the member frame starts and where its data frames start, for
    /// [`end_member`](Self::end_member).
    pub(super) fn begin_member(&mut self, buf: &mut Vec<u8>) -> Option<(usize, usize)> {
        let (group, index) = self.fec_send.next_member()?;
        let frame_at = buf.len();
        Frame::FecMember { group, index, rest: &[] }.encode(buf);
        Some((frame_at, buf.len()))
    }

    /// The packet's data frames are written: record them as the member's shard, or take the
    /// member frame back out if no data went in.
    pub(super) fn end_member(&mut self, member: Option<(usize, usize)>, number: u64, buf: &mut Vec<u8>) {
        match member {
            Some((frame_at, data_at)) if data_at == buf.len() => buf.truncate(frame_at),
            Some((_, data_at)) => self.fec_send.add_member(number, &buf[data_at..]),
            None => {}
        }
    }

    /// A packet holding one repair shard.
    pub(super) fn repair_packet(&mut self, now: u64, buf: &mut Vec<u8>, repair: Repair) {
        let Repair { group, count, repairs, index, shard } = repair;
        Frame::Repair { group, count, repairs, index, shard: &shard }.encode(buf);
        self.tokens -= buf.len() as f64;
        self.finish_packet(now, buf, false, SentRanges::new());
    }

    /// A packet the peer's repairs rebuilt: process it as if it had arrived, unless it did
    /// meanwhile. It may hold data frames only, as the sender builds members.
    pub(super) fn handle_recovered(&mut self, now: u64, packet: Recovered) {
        let Recovered { number, payload } = packet;
        let only_data = wire::decode_frames(&payload).is_ok_and(|frames| {
            frames.iter().all(|f| matches!(f, Frame::Reliable { .. } | Frame::Unreliable { .. } | Frame::Ping))
        });
        let plausible = number <= self.received.max().unwrap_or(0) + MAX_RECOVERED_AHEAD;
        if !only_data || !plausible {
            self.stats.bad_packets += 1;
            return;
        }
        if number < self.received_floor || self.received.contains(number) {
            return;
        }
        self.stats.packets_recovered += 1;
        self.handle_packet(now, number, &payload);
    }
}
