//! `liveswap-demo`: loads a plugin, prints what it says every second while
//! worker threads call it in a tight loop, and swaps in the plugin at each
//! path read from standard input, without stopping the workers.
//!
//! Standard input, one line at a time:
//! - a path: swap to the plugin there (the same path again after a rebuild
//!   works); prints the outcome;
//! - an empty line: print the status of every generation;
//! - end of input (or Ctrl-C): stop the workers and exit with status 0.

mod output;
mod workers;

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use clap::{Arg, ArgAction, Command, value_parser};
use liveswap::Slot;
use liveswap_demo_types::Handles;

/// The bundled plugin's file name, as cargo builds it.
const BUNDLED: &str = "libliveswap_demo_plugin.so";

/// The command line.
struct Args {
    plugin: Option<PathBuf>,
    interval: Duration,
    workers: usize,
    verbose: bool,
}

impl Args {
    /// Parses the command line (clap's builder API: the derive macro would
    /// give this package other features of shared dependencies than the
    /// plugin's, and a rebuild of both on every switch between them).
    fn parse() -> Self {
        let mut matches = Command::new("liveswap-demo")
            .version(env!("CARGO_PKG_VERSION"))
            .about("Hot-swap a plugin while worker threads call it")
            .arg(
                Arg::new("plugin")
                    .value_parser(value_parser!(PathBuf))
                    .help(
                        "The first plugin to load [default: the bundled demo plugin built \
                         beside this binary]",
                    ),
            )
            .arg(
                Arg::new("interval")
                    .long("interval")
                    .default_value("1s")
                    .value_parser(parse_interval)
                    .help("How often to print what the plugin says (e.g. 1s, 250ms, 2)"),
            )
            .arg(
                Arg::new("workers")
                    .long("workers")
                    .default_value("2")
                    .value_parser(value_parser!(usize))
                    .help("Worker threads calling the plugin in a tight loop"),
            )
            .arg(
                Arg::new("verbose")
                    .long("verbose")
                    .action(ArgAction::SetTrue)
                    .help(
                        "Also show the library's own log (tracing events: loads, swaps, \
                         refusals, unloads, warnings) on standard error",
                    ),
            )
            .get_matches();
        Args {
            plugin: matches.remove_one("plugin"),
            interval: matches.remove_one("interval").expect("has a default"),
            workers: matches.remove_one("workers").expect("has a default"),
            verbose: matches.get_flag("verbose"),
        }
    }
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

    let first = match args.plugin.clone().map_or_else(bundled_plugin, Ok) {
        Ok(path) => path,
        Err(message) => {
            eprintln!("liveswap-demo: {message}");
            return ExitCode::from(2);
        }
    };
    let plugin = match Slot::<dyn Handles>::load(&first) {
        Ok(plugin) => Arc::new(plugin),
        Err(e) => {
            eprintln!("liveswap-demo: cannot load the first plugin: {e}");
            return ExitCode::from(1);
        }
    };
    println!("{}", output::loaded(&plugin, &first));

    let (events, incoming) = mpsc::channel();
    let interrupts = events.clone();
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

    let workers = workers::start(&plugin, args.workers);
    let mut meter = workers.meter();
    let mut next_tick = Instant::now() + args.interval;
    loop {
        let wait = next_tick.saturating_duration_since(Instant::now());
        match incoming.recv_timeout(wait) {
            Ok(Event::Line(line)) => {
                let line = line.trim();
                if line.is_empty() {
                    println!("{}", output::status(&plugin.stats()));
                } else {
                    println!("{}", output::swap(&plugin, Path::new(line)));
                }
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
