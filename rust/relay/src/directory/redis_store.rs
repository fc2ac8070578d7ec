//! The directory in Redis (see the parent module for its keys and what they mean).

use std::net::SocketAddr;

use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc;

use super::*;

/// How many random FakeIPs an allocation tries before it gives up (the range holds 65,534).
const FAKE_IP_ATTEMPTS: usize = 64;

/// Connect to Redis at `url` as POP `pop`, reachable by other POPs at `address`, and start
/// the heartbeat. Call from within a tokio runtime.
pub async fn connect(url: &str, pop: &str, address: SocketAddr) -> Result<Directory, String> {
    let connection = open(url).await?;
    let (queries, query_rx) = mpsc::unbounded_channel();
    let (answer_tx, answers) = mpsc::unbounded_channel();
    let store = Store { connection, pop: pop.to_string(), address };
    store.heartbeat().await.map_err(|e| format!("directory {url}: {e}"))?;
    tokio::spawn(store.serve(query_rx, answer_tx));
    Ok(Directory::new(pop, queries, answers))
}

/// Mark `identity`'s certificates revoked across the cluster (the `revoke` command).
pub async fn revoke(url: &str, identity: u64) -> Result<(), String> {
    let mut connection = open(url).await?;
    connection.sadd::<_, _, ()>(REVOKED, identity).await.map_err(|e| format!("directory {url}: {e}"))
}

/// A connection to the Redis at `url`; errors name it.
async fn open(url: &str) -> Result<MultiplexedConnection, String> {
    let client = redis::Client::open(url).map_err(|e| format!("directory {url}: {e}"))?;
    client.get_multiplexed_async_connection().await.map_err(|e| format!("directory {url}: {e}"))
}

const REVOKED: &str = "steamnet:revoked";
const HOSTED: &str = "steamnet:hosted";

fn pop_key(code: &str) -> String {
    format!("steamnet:pop:{code}")
}

fn identity_key(identity: u64) -> String {
    format!("steamnet:id:{identity}")
}

fn fake_ip_key(ip: u32) -> String {
    format!("steamnet:fip:{}", std::net::Ipv4Addr::from(ip))
}

/// Delete KEYS[1] only while it still holds ARGV[1]: a session's end must not delete what a
/// newer session (on another POP) has written since.
const DELETE_IF: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";
/// Take FakeIP key KEYS[1] for ARGV[1] if it is free, or held by a POP whose heartbeat key
/// (KEYS[2], named after the value's first word by the caller) is gone; 1 if taken.
const CLAIM_FAKE_IP: &str = "local old = redis.call('get', KEYS[1]) \
     if old and old ~= ARGV[2] then return 0 end \
     if old == ARGV[2] and redis.call('exists', KEYS[2]) == 1 then return 0 end \
     redis.call('set', KEYS[1], ARGV[1]) return 1";

struct Store {
    connection: MultiplexedConnection,
    pop: String,
    address: SocketAddr,
}

impl Store {
    async fn heartbeat(&self) -> redis::RedisResult<()> {
        let mut c = self.connection.clone();
        c.set_ex(pop_key(&self.pop), self.address.to_string(), POP_TTL_SECS).await
    }

    async fn serve(self, mut queries: mpsc::UnboundedReceiver<Query>, answers: mpsc::UnboundedSender<Answer>) {
        let mut beat = tokio::time::interval(HEARTBEAT);
        let mut failing = false;
        loop {
            let result = tokio::select! {
                _ = beat.tick() => self.heartbeat().await.map(|()| None),
                query = queries.recv() => match query {
                    Some(query) => self.handle(query).await,
                    None => return,
                },
            };
            match result {
                Ok(Some(answer)) => {
                    if answers.send(answer).is_err() {
                        return;
                    }
                    failing = false;
                }
                Ok(None) => failing = false,
                Err(e) if !failing => {
                    failing = true;
                    tracing::error!(pop = %self.pop, "directory: {e}");
                }
                Err(_) => {}
            }
        }
    }

    /// The live POP `code`, if its heartbeat has not expired.
    async fn live_pop(&self, code: &str) -> redis::RedisResult<Option<PopAddress>> {
        let mut c = self.connection.clone();
        let address: Option<String> = c.get(pop_key(code)).await?;
        Ok(address.and_then(|a| a.parse().ok()).map(|address| PopAddress { code: code.to_string(), address }))
    }

