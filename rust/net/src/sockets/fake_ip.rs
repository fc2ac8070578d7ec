//! FakeIP (`beginAsyncRequestFakeIP`, `getFakeIP`, `createListenSocketP2PFakeIP`,
//! `connectByIPAddress` to a FakeIP, `getRemoteFakeIPForConnection`): addresses in GNS's
//! 169.254.0.0/16 range that the relay hands out, one per relay session, so that code written
//! for IP addresses reaches players by P2P. A FakeIP lasts as long as our session with the
//! relay; the relay never gives one to two live sessions.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use steamnet_relay::messages::{FAKE_PORT_VPORT, MAX_FAKE_PORTS, RelayMessage};

use super::relay_link::Route;
use super::udp::pump;
use super::*;

/// `k_ESteamNetworkingFakeIPType_GlobalIPv4`.
const FAKE_IP_TYPE_GLOBAL_IPV4: i32 = 2;
/// `k_ESteamNetworkingIdentityType_SteamID`.
const IDENTITY_TYPE_STEAM_ID: i32 = 16;

#[derive(Debug, Default)]
pub(super) struct FakeIpState {
    /// A request is out.
    pending: bool,
    /// What the relay gave us.
    granted: Option<(Ipv4Addr, Vec<u16>)>,
}

/// Whether `ip` is in GNS's FakeIP range.
pub fn is_fake_ip(ip: std::net::IpAddr) -> bool {
    matches!(ip, std::net::IpAddr::V4(v4) if v4.octets()[..2] == [169, 254])
}

impl State {
    pub(super) fn fake_ip_answered(&mut self, ip: u32, ports: Vec<u16>) {
        self.fake_ip.pending = false;
        let identity = self.local_identity.steam_id64();
        let (result, ip) = if ports.is_empty() {
            (SteamResult::InvalidParam, Ipv4Addr::UNSPECIFIED)
        } else {
            let ip = Ipv4Addr::from(ip);
            self.fake_ip.granted = Some((ip, ports.clone()));
            (SteamResult::Ok, ip)
        };
        let mut list = [0u16; 8];
        for (slot, port) in list.iter_mut().zip(&ports) {
            *slot = *port;
        }
        self.events.push(Event::FakeIpResult {
            result: result.code(),
            identity,
            fake_ip: if ip.is_unspecified() { String::new() } else { ip.to_string() },
            ports: list,
        });
    }

    /// The relay session is gone, and our FakeIP with it.
    pub(super) fn fake_ip_lost(&mut self, why: &str) {
        if self.fake_ip.pending {
            self.fake_ip.pending = false;
            tracing::warn!("FakeIP request failed: {why}");
            let identity = self.local_identity.steam_id64();
            self.events.push(Event::FakeIpResult {
                result: SteamResult::NoConnection.code(),
                identity,
                fake_ip: String::new(),
                ports: [0; 8],
            });
        }
        self.fake_ip.granted = None;
    }
}

impl Sockets {
    /// `BeginAsyncRequestFakeIP`: ask the relay for a FakeIP with `num_ports` ports (1 to 4,
    /// as on Steam). `false` if a request is already out, or the arguments or the relay make
    /// it impossible. `fake_ip_result` follows.
    pub fn begin_async_request_fake_ip(&self, num_ports: i64) -> bool {
        let Ok(ports) = u8::try_from(num_ports) else { return false };
        if ports == 0 || ports > MAX_FAKE_PORTS || self.lock().fake_ip.pending {
            return false;
        }
        let Some((mut state, key, _, _, now)) = self.p2p_call("beginAsyncRequestFakeIP", 0, &[]) else { return false };
        state.fake_ip.pending = true;
        if let Some(mut ep) = state.endpoints.lock(key)
            && let Some(link) = ep.relay.as_mut()
        {
            link.send_reliable(now, RelayMessage::FakeIpRequest { ports }.encode());
        }
        pump(&mut state, key, now);
        true
    }

    /// `GetFakeIP`: our FakeIP and its ports.
    pub fn fake_ip(&self, first_port: i64) -> FakeIpInfo {
        let state = self.lock();
        let failed = |result| FakeIpInfo { result, identity_type: 0, ip: String::new(), ports: [0; 8] };
        if first_port != 0 {
            return failed(SteamResult::InvalidParam);
        }
        if state.fake_ip.pending {
            return failed(SteamResult::Busy);
        }
        let Some((ip, ports)) = &state.fake_ip.granted else { return failed(SteamResult::NoMatch) };
        let mut list = [0u16; 8];
        for (slot, port) in list.iter_mut().zip(ports) {
            *slot = *port;
        }
        FakeIpInfo { result: SteamResult::Ok, identity_type: IDENTITY_TYPE_STEAM_ID, ip: ip.to_string(), ports: list }
    }

    /// `CreateListenSocketP2PFakeIP`: accept calls to our FakeIP's port number `fake_port`
    /// (an index into the ports `getFakeIP` lists).
    pub fn create_listen_socket_p2p_fake_ip(&self, fake_port: i64, options: &[(i64, ConfigInput)]) -> Handle {
        let granted = self.lock().fake_ip.granted.as_ref().map(|(_, ports)| ports.len());
        let Some(index) = usize::try_from(fake_port).ok().filter(|&i| granted.is_some_and(|n| i < n)) else {
            tracing::warn!(
                fake_port,
                "createListenSocketP2PFakeIP: no such FakeIP port (call beginAsyncRequestFakeIP first)"
            );
            return INVALID_HANDLE;
        };
        let vport = i64::from(FAKE_PORT_VPORT) + index as i64;
        let Some((mut state, key, vport, config, now)) = self.p2p_call("createListenSocketP2PFakeIP", vport, options)
        else {
            return INVALID_HANDLE;
        };
        self.listen_p2p(&mut state, key, vport, config, false, now)
    }

    /// `ConnectByIPAddress` to a FakeIP: a P2P call through the relay to its owner.
    pub(super) fn connect_fake_ip(&self, fake: SocketAddrV4, options: &[(i64, ConfigInput)]) -> Handle {
        let Some((mut state, key, _, config, now)) = self.p2p_call("connectByIPAddress (FakeIP)", 0, options) else {
            return INVALID_HANDLE;
        };
        let route = Route { fake: Some(fake), ..Route::p2p(0, 0) };
        self.open_p2p_call(&mut state, key, route, Identity::Ip(SocketAddr::V4(fake)), config, now)
    }

    /// `GetRemoteFakeIPForConnection`: the FakeIP a connection was made to, or came from.
    pub fn remote_fake_ip(&self, handle: Handle) -> (SteamResult, Option<SocketAddrV4>) {
        let state = self.lock();
        let Some(conn) = state.connections.get(&handle) else { return (SteamResult::InvalidParam, None) };
        let Transport::Udp { endpoint, id } = conn.transport else { return (SteamResult::IpNotFound, None) };
        let fake = state.endpoints.lock(endpoint).and_then(|ep| {
            let route = super::p2p::route_for(&ep.endpoint, id)?;
            ep.relay.as_ref()?.routes.get(&route)?.fake
        });
        match fake {
            Some(fake) => (SteamResult::Ok, Some(fake)),
            None => (SteamResult::IpNotFound, None),
        }
    }
}

/// `ip_type` of a FakeIP we report.
pub fn fake_ip_type() -> i32 {
    FAKE_IP_TYPE_GLOBAL_IPV4
}
