//! steamnet's diagnostics as GNS's debug output: `tracing` events from every layer, kept when
//! their level is within the detail level the game chose (`SetDebugOutputFunction`'s
//! `ESteamNetworkingSocketsDebugOutputType`), queued from any thread, and taken by the caller's
//! main thread (the Godot layer prints them to the output panel each frame).

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// `ESteamNetworkingSocketsDebugOutputType` values.
pub mod detail {
    pub const NONE: i32 = 0;
    pub const BUG: i32 = 1;
    pub const ERROR: i32 = 2;
    pub const IMPORTANT: i32 = 3;
    pub const WARNING: i32 = 4;
    pub const MSG: i32 = 5;
    pub const VERBOSE: i32 = 6;
    pub const DEBUG: i32 = 7;
    pub const EVERYTHING: i32 = 8;
}

/// GNS's log categories, each with its own level (the `NETWORKING_CONFIG_LOG_LEVEL_*` values):
/// an event of a category is kept only if its level is within both the category's level and the
/// debug output's. Events name their category as their `tracing` target.
pub mod category {
    /// Round-trip time measurements (`LOG_LEVEL_ACK_RTT`, 13).
    pub const ACK_RTT: &str = "steamnet::ack_rtt";
    /// Datagrams refused before or while decoding (`LOG_LEVEL_PACKET_DECODE`, 14).
    pub const PACKET_DECODE: &str = "steamnet::packet_decode";
    /// Each message sent and received (`LOG_LEVEL_MESSAGE`, 15).
    pub const MESSAGE: &str = "steamnet::message";
    /// Packets found lost (`LOG_LEVEL_PACKET_GAPS`, 16).
    pub const PACKET_GAPS: &str = "steamnet::packet_gaps";
    /// Finding a direct path to a P2P peer (`LOG_LEVEL_P2P_RENDEZVOUS`, 17).
    pub const P2P_RENDEZVOUS: &str = "steamnet::p2p_rendezvous";
    /// The link to the relay (`LOG_LEVEL_SRD_RELAY_PINGS`, 18).
    pub const RELAY_PINGS: &str = "steamnet::relay_pings";

    /// `(target, config value id)`, in config id order.
    pub(super) const ALL: [(&str, i32); 6] =
        [(ACK_RTT, 13), (PACKET_DECODE, 14), (MESSAGE, 15), (PACKET_GAPS, 16), (P2P_RENDEZVOUS, 17), (RELAY_PINGS, 18)];
}

/// Each category's level, GNS's default (warnings) until a game sets the config value globally.
static CATEGORY_LEVELS: [AtomicI32; 6] = [const { AtomicI32::new(detail::WARNING) }; 6];

/// Set the level of the category whose `LOG_LEVEL_*` config value is `config_id`; other ids are
/// not log levels and change nothing.
pub fn set_category_level(config_id: i32, level: i32) {
    if let Some(index) = category::ALL.iter().position(|(_, id)| *id == config_id) {
        CATEGORY_LEVELS[index].store(level.clamp(detail::NONE, detail::EVERYTHING), Ordering::Relaxed);
        tracing::callsite::rebuild_interest_cache();
    }
}

/// Whether a category lets an event of `detail` through (events of no category always pass).
fn category_allows(target: &str, detail: i32) -> bool {
    match category::ALL.iter().position(|(name, _)| *name == target) {
        Some(index) => detail <= CATEGORY_LEVELS[index].load(Ordering::Relaxed),
        None => true,
    }
}

/// Lines kept while nobody takes them; older ones are dropped first.
const MAX_QUEUED: usize = 1000;

/// What a `tracing` level is in GNS's terms.
pub fn detail_of(level: &Level) -> i32 {
    match *level {
        Level::ERROR => detail::ERROR,
        Level::WARN => detail::WARNING,
        Level::INFO => detail::MSG,
        Level::DEBUG => detail::DEBUG,
        Level::TRACE => detail::EVERYTHING,
    }
}

/// The debug output: a detail level and the lines waiting to be taken.
pub struct DebugOutput {
    level: AtomicI32,
    lines: Mutex<VecDeque<(i32, String)>>,
}

impl DebugOutput {
    pub const fn new(level: i32) -> DebugOutput {
        DebugOutput { level: AtomicI32::new(level), lines: Mutex::new(VecDeque::new()) }
    }

