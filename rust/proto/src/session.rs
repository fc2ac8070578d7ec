//! One end of an established connection, sans-IO: messages in, datagrams out, and the other way
//! round. The caller owns the socket and the clock:
//!
//! ```text
//! session.send_message(now, lane, bytes, flags)   queue a message
//! session.handle_datagram(now, bytes)             a datagram arrived from the peer
//! session.poll_transmit(now)                      next datagram to send (call until None)
//! session.poll_timeout()                          when to call handle_timeout next
//! session.handle_timeout(now)                     timers: loss detection, probes, keepalive
//! session.poll_message()                          next message for the application
//! ```
//!
//! Reliability: every packet has a number; the receiver acknowledges ranges of numbers. A
//! packet is lost once three later packets are acknowledged or it is older than 9/8 of the round
//! trip; the reliable bytes it carried are sent again. If acknowledgements stop, a probe timeout
//! (exponential back-off) resends everything in flight. Reliable messages of a lane form one
//! byte stream (`number, length, bytes` per message), so they arrive exactly once and in order
//! whatever the network does. Unreliable messages are fragmented to fit packets and delivered
//! once complete, or never.
//!
//! Sending: lanes are served by priority, then by weight (the lane with the least weighted bytes
//! sent goes next). Small messages wait up to the Nagle time to share a packet unless sent with
//! a no-Nagle flag. A token bucket paces packets at the configured rate.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Range;

use crate::congestion::{Controller, SendState};
use crate::lanes::Lanes;
use crate::ranges::RangeSet;
use crate::varint;
use crate::wire::{self, AckFrame, Frame};

const MICROS_PER_SEC: u64 = 1_000_000;
/// Packet-number distance after which an unacknowledged packet counts as lost.
const PACKET_THRESHOLD: u64 = 3;
/// Round-trip estimate before any sample exists.
const INITIAL_RTT_USEC: u64 = 100_000;
/// Floor of the loss-detection delay, so scheduler jitter on loopback is not read as loss.
const MIN_LOSS_DELAY_USEC: u64 = 1_000;
/// Received-packet ranges remembered for acknowledgements and duplicate detection.
const MAX_TRACKED_RANGES: usize = 256;
/// With no loss known on a lane, how many receive windows it may run ahead of its lowest
/// unacknowledged offset (a bound for losses not detected yet).
const WINDOWS_AHEAD: u64 = 4;
/// What one out-of-order segment costs beyond its bytes (map node and allocation), so a peer
/// sending many tiny segments is charged for the memory it really makes us hold.
const SEGMENT_OVERHEAD: usize = 64;
/// Probe timeouts are capped at this many doublings.
const MAX_PTO_BACKOFF: u32 = 10;

/// `text` cut to what a CLOSE (or REJECT) carries, on a character boundary.
pub fn truncate_close_text(text: &str) -> &str {
    let mut end = text.len().min(wire::MAX_CLOSE_TEXT as usize);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `k_nSteamNetworkingSend_*` bits the session understands.
pub mod flags {
    pub const NO_NAGLE: i32 = 1;
    pub const NO_DELAY: i32 = 4;
    pub const RELIABLE: i32 = 8;
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionConfig {
    /// Bytes of one packet's plaintext (what the encryption layer gets).
    pub max_packet_size: usize,
    /// Most bytes per second sent (GNS `SendRateMax`); the congestion controller paces between
    /// `send_rate_min` and this.
    pub send_rate: u64,
    /// Fewest bytes per second the controller paces at (GNS `SendRateMin`).
    pub send_rate_min: u64,
    /// How long a small message may wait for company (GNS `NagleTime`).
    pub nagle_usec: u64,
    /// How long the receiver may hold back an acknowledgement.
    pub max_ack_delay_usec: u64,
    /// Bytes queued or unacknowledged before sends fail with `LimitExceeded` (GNS `SendBufferSize`).
    pub send_buffer_size: usize,
    /// Reliable bytes a sender puts in flight beyond the lowest unacknowledged offset of a lane:
    /// what it assumes the peer buffers (the peer's `recv_buffer_size` at its default).
    pub recv_window: u64,
    /// Most bytes held for the peer at once, across all lanes: out-of-order segments, partial
    /// messages and delivered messages the application has not taken (GNS `RecvBufferSize`).
    /// Data beyond it is refused (reliable: left unacknowledged, so it is sent again later).
    pub recv_buffer_size: usize,
    /// Most delivered messages waiting for the application (GNS `RecvBufferMessages`).
    pub recv_buffer_messages: usize,
    /// Largest message accepted; a bigger reliable message ends the connection, a bigger
    /// unreliable one is dropped (GNS `RecvMaxMessageSize`).
    pub recv_max_message_size: u64,
    /// Most data frames one packet may carry; a packet with more is dropped whole (GNS
    /// `RecvMaxSegmentsPerPacket`).
    pub recv_max_segments_per_packet: usize,
    /// Silence after which the connection is declared dead (GNS `TimeoutConnected`).
    pub idle_timeout_usec: u64,
    /// Time without hearing from the peer after which a keepalive ping is sent (at most half
    /// the idle timeout, so a live peer always answers in time). An unanswered ping is repeated
    /// by the probe timeout, with backoff, until the idle timeout.
    pub keepalive_usec: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        // Defaults are GNS's: 1300-byte MTU less room for headers and the AEAD tag, 256 KiB/s,
        // 5 ms Nagle, 512 KiB send buffer, 10 s timeout.
        SessionConfig {
            max_packet_size: 1200,
            send_rate: 256 * 1024,
            send_rate_min: 256 * 1024,
            nagle_usec: 5_000,
            max_ack_delay_usec: 2_000,
            send_buffer_size: 512 * 1024,
            recv_window: 1024 * 1024,
            recv_buffer_size: 1024 * 1024,
            recv_buffer_messages: 1000,
            recv_max_message_size: 512 * 1024,
            recv_max_segments_per_packet: 1300,
            idle_timeout_usec: 10 * MICROS_PER_SEC,
            // GNS's k_usecKeepAliveIntervalActive. With GNS's 10 s TimeoutConnected the half-
            // timeout cap makes it 5 s: an idle connection costs a ping and an ack per 5 s.
            keepalive_usec: 10 * MICROS_PER_SEC,
        }
    }
}

/// A message delivered to the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub lane: u16,
    pub number: u64,
    pub reliable: bool,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    NoSuchLane,
    TooLarge,
    /// The send buffer is full (GNS `k_EResultLimitExceeded`).
    LimitExceeded,
    /// The session is closed or dead.
    NotConnected,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    Connected,
    /// The peer sent CLOSE.
    ClosedByPeer {
        reason: u32,
        text: String,
    },
    /// We closed; the CLOSE frame is sent once.
    ClosedLocally,
    /// The peer went silent or broke the protocol.
    ProblemDetected {
        reason: Problem,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Timeout,
    ProtocolViolation,
}

/// Counters and estimates behind GNS's real-time status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionStats {
    /// Share of the peer's packets that reach us (`None` before any arrived).
    pub local_quality: Option<f32>,
    /// Share of our packets that reach the peer, as the peer reports it.
    pub remote_quality: Option<f32>,
    pub packets_sent: u64,
    pub bytes_sent: u64,
    pub packets_received: u64,
    pub bytes_received: u64,
    pub packets_lost: u64,
    pub bad_packets: u64,
    /// Smoothed round trip, microseconds (`None` before the first sample).
    pub smoothed_rtt_usec: Option<u64>,
    /// Queued, not yet sent (incl. retransmissions), per kind.
    pub pending_reliable_bytes: u64,
    pub pending_unreliable_bytes: u64,
    /// Reliable bytes on the wire, not yet acknowledged.
    pub sent_unacked_reliable_bytes: u64,
    /// Time a message queued now would wait before its first byte is sent.
    pub queue_time_usec: u64,
}

