//! steamnet's figures in Godot's Performance monitors, so the editor's Debugger > Monitors tab
//! graphs them for a running game beside frame time and memory (and `Performance.
//! get_custom_monitor("steamnet/ping_worst_ms")` reads them from a script).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use godot::classes::Performance;
use godot::classes::performance::MonitorType;
use godot::prelude::*;
use steamnet_net::Totals;

use crate::singleton::SteamNetworkingSockets;

/// Godot asks for every monitor in turn; they share one reading this young.
const READING_LIFETIME: Duration = Duration::from_millis(100);

static READING: Mutex<Option<(Instant, Totals)>> = Mutex::new(None);

type Read = fn(&Totals) -> f64;

const MONITORS: [(&str, MonitorType, Read); 7] = [
    ("steamnet/connections", MonitorType::QUANTITY, |t| t.connections as f64),
    ("steamnet/connected", MonitorType::QUANTITY, |t| t.connected as f64),
    ("steamnet/ping_worst_ms", MonitorType::QUANTITY, |t| t.ping_ms_max as f64),
    // The worst connection's share of the peer's packets that arrive (1 until one is known).
    ("steamnet/quality_worst", MonitorType::PERCENTAGE, |t| t.quality_min.unwrap_or(1.0) as f64),
    ("steamnet/bytes_in_per_second", MonitorType::MEMORY, |t| t.bytes_in_per_sec),
    ("steamnet/bytes_out_per_second", MonitorType::MEMORY, |t| t.bytes_out_per_sec),
    ("steamnet/queued_bytes", MonitorType::MEMORY, |t| t.queued_bytes as f64),
];

fn totals() -> Totals {
    let mut reading = READING.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((at, totals)) = reading.as_ref()
        && at.elapsed() < READING_LIFETIME
    {
        return totals.clone();
    }
    let totals = SteamNetworkingSockets::singleton().bind().sockets().totals();
    *reading = Some((Instant::now(), totals.clone()));
    totals
}

/// Add the monitors (once; a second call leaves them as they are).
pub fn install() {
    let mut performance = Performance::singleton();
    for (id, kind, read) in MONITORS {
        if performance.has_custom_monitor(id) {
            continue;
        }
        let callable = Callable::from_fn(id, move |_args| read(&totals()));
        performance.add_custom_monitor_ex(id, &callable).type_(kind).done();
    }
}
