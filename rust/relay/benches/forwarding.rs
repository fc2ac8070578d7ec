//! The relay measured next to a plain UDP forwarder in the same run, on 127.0.0.1:
//!
//! - forwarding: 1,100-byte datagrams from one client to another for 2 s, through a plain UDP
//!   forwarder (one `recv_from`/`send_to` per datagram, no checks) and through `steamnet-relay`
//!   (authenticated sessions, routes, rate accounting), as datagrams/s and MB/s delivered;
//! - latency: 2,000 ping-pongs of 64 bytes, direct, via the forwarder and via the relay (p50/p99),
//!   and what one relay hop adds;
//! - memory: the relay process's resident memory per session with 10,000 sessions open.
//!
//! The relay is the real binary (`steamnet-relay`) in a process of its own. Run:
//! `cargo bench -p steamnet-relay --bench forwarding` (or `bash scripts/bench-relay.sh`).

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use steamnet_relay::messages::RelayMessage;
use support::{Client, PAYLOAD, RUN, Relay, joined, percentile, relay_blast, relay_round_trips};

/// A plain UDP forwarder between two addresses it learns from the first datagram of each.
fn plain_forwarder(stop: Arc<AtomicBool>) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let address = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut peers: Vec<SocketAddr> = Vec::new();
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            let Ok((len, from)) = socket.recv_from(&mut buf) else { continue };
            if !peers.contains(&from) && peers.len() < 2 {
                peers.push(from);
            }
            if let Some(&to) = peers.iter().find(|&&p| p != from) {
                let _ = socket.send_to(&buf[..len], to);
            }
        }
    });
    address
}

