//! One POP of a relay cluster: what the relay does with a [directory](crate::directory) and
//! links to the other POPs.
//!
//! A call whose target has no session here (a P2P or hosted call by Steam ID, or a call to a
//! FakeIP) is looked up in the directory; if a live POP holds it, the call goes over our link
//! to that POP as PEER_CONNECT, and that POP joins it to its client exactly as a local call.
//! A link is a relay session whose routes lead to the other POP's clients, so datagrams cross
//! POPs the way they cross one relay: RELAYED beside the session, one lookup per hop.
//!
//! ```text
//!  client X ──RELAYED──▶ POP A ──RELAYED (A's token at B)──▶ POP B ──RELAYED──▶ client T
//!                 route r ↔ link route l                link route l ↔ route t
//! ```

use std::collections::HashMap;

use steamnet_proto::endpoint::ConnectionId;
use steamnet_proto::session::SessionConfig;

use super::{CLOSE_BAD_REQUEST, CLOSE_NOT_AUTHENTICATED, Call, RelayServer, Session};
use crate::directory::{Answer, Directory, PopAddress, Query};
use crate::messages::{FAKE_PORT_VPORT, RelayMessage, pop_proof_message};

/// Directory questions waiting at once: a directory that stops answering must not make the
/// relay's memory grow without bound (further calls wait for their callers to repeat them).
pub(super) const MAX_PENDING: usize = 65_536;
/// Routes one link may carry (it carries many clients' calls).
pub(super) const MAX_LINK_ROUTES: usize = 1 << 20;
/// A link notices a dead POP this fast (keepalives every second on a quiet link), so the
/// calls through it end, saying why, well within their own 10 s connected timeout.
const LINK_IDLE_TIMEOUT_USEC: u64 = 3_000_000;
const LINK_KEEPALIVE_USEC: u64 = 1_000_000;

/// What makes a session a link to another POP.
#[derive(Debug)]
pub(super) struct Link {
    pub code: String,
    /// The token the other POP gave us for RELAYED datagrams to it.
    pub their_token: Option<u64>,
    /// The other POP proved it is one of ours (PEER_HELLO).
    pub verified: bool,
}

impl Link {
    /// Calls can go over it: the other POP is proved and gave its token.
    fn ready(&self) -> bool {
        self.verified && self.their_token.is_some()
    }
}

/// A call waiting for the directory.
#[derive(Debug, Clone, Copy)]
enum Pending {
    /// Which POP holds the target's session.
    Locate { caller: ConnectionId, route: u32, vport: u32, call: Call },
    /// Who holds a FakeIP (`port`: the port called).
    ResolveFake { caller: ConnectionId, route: u32, port: u16 },
}

impl Pending {
    /// The caller's session and route this is for.
    fn call(&self) -> (ConnectionId, u32) {
        match *self {
            Pending::Locate { caller, route, .. } | Pending::ResolveFake { caller, route, .. } => (caller, route),
        }
    }
}

/// A client's call to a target that has no session here.
#[derive(Debug, Clone, Copy)]
pub(super) struct RemoteCall {
    pub caller: ConnectionId,
    pub route: u32,
    pub target: u64,
    pub vport: u32,
    pub call: Call,
}

pub(super) struct Cluster {
    pub directory: Directory,
    /// Our PEER_HELLO proof: the CA's signature of our code and static key.
    proof: [u8; 64],
    /// Our link to each POP we have one with, by code.
    links: HashMap<String, ConnectionId>,
    pending: HashMap<u64, Pending>,
    /// Calls waiting for their link to be verified and to have its token.
    waiting: HashMap<ConnectionId, Vec<RemoteCall>>,
    /// FakeIP requests waiting for the directory: tag -> (session, its identity, ports chosen).
    /// Kept after the session ends, so that the address is given back when the answer comes.
    pub fake_ip_claims: HashMap<u64, (ConnectionId, u64, Vec<u16>)>,
}

fn kind_of(call: Call) -> u8 {
    match call {
        Call::P2P => 0,
        Call::FakeIp => 1,
        Call::Hosted => 2,
    }
}

fn call_of(kind: u8) -> Option<Call> {
    Some(match kind {
        0 => Call::P2P,
        1 => Call::FakeIp,
        2 => Call::Hosted,
        _ => return None,
    })
}

