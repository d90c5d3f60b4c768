//! `liveswap-demo`: loads a plugin, prints what it says every second while
//! worker threads call it in a tight loop, and swaps in the plugin at each
//! path read from standard input, without stopping the workers.
//!
//! Standard input, one line at a time:
//! - a path: swap to the plugin there (the same path again after a rebuild
//!   works); prints the outcome;
//! - an empty line: print the status of every generation;
//! - end of input (or Ctrl-C): stop the workers and exit with status 0.
//!
//! With `--watch`, the plugin's path is watched as well: each new build
//! that lands there (`cargo build -p liveswap-demo-plugin`) is swapped in
//! by itself, and the outcome printed.

mod metrics_http;
mod output;
mod service;
mod workers;

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use clap::Parser;
use liveswap::ManagedSlot;
use liveswap::Slot;
use liveswap::control::{ControlOptions, ControlServer};
use liveswap_demo_types::{Handles, Host};

/// The bundled plugin's file name, as cargo builds it.
const BUNDLED: &str = "libliveswap_demo_plugin.so";

#[derive(Parser, Debug)]
#[command(version, about = "Hot-swap a plugin while worker threads call it")]
struct Args {
    /// The first plugin to load [default: the bundled demo plugin built
    /// beside this binary]
    plugin: Option<PathBuf>,

    /// How often to print what the plugin says (e.g. 1s, 250ms, 2)
    #[arg(long, default_value = "1s", value_parser = parse_interval)]
    interval: Duration,

    /// Worker threads calling the plugin in a tight loop
    #[arg(long, default_value_t = 2)]
    workers: usize,

    /// Also show the library's own log (tracing events: loads, swaps,
    /// refusals, unloads, warnings) on standard error
    #[arg(long)]
    verbose: bool,

    /// Require plugins signed by this minisign public key (repeatable: any
    /// of them will do)
    #[arg(long = "trusted-key", value_name = "FILE")]
    trusted_keys: Vec<PathBuf>,

    /// Load plugins from places other users could write (development only)
    #[arg(long)]
    allow_unsafe_path: bool,

    /// Serve the control socket at PATH (its directory is made mode 700),
    /// for `liveswapctl --socket PATH status|history|swap|rollback|inspect`
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,

    /// Also serve this uid on the control socket (repeatable); the socket
    /// is then reachable by all and each peer is checked by its uid
    #[arg(long = "control-allow-uid", value_name = "UID")]
    control_allow_uids: Vec<u32>,

    /// Serve Prometheus metrics over HTTP at ADDR [default when given
    /// without a value: 127.0.0.1:9464]
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:9464")]
    metrics: Option<std::net::SocketAddr>,

