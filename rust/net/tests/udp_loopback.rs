//! UDP connections through the real loopback interface: listen, connect, accept, messages both
//! ways, close, timeout. Waits poll for a condition with a deadline; none sleeps and hopes.

use std::time::{Duration, Instant};

use steamnet_net::{
    ConfigInput, ConnectionState, Event, Handle, Identity, Sockets, SteamResult, parse_ip_port, send_flags,
};

mod support;

use support::{wait_for, wait_until};

/// Listen on an ephemeral loopback port and start connecting to it: (listen socket, client).
fn listen_and_connect(sockets: &Sockets) -> (Handle, Handle) {
    let listen = sockets.create_listen_socket_ip(parse_ip_port("127.0.0.1:0"), &[]);
    let address = sockets.listen_socket_address(listen, true).unwrap();
    (listen, sockets.connect_by_ip_address(parse_ip_port(&address), &[]))
}

/// The server-side handle of the next connection arriving on `listen`.
fn incoming_on(sockets: &Sockets, listen: Handle) -> Handle {
    wait_for(sockets, |event| arriving_on(event, listen))
}

/// Listen on an ephemeral loopback port and start connecting `count` clients to it: (listen
/// socket, clients).
fn listen_and_connect_many(sockets: &Sockets, count: usize) -> (Handle, Vec<Handle>) {
    let listen = sockets.create_listen_socket_ip(parse_ip_port("127.0.0.1:0"), &[]);
    let address = parse_ip_port(&sockets.listen_socket_address(listen, true).unwrap());
    (listen, (0..count).map(|_| sockets.connect_by_ip_address(address, &[])).collect())
}

/// The server-side handle a connection arriving on `listen` got, if `event` announces one.
fn arriving_on(event: &Event, listen: Handle) -> Option<Handle> {
    match event {
        Event::ConnectionStatusChanged { handle, info, .. }
            if info.listen_socket == listen && info.state == ConnectionState::Connecting =>
        {
            Some(*handle)
        }
        _ => None,
    }
}

/// Listen on an ephemeral loopback port, connect, accept. Returns (listen, client, server side).
fn connected_pair(sockets: &Sockets) -> (Handle, Handle, Handle) {
    let listen = sockets.create_listen_socket_ip(parse_ip_port("127.0.0.1:0"), &[]);
    assert_ne!(listen, 0);
    let address = sockets.listen_socket_address(listen, true).unwrap();
    assert!(address.starts_with("127.0.0.1:") && !address.ends_with(":0"), "{address}");
    let client = sockets.connect_by_ip_address(parse_ip_port(&address), &[]);
    assert_ne!(client, 0);
    let mut server_side = None;
    let mut client_connecting = false;
    wait_until(|| {
        for event in sockets.drain_events() {
            if let Event::ConnectionStatusChanged { handle, info, old_state } = event {
                assert_eq!(info.state, ConnectionState::Connecting);
                assert_eq!(old_state, ConnectionState::None);
                if handle == client {
                    client_connecting = true;
                } else {
                    assert_eq!(info.listen_socket, listen);
                    assert_eq!(info.remote_address, "127.0.0.1");
                    server_side = Some(handle);
                }
            }
        }
        client_connecting && server_side.is_some()
    });
    let server_side = server_side.unwrap();
    assert_eq!(sockets.accept_connection(server_side), SteamResult::Ok);
    assert_eq!(sockets.accept_connection(server_side), SteamResult::InvalidState, "only once");
    let mut connected = Vec::new();
    wait_until(|| {
        for event in sockets.drain_events() {
            if let Event::ConnectionStatusChanged { handle, info, old_state } = event {
                assert_eq!((info.state, old_state), (ConnectionState::Connected, ConnectionState::Connecting));
                connected.push(handle);
            }
        }
        connected.len() == 2
    });
    (listen, client, server_side)
}

