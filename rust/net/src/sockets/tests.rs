use super::*;
use std::time::Duration;

fn pair(sockets: &Sockets) -> (Handle, Handle) {
    sockets.create_socket_pair(false, Identity::SteamId(111), Identity::SteamId(222)).expect("pair")
}

/// The UDP endpoint and connection id carrying `handle` (one end of a loopback pair).
fn udp_of(state: &State, handle: Handle) -> (udp::EndpointKey, steamnet_proto::endpoint::ConnectionId) {
    match state.connections.get(&handle).map(|c| c.transport) {
        Some(Transport::Udp { endpoint, id }) => (endpoint, id),
        _ => panic!("a loopback pair is carried over UDP"),
    }
}

/// Whether connection `id` of endpoint `key` has every reliable byte it sent acknowledged.
fn all_acknowledged(state: &State, key: udp::EndpointKey, id: steamnet_proto::endpoint::ConnectionId) -> bool {
    state.endpoints.lock(key).and_then(|ep| {
        let stats = ep.endpoint.session(id)?.stats();
        Some(stats.pending_reliable_bytes == 0 && stats.sent_unacked_reliable_bytes == 0)
    }) == Some(true)
}

#[test]
fn pair_is_connected_without_callbacks_and_knows_identities() {
    let s = Sockets::new();
    let (a, b) = pair(&s);
    assert_ne!(a, b);
    let ia = s.connection_info(a).unwrap();
    assert_eq!(ia.state, ConnectionState::Connected);
    assert_eq!(ia.identity, 222, "connection 1's remote is identity 2");
    assert_eq!(s.connection_info(b).unwrap().identity, 111);
    assert_eq!(ia.remote_address, "::");
    assert_ne!(ia.info_flags & info_flags::LOOPBACK_BUFFERS, 0);
    assert!(s.drain_events().is_empty());
}

