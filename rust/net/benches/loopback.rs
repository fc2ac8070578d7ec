//! Loopback figures for the UDP transport, next to plain UDP doing the same job in the same run,
//! so what is printed are ratios that hold from machine to machine:
//!
//! - connect: listen, connect, accept until both ends are connected (the Noise handshake);
//! - round trip: a small reliable no-Nagle message and its answer (p50 and p99), against a
//!   plain UDP echo;
//! - throughput: 32 MiB of reliable 1000 B, 64 KiB and 512 KiB messages at the highest
//!   configurable send rate, against plain UDP datagrams with no reliability at all (MB/s, and
//!   process CPU per 1200 bytes: a full datagram's worth);
//! - small messages: 200,000 reliable 64-byte messages (Nagle on, so they share packets) as
//!   messages/s and process CPU per message, against one plain UDP datagram per message.
//!
//! With `GNS_LIB` naming Valve's GameNetworkingSockets (`scripts/bench-loopback.sh` fetches or
//! finds it), each line also shows GNS doing the same job in the same run, at the same send rate.
//!
//! Run: `cargo bench -p steamnet-net --bench loopback`. Only loopback traffic is sent.

#[path = "support/gns.rs"]
mod gns;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use steamnet_net::{ConfigInput, ConnectionState, Event, Handle, Sockets, SteamResult, parse_ip_port, send_flags};

const SEND_RATE_MAX: i64 = 11;
const SEND_RATE_MIN: i64 = 10;
const SEND_BUFFER_SIZE: i64 = 9;
const RECV_BUFFER_SIZE: i64 = 47;
/// A bulk sender's settings: the highest send rate; a receive buffer that holds the whole
/// transfer (with the default 1 MiB, a receiving application that reads less often than the
/// data arrives makes the receiver drop what does not fit, as GNS does, and the sender then
/// waits for retransmission timers); and a send buffer of 4 MiB, 8 times GNS's default and
/// room for eight of the largest messages here. With one that held the whole 32 MiB transfer,
/// the sender queued all of it at once, and the kernel zeroing the fresh pages for that queue
/// (once per connection) was about a fifth of the CPU figures.
const FAST: [(i64, ConfigInput); 4] = [
    (RECV_BUFFER_SIZE, ConfigInput::Int(64 * 1024 * 1024)),
    (SEND_RATE_MIN, ConfigInput::Int(268_435_456)),
    (SEND_RATE_MAX, ConfigInput::Int(268_435_456)),
    (SEND_BUFFER_SIZE, ConfigInput::Int(4 * 1024 * 1024)),
];

fn wait(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "benchmark stalled");
        // Give the network thread the lock (and a core) between polls; a tight spin would
        // mostly measure lock contention.
        std::thread::yield_now();
    }
}

/// (p50, p99).
fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() * 99 / 100])
}

/// Listen, connect and accept; returns (listen, client, server side) once both are connected.
fn connect(sockets: &Sockets, options: &[(i64, ConfigInput)]) -> (Handle, Handle, Handle) {
    let listen = sockets.create_listen_socket_ip(parse_ip_port("127.0.0.1:0"), options);
    let address = parse_ip_port(&sockets.listen_socket_address(listen, true).unwrap());
    let client = sockets.connect_by_ip_address(address, options);
    let mut server = 0;
    let mut connected = 0;
    wait(|| {
        for event in sockets.drain_events() {
            if let Event::ConnectionStatusChanged { handle, info, .. } = event {
                match info.state {
                    ConnectionState::Connecting if info.listen_socket == listen => {
                        assert_eq!(sockets.accept_connection(handle), SteamResult::Ok);
                        server = handle;
                    }
                    ConnectionState::Connected => connected += 1,
                    _ => {}
                }
            }
        }
        connected == 2
    });
    (listen, client, server)
}

