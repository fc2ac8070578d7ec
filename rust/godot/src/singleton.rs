//! The `SteamNetworkingSockets` engine singleton.
//!
//! Script code can run inside a call and call straight back in: signal handlers while callbacks
//! are dispatched (accepting a connection from inside `network_connection_status_changed` is the
//! usual pattern), and a game's own `Logger` (`OS.add_logger`), which Godot calls from inside the
//! warning a refused call prints. The nested call must get its result, not a borrow error
//! (`test_bad_input` checks it). The state they all share is behind `steamnet_net::Sockets`' own
//! lock.
//!
//! Getters take `&self` (gdext registers those as `const`). Methods that change state take
//! `Gd<Self>` and borrow the singleton shared, only for as long as they need it, so that the
//! signals they emit reach handlers with the singleton free.
//!
//! Except the per-message calls (`sendMessageToConnection`, `sendMessages`,
//! `receiveMessages*`): for them a `Gd<Self>` receiver made gdext check the class through the
//! engine on every call (a Godot String of the class name, then `Object::is_class`), an eighth of
//! the GDScript benchmark's message rate, and `&self` would register them as `const`, which they
//! are not. They take `&mut self` (no check, and not `const`), and the one place script code can
//! run inside them, the warning a refused call prints, happens through
//! [`SteamNetworkingSockets::call_reentrantly`], which hands the singleton back to the engine
//! for the while.
//!
//! Parameter names are the contract's (GDScript calls are positional; only introspection sees
//! them). Results use GodotSteam's shapes and failure values.

use godot::prelude::*;
use steamnet_net::{INVALID_HANDLE, Identity, MAX_MESSAGE_SIZE_SEND, Sockets, SteamResult, format_ip, parse_ip_port};

use crate::complaints::{self, Call};
use crate::convert::{self, handle, put, steam_id};
use crate::message_dictionaries::MessageDictionaries;

/// GodotSteam's Networking Sockets API on steamnet's own transport: encrypted, reliable and
/// unreliable messages over UDP, with no Steam client. Method names, arguments, results, signals
/// and constants are GodotSteam's, so code written for `Steam.connectByIPAddress(...)` calls
/// `SteamNetworkingSockets.connectByIPAddress(...)` here (or keeps `Steam.` with the opt-in shim
/// `addons/steam_networking_sockets/steam_shim.gd`).
///
/// Callbacks: `network_connection_status_changed` and the other signals fire on the main thread,
/// every frame and on `runNetworkingCallbacks()`.
///
/// Constants are GodotSteam's enum values, grouped by prefix: `CONNECTION_STATE_*`
/// (NetworkingConnectionState), `CONNECTION_END_*` (NetworkingConnectionEnd), `RESULT_*` (Result),
/// `NETWORKING_SEND_*` (send flags), `NETWORKING_CONFIG_*` (NetworkingConfigValue),
/// `NETWORKING_AVAILABILITY_*`, `NETWORKING_GET_CONFIG_VALUE_*`, `NETWORKING_CONFIG_TYPE_*`,
/// `NETWORKING_CONFIG_SCOPE_*`, `NETWORKING_SOCKET_DEBUG_OUTPUT_TYPE_*`, `IDENTITY_TYPE_*` and
/// `FAKE_IP_TYPE_*`.
#[derive(GodotClass)]
#[class(init, singleton, base = Object)]
pub struct SteamNetworkingSockets {
    sockets: Sockets,
    messages: MessageDictionaries,
    base: Base<Object>,
}

impl SteamNetworkingSockets {
    pub(crate) fn sockets(&self) -> &Sockets {
        &self.sockets
    }

    /// The sockets for one call of the GDScript method `method`, which then says why it failed.
    pub(crate) fn call(&self, method: &'static str) -> Call<'_> {
        Call::new(&self.sockets, method)
    }

    /// What [`call`](Self::call) is for the `&mut self` methods: run `call` on the sockets for
    /// the GDScript method `method`, then say why it failed, if it did, with the singleton
    /// handed back to the engine while the warning runs a game's `Logger`, so that a call the
    /// logger makes into the singleton can borrow it.
    fn call_reentrantly<R>(&mut self, method: &'static str, call: impl FnOnce(&Sockets) -> R) -> R {
        let (result, complaint) = complaints::quietly(|| call(&self.sockets));
        if let Some(why) = complaint {
            let _handed_back = self.base_mut();
            complaints::complain(method, &why);
        }
        result
    }
}

fn address_arg(text: &GString) -> Option<std::net::SocketAddr> {
    parse_ip_port(&text.to_string())
}

/// `max_messages` from GDScript: negative means none.
fn max_count(max_messages: i64) -> usize {
    usize::try_from(max_messages).unwrap_or(0)
}

#[godot_api]
impl SteamNetworkingSockets {
    /// A connection changed state: `connection` has `getConnectionInfo`'s keys (less
    /// `info_flags`) as of the change, `old_state` the state before. A listen socket's incoming
    /// connection arrives as CONNECTING with `listen_socket` set: accept or close it here.
    #[signal]
    fn network_connection_status_changed(connect_handle: i64, connection: VarDictionary, old_state: i64);

