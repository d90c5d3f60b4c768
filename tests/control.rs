//! The control socket: a real Unix socket, real clients, a real plugin.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use liveswap::control::{ControlError, ControlOptions, ControlServer};
use liveswap::{ManagedSlot, Preflight, Slot, SwapOptions, Version};
use liveswap_tests::{Greeter, fixture};
use serde_json::{Value, json};

/// Fields drop in order: the server stops before its directory goes.
struct Fixture {
    server: ControlServer,
    socket: PathBuf,
    slot: Arc<Slot<Greeter>>,
    _dir: tempfile::TempDir,
}

fn serve(options: ControlOptions) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run").join("control.sock");
    let slot = Arc::new(Slot::<Greeter>::load(fixture("greeter-v1")).unwrap());
    let managed: Arc<dyn ManagedSlot> = slot.clone();
    let server = ControlServer::start(&socket, vec![("greeter".into(), managed)], options).unwrap();
    Fixture {
        _dir: dir,
        socket,
        slot,
        server,
    }
}

struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    fn connect(path: &Path) -> Client {
        let stream = UnixStream::connect(path).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Client {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }
    fn send_raw(&mut self, line: &[u8]) -> Value {
        self.writer.write_all(line).unwrap();
        self.writer.write_all(b"\n").unwrap();
        let mut reply = String::new();
        self.reader.read_line(&mut reply).unwrap();
        serde_json::from_str(&reply).unwrap_or_else(|e| panic!("{e}: {reply:?}"))
    }
    fn send(&mut self, request: Value) -> Value {
        self.send_raw(request.to_string().as_bytes())
    }
}

fn error_kind(reply: &Value) -> &str {
    assert_eq!(reply["ok"], false, "{reply}");
    reply["error"]["kind"].as_str().unwrap()
}

#[test]
fn status_reports_the_serving_generation() {
    let f = serve(ControlOptions::new());
    let reply = Client::connect(&f.socket).send(json!({"v": 1, "cmd": "status"}));
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["result"]["current"], 1);
    assert_eq!(reply["result"]["interface"], "fixture::Greeter");
    assert_eq!(reply["result"]["generations"][0]["state"], "current");
}

#[test]
fn swap_then_rollback_through_the_socket() {
    let f = serve(ControlOptions::new());
    let mut c = Client::connect(&f.socket);
    let v2 = fixture("greeter-v2");
    let reply = c.send(json!({"v": 1, "cmd": "swap", "slot": "greeter", "path": v2}));
    assert_eq!(reply["result"]["generation"], 2, "{reply}");
    assert_eq!(f.slot.current().build(), 2);
    let reply = c.send(json!({"v": 1, "cmd": "rollback"}));
    assert_eq!(reply["result"]["generation"], 3, "{reply}");
    assert_eq!(f.slot.current().build(), 1);
}

