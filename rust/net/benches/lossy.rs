//! Fast under loss: 10,000 reliable 200-byte messages from a client to a server through a
//! user-space proxy that imposes loss and one-way delay (the kernel here has no netem), for
//! steamnet and, in the same run and through the same proxy, Valve's GameNetworkingSockets when
//! a copy is given. Prints completion time and goodput per cell, with the ratio; steamnet runs
//! twice, as configured by default and with forward error correction
//! (`NETWORKING_CONFIG_FEC_REPAIRS` = 4: four repair packets per 16 data packets), whose time is
//! also shown against its own loss-free time and the default's on the same path.
//!
//! Run: `bash scripts/bench-lossy.sh` (fetches Debian sid's GNS 1.6.1 and runs this through its
//! loader), or `cargo bench -p steamnet-net --bench lossy` for steamnet alone. `GNS_LIB=path`
//! names the library to load. Only loopback traffic is sent.

#[path = "support/gns.rs"]
mod gns;
#[path = "../tests/support/proxy.rs"]
#[allow(dead_code)]
mod proxy;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proxy::Proxy;
use steamnet_net::{ConfigInput, ConnectionState, Event, Sockets, SteamResult, parse_ip_port, send_flags};
use steamnet_proto::impair::LinkConfig;

const MESSAGES: usize = 10_000;
const SIZE: usize = 200;
/// The send rate the measurement used: 32 MiB/s, as both `SEND_RATE_MIN` and
/// `SEND_RATE_MAX`. Open-source GNS does no bandwidth estimation (it paces at its minimum rate),
/// so pinning the rate is how it reaches 32 MiB/s at all; steamnet's controller is clamped to
/// the same rate, so the comparison is of loss recovery alone.
const SEND_RATE: i32 = 32 * 1024 * 1024;
const GIVE_UP: Duration = Duration::from_secs(90);
/// Repair packets per 16 data packets in the forward-error-correction run.
const FEC_REPAIRS: i64 = 4;
/// steamnet's cells are run this many times and the median shown (a loopback transfer of tens of
/// milliseconds varies with scheduling); GNS's once, as its stalls cost up to `GIVE_UP` each.
const RUNS: usize = 3;

fn path(loss: f64, one_way_ms: u64) -> LinkConfig {
    LinkConfig { loss, lag_usec: one_way_ms * 1000, ..LinkConfig::perfect() }
}

/// steamnet's median completion time over [`RUNS`] runs (a run past `GIVE_UP` counts as longest).
fn steamnet_median(link: LinkConfig, fec_repairs: i64) -> Option<Duration> {
    let mut times: Vec<Option<Duration>> = (0..RUNS).map(|_| steamnet(link.clone(), fec_repairs)).collect();
    times.sort_by_key(|t| t.unwrap_or(Duration::MAX));
    times[RUNS / 2]
}

