//! The plugin's spans, kept by its forwarding subscriber so that an event
//! carries the names and fields of the spans it happened in, rendered as
//! text before its message (`request{id=7}:parse: message`), as
//! `tracing-subscriber`'s `fmt` shows them. Spans are not re-created in
//! the host: a host span needs `'static` metadata, and the plugin's names
//! and fields live in code that is unloaded.
//!
//! Each span is a slot in one table (its `Id` is the slot's index plus
//! one), freed when its last handle closes; each thread keeps the spans
//! it has entered in a fixed stack of [`DEPTH`] ids, with no destructor
//! (deeper spans are not shown). Costs: a lock and a `String` per span
//! created; nothing per event outside a span; per event inside spans, a
//! lock and the names and fields copied into the message.

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};

use tracing::span::{Attributes, Id, Record};

use super::fields::Rendered;

/// The deepest nesting of entered spans an event shows.
pub(crate) const DEPTH: usize = 16;

struct Span {
    name: &'static str,
    /// ` a=1 b=2`, as the fields were recorded.
    fields: String,
    /// Handles open (`clone_span` adds one, `try_close` takes one).
    refs: usize,
}

#[derive(Default)]
struct Table {
    slots: Vec<Option<Span>>,
    free: Vec<usize>,
}

static TABLE: Mutex<Table> = Mutex::new(Table {
    slots: Vec::new(),
    free: Vec::new(),
});

thread_local! {
    /// The spans this thread has entered, innermost last.
    static ENTERED: Cell<([u64; DEPTH], usize)> = const { Cell::new(([0; DEPTH], 0)) };
}

fn table() -> std::sync::MutexGuard<'static, Table> {
    TABLE.lock().unwrap_or_else(PoisonError::into_inner)
}

fn slot(id: &Id) -> usize {
    usize::try_from(id.into_u64() - 1).unwrap_or(usize::MAX)
}

/// A new span: its name and fields kept until its last handle closes.
pub(crate) fn new_span(attrs: &Attributes<'_>) -> Id {
    let mut fields = Rendered::default();
    attrs.record(&mut fields);
    let span = Span {
        name: attrs.metadata().name(),
        fields: fields.all(),
        refs: 1,
    };
    let mut table = table();
    let index = match table.free.pop() {
        Some(index) => {
            table.slots[index] = Some(span);
            index
        }
        None => {
            table.slots.push(Some(span));
            table.slots.len() - 1
        }
    };
    Id::from_u64(index as u64 + 1)
}

/// Fields recorded on a span after it was created.
pub(crate) fn record(id: &Id, values: &Record<'_>) {
    let mut fields = Rendered::default();
    values.record(&mut fields);
    if let Some(Some(span)) = table().slots.get_mut(slot(id)) {
        span.fields.push_str(&fields.all());
    }
}

pub(crate) fn clone_span(id: &Id) -> Id {
    if let Some(Some(span)) = table().slots.get_mut(slot(id)) {
        span.refs += 1;
    }
    id.clone()
}

/// Closes one handle; `true` when it was the last.
pub(crate) fn try_close(id: &Id) -> bool {
    let mut table = table();
    let index = slot(id);
    let Some(Some(span)) = table.slots.get_mut(index) else {
        return false;
    };
    span.refs -= 1;
    if span.refs > 0 {
        return false;
    }
    table.slots[index] = None;
    table.free.push(index);
    true
}

pub(crate) fn enter(id: &Id) {
    ENTERED.with(|entered| {
        let (mut ids, len) = entered.get();
        if len < DEPTH {
            ids[len] = id.into_u64();
        }
        entered.set((ids, len + 1));
    });
}

/// Leaves span `id`: the topmost entry of it is removed (spans may be
/// exited out of order); beyond `DEPTH` the stack only counts.
pub(crate) fn exit(id: &Id) {
    ENTERED.with(|entered| {
        let (mut ids, len) = entered.get();
        if len == 0 {
            return;
        }
        let shown = len.min(DEPTH);
        if len > DEPTH {
            // The entry exited is beyond what is kept: only count it.
            entered.set((ids, len - 1));
            return;
        }
        let Some(at) = ids[..shown].iter().rposition(|&e| e == id.into_u64()) else {
            entered.set((ids, len - 1));
            return;
        };
        ids.copy_within(at + 1..shown, at);
        entered.set((ids, len - 1));
    });
}

/// `outer{a=1}:inner: `, for the spans this thread is in; empty outside
/// spans.
pub(crate) fn context() -> String {
    let (ids, len) = ENTERED.with(Cell::get);
    let mut text = String::new();
    if len == 0 {
        return text;
    }
    let table = table();
    for id in &ids[..len.min(DEPTH)] {
        let Some(Some(span)) = usize::try_from(id - 1)
            .ok()
            .and_then(|i| table.slots.get(i))
        else {
            continue;
        };
        text.push_str(span.name);
        let fields = span.fields.trim_start();
        if !fields.is_empty() {
            let _ = write!(text, "{{{fields}}}");
        }
        text.push(':');
    }
    if !text.is_empty() {
        text.push(' ');
    }
    text
}
