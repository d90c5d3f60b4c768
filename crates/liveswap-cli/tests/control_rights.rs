//! Rights on the control socket, as other users see them: an
//! allow-listed reader may only look; an allow-listed operator may swap
//! and inspect only files it could read itself, and learns nothing of
//! the others. Needs root (to act as other users): reported as ignored
//! when the tests are built by anyone else.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use liveswap::control::{ControlOptions, ControlServer};
use liveswap::{ManagedSlot, Slot};
use liveswap_tests::{Greeter, fixture, install};

const NOBODY: u32 = 65534;
const OPERATOR: u32 = 1;

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `liveswapctl` run as `uid`, from a copy it can execute.
fn liveswapctl_as(exe: &Path, uid: u32, socket: &Path, args: &[&str]) -> Output {
    Command::new(exe)
        .arg("--socket")
        .arg(socket)
        .args(args)
        .uid(uid)
        .gid(uid)
        .output()
        .expect("run liveswapctl")
}

struct Host {
    _server: ControlServer,
    socket: PathBuf,
    exe: PathBuf,
    public: PathBuf,
    private: PathBuf,
    dir: tempfile::TempDir,
}

fn host() -> Option<Host> {
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o755);
    if !liveswap_tests::others_can_reach(dir.path()) {
        return None;
    }
    let exe = dir.path().join("liveswapctl");
    std::fs::copy(env!("CARGO_BIN_EXE_liveswapctl"), &exe).unwrap();
    chmod(&exe, 0o755);
    let public = dir.path().join("public");
    std::fs::create_dir(&public).unwrap();
    chmod(&public, 0o755);
    install("greeter-v2", &public.join("libgreeter.so"));
    chmod(&public.join("libgreeter.so"), 0o644);
    let private = dir.path().join("private");
    std::fs::create_dir(&private).unwrap();
    chmod(&private, 0o700);
    install("greeter-v2", &private.join("libgreeter.so"));
    let slot: Arc<dyn ManagedSlot> =
        Arc::new(Slot::<Greeter>::load(fixture("greeter-v1")).unwrap());
    let socket = dir.path().join("run").join("control.sock");
    let server = ControlServer::start(
        &socket,
        vec![("greeter".into(), slot)],
        ControlOptions::new()
            .allow_uids([OPERATOR])
            .allow_readers([NOBODY]),
    )
    .unwrap();
    Some(Host {
        _server: server,
        socket,
        exe,
        public: public.join("libgreeter.so"),
        private: private.join("libgreeter.so"),
        dir,
    })
}

fn said(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

liveswap_tests::root_test!(
    "needs root: acts as other users",
    fn a_reader_may_look_but_not_swap() {
        let Some(h) = host() else { return };
        let status = liveswapctl_as(&h.exe, NOBODY, &h.socket, &["status"]);
        assert!(status.status.success(), "{}", said(&status));
        let public = h.public.to_str().unwrap();
        let swap = liveswapctl_as(&h.exe, NOBODY, &h.socket, &["swap", public]);
        assert_eq!(swap.status.code(), Some(1), "{}", said(&swap));
        assert!(
            said(&swap).contains("uid 65534 may only read"),
            "{}",
            said(&swap)
        );
    }
);

liveswap_tests::root_test!(
    "needs root: acts as other users",
    fn an_operator_inspects_only_what_it_could_read_and_learns_nothing_else() {
        let Some(h) = host() else { return };
        let public = h.public.to_str().unwrap();
        let accepted = liveswapctl_as(&h.exe, OPERATOR, &h.socket, &["inspect", public]);
        assert!(accepted.status.success(), "{}", said(&accepted));

        let private = h.private.to_str().unwrap();
        let missing = h.dir.path().join("private").join("nothing.so");
        let refusals: Vec<String> = [private, missing.to_str().unwrap()]
            .iter()
            .map(|path| {
                let out = liveswapctl_as(&h.exe, OPERATOR, &h.socket, &["inspect", path]);
                assert_eq!(out.status.code(), Some(1), "{}", said(&out));
                said(&out).replace(path, "PATH")
            })
            .collect();
        assert!(
            refusals[0].contains("uid 1 cannot read PATH itself"),
            "{}",
            refusals[0]
        );
        // A root-private file and a missing one get the same answer.
        assert_eq!(refusals[0], refusals[1]);
        // Nor may it swap the private one in.
        let swap = liveswapctl_as(&h.exe, OPERATOR, &h.socket, &["swap", private]);
        assert_eq!(swap.status.code(), Some(1), "{}", said(&swap));
    }
);