#[test]
fn listen_connect_accept_and_talk() {
    let sockets = Sockets::new();
    let (listen, client, server) = connected_pair(&sockets);
    assert_eq!(sockets.send_message(client, b"hello server", send_flags::RELIABLE), Ok(1));
    assert_eq!(sockets.send_message(server, b"hello client", 0), Ok(1));
    let big = vec![42u8; 200_000];
    assert_eq!(sockets.send_message(client, &big, send_flags::RELIABLE), Ok(2));
    let mut at_server = Vec::new();
    let mut at_client = Vec::new();
    wait_until(|| {
        at_server.extend(sockets.receive_on_connection(server, 10).unwrap());
        at_client.extend(sockets.receive_on_connection(client, 10).unwrap());
        at_server.len() == 2 && at_client.len() == 1
    });
    assert_eq!(at_server[0].payload, &b"hello server"[..]);
    assert_eq!(at_server[1].payload, big, "200 KB arrives whole");
    assert_eq!((at_server[1].message_number, at_server[1].flags), (2, send_flags::RELIABLE));
    assert_eq!(at_client[0].payload, &b"hello client"[..]);
    let (status, _) = sockets.real_time_status(client, 1).unwrap();
    assert_eq!(status.state, ConnectionState::Connected);
    assert!(status.ping_ms >= 0, "ping measured on loopback: {}", status.ping_ms);
    assert!(sockets.close_connection(client, 1001, "leaving", false));
    let (reason, debug) = wait_for(&sockets, |event| match event {
        Event::ConnectionStatusChanged { handle, info, .. } if *handle == server => {
            assert_eq!(info.state, ConnectionState::ClosedByPeer);
            Some((info.end_reason, info.end_debug.clone()))
        }
        _ => None,
    });
    assert_eq!((reason, debug.as_str()), (1001, "leaving"));
    assert!(sockets.close_connection(server, 0, "", false));
    assert!(sockets.close_listen_socket(listen));
    assert!(!sockets.close_listen_socket(listen));
    assert_eq!(sockets.listen_socket_address(listen, true), None);
}

#[test]
fn messages_sent_while_connecting_are_delivered() {
    let sockets = Sockets::new();
    let (listen, client) = listen_and_connect(&sockets);
    // Lanes configured, and messages sent on them, before the connection exists: each lane
    // numbers its own messages, and the numbering carries on once connected.
    assert_eq!(sockets.configure_lanes(client, 2, &[0, 0], &[1, 1]), SteamResult::Ok);
    assert_eq!(sockets.send_message(client, b"early 1", send_flags::RELIABLE), Ok(1));
    assert_eq!(sockets.send_message_on_lane(client, 1, b"early lane 1", send_flags::RELIABLE), Ok(1));
    assert_eq!(sockets.send_message(client, b"early 2", send_flags::RELIABLE), Ok(2));
    let server = incoming_on(&sockets, listen);
    assert_eq!(sockets.accept_connection(server), SteamResult::Ok);
    wait_until(|| sockets.connection_info(client).unwrap().state == ConnectionState::Connected);
    assert_eq!(sockets.send_message_on_lane(client, 1, b"later lane 1", send_flags::RELIABLE), Ok(2));
    let mut got = Vec::new();
    wait_until(|| {
        got.extend(sockets.receive_on_connection(server, 10).unwrap());
        got.len() == 4
    });
    got.sort_by_key(|m| (m.lane, m.message_number));
    assert_eq!(
        got.iter().map(|m| (m.lane, m.message_number, m.payload.to_vec())).collect::<Vec<_>>(),
        vec![
            (0, 1, b"early 1".to_vec()),
            (0, 2, b"early 2".to_vec()),
            (1, 1, b"early lane 1".to_vec()),
            (1, 2, b"later lane 1".to_vec())
        ]
    );
}

#[test]
fn nobody_listening_times_out_as_configured() {
    let sockets = Sockets::new();
    // A port that was just free; nobody answers there.
    let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let client = sockets.connect_by_ip_address(
        parse_ip_port(&format!("127.0.0.1:{port}")),
        &[(24, ConfigInput::Int(300))], // NETWORKING_CONFIG_TIMEOUT_INITIAL, ms
    );
    assert_ne!(client, 0);
    let (reason, state) = wait_for(&sockets, |event| match event {
        Event::ConnectionStatusChanged { info, .. } if info.state != ConnectionState::Connecting => {
            Some((info.end_reason, info.state))
        }
        _ => None,
    });
    assert_eq!((state, reason), (ConnectionState::ProblemDetectedLocally, 5003));
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(sockets.send_message(client, b"x", 8), Err(SteamResult::NoConnection));
    assert!(sockets.close_connection(client, 0, "", false));
}