#[test]
fn history_lists_each_attempt_with_its_trigger_outcome_and_hash() {
    let f = serve(ControlOptions::new());
    let mut c = Client::connect(&f.socket);
    f.slot.swap(fixture("greeter-v2")).unwrap();
    c.send(json!({"v": 1, "cmd": "swap", "path": fixture("calc")}));
    c.send(json!({"v": 1, "cmd": "rollback"}));
    let reply = c.send(json!({"v": 1, "cmd": "history"}));
    let attempts = reply["result"]["attempts"].as_array().unwrap();
    let summary: Vec<(&str, &str)> = attempts
        .iter()
        .map(|a| {
            (
                a["trigger"].as_str().unwrap(),
                a["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("api", "published"),
            ("api", "published"),
            ("control", "refused"),
            ("control", "published"),
        ],
        "{reply}"
    );
    assert_eq!(attempts[1]["content_hash"].as_str().unwrap().len(), 64);
    assert!(
        attempts[2]["error"]
            .as_str()
            .unwrap()
            .contains("libcalc.so")
    );
    assert!(attempts[1]["steps_ms"]["total"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_refused_swap_is_a_refused_reply_and_the_old_version_serves() {
    let f = serve(ControlOptions::new());
    let mut c = Client::connect(&f.socket);
    let reply = c.send(json!({"v": 1, "cmd": "swap", "path": fixture("calc")}));
    assert_eq!(error_kind(&reply), "refused");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("libcalc.so"),
        "{reply}"
    );
    assert_eq!(f.slot.current().build(), 1);
}

#[test]
fn inspect_runs_the_handshake_without_loading() {
    let f = serve(ControlOptions::new());
    let mut c = Client::connect(&f.socket);
    let good = c.send(json!({"v": 1, "cmd": "inspect", "path": fixture("greeter-v2")}));
    assert_eq!(good["result"]["accepted"], true, "{good}");
    let bad = c.send(json!({"v": 1, "cmd": "inspect", "path": fixture("calc")}));
    assert_eq!(error_kind(&bad), "refused");
    assert_eq!(f.slot.generation(), 1);
}

#[test]
fn bad_requests_get_an_error_reply_and_the_connection_goes_on() {
    let f = serve(ControlOptions::new().max_line(1024));
    let mut c = Client::connect(&f.socket);
    assert_eq!(error_kind(&c.send_raw(b"{not json")), "bad_request");
    assert_eq!(
        error_kind(&c.send(json!({"v": 1, "cmd": "explode"}))),
        "bad_request"
    );
    assert_eq!(
        error_kind(&c.send(json!({"v": 2, "cmd": "status"}))),
        "bad_request"
    );
    assert_eq!(
        error_kind(&c.send(json!({"v": 1, "cmd": "swap"}))),
        "bad_request"
    );
    let long = vec![b'x'; 5000];
    assert_eq!(error_kind(&c.send_raw(&long)), "bad_request");
    let reply = c.send(json!({"v": 1, "cmd": "status", "slot": "nope"}));
    assert_eq!(error_kind(&reply), "no_such_slot");
    let reply = c.send(json!({"v": 1, "cmd": "status"}));
    assert_eq!(
        reply["ok"], true,
        "the same connection still works: {reply}"
    );
}

#[test]
fn a_hundred_concurrent_clients_are_served_beside_an_idle_one() {
    let f = serve(ControlOptions::new());
    // A client that connects and says nothing.
    let _idle = UnixStream::connect(&f.socket).unwrap();
    let started = Instant::now();
    let threads: Vec<_> = (0..100)
        .map(|_| {
            let socket = f.socket.clone();
            std::thread::spawn(move || {
                let reply = Client::connect(&socket).send(json!({"v": 1, "cmd": "status"}));
                assert_eq!(reply["ok"], true, "{reply}");
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "served while an idle client held its connection"
    );
}

#[test]
fn a_client_that_trickles_a_request_is_cut_off_at_the_line_deadline() {
    let f = serve(ControlOptions::new().idle_timeout(Duration::from_millis(500)));
    let mut slow = UnixStream::connect(&f.socket).unwrap();
    let started = Instant::now();
    // One byte every 100 ms: never idle as long as the timeout, never a
    // whole line.
    let cut_off = loop {
        if slow.write_all(b" ").is_err() {
            break true;
        }
        if started.elapsed() > Duration::from_secs(20) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(cut_off, "the server still waits for a line begun 20 s ago");
    let reply = Client::connect(&f.socket).send(json!({"v": 1, "cmd": "status"}));
    assert_eq!(reply["ok"], true, "{reply}");
}

#[test]
fn the_socket_is_private_and_removed_when_the_server_stops() {
    let f = serve(ControlOptions::new());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&f.socket), 0o600);
    assert_eq!(mode(f.socket.parent().unwrap()), 0o700);
    let Fixture { socket, server, .. } = f;
    assert_eq!(server.path(), socket);
    drop(server);
    assert!(!socket.exists());
}

#[test]
fn a_directory_others_can_write_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o770)).unwrap();
    let slot: Arc<dyn ManagedSlot> =
        Arc::new(Slot::<Greeter>::load(fixture("greeter-v1")).unwrap());
    let err = ControlServer::start(
        run.join("control.sock"),
        vec![("greeter".into(), slot)],
        ControlOptions::new(),
    )
    .unwrap_err();
    assert!(
        matches!(err, ControlError::UnsafeDirectory { mode: 0o770, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("mode 770"), "{err}");
}

#[test]
fn a_socket_below_a_directory_others_can_write_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    // Writable by all, without the sticky bit: anyone could replace `run`.
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let socket = shared.join("run").join("control.sock");
    let slot = Arc::new(Slot::<Greeter>::load(fixture("greeter-v1")).unwrap());
    let managed: Arc<dyn ManagedSlot> = slot;
    let err = ControlServer::start(
        &socket,
        vec![("greeter".into(), managed)],
        ControlOptions::new(),
    )
    .unwrap_err();
    assert!(matches!(err, ControlError::UnsafeAncestor { .. }), "{err}");
    let said = err.to_string();
    assert!(
        said.contains(&format!("{} (owner uid", shared.display())) && said.contains("0777"),
        "{said}"
    );
    assert!(!socket.exists());
}

#[test]
fn the_slots_swap_policy_guards_swaps_through_the_socket_and_the_api_alike() {
    let f = serve(ControlOptions::new());
    f.slot
        // A trigger in the policy relabels nothing: each path keeps its own.
        .set_swap_policy(
            SwapOptions::new()
                .trigger(liveswap::history::Trigger::Probation)
                .preflight(Preflight::new(|api: &Version<Greeter>| match api.build() {
                    2 => Err("build 2 is not wanted here".into()),
                    _ => Ok(()),
                })),
        );
    let reply = Client::connect(&f.socket).send(json!({
        "v": 1, "cmd": "swap", "path": fixture("greeter-v2"),
    }));
    assert_eq!(error_kind(&reply), "refused", "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("build 2 is not wanted here"),
        "{reply}"
    );
    assert!(matches!(
        f.slot.swap(fixture("greeter-v2")),
        Err(liveswap::Error::Preflight { .. })
    ));
    let history = f.slot.history();
    let triggers: Vec<_> = history.iter().rev().take(2).map(|a| a.trigger).collect();
    assert_eq!(
        triggers,
        [
            liveswap::history::Trigger::Api,
            liveswap::history::Trigger::Control
        ],
        "each attempt under its own trigger"
    );
    assert_eq!(f.slot.current().build(), 1);
    // Options given for one call override what they name: naming
    // nothing, the policy's preflight still refuses; turned off, it lets
    // the build through.
    assert!(matches!(
        f.slot.swap_with(fixture("greeter-v2"), &SwapOptions::new()),
        Err(liveswap::Error::Preflight { .. })
    ));
    f.slot
        .swap_with(fixture("greeter-v2"), &SwapOptions::new().without_checks())
        .unwrap();
    assert_eq!(f.slot.current().build(), 2);
}

#[test]
fn a_cold_rollback_through_the_socket_returns_to_the_previous_build() {
    let f = serve(ControlOptions::new());
    f.slot.swap(fixture("greeter-v2")).unwrap();
    let reply = Client::connect(&f.socket).send(json!({"v": 1, "cmd": "rollback", "cold": true}));
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(f.slot.current().build(), 1);
    let last = f.slot.history().pop().unwrap();
    assert_eq!(last.kind, liveswap::history::Kind::Rollback);
}

#[test]
fn a_second_server_on_a_live_socket_is_refused() {
    let f = serve(ControlOptions::new());
    let slot: Arc<dyn ManagedSlot> = f.slot.clone();
    let err = ControlServer::start(&f.socket, vec![("g".into(), slot)], ControlOptions::new())
        .unwrap_err();
    assert!(matches!(err, ControlError::InUse { .. }), "{err}");
}
