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

/// Bytes waiting in the receive queue of this host's UDP socket bound to `port` on 127.0.0.1,
/// as the kernel reports them in /proc/net/udp; None where there is no such file (not Linux).
pub fn udp_receive_queue(port: u16) -> Option<usize> {
    let table = std::fs::read_to_string("/proc/net/udp").ok()?;
    let local = format!("0100007F:{port:04X}");
    let line = table.lines().find(|line| line.split_whitespace().nth(1) == Some(local.as_str()))?;
    let queues = line.split_whitespace().nth(4)?; // tx_queue:rx_queue, in hex
    usize::from_str_radix(queues.split(':').nth(1)?, 16).ok()
}

/// Wait until the UDP socket on 127.0.0.1:`port` has read everything queued for it (a flood's
/// backlog), or `limit` passes; where the queue cannot be read, wait `limit` out.
pub fn wait_for_udp_queue_drained(port: u16, limit: Duration) {
    if udp_receive_queue(port).is_none() {
        std::thread::sleep(limit);
        return;
    }
    wait_until_within(limit, || udp_receive_queue(port) == Some(0));
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