fn bench_connect() -> Duration {
    let sockets = Sockets::new();
    let samples = (0..50)
        .map(|_| {
            let started = Instant::now();
            let (listen, client, server) = connect(&sockets, &[]);
            let took = started.elapsed();
            sockets.close_connection(client, 0, "", false);
            sockets.close_connection(server, 0, "", false);
            sockets.close_listen_socket(listen);
            took
        })
        .collect();
    percentiles(samples).0
}

/// Round trips measured of each kind (`LOOPBACK_ROUND_TRIPS` sets another number, for
/// profiling). Enough that the p99 is not a handful of samples a scheduling hiccup decides.
fn round_trips() -> usize {
    std::env::var("LOOPBACK_ROUND_TRIPS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000)
}

/// (p50, p99) of each kind of round trip.
struct RoundTrips {
    ours: (Duration, Duration),
    /// An echo between two unconnected sockets, as an echo server's must be.
    plain: (Duration, Duration),
    /// The same with the client's socket connected to the server, as steamnet's client socket
    /// is on Linux: the kernel keeps its route, so its sends skip the lookup.
    plain_connected: (Duration, Duration),
}

/// Round trips as (p50, p99): steamnet's, plain UDP's, and plain UDP's from a connected
/// client. Both steamnet ends at the highest send rate: at GNS's default (256 KB/s) a
/// ping-pong as fast as this one outruns the rate, and the waits for pacing are what the p99
/// would measure.
///
/// The three take turns, a block of round trips each, so that a machine that slows down or
/// speeds up during the run (a shared host) affects all alike and the ratios stay put. The
/// blocks are short enough that steamnet's sockets go unread for less than a millisecond
/// while the plain echoes take their turn (~0.6 ms): after a millisecond the driver thread
/// watches a socket again, and a ping-pong that keeps going never pauses that long. With
/// blocks of 100 (1.5 ms) every block began with the driver watching, each arriving datagram
/// woke it, and the scheduler put it on the application's core: ~750 preemptions a run, and
/// most of the p99 (2.0-3.6x of plain UDP's; 1.5-1.6x without). Each block's first round trip
/// is not counted either: it pays for the switch (caches).
fn bench_round_trip() -> RoundTrips {
    const BLOCK: usize = 40;
    let sockets = Sockets::new();
    let (_, client, server) = connect(&sockets, &FAST);
    let flags = send_flags::RELIABLE | send_flags::NO_NAGLE;
    let ours = || {
        let started = Instant::now();
        sockets.send_message(client, &[1; 32], flags).unwrap();
        wait(|| sockets.receive_on_connection(server, 1).is_some_and(|m| !m.is_empty()));
        sockets.send_message(server, &[2; 32], flags).unwrap();
        wait(|| sockets.receive_on_connection(client, 1).is_some_and(|m| !m.is_empty()));
        started.elapsed()
    };
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let connected = UdpSocket::bind("127.0.0.1:0").unwrap();
    connected.connect(b_addr).unwrap();
    let connected_addr = connected.local_addr().unwrap();
    let mut buf = [0u8; 64];
    let mut echo = |client: &UdpSocket, client_addr, send: &dyn Fn(&UdpSocket, &[u8]) -> std::io::Result<usize>| {
        let started = Instant::now();
        send(client, &[1; 32]).unwrap();
        b.recv_from(&mut buf).unwrap();
        b.send_to(&[2; 32], client_addr).unwrap();
        client.recv_from(&mut buf).unwrap();
        started.elapsed()
    };
    // Warm-up, not counted: right after the handshake steamnet's sockets still read in
    // batches, with the driver thread watching them, until a few lone datagrams have shown
    // that this is a ping-pong (`udp/io.rs`); the first few dozen round trips took twice as
    // long and made the p99 of a whole run.
    for _ in 0..BLOCK {
        ours();
        echo(&a, a_addr, &|s, d| s.send_to(d, b_addr));
        echo(&connected, connected_addr, &|s, d| s.send(d));
    }
    let (mut our_samples, mut plain_samples, mut connected_samples) = (Vec::new(), Vec::new(), Vec::new());
    let round_trips = round_trips();
    while our_samples.len() < round_trips {
        // Each block's first round trip warms up and is not counted (see above).
        our_samples.extend((0..=BLOCK).map(|_| ours()).skip(1));
        plain_samples.extend((0..=BLOCK).map(|_| echo(&a, a_addr, &|s, d| s.send_to(d, b_addr))).skip(1));
        connected_samples.extend((0..=BLOCK).map(|_| echo(&connected, connected_addr, &|s, d| s.send(d))).skip(1));
    }
    RoundTrips {
        ours: percentiles(our_samples),
        plain: percentiles(plain_samples),
        plain_connected: percentiles(connected_samples),
    }
}

/// Bulk transfer of `total` bytes in reliable messages of `message` bytes at the highest
/// configurable send rate: (MB/s, µs of process CPU per 1200 bytes, a full datagram's worth).
fn bench_bulk(message: usize, total: usize) -> (f64, f64) {
    let sockets = Sockets::new();
    let (_, client, server) = connect(&sockets, &FAST);
    let payload = vec![7u8; message];
    let (started, cpu) = (Instant::now(), cpu_time());
    let mut sent = 0;
    let mut received = 0;
    wait(|| {
        while sent < total && sockets.send_message(client, &payload, send_flags::RELIABLE).is_ok() {
            sent += message;
        }
        for m in sockets.receive_on_connection(server, 1024).unwrap() {
            received += m.payload.len();
        }
        received == total
    });
    let ours = total as f64 / started.elapsed().as_secs_f64() / 1e6;
    let cpu = (cpu_time() - cpu).as_secs_f64() * 1e6 / (total as f64 / 1200.0);
    if std::env::var_os("LOOPBACK_DETAILS").is_some() {
        eprintln!("{}", sockets.detailed_status(client).unwrap_or_default());
        eprintln!("{}", sockets.detailed_status(server).unwrap_or_default());
    }
    (ours, cpu)
}

/// Plain UDP: 1200-byte datagrams, as fast as the receiver keeps up, no acks or
/// retransmission: (MB/s, µs of process CPU per datagram).
fn plain_blast(total: usize) -> (f64, f64) {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    b.set_nonblocking(true).unwrap();
    let b_addr = b.local_addr().unwrap();
    let mut buf = [0u8; 2048];
    let datagram = [7u8; 1200];
    let (started, cpu) = (Instant::now(), cpu_time());
    let mut got = 0;
    let mut in_flight = 0;
    while got < total {
        // Keep a bounded window so the kernel buffer never overflows (no loss to recover).
        while in_flight < 64 {
            a.send_to(&datagram, b_addr).unwrap();
            in_flight += 1;
        }
        while let Ok((n, _)) = b.recv_from(&mut buf) {
            got += n;
            in_flight -= 1;
        }
    }
    let plain = got as f64 / started.elapsed().as_secs_f64() / 1e6;
    (plain, (cpu_time() - cpu).as_secs_f64() * 1e6 / (got as f64 / 1200.0))
}

fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces, so split after its ')').
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 (1-based), in clock ticks of 1/100 s on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn bench_small_messages() -> (f64, f64, f64, f64) {
    const COUNT: usize = 200_000;
    let sockets = Sockets::new();
    let (_, client, server) = connect(&sockets, &FAST);
    let payload = [7u8; 64];
    let (started, cpu) = (Instant::now(), cpu_time());
    let (mut sent, mut received) = (0, 0);
    wait(|| {
        while sent < COUNT && sockets.send_message(client, &payload, send_flags::RELIABLE).is_ok() {
            sent += 1;
        }
        received += sockets.receive_on_connection(server, 1024).unwrap().len();
        received == COUNT
    });
    let ours = COUNT as f64 / started.elapsed().as_secs_f64();
    let ours_cpu = (cpu_time() - cpu).as_secs_f64() * 1e6 / COUNT as f64;
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    b.set_nonblocking(true).unwrap();
    let b_addr = b.local_addr().unwrap();
    let mut buf = [0u8; 2048];
    let (started, cpu) = (Instant::now(), cpu_time());
    let (mut got, mut in_flight) = (0, 0);
    while got < COUNT {
        while in_flight < 64 {
            a.send_to(&payload, b_addr).unwrap();
            in_flight += 1;
        }
        while b.recv_from(&mut buf).is_ok() {
            got += 1;
            in_flight -= 1;
        }
    }
    let plain = COUNT as f64 / started.elapsed().as_secs_f64();
    let plain_cpu = (cpu_time() - cpu).as_secs_f64() * 1e6 / COUNT as f64;
    (ours, ours_cpu, plain, plain_cpu)
}

