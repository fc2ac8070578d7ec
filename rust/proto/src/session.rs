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
//!
//! The types live here; the behaviour is split by concern: `send.rs` (queueing, lanes, filling
//! packets, closing), `recv.rs` (decoding, reassembly, the receive budget), `recovery.rs` (acks,
//! RTT, loss detection, probe timeout), `pacing.rs` (token bucket and window), `timers.rs`
//! (deadlines and what happens when they pass), `stats.rs` (quality, queues, counters) and
//! `fec_frames.rs` (repair packets out, rebuilt packets in: forward error correction).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Range;

use bytes::{Bytes, BytesMut};

use crate::congestion::{self, Controller, SendState};
use crate::fec::{self, FecDecoder, FecEncoder};
use crate::lanes::Lanes;
use crate::ranges::RangeSet;
use crate::varint;
use crate::wire::{self, AckFrame, AckRanges, Frame};
use sent::SentPackets;

const MICROS_PER_SEC: u64 = 1_000_000;
/// A message its caller numbered, on its way into a session ([`Session::send_numbered`]).
#[derive(Debug, Clone, Copy)]
pub struct Numbered<'a> {
    pub lane: u16,
    pub number: u64,
    pub data: &'a [u8],
    pub send_flags: i32,
}

/// How a numbered message ([`Session::send_numbered`]) is let into the send buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// If it fits the room the buffer has now; `LimitExceeded` otherwise.
    IfRoom,
    /// Whatever the room: the caller admitted it earlier (sent while connecting, or handed
    /// over while another thread held the session), and the room may have shrunk since
    /// (retransmissions queued meanwhile). A message the application was told is on its way
    /// must not be dropped for that.
    Already,
}

/// Packet-number distance after which an unacknowledged packet counts as lost.
const PACKET_THRESHOLD: u64 = 3;
/// In-order packets that may wait for an acknowledgement (a gap acknowledges at once; a lone
/// packet within `max_ack_delay_usec`): QUIC's 2. It must stay well below the congestion
/// window's floor, or a sender held at the floor waits out the delay for every acknowledgement
/// and its bandwidth estimate, fed by those late acknowledgements, keeps it there (at 10 the
/// GDScript benchmark fell from 570k to 33k messages a second).
const IMMEDIATE_ACK_PACKETS: u32 = 2;
const _: () = assert!((IMMEDIATE_ACK_PACKETS as u64) * 2 <= crate::congestion::MIN_WINDOW_PACKETS);
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
    /// The reassembly window: reliable bytes a receiver holds beyond the first gap of a lane
    /// (out-of-order segments, with their bookkeeping), and what a sender assumes its peer holds,
    /// so it sends no further than this past the lowest offset known lost. Separate from
    /// `recv_buffer_size`, which bounds what waits for the application, as in GNS.
    pub recv_window: u64,
    /// Most bytes held for the application at once, across all lanes: partial messages, whole
    /// messages not yet parsed and delivered messages it has not taken (GNS `RecvBufferSize`).
    /// Data beyond it is refused (reliable: left unacknowledged, so it is sent again later).
    pub recv_buffer_size: usize,
    /// Most delivered messages waiting for the application (GNS `RecvBufferMessages`). Reliable
    /// bytes past this count are not refused: they wait unparsed, within `recv_buffer_size`.
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
    /// Repair packets sent per [`fec::GROUP_SIZE`] data packets (forward error correction, a
    /// steamnet extension); 0, the default, sends none.
    pub fec_repairs: usize,
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
            // GNS looks ahead 1 MiB + 64 KiB past the first gap. Four times that keeps a lossy
            // path with a long round trip busy while a loss is repaired (one window per round
            // trip is 5 MB/s at 200 ms); the endpoint's memory budget still bounds the total.
            recv_window: 4 * 1024 * 1024,
            recv_buffer_size: 1024 * 1024,
            recv_buffer_messages: 1000,
            recv_max_message_size: 512 * 1024,
            recv_max_segments_per_packet: 1300,
            idle_timeout_usec: 10 * MICROS_PER_SEC,
            // GNS's k_usecKeepAliveIntervalActive. With GNS's 10 s TimeoutConnected the half-
            // timeout cap makes it 5 s: an idle connection costs a ping and an ack per 5 s.
            keepalive_usec: 10 * MICROS_PER_SEC,
            fec_repairs: 0,
        }
    }
}

