//! The table of UDP endpoints, each behind a lock of its own. The interface's lock (`State`)
//! guards the table and everything the application sees; an endpoint's own lock guards its
//! protocol state, socket batch and relay link. An endpoint's driver task takes only its own
//! endpoint's lock, never the interface's: it leaves what the application must see (events,
//! received messages, relay news) in the endpoint, marks it unsettled, and the next call into
//! the interface settles it (`Sockets::lock`). Application threads lock the interface first and
//! an endpoint second, so the two kinds of lock never wait on each other in a circle. A send
//! that finds the endpoint's lock taken may hand its message over instead of waiting
//! (`handoff.rs`); every taking of the lock here first moves such messages into the sessions.

use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak};

use steamnet_proto::IdMap;

use super::driver::DriverSignal;
use super::handoff::Handoff;
use super::{EndpointKey, Role, UdpEndpoint};

/// One endpoint, shared by the table and its driver task.
pub(in crate::sockets) type SharedEndpoint = Arc<EndpointCell>;

/// An endpoint behind its lock, with what is reached without the lock: messages handed over
/// while it was taken, and its driver's signal.
pub(in crate::sockets) struct EndpointCell {
    endpoint: Mutex<UdpEndpoint>,
    pub(super) handoff: Handoff,
    signal: Arc<DriverSignal>,
}

#[derive(Default)]
pub(in crate::sockets) struct Endpoints {
    map: IdMap<EndpointKey, Slot>,
}

struct Slot {
    endpoint: SharedEndpoint,
    /// The endpoint's role (fixed when it is made), here too, so finding the endpoints of a
    /// role locks nothing.
    role: Role,
}

thread_local! {
    /// Endpoints this thread holds the lock of. A second lock of one of them on the same
    /// thread would wait forever; it panics instead, naming the endpoint.
    static HELD: RefCell<Vec<EndpointKey>> = const { RefCell::new(Vec::new()) };
}

/// An endpoint, locked.
pub(in crate::sockets) struct EndpointGuard<'a> {
    key: EndpointKey,
    cell: &'a EndpointCell,
    /// Let go of in `drop`, before looking for messages handed over meanwhile.
    guard: ManuallyDrop<MutexGuard<'a, UdpEndpoint>>,
}

impl std::ops::Deref for EndpointGuard<'_> {
    type Target = UdpEndpoint;
    fn deref(&self) -> &UdpEndpoint {
        &self.guard
    }
}

impl std::ops::DerefMut for EndpointGuard<'_> {
    fn deref_mut(&mut self) -> &mut UdpEndpoint {
        &mut self.guard
    }
}

impl Drop for EndpointGuard<'_> {
    fn drop(&mut self) {
        HELD.with_borrow_mut(|held| {
            if let Some(at) = held.iter().rposition(|&k| k == self.key) {
                held.swap_remove(at);
            }
        });
        // SAFETY: the guard is not used again: this is the end of `self`.
        unsafe { ManuallyDrop::drop(&mut self.guard) };
        // A message handed over while this thread held the lock waits for whoever takes it
        // next: the driver, woken now, unless the sender got the lock meanwhile.
        if self.cell.handoff.is_pending_after_unlock() {
            self.cell.signal.wake();
        }
    }
}

/// Lock `shared`, endpoint `key`. A panic while an endpoint was locked leaves it as it was,
/// which is no worse than refusing every later call on it, so it goes on serving.
pub(in crate::sockets) fn lock(key: EndpointKey, shared: &SharedEndpoint) -> EndpointGuard<'_> {
    HELD.with_borrow_mut(|held| {
        assert!(!held.contains(&key), "endpoint {key} locked twice on one thread: that would never return");
        held.push(key);
    });
    locked(key, shared, shared.endpoint.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
}

/// Lock `shared`, endpoint `key`, if no other thread holds it.
pub(in crate::sockets) fn try_lock(key: EndpointKey, shared: &SharedEndpoint) -> Option<EndpointGuard<'_>> {
    let guard = match shared.endpoint.try_lock() {
        Ok(guard) => guard,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => return None,
    };
    HELD.with_borrow_mut(|held| held.push(key));
    Some(locked(key, shared, guard))
}

