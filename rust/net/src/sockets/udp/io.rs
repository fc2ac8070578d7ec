//! The UDP socket's system calls, batched where the OS can (quinn-udp does the OS-specific
//! part, and falls back to a datagram per call elsewhere):
//!
//! - out: consecutive datagrams to one peer leave in one `sendmsg` with UDP GSO. A bulk
//!   sender's full-size packets then cost one system call per batch instead of one each.
//! - in: one `recvmmsg` reads several datagrams, and GRO hands a peer's back-to-back datagrams
//!   over as one buffer that is split at its stride here. An application thread reading a
//!   socket whose datagrams come one at a time reads them one per `recvfrom`, with GRO off
//!   ([`UdpIo::recv_some`]).
//!
//! Everything else about sending (the fake network, relayed peers) stays in `udp/endpoint.rs`.

use std::cell::RefCell;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use quinn_udp::{RecvMeta, Transmit, UdpSockRef, UdpSocketState};

/// Bytes one GSO batch may hold: a UDP datagram's 64 KiB, less room for the headers.
const MAX_BATCH_BYTES: usize = 64_000;
/// Receive buffers per `recvmmsg`.
const RECV_BUFFERS: usize = 8;
/// One receive buffer holds what GRO may join into one: up to 64 KiB.
const RECV_BUFFER_BYTES: usize = 64 * 1024;

/// A UDP socket with its batching capabilities, as quinn-udp found them when it set the
/// socket up. Any thread may send and read through it; the driver task also reads through its
/// own tokio handle on the same socket, which clears the readiness it waits on.
pub(in crate::sockets) struct UdpIo {
    socket: std::net::UdpSocket,
    state: UdpSocketState,
    /// An IPv6 socket (dual-stack), which reaches IPv4 peers at their v4-mapped addresses.
    ipv6: bool,
    /// How an application thread's read goes: see [`UdpIo::recv_some`].
    single: SingleReads,
    /// The one peer this socket is connected to, if it is: see [`UdpIo::talk_only_to`].
    peer: OnceLock<SocketAddr>,
}

impl UdpIo {
    /// Set `socket` up for batched I/O (GRO on, where the OS has it).
    pub(in crate::sockets) fn new(socket: std::net::UdpSocket) -> io::Result<UdpIo> {
        let state = UdpSocketState::new((&socket).into())?;
        #[cfg(unix)]
        skip_unused_receive_info(&socket);
        let ipv6 = socket.local_addr()?.is_ipv6();
        Ok(UdpIo { socket, state, ipv6, single: SingleReads::default(), peer: OnceLock::new() })
    }