#[test]
fn closing_an_incoming_connection_refuses_the_client() {
    let sockets = Sockets::new();
    let (listen, client) = listen_and_connect(&sockets);
    let server = incoming_on(&sockets, listen);
    assert!(sockets.close_connection(server, 1500, "server full", false));
    let reason = wait_for(&sockets, |event| match event {
        Event::ConnectionStatusChanged { handle, info, .. }
            if *handle == client && info.state != ConnectionState::Connecting =>
        {
            assert_eq!(info.state, ConnectionState::ClosedByPeer);
            Some(info.end_reason)
        }
        _ => None,
    });
    assert_eq!(reason, 1500);
}

#[test]
fn bad_addresses_and_options_are_refused() {
    let sockets = Sockets::new();
    assert_eq!(sockets.connect_by_ip_address(None, &[]), 0, "unparsable");
    assert_eq!(sockets.connect_by_ip_address(parse_ip_port("127.0.0.1:0"), &[]), 0, "no port");
    assert_eq!(sockets.connect_by_ip_address(parse_ip_port("0.0.0.0:5000"), &[]), 0, "no IP");
    assert_eq!(sockets.connect_by_ip_address(parse_ip_port("127.0.0.1:5000"), &[(12345, ConfigInput::Int(1))]), 0);
    assert_eq!(
        sockets.create_listen_socket_ip(parse_ip_port("127.0.0.1:0"), &[(18, ConfigInput::Int(1))]),
        0,
        "global-only value"
    );
    // Binding a port that is taken fails.
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    assert_eq!(sockets.create_listen_socket_ip(parse_ip_port(&format!("127.0.0.1:{port}")), &[]), 0);
    // Any address, any port: works, and reports its port.
    let any = sockets.create_listen_socket_ip(None, &[]);
    assert_ne!(any, 0);
    assert_eq!(sockets.listen_socket_address(any, false).as_deref(), Some("::"));
    assert!(!sockets.listen_socket_address(any, true).unwrap().ends_with(":0"));
}

#[test]
fn the_driver_reads_a_socket_the_application_has_stopped_reading() {
    // A receive call reads the socket on the application's thread, and the driver thread then
    // leaves that socket alone for a moment. Here the application reads once and then only
    // asks the sender's status (which reads no socket): the message must still be received
    // and acknowledged by the drivers alone, well before any keepalive timer would run them.
    let sockets = Sockets::new();
    let (_listen, client, server) = connected_pair(&sockets);
    for _ in 0..3 {
        assert!(sockets.receive_on_connection(server, 1).unwrap().is_empty());
        assert!(sockets.receive_on_connection(client, 1).unwrap().is_empty());
        let started = Instant::now();
        assert!(sockets.send_message(client, b"ack me", send_flags::RELIABLE | send_flags::NO_NAGLE).is_ok());
        wait_until(|| {
            let (status, _) = sockets.real_time_status(client, 0).unwrap();
            status.pending_reliable == 0 && status.sent_unacked_reliable == 0
        });
        assert!(started.elapsed() < Duration::from_secs(1), "acknowledged after {:?}", started.elapsed());
        let got = sockets.receive_on_connection(server, 10).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].payload, &b"ack me"[..]);
    }
}

