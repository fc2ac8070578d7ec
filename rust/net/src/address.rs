//! Address strings as GodotSteam converts them (`SteamNetworkingIPAddr::ParseString`/`ToString`).
//!
//! In: `"a.b.c.d:port"` or `"[v6]:port"`; a bare IP means port 0; anything unparsable is the
//! cleared address (`::`, port 0). Out: the IP without brackets or port for connection info, and
//! `ip:port` / `[v6]:port` where a port is wanted. IPv4-mapped IPv6 addresses print as IPv4.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The cleared address GNS uses for "unknown": `[::]:0`.
pub const CLEARED: SocketAddr = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0);

/// Parse an address the way GodotSteam does. `None` means unparsable, which callers treat as
/// [`CLEARED`] (GodotSteam passes the cleared address on).
pub fn parse_ip_port(text: &str) -> Option<SocketAddr> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Some(addr);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 0));
    }
    // "[v6]" without a port.
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<Ipv6Addr>().ok().map(|ip| SocketAddr::new(IpAddr::V6(ip), 0))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The IP alone: dotted IPv4, RFC 5952 IPv6 without brackets.
pub fn format_ip(ip: IpAddr) -> String {
    canonical(ip).to_string()
}

/// `a.b.c.d:port` or `[v6]:port`.
pub fn format_ip_port(addr: SocketAddr) -> String {
    SocketAddr::new(canonical(addr.ip()), addr.port()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_godotsteam_accepts() {
        assert_eq!(parse_ip_port("127.0.0.1:27015"), Some("127.0.0.1:27015".parse().unwrap()));
        assert_eq!(parse_ip_port("[::1]:5"), Some("[::1]:5".parse().unwrap()));
        assert_eq!(parse_ip_port("10.0.0.1"), Some("10.0.0.1:0".parse().unwrap()));
        assert_eq!(parse_ip_port("[::1]"), Some("[::1]:0".parse().unwrap()));
        assert_eq!(parse_ip_port("not an address"), None);
        assert_eq!(parse_ip_port("1.2.3.4:99999"), None);
        assert_eq!(parse_ip_port(""), None);
    }

    #[test]
    fn formats_without_and_with_port() {
        assert_eq!(format_ip("127.0.0.1".parse().unwrap()), "127.0.0.1");
        assert_eq!(format_ip("::ffff:10.1.2.3".parse().unwrap()), "10.1.2.3");
        assert_eq!(format_ip(CLEARED.ip()), "::");
        assert_eq!(format_ip_port("[2001:db8::1]:80".parse().unwrap()), "[2001:db8::1]:80");
        assert_eq!(format_ip_port("1.2.3.4:7".parse().unwrap()), "1.2.3.4:7");
    }
}