    /// Let this socket exchange datagrams with `peer` alone (a connecting client's socket, a
    /// loopback pair's ends), through the kernel's `connect`: it then drops what any other
    /// address sends here, as GNS's sockets bound to one host do in user space, and a datagram
    /// to `peer` leaves without a route lookup (about half a microsecond less per send here).
    /// Linux and Android only: elsewhere (the BSDs, macOS) a connected socket refuses sends
    /// that name an address, which quinn-udp's batches always do, so the socket stays as it is.
    pub(in crate::sockets) fn talk_only_to(&self, peer: SocketAddr) -> io::Result<()> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let peer = self.reachable(peer);
            self.socket.connect(peer)?;
            let _ = self.peer.set(peer);
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = peer;
        Ok(())
    }

    /// Send one datagram on its own: plain `send`/`sendto`, without the control message
    /// quinn-udp's `sendmsg` always carries. A failure drops it, like any loss.
    fn send_lone(&self, to: SocketAddr, datagram: &[u8]) {
        let to = self.reachable(to);
        again_if_refused(|| match self.peer.get() {
            Some(peer) if *peer == to => self.socket.send(datagram).map(drop),
            _ => self.socket.send_to(datagram, to).map(drop),
        });
    }

    pub(in crate::sockets) fn socket(&self) -> &std::net::UdpSocket {
        &self.socket
    }

    /// `to` in this socket's family (quinn-udp does the same for what it sends).
    fn reachable(&self, to: SocketAddr) -> SocketAddr {
        match to {
            SocketAddr::V4(v4) if self.ipv6 => SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port()),
            to => to,
        }
    }

    /// Whether this socket's datagrams have lately come several at a time, or full-size (a
    /// bulk sender's): reads that found one small datagram each, in a row, are fewer than
    /// [`LONE_BATCHES_BEFORE_SINGLE`].
    pub(in crate::sockets) fn comes_in_batches(&self) -> bool {
        self.single.lone_batches.load(Ordering::Relaxed) < LONE_BATCHES_BEFORE_SINGLE
    }

    /// What an application thread reads when it looks for arrivals itself: one batch (see
    /// [`recv_batch`](Self::recv_batch)), or while the socket's datagrams have lately come one
    /// at a time, a single datagram, with a plain `recvfrom` (`recv` on a connected socket,
    /// which saves copying out the address: ~0.1 µs in a plain echo). Per datagram, a
    /// `recvmmsg` that finds one costs about a third of a microsecond more here (it tries for a
    /// second one), and a `recvmsg` with room for GRO's control message about a sixth more; a
    /// round trip makes two reads. So while reads go one at a time, GRO is off: with it off the
    /// kernel hands over each datagram as it was sent, and there is no segment size to ask for.
    /// Reading one at a time never leaves a backlog for long: a full-size datagram goes back to
    /// batches (and GRO) at once, and every few reads a batch read looks for more, which also
    /// goes back to batches if it finds any; what an application that stops reading leaves
    /// behind, its endpoint's driver reads within a millisecond (`driver.rs`).
    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(unused_mut))]
    pub(in crate::sockets) fn recv_some(&self, mut each: impl FnMut(SocketAddr, &[u8])) -> io::Result<Received> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if !self.comes_in_batches() {
            // A batch read after single reads: finding nothing is no failure.
            let batch = |each| match self.recv_batch(self.socket().into(), each) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Received { drained: true }),
                other => other,
            };
            if self.single.joining.load(Ordering::Relaxed) {
                self.single.joining.store(false, Ordering::Relaxed);
                join_datagrams(&self.socket, false);
                // What GRO joined before it went off: a batch read splits it.
                return batch(&mut each);
            }
            let len = SCRATCH.with_borrow_mut(|scratch| -> io::Result<usize> {
                let buffer = &mut scratch.buffers[0];
                let (len, from) = match self.peer.get() {
                    // A connected socket hears from its peer alone: no address to ask for.
                    Some(&peer) => (self.socket.recv(buffer)?, peer),
                    None => self.socket.recv_from(buffer)?,
                };
                each(from, &buffer[..len]);
                Ok(len)
            })?;
            let reads = self.single.since_batch.fetch_add(1, Ordering::Relaxed) + 1;
            if len < FULL_DATAGRAM_BYTES && reads < SINGLE_READS_PER_CHECK {
                return Ok(Received { drained: true });
            }
            self.single.since_batch.store(0, Ordering::Relaxed);
            if len >= FULL_DATAGRAM_BYTES {
                // A bulk sender's: batches (and the driver) from now on.
                self.batches_again();
            }
            return batch(&mut each);
        }
        self.recv_batch(self.socket().into(), each)
    }

    /// Reads go in batches again, with GRO on.
    fn batches_again(&self) {
        self.single.lone_batches.store(0, Ordering::Relaxed);
        if !self.single.joining.load(Ordering::Relaxed) {
            self.single.joining.store(true, Ordering::Relaxed);
            join_datagrams(&self.socket, true);
        }
    }

    /// Read one batch of datagrams from `socket` and hand each to `each`; `WouldBlock` when
    /// there was none.
    pub(in crate::sockets) fn recv_batch(
        &self,
        socket: UdpSockRef<'_>,
        mut each: impl FnMut(SocketAddr, &[u8]),
    ) -> io::Result<Received> {
        SCRATCH.with_borrow_mut(|scratch| {
            let count = {
                let mut slices: [IoSliceMut<'_>; RECV_BUFFERS] =
                    scratch.buffers.each_mut().map(|b| IoSliceMut::new(&mut b[..]));
                self.state.recv(socket, &mut slices, &mut scratch.meta)?
            };
            for (meta, buffer) in scratch.meta[..count].iter().zip(scratch.buffers.iter()) {
                split_at_stride(&buffer[..meta.len], meta.stride).for_each(|datagram| each(meta.addr, datagram));
            }
            if count == 1 && scratch.meta[0].len < FULL_DATAGRAM_BYTES {
                let lone = &self.single.lone_batches;
                let _ = lone.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_add(1));
            } else {
                self.batches_again();
            }
            Ok(Received { drained: count < RECV_BUFFERS })
        })
    }
}