    /// The authentication status changed (a NETWORKING_AVAILABILITY_* value and why).
    #[signal]
    fn network_authentication_status(available: i64, debug_message: GString);

    /// A `beginAsyncRequestFakeIP` request finished.
    #[signal]
    fn fake_ip_result(result: i64, identity: i64, fake_ip: GString, port_list: VarArray);

    /// steamnet extension (Networking Utils' signal, `SteamRelayNetworkStatus_t`): the link to
    /// the relay changed state (NETWORKING_AVAILABILITY_* values and why).
    #[signal]
    fn relay_network_status(
        available: i64,
        ping_measurement: i64,
        available_config: i64,
        available_relay: i64,
        debug_message: GString,
    );

    // ----- connections ----------------------------------------------------------------------

    /// Accept an incoming connection in CONNECTING state. RESULT_OK, RESULT_INVALID_PARAM (bad
    /// handle), RESULT_INVALID_STATE (not connecting); RESULT_DUPLICATE_REQUEST possible with
    /// symmetric connect.
    #[func(rename = acceptConnection, gd_self)]
    fn accept_connection(this: Gd<Self>, connection_handle: i64) -> i64 {
        this.bind().call("acceptConnection").accept_connection(handle(connection_handle)).code() as i64
    }

    /// Close a connection and free its handle at once. The peer gets `reason` (0 for the generic
    /// application reason, or 1000 to 1999 of your own) and `debug_message`; with `linger` true,
    /// reliable messages still queued are delivered first. `false` for a bad handle.
    #[func(rename = closeConnection, gd_self)]
    fn close_connection(
        this: Gd<Self>,
        connection_handle: i64,
        reason: i64,
        debug_message: GString,
        linger: bool,
    ) -> bool {
        let reason = i32::try_from(reason).unwrap_or(-1);
        this.bind().call("closeConnection").close_connection(
            handle(connection_handle),
            reason,
            &debug_message.to_string(),
            linger,
        )
    }

    /// Connect to a steamnet listen socket at "ip:port" (`"[v6]:port"` for IPv6). Returns the new
    /// connection's handle, or 0 (NETWORKING_CONNECTION_INVALID) with the reason in the output.
    /// Progress arrives through `network_connection_status_changed`: CONNECTING, then CONNECTED or
    /// an end state. `config_options` is a Dictionary of NETWORKING_CONFIG_* keys and values.
    #[func(rename = connectByIPAddress, gd_self)]
    fn connect_by_ip_address(this: Gd<Self>, ip_address_with_port: GString, config_options: VarDictionary) -> i64 {
        let options = convert::config_options(&config_options);
        this.bind().call("connectByIPAddress").connect_by_ip_address(address_arg(&ip_address_with_port), &options)
            as i64
    }

    /// Connect to a peer by identity (Steam ID -> SteamNetworkingIdentity::SetSteamID64) and
    /// virtual port via the rendezvous/relay service. Returns handle or 0.
    #[func(rename = connectP2P, gd_self)]
    fn connect_p2p(this: Gd<Self>, remote_steam_id: i64, virtual_port: i64, config_options: VarDictionary) -> i64 {
        let options = convert::config_options(&config_options);
        let remote = Identity::from_steam_id(steam_id(remote_steam_id));
        this.bind().call("connectP2P").connect_p2p(remote, virtual_port, &options) as i64
    }

    /// Connect to a hosted dedicated server by its Steam ID and virtual port, through the relay
    /// (neither side learns the other's address). Needs a ticket: the relay issues one to this
    /// authenticated client on the first call, or pass your own (base64) as
    /// NETWORKING_CONFIG_SDR_CLIENT_DEV_TICKET. Without a usable ticket the connection ends with
    /// CONNECTION_END_LOCAL_RIGHTS (none) or CONNECTION_END_REMOTE_BAD_CERT (forged, expired,
    /// or issued to someone else). Returns the connection handle, or 0.
    #[func(rename = connectToHostedDedicatedServer, gd_self)]
    fn connect_to_hosted_dedicated_server(
        this: Gd<Self>,
        remote_steam_id: i64,
        virtual_port: i64,
        config_options: VarDictionary,
    ) -> i64 {
        let options = convert::config_options(&config_options);
        let remote = Identity::from_steam_id(steam_id(remote_steam_id));
        this.bind().call("connectToHostedDedicatedServer").connect_to_hosted_dedicated_server(
            remote,
            virtual_port,
            &options,
        ) as i64
    }

