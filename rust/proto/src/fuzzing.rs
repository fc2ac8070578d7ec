//! Fuzz target bodies: one function per decoder an attacker can reach, each taking arbitrary
//! bytes. `fuzz/` (cargo-fuzz, libFuzzer, nightly) drives them with coverage guidance; the
//! stable test below drives them with seeded random and mutated input, so every `cargo test`
//! exercises them too. None may panic, whatever the input.

use std::cell::RefCell;
use std::net::SocketAddr;

use crate::endpoint::{ConnectionId, Endpoint, EndpointConfig, EndpointEvent, generate_static_keypair};
use crate::session::{Session, SessionConfig};
use crate::wire;

const CLIENT: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);
const SERVER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 27015);

/// The packet decoder: any bytes either decode or are an error; what decodes re-encodes to
/// frames that decode the same.
pub fn wire(data: &[u8]) {
    let Ok((number, frames)) = wire::decode_packet(data) else { return };
    let mut again = Vec::new();
    crate::varint::write(&mut again, number);
    for frame in &frames {
        frame.encode(&mut again);
    }
    let (number2, frames2) = wire::decode_packet(&again).expect("re-encoded packet decodes");
    // A member frame's `rest` is the raw bytes after it, which re-encoding may spell differently
    // (a varint can be written longer than needed): compare the frames themselves.
    let without_rest = |frames: wire::Frames<'_>| -> Vec<String> {
        frames
            .into_iter()
            .map(|f| match f {
                wire::Frame::FecMember { group, index, .. } => format!("FecMember({group}, {index})"),
                other => format!("{other:?}"),
            })
            .collect()
    };
    assert_eq!((number, without_rest(frames)), (number2, without_rest(frames2)), "decode . encode is the identity");
}

/// The certificate and certificate-request decoders, and the check a handshake runs on what
/// decodes: any bytes are refused or verified, never a panic; what decodes re-encodes the same.
pub fn certificate(data: &[u8]) {
    use crate::cert::{CertRequest, Certificate, Trust};
    if let Ok(cert) = Certificate::decode(data) {
        assert_eq!(cert.encode(), data, "decode . encode is the identity");
        let trust = Trust { app_id: 480, cas: vec![cert.ca_key] };
        let _ = cert.check(&trust, &cert.key, cert.issued_at);
    }
    if let Ok(request) = CertRequest::decode(data) {
        assert_eq!(request.encode(), data);
    }
}

/// A live session fed the bytes as datagrams (split on 0xff 0xff markers, so one input can be
/// several datagrams), with timers and output run after each.
pub fn session(data: &[u8]) {
    let mut s = Session::new(SessionConfig::default(), 0);
    let _ = s.configure_lanes(4, &[0, 1, 0, 2], &[1, 1, 2, 1]);
    for (i, datagram) in data.split(|&b| b == 0xff).enumerate() {
        let now = i as u64 * 1_000;
        s.handle_datagram(now, datagram);
        while s.poll_transmit(now).is_some() {}
        s.handle_timeout(now);
        while s.poll_message().is_some() {}
    }
}

/// A listening endpoint and a connecting one, fed the bytes as handshake datagrams from a
/// peer. The first byte picks which endpoint, and whether to aim at a live connection id.
pub fn handshake(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    let server_config = EndpointConfig { accept_incoming: true, ..EndpointConfig::default() };
    let mut server = Endpoint::new(server_config, generate_static_keypair().0);
    let mut client = Endpoint::new(EndpointConfig::default(), generate_static_keypair().0);
    let id = client.connect(0, SERVER);
    for (i, chunk) in rest.split(|&b| b == 0xff).enumerate() {
        let now = i as u64 * 10_000;
        let mut datagram = chunk.to_vec();
        if selector & 2 != 0 && datagram.len() >= 5 {
            datagram[1..5].copy_from_slice(&id.to_be_bytes());
        }
        if selector & 1 == 0 {
            server.handle_datagram(now, CLIENT, &datagram);
        } else {
            client.handle_datagram(now, SERVER, &datagram);
        }
        for endpoint in [&mut server, &mut client] {
            while endpoint.poll_transmit(now).is_some() {}
            endpoint.handle_timeout(now);
            while endpoint.poll_event().is_some() {}
        }
    }
}

struct Established {
    client: Endpoint,
    server: Endpoint,
    client_id: ConnectionId,
    server_id: ConnectionId,
    now: u64,
}

thread_local! {
    /// One established pair per thread, made once: a handshake per input would drown the
    /// fuzzer in Diffie-Hellman.
    static ESTABLISHED: RefCell<Option<Established>> = const { RefCell::new(None) };
}