/// What one lane has waiting (GNS `SteamNetConnectionRealTimeLaneStatus_t`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LanePending {
    /// Unreliable bytes queued, not yet sent.
    pub unreliable: u64,
    /// Reliable bytes queued, incl. retransmissions.
    pub reliable: u64,
    /// Reliable bytes sent, not yet acknowledged.
    pub sent_unacked_reliable: u64,
}

#[derive(Debug)]
enum Queued {
    /// New reliable stream bytes `start..end` (a message's header and payload).
    Reliable {
        start: u64,
        end: u64,
    },
    Unreliable {
        number: u64,
        data: Vec<u8>,
        sent: usize,
    },
}

#[derive(Debug)]
struct QueueEntry {
    item: Queued,
    queued_at: u64,
}

impl QueueEntry {
    fn is_reliable(&self) -> bool {
        matches!(self.item, Queued::Reliable { .. })
    }

    fn remaining(&self) -> u64 {
        match &self.item {
            Queued::Reliable { start, end } => end - start,
            Queued::Unreliable { data, sent, .. } => (data.len() - sent) as u64,
        }
    }
}

/// The unacknowledged part of a lane's reliable stream. Releasing the acknowledged front is
/// amortised O(1): the buffer is only compacted once the dead prefix outweighs the live bytes,
/// so a large backlog does not cost a copy of itself on every acknowledgement.
#[derive(Debug, Default)]
struct StreamBuffer {
    bytes: Vec<u8>,
    /// Index in `bytes` of stream offset `base`.
    head: usize,
    base: u64,
}

