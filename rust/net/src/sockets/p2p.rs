//! P2P by identity and virtual port, through the relay (`connectP2P`, `createListenSocketP2P`).
//!
//! Every P2P connection of one [`Sockets`] lives on one endpoint (role [`Role::P2P`]) with its
//! own UDP socket, which also carries the [`RelayLink`]: a steamnet connection to the relay on
//! which this installation, authenticated by its certificate, listens on virtual ports and
//! asks to reach other identities. The relay joins the two sides with a *route* and forwards
//! their datagrams. The peers' own handshake and packets run end to end inside, so the relay
//! forwards ciphertext it can neither read nor forge.
//!
//! The P2P endpoint addresses each relayed peer by a stand-in address in `100::/64` (IPv6's
//! discard-only prefix, RFC 6666, so never a real host) that names the route; sending to such
//! an address wraps the datagram in a FORWARD on the relay link. Everything else (handshake,
//! sessions, timers, accept, close, status) is the same code as for IP connections.
//!
//! Direct path (ICE-style): once connected, each side whose `P2P_TRANSPORT_ICE_ENABLE` allows
//! it sends the other, inside the encrypted connection, the addresses it can be reached at
//! (its socket's local address, and the public address the relay sees it at). Each side checks
//! the other's addresses with authenticated PATH_CHALLENGEs (both at once, which opens NAT
//! mappings both ways) and moves onto a direct path that answers unless the relay scores
//! better (`ping + P2P_TRANSPORT_ICE_PENALTY` against `ping + P2P_TRANSPORT_SDR_PENALTY`, with
//! 10 ms in the direct path's favour, since it spares the relay).
//! Sessions do not care which path carries their packets, so nothing is lost or duplicated
//! by the switch; if the direct path goes quiet for 3 s the connection returns to the relay.
//! A side with ICE disabled never reveals its addresses, so its connections stay relayed.

use std::net::SocketAddr;

use steamnet_proto::endpoint::{ConnectionId, Endpoint, EndpointConfig, EndpointEvent, generate_static_keypair};
use steamnet_relay::messages::RelayMessage;

pub(super) use super::relay_link::{RelayLink, Route};
use super::relay_link::{relayed_address, route_of};
use super::udp::{EndpointGuard, EndpointKey, ListenSocket, Role, pump};
use super::*;

/// Room a relayed datagram needs around it: the relay link's DATA header and tag, its frame
/// header and FORWARD's own bytes. P2P sessions make their packets this much smaller, so a
/// relayed datagram still fits the MTU.
const RELAY_OVERHEAD: usize = 64;

/// What the relay link did that the interface must act on.
pub(super) enum LinkNews {
    /// The link is gone, with why.
    Lost(String),
    /// The link is up.
    Up(String),
    /// The relay answered our FakeIP request (no ports: refused).
    FakeIp(u32, Vec<u16>),
    /// The relay refused the call on a route: the end reason and why.
    Refused(u32, i32, String),
    /// The relay lost a route's far end (the peer's POP went away).
    RouteLost(u32),
}

