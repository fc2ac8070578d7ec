//! Sending: queueing messages, choosing the lane (priority, then weight), filling packets within
//! the flow and congestion windows, Nagle, and closing.

use super::*;

impl Session {
    /// Queue a message; returns its number on its lane (from 1). A message refused takes no
    /// number.
    pub fn send_message(&mut self, now: u64, lane: u16, data: &[u8], send_flags: i32) -> Result<u64, SendError> {
        self.check_send(lane, data.len())?;
        let number = self.lanes.take_message_number(lane as usize).expect("lane checked") as u64;
        self.enqueue(now, lane, number, data, send_flags);
        Ok(number)
    }

    /// Bytes queued and not yet sent (new data; retransmissions are apart).
    pub fn queued_bytes(&self) -> u64 {
        self.queued_bytes
    }

    /// After a message without NO_NAGLE/NO_DELAY was queued on top of `queued_before` bytes:
    /// whether that can have brought [`poll_timeout`](Self::poll_timeout) forward. Only the
    /// first bytes (Nagle's clock starts with the oldest message) and the bytes that complete a
    /// packet's worth (which then goes without waiting) can; more data behind either leaves the
    /// deadline where it was, so a caller that keeps a timer need not work it out again for
    /// every small message.
    pub fn queueing_moved_deadline(&self, queued_before: u64) -> bool {
        let packet = self.config.max_packet_size as u64;
        queued_before == 0 || (queued_before < packet && self.queued_bytes >= packet)
    }

    /// Queue a message its caller numbered: an interface that numbers messages itself (from
    /// lanes configured like this session's, see [`adopt_lanes`](Self::adopt_lanes)), so a
    /// number is known before the session sees the message. `admit` says whether it must fit
    /// the send buffer's room now. Returns the room left ([`send_room`](Self::send_room)).
    pub fn send_numbered(&mut self, now: u64, message: Numbered<'_>, admit: Admit) -> Result<u64, SendError> {
        let Numbered { lane, number, data, send_flags } = message;
        let room = match admit {
            Admit::IfRoom => self.check_send(lane, data.len())?,
            Admit::Already => {
                self.check_open(lane, data.len())?;
                self.send_room()
            }
        };
        self.enqueue(now, lane, number, data, send_flags);
        Ok(room.saturating_sub(data.len() as u64))
    }

    /// Whether a message of `len` bytes may be queued on `lane` now: if so, the send buffer's
    /// room before it.
    fn check_send(&self, lane: u16, len: usize) -> Result<u64, SendError> {
        self.check_open(lane, len)?;
        let room = self.send_room();
        if len as u64 > room {
            return Err(SendError::LimitExceeded);
        }
        Ok(room)
    }

    /// Whether the connection can send a message of `len` bytes on `lane`, room aside.
    fn check_open(&self, lane: u16, len: usize) -> Result<(), SendError> {
        if !self.is_connected() || self.linger.is_some() {
            return Err(SendError::NotConnected);
        }
        if lane as usize >= self.send_lanes.len() {
            return Err(SendError::NoSuchLane);
        }
        if len as u64 > wire::MAX_MESSAGE_SIZE {
            return Err(SendError::TooLarge);
        }
        Ok(())
    }

    /// Bytes of messages the send buffer can still take. GNS counts what waits to be sent (new
    /// data and retransmissions), not what is on the wire awaiting acknowledgement; flow
    /// control bounds the latter separately.
    pub fn send_room(&self) -> u64 {
        let retransmit: u64 = self.send_lanes.iter().flat_map(|l| l.retransmit.iter()).map(|r| r.end - r.start).sum();
        (self.config.send_buffer_size as u64).saturating_sub(self.queued_bytes + retransmit)
    }

