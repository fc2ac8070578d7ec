//! The table of UDP endpoints, each behind a lock of its own. The interface's lock (`State`)
//! guards the table and everything the application sees; an endpoint's own lock guards its
//! protocol state, socket batch and relay link. An endpoint's driver task takes only its own
//! endpoint's lock, never the interface's: it leaves what the application must see (events,
//! received messages, relay news) in the endpoint, marks it unsettled, and the next call into
//! the interface settles it (`Sockets::lock`). Application threads lock the interface first and
//! an endpoint second, so the two kinds of lock never wait on each other in a circle.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use steamnet_proto::IdMap;

use super::driver::DriverSignal;
use super::{EndpointKey, Role, UdpEndpoint};

/// One endpoint, shared by the table and its driver task.
pub(in crate::sockets) type SharedEndpoint = Arc<Mutex<UdpEndpoint>>;

#[derive(Default)]
pub(in crate::sockets) struct Endpoints {
    map: IdMap<EndpointKey, Slot>,
}

struct Slot {
    endpoint: SharedEndpoint,
    /// The endpoint's signal and role (fixed when it is made), here too, so finding what a
    /// driver left to settle, or the endpoints of a role, locks nothing.
    signal: Arc<DriverSignal>,
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
    guard: MutexGuard<'a, UdpEndpoint>,
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
    }
}

/// Lock `shared`, endpoint `key`. A panic while an endpoint was locked leaves it as it was,
/// which is no worse than refusing every later call on it, so it goes on serving.
pub(in crate::sockets) fn lock(key: EndpointKey, shared: &SharedEndpoint) -> EndpointGuard<'_> {
    HELD.with_borrow_mut(|held| {
        assert!(!held.contains(&key), "endpoint {key} locked twice on one thread: that would never return");
        held.push(key);
    });
    EndpointGuard { key, guard: shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) }
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
    pub(in crate::sockets) fn weak(&self, key: EndpointKey) -> Option<Weak<Mutex<UdpEndpoint>>> {
        self.map.get(&key).map(|slot| Arc::downgrade(&slot.endpoint))
    }

    pub(in crate::sockets) fn insert(&mut self, key: EndpointKey, endpoint: UdpEndpoint) {
        let (signal, role) = (endpoint.signal.clone(), endpoint.role);
        self.map.insert(key, Slot { endpoint: Arc::new(Mutex::new(endpoint)), signal, role });
    }

    /// The endpoints whose drivers left something to settle since the last call (clearing
    /// their marks), found without locking any.
    pub(in crate::sockets) fn take_unsettled(&self) -> Vec<EndpointKey> {
        self.map.iter().filter(|(_, slot)| slot.signal.take_unsettled()).map(|(&key, _)| key).collect()
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
