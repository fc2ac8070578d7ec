//! The relay network's shared directory, in Redis: what every point of presence (POP) of a
//! cluster must agree on. A relay started with `--directory redis://…` mirrors its own state
//! here and asks here about what it does not hold itself; without one it keeps today's
//! in-memory maps and needs none of this.
//!
//! Keys (all under `steamnet:`):
//!
//! | key | value | written by |
//! | --- | --- | --- |
//! | `pop:{code}` | the POP's UDP address, expiring after [`POP_TTL_SECS`] | the POP, every [`HEARTBEAT`] |
//! | `id:{steam id}` | the code of the POP the identity's session is on | session start; deleted at its end |
//! | `fip:{ip}` | `{pop} {steam id} {port,port,…}`: a FakeIP's owner | `SET NX` when allocated; deleted when freed |
//! | `hosted` | hash `{steam id}:{vport}` → POP code: hosted dedicated servers | hosted listen / unlisten |
//! | `revoked` | set of Steam IDs whose certificates no POP accepts | `steamnet-relay revoke` |
//!
//! A POP that dies cannot clean up after itself, so its heartbeat key is the truth: an entry
//! naming a POP whose heartbeat has expired counts as absent (a lookup says "offline", and a
//! FakeIP it held may be taken over, atomically, by a script that checks the old value).
//!
//! Redis calls never block the relay's forwarding loop: the server sends a [`Query`] down a
//! channel and a task answers on another one ([`Answer`]), which the loop picks up between
//! datagrams.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::mpsc;

#[cfg(feature = "redis-directory")]
pub mod redis_store;

/// How often a POP renews its heartbeat key, and how long the key outlives a silent POP.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
pub const POP_TTL_SECS: u64 = 6;

/// What the relay asks of, or tells, the directory. `tag` comes back on the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// A session of `identity` started here (answered with `Revoked` if it must not).
    Register {
        identity: u64,
    },
    /// That session ended.
    Unregister {
        identity: u64,
    },
    /// Which live POP holds `identity`'s session.
    Locate {
        tag: u64,
        identity: u64,
    },
    /// A FakeIP nobody in the cluster holds, for `identity` with `ports`.
    ClaimFakeIp {
        tag: u64,
        identity: u64,
        ports: Vec<u16>,
    },
    ReleaseFakeIp {
        ip: u32,
        identity: u64,
    },
    /// Who holds FakeIP `ip`.
    ResolveFakeIp {
        tag: u64,
        ip: u32,
    },
    /// A hosted dedicated server started (`listening`) or stopped listening on `vport`.
    Hosted {
        identity: u64,
        vport: u32,
        listening: bool,
    },
}

/// Where a live POP is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopAddress {
    pub code: String,
    pub address: SocketAddr,
}

/// A FakeIP's owner, as the directory has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeIpOwner {
    pub identity: u64,
    pub ports: Vec<u16>,
    pub pop: PopAddress,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Revoked {
        identity: u64,
    },
    Located {
        tag: u64,
        identity: u64,
        pop: Option<PopAddress>,
    },
    /// The FakeIP claimed (0: none could be).
    FakeIpClaimed {
        tag: u64,
        ip: u32,
    },
    FakeIpResolved {
        tag: u64,
        ip: u32,
        owner: Option<FakeIpOwner>,
    },
}

/// The relay's end of the directory: queries go in, answers come out.
pub struct Directory {
    pub pop: String,
    queries: mpsc::UnboundedSender<Query>,
    answers: mpsc::UnboundedReceiver<Answer>,
    next_tag: u64,
}

impl Directory {
    /// The relay's end of a directory served by a task on the other ends of these channels.
    pub fn new(
        pop: &str,
        queries: mpsc::UnboundedSender<Query>,
        answers: mpsc::UnboundedReceiver<Answer>,
    ) -> Directory {
        Directory { pop: pop.to_string(), queries, answers, next_tag: 1 }
    }

    /// A fresh tag for a query whose answer the caller waits for.
    pub fn tag(&mut self) -> u64 {
        self.next_tag += 1;
        self.next_tag
    }

    pub fn ask(&self, query: Query) {
        let _ = self.queries.send(query);
    }

    /// An answer that has come, if any (never waits).
    pub fn try_answer(&mut self) -> Option<Answer> {
        self.answers.try_recv().ok()
    }

    /// Wait for the next answer (for the relay loop's `select!`).
    pub async fn answer(&mut self) -> Option<Answer> {
        self.answers.recv().await
    }
}