// ----- GNS, the same jobs ---------------------------------------------------------------------

/// GNS's highest send rate, as steamnet's `FAST` (min = max: open-source GNS paces at its minimum).
const GNS_RATE: i32 = 268_435_456;

/// Listen, connect and accept with GNS: (client, server side) once both are connected.
fn gns_connect(lib: &gns::Gns) -> (u32, u32) {
    let at = format!("127.0.0.1:{}", gns::free_port());
    lib.connected_pair(&at, &at, GNS_RATE).expect("GNS connects")
}

/// GNS's round trips, as steamnet's: (p50, p99).
fn gns_round_trip(lib: &gns::Gns) -> (Duration, Duration) {
    let (client, server) = gns_connect(lib);
    let samples = (0..round_trips())
        .map(|_| {
            let started = Instant::now();
            assert_eq!(lib.send(client, &[1; 32], gns::SEND_RELIABLE_NO_NAGLE), 1);
            wait(|| lib.receive(server).0 > 0);
            assert_eq!(lib.send(server, &[2; 32], gns::SEND_RELIABLE_NO_NAGLE), 1);
            wait(|| lib.receive(client).0 > 0);
            started.elapsed()
        })
        .collect();
    lib.close(client);
    lib.close(server);
    percentiles(samples)
}

/// Bytes GNS's sender may have sent and the receiver not yet taken (`GNS_BACKLOG` sets
/// another): GNS's cost per send grows with its queue, so a sender that fills its send buffer
/// gets 7k small messages a second here; with 64 KiB, 250–390k. At least one message is
/// always allowed.
fn gns_backlog() -> usize {
    std::env::var("GNS_BACKLOG").ok().and_then(|v| v.parse().ok()).unwrap_or(64 * 1024)
}