    /// Two connected handles talking to each other, already CONNECTED, no callbacks posted at
    /// creation. loopback=true routes through 127.0.0.1 (fake lag/loss apply). Both ids become
    /// SteamID identities.
    #[func(rename = createSocketPair, gd_self)]
    fn create_socket_pair(
        this: Gd<Self>,
        loopback: bool,
        remote_steam_id1: i64,
        remote_steam_id2: i64,
    ) -> VarDictionary {
        let pair = this.bind().call("createSocketPair").create_socket_pair(
            loopback,
            Identity::from_steam_id(steam_id(remote_steam_id1)),
            Identity::from_steam_id(steam_id(remote_steam_id2)),
        );
        let (c1, c2) = pair.unwrap_or((INVALID_HANDLE, INVALID_HANDLE));
        let mut d = VarDictionary::new();
        put(&mut d, "success", pair.is_some());
        put(&mut d, "connection1", c1 as i64);
        put(&mut d, "connection2", c2 as i64);
        d
    }

    /// What a connection is: `identity`, `user_data`, `listen_socket`, `remote_address`,
    /// `remote_pop`, `pop_relay`, `connection_state`, `end_reason`, `end_debug`,
    /// `connection_description` and `info_flags` (NETWORKING_CONNECTION_INFO_FLAG_*). An empty
    /// Dictionary for a bad handle.
    #[func(rename = getConnectionInfo)]
    fn get_connection_info(&self, connection_handle: i64) -> VarDictionary {
        self.call("getConnectionInfo")
            .connection_info(handle(connection_handle))
            .map(|info| convert::connection_info(&info))
            .unwrap_or_default()
    }

    /// The name given with `setConnectionName`, "" when none was given or the handle is bad.
    #[func(rename = getConnectionName)]
    fn get_connection_name(&self, connection_handle: i64) -> GString {
        GString::from(
            self.call("getConnectionName").connection_name(handle(connection_handle)).unwrap_or_default().as_str(),
        )
    }

    /// Name a connection for your own logs and steamnet's diagnostics.
    #[func(rename = setConnectionName, gd_self)]
    fn set_connection_name(this: Gd<Self>, connection_handle: i64, name: GString) {
        this.bind().call("setConnectionName").set_connection_name(handle(connection_handle), &name.to_string());
    }

    /// The number set with `setConnectionUserData`; -1 when none was set or the handle is bad.
    #[func(rename = getConnectionUserData)]
    fn get_connection_user_data(&self, connection_handle: i64) -> i64 {
        self.call("getConnectionUserData").connection_user_data(handle(connection_handle))
    }

    /// Attach a number of your own to a connection (a player id, say); it comes back as
    /// `receiver_user_data` on every message, including ones already waiting. `false` for a bad
    /// handle.
    #[func(rename = setConnectionUserData, gd_self)]
    fn set_connection_user_data(this: Gd<Self>, connection_handle: i64, user_data: i64) -> bool {
        this.bind().call("setConnectionUserData").set_connection_user_data(handle(connection_handle), user_data)
    }