/// Make a send once more if it failed as refused: a connected socket reports an ICMP "port
/// unreachable" that came from its peer (a server not up yet, or restarting) on its next call,
/// which then sends nothing. Any other failure drops the datagrams, like any loss.
fn again_if_refused(send: impl Fn() -> io::Result<()>) {
    if send().is_err_and(|e| e.kind() == io::ErrorKind::ConnectionRefused) {
        let _ = send();
    }
}

/// The datagrams GRO joined into `buffer`, `stride` bytes each (the last may be shorter). An
/// empty datagram has a stride of 0, on which `chunks` would panic: as 1, it yields nothing.
fn split_at_stride(buffer: &[u8], stride: usize) -> std::slice::Chunks<'_, u8> {
    buffer.chunks(stride.max(1))
}

/// How the reads of one socket have gone lately, for [`UdpIo::recv_some`] and
/// [`UdpIo::comes_in_batches`]. Plain counters and flags (relaxed atomics, read then written
/// rather than swapped: every read of the socket happens under its endpoint's lock, and a
/// swap on every batch read would be a locked instruction for nothing).
struct SingleReads {
    /// Batch reads in a row that found exactly one datagram, and a small one (saturating).
    lone_batches: AtomicU8,
    /// Single reads since the last batch read.
    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
    since_batch: AtomicU8,
    /// GRO is on (quinn-udp turns it on; single reads turn it off).
    joining: AtomicBool,
}

impl Default for SingleReads {
    fn default() -> Self {
        SingleReads { lone_batches: AtomicU8::new(0), since_batch: AtomicU8::new(0), joining: AtomicBool::new(true) }
    }
}

/// Batch reads in a row that find one datagram each before reads go one datagram at a time
/// (where the single read is written: Linux).
const LONE_BATCHES_BEFORE_SINGLE: u8 = 4;
/// While reading one at a time, every this many reads is followed by a batch read anyway, so
/// a backlog that builds up behind the reads is found within a few calls.
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
const SINGLE_READS_PER_CHECK: u8 = 16;
/// A datagram this long is a bulk sender's full packet: more are likely right behind it, and
/// the socket's reads stay batches (the driver's).
const FULL_DATAGRAM_BYTES: usize = 1000;

/// quinn-udp asks the kernel for each datagram's destination address and ECN bits; we use
/// neither (replies go out from the socket's own address, and there is no ECN congestion
/// signal), and each costs a control message per received datagram (a receive took ~0.15 µs
/// longer with them here, of a ~4 µs loopback one-way). GRO's segment size, which we do use,
/// stays. Options a socket's family does not have fail harmlessly.
#[cfg(unix)]
fn skip_unused_receive_info(socket: &std::net::UdpSocket) {
    let options: &[(libc::c_int, libc::c_int)] = &[
        (libc::IPPROTO_IP, libc::IP_RECVTOS),
        (libc::IPPROTO_IPV6, libc::IPV6_RECVTCLASS),
        #[cfg(any(target_os = "linux", target_os = "android"))]
        (libc::IPPROTO_IP, libc::IP_PKTINFO),
        #[cfg(any(target_os = "linux", target_os = "android"))]
        (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO),
    ];
    for &(level, name) in options {
        set_int_option(socket, level, name, 0);
    }
}

/// Set an int-valued socket option; a failure leaves the socket as it was.
#[cfg(unix)]
fn set_int_option(socket: &std::net::UdpSocket, level: libc::c_int, name: libc::c_int, value: libc::c_int) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid socket and a c_int option value of the right length.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            std::ptr::from_ref(&value).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Turn GRO on or off for `socket`. Off, the kernel hands over each datagram as it was sent,
/// one per read; a failure leaves it as it was (a kernel without UDP GRO never joins any).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn join_datagrams(socket: &std::net::UdpSocket, on: bool) {
    set_int_option(socket, libc::SOL_UDP, libc::UDP_GRO, libc::c_int::from(on));
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn join_datagrams(_socket: &std::net::UdpSocket, _on: bool) {}