impl StreamBuffer {
    fn len(&self) -> usize {
        self.bytes.len() - self.head
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn end(&self) -> u64 {
        self.base + self.len() as u64
    }

    /// Where new bytes are appended.
    fn tail(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    fn slice(&self, range: Range<u64>) -> &[u8] {
        let from = self.head + (range.start - self.base) as usize;
        let to = self.head + (range.end - self.base) as usize;
        &self.bytes[from..to]
    }

    /// Forget everything below `offset`.
    fn release_to(&mut self, offset: u64) {
        self.head += (offset - self.base) as usize;
        self.base = offset;
        if self.head >= 64 * 1024 && self.head >= self.len() {
            self.bytes.drain(..self.head);
            self.head = 0;
        }
    }
}

#[derive(Debug, Default)]
struct SendLane {
    queue: VecDeque<QueueEntry>,
    /// The reliable stream from its base (lowest unacknowledged offset) to its end.
    stream: StreamBuffer,
    /// Acknowledged ranges above the stream's base.
    acked: RangeSet,
    /// Sent ranges declared lost, to send again before new data.
    retransmit: RangeSet,
    /// Ranges declared lost and not acknowledged since: where the peer has gaps it must buffer
    /// beyond.
    lost: RangeSet,
    /// Weighted bytes sent, for sharing bandwidth between lanes of equal priority.
    virtual_bytes: u64,
}

impl SendLane {
    fn stream_base(&self) -> u64 {
        self.stream.base
    }

    /// Where new reliable bytes must stop. The peer buffers what arrives beyond its first gap,
    /// so nothing goes further than `window` past the lowest offset known lost; with no loss
    /// known, data arrives in order and is handed on, so only a wider bound (4 windows past the
    /// lowest unacknowledged offset) applies, for losses not detected yet. A path with a large
    /// bandwidth-delay product is then not held to one window per round trip.
    fn send_limit(&self, window: u64) -> u64 {
        let ahead = self.stream_base() + WINDOWS_AHEAD * window;
        match self.lost.min() {
            Some(gap) => ahead.min(gap + window),
            None => ahead,
        }
    }

    /// Whether anything may go out now (new reliable bytes within [`send_limit`](Self::send_limit)).
    fn has_sendable(&self, window: u64) -> bool {
        !self.retransmit.is_empty()
            || self.queue.front().is_some_and(|entry| match entry.item {
                Queued::Reliable { start, .. } => start < self.send_limit(window),
                Queued::Unreliable { .. } => true,
            })
    }

    fn on_acked(&mut self, range: Range<u64>) {
        if range.end <= self.stream_base() {
            return;
        }
        let range = range.start.max(self.stream_base())..range.end;
        self.retransmit.remove(range.clone());
        self.lost.remove(range.clone());
        self.acked.insert(range);
        // Release the acknowledged prefix.
        if self.acked.min() == Some(self.stream_base()) {
            let end = self.acked.iter().next().map(|r| r.end).expect("non-empty");
            self.stream.release_to(end);
            self.acked.remove_below(end);
            self.lost.remove_below(end);
        }
    }

    fn on_lost(&mut self, range: Range<u64>) {
        if range.end <= self.stream_base() {
            return;
        }
        let range = range.start.max(self.stream_base())..range.end;
        for gap in self.acked.gaps_in(range) {
            self.retransmit.insert(gap.clone());
            self.lost.insert(gap);
        }
    }
}

#[derive(Debug, Default)]
struct RecvLane {
    /// Stream offset up to which bytes have been moved into `assembled`.
    next_offset: u64,
    /// Out-of-order segments beyond `next_offset`, by offset.
    segments: BTreeMap<u64, Vec<u8>>,
    /// In-order bytes not yet parsed into whole messages.
    assembled: Vec<u8>,
}

/// Bytes held for the peer, by kind; their sum is checked against the receive budget.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RecvHeld {
    /// Out-of-order reliable segments, with [`SEGMENT_OVERHEAD`] each.
    pub segments: usize,
    /// In-order reliable bytes of messages not yet complete.
    pub assembled: usize,
    /// Unreliable messages still missing fragments.
    pub partials: usize,
    /// Complete messages the application has not taken.
    pub inbox: usize,
}

impl RecvHeld {
    pub fn total(&self) -> usize {
        self.segments + self.assembled + self.partials + self.inbox
    }
}

#[derive(Debug)]
struct Partial {
    data: Vec<u8>,
    got: RangeSet,
}

#[derive(Debug)]
struct SentPacket {
    time: u64,
    /// Bytes this packet put in flight (counted against the congestion window).
    size: u64,
    ack_eliciting: bool,
    reliable: Vec<(u16, Range<u64>)>,
    /// What the congestion controller noted when it left.
    delivery: SendState,
}

/// One end of an established connection.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: SessionState,
    close_pending: Option<(u32, String)>,
    /// Set by `close_after_flush`: the CLOSE to send once the reliable data is through.
    linger: Option<(u32, String)>,
    /// The CLOSE we sent, repeated whenever the peer still talks to us (it may have been lost).
    close_sent: Option<(u32, String)>,
    lanes: Lanes,
    send_lanes: Vec<SendLane>,
    queued_bytes: u64,
    /// The unreliable part of `queued_bytes`.
    queued_unreliable_bytes: u64,
    /// Send everything queued now, regardless of Nagle (a no-Nagle message is waiting).
    flush_requested: bool,
    next_packet_number: u64,
    sent: BTreeMap<u64, SentPacket>,
    largest_acked: Option<u64>,
    last_ack_eliciting_sent: Option<u64>,
    loss_time: Option<u64>,
    pto_count: u32,
    ping_pending: bool,
    smoothed_rtt: Option<u64>,
    rtt_var: u64,
    latest_rtt: u64,
    tokens: f64,
    tokens_at: u64,
    /// Congestion control: sets the pacing rate and the window bytes in flight stay under.
    congestion: Controller,
    bytes_in_flight: u64,
    // Receiving.
    received: RangeSet,
    /// Packets below this number are no longer tracked and are treated as duplicates.
    received_floor: u64,
    ack_deadline: Option<u64>,
    unacked_eliciting: u32,
    largest_received_at: u64,
    last_received: u64,
    /// See [`Session::set_keepalive_override`].
    keepalive_override: Option<u64>,
    last_sent: u64,
    recv_lanes: HashMap<u16, RecvLane>,
    /// Lowest packet number received and how many distinct ones arrived, for local quality.
    first_received: Option<u64>,
    distinct_received: u64,
    /// When our quality measure is next told to the peer.
    stats_due_at: u64,
    partials: HashMap<(u16, u64), Partial>,
    partial_order: VecDeque<(u16, u64)>,
    inbox: VecDeque<Message>,
    held: RecvHeld,
    /// A lower receive limit imposed from outside (the endpoint's memory budget), if any.
    recv_cap: usize,
    stats: SessionStats,
}

