//! Hosted dedicated servers (`createHostedDedicatedServerListenSocket`,
//! `connectToHostedDedicatedServer`, `getHostedDedicatedServer*`): a server that clients reach
//! only through the relay, so its address is never revealed to them.
//!
//! The server is an ordinary relay session (it authenticates with its certificate) that listens
//! on *hosted* virtual ports; a client reaches one only with a ticket for that server and port
//! (see `steamnet_relay::ticket`). A client gets its ticket from the relay automatically on
//! its first call (Steam's game coordinator would hand it one), or passes its own in
//! `NETWORKING_CONFIG_SDR_CLIENT_DEV_TICKET` (base64, as GNS's dev tickets). Neither side
//! offers the other direct paths (ICE is off for these connections), so every packet goes
//! through the relay, end-to-end encrypted by the two peers.
//!
//! As in GNS, a hosted server needs `SDR_LISTEN_PORT`: the UDP port it uses (here: for its
//! connection to the relay). `SDR_POPID` names the point of presence it reports.

use base64::Engine;

use super::relay_link::Route;
use super::*;

/// `DATAGRAM_POP_ID_DEV`: the POP id `"dev"` GNS reports outside production.
const POP_ID_DEV: u32 = 0x646576;

/// What a hosted server that lacks `SDR_LISTEN_PORT` is told.
const NEEDS_LISTEN_PORT: &str = "createHostedDedicatedServerListenSocket: set the SDR_LISTEN_PORT environment \
     variable to the UDP port this server may use (as on Steam), then call it again";

/// What the environment tells a hosted dedicated server, read once when the interface is made
/// (as GNS reads it at init), so a test can give two interfaces of one process different ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedEnvironment {
    /// `SDR_LISTEN_PORT`: the UDP port a hosted server uses; 0 when this is not one.
    pub listen_port: u16,
    /// `SDR_POPID`: the POP code to report instead of the relay's.
    pub pop: Option<String>,
}

impl Default for HostedEnvironment {
    /// From the process environment.
    fn default() -> Self {
        let listen_port = std::env::var("SDR_LISTEN_PORT").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        let pop = std::env::var("SDR_POPID").ok().filter(|code| steamnet_relay::messages::is_pop_code(code));
        HostedEnvironment { listen_port, pop }
    }
}

/// The POP id of a four-character code (GNS packs it the same way: "iad" is 0x696164).
pub fn pop_id(code: &str) -> u32 {
    code.bytes().take(4).fold(0u32, |id, b| (id << 8) | u32::from(b))
}

/// The ticket a game passed in `SDR_CLIENT_DEV_TICKET`: base64 as in GNS; text that is not
/// base64 is sent as it is (and refused by the relay as a bad ticket, not silently dropped).
fn dev_ticket(config: &ConnectionConfig) -> Vec<u8> {
    let text = config.string(crate::config::ids::SDR_CLIENT_DEV_TICKET).trim();
    base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_else(|_| text.as_bytes().to_vec())
}

/// These connections never reveal addresses: no direct paths either way.
fn relay_only(mut config: ConnectionConfig) -> ConnectionConfig {
    let _ = config.set(crate::config::ids::P2P_TRANSPORT_ICE_ENABLE, &ConfigInput::Int(0), false);
    config
}

impl Sockets {
    /// `ConnectToHostedDedicatedServer`: reach hosted server `remote`'s `virtual_port` through
    /// the relay, with a ticket. A missing or bad ticket ends the connection with
    /// `CONNECTION_END_LOCAL_RIGHTS` or `CONNECTION_END_REMOTE_BAD_CERT`.
    pub fn connect_to_hosted_dedicated_server(
        &self,
        remote: Identity,
        virtual_port: i64,
        options: &[(i64, ConfigInput)],
    ) -> Handle {
        let Identity::SteamId(server) = remote else {
            refusal::refuse("connectToHostedDedicatedServer needs the server's Steam ID");
            return INVALID_HANDLE;
        };
        let Some((mut state, key, vport, config, now)) =
            self.p2p_call("connectToHostedDedicatedServer", virtual_port, options)
        else {
            return INVALID_HANDLE;
        };
        let route = Route { hosted: Some(dev_ticket(&config)), ..Route::p2p(server, vport) };
        self.open_p2p_call(&mut state, key, route, Identity::SteamId(server), relay_only(config), now)
    }

