//! The relay network measured on 127.0.0.1, each figure next to its peer from the same run:
//!
//! - forwarding across POPs: 1,100-byte datagrams from a client of POP a to a client of POP b
//!   (two relay hops and a link) next to the same through one relay (datagrams/s), and
//!   round trips of 64 bytes both ways (p50/p99 µs);
//! - the directory: Redis operations per second as the relay issues them (register an
//!   identity, then locate it), next to plain SET and GET on the same Redis from the same
//!   client library;
//! - memory per registered identity in Redis at 100,000 registrations (`used_memory` before
//!   and after; the relay's own memory per session is in the `forwarding` benchmark).
//!
//! Needs `redis-server` (Debian's package). Run: `cargo bench -p steamnet-relay --bench cluster`
//! (or `bash scripts/bench-relay.sh`).

mod support;

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use steamnet_relay::directory::redis_store::LocalRedis;
use steamnet_relay::directory::{Answer, Query};
use support::{PAYLOAD, Relay, joined, percentile, relay_blast, relay_round_trips};

const ROUNDS: usize = 2000;

/// (datagrams/s, round-trip p50, p99) from a client of `a` to a client of `b`.
fn measure(a: &Relay, b: &Relay) -> (f64, f64, f64) {
    let (mut ca, cb, route_a, _) = joined(a, b);
    let (pps, mut cb) = relay_blast(&mut ca, cb, a.address, route_a);
    let mut rtt = relay_round_trips(&mut ca, &mut cb, (a.address, b.address), route_a, ROUNDS);
    (pps, percentile(&mut rtt, 0.5), percentile(&mut rtt, 0.99))
}

async fn used_memory(connection: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO").arg("memory").query_async(connection).await.unwrap();
    info.lines().find_map(|l| l.strip_prefix("used_memory:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

fn main() {
    let redis = LocalRedis::start().expect("redis-server");
    let url = redis.url();
    println!(
        "steamnet relay network benchmark ({} CPUs; relays in processes of their own; redis-server; 127.0.0.1)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    // ----- forwarding -----------------------------------------------------------------------
    let single = Relay::start("single", &[]);
    let pop_a = Relay::start("a", &["--pop", "a", "--directory", &url]);
    let pop_b = Relay::start("b", &["--pop", "b", "--directory", &url]);
    let (one_pps, one_50, one_99) = measure(&single, &single);
    let (two_pps, two_50, two_99) = measure(&pop_a, &pop_b);
    println!("\nforwarding {PAYLOAD}-byte datagrams for 2 s, one sender; round trips of 64 bytes ({ROUNDS}):");
    println!("| path | datagrams/s delivered | MB/s | round trip p50 µs | p99 µs |");
    println!("| --- | --- | --- | --- | --- |");
    let row = |name: &str, pps: f64, p50: f64, p99: f64| {
        println!("| {name} | {pps:.0} | {:.1} | {p50:.0} | {p99:.0} |", pps * PAYLOAD as f64 / 1e6);
    };
    row("one relay (both clients on it)", one_pps, one_50, one_99);
    row("across two POPs (a -> link -> b)", two_pps, two_50, two_99);
    println!("cross-POP hop adds {:.0} µs per direction at p50", (two_50 - one_50) / 2.0);
    drop((single, pop_a, pop_b));

    // ----- the directory --------------------------------------------------------------------
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    runtime.block_on(async {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut plain = client.get_multiplexed_async_connection().await.unwrap();
        let ops = 20_000u64;
        let started = Instant::now();
        for i in 0..ops / 2 {
            plain.set::<_, _, ()>(format!("plain:{i}"), "b").await.unwrap();
            let _: Option<String> = plain.get(format!("plain:{i}")).await.unwrap();
        }
        let plain_rate = ops as f64 / started.elapsed().as_secs_f64();

        let mut directory =
            steamnet_relay::directory::redis_store::connect(&url, "bench", "127.0.0.1:1".parse().unwrap()).await.unwrap();
        let started = Instant::now();
        for i in 0..ops / 2 {
            directory.ask(Query::Register { identity: 1 << 40 | i });
            let tag = directory.tag();
            directory.ask(Query::Locate { tag, identity: 1 << 40 | i });
        }
        let mut located = 0;
        while located < ops / 2 {
            match tokio::time::timeout(Duration::from_secs(10), directory.answer()).await {
                Ok(Some(Answer::Located { pop, .. })) => {
                    assert!(pop.is_some(), "a registered identity is found");
                    located += 1;
                }
                Ok(Some(_)) => {}
                _ => panic!("the directory stopped answering after {located} lookups"),
            }
        }
        let directory_rate = ops as f64 / started.elapsed().as_secs_f64();
        println!("\ndirectory operations ({ops}, one at a time, each answered):");
        println!("| operations | per second |");
        println!("| --- | --- |");
        println!("| plain Redis SET + GET (redis-rs) | {plain_rate:.0} |");
        println!("| relay directory: register + locate | {directory_rate:.0} ({:.2}x) |", directory_rate / plain_rate);

        // ----- memory per registered identity ---------------------------------------------
        let _: () = redis::cmd("FLUSHALL").query_async(&mut plain).await.unwrap();
        let before = used_memory(&mut plain).await;
        let identities = 100_000u64;
        for i in 0..identities {
            directory.ask(Query::Register { identity: 76561197960265728 + i });
        }
        // Registrations are not answered; a lookup queued behind them is.
        let tag = directory.tag();
        directory.ask(Query::Locate { tag, identity: 76561197960265728 + identities - 1 });
        loop {
            match tokio::time::timeout(Duration::from_secs(60), directory.answer()).await {
                Ok(Some(Answer::Located { tag: t, .. })) if t == tag => break,
                Ok(Some(_)) => {}
                _ => panic!("registrations did not finish"),
            }
        }
        let after = used_memory(&mut plain).await;
        println!(
            "\nmemory: {identities} identities registered; Redis used_memory {:.1} MiB -> {:.1} MiB: {:.0} bytes per identity",
            before as f64 / 1048576.0,
            after as f64 / 1048576.0,
            after.saturating_sub(before) as f64 / identities as f64
        );
    });
}