    async fn handle(&self, query: Query) -> redis::RedisResult<Option<Answer>> {
        let mut c = self.connection.clone();
        Ok(match query {
            Query::Register { identity } => {
                let (revoked, ()): (bool, ()) = redis::pipe()
                    .sismember(REVOKED, identity)
                    .set(identity_key(identity), &self.pop)
                    .query_async(&mut c)
                    .await?;
                revoked.then_some(Answer::Revoked { identity })
            }
            Query::Unregister { identity } => {
                let _: i64 = redis::Script::new(DELETE_IF)
                    .key(identity_key(identity))
                    .arg(&self.pop)
                    .invoke_async(&mut c)
                    .await?;
                None
            }
            Query::Locate { tag, identity } => {
                let code: Option<String> = c.get(identity_key(identity)).await?;
                let pop = match code {
                    Some(code) => self.live_pop(&code).await?,
                    None => None,
                };
                Some(Answer::Located { tag, identity, pop })
            }
            Query::ClaimFakeIp { tag, identity, ports } => {
                let ports_text: Vec<String> = ports.iter().map(u16::to_string).collect();
                let value = format!("{} {identity} {}", self.pop, ports_text.join(","));
                let mut claimed = 0;
                for _ in 0..FAKE_IP_ATTEMPTS {
                    let ip = crate::messages::random_fake_ip();
                    if self.claim(ip, &value).await? {
                        claimed = ip;
                        break;
                    }
                }
                Some(Answer::FakeIpClaimed { tag, ip: claimed })
            }
            Query::ReleaseFakeIp { ip, identity } => {
                // Whatever ports it held: compare the owner's words, not the whole value.
                let value: Option<String> = c.get(fake_ip_key(ip)).await?;
                if let Some(value) = value
                    && value.split(' ').take(2).eq([self.pop.as_str(), &identity.to_string()])
                {
                    let _: i64 =
                        redis::Script::new(DELETE_IF).key(fake_ip_key(ip)).arg(value).invoke_async(&mut c).await?;
                }
                None
            }
            Query::ResolveFakeIp { tag, ip } => {
                let value: Option<String> = c.get(fake_ip_key(ip)).await?;
                let owner = match value.as_deref().and_then(parse_fake_ip_value) {
                    Some((code, identity, ports)) => {
                        self.live_pop(&code).await?.map(|pop| FakeIpOwner { identity, ports, pop })
                    }
                    None => None,
                };
                Some(Answer::FakeIpResolved { tag, ip, owner })
            }
            Query::Hosted { identity, vport, listening } => {
                let field = format!("{identity}:{vport}");
                if listening {
                    c.hset::<_, _, _, ()>(HOSTED, field, &self.pop).await?;
                } else {
                    c.hdel::<_, _, ()>(HOSTED, field).await?;
                }
                None
            }
        })
    }

    /// Take FakeIP `ip` with `value` if it is free or its holder's POP is gone.
    async fn claim(&self, ip: u32, value: &str) -> redis::RedisResult<bool> {
        let mut c = self.connection.clone();
        let key = fake_ip_key(ip);
        let taken: bool =
            redis::cmd("SET").arg(&key).arg(value).arg("NX").query_async::<Option<String>>(&mut c).await?.is_some();
        if taken {
            return Ok(true);
        }
        // Held: by a POP that is gone? Then take it over, unless it changed meanwhile.
        let old: Option<String> = c.get(&key).await?;
        let Some((code, _, _)) = old.as_deref().and_then(parse_fake_ip_value) else { return Ok(false) };
        if self.live_pop(&code).await?.is_some() {
            return Ok(false);
        }
        let took: i64 = redis::Script::new(CLAIM_FAKE_IP)
            .key(&key)
            .key(pop_key(&code))
            .arg(value)
            .arg(old.unwrap_or_default())
            .invoke_async(&mut c)
            .await?;
        Ok(took == 1)
    }
}

/// `{pop} {steam id} {port,port,…}` -> its parts.
fn parse_fake_ip_value(value: &str) -> Option<(String, u64, Vec<u16>)> {
    let mut words = value.split(' ');
    let code = words.next()?.to_string();
    let identity = words.next()?.parse().ok()?;
    let ports = words.next()?.split(',').map(str::parse).collect::<Result<Vec<u16>, _>>().ok()?;
    Some((code, identity, ports))
}

/// A `redis-server` of our own on a free loopback port, stopped when dropped: for tests and
/// benchmarks (Debian's `redis-server` package).
pub struct LocalRedis {
    child: std::process::Child,
    pub port: u16,
}

impl LocalRedis {
    /// Start one; a port taken between choosing it and the server binding it (tests run in
    /// parallel) is caught by the server exiting, and another port is tried.
    pub fn start() -> Result<LocalRedis, String> {
        let mut last_error = String::new();
        for _ in 0..5 {
            match LocalRedis::start_once() {
                Ok(redis) => return Ok(redis),
                Err(why) => last_error = why,
            }
        }
        Err(last_error)
    }

    fn start_once() -> Result<LocalRedis, String> {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server (apt-get install redis-server): {e}"))?;
        let mut redis = LocalRedis { child, port };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = redis.child.try_wait() {
                return Err(format!("redis-server on port {port} exited ({status})"));
            }
            // Whoever answers there must be ours: another test's server may hold the port.
            match server_process_id(port) {
                Some(pid) if pid == redis.child.id() => return Ok(redis),
                Some(_) => return Err(format!("port {port} belongs to another redis-server")),
                None => {}
            }
            if std::time::Instant::now() > deadline {
                return Err(format!("redis-server did not listen on port {port}"));
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

/// The process id of the Redis server answering on `port` (`INFO server`), if one does.
fn server_process_id(port: u16) -> Option<u32> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(2))).ok()?;
    stream.write_all(b"INFO server\r\n").ok()?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    while !reply.windows(11).any(|w| w == b"process_id:") || !reply.ends_with(b"\r\n") {
        let n = stream.read(&mut chunk).ok().filter(|&n| n > 0)?;
        reply.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&reply);
    text.lines().find_map(|l| l.strip_prefix("process_id:")).and_then(|v| v.trim().parse().ok())
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_ip_values_round_trip() {
        assert_eq!(
            parse_fake_ip_value("fra 76561197960265729 1025,2000"),
            Some(("fra".into(), 76561197960265729, vec![1025, 2000]))
        );
        assert_eq!(parse_fake_ip_value("fra x 1"), None);
        assert_eq!(parse_fake_ip_value("fra 1"), None);
    }
}
