//! Asking a CA for a certificate over a steamnet connection.

use std::net::SocketAddr;
use std::time::Duration;

use steamnet_proto::cert::{Certificate, Trust};
use steamnet_proto::endpoint::{Endpoint, EndpointConfig, EndpointEvent};
use steamnet_proto::session::flags;
use tokio::net::UdpSocket;

use crate::driver::Driver;
use crate::messages::CaMessage;

/// Connect to the CA at `ca` with Noise static key `static_key` (the key to certify), ask for
/// a certificate for app `app_id`, and return it decoded. The caller checks it against the CA
/// keys it trusts. Errors are sentences for a game developer.
pub async fn request_certificate(
    ca: SocketAddr,
    static_key: Vec<u8>,
    app_id: u32,
    timeout: Duration,
) -> Result<Certificate, String> {
    let bind = steamnet_proto::address::any_local_for(ca);
    let socket = UdpSocket::bind(bind).await.map_err(|e| format!("cannot open a UDP socket: {e}"))?;
    let config = EndpointConfig { handshake_timeout_usec: timeout.as_micros() as u64, ..EndpointConfig::default() };
    let mut endpoint = Endpoint::new(config, static_key.clone());
    endpoint.set_credentials(static_key, Vec::new(), Trust::default());
    let mut driver = Driver::new(socket, endpoint);
    let id = driver.endpoint.connect(driver.now(), ca);
    driver.flush().await;
    let exchange = async {
        loop {
            driver.turn().await;
            let now = driver.now();
            while let Some(event) = driver.endpoint.poll_event() {
                match event {
                    EndpointEvent::Connected { .. } => {
                        let request = CaMessage::Request { app_id }.encode();
                        if let Some(session) = driver.endpoint.session_mut(id) {
                            let _ = session.send_message(now, 0, &request, flags::RELIABLE | flags::NO_NAGLE);
                        }
                    }
                    EndpointEvent::ClosedByPeer { text, .. } => {
                        return Err(format!("the CA at {ca} closed the connection ({text})"));
                    }
                    EndpointEvent::ProblemDetected { .. } => {
                        return Err(format!("no answer from a CA at {ca}"));
                    }
                    EndpointEvent::Refused { text, .. } => return Err(format!("refused the CA at {ca}: {text}")),
                    EndpointEvent::Incoming { .. }
                    | EndpointEvent::PathChanged { .. }
                    | EndpointEvent::Candidates { .. }
                    | EndpointEvent::PathValidated { .. } => {}
                }
            }
            if let Some(message) = driver.endpoint.poll_message(id) {
                return match CaMessage::decode(&message.data) {
                    Some(CaMessage::Certificate(bytes)) => Certificate::decode(&bytes),
                    Some(CaMessage::Error(why)) => Err(format!("the CA at {ca} refused: {why}")),
                    _ => Err(format!("the CA at {ca} sent something that is not a certificate")),
                };
            }
            driver.flush().await;
        }
    };
    let result = tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| Err(format!("no answer from a CA at {ca} within {} s", timeout.as_secs_f32())));
    // Tell the CA we are done, so it frees the connection at once.
    driver.endpoint.close(id, 1000, "", false);
    driver.flush().await;
    result
}
