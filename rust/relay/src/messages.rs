//! Messages on a connection to the CA, one reliable message each way:
//!
//! ```text
//! client -> CA   REQUEST      1 | app_id u32
//! CA -> client   CERTIFICATE  2 | certificate (see steamnet_proto::cert)
//!             or ERROR        3 | UTF-8 text
//! ```
//!
//! The key to certify is the client's Noise static key from the connection's handshake.

const REQUEST: u8 = 1;
const CERTIFICATE: u8 = 2;
const ERROR: u8 = 3;
/// Longest error text the CA sends.
const MAX_ERROR_LEN: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaMessage {
    Request { app_id: u32 },
    Certificate(Vec<u8>),
    Error(String),
}

impl CaMessage {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            CaMessage::Request { app_id } => [&[REQUEST][..], &app_id.to_be_bytes()].concat(),
            CaMessage::Certificate(cert) => [&[CERTIFICATE][..], cert].concat(),
            CaMessage::Error(text) => {
                let mut end = text.len().min(MAX_ERROR_LEN);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                [&[ERROR][..], &text.as_bytes()[..end]].concat()
            }
        }
    }

    /// Never panics; `None` for anything malformed.
    pub fn decode(bytes: &[u8]) -> Option<CaMessage> {
        let (&kind, body) = bytes.split_first()?;
        match kind {
            REQUEST => Some(CaMessage::Request { app_id: u32::from_be_bytes(body.try_into().ok()?) }),
            CERTIFICATE if body.len() == steamnet_proto::cert::CERT_LEN => Some(CaMessage::Certificate(body.to_vec())),
            ERROR if body.len() <= MAX_ERROR_LEN => Some(CaMessage::Error(String::from_utf8_lossy(body).into_owned())),
            _ => None,
        }
    }
}

