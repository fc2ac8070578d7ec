//! Who may start a handshake on a listening endpoint, in O(1) per HELLO: caps on half-open
//! handshakes (each costs the server a Diffie-Hellman and a slot) and on connections, in total
//! and per source IP, and a rate of handshakes per source IP, so one host, or a crowd of
//! hosts, cannot crowd out everyone else. IPv6 sources count by their /64, which one host
//! usually has whole.

use std::collections::HashMap;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionLimits {
    /// Half-open handshakes at once, from everyone.
    pub max_half_open: usize,
    /// Half-open handshakes at once from one IP address.
    pub max_half_open_per_ip: u32,
    /// Connections (in any phase) a listening endpoint holds at once.
    pub max_connections: usize,
    /// Connections (in any phase) from one IP address.
    pub max_connections_per_ip: u32,
    /// Handshakes one IP address may start per second, after a burst of `max_half_open_per_ip`,
    /// while the server is under pressure (the half-open table at least half full). Otherwise
    /// unlimited, so a LAN behind one address or a loopback test can connect hundreds at once.
    pub handshakes_per_sec_per_ip: u32,
}

impl Default for AdmissionLimits {
    fn default() -> Self {
        AdmissionLimits {
            max_half_open: 1024,
            max_half_open_per_ip: 16,
            max_connections: 65_536,
            max_connections_per_ip: 1024,
            handshakes_per_sec_per_ip: 16,
        }
    }
}

/// Why a handshake was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every half-open slot is taken (by many addresses): the caller may evict the oldest.
    HalfOpenFull,
    /// This address has its share of half-open handshakes.
    HalfOpenPerIp,
    /// Too many connections, in total or from this address.
    Connections,
}

#[derive(Debug, Default, Clone, Copy)]
struct PerIp {
    half_open: u32,
    connections: u32,
    /// Handshake tokens left (a bucket refilled at `handshakes_per_sec_per_ip`), as of `at`.
    tokens: f32,
    at: u64,
}

/// The key an address is counted under.
fn source(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::V6(octets.into())
        }
    }
}

/// Counts kept as handshakes start, finish and connections go away.
#[derive(Debug, Default)]
pub struct Admission {
    limits: AdmissionLimits,
    half_open: usize,
    connections: usize,
    by_ip: HashMap<IpAddr, PerIp>,
    /// HELLOs turned away by a limit.
    pub refused: u64,
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Admission {
        Admission { limits, ..Admission::default() }
    }

    /// Room for a new handshake from `ip` at `now`? If so it is counted as half-open from now on.
    pub fn try_admit(&mut self, now: u64, ip: IpAddr) -> Result<(), Refusal> {
        let ip = source(ip);
        let l = &self.limits;
        let burst = l.max_half_open_per_ip as f32;
        let mut entry = self.by_ip.get(&ip).copied().unwrap_or(PerIp { tokens: burst, at: now, ..PerIp::default() });
        let elapsed = now.saturating_sub(entry.at) as f32 / 1e6;
        entry.tokens = (entry.tokens + elapsed * l.handshakes_per_sec_per_ip as f32).min(burst);
        entry.at = now;
        let under_pressure = self.half_open >= l.max_half_open / 2;
        let refusal = if entry.half_open >= l.max_half_open_per_ip || (under_pressure && entry.tokens < 1.0) {
            Some(Refusal::HalfOpenPerIp)
        } else if self.connections >= l.max_connections || entry.connections >= l.max_connections_per_ip {
            Some(Refusal::Connections)
        } else if self.half_open >= l.max_half_open {
            Some(Refusal::HalfOpenFull)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.refused += 1;
            if entry.connections > 0 {
                self.by_ip.insert(ip, entry);
            }
            return Err(refusal);
        }
        entry.tokens = (entry.tokens - 1.0).max(0.0);
        entry.half_open += 1;
        entry.connections += 1;
        self.by_ip.insert(ip, entry);
        self.half_open += 1;
        self.connections += 1;
        Ok(())
    }

    /// A handshake from `ip` completed: it no longer counts as half-open.
    pub fn handshake_done(&mut self, ip: IpAddr) {
        if let Some(entry) = self.by_ip.get_mut(&source(ip)) {
            entry.half_open = entry.half_open.saturating_sub(1);
            self.half_open = self.half_open.saturating_sub(1);
        }
    }