impl RelayServer {
    /// Join a cluster: become POP `pop` in the directory at `url`, reachable by the other POPs
    /// at `advertised`. Call from within the runtime the relay runs on.
    #[cfg(feature = "redis-directory")]
    pub async fn join_cluster(&mut self, url: &str, pop: &str, advertised: std::net::SocketAddr) -> Result<(), String> {
        let directory = crate::directory::redis_store::connect(url, pop, advertised).await?;
        let proof = self.service.authority.sign(&pop_proof_message(pop, &self.static_public));
        self.pop = Some(pop.to_string());
        self.cluster = Some(Cluster {
            directory,
            proof,
            links: HashMap::new(),
            pending: HashMap::new(),
            waiting: HashMap::new(),
            fake_ip_claims: HashMap::new(),
        });
        tracing::info!(pop, %advertised, "joined the relay cluster");
        Ok(())
    }

    /// The POP code this relay has in its cluster, if it is in one.
    fn own_pop(&self) -> Option<&str> {
        self.cluster.as_ref().map(|c| c.directory.pop.as_str())
    }

    /// A call to an identity with no session here: ask the directory where it is. Without a
    /// cluster nothing happens (as on Steam, the caller's handshake times out).
    pub(super) fn connect_elsewhere(&mut self, call: RemoteCall, now: u64) {
        if self.resend_remote(call, now) {
            return;
        }
        if self.cluster.is_none() {
            return tracing::debug!(target = call.target, "connect to an identity with no session");
        }
        let RemoteCall { caller, route, target, vport, call } = call;
        self.ask_for_call(Pending::Locate { caller, route, vport, call }, |tag| Query::Locate {
            tag,
            identity: target,
        });
    }

    /// A call to a FakeIP nobody here holds: ask the directory who does.
    pub(super) fn connect_fake_elsewhere(&mut self, caller: ConnectionId, route: u32, ip: u32, port: u16) {
        self.ask_for_call(Pending::ResolveFake { caller, route, port }, |tag| Query::ResolveFakeIp { tag, ip });
    }

    /// Ask the directory what `pending` waits for, unless the same call (a repeated CONNECT)
    /// already waits.
    fn ask_for_call(&mut self, pending: Pending, query: impl FnOnce(u64) -> Query) {
        let Some(cluster) = self.cluster.as_mut() else { return };
        if cluster.pending.len() >= MAX_PENDING || cluster.pending.values().any(|p| p.call() == pending.call()) {
            return;
        }
        let tag = cluster.directory.tag();
        cluster.pending.insert(tag, pending);
        cluster.directory.ask(query(tag));
    }

    pub(super) fn on_directory_answer(&mut self, answer: Answer) {
        let now = self.driver.now();
        let Some(cluster) = self.cluster.as_mut() else { return };
        match answer {
            Answer::Revoked { identity } => {
                if let Some(&id) = self.by_identity.get(&identity) {
                    tracing::warn!(identity, "refusing a session: its certificate is revoked");
                    self.close(id, CLOSE_NOT_AUTHENTICATED, "certificate revoked");
                }
            }
            Answer::FakeIpClaimed { tag, ip } => {
                if let Some((id, identity, ports)) = cluster.fake_ip_claims.remove(&tag) {
                    self.grant_fake_ip(id, identity, ip, ports, now);
                }
            }
            Answer::Located { tag, identity, pop } => {
                let Some(Pending::Locate { caller, route, vport, call }) = cluster.pending.remove(&tag) else { return };
                match pop {
                    Some(pop) if Some(pop.code.as_str()) != self.own_pop() => {
                        let link = self.link_to(&pop, now);
                        self.call_over(link, RemoteCall { caller, route, target: identity, vport, call }, now);
                    }
                    _ => tracing::debug!(identity, "connect to an identity no live POP holds"),
                }
            }
            Answer::FakeIpResolved { tag, ip, owner } => {
                let Some(Pending::ResolveFake { caller, route, port }) = cluster.pending.remove(&tag) else { return };
                let Some(owner) = owner.filter(|o| Some(o.pop.code.as_str()) != self.own_pop()) else {
                    return tracing::debug!(ip, "connect to a FakeIP no live POP holds");
                };
                let Some(index) = owner.ports.iter().position(|&p| p == port) else { return };
                let link = self.link_to(&owner.pop, now);
                let vport = FAKE_PORT_VPORT + index as u32;
                self.call_over(
                    link,
                    RemoteCall { caller, route, target: owner.identity, vport, call: Call::FakeIp },
                    now,
                );
            }
        }
    }