/// Run the relay link of `ep` (the P2P endpoint): its timers and events, and the messages the
/// relay sent. Datagrams for the endpoint go to it at once; what the interface must act on
/// waits in `link.news` for [`apply_link_news`].
pub(super) fn run_link(ep: &mut super::udp::UdpEndpoint, now: u64) {
    let Some(link) = ep.relay.as_mut() else { return };
    link.connect_if_ready(now);
    if link.control.poll_timeout().is_some_and(|t| t <= now) {
        link.control.handle_timeout(now);
    }
    if link.up {
        let due: Vec<u32> = link.calling.iter().filter(|&(_, &at)| at <= now).map(|(&r, _)| r).collect();
        for route in due {
            link.call(now, route);
        }
    }
    let mut news = Vec::new();
    while let Some(event) = link.control.poll_event() {
        match event {
            EndpointEvent::Connected { .. } => {
                link.up = true;
                tracing::info!(target: category::RELAY_PINGS, relay = %link.relay, "relay link up");
                news.push(LinkNews::Up(format!("Connected to {}.", link.describe())));
                let mut messages: Vec<Vec<u8>> = link
                    .listening
                    .keys()
                    .map(|&vport| {
                        if link.hosted.contains(&vport) {
                            RelayMessage::HostedListen { vport }.encode()
                        } else {
                            RelayMessage::Listen { vport }.encode()
                        }
                    })
                    .collect();
                messages.append(&mut link.waiting);
                for message in messages {
                    link.send_reliable(now, message);
                }
            }
            EndpointEvent::ClosedByPeer { text, .. } => {
                news.push(LinkNews::Lost(format!("the relay closed our session ({text})")))
            }
            EndpointEvent::ProblemDetected { .. } => {
                news.push(LinkNews::Lost(format!("cannot reach the relay at {}", link.relay)))
            }
            EndpointEvent::Refused { text, .. } => news.push(LinkNews::Lost(format!("refused the relay: {text}"))),
            EndpointEvent::Incoming { .. }
            | EndpointEvent::PathChanged { .. }
            | EndpointEvent::Candidates { .. }
            | EndpointEvent::PathValidated { .. } => {}
        }
    }
    if let Some(id) = link.conn {
        while let Some(message) = link.control.poll_message(id) {
            match RelayMessage::decode(&message.data) {
                Some(RelayMessage::Forward { route, datagram }) if link.routes.contains_key(&route) => {
                    ep.endpoint.handle_datagram(now, relayed_address(route), datagram);
                }
                Some(RelayMessage::Observed { address }) => link.observed = Some(address),
                Some(RelayMessage::Token { token }) => link.token = Some(token),
                Some(RelayMessage::Pop { code }) => {
                    link.pop = Some(code.to_string());
                    news.push(LinkNews::Up(format!("Connected to {}.", link.describe())));
                }
                Some(RelayMessage::Incoming { route, from, vport }) => {
                    if link.listening.contains_key(&vport) {
                        link.routes.insert(route, Route::p2p(from, vport));
                    } else {
                        link.send_reliable(now, RelayMessage::CloseRoute { route }.encode());
                    }
                }
                Some(RelayMessage::IncomingFake { route, from, vport, caller_ip, caller_port }) => {
                    if link.listening.contains_key(&vport) {
                        let fake = (caller_ip != 0).then(|| std::net::SocketAddrV4::new(caller_ip.into(), caller_port));
                        link.routes.insert(route, Route { fake, ..Route::p2p(from, vport) });
                    } else {
                        link.send_reliable(now, RelayMessage::CloseRoute { route }.encode());
                    }
                }
                Some(RelayMessage::FakeIp { ip, ports }) => news.push(LinkNews::FakeIp(ip, ports)),
                Some(RelayMessage::Ticket { server, vport, ticket }) => {
                    let waiting: Vec<u32> = link
                        .calling
                        .keys()
                        .copied()
                        .filter(|r| {
                            link.routes
                                .get(r)
                                .is_some_and(|r| r.hosted.is_some() && (r.peer, r.vport) == (server, vport))
                        })
                        .collect();
                    if ticket.is_empty() {
                        let why = "the relay issued no ticket for this hosted server".to_string();
                        news.extend(
                            waiting.into_iter().map(|r| LinkNews::Refused(r, end_reason::LOCAL_RIGHTS, why.clone())),
                        );
                    } else {
                        link.tickets.insert((server, vport), ticket.to_vec());
                        for route in waiting {
                            link.call(now, route);
                        }
                    }
                }
                Some(RelayMessage::CloseRoute { route }) if link.routes.contains_key(&route) => {
                    news.push(LinkNews::RouteLost(route));
                }
                Some(RelayMessage::Refused { route, reason, text }) if link.routes.contains_key(&route) => {
                    let reason = i32::try_from(reason).unwrap_or(end_reason::MISC_GENERIC);
                    news.push(LinkNews::Refused(route, reason, format!("Relay refused the call: {text}")));
                }
                _ => {}
            }
        }
    }
    link.news.append(&mut news);
}

