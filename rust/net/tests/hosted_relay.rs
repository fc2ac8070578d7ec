//! The relay a process hosts for its machine (no STEAMNET_RELAY, a loopback address): it comes
//! up whenever P2P needs it, even when authentication did not (a saved certificate).
//! One test in its own binary: it points XDG_DATA_HOME (the local CA's home) at a scratch
//! folder before anything else runs.

mod support;

use steamnet_net::auth::AuthSettings;
use steamnet_net::{Event, Sockets, availability};
use support::{wait_for, wait_until};

#[test]
fn a_saved_certificate_still_brings_up_the_local_relay_for_p2p() {
    let dir = std::env::temp_dir().join(format!("steamnet-hosted-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // SAFETY: the only test in this binary, before any thread that reads the environment.
    unsafe { std::env::set_var("XDG_DATA_HOME", dir.join("data")) };
    let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let settings = AuthSettings {
        app_id: Some(480),
        relay: Some(format!("127.0.0.1:{port}")),
        trusted_ca_keys: Vec::new(), // this machine's local CA
        identity_dir: Some(dir.join("identity")),
    };
    // First run: authentication hosts the CA (and relay) and saves the certificate.
    let first = Sockets::new();
    first.configure_auth(settings.clone());
    first.init_authentication();
    wait_until(|| first.authentication_status() == availability::CURRENT);
    drop(first); // its process-local relay goes with it
    // Second run, same identity slot: the saved certificate needs no CA...
    let second = Sockets::new();
    second.configure_auth(settings);
    assert_eq!(second.init_authentication(), availability::CURRENT, "the saved certificate");
    // ...but P2P needs the relay, so it is hosted now.
    assert_ne!(second.create_listen_socket_p2p(0, &[]), 0);
    wait_for(&second, |e| match e {
        Event::RelayNetworkStatus(s) if s.available == availability::CURRENT => Some(()),
        Event::RelayNetworkStatus(s) if s.available == availability::FAILED => panic!("{s:?}"),
        _ => None,
    });
    let _ = std::fs::remove_dir_all(&dir);
}