    /// How a connection is doing right now: `{response, connection_status, lanes_status}`.
    /// `response` is a RESULT_* value; on RESULT_OK `connection_status` has `state`, `ping` (ms),
    /// `local_quality` and `remote_quality` (share of packets arriving, 0 to 1, -1 while unknown),
    /// packets and bytes in and out per second, `send_rate`, the bytes waiting (`pending_reliable`,
    /// `pending_unreliable`, `sent_unacknowledged_reliable`), `queue_time` (µs), and steamnet's `path`
    /// ("direct", "relayed" or "local"). `lanes_status` has the queue figures of the first `lanes`
    /// lanes. Pass `get_status = false` to skip `connection_status`.
    #[func(rename = getConnectionRealTimeStatus)]
    fn get_connection_real_time_status(
        &self,
        connection_handle: i64,
        lanes: i64,
        #[opt(default = true)] get_status: bool,
    ) -> VarDictionary {
        let mut d = VarDictionary::new();
        match self.call("getConnectionRealTimeStatus").real_time_status(handle(connection_handle), lanes) {
            Err(result) => put(&mut d, "response", result.code() as i64),
            Ok((status, lane_status)) => {
                put(&mut d, "response", SteamResult::Ok.code() as i64);
                let mut s = VarDictionary::new();
                if get_status {
                    put(&mut s, "state", status.state.code() as i64);
                    put(&mut s, "ping", status.ping_ms as i64);
                    put(&mut s, "local_quality", status.local_quality as f64);
                    put(&mut s, "remote_quality", status.remote_quality as f64);
                    put(&mut s, "packets_out_per_second", status.packets_out_per_sec as f64);
                    put(&mut s, "bytes_out_per_second", status.bytes_out_per_sec as f64);
                    put(&mut s, "packets_in_per_second", status.packets_in_per_sec as f64);
                    put(&mut s, "bytes_in_per_second", status.bytes_in_per_sec as f64);
                    put(&mut s, "send_rate", status.send_rate_bytes_per_sec as i64);
                    put(&mut s, "pending_unreliable", status.pending_unreliable as i64);
                    put(&mut s, "pending_reliable", status.pending_reliable as i64);
                    put(&mut s, "sent_unacknowledged_reliable", status.sent_unacked_reliable as i64);
                    put(&mut s, "queue_time", status.queue_time_usec);
                    // steamnet extension: "direct", "relayed" (P2P through the relay) or "local".
                    put(&mut s, "path", GString::from(status.path));
                }
                put(&mut d, "connection_status", s);
                let mut lanes_array = VarArray::new();
                for lane in lane_status {
                    let mut l = VarDictionary::new();
                    put(&mut l, "pending_unreliable", lane.pending_unreliable as i64);
                    put(&mut l, "pending_reliable", lane.pending_reliable as i64);
                    put(&mut l, "sent_unacknowledged_reliable", lane.sent_unacked_reliable as i64);
                    put(&mut l, "queue_time", lane.queue_time_usec);
                    lanes_array.push(&l.to_variant());
                }
                put(&mut d, "lanes_status", lanes_array);
            }
        }
        d
    }

    /// A multi-line report on a connection for a debug overlay or a bug report: `{success, status,
    /// buffer}`, where `status` and `buffer` hold the same text (GodotSteam's source writes `status`,
    /// its documentation says `buffer`). `success` is 0, or -1 for a bad handle.
    #[func(rename = getDetailedConnectionStatus)]
    fn get_detailed_connection_status(&self, connection_handle: i64) -> VarDictionary {
        let text = self.call("getDetailedConnectionStatus").detailed_status(handle(connection_handle));
        let mut d = VarDictionary::new();
        put(&mut d, "success", if text.is_some() { 0i64 } else { -1 });
        let text = GString::from(text.unwrap_or_default().as_str());
        // D5: the seed documents `buffer`, GodotSteam writes `status`; both carry the text.
        put(&mut d, "buffer", text.clone());
        put(&mut d, "status", text);
        d
    }

    /// RESULT_OK; RESULT_NO_CONNECTION bad handle; RESULT_INVALID_PARAM bad lane count/weights or
    /// reducing lanes; RESULT_INVALID_STATE dead connection. GodotSteam reads
    /// `priorities[i]`/`weights[i]` for `i < lanes` without bounds checks.
    #[func(rename = configureConnectionLanes, gd_self)]
    fn configure_connection_lanes(
        this: Gd<Self>,
        connection: i64,
        lanes: i64,
        priorities: VarArray,
        weights: VarArray,
    ) -> i64 {
        let (Some(priorities), Some(weights)) = (convert::int_array(&priorities), convert::int_array(&weights)) else {
            return SteamResult::InvalidParam.code() as i64;
        };
        this.bind()
            .call("configureConnectionLanes")
            .configure_lanes(handle(connection), lanes, &priorities, &weights)
            .code() as i64
    }

    /// The FakeIP and port the peer of a connection uses: `{result, ip_address, port, ip_type}`;
    /// `result` is RESULT_OK, or RESULT_IP_NOT_FOUND when the peer has none.
    #[func(rename = getRemoteFakeIPForConnection)]
    fn get_remote_fake_ip_for_connection(&self, connection_handle: i64) -> VarDictionary {
        let (result, fake) = self.call("getRemoteFakeIPForConnection").remote_fake_ip(handle(connection_handle));
        let mut d = VarDictionary::new();
        put(&mut d, "result", result.code() as i64);
        let ip = fake.map_or_else(|| format_ip(std::net::Ipv6Addr::UNSPECIFIED.into()), |f| f.ip().to_string());
        put(&mut d, "ip_address", GString::from(ip.as_str()));
        put(&mut d, "port", fake.map_or(0, |f| f.port() as i64));
        // FAKE_IP_TYPE_INVALID without one.
        put(&mut d, "ip_type", fake.map_or(0, |_| steamnet_net::sockets::fake_ip_type() as i64));
        d
    }