impl Session {
    /// A session whose handshake completed at `now`.
    pub fn new(config: SessionConfig, now: u64) -> Session {
        let burst = Self::burst_at(config.max_packet_size, config.send_rate);
        Session {
            state: SessionState::Connected,
            close_pending: None,
            linger: None,
            close_sent: None,
            lanes: Lanes::default(),
            send_lanes: vec![SendLane::default()],
            queued_bytes: 0,
            queued_unreliable_bytes: 0,
            flush_requested: false,
            next_packet_number: 0,
            sent: BTreeMap::new(),
            largest_acked: None,
            last_ack_eliciting_sent: None,
            loss_time: None,
            pto_count: 0,
            ping_pending: false,
            smoothed_rtt: None,
            rtt_var: INITIAL_RTT_USEC / 2,
            latest_rtt: INITIAL_RTT_USEC,
            tokens: burst,
            tokens_at: now,
            congestion: Controller::new(config.max_packet_size, config.send_rate_min, config.send_rate, now),
            bytes_in_flight: 0,
            received: RangeSet::default(),
            received_floor: 0,
            ack_deadline: None,
            unacked_eliciting: 0,
            largest_received_at: now,
            last_received: now,
            keepalive_override: None,
            last_sent: now,
            recv_lanes: HashMap::new(),
            first_received: None,
            distinct_received: 0,
            stats_due_at: now + MICROS_PER_SEC,
            partials: HashMap::new(),
            partial_order: VecDeque::new(),
            inbox: VecDeque::new(),
            held: RecvHeld::default(),
            recv_cap: usize::MAX,
            stats: SessionStats::default(),
            config,
        }
    }

    /// Enough for a few packets, or 10 ms at the pacing rate if that is more.
    fn burst_at(packet_size: usize, rate: u64) -> f64 {
        (4 * packet_size).max((rate / 100) as usize) as f64
    }

    pub fn state(&self) -> &SessionState {
        &self.state
    }

    pub fn is_connected(&self) -> bool {
        self.state == SessionState::Connected
    }

    pub fn lanes(&self) -> &Lanes {
        &self.lanes
    }

    pub fn configure_lanes(
        &mut self,
        count: usize,
        priorities: &[i64],
        weights: &[i64],
    ) -> Result<(), crate::LaneConfigError> {
        self.lanes.configure(count, priorities, weights)?;
        self.send_lanes.resize_with(count, SendLane::default);
        Ok(())
    }

    /// New settings for a live session (GNS applies config changes to live connections). The
    /// packet size only affects packets built from now on.
    pub fn update_config(&mut self, config: SessionConfig) {
        self.config = SessionConfig { send_rate: config.send_rate.max(1), ..config };
        self.congestion.set_rates(self.config.send_rate_min, self.config.send_rate);
    }

    /// Pin the rate (`SEND_RATE_MIN` = `SEND_RATE_MAX` = `bytes_per_sec`).
    pub fn set_send_rate(&mut self, bytes_per_sec: u64) {
        self.config.send_rate = bytes_per_sec.max(1);
        self.config.send_rate_min = self.config.send_rate;
        self.congestion.set_rates(self.config.send_rate_min, self.config.send_rate);
    }

    /// The congestion controller's view: bandwidth estimate, minimum round trip, phase.
    pub fn congestion(&self) -> &Controller {
        &self.congestion
    }

    pub fn stats(&self) -> SessionStats {
        let mut stats = self.stats.clone();
        stats.smoothed_rtt_usec = self.smoothed_rtt;
        stats.local_quality = self.local_quality();
        for lane in 0..self.send_lanes.len() {
            let pending = self.lane_pending(lane);
            stats.pending_unreliable_bytes += pending.unreliable;
            stats.pending_reliable_bytes += pending.reliable;
            stats.sent_unacked_reliable_bytes += pending.sent_unacked_reliable;
        }
        stats.queue_time_usec = self.queue_time_usec(stats.pending_reliable_bytes + stats.pending_unreliable_bytes);
        stats
    }

    /// Distinct packets received over the packet numbers the peer has used since our first.
    fn local_quality(&self) -> Option<f32> {
        let first = self.first_received?;
        let span = self.received.max()? + 1 - first;
        Some((self.distinct_received as f32 / span as f32).min(1.0))
    }

    /// Bytes waiting on one lane (zero for a lane that does not exist).
    pub fn lane_pending(&self, lane: usize) -> LanePending {
        let Some(lane) = self.send_lanes.get(lane) else { return LanePending::default() };
        let retransmit: u64 = lane.retransmit.iter().map(|r| r.end - r.start).sum();
        let mut pending = LanePending::default();
        let mut unsent_reliable = 0;
        for entry in &lane.queue {
            match entry.item {
                Queued::Reliable { .. } => unsent_reliable += entry.remaining(),
                Queued::Unreliable { .. } => pending.unreliable += entry.remaining(),
            }
        }
        let acked: u64 = lane.acked.iter().map(|r| r.end - r.start).sum();
        pending.reliable = unsent_reliable + retransmit;
        pending.sent_unacked_reliable = (lane.stream.len() as u64).saturating_sub(pending.reliable + acked);
        pending
    }

    /// The rate the connection paces at now (what GNS reports as the send rate).
    pub fn send_rate(&self) -> u64 {
        self.congestion.pacing_rate()
    }

    /// Time `bytes_ahead` queued bytes take to go out at the send rate.
    pub fn queue_time_usec(&self, bytes_ahead: u64) -> u64 {
        bytes_ahead * MICROS_PER_SEC / self.send_rate().max(1)
    }

    /// Packets and bytes sent and received so far: the cheap part of [`stats`](Self::stats),
    /// for callers that sample traffic often.
    pub fn traffic(&self) -> [u64; 4] {
        let s = &self.stats;
        [s.packets_sent, s.bytes_sent, s.packets_received, s.bytes_received]
    }

    // ----- sending -----------------------------------------------------------------------