/// A message delivered to the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub lane: u16,
    pub number: u64,
    pub reliable: bool,
    /// Shares its buffer with the other messages reassembled from the same stretch of stream.
    pub data: Bytes,
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
    /// Packets lost on the way but rebuilt from repair packets (forward error correction).
    pub packets_recovered: u64,
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
    Reliable { start: u64, end: u64 },
    /// An unreliable message: bytes `start..end` of its lane's `unreliable` buffer.
    Unreliable { number: u64, start: u64, end: u64, sent: usize },
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
            Queued::Unreliable { start, end, sent, .. } => end - start - *sent as u64,
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
    /// The unreliable messages queued, back to back (released as each is sent), so queueing
    /// one copies it without allocating, as a reliable one is copied into `stream`.
    unreliable: StreamBuffer,
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
    /// In-order bytes not yet parsed into whole messages; messages are split off its front.
    assembled: ChunkedBuf,
}

/// A receive buffer that messages are split off as `Bytes`, grown a chunk at a time. Messages
/// split off share its allocation, so growing it while they live means a new one: growing by a
/// chunk makes that one per dozen packets, not one per message. The chunk starts small and
/// doubles with use, so a lane that carries a little now and then keeps a little.
#[derive(Debug, Default)]
struct ChunkedBuf {
    bytes: BytesMut,
    /// How much it grew by last time.
    chunk: usize,
}

impl ChunkedBuf {
    const FIRST_CHUNK: usize = 2 * 1024;
    const MAX_CHUNK: usize = 16 * 1024;

    fn append(&mut self, data: &[u8]) {
        if self.bytes.capacity() - self.bytes.len() < data.len() {
            self.chunk = (self.chunk * 2).clamp(Self::FIRST_CHUNK, Self::MAX_CHUNK);
            self.bytes.reserve(data.len().max(self.chunk));
        }
        self.bytes.extend_from_slice(data);
    }
}

impl std::ops::Deref for ChunkedBuf {
    type Target = BytesMut;
    fn deref(&self) -> &BytesMut {
        &self.bytes
    }
}

impl std::ops::DerefMut for ChunkedBuf {
    fn deref_mut(&mut self) -> &mut BytesMut {
        &mut self.bytes
    }
}

/// Bytes held for the peer, by kind; their sum is checked against the receive budget.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RecvHeld {
    /// Out-of-order reliable segments, with `SEGMENT_OVERHEAD` each.
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

    /// What `recv_buffer_size` bounds: everything but the out-of-order segments.
    pub fn for_application(&self) -> usize {
        self.assembled + self.partials + self.inbox
    }
}

#[derive(Debug)]
struct Partial {
    data: Vec<u8>,
    got: RangeSet,
}

/// The reliable stream ranges one packet carried, by lane: most packets carry one or two, held
/// inline so a packet's record allocates nothing.
type SentRanges = smallvec::SmallVec<[(u16, Range<u64>); 2]>;