/// Fuzz target body (`fuzz/`, and the test below on stable): any bytes decode as each kind of
/// message or are refused, never a panic; what decodes re-encodes to the same bytes.
pub fn fuzz(data: &[u8]) {
    if let Some(message) = CaMessage::decode(data) {
        // Error text is made valid UTF-8 and cut to its limit on the way: after one round,
        // encoding is stable.
        let once = CaMessage::decode(&message.encode()).expect("re-encoded message decodes");
        assert_eq!(CaMessage::decode(&once.encode()), Some(once));
    }
    if let Some(message) = RelayMessage::decode(data) {
        assert_eq!(message.encode(), data, "relay messages have one encoding");
    }
    if let Some((token, route, datagram)) = parse_relayed_from_client(data) {
        assert_eq!(relayed_from_client(token, route, datagram), data);
    }
    if let Some((route, datagram)) = parse_relayed_to_client(data) {
        assert_eq!(relayed_to_client(route, datagram), data);
    }
    if let Some(pong) = pong_for(data, Some("fra")) {
        assert_eq!(pong.len(), data.len(), "a pong is never bigger than its ping");
        assert!(parse_pong(&pong).is_some_and(|(_, code)| code == "fra"));
    }
    let _ = parse_pong(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refusals() {
        for m in [
            CaMessage::Request { app_id: 480 },
            CaMessage::Certificate(vec![9; steamnet_proto::cert::CERT_LEN]),
            CaMessage::Error("no".into()),
        ] {
            assert_eq!(CaMessage::decode(&m.encode()), Some(m));
        }
        assert_eq!(CaMessage::decode(&[]), None);
        assert_eq!(CaMessage::decode(&[1, 0, 0]), None);
        assert_eq!(CaMessage::decode(&[2, 0]), None);
        assert_eq!(CaMessage::decode(&[7]), None);
        let mut rng = steamnet_proto::impair::FastRng::new(7);
        let seeds = [
            CaMessage::Request { app_id: 1 }.encode(),
            RelayMessage::Connect { route: 1, target: 2, vport: 3 }.encode(),
        ];
        for round in 0..50_000u64 {
            let mut input: Vec<u8> = if round % 2 == 0 {
                (0..rng.below(40)).map(|_| rng.next_u64() as u8).collect()
            } else {
                seeds[(round / 2 % 2) as usize].clone()
            };
            if let Some(byte) = input.get_mut(rng.below(20) as usize) {
                *byte = (rng.next_u64() % 24) as u8;
            }
            fuzz(&input);
        }
        let long = CaMessage::Error("é".repeat(300)).encode();
        assert!(long.len() <= 1 + MAX_ERROR_LEN && CaMessage::decode(&long).is_some());
    }
}

/// Messages of a relay session: a client with a verified identity registers the virtual ports
/// it listens on, asks to reach another identity's port, and exchanges its peers' datagrams
/// (end-to-end encrypted by the peers; the relay cannot read or forge them) on routes.
///
/// ```text
/// client -> relay   LISTEN       16 | vport u32
///                   UNLISTEN     17 | vport u32
///                   CONNECT      18 | route u32 | target u64 | vport u32
/// both ways         CLOSE_ROUTE  21 | route u32   (from the relay: the route's far end is gone
///                                with the POP it was on)
/// relay -> client   INCOMING     19 | route u32 | from u64 | vport u32
///                   OBSERVED     22 | family u8 (4 or 6) | ip (4 or 16) | port u16
///                                (the address the relay sees the client at, for NAT traversal)
///                   FAKE_IP      24 | ip u32 | count u8 | port u16 * count   (0 ports: refused)
///                   INCOMING_FAKE 26 | route u32 | from u64 | vport u32 | caller's FakeIP u32 | port u16
///                   TOKEN        27 | token u64   (for RELAYED datagrams, below)
/// client -> relay   FAKE_IP_REQUEST 23 | ports u8
///                   CONNECT_FAKE 25 | route u32 | ip u32 | port u16
/// ```
///
/// Hosted dedicated servers listen on their own virtual ports, which only a client holding a
/// [ticket](crate::ticket) for that server and port can reach (P2P calls never can), and
/// neither side ever learns the other's address:
///
/// ```text
/// server -> relay   HOSTED_LISTEN  28 | vport u32            (UNLISTEN ends it too)
/// client -> relay   TICKET_REQUEST 29 | server u64 | vport u32
/// relay -> client   TICKET         30 | server u64 | vport u32 | ticket (empty: refused)
/// client -> relay   CONNECT_HOSTED 31 | route u32 | ticket (empty: the client has none)
/// relay -> client   REFUSED        32 | route u32 | end reason u32 | UTF-8 text
/// relay -> client   POP            33 | code (1 to 4 ASCII letters or digits)
/// ```
///
/// POP names the relay's point of presence (`--pop`), which a hosted server reports as its
/// `getHostedDedicatedServerPOPId`.
///
/// POPs of one cluster talk to each other over steamnet connections of their own (*links*),
/// which are relay sessions like a client's: the same routes, tokens and RELAYED datagrams
/// carry a call from a client on one POP to a peer on another. A link starts with each side's
/// proof that it is a POP of this cluster: the CA's signature (only POPs hold the CA key) of
/// `"SNP1" | code | the sender's Noise static key`, which the handshake has just proved the
/// sender holds.
///
/// ```text
/// POP <-> POP       PEER_HELLO     34 | proof [64] | code
///                   PEER_CONNECT   35 | route u32 | from u64 | target u64 | vport u32 | kind u8
///                                     | caller's FakeIP u32 | port u16
///                                  (kind: 0 P2P, 1 to a FakeIP, 2 hosted with a checked ticket)
/// ```
///
/// A CONNECT_HOSTED with a good ticket to a server that is not (yet) listening gets no answer,
/// like a P2P CONNECT, and is repeated; one without a usable ticket is REFUSED at once with the
/// GNS end reason the client's connection ends with.
///
/// Relayed datagrams also travel beside the session, as plain UDP datagrams of their own
/// (no second encryption, no second congestion control): RELAYED (first byte 9, a kind the
/// steamnet handshake and session datagrams never use) is `9 | token u64 | route u32 | datagram`
/// from a client, and `9 | route u32 | datagram` to one. The token, sent over the encrypted
/// session, and the session's address must both match, so nobody else can use a session's
/// routes; what is forwarded is the peers' own sealed datagram.
///
/// FakeIPs (GNS's, in 169.254.0.0/16) are handed out by the relay, one per session, unique
/// among live sessions, and freed with the session. A call to a FakeIP port reaches the
/// owner's listen socket for that port's index: virtual port [`FAKE_PORT_VPORT`] + index.
///
/// ```text
/// both ways         FORWARD      20 | route u32 | datagram
/// ```
///
/// A route number is local to one session: the initiator picks its own in CONNECT, the relay
/// picks the listener's in INCOMING. Requests the relay cannot serve (unknown identity, port
/// not listened on) get no answer, as on Steam, so nobody can probe who is online; the
/// initiator's handshake times out instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayMessage<'a> {
    Listen { vport: u32 },
    Unlisten { vport: u32 },
    Connect { route: u32, target: u64, vport: u32 },
    Incoming { route: u32, from: u64, vport: u32 },
    Forward { route: u32, datagram: &'a [u8] },
    CloseRoute { route: u32 },
    Observed { address: std::net::SocketAddr },
    FakeIpRequest { ports: u8 },
    FakeIp { ip: u32, ports: Vec<u16> },
    ConnectFake { route: u32, ip: u32, port: u16 },
    IncomingFake { route: u32, from: u64, vport: u32, caller_ip: u32, caller_port: u16 },
    Token { token: u64 },
    HostedListen { vport: u32 },
    TicketRequest { server: u64, vport: u32 },
    Ticket { server: u64, vport: u32, ticket: &'a [u8] },
    ConnectHosted { route: u32, ticket: &'a [u8] },
    Refused { route: u32, reason: u32, text: &'a str },
    Pop { code: &'a str },
    PeerHello { proof: [u8; 64], code: &'a str },
    PeerConnect { route: u32, from: u64, target: u64, vport: u32, kind: u8, caller_ip: u32, caller_port: u16 },
}

/// First byte of a RELAYED datagram.
pub const KIND_RELAYED: u8 = 9;
/// First bytes of a POP ping and its answer: plain datagrams (no session), so a client can
/// measure every configured POP before it connects to the best one. PING is
/// `11 | nonce u64 | 4 zero bytes`, PONG `12 | nonce u64 | POP code padded with zeros to 4`:
/// the same size, so a spoofed ping reflects nothing bigger than itself.
pub const KIND_PING: u8 = 11;
const KIND_PONG: u8 = 12;
const PING_LEN: usize = 13;

pub fn ping(nonce: u64) -> [u8; PING_LEN] {
    let mut out = [0u8; PING_LEN];
    out[0] = KIND_PING;
    out[1..9].copy_from_slice(&nonce.to_be_bytes());
    out
}

/// The answer to a PING datagram, if `bytes` is one. Never panics.
pub fn pong_for(bytes: &[u8], pop: Option<&str>) -> Option<[u8; PING_LEN]> {
    (bytes.len() == PING_LEN && bytes[0] == KIND_PING).then_some(())?;
    let mut out = [0u8; PING_LEN];
    out[0] = KIND_PONG;
    out[1..9].copy_from_slice(&bytes[1..9]);
    let code = pop.unwrap_or("").as_bytes();
    out[9..9 + code.len().min(4)].copy_from_slice(&code[..code.len().min(4)]);
    Some(out)
}

/// Read a PONG: (nonce, POP code; empty if the relay has none). Never panics.
pub fn parse_pong(bytes: &[u8]) -> Option<(u64, String)> {
    (bytes.len() == PING_LEN && bytes[0] == KIND_PONG).then_some(())?;
    let code: String = bytes[9..].iter().take_while(|&&b| b != 0).map(|&b| b as char).collect();
    is_pop_code(&code).then_some(()).or(code.is_empty().then_some(()))?;
    Some((be_u64(bytes, 1)?, code))
}

/// A client's RELAYED datagram for `route`.
pub fn relayed_from_client(token: u64, route: u32, datagram: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(13 + datagram.len());
    out.push(KIND_RELAYED);
    out.extend_from_slice(&token.to_be_bytes());
    out.extend_from_slice(&route.to_be_bytes());
    out.extend_from_slice(datagram);
    out
}

/// Read a client's RELAYED datagram: (token, route, datagram). Never panics.
pub fn parse_relayed_from_client(bytes: &[u8]) -> Option<(u64, u32, &[u8])> {
    (*bytes.first()? == KIND_RELAYED).then_some(())?;
    Some((be_u64(bytes, 1)?, be_u32(bytes, 9)?, bytes.get(13..)?))
}

/// The relay's RELAYED datagram for a client's `route`.
pub fn relayed_to_client(route: u32, datagram: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + datagram.len());
    out.push(KIND_RELAYED);
    out.extend_from_slice(&route.to_be_bytes());
    out.extend_from_slice(datagram);
    out
}

/// Read the relay's RELAYED datagram: (route, datagram). Never panics.
pub fn parse_relayed_to_client(bytes: &[u8]) -> Option<(u32, &[u8])> {
    (*bytes.first()? == KIND_RELAYED).then_some(())?;
    Some((be_u32(bytes, 1)?, bytes.get(5..)?))
}

/// Whether `code` can name a point of presence: 1 to 4 ASCII letters or digits (GNS packs
/// POP codes into a 32-bit id).
pub fn is_pop_code(code: &str) -> bool {
    (1..=4).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// What a POP signs to prove to another that it is one of the cluster's (see PEER_HELLO).
pub fn pop_proof_message(code: &str, static_key: &[u8]) -> Vec<u8> {
    [b"SNP1".as_slice(), code.as_bytes(), static_key].concat()
}

/// A random address in GNS's FakeIP range, 169.254.0.0/16, without its first and last.
pub fn random_fake_ip() -> u32 {
    loop {
        let host = steamnet_proto::random::u64() as u16;
        if host != 0 && host != 0xffff {
            return 0xa9fe_0000 | u32::from(host);
        }
    }
}

/// Virtual ports at and above this are FakeIP port indexes (`createListenSocketP2PFakeIP`).
pub const FAKE_PORT_VPORT: u32 = 0x8000_0000;
/// Most FakeIP ports one request may ask for (GNS on Steam).
pub const MAX_FAKE_PORTS: u8 = 4;

const LISTEN: u8 = 16;
const UNLISTEN: u8 = 17;
const CONNECT: u8 = 18;
const INCOMING: u8 = 19;
const FORWARD: u8 = 20;
const CLOSE_ROUTE: u8 = 21;
const OBSERVED: u8 = 22;
const FAKE_IP_REQUEST: u8 = 23;
const FAKE_IP: u8 = 24;
const CONNECT_FAKE: u8 = 25;
const INCOMING_FAKE: u8 = 26;
const TOKEN: u8 = 27;
const HOSTED_LISTEN: u8 = 28;
const TICKET_REQUEST: u8 = 29;
const TICKET: u8 = 30;
const CONNECT_HOSTED: u8 = 31;
const REFUSED: u8 = 32;
const POP: u8 = 33;
const PEER_HELLO: u8 = 34;
const PEER_CONNECT: u8 = 35;
/// Longest REFUSED text.
pub const MAX_REFUSED_TEXT: usize = 128;
/// Bytes FORWARD adds to a datagram.
pub const FORWARD_OVERHEAD: usize = 5;

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

impl<'a> RelayMessage<'a> {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        match *self {
            RelayMessage::Listen { vport } => {
                out.push(LISTEN);
                out.extend_from_slice(&vport.to_be_bytes());
            }
            RelayMessage::Unlisten { vport } => {
                out.push(UNLISTEN);
                out.extend_from_slice(&vport.to_be_bytes());
            }
            RelayMessage::Connect { route, target, vport } => {
                out.push(CONNECT);
                out.extend_from_slice(&route.to_be_bytes());
                out.extend_from_slice(&target.to_be_bytes());
                out.extend_from_slice(&vport.to_be_bytes());
            }
            RelayMessage::Incoming { route, from, vport } => {
                out.push(INCOMING);
                out.extend_from_slice(&route.to_be_bytes());
                out.extend_from_slice(&from.to_be_bytes());
                out.extend_from_slice(&vport.to_be_bytes());
            }
            RelayMessage::Forward { route, datagram } => {
                out.reserve(datagram.len());
                out.push(FORWARD);
                out.extend_from_slice(&route.to_be_bytes());
                out.extend_from_slice(datagram);
            }
            RelayMessage::CloseRoute { route } => {
                out.push(CLOSE_ROUTE);
                out.extend_from_slice(&route.to_be_bytes());
            }
            RelayMessage::Observed { address } => {
                out.push(OBSERVED);
                steamnet_proto::address::put(&mut out, address);
            }
            RelayMessage::FakeIpRequest { ports } => out.extend_from_slice(&[FAKE_IP_REQUEST, ports]),
            RelayMessage::FakeIp { ip, ref ports } => {
                out.push(FAKE_IP);
                out.extend_from_slice(&ip.to_be_bytes());
                out.push(ports.len() as u8);
                for port in ports {
                    out.extend_from_slice(&port.to_be_bytes());
                }
            }
            RelayMessage::ConnectFake { route, ip, port } => {
                out.push(CONNECT_FAKE);
                out.extend_from_slice(&route.to_be_bytes());
                out.extend_from_slice(&ip.to_be_bytes());
                out.extend_from_slice(&port.to_be_bytes());
            }
            RelayMessage::Token { token } => {
                out.push(TOKEN);
                out.extend_from_slice(&token.to_be_bytes());
            }
            RelayMessage::IncomingFake { route, from, vport, caller_ip, caller_port } => {
                out.push(INCOMING_FAKE);
                out.extend_from_slice(&route.to_be_bytes());
                out.extend_from_slice(&from.to_be_bytes());
                out.extend_from_slice(&vport.to_be_bytes());
                out.extend_from_slice(&caller_ip.to_be_bytes());
                out.extend_from_slice(&caller_port.to_be_bytes());
            }
            RelayMessage::HostedListen { vport } => {
                out.push(HOSTED_LISTEN);
                out.extend_from_slice(&vport.to_be_bytes());
            }
            RelayMessage::TicketRequest { server, vport } => {
                out.push(TICKET_REQUEST);
                out.extend_from_slice(&server.to_be_bytes());
                out.extend_from_slice(&vport.to_be_bytes());
            }
            RelayMessage::Ticket { server, vport, ticket } => {
                out.push(TICKET);
                out.extend_from_slice(&server.to_be_bytes());
                out.extend_from_slice(&vport.to_be_bytes());
                out.extend_from_slice(ticket);
            }
            RelayMessage::ConnectHosted { route, ticket } => {
                out.push(CONNECT_HOSTED);
                out.extend_from_slice(&route.to_be_bytes());
                out.extend_from_slice(ticket);
            }
            RelayMessage::Refused { route, reason, text } => {
                out.push(REFUSED);
                out.extend_from_slice(&route.to_be_bytes());
                out.extend_from_slice(&reason.to_be_bytes());
                out.extend_from_slice(text.as_bytes());
            }
            RelayMessage::Pop { code } => {
                out.push(POP);
                out.extend_from_slice(code.as_bytes());
            }
            RelayMessage::PeerHello { proof, code } => {
                out.push(PEER_HELLO);
                out.extend_from_slice(&proof);
                out.extend_from_slice(code.as_bytes());
            }
            RelayMessage::PeerConnect { route, from, target, vport, kind, caller_ip, caller_port } => {
                out.push(PEER_CONNECT);
                out.extend_from_slice(&route.to_be_bytes());
                out.extend_from_slice(&from.to_be_bytes());
                out.extend_from_slice(&target.to_be_bytes());
                out.extend_from_slice(&vport.to_be_bytes());
                out.push(kind);
                out.extend_from_slice(&caller_ip.to_be_bytes());
                out.extend_from_slice(&caller_port.to_be_bytes());
            }
        }
        out
    }

    /// Never panics; `None` for anything malformed (including trailing bytes).
    pub fn decode(bytes: &'a [u8]) -> Option<RelayMessage<'a>> {
        let exact = |len: usize| (bytes.len() == len).then_some(());
        Some(match *bytes.first()? {
            LISTEN => {
                exact(5)?;
                RelayMessage::Listen { vport: be_u32(bytes, 1)? }
            }
            UNLISTEN => {
                exact(5)?;
                RelayMessage::Unlisten { vport: be_u32(bytes, 1)? }
            }
            CONNECT => {
                exact(17)?;
                RelayMessage::Connect { route: be_u32(bytes, 1)?, target: be_u64(bytes, 5)?, vport: be_u32(bytes, 13)? }
            }
            INCOMING => {
                exact(17)?;
                RelayMessage::Incoming { route: be_u32(bytes, 1)?, from: be_u64(bytes, 5)?, vport: be_u32(bytes, 13)? }
            }
            FORWARD => RelayMessage::Forward { route: be_u32(bytes, 1)?, datagram: bytes.get(FORWARD_OVERHEAD..)? },
            CLOSE_ROUTE => {
                exact(5)?;
                RelayMessage::CloseRoute { route: be_u32(bytes, 1)? }
            }
            OBSERVED => {
                let (address, len) = steamnet_proto::address::take(&bytes[1..])?;
                exact(1 + len)?;
                RelayMessage::Observed { address }
            }
            FAKE_IP_REQUEST => {
                exact(2)?;
                RelayMessage::FakeIpRequest { ports: bytes[1] }
            }
            FAKE_IP => {
                let count = usize::from(*bytes.get(5)?);
                exact(6 + 2 * count)?;
                let ports = (0..count).map(|i| u16::from_be_bytes([bytes[6 + 2 * i], bytes[7 + 2 * i]])).collect();
                RelayMessage::FakeIp { ip: be_u32(bytes, 1)?, ports }
            }
            CONNECT_FAKE => {
                exact(11)?;
                RelayMessage::ConnectFake {
                    route: be_u32(bytes, 1)?,
                    ip: be_u32(bytes, 5)?,
                    port: u16::from_be_bytes([bytes[9], bytes[10]]),
                }
            }
            TOKEN => {
                exact(9)?;
                RelayMessage::Token { token: be_u64(bytes, 1)? }
            }
            INCOMING_FAKE => {
                exact(23)?;
                RelayMessage::IncomingFake {
                    route: be_u32(bytes, 1)?,
                    from: be_u64(bytes, 5)?,
                    vport: be_u32(bytes, 13)?,
                    caller_ip: be_u32(bytes, 17)?,
                    caller_port: u16::from_be_bytes([bytes[21], bytes[22]]),
                }
            }
            HOSTED_LISTEN => {
                exact(5)?;
                RelayMessage::HostedListen { vport: be_u32(bytes, 1)? }
            }
            TICKET_REQUEST => {
                exact(13)?;
                RelayMessage::TicketRequest { server: be_u64(bytes, 1)?, vport: be_u32(bytes, 9)? }
            }
            TICKET => {
                let ticket = bytes.get(13..)?;
                (ticket.is_empty() || ticket.len() == crate::ticket::TICKET_LEN).then_some(())?;
                RelayMessage::Ticket { server: be_u64(bytes, 1)?, vport: be_u32(bytes, 9)?, ticket }
            }
            CONNECT_HOSTED => {
                // Any length: a wrong one is a bad ticket, which the relay refuses as such.
                RelayMessage::ConnectHosted { route: be_u32(bytes, 1)?, ticket: bytes.get(5..)? }
            }
            REFUSED => {
                let text = std::str::from_utf8(bytes.get(9..)?).ok()?;
                (text.len() <= MAX_REFUSED_TEXT).then_some(())?;
                RelayMessage::Refused { route: be_u32(bytes, 1)?, reason: be_u32(bytes, 5)?, text }
            }
            POP => {
                let code = std::str::from_utf8(&bytes[1..]).ok()?;
                is_pop_code(code).then_some(())?;
                RelayMessage::Pop { code }
            }
            PEER_HELLO => {
                let proof: [u8; 64] = bytes.get(1..65)?.try_into().ok()?;
                let code = std::str::from_utf8(&bytes[65..]).ok()?;
                is_pop_code(code).then_some(())?;
                RelayMessage::PeerHello { proof, code }
            }
            PEER_CONNECT => {
                exact(32)?;
                RelayMessage::PeerConnect {
                    route: be_u32(bytes, 1)?,
                    from: be_u64(bytes, 5)?,
                    target: be_u64(bytes, 13)?,
                    vport: be_u32(bytes, 21)?,
                    kind: bytes[25],
                    caller_ip: be_u32(bytes, 26)?,
                    caller_port: u16::from_be_bytes([bytes[30], bytes[31]]),
                }
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod relay_tests {
    use super::*;

    #[test]
    fn relay_messages_round_trip_and_refuse_junk() {
        let datagram = [1, 2, 3];
        for m in [
            RelayMessage::Listen { vport: 7 },
            RelayMessage::Unlisten { vport: 7 },
            RelayMessage::Connect { route: 1, target: 76561197960265729, vport: 0 },
            RelayMessage::Incoming { route: 2, from: 5, vport: 9 },
            RelayMessage::Forward { route: 3, datagram: &datagram },
            RelayMessage::Forward { route: 3, datagram: &[] },
            RelayMessage::CloseRoute { route: 4 },
            RelayMessage::Observed { address: "192.0.2.7:27015".parse().unwrap() },
            RelayMessage::Observed { address: "[2001:db8::1]:9".parse().unwrap() },
            RelayMessage::FakeIpRequest { ports: 2 },
            RelayMessage::FakeIp { ip: 0xa9fe_0102, ports: vec![27015, 40000] },
            RelayMessage::FakeIp { ip: 0, ports: vec![] },
            RelayMessage::ConnectFake { route: 3, ip: 0xa9fe_0102, port: 27015 },
            RelayMessage::IncomingFake { route: 4, from: 5, vport: FAKE_PORT_VPORT, caller_ip: 1, caller_port: 2 },
            RelayMessage::Token { token: u64::MAX },
            RelayMessage::HostedListen { vport: 27015 },
            RelayMessage::TicketRequest { server: 76561197960265729, vport: 27015 },
            RelayMessage::Ticket { server: 1, vport: 2, ticket: &[] },
            RelayMessage::Ticket { server: 1, vport: 2, ticket: &[7; crate::ticket::TICKET_LEN] },
            RelayMessage::ConnectHosted { route: 5, ticket: &[] },
            RelayMessage::ConnectHosted { route: 5, ticket: &[1, 2, 3] },
            RelayMessage::Refused { route: 5, reason: 3005, text: "no ticket" },
            RelayMessage::Pop { code: "fra" },
            RelayMessage::PeerHello { proof: [7; 64], code: "ams" },
            RelayMessage::PeerConnect { route: 1, from: 2, target: 3, vport: 4, kind: 2, caller_ip: 5, caller_port: 6 },
        ] {
            let bytes = m.encode();
            assert_eq!(RelayMessage::decode(&bytes), Some(m));
        }
        for junk in [
            &[][..],
            &[16, 0, 0, 0],
            &[16, 0, 0, 0, 0, 0],
            &[18; 16],
            &[20, 0, 0],
            &[99],
            &[22, 4, 1],
            &[22, 5, 0, 0, 0, 0, 0, 0],
            &[30, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 9],
            &[32, 0, 0, 0, 1, 0, 0, 0, 2, 0xff],
            &[33],
            &[33, b'f', b'r', b'a', b'n', b'k'],
            &[33, b'-'],
            &[34, 1, 2],
            &[35, 0, 0],
        ] {
            assert_eq!(RelayMessage::decode(junk), None, "{junk:?}");
        }
        // A CA request is not a relay message and the other way round.
        assert_eq!(RelayMessage::decode(&CaMessage::Request { app_id: 1 }.encode()), None);
        assert_eq!(CaMessage::decode(&RelayMessage::Listen { vport: 1 }.encode()), None);
    }
}
