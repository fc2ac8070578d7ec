//! NAT traversal for real: network namespaces with Linux NAT (nftables masquerade) between two
//! clients and the relay. This binary runs itself inside each namespace (the ignored test
//! `nat_peer`, steered by environment variables) as the relay, the listener and the caller.
//!
//! - A "cone" NAT (masquerade: one mapping per inside socket and destination, filtering by
//!   conntrack) lets simultaneous PATH_CHALLENGEs open a direct path; then the direct path is cut
//!   and the connection must fall back to the relay without losing a message.
//! - A symmetric NAT (fully random ports) defeats hole punching: only the relay works.
//!
//! Needs root, `ip` and `nft`; without them the test says so and is skipped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use steamnet_net::auth::AuthSettings;
use steamnet_net::{ConnectionState, Event, Identity, Sockets, availability, send_flags};
use steamnet_proto::cert::{Authority, to_hex};

const PREFIX: &str = "NAT: ";
const RELAY_PORT: u16 = 27190;

/// Run `cmd` (via `sh -c`), failing the test with its output if it fails.
fn sh(cmd: &str) {
    let out = Command::new("sh").arg("-c").arg(cmd).output().expect("sh");
    assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
}

fn can_run() -> Result<(), String> {
    if unsafe { libc_geteuid() } != 0 {
        return Err("not root".into());
    }
    for tool in ["ip", "nft"] {
        if Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().map_or(true, |o| !o.status.success())
        {
            return Err(format!("`{tool}` is not installed (apt-get install iproute2 nftables)"));
        }
    }
    let probe = format!("snprobe{}", std::process::id());
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ip netns add {probe} && ip netns exec {probe} nft add table ip t; r=$?; ip netns del {probe}; exit $r"
        ))
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        return Err("this kernel does not allow network namespaces with nftables NAT".into());
    }
    Ok(())
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// Five namespaces: `pub` (the internet, with the relay), two NAT routers and a client behind
/// each. Removed on drop.
struct Lab {
    names: [String; 5],
}

impl Lab {
    fn new(symmetric: bool) -> Lab {
        let tag = format!("{}{}", std::process::id() % 100_000, if symmetric { "s" } else { "c" });
        let names = ["p", "na", "nb", "a", "b"].map(|n| format!("sn{tag}{n}"));
        let lab = Lab { names };
        let [p, na, nb, a, b] = &lab.names;
        for ns in &lab.names {
            sh(&format!("ip netns add {ns} && ip -n {ns} link set lo up"));
        }
        // Internet side: 203.0.113.0/25 to NAT A, 203.0.113.128/25 to NAT B (TEST-NET-3).
        for (nat, side, base) in [(na, "a", 0), (nb, "b", 128)] {
            let (inet, wan) = (format!("i{side}{tag}"), format!("w{side}{tag}"));
            sh(&format!("ip link add {inet} netns {p} type veth peer name {wan} netns {nat}"));
            sh(&format!("ip -n {p} addr add 203.0.113.{}/25 dev {inet} && ip -n {p} link set {inet} up", base + 1));
            sh(&format!("ip -n {nat} addr add 203.0.113.{}/25 dev {wan} && ip -n {nat} link set {wan} up", base + 2));
            sh(&format!("ip -n {nat} route add default via 203.0.113.{}", base + 1));
            let random = if symmetric { " fully-random" } else { "" };
            sh(&format!(
                "ip netns exec {nat} nft 'add table ip nat; add chain ip nat post {{ type nat hook postrouting priority 100; }}; \
                 add rule ip nat post oifname \"{wan}\" masquerade{random}'"
            ));
            sh(&format!("ip netns exec {nat} sysctl -qw net.ipv4.ip_forward=1"));
        }
        sh(&format!("ip netns exec {p} sysctl -qw net.ipv4.ip_forward=1"));
        // The LANs: 192.168.1.0/24 behind NAT A, 192.168.2.0/24 behind NAT B.
        for (nat, client, side, net) in [(na, a, "a", 1), (nb, b, "b", 2)] {
            let (lan, nic) = (format!("l{side}{tag}"), format!("e{side}{tag}"));
            sh(&format!("ip link add {lan} netns {nat} type veth peer name {nic} netns {client}"));
            sh(&format!("ip -n {nat} addr add 192.168.{net}.1/24 dev {lan} && ip -n {nat} link set {lan} up"));
            sh(&format!("ip -n {client} addr add 192.168.{net}.2/24 dev {nic} && ip -n {client} link set {nic} up"));
            sh(&format!("ip -n {client} route add default via 192.168.{net}.1"));
        }
        lab
    }

