//! Receiving: decoding packets, reassembling reliable streams and fragmented unreliable messages
//! within the receive budget, and handing messages to the application.

use bytes::Buf;

use super::*;

impl Session {
    /// Process one datagram from the peer: its packet number, then its frames (the layout
    /// [`poll_transmit`](Self::poll_transmit) produces). Malformed input is counted and dropped.
    pub fn handle_datagram(&mut self, now: u64, datagram: &[u8]) {
        let mut rest = datagram;
        let Some(number) = varint::read(&mut rest) else {
            self.stats.bad_packets += 1;
            return;
        };
        self.handle_packet(now, number, rest);
    }

    /// Process one packet whose number travelled outside it (the endpoint puts it in the
    /// clear header, where it is the encryption nonce). Only a packet number not seen before
    /// counts: a duplicate or replay neither refreshes liveness nor draws an acknowledgement.
    pub fn handle_packet(&mut self, now: u64, number: u64, payload: &[u8]) {
        if matches!(self.state, SessionState::ProblemDetected { .. }) {
            return;
        }
        let duplicate = number < self.received_floor || self.received.contains(number);
        // Read the frames twice, checking them first, rather than gather them in a list: a
        // packet of small messages has hundreds.
        let (mut data_frames, mut ack_eliciting) = (0, false);
        for frame in wire::read_frames(payload) {
            let Ok(frame) = frame else {
                self.stats.bad_packets += 1;
                return;
            };
            data_frames += usize::from(matches!(frame, Frame::Reliable { .. } | Frame::Unreliable { .. }));
            ack_eliciting |= frame.is_ack_eliciting();
        }
        if data_frames > self.config.recv_max_segments_per_packet {
            self.stats.bad_packets += 1;
            return;
        }
        if self.state == SessionState::ClosedLocally {
            // The peer has not heard our CLOSE: say it again.
            if !duplicate && self.close_pending.is_none() {
                self.close_pending = self.close_sent.clone();
            }
            return;
        }
        if duplicate {
            return;
        }
        self.last_received = now;
        let mut recovered = Vec::new();
        self.stats.packets_received += 1;
        self.stats.bytes_received += payload.len() as u64 + varint::len(number) as u64;
        {
            self.distinct_received += 1;
            self.first_received = Some(self.first_received.map_or(number, |f| f.min(number)));
            let in_order = self.received.max().is_none_or(|max| number == max + 1);
            if self.received.max().is_none_or(|max| number > max) {
                self.largest_received_at = now;
            }
            self.received.insert(number..number + 1);
            if self.received.len() > MAX_TRACKED_RANGES {
                self.received.truncate_low(MAX_TRACKED_RANGES);
                self.received_floor = self.received.min().unwrap_or(0);
            }
            let mut refused = false;
            for frame in wire::read_frames(payload).flatten() {
                match frame {
                    Frame::FecMember { group, index, rest } => {
                        recovered.extend(self.fec_recv.on_member(group, index, number, rest))
                    }
                    Frame::Repair { group, count, repairs, index, shard } => {
                        recovered.extend(self.fec_recv.on_repair(group, count, repairs, index, shard))
                    }
                    frame => refused |= !self.handle_frame(now, frame),
                }
            }
            if refused {
                // Reliable bytes beyond our buffer were dropped: leave the packet unacknowledged,
                // so the sender counts it lost and sends those bytes again later.
                self.received.remove(number..number + 1);
            } else if ack_eliciting {
                self.unacked_eliciting += 1;
                // Acknowledge at once every few packets or on a gap; otherwise a little later.
                let deadline = if self.unacked_eliciting >= IMMEDIATE_ACK_PACKETS || !in_order {
                    now
                } else {
                    now + self.config.max_ack_delay_usec
                };
                self.ack_deadline = Some(self.ack_deadline.map_or(deadline, |d| d.min(deadline)));
            }
        }
        self.release_if_ended();
        for packet in recovered {
            self.handle_recovered(now, packet);
        }
    }

    /// Once the connection is over, what was held for reassembly and sending is useless:
    /// give the memory back at once. What the application can still read stays: delivered
    /// messages, and whole messages that were acknowledged but wait for room in the inbox
    /// (parsed as it drains). Out-of-order segments and unfinished messages can never
    /// complete now.
    pub(super) fn release_if_ended(&mut self) {
        if self.released
            || !matches!(self.state, SessionState::ProblemDetected { .. } | SessionState::ClosedByPeer { .. })
        {
            return;
        }
        self.released = true;
        let max_len = self.max_message_len();
        for lane in self.recv_lanes.values_mut() {
            lane.segments = BTreeMap::new();
            let whole = whole_messages_len(&lane.assembled, max_len);
            lane.assembled.truncate(whole);
        }
        self.recv_lanes.retain(|_, lane| !lane.assembled.is_empty());
        let lanes = &self.recv_lanes;
        self.unparsed.retain(|lane| lanes.contains_key(lane));
        let assembled = self.recv_lanes.values().map(|lane| lane.assembled.len()).sum();
        self.partials = HashMap::new();
        self.partial_order = VecDeque::new();
        self.held = RecvHeld { inbox: self.held.inbox, assembled, ..RecvHeld::default() };
        self.send_lanes.iter_mut().for_each(|l| *l = SendLane::default());
        self.sent = SentPackets::default();
        self.queued_bytes = 0;
        self.queued_unreliable_bytes = 0;
        self.bytes_in_flight = 0;
        self.fec_send = FecEncoder::default();
        self.fec_recv = FecDecoder::default();
    }

