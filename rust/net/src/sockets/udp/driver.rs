//! The task that drives one endpoint on the background runtime: datagrams in, timers, and
//! re-arming when an application thread moves the deadline. It takes the interface's lock only
//! for work (datagrams the application's receive calls did not read first, timers that fire);
//! a wake hands it its new deadline through [`DriverSignal`], without the lock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::Notify;

use super::*;

/// Receive batches the driver reads before it lets timers have a turn.
const RECV_BATCHES_PER_TURN: usize = 8;

/// `DriverSignal::deadline` when there is none.
const NO_DEADLINE: u64 = u64::MAX;

/// What an application thread tells an endpoint's driver task without taking the lock from it:
/// the deadline to arm its timer for (published under the lock, read after a wake without it),
/// and that the endpoint is gone.
#[derive(Default)]
pub(super) struct DriverSignal {
    notify: Notify,
    deadline: AtomicU64,
    closed: AtomicBool,
}

impl DriverSignal {
    fn deadline(&self) -> Option<u64> {
        Some(self.deadline.load(Ordering::Acquire)).filter(|&d| d != NO_DEADLINE)
    }

    /// Record the deadline the driver is to arm for (it reads it on its next wake).
    pub(super) fn publish(&self, deadline: Option<u64>) {
        self.deadline.store(deadline.unwrap_or(NO_DEADLINE), Ordering::Release);
    }

    /// Make the driver re-read its deadline.
    pub(super) fn wake(&self) {
        self.notify.notify_one();
    }

    /// Stop the driver.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.notify.notify_one();
    }
}

pub(super) async fn drive(inner: Weak<Inner>, key: EndpointKey, socket: Arc<UdpSocket>, signal: Arc<DriverSignal>) {
    let (mut deadline, clock_base) = {
        let Some(inner) = inner.upgrade() else { return };
        let mut state = inner.lock();
        let Some(ep) = state.endpoints.get_mut(&key) else { return };
        (ep.rearm(), inner.clock_base)
    };
    loop {
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until((clock_base + Duration::from_micros(at)).into()).await,
                None => std::future::pending().await,
            }
        };
        let outcome = tokio::select! {
            ready = socket.readable() => {
                if ready.is_err() {
                    return;
                }
                // A receive call on the application's thread may have read it already: then
                // this clears the readiness, and there is nothing to take the lock for.
                if socket.try_peek_sender().is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock) {
                    continue;
                }
                turn(&inner, key, Some(&socket))
            }
            _ = sleep => turn(&inner, key, None),
            _ = signal.notify.notified() => {
                if signal.closed.load(Ordering::Acquire) {
                    return;
                }
                Some(signal.deadline())
            }
        };
        // `None`: the interface or the endpoint is gone.
        let Some(next) = outcome else { return };
        deadline = next;
    }
}

/// One turn of work under the lock: take what arrived on `socket` (if given), run what is
/// due, hand what happened up to the interface, and work out the next deadline. `None` when
/// the interface or the endpoint is gone.
fn turn(inner: &Weak<Inner>, key: EndpointKey, socket: Option<&UdpSocket>) -> Option<Option<u64>> {
    let inner = inner.upgrade()?;
    let mut state = inner.lock();
    let now = inner.now();
    let ep = state.endpoints.get_mut(&key)?;
    if let Some(socket) = socket {
        // Take what arrived, several batches, before reacting, so acks batch up. Reading
        // through the driver's own handle until the socket is empty clears its readiness;
        // after the budget it stays ready, and the next turn reads on after the timers.
        let _ = socket.try_io(tokio::io::Interest::READABLE, || {
            for _ in 0..RECV_BATCHES_PER_TURN {
                ep.receive_batch(now, Some(socket.into()))?;
            }
            Ok(())
        });
    }
    ep.advance(now);
    pump(&mut state, key, now);
    Some(state.endpoints.get_mut(&key)?.rearm())
}