    /// Queue a message; returns its number on its lane (from 1).
    pub fn send_message(&mut self, now: u64, lane: u16, data: &[u8], send_flags: i32) -> Result<u64, SendError> {
        if !self.is_connected() || self.linger.is_some() {
            return Err(SendError::NotConnected);
        }
        if lane as usize >= self.send_lanes.len() {
            return Err(SendError::NoSuchLane);
        }
        if data.len() as u64 > wire::MAX_MESSAGE_SIZE {
            return Err(SendError::TooLarge);
        }
        // GNS counts what waits to be sent (new data and retransmissions), not what is on the
        // wire awaiting acknowledgement; flow control bounds the latter separately.
        let retransmit: u64 = self.send_lanes.iter().flat_map(|l| l.retransmit.iter()).map(|r| r.end - r.start).sum();
        let pending = self.queued_bytes + retransmit;
        if pending + data.len() as u64 > self.config.send_buffer_size as u64 {
            return Err(SendError::LimitExceeded);
        }
        let number = self.lanes.take_message_number(lane as usize).expect("lane checked") as u64;
        let send_lane = &mut self.send_lanes[lane as usize];
        let item = if send_flags & flags::RELIABLE != 0 {
            let start = send_lane.stream.end();
            let tail = send_lane.stream.tail();
            varint::write(tail, number);
            varint::write(tail, data.len() as u64);
            tail.extend_from_slice(data);
            Queued::Reliable { start, end: send_lane.stream.end() }
        } else {
            Queued::Unreliable { number, data: data.to_vec(), sent: 0 }
        };
        let entry = QueueEntry { item, queued_at: now };
        self.queued_bytes += entry.remaining();
        if let Queued::Unreliable { data, .. } = &entry.item {
            self.queued_unreliable_bytes += data.len() as u64;
        }
        send_lane.queue.push_back(entry);
        if send_flags & (flags::NO_NAGLE | flags::NO_DELAY) != 0 {
            self.flush_requested = true;
        }
        Ok(number)
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

    fn close_text(text: &str) -> String {
        truncate_close_text(text).to_string()
    }

    /// The peer was proven to be at a new address: probe the new path at once rather than
    /// wait for a timer, so anything lost on the old path is found and sent again quickly.
    pub fn on_path_changed(&mut self, _now: u64) {
        self.request_ping();
    }

    /// Lingering, and nothing reliable left unacknowledged: time for the CLOSE.
    fn linger_done(&self) -> bool {
        self.linger.is_some()
            && self.send_lanes.iter().all(|l| l.stream.is_empty() && l.queue.iter().all(|e| !e.is_reliable()))
    }

    fn refill_tokens(&mut self, now: u64) {
        let elapsed = now.saturating_sub(self.tokens_at);
        self.tokens_at = now;
        let rate = self.send_rate();
        let burst = Self::burst_at(self.config.max_packet_size, rate);
        self.tokens = (self.tokens + elapsed as f64 * rate as f64 / MICROS_PER_SEC as f64).min(burst);
    }

    fn nagle_deadline(&self) -> Option<u64> {
        self.send_lanes.iter().filter_map(|l| l.queue.front()).map(|e| e.queued_at + self.config.nagle_usec).min()
    }

    /// Whether data frames may go out now (Nagle and retransmissions; pacing is separate).
    fn data_ready(&self, now: u64) -> bool {
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
    fn flow_window(&self) -> u64 {
        self.config.recv_window - self.config.recv_window / 8
    }

    /// The lane to serve next: highest priority, then least weighted bytes sent.
    fn next_lane(&self) -> Option<usize> {
        let window = self.flow_window();
        (0..self.send_lanes.len()).filter(|&i| self.send_lanes[i].has_sendable(window)).max_by(|&a, &b| {
            let pa = self.lanes.priority(a).unwrap_or(0);
            let pb = self.lanes.priority(b).unwrap_or(0);
            pa.cmp(&pb).then(self.send_lanes[b].virtual_bytes.cmp(&self.send_lanes[a].virtual_bytes)).then(b.cmp(&a))
        })
    }

    /// Append data frames for `lane` to `buf`, up to `limit` bytes in all. Returns whether
    /// anything was added.
    fn fill_lane(
        &mut self,
        lane: usize,
        buf: &mut Vec<u8>,
        limit: usize,
        reliable_sent: &mut Vec<(u16, Range<u64>)>,
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
                Queued::Reliable { start, end } => {
                    let header = Frame::reliable_header_len(lane_id, *start, (*end - *start) as usize);
                    if room <= header || *start >= window_end {
                        break;
                    }
                    let len = (*end - *start).min((room - header) as u64).min(window_end - *start);
                    let piece = *start..*start + len;
                    *start += len;
                    let done = *start == *end;
                    let data = send_lane.stream.slice(piece.clone());
                    Frame::Reliable { lane: lane_id, offset: piece.start, data }.encode(buf);
                    reliable_sent.push((lane_id, piece));
                    self.queued_bytes -= len;
                    if done {
                        send_lane.queue.pop_front();
                    }
                }
                Queued::Unreliable { number, data, sent } => {
                    let total = data.len() as u32;
                    let left = data.len() - *sent;
                    let header = Frame::unreliable_header_len(lane_id, *number, *sent as u32, total, left);
                    // An empty message is a bare header; any other fragment needs a byte of room.
                    if room < header + usize::from(left > 0) {
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
        let number = self.next_packet_number;
        varint::write(&mut buf, number);
        if let Some((reason, text)) = self.close_pending.take() {
            Frame::Close { reason, text: &text }.encode(&mut buf);
            self.close_sent = Some((reason, text));
            return Some(self.finish_packet(now, buf, false, Vec::new()));
        }
        if !self.is_connected() {
            return None;
        }
        if self.linger_done() {
            self.close_pending = self.linger.take();
            self.state = SessionState::ClosedLocally;
            return self.poll_transmit(now);
        }
        self.refill_tokens(now);
        let ack_due = self.ack_deadline.is_some_and(|d| d <= now);
        let data_ok = self.tokens > 0.0 && self.data_ready(now) && (self.window_open() || self.ping_pending);
        if !ack_due && !data_ok {
            return None;
        }
        if self.ack_deadline.is_some() {
            self.encode_ack(now, &mut buf);
        }
        // About once a second, tell the peer how much of its traffic arrives (its remote quality).
        if now >= self.stats_due_at
            && let Some(quality) = self.local_quality()
        {
            Frame::Stats { quality_permille: (quality * 1000.0).round() as u16 }.encode(&mut buf);
            self.stats_due_at = now + MICROS_PER_SEC;
        }
        let mut ack_eliciting = false;
        let mut reliable_sent = Vec::new();
        if data_ok {
            let limit = self.config.max_packet_size;
            while let Some(lane) = self.next_lane() {
                if !self.fill_lane(lane, &mut buf, limit, &mut reliable_sent) {
                    break;
                }
                ack_eliciting = true;
            }
            if self.ping_pending && !ack_eliciting {
                Frame::Ping.encode(&mut buf);
                ack_eliciting = true;
            }
            self.ping_pending = false;
            if self.queued_bytes == 0 {
                self.flush_requested = false;
            }
        }
        if buf.len() == varint::len(number) {
            return None;
        }
        if ack_eliciting {
            self.tokens -= buf.len() as f64;
        }
        Some(self.finish_packet(now, buf, ack_eliciting, reliable_sent))
    }

    fn finish_packet(
        &mut self,
        now: u64,
        buf: Vec<u8>,
        ack_eliciting: bool,
        reliable: Vec<(u16, Range<u64>)>,
    ) -> Vec<u8> {
        let number = self.next_packet_number;
        self.next_packet_number += 1;
        if ack_eliciting {
            let size = buf.len() as u64;
            self.bytes_in_flight += size;
            let app_limited = self.queued_bytes == 0 && self.send_lanes.iter().all(|l| l.retransmit.is_empty());
            let delivery = self.congestion.on_sent(now, app_limited);
            self.sent.insert(number, SentPacket { time: now, size, ack_eliciting, reliable, delivery });
            self.last_ack_eliciting_sent = Some(now);
        }
        self.last_sent = now;
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += buf.len() as u64;
        buf
    }

    fn encode_ack(&mut self, now: u64, buf: &mut Vec<u8>) {
        let ranges: Vec<Range<u64>> = self.received.iter_rev().take(wire::MAX_ACK_RANGES).collect();
        let delay_usec = now.saturating_sub(self.largest_received_at);
        Frame::Ack(AckFrame { delay_usec, ranges }).encode(buf);
        self.ack_deadline = None;
        self.unacked_eliciting = 0;
    }

    // ----- receiving ---------------------------------------------------------------------

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
        let Ok(frames) = wire::decode_frames(payload) else {
            self.stats.bad_packets += 1;
            return;
        };
        let data_frames = frames.iter().filter(|f| matches!(f, Frame::Reliable { .. } | Frame::Unreliable { .. }));
        if data_frames.count() > self.config.recv_max_segments_per_packet {
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
        self.stats.packets_received += 1;
        self.stats.bytes_received += payload.len() as u64 + varint::len(number) as u64;
        let ack_eliciting = frames.iter().any(Frame::is_ack_eliciting);
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
            for frame in frames {
                refused |= !self.handle_frame(now, frame);
            }
            if refused {
                // Reliable bytes beyond our buffer were dropped: leave the packet unacknowledged,
                // so the sender counts it lost and sends those bytes again later.
                self.received.remove(number..number + 1);
            } else if ack_eliciting {
                self.unacked_eliciting += 1;
                // Acknowledge at once on every second packet or a gap; otherwise a little later.
                let deadline =
                    if self.unacked_eliciting >= 2 || !in_order { now } else { now + self.config.max_ack_delay_usec };
                self.ack_deadline = Some(self.ack_deadline.map_or(deadline, |d| d.min(deadline)));
            }
        }
        self.release_if_ended();
    }

    /// Once the connection is over, what was held for reassembly and sending is useless:
    /// give the memory back at once (delivered messages stay readable).
    fn release_if_ended(&mut self) {
        if matches!(self.state, SessionState::ProblemDetected { .. } | SessionState::ClosedByPeer { .. }) {
            self.recv_lanes = HashMap::new();
            self.partials = HashMap::new();
            self.partial_order = VecDeque::new();
            self.held = RecvHeld { inbox: self.held.inbox, ..RecvHeld::default() };
            self.send_lanes.iter_mut().for_each(|l| *l = SendLane::default());
            self.sent = BTreeMap::new();
            self.queued_bytes = 0;
            self.queued_unreliable_bytes = 0;
            self.bytes_in_flight = 0;
        }
    }

    /// The receive limit in force: the configured budget, or less if the endpoint says so.
    fn recv_limit(&self) -> usize {
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
    fn inbox_has_room(&self, limit: usize) -> bool {
        self.held.inbox + self.held.assembled < limit && self.inbox.len() < self.config.recv_buffer_messages
    }

    /// Returns false if the frame's data had to be dropped (reliable bytes beyond our window).
    fn handle_frame(&mut self, now: u64, frame: Frame<'_>) -> bool {
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
        }
        true
    }

    /// Take reliable stream bytes; false if they had to be dropped (beyond the window or the
    /// receive budget), so the packet stays unacknowledged and the peer sends them again.
    fn on_reliable(&mut self, lane: u16, offset: u64, data: &[u8]) -> bool {
        let window = self.config.recv_window;
        let limit = self.recv_limit();
        let inbox_has_room = self.inbox_has_room(limit);
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
            if self.held.total() + cost > limit {
                return false;
            }
            recv.segments.insert(offset, data.to_vec());
            self.held.segments += cost;
            return true;
        }
        // In order: only the application's own backlog can stop it, so a budget full of
        // out-of-order segments never blocks the bytes that would drain them.
        if !inbox_has_room {
            return false;
        }
        recv.assembled.extend_from_slice(data);
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
                recv.assembled.extend_from_slice(fresh);
                self.held.assembled += fresh.len();
                recv.next_offset = seg_end;
            }
        }
        // Whole messages: number, length, payload.
        let mut parsed = 0;
        loop {
            let mut rest = &recv.assembled[parsed..];
            let (Some(number), Some(len)) = (varint::read(&mut rest), varint::read(&mut rest)) else { break };
            if len > wire::MAX_MESSAGE_SIZE.min(self.config.recv_max_message_size) {
                self.state = SessionState::ProblemDetected { reason: Problem::ProtocolViolation };
                return true;
            }
            if (rest.len() as u64) < len {
                break;
            }
            let header = recv.assembled.len() - parsed - rest.len();
            let data = rest[..len as usize].to_vec();
            parsed += header + len as usize;
            self.held.inbox += data.len();
            self.inbox.push_back(Message { lane, number, reliable: true, data });
        }
        recv.assembled.drain(..parsed);
        self.held.assembled -= parsed;
        true
    }