    // ----- messages -------------------------------------------------------------------------

    /// Result: RESULT_OK; RESULT_INVALID_PARAM (bad handle or > MAX_STEAM_PACKET_SIZE);
    /// RESULT_INVALID_STATE; RESULT_NO_CONNECTION (ended); RESULT_IGNORED (NO_DELAY and not ready);
    /// RESULT_LIMIT_EXCEEDED (send buffer full, see NETWORKING_CONFIG_SEND_BUFFER_SIZE).
    #[func(rename = sendMessageToConnection)]
    fn send_message_to_connection(
        &mut self,
        connection_handle: i64,
        data: PackedByteArray,
        flags: i64,
    ) -> VarDictionary {
        let flags = i32::try_from(flags).unwrap_or(0);
        let payload = self.messages.payload(&data);
        let outcome = self.call_reentrantly("sendMessageToConnection", |sockets| {
            sockets.send_message(handle(connection_handle), payload, flags)
        });
        let (result, number) = match outcome {
            Ok(number) => (SteamResult::Ok, number),
            Err(result) => (result, 0),
        };
        self.messages.send_result(result, number)
    }

    /// Send several messages in one call; returns one entry per message: its message number, or a
    /// negative RESULT_* value if it was not sent. Each item is a PackedByteArray sent to
    /// `connection_handle` with `flags`, or (a steamnet extension) a Dictionary
    /// `{payload, lane, flags, connection}` where only `payload` is required, so one call can send on
    /// several lanes and to several connections.
    #[func(rename = sendMessages)]
    fn send_messages(&mut self, messages: VarArray, connection_handle: i64, flags: i64) -> VarArray {
        let mut out = VarArray::new();
        for message in messages.iter_shared() {
            let entry = match convert::outgoing_message(&message, connection_handle, flags) {
                Some(m) if m.payload.len() <= MAX_MESSAGE_SIZE_SEND => {
                    let payload = self.messages.payload(&m.payload);
                    let sent = self.call_reentrantly("sendMessages", |sockets| {
                        sockets.send_message_on_lane(m.connection, m.lane, payload, m.flags)
                    });
                    match sent {
                        Ok(number) => number,
                        Err(result) => -(result.code() as i64),
                    }
                }
                _ => -(SteamResult::InvalidParam.code() as i64),
            };
            out.push(&entry.to_variant());
        }
        out
    }

    /// Send Nagle-delayed data now. RESULT_OK, RESULT_INVALID_PARAM, RESULT_INVALID_STATE,
    /// RESULT_NO_CONNECTION, RESULT_IGNORED (not yet connected).
    #[func(rename = flushMessagesOnConnection, gd_self)]
    fn flush_messages_on_connection(this: Gd<Self>, connection_handle: i64) -> i64 {
        this.bind().call("flushMessagesOnConnection").flush_messages(handle(connection_handle)).code() as i64
    }

    /// Take up to `max_messages` messages that arrived on a connection, oldest first. Each is a
    /// Dictionary: `payload` (PackedByteArray), `size`, `connection`, `identity` (the sender's Steam
    /// ID, 0 when anonymous), `receiver_user_data`, `time_received` (µs, `getLocalTimestamp`'s clock),
    /// `message_number`, `flags` and steamnet's `lane`. An empty Array when nothing is waiting or the
    /// handle is bad.
    #[func(rename = receiveMessagesOnConnection)]
    fn receive_messages_on_connection(&mut self, connection_handle: i64, max_messages: i64) -> VarArray {
        let messages = self.call_reentrantly("receiveMessagesOnConnection", |sockets| {
            sockets.receive_on_connection(handle(connection_handle), max_count(max_messages))
        });
        messages.map(|messages| self.messages.received(messages)).unwrap_or_default()
    }

    // ----- poll groups ----------------------------------------------------------------------

    /// New poll group handle (0 = NET_POLL_GROUP_INVALID on failure).
    #[func(rename = createPollGroup, gd_self)]
    fn create_poll_group(this: Gd<Self>) -> i64 {
        this.bind().call("createPollGroup").create_poll_group() as i64
    }

