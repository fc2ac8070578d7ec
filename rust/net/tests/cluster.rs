//! A relay network of two POPs sharing a Redis directory (a real `redis-server` on a free
//! loopback port), used the way games use it: P2P by Steam ID, FakeIP and hosted servers with
//! the two ends on different POPs; clients choosing the fastest POP; and a POP killed
//! mid-session, whose clients move to the other one.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;

use steamnet_net::config::ConfigInput;
use steamnet_net::{Event, HostedEnvironment, Identity, Sockets, SteamResult, availability, end_reason};
use steamnet_proto::cert::Authority;
use steamnet_proto::impair::LinkConfig;
use steamnet_relay::authority::{CaService, Registry};
use steamnet_relay::directory::redis_store::LocalRedis;
use steamnet_relay::server::RelayServer;
use support::proxy::Proxy;
use support::relay::{authenticate, deliver_one, game, wait_for_end};
use support::{accept_across, wait_for, wait_until};

/// POPs sharing one CA key and one directory.
struct Cluster {
    redis: LocalRedis,
    secret: [u8; 32],
    dir: PathBuf,
}

/// A running POP; dropping it kills it.
struct Pop {
    runtime: Option<tokio::runtime::Runtime>,
    address: SocketAddr,
}

impl Pop {
    fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Pop {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Cluster {
    fn start(name: &str) -> Cluster {
        let dir = std::env::temp_dir().join(format!("steamnet-cluster-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Cluster { redis: LocalRedis::start().unwrap(), secret: Authority::generate().secret(), dir }
    }

    fn pop(&self, code: &str) -> Pop {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let service = CaService::new(Authority::from_secret(&self.secret), Registry::default());
        let address = runtime.block_on(async {
            let mut server = RelayServer::bind("127.0.0.1:0".parse().unwrap(), service).unwrap();
            let address = server.local_addr().unwrap();
            server.join_cluster(&self.redis.url(), code, address).await.unwrap();
            tokio::spawn(server.run());
            address
        });
        Pop { runtime: Some(runtime), address }
    }

    /// A game whose relay setting lists `relays`.
    fn sockets(&self, relays: &[SocketAddr]) -> Sockets {
        game(relays, &self.secret, &self.dir, 3000)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Wait until `sockets`' relay link is up with POP `code`, and return its status text.
fn relay_up(sockets: &Sockets, code: &str) -> String {
    sockets.init_relay_network_access();
    let pop = format!("POP {code}");
    wait_until(|| {
        sockets.relay_network_status() == availability::CURRENT
            && sockets.relay_network_status_details().debug_message.contains(&pop)
    });
    sockets.relay_network_status_details().debug_message
}

#[test]
fn p2p_fake_ip_and_hosted_calls_reach_clients_of_another_pop() {
    let cluster = Cluster::start("calls");
    let (a, b) = (cluster.pop("a"), cluster.pop("b"));
    let caller = cluster.sockets(&[a.address]);
    let listener = cluster.sockets(&[b.address]);
    let listener_id = authenticate(&listener);
    relay_up(&listener, "b");

    // P2P by Steam ID: caller on POP a, listener on POP b.
    let listen = listener.create_listen_socket_p2p(7, &[]);
    let c = caller.connect_p2p(Identity::SteamId(listener_id), 7, &[]);
    let s = accept_across(&listener, listen, &caller, c);
    let caller_id = authenticate(&caller);
    assert_eq!(listener.connection_info(s).unwrap().identity, caller_id);
    deliver_one(&caller, c, &listener, s, b"across POPs");
    deliver_one(&listener, s, &caller, c, b"and back");

    // A FakeIP allocated on POP b, dialled from POP a.
    assert!(listener.begin_async_request_fake_ip(1));
    let (ip, port) = wait_for(&listener, |e| match e {
        Event::FakeIpResult { result, fake_ip, ports, .. } => {
            assert_eq!(*result, 1, "RESULT_OK");
            Some((fake_ip.parse::<std::net::Ipv4Addr>().unwrap(), ports[0]))
        }
        _ => None,
    });
    let fake_listen = listener.create_listen_socket_p2p_fake_ip(0, &[]);
    let fc = caller.connect_by_ip_address(Some(SocketAddr::from((ip, port))), &[]);
    let fs = accept_across(&listener, fake_listen, &caller, fc);
    deliver_one(&caller, fc, &listener, fs, b"to a FakeIP on another POP");
    let (result, fake) = caller.remote_fake_ip(fc);
    assert_eq!((result, fake.map(|f| *f.ip())), (SteamResult::Ok, Some(ip)));

    // A hosted dedicated server on POP b, its client on POP a with a ticket from POP a.
    let server = cluster.sockets(&[b.address]);
    let port = std::net::UdpSocket::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port();
    server.set_hosted_environment(HostedEnvironment { listen_port: port, pop: None });
    let server_id = authenticate(&server);
    let hosted = server.create_hosted_dedicated_server_listen_socket(27015, &[]);
    wait_until(|| server.hosted_dedicated_server_address() == SteamResult::Ok);
    // The POP it is hosted at, once that POP has said its code.
    wait_until(|| server.hosted_dedicated_server_pop_id() == u32::from(b'b'));
    let hc = caller.connect_to_hosted_dedicated_server(Identity::SteamId(server_id), 27015, &[]);
    let hs = accept_across(&server, hosted, &caller, hc);
    deliver_one(&caller, hc, &server, hs, b"to a hosted server on another POP");
    assert_eq!(caller.connection_info(hc).unwrap().remote_address, "::");
}

#[test]
fn clients_use_the_fastest_pop_and_move_when_it_dies() {
    let cluster = Cluster::start("failover");
    let (a, mut b) = (cluster.pop("a"), cluster.pop("b"));
    // POP a is listed first but answers 40 ms later than b: b is chosen.
    let slow_a = Proxy::start(a.address, 7);
    slow_a.set(|behaviour| behaviour.path = Some(LinkConfig { lag_usec: 20_000, ..LinkConfig::default() }));
    let listener = cluster.sockets(&[slow_a.address, b.address]);
    let caller = cluster.sockets(&[a.address]);
    let listener_id = authenticate(&listener);
    let status = relay_up(&listener, "b");
    assert!(status.contains(&b.address.to_string()) && status.contains("ping"), "{status}");
    let listen = listener.create_listen_socket_p2p(7, &[]);
    // Relayed only (P2P_TRANSPORT_ICE_ENABLE 0): a direct path would outlive the POP.
    let c = caller.connect_p2p(Identity::SteamId(listener_id), 7, &[(104, ConfigInput::Int(0))]);
    let s = accept_across(&listener, listen, &caller, c);
    deliver_one(&caller, c, &listener, s, b"before");

    // POP b dies mid-session: both ends learn it with a clear reason well within the 10 s
    // connected timeout (the listener from its own link, the caller from its POP's link to b).
    b.kill();
    let killed = std::time::Instant::now();
    for (sockets, handle) in [(&listener, s), (&caller, c)] {
        let (_, reason, text, _) = wait_for_end(sockets, handle);
        assert_eq!(reason, end_reason::MISC_RELAY_CONNECTIVITY, "{text}");
        let seconds = killed.elapsed().as_secs_f64();
        assert!(seconds < 8.0, "ended {seconds:.1} s after the POP died: {text}");
    }

    // The listener moved to POP a (through its slow path) and is reachable again.
    wait_until(|| {
        listener.relay_network_status() == availability::CURRENT
            && listener.relay_network_status_details().debug_message.contains("POP a")
    });
    let c2 = caller.connect_p2p(Identity::SteamId(listener_id), 7, &[]);
    let s2 = accept_across(&listener, listen, &caller, c2);
    deliver_one(&caller, c2, &listener, s2, b"after the move");
}
