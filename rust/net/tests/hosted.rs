//! Hosted dedicated servers through a relay on loopback, the way a game uses them: the server
//! listens (it needs SDR_LISTEN_PORT, as on Steam), a client connects by the server's Steam ID
//! with a ticket the relay issues it, and neither learns the other's address; calls without a
//! usable ticket end with GNS's reasons.

mod support;

use base64::Engine;
use steamnet_net::config::ConfigInput;
use steamnet_net::{HostedEnvironment, Identity, Sockets, SteamResult, end_reason};
use steamnet_proto::cert::Authority;
use steamnet_relay::ticket::{TICKET_LIFETIME_SECS, Ticket};
use support::relay::{TestRelay, authenticate, deliver_one, wait_for_end};
use support::{accept_across, wait_until};

const VPORT: i64 = 27015;
/// `NETWORKING_CONFIG_SDR_CLIENT_DEV_TICKET`.
const DEV_TICKET: i64 = 30;

/// A hosted server on `relay`, listening on VPORT: (its interface, its Steam ID, the listen
/// socket, its SDR_LISTEN_PORT).
fn hosted_server(relay: &TestRelay) -> (Sockets, u64, u32, u16) {
    let server = relay.sockets();
    // A free port for SDR_LISTEN_PORT (released just before the server binds it).
    let port = std::net::UdpSocket::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port();
    server.set_hosted_environment(HostedEnvironment { listen_port: port, pop: None });
    let id = authenticate(&server);
    let listen = server.create_hosted_dedicated_server_listen_socket(VPORT, &[]);
    assert_ne!(listen, 0);
    wait_until(|| server.hosted_dedicated_server_address() == SteamResult::Ok);
    (server, id, listen, port)
}

/// Config options for a call.
type Options = Vec<(i64, ConfigInput)>;

fn dev_ticket(bytes: &[u8]) -> Options {
    vec![(DEV_TICKET, ConfigInput::Str(base64::engine::general_purpose::STANDARD.encode(bytes)))]
}

#[test]
fn clients_reach_a_hosted_server_through_the_relay_with_a_ticket() {
    let relay = TestRelay::start("hosted");
    let (server, server_id, listen, port) = hosted_server(&relay);
    assert!(std::net::UdpSocket::bind(("0.0.0.0", port)).is_err(), "the server uses SDR_LISTEN_PORT");
    assert_eq!(server.hosted_dedicated_server_port(), port);
    assert_eq!(server.hosted_dedicated_server_pop_id(), 0x646576, "a relay without --pop: \"dev\"");
    assert_eq!(server.game_coordinator_server_login(), SteamResult::Ok);

    let client = relay.sockets();
    // Not a hosted server: no SDR_LISTEN_PORT, so no hosted listen socket and no address.
    assert_eq!(client.create_hosted_dedicated_server_listen_socket(VPORT, &[]), 0);
    assert_eq!(client.hosted_dedicated_server_address(), SteamResult::Fail);
    assert_eq!(client.hosted_dedicated_server_pop_id(), 0);

    // The client never called initAuthentication: the call starts it and fetches a ticket.
    let c = client.connect_to_hosted_dedicated_server(Identity::SteamId(server_id), VPORT, &[]);
    assert_ne!(c, 0);
    let s = accept_across(&server, listen, &client, c);
    let client_id = authenticate(&client);
    assert_eq!(server.connection_info(s).unwrap().identity, client_id, "the client's verified identity");
    assert_eq!(client.connection_info(c).unwrap().identity, server_id);
    assert_eq!(client.connection_info(c).unwrap().remote_address, "::", "the server's address stays hidden");
    assert_eq!(server.connection_info(s).unwrap().remote_address, "::");
    deliver_one(&client, c, &server, s, b"hello server");
    deliver_one(&server, s, &client, c, b"hello client");
    // A second call reuses the cached ticket.
    let c2 = client.connect_to_hosted_dedicated_server(Identity::SteamId(server_id), VPORT, &[]);
    let s2 = accept_across(&server, listen, &client, c2);
    deliver_one(&client, c2, &server, s2, b"again");

    // A server that is not running: the call times out like a P2P call.
    let nobody = client.connect_to_hosted_dedicated_server(Identity::SteamId(server_id ^ 1), VPORT, &[]);
    let (_, reason, _, _) = wait_for_end(&client, nobody);
    assert_eq!(reason, end_reason::MISC_P2P_RENDEZVOUS);

    // A P2P call to the same port does not reach a hosted listen socket.
    let p2p = client.connect_p2p(Identity::SteamId(server_id), VPORT, &[]);
    let (_, reason, _, _) = wait_for_end(&client, p2p);
    assert_eq!(reason, end_reason::MISC_P2P_RENDEZVOUS);
}

#[test]
fn calls_without_a_usable_ticket_end_with_gns_reasons() {
    let relay = TestRelay::start("tickets");
    let (server, server_id, listen, _) = hosted_server(&relay);
    let client = relay.sockets();
    let client_id = authenticate(&client);
    let ca = Authority::from_secret(&relay.secret);
    let now = steamnet_relay::unix_now();
    let cases: Vec<(&str, Options, &str)> = vec![
        ("not base64", vec![(DEV_TICKET, ConfigInput::Str("garbage!".into()))], "not a steamnet relay ticket"),
        (
            "another CA",
            dev_ticket(&Ticket::issue(&Authority::generate(), client_id, server_id, 27015, now).encode()),
            "does not trust",
        ),
        (
            "someone else's",
            dev_ticket(&Ticket::issue(&ca, client_id ^ 1, server_id, 27015, now).encode()),
            "another identity",
        ),
        (
            "expired",
            dev_ticket(&Ticket::issue(&ca, client_id, server_id, 27015, now - 2 * TICKET_LIFETIME_SECS).encode()),
            "expired",
        ),
    ];
    for (what, options, why) in cases {
        let c = client.connect_to_hosted_dedicated_server(Identity::SteamId(server_id), VPORT, &options);
        assert_ne!(c, 0, "{what}");
        let (_, reason, text, seconds) = wait_for_end(&client, c);
        assert_eq!(reason, end_reason::REMOTE_BAD_CERT, "{what}: {text}");
        assert!(text.contains(why), "{what}: {text}");
        assert!(seconds < 1.5, "{what}: refused at once, not by a timeout ({seconds:.2} s)");
    }
    // A good ticket of our own (as a backend would hand out) works like the relay's.
    let good = dev_ticket(&Ticket::issue(&ca, client_id, server_id, 27015, now).encode());
    let c = client.connect_to_hosted_dedicated_server(Identity::SteamId(server_id), VPORT, &good);
    let s = accept_across(&server, listen, &client, c);
    deliver_one(&client, c, &server, s, b"dev ticket");
}
