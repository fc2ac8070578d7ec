//! What idle connections cost: one server endpoint with 10,000 established, silent connections
//! (each client is an endpoint of its own), driven through 30 simulated seconds of keepalives
//! and timers the way the UDP driver drives it (timers, datagrams in, transmit). Prints the CPU
//! time spent per simulated second, as a share of one core, next to the same run with 100
//! connections, so the per-connection cost shows. Sans-IO: no sockets, so the figure is the
//! protocol's own work.
//!
//! Run: `cargo bench -p steamnet-proto --bench idle`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use steamnet_proto::endpoint::{Endpoint, EndpointConfig, EndpointEvent, generate_static_keypair};

const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 27015);

fn client_address(i: usize) -> SocketAddr {
    // Spread over many loopback addresses: the server admits 1,024 connections per source.
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250) as u8 + 1)), 40000)
}

struct Net {
    server: Endpoint,
    clients: Vec<Endpoint>,
    now: u64,
}

impl Net {
    /// Deliver everything both ways until nothing moves; the server accepts whoever arrives.
    fn exchange(&mut self) {
        loop {
            let mut moved = false;
            for (i, client) in self.clients.iter_mut().enumerate() {
                while let Some((_, d)) = client.poll_transmit(self.now) {
                    self.server.handle_datagram(self.now, client_address(i), &d);
                    moved = true;
                }
            }
            while let Some(event) = self.server.poll_event() {
                if let EndpointEvent::Incoming { id, .. } = event {
                    self.server.accept(self.now, id);
                }
            }
            let mut out = Vec::new();
            self.server.transmit_all(self.now, |to, d| out.push((to, d.to_vec())));
            for (to, d) in out {
                self.clients[index_of(to)].handle_datagram(self.now, SERVER, &d);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }
}

fn index_of(address: SocketAddr) -> usize {
    let IpAddr::V4(ip) = address.ip() else { unreachable!() };
    let [_, _, hi, lo] = ip.octets();
    hi as usize * 250 + lo as usize - 1
}

/// CPU time per simulated second with `n` idle connections, as a share of one core.
fn idle_cost(n: usize) -> f64 {
    let config = EndpointConfig { accept_incoming: true, ..EndpointConfig::default() };
    let mut net = Net {
        server: Endpoint::new(config, generate_static_keypair().0),
        clients: (0..n).map(|_| Endpoint::new(EndpointConfig::default(), generate_static_keypair().0)).collect(),
        now: 0,
    };
    for client in net.clients.iter_mut() {
        client.connect(0, SERVER);
    }
    // Handshakes: step time until every client is connected (they come in as fast as the
    // half-open table lets them; clients retry as they would on a real network).
    let mut connected = 0;
    for step in 0..10_000 {
        net.now += 5_000;
        net.exchange();
        for client in net.clients.iter_mut() {
            if client.poll_timeout().is_some_and(|t| t <= net.now) {
                client.handle_timeout(net.now);
            }
            connected += std::iter::from_fn(|| client.poll_event())
                .filter(|e| matches!(e, EndpointEvent::Connected { .. }))
                .count();
        }
        if connected == n || step == 9_999 {
            break;
        }
    }
    assert_eq!(connected, n, "every client connected");
    // Now idle: only keepalives and timers. Measure the server's side of it.
    let simulated = 30_000_000u64;
    let start = net.now;
    let mut server_time = std::time::Duration::ZERO;
    // Steps of 10 ms, as a driver woken by its timer would run them.
    while net.now < start + simulated {
        net.now += 10_000;
        let began = Instant::now();
        if net.server.poll_timeout().is_some_and(|t| t <= net.now) {
            net.server.handle_timeout(net.now);
        }
        let mut out = Vec::new();
        net.server.transmit_all(net.now, |to, d| out.push((to, d.to_vec())));
        server_time += began.elapsed();
        for (to, d) in out {
            net.clients[index_of(to)].handle_datagram(net.now, SERVER, &d);
        }
        for (i, client) in net.clients.iter_mut().enumerate() {
            if client.poll_timeout().is_some_and(|t| t <= net.now) {
                client.handle_timeout(net.now);
            }
            while let Some((_, d)) = client.poll_transmit(net.now) {
                let began = Instant::now();
                net.server.handle_datagram(net.now, client_address(i), &d);
                server_time += began.elapsed();
            }
        }
    }
    server_time.as_secs_f64() / (simulated as f64 / 1e6)
}

fn main() {
    println!("server CPU per second for idle connections (keepalives and timers only)");
    let small = idle_cost(100);
    let large = idle_cost(10_000);
    println!("  100 connections:    {:>6.3}% of a core", small * 100.0);
    println!(
        "  10,000 connections: {:>6.3}% of a core ({:.1} us per connection per second)",
        large * 100.0,
        large * 1e6 / 10_000.0
    );
}
