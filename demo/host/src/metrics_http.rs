//! The demo's metrics endpoint: Prometheus's text format at `GET
//! /metrics`, from `metrics-exporter-prometheus`'s recorder, served by a
//! listener that any local user may reach and none may exhaust: at most
//! [`MAX_CONNECTIONS`] at once (more are closed as they arrive), each
//! given [`DEADLINE`] to send its request and take the reply.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 16;
/// How long a connection may take, from accept to the reply sent.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// The most of a request read.
const MAX_REQUEST: usize = 8 * 1024;

/// Installs the Prometheus recorder and serves it at `addr`.
pub fn serve(addr: SocketAddr) -> Result<(), String> {
    let listener = TcpListener::bind(addr).map_err(|e| e.to_string())?;
    let handle = PrometheusBuilder::new()
        // Step times as a histogram (the exporter's default is a summary,
        // which cannot be aggregated across hosts).
        .set_buckets_for_metric(
            Matcher::Full("liveswap_swap_step_seconds".into()),
            &[
                0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0,
            ],
        )
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("metrics-http".into())
        .spawn(move || accept(&listener, &handle))
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn accept(listener: &TcpListener, handle: &PrometheusHandle) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            // Out of descriptors: do not spin.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::AcqRel);
            drop(stream);
            continue;
        }
        let (counted, handle) = (Arc::clone(&active), handle.clone());
        let spawned = std::thread::Builder::new()
            .name("metrics-client".into())
            .spawn(move || {
                let _ = answer(stream, &handle);
                counted.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            // The connection went with the closure; its place is given back.
            active.fetch_sub(1, Ordering::AcqRel);
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Reads one request head within the deadline and answers it.
fn answer(mut stream: TcpStream, handle: &PrometheusHandle) -> std::io::Result<()> {
    let deadline = Instant::now() + DEADLINE;
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || request.len() > MAX_REQUEST {
            return Ok(());
        }
        stream.set_read_timeout(Some(left))?;
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
    }
    stream.set_write_timeout(Some(
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1)),
    ))?;
    let (status, body) = if request.starts_with(b"GET /metrics ") {
        ("200 OK", handle.render())
    } else {
        ("404 Not Found", "not found: try GET /metrics\n".to_string())
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}
