//! Direct paths for P2P connections (our ICE): once a relayed connection is up, each side offers
//! the addresses it can be reached at (as `P2P_TRANSPORT_ICE_ENABLE` allows: private, public),
//! opens its NAT towards the peer's, and the endpoint validates each candidate path. A direct
//! path that answers, and is not much slower than the relay, takes over; the relay stays as the
//! fallback.

use super::relay_link::route_of;
use super::udp::EndpointKey;
use super::*;
use steamnet_proto::endpoint::ConnectionId;

/// How much worse than the relay path (round trip) a direct path may be and still be taken.
const DIRECT_PREFERENCE_USEC: i64 = 10_000;

/// `P2P_TRANSPORT_ICE_ENABLE` bits (`k_nSteamNetworkingConfig_P2P_Transport_ICE_Enable_*`).
mod enable {
    pub const PRIVATE: i32 = 2;
    pub const PUBLIC: i32 = 4;
}

/// The `P2P_TRANSPORT_ICE_ENABLE` mask of connection `handle` (0 if it is gone).
fn ice_mask(state: &State, handle: Handle) -> i32 {
    state.connections.get(&handle).map_or(0, |c| c.config.int32(crate::config::ids::P2P_TRANSPORT_ICE_ENABLE))
}

/// Whether `address` is a private (LAN, loopback, link-local) address rather than a public one.
fn is_private(address: SocketAddr) -> bool {
    match address.ip() {
        std::net::IpAddr::V4(ip) => ip.is_private() || ip.is_loopback() || ip.is_link_local(),
        std::net::IpAddr::V6(ip) => {
            ip.is_loopback() || (ip.segments()[0] & 0xfe00) == 0xfc00 || (ip.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Whether ICE mask `mask` lets `address` be used as a direct path.
fn ice_allows(mask: i32, address: SocketAddr) -> bool {
    route_of(address).is_none() && mask & if is_private(address) { enable::PRIVATE } else { enable::PUBLIC } != 0
}

/// Where this side can be reached directly: the P2P socket's port on the local address that
/// routes to the relay, and the address the relay sees (behind a NAT, the public one).
fn candidates(ep: &super::udp::UdpEndpoint) -> Vec<SocketAddr> {
    let Some(link) = ep.relay.as_ref() else { return Vec::new() };
    let mut out = Vec::new();
    if let Ok(local) = ep.local_addr() {
        let probe = std::net::UdpSocket::bind(SocketAddr::new(local.ip(), 0))
            .and_then(|s| s.connect(link.relay).and_then(|()| s.local_addr()));
        if let Ok(routed) = probe
            && !routed.ip().is_unspecified()
        {
            out.push(SocketAddr::new(routed.ip(), local.port()));
        }
    }
    out.extend(link.observed);
    out.dedup();
    out
}

/// A relayed connection is established: note its relay path as the one to fall back to, and
/// offer our direct addresses if ICE is enabled for it.
pub(super) fn on_connected(state: &mut State, key: EndpointKey, id: ConnectionId, handle: Handle) {
    let mask = ice_mask(state, handle);
    let Some(mut ep) = state.endpoints.lock(key) else { return };
    let Some(relayed) = ep.endpoint.peer_address(id).filter(|a| route_of(*a).is_some()) else { return };
    ep.endpoint.set_fallback_path(id, relayed);
    let offer: Vec<SocketAddr> = candidates(&ep).into_iter().filter(|&a| ice_allows(mask, a)).collect();
    if !offer.is_empty() {
        tracing::debug!(target: category::P2P_RENDEZVOUS, id, ?offer, "offering direct paths");
        ep.endpoint.send_candidates(id, &offer);
    }
}

/// The peer offered direct addresses: check those our ICE setting allows.
///
/// Each check starts with an *opener*: a one-byte datagram with a TTL of 2, enough to leave
/// our own NAT (which then maps our socket to the peer's address) but not to reach the peer's
/// NAT. A NAT that meets a packet from an address it has no mapping for yet notes the flow
/// (Linux's conntrack does) and would later give our peer's own outgoing packets another port;
/// openers first and challenges a moment later let both NATs map before anything crosses.
pub(super) fn on_candidates(state: &mut State, key: EndpointKey, id: ConnectionId, addresses: &[SocketAddr], now: u64) {
    let Some(handle) = state.endpoints.lock(key).and_then(|ep| ep.handles.get(&id).copied()) else { return };
    let mask = ice_mask(state, handle);
    let Some(mut ep) = state.endpoints.lock(key) else { return };
    for &address in addresses.iter().filter(|&&a| ice_allows(mask, a)) {
        ep.send_opener(address);
        ep.endpoint.probe_path(now, id, address);
    }
}

/// A direct path answered after `rtt_usec`: take it if it scores better than the relay path.
pub(super) fn on_path_validated(
    state: &mut State,
    key: EndpointKey,
    id: ConnectionId,
    address: SocketAddr,
    rtt_usec: u64,
    now: u64,
) {
    let Some(mut ep) = state.endpoints.lock(key) else { return };
    let Some(&handle) = ep.handles.get(&id) else { return };
    let Some(conn) = state.connections.get(&handle) else { return };
    if ep.endpoint.peer_address(id).and_then(route_of).is_none() {
        return; // already direct
    }
    let penalty = |id: i32| i64::from(conn.config.int32(id).max(0)) * 1000;
    let relay_rtt = ep.endpoint.session(id).and_then(|s| s.stats().smoothed_rtt_usec).unwrap_or(u64::MAX / 4) as i64;
    let direct = rtt_usec as i64 + penalty(crate::config::ids::P2P_TRANSPORT_ICE_PENALTY);
    // A direct path takes load off the relay, so it wins anything closer than this.
    let relayed = relay_rtt + penalty(crate::config::ids::P2P_TRANSPORT_SDR_PENALTY) + DIRECT_PREFERENCE_USEC;
    tracing::info!(target: category::P2P_RENDEZVOUS, id, %address, direct, relayed, "direct path works");
    if direct <= relayed {
        ep.endpoint.switch_path(now, id, address);
    }
}
