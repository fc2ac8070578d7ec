//! The handshake: a client's request, the server's stateless cookie challenge, the Noise XX
//! messages (hello, reply, finish) with certificates in their payloads, admission limits on half-
//! open connections, and accepting or refusing the peer.

use super::*;

impl Endpoint {
    /// Judge the certificate a peer at `address` with static key `remote_key` sent.
    pub(super) fn authenticate_peer(
        &self,
        now: u64,
        address: SocketAddr,
        remote_key: &[u8],
        payload: &[u8],
    ) -> PeerAuth {
        if payload.is_empty() {
            return if self.config.allows_anonymous(address) {
                PeerAuth::Anonymous
            } else {
                PeerAuth::Refused(end_reason::REMOTE_BAD_CERT, "Unsigned certs are not allowed".into())
            };
        }
        let cert = match Certificate::decode(payload) {
            Ok(cert) => cert,
            Err(why) => return PeerAuth::Refused(end_reason::REMOTE_BAD_CRYPT, why),
        };
        if self.trust.cas.is_empty() {
            // We trust no CA, so no certificate can prove anything to us: the peer counts as
            // anonymous (as GNS ignores certificates it cannot check where unsigned ones are
            // allowed), and the policy for anonymous peers decides.
            return self.authenticate_peer(now, address, remote_key, &[]);
        }
        match cert.check(&self.trust, remote_key, self.unix_secs(now)) {
            Ok(identity) => PeerAuth::Verified(identity),
            Err(why) => PeerAuth::Refused(end_reason::REMOTE_BAD_CERT, why),
        }
    }

    /// Start connecting to `peer`.
    pub fn connect(&mut self, now: u64, peer: SocketAddr) -> ConnectionId {
        self.connect_within(now, peer, self.config.handshake_timeout_usec)
    }

    /// Start connecting to `peer`, giving up after `handshake_timeout_usec` (this connection's
    /// own `TIMEOUT_INITIAL`, for endpoints that carry many connections).
    pub fn connect_within(&mut self, now: u64, peer: SocketAddr, handshake_timeout_usec: u64) -> ConnectionId {
        let id = self.new_id();
        let mut conn = Connection::new(peer, 0, Phase::ClientRequest, now);
        conn.handshake_timeout = Some(handshake_timeout_usec);
        conn.outbox.push_back((peer, request_datagram(id, self.config.cipher)));
        self.connections.insert(id, conn);
        self.mark(id);
        id
    }

    /// Accept an `Incoming` connection. `false` if it is not waiting to be accepted.
    pub fn accept(&mut self, now: u64, id: ConnectionId) -> bool {
        let Some(conn) = self.connections.get_mut(&id) else { return false };
        let Phase::ServerAwaitAccept { .. } = conn.phase else { return false };
        let Phase::ServerAwaitAccept { crypto, identity } = std::mem::replace(&mut conn.phase, Phase::Ended) else {
            unreachable!()
        };
        let mut session = Session::new(self.config.session.clone(), now);
        // The first DATA tells the client it was accepted.
        session.request_ping();
        conn.phase = Phase::Established { crypto, session: Box::new(session) };
        self.events.push_back(EndpointEvent::Connected { id, identity });
        self.mark(id);
        true
    }

    /// A server-side connection stops being a half-open handshake (finished, or ended).
    pub(super) fn leave_half_open(
        admission: &mut Admission,
        by_client: &mut HashMap<(SocketAddr, u32), ConnectionId>,
        conn: &mut Connection,
    ) {
        if let Some(key) = conn.client_key.take() {
            by_client.remove(&key);
        }
        if conn.half_open
            && let Some(ip) = conn.admitted_from
        {
            conn.half_open = false;
            admission.handshake_done(ip);
        }
    }

    pub(super) fn on_request(&mut self, now: u64, from: SocketAddr, d: &[u8]) -> Result<(), Dropped> {
        if !self.config.accept_incoming {
            return Err(Dropped::NotListening);
        }
        if d.len() < REQUEST_LEN || d[1] != PROTOCOL_VERSION {
            return Err(Dropped::WrongVersion);
        }
        let client_id = read_u32(d, 2).ok_or(Dropped::Malformed)?;
        let cipher = Cipher::choose(d[6], self.config.cipher);
        let mut challenge = vec![KIND_CHALLENGE];
        challenge.extend_from_slice(&client_id.to_be_bytes());
        challenge.extend_from_slice(&self.cookies.make(now, from, client_id, cipher.to_wire()));
        challenge.push(cipher.to_wire());
        self.stateless_out.push((from, challenge));
        self.stats.challenges_sent += 1;
        Ok(())
    }