#[test]
fn lingering_close_delivers_what_was_sent() {
    let sockets = Sockets::new();
    let (_listen, client, server) = connected_pair(&sockets);
    let last_words = vec![3u8; 300_000];
    assert_eq!(sockets.send_message(client, &last_words, send_flags::RELIABLE), Ok(1));
    assert!(sockets.close_connection(client, 1003, "done", true));
    assert!(sockets.connection_info(client).is_none(), "the handle is gone at once");
    let mut got = Vec::new();
    let mut closed = None;
    wait_until(|| {
        got.extend(sockets.receive_on_connection(server, 10).unwrap());
        for event in sockets.drain_events() {
            if let Event::ConnectionStatusChanged { handle, info, .. } = event
                && handle == server
            {
                closed = Some((info.state, info.end_reason));
            }
        }
        closed.is_some()
    });
    got.extend(sockets.receive_on_connection(server, 10).unwrap());
    assert_eq!(closed, Some((ConnectionState::ClosedByPeer, 1003)));
    assert_eq!(got.len(), 1, "the message was flushed before the close");
    assert_eq!(got[0].payload, last_words);
}

#[test]
fn a_slow_reader_gets_every_message_sent_before_a_close() {
    // 3,000 small messages against 10-message queues (the connection's, and the protocol's
    // behind it): the reader starts only once the close has arrived, and still gets them all.
    use steamnet_net::config::ids;
    let sockets = Sockets::new();
    let (_listen, client, server) = connected_pair(&sockets);
    sockets.set_connection_config_value(server, ids::RECV_BUFFER_MESSAGES as i64, &ConfigInput::Int(10)).unwrap();
    const COUNT: usize = 3000;
    for i in 0..COUNT {
        assert!(sockets.send_message(client, &(i as u32).to_le_bytes(), send_flags::RELIABLE).is_ok());
    }
    assert!(sockets.close_connection(client, 1004, "that is all", true));
    let state = wait_for(&sockets, |event| match event {
        Event::ConnectionStatusChanged { handle, info, .. } if *handle == server => Some(info.state),
        _ => None,
    });
    assert_eq!(state, ConnectionState::ClosedByPeer);
    let mut got = Vec::new();
    wait_until(|| {
        got.extend(sockets.receive_on_connection(server, 7).unwrap());
        got.len() >= COUNT
    });
    assert_eq!(got.len(), COUNT);
    assert!(got.iter().enumerate().all(|(i, m)| m.payload == (i as u32).to_le_bytes()[..]), "all, in order");
}

#[test]
fn ipv6_loopback_works_too() {
    let sockets = Sockets::new();
    let listen = sockets.create_listen_socket_ip(parse_ip_port("[::1]:0"), &[]);
    assert_ne!(listen, 0);
    let address = sockets.listen_socket_address(listen, true).unwrap();
    assert!(address.starts_with("[::1]:"), "{address}");
    assert_eq!(sockets.listen_socket_address(listen, false).as_deref(), Some("::1"));
    let client = sockets.connect_by_ip_address(parse_ip_port(&address), &[]);
    let server = incoming_on(&sockets, listen);
    assert_eq!(sockets.connection_info(server).unwrap().remote_address, "::1");
    assert_eq!(sockets.accept_connection(server), SteamResult::Ok);
    assert_eq!(sockets.send_message(client, b"six", send_flags::RELIABLE), Ok(1));
    let mut got = Vec::new();
    wait_until(|| {
        got.extend(sockets.receive_on_connection(server, 1).unwrap());
        !got.is_empty()
    });
    assert_eq!(got[0].payload, &b"six"[..]);
}

#[test]
fn dropping_the_interface_tells_peers() {
    let server_sockets = Sockets::new();
    let listen = server_sockets.create_listen_socket_ip(parse_ip_port("127.0.0.1:0"), &[]);
    let address = server_sockets.listen_socket_address(listen, true).unwrap();
    let client_sockets = Sockets::new();
    let client = client_sockets.connect_by_ip_address(parse_ip_port(&address), &[]);
    let server = incoming_on(&server_sockets, listen);
    assert_eq!(server_sockets.accept_connection(server), SteamResult::Ok);
    wait_until(|| client_sockets.connection_info(client).unwrap().state == ConnectionState::Connected);
    drop(client_sockets); // the game quits without closing
    let state = wait_for(&server_sockets, |event| match event {
        Event::ConnectionStatusChanged { handle, info, .. }
            if *handle == server && info.state != ConnectionState::Connected =>
        {
            Some(info.state)
        }
        _ => None,
    });
    assert_eq!(state, ConnectionState::ClosedByPeer, "told at once, not after a timeout");
}

