//! The task that drives one endpoint on the background runtime: datagrams in, timers, and
//! re-arming when an application thread moves the deadline. It takes its endpoint's lock only,
//! and only for work (datagrams the application's receive calls did not read first, timers
//! that fire, messages handed over while it held the lock: `handoff.rs`), never the
//! interface's: what the application must learn of stays in the endpoint, marked unsettled,
//! until the next call into the interface (`table.rs`). A wake hands it its new deadline
//! through [`DriverSignal`], without a lock. While the application reads the
//! socket itself, often, the driver leaves the socket to it (`readiness.rs` says why).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use super::readiness::{DriverSocket, Readable, read_with, still_waiting};
use super::table::EndpointCell;
use super::*;

/// Receive batches the driver reads before it lets timers have a turn (and an application
/// thread reads in one call).
pub(super) const RECV_BATCHES_PER_TURN: usize = 8;

/// `DriverSignal::deadline` when there is none.
const NO_DEADLINE: u64 = u64::MAX;

/// How long after the application last read an endpoint's socket the driver leaves it to the
/// application (µs). What arrives meanwhile, if the application does not read again, waits
/// this long at most (tokio's timer rounds it up to the next millisecond).
const APP_READ_GRACE_USEC: u64 = 1_000;

/// What an application thread and an endpoint's driver task tell each other without the lock:
/// the endpoint's next deadline (published under the lock, read by the driver each time round
/// its loop), when the driver will next look (so a thread that moves the deadline wakes it only
/// if that is too late), when the application last read the socket, and that the endpoint is
/// gone.
pub(super) struct DriverSignal {
    notify: Notify,
    deadline: AtomicU64,
    /// When the driver's timer fires next (`NO_DEADLINE`: it has none). Stale while the driver
    /// is between sleeps, which does no harm: it reads `deadline` before it sleeps again.
    wakes_at: AtomicU64,
    closed: AtomicBool,
    /// When the application last read the socket itself (µs on the interface's clock, plus
    /// one; 0: never).
    app_read: AtomicU64,
    /// The driver left something in the endpoint for the interface to settle.
    unsettled: AtomicBool,
}

impl Default for DriverSignal {
    fn default() -> Self {
        DriverSignal {
            notify: Notify::new(),
            deadline: AtomicU64::new(NO_DEADLINE),
            wakes_at: AtomicU64::new(NO_DEADLINE),
            closed: AtomicBool::new(false),
            app_read: AtomicU64::new(0),
            unsettled: AtomicBool::new(false),
        }
    }
}

impl DriverSignal {
    fn deadline(&self) -> Option<u64> {
        Some(self.deadline.load(Ordering::SeqCst)).filter(|&d| d != NO_DEADLINE)
    }

    /// Record the endpoint's next deadline, and wake the driver only if its timer would fire
    /// after it: a message that Nagle or pacing holds for later, or a retransmission timer
    /// while the driver looks again soon anyway, costs no thread wake-up.
    pub(super) fn publish(&self, deadline: Option<u64>) {
        let deadline = deadline.unwrap_or(NO_DEADLINE);
        // Sequentially consistent, with the driver's store of `wakes_at` then load of
        // `deadline`: of two threads that each store then load, at least one sees the other's
        // store, so the driver never sleeps past a deadline nobody woke it for.
        self.deadline.store(deadline, Ordering::SeqCst);
        if deadline < self.wakes_at.load(Ordering::SeqCst) {
            self.notify.notify_one();
        }
    }

    /// The application read the socket itself at `now`. No wake: the driver notices when it
    /// next looks, and leaves the socket alone for a while.
    pub(super) fn app_read(&self, now: u64) {
        self.app_read.store(now + 1, Ordering::Relaxed);
    }

    /// Until when the driver leaves the socket to the application, if that is later than `now`.
    fn app_reading_until(&self, now: u64) -> Option<u64> {
        let last = self.app_read.load(Ordering::Relaxed).checked_sub(1)?;
        Some(last + APP_READ_GRACE_USEC).filter(|&until| until > now)
    }