    fn enqueue(&mut self, now: u64, lane: u16, number: u64, data: &[u8], send_flags: i32) {
        let send_lane = &mut self.send_lanes[lane as usize];
        let item = if send_flags & flags::RELIABLE != 0 {
            let start = send_lane.stream.end();
            let tail = send_lane.stream.tail();
            varint::write(tail, number);
            varint::write(tail, data.len() as u64);
            tail.extend_from_slice(data);
            Queued::Reliable { start, end: send_lane.stream.end() }
        } else {
            let start = send_lane.unreliable.end();
            send_lane.unreliable.tail().extend_from_slice(data);
            Queued::Unreliable { number, start, end: send_lane.unreliable.end(), sent: 0 }
        };
        let entry = QueueEntry { item, queued_at: now };
        self.queued_bytes += entry.remaining();
        if !entry.is_reliable() {
            self.queued_unreliable_bytes += data.len() as u64;
        }
        send_lane.queue.push_back(entry);
        if send_flags & (flags::NO_NAGLE | flags::NO_DELAY) != 0 {
            self.flush_requested = true;
        }
    }

    /// Make the next transmit carry a PING (which the peer acknowledges).
    pub fn request_ping(&mut self) {
        if self.is_connected() {
            self.ping_pending = true;
        }
    }

    /// Send whatever Nagle is holding back (`FlushMessagesOnConnection`).
    pub fn flush(&mut self) {
        if self.queued_bytes > 0 {
            self.flush_requested = true;
        }
    }

    /// Close: a CLOSE frame goes out with the next transmit; nothing else is sent after it.
    pub fn close(&mut self, reason: u32, text: &str) {
        if !self.is_connected() {
            return;
        }
        self.close_pending = Some((reason, Self::close_text(text)));
        self.state = SessionState::ClosedLocally;
    }

    /// Close once every reliable byte already queued is acknowledged (GNS's `linger`). No new
    /// messages are taken meanwhile; the peer timing out still ends it.
    pub fn close_after_flush(&mut self, reason: u32, text: &str) {
        if self.is_connected() && self.linger.is_none() {
            self.linger = Some((reason, Self::close_text(text)));
            self.flush_requested = true;
        }
    }

    /// Stop lingering: the CLOSE a lingering close was waiting to send goes with the next
    /// transmit, whatever is still unacknowledged (its socket is about to go).
    pub fn stop_lingering(&mut self) {
        if let Some((reason, text)) = self.linger.take() {
            self.close(reason, &text);
        }
    }

    pub(super) fn close_text(text: &str) -> String {
        truncate_close_text(text).to_string()
    }

    /// Lingering, and nothing reliable left unacknowledged: time for the CLOSE.
    pub(super) fn linger_done(&self) -> bool {
        self.linger.is_some()
            && self.send_lanes.iter().all(|l| l.stream.is_empty() && l.queue.iter().all(|e| !e.is_reliable()))
    }

    /// Nothing queued and nothing to send again: the application is not keeping us busy.
    pub(super) fn nothing_to_send(&self) -> bool {
        self.queued_bytes == 0 && self.send_lanes.iter().all(|l| l.retransmit.is_empty())
    }

    pub(super) fn nagle_deadline(&self) -> Option<u64> {
        self.send_lanes.iter().filter_map(|l| l.queue.front()).map(|e| e.queued_at + self.config.nagle_usec).min()
    }

    /// Whether data frames may go out now (Nagle and retransmissions; pacing is separate).
    pub(super) fn data_ready(&self, now: u64) -> bool {
        if self.send_lanes.iter().any(|l| !l.retransmit.is_empty()) || self.ping_pending {
            return true;
        }
        if self.queued_bytes == 0 {
            return false;
        }
        self.flush_requested
            || self.queued_bytes >= self.config.max_packet_size as u64
            || self.nagle_deadline().is_some_and(|d| d <= now)
    }

    /// Reliable bytes a lane may have beyond its lowest unacknowledged offset: the peer's
    /// receive window less an eighth, the room its budget needs for the bookkeeping of
    /// out-of-order segments, so a full window never has data refused (and sent twice).
    pub(super) fn flow_window(&self) -> u64 {
        self.config.recv_window - self.config.recv_window / 8
    }

    /// The lane to serve next: highest priority, then least weighted bytes sent.
    pub(super) fn next_lane(&self) -> Option<usize> {
        let window = self.flow_window();
        (0..self.send_lanes.len()).filter(|&i| self.send_lanes[i].has_sendable(window)).max_by(|&a, &b| {
            let pa = self.lanes.priority(a).unwrap_or(0);
            let pb = self.lanes.priority(b).unwrap_or(0);
            pa.cmp(&pb).then(self.send_lanes[b].virtual_bytes.cmp(&self.send_lanes[a].virtual_bytes)).then(b.cmp(&a))
        })
    }

