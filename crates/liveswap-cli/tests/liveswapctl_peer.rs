//! `liveswapctl` talks only to a host run by root, by its own user, or by
//! the uid it is told (`--server-uid`): a socket put at the path by anyone
//! else gets nothing sent to it.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Set for the child that plays a host run by another user.
const FAKE_HOST: &str = "LIVESWAP_TEST_FAKE_HOST";
const NOBODY: u32 = 65534;

fn liveswapctl(socket: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_liveswapctl"))
        .arg("--socket")
        .arg(socket)
        .args(["--timeout", "10"])
        .args(extra)
        .arg("status")
        .output()
        .expect("run liveswapctl")
}

liveswap_tests::root_test!(
    "needs root: another user serves the socket",
    fn a_socket_served_by_another_user_is_refused_unless_that_uid_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        if !liveswap_tests::others_can_reach(dir.path()) {
            return;
        }
        let run = dir.path().join("run");
        std::fs::create_dir(&run).unwrap();
        std::os::unix::fs::chown(&run, Some(NOBODY), Some(NOBODY)).unwrap();
        let socket = run.join("control.sock");
        // A copy nobody can run, wherever the build directory lies.
        let exe = dir.path().join("fake-host");
        std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut host = Command::new(&exe)
            .args(["--ignored", "--exact", "fake_host_as_nobody", "--nocapture"])
            .env(FAKE_HOST, &socket)
            .uid(NOBODY)
            .gid(NOBODY)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "the fake host never listened");
            std::thread::sleep(Duration::from_millis(20));
        }

        let refused = liveswapctl(&socket, &[]);
        let said = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{said}");
        assert!(said.contains("served by uid 65534"), "{said}");

        let named = liveswapctl(&socket, &["--server-uid", "65534"]);
        let said = String::from_utf8_lossy(&named.stderr);
        assert!(!said.contains("served by uid"), "{said}");
        assert!(said.contains("the fake host answered"), "{said}");
        host.wait().unwrap();
    }
);

/// Run as `nobody` by the test above: answers one request with an error.
#[test]
#[ignore = "run as nobody by a_socket_served_by_another_user_is_refused_unless_that_uid_is_named"]
fn fake_host_as_nobody() {
    let Some(socket) = std::env::var_os(FAKE_HOST) else {
        return;
    };
    let listener = UnixListener::bind(&socket).unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    // The refused client sends nothing and hangs up; the second asks.
    for stream in listener.incoming().take(2) {
        let mut stream = stream.unwrap();
        let mut line = String::new();
        let _ = BufReader::new(&stream).read_line(&mut line);
        if !line.is_empty() {
            let _ = writeln!(
                stream,
                r#"{{"v":1,"ok":false,"error":{{"kind":"bad_request","message":"the fake host answered"}}}}"#
            );
        }
    }
}
