//! Messages an application thread hands over to an endpoint whose lock another thread holds
//! (nearly always its driver, busy with a turn), instead of waiting for the lock.
//!
//! Why: a GDScript loop that sends small messages as fast as it can met the driver's turn on
//! the sending endpoint thousands of times a second (a turn holds the lock ~10 µs) and went to
//! sleep on the lock each time: ~15,000 context switches in the benchmark's run, ~1,600 with
//! the handoff, and its rate went from about ENet's to 1.0-1.14x of it (README). A handed-over
//! message costs a copy into a buffer that keeps its room, under a lock nobody holds for longer
//! than such a copy.
//!
//! What makes it safe to answer the caller without the endpoint: the interface numbers every
//! message itself (`Connection::lanes`), so the message number is known; the connection's
//! send buffer had at least `Connection::send_room` bytes of room when a send last looked, and
//! only retransmissions the driver queues meanwhile can take room away, so a message that fits
//! in what is left is admitted (one that does not fit waits for the lock, to be told exactly).
//! An admitted message is queued even if those retransmissions took its room
//! (`Admit::Already`): the buffer may run over by a few packets' worth, but nothing the
//! application was told is on its way is dropped. Whoever next holds the endpoint's lock moves
//! what was handed over into the sessions, in the order it was sent, before doing anything
//! else with it ([`super::table::lock`]); a holder that lets go of the lock while messages
//! wait wakes the driver for them.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering, fence};

use steamnet_proto::{self as proto, Admit};

use super::*;

/// Messages waiting for the endpoint's lock.
#[derive(Default)]
pub(in crate::sockets) struct Handoff {
    waiting: Mutex<Waiting>,
    /// `waiting` holds messages: looked at without its lock by every holder of the endpoint's.
    pending: AtomicBool,
}

/// Handed-over messages, their payloads one after another in `bytes`.
#[derive(Default)]
struct Waiting {
    messages: Vec<HandedOver>,
    bytes: Vec<u8>,
}

struct HandedOver {
    id: ConnectionId,
    /// When the application sent it (the session's queue time starts there).
    sent_at: u64,
    lane: u16,
    number: u64,
    flags: i32,
    len: usize,
}

impl Handoff {
    /// Queue `message`, sent at `sent_at`, for connection `id`'s session.
    pub(super) fn push(&self, id: ConnectionId, sent_at: u64, message: proto::Numbered<'_>) {
        let proto::Numbered { lane, number, data, send_flags: flags } = message;
        let mut waiting = self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        waiting.messages.push(HandedOver { id, sent_at, lane, number, flags, len: data.len() });
        waiting.bytes.extend_from_slice(data);
        self.pending.store(true, Ordering::SeqCst);
        drop(waiting);
        // Pairs with the fence in `is_pending_after_unlock`: either the thread letting go of
        // the endpoint's lock sees `pending`, or the caller's next try for the lock finds it
        // free (see `table::hand_over`).
        fence(Ordering::SeqCst);
    }

    /// Whether messages wait (a hint: the answer may be stale by the time it is used).
    pub(super) fn is_pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed)
    }

    /// After letting go of the endpoint's lock: whether messages wait that nobody will take
    /// unless this thread sees to it.
    pub(super) fn is_pending_after_unlock(&self) -> bool {
        fence(Ordering::SeqCst);
        self.pending.load(Ordering::SeqCst)
    }

    /// Move every waiting message into `endpoint`'s sessions, in the order they were sent (the
    /// caller holds the endpoint's lock), whatever room their send buffers have now: each was
    /// admitted when it was handed over. A message whose connection can no longer send (it
    /// ended meanwhile) is dropped, as it would have been in the session's queue.
    pub(super) fn deliver(&self, endpoint: &mut UdpEndpoint) {
        let taken = {
            let mut waiting = self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            self.pending.store(false, Ordering::SeqCst);
            std::mem::take(&mut *waiting)
        };
        let mut moved = false;
        let mut offset = 0;
        for m in &taken.messages {
            let data = &taken.bytes[offset..offset + m.len];
            offset += m.len;
            let message = proto::Numbered { lane: m.lane, number: m.number, data, send_flags: m.flags };
            match endpoint.endpoint.send_numbered(m.id, m.sent_at, message, Admit::Already) {
                Some(Ok(queued)) => moved |= queued.deadline_moved,
                Some(Err(error)) => {
                    tracing::debug!(id = m.id, number = m.number, ?error, "a handed-over message was dropped")
                }
                None => tracing::debug!(id = m.id, number = m.number, "a handed-over message's connection has gone"),
            }
        }
        if moved {
            endpoint.rearm();
        }
        self.give_back(taken);
    }

    /// Keep the emptied buffers' room for the next messages, unless new ones came meanwhile.
    fn give_back(&self, mut taken: Waiting) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if waiting.messages.is_empty() {
            taken.messages.clear();
            taken.bytes.clear();
            *waiting = taken;
        }
    }
}