    /// Our link to `pop`, connecting it if there is none.
    fn link_to(&mut self, pop: &PopAddress, now: u64) -> ConnectionId {
        let cluster = self.cluster.as_mut().expect("links exist in a cluster");
        if let Some(&id) = cluster.links.get(&pop.code)
            && self.sessions.contains_key(&id)
        {
            return id;
        }
        let id = self.driver.endpoint.connect(now, pop.address);
        let mut session = Session::new(0, now);
        session.link = Some(Link { code: pop.code.clone(), their_token: None, verified: false });
        self.tokens.insert(session.token, id);
        self.sessions.insert(id, session);
        cluster.links.insert(pop.code.clone(), id);
        tracing::info!(pop = %pop.code, address = %pop.address, "linking to POP");
        id
    }

    /// Send `call` over `link` now, or once the link is ready.
    fn call_over(&mut self, link: ConnectionId, call: RemoteCall, now: u64) {
        let ready = self.sessions.get(&link).and_then(|s| s.link.as_ref()).is_some_and(Link::ready);
        if ready {
            self.open_remote(link, call, now);
        } else if let Some(cluster) = self.cluster.as_mut() {
            let waiting = cluster.waiting.entry(link).or_default();
            if waiting.len() < super::MAX_ROUTES * 16 {
                waiting.push(call);
            }
        }
    }

    /// The caller repeats a call it already has a route over a link for: say it again (the
    /// other POP's target may have started listening since). `true` if that was the case.
    fn resend_remote(&mut self, call: RemoteCall, now: u64) -> bool {
        let Some(&(link, link_route)) = self.sessions.get(&call.caller).and_then(|s| s.routes.get(&call.route)) else {
            return false;
        };
        if self.sessions.get(&link).is_some_and(|s| s.link.is_some()) {
            self.send_peer_connect(link, link_route, call, now);
        }
        true
    }

    /// Join the caller's route to a new route on `link` and ask the other POP to connect it.
    fn open_remote(&mut self, link: ConnectionId, call: RemoteCall, now: u64) {
        if self.resend_remote(call, now) {
            return;
        }
        if !self.sessions.get(&call.caller).is_some_and(|s| s.link.is_none() && s.free_route_left()) {
            return;
        }
        let Some(link_route) = self.sessions.get_mut(&link).and_then(|s| s.free_route()) else { return };
        if let Some(s) = self.sessions.get_mut(&link) {
            s.routes.insert(link_route, (call.caller, call.route));
        }
        if let Some(s) = self.sessions.get_mut(&call.caller) {
            s.routes.insert(call.route, (link, link_route));
        }
        self.stats.routes += 1;
        self.send_peer_connect(link, link_route, call, now);
    }

    fn send_peer_connect(&mut self, link: ConnectionId, link_route: u32, call: RemoteCall, now: u64) {
        let Some(caller) = self.sessions.get(&call.caller) else { return };
        let (caller_ip, caller_port) = caller.fake_address();
        let message = RelayMessage::PeerConnect {
            route: link_route,
            from: caller.identity,
            target: call.target,
            vport: call.vport,
            kind: kind_of(call.call),
            caller_ip,
            caller_port,
        };
        self.send(link, &message.encode(), true, now);
    }

    /// A link's steamnet session watches the other POP more closely than a client's.
    fn tune_link(&mut self, id: ConnectionId) {
        if let Some(session) = self.driver.endpoint.session_mut(id) {
            let config = SessionConfig {
                idle_timeout_usec: LINK_IDLE_TIMEOUT_USEC,
                keepalive_usec: LINK_KEEPALIVE_USEC,
                ..super::relay_session_config()
            };
            session.update_config(config);
        }
    }

    /// Our outgoing link is connected: prove who we are and give our token.
    pub(super) fn on_link_connected(&mut self, id: ConnectionId, now: u64) {
        if self.sessions.get(&id).is_none_or(|s| s.link.is_none()) {
            return;
        }
        self.tune_link(id);
        let (Some(session), Some(cluster)) = (self.sessions.get(&id), self.cluster.as_ref()) else { return };
        let hello = RelayMessage::PeerHello { proof: cluster.proof, code: &cluster.directory.pop }.encode();
        let token = RelayMessage::Token { token: session.token }.encode();
        self.send(id, &hello, true, now);
        self.send(id, &token, true, now);
    }

