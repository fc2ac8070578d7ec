//! `InitAuthentication` and the rest of the identity half of the API: the installation's
//! identity key (see [`crate::auth`]), a certificate for it from the CA, and handing both to
//! every endpoint so handshakes prove who we are.

use std::time::Duration;

use steamnet_proto::cert::{CertRequest, Certificate, Trust};

use super::*;
use crate::auth::{AuthSettings, IdentitySlot};

/// A saved certificate is reused only with at least this much validity left.
const REUSE_MARGIN_SECS: u64 = 3600;

#[derive(Debug)]
pub(super) struct AuthState {
    pub settings: AuthSettings,
    pub status: i32,
    pub message: String,
    pub identity: Option<IdentitySlot>,
    /// Our certificate, encoded (empty: none).
    pub certificate: Vec<u8>,
    /// Bumped by `resetIdentity`, so an answer to an older request is dropped.
    pub generation: u64,
    /// Whom we trust, read once (it may read the local CA key from disk).
    pub trust: Option<Trust>,
}

impl Default for AuthState {
    fn default() -> Self {
        AuthState {
            settings: AuthSettings::default(),
            status: availability::NEVER_TRIED,
            message: String::new(),
            identity: None,
            certificate: Vec::new(),
            generation: 0,
            trust: None,
        }
    }
}

impl State {
    /// Set the authentication status; a change posts `network_authentication_status`.
    fn set_auth_status(&mut self, status: i32, message: String) {
        if self.auth.status == status && self.auth.message == message {
            return;
        }
        tracing::info!(status, message = %message, "authentication status");
        self.auth.status = status;
        self.auth.message = message.clone();
        self.events.push(Event::AuthenticationStatus { availability: status, debug_message: message });
    }

    /// Whom we trust. `create_local`: see [`AuthSettings::trusted_cas`].
    fn load_trust(&mut self, create_local: bool) {
        let (cas, bad) = self.auth.settings.trusted_cas(create_local);
        for why in bad {
            tracing::warn!("trusted CA keys: {why}");
        }
        self.auth.trust = Some(Trust { app_id: self.auth.settings.app_id(), cas });
    }

    pub(super) fn trust(&mut self) -> Trust {
        if self.auth.trust.is_none() {
            self.load_trust(false);
        }
        self.auth.trust.clone().unwrap_or_default()
    }

    /// The identity slot, claimed on first use.
    fn identity_slot(&mut self) -> Result<&IdentitySlot, String> {
        if self.auth.identity.is_none() {
            let slot = IdentitySlot::claim(&self.auth.settings.identity_base())?;
            tracing::info!(slot = %slot.describe(), "identity key");
            self.static_key = Some(slot.private.clone());
            self.auth.identity = Some(slot);
        }
        Ok(self.auth.identity.as_ref().expect("just set"))
    }

    /// Check `bytes` as our own certificate (trusted CA, our app, our key, not expiring within
    /// `margin` seconds).
    fn check_own_certificate(&mut self, bytes: &[u8], margin: u64) -> Result<Certificate, String> {
        let trust = self.trust();
        let key = self.identity_slot()?.public;
        let cert = Certificate::decode(bytes)?;
        cert.check(&trust, &key, steamnet_relay::unix_now() + margin)?;
        Ok(cert)
    }

    /// Use `cert` (already checked) from now on: it becomes our identity, and every endpoint
    /// presents it in handshakes from now on.
    fn adopt_certificate(&mut self, cert: &Certificate, source: &str, now: u64) {
        let bytes = cert.encode();
        let trust = self.trust();
        let Some(slot) = &self.auth.identity else { return };
        slot.save_certificate(&bytes);
        let private = slot.private.clone();
        self.endpoints.each(|_, endpoint| {
            endpoint.endpoint.set_credentials(private.clone(), bytes.clone(), trust.clone());
            if let Some(link) = endpoint.relay.as_mut() {
                link.control.set_credentials(private.clone(), bytes.clone(), trust.clone());
            }
        });
        self.auth.certificate = bytes;
        self.local_identity = Identity::SteamId(cert.identity);
        let hours = cert.expires_at.saturating_sub(steamnet_relay::unix_now()) / 3600;
        self.set_auth_status(
            availability::CURRENT,
            format!(
                "Authenticated as steamid:{} for app {} ({source}); valid for {hours} h.",
                cert.identity, cert.app_id
            ),
        );
        super::p2p::on_authentication(self, now, None);
    }
}

impl Sockets {
    /// Settings from the game (the Godot layer's project settings). Takes effect for the next
    /// authentication and the next endpoint.
    pub fn configure_auth(&self, settings: AuthSettings) {
        let mut state = self.lock();
        state.auth.settings = settings;
        state.auth.trust = None;
    }

    /// `GetAuthenticationStatus`.
    pub fn authentication_status(&self) -> i32 {
        self.lock().auth.status
    }

