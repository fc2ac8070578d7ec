//! P2P by identity and virtual port through a relay on loopback: rendezvous, relayed traffic
//! (end-to-end encrypted; the relay only forwards), and each way it can fail.

mod support;

use std::time::{Duration, Instant};

use steamnet_net::config::ConfigInput;
use steamnet_net::{ConnectionState, Event, Handle, Identity, Sockets, availability, send_flags};
use support::relay::{TestRelay, authenticate, deliver_one, wait_for_end};
use support::{accept_across, wait_for, wait_until};

/// `listener` listens on `vport`; `caller` connects to it by identity; both accept/connect.
/// Returns (caller's handle, listener's handle).
fn p2p_pair(caller: &Sockets, listener: &Sockets, listener_id: u64, vport: i64) -> (Handle, Handle, Handle) {
    let listen = listener.create_listen_socket_p2p(vport, &[]);
    assert_ne!(listen, 0);
    let c = caller.connect_p2p(Identity::SteamId(listener_id), vport, &[]);
    assert_ne!(c, 0);
    let s = accept_across(listener, listen, caller, c);
    (c, s, listen)
}

#[test]
fn two_identities_talk_through_the_relay_exactly_once_in_order() {
    let relay = TestRelay::start("talk");
    let (caller, listener) = (relay.sockets(), relay.sockets());
    let listener_id = authenticate(&listener);
    // The caller never called initAuthentication: connectP2P starts it, as on Steam.
    let (c, s, _) = p2p_pair(&caller, &listener, listener_id, 7);
    let caller_id: u64 = caller.identity_text().trim_start_matches("steamid:").parse().unwrap();
    let server_side = listener.connection_info(s).unwrap();
    assert_eq!(server_side.identity, caller_id, "the caller's verified identity");
    assert_eq!(server_side.info_flags & 1, 0, "authenticated");
    assert_eq!(caller.connection_info(c).unwrap().identity, listener_id);
    assert_eq!(server_side.remote_address, "::", "relayed peers do not learn each other's address");

    let total = 3000u32;
    for i in 0..total {
        let flags = if i % 3 == 0 { send_flags::RELIABLE | send_flags::NO_NAGLE } else { send_flags::RELIABLE };
        while caller.send_message(c, &i.to_be_bytes(), flags).is_err() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let mut got = Vec::new();
    wait_until(|| {
        got.extend(listener.receive_on_connection(s, 256).unwrap().into_iter().map(|m| {
            assert_eq!(m.identity, caller_id);
            u32::from_be_bytes(m.payload[..4].try_into().unwrap())
        }));
        got.len() >= total as usize
    });
    assert_eq!(got, (0..total).collect::<Vec<_>>(), "every message once, in order");
    deliver_one(&listener, s, &caller, c, b"back");
}

#[test]
fn unknown_identities_and_ports_fail_with_p2p_rendezvous_in_time() {
    let relay = TestRelay::start("unknown");
    let (caller, listener) = (relay.sockets(), relay.sockets());
    let listener_id = authenticate(&listener);
    authenticate(&caller);
    let listen = listener.create_listen_socket_p2p(1, &[]);
    assert_ne!(listen, 0);
    let nobody = caller.connect_p2p(Identity::SteamId(76561197960265729), 1, &[]);
    let (state, reason, text, secs) = wait_for_end(&caller, nobody);
    assert_eq!((state, reason), (ConnectionState::ProblemDetectedLocally, 5008), "{text}");
    assert!(text.contains("76561197960265729") && text.contains("virtual port 1"), "{text}");
    assert!(secs < 3.5, "within TIMEOUT_INITIAL (2 s), took {secs}");
    let wrong_port = caller.connect_p2p(Identity::SteamId(listener_id), 2, &[]);
    let (_, reason, text, _) = wait_for_end(&caller, wrong_port);
    assert_eq!(reason, 5008, "{text}");
    assert!(
        listener.drain_events().iter().all(|e| !matches!(e, Event::ConnectionStatusChanged { .. })),
        "the listener never hears of either"
    );
    // Bad arguments are refused at once.
    assert_eq!(caller.connect_p2p(Identity::Invalid, 1, &[]), 0);
    assert_eq!(caller.connect_p2p(Identity::SteamId(listener_id), -1, &[]), 0);
    assert_eq!(listener.create_listen_socket_p2p(1, &[]), 0, "one listen socket per virtual port");
    assert_eq!(listener.create_listen_socket_p2p(-5, &[]), 0);
    assert_eq!(listener.listen_socket_address(listen, true), None, "a P2P listen socket has no IP address");
}

#[test]
fn an_unreachable_relay_fails_p2p_with_relay_connectivity() {
    let mut relay = TestRelay::start("unreachable");
    let caller = relay.sockets();
    authenticate(&caller);
    relay.kill();
    let c = caller.connect_p2p(Identity::SteamId(76561197960265729), 0, &[]);
    assert_ne!(c, 0);
    let (state, reason, text, secs) = wait_for_end(&caller, c);
    assert_eq!(state, ConnectionState::ProblemDetectedLocally);
    assert!(reason == 5005 || reason == 5008, "relay connectivity or rendezvous, got {reason}: {text}");
    assert!(secs < 3.5, "within TIMEOUT_INITIAL, took {secs}");
}

#[test]
fn a_relay_that_dies_ends_relayed_connections_and_a_restarted_one_serves_again() {
    let mut relay = TestRelay::start("restart");
    let (caller, listener) = (relay.sockets(), relay.sockets());
    for s in [&caller, &listener] {
        s.set_global_config_value(25, &ConfigInput::Int(3000)).unwrap(); // TIMEOUT_CONNECTED
        // Relayed for good (ICE off), so the relay is the connection's only path.
        s.set_global_config_value(104, &ConfigInput::Int(0)).unwrap();
    }
    let listener_id = authenticate(&listener);
    let (c, _, _) = p2p_pair(&caller, &listener, listener_id, 3);
    relay.kill();
    let (state, reason, text, _) = wait_for_end(&caller, c);
    assert_eq!((state, reason), (ConnectionState::ProblemDetectedLocally, 5005), "{text}");
    assert!(text.contains("relay"), "{text}");
    relay.restart();
    // The listener reconnects by itself and listens again; a new call gets through (calls
    // made before it is back fail with 5008 and are retried, as a game would).
    let started = Instant::now();
    let connected = loop {
        let c2 = caller.connect_p2p(Identity::SteamId(listener_id), 3, &[]);
        assert_ne!(c2, 0);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut state = Some(ConnectionState::Connecting);
        while Instant::now() < deadline && state == Some(ConnectionState::Connecting) {
            for event in listener.drain_events() {
                if let Event::ConnectionStatusChanged { handle, info, .. } = event
                    && info.listen_socket != 0
                    && info.state == ConnectionState::Connecting
                {
                    assert_eq!(listener.accept_connection(handle), steamnet_net::SteamResult::Ok);
                }
            }
            state = caller.connection_info(c2).map(|i| i.state);
            std::thread::sleep(Duration::from_millis(1));
        }
        if state == Some(ConnectionState::Connected) {
            break true;
        }
        if started.elapsed() > Duration::from_secs(20) {
            break false;
        }
    };
    assert!(connected, "a call through the restarted relay connects");
}

#[test]
fn a_call_made_just_before_the_listener_registers_still_gets_through() {
    let relay = TestRelay::start("early");
    let (caller, listener) = (relay.sockets(), relay.sockets());
    let listener_id = authenticate(&listener);
    authenticate(&caller);
    let c = caller.connect_p2p(Identity::SteamId(listener_id), 4, &[]);
    std::thread::sleep(Duration::from_millis(300)); // the call is out; nobody listens yet
    let listen = listener.create_listen_socket_p2p(4, &[]);
    let s = wait_for(&listener, |e| match e {
        Event::ConnectionStatusChanged { handle, info, .. } if info.listen_socket == listen => Some(*handle),
        _ => None,
    });
    assert_eq!(listener.accept_connection(s), steamnet_net::SteamResult::Ok);
    wait_until(|| caller.connection_info(c).is_some_and(|i| i.state == ConnectionState::Connected));
}

/// Whether connection `h` on `sockets` is on a direct path now (its peer's address is known).
fn is_direct(sockets: &Sockets, h: Handle) -> bool {
    sockets.connection_info(h).is_some_and(|i| i.remote_address != "::")
}

#[test]
fn connections_move_to_a_direct_path_without_losing_a_message() {
    let relay = TestRelay::start("direct");
    let (caller, listener) = (relay.sockets(), relay.sockets());
    let listener_id = authenticate(&listener);
    let (c, s, _) = p2p_pair(&caller, &listener, listener_id, 8);
    // Messages flow from the start, across the switch from relay to direct.
    let total = 5000u32;
    let mut got = Vec::new();
    let mut sent = 0u32;
    let started = Instant::now();
    while got.len() < total as usize {
        if sent < total && caller.send_message(c, &sent.to_be_bytes(), send_flags::RELIABLE).is_ok() {
            sent += 1;
        }
        got.extend(
            listener
                .receive_on_connection(s, 64)
                .unwrap()
                .into_iter()
                .map(|m| u32::from_be_bytes(m.payload[..4].try_into().unwrap())),
        );
        assert!(started.elapsed() < Duration::from_secs(20), "{} of {total} arrived", got.len());
    }
    assert_eq!(got, (0..total).collect::<Vec<_>>(), "every message once, in order, across the switch");
    wait_until(|| is_direct(&caller, c) && is_direct(&listener, s));
    let status = caller.detailed_status(c).unwrap();
    assert!(status.contains("Path: direct"), "{status}");
    assert_eq!(caller.real_time_status(c, 0).unwrap().0.path, "direct");
    let info = listener.connection_info(s).unwrap();
    assert!(info.remote_address.starts_with("127."), "the direct peer's address: {}", info.remote_address);
}

#[test]
fn a_direct_connection_outlives_the_relay() {
    let mut relay = TestRelay::start("outlive");
    let (caller, listener) = (relay.sockets(), relay.sockets());
    for s in [&caller, &listener] {
        s.set_global_config_value(25, &ConfigInput::Int(3000)).unwrap(); // TIMEOUT_CONNECTED
    }
    let listener_id = authenticate(&listener);
    let (c, s, _) = p2p_pair(&caller, &listener, listener_id, 9);
    wait_until(|| is_direct(&caller, c) && is_direct(&listener, s));
    caller.drain_events();
    relay.kill();
    // Both sides notice the relay is gone...
    wait_for(&caller, |e| match e {
        Event::RelayNetworkStatus(st) if st.available == availability::FAILED => Some(()),
        _ => None,
    });
    wait_for(&listener, |e| match e {
        Event::RelayNetworkStatus(st) if st.available == availability::RETRYING => Some(()),
        _ => None,
    });
    // ...and the connection, which no longer needs it, carries on.
    assert_eq!(caller.connection_info(c).unwrap().state, ConnectionState::Connected);
    assert_eq!(listener.connection_info(s).unwrap().state, ConnectionState::Connected);
    deliver_one(&caller, c, &listener, s, b"still here");
}

#[test]
fn ice_disabled_or_penalised_stays_relayed() {
    let relay = TestRelay::start("noice");
    let (caller, listener) = (relay.sockets(), relay.sockets());
    let listener_id = authenticate(&listener);
    // Reference: a connection with ICE on goes direct; the two below must not, in far longer.
    let (c0, s0, _) = p2p_pair(&caller, &listener, listener_id, 10);
    let started = Instant::now();
    wait_until(|| is_direct(&caller, c0) && is_direct(&listener, s0));
    let reference = started.elapsed();
    listener.set_global_config_value(104, &ConfigInput::Int(0)).unwrap(); // ICE_ENABLE: disable
    let (c1, s1, _) = p2p_pair(&caller, &listener, listener_id, 11);
    let penalty = [(105, ConfigInput::Int(100_000))]; // ICE_PENALTY: 100 s
    let listen = listener.create_listen_socket_p2p(12, &penalty);
    let c2 = caller.connect_p2p(Identity::SteamId(listener_id), 12, &penalty);
    let s2 = wait_for(&listener, |e| match e {
        Event::ConnectionStatusChanged { handle, info, .. } if info.listen_socket == listen => Some(*handle),
        _ => None,
    });
    listener.accept_connection(s2);
    wait_until(|| caller.connection_info(c2).is_some_and(|i| i.state == ConnectionState::Connected));
    std::thread::sleep((reference * 5).max(Duration::from_millis(1500)));
    assert!(!is_direct(&caller, c1) && !is_direct(&listener, s1), "ICE disabled on one side: relayed");
    assert!(!is_direct(&caller, c2) && !is_direct(&listener, s2), "a 100 s ICE penalty: relayed");
    assert!(caller.detailed_status(c1).unwrap().contains("Path: relayed"));
    assert_eq!(caller.real_time_status(c1, 0).unwrap().0.path, "relayed");
}

#[test]
fn relay_network_status_follows_the_link() {
    let mut relay = TestRelay::start("status");
    let sockets = relay.sockets();
    assert_eq!(sockets.relay_network_status(), availability::NEVER_TRIED);
    sockets.init_relay_network_access();
    let statuses = |sockets: &Sockets, until: i32| {
        wait_for(sockets, |e| match e {
            Event::RelayNetworkStatus(s) if s.available == until => Some(s.clone()),
            _ => None,
        })
    };
    let up = statuses(&sockets, availability::CURRENT);
    assert!(up.debug_message.contains(&relay.address.to_string()), "{up:?}");
    assert_eq!(sockets.relay_network_status(), availability::CURRENT);
    // A listener keeps reconnecting when the relay goes away; the status says so.
    sockets.set_global_config_value(25, &ConfigInput::Int(3000)).unwrap();
    let listen = sockets.create_listen_socket_p2p(0, &[]);
    assert_ne!(listen, 0);
    relay.kill();
    let down = statuses(&sockets, availability::RETRYING);
    assert!(down.debug_message.contains("reconnecting"), "{down:?}");
}

/// Ask for a FakeIP with `ports` ports and wait for it: (ip, ports).
fn request_fake_ip(sockets: &Sockets, ports: i64) -> (std::net::Ipv4Addr, Vec<u16>) {
    assert!(sockets.begin_async_request_fake_ip(ports));
    assert!(!sockets.begin_async_request_fake_ip(ports), "one request at a time");
    let (ip, list) = wait_for(sockets, |e| match e {
        Event::FakeIpResult { result, fake_ip, ports, .. } => {
            assert_eq!(*result, 1, "RESULT_OK");
            Some((fake_ip.parse::<std::net::Ipv4Addr>().unwrap(), ports.to_vec()))
        }
        _ => None,
    });
    let list: Vec<u16> = list.into_iter().filter(|&p| p != 0).collect();
    assert_eq!(list.len(), ports as usize);
    assert!(list.iter().all(|&p| p > 1024), "ports above 1024, as GNS promises: {list:?}");
    assert_eq!(ip.octets()[..2], [169, 254], "GNS's FakeIP range");
    let info = sockets.fake_ip(0);
    assert_eq!((info.result, info.ip.clone()), (steamnet_net::SteamResult::Ok, ip.to_string()));
    (ip, list)
}

#[test]
fn fake_ips_reach_their_owner_by_p2p() {
    let relay = TestRelay::start("fakeip");
    let (owner, caller) = (relay.sockets(), relay.sockets());
    assert_eq!(owner.fake_ip(0).result, steamnet_net::SteamResult::NoMatch, "never requested");
    assert_eq!(owner.fake_ip(3).result, steamnet_net::SteamResult::InvalidParam, "first_port must be 0");
    assert!(!owner.begin_async_request_fake_ip(0) && !owner.begin_async_request_fake_ip(5), "1 to 4 ports");
    assert_eq!(owner.create_listen_socket_p2p_fake_ip(0, &[]), 0, "no FakeIP yet");
    let (ip, ports) = request_fake_ip(&owner, 2);
    let (caller_ip, caller_ports) = request_fake_ip(&caller, 1);
    assert_ne!(ip, caller_ip);
    assert_eq!(owner.create_listen_socket_p2p_fake_ip(2, &[]), 0, "only indexes 0 and 1");
    let listen = owner.create_listen_socket_p2p_fake_ip(1, &[]);
    assert_ne!(listen, 0);
    // Code written for IP addresses: connectByIPAddress to the FakeIP and its second port.
    let c = caller.connect_by_ip_address(Some(std::net::SocketAddr::from((ip, ports[1]))), &[]);
    assert_ne!(c, 0);
    let s = accept_across(&owner, listen, &caller, c);
    let owner_id: u64 = owner.identity_text().trim_start_matches("steamid:").parse().unwrap();
    assert_eq!(caller.connection_info(c).unwrap().identity, owner_id, "the FakeIP's owner, verified");
    assert_eq!(
        caller.remote_fake_ip(c),
        (steamnet_net::SteamResult::Ok, Some(std::net::SocketAddrV4::new(ip, ports[1])))
    );
    assert_eq!(
        owner.remote_fake_ip(s),
        (steamnet_net::SteamResult::Ok, Some(std::net::SocketAddrV4::new(caller_ip, caller_ports[0])))
    );
    deliver_one(&caller, c, &owner, s, b"by fake ip");
    // The wrong port of a real FakeIP, and a FakeIP nobody holds: rendezvous fails in time.
    for (addr, port) in [(ip, ports[0]), (std::net::Ipv4Addr::new(169, 254, 0, 1), 2000)] {
        let h = caller.connect_by_ip_address(Some((addr, port).into()), &[]);
        let (_, reason, text, secs) = wait_for_end(&caller, h);
        assert_eq!(reason, 5008, "{text}");
        assert!(text.contains("FakeIP"), "{text}");
        assert!(secs < 3.5);
    }
}

#[test]
fn fake_ips_are_never_shared_by_live_owners() {
    let relay = TestRelay::start("fakeunique");
    let owners: Vec<Sockets> = (0..12).map(|_| relay.sockets()).collect();
    for s in &owners {
        assert!(s.begin_async_request_fake_ip(1));
    }
    let mut ips: Vec<String> = owners
        .iter()
        .map(|s| {
            wait_for(s, |e| match e {
                Event::FakeIpResult { result: 1, fake_ip, .. } => Some(fake_ip.clone()),
                _ => None,
            })
        })
        .collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), owners.len(), "every live owner has its own FakeIP");
}