/// Act on what the relay link of endpoint `key` did: relay status, FakeIP answers, calls the
/// relay refused or lost, and a lost link.
pub(super) fn apply_link_news(state: &mut State, key: EndpointKey, news: Vec<LinkNews>, now: u64) {
    for item in news {
        match item {
            LinkNews::Lost(why) => lose_link(state, key, why, now),
            LinkNews::Up(message) => state.set_relay_status(availability::CURRENT, message),
            LinkNews::FakeIp(ip, ports) => state.fake_ip_answered(ip, ports),
            LinkNews::Refused(route, reason, text) => {
                if let Some(id) = connection_on_route(state, key, route) {
                    end_on_relay(state, key, id, reason, text);
                }
            }
            LinkNews::RouteLost(route) => {
                // Only a connection still on the relay path ends; a direct one goes on.
                if let Some(id) = connection_on_route(state, key, route)
                    && relayed(state, key, id) == Some(true)
                {
                    let why = "Relay: the route to the peer is gone (its relay POP went away)".to_string();
                    end_on_relay(state, key, id, end_reason::MISC_RELAY_CONNECTIVITY, why);
                }
            }
        }
    }
}

/// The relay link is gone: every connection whose path is the relay ends (there is no path
/// left); connections on a direct path go on without it. The next P2P call connects again.
fn lose_link(state: &mut State, key: EndpointKey, why: String, now: u64) {
    let Some(shared) = state.endpoints.shared(key) else { return };
    let mut guard = super::udp::lock_endpoint(key, &shared);
    let ep = &mut *guard;
    if let Some((link, sender)) = ep.link_and_sender() {
        // Another POP next time (if there is one), chosen by fresh pings.
        link.pops.fail(link.relay);
        link.pops.probe(now, sender);
    }
    let Some(link) = ep.relay.as_mut() else { return };
    tracing::warn!(relay = %link.relay, why = %why, "relay link lost");
    if let Some(id) = link.conn.take() {
        link.control.remove(id);
    }
    link.up = false;
    link.token = None;
    link.calling.clear();
    let relayed = |id: &ConnectionId| ep.endpoint.peer_address(*id).and_then(route_of).is_some();
    let (ended, direct): (Vec<ConnectionId>, Vec<ConnectionId>) = ep.handles.keys().copied().partition(relayed);
    let kept: Vec<u32> = direct.iter().filter_map(|&id| route_for(&ep.endpoint, id)).collect();
    link.routes.retain(|route, _| kept.contains(route));
    let retrying = !link.listening.is_empty();
    if retrying {
        // Listeners stay reachable: keep trying (each attempt takes up to TIMEOUT_INITIAL).
        link.start(now);
    }
    let relay = link.relay;
    let text = truncate_debug(&format!("Relay: {why}"));
    for &id in &ended {
        ep.endpoint.close(id, steamnet_proto::end_reason::MISC_RELAY_CONNECTIVITY, &text, false);
    }
    drop(guard);
    for id in ended {
        super::udp::end_connection(
            state,
            key,
            id,
            ConnectionState::ProblemDetectedLocally,
            end_reason::MISC_RELAY_CONNECTIVITY,
            text.clone(),
        );
    }
    state.fake_ip_lost(&why);
    let (status, next) = if retrying {
        (availability::RETRYING, "reconnecting")
    } else {
        (availability::FAILED, "P2P calls connect again")
    };
    state.set_relay_status(status, format!("Relay at {relay}: {why}; {next}."));
}

/// The connection of the P2P endpoint whose relay route is `route`, whichever path it is on.
fn connection_on_route(state: &State, key: EndpointKey, route: u32) -> Option<ConnectionId> {
    let ep = state.endpoints.lock(key)?;
    ep.handles.keys().copied().find(|&id| route_for(&ep.endpoint, id) == Some(route))
}