#[test]
fn one_server_many_clients_through_a_poll_group() {
    const CLIENTS: usize = 40;
    const MESSAGES: usize = 25;
    let sockets = Sockets::new();
    let (listen, clients) = listen_and_connect_many(&sockets, CLIENTS);
    let group = sockets.create_poll_group();
    // Every client queues its messages at once; they go out as each is accepted.
    for (c, &client) in clients.iter().enumerate() {
        for m in 0..MESSAGES {
            let payload = format!("{c}:{m}");
            assert!(sockets.send_message(client, payload.as_bytes(), send_flags::RELIABLE).is_ok());
        }
    }
    let mut accepted = 0;
    let mut got: Vec<Vec<usize>> = vec![Vec::new(); CLIENTS];
    wait_until(|| {
        for handle in sockets.drain_events().iter().filter_map(|event| arriving_on(event, listen)) {
            assert_eq!(sockets.accept_connection(handle), SteamResult::Ok);
            assert!(sockets.set_connection_poll_group(handle, group));
            accepted += 1;
        }
        for message in sockets.receive_on_poll_group(group, 100).unwrap() {
            let text = String::from_utf8(message.payload.to_vec()).unwrap();
            let (c, m) = text.split_once(':').unwrap();
            got[c.parse::<usize>().unwrap()].push(m.parse().unwrap());
        }
        got.iter().all(|g| g.len() == MESSAGES)
    });
    assert_eq!(accepted, CLIENTS);
    for (c, messages) in got.iter().enumerate() {
        assert_eq!(*messages, (0..MESSAGES).collect::<Vec<_>>(), "client {c}: in order, exactly once");
    }
}

#[test]
fn loopback_socket_pair_is_connected_over_udp_without_callbacks() {
    let sockets = Sockets::new();
    let (a, b) = sockets.create_socket_pair(true, Identity::SteamId(111), Identity::SteamId(222)).expect("pair");
    assert!(sockets.drain_events().is_empty(), "no callbacks at creation, as GNS");
    let (ia, ib) = (sockets.connection_info(a).unwrap(), sockets.connection_info(b).unwrap());
    assert_eq!((ia.state, ib.state), (ConnectionState::Connected, ConnectionState::Connected));
    assert_eq!((ia.identity, ib.identity), (222, 111), "each end sees the other's identity");
    assert_eq!((ia.remote_address.as_str(), ib.remote_address.as_str()), ("127.0.0.1", "127.0.0.1"));
    assert_eq!(ib.listen_socket, 0, "no listen socket involved");
    assert_eq!(sockets.send_message(a, b"over udp", send_flags::RELIABLE), Ok(1));
    let mut got = Vec::new();
    wait_until(|| {
        got.extend(sockets.receive_on_connection(b, 1).unwrap());
        !got.is_empty()
    });
    assert_eq!((got[0].payload.as_ref(), got[0].identity), (&b"over udp"[..], 111));
    assert!(sockets.close_connection(a, 1005, "done", false));
    let reason = wait_for(&sockets, |event| match event {
        Event::ConnectionStatusChanged { handle, info, .. } if *handle == b => Some(info.end_reason),
        _ => None,
    });
    assert_eq!(reason, 1005);
    assert!(sockets.close_connection(b, 0, "", false));
}

