//! One steamnet [`Endpoint`] on one tokio UDP socket: the loop both the CA server and the CA
//! client run. Datagrams and timer ticks go in, what the endpoint has to send goes out.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use steamnet_proto::endpoint::Endpoint;
use tokio::net::UdpSocket;

/// Biggest datagram read; steamnet's stay under the 1300-byte GNS MTU.
const MAX_DATAGRAM: usize = 2048;
/// Longest sleep with no timer armed, so callers regain control now and then.
const IDLE_TURN: Duration = Duration::from_millis(250);

pub(crate) struct Driver {
    pub socket: UdpSocket,
    pub endpoint: Endpoint,
    start: Instant,
    pub(crate) buf: Vec<u8>,
    /// A RELAYED datagram the last turn received, for the caller (`buf[..len]`, from).
    pub(crate) raw: Option<(SocketAddr, usize)>,
}

impl Driver {
    pub fn new(socket: UdpSocket, mut endpoint: Endpoint) -> Driver {
        endpoint.set_unix_time(0, crate::unix_now());
        Driver { socket, endpoint, start: Instant::now(), buf: vec![0; MAX_DATAGRAM], raw: None }
    }

    /// Microseconds since the driver started: the endpoint's clock.
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.socket.local_addr().ok()
    }

    /// Send everything the endpoint has due. A full socket buffer drops the datagram, like
    /// any loss.
    pub async fn flush(&mut self) {
        let now = self.now();
        while let Some((to, datagram)) = self.endpoint.poll_transmit(now) {
            let _ = self.socket.send_to(&datagram, to).await;
        }
    }

    /// Take one more datagram that has already arrived, without waiting: a RELAYED one is left
    /// for the caller (as after `turn`), any other goes to the endpoint. `false` if none was
    /// waiting.
    pub fn try_more(&mut self) -> bool {
        self.raw = None;
        let Ok((len, from)) = self.socket.try_recv_from(&mut self.buf) else { return false };
        self.take(from, len);
        true
    }

    /// The datagram now in `buf[..len]`: a RELAYED one or a PING is kept for the caller, any
    /// other goes to the endpoint.
    fn take(&mut self, from: SocketAddr, len: usize) {
        if matches!(self.buf.first(), Some(&crate::messages::KIND_RELAYED | &crate::messages::KIND_PING)) {
            self.raw = Some((from, len));
        } else {
            let now = self.now();
            self.endpoint.handle_datagram(now, from, &self.buf[..len]);
        }
    }

    /// Wait for a datagram or the endpoint's next deadline, handle what came, and send what
    /// became due.
    pub async fn turn(&mut self) {
        self.turn_or(std::future::pending::<()>()).await;
    }

    /// A turn that also ends when `wake` completes (then its output is returned): for a
    /// caller with news from elsewhere to act on, like the relay's directory answers.
    pub async fn turn_or<T>(&mut self, wake: impl std::future::Future<Output = T>) -> Option<T> {
        self.raw = None;
        let now = self.now();
        let wait = self.endpoint.poll_timeout().map_or(IDLE_TURN, |at| Duration::from_micros(at.saturating_sub(now)));
        let mut woken = None;
        tokio::select! {
            received = self.socket.recv_from(&mut self.buf) => {
                if let Ok((len, from)) = received {
                    self.take(from, len);
                }
            }
            _ = tokio::time::sleep(wait.min(IDLE_TURN)) => {}
            output = wake => woken = Some(output),
        }
        let now = self.now();
        if self.endpoint.poll_timeout().is_some_and(|at| at <= now) {
            self.endpoint.handle_timeout(now);
        }
        self.flush().await;
        woken
    }
}