/// The relay refused our call, or lost its route: connection `id` ends at once, with `reason`.
fn end_on_relay(state: &mut State, key: EndpointKey, id: ConnectionId, reason: i32, text: String) {
    let text = truncate_debug(&text);
    let Some(mut ep) = state.endpoints.lock(key) else { return };
    ep.endpoint.close(id, reason as u32, &text, false);
    drop(ep);
    super::udp::end_connection(state, key, id, ConnectionState::ProblemDetectedLocally, reason, text);
}

fn truncate_debug(text: &str) -> String {
    steamnet_proto::session::truncate_close_text(text).to_string()
}

/// The P2P endpoint's config: P2P needs certificates both ways, and packets leave room for the
/// relay's wrapping.
pub(super) fn p2p_endpoint_config(mut config: EndpointConfig) -> EndpointConfig {
    config.allow_without_auth = 0;
    config.localhost_allow_without_auth = 0;
    config.session.max_packet_size = config.session.max_packet_size.saturating_sub(RELAY_OVERHEAD).max(100);
    config
}

impl State {
    /// What `read` makes of this installation's link to the relay (on the P2P endpoint), once
    /// made.
    pub(super) fn with_relay_link<R>(&self, read: impl FnOnce(&RelayLink) -> R) -> Option<R> {
        let ep = self.endpoints.lock(self.p2p_endpoint()?)?;
        ep.relay.as_deref().map(read)
    }

    /// The P2P endpoint, once made.
    pub(super) fn p2p_endpoint(&self) -> Option<EndpointKey> {
        self.endpoints.with_role(|role| role == Role::P2P).next()
    }

    /// The relay link's state changed: `getRelayNetworkStatus` and `relay_network_status`.
    fn set_relay_status(&mut self, relay: i32, message: String) {
        self.post_relay_status(relay, availability::CURRENT, message);
    }

    /// `config`: whether the relay could be worked out at all (its address, our certificate).
    fn post_relay_status(&mut self, relay: i32, config: i32, message: String) {
        let status = crate::events::RelayStatus {
            available: relay,
            // One relay: its round trip is measured by the link itself once it is up.
            ping_measurement: relay,
            available_config: config,
            available_relay: relay,
            debug_message: message,
        };
        if self.relay_status != status {
            tracing::info!(relay, message = %status.debug_message, "relay network status");
            self.relay_status = status.clone();
            self.events.push(Event::RelayNetworkStatus(status));
        }
    }
}

impl Sockets {
    /// `InitRelayNetworkAccess`: get a certificate if needed and connect to the relay now,
    /// so the first P2P call does not wait for it. Progress posts `relay_network_status`.
    pub fn init_relay_network_access(&self) {
        let auth = self.p2p_authentication();
        let now = self.inner.now();
        let mut state = self.lock();
        let result = auth.and_then(|()| self.p2p_endpoint(&mut state, now));
        if let Err(why) = result {
            state.post_relay_status(availability::FAILED, availability::FAILED, why);
        }
    }

    /// `GetRelayNetworkStatus`: the summary availability of the link to the relay.
    pub fn relay_network_status(&self) -> i32 {
        self.lock().relay_status.available
    }

    /// The whole `SteamRelayNetworkStatus_t`.
    pub fn relay_network_status_details(&self) -> crate::events::RelayStatus {
        self.lock().relay_status.clone()
    }