#[test]
fn gns_result_codes_for_send_and_accept() {
    let sockets = Sockets::new();
    let (listen, client) = listen_and_connect(&sockets);
    // Still connecting: a no-delay message cannot go out at once, so GNS drops it.
    assert_eq!(sockets.send_message(client, b"now or never", send_flags::NO_DELAY), Err(SteamResult::Ignored));
    assert_eq!(
        sockets.send_message(client, b"now or never", send_flags::NO_DELAY | send_flags::RELIABLE),
        Err(SteamResult::Ignored)
    );
    assert_eq!(sockets.accept_connection(client), SteamResult::InvalidParam, "we initiated it: not ours to accept");
    let server = incoming_on(&sockets, listen);
    assert_eq!(sockets.accept_connection(server), SteamResult::Ok);
    wait_until(|| {
        sockets.drain_events();
        sockets.connection_info(client).is_some_and(|i| i.state == ConnectionState::Connected)
    });
    assert_eq!(sockets.accept_connection(client), SteamResult::InvalidState, "state is checked first, as in GNS");
    // The send buffer counts bytes waiting to be sent, not bytes awaiting acknowledgement: a
    // maximum-size message right after a small one that went out always fits.
    for _ in 0..3 {
        assert!(sockets.send_message(client, b"tiny", send_flags::RELIABLE | send_flags::NO_NAGLE).is_ok());
        wait_until(|| sockets.receive_on_connection(server, 10).unwrap().len() == 1);
        let biggest = vec![1u8; 512 * 1024];
        let sent = sockets.send_message(client, &biggest, send_flags::RELIABLE);
        assert!(sent.is_ok(), "512 KiB right after a tiny message was delivered: {sent:?}");
        wait_until(|| sockets.receive_on_connection(server, 10).unwrap().len() == 1);
    }
    // The congestion controller shows itself in the detailed status.
    let detail = sockets.detailed_status(client).unwrap();
    assert!(detail.contains("Bandwidth estimate:") && detail.contains("Min RTT:"), "{detail}");
}