    pub(super) fn on_challenge(&mut self, from: SocketAddr, d: &[u8]) -> Result<(), Dropped> {
        let (id, cookie, cipher) = id_cookie_cipher(d).ok_or(Dropped::Malformed)?;
        let conn = self.connections.get_mut(&id).ok_or(Dropped::UnknownConnection)?;
        if conn.peer != from {
            return Err(Dropped::WrongAddress);
        }
        if !matches!(conn.phase, Phase::ClientRequest) {
            return Err(Dropped::WrongPhase);
        }
        let mut noise = builder(&self.static_key, cipher).build_initiator().map_err(|_| Dropped::BadHandshake)?;
        let mut msg = [0u8; 256];
        let len = noise.write_message(&[], &mut msg).map_err(|_| Dropped::BadHandshake)?;
        let mut hello = vec![KIND_HELLO];
        hello.extend_from_slice(&id.to_be_bytes());
        hello.extend_from_slice(cookie);
        hello.push(cipher.to_wire());
        hello.extend_from_slice(&msg[..len]);
        conn.outbox.push_back((from, hello.clone()));
        conn.cipher = Some(cipher);
        conn.phase = Phase::ClientHello { noise: Box::new(noise), hello };
        Ok(())
    }

    pub(super) fn on_hello(&mut self, now: u64, from: SocketAddr, d: &[u8]) -> Result<(), Dropped> {
        if !self.config.accept_incoming {
            return Err(Dropped::NotListening);
        }
        // The cipher the CHALLENGE picked: the cookie's MAC covers it, so a HELLO naming
        // another fails the cookie check.
        let (client_id, cookie, cipher) = id_cookie_cipher(d).ok_or(Dropped::Malformed)?;
        if !self.cookies.check(now, from, client_id, cipher.to_wire(), cookie) {
            return Err(Dropped::BadCookie);
        }
        // A repeated HELLO: our REPLY was lost. Send it again.
        if let Some(&id) = self.by_client.get(&(from, client_id)) {
            if let Some(conn) = self.connections.get_mut(&id)
                && let Phase::ServerHandshake { reply, .. } = &conn.phase
            {
                conn.outbox.push_back((from, reply.clone()));
            }
            self.mark(id);
            return Ok(());
        }
        // Only now, with the address proven, does the handshake cost anything: check its share.
        let mut admitted = self.admission.try_admit(now, from.ip());
        if admitted == Err(Refusal::HalfOpenFull) && self.evict_oldest_half_open() {
            // Many addresses filled the table: the oldest half-open handshake makes way. An
            // honest client finishes within a round trip, long before it is the oldest.
            admitted = self.admission.try_admit(now, from.ip());
        }
        if let Err(refusal) = admitted {
            self.stats.handshakes_refused += 1;
            tracing::debug!(%from, ?refusal, "handshake refused by admission limits");
            return Err(Dropped::AdmissionLimits);
        }
        let Some(reply_and_noise) = self.respond_to_hello(client_id, cipher, &d[6 + COOKIE_LEN..]) else {
            self.admission.release(from.ip(), true);
            return Err(Dropped::BadHandshake);
        };
        let (id, reply, noise) = reply_and_noise;
        let mut conn = Connection::new(
            from,
            client_id,
            Phase::ServerHandshake { noise: Box::new(noise), reply: reply.clone() },
            now,
        );
        conn.retry_at = u64::MAX; // the client drives retries during the handshake
        conn.outbox.push_back((from, reply));
        conn.client_key = Some((from, client_id));
        conn.cipher = Some(cipher);
        conn.admitted_from = Some(from.ip());
        conn.half_open = true;
        self.connections.insert(id, conn);
        self.by_client.insert((from, client_id), id);
        self.mark(id);
        self.half_open_order.push_back(id);
        if self.half_open_order.len() > 2 * self.config.admission.max_half_open {
            // Forget the entries of handshakes that finished meanwhile.
            let connections = &self.connections;
            self.half_open_order.retain(|id| connections.get(id).is_some_and(|c| c.half_open));
        }
        Ok(())
    }

