//! A relay on loopback and a hand-driven client of it, for tests that speak the relay
//! protocol directly (what a hostile or buggy client could send).

#![allow(dead_code)] // each test binary uses its own subset

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use steamnet_proto::cert::{Authority, Trust};
use steamnet_proto::endpoint::{ConnectionId, Endpoint, EndpointConfig, EndpointEvent, generate_static_keypair};
use steamnet_proto::session::flags;
use steamnet_relay::authority::{CaService, Registry};
use steamnet_relay::messages::{RelayMessage, parse_relayed_to_client};
use steamnet_relay::server::RelayServer;

/// A relay serving on 127.0.0.1 on a runtime of its own: (runtime, address, its CA).
pub fn start_relay() -> (tokio::runtime::Runtime, SocketAddr, Authority) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let ca = Authority::generate();
    let service = CaService::new(Authority::from_secret(&ca.secret()), Registry::default());
    let relay = {
        let _guard = runtime.enter();
        let server = RelayServer::bind("127.0.0.1:0".parse().unwrap(), service).unwrap();
        let relay = server.local_addr().unwrap();
        runtime.spawn(server.run());
        relay
    };
    (runtime, relay, ca)
}

/// A POP `code` of the cluster whose directory is at `url`, with CA `ca` (every POP shares it),
/// on a runtime of its own (drop it to kill the POP): (runtime, address).
pub fn start_pop(url: &str, code: &str, ca: &Authority) -> (tokio::runtime::Runtime, SocketAddr) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let service = CaService::new(Authority::from_secret(&ca.secret()), Registry::default());
    let relay = runtime.block_on(async {
        let mut server = RelayServer::bind("127.0.0.1:0".parse().unwrap(), service).unwrap();
        let relay = server.local_addr().unwrap();
        server.join_cluster(url, code, relay).await.unwrap();
        tokio::spawn(server.run());
        relay
    });
    (runtime, relay)
}

/// Pump `clients` until `done` holds; fail after 5 s.
pub fn until(clients: &mut [&mut Client], done: &dyn Fn(&[&mut Client]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done(clients) {
        assert!(Instant::now() < deadline, "timed out");
        for c in clients.iter_mut() {
            c.pump();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

pub struct Client {
    pub socket: UdpSocket,
    pub endpoint: Endpoint,
    pub conn: ConnectionId,
    pub identity: u64,
    start: Instant,
    pub token: Option<u64>,
    pub incoming_route: Option<u32>,
    pub relayed: Vec<Vec<u8>>,
    /// Every message the relay sent on the session, as received.
    pub messages: Vec<Vec<u8>>,
    /// The relay closed our session, saying this.
    pub closed: Option<String>,
}

impl Client {
    pub fn new(relay: SocketAddr, ca: &Authority) -> Client {
        Client::bound(relay, ca, "127.0.0.1:0".parse().unwrap())
    }

    /// A client on its own socket bound to `bind` (another loopback address, for many clients
    /// without meeting the relay's per-address limit).
    pub fn bound(relay: SocketAddr, ca: &Authority, bind: SocketAddr) -> Client {
        let socket = UdpSocket::bind(bind).unwrap();
        socket.set_nonblocking(true).unwrap();
        let (private, public) = generate_static_keypair();
        let key: [u8; 32] = public.try_into().unwrap();
        let identity = ca.identity_for(&key, 0);
        let cert = ca.issue(identity, 480, key, steamnet_relay::unix_now(), 3600).encode();
        let mut endpoint = Endpoint::new(EndpointConfig::default(), private.clone());
        endpoint.set_credentials(private, cert, Trust { app_id: 480, cas: vec![ca.public_key()] });
        endpoint.set_unix_time(0, steamnet_relay::unix_now());
        let conn = endpoint.connect(0, relay);
        Client {
            socket,
            endpoint,
            conn,
            identity,
            start: Instant::now(),
            token: None,
            incoming_route: None,
            relayed: vec![],
            messages: vec![],
            closed: None,
        }
    }

    pub fn pump(&mut self) {
        let now = self.start.elapsed().as_micros() as u64;
        let mut buf = [0u8; 2048];
        while let Ok((len, from)) = self.socket.recv_from(&mut buf) {
            match parse_relayed_to_client(&buf[..len]) {
                Some((_, d)) => self.relayed.push(d.to_vec()),
                None => self.endpoint.handle_datagram(now, from, &buf[..len]),
            }
        }
        if self.endpoint.poll_timeout().is_some_and(|t| t <= now) {
            self.endpoint.handle_timeout(now);
        }
        while let Some((to, d)) = self.endpoint.poll_transmit(now) {
            let _ = self.socket.send_to(&d, to);
        }
        while let Some(m) = self.endpoint.poll_message(self.conn) {
            match RelayMessage::decode(&m.data) {
                Some(RelayMessage::Token { token }) => self.token = Some(token),
                Some(RelayMessage::Incoming { route, .. }) => self.incoming_route = Some(route),
                _ => {}
            }
            self.messages.push(m.data.to_vec());
        }
        while let Some(event) = self.endpoint.poll_event() {
            if let EndpointEvent::ClosedByPeer { text, .. } = event {
                self.closed = Some(text);
            }
        }
    }

    /// Why the relay closed our session, if it did.
    pub fn closed_by_relay(&self) -> Option<&str> {
        self.closed.as_deref()
    }

    pub fn connected(&self) -> bool {
        self.endpoint.session(self.conn).is_some_and(|s| s.is_connected())
    }

    pub fn send(&mut self, message: RelayMessage) {
        let now = self.start.elapsed().as_micros() as u64;
        if let Some(s) = self.endpoint.session_mut(self.conn) {
            let _ = s.send_message(now, 0, &message.encode(), flags::RELIABLE | flags::NO_NAGLE);
        }
    }
}