/// What one receive batch found.
pub(in crate::sockets) struct Received {
    /// The batch had buffers to spare, so the socket was empty when it was read: a reader that
    /// looks again at once would most likely pay a system call to learn nothing.
    pub(in crate::sockets) drained: bool,
}

/// Receive buffers, one set per thread that reads (the driver thread, and an application
/// thread that receives): 512 KiB each, rather than per socket.
struct Scratch {
    buffers: Box<[[u8; RECV_BUFFER_BYTES]; RECV_BUFFERS]>,
    meta: [RecvMeta; RECV_BUFFERS],
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        buffers: vec![[0u8; RECV_BUFFER_BYTES]; RECV_BUFFERS].into_boxed_slice().try_into().expect("length"),
        meta: [RecvMeta::default(); RECV_BUFFERS],
    });
}

/// The way out of one socket for a run of datagrams (one `pump`, or one urgent send): what it
/// gathers leaves when it is dropped (or earlier, once it holds [`HOLD_BYTES`]). So a caller can
/// gather under an endpoint's lock and make the system calls after letting go of it.
pub(in crate::sockets) struct Batcher<'a> {
    io: &'a UdpIo,
    outgoing: &'a mut Outgoing,
}

impl<'a> Batcher<'a> {
    pub(in crate::sockets) fn new(io: &'a UdpIo, outgoing: &'a mut Outgoing) -> Self {
        Batcher { io, outgoing }
    }

    pub(in crate::sockets) fn push(&mut self, to: SocketAddr, datagram: &[u8]) {
        self.outgoing.push(self.io, to, datagram);
    }

    /// The socket, for a datagram that goes out on its own.
    pub(in crate::sockets) fn socket(&self) -> &'a std::net::UdpSocket {
        &self.io.socket
    }
}

impl Drop for Batcher<'_> {
    fn drop(&mut self) {
        self.outgoing.flush(self.io);
    }
}

thread_local! {
    /// The batch a thread gathers in under an endpoint's lock, to send once it has let go of
    /// it: an application thread's urgent sends, a driver's turn.
    static CALLER_OUTGOING: RefCell<Outgoing> = RefCell::new(Outgoing::default());
}

/// Run `gather` with this thread's own batch (see `CALLER_OUTGOING`).
pub(in crate::sockets) fn with_caller_outgoing<R>(gather: impl FnOnce(&mut Outgoing) -> R) -> R {
    CALLER_OUTGOING.with_borrow_mut(gather)
}

/// Bytes of datagrams gathered before they go out without waiting for the end of the run: a
/// bulk sender's burst goes out a few batches at a time rather than all at the end.
const HOLD_BYTES: usize = 256 * 1024;

/// Datagrams on their way out, gathered into GSO batches: each a run of datagrams to one
/// destination, all of one size except perhaps a shorter last one. The buffers are kept from
/// one run to the next.
#[derive(Default)]
pub(in crate::sockets) struct Outgoing {
    buf: Vec<u8>,
    batches: Vec<Batch>,
}

struct Batch {
    to: SocketAddr,
    /// Where in `buf` it starts.
    start: usize,
    segment: usize,
    count: usize,
    /// Its last datagram was shorter than the others: nothing more may join.
    closed: bool,
}

impl Outgoing {
    /// Add a datagram to the last batch, or start a new one if it cannot join.
    fn push(&mut self, io: &UdpIo, to: SocketAddr, datagram: &[u8]) {
        let end = self.buf.len();
        let joins = self.batches.last().is_some_and(|batch| {
            !batch.closed
                && batch.to == to
                && datagram.len() <= batch.segment
                && batch.count < io.state.max_gso_segments()
                && end - batch.start + datagram.len() <= MAX_BATCH_BYTES
        });
        if !joins {
            if end + datagram.len() > HOLD_BYTES {
                self.flush(io);
            }
            let start = self.buf.len();
            self.batches.push(Batch { to, start, segment: datagram.len(), count: 0, closed: false });
        }
        self.buf.extend_from_slice(datagram);
        let batch = self.batches.last_mut().expect("just pushed or joined");
        batch.count += 1;
        // Only the last segment of a batch may be shorter.
        batch.closed = datagram.len() < batch.segment;
    }

