use super::*;
use crate::session::flags;
use crate::sim::{Link, LinkConfig, Rng};

const SECOND: u64 = 1_000_000;

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

/// A client endpoint and a listening server endpoint joined by simulated links.
struct Net {
    client: Endpoint,
    server: Endpoint,
    c_addr: SocketAddr,
    s_addr: SocketAddr,
    c_to_s: Link,
    s_to_c: Link,
    now: u64,
}

impl Net {
    fn new(link: LinkConfig, seed: u64) -> Net {
        let server_config = EndpointConfig { accept_incoming: true, ..Default::default() };
        Net {
            client: Endpoint::new(EndpointConfig::default(), generate_static_keypair().0, 111, seed),
            server: Endpoint::new(server_config, generate_static_keypair().0, 222, seed + 1),
            c_addr: addr("127.0.0.1:40000"),
            s_addr: addr("127.0.0.1:27015"),
            c_to_s: Link::new(link.clone(), seed + 2),
            s_to_c: Link::new(link, seed + 3),
            now: 0,
        }
    }

    fn step(&mut self) -> bool {
        while let Some((to, d)) = self.client.poll_transmit(self.now) {
            assert_eq!(to, self.s_addr);
            self.c_to_s.send(self.now, d);
        }
        while let Some((to, d)) = self.server.poll_transmit(self.now) {
            assert_eq!(to, self.c_addr);
            self.s_to_c.send(self.now, d);
        }
        let next = [
            self.client.poll_timeout(),
            self.server.poll_timeout(),
            self.c_to_s.next_arrival(),
            self.s_to_c.next_arrival(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { return false };
        self.now = self.now.max(next);
        while let Some(d) = self.c_to_s.pop_arrived(self.now) {
            self.server.handle_datagram(self.now, self.c_addr, &d);
        }
        while let Some(d) = self.s_to_c.pop_arrived(self.now) {
            self.client.handle_datagram(self.now, self.s_addr, &d);
        }
        if self.client.poll_timeout().is_some_and(|t| t <= self.now) {
            self.client.handle_timeout(self.now);
        }
        if self.server.poll_timeout().is_some_and(|t| t <= self.now) {
            self.server.handle_timeout(self.now);
        }
        true
    }

    fn run_until(&mut self, deadline: u64, mut done: impl FnMut(&mut Net) -> bool) -> bool {
        let mut same = 0;
        while self.now <= deadline {
            if done(self) {
                return true;
            }
            let before = self.now;
            if !self.step() {
                break;
            }
            same = if self.now == before { same + 1 } else { 0 };
            assert!(same < 100_000, "stuck at {}", self.now);
        }
        done(self)
    }

    /// Connect, accept on the server; returns (client id, server id).
    fn establish(&mut self) -> (ConnectionId, ConnectionId) {
        let c = self.client.connect(self.now, self.s_addr);
        let mut incoming = None;
        assert!(self.run_until(self.now + 20 * SECOND, |n| {
            while let Some(e) = n.server.poll_event() {
                if let EndpointEvent::Incoming { id, address, identity } = e {
                    assert_eq!((address, identity), (n.c_addr, 111));
                    incoming = Some(id);
                }
            }
            incoming.is_some()
        }));
        let s = incoming.unwrap();
        assert!(self.client.session(c).is_none(), "client waits for acceptance");
        let now = self.now;
        assert!(self.server.accept(now, s));
        assert_eq!(self.server.poll_event(), Some(EndpointEvent::Connected { id: s, identity: 111 }));
        let mut connected = false;
        assert!(self.run_until(self.now + 20 * SECOND, |n| {
            while let Some(e) = n.client.poll_event() {
                assert_eq!(e, EndpointEvent::Connected { id: c, identity: 222 });
                connected = true;
            }
            connected
        }));
        (c, s)
    }
}

#[test]
fn handshake_accept_and_messages_both_ways() {
    let mut net = Net::new(LinkConfig::default(), 1);
    let (c, s) = net.establish();
    let now = net.now;
    net.client.session_mut(c).unwrap().send_message(now, 0, b"ping from client", flags::RELIABLE).unwrap();
    net.server.session_mut(s).unwrap().send_message(now, 0, b"hello from server", 0).unwrap();
    let (mut at_server, mut at_client) = (None, None);
    assert!(net.run_until(net.now + SECOND, |n| {
        at_server = at_server.take().or_else(|| n.server.session_mut(s).unwrap().poll_message());
        at_client = at_client.take().or_else(|| n.client.session_mut(c).unwrap().poll_message());
        at_server.is_some() && at_client.is_some()
    }));
    assert_eq!(at_server.unwrap().data, b"ping from client");
    assert_eq!(at_client.unwrap().data, b"hello from server");
}

#[test]
fn handshake_survives_heavy_loss() {
    for seed in 0..20 {
        let link = LinkConfig { loss: 0.25, duplicate: 0.1, reorder: 0.2, reorder_usec: 30_000, ..Default::default() };
        let mut net = Net::new(link, seed * 7);
        let (c, s) = net.establish();
        let now = net.now;
        net.client.session_mut(c).unwrap().send_message(now, 0, &[9; 5000], flags::RELIABLE).unwrap();
        assert!(net.run_until(net.now + 60 * SECOND, |n| n.server.session_mut(s).unwrap().poll_message().is_some()));
    }
}

#[test]
fn spoofed_handshakes_allocate_nothing() {
    let mut net = Net::new(LinkConfig::default(), 5);
    let spoofer = addr("10.9.8.7:1234");
    // A REQUEST is answered statelessly, with less than it carried.
    let mut request = vec![KIND_REQUEST, PROTOCOL_VERSION, 0, 0, 0, 1];
    request.resize(REQUEST_LEN, 0);
    net.server.handle_datagram(0, spoofer, &request);
    let (to, challenge) = net.server.poll_transmit(0).unwrap();
    assert_eq!(to, spoofer);
    assert!(challenge.len() < request.len(), "no amplification");
    assert_eq!(net.server.connection_count(), 0);
    // A short REQUEST gets nothing at all.
    net.server.handle_datagram(0, spoofer, &request[..20]);
    assert!(net.server.poll_transmit(0).is_none());
    // HELLOs with made-up or someone else's cookies allocate nothing.
    let mut rng = Rng::new(3);
    for _ in 0..1000 {
        let mut hello = vec![KIND_HELLO, 0, 0, 0, 1];
        hello.extend((0..COOKIE_LEN + 32).map(|_| rng.next_u64() as u8));
        net.server.handle_datagram(0, spoofer, &hello);
    }
    let mut stolen = vec![KIND_HELLO, 0, 0, 0, 1];
    stolen.extend_from_slice(&challenge[5..]);
    stolen.extend_from_slice(&[0; 32]);
    net.server.handle_datagram(0, addr("10.9.8.7:1235"), &stolen);
    assert_eq!(net.server.connection_count(), 0, "no state for unproven addresses");
    assert!(net.server.poll_transmit(0).is_none());
}

#[test]
fn closing_before_accept_rejects_the_client() {
    let mut net = Net::new(LinkConfig::default(), 9);
    let c = net.client.connect(0, net.s_addr);
    let mut incoming = None;
    assert!(net.run_until(10 * SECOND, |n| {
        if let Some(EndpointEvent::Incoming { id, .. }) = n.server.poll_event() {
            incoming = Some(id);
        }
        incoming.is_some()
    }));
    net.server.close(incoming.unwrap(), 1234, "full");
    let mut event = None;
    assert!(net.run_until(net.now + 10 * SECOND, |n| {
        event = n.client.poll_event();
        event.is_some()
    }));
    assert_eq!(event, Some(EndpointEvent::ClosedByPeer { id: c, reason: 1234, text: "connection refused".into() }));
}

#[test]
fn nobody_listening_times_out() {
    let mut net = Net::new(LinkConfig { loss: 1.0, ..Default::default() }, 11);
    let c = net.client.connect(0, net.s_addr);
    let mut event = None;
    assert!(net.run_until(20 * SECOND, |n| {
        event = n.client.poll_event();
        event.is_some()
    }));
    assert_eq!(event, Some(EndpointEvent::ProblemDetected { id: c, problem: ConnectionProblem::Timeout }));
    assert!((10 * SECOND..11 * SECOND).contains(&net.now), "after the handshake timeout: {}", net.now);
}

#[test]
fn established_close_reaches_the_peer() {
    let mut net = Net::new(LinkConfig::default(), 13);
    let (c, s) = net.establish();
    net.client.close(c, 1042, "bye");
    let mut event = None;
    assert!(net.run_until(net.now + SECOND, |n| {
        event = n.server.poll_event();
        event.is_some()
    }));
    assert_eq!(event, Some(EndpointEvent::ClosedByPeer { id: s, reason: 1042, text: "bye".into() }));
}

#[test]
fn tampered_and_foreign_datagrams_are_dropped() {
    let mut net = Net::new(LinkConfig::default(), 17);
    let (c, s) = net.establish();
    let now = net.now;
    net.client.session_mut(c).unwrap().send_message(now, 0, b"genuine", flags::RELIABLE | flags::NO_NAGLE).unwrap();
    let (_, mut datagram) = net.client.poll_transmit(now).unwrap();
    let good = datagram.clone();
    let last = datagram.len() - 1;
    datagram[last] ^= 1;
    let dropped = net.server.stats.dropped_datagrams;
    net.server.handle_datagram(now, net.c_addr, &datagram);
    net.server.handle_datagram(now, addr("127.0.0.1:1"), &good);
    assert_eq!(net.server.stats.dropped_datagrams, dropped + 2, "bit flip and wrong sender both dropped");
    assert!(net.server.session_mut(s).unwrap().poll_message().is_none());
    net.server.handle_datagram(now, net.c_addr, &good);
    assert_eq!(net.server.session_mut(s).unwrap().poll_message().unwrap().data, b"genuine");
}

#[test]
fn random_datagrams_never_panic() {
    let mut net = Net::new(LinkConfig::default(), 19);
    let (c, _) = net.establish();
    let mut rng = Rng::new(23);
    let now = net.now;
    for round in 0..50_000u64 {
        let kind = rng.below(9) as u8;
        let len = rng.below(300) as usize;
        let mut d: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        if !d.is_empty() {
            d[0] = kind;
        }
        if d.len() >= 5 && rng.chance(0.5) {
            d[1..5].copy_from_slice(&c.to_be_bytes()); // aim at a live connection id
        }
        net.server.handle_datagram(now + round, net.c_addr, &d);
        net.client.handle_datagram(now + round, net.s_addr, &d);
        while net.server.poll_transmit(now + round).is_some() {}
        while net.client.poll_transmit(now + round).is_some() {}
    }
}