/// Longest a GNS transfer may run: what it delivered by then is what is measured (GNS can take
/// minutes over 200,000 small messages here, or stall).
const GNS_TIME_LIMIT: Duration = Duration::from_secs(5);

/// GNS sending up to `total` bytes in reliable messages of `message` bytes, for at most
/// [`GNS_TIME_LIMIT`]: (MB/s, µs of process CPU per 1200 bytes), or (messages/s, µs per
/// message) with `per_message`, over what was delivered.
fn gns_bulk(lib: &gns::Gns, message: usize, total: usize, per_message: bool) -> (f64, f64) {
    let (client, server) = gns_connect(lib);
    let payload = vec![7u8; message];
    let backlog = gns_backlog();
    let (started, cpu) = (Instant::now(), cpu_time());
    let (mut sent, mut received) = (0, 0);
    while received < total && started.elapsed() < GNS_TIME_LIMIT {
        while sent < total
            && (sent == received || sent - received < backlog)
            && lib.send(client, &payload, gns::SEND_RELIABLE) == 1
        {
            sent += message;
        }
        let before = received;
        loop {
            let (count, bytes) = lib.receive(server);
            received += bytes;
            if count == 0 {
                break;
            }
        }
        if received == before {
            // Polling GNS without a pause starves its service thread of GNS's lock (7k small
            // messages a second here); a short sleep when nothing came, as the lossy
            // benchmark does, lets it run at its pace.
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = (cpu_time() - cpu).as_secs_f64() * 1e6;
    lib.close(client);
    lib.close(server);
    let received = received.max(1) as f64;
    if per_message {
        let count = received / message as f64;
        (count / seconds, cpu / count)
    } else {
        (received / seconds / 1e6, cpu / (received / 1200.0))
    }
}

fn main() {
    // LOOPBACK_ONLY=rtt (or connect, throughput, small) runs one part, e.g. under a profiler.
    let only = std::env::var("LOOPBACK_ONLY").ok();
    let runs = |part: &str| only.as_deref().is_none_or(|o| o == part);
    let gns_path = std::env::var("GNS_LIB").ok();
    let gns = gns_path.as_deref().map(|path| gns::Gns::load(path).unwrap_or_else(|e| panic!("loading GNS: {e}")));
    match gns_path.as_deref() {
        Some(path) => println!("GNS: {path}, at most {} KiB sent and not yet received", gns_backlog() / 1024),
        None => println!("GNS: not given (GNS_LIB)"),
    }
    if runs("connect") {
        let connect = bench_connect();
        println!("connect (handshake, accept)     steamnet {:>9.1?}", connect);
    }
    if runs("rtt") {
        let RoundTrips { ours: (ours, ours_p99), plain: (plain, plain_p99), plain_connected: (connected, _) } =
            bench_round_trip();
        println!(
            "round trip, 32 B reliable       steamnet {:>9.1?} (p99 {:.1?})   plain UDP {:>9.1?} (p99 {:.1?})   ratio {:.2} (p99 {:.2})",
            ours,
            ours_p99,
            plain,
            plain_p99,
            ours.as_secs_f64() / plain.as_secs_f64(),
            ours_p99.as_secs_f64() / plain_p99.as_secs_f64()
        );
        println!(
            "                                plain UDP, its client's socket connected as steamnet's is: {:>7.1?}, ratio {:.2}",
            connected,
            ours.as_secs_f64() / connected.as_secs_f64()
        );
        if let Some(lib) = &gns {
            let (theirs, theirs_p99) = gns_round_trip(lib);
            println!("                                GNS      {theirs:>9.1?} (p99 {theirs_p99:.1?})");
        }
    }
    if runs("throughput") {
        const TOTAL: usize = 32 * 1024 * 1024;
        let (plain, plain_cpu) = plain_blast(TOTAL);
        for (name, message) in [("1000 B", 1000), ("64 KiB", 64 * 1024), ("512 KiB", 512 * 1024)] {
            let (ours, cpu) = bench_bulk(message, TOTAL / message * message);
            println!(
                "throughput, {name:<7} reliable    steamnet {ours:>7.1} MB/s ({cpu:.2} µs CPU per 1200 B)   plain UDP {plain:>7.1} MB/s ({plain_cpu:.2} µs per datagram)   ratio {:.2}",
                ours / plain
            );
            if let Some(lib) = &gns {
                let (theirs, cpu) = gns_bulk(lib, message, TOTAL / message * message, false);
                println!("                                GNS      {theirs:>7.1} MB/s ({cpu:.2} µs CPU per 1200 B)");
            }
        }
    }
    if runs("small") {
        let (ours, ours_cpu, plain, plain_cpu) = bench_small_messages();
        println!(
            "64 B reliable messages          steamnet {:>7.0} msg/s ({ours_cpu:.2} µs CPU each)   plain UDP {:>7.0} datagrams/s ({plain_cpu:.2} µs each)",
            ours, plain
        );
        if let Some(lib) = &gns {
            let (theirs, cpu) = gns_bulk(lib, 64, 200_000 * 64, true);
            println!("                                GNS      {theirs:>7.0} msg/s ({cpu:.2} µs CPU each)");
        }
    }
}