    /// Connections in it are left in no group. false for an invalid handle.
    #[func(rename = destroyPollGroup, gd_self)]
    fn destroy_poll_group(this: Gd<Self>, poll_group: i64) -> bool {
        this.bind().call("destroyPollGroup").destroy_poll_group(handle(poll_group))
    }

    /// A connection belongs to at most one group; pending messages move to the new group in
    /// approximate arrival order. false if either handle is invalid (0 group allowed).
    #[func(rename = setConnectionPollGroup, gd_self)]
    fn set_connection_poll_group(this: Gd<Self>, connection_handle: i64, poll_group: i64) -> bool {
        // An out-of-range group is not the "remove from group" value 0.
        let Ok(group) = u32::try_from(poll_group) else { return false };
        this.bind().call("setConnectionPollGroup").set_connection_poll_group(handle(connection_handle), group)
    }

    /// Same as receiveMessagesOnConnection across every connection in the group; use the connection
    /// key to demultiplex.
    #[func(rename = receiveMessagesOnPollGroup)]
    fn receive_messages_on_poll_group(&mut self, poll_group: i64, max_messages: i64) -> VarArray {
        let messages = self.call_reentrantly("receiveMessagesOnPollGroup", |sockets| {
            sockets.receive_on_poll_group(handle(poll_group), max_count(max_messages))
        });
        messages.map(|messages| self.messages.received(messages)).unwrap_or_default()
    }

    // ----- listen sockets -------------------------------------------------------------------

    /// Plain-UDP listen socket. Returns listen socket handle or 0 (LISTEN_SOCKET_INVALID). Incoming
    /// attempts emit network_connection_status_changed in CONNECTING.
    #[func(rename = createListenSocketIP, gd_self)]
    fn create_listen_socket_ip(this: Gd<Self>, ip_address: GString, config_options: VarDictionary) -> i64 {
        let options = convert::config_options(&config_options);
        let address = address_arg(&ip_address);
        if address.is_none() {
            // GodotSteam's behaviour (a cleared address), said out loud.
            crate::complaints::complain(
                "createListenSocketIP",
                &format!(
                    "'{ip_address}' is not \"ip:port\" (such as \"0.0.0.0:27015\" or \"[::]:27015\"); \
                     listening on [::]:0, every address and a port the system picks, as GodotSteam does"
                ),
            );
        }
        this.bind().call("createListenSocketIP").create_listen_socket_ip(address, &options) as i64
    }

    /// Listen for connectP2P peers on a virtual port (small int, 0 typical). Returns handle or 0.
    #[func(rename = createListenSocketP2P, gd_self)]
    fn create_listen_socket_p2p(this: Gd<Self>, virtual_port: i64, config_options: VarDictionary) -> i64 {
        let options = convert::config_options(&config_options);
        this.bind().call("createListenSocketP2P").create_listen_socket_p2p(virtual_port, &options) as i64
    }

    /// Listen for connections addressed to our FakeIP; call after beginAsyncRequestFakeIP. Returns
    /// handle or 0.
    #[func(rename = createListenSocketP2PFakeIP, gd_self)]
    fn create_listen_socket_p2p_fake_ip(this: Gd<Self>, fake_port: i64, config_options: VarDictionary) -> i64 {
        let options = convert::config_options(&config_options);
        this.bind().call("createListenSocketP2PFakeIP").create_listen_socket_p2p_fake_ip(fake_port, &options) as i64
    }

    /// Listen as a hosted dedicated server on a virtual port: clients reach it with
    /// connectToHostedDedicatedServer through the relay, never learning its address. As on
    /// Steam, the SDR_LISTEN_PORT environment variable must name the UDP port the server may
    /// use; without it this returns 0 (LISTEN_SOCKET_INVALID) and says why. The server
    /// authenticates with its certificate (initAuthentication) like any relay user.
    #[func(rename = createHostedDedicatedServerListenSocket, gd_self)]
    fn create_hosted_dedicated_server_listen_socket(
        this: Gd<Self>,
        virtual_port: i64,
        config_options: VarDictionary,
    ) -> i64 {
        let options = convert::config_options(&config_options);
        this.bind()
            .call("createHostedDedicatedServerListenSocket")
            .create_hosted_dedicated_server_listen_socket(virtual_port, &options) as i64
    }

    /// Destroy a listen socket; its accepted connections are closed ungracefully. false if invalid.
    #[func(rename = closeListenSocket, gd_self)]
    fn close_listen_socket(this: Gd<Self>, socket: i64) -> bool {
        this.bind().call("closeListenSocket").close_listen_socket(handle(socket))
    }