    /// Append data frames for `lane` to `buf`, up to `limit` bytes in all. Returns whether
    /// anything was added.
    pub(super) fn fill_lane(
        &mut self,
        lane: usize,
        buf: &mut Vec<u8>,
        limit: usize,
        reliable_sent: &mut SentRanges,
    ) -> bool {
        let lane_id = lane as u16;
        let weight = self.lanes.weight(lane).unwrap_or(1).max(1) as u64;
        let recv_window = self.flow_window();
        let before = buf.len();
        let send_lane = &mut self.send_lanes[lane];
        loop {
            let room = limit.saturating_sub(buf.len());
            let first_retransmit = send_lane.retransmit.iter().next();
            if let Some(range) = first_retransmit {
                let header = Frame::reliable_header_len(lane_id, range.start, (range.end - range.start) as usize);
                if room <= header {
                    break;
                }
                let len = (range.end - range.start).min((room - header) as u64);
                let piece = range.start..range.start + len;
                Frame::Reliable { lane: lane_id, offset: piece.start, data: send_lane.stream.slice(piece.clone()) }
                    .encode(buf);
                send_lane.retransmit.remove(piece.clone());
                reliable_sent.push((lane_id, piece));
                continue;
            }
            let window_end = send_lane.send_limit(recv_window);
            let Some(entry) = send_lane.queue.front_mut() else { break };
            match &mut entry.item {
                Queued::Reliable { start, .. } => {
                    // Reliable messages queued back to back are one stretch of the lane's
                    // stream: one frame carries as much of it as fits, not a frame each.
                    let first = *start;
                    let mut run_end = first;
                    for queued in &send_lane.queue {
                        let Queued::Reliable { end, .. } = queued.item else { break };
                        run_end = end;
                        if run_end - first >= room as u64 {
                            break;
                        }
                    }
                    let header = Frame::reliable_header_len(lane_id, first, (run_end - first) as usize);
                    if room <= header || first >= window_end {
                        break;
                    }
                    let len = (run_end - first).min((room - header) as u64).min(window_end - first);
                    let piece = first..first + len;
                    let data = send_lane.stream.slice(piece.clone());
                    Frame::Reliable { lane: lane_id, offset: piece.start, data }.encode(buf);
                    reliable_sent.push((lane_id, piece.clone()));
                    self.queued_bytes -= len;
                    while let Some(QueueEntry { item: Queued::Reliable { start, end }, .. }) =
                        send_lane.queue.front_mut()
                    {
                        if *end <= piece.end {
                            send_lane.queue.pop_front();
                        } else {
                            *start = (*start).max(piece.end);
                            break;
                        }
                    }
                }
                Queued::Unreliable { number, start, end, sent } => {
                    let (start, end) = (*start, *end);
                    let data = send_lane.unreliable.slice(start..end);
                    let total = data.len() as u32;
                    let left = data.len() - *sent;
                    let header = Frame::unreliable_header_len(lane_id, *number, *sent as u32, total, left);
                    // An empty message is a bare header; any other fragment needs a byte of room.
                    if room < header + usize::from(left > 0) {
                        break;
                    }
                    // A small message that does not fit whole waits for the next packet rather
                    // than travel in two halves: the receiver would have to reassemble it, and
                    // losing either packet would lose it.
                    let small = header + left <= self.config.max_packet_size / 4;
                    if *sent == 0 && small && header + left > room {
                        break;
                    }
                    let len = left.min(room - header);
                    Frame::Unreliable {
                        lane: lane_id,
                        message_number: *number,
                        offset: *sent as u32,
                        total_len: total,
                        data: &data[*sent..*sent + len],
                    }
                    .encode(buf);
                    *sent += len;
                    self.queued_bytes -= len as u64;
                    self.queued_unreliable_bytes -= len as u64;
                    if *sent == data.len() {
                        send_lane.queue.pop_front();
                        send_lane.unreliable.release_to(end);
                    }
                }
            }
        }
        let added = buf.len() - before;
        send_lane.virtual_bytes += added as u64 * 65536 / weight;
        added > 0
    }