    /// Watch the plugin's path and swap to each new build that lands there
    #[arg(long)]
    watch: bool,
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: try 1s, 250ms or 2"))?;
    if !(value > 0.0 && value.is_finite()) {
        return Err(format!("`{text}`: the interval must be positive"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

/// The bundled plugin beside this binary, or the command that builds it.
fn bundled_plugin() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate this binary: {e}"))?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let path = dir.join(BUNDLED);
    if path.is_file() {
        return Ok(path);
    }
    let release = if dir.ends_with("release") {
        " --release"
    } else {
        ""
    };
    Err(format!(
        "the bundled demo plugin is not built: {} does not exist.\n\
         Build it with:\n\n    cargo build{release} -p liveswap-demo-plugin\n\n\
         or give the path of a plugin: liveswap-demo <PLUGIN>",
        path.display()
    ))
}

enum Event {
    Line(String),
    Watched(String),
    End,
    Interrupt,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // By default the demo prints one line of its own per event, and what
    // the library logs would only repeat it; `--verbose` shows the log too.
    if args.verbose {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_max_level(tracing::Level::INFO)
            .init();
    }

    let options = match output::options(&args.trusted_keys, args.allow_unsafe_path) {
        Ok(options) => options.provide::<dyn Host, _>(Arc::new(service::DemoHost::start())),
        Err(e) => {
            eprintln!("liveswap-demo: {e}");
            return ExitCode::from(2);
        }
    };
    let policy = output::policy(&options);
    println!("{policy}");
    let first = match args.plugin.clone().map_or_else(bundled_plugin, Ok) {
        Ok(path) => path,
        Err(message) => {
            eprintln!("liveswap-demo: {message}");
            return ExitCode::from(2);
        }
    };
    if let Some(addr) = args.metrics {
        match metrics_http::serve(addr) {
            Ok(()) => println!("metrics: http://{addr}/metrics"),
            Err(e) => {
                eprintln!("liveswap-demo: cannot serve metrics on {addr}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let plugin = match Slot::<dyn Handles>::load_with(&first, options) {
        Ok(plugin) => Arc::new(plugin),
        Err(e) => {
            eprintln!("liveswap-demo: cannot load the first plugin: {e}");
            return ExitCode::from(1);
        }
    };
    println!("{}", output::loaded(&plugin, &first));
    let _control = match &args.control {
        Some(socket) => {
            let managed: Arc<dyn ManagedSlot> = plugin.clone();
            let options = ControlOptions::new().allow_uids(args.control_allow_uids.iter().copied());
            match ControlServer::start(socket, vec![("handles".into(), managed)], options) {
                Ok(server) => {
                    println!("control socket: {}", server.path().display());
                    Some(server)
                }
                Err(e) => {
                    eprintln!("liveswap-demo: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        None => None,
    };

    let (events, incoming) = mpsc::channel();
    let interrupts = events.clone();
    let events_tx_for_watch = events.clone();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = interrupts.send(Event::Interrupt);
    }) {
        eprintln!("liveswap-demo: Ctrl-C will not exit cleanly: {e}");
    }
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            match line {
                Ok(line) => {
                    if events.send(Event::Line(line)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    eprintln!("liveswap-demo: cannot read standard input: {e}");
                    break;
                }
            }
        }
        let _ = events.send(Event::End);
    });

    // Keep the watcher alive until the end; dropping it stops it.
    let _watcher = if args.watch {
        let watched = events_tx_for_watch.clone();
        let options = liveswap::deploy::WatchOptions::path(&first).on_event(move |event| {
            if let Some(line) = output::watched(event) {
                let _ = watched.send(Event::Watched(line));
            }
        });
        match liveswap::deploy::Watcher::start(Arc::clone(&plugin), options) {
            Ok(watcher) => {
                println!(
                    "watching {}: rebuild the plugin there and the new build serves",
                    first.display()
                );
                Some(watcher)
            }
            Err(e) => {
                eprintln!("liveswap-demo: cannot watch {}: {e}", first.display());
                return ExitCode::from(1);
            }
        }
    } else {
        None
    };
    drop(events_tx_for_watch);

    let workers = workers::start(&plugin, args.workers);
    let mut meter = workers.meter();
    let mut next_tick = Instant::now() + args.interval;
    let mut operated_since = std::time::SystemTime::now();
    loop {
        // What the control socket and probation did since the last look.
        for line in output::operated(&plugin.history(), &mut operated_since) {
            println!("{line}");
        }
        let wait = next_tick.saturating_duration_since(Instant::now());
        match incoming.recv_timeout(wait) {
            Ok(Event::Line(line)) => {
                let line = line.trim();
                if line.is_empty() {
                    println!("{}\n{policy}", output::status(&plugin.stats()));
                } else {
                    println!("{}", output::swap(&plugin, Path::new(line)));
                }
            }
            Ok(Event::Watched(line)) => {
                let (_, says) = output::says(&plugin);
                println!("{line}: {says}");
            }
            Ok(Event::End) => break,
            Ok(Event::Interrupt) => {
                println!("interrupted");
                break;
            }
            Err(RecvTimeoutError::Timeout) => {
                println!("{}", output::tick(&plugin, &mut meter));
                next_tick += args.interval;
                if next_tick < Instant::now() {
                    next_tick = Instant::now() + args.interval;
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    let totals = workers.stop();
    println!(
        "bye: {} calls, {} failed, last generation {}",
        totals.calls,
        totals.failed,
        plugin.generation()
    );
    ExitCode::SUCCESS
}