    fn on_unreliable(&mut self, lane: u16, number: u64, offset: u32, total_len: u32, data: &[u8]) {
        let total = total_len as usize;
        let limit = self.recv_limit();
        if total as u64 > self.config.recv_max_message_size || !self.inbox_has_room(limit) {
            return; // unreliable: dropping is always allowed
        }
        if offset == 0 && data.len() == total {
            self.held.inbox += total;
            self.inbox.push_back(Message { lane, number, reliable: false, data: data.to_vec() });
            return;
        }
        let key = (lane, number);
        if !self.partials.contains_key(&key) {
            // Make room: forget the oldest partial messages first; drop this one if that is
            // not enough.
            while self.held.total() + total > limit {
                let Some(old) = self.partial_order.pop_front() else { break };
                if let Some(p) = self.partials.remove(&old) {
                    self.held.partials -= p.data.len();
                }
            }
            if self.held.total() + total > limit {
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
            self.inbox.push_back(Message { lane, number, reliable: false, data: partial.data });
        }
    }

    fn on_ack(&mut self, now: u64, ack: AckFrame) {
        let mut newly_acked = Vec::new();
        for range in &ack.ranges {
            let numbers: Vec<u64> = self.sent.range(range.clone()).map(|(&n, _)| n).collect();
            for n in numbers {
                newly_acked.push((n, self.sent.remove(&n).expect("present")));
            }
        }
        if newly_acked.is_empty() {
            return;
        }
        // Only numbers we really sent count; a peer cannot make us think later packets arrived.
        let largest = newly_acked.iter().map(|(n, _)| *n).max().expect("non-empty");
        let mut rtt_sample = None;
        if largest == ack.ranges[0].end - 1
            && let Some((_, packet)) = newly_acked.iter().find(|(n, _)| *n == largest)
            && packet.ack_eliciting
        {
            let sample = now.saturating_sub(packet.time);
            self.on_rtt_sample(sample, ack.delay_usec);
            rtt_sample = Some(self.latest_rtt);
        }
        self.largest_acked = Some(self.largest_acked.map_or(largest, |l| l.max(largest)));
        for (number, packet) in newly_acked {
            self.bytes_in_flight = self.bytes_in_flight.saturating_sub(packet.size);
            let rtt = if number == largest { rtt_sample } else { None };
            self.congestion.on_acked(now, packet.size, packet.delivery, rtt, self.bytes_in_flight);
            for (lane, range) in packet.reliable {
                if let Some(send_lane) = self.send_lanes.get_mut(lane as usize) {
                    send_lane.on_acked(range);
                }
            }
        }
        self.pto_count = 0;
        self.detect_losses(now);
    }

    fn on_rtt_sample(&mut self, sample: u64, ack_delay: u64) {
        // RFC 9002: subtract the peer's ack delay unless that would go below the sample's floor.
        let adjusted = if sample > ack_delay.min(self.config.max_ack_delay_usec) {
            sample - ack_delay.min(self.config.max_ack_delay_usec)
        } else {
            sample
        };
        self.latest_rtt = adjusted;
        // Targets name GNS's log categories (see steamnet_net::log::category).
        tracing::trace!(target: "steamnet::ack_rtt", sample, ack_delay, adjusted, "round-trip sample");
        match self.smoothed_rtt {
            None => {
                self.smoothed_rtt = Some(adjusted);
                self.rtt_var = adjusted / 2;
            }
            Some(srtt) => {
                self.rtt_var = (3 * self.rtt_var + srtt.abs_diff(adjusted)) / 4;
                self.smoothed_rtt = Some((7 * srtt + adjusted) / 8);
            }
        }
    }

    fn rtt(&self) -> u64 {
        self.smoothed_rtt.unwrap_or(INITIAL_RTT_USEC)
    }

    fn loss_delay(&self) -> u64 {
        (self.rtt().max(self.latest_rtt) * 9 / 8).max(MIN_LOSS_DELAY_USEC)
    }

    fn pto_duration(&self) -> u64 {
        let base = self.rtt() + (4 * self.rtt_var).max(1_000) + self.config.max_ack_delay_usec;
        base << self.pto_count.min(MAX_PTO_BACKOFF)
    }

    fn detect_losses(&mut self, now: u64) {
        self.loss_time = None;
        let Some(largest) = self.largest_acked else { return };
        let loss_delay = self.loss_delay();
        let mut lost = Vec::new();
        for (&number, packet) in self.sent.range(..largest) {
            if largest - number >= PACKET_THRESHOLD || packet.time + loss_delay <= now {
                lost.push(number);
            } else {
                let when = packet.time + loss_delay;
                self.loss_time = Some(self.loss_time.map_or(when, |t| t.min(when)));
            }
        }
        for number in lost {
            self.declare_lost(number);
        }
    }

    /// Whether another full packet fits the congestion window (never more in flight than the
    /// receiver buffers ahead of a gap).
    fn window_open(&self) -> bool {
        let window = self.congestion.window().min(WINDOWS_AHEAD * self.flow_window());
        self.bytes_in_flight == 0 || self.bytes_in_flight + self.config.max_packet_size as u64 <= window
    }

    fn declare_lost(&mut self, number: u64) {
        let Some(packet) = self.sent.remove(&number) else { return };
        tracing::debug!(target: "steamnet::packet_gaps", number, bytes = packet.size, "packet lost");
        self.stats.packets_lost += 1;
        self.bytes_in_flight = self.bytes_in_flight.saturating_sub(packet.size);
        self.congestion.on_lost(packet.size);
        for (lane, range) in packet.reliable {
            if let Some(send_lane) = self.send_lanes.get_mut(lane as usize) {
                send_lane.on_lost(range);
            }
        }
    }

    fn pto_deadline(&self) -> Option<u64> {
        if self.sent.is_empty() {
            return None;
        }
        self.last_ack_eliciting_sent.map(|t| t + self.pto_duration())
    }

    // ----- timers ------------------------------------------------------------------------

    /// When [`handle_timeout`](Self::handle_timeout) or [`poll_transmit`](Self::poll_transmit)
    /// next has work, if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        if matches!(self.state, SessionState::ProblemDetected { .. }) {
            return None;
        }
        if self.close_pending.is_some() || self.linger_done() {
            return Some(0);
        }
        if !self.is_connected() {
            return None;
        }
        let mut next = [
            self.ack_deadline,
            self.loss_time,
            self.pto_deadline(),
            Some(self.last_received + self.config.idle_timeout_usec),
            // With packets in flight the probe timeout covers silence; otherwise a keepalive.
            self.sent.is_empty().then(|| self.last_received + self.keepalive_interval()),
        ]
        .into_iter()
        .flatten()
        .min();
        // Data the congestion window holds back needs no timer: an acknowledgement reopens it.
        let window = self.flow_window();
        let sendable =
            (self.send_lanes.iter().any(|l| l.has_sendable(window)) && self.window_open()) || self.ping_pending;
        if sendable {
            let ready_at = if self.send_lanes.iter().any(|l| !l.retransmit.is_empty())
                || self.ping_pending
                || self.flush_requested
                || self.queued_bytes >= self.config.max_packet_size as u64
            {
                self.tokens_at
            } else {
                self.nagle_deadline().unwrap_or(self.tokens_at)
            };
            let paced_at = if self.tokens > 0.0 {
                self.tokens_at
            } else {
                self.tokens_at + ((-self.tokens + 1.0) * MICROS_PER_SEC as f64 / self.send_rate() as f64).ceil() as u64
            };
            let at = ready_at.max(paced_at);
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        next
    }

