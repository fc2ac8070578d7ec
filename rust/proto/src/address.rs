//! Socket addresses on the wire (candidates for direct paths, the address a relay observed):
//! a family byte (4 or 6), the IP's bytes, then the port, big-endian. Also where to bind to
//! reach an address.

use std::net::{IpAddr, SocketAddr};

/// Where to bind a socket that will talk to `peer`: any local address of its family, any port.
pub fn any_local_for(peer: SocketAddr) -> SocketAddr {
    match peer.ip() {
        IpAddr::V4(_) => SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0),
        IpAddr::V6(_) => SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), 0),
    }
}

/// Append `address`'s encoding (7 bytes for IPv4, 19 for IPv6).
pub fn put(out: &mut Vec<u8>, address: SocketAddr) {
    match address.ip() {
        IpAddr::V4(ip) => {
            out.push(4);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(6);
            out.extend_from_slice(&ip.octets());
        }
    }
    out.extend_from_slice(&address.port().to_be_bytes());
}

/// Decode an address from the front of `bytes`: it and the bytes it took. Never panics.
pub fn take(bytes: &[u8]) -> Option<(SocketAddr, usize)> {
    let (ip, len): (IpAddr, usize) = match *bytes.first()? {
        4 => (<[u8; 4]>::try_from(bytes.get(1..5)?).ok()?.into(), 4),
        6 => (<[u8; 16]>::try_from(bytes.get(1..17)?).ok()?.into(), 16),
        _ => return None,
    };
    let port = u16::from_be_bytes(bytes.get(1 + len..3 + len)?.try_into().ok()?);
    Some((SocketAddr::new(ip, port), 3 + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_short_or_unknown_input() {
        for text in ["192.0.2.1:27015", "[2001:db8::7]:1"] {
            let address: SocketAddr = text.parse().unwrap();
            let mut out = vec![];
            put(&mut out, address);
            assert_eq!(take(&out), Some((address, out.len())));
            assert_eq!(take(&out[..out.len() - 1]), None);
        }
        assert_eq!(take(&[5, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(take(&[]), None);
    }
}
