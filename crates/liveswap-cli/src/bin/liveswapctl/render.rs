//! Replies as text for people, from the protocol's typed results.

use std::fmt::Write as _;

use liveswap::control::protocol::{HistoryReply, InspectReply, SlotsReply, StatusReply, SwapReply};
use liveswap::stats::HeapReport;
use serde_json::Value;

/// The text of a successful reply to `cmd`, or why its result could not be
/// read as that command's.
pub fn result(cmd: &str, result: Value) -> Result<String, serde_json::Error> {
    use serde_json::from_value as read;
    Ok(match cmd {
        "status" => status(&read(result)?),
        "history" => history(&read(result)?),
        "swap" | "rollback" => swapped(&read(result)?),
        "inspect" => inspected(&read(result)?),
        "slots" => slots(&read(result)?),
        _ => format!("{result}\n"),
    })
}

fn or_dash<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

fn status(r: &StatusReply) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "slot {} ({}): generation {} current; {} draining, {} pinned; {} libraries mapped in this process ({} loaded since it started){}",
        r.slot,
        r.interface,
        r.current,
        r.draining,
        r.pinned,
        r.mapped_in_process,
        r.loaded_in_process,
        if r.near_generation_limit {
            " (few pthread keys left: pinned generations keep theirs)"
        } else {
            ""
        }
    );
    let _ = writeln!(out, "{:>10}  {:<9}  source", "generation", "state");
    for g in &r.generations {
        let reason = g
            .reason
            .as_ref()
            .map_or_else(String::new, |r| format!("  ({r})"));
        let schema = match (g.state_schema, g.restored_from) {
            (Some(to), Some(from)) => format!("  [state schema {to}, restored from schema {from}]"),
            (Some(to), None) => format!("  [state schema {to}]"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{:>10}  {:<9}  {}{schema}{reason}{}",
            g.generation,
            g.state,
            g.source,
            heap(&g.heap)
        );
    }
    out
}

/// A generation's heap, as `  [heap: 1.0 MiB live, 3.2 KiB handed to the
/// host, 1.0 MiB reclaimed at unload]`: only what is not zero.
fn heap(h: &HeapReport) -> String {
    let mut parts = Vec::new();
    for (n, what) in [
        (h.live, "live"),
        (h.handed_to_host, "handed to the host"),
        (h.reclaimed, "reclaimed at unload"),
        (h.left, "left allocated at unload"),
    ] {
        if n != 0 {
            parts.push(format!("{} {what}", bytes(n)));
        }
    }
    if let Some(why) = &h.reclaim_off {
        parts.push(format!("not reclaimed: {why}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("  [heap: {}]", parts.join(", "))
    }
}

/// `n` bytes for people: B, KiB or MiB.
fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

fn history(r: &HistoryReply) -> String {
    let mut out = format!(
        "slot {} ({}): the last attempts, oldest first\n",
        r.slot, r.interface
    );
    let _ = writeln!(
        out,
        "{:<10}  {:<9}  {:<9}  {:>10}  {:>9}  source",
        "trigger", "kind", "outcome", "generation", "total ms"
    );
    for a in &r.attempts {
        let error = a
            .error
            .as_ref()
            .map_or_else(String::new, |e| format!("  ({e})"));
        let _ = writeln!(
            out,
            "{:<10}  {:<9}  {:<9}  {:>10}  {:>9.2}  {}{error}",
            a.trigger,
            a.kind,
            a.outcome,
            or_dash(a.generation),
            a.steps_ms.total,
            a.source
        );
    }
    out
}

fn swapped(r: &SwapReply) -> String {
    let mut out = format!(
        "generation {} now serving (was {}), from {} in {:.2} ms\n",
        r.generation, r.previous, r.source, r.total_ms
    );
    for w in &r.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

fn inspected(r: &InspectReply) -> String {
    let mut out = format!("{}: the host would accept it\n", r.path);
    for w in &r.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

fn slots(r: &SlotsReply) -> String {
    let mut out = String::new();
    for s in &r.slots {
        let _ = writeln!(out, "{}  {}", s.slot, s.interface);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heap_of(reclaimed: u64, live: u64, reclaim_off: Option<&str>) -> HeapReport {
        let mut heap = HeapReport::default();
        heap.reclaimed = reclaimed;
        heap.live = live;
        heap.reclaim_off = reclaim_off.map(str::to_owned);
        heap
    }

    #[test]
    fn a_generations_heap_is_shown_in_people_units_and_only_what_is_not_zero() {
        assert_eq!(heap(&HeapReport::default()), "");
        assert_eq!(
            heap(&heap_of(1 << 20, 512, None)),
            "  [heap: 512 B live, 1.0 MiB reclaimed at unload]"
        );
    }

    #[test]
    fn a_generation_whose_heap_is_kept_says_why() {
        let text = heap(&heap_of(0, 0, Some("method `counts` passes `BTreeMap`")));
        assert_eq!(
            text,
            "  [heap: not reclaimed: method `counts` passes `BTreeMap`]"
        );
    }
}
