//! Replies as text for people.

use std::fmt::Write as _;

use serde_json::Value;

/// The text of a successful reply to `cmd`.
pub fn result(cmd: &str, result: &Value) -> String {
    match cmd {
        "status" => status(result),
        "history" => history(result),
        "swap" | "rollback" => swapped(result),
        "inspect" => inspected(result),
        "slots" => slots(result),
        _ => format!("{result}\n"),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn status(r: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "slot {} ({}): generation {} current; {} draining, {} pinned; {} libraries mapped in this process ({} loaded since it started){}",
        text(&r["slot"]),
        text(&r["interface"]),
        text(&r["current"]),
        text(&r["draining"]),
        text(&r["pinned"]),
        text(&r["mapped_in_process"]),
        text(&r["loaded_in_process"]),
        if r["near_generation_limit"] == Value::Bool(true) {
            " (few pthread keys left: pinned generations keep theirs)"
        } else {
            ""
        }
    );
    let _ = writeln!(out, "{:>10}  {:<9}  source", "generation", "state");
    for g in r["generations"].as_array().into_iter().flatten() {
        let reason = match &g["reason"] {
            Value::String(r) => format!("  ({r})"),
            _ => String::new(),
        };
        let schema = match (&g["state_schema"], &g["restored_from"]) {
            (Value::Number(to), Value::Number(from)) => {
                format!("  [state schema {to}, restored from schema {from}]")
            }
            (Value::Number(to), _) => format!("  [state schema {to}]"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{:>10}  {:<9}  {}{schema}{reason}{}",
            text(&g["generation"]),
            text(&g["state"]),
            text(&g["source"]),
            heap(&g["heap"])
        );
    }
    out
}

/// A generation's heap, as `  [heap: 1.0 MiB live, 3.2 KiB handed to the
/// host, 1.0 MiB reclaimed]`: only what is not zero.
fn heap(h: &Value) -> String {
    let mib = |key: &str| h[key].as_u64().unwrap_or(0);
    let mut parts = Vec::new();
    for (key, what) in [
        ("live", "live"),
        ("handed_to_host", "handed to the host"),
        ("reclaimed", "reclaimed at unload"),
        ("left", "left allocated at unload"),
    ] {
        if mib(key) != 0 {
            parts.push(format!("{} {what}", bytes(mib(key))));
        }
    }
    if let Value::String(why) = &h["reclaim_off"] {
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

fn history(r: &Value) -> String {
    let mut out = format!(
        "slot {} ({}): the last attempts, oldest first\n",
        text(&r["slot"]),
        text(&r["interface"])
    );
    let _ = writeln!(
        out,
        "{:<10}  {:<9}  {:<9}  {:>10}  {:>9}  source",
        "trigger", "kind", "outcome", "generation", "total ms"
    );
    for a in r["attempts"].as_array().into_iter().flatten() {
        let error = match &a["error"] {
            Value::String(e) => format!("  ({e})"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{:<10}  {:<9}  {:<9}  {:>10}  {:>9.2}  {}{error}",
            text(&a["trigger"]),
            text(&a["kind"]),
            text(&a["outcome"]),
            text(&a["generation"]),
            a["steps_ms"]["total"].as_f64().unwrap_or(0.0),
            text(&a["source"])
        );
    }
    out
}

fn swapped(r: &Value) -> String {
    let mut out = format!(
        "generation {} now serving (was {}), from {} in {:.2} ms\n",
        text(&r["generation"]),
        text(&r["previous"]),
        text(&r["source"]),
        r["total_ms"].as_f64().unwrap_or(0.0)
    );
    for w in r["warnings"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "warning: {}", text(w));
    }
    out
}

fn inspected(r: &Value) -> String {
    let mut out = format!("{}: the host would accept it\n", text(&r["path"]));
    for w in r["warnings"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "warning: {}", text(w));
    }
    out
}

fn slots(r: &Value) -> String {
    let mut out = String::new();
    for s in r["slots"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "{}  {}", text(&s["slot"]), text(&s["interface"]));
    }
    out
}