    /// The address a listen socket is bound to: "ip:port" (`"[v6]:port"` for IPv6), or the IP alone
    /// when `with_port` is false; "" for a bad handle. Useful after listening on port 0.
    #[func(rename = getListenSocketAddress)]
    fn get_listen_socket_address(&self, socket: i64, #[opt(default = true)] with_port: bool) -> GString {
        GString::from(
            self.call("getListenSocketAddress")
                .listen_socket_address(handle(socket), with_port)
                .unwrap_or_default()
                .as_str(),
        )
    }

    // ----- FakeIP, hosted servers, identity and certificates --------------------------------

    /// Start FakeIP allocation (max 4 ports on Steam); false if a request is already in progress.
    /// Completion emits fake_ip_result.
    #[func(rename = beginAsyncRequestFakeIP, gd_self)]
    fn begin_async_request_fake_ip(this: Gd<Self>, num_ports: i64) -> bool {
        this.bind().call("beginAsyncRequestFakeIP").begin_async_request_fake_ip(num_ports)
    }

    /// Result RESULT_BUSY (pending), RESULT_INVALID_PARAM, RESULT_LIMIT_EXCEEDED, RESULT_NO_MATCH
    /// (never requested).
    #[func(rename = getFakeIP)]
    fn get_fake_ip(&self, #[opt(default = 0)] first_port: i64) -> VarDictionary {
        let info = self.call("getFakeIP").fake_ip(first_port);
        let mut d = VarDictionary::new();
        put(&mut d, "result", info.result.code() as i64);
        put(&mut d, "identity_type", info.identity_type as i64);
        put(&mut d, "ip", GString::from(info.ip.as_str()));
        let ports: Vec<i32> = info.ports.iter().map(|p| *p as i32).collect();
        put(&mut d, "ports", PackedInt32Array::from(ports.as_slice()));
        d
    }

    /// GodotSteam discards the port object this creates, so from GDScript it has no effect.
    #[func(rename = createFakeUDPPort, gd_self)]
    fn create_fake_udp_port(_this: Gd<Self>, fake_server_port: i64) {
        let _ = fake_server_port;
    }

    /// The relay point of presence a hosted dedicated server is behind: 0 while the
    /// `SDR_LISTEN_PORT` environment variable is unset; else the `SDR_POPID` environment variable
    /// (up to four characters packed into an int, as GNS does), else the POP code of the relay
    /// this server is connected to, else DATAGRAM_POP_ID_DEV.
    #[func(rename = getHostedDedicatedServerPOPId)]
    fn get_hosted_dedicated_server_pop_id(&self) -> i64 {
        self.call("getHostedDedicatedServerPOPId").hosted_dedicated_server_pop_id() as i64
    }

    /// The port a hosted dedicated server listens on: the `SDR_LISTEN_PORT` environment variable, 0
    /// when unset.
    #[func(rename = getHostedDedicatedServerPort)]
    fn get_hosted_dedicated_server_port(&self) -> i64 {
        self.call("getHostedDedicatedServerPort").hosted_dedicated_server_port() as i64
    }

    /// Extension (GodotSteam leaves it unbound): whether clients can reach this hosted server.
    /// RESULT_OK once a hosted listen socket is registered with the relay; RESULT_INVALID_STATE
    /// while it is not (yet); RESULT_FAIL when SDR_LISTEN_PORT is unset (not a hosted server).
    /// Clients route by the server's Steam ID and virtual port, so there is no routing blob.
    #[func(rename = getHostedDedicatedServerAddress)]
    fn get_hosted_dedicated_server_address(&self) -> i64 {
        self.call("getHostedDedicatedServerAddress").hosted_dedicated_server_address().code() as i64
    }

    /// Extension (GodotSteam leaves it unbound): whether this hosted server can prove itself to
    /// a backend. Its login is its certificate (checked against the CA's public key):
    /// RESULT_OK while it holds a current one; RESULT_INVALID_STATE before authentication
    /// completes; RESULT_FAIL when SDR_LISTEN_PORT is unset (not a hosted server).
    #[func(rename = getGameCoordinatorServerLogin)]
    fn get_game_coordinator_server_login(&self) -> i64 {
        self.call("getGameCoordinatorServerLogin").game_coordinator_server_login().code() as i64
    }

    /// Reset local identity to the given Steam ID; closes all connections and drops certificates.
    /// Not supported on Steam itself.
    #[func(rename = resetIdentity, gd_self)]
    fn reset_identity(this: Gd<Self>, remote_steam_id: i64) {
        this.bind().call("resetIdentity").reset_identity(Identity::from_steam_id(steam_id(remote_steam_id)));
    }