/// steamnet: completion time, or None past `GIVE_UP`. `fec_repairs`: repair packets per 16.
fn steamnet(link: LinkConfig, fec_repairs: i64) -> Option<Duration> {
    let options = [
        (10, ConfigInput::Int(SEND_RATE as i64)),
        (11, ConfigInput::Int(SEND_RATE as i64)),
        (steamnet_net::config::ids::FEC_REPAIRS as i64, ConfigInput::Int(fec_repairs)),
    ];
    let server = Sockets::new();
    let listen = server.create_listen_socket_ip(parse_ip_port("127.0.0.1:0"), &options);
    let address = parse_ip_port(&server.listen_socket_address(listen, true)?)?;
    let proxy = Proxy::start(address, 7);
    proxy.set(|b| b.path = Some(link));
    let client = Sockets::new();
    let conn = client.connect_by_ip_address(Some(proxy.address), &options);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut server_side = None;
    while server_side.is_none_or(|s| server.connection_info(s).is_none_or(|i| i.state != ConnectionState::Connected))
        || client.connection_info(conn)?.state != ConnectionState::Connected
    {
        for event in server.drain_events() {
            if let Event::ConnectionStatusChanged { handle, info, .. } = event
                && info.state == ConnectionState::Connecting
            {
                server.accept_connection(handle);
                server_side = Some(handle);
            }
        }
        client.drain_events();
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let server_side = server_side?;
    let message = [7u8; SIZE];
    let started = Instant::now();
    let (mut sent, mut got) = (0, 0);
    while got < MESSAGES {
        while sent < MESSAGES {
            match client.send_message(conn, &message, send_flags::RELIABLE) {
                Ok(_) => sent += 1,
                Err(SteamResult::LimitExceeded) => break,
                Err(other) => panic!("send: {other:?}"),
            }
        }
        got += server.receive_on_connection(server_side, 1000)?.len();
        if started.elapsed() > GIVE_UP {
            return None;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Some(started.elapsed())
}

/// GNS: completion time, or None past `GIVE_UP`.
fn gns(lib: &gns::Gns, link: LinkConfig) -> Option<Duration> {
    let port = gns::free_port();
    let server: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let proxy = Proxy::start(server, 8);
    proxy.set(|b| b.path = Some(link));
    let (client, server_side) = lib.connected_pair(&server.to_string(), &proxy.address.to_string(), SEND_RATE)?;
    let message = [7u8; SIZE];
    let started = Instant::now();
    let (mut sent, mut got) = (0, 0);
    let mut result = None;
    while started.elapsed() < GIVE_UP {
        while sent < MESSAGES && lib.send(client, &message, gns::SEND_RELIABLE) == 1 {
            sent += 1;
        }
        lib.run_callbacks();
        got += lib.receive(server_side).0;
        if got >= MESSAGES {
            result = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    lib.close(client);
    lib.close(server_side);
    lib.run_callbacks();
    result
}

fn show(time: Option<Duration>) -> String {
    match time {
        Some(t) => format!("{:>8.2} s {:>6.2} MB/s", t.as_secs_f64(), (MESSAGES * SIZE) as f64 / t.as_secs_f64() / 1e6),
        None => format!("{:>8} {:>11}", "gave up", ">90 s"),
    }
}

fn main() {
    let gns_path = std::env::var("GNS_LIB").ok();
    let lib = gns_path.as_deref().map(|path| gns::Gns::load(path).unwrap_or_else(|e| panic!("loading GNS: {e}")));
    println!(
        "{MESSAGES} reliable {SIZE}-byte messages through a proxy, send rate {} MiB/s (min = max); steamnet: median of {RUNS} runs; GNS: {}",
        SEND_RATE >> 20,
        gns_path.as_deref().unwrap_or("not given (GNS_LIB)")
    );
    println!(
        "loss  one-way   steamnet                 GNS                      GNS / steamnet   \
         steamnet + FEC {FEC_REPAIRS}/16          / own, default loss-free"
    );
    for one_way in [0u64, 25, 100] {
        let (mut loss_free, mut fec_loss_free) = (None, None);
        for loss in [0.0, 0.01, 0.05, 0.10, 0.30] {
            let ours = steamnet_median(path(loss, one_way), 0);
            let fec = steamnet_median(path(loss, one_way), FEC_REPAIRS);
            if loss == 0.0 {
                (loss_free, fec_loss_free) = (ours, fec);
            }
            let theirs = lib.as_ref().map(|lib| gns(lib, path(loss, one_way)));
            let ratio = match (ours, theirs) {
                (Some(a), Some(Some(b))) => format!("{:.1}x", b.as_secs_f64() / a.as_secs_f64()),
                (Some(_), Some(None)) => "> gave up".into(),
                _ => "-".into(),
            };
            let ratio_to = |clean: Option<Duration>| match (fec, clean) {
                (Some(f), Some(clean)) => format!("{:.2}x", f.as_secs_f64() / clean.as_secs_f64()),
                _ => "-".into(),
            };
            let fec_ratio = format!("{}, {}", ratio_to(fec_loss_free), ratio_to(loss_free));
            println!(
                "{:>3.0}%  {one_way:>4} ms  {}   {}   {ratio:<14}   {}   {fec_ratio}",
                loss * 100.0,
                show(ours),
                theirs.map_or("-".to_string(), show),
                show(fec)
            );
        }
    }
}
