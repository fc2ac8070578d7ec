//! RELAYED datagrams (beside the session): forwarded along a route only with the session's
//! token and from the session's address; anything else is dropped and never answered.

mod support;

use std::net::UdpSocket;

use steamnet_relay::messages::{RelayMessage, relayed_from_client};
use support::{Client, start_relay, until};

#[test]
fn relayed_datagrams_need_the_token_and_the_sessions_address() {
    let (_runtime, relay, ca) = start_relay();
    let (mut a, mut b) = (Client::new(relay, &ca), Client::new(relay, &ca));
    // Both become sessions (they get their tokens); b listens, a calls b on route 1.
    until(&mut [&mut a, &mut b], &|c| c[0].connected() && c[1].connected());
    a.send(RelayMessage::Listen { vport: 9 });
    b.send(RelayMessage::Listen { vport: 9 });
    until(&mut [&mut a, &mut b], &|c| c[0].token.is_some() && c[1].token.is_some());
    a.send(RelayMessage::Connect { route: 1, target: b.identity, vport: 9 });
    until(&mut [&mut a, &mut b], &|c| c[1].incoming_route.is_some());
    let token = a.token.unwrap();
    // The genuine datagram gets through.
    a.socket.send_to(&relayed_from_client(token, 1, b"genuine"), relay).unwrap();
    until(&mut [&mut a, &mut b], &|c| !c[1].relayed.is_empty());
    assert_eq!(b.relayed.remove(0), b"genuine");
    // A wrong token, a route the session does not have, or the right token from another
    // address: dropped, and nothing comes back to the sender.
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    stranger.set_nonblocking(true).unwrap();
    a.socket.send_to(&relayed_from_client(token ^ 1, 1, b"wrong token"), relay).unwrap();
    a.socket.send_to(&relayed_from_client(token, 2, b"wrong route"), relay).unwrap();
    stranger.send_to(&relayed_from_client(token, 1, b"stolen token"), relay).unwrap();
    stranger.send_to(&[9, 1, 2], relay).unwrap();
    // A marker after them, from a: once it arrives, the others were handled before it.
    a.socket.send_to(&relayed_from_client(token, 1, b"marker"), relay).unwrap();
    until(&mut [&mut a, &mut b], &|c| !c[1].relayed.is_empty());
    assert_eq!(b.relayed, vec![b"marker".to_vec()], "only the marker came through");
    assert!(stranger.recv(&mut [0u8; 64]).is_err(), "nothing is sent to an unknown address");
}