    /// The P2P endpoint and its relay link, made on first use; `Err` says why not.
    fn p2p_endpoint(&self, state: &mut State, now: u64) -> Result<EndpointKey, String> {
        let authenticated = !state.auth.certificate.is_empty();
        if let Some(key) = state.p2p_endpoint() {
            if authenticated
                && let Some(mut ep) = state.endpoints.lock(key)
                && let Some(link) = ep.relay.as_mut()
            {
                link.start(now);
            }
            return Ok(key);
        }
        let relays = state.auth.settings.relay_addresses()?;
        let relay = relays[0];
        // A relay address on this machine that nobody serves is ours to host (a saved
        // certificate means authentication may not have needed the CA, so it may not be up).
        if let Some(runtime) = self.runtime() {
            super::auth::host_local_ca(runtime.handle(), relay);
        }
        // A hosted dedicated server uses the UDP port it was given (SDR_LISTEN_PORT), as in GNS.
        let mut bind = steamnet_proto::address::any_local_for(relay);
        bind.set_port(state.hosted.listen_port);
        let config = ConnectionConfig::default().over(&state.global_config);
        let key = self
            .open_endpoint(state, bind, &config, true, Role::P2P)
            .ok_or_else(|| "cannot open a UDP socket".to_string())?;
        let static_key = state.static_key.get_or_insert_with(|| generate_static_keypair().0).clone();
        let certificate = state.auth.certificate.clone();
        let trust = state.trust();
        let mut ep = state.endpoints.lock(key).expect("just opened");
        let mut link = RelayLink::new(&relays, static_key.clone(), &config);
        link.pops.probe(now, ep.sender());
        link.control.set_credentials(static_key, certificate, trust);
        link.control.set_unix_time(now, steamnet_relay::unix_now());
        let status = if authenticated {
            link.start(now);
            (availability::ATTEMPTING, format!("Connecting to the relay at {relay}."))
        } else {
            (availability::WAITING, format!("Waiting for a certificate before connecting to the relay at {relay}."))
        };
        ep.relay = Some(Box::new(link));
        drop(ep);
        state.set_relay_status(status.0, status.1);
        Ok(key)
    }

    /// Make sure authentication is under way (P2P needs a certificate, as on Steam, where
    /// `ConnectP2P` starts it too). `Err` if it has failed.
    fn p2p_authentication(&self) -> Result<(), String> {
        let status = self.authentication_status();
        if matches!(status, availability::CURRENT | availability::ATTEMPTING) {
            return Ok(());
        }
        match self.init_authentication() {
            availability::CURRENT | availability::ATTEMPTING => Ok(()),
            _ => Err(self.lock().auth.message.clone()),
        }
    }

    /// What both P2P calls start with: the arguments checked, authentication under way, and
    /// the P2P endpoint. `None` (with the reason logged as `call`'s) if any of that fails.
    pub(super) fn p2p_call(
        &self,
        call: &str,
        virtual_port: i64,
        options: &[(i64, ConfigInput)],
    ) -> Option<(MutexGuard<'_, State>, EndpointKey, u32, ConnectionConfig, u64)> {
        let vport = u32::try_from(virtual_port).ok()?;
        let config = ConnectionConfig::from_options(options).ok()?;
        let auth = self.p2p_authentication();
        let now = self.inner.now();
        let mut state = self.lock();
        let config = config.over(&state.global_config);
        match auth.and_then(|()| self.p2p_endpoint(&mut state, now)) {
            Ok(key) => Some((state, key, vport, config, now)),
            Err(why) => {
                tracing::warn!("{call}: {why}");
                None
            }
        }
    }

    /// `ConnectP2P`: reach `remote`'s listen socket on `virtual_port` through the relay.
    pub fn connect_p2p(&self, remote: Identity, virtual_port: i64, options: &[(i64, ConfigInput)]) -> Handle {
        let Identity::SteamId(target) = remote else {
            tracing::warn!("connectP2P needs a Steam ID");
            return INVALID_HANDLE;
        };
        let Some((mut state, key, vport, config, now)) = self.p2p_call("connectP2P", virtual_port, options) else {
            return INVALID_HANDLE;
        };
        self.open_p2p_call(&mut state, key, Route::p2p(target, vport), Identity::SteamId(target), config, now)
    }