    /// Whether the driver left something to settle since the last call; clears the mark.
    pub(super) fn take_unsettled(&self) -> bool {
        self.unsettled.swap(false, Ordering::AcqRel)
    }

    /// Wake the driver to take a turn for messages handed over (`handoff.rs`).
    pub(super) fn wake(&self) {
        self.notify.notify_one();
    }

    /// Stop the driver.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
    }
}

pub(super) async fn drive(
    inner: Weak<Inner>,
    endpoint: Weak<EndpointCell>,
    key: EndpointKey,
    mut socket: DriverSocket,
    signal: Arc<DriverSignal>,
) {
    let Some(clock_base) = inner.upgrade().map(|inner| inner.clock_base) else { return };
    let now = || clock_base.elapsed().as_micros() as u64;
    loop {
        let deadline = signal.deadline();
        let app_reading = signal.app_reading_until(now());
        if socket.watch(app_reading.is_none()).is_err() {
            return;
        }
        // Wake for the deadline, or to look at the socket again when the application's grace
        // runs out.
        let wake_at = steamnet_proto::earliest([deadline, app_reading]);
        signal.wakes_at.store(wake_at.unwrap_or(NO_DEADLINE), Ordering::SeqCst);
        if signal.deadline() != deadline {
            continue; // moved meanwhile, perhaps by a thread that saw the old `wakes_at`
        }
        let sleep = async {
            match wake_at {
                Some(at) => tokio::time::sleep_until((clock_base + Duration::from_micros(at)).into()).await,
                None => std::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            ready = socket.readable() => {
                let Some(mut ready) = ready else { return };
                if !still_waiting(&mut ready) {
                    continue;
                }
                turn(&inner, &endpoint, key, Some(&mut ready), now())
            }
            _ = sleep => {
                if signal.deadline().is_none_or(|at| at > now()) {
                    continue;
                }
                turn(&inner, &endpoint, key, None, now())
            }
            _ = signal.notify.notified() => {
                if signal.closed.load(Ordering::Acquire) {
                    return;
                }
                // Messages handed over while the lock was taken: into their sessions now.
                if !endpoint.upgrade().is_some_and(|cell| cell.handoff.is_pending()) {
                    continue;
                }
                turn(&inner, &endpoint, key, None, now())
            }
        };
        // `None`: the interface or the endpoint is gone.
        if outcome.is_none() {
            return;
        }
    }
}

/// One turn of work under the endpoint's lock: take what arrived on `socket` (if given), run
/// what is due, send what that led to, and publish the next deadline. What the application
/// must learn of is left in the endpoint, which is marked for the interface to settle. `None`
/// when the interface or the endpoint is gone.
fn turn(
    inner: &Weak<Inner>,
    endpoint: &Weak<EndpointCell>,
    key: EndpointKey,
    ready: Option<&mut Readable<'_>>,
    now: u64,
) -> Option<()> {
    let shared = endpoint.upgrade()?;
    let mut ep = table::lock(key, &shared);
    if let Some(ready) = ready {
        // Take what arrived, several batches, before reacting, so acks batch up. Reading
        // through the driver's own handle until the socket is empty clears its readiness;
        // after the budget it stays ready, and the next turn reads on after the timers.
        read_with(ready, |socket| {
            for _ in 0..RECV_BATCHES_PER_TURN {
                ep.receive_batch(now, Some(socket.into()))?;
            }
            Ok(())
        });
    }
    ep.advance(now);
    let io = ep.io.clone();
    io::with_caller_outgoing(|outgoing| {
        let mut out = Batcher::new(&io, outgoing);
        ep.run_own_into(now, &mut out);
        ep.rearm();
        if ep.is_unsettled() {
            ep.signal.unsettled.store(true, Ordering::Release);
            inner.upgrade()?.unsettled.store(true, Ordering::Release);
        }
        // The system calls (a bulk sender's bursts) after letting go of the lock, which an
        // application thread queueing its next messages may be waiting for.
        drop(ep);
        drop(out);
        Some(())
    })
}