/// Hand a message over to endpoint `key`, whose lock another thread holds (see `handoff.rs`).
pub(in crate::sockets) fn hand_over(
    (key, id): (EndpointKey, steamnet_proto::endpoint::ConnectionId),
    shared: &SharedEndpoint,
    sent_at: u64,
    message: steamnet_proto::Numbered<'_>,
) {
    shared.handoff.push(id, sent_at, message);
    // The holder may have let go before the message was in: then nobody else would take it.
    drop(try_lock(key, shared));
}

/// The guard of a freshly taken lock, after moving in what was handed over meanwhile.
fn locked<'a>(key: EndpointKey, cell: &'a EndpointCell, guard: MutexGuard<'a, UdpEndpoint>) -> EndpointGuard<'a> {
    let mut guard = EndpointGuard { key, cell, guard: ManuallyDrop::new(guard) };
    if cell.handoff.is_pending() {
        cell.handoff.deliver(&mut guard);
    }
    guard
}

impl Endpoints {
    /// Endpoint `key`, locked.
    pub(in crate::sockets) fn lock(&self, key: EndpointKey) -> Option<EndpointGuard<'_>> {
        self.map.get(&key).map(|slot| lock(key, &slot.endpoint))
    }

    /// Endpoint `key` itself, to lock while the table is borrowed otherwise.
    pub(in crate::sockets) fn shared(&self, key: EndpointKey) -> Option<SharedEndpoint> {
        self.map.get(&key).map(|slot| slot.endpoint.clone())
    }

    /// What the driver task holds: it stops when the endpoint leaves the table.
    pub(in crate::sockets) fn weak(&self, key: EndpointKey) -> Option<Weak<EndpointCell>> {
        self.map.get(&key).map(|slot| Arc::downgrade(&slot.endpoint))
    }

    pub(in crate::sockets) fn insert(&mut self, key: EndpointKey, endpoint: UdpEndpoint) {
        let (signal, role) = (endpoint.signal.clone(), endpoint.role);
        let cell = EndpointCell { endpoint: Mutex::new(endpoint), handoff: Handoff::default(), signal };
        self.map.insert(key, Slot { endpoint: Arc::new(cell), role });
    }

    /// The endpoints whose drivers left something to settle since the last call (clearing
    /// their marks), found without locking any.
    pub(in crate::sockets) fn take_unsettled(&self) -> Vec<EndpointKey> {
        self.map.iter().filter(|(_, slot)| slot.endpoint.signal.take_unsettled()).map(|(&key, _)| key).collect()
    }

    /// Take endpoint `key` out of the table; its driver stops when the endpoint drops (the
    /// driver holds it weakly), at once unless a caller still has it.
    pub(in crate::sockets) fn remove(&mut self, key: EndpointKey) -> Option<SharedEndpoint> {
        self.map.remove(&key).map(|slot| slot.endpoint)
    }

    pub(in crate::sockets) fn keys(&self) -> Vec<EndpointKey> {
        self.map.keys().copied().collect()
    }

    /// Every endpoint, locked one at a time in turn.
    pub(in crate::sockets) fn each(&self, mut visit: impl FnMut(EndpointKey, &mut UdpEndpoint)) {
        for (&key, slot) in &self.map {
            visit(key, &mut lock(key, &slot.endpoint));
        }
    }

    /// The endpoints whose role `wanted` accepts, found without locking any.
    pub(in crate::sockets) fn with_role<'a>(
        &'a self,
        mut wanted: impl FnMut(Role) -> bool + 'a,
    ) -> impl Iterator<Item = EndpointKey> + 'a {
        self.map.iter().filter(move |(_, slot)| wanted(slot.role)).map(|(&key, _)| key)
    }

    /// Take every endpoint out; their drivers stop.
    pub(in crate::sockets) fn clear(&mut self) {
        for key in self.keys() {
            self.remove(key);
        }
    }
}