    /// `CreateHostedDedicatedServerListenSocket`: accept ticketed calls to `virtual_port`
    /// through the relay. 0 without `SDR_LISTEN_PORT`, as in GNS.
    pub fn create_hosted_dedicated_server_listen_socket(
        &self,
        virtual_port: i64,
        options: &[(i64, ConfigInput)],
    ) -> Handle {
        if self.hosted_dedicated_server_port() == 0 {
            refusal::refuse(NEEDS_LISTEN_PORT);
            return INVALID_HANDLE;
        }
        let Some((mut state, key, vport, config, now)) =
            self.p2p_call("createHostedDedicatedServerListenSocket", virtual_port, options)
        else {
            return INVALID_HANDLE;
        };
        self.listen_p2p(&mut state, key, vport, relay_only(config), true, now)
    }

    /// `SDR_LISTEN_PORT`, the port a hosted dedicated server was told to listen on; 0 if unset.
    pub fn hosted_dedicated_server_port(&self) -> u16 {
        self.lock().hosted.listen_port
    }

    /// Replace what the environment said (`SDR_LISTEN_PORT`, `SDR_POPID`) for this interface:
    /// for tests that run a hosted server and its clients in one process. Takes effect for the
    /// relay connection made next.
    pub fn set_hosted_environment(&self, environment: HostedEnvironment) {
        self.lock().hosted = environment;
    }

    /// The POP id of a hosted dedicated server: 0 when not hosted (no `SDR_LISTEN_PORT`);
    /// otherwise `SDR_POPID` when set (up to four characters, as in GNS), else the POP of the
    /// relay we are connected to, else `"dev"`.
    pub fn hosted_dedicated_server_pop_id(&self) -> u32 {
        let environment = self.lock().hosted.clone();
        if environment.listen_port == 0 {
            return 0;
        }
        match environment.pop {
            Some(code) => pop_id(&code),
            None => self.relay_pop().map_or(POP_ID_DEV, |code| pop_id(&code)),
        }
    }

    /// The POP code of the relay our link is up with, if it told us one.
    fn relay_pop(&self) -> Option<String> {
        self.lock().with_relay_link(|l| l.pop.clone().filter(|_| l.is_up())).flatten()
    }

    /// `GetHostedDedicatedServerAddress` (an extension: GodotSteam leaves it unbound): whether
    /// clients can reach this hosted server now. The routing information is the server's Steam
    /// ID and virtual port, which clients already know, so only the result is returned:
    /// `RESULT_OK` once a hosted listen socket is registered with the relay,
    /// `RESULT_INVALID_STATE` while it is not (yet), `RESULT_FAIL` when this process is not a
    /// hosted server (`SDR_LISTEN_PORT` unset).
    pub fn hosted_dedicated_server_address(&self) -> SteamResult {
        if self.hosted_dedicated_server_port() == 0 {
            return SteamResult::Fail;
        }
        let registered =
            self.lock().with_relay_link(|link| link.is_registered() && !link.hosted.is_empty()).unwrap_or(false);
        if registered { SteamResult::Ok } else { SteamResult::InvalidState }
    }

    /// `GetGameCoordinatorServerLogin` (an extension: GodotSteam leaves it unbound): whether
    /// this hosted server can prove itself to a backend. Its login is its certificate
    /// (`getCertificateRequest`'s signed answer, checked against the CA's public key), which
    /// the relay checks on every session: `RESULT_OK` while it holds a current one,
    /// `RESULT_INVALID_STATE` before authentication completes, `RESULT_FAIL` when this process
    /// is not a hosted server.
    pub fn game_coordinator_server_login(&self) -> SteamResult {
        if self.hosted_dedicated_server_port() == 0 {
            return SteamResult::Fail;
        }
        if self.authentication_status() == crate::types::availability::CURRENT {
            SteamResult::Ok
        } else {
            SteamResult::InvalidState
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pop_ids_pack_their_code() {
        assert_eq!(pop_id("dev"), POP_ID_DEV);
        assert_eq!(pop_id("iad"), 0x696164);
        assert_eq!(pop_id(""), 0);
    }

    #[test]
    fn dev_tickets_are_base64_or_sent_as_given() {
        let mut config = ConnectionConfig::default();
        let id = crate::config::ids::SDR_CLIENT_DEV_TICKET;
        assert!(dev_ticket(&config).is_empty());
        config.set(id, &ConfigInput::Str("AQID".into()), false).unwrap();
        assert_eq!(dev_ticket(&config), vec![1, 2, 3]);
        config.set(id, &ConfigInput::Str("not a ticket!".into()), false).unwrap();
        assert_eq!(dev_ticket(&config), b"not a ticket!".to_vec());
    }
}