    /// The longest message this session accepts.
    fn max_message_len(&self) -> u64 {
        wire::MAX_MESSAGE_SIZE.min(self.config.recv_max_message_size)
    }

    /// The receive limit in force: the configured budget, or less if the endpoint says so.
    pub(super) fn recv_limit(&self) -> usize {
        self.config.recv_buffer_size.min(self.recv_cap)
    }

    /// Impose a lower receive limit than the configured one (an endpoint sharing one memory
    /// budget among its connections); `usize::MAX` lifts it.
    pub fn set_recv_cap(&mut self, cap: usize) {
        self.recv_cap = cap;
    }

    /// Bytes this session holds for its peer now.
    pub fn recv_held(&self) -> RecvHeld {
        self.held
    }

    /// Whether the application's backlog leaves room for more delivered messages.
    pub(super) fn inbox_has_room(&self, limit: usize) -> bool {
        self.held.inbox + self.held.assembled < limit && self.inbox.len() < self.config.recv_buffer_messages
    }

    /// Returns false if the frame's data had to be dropped (reliable bytes beyond our window).
    pub(super) fn handle_frame(&mut self, now: u64, frame: Frame<'_>) -> bool {
        match frame {
            Frame::Ping => {}
            Frame::Ack(ack) => self.on_ack(now, ack),
            Frame::Reliable { lane, offset, data } => return self.on_reliable(lane, offset, data),
            Frame::Unreliable { lane, message_number, offset, total_len, data } => {
                self.on_unreliable(lane, message_number, offset, total_len, data)
            }
            Frame::Close { reason, text } => {
                if self.is_connected() {
                    self.state = SessionState::ClosedByPeer { reason, text: text.to_string() };
                }
            }
            Frame::Stats { quality_permille } => self.stats.remote_quality = Some(quality_permille as f32 / 1000.0),
            // Forward error correction needs the packet number: handle_packet takes these.
            Frame::FecMember { .. } | Frame::Repair { .. } => {}
        }
        true
    }

    /// Take reliable stream bytes; false if they had to be dropped (beyond the window or the
    /// receive budget), so the packet stays unacknowledged and the peer sends them again.
    pub(super) fn on_reliable(&mut self, lane: u16, offset: u64, data: &[u8]) -> bool {
        let window = self.config.recv_window;
        let limit = self.recv_limit();
        let recv = self.recv_lanes.entry(lane).or_default();
        let end = offset + data.len() as u64;
        if end <= recv.next_offset {
            return true; // all old
        }
        if end > recv.next_offset + window {
            return false;
        }
        let (offset, data) = if offset < recv.next_offset {
            (recv.next_offset, &data[(recv.next_offset - offset) as usize..])
        } else {
            (offset, data)
        };
        if offset > recv.next_offset {
            // Out of order: held until the gap fills, charged against the budget.
            let old = recv.segments.get(&offset).map(Vec::len);
            if old.is_some_and(|old| old >= data.len()) {
                return true;
            }
            let cost = data.len() - old.unwrap_or(0) + if old.is_none() { SEGMENT_OVERHEAD } else { 0 };
            // The reassembly window, and the memory budget the endpoint shares out.
            if self.held.segments + cost > window as usize || self.held.total() + cost > self.recv_cap {
                return false;
            }
            recv.segments.insert(offset, data.to_vec());
            self.held.segments += cost;
            return true;
        }
        // In order: only the application's own backlog can stop it, so a budget full of
        // out-of-order segments never blocks the bytes that would drain them. What counts is
        // bytes: past the message-count limit the bytes wait unparsed (see `parse_lane`), so a
        // reader that falls behind by count makes the peer wait, not send again.
        if self.held.inbox + self.held.assembled >= limit {
            return false;
        }
        recv.assembled.append(data);
        self.held.assembled += data.len();
        recv.next_offset = end;
        while let Some((&seg_offset, _)) = recv.segments.first_key_value() {
            if seg_offset > recv.next_offset {
                break;
            }
            let seg = recv.segments.remove(&seg_offset).expect("present");
            self.held.segments -= seg.len() + SEGMENT_OVERHEAD;
            let seg_end = seg_offset + seg.len() as u64;
            if seg_end > recv.next_offset {
                let fresh = &seg[(recv.next_offset - seg_offset) as usize..];
                recv.assembled.append(fresh);
                self.held.assembled += fresh.len();
                recv.next_offset = seg_end;
            }
        }
        self.parse_lane(lane);
        true
    }

