//! Identities and certificates end to end over loopback UDP: a CA, processes-worth of
//! `Sockets` authenticating against it, and connections that show (or refuse) who is there.

mod support;

use std::path::PathBuf;

use steamnet_net::auth::AuthSettings;
use steamnet_net::config::ConfigInput;
use steamnet_net::{ConnectionState, Event, Handle, Sockets, availability, parse_ip_port, send_flags};
use steamnet_proto::cert::{Authority, to_hex};
use steamnet_relay::authority::{CaService, Registry};
use support::{accept_across, wait_for, wait_until};

/// A CA on 127.0.0.1 for one test, on its own runtime.
struct TestCa {
    _runtime: tokio::runtime::Runtime,
    address: std::net::SocketAddr,
    public: [u8; 32],
    dir: PathBuf,
}

impl TestCa {
    fn start(name: &str) -> TestCa {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let service = CaService::new(Authority::generate(), Registry::default());
        let public = service.authority.public_key();
        let address = steamnet_relay::server::spawn(runtime.handle(), "127.0.0.1:0".parse().unwrap(), service).unwrap();
        let dir = std::env::temp_dir().join(format!("steamnet-auth-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TestCa { _runtime: runtime, address, public, dir }
    }

    /// Settings a game would have for this CA: its address, its key, a shared identity dir
    /// (like two instances of one project on one machine).
    fn settings(&self) -> AuthSettings {
        AuthSettings {
            app_id: Some(480),
            relay: Some(self.address.to_string()),
            trusted_ca_keys: vec![to_hex(&self.public)],
            identity_dir: Some(self.dir.join("identity")),
        }
    }

    fn sockets(&self) -> Sockets {
        let sockets = Sockets::new();
        sockets.configure_auth(self.settings());
        sockets
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `initAuthentication` and wait for CURRENT; returns the identity it reports.
fn authenticate(sockets: &Sockets) -> u64 {
    assert_eq!(sockets.authentication_status(), availability::NEVER_TRIED);
    assert_eq!(sockets.init_authentication(), availability::ATTEMPTING);
    let message = wait_for(sockets, |e| match e {
        Event::AuthenticationStatus { availability: availability::CURRENT, debug_message } => {
            Some(debug_message.clone())
        }
        Event::AuthenticationStatus { availability: availability::FAILED, debug_message } => {
            panic!("authentication failed: {debug_message}")
        }
        _ => None,
    });
    let text = sockets.identity_text();
    assert!(message.contains(&text), "{message:?} names {text}");
    text.strip_prefix("steamid:").unwrap().parse().unwrap()
}

fn listen(sockets: &Sockets, options: &[(i64, ConfigInput)]) -> (Handle, String) {
    let listen = sockets.create_listen_socket_ip(parse_ip_port("127.0.0.1:0"), options);
    assert_ne!(listen, 0);
    (listen, sockets.listen_socket_address(listen, true).unwrap())
}

#[test]
fn two_authenticated_peers_see_each_others_verified_identity() {
    let ca = TestCa::start("pair");
    let (server, client) = (ca.sockets(), ca.sockets());
    let server_id = authenticate(&server);
    let client_id = authenticate(&client);
    assert_ne!(server_id, client_id, "two instances on one machine get two identities");
    assert!(steamnet_proto::cert::is_individual_account(server_id));

    let (listen_handle, address) = listen(&server, &[]);
    let c = client.connect_by_ip_address(parse_ip_port(&address), &[]);
    let s = accept_across(&server, listen_handle, &client, c);
    assert_eq!(server.connection_info(s).unwrap().identity, client_id);
    assert_eq!(client.connection_info(c).unwrap().identity, server_id);
    assert_eq!(server.connection_info(s).unwrap().info_flags & 1, 0, "not flagged unauthenticated");

    client.send_message(c, b"hello", send_flags::RELIABLE).unwrap();
    let mut got = Vec::new();
    wait_until(|| {
        got.extend(server.receive_on_connection(s, 8).unwrap());
        !got.is_empty()
    });
    assert_eq!(got[0].identity, client_id, "messages carry the sender's verified identity");

    // A second run of the same installation (slot) keeps its identity, from the saved
    // certificate, without asking the CA.
    drop(client);
    let again = ca.sockets();
    assert_eq!(again.init_authentication(), availability::CURRENT);
    assert_eq!(again.identity_text(), format!("steamid:{client_id}"));
}

#[test]
fn anonymous_peers_are_identity_zero_or_refused_with_remote_bad_cert() {
    let ca = TestCa::start("anon");
    let server = ca.sockets();
    authenticate(&server);
    // Anonymous (no certificate), trusting the same CA.
    let anonymous = ca.sockets();

    // Default (GNS open source: 2): anonymous peers allowed, identity 0, flagged unauthenticated.
    let (open_listen, open_address) = listen(&server, &[]);
    let c = anonymous.connect_by_ip_address(parse_ip_port(&open_address), &[]);
    let s = accept_across(&server, open_listen, &anonymous, c);
    let info = server.connection_info(s).unwrap();
    assert_eq!((info.identity, info.info_flags & 1), (0, 1));

    // IP_ALLOW_WITHOUT_AUTH = 0 and its localhost twin = 0: refused before the game hears of it.
    let strict = [(23, ConfigInput::Int(0)), (52, ConfigInput::Int(0))];
    let (strict_listen, strict_address) = listen(&server, &strict);
    let c = anonymous.connect_by_ip_address(parse_ip_port(&strict_address), &[]);
    let (reason, text) = wait_for(&anonymous, |e| match e {
        Event::ConnectionStatusChanged { handle, info, .. }
            if *handle == c && info.state == ConnectionState::ClosedByPeer =>
        {
            Some((info.end_reason, info.end_debug.clone()))
        }
        _ => None,
    });
    assert_eq!(reason, 4003, "k_ESteamNetConnectionEnd_Remote_BadCert");
    assert!(text.contains("Unsigned certs are not allowed"), "{text}");
    assert!(server.drain_events().iter().all(|e| !matches!(e,
        Event::ConnectionStatusChanged { info, .. } if info.listen_socket == strict_listen)));

    // An authenticated client gets in where the anonymous one did not.
    let member = ca.sockets();
    let member_id = authenticate(&member);
    let c = member.connect_by_ip_address(parse_ip_port(&strict_address), &[]);
    let s = accept_across(&server, strict_listen, &member, c);
    assert_eq!(server.connection_info(s).unwrap().identity, member_id);
}

#[test]
fn offline_certificates_via_request_and_set_certificate() {
    let ca = TestCa::start("offline");
    let mut signer = CaService::new(Authority::generate(), Registry::default());
    let mut settings = ca.settings();
    settings.trusted_ca_keys = vec![to_hex(&signer.authority.public_key())];
    let sockets = Sockets::new();
    sockets.configure_auth(settings);
    assert_eq!(sockets.identity_text(), "", "no identity before one is known");
    let request = sockets.certificate_request().unwrap();
    let cert = signer.sign_request(&request, steamnet_relay::unix_now()).unwrap();
    // Someone else's certificate, or garbage, is refused with a reason.
    let other = signer.issue(&[9; 32], 480, steamnet_relay::unix_now()).unwrap();
    assert!(sockets.set_certificate(&other.encode()).unwrap_err().contains("different key"));
    assert!(sockets.set_certificate(b"nope").is_err());
    let untrusted = CaService::new(Authority::generate(), Registry::default())
        .sign_request(&request, steamnet_relay::unix_now())
        .unwrap();
    assert!(sockets.set_certificate(&untrusted.encode()).unwrap_err().contains("not trusted"));
    sockets.set_certificate(&cert.encode()).unwrap();
    assert_eq!(sockets.identity_text(), format!("steamid:{}", cert.identity));
    assert_eq!(sockets.authentication_status(), availability::CURRENT);
    assert!(
        sockets
            .drain_events()
            .iter()
            .any(|e| matches!(e, Event::AuthenticationStatus { availability: availability::CURRENT, .. }))
    );

    // resetIdentity drops the certificate, as documented.
    sockets.reset_identity(steamnet_net::Identity::SteamId(5));
    assert_eq!(sockets.authentication_status(), availability::NEVER_TRIED);
    assert_eq!(sockets.identity_text(), "steamid:5");
}

#[test]
fn an_unreachable_ca_fails_with_advice() {
    let ca = TestCa::start("unreachable");
    let silent = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
    let mut settings = ca.settings();
    // Not on 127.0.0.1's port: nothing of ours will host a CA on a port somebody holds.
    settings.relay = Some(silent.local_addr().unwrap().to_string());
    let sockets = Sockets::new();
    sockets.configure_auth(settings);
    // The CA gets TIMEOUT_INITIAL to answer, as a connection does.
    sockets.set_global_config_value(24, &ConfigInput::Int(1000)).unwrap();
    assert_eq!(sockets.init_authentication(), availability::ATTEMPTING);
    let message = wait_for(&sockets, |e| match e {
        Event::AuthenticationStatus { availability: availability::FAILED, debug_message } => {
            Some(debug_message.clone())
        }
        _ => None,
    });
    assert!(message.contains("STEAMNET_RELAY"), "{message}");
    assert_eq!(sockets.identity_text(), "");
}
