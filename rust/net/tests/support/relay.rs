//! A relay (with its CA) for the P2P and hosted-server tests, and what those tests do with it.

use std::path::PathBuf;
use std::time::Instant;

use steamnet_net::auth::AuthSettings;
use steamnet_net::config::ConfigInput;
use steamnet_net::{ConnectionState, Event, Handle, Sockets, availability, send_flags};
use steamnet_proto::cert::{Authority, to_hex};
use steamnet_relay::authority::{CaService, Registry};

use super::{wait_for, wait_until};

/// A relay (with its CA) on 127.0.0.1, on a runtime of its own so a test can kill it.
pub struct TestRelay {
    runtime: Option<tokio::runtime::Runtime>,
    pub address: std::net::SocketAddr,
    pub secret: [u8; 32],
    dir: PathBuf,
}

impl TestRelay {
    pub fn start(name: &str) -> TestRelay {
        let secret = Authority::generate().secret();
        let dir = std::env::temp_dir().join(format!("steamnet-p2p-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut relay = TestRelay { runtime: None, address: "127.0.0.1:0".parse().unwrap(), secret, dir };
        relay.restart();
        relay
    }

    /// (Re)start the relay at the same address with the same CA key.
    pub fn restart(&mut self) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let service = CaService::new(Authority::from_secret(&self.secret), Registry::default());
        self.address = steamnet_relay::server::spawn(runtime.handle(), self.address, service).unwrap();
        self.runtime = Some(runtime);
    }

    pub fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    /// A game instance pointed at this relay, with a short initial timeout so failures show
    /// quickly.
    pub fn sockets(&self) -> Sockets {
        game(&[self.address], &self.secret, &self.dir, 2000)
    }
}

/// A game whose relay setting lists `relays` (comma-separated, as in the project setting),
/// trusting the CA with secret `secret`, keeping identities in `dir`, with `TIMEOUT_INITIAL`
/// of `timeout_initial_ms`.
pub fn game(
    relays: &[std::net::SocketAddr],
    secret: &[u8; 32],
    dir: &std::path::Path,
    timeout_initial_ms: i64,
) -> Sockets {
    let sockets = Sockets::new();
    let list: Vec<String> = relays.iter().map(ToString::to_string).collect();
    sockets.configure_auth(AuthSettings {
        app_id: Some(480),
        relay: Some(list.join(",")),
        trusted_ca_keys: vec![to_hex(&Authority::from_secret(secret).public_key())],
        identity_dir: Some(dir.to_path_buf()),
    });
    sockets.set_global_config_value(24, &ConfigInput::Int(timeout_initial_ms)).unwrap(); // TIMEOUT_INITIAL
    sockets
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn authenticate(sockets: &Sockets) -> u64 {
    sockets.init_authentication();
    wait_until(|| sockets.authentication_status() == availability::CURRENT);
    sockets.identity_text().trim_start_matches("steamid:").parse().unwrap()
}

/// Wait for `handle` on `sockets` to end; returns (state, reason, debug text, seconds).
pub fn wait_for_end(sockets: &Sockets, handle: Handle) -> (ConnectionState, i32, String, f64) {
    let started = Instant::now();
    wait_for(sockets, |e| match e {
        Event::ConnectionStatusChanged { handle: h, info, .. }
            if *h == handle
                && matches!(info.state, ConnectionState::ProblemDetectedLocally | ConnectionState::ClosedByPeer) =>
        {
            Some((info.state, info.end_reason, info.end_debug.clone(), started.elapsed().as_secs_f64()))
        }
        _ => None,
    })
}

/// Send `payload` reliably from `from` over `sent_on` and check it is the first message
/// `to` receives on `received_on`.
pub fn deliver_one(from: &Sockets, sent_on: Handle, to: &Sockets, received_on: Handle, payload: &[u8]) {
    from.send_message(sent_on, payload, send_flags::RELIABLE).unwrap();
    let mut got = Vec::new();
    wait_until(|| {
        got.extend(to.receive_on_connection(received_on, 4).unwrap());
        !got.is_empty()
    });
    assert_eq!(got[0].payload, payload);
}