    /// Drop the oldest half-open handshake of a source that has several (a flooder's), or the
    /// oldest of all if every source has just one; false if there is none. A lone honest
    /// handshake is thus never the one to go while a crowd holds the table.
    pub(super) fn evict_oldest_half_open(&mut self) -> bool {
        let mut passed_over = Vec::new();
        let mut victim = None;
        while let Some(id) = self.half_open_order.pop_front() {
            let Some(ip) = self.connections.get(&id).filter(|c| c.half_open).and_then(|c| c.admitted_from) else {
                continue; // finished or gone
            };
            if self.admission.half_open_from(ip) >= 2 || passed_over.len() >= 64 {
                victim = Some(id);
                break;
            }
            passed_over.push(id);
        }
        // Those passed over keep their place at the front.
        for id in passed_over.into_iter().rev() {
            self.half_open_order.push_front(id);
        }
        let victim = victim.or_else(|| {
            let first =
                self.half_open_order.iter().position(|id| self.connections.get(id).is_some_and(|c| c.half_open));
            first.and_then(|i| self.half_open_order.remove(i))
        });
        let Some(id) = victim else { return false };
        self.remove(id);
        self.stats.handshakes_evicted += 1;
        tracing::debug!(id, "half-open table full: a handshake dropped");
        true
    }

    /// Read the client's `e`, write `e ee s es` and our certificate: (our id, REPLY, state).
    pub(super) fn respond_to_hello(
        &self,
        client_id: u32,
        cipher: Cipher,
        noise_msg: &[u8],
    ) -> Option<(ConnectionId, Vec<u8>, HandshakeState)> {
        let mut noise = builder(&self.static_key, cipher).build_responder().ok()?;
        let mut scratch = [0u8; HANDSHAKE_MSG_MAX];
        noise.read_message(noise_msg, &mut scratch).ok()?;
        let mut msg = [0u8; HANDSHAKE_MSG_MAX];
        let len = noise.write_message(&self.certificate, &mut msg).ok()?;
        let id = self.new_id();
        let mut reply = vec![KIND_REPLY];
        reply.extend_from_slice(&client_id.to_be_bytes());
        reply.extend_from_slice(&id.to_be_bytes());
        reply.extend_from_slice(&msg[..len]);
        Some((id, reply, noise))
    }

    pub(super) fn on_reply(&mut self, now: u64, from: SocketAddr, d: &[u8]) -> Result<(), Dropped> {
        let (Some(id), Some(server_id)) = (read_u32(d, 1), read_u32(d, 5)) else { return Err(Dropped::Malformed) };
        let conn = self.connections.get_mut(&id).ok_or(Dropped::UnknownConnection)?;
        let Phase::ClientHello { noise, .. } = &mut conn.phase else {
            return self.on_repeated_reply(id, from);
        };
        if conn.peer != from {
            return Err(Dropped::WrongAddress);
        }
        if server_id == 0 {
            return Err(Dropped::Malformed);
        }
        // A message that does not authenticate leaves the handshake as it was (snow restores it).
        let mut payload = [0u8; HANDSHAKE_MSG_MAX];
        let payload_len = noise.read_message(&d[9..], &mut payload).map_err(|_| Dropped::BadHandshake)?;
        let remote_key = remote_static(noise).ok_or(Dropped::BadHandshake)?;
        let identity = match self.authenticate_peer(now, from, &remote_key, &payload[..payload_len]) {
            PeerAuth::Verified(identity) => Some(identity),
            PeerAuth::Anonymous => None,
            PeerAuth::Refused(reason, text) => {
                tracing::info!(id, %from, reason, text = %text, "server refused: its certificate");
                let conn = self.connections.get_mut(&id).expect("looked up above");
                conn.phase = Phase::Ended;
                self.events.push_back(EndpointEvent::Refused { id, reason, text });
                self.mark(id);
                return Ok(());
            }
        };
        let conn = self.connections.get_mut(&id).expect("looked up above");
        let Phase::ClientHello { mut noise, .. } = std::mem::replace(&mut conn.phase, Phase::Ended) else {
            unreachable!()
        };
        let mut msg = [0u8; HANDSHAKE_MSG_MAX];
        let len = noise.write_message(&self.certificate, &mut msg).map_err(|_| Dropped::BadHandshake)?;
        let crypto = noise.into_stateless_transport_mode().map_err(|_| Dropped::BadHandshake)?;
        let mut finish = vec![KIND_FINISH];
        finish.extend_from_slice(&server_id.to_be_bytes());
        finish.extend_from_slice(&msg[..len]);
        conn.remote_id = server_id;
        conn.remote_key = Some(remote_key);
        conn.outbox.push_back((from, finish.clone()));
        conn.phase = Phase::ClientAwaitAccept { crypto: Box::new(crypto), finish, identity };
        conn.retry_interval = HANDSHAKE_RETRY_USEC;
        conn.retry_at = now + HANDSHAKE_RETRY_USEC;
        Ok(())
    }

