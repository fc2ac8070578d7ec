//! Helpers shared by the loopback test binaries: waits that poll a condition with a deadline
//! (never a sleep-and-hope), and the attack proxy.

#![allow(dead_code)] // each test binary uses its own subset

pub mod proxy;
pub mod relay;

use std::time::{Duration, Instant};

use steamnet_net::{ConnectionState, Event, Handle, Sockets, SteamResult};

pub const WAIT: Duration = Duration::from_secs(10);

/// Poll `sockets` until `found` picks something out of its events, or fail after `WAIT`.
pub fn wait_for<T>(sockets: &Sockets, mut found: impl FnMut(&Event) -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        for event in sockets.drain_events() {
            if let Some(hit) = found(&event) {
                return hit;
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("condition not met within {WAIT:?}");
}

pub fn wait_until(condition: impl FnMut() -> bool) {
    assert!(wait_until_within(WAIT, condition), "condition not met within {WAIT:?}");
}

/// Poll `condition` until it holds (true) or `limit` passes (false).
pub fn wait_until_within(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    condition()
}

/// Accept the connection arriving on `listen` and wait until it and `client` are connected.
/// Returns the server-side handle.
pub fn accept_and_wait(sockets: &Sockets, listen: Handle, client: Handle) -> Handle {
    accept_across(sockets, listen, sockets, client)
}

/// Accept on `server`'s `listen` the connection that `client_sockets` (another interface, as
/// in another process) opened as `client`; wait until both ends are connected. Returns the
/// server-side handle.
pub fn accept_across(server: &Sockets, listen: Handle, client_sockets: &Sockets, client: Handle) -> Handle {
    let accepted = wait_for(server, |event| match event {
        Event::ConnectionStatusChanged { handle, info, .. }
            if info.listen_socket == listen && info.state == ConnectionState::Connecting =>
        {
            Some(*handle)
        }
        _ => None,
    });
    assert_eq!(server.accept_connection(accepted), SteamResult::Ok);
    let connected =
        |sockets: &Sockets, h| sockets.connection_info(h).is_some_and(|i| i.state == ConnectionState::Connected);
    wait_until(|| connected(server, accepted) && connected(client_sockets, client));
    accepted
}

/// The state of `handle` now.
pub fn state_of(sockets: &Sockets, handle: Handle) -> Option<ConnectionState> {
    sockets.connection_info(handle).map(|i| i.state)
}