/// Blast from `send` for RUN while a thread counts what `recv` gets: (datagrams/s, MB/s).
fn blast_udp(send: UdpSocket, recv: UdpSocket, to: SocketAddr) -> (f64, f64) {
    let received = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    recv.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let counter = {
        let (received, stop) = (received.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                if recv.recv(&mut buf).is_ok() {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let payload = [7u8; PAYLOAD];
    let started = Instant::now();
    while started.elapsed() < RUN {
        let _ = send.send_to(&payload, to);
    }
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    counter.join().unwrap();
    let n = received.load(Ordering::Relaxed) as f64 / RUN.as_secs_f64();
    (n, n * PAYLOAD as f64 / 1e6)
}

fn main() {
    let relay = Relay::start("single", &[]);
    println!(
        "steamnet-relay forwarding benchmark ({} CPUs; relay in its own process; 127.0.0.1)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // ----- throughput -------------------------------------------------------------------
    let stop = Arc::new(AtomicBool::new(false));
    let forwarder = plain_forwarder(stop.clone());
    let (a, b) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
    b.send_to(b"hello", forwarder).unwrap(); // the forwarder learns b first
    std::thread::sleep(Duration::from_millis(20));
    let (plain_pps, plain_mbs) = blast_udp(a, b, forwarder);

    let (mut ca, cb, route_a, _) = joined(&relay, &relay);
    let (relay_pps, mut cb) = relay_blast(&mut ca, cb, relay.address, route_a);
    let relay_mbs = relay_pps * PAYLOAD as f64 / 1e6;
    println!("\nforwarding {PAYLOAD}-byte datagrams for {:?}, one sender, as fast as it can:", RUN);
    println!("| path | datagrams/s delivered | MB/s |");
    println!("| --- | --- | --- |");
    println!("| plain UDP forwarder | {plain_pps:.0} | {plain_mbs:.1} |");
    println!("| steamnet-relay | {relay_pps:.0} | {relay_mbs:.1} ({:.2}x) |", relay_mbs / plain_mbs);

    // ----- latency ------------------------------------------------------------------------
    let rounds = 2000;
    let udp_rtt = |via: Option<SocketAddr>| -> Vec<f64> {
        let (x, y) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
        let (to_y, to_x) = match via {
            Some(f) => {
                y.send_to(b"hi", f).unwrap(); // register y with the forwarder first
                std::thread::sleep(Duration::from_millis(20));
                (f, f)
            }
            None => (y.local_addr().unwrap(), x.local_addr().unwrap()),
        };
        let echo = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            for _ in 0..rounds {
                let Ok(len) = y.recv(&mut buf) else { return };
                y.send_to(&buf[..len], to_x).unwrap();
            }
        });
        let mut buf = [0u8; 64];
        let mut samples = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            x.send_to(&[1u8; 64], to_y).unwrap();
            x.recv(&mut buf).unwrap();
            samples.push(t.elapsed().as_secs_f64() * 1e6);
        }
        echo.join().unwrap();
        samples
    };
    stop.store(true, Ordering::Relaxed);
    let mut direct = udp_rtt(None);
    // A fresh forwarder: the first one knows the blasting pair.
    let stop = Arc::new(AtomicBool::new(false));
    let mut via_forwarder = udp_rtt(Some(plain_forwarder(stop.clone())));
    stop.store(true, Ordering::Relaxed);
    // Through the relay: the listener echoes every datagram back on its route.
    let mut via_relay = relay_round_trips(&mut ca, &mut cb, (relay.address, relay.address), route_a, rounds);
    let (d50, d99) = (percentile(&mut direct, 0.5), percentile(&mut direct, 0.99));
    let (f50, f99) = (percentile(&mut via_forwarder, 0.5), percentile(&mut via_forwarder, 0.99));
    let (r50, r99) = (percentile(&mut via_relay, 0.5), percentile(&mut via_relay, 0.99));
    println!("\nround trips of 64 bytes ({rounds}), in µs:");
    println!("| path | p50 | p99 | added per hop, p50 |");
    println!("| --- | --- | --- | --- |");
    println!("| direct UDP | {d50:.0} | {d99:.0} | - |");
    println!("| via plain UDP forwarder | {f50:.0} | {f99:.0} | {:.0} |", (f50 - d50) / 2.0);
    println!("| via steamnet-relay | {r50:.0} | {r99:.0} | {:.0} |", (r50 - d50) / 2.0);
    drop((ca, cb));

    // ----- memory -------------------------------------------------------------------------
    let sessions = std::env::var("RELAY_BENCH_SESSIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000usize);
    std::thread::sleep(Duration::from_millis(300));
    let before = relay.rss_kib();
    let mut clients: Vec<Client> = Vec::with_capacity(sessions);
    let started = Instant::now();
    for batch in 0..sessions.div_ceil(400) {
        let first = clients.len();
        for i in first..(first + 400).min(sessions) {
            // One address per client: the relay admits at most 64 connections per address.
            let ip = [127, 20, (i / 250) as u8, (i % 250 + 1) as u8];
            clients.push(Client::new((ip, 0).into(), relay.address, &relay.ca));
        }
        // Each says LISTEN as soon as it is connected (the relay closes connections that stay
        // silent for 5 s).
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut listening = vec![false; clients.len() - first];
        while !listening.iter().all(|&l| l) {
            if Instant::now() > deadline {
                let up = clients[first..].iter().filter(|c| c.connected()).count();
                panic!(
                    "batch {batch}: {up} of {} sessions connected; relay RSS {} KiB",
                    clients.len() - first,
                    relay.rss_kib()
                );
            }
            for (i, c) in clients.iter_mut().enumerate() {
                c.pump();
                if i >= first && !listening[i - first] && c.connected() {
                    c.send(&RelayMessage::Listen { vport: 1 }, true);
                    listening[i - first] = true;
                }
            }
        }
    }
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_millis(1500) {
        for c in clients.iter_mut() {
            c.pump();
        }
    }
    let after = relay.rss_kib();
    println!(
        "\nmemory: {sessions} relay sessions opened in {:.1} s; relay RSS {:.1} MiB -> {:.1} MiB: {:.1} KiB per session",
        started.elapsed().as_secs_f64(),
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after.saturating_sub(before)) as f64 / sessions as f64
    );
}