    /// Keep events up to `level` from now on (clamped to GNS's range).
    pub fn set_level(&self, level: i32) {
        self.level.store(level.clamp(detail::NONE, detail::EVERYTHING), Ordering::Relaxed);
        tracing::callsite::rebuild_interest_cache();
    }

    pub fn level(&self) -> i32 {
        self.level.load(Ordering::Relaxed)
    }

    fn wants(&self, metadata: &Metadata<'_>) -> bool {
        let detail = detail_of(metadata.level());
        detail <= self.level() && category_allows(metadata.target(), detail)
    }

    /// Everything queued since the last call, with its GNS detail level.
    pub fn take(&self) -> Vec<(i32, String)> {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.drain(..).collect()
    }

    fn push(&self, detail: i32, line: String) {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() >= MAX_QUEUED {
            lines.pop_front();
        }
        lines.push_back((detail, line));
    }
}

/// A `tracing` layer writing into a [`DebugOutput`].
pub struct DebugOutputLayer(pub &'static DebugOutput);

/// `message key=value ...` of one event.
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

/// A span's fields as a line shows them, kept with the span.
struct SpanFields(String);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for DebugOutputLayer {
    /// Whether a callsite is wanted at the levels set now; a change of level asks every
    /// callsite again (`rebuild_interest_cache`). So an event nobody wants costs its callsite
    /// one load, not a call into this layer: a `debug!` on the send path was ~1% of a GDScript
    /// send. (`enabled` still decides, for when other subscribers share the callsites.)
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        if self.0.wants(metadata) {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        self.0.wants(metadata)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Line(String::new());
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields.0));
        }
    }

    /// `steamnet [target] span{fields}: message key=value ...`: the spans it happened in
    /// (a connection's handle and id) before what happened.
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let mut line = Line(format!("steamnet [{}] ", metadata.target()));
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                let fields = span.extensions().get::<SpanFields>().map(|f| f.0.trim().to_string()).unwrap_or_default();
                let _ = write!(line.0, "{}{{{fields}}}: ", span.name());
            }
        }
        event.record(&mut line);
        self.0.push(detail_of(metadata.level()), line.0);
    }
}

/// Make `output` the process-wide destination of steamnet's events. Returns false if another
/// global subscriber was installed first (then that one gets them).
pub fn install(output: &'static DebugOutput) -> bool {
    use tracing_subscriber::layer::SubscriberExt;
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(DebugOutputLayer(output))).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_what_the_level_allows() {
        static OUTPUT: DebugOutput = DebugOutput::new(detail::WARNING);
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber = tracing_subscriber::registry().with(DebugOutputLayer(&OUTPUT));
        tracing::subscriber::with_default(subscriber, || {
            tracing::error_span!("connection", handle = 3)
                .in_scope(|| tracing::warn!(id = 7, "peer broke the protocol"));
            tracing::info!("not at warning level");
            OUTPUT.set_level(detail::EVERYTHING);
            tracing::trace!(number = 3, "replay refused");
            OUTPUT.set_level(99);
            assert_eq!(OUTPUT.level(), detail::EVERYTHING, "clamped");
            OUTPUT.set_level(detail::NONE);
            tracing::error!("silenced");
        });
        let lines = OUTPUT.take();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0].0, detail::WARNING);
        assert!(lines[0].1.contains("peer broke the protocol") && lines[0].1.contains("id=7"), "{}", lines[0].1);
        assert!(lines[0].1.contains("connection{handle=3}: "), "the span it happened in: {}", lines[0].1);
        assert_eq!(lines[1].0, detail::EVERYTHING);
        assert!(OUTPUT.take().is_empty(), "taken once");
    }

    #[test]
    fn a_category_keeps_only_what_its_level_allows() {
        static OUTPUT: DebugOutput = DebugOutput::new(detail::EVERYTHING);
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber = tracing_subscriber::registry().with(DebugOutputLayer(&OUTPUT));
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: category::MESSAGE, "hidden: MESSAGE defaults to warnings");
            tracing::debug!("shown: no category");
            set_category_level(15, detail::EVERYTHING);
            tracing::debug!(target: category::MESSAGE, "shown: MESSAGE raised");
            tracing::debug!(target: category::PACKET_GAPS, "hidden: another category");
            set_category_level(40, detail::NONE); // not a log level: changes nothing
            set_category_level(15, detail::WARNING);
        });
        let lines: Vec<String> = OUTPUT.take().into_iter().map(|(_, line)| line).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines.iter().all(|line| line.contains("shown")), "{lines:?}");
    }
}
