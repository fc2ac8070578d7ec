//! RELAYED datagrams (beside the session): forwarded along a route only with the session's
//! token and from the session's address; anything else is dropped and never answered.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use steamnet_proto::cert::{Authority, Trust};
use steamnet_proto::endpoint::{ConnectionId, Endpoint, EndpointConfig, generate_static_keypair};
use steamnet_proto::session::flags;
use steamnet_relay::authority::{CaService, Registry};
use steamnet_relay::messages::{RelayMessage, parse_relayed_to_client, relayed_from_client};
use steamnet_relay::server::RelayServer;

struct Client {
    socket: UdpSocket,
    endpoint: Endpoint,
    conn: ConnectionId,
    identity: u64,
    start: Instant,
    token: Option<u64>,
    incoming_route: Option<u32>,
    relayed: Vec<Vec<u8>>,
}

impl Client {
    fn new(relay: SocketAddr, ca: &Authority) -> Client {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
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
        }
    }

    fn pump(&mut self) {
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
        }
    }

    fn send(&mut self, message: RelayMessage) {
        let now = self.start.elapsed().as_micros() as u64;
        if let Some(s) = self.endpoint.session_mut(self.conn) {
            let _ = s.send_message(now, 0, &message.encode(), flags::RELIABLE | flags::NO_NAGLE);
        }
    }
}

#[test]
fn relayed_datagrams_need_the_token_and_the_sessions_address() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let ca = Authority::generate();
    let service = CaService::new(Authority::from_secret(&ca.secret()), Registry::default());
    let _guard = runtime.enter();
    let server = RelayServer::bind("127.0.0.1:0".parse().unwrap(), service).unwrap();
    let relay = server.local_addr().unwrap();
    runtime.spawn(server.run());
    let (mut a, mut b) = (Client::new(relay, &ca), Client::new(relay, &ca));
    let until = |clients: &mut [&mut Client], done: &dyn Fn(&[&mut Client]) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done(clients) {
            assert!(Instant::now() < deadline, "timed out");
            for c in clients.iter_mut() {
                c.pump();
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    // Both become sessions (they get their tokens); b listens, a calls b on route 1.
    let connected = |c: &Client| c.endpoint.session(c.conn).is_some_and(|s| s.is_connected());
    until(&mut [&mut a, &mut b], &|c| connected(c[0]) && connected(c[1]));
    a.send(RelayMessage::Listen { vport: 9 });
    b.send(RelayMessage::Listen { vport: 9 });
    until(&mut [&mut a, &mut b], &|c| c[0].token.is_some() && c[1].token.is_some());
    a.send(RelayMessage::Connect { route: 1, target: b.identity, vport: 9 });
    until(&mut [&mut a, &mut b], &|c| c[1].incoming_route.is_some());
    let token = a.token.unwrap();
    // The genuine datagram gets through.
    a.socket.send_to(&relayed_from_client(token, 1, b"genuine"), relay).unwrap();
    until(&mut [&mut a, &mut b], &|c| !c[1].relayed.is_empty());
    assert_eq!(b.relayed.remove(0), b"genuine");
    // A wrong token, a route the session does not have, or the right token from another
    // address: dropped, and nothing comes back to the sender.
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    stranger.set_nonblocking(true).unwrap();
    a.socket.send_to(&relayed_from_client(token ^ 1, 1, b"wrong token"), relay).unwrap();
    a.socket.send_to(&relayed_from_client(token, 2, b"wrong route"), relay).unwrap();
    stranger.send_to(&relayed_from_client(token, 1, b"stolen token"), relay).unwrap();
    stranger.send_to(&[9, 1, 2], relay).unwrap();
    // A marker after them, from a: once it arrives, the others were handled before it.
    a.socket.send_to(&relayed_from_client(token, 1, b"marker"), relay).unwrap();
    until(&mut [&mut a, &mut b], &|c| !c[1].relayed.is_empty());
    assert_eq!(b.relayed, vec![b"marker".to_vec()], "only the marker came through");
    assert!(stranger.recv(&mut [0u8; 64]).is_err(), "nothing is sent to an unknown address");
}
