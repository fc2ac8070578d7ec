//! When the driver task looks at its socket. It waits for readiness to read, and for nothing
//! else: sends go through the endpoint's own handle ([`UdpIo`](super::io::UdpIo)) on whichever
//! thread sends. And it stops waiting while the application reads the socket itself: every
//! datagram that arrives for a socket someone waits on wakes that thread, on the other core,
//! from inside the sender's system call, which was a tenth of a loopback round trip's profile
//! (with write interest too, as tokio's `UdpSocket` registers, each datagram sent cost another).

use std::io;

/// The driver's handle on an endpoint's socket, registered with the runtime's reactor while
/// the driver watches it and taken out of it while the application reads for itself.
pub(super) enum DriverSocket {
    Watched(Watched),
    Unwatched(std::net::UdpSocket),
    /// Only while changing between the two (or after a registration failed).
    Gone,
}

#[cfg(unix)]
type Watched = tokio::io::unix::AsyncFd<std::net::UdpSocket>;
#[cfg(not(unix))]
type Watched = tokio::net::UdpSocket;

/// Proof that the socket was seen readable; reading through it clears the readiness once the
/// socket is empty.
#[cfg(unix)]
pub(super) type Readable<'a> = tokio::io::unix::AsyncFdReadyGuard<'a, std::net::UdpSocket>;
#[cfg(not(unix))]
pub(super) type Readable<'a> = &'a tokio::net::UdpSocket;

/// The socket as the driver reads it.
#[cfg(unix)]
pub(super) type Socket = std::net::UdpSocket;
#[cfg(not(unix))]
pub(super) type Socket = tokio::net::UdpSocket;

fn register(socket: std::net::UdpSocket) -> io::Result<Watched> {
    #[cfg(unix)]
    {
        let interest = tokio::io::Interest::READABLE;
        // SAFETY: the `AsyncFd` owns the socket, so its descriptor stays open for as long as it
        // is registered (tokio's requirement, which it cannot check for a raw fd).
        unsafe { tokio::io::unix::AsyncFd::register_with_interest(socket, interest) }.map_err(io::Error::from)
    }
    #[cfg(not(unix))]
    tokio::net::UdpSocket::from_std(socket)
}

fn unregister(watched: Watched) -> io::Result<std::net::UdpSocket> {
    #[cfg(unix)]
    return Ok(watched.into_inner());
    #[cfg(not(unix))]
    watched.into_std()
}

impl DriverSocket {
    /// Watch `socket` (non-blocking already) with the current runtime's reactor.
    pub(super) fn new(socket: std::net::UdpSocket) -> io::Result<DriverSocket> {
        Ok(DriverSocket::Watched(register(socket)?))
    }

    /// Start or stop watching. An error leaves the socket gone: the driver stops.
    pub(super) fn watch(&mut self, on: bool) -> io::Result<()> {
        *self = match (std::mem::replace(self, DriverSocket::Gone), on) {
            (DriverSocket::Unwatched(socket), true) => DriverSocket::Watched(register(socket)?),
            (DriverSocket::Watched(watched), false) => DriverSocket::Unwatched(unregister(watched)?),
            (unchanged, _) => unchanged,
        };
        Ok(())
    }

    /// Wait until a datagram may be waiting; never, while unwatched. `None` if the socket failed.
    pub(super) async fn readable(&self) -> Option<Readable<'_>> {
        let DriverSocket::Watched(watched) = self else { return std::future::pending().await };
        #[cfg(unix)]
        let ready = watched.readable().await.ok();
        #[cfg(not(unix))]
        let ready = watched.readable().await.ok().map(|()| watched);
        ready
    }
}

/// Whether a datagram really waits. A receive call on the application's thread may have read
/// it already; then this clears the readiness, and there is nothing to take the lock for.
pub(super) fn still_waiting(ready: &mut Readable<'_>) -> bool {
    #[cfg(unix)]
    {
        let peeked = ready.get_inner().peek_from(&mut []);
        if peeked.as_ref().is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock) {
            ready.clear_ready();
            return false;
        }
        true
    }
    #[cfg(not(unix))]
    {
        !ready.try_peek_sender().is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock)
    }
}

/// Read through `ready` with `read` until it reports `WouldBlock` (which clears the
/// readiness) or stops early with the socket still ready.
pub(super) fn read_with(ready: &mut Readable<'_>, read: impl FnOnce(&Socket) -> io::Result<()>) {
    #[cfg(unix)]
    {
        let _ = ready.try_io(|fd| read(fd.get_ref()));
    }
    #[cfg(not(unix))]
    {
        let _ = ready.try_io(tokio::io::Interest::READABLE, || read(ready));
    }
}