#[derive(Debug)]
struct SentPacket {
    time: u64,
    /// Bytes this packet put in flight (counted against the congestion window).
    size: u64,
    ack_eliciting: bool,
    reliable: SentRanges,
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
    sent: SentPackets,
    /// `on_ack`'s list of the packets an ACK covers, kept for its room.
    newly_acked: Vec<(u64, SentPacket)>,
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
    /// Keyed by what the peer sends, hashed with foldhash all the same: there are at most
    /// [`crate::lanes::MAX_LANES`] keys, so collisions chosen to slow lookups down cannot cost
    /// more than a scan of that many (two lookups a packet made SipHash a visible cost).
    recv_lanes: crate::IdMap<u16, RecvLane>,
    /// Lowest packet number received and how many distinct ones arrived, for local quality.
    first_received: Option<u64>,
    distinct_received: u64,
    /// When our quality measure is next told to the peer.
    stats_due_at: u64,
    partials: HashMap<(u16, u64), Partial>,
    partial_order: VecDeque<(u16, u64)>,
    /// Whole unreliable messages are copied here and split off, so those of one stretch of
    /// packets share an allocation (as reliable ones share their lane's `assembled`).
    unreliable: ChunkedBuf,
    inbox: VecDeque<Message>,
    /// Lanes whose in-order bytes hold whole messages that wait for room in `inbox` (a list,
    /// not a set: a handful of lanes, and it keeps its capacity).
    unparsed: Vec<u16>,
    /// The connection ended and what it held was given back (see `release_if_ended`).
    released: bool,
    held: RecvHeld,
    /// A lower receive limit imposed from outside (the endpoint's memory budget), if any.
    recv_cap: usize,
    stats: SessionStats,
    /// Forward error correction: the group being protected, and repairs of the peer's groups.
    fec_send: FecEncoder,
    fec_recv: FecDecoder,
}

impl Session {
    /// A session whose handshake completed at `now`.
    pub fn new(config: SessionConfig, now: u64) -> Session {
        // A new session starts with the initial window's worth of tokens, not a full burst: at a
        // high pinned rate a full burst is 10 ms of data sent at once (335 KB at 32 MiB/s), which
        // arrives at once and can overrun the peer's application buffer (RECV_BUFFER_MESSAGES)
        // before it reads; the refused data then costs a round trip. Paced after the initial
        // window, it arrives spread. (A much smaller start, 8 packets or fewer, leaves a flow
        // joining a busy bottleneck with too small a share: two_flows_share_a_bottleneck_fairly.)
        let initial_tokens = (congestion::INITIAL_WINDOW_PACKETS as usize * config.max_packet_size) as f64;
        let mut fec_send = FecEncoder::default();
        fec_send.set_repairs(config.fec_repairs);
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
            sent: SentPackets::default(),
            newly_acked: Vec::new(),
            largest_acked: None,
            last_ack_eliciting_sent: None,
            loss_time: None,
            pto_count: 0,
            ping_pending: false,
            smoothed_rtt: None,
            rtt_var: INITIAL_RTT_USEC / 2,
            latest_rtt: INITIAL_RTT_USEC,
            tokens: initial_tokens,
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
            recv_lanes: crate::IdMap::default(),
            first_received: None,
            distinct_received: 0,
            stats_due_at: now + MICROS_PER_SEC,
            partials: HashMap::new(),
            partial_order: VecDeque::new(),
            unreliable: ChunkedBuf::default(),
            inbox: VecDeque::new(),
            unparsed: Vec::new(),
            released: false,
            held: RecvHeld::default(),
            recv_cap: usize::MAX,
            stats: SessionStats::default(),
            fec_send,
            fec_recv: FecDecoder::default(),
            config,
        }
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

    /// Take over `lanes` as they stand, configuration and message numbers both: those of a
    /// connection that was configured, and sent on, while it was still connecting.
    pub fn adopt_lanes(&mut self, lanes: Lanes) {
        self.send_lanes.resize_with(lanes.count().max(self.send_lanes.len()), SendLane::default);
        self.lanes = lanes;
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
        self.fec_send.set_repairs(self.config.fec_repairs);
        self.congestion.set_rates(self.config.send_rate_min, self.config.send_rate);
    }

    /// The peer was proven to be at a new address: probe the new path at once rather than
    /// wait for a timer, so anything lost on the old path is found and sent again quickly.
    pub fn on_path_changed(&mut self, _now: u64) {
        self.request_ping();
    }
}

mod fec_frames;
mod pacing;
mod recovery;
mod recv;
mod send;
mod sent;
mod stats;
mod timers;

#[cfg(test)]
mod tests;
