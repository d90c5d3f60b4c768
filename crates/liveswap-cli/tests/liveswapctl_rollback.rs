//! `liveswapctl rollback` past a state schema change: the newer build
//! writes its state in the schema the older one reads, and when it cannot,
//! the refusal names `--cold`, which goes back without the state.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use counter_api::{Counter, FAULT_NO_DOWNGRADE};
use liveswap::control::{ControlOptions, ControlServer};
use liveswap::{ManagedSlot, Slot};
use liveswap_tests::fixture;

fn liveswapctl(socket: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_liveswapctl"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("run liveswapctl")
}

/// A slot serving the schema-2 build with a count of 5, carried from the
/// schema-1 build it replaced, behind a control socket.
fn served(dir: &Path) -> (Arc<Slot<dyn Counter>>, ControlServer, std::path::PathBuf) {
    let slot = Arc::new(Slot::<dyn Counter>::load(fixture("counter-v1")).unwrap());
    for _ in 0..4 {
        slot.current().hit().unwrap();
    }
    slot.swap(fixture("counter-v2")).unwrap();
    slot.current().hit().unwrap();
    let socket = dir.join("run").join("control.sock");
    let managed: Arc<dyn ManagedSlot> = slot.clone();
    let server = ControlServer::start(
        &socket,
        vec![("counter".into(), managed)],
        ControlOptions::new(),
    )
    .unwrap();
    (slot, server, socket)
}

#[test]
fn a_rollback_past_a_schema_change_exits_0_with_the_state_carried_down() {
    let dir = tempfile::tempdir().unwrap();
    let (slot, _server, socket) = served(dir.path());
    let out = liveswapctl(&socket, &["rollback"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(slot.current().build().unwrap(), 1);
    assert_eq!(slot.current().count().unwrap(), 5);
}

#[test]
fn when_the_newer_build_cannot_write_the_older_schema_the_refusal_names_cold_which_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let (slot, _server, socket) = served(dir.path());
    slot.current().set_fault(FAULT_NO_DOWNGRADE).unwrap();
    let refused = liveswapctl(&socket, &["rollback"]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(said.contains("liveswapctl rollback --cold"), "{said}");
    assert_eq!(
        slot.current().build().unwrap(),
        2,
        "the newer build serves on"
    );
    let cold = liveswapctl(&socket, &["rollback", "--cold"]);
    assert!(
        cold.status.success(),
        "{}",
        String::from_utf8_lossy(&cold.stderr)
    );
    assert_eq!(slot.current().build().unwrap(), 1);
    assert_eq!(slot.current().count().unwrap(), 0, "started from nothing");
}