    /// Call along a new relay route: a connection handle, CONNECTING, and the handshake on its
    /// way (repeated CONNECTs until the relay joins the route).
    pub(super) fn open_p2p_call(
        &self,
        state: &mut State,
        key: EndpointKey,
        route: Route,
        remote: Identity,
        config: ConnectionConfig,
        now: u64,
    ) -> Handle {
        let handle = state.allocate_handle();
        let mut ep = state.endpoints.lock(key).expect("p2p endpoint");
        let link = ep.relay.as_mut().expect("p2p endpoint has a link");
        let route = link.new_route(route);
        link.call(now, route);
        let timeout = u64::from(config.int32(crate::config::ids::TIMEOUT_INITIAL).max(1) as u32) * 1000;
        let id = ep.endpoint.connect_within(now, relayed_address(route), timeout);
        ep.handles.insert(id, handle);
        ep.had_connection = true;
        drop(ep);
        let mut conn = Connection::new(remote, config, Transport::Udp { endpoint: key, id });
        conn.state = ConnectionState::Connecting;
        conn.info_flags = info_flags::UNAUTHENTICATED;
        state.connections.insert(handle, conn);
        state.post_status_change(handle, ConnectionState::None);
        pump(state, key, now);
        handle
    }

    /// `CreateListenSocketP2P`: accept `connectP2P` calls for `virtual_port`.
    pub fn create_listen_socket_p2p(&self, virtual_port: i64, options: &[(i64, ConfigInput)]) -> Handle {
        let Some((mut state, key, vport, config, now)) = self.p2p_call("createListenSocketP2P", virtual_port, options)
        else {
            return INVALID_HANDLE;
        };
        self.listen_p2p(&mut state, key, vport, config, false, now)
    }

    /// A listen socket for relay calls to `vport` (`hosted`: calls with a ticket to a hosted
    /// dedicated server); 0 if one listens there already.
    pub(super) fn listen_p2p(
        &self,
        state: &mut State,
        key: EndpointKey,
        vport: u32,
        config: ConnectionConfig,
        hosted: bool,
        now: u64,
    ) -> Handle {
        let taken = |ep: EndpointGuard<'_>| ep.relay.as_ref().is_some_and(|l| l.listening.contains_key(&vport));
        if state.endpoints.lock(key).is_some_and(taken) {
            tracing::warn!(vport, "already listening on this virtual port");
            return INVALID_HANDLE;
        }
        let handle = state.allocate_handle();
        state.listen_sockets.insert(handle, ListenSocket::relayed(key, config, vport));
        let mut ep = state.endpoints.lock(key).expect("p2p endpoint");
        let link = ep.relay.as_mut().expect("p2p endpoint has a link");
        link.listening.insert(vport, handle);
        if hosted {
            link.hosted.insert(vport);
            link.send_reliable(now, RelayMessage::HostedListen { vport }.encode());
        } else {
            link.send_reliable(now, RelayMessage::Listen { vport }.encode());
        }
        drop(ep);
        pump(state, key, now);
        handle
    }
}

/// Authentication finished: the P2P endpoint's link may connect now (with the new certificate),
/// or, if it failed, P2P connections waiting for it end.
pub(super) fn on_authentication(state: &mut State, now: u64, failure: Option<&str>) {
    let Some(key) = state.p2p_endpoint() else { return };
    match failure {
        None => {
            let started = state.endpoints.lock(key).and_then(|mut ep| {
                let link = ep.relay.as_mut()?;
                let relay = link.relay;
                link.conn.is_none().then(|| {
                    link.start(now);
                    relay
                })
            });
            if let Some(relay) = started {
                state.set_relay_status(availability::ATTEMPTING, format!("Connecting to the relay at {relay}."));
            }
            pump(state, key, now);
        }
        Some(why) => lose_link(state, key, format!("no certificate: {why}"), now),
    }
}

