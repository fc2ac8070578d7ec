//! Relays as POPs of one cluster sharing a Redis directory (a real `redis-server` on a free
//! loopback port): FakeIPs stay unique across POPs under concurrent requests, and a call from
//! one POP's client reaches another POP's client.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;

use steamnet_proto::cert::Authority;
use steamnet_relay::directory::redis_store::LocalRedis;
use steamnet_relay::messages::{RelayMessage, relayed_from_client};
use support::{Client, start_pop, until};

/// A directory and two POPs, "a" and "b", sharing a CA: (directory, CA, a, b). Keep them all
/// alive for the test.
fn two_pops() -> (LocalRedis, Authority, (tokio::runtime::Runtime, SocketAddr), (tokio::runtime::Runtime, SocketAddr)) {
    let redis = LocalRedis::start().unwrap();
    let ca = Authority::generate();
    let a = start_pop(&redis.url(), "a", &ca);
    let b = start_pop(&redis.url(), "b", &ca);
    (redis, ca, a, b)
}

fn fake_ip_of(client: &Client) -> Option<u32> {
    client.messages.iter().find_map(|m| match RelayMessage::decode(m) {
        Some(RelayMessage::FakeIp { ip, .. }) => Some(ip),
        _ => None,
    })
}

#[test]
fn fake_ips_are_unique_across_pops_under_200_concurrent_requests() {
    let (_redis, ca, (_a, pop_a), (_b, pop_b)) = two_pops();
    // From 127.0.0.1 to 127.0.0.8: a relay admits 64 connections per address.
    let mut clients: Vec<Client> = (0..200)
        .map(|i| {
            let bind = format!("127.0.0.{}:0", 1 + i / 25).parse().unwrap();
            Client::bound(if i % 2 == 0 { pop_a } else { pop_b }, &ca, bind)
        })
        .collect();
    let mut all: Vec<&mut Client> = clients.iter_mut().collect();
    until(&mut all, &|c| c.iter().all(|c| c.connected()));
    // Every request goes out before any answer is read: 200 allocations in flight at once.
    for client in all.iter_mut() {
        client.send(RelayMessage::FakeIpRequest { ports: 1 });
    }
    until(&mut all, &|c| c.iter().all(|c| fake_ip_of(c).is_some()));
    let ips: Vec<u32> = all.iter().map(|c| fake_ip_of(c).unwrap()).collect();
    assert!(ips.iter().all(|&ip| ip >> 16 == 0xa9fe && ip as u16 != 0), "every request got a FakeIP");
    assert_eq!(ips.iter().collect::<HashSet<_>>().len(), 200, "no FakeIP handed to two owners");
}

#[test]
fn a_client_of_one_pop_reaches_a_client_of_another() {
    let (_redis, ca, (_a, pop_a), (_b, pop_b)) = two_pops();
    let (mut caller, mut listener) = (Client::new(pop_a, &ca), Client::new(pop_b, &ca));
    until(&mut [&mut caller, &mut listener], &|c| c[0].connected() && c[1].connected());
    listener.send(RelayMessage::Listen { vport: 7 });
    caller.send(RelayMessage::Listen { vport: 1 });
    until(&mut [&mut caller, &mut listener], &|c| c[0].token.is_some() && c[1].token.is_some());
    // Repeated, as clients do, until the other POP has joined the call.
    caller.send(RelayMessage::Connect { route: 1, target: listener.identity, vport: 7 });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while listener.incoming_route.is_none() {
        assert!(std::time::Instant::now() < deadline, "the call never reached the other POP's client");
        caller.send(RelayMessage::Connect { route: 1, target: listener.identity, vport: 7 });
        for _ in 0..50 {
            caller.pump();
            listener.pump();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
    // Datagrams both ways, beside the sessions, through both POPs.
    caller.socket.send_to(&relayed_from_client(caller.token.unwrap(), 1, b"to b"), pop_a).unwrap();
    until(&mut [&mut caller, &mut listener], &|c| !c[1].relayed.is_empty());
    assert_eq!(listener.relayed.remove(0), b"to b");
    let back = listener.incoming_route.unwrap();
    listener.socket.send_to(&relayed_from_client(listener.token.unwrap(), back, b"to a"), pop_b).unwrap();
    until(&mut [&mut caller, &mut listener], &|c| !c[0].relayed.is_empty());
    assert_eq!(caller.relayed.remove(0), b"to a");
}

#[test]
fn revoked_identities_are_refused_by_every_pop() {
    let (redis, ca, (_a, pop_a), (_b, pop_b)) = two_pops();
    let (mut on_a, mut on_b, mut honest) = (Client::new(pop_a, &ca), Client::new(pop_b, &ca), Client::new(pop_b, &ca));
    // `steamnet-relay revoke`, before their sessions start.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for identity in [on_a.identity, on_b.identity] {
        runtime.block_on(steamnet_relay::directory::redis_store::revoke(&redis.url(), identity)).unwrap();
    }
    until(&mut [&mut on_a, &mut on_b, &mut honest], &|c| c.iter().all(|c| c.connected()));
    for client in [&mut on_a, &mut on_b, &mut honest] {
        client.send(RelayMessage::Listen { vport: 1 });
    }
    until(&mut [&mut on_a, &mut on_b, &mut honest], &|c| c[0].closed.is_some() && c[1].closed.is_some());
    for client in [&on_a, &on_b] {
        assert!(client.closed_by_relay().unwrap().contains("revoked"), "{:?}", client.closed);
    }
    assert!(honest.closed_by_relay().is_none() && honest.token.is_some(), "others are not affected");
}

#[test]
fn a_session_asking_again_and_again_holds_one_fake_ip() {
    let (redis, ca, (_a, pop_a), _b) = two_pops();
    let mut client = Client::new(pop_a, &ca);
    until(&mut [&mut client], &|c| c[0].connected());
    for _ in 0..20 {
        client.send(RelayMessage::FakeIpRequest { ports: 1 });
    }
    until(&mut [&mut client], &|c| fake_ip_of(c[0]).is_some());
    client.send(RelayMessage::FakeIpRequest { ports: 1 });
    let answers = |c: &Client| {
        c.messages
            .iter()
            .filter_map(|m| match RelayMessage::decode(m) {
                Some(RelayMessage::FakeIp { ip, .. }) => Some(ip),
                _ => None,
            })
            .collect::<Vec<u32>>()
    };
    until(&mut [&mut client], &|c| answers(c[0]).len() >= 2);
    let ips = answers(&client);
    assert!(ips.iter().all(|&ip| ip == ips[0]), "always the same FakeIP: {ips:?}");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let held: Vec<String> = runtime.block_on(async {
        let mut c = redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
        redis::cmd("KEYS").arg("steamnet:fip:*").query_async(&mut c).await.unwrap()
    });
    assert_eq!(held.len(), 1, "one FakeIP taken in the directory: {held:?}");
}
