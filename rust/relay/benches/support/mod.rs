//! What the relay benchmarks share: a relay client driven by hand, the relay binary in a
//! process of its own, and two clients joined by a route.

#![allow(dead_code)] // each benchmark uses its own subset

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use steamnet_proto::cert::{Authority, Trust};
use steamnet_proto::endpoint::{ConnectionId, Endpoint, EndpointConfig, EndpointEvent, generate_static_keypair};
use steamnet_proto::session::{SessionConfig, flags};
use steamnet_relay::messages::RelayMessage;

pub const PAYLOAD: usize = 1100;
pub const RUN: Duration = Duration::from_secs(2);

/// A relay client driven by hand: one socket, one endpoint, one session with the relay.
pub struct Client {
    pub socket: UdpSocket,
    pub endpoint: Endpoint,
    pub start: Instant,
    pub conn: ConnectionId,
    pub identity: u64,
    pub buf: Vec<u8>,
    /// The relay's token for RELAYED datagrams, once sent.
    pub token: Option<u64>,
    /// RELAYED datagrams received: (route, bytes).
    pub relayed: Vec<(u32, Vec<u8>)>,
}

impl Client {
    pub fn new(bind: SocketAddr, relay: SocketAddr, ca: &Authority) -> Client {
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

    pub fn now(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// Datagrams in, timers, datagrams out.
    pub fn pump(&mut self) {
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

    pub fn connected(&self) -> bool {
        self.endpoint.session(self.conn).is_some_and(|s| s.is_connected())
    }

    pub fn send(&mut self, message: &RelayMessage, reliable: bool) -> bool {
        let now = self.now();
        let send_flags = if reliable { flags::RELIABLE | flags::NO_NAGLE } else { flags::NO_NAGLE };
        let ok = self
            .endpoint
            .session_mut(self.conn)
            .is_some_and(|s| s.send_message(now, 0, &message.encode(), send_flags).is_ok());
        let socket = &self.socket;
        self.endpoint.transmit_for(self.conn, now, |to, d| {
            let _ = socket.send_to(d, to);
        });
        ok
    }

    pub fn message(&mut self) -> Option<Vec<u8>> {
        let data = self.endpoint.poll_message(self.conn)?.data;
        if let Some(RelayMessage::Token { token }) = RelayMessage::decode(&data) {
            self.token = Some(token);
        }
        Some(data.to_vec())
    }

    /// Send `datagram` along `route` as a RELAYED datagram beside the session.
    pub fn relay(&mut self, relay: SocketAddr, route: u32, datagram: &[u8]) {
        let token = self.token.expect("token from the relay");
        let _ = self.socket.send_to(&steamnet_relay::messages::relayed_from_client(token, route, datagram), relay);
    }
}

pub struct Relay {
    pub child: Child,
    pub address: SocketAddr,
    pub ca: Authority,
    pub dir: std::path::PathBuf,
}

impl Relay {
    /// A relay named `name` with `extra` arguments (`--pop`, `--directory`). Every relay of
    /// one benchmark run shares the CA key, as the POPs of a cluster do.
    pub fn start(name: &str, extra: &[&str]) -> Relay {
        let dir = std::env::temp_dir().join(format!("steamnet-relay-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let key = dir.join("ca.key");
        let mut child = Command::new(env!("CARGO_BIN_EXE_steamnet-relay"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--ca-key"])
            .arg(&key)
            .arg("--registry")
            .arg(dir.join(format!("{name}.ids")))
            .args(extra)
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

    pub fn rss_kib(&self) -> u64 {
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

/// Two relay clients joined by a route, the caller on `relay` and the listener on `other`
/// (the same relay, or another POP of its cluster): (caller, listener, caller's route,
/// listener's route).
pub fn joined(relay: &Relay, other: &Relay) -> (Client, Client, u32, u32) {
    let mut a = Client::new("127.0.0.1:0".parse().unwrap(), relay.address, &relay.ca);
    let mut b = Client::new("127.0.0.1:0".parse().unwrap(), other.address, &other.ca);
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

pub fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[((samples.len() - 1) as f64 * p) as usize]
}

/// Send PAYLOAD-byte datagrams from `a` along `route_a` (to its relay at `relay`) for RUN, as
/// fast as it can, while a thread counts what `b` receives: (datagrams/s delivered, `b`).
pub fn relay_blast(a: &mut Client, mut b: Client, relay: SocketAddr, route_a: u32) -> (f64, Client) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let delivered = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let receiver = {
        let (delivered, done) = (delivered.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                b.pump();
                delivered.fetch_add(b.relayed.len() as u64, Ordering::Relaxed);
                b.relayed.clear();
                while b.message().is_some() {}
            }
            b
        })
    };
    let payload = [7u8; PAYLOAD];
    let started = Instant::now();
    while started.elapsed() < RUN {
        a.relay(relay, route_a, &payload);
        a.pump();
    }
    std::thread::sleep(Duration::from_millis(200));
    done.store(true, Ordering::Relaxed);
    let b = receiver.join().unwrap();
    (delivered.load(Ordering::Relaxed) as f64 / RUN.as_secs_f64(), b)
}

/// `rounds` round trips of 64 bytes from `a` to `b` and back (b echoes on its route), through
/// `relays` (a's, b's), in µs.
pub fn relay_round_trips(
    a: &mut Client,
    b: &mut Client,
    relays: (SocketAddr, SocketAddr),
    route_a: u32,
    rounds: usize,
) -> Vec<f64> {
    // The listener's route, from the first datagram it gets.
    a.relay(relays.0, route_a, b"route?");
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut found = None;
    while found.is_none() && Instant::now() < deadline {
        a.pump();
        b.pump();
        found = b.relayed.drain(..).next().map(|(route, _)| route);
        while b.message().is_some() {}
    }
    while b.token.is_none() {
        b.pump();
        while b.message().is_some() {}
    }
    let route_b = found.expect("a datagram through the relay");
    let mut samples = Vec::with_capacity(rounds);
    let ping = [1u8; 64];
    for _ in 0..rounds {
        let t = Instant::now();
        a.relay(relays.0, route_a, &ping);
        loop {
            b.pump();
            for (_, datagram) in std::mem::take(&mut b.relayed) {
                b.relay(relays.1, route_b, &datagram);
            }
            a.pump();
            if !a.relayed.is_empty() {
                a.relayed.clear();
                break;
            }
        }
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    samples
}
