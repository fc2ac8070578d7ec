//! Who may start a handshake on a listening endpoint, in O(1) per HELLO: caps on half-open
//! handshakes (each costs the server a Diffie-Hellman and a slot) and on connections, in total
//! and per source IP, so one host cannot crowd out everyone else.

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
}

impl Default for AdmissionLimits {
    fn default() -> Self {
        AdmissionLimits {
            max_half_open: 1024,
            max_half_open_per_ip: 16,
            max_connections: 8192,
            max_connections_per_ip: 1024,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct PerIp {
    half_open: u32,
    connections: u32,
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

    /// Room for a new handshake from `ip`? If so it is counted as half-open from now on.
    pub fn try_admit(&mut self, ip: IpAddr) -> bool {
        let entry = self.by_ip.get(&ip).copied().unwrap_or_default();
        let l = &self.limits;
        if self.half_open >= l.max_half_open
            || entry.half_open >= l.max_half_open_per_ip
            || self.connections >= l.max_connections
            || entry.connections >= l.max_connections_per_ip
        {
            self.refused += 1;
            return false;
        }
        let entry = self.by_ip.entry(ip).or_default();
        entry.half_open += 1;
        entry.connections += 1;
        self.half_open += 1;
        self.connections += 1;
        true
    }

    /// A handshake from `ip` completed: it no longer counts as half-open.
    pub fn handshake_done(&mut self, ip: IpAddr) {
        if let Some(entry) = self.by_ip.get_mut(&ip) {
            entry.half_open = entry.half_open.saturating_sub(1);
            self.half_open = self.half_open.saturating_sub(1);
        }
    }

    /// A connection from `ip` is gone; `half_open` says whether it never finished its handshake.
    pub fn release(&mut self, ip: IpAddr, half_open: bool) {
        if half_open {
            self.handshake_done(ip);
        }
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
            assert!(a.try_admit(ip(2)));
        }
        assert!(!a.try_admit(ip(2)), "the flooder is at its share");
        assert!(a.try_admit(ip(1)), "an honest host still gets in");
        a.handshake_done(ip(2));
        assert!(a.try_admit(ip(2)), "a finished handshake frees a half-open slot");
        assert_eq!(a.refused, 1);
    }

    #[test]
    fn counts_return_to_zero() {
        let mut a = Admission::new(AdmissionLimits { max_connections_per_ip: 2, ..Default::default() });
        assert!(a.try_admit(ip(1)) && a.try_admit(ip(1)));
        assert!(!a.try_admit(ip(1)));
        a.handshake_done(ip(1));
        a.release(ip(1), false);
        a.release(ip(1), true);
        assert_eq!(a.half_open(), 0);
        assert!(a.by_ip.is_empty());
        assert!(a.try_admit(ip(1)));
    }
}