/// An incoming relayed connection reached the P2P endpoint: it belongs to the listen socket of
/// its route's virtual port, and must come from the identity the relay announced.
pub(super) fn incoming_listen_socket(
    state: &State,
    key: EndpointKey,
    address: SocketAddr,
    identity: Option<u64>,
) -> Option<Handle> {
    let ep = state.endpoints.lock(key)?;
    let link = ep.relay.as_ref()?;
    let route = link.routes.get(&route_of(address)?)?;
    (identity == Some(route.peer)).then(|| link.listening.get(&route.vport).copied()).flatten()
}

/// The relay route of connection `id` of the P2P endpoint, whichever path it is on now.
pub(super) fn route_for(endpoint: &Endpoint, id: ConnectionId) -> Option<u32> {
    route_of(endpoint.fallback_path(id).or_else(|| endpoint.peer_address(id))?)
}

/// What a relayed connection was meant to reach (identity 0: a FakeIP's owner, whoever it is).
pub(super) fn expected_peer(state: &State, key: EndpointKey, id: ConnectionId) -> Option<Route> {
    let ep = state.endpoints.lock(key)?;
    ep.relay.as_ref()?.routes.get(&route_for(&ep.endpoint, id)?).cloned()
}

/// A relayed connection is gone: let the relay free its route.
pub(super) fn release_route(link: &mut RelayLink, route: Option<u32>, now: u64) {
    link.answered(route);
    if let Some(route) = route
        && link.routes.remove(&route).is_some()
    {
        link.send_reliable(now, RelayMessage::CloseRoute { route }.encode());
    }
}

/// `CloseListenSocket` on a P2P listen socket: stop listening on its port; the connections it
/// accepted are destroyed with it, as in GNS. The P2P endpoint stays for the others.
pub(super) fn close_listen_socket(state: &mut State, key: EndpointKey, handle: Handle, vport: u32, now: u64) {
    let accepted: Vec<Handle> =
        state.connections.iter().filter(|(_, c)| c.listen_socket == handle).map(|(&h, _)| h).collect();
    let Some(mut ep) = state.endpoints.lock(key) else { return };
    if let Some(link) = ep.relay.as_mut() {
        link.listening.remove(&vport);
        link.hosted.remove(&vport);
        link.send_reliable(now, RelayMessage::Unlisten { vport }.encode());
    }
    for conn_handle in accepted {
        if let Some(Connection { transport: Transport::Udp { id, .. }, .. }) = state.connections.remove(&conn_handle) {
            ep.handles.remove(&id);
            ep.endpoint.close(id, 0, "", false);
            ep.lingering.push(id);
        }
    }
    drop(ep);
    pump(state, key, now);
}

/// For a P2P connection, whether it goes through the relay now (`None` for other connections).
pub(super) fn relayed(state: &State, key: EndpointKey, id: ConnectionId) -> Option<bool> {
    let ep = state.endpoints.lock(key)?;
    ep.relay.as_ref()?;
    Some(route_of(ep.endpoint.peer_address(id)?).is_some())
}

/// Which path a relayed connection uses, for the detailed status.
pub(super) fn path_summary(state: &State, key: EndpointKey, id: ConnectionId) -> String {
    let Some(ep) = state.endpoints.lock(key) else { return String::new() };
    let (Some(link), Some(peer)) = (ep.relay.as_ref(), ep.endpoint.peer_address(id)) else { return String::new() };
    let ping = ep
        .endpoint
        .session(id)
        .and_then(|s| s.stats().smoothed_rtt_usec)
        .map_or("-".to_string(), |rtt| format!("{:.1} ms", rtt as f64 / 1000.0));
    match route_of(peer) {
        Some(_) => format!("Path: relayed via {} (ping {ping})\n", link.describe()),
        None => format!("Path: direct to {peer} (ping {ping})\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stand_in_addresses_name_their_route() {
        for route in [1, 0xffff, 0x1_0000, u32::MAX] {
            assert_eq!(route_of(relayed_address(route)), Some(route));
        }
        assert_eq!(route_of("127.0.0.1:5".parse().unwrap()), None);
        assert_eq!(route_of("[::1]:5".parse().unwrap()), None);
    }
}