    /// Start this test binary's `nat_peer` in namespace `ns` with `env`.
    fn spawn(&self, ns: &str, env: &[(&str, String)]) -> Child {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]).arg(exe).args(["--ignored", "--exact", "nat_peer", "--nocapture"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in &self.names {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Lines a helper prints after [`PREFIX`].
fn lines(child: &mut Child) -> impl Iterator<Item = String> + use<> {
    BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| l.strip_prefix(PREFIX).map(str::to_string))
}

/// One scenario: returns the caller's report lines.
fn scenario(symmetric: bool, cut_direct_path: bool) -> Vec<String> {
    let lab = Lab::new(symmetric);
    let [p, na, _nb, a, b] = &lab.names;
    let secret = Authority::generate().secret();
    let key = to_hex(&Authority::from_secret(&secret).public_key());
    let dir = std::env::temp_dir().join(format!("steamnet-nat-{}-{symmetric}", std::process::id()));
    let mut relay = lab.spawn(p, &[("NAT_ROLE", "relay".into()), ("NAT_SECRET", to_hex(&secret))]);
    let mut relay_lines = lines(&mut relay);
    assert_eq!(relay_lines.next().as_deref(), Some("relay up"));
    let common = |relay_ip: &str, name: &str| {
        vec![
            ("NAT_RELAY", format!("{relay_ip}:{RELAY_PORT}")),
            ("NAT_CA", key.clone()),
            ("NAT_DIR", dir.join(name).display().to_string()),
        ]
    };
    let mut listener_env = common("203.0.113.129", "b");
    listener_env.push(("NAT_ROLE", "listen".into()));
    let mut listener = lab.spawn(b, &listener_env);
    let mut listener_lines = lines(&mut listener);
    let id = listener_lines.next().expect("listener id");
    let mut caller_env = common("203.0.113.1", "a");
    caller_env.push(("NAT_ROLE", format!("call {id}")));
    let mut caller = lab.spawn(a, &caller_env);
    let mut report = Vec::new();
    for line in lines(&mut caller) {
        if line == "direct" && cut_direct_path {
            // Cut every packet between the two NATs' public addresses; the relay stays reachable.
            sh(&format!(
                "ip netns exec {na} nft 'add table ip cutter; add chain ip cutter cutchain {{ type filter hook forward priority 0; }}; \
                 add rule ip cutter cutchain ip daddr 203.0.113.130 drop; add rule ip cutter cutchain ip saddr 203.0.113.130 drop'"
            ));
        }
        report.push(line);
    }
    let status = caller.wait().unwrap();
    let _ = listener.kill();
    let _ = relay.kill();
    let _ = listener.wait();
    let _ = relay.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(status.success(), "caller failed: {report:?}");
    report
}

#[test]
fn hole_punching_through_cone_nats_then_fallback_and_relay_only_through_symmetric_nats() {
    if let Err(why) = can_run() {
        println!("SKIPPED nat traversal test: {why}");
        return;
    }
    let cone = scenario(false, true);
    println!("cone NATs: {cone:?}");
    assert!(cone.contains(&"direct".to_string()), "hole punching through cone NATs: {cone:?}");
    assert!(cone.contains(&"fallback".to_string()), "back to the relay when the direct path is cut: {cone:?}");
    assert!(cone.last().is_some_and(|l| l.starts_with("ok")), "{cone:?}");
    let symmetric = scenario(true, false);
    println!("symmetric NATs: {symmetric:?}");
    assert!(!symmetric.contains(&"direct".to_string()), "no direct path through symmetric NATs: {symmetric:?}");
    assert!(symmetric.last().is_some_and(|l| l == "ok relayed"), "{symmetric:?}");
}

/// The helper each namespace runs (see the module comment). Does nothing unless `NAT_ROLE` is set.
#[test]
#[ignore]
fn nat_peer() {
    let Ok(role) = std::env::var("NAT_ROLE") else { return };
    let env = |k: &str| std::env::var(k).unwrap();
    if role == "relay" {
        let secret = steamnet_proto::cert::key_from_hex(&env("NAT_SECRET")).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let service = steamnet_relay::authority::CaService::new(
            Authority::from_secret(&secret),
            steamnet_relay::authority::Registry::default(),
        );
        steamnet_relay::server::spawn(runtime.handle(), ([0, 0, 0, 0], RELAY_PORT).into(), service).unwrap();
        println!("{PREFIX}relay up");
        std::thread::sleep(Duration::from_secs(120));
        return;
    }
    let sockets = Sockets::new();
    sockets.configure_auth(AuthSettings {
        app_id: Some(480),
        relay: Some(env("NAT_RELAY")),
        trusted_ca_keys: vec![env("NAT_CA")],
        identity_dir: Some(env("NAT_DIR").into()),
    });
    sockets.init_authentication();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sockets.authentication_status() != availability::CURRENT {
        assert!(Instant::now() < deadline, "no certificate");
        std::thread::sleep(Duration::from_millis(5));
    }
    let direct = |h| sockets.connection_info(h).is_some_and(|i| i.remote_address != "::");
    if role == "listen" {
        let listen = sockets.create_listen_socket_p2p(1, &[]);
        println!("{PREFIX}{}", sockets.identity_text().trim_start_matches("steamid:"));
        let mut conn = None;
        loop {
            for event in sockets.drain_events() {
                if let Event::ConnectionStatusChanged { handle, info, .. } = event
                    && info.listen_socket == listen
                    && info.state == ConnectionState::Connecting
                {
                    sockets.accept_connection(handle);
                    conn = Some(handle);
                }
            }
            if let Some(h) = conn {
                for m in sockets.receive_on_connection(h, 64).unwrap_or_default() {
                    let _ = sockets.send_message(h, &m.payload, send_flags::RELIABLE);
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // The caller: connect by identity, echo messages through whatever path, and report it.
    let target: u64 = role.trim_start_matches("call ").parse().unwrap();
    let c = sockets.connect_p2p(Identity::SteamId(target), 1, &[]);
    let started = Instant::now();
    let (mut sent, mut echoed, mut was_direct, mut fell_back) = (0u32, 0u32, false, false);
    let total = 3000u32;
    while echoed < total {
        assert!(started.elapsed() < Duration::from_secs(40), "stuck at {echoed} of {total}");
        if sockets.connection_info(c).is_some_and(|i| i.state == ConnectionState::Connected) {
            // Pace the sending over ~10 s, so it spans the path changes.
            let due = (started.elapsed().as_millis() as u32 * total / 10_000).min(total);
            while sent < due && sockets.send_message(c, &sent.to_be_bytes(), send_flags::RELIABLE).is_ok() {
                sent += 1;
            }
        }
        for m in sockets.receive_on_connection(c, 64).unwrap_or_default() {
            let n = u32::from_be_bytes(m.payload[..4].try_into().unwrap());
            assert_eq!(n, echoed, "echoes come back once and in order");
            echoed += 1;
        }
        if !was_direct && direct(c) {
            was_direct = true;
            println!("{PREFIX}direct");
        } else if was_direct && !fell_back && !direct(c) {
            fell_back = true;
            println!("{PREFIX}fallback");
        }
        let state = sockets.connection_info(c).map(|i| i.state);
        assert!(
            matches!(state, Some(ConnectionState::Connecting | ConnectionState::Connected)),
            "connection ended: {:?}",
            sockets.connection_info(c)
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    println!("{PREFIX}ok {}", if direct(c) { "direct" } else { "relayed" });
}
