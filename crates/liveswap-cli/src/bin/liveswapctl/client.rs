//! One request, one reply, over the control socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use liveswap::control::protocol::{Reply, Request};

/// Sends `request` and returns the reply, parsed and as its line, or a
/// one-line reason. The
/// socket must be served by root, by this user, or by `server_uid`:
/// whoever could put a socket at that path must not be taken for the host.
pub fn ask(
    socket: &Path,
    request: &Request,
    timeout: Duration,
    server_uid: Option<u32>,
) -> Result<(Reply, String), String> {
    let stream = UnixStream::connect(socket).map_err(|e| format!("cannot connect: {e}"))?;
    let served_by = rustix::net::sockopt::socket_peercred(&stream)
        .map_err(|e| format!("cannot tell who serves the socket: {e}"))?
        .uid
        .as_raw();
    let me = rustix::process::geteuid().as_raw();
    if served_by != 0 && served_by != me && server_uid != Some(served_by) {
        return Err(format!(
            "the socket is served by uid {served_by}, not by root or you (uid {me}); nothing \
             was sent (pass --server-uid {served_by} if that user runs the host)"
        ));
    }
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    const CLOSED: &str = "the host closed the connection without a reply (not allowed?)";
    let closed = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        )
    };
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let request = serde_json::to_string(request).map_err(|e| e.to_string())?;
    match writeln!(writer, "{request}") {
        Ok(()) => {}
        Err(e) if closed(&e) => return Err(CLOSED.into()),
        Err(e) => return Err(format!("cannot send: {e}")),
    }
    let mut line = String::new();
    match BufReader::new(stream).read_line(&mut line) {
        Ok(_) => {}
        Err(e) if closed(&e) => return Err(CLOSED.into()),
        Err(e) => return Err(format!("no reply: {e}")),
    }
    if line.is_empty() {
        return Err(CLOSED.into());
    }
    let reply = serde_json::from_str(&line).map_err(|e| format!("unreadable reply: {e}"))?;
    Ok((reply, line.trim_end().to_owned()))
}
