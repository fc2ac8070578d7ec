//! A call that fails says why, in the Output panel and the debugger's Errors tab, next to the
//! GDScript line that made it. The sockets layer records the reason (`steamnet_net::refusal`);
//! this module shows it as a warning, since the call still returns its documented failure value.
//! A loop that repeats a bad call must not flood the log, so each method may complain a few
//! times in a burst and then about once a second, and says how many complaints it held back.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Mutex;
use std::time::Instant;

use godot::global::godot_warn;
use steamnet_net::{Sockets, refusal};

/// Complaints one method may make at once, and how many a second it earns back.
const BURST: f64 = 5.0;
const PER_SECOND: f64 = 1.0;

struct Allowance {
    tokens: f64,
    updated: Instant,
    held_back: u32,
}

static ALLOWANCES: Mutex<Option<HashMap<&'static str, Allowance>>> = Mutex::new(None);

/// Show `why` for `method`, unless `method` has complained too often lately.
pub fn complain(method: &'static str, why: &str) {
    let now = Instant::now();
    let held_back = {
        let mut allowances = ALLOWANCES.lock().unwrap_or_else(|p| p.into_inner());
        let allowance = allowances.get_or_insert_with(HashMap::new).entry(method).or_insert(Allowance {
            tokens: BURST,
            updated: now,
            held_back: 0,
        });
        let earned = now.duration_since(allowance.updated).as_secs_f64() * PER_SECOND;
        allowance.tokens = (allowance.tokens + earned).min(BURST);
        allowance.updated = now;
        if allowance.tokens < 1.0 {
            allowance.held_back += 1;
            return;
        }
        allowance.tokens -= 1.0;
        std::mem::take(&mut allowance.held_back)
    };
    if held_back > 0 {
        godot_warn!("SteamNetworkingSockets.{method}: {why} ({held_back} more like this were not shown)");
    } else {
        godot_warn!("SteamNetworkingSockets.{method}: {why}");
    }
}

/// The sockets, borrowed for one API call named `method`: when the call is over (the guard is
/// a temporary, dropped at the end of the statement), the reason it failed, if it did, is shown.
pub struct Call<'a> {
    sockets: &'a Sockets,
    method: &'static str,
}

impl<'a> Call<'a> {
    pub fn new(sockets: &'a Sockets, method: &'static str) -> Self {
        // A reason left over from a call made outside a guard belongs to nobody.
        let _ = refusal::take();
        Call { sockets, method }
    }
}

impl Deref for Call<'_> {
    type Target = Sockets;

    fn deref(&self) -> &Sockets {
        self.sockets
    }
}

impl Drop for Call<'_> {
    fn drop(&mut self) {
        if let Some(why) = refusal::take() {
            complain(self.method, &why);
        }
    }
}

/// Run `call` (calls into the sockets made for the GDScript method `method`) and return what it
/// returned and, if it failed, the complaint to show: for a caller that must let go of something
/// before a warning is printed, which runs a game's `Logger` (and whatever it calls) inside.
pub fn quietly<R>(call: impl FnOnce() -> R) -> (R, Option<String>) {
    // A reason left over from a call made outside a guard belongs to nobody.
    let _ = refusal::take();
    let result = call();
    (result, refusal::take())
}