fn establish() -> Established {
    let server_config = EndpointConfig { accept_incoming: true, ..EndpointConfig::default() };
    let mut server = Endpoint::new(server_config, generate_static_keypair().0);
    let mut client = Endpoint::new(EndpointConfig::default(), generate_static_keypair().0);
    let client_id = client.connect(0, SERVER);
    let mut server_id = 0;
    for now in 0..50u64 {
        while let Some((_, d)) = client.poll_transmit(now) {
            server.handle_datagram(now, CLIENT, &d);
        }
        while let Some(event) = server.poll_event() {
            if let EndpointEvent::Incoming { id, .. } = event {
                server.accept(now, id);
                server_id = id;
            }
        }
        while let Some((_, d)) = server.poll_transmit(now) {
            client.handle_datagram(now, SERVER, &d);
        }
        if client.session(client_id).is_some() && server_id != 0 {
            break;
        }
    }
    assert!(client.session(client_id).is_some(), "the fuzz pair connects");
    Established { client, server, client_id, server_id, now: 100 }
}

/// An established connection's datagram path (replay window, decryption, path validation,
/// session), fed the bytes as datagrams. The first byte picks the endpoint, whether to aim at
/// the live connection id, and whether the datagram comes from a new address.
pub fn datagram(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    ESTABLISHED.with(|cell| {
        let mut slot = cell.borrow_mut();
        let pair = slot.get_or_insert_with(establish);
        for chunk in rest.split(|&b| b == 0xff) {
            pair.now += 1_000;
            let now = pair.now;
            let mut d = chunk.to_vec();
            let to_server = selector & 1 == 0;
            if selector & 2 != 0 && d.len() >= 5 {
                let id = if to_server { pair.server_id } else { pair.client_id };
                d[1..5].copy_from_slice(&id.to_be_bytes());
            }
            let from = if selector & 4 != 0 { SocketAddr::new(CLIENT.ip(), 40001) } else { CLIENT };
            if to_server {
                pair.server.handle_datagram(now, from, &d);
            } else {
                pair.client.handle_datagram(now, SERVER, &d);
            }
            for (endpoint, id) in [(&mut pair.server, pair.server_id), (&mut pair.client, pair.client_id)] {
                while endpoint.poll_transmit(now).is_some() {}
                endpoint.handle_timeout(now);
                while endpoint.poll_event().is_some() {}
                while endpoint.poll_message(id).is_some() {}
            }
        }
    });
}

/// Up to `max_edits` random edits of `input` (change, cut or insert a byte): how the stable
/// fuzzing loops turn well-formed samples into hostile ones.
pub fn mutate(rng: &mut crate::impair::FastRng, input: &mut Vec<u8>, max_edits: u64) {
    for _ in 0..rng.below(max_edits) {
        if input.is_empty() {
            break;
        }
        let at = rng.below(input.len() as u64) as usize;
        match rng.below(3) {
            0 => input[at] = rng.next_u64() as u8,
            1 => input.truncate(at),
            _ => input.insert(at, rng.next_u64() as u8),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impair::FastRng;

    /// Random bytes, and mutations of a few well-formed seeds, through every target.
    fn drive(target: fn(&[u8]), seeds: &[Vec<u8>], rounds: u64, rng_seed: u64) {
        let mut rng = FastRng::new(rng_seed);
        for round in 0..rounds {
            let mut input: Vec<u8> = if round % 2 == 0 || seeds.is_empty() {
                (0..rng.below(200)).map(|_| rng.next_u64() as u8).collect()
            } else {
                seeds[rng.below(seeds.len() as u64) as usize].clone()
            };
            mutate(&mut rng, &mut input, 6);
            target(&input);
        }
    }

    fn packet_seeds() -> Vec<Vec<u8>> {
        // With repairs on, so the seeds hold FEC_MEMBER and REPAIR frames too.
        let mut sender = Session::new(SessionConfig { fec_repairs: 4, ..SessionConfig::default() }, 0);
        sender.configure_lanes(3, &[0, 0, 0], &[1, 1, 1]).unwrap();
        let mut out = Vec::new();
        for i in 0..20u64 {
            let data = vec![i as u8; (i * 97 % 2500) as usize];
            sender.send_message(0, (i % 3) as u16, &data, ((i % 2) as i32 * 8) | 1).unwrap();
            while let Some(d) = sender.poll_transmit(i * 1000) {
                out.push(d);
            }
        }
        out
    }

    #[test]
    fn fuzz_targets_survive_random_and_mutated_input() {
        let seeds = packet_seeds();
        drive(wire, &seeds, 50_000, 1);
        drive(session, &seeds, 5_000, 2);
        // Handshake and datagram inputs: a selector byte, then datagrams of every kind.
        let kinds: Vec<Vec<u8>> = (1..=8u8).map(|k| [vec![0b11, k], vec![0; 60]].concat()).collect();
        drive(handshake, &kinds, 300, 3);
        drive(datagram, &kinds, 20_000, 4);
        let ca = crate::cert::Authority::generate();
        let cert = ca.issue(ca.identity_for(&[3; 32], 0), 480, [3; 32], 1_800_000_000, 60).encode();
        let request = crate::cert::CertRequest { app_id: 480, key: [3; 32] }.encode();
        drive(certificate, &[cert, request], 20_000, 5);
    }
}