    /// `InitAuthentication`: load (or make) this installation's identity key and get a
    /// certificate for it: a saved one still valid, else one from the CA, asked in the
    /// background. Progress posts `network_authentication_status`.
    pub fn init_authentication(&self) -> i32 {
        let mut state = self.lock();
        if matches!(state.auth.status, availability::CURRENT | availability::ATTEMPTING) {
            return state.auth.status;
        }
        let private = match state.identity_slot() {
            Ok(slot) => slot.private.clone(),
            Err(why) => {
                state.set_auth_status(availability::FAILED, format!("No identity key: {why}"));
                return state.auth.status;
            }
        };
        // Authenticating settles whom we trust, creating the local CA's key if that is the CA.
        state.load_trust(true);
        let saved = state.auth.identity.as_ref().and_then(IdentitySlot::saved_certificate);
        if let Some(cert) = saved.and_then(|bytes| state.check_own_certificate(&bytes, REUSE_MARGIN_SECS).ok()) {
            state.adopt_certificate(&cert, "saved certificate", self.inner.now());
            return state.auth.status;
        }
        let ca = match state.auth.settings.relay_address() {
            Ok(ca) => ca,
            Err(why) => {
                state.set_auth_status(availability::FAILED, why);
                return state.auth.status;
            }
        };
        let Some(runtime) = self.runtime() else {
            state.set_auth_status(availability::FAILED, "Cannot start the networking thread.".into());
            return state.auth.status;
        };
        state.set_auth_status(availability::ATTEMPTING, format!("Requesting a certificate from the CA at {ca}."));
        let app_id = state.auth.settings.app_id();
        let generation = state.auth.generation;
        // The CA has as long to answer as a connection has to connect (`TIMEOUT_INITIAL`).
        let timeout_ms =
            ConnectionConfig::default().over(&state.global_config).int32(crate::config::ids::TIMEOUT_INITIAL);
        let timeout = Duration::from_millis(timeout_ms.max(1) as u64);
        drop(state);
        let hosted = host_local_ca(runtime.handle(), ca);
        let inner = Arc::downgrade(&self.inner);
        runtime.spawn(async move {
            let result = steamnet_relay::client::request_certificate(ca, private, app_id, timeout).await;
            let Some(inner) = inner.upgrade() else { return };
            let mut state = inner.lock();
            if state.auth.generation != generation {
                return;
            }
            let checked = result.and_then(|cert| state.check_own_certificate(&cert.encode(), 0));
            match checked {
                Ok(cert) => {
                    let source = if hosted { format!("CA hosted here at {ca}") } else { format!("CA at {ca}") };
                    state.adopt_certificate(&cert, &source, inner.now());
                }
                Err(why) => {
                    let message = format!(
                        "No certificate: {why}. Run steamnet-relay and point the game at it (STEAMNET_RELAY or \
                         steamnet/relay/address), and trust its key (steamnet/auth/trusted_ca_keys)."
                    );
                    state.set_auth_status(availability::FAILED, message.clone());
                    super::p2p::on_authentication(&mut state, inner.now(), Some(&message));
                }
            }
        });
        availability::ATTEMPTING
    }

    /// `GetCertificateRequest`: a request for our identity key in our app, for a CA to sign
    /// offline (`steamnet-relay ca sign`).
    pub fn certificate_request(&self) -> Result<Vec<u8>, String> {
        let mut state = self.lock();
        let app_id = state.auth.settings.app_id();
        let key = state.identity_slot()?.public;
        Ok(CertRequest { app_id, key }.encode())
    }

    /// `SetCertificate`: install a certificate signed offline. It must be for our key and app,
    /// signed by a trusted CA and unexpired.
    pub fn set_certificate(&self, certificate: &[u8]) -> Result<(), String> {
        let mut state = self.lock();
        let cert = state.check_own_certificate(certificate, 0)?;
        state.adopt_certificate(&cert, "setCertificate", self.inner.now());
        Ok(())
    }

    /// `GetIdentity`, in GNS's text form (`steamid:…`); empty until an identity is known.
    pub fn identity_text(&self) -> String {
        let state = self.lock();
        if state.local_identity.is_valid() { state.local_identity.describe() } else { String::new() }
    }

    /// `ResetIdentity`: every connection and listen socket is destroyed and the certificate
    /// dropped, as in GNS. `identity` becomes the local identity (socket pairs use it); network
    /// connections are anonymous until `initAuthentication` gets a new certificate, whose
    /// CA-assigned identity then replaces it.
    pub fn reset_identity(&self, identity: Identity) {
        let mut state = self.lock();
        state.connections.clear();
        state.listen_sockets.clear();
        state.endpoints.clear();
        state.local_identity = identity;
        state.auth.generation += 1;
        state.auth.certificate.clear();
        if let Some(slot) = &state.auth.identity {
            slot.forget_certificate();
        }
        if state.auth.status != availability::NEVER_TRIED {
            state.set_auth_status(
                availability::NEVER_TRIED,
                "Identity reset: certificates dropped; call initAuthentication() for a new one.".into(),
            );
        }
    }
}

/// A CA address on this machine with nobody serving it: serve this machine's local CA there,
/// in this process. Returns whether we host it.
pub(super) fn host_local_ca(runtime: &tokio::runtime::Handle, ca: std::net::SocketAddr) -> bool {
    if !ca.ip().is_loopback() {
        return false;
    }
    // Binding first settles who hosts it: the port is free only for the first process.
    let Ok(socket) = std::net::UdpSocket::bind(ca) else { return false };
    let service = match crate::auth::local_ca_service() {
        Ok(service) => service,
        Err(why) => {
            tracing::warn!("cannot host the local CA: {why}");
            return false;
        }
    };
    match steamnet_relay::server::spawn_on(runtime, socket, service) {
        Ok(bound) => {
            tracing::info!(%bound, "hosting this machine's CA");
            true
        }
        Err(error) => {
            tracing::warn!(%error, "cannot host the local CA");
            false
        }
    }
}
