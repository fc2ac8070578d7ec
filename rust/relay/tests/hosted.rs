//! Hosted dedicated servers at the relay protocol: a hosted port is reachable only with a
//! ticket issued to the caller, P2P calls never reach it, a call without a usable ticket is
//! refused with the GNS end reason at once, and tickets cost a session a capped rate.

mod support;

use steamnet_proto::cert::Authority;
use steamnet_relay::messages::RelayMessage;
use steamnet_relay::ticket::{TICKET_LEN, Ticket};
use support::{Client, start_relay, until};

/// The REFUSED answers `client` got: (route, reason, text).
fn refusals(client: &Client) -> Vec<(u32, u32, String)> {
    client
        .messages
        .iter()
        .filter_map(|m| match RelayMessage::decode(m) {
            Some(RelayMessage::Refused { route, reason, text }) => Some((route, reason, text.to_string())),
            _ => None,
        })
        .collect()
}

/// The TICKET answers `client` got, in order.
fn tickets(client: &Client) -> Vec<Vec<u8>> {
    client
        .messages
        .iter()
        .filter_map(|m| match RelayMessage::decode(m) {
            Some(RelayMessage::Ticket { ticket, .. }) => Some(ticket.to_vec()),
            _ => None,
        })
        .collect()
}

#[test]
fn hosted_ports_need_a_ticket_issued_to_the_caller() {
    let (_runtime, relay, ca) = start_relay();
    let (mut client, mut server, mut thief) =
        (Client::new(relay, &ca), Client::new(relay, &ca), Client::new(relay, &ca));
    until(&mut [&mut client, &mut server, &mut thief], &|c| c.iter().all(|c| c.connected()));
    server.send(RelayMessage::HostedListen { vport: 27015 });
    client.send(RelayMessage::Listen { vport: 1 }); // any first message makes a session
    thief.send(RelayMessage::Listen { vport: 1 });
    until(&mut [&mut client, &mut server, &mut thief], &|c| c.iter().all(|c| c.token.is_some()));

    // A P2P call to the hosted port: never joined (no INCOMING), and no answer either.
    client.send(RelayMessage::Connect { route: 1, target: server.identity, vport: 27015 });
    // No ticket, a forged one, one from another CA: refused at once, each with its reason.
    client.send(RelayMessage::ConnectHosted { route: 2, ticket: &[] });
    client.send(RelayMessage::ConnectHosted { route: 3, ticket: &[0; TICKET_LEN] });
    let stranger =
        Ticket::issue(&Authority::generate(), client.identity, server.identity, 27015, steamnet_relay::unix_now());
    client.send(RelayMessage::ConnectHosted { route: 4, ticket: &stranger.encode() });
    until(&mut [&mut client, &mut server], &|c| refusals(c[0]).len() == 3);
    let got = refusals(&client);
    assert_eq!((got[0].0, got[0].1), (2, 3005), "no ticket: Local_Rights ({})", got[0].2);
    assert_eq!((got[1].0, got[1].1), (3, 4003), "forged: Remote_BadCert ({})", got[1].2);
    assert_eq!((got[2].0, got[2].1), (4, 4003), "another CA: Remote_BadCert ({})", got[2].2);
    assert!(server.incoming_route.is_none(), "the P2P call and the refused ones never reached the server");

    // The relay issues the client a ticket; the thief copying it is refused.
    client.send(RelayMessage::TicketRequest { server: server.identity, vport: 27015 });
    until(&mut [&mut client], &|c| !tickets(c[0]).is_empty());
    let ticket = tickets(&client).remove(0);
    let decoded = Ticket::decode(&ticket).expect("a ticket");
    assert_eq!((decoded.client, decoded.server, decoded.vport), (client.identity, server.identity, 27015));
    thief.send(RelayMessage::ConnectHosted { route: 1, ticket: &ticket });
    until(&mut [&mut thief], &|c| !refusals(c[0]).is_empty());
    assert_eq!(refusals(&thief)[0].1, 4003);
    assert!(refusals(&thief)[0].2.contains("another identity"), "{}", refusals(&thief)[0].2);

    // With its own ticket the client's call reaches the server's hosted port.
    client.send(RelayMessage::ConnectHosted { route: 5, ticket: &ticket });
    until(&mut [&mut client, &mut server], &|c| c[1].incoming_route.is_some());
    assert_eq!(refusals(&client).len(), 3, "the good call was not refused");
}

#[test]
fn tickets_are_rate_limited_per_session() {
    let (_runtime, relay, ca) = start_relay();
    let mut client = Client::new(relay, &ca);
    until(&mut [&mut client], &|c| c[0].connected());
    let asked = 40;
    for vport in 0..asked {
        client.send(RelayMessage::TicketRequest { server: 76561197960265729, vport });
    }
    until(&mut [&mut client], &|c| tickets(c[0]).len() == asked as usize);
    let issued = tickets(&client).iter().filter(|t| !t.is_empty()).count();
    // A burst of 16, plus one per 100 ms while the requests were handled.
    assert!((16..=20).contains(&issued), "{issued} of {asked} tickets issued");
}