    /// A connection from `ip` is gone; `half_open` says whether it never finished its handshake.
    pub fn release(&mut self, ip: IpAddr, half_open: bool) {
        if half_open {
            self.handshake_done(ip);
        }
        let ip = source(ip);
        if let Some(entry) = self.by_ip.get_mut(&ip) {
            entry.connections = entry.connections.saturating_sub(1);
            self.connections = self.connections.saturating_sub(1);
            if entry.connections == 0 {
                self.by_ip.remove(&ip);
            }
        }
    }

    pub fn half_open(&self) -> usize {
        self.half_open
    }

    /// Half-open handshakes from `ip`'s source now.
    pub fn half_open_from(&self, ip: IpAddr) -> u32 {
        self.by_ip.get(&source(ip)).map_or(0, |entry| entry.half_open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, last))
    }

    #[test]
    fn one_address_cannot_take_every_slot() {
        let mut a = Admission::new(AdmissionLimits { max_half_open_per_ip: 3, ..Default::default() });
        for _ in 0..3 {
            assert!(a.try_admit(0, ip(2)).is_ok());
        }
        assert_eq!(a.try_admit(0, ip(2)), Err(Refusal::HalfOpenPerIp), "the flooder is at its share");
        assert!(a.try_admit(0, ip(1)).is_ok(), "an honest host still gets in");
        a.handshake_done(ip(2));
        assert!(a.try_admit(1_000_000, ip(2)).is_ok(), "a finished handshake frees a half-open slot");
        assert_eq!(a.refused, 1);
    }

    #[test]
    fn counts_return_to_zero() {
        let mut a = Admission::new(AdmissionLimits { max_connections_per_ip: 2, ..Default::default() });
        assert!(a.try_admit(0, ip(1)).is_ok() && a.try_admit(0, ip(1)).is_ok());
        assert_eq!(a.try_admit(0, ip(1)), Err(Refusal::Connections));
        a.handshake_done(ip(1));
        a.release(ip(1), false);
        a.release(ip(1), true);
        assert_eq!(a.half_open(), 0);
        assert!(a.by_ip.is_empty());
        assert!(a.try_admit(0, ip(1)).is_ok());
        let mut full = Admission::new(AdmissionLimits { max_half_open: 2, ..Default::default() });
        assert!(full.try_admit(0, ip(1)).is_ok() && full.try_admit(0, ip(2)).is_ok());
        assert_eq!(full.try_admit(0, ip(3)), Err(Refusal::HalfOpenFull), "the caller may evict the oldest");
    }

    #[test]
    fn handshakes_per_address_are_rate_limited_under_pressure() {
        let limits = AdmissionLimits { max_half_open_per_ip: 4, handshakes_per_sec_per_ip: 2, ..Default::default() };
        let mut calm = Admission::new(limits);
        for _ in 0..100 {
            assert!(calm.try_admit(0, ip(9)).is_ok(), "no rate limit while the table is mostly empty");
            calm.handshake_done(ip(9));
        }
        let mut a = Admission::new(AdmissionLimits { max_half_open: 8, ..limits });
        for last in 20..24 {
            assert!(a.try_admit(0, ip(last)).is_ok()); // half the table: pressure
        }
        for _ in 0..4 {
            assert!(a.try_admit(0, ip(9)).is_ok());
            a.handshake_done(ip(9));
        }
        assert_eq!(a.try_admit(0, ip(9)), Err(Refusal::HalfOpenPerIp), "burst used up");
        assert!(a.try_admit(500_000, ip(9)).is_ok(), "one more after half a second at 2/s");
        assert_eq!(a.try_admit(500_000, ip(9)), Err(Refusal::HalfOpenPerIp));
        // A whole IPv6 /64 is one source.
        let mut b = Admission::new(limits);
        let v6 = |last: u16| IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, last));
        for i in 0..4 {
            assert!(b.try_admit(0, v6(i)).is_ok());
        }
        assert_eq!(b.try_admit(0, v6(99)), Err(Refusal::HalfOpenPerIp));
    }
}
