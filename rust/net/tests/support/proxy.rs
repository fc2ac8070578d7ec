//! A UDP proxy between one client and one server on 127.0.0.1 that misbehaves on request, the
//! way a hostile or broken network does: it drops, duplicates, reorders and corrupts datagrams,
//! records and replays them, re-sends copies from another address, and rebinds (its upstream
//! socket gets a new port, as a NAT mapping does), all while forwarding for real.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use steamnet_proto::impair::{FastRng, Link, LinkConfig};

/// What the proxy does; change it at any time through [`Proxy::set`].
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Probability a datagram is dropped, per direction.
    pub drop_to_server: f64,
    pub drop_to_client: f64,
    /// Probability a datagram is sent twice / held back behind the next one / has a bit flipped.
    pub duplicate: f64,
    pub reorder: f64,
    pub corrupt: f64,
    /// Drop everything from the client (it "dies" as far as the server can tell).
    pub silence_client: bool,
    /// Keep copies of what the client sends.
    pub record: bool,
    /// Every this often, send everything recorded to the server again.
    pub replay_every: Option<Duration>,
    /// Also send each client datagram to the server from a second socket (a different address).
    pub copy_from_elsewhere: bool,
    /// A path model (loss, lag, jitter, bandwidth) each direction goes through, as the
    /// simulator's links do: what a benchmark uses to give two libraries the same bad network.
    pub path: Option<LinkConfig>,
}

#[derive(Debug, Default)]
pub struct Counters {
    pub to_server: u64,
    pub to_client: u64,
    pub replayed: u64,
    pub corrupted: u64,
}

struct Shared {
    behaviour: Behaviour,
    recorded: Vec<Vec<u8>>,
    rebind: bool,
    counters: Counters,
}

pub struct Proxy {
    /// Where the client should connect.
    pub address: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    pub fn start(server: SocketAddr, seed: u64) -> Proxy {
        let front = UdpSocket::bind("127.0.0.1:0").unwrap();
        front.set_nonblocking(true).unwrap();
        let address = front.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared {
            behaviour: Behaviour::default(),
            recorded: Vec::new(),
            rebind: false,
            counters: Counters::default(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::spawn(move || run(front, server, shared, stop, seed))
        };
        Proxy { address, shared, stop, thread: Some(thread) }
    }

    pub fn set(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.shared.lock().unwrap().behaviour);
    }

    /// Move to a new upstream port, as a NAT that forgot its mapping does.
    pub fn rebind(&self) {
        self.shared.lock().unwrap().rebind = true;
    }

    pub fn recorded(&self) -> usize {
        self.shared.lock().unwrap().recorded.len()
    }