    /// PEER_HELLO: another POP proves it is one of the cluster's. On a connection it opened,
    /// that makes the connection a link (and we answer with our own proof); on ours, the link
    /// is verified.
    pub(super) fn on_peer_hello(&mut self, id: ConnectionId, proof: &[u8; 64], code: &str, now: u64) {
        let genuine = self.cluster.is_some()
            && self.driver.endpoint.remote_key(id).is_some_and(|key| {
                steamnet_proto::cert::verify_signature(&self.public_key(), &pop_proof_message(code, &key), proof)
            });
        if !genuine {
            self.stats.malformed += 1;
            return self.close(id, CLOSE_BAD_REQUEST, "not a POP of this relay cluster");
        }
        if let Some(link) = self.sessions.get_mut(&id).and_then(|s| s.link.as_mut()) {
            link.verified = true;
            return self.flush_link(id, now);
        }
        if self.sessions.contains_key(&id) {
            return; // a client session does not become a link
        }
        self.tune_link(id);
        let mut session = Session::new(0, now);
        session.link = Some(Link { code: code.to_string(), their_token: None, verified: true });
        let token = session.token;
        self.tokens.insert(token, id);
        self.sessions.insert(id, session);
        let cluster = self.cluster.as_mut().expect("checked above");
        cluster.links.entry(code.to_string()).or_insert(id);
        let hello = RelayMessage::PeerHello { proof: cluster.proof, code: &cluster.directory.pop }.encode();
        tracing::info!(pop = code, "POP linked to us");
        self.send(id, &hello, true, now);
        self.send(id, &RelayMessage::Token { token }.encode(), true, now);
    }

    /// The other POP's token: datagrams can go to it beside the link now.
    pub(super) fn on_link_token(&mut self, id: ConnectionId, token: u64, now: u64) {
        if let Some(link) = self.sessions.get_mut(&id).and_then(|s| s.link.as_mut()) {
            link.their_token = Some(token);
        }
        self.flush_link(id, now);
    }

    /// Send the calls that waited for link `id`, if it is ready.
    fn flush_link(&mut self, id: ConnectionId, now: u64) {
        let ready = self.sessions.get(&id).and_then(|s| s.link.as_ref()).is_some_and(Link::ready);
        if !ready {
            return;
        }
        let calls = self.cluster.as_mut().and_then(|c| c.waiting.remove(&id)).unwrap_or_default();
        for call in calls {
            self.open_remote(id, call, now);
        }
    }

    /// PEER_CONNECT from a verified link: join the call to our client `target`, as if the
    /// caller were here (a hosted call's ticket was checked by the caller's POP).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_peer_connect(
        &mut self,
        link: ConnectionId,
        route: u32,
        from: u64,
        target: u64,
        vport: u32,
        kind: u8,
        caller_fake: (u32, u16),
        now: u64,
    ) {
        if !self.sessions.get(&link).and_then(|s| s.link.as_ref()).is_some_and(|l| l.verified) {
            self.stats.malformed += 1;
            return;
        }
        let (Some(call), Some(&peer)) = (call_of(kind), self.by_identity.get(&target)) else { return };
        self.join(link, route, peer, vport, call, Some((from, caller_fake)), now);
    }

    /// A session ended: take back what the directory holds for it.
    pub(super) fn leave_directory(&mut self, id: ConnectionId, session: &Session, registered: bool) {
        let Some(cluster) = self.cluster.as_mut() else { return };
        if let Some(link) = &session.link {
            tracing::warn!(pop = %link.code, "link to POP closed");
            cluster.links.retain(|_, link| *link != id);
            cluster.waiting.remove(&id);
            return;
        }
        // Questions asked for it are moot.
        cluster.pending.retain(|_, p| p.call().0 != id);
        let identity = session.identity;
        if registered {
            cluster.directory.ask(Query::Unregister { identity });
        }
        if let Some((ip, _)) = session.fake {
            cluster.directory.ask(Query::ReleaseFakeIp { ip, identity });
        }
        for &vport in &session.hosted {
            cluster.directory.ask(Query::Hosted { identity, vport, listening: false });
        }
    }
}