/// Forward error correction over real UDP: with 10% of the client's packets dropped (the fake
/// network, per connection) and four repairs per 16 packets, every message arrives once and in
/// order, and the server rebuilt some of the dropped packets rather than waiting for them.
#[test]
fn repair_packets_rebuild_losses_over_real_udp() {
    use steamnet_net::config::ids;
    let sockets = Sockets::new();
    let (_listen, client, server_side) = connected_pair(&sockets);
    for (id, value) in [(ids::FEC_REPAIRS, ConfigInput::Int(4)), (ids::FAKE_PACKET_LOSS_SEND, ConfigInput::Float(10.0))]
    {
        sockets.set_connection_config_value(client, id as i64, &value).unwrap();
    }
    const COUNT: usize = 600;
    let message = |i: usize| -> Vec<u8> { (0..700).map(|j| (i * 7 + j) as u8).collect() };
    let mut sent = 0;
    let mut got = Vec::new();
    wait_until(|| {
        while sent < COUNT && sockets.send_message(client, &message(sent), send_flags::RELIABLE).is_ok() {
            sent += 1;
        }
        got.extend(sockets.receive_on_connection(server_side, 100).unwrap().into_iter().map(|m| m.payload));
        got.len() >= COUNT
    });
    assert_eq!(got.len(), COUNT);
    assert!(got.iter().enumerate().all(|(i, data)| *data == message(i)), "in order and intact");
    let status = sockets.detailed_status(server_side).unwrap();
    let rebuilt: u64 = status
        .lines()
        .find_map(|line| line.split("(NETWORKING_CONFIG_FEC_REPAIRS): ").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no rebuilt count in {status}"));
    assert!(rebuilt > 0, "the server rebuilt dropped packets:\n{status}");
}

/// Many small reliable messages, sent as fast as the send buffer takes them, over a path that
/// drops a tenth of the client's packets: while the driver thread holds the endpoint for its
/// turns, sends hand their messages over (see `udp/handoff.rs`), and retransmissions keep
/// taking the small buffer's room. Every message arrives once, in order, intact, with the
/// number its send returned.
#[test]
fn small_messages_under_loss_arrive_once_in_order_however_they_were_queued() {
    use steamnet_net::config::ids;
    let sockets = Sockets::new();
    let (_listen, client, server_side) = connected_pair(&sockets);
    for (id, value) in
        [(ids::SEND_BUFFER_SIZE, ConfigInput::Int(16 * 1024)), (ids::FAKE_PACKET_LOSS_SEND, ConfigInput::Float(10.0))]
    {
        sockets.set_connection_config_value(client, id as i64, &value).unwrap();
    }
    const COUNT: usize = 20_000;
    let message = |i: usize| -> Vec<u8> { (0..16 + i % 48).map(|j| (i * 31 + j) as u8).collect() };
    let mut numbers = Vec::with_capacity(COUNT);
    let mut got = Vec::new();
    wait_until(|| {
        while numbers.len() < COUNT {
            match sockets.send_message(client, &message(numbers.len()), send_flags::RELIABLE) {
                Ok(number) => numbers.push(number),
                Err(SteamResult::LimitExceeded) => break,
                Err(other) => panic!("send {}: {other:?}", numbers.len()),
            }
        }
        got.extend(sockets.receive_on_connection(server_side, 1000).unwrap());
        got.len() >= COUNT
    });
    assert_eq!(numbers, (1..=COUNT as i64).collect::<Vec<_>>(), "each send's number, in turn");
    assert_eq!(got.len(), COUNT, "none twice");
    for (i, m) in got.iter().enumerate() {
        assert_eq!((m.message_number, &m.payload[..]), (i as i64 + 1, &message(i)[..]), "message {i}");
    }
}

/// A listen socket's one endpoint sending to several clients at once, interleaved, over a path
/// that drops a tenth of the server's packets: messages handed over while the driver holds the
/// endpoint are moved into their own connection's session, and each client gets its own
/// messages once, in order.
#[test]
fn one_endpoint_sending_to_many_clients_under_loss_keeps_each_connection_in_order() {
    use steamnet_net::config::ids;
    const CLIENTS: usize = 4;
    const MESSAGES: usize = 5_000;
    let sockets = Sockets::new();
    let (listen, clients) = listen_and_connect_many(&sockets, CLIENTS);
    let mut servers: Vec<Handle> = Vec::new();
    wait_until(|| {
        for handle in sockets.drain_events().iter().filter_map(|event| arriving_on(event, listen)) {
            assert_eq!(sockets.accept_connection(handle), SteamResult::Ok);
            servers.push(handle);
        }
        servers.len() == CLIENTS
            && clients.iter().all(|&c| sockets.connection_info(c).unwrap().state == ConnectionState::Connected)
    });
    for &server in &servers {
        for (id, value) in [
            (ids::SEND_BUFFER_SIZE, ConfigInput::Int(8 * 1024)),
            (ids::FAKE_PACKET_LOSS_SEND, ConfigInput::Float(10.0)),
        ] {
            sockets.set_connection_config_value(server, id as i64, &value).unwrap();
        }
    }
    let message = |s: usize, i: usize| -> Vec<u8> { format!("{s}:{i}:{}", "x".repeat(i % 40)).into_bytes() };
    let mut sent = [0usize; CLIENTS];
    let mut got: Vec<Vec<Vec<u8>>> = vec![Vec::new(); CLIENTS];
    wait_until(|| {
        // Round robin over the connections, one message each, until every buffer is full.
        let mut progress = true;
        while progress {
            progress = false;
            for (s, &server) in servers.iter().enumerate() {
                if sent[s] < MESSAGES
                    && sockets.send_message(server, &message(s, sent[s]), send_flags::RELIABLE).is_ok()
                {
                    sent[s] += 1;
                    progress = true;
                }
            }
        }
        for (c, &client) in clients.iter().enumerate() {
            got[c].extend(sockets.receive_on_connection(client, 1000).unwrap().into_iter().map(|m| m.payload.to_vec()));
        }
        got.iter().all(|g| g.len() >= MESSAGES)
    });
    // Which server-side handle a client talks to shows in its first message's prefix.
    let mut senders = Vec::new();
    for (c, messages) in got.iter().enumerate() {
        let s: usize = String::from_utf8_lossy(&messages[0]).split(':').next().unwrap().parse().unwrap();
        assert_eq!(messages.len(), MESSAGES, "client {c}: none twice");
        for (i, m) in messages.iter().enumerate() {
            assert_eq!(m, &message(s, i), "client {c}, message {i}: its own, in order");
        }
        senders.push(s);
    }
    senders.sort();
    assert_eq!(senders, (0..CLIENTS).collect::<Vec<_>>(), "each client hears one server-side handle");
}