    /// High-level auth readiness only (details pointer is NULL). Default/failed-interface value
    /// NETWORKING_AVAILABILITY_UNKNOWN (0).
    #[func(rename = getAuthenticationStatus)]
    fn get_authentication_status(&self) -> i64 {
        self.call("getAuthenticationStatus").authentication_status() as i64
    }

    /// Begin obtaining certificates; returns the status getAuthenticationStatus would return.
    /// Changes emit network_authentication_status.
    #[func(rename = initAuthentication, gd_self)]
    fn init_authentication(this: Gd<Self>) -> i64 {
        this.bind().call("initAuthentication").init_authentication() as i64
    }

    /// A request for this installation's identity key in this app, for a CA to sign offline
    /// (`steamnet-relay ca sign --in req --out cert`). `{certificate, error_message}`; an empty
    /// Dictionary on failure, as GodotSteam (the reason is pushed as an error).
    #[func(rename = getCertificateRequest, gd_self)]
    fn get_certificate_request(this: Gd<Self>) -> VarDictionary {
        let mut d = VarDictionary::new();
        match this.bind().call("getCertificateRequest").certificate_request() {
            Ok(request) => {
                put(&mut d, "certificate", PackedByteArray::from(request.as_slice()));
                put(&mut d, "error_message", GString::new());
            }
            Err(why) => godot_error!("getCertificateRequest: {why}"),
        }
        d
    }

    /// Install a certificate signed offline. Always `{response, error}` (GodotSteam fills them
    /// only on success): the certificate must be for this installation's key and app, from a
    /// trusted CA, and unexpired.
    #[func(rename = setCertificate, gd_self)]
    fn set_certificate(this: Gd<Self>, certificate: PackedByteArray) -> VarDictionary {
        let mut d = VarDictionary::new();
        let result = this.bind().call("setCertificate").set_certificate(certificate.as_slice());
        put(&mut d, "response", result.is_ok());
        put(&mut d, "error", GString::from(result.err().unwrap_or_default().as_str()));
        d
    }

    /// steamnet extension (Networking Utils): get a certificate if needed and connect to the
    /// relay now, so the first P2P call does not wait. Progress emits relay_network_status.
    #[func(rename = initRelayNetworkAccess, gd_self)]
    fn init_relay_network_access(this: Gd<Self>) {
        this.bind().call("initRelayNetworkAccess").init_relay_network_access();
    }

    /// steamnet extension (Networking Utils): readiness of the link to the relay, a
    /// NETWORKING_AVAILABILITY_* value.
    #[func(rename = getRelayNetworkStatus)]
    fn get_relay_network_status(&self) -> i64 {
        self.call("getRelayNetworkStatus").relay_network_status() as i64
    }

    /// steamnet extension: every relay point of presence in `steamnet/relay/address` (or
    /// `STEAMNET_RELAY`), as an Array of Dictionaries: `address` ("host:port"), `pop` (its
    /// code, "" until known), `ping_ms` (round trip of its last answer to our ping, -1 if none)
    /// and `current` (the one the relay link uses: the fastest). Empty before the relay link
    /// exists (`initRelayNetworkAccess` or a first P2P call).
    #[func(rename = getRelayPOPs)]
    fn get_relay_pops(&self) -> VarArray {
        let mut list = VarArray::new();
        for pop in self.call("getRelayPOPs").relay_pops() {
            let mut d = VarDictionary::new();
            put(&mut d, "address", GString::from(pop.address.as_str()));
            put(&mut d, "pop", GString::from(pop.pop.as_str()));
            put(&mut d, "ping_ms", pop.ping_ms as i64);
            put(&mut d, "current", pop.current);
            list.push(&d.to_variant());
        }
        list
    }

    /// steamnet extension (GNS's `GetIdentity`, which GodotSteam no longer binds): this
    /// installation's identity as text, `"steamid:<id64>"`, or `""` before one is known.
    #[func(rename = getIdentity)]
    fn get_identity(&self) -> GString {
        GString::from(self.call("getIdentity").identity_text().as_str())
    }

    // ----- callbacks ------------------------------------------------------------------------

    /// Dispatch queued callbacks for this interface (i.e. emit the pending signals).
    #[func(rename = runNetworkingCallbacks, gd_self)]
    fn run_networking_callbacks(this: Gd<Self>) {
        crate::signals::dispatch_callbacks(this.clone());
    }
}