    /// Move the whole messages (number, length, payload) at the front of `lane`'s in-order
    /// bytes into the inbox, while the inbox has room for more messages. Each payload is split
    /// off the lane's buffer, not copied: the messages of one stretch of stream share its
    /// allocation.
    fn parse_lane(&mut self, lane: u16) {
        let max_len = self.max_message_len();
        let Some(recv) = self.recv_lanes.get_mut(&lane) else { return };
        while self.inbox.len() < self.config.recv_buffer_messages {
            let Some((number, header, len)) = message_header(&recv.assembled) else { break };
            if len > max_len {
                self.state = SessionState::ProblemDetected { reason: Problem::ProtocolViolation };
                return;
            }
            if ((recv.assembled.len() - header) as u64) < len {
                break;
            }
            recv.assembled.advance(header);
            let data = recv.assembled.split_to(len as usize).freeze();
            self.held.assembled -= header + data.len();
            self.held.inbox += data.len();
            self.inbox.push_back(Message { lane, number, reliable: true, data });
        }
        if !recv.assembled.is_empty()
            && self.inbox.len() >= self.config.recv_buffer_messages
            && !self.unparsed.contains(&lane)
        {
            self.unparsed.push(lane);
        }
    }

    pub(super) fn on_unreliable(&mut self, lane: u16, number: u64, offset: u32, total_len: u32, data: &[u8]) {
        let total = total_len as usize;
        let limit = self.recv_limit();
        if total as u64 > self.config.recv_max_message_size || !self.inbox_has_room(limit) {
            return; // unreliable: dropping is always allowed
        }
        if offset == 0 && data.len() == total {
            self.held.inbox += total;
            self.unreliable.append(data);
            let data = self.unreliable.split().freeze();
            self.inbox.push_back(Message { lane, number, reliable: false, data });
            return;
        }
        let key = (lane, number);
        if !self.partials.contains_key(&key) {
            // Make room: forget the oldest partial messages first; drop this one if that is
            // not enough.
            while self.held.for_application() + total > limit {
                let Some(old) = self.partial_order.pop_front() else { break };
                if let Some(p) = self.partials.remove(&old) {
                    self.held.partials -= p.data.len();
                }
            }
            if self.held.for_application() + total > limit {
                return;
            }
            self.partials.insert(key, Partial { data: vec![0; total], got: RangeSet::default() });
            self.partial_order.push_back(key);
            self.held.partials += total;
        }
        let partial = self.partials.get_mut(&key).expect("inserted");
        if partial.data.len() != total {
            return; // inconsistent fragments of one message: ignore the odd one
        }
        let start = offset as usize;
        partial.data[start..start + data.len()].copy_from_slice(data);
        partial.got.insert(offset as u64..offset as u64 + data.len() as u64);
        if partial.got.gaps_in(0..total as u64).is_empty() {
            let partial = self.partials.remove(&key).expect("present");
            self.held.partials -= partial.data.len();
            self.held.inbox += partial.data.len();
            self.partial_order.retain(|k| *k != key);
            self.inbox.push_back(Message { lane, number, reliable: false, data: partial.data.into() });
        }
    }

    pub fn poll_message(&mut self) -> Option<Message> {
        let message = self.inbox.pop_front()?;
        self.held.inbox -= message.data.len();
        // Room again: messages that waited unparsed for it come next.
        while self.inbox.len() < self.config.recv_buffer_messages
            && let Some(lane) = self.unparsed.pop()
        {
            self.parse_lane(lane);
        }
        Some(message)
    }

    pub fn has_messages(&self) -> bool {
        !self.inbox.is_empty()
    }
}

/// The message at the front of a lane's in-order bytes, once its header has arrived (its
/// payload may not have): its number, and the lengths of its header and its payload.
fn message_header(stream: &[u8]) -> Option<(u64, usize, u64)> {
    let mut rest = stream;
    let number = varint::read(&mut rest)?;
    let len = varint::read(&mut rest)?;
    Some((number, stream.len() - rest.len(), len))
}

/// Bytes at the front of `stream` that make whole messages, none longer than `max_len`.
fn whole_messages_len(stream: &[u8], max_len: u64) -> usize {
    let mut at = 0;
    while let Some((_, header, len)) = message_header(&stream[at..])
        && len <= max_len
        && ((stream.len() - at - header) as u64) >= len
    {
        at += header + len as usize;
    }
    at
}