    /// The next datagram to send, if any is due. Call repeatedly until `None`.
    pub fn poll_transmit(&mut self, now: u64) -> Option<Vec<u8>> {
        let mut buf = Vec::with_capacity(self.config.max_packet_size);
        self.poll_transmit_into(now, &mut buf).then_some(buf)
    }

    /// [`poll_transmit`](Self::poll_transmit) into the caller's buffer (cleared first), which a
    /// driver reuses for every packet: true if it now holds a packet to send.
    pub fn poll_transmit_into(&mut self, now: u64, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        let number = self.next_packet_number;
        varint::write(buf, number);
        if let Some((reason, text)) = self.close_pending.take() {
            Frame::Close { reason, text: &text }.encode(buf);
            self.close_sent = Some((reason, text));
            self.finish_packet(now, buf, false, SentRanges::new());
            return true;
        }
        if !self.is_connected() {
            return false;
        }
        if self.linger_done() {
            self.close_pending = self.linger.take();
            self.state = SessionState::ClosedLocally;
            return self.poll_transmit_into(now, buf);
        }
        if self.ack_deadline.is_none_or(|d| d > now) && !self.data_ready(now) && !self.fec_send.has_repair() {
            // Nothing to say: the usual answer to the call after a packet went out, given
            // before the pacing arithmetic below (which would find the same).
            return false;
        }
        self.refill_tokens(now);
        if self.tokens > 0.0
            && let Some(repair) = self.fec_send.poll_repair()
        {
            self.repair_packet(now, buf, repair);
            return true;
        }
        let ack_due = self.ack_deadline.is_some_and(|d| d <= now);
        let data_ok = self.tokens > 0.0 && self.data_ready(now) && (self.window_open() || self.ping_pending);
        if !ack_due && !data_ok {
            return false;
        }
        if self.ack_deadline.is_some() {
            self.encode_ack(now, buf);
        }
        // About once a second, tell the peer how much of its traffic arrives (its remote quality).
        if now >= self.stats_due_at
            && let Some(quality) = self.local_quality()
        {
            Frame::Stats { quality_permille: (quality * 1000.0).round() as u16 }.encode(buf);
            self.stats_due_at = now + MICROS_PER_SEC;
        }
        let mut ack_eliciting = false;
        let mut reliable_sent = SentRanges::new();
        if data_ok {
            let member = self.begin_member(buf);
            let limit = self.data_limit();
            while let Some(lane) = self.next_lane() {
                if !self.fill_lane(lane, buf, limit, &mut reliable_sent) {
                    break;
                }
                ack_eliciting = true;
            }
            self.end_member(member, number, buf);
            if self.ping_pending && !ack_eliciting {
                Frame::Ping.encode(buf);
                ack_eliciting = true;
            }
            self.ping_pending = false;
            if self.queued_bytes == 0 {
                self.flush_requested = false;
            }
            if self.nothing_to_send() {
                // Protect the tail of this burst at once.
                self.fec_send.flush();
            }
        }
        if buf.len() == varint::len(number) {
            return false;
        }
        if ack_eliciting {
            self.tokens -= buf.len() as f64;
        }
        self.finish_packet(now, buf, ack_eliciting, reliable_sent);
        true
    }

    pub(super) fn finish_packet(&mut self, now: u64, buf: &[u8], ack_eliciting: bool, reliable: SentRanges) {
        let number = self.next_packet_number;
        self.next_packet_number += 1;
        if ack_eliciting {
            let size = buf.len() as u64;
            self.bytes_in_flight += size;
            let delivery = self.congestion.on_sent(now, self.nothing_to_send());
            self.sent.insert(number, SentPacket { time: now, size, ack_eliciting, reliable, delivery });
            self.last_ack_eliciting_sent = Some(now);
        }
        self.last_sent = now;
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += buf.len() as u64;
    }

    pub(super) fn encode_ack(&mut self, now: u64, buf: &mut Vec<u8>) {
        let ranges: AckRanges = self.received.iter_rev().take(wire::MAX_ACK_RANGES).collect();
        let delay_usec = now.saturating_sub(self.largest_received_at);
        Frame::Ack(AckFrame { delay_usec, ranges }).encode(buf);
        self.ack_deadline = None;
        self.unacked_eliciting = 0;
    }

    // ----- receiving ---------------------------------------------------------------------
}