#[test]
fn messages_arrive_in_order_with_numbers_and_flags() {
    let s = Sockets::new();
    let (a, b) = pair(&s);
    s.set_connection_user_data(b, 77);
    assert_eq!(s.send_message(a, b"one", send_flags::RELIABLE), Ok(1));
    assert_eq!(s.send_message(a, b"two", 0), Ok(2));
    assert_eq!(s.send_message(a, b"", send_flags::RELIABLE | send_flags::NO_NAGLE), Ok(3));
    let got = s.receive_on_connection(b, 10).unwrap();
    let payloads: Vec<&[u8]> = got.iter().map(|m| &m.payload[..]).collect();
    assert_eq!(payloads, vec![&b"one"[..], b"two", b""]);
    assert_eq!(got.iter().map(|m| m.message_number).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(got.iter().map(|m| m.flags).collect::<Vec<_>>(), vec![8, 0, 8]);
    assert!(got.iter().all(|m| m.connection == b && m.identity == 111 && m.receiver_user_data == 77));
    assert!(s.receive_on_connection(b, 10).unwrap().is_empty());
    assert!(s.receive_on_connection(a, 10).unwrap().is_empty(), "nothing echoes back");
}

#[test]
fn receive_respects_max_messages() {
    let s = Sockets::new();
    let (a, b) = pair(&s);
    for i in 0..5u8 {
        s.send_message(a, &[i], send_flags::RELIABLE).unwrap();
    }
    assert!(s.receive_on_connection(b, 0).unwrap().is_empty());
    assert_eq!(s.receive_on_connection(b, 2).unwrap().len(), 2);
    assert_eq!(s.receive_on_connection(b, 100).unwrap()[0].payload, vec![2u8]);
}

#[test]
fn bad_handles_get_documented_failures() {
    let s = Sockets::new();
    let (a, _) = pair(&s);
    let bogus = a + 1000;
    assert_eq!(s.send_message(bogus, b"x", 8), Err(SteamResult::InvalidParam));
    assert_eq!(s.flush_messages(bogus), SteamResult::InvalidParam);
    assert_eq!(s.accept_connection(bogus), SteamResult::InvalidParam);
    assert_eq!(s.accept_connection(a), SteamResult::InvalidState);
    assert!(s.receive_on_connection(bogus, 5).is_none());
    assert!(s.receive_on_poll_group(bogus, 5).is_none());
    assert!(s.connection_info(bogus).is_none());
    assert_eq!(s.connection_user_data(bogus), -1);
    assert!(!s.set_connection_user_data(bogus, 1));
    assert!(!s.close_connection(bogus, 0, "", false));
    assert!(!s.destroy_poll_group(bogus));
    assert!(!s.set_connection_poll_group(bogus, 0));
    assert_eq!(s.configure_lanes(bogus, 2, &[0, 0], &[1, 1]), SteamResult::NoConnection);
    assert_eq!(s.real_time_status(bogus, 0).unwrap_err(), SteamResult::NoConnection);
    assert!(s.detailed_status(bogus).is_none());
    assert_eq!(s.remote_fake_ip(bogus), (SteamResult::InvalidParam, None));
    assert_eq!(s.remote_fake_ip(a), (SteamResult::IpNotFound, None));
    assert_eq!(s.send_message(a, &vec![0; MAX_MESSAGE_SIZE_SEND + 1], 8), Err(SteamResult::InvalidParam));
}

#[test]
fn close_tells_the_peer_once_and_frees_the_handle() {
    let s = Sockets::new();
    let (a, b) = pair(&s);
    s.send_message(a, b"last words", send_flags::RELIABLE).unwrap();
    assert!(s.close_connection(a, 1234, "bye", false));
    assert!(s.connection_info(a).is_none(), "closed handle is gone");
    assert!(!s.close_connection(a, 0, "", false), "second close fails");
    let events = s.drain_events();
    assert_eq!(events.len(), 2, "ours to None (as GNS posts for destroyed connections), the peer's");
    let Event::ConnectionStatusChanged { handle, info, old_state } = &events[0] else { panic!("{events:?}") };
    assert_eq!((*handle, info.state, *old_state), (a, ConnectionState::None, ConnectionState::Connected));
    let Event::ConnectionStatusChanged { handle, info, old_state } = &events[1] else { panic!("{events:?}") };
    assert_eq!((*handle, *old_state), (b, ConnectionState::Connected));
    assert_eq!((info.state, info.end_reason, info.end_debug.as_str()), (ConnectionState::ClosedByPeer, 1234, "bye"));
    // What was delivered before the close can still be read.
    assert_eq!(s.receive_on_connection(b, 10).unwrap()[0].payload, &b"last words"[..]);
    assert_eq!(s.send_message(b, b"x", 8), Err(SteamResult::NoConnection));
    assert_eq!(s.flush_messages(b), SteamResult::NoConnection);
    assert!(s.close_connection(b, 0, "", false));
    let events = s.drain_events();
    assert_eq!(events.len(), 1, "closing the dead end: only its own change to None");
    let Event::ConnectionStatusChanged { handle, info, old_state } = &events[0] else { panic!("{events:?}") };
    assert_eq!((*handle, info.state, *old_state), (b, ConnectionState::None, ConnectionState::ClosedByPeer));
}

#[test]
fn close_reason_is_normalised_like_gns() {
    let long = "x".repeat(500);
    for (given, text, expected, expected_text) in [
        (0, long.as_str(), 1000, &long[..127]),
        (1500, "", 1500, "Application closed connection"),
        (2999, "", 2999, "Application closed connection in an unusual way"),
        (5, "mine", 1999, "Invalid numeric reason code"),
        (4001, "", 1999, "Invalid numeric reason code"),
    ] {
        let s = Sockets::new();
        let (a, b) = pair(&s);
        s.close_connection(a, given, text, true);
        let events = s.drain_events();
        let info = events
            .iter()
            .find_map(|e| match e {
                Event::ConnectionStatusChanged { handle, info, .. } if *handle == b => Some(info),
                _ => None,
            })
            .unwrap();
        assert_eq!((info.end_reason, info.end_debug.as_str()), (expected, expected_text), "reason {given}");
    }
}

#[test]
fn poll_group_merges_connections_in_arrival_order() {
    let s = Sockets::new();
    let (a1, b1) = pair(&s);
    let (a2, b2) = pair(&s);
    let g = s.create_poll_group();
    s.send_message(a1, b"early", 8).unwrap(); // queued before b1 joins: must still be seen
    assert!(s.set_connection_poll_group(b1, g));
    assert!(s.set_connection_poll_group(b2, g));
    s.send_message(a2, b"x1", 8).unwrap();
    s.send_message(a1, b"y1", 8).unwrap();
    s.send_message(a2, b"x2", 8).unwrap();
    let got = s.receive_on_poll_group(g, 10).unwrap();
    let seen: Vec<(Handle, &[u8])> = got.iter().map(|m| (m.connection, &m.payload[..])).collect();
    assert_eq!(seen, vec![(b1, &b"early"[..]), (b2, b"x1"), (b1, b"y1"), (b2, b"x2")]);
}

#[test]
fn poll_group_skips_messages_taken_through_the_connection() {
    let s = Sockets::new();
    let (a, b) = pair(&s);
    let g = s.create_poll_group();
    s.set_connection_poll_group(b, g);
    for i in 0..4u8 {
        s.send_message(a, &[i], 8).unwrap();
    }
    assert_eq!(s.receive_on_connection(b, 2).unwrap().len(), 2);
    let rest: Vec<u8> = s.receive_on_poll_group(g, 10).unwrap().iter().map(|m| m.payload[0]).collect();
    assert_eq!(rest, vec![2, 3], "each message exactly once");
    // Leaving the group: later messages are only on the connection.
    assert!(s.set_connection_poll_group(b, 0));
    s.send_message(a, b"z", 8).unwrap();
    assert!(s.receive_on_poll_group(g, 10).unwrap().is_empty());
    assert_eq!(s.receive_on_connection(b, 10).unwrap().len(), 1);
}

#[test]
fn rejoining_a_group_does_not_duplicate_messages() {
    let s = Sockets::new();
    let (a, b) = pair(&s);
    let g = s.create_poll_group();
    let h = s.create_poll_group();
    s.set_connection_poll_group(b, g);
    s.send_message(a, b"1", 8).unwrap();
    s.set_connection_poll_group(b, h);
    s.set_connection_poll_group(b, g);
    s.send_message(a, b"2", 8).unwrap();
    let got: Vec<Vec<u8>> = s.receive_on_poll_group(g, 10).unwrap().into_iter().map(|m| m.payload.to_vec()).collect();
    assert_eq!(got, vec![b"1".to_vec(), b"2".to_vec()]);
    assert!(s.receive_on_poll_group(h, 10).unwrap().is_empty());
}

#[test]
fn destroying_a_group_releases_its_connections() {
    let s = Sockets::new();
    let (a, b) = pair(&s);
    let g = s.create_poll_group();
    s.set_connection_poll_group(b, g);
    assert!(s.destroy_poll_group(g));
    assert!(!s.destroy_poll_group(g));
    assert!(!s.set_connection_poll_group(b, g), "destroyed group is invalid");
    s.send_message(a, b"m", 8).unwrap();
    assert_eq!(s.receive_on_connection(b, 1).unwrap().len(), 1);
}

#[test]
fn full_receive_buffer_refuses_reliable_and_drops_unreliable() {
    let s = Sockets::new();
    let (a, b) = pair(&s);
    let limit = ConnectionConfig::default().int32(ids::RECV_BUFFER_MESSAGES) as usize;
    for _ in 0..limit {
        s.send_message(a, b"r", 8).unwrap();
    }
    assert_eq!(s.send_message(a, b"r", 8), Err(SteamResult::LimitExceeded));
    let n = s.send_message(a, b"u", 0).expect("unreliable is accepted");
    assert_eq!(n, limit as i64 + 1, "refused reliable took no number");
    assert_eq!(s.receive_on_connection(b, usize::MAX).unwrap().len(), limit, "unreliable was dropped");
    assert!(s.send_message(a, b"r", 8).is_ok(), "room again after reading");
}

#[test]
fn lanes_and_status() {
    let s = Sockets::new();
    let (a, _) = pair(&s);
    assert_eq!(s.real_time_status(a, 2).unwrap_err(), SteamResult::InvalidParam);
    assert_eq!(s.configure_lanes(a, 0, &[], &[]), SteamResult::InvalidParam);
    assert_eq!(s.configure_lanes(a, 3, &[1, 2, 3], &[1, 1, 1]), SteamResult::Ok);
    let (status, lanes) = s.real_time_status(a, 3).unwrap();
    assert_eq!(lanes.len(), 3);
    assert_eq!(status.state, ConnectionState::Connected);
    assert_eq!(status.ping_ms, 0);
    assert!(s.detailed_status(a).unwrap().contains("State: connected"));
}

#[test]
fn reset_identity_destroys_connections_and_sets_pair_default() {
    let s = Sockets::new();
    let (a, _) = pair(&s);
    s.reset_identity(Identity::SteamId(999));
    assert!(s.connection_info(a).is_none());
    let (c, d) = s.create_socket_pair(false, Identity::Invalid, Identity::SteamId(5)).unwrap();
    assert_eq!(s.connection_info(d).unwrap().identity, 999, "unset identity is the local one");
    assert_eq!(s.connection_info(c).unwrap().identity, 5);
}

#[test]
fn user_data_name_and_fake_ip_defaults() {
    let s = Sockets::new();
    let (a, _) = pair(&s);
    assert_eq!(s.connection_user_data(a), -1);
    assert!(s.set_connection_user_data(a, i64::MIN));
    assert_eq!(s.connection_user_data(a), i64::MIN);
    assert_eq!(s.connection_name(a).as_deref(), Some(""));
    assert!(s.set_connection_name(a, "lobby"));
    assert_eq!(s.connection_name(a).as_deref(), Some("lobby"));
    assert!(s.connection_info(a).unwrap().debug_description.contains("lobby"));
    assert_eq!(s.fake_ip(0).result, SteamResult::NoMatch);
    assert_eq!(s.fake_ip(1).result, SteamResult::InvalidParam);
    assert!(!s.begin_async_request_fake_ip(0) && !s.begin_async_request_fake_ip(5), "1 to 4 ports");
}

#[test]
fn authentication_is_never_tried_until_asked() {
    let s = Sockets::new();
    assert_eq!(s.authentication_status(), availability::NEVER_TRIED);
    assert_eq!(s.identity_text(), "");
    assert!(s.drain_events().is_empty(), "nothing posted before initAuthentication");
}

#[test]
fn callbacks_posted_on_other_threads_are_drained_in_order() {
    // The UDP driver will post from a background runtime; the queue must take that.
    let s = std::sync::Arc::new(Sockets::new());
    let pairs: Vec<(Handle, Handle)> = (0..8).map(|_| pair(&s)).collect();
    let workers: Vec<_> = pairs
        .iter()
        .map(|&(a, _)| {
            let s = s.clone();
            std::thread::spawn(move || assert!(s.close_connection(a, 1000 + a as i32, "", false)))
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut closed: Vec<Handle> = s
        .drain_events()
        .into_iter()
        .map(|e| match e {
            Event::ConnectionStatusChanged { handle, .. } => handle,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    closed.sort();
    // Each close: the closed end's change to None and its peer's change to ClosedByPeer.
    let mut expected: Vec<Handle> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
    expected.sort();
    assert_eq!(closed, expected, "two events per closed pair, none lost");
    assert!(s.drain_events().is_empty());
}

#[test]
fn drivers_run_while_the_application_holds_the_interface() {
    // The drivers take their own endpoint's lock, never the interface's: while the
    // application holds the interface (here, for as long as the test likes), a message already
    // sent is still received and acknowledged. (When drivers shared the interface's lock,
    // nothing moved until it was let go.)
    let s = Sockets::new();
    let (a, b) = s.create_socket_pair(true, Identity::SteamId(111), Identity::SteamId(222)).expect("pair");
    assert!(s.send_message(a, b"while you wait", send_flags::RELIABLE | send_flags::NO_NAGLE).is_ok());
    let state = s.lock();
    let (endpoint, id) = udp_of(&state, a);
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if all_acknowledged(&state, endpoint, id) {
            break;
        }
        assert!(Instant::now() < deadline, "not acknowledged while the interface was held");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    drop(state);
    let got = s.receive_on_connection(b, 10).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload, &b"while you wait"[..]);
}

#[test]
fn sends_that_find_the_endpoint_busy_hand_their_messages_over_and_they_arrive_in_order() {
    // While another thread (standing in for the driver, in the middle of a turn) holds a UDP
    // endpoint's lock, the application's sends on it return at once with their numbers,
    // their messages handed over; once the lock is let go they reach the peer in order, each
    // once, ahead of a message sent after them.
    let s = Sockets::new();
    let (a, b) = s.create_socket_pair(true, Identity::SteamId(111), Identity::SteamId(222)).expect("pair");
    let urgent = send_flags::RELIABLE | send_flags::NO_NAGLE;
    // The first send goes straight into the session, which then tells the interface how much
    // room its send buffer has; wait until the endpoint has nothing left to do or settle.
    assert_eq!(s.send_message(a, b"first", urgent), Ok(1));
    let (key, id) = udp_of(&s.lock(), a);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !all_acknowledged(&s.lock(), key, id) {
        assert!(Instant::now() < deadline, "the first message was never acknowledged");
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(s.lock()); // settles what the acknowledgement left
    let shared = s.lock().endpoints.shared(key).expect("the endpoint");
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (sent_tx, sent_rx) = std::sync::mpsc::channel();
    let numbers = std::thread::scope(|scope| {
        let (shared, held_tx) = (&shared, held_tx);
        let holder = scope.spawn(move || {
            let guard = udp::lock_endpoint(key, shared);
            held_tx.send(()).unwrap();
            // Held until the sends are back; a send that waited for the lock instead would
            // keep them from coming back, and after 5 s the test fails.
            let sends_came_back = sent_rx.recv_timeout(Duration::from_secs(5)).is_ok();
            drop(guard);
            sends_came_back
        });
        held_rx.recv().unwrap();
        let numbers: Vec<_> = (0..50u8).map(|i| s.send_message(a, &[i], send_flags::RELIABLE)).collect();
        sent_tx.send(()).unwrap();
        assert!(holder.join().unwrap(), "a send waited for the endpoint's lock");
        numbers
    });
    assert_eq!(numbers, (2..=51).map(Ok).collect::<Vec<_>>());
    let receive_until = |count: usize, got: &mut Vec<ReceivedMessage>, within: Duration| {
        let deadline = Instant::now() + within;
        while got.len() < count && Instant::now() < deadline {
            got.extend(s.receive_on_connection(b, 100).unwrap());
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    // Nobody else takes the endpoint's lock now: the holder's letting go woke the driver. (Its
    // timers alone would take it again only seconds later.)
    let mut got = Vec::new();
    receive_until(51, &mut got, Duration::from_secs(2));
    assert_eq!(got.len(), 51, "the handed-over messages waited");
    assert_eq!(s.send_message(a, b"last", urgent), Ok(52));
    receive_until(52, &mut got, Duration::from_secs(5));
    assert_eq!(got.iter().map(|m| m.message_number).collect::<Vec<_>>(), (1..=52).collect::<Vec<_>>());
    let payloads: Vec<Vec<u8>> = got.iter().map(|m| m.payload.to_vec()).collect();
    let expected: Vec<Vec<u8>> =
        [b"first".to_vec()].into_iter().chain((0..50u8).map(|i| vec![i])).chain([b"last".to_vec()]).collect();
    assert_eq!(payloads, expected);
}