    /// A REPLY after we moved on: our FINISH may have been lost; resend it.
    pub(super) fn on_repeated_reply(&mut self, id: ConnectionId, from: SocketAddr) -> Result<(), Dropped> {
        let conn = self.connections.get_mut(&id).ok_or(Dropped::UnknownConnection)?;
        if conn.peer != from {
            return Err(Dropped::WrongAddress);
        }
        let Phase::ClientAwaitAccept { finish, .. } = &conn.phase else { return Err(Dropped::WrongPhase) };
        conn.outbox.push_back((from, finish.clone()));
        Ok(())
    }

    pub(super) fn on_finish(&mut self, now: u64, from: SocketAddr, d: &[u8]) -> Result<(), Dropped> {
        let id = read_u32(d, 1).ok_or(Dropped::Malformed)?;
        let conn = self.connections.get_mut(&id).ok_or(Dropped::UnknownConnection)?;
        if conn.peer != from {
            return Err(Dropped::WrongAddress);
        }
        let Phase::ServerHandshake { noise, .. } = &mut conn.phase else {
            // A repeated FINISH (the client has not heard from us yet) is no harm.
            return match conn.phase {
                Phase::ServerAwaitAccept { .. } | Phase::Established { .. } => Ok(()),
                _ => Err(Dropped::WrongPhase),
            };
        };
        // A message that does not authenticate leaves the handshake as it was (snow restores it).
        let mut payload = [0u8; HANDSHAKE_MSG_MAX];
        let payload_len = noise.read_message(&d[5..], &mut payload).map_err(|_| Dropped::BadHandshake)?;
        let remote_key = remote_static(noise).ok_or(Dropped::BadHandshake)?;
        let auth = self.authenticate_peer(now, from, &remote_key, &payload[..payload_len]);
        let conn = self.connections.get_mut(&id).expect("looked up above");
        let Phase::ServerHandshake { noise, .. } = std::mem::replace(&mut conn.phase, Phase::Ended) else {
            unreachable!()
        };
        let crypto = noise.into_stateless_transport_mode().map_err(|_| Dropped::BadHandshake)?;
        conn.remote_key = Some(remote_key);
        let identity = match auth {
            PeerAuth::Verified(identity) => Some(identity),
            PeerAuth::Anonymous => None,
            PeerAuth::Refused(reason, text) => {
                // Refused before the application hears of it, with the reason sealed for the
                // client alone, as GNS's `Remote_BadCert` refusals.
                tracing::info!(id, %from, reason, text = %text, "client refused: its certificate");
                conn.phase = Phase::ServerAwaitAccept { crypto: Box::new(crypto), identity: None };
                if let Some(reject) = conn.control_datagram(CONTROL_REJECT, &reject_body(reason, &text)) {
                    self.stateless_out.push((from, reject));
                }
                self.remove(id);
                return Ok(());
            }
        };
        conn.phase = Phase::ServerAwaitAccept { crypto: Box::new(crypto), identity };
        Self::leave_half_open(&mut self.admission, &mut self.by_client, conn);
        self.events.push_back(EndpointEvent::Incoming { id, address: from, identity });
        Ok(())
    }

    /// Check a sealed datagram's nonce against `window` and open it into `plain` (reused from
    /// packet to packet). `Err` for anything that is not fresh (a replay, refused before any
    /// cipher work) or does not authenticate; the window is marked only for what does.
    pub(super) fn open(
        crypto: &StatelessTransportState,
        window: &mut ReplayWindow,
        (counter, nonce): (u64, u64),
        d: &[u8],
        plain: &mut Vec<u8>,
    ) -> Result<(), Dropped> {
        if d.len() < SEALED_HEADER + TAG_LEN {
            return Err(Dropped::Malformed);
        }
        if !window.is_fresh(counter) {
            return Err(Dropped::Replay);
        }
        plain.clear();
        plain.resize(d.len() - SEALED_HEADER, 0);
        let len = crypto.read_message(nonce, &d[SEALED_HEADER..], plain).map_err(|_| Dropped::BadTag)?;
        plain.truncate(len);
        window.mark(counter);
        Ok(())
    }
}

/// What CHALLENGE and HELLO both start with after their kind: the client's connection id, the
/// cookie, and the cipher the server picked.
fn id_cookie_cipher(d: &[u8]) -> Option<(u32, &[u8], Cipher)> {
    let id = read_u32(d, 1)?;
    let cookie = d.get(5..5 + COOKIE_LEN)?;
    let cipher = Cipher::from_wire(*d.get(5 + COOKIE_LEN)?)?;
    Some((id, cookie, cipher))
}
