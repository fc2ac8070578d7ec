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

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use steamnet_proto::cert::{Authority, Trust};
use steamnet_proto::endpoint::{ConnectionId, Endpoint, EndpointConfig, EndpointEvent, generate_static_keypair};
use steamnet_proto::session::{SessionConfig, flags};
use steamnet_relay::messages::RelayMessage;

const PAYLOAD: usize = 1100;
const RUN: Duration = Duration::from_secs(2);

/// A relay client driven by hand: one socket, one endpoint, one session with the relay.
struct Client {
    socket: UdpSocket,
    endpoint: Endpoint,
    start: Instant,
    conn: ConnectionId,
    identity: u64,
    buf: Vec<u8>,
    /// The relay's token for RELAYED datagrams, once sent.
    token: Option<u64>,
    /// RELAYED datagrams received: (route, bytes).
    relayed: Vec<(u32, Vec<u8>)>,
}

impl Client {
    fn new(bind: SocketAddr, relay: SocketAddr, ca: &Authority) -> Client {
        let socket = UdpSocket::bind(bind).unwrap();
        socket.set_nonblocking(true).unwrap();
        let (private, public) = generate_static_keypair();
        let key: [u8; 32] = public.try_into().unwrap();
        let identity = ca.identity_for(&key, 0);
        let cert = ca.issue(identity, 480, key, steamnet_relay::unix_now(), 3600);
        let session = SessionConfig { send_rate: 1 << 30, nagle_usec: 0, ..SessionConfig::default() };
        let mut endpoint = Endpoint::new(EndpointConfig { session, ..EndpointConfig::default() }, private.clone());
        endpoint.set_credentials(private, cert.encode(), Trust { app_id: 480, cas: vec![ca.public_key()] });
        endpoint.set_unix_time(0, steamnet_relay::unix_now());
        let conn = endpoint.connect(0, relay);
        Client {
            socket,
            endpoint,
            start: Instant::now(),
            conn,
            identity,
            buf: vec![0; 2048],
            token: None,
            relayed: Vec::new(),
        }
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// Datagrams in, timers, datagrams out.
    fn pump(&mut self) {
        let now = self.now();
        while let Ok((len, from)) = self.socket.recv_from(&mut self.buf) {
            match steamnet_relay::messages::parse_relayed_to_client(&self.buf[..len]) {
                Some((route, datagram)) => self.relayed.push((route, datagram.to_vec())),
                None => self.endpoint.handle_datagram(now, from, &self.buf[..len]),
            }
        }
        if self.endpoint.poll_timeout().is_some_and(|t| t <= now) {
            self.endpoint.handle_timeout(now);
        }
        while let Some((to, d)) = self.endpoint.poll_transmit(now) {
            let _ = self.socket.send_to(&d, to);
        }
        while let Some(event) = self.endpoint.poll_event() {
            if let EndpointEvent::ClosedByPeer { text, .. } = event {
                panic!("relay closed session of {} ({:?}): {text}", self.identity, self.socket.local_addr());
            }
        }
    }

    fn connected(&self) -> bool {
        self.endpoint.session(self.conn).is_some_and(|s| s.is_connected())
    }

    fn send(&mut self, message: &RelayMessage, reliable: bool) -> bool {
        let now = self.now();
        let send_flags = if reliable { flags::RELIABLE | flags::NO_NAGLE } else { flags::NO_NAGLE };
        let ok = self
            .endpoint
            .session_mut(self.conn)
            .is_some_and(|s| s.send_message(now, 0, &message.encode(), send_flags).is_ok());
        while let Some((to, d)) = self.endpoint.poll_transmit_for(self.conn, now) {
            let _ = self.socket.send_to(&d, to);
        }
        ok
    }

    fn message(&mut self) -> Option<Vec<u8>> {
        let data = self.endpoint.poll_message(self.conn)?.data;
        if let Some(RelayMessage::Token { token }) = RelayMessage::decode(&data) {
            self.token = Some(token);
        }
        Some(data)
    }

    /// Send `datagram` along `route` as a RELAYED datagram beside the session.
    fn relay(&mut self, relay: SocketAddr, route: u32, datagram: &[u8]) {
        let token = self.token.expect("token from the relay");
        let _ = self.socket.send_to(&steamnet_relay::messages::relayed_from_client(token, route, datagram), relay);
    }
}

struct Relay {
    child: Child,
    address: SocketAddr,
    ca: Authority,
    dir: std::path::PathBuf,
}

impl Relay {
    fn start() -> Relay {
        let dir = std::env::temp_dir().join(format!("steamnet-relay-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let key = dir.join("ca.key");
        let mut child = Command::new(env!("CARGO_BIN_EXE_steamnet-relay"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--ca-key"])
            .arg(&key)
            .args(["--session-rate-mib", "4096", "--log"])
            .arg(std::env::var("RELAY_BENCH_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(Stdio::piped())
            .spawn()
            .expect("steamnet-relay (cargo builds it for benches)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        while let Some(Ok(line)) = lines.next() {
            if line.contains("listening on") {
                break;
            }
        }
        let secret = steamnet_relay::keyfile::load_or_create_secret(&key, || unreachable!()).unwrap();
        Relay { child, address: ([127, 0, 0, 1], port).into(), ca: Authority::from_secret(&secret), dir }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Two relay clients joined by a route: (caller, listener, caller's route, listener's route).
fn joined(relay: &Relay) -> (Client, Client, u32, u32) {
    let mut a = Client::new("127.0.0.1:0".parse().unwrap(), relay.address, &relay.ca);
    let mut b = Client::new("127.0.0.1:0".parse().unwrap(), relay.address, &relay.ca);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(a.connected() && b.connected()) {
        assert!(Instant::now() < deadline, "clients did not connect to the relay");
        a.pump();
        b.pump();
    }
    b.send(&RelayMessage::Listen { vport: 1 }, true);
    let mut route_b = None;
    let mut last_call = Instant::now() - Duration::from_secs(1);
    while route_b.is_none() {
        assert!(Instant::now() < deadline, "no route");
        if last_call.elapsed() > Duration::from_millis(100) {
            a.send(&RelayMessage::Connect { route: 1, target: b.identity, vport: 1 }, true);
            last_call = Instant::now();
        }
        a.pump();
        b.pump();
        while let Some(m) = b.message() {
            if let Some(RelayMessage::Incoming { route, .. }) = RelayMessage::decode(&m) {
                route_b = Some(route);
            }
        }
    }
    while a.token.is_none() {
        assert!(Instant::now() < deadline, "no token");
        a.pump();
        while a.message().is_some() {}
    }
    (a, b, 1, route_b.unwrap())
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[((samples.len() - 1) as f64 * p) as usize]
}

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
    let relay = Relay::start();
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

    let (mut ca, mut cb, route_a, _) = joined(&relay);
    let delivered = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let receiver = {
        let (delivered, done) = (delivered.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                cb.pump();
                delivered.fetch_add(cb.relayed.len() as u64, Ordering::Relaxed);
                cb.relayed.clear();
                while cb.message().is_some() {}
            }
            cb
        })
    };
    let payload = [7u8; PAYLOAD];
    let started = Instant::now();
    while started.elapsed() < RUN {
        ca.relay(relay.address, route_a, &payload);
        ca.pump();
    }
    std::thread::sleep(Duration::from_millis(200));
    done.store(true, Ordering::Relaxed);
    let mut cb = receiver.join().unwrap();
    let relay_pps = delivered.load(Ordering::Relaxed) as f64 / RUN.as_secs_f64();
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
    // Through the relay: the listener echoes every FORWARD back on its route.
    let route_b = {
        // Find the listener's route from its first RELAYED datagram.
        ca.relay(relay.address, route_a, b"route?");
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut found = None;
        while found.is_none() && Instant::now() < deadline {
            ca.pump();
            cb.pump();
            found = cb.relayed.drain(..).next().map(|(route, _)| route);
            while cb.message().is_some() {}
        }
        while cb.token.is_none() {
            cb.pump();
            while cb.message().is_some() {}
        }
        found.expect("a datagram through the relay")
    };
    let mut via_relay = Vec::new();
    let ping = [1u8; 64];
    for _ in 0..rounds {
        let t = Instant::now();
        ca.relay(relay.address, route_a, &ping);
        loop {
            cb.pump();
            for (_, datagram) in std::mem::take(&mut cb.relayed) {
                cb.relay(relay.address, route_b, &datagram);
            }
            ca.pump();
            if !ca.relayed.is_empty() {
                ca.relayed.clear();
                break;
            }
        }
        via_relay.push(t.elapsed().as_secs_f64() * 1e6);
    }
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
