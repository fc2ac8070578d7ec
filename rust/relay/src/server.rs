//! The CA on a UDP socket. Clients connect with an ordinary steamnet handshake (cookies and
//! admission limits keep floods from costing state), send one REQUEST, get one answer, and
//! the connection is closed. A connection that says anything else, or nothing for
//! [`REQUEST_DEADLINE_USEC`], is closed too, so no client holds anything for long.

use std::collections::HashMap;
use std::net::SocketAddr;

use steamnet_proto::admission::AdmissionLimits;
use steamnet_proto::endpoint::{ConnectionId, Endpoint, EndpointConfig, EndpointEvent, generate_static_keypair};
use steamnet_proto::session::flags;
use tokio::net::UdpSocket;

use crate::authority::CaService;
use crate::driver::Driver;
use crate::messages::CaMessage;

/// Time a connected client has to send its request.
pub const REQUEST_DEADLINE_USEC: u64 = 5_000_000;
/// `k_ESteamNetConnectionEnd_App_Generic`-range reasons the CA closes with.
const CLOSE_DONE: u32 = 1000;
const CLOSE_BAD_REQUEST: u32 = 1001;
const CLOSE_TOO_SLOW: u32 = 1002;

/// Counters, for tests and logs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CaStats {
    pub issued: u64,
    pub refused: u64,
    pub malformed: u64,
}

pub struct CaServer {
    driver: Driver,
    service: CaService,
    /// Live connections and when each was accepted.
    open: HashMap<ConnectionId, u64>,
    /// Connections closed by us, removed once their last datagrams are out.
    closing: Vec<ConnectionId>,
    pub stats: CaStats,
}

/// Admission for a CA: clients stay for one exchange, so a few per address suffice.
fn admission() -> AdmissionLimits {
    AdmissionLimits { max_connections: 16_384, max_connections_per_ip: 64, ..AdmissionLimits::default() }
}

impl CaServer {
    /// Bind `address` now (so "address in use" is known at once). Call from within a tokio
    /// runtime.
    pub fn bind(address: SocketAddr, service: CaService) -> std::io::Result<CaServer> {
        CaServer::on_socket(std::net::UdpSocket::bind(address)?, service)
    }

    /// Serve on a socket bound already. Call from within a tokio runtime.
    pub fn on_socket(socket: std::net::UdpSocket, service: CaService) -> std::io::Result<CaServer> {
        socket.set_nonblocking(true)?;
        let socket = UdpSocket::from_std(socket)?;
        let config = EndpointConfig { accept_incoming: true, admission: admission(), ..EndpointConfig::default() };
        let endpoint = Endpoint::new(config, generate_static_keypair().0);
        Ok(CaServer {
            driver: Driver::new(socket, endpoint),
            service,
            open: HashMap::new(),
            closing: Vec::new(),
            stats: CaStats::default(),
        })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.driver.local_addr()
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.service.authority.public_key()
    }

    /// Connections held right now (any phase), for tests of flood behaviour.
    pub fn connection_count(&self) -> usize {
        self.driver.endpoint.connection_count()
    }

    /// Serve forever.
    pub async fn run(mut self) {
        loop {
            self.step().await;
        }
    }

    /// One turn of the loop: wait for input or a timer, then answer what came.
    pub async fn step(&mut self) {
        self.driver.turn().await;
        self.serve();
        self.driver.flush().await;
    }

    fn serve(&mut self) {
        let now = self.driver.now();
        let endpoint = &mut self.driver.endpoint;
        while let Some(event) = endpoint.poll_event() {
            match event {
                EndpointEvent::Incoming { id, .. } => {
                    endpoint.accept(now, id);
                    self.open.insert(id, now);
                }
                EndpointEvent::ClosedByPeer { id, .. }
                | EndpointEvent::ProblemDetected { id, .. }
                | EndpointEvent::Refused { id, .. } => {
                    self.open.remove(&id);
                    self.closing.push(id);
                }
                EndpointEvent::Connected { .. } | EndpointEvent::PathChanged { .. } => {}
            }
        }
        for id in endpoint.take_touched() {
            let Some(message) = endpoint.poll_message(id) else { continue };
            if self.open.remove(&id).is_none() {
                continue;
            }
            let (answer, reason) = match (CaMessage::decode(&message.data), endpoint.remote_key(id)) {
                (Some(CaMessage::Request { app_id }), Some(key)) => {
                    match self.service.issue(&key, app_id, crate::unix_now()) {
                        Ok(cert) => {
                            self.stats.issued += 1;
                            tracing::info!(identity = cert.identity, app_id, "certificate issued");
                            (CaMessage::Certificate(cert.encode()), CLOSE_DONE)
                        }
                        Err(why) => {
                            self.stats.refused += 1;
                            (CaMessage::Error(why), CLOSE_DONE)
                        }
                    }
                }
                _ => {
                    self.stats.malformed += 1;
                    (CaMessage::Error("malformed request".into()), CLOSE_BAD_REQUEST)
                }
            };
            if let Some(session) = endpoint.session_mut(id) {
                let _ = session.send_message(now, 0, &answer.encode(), flags::RELIABLE | flags::NO_NAGLE);
            }
            endpoint.close(id, reason, "", true);
            self.closing.push(id);
        }
        let slow: Vec<ConnectionId> =
            self.open.iter().filter(|(_, at)| now >= **at + REQUEST_DEADLINE_USEC).map(|(id, _)| *id).collect();
        for id in slow {
            self.open.remove(&id);
            endpoint.close(id, CLOSE_TOO_SLOW, "no request in time", false);
            self.closing.push(id);
        }
        self.closing.retain(|&id| {
            if endpoint.is_finished(id) {
                endpoint.remove(id);
                false
            } else {
                true
            }
        });
    }
}

/// Bind a CA at `address` and serve it on `runtime`. Returns the bound address.
pub fn spawn(runtime: &tokio::runtime::Handle, address: SocketAddr, service: CaService) -> std::io::Result<SocketAddr> {
    spawn_on(runtime, std::net::UdpSocket::bind(address)?, service)
}

/// Serve a CA on `socket` (bound already) on `runtime`. Returns its address.
pub fn spawn_on(
    runtime: &tokio::runtime::Handle,
    socket: std::net::UdpSocket,
    service: CaService,
) -> std::io::Result<SocketAddr> {
    let address = socket.local_addr()?;
    let _guard = runtime.enter();
    let server = CaServer::on_socket(socket, service)?;
    let bound = server.local_addr().unwrap_or(address);
    runtime.spawn(server.run());
    Ok(bound)
}