    /// Send what was gathered, a system call per batch. A full socket buffer drops a batch,
    /// like any loss: the protocol recovers.
    fn flush(&mut self, io: &UdpIo) {
        for (i, batch) in self.batches.iter().enumerate() {
            let end = self.batches.get(i + 1).map_or(self.buf.len(), |next| next.start);
            if batch.count == 1 {
                // A lone datagram (a ping-pong's every send) needs no GSO.
                io.send_lone(batch.to, &self.buf[batch.start..end]);
                continue;
            }
            let transmit = Transmit {
                destination: batch.to,
                ecn: None,
                contents: &self.buf[batch.start..end],
                segment_size: Some(batch.segment),
                src_ip: None,
            };
            again_if_refused(|| io.state.try_send((&io.socket).into(), &transmit));
        }
        self.buf.clear();
        self.batches.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound() -> std::net::UdpSocket {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        socket
    }

    /// Everything `receiver` gets within a second, until `expected` datagrams are in.
    fn receive(io: &UdpIo, expected: usize) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while got.len() < expected && std::time::Instant::now() < deadline {
            let _ = io.recv_batch(io.socket().into(), |from, d| got.push((from, d.to_vec())));
        }
        got
    }

    /// Send `datagrams` through `io` as one run (a lone one goes out on its own).
    fn send_run(io: &UdpIo, to: SocketAddr, datagrams: &[&[u8]]) {
        let mut outgoing = Outgoing::default();
        let mut out = Batcher::new(io, &mut outgoing);
        for datagram in datagrams {
            out.push(to, datagram);
        }
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn a_socket_that_talks_to_one_peer_hears_no_one_else_and_still_sends_anywhere() {
        let (io, peer, stranger) = (UdpIo::new(bound()).unwrap(), bound(), bound());
        let (here, peer_address) = (io.socket().local_addr().unwrap(), peer.local_addr().unwrap());
        io.talk_only_to(peer_address).unwrap();
        stranger.send_to(b"spoofed", here).unwrap();
        peer.send_to(b"from the peer", here).unwrap();
        let got = receive(&io, 2);
        assert_eq!(got, vec![(peer_address, b"from the peer".to_vec())], "the stranger's datagram is dropped");
        // Lone and batched, to the peer and to someone else.
        send_run(&io, peer_address, &[b"lone"]);
        send_run(&io, peer_address, &[&[1; 100], &[2; 100]]);
        send_run(&io, stranger.local_addr().unwrap(), &[b"elsewhere"]);
        let mut buf = [0u8; 256];
        let mut read = |socket: &std::net::UdpSocket| {
            socket.set_nonblocking(false).unwrap();
            socket.set_read_timeout(Some(std::time::Duration::from_secs(1))).unwrap();
            let (n, from) = socket.recv_from(&mut buf).unwrap();
            assert_eq!(from, here);
            buf[..n].to_vec()
        };
        assert_eq!(read(&peer), b"lone");
        assert_eq!(read(&peer), [1; 100]);
        assert_eq!(read(&peer), [2; 100]);
        assert_eq!(read(&stranger), b"elsewhere");
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn a_send_after_the_peer_was_unreachable_still_leaves() {
        // Nobody listens at the peer's address at first: the first datagram there brings back
        // an ICMP "port unreachable", which the kernel reports on the socket's next call.
        let gone = bound();
        let peer_address = gone.local_addr().unwrap();
        drop(gone);
        let io = UdpIo::new(bound()).unwrap();
        io.talk_only_to(peer_address).unwrap();
        send_run(&io, peer_address, &[b"nobody there"]);
        let peer = std::net::UdpSocket::bind(peer_address).unwrap();
        peer.set_read_timeout(Some(std::time::Duration::from_secs(1))).unwrap();
        send_run(&io, peer_address, &[b"now someone is"]);
        let mut buf = [0u8; 64];
        let (n, _) = peer.recv_from(&mut buf).expect("the send that found the refusal pending went out anyway");
        assert_eq!(&buf[..n], b"now someone is");
    }

    #[test]
    fn batches_arrive_as_the_datagrams_they_were() {
        let (send_io, recv_io, other_io) =
            (UdpIo::new(bound()).unwrap(), UdpIo::new(bound()).unwrap(), UdpIo::new(bound()).unwrap());
        let to = recv_io.socket().local_addr().unwrap();
        let elsewhere = other_io.socket().local_addr().unwrap();
        // Full-size runs (one GSO batch each where the OS has GSO), a short one that ends a
        // run, a change of size and of destination in between.
        let mut sent = Vec::new();
        for i in 0..150u32 {
            let len = match i {
                40 => 300,
                90..=99 => 700,
                _ => 1200,
            };
            let datagram: Vec<u8> = (0..len).map(|b| (b as u32 ^ i) as u8).collect();
            sent.push(datagram);
        }
        let mut outgoing = Outgoing::default();
        {
            let mut out = Batcher::new(&send_io, &mut outgoing);
            for (i, datagram) in sent.iter().enumerate() {
                out.push(to, datagram);
                if i == 60 {
                    out.push(elsewhere, b"to someone else");
                }
            }
        }
        let got = receive(&recv_io, sent.len());
        let from = send_io.socket().local_addr().unwrap();
        assert_eq!(got.len(), sent.len(), "every datagram arrived on its own");
        for ((source, datagram), expected) in got.iter().zip(&sent) {
            assert_eq!((*source, datagram), (from, expected));
        }
        assert_eq!(receive(&other_io, 1), vec![(from, b"to someone else".to_vec())]);
    }

    #[test]
    fn a_dual_stack_socket_sends_a_lone_datagram_to_an_ipv4_peer() {
        // A lone datagram goes out through plain `sendto`, which (unlike quinn-udp) does not map
        // an IPv4 destination for an IPv6 socket by itself. Linux takes either form; macOS and
        // Windows want the v4-mapped one, which `reachable` gives them.
        let Ok(socket) = std::net::UdpSocket::bind("[::]:0") else { return }; // no IPv6 here
        socket.set_nonblocking(true).unwrap();
        let (io, receiver) = (UdpIo::new(socket).unwrap(), UdpIo::new(bound()).unwrap());
        let to = receiver.socket().local_addr().unwrap();
        let mut outgoing = Outgoing::default();
        Batcher::new(&io, &mut outgoing).push(to, b"alone");
        let got = receive(&receiver, 1);
        assert_eq!(got.iter().map(|(_, d)| d.as_slice()).collect::<Vec<_>>(), vec![&b"alone"[..]]);
    }

    #[test]
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn reads_go_one_at_a_time_while_datagrams_come_alone_and_back_to_batches_for_a_backlog() {
        let (sender, io) = (bound(), UdpIo::new(bound()).unwrap());
        let (to, from) = (io.socket().local_addr().unwrap(), sender.local_addr().unwrap());
        let single = || !io.comes_in_batches();
        // Lone datagrams, each read once it is there.
        for i in 0..LONE_BATCHES_BEFORE_SINGLE + 2 {
            sender.send_to(&[i; 40], to).unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
            let mut got = Vec::new();
            while got.is_empty() && std::time::Instant::now() < deadline {
                if let Ok(read) = io.recv_some(|f, d| got.push((f, d.to_vec()))) {
                    assert!(read.drained, "a lone datagram leaves the socket empty");
                }
            }
            assert_eq!(got, vec![(from, vec![i; 40])]);
        }
        assert!(single(), "after {LONE_BATCHES_BEFORE_SINGLE} lone datagrams, reads go one at a time");
        // A backlog of small datagrams behind the single reads is found within a few reads,
        // and the rest come in batches.
        for i in 0..40u8 {
            sender.send_to(&[i; 40], to).unwrap();
        }
        let (mut got, mut reads) = (Vec::new(), 0);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while got.len() < 40 && std::time::Instant::now() < deadline {
            let before = got.len();
            let _ = io.recv_some(|_, d| got.push(d[0]));
            reads += usize::from(got.len() > before);
        }
        assert_eq!(got, (0..40).collect::<Vec<u8>>(), "every datagram, in order");
        let most = SINGLE_READS_PER_CHECK as usize + 40 / RECV_BUFFERS + 1;
        assert!(reads <= most, "{reads} reads for 40 datagrams (at most {most})");
        assert!(!single(), "a backlog brings the batches back");
        // Single again, then a bulk sender's full-size datagram: batches at once.
        for i in 0..LONE_BATCHES_BEFORE_SINGLE {
            sender.send_to(&[i; 40], to).unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
            while io.recv_some(|_, _| {}).is_err() && std::time::Instant::now() < deadline {}
        }
        assert!(single());
        sender.send_to(&[7; 1200], to).unwrap();
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while got.is_empty() && std::time::Instant::now() < deadline {
            let _ = io.recv_some(|_, d| got.push(d.len()));
        }
        assert_eq!(got, vec![1200]);
        assert!(io.comes_in_batches(), "a full-size datagram is a bulk sender's: batches");
    }

    /// Whether GRO is on for `socket`.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn joins(socket: &std::net::UdpSocket) -> bool {
        use std::os::fd::AsRawFd;
        let (mut on, mut len): (libc::c_int, libc::socklen_t) = (0, std::mem::size_of::<libc::c_int>() as _);
        // SAFETY: getsockopt writes at most `len` bytes into a live local.
        let got = unsafe {
            libc::getsockopt(
                socket.as_raw_fd(),
                libc::SOL_UDP,
                libc::UDP_GRO,
                std::ptr::from_mut(&mut on).cast(),
                &mut len,
            )
        };
        got == 0 && on != 0
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn reads_one_at_a_time_go_without_gro_and_a_burst_still_arrives_datagram_by_datagram() {
        let (sender, io) = (UdpIo::new(bound()).unwrap(), UdpIo::new(bound()).unwrap());
        let to = io.socket().local_addr().unwrap();
        assert!(joins(io.socket()), "quinn-udp turns GRO on");
        for i in 0..LONE_BATCHES_BEFORE_SINGLE + 2 {
            send_run(&sender, to, &[&[i; 40]]);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
            while io.recv_some(|_, _| {}).is_err() && std::time::Instant::now() < deadline {}
        }
        assert!(!io.comes_in_batches() && !joins(io.socket()), "reads go one at a time, GRO off");
        // One system call with GSO: with GRO on, it would arrive as one buffer, which a plain
        // read could not split.
        let burst: Vec<Vec<u8>> = (1..=5u8).map(|i| vec![i; 300]).collect();
        send_run(&sender, to, &burst.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while got.len() < burst.len() && std::time::Instant::now() < deadline {
            let _ = io.recv_some(|_, d| got.push(d.to_vec()));
        }
        assert_eq!(got, burst, "each datagram whole, in order");
        // A bulk sender's full-size datagram: batches, and GRO, again.
        send_run(&sender, to, &[&[7; 1200]]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while io.recv_some(|_, _| {}).is_err() && std::time::Instant::now() < deadline {}
        assert!(io.comes_in_batches() && joins(io.socket()), "back to batches, GRO on");
    }

    #[test]
    fn a_plain_socket_reads_batched_datagrams_one_by_one() {
        // A peer that is not us (no GRO) sees ordinary datagrams.
        let (io, receiver) = (UdpIo::new(bound()).unwrap(), bound());
        let to = receiver.local_addr().unwrap();
        let mut outgoing = Outgoing::default();
        {
            let mut out = Batcher::new(&io, &mut outgoing);
            for i in 0..20u8 {
                out.push(to, &[i; 1000]);
            }
        }
        receiver.set_nonblocking(false).unwrap();
        receiver.set_read_timeout(Some(std::time::Duration::from_secs(1))).unwrap();
        let mut buf = [0u8; 2048];
        for i in 0..20u8 {
            let (len, _) = receiver.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..len], &[i; 1000][..]);
        }
    }
}
