//! The CA over loopback UDP: certificates for real handshakes, and what it does with clients
//! that misbehave.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use steamnet_proto::cert::{Authority, Trust};
use steamnet_proto::endpoint::{Endpoint, EndpointConfig, EndpointEvent, generate_static_keypair};
use steamnet_proto::session::flags;
use steamnet_relay::authority::{CaService, Registry};
use steamnet_relay::client::request_certificate;
use steamnet_relay::server::RelayServer;

const LOCAL: &str = "127.0.0.1:0";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// A CA on 127.0.0.1 serving in the background; returns its address and public key.
fn start_ca(rt: &tokio::runtime::Runtime) -> (SocketAddr, [u8; 32]) {
    let service = CaService::new(Authority::generate(), Registry::default());
    let public = service.authority.public_key();
    let address = steamnet_relay::server::spawn(rt.handle(), LOCAL.parse().unwrap(), service).unwrap();
    (address, public)
}

#[test]
fn a_client_gets_a_certificate_for_its_own_key_and_the_same_identity_again() {
    let rt = runtime();
    let (ca, ca_key) = start_ca(&rt);
    let (private, public) = generate_static_keypair();
    let cert = rt.block_on(request_certificate(ca, private.clone(), 480, Duration::from_secs(5))).unwrap();
    let trust = Trust { app_id: 480, cas: vec![ca_key] };
    let id = cert.check(&trust, &public, steamnet_relay::unix_now()).expect("valid for our key");
    let again = rt.block_on(request_certificate(ca, private, 480, Duration::from_secs(5))).unwrap();
    assert_eq!(again.identity, id, "stable for the same key");
    let (other, _) = generate_static_keypair();
    let other_cert = rt.block_on(request_certificate(ca, other, 480, Duration::from_secs(5))).unwrap();
    assert_ne!(other_cert.identity, id, "two installations, two identities");
}

#[test]
fn no_ca_there_is_a_clear_error_in_time() {
    let rt = runtime();
    let silent = UdpSocket::bind(LOCAL).unwrap();
    let started = Instant::now();
    let err = rt
        .block_on(request_certificate(
            silent.local_addr().unwrap(),
            generate_static_keypair().0,
            480,
            Duration::from_secs(1),
        ))
        .unwrap_err();
    assert!(err.contains("no answer from a CA"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// A client that completes the handshake, then sends `payload` (or nothing) and reports how
/// the CA ended the connection: (reason, seconds it took).
fn misbehave(ca: SocketAddr, payload: Option<&[u8]>) -> (u32, f64) {
    let socket = UdpSocket::bind(LOCAL).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let mut endpoint = Endpoint::new(EndpointConfig::default(), generate_static_keypair().0);
    let start = Instant::now();
    let now = || start.elapsed().as_micros() as u64;
    let id = endpoint.connect(now(), ca);
    let mut buf = [0u8; 2048];
    while start.elapsed() < Duration::from_secs(10) {
        while let Some((to, d)) = endpoint.poll_transmit(now()) {
            socket.send_to(&d, to).unwrap();
        }
        if let Ok((len, from)) = socket.recv_from(&mut buf) {
            endpoint.handle_datagram(now(), from, &buf[..len]);
        }
        endpoint.handle_timeout(now());
        while let Some(event) = endpoint.poll_event() {
            match event {
                EndpointEvent::Connected { .. } => {
                    if let (Some(p), Some(session)) = (payload, endpoint.session_mut(id)) {
                        session.send_message(now(), 0, p, flags::RELIABLE | flags::NO_NAGLE).unwrap();
                    }
                }
                EndpointEvent::ClosedByPeer { reason, .. } => return (reason, start.elapsed().as_secs_f64()),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    panic!("the CA never closed the connection");
}

#[test]
fn malformed_and_silent_clients_are_closed_and_forgotten() {
    let rt = runtime();
    let service = CaService::new(Authority::generate(), Registry::default());
    let _guard = rt.enter();
    let mut server = RelayServer::bind(LOCAL.parse().unwrap(), service).unwrap();
    let ca = server.local_addr().unwrap();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = rt.spawn(async move {
        loop {
            tokio::select! {
                _ = server.step() => {}
                _ = &mut stopped => return server,
            }
        }
    });
    let (reason, _) = misbehave(ca, Some(b"\x01 not a request at all"));
    assert_eq!(reason, 1001, "malformed request");
    let (reason, _) = misbehave(ca, Some(&[9; 600]));
    assert_eq!(reason, 1001, "unknown message");
    let (reason, secs) = misbehave(ca, None);
    assert_eq!(reason, 1002, "silent client");
    assert!(secs >= 4.5, "given its time ({secs} s)");
    // A closed connection answers stray packets with CLOSE for 2 s, then goes.
    std::thread::sleep(Duration::from_millis(2_500));
    stop.send(()).unwrap();
    let server = rt.block_on(serving).unwrap();
    assert_eq!(server.stats.malformed, 2);
    assert_eq!(server.stats.issued, 0);
    assert_eq!(server.connection_count(), 0, "nothing kept for clients that are gone");
}

#[test]
fn a_flood_of_handshake_requests_costs_the_ca_no_state() {
    let rt = runtime();
    let service = CaService::new(Authority::generate(), Registry::default());
    let _guard = rt.enter();
    let mut server = RelayServer::bind(LOCAL.parse().unwrap(), service).unwrap();
    let ca = server.local_addr().unwrap();
    let flooder = UdpSocket::bind(LOCAL).unwrap();
    // REQUESTs (kind 1, version, client id, padding) from an address that never answers its
    // CHALLENGEs, plus random junk of every size.
    for i in 0..5_000u32 {
        let mut request = vec![1u8, steamnet_proto::endpoint::PROTOCOL_VERSION];
        request.extend_from_slice(&(i + 1).to_be_bytes());
        request.resize(128, 0);
        flooder.send_to(&request, ca).unwrap();
        flooder.send_to(&vec![(i % 9) as u8; (i % 700) as usize], ca).unwrap();
    }
    rt.block_on(async {
        let until = tokio::time::Instant::now() + Duration::from_millis(500);
        while tokio::time::Instant::now() < until {
            tokio::select! {
                _ = server.step() => {}
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    });
    assert_eq!(server.connection_count(), 0, "unproven addresses get CHALLENGEs, never state");
    // Never an amplifier: what an unproven address gets back is smaller than what it sent.
    flooder.set_nonblocking(true).unwrap();
    let (mut answers, mut buf) = (0, [0u8; 2048]);
    while let Ok(len) = flooder.recv(&mut buf) {
        assert!(len < 128, "an answer of {len} bytes to a 128-byte REQUEST");
        answers += 1;
    }
    assert!(answers > 0, "the flood was answered (with CHALLENGEs)");
    // And the CA still serves an honest client at once.
    let (private, _) = generate_static_keypair();
    let honest = rt.spawn(request_certificate(ca, private, 480, Duration::from_secs(5)));
    let cert = rt.block_on(async {
        tokio::select! {
            cert = honest => cert.unwrap(),
            _ = async { loop { server.step().await } } => unreachable!(),
        }
    });
    assert!(cert.is_ok(), "{cert:?}");
}