    pub fn counters(&self) -> (u64, u64, u64, u64) {
        let c = &self.shared.lock().unwrap().counters;
        (c.to_server, c.to_client, c.replayed, c.corrupted)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn upstream_socket(server: SocketAddr) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(server).unwrap();
    socket.set_nonblocking(true).unwrap();
    socket
}

/// Forward one datagram the way `b` says: perhaps with a bit flipped, perhaps twice, perhaps
/// held back behind the next one (`held` keeps it meanwhile). Returns how many went out.
fn misbehave(
    rng: &mut FastRng,
    b: &Behaviour,
    d: &mut [u8],
    held: &mut Option<Vec<u8>>,
    corrupted: &mut u64,
    mut send: impl FnMut(&[u8]),
) -> u64 {
    if rng.chance(b.corrupt) && !d.is_empty() {
        let at = rng.below(d.len() as u64) as usize;
        d[at] ^= 1 << rng.below(8);
        *corrupted += 1;
    }
    let mut sent = 0;
    let copies = if rng.chance(b.duplicate) { 2 } else { 1 };
    for _ in 0..copies {
        if rng.chance(b.reorder) && held.is_none() {
            *held = Some(d.to_vec());
            continue;
        }
        send(d);
        sent += 1;
        if let Some(late) = held.take() {
            send(&late);
            sent += 1;
        }
    }
    sent
}

fn run(front: UdpSocket, server: SocketAddr, shared: Arc<Mutex<Shared>>, stop: Arc<AtomicBool>, seed: u64) {
    let mut rng = FastRng::new(seed);
    let mut upstream = upstream_socket(server);
    let elsewhere = upstream_socket(server);
    let mut client: Option<SocketAddr> = None;
    // One held-back datagram per direction, for reordering.
    let mut held_up: Option<Vec<u8>> = None;
    let mut held_down: Option<Vec<u8>> = None;
    let mut last_replay = Instant::now();
    let mut buf = [0u8; 4096];
    let clock = Instant::now();
    let mut up: Option<Link> = None;
    let mut down: Option<Link> = None;
    while !stop.load(Ordering::Relaxed) {
        let mut idle = true;
        let mut guard = shared.lock().unwrap();
        let s = &mut *guard;
        if std::mem::take(&mut s.rebind) {
            upstream = upstream_socket(server);
        }
        let b = s.behaviour.clone();
        let now = clock.elapsed().as_micros() as u64;
        if let Some(path) = &b.path {
            for (link, seed) in [(&mut up, 1), (&mut down, 2)] {
                match link {
                    Some(link) if link.config() != path => link.set_config(path.clone()),
                    Some(_) => {}
                    None => *link = Some(Link::new(path.clone(), seed ^ rng.next_u64())),
                }
            }
        }
        // Datagrams the path model held back and that are due now.
        while let Some(d) = up.as_mut().and_then(|l| l.pop_arrived(now)) {
            let _ = upstream.send(&d);
        }
        if let Some(to) = client {
            while let Some(d) = down.as_mut().and_then(|l| l.pop_arrived(now)) {
                let _ = front.send_to(&d, to);
            }
        }
        // Client -> server.
        while let Ok((len, from)) = front.recv_from(&mut buf) {
            idle = false;
            client = Some(from);
            if b.silence_client {
                continue;
            }
            let mut d = buf[..len].to_vec();
            if b.record {
                s.recorded.push(d.clone());
            }
            if b.copy_from_elsewhere {
                let _ = elsewhere.send(&d);
            }
            if rng.chance(b.drop_to_server) {
                continue;
            }
            let sent = misbehave(&mut rng, &b, &mut d, &mut held_up, &mut s.counters.corrupted, |d| match &mut up {
                Some(link) => link.send(now, d.to_vec(), d.len()),
                None => drop(upstream.send(d)),
            });
            s.counters.to_server += sent;
        }
        // Server -> client.
        while let Ok(len) = upstream.recv(&mut buf) {
            idle = false;
            let Some(to) = client else { continue };
            if rng.chance(b.drop_to_client) {
                continue;
            }
            let mut d = buf[..len].to_vec();
            let sent =
                misbehave(&mut rng, &b, &mut d, &mut held_down, &mut s.counters.corrupted, |d| match &mut down {
                    Some(link) => link.send(now, d.to_vec(), d.len()),
                    None => drop(front.send_to(d, to)),
                });
            s.counters.to_client += sent;
        }
        // Whatever the server sends to the second socket is not for anyone: drain it.
        while elsewhere.recv(&mut buf).is_ok() {}
        if let Some(every) = b.replay_every
            && last_replay.elapsed() >= every
        {
            last_replay = Instant::now();
            for d in &s.recorded {
                let _ = upstream.send(d);
            }
            s.counters.replayed += s.recorded.len() as u64;
        }
        drop(guard);
        let held = up.as_ref().is_some_and(|l| !l.is_idle()) || down.as_ref().is_some_and(|l| !l.is_idle());
        if idle {
            std::thread::sleep(Duration::from_micros(if held { 50 } else { 200 }));
        }
    }
}