    /// How long without hearing from the peer before a keepalive ping.
    fn keepalive_interval(&self) -> u64 {
        self.keepalive_override.unwrap_or(self.config.keepalive_usec).min(self.config.idle_timeout_usec / 2).max(1)
    }

    /// Keep the path checked more often than the configured keepalive (`Some`), or go back to
    /// it (`None`): a connection on a path it may need to leave (a direct P2P path) wants to
    /// notice silence within seconds, idle or not.
    pub fn set_keepalive_override(&mut self, usec: Option<u64>) {
        self.keepalive_override = usec;
    }

    pub fn handle_timeout(&mut self, now: u64) {
        if !self.is_connected() {
            return;
        }
        if now >= self.last_received + self.config.idle_timeout_usec {
            self.state = SessionState::ProblemDetected { reason: Problem::Timeout };
            self.release_if_ended();
            return;
        }
        if self.loss_time.is_some_and(|t| t <= now) {
            self.detect_losses(now);
        }
        if self.pto_deadline().is_some_and(|t| t <= now) {
            // No acknowledgement for too long: resend everything in flight, back off.
            let in_flight: Vec<u64> = self.sent.keys().copied().collect();
            for number in in_flight {
                self.declare_lost(number);
            }
            self.pto_count += 1;
            self.ping_pending = true;
        }
        if self.sent.is_empty() && now >= self.last_received + self.keepalive_interval() {
            self.ping_pending = true;
        }
    }

    // ----- delivery ----------------------------------------------------------------------

    pub fn poll_message(&mut self) -> Option<Message> {
        let message = self.inbox.pop_front()?;
        self.held.inbox -= message.data.len();
        Some(message)
    }

    pub fn has_messages(&self) -> bool {
        !self.inbox.is_empty()
    }
}

#[cfg(test)]
mod tests;
