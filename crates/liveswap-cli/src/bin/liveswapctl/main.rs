//! `liveswapctl`: operate a running liveswap host through its control
//! socket.
//!
//! ```text
//! liveswapctl --socket /run/app/control.sock status
//! liveswapctl --socket /run/app/control.sock swap /srv/plugins/librules.so
//! liveswapctl --socket /run/app/control.sock --json history
//! ```
//!
//! Exit status: 0 done, 1 refused by the process (a swap, a rollback or an
//! inspection it said no to), 2 usage or connection error. Every error is
//! one line on standard error.

mod client;
mod render;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use liveswap::control::protocol::Request;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Operate a running liveswap host through its control socket"
)]
struct Cli {
    // Global: each may come before or after the command
    // (`liveswapctl --socket S status --json`), as cargo and kubectl allow.
    /// The host's control socket (required)
    #[arg(long, value_name = "PATH", global = true)]
    socket: Option<PathBuf>,
    /// Which slot, when the host has several
    #[arg(long, global = true)]
    slot: Option<String>,
    /// Print the host's JSON reply instead of a table
    #[arg(long, global = true)]
    json: bool,
    /// How long to wait for the host's reply, in seconds
    #[arg(long, default_value_t = 60, global = true)]
    timeout: u64,
    /// The uid the host runs as, when it is neither root nor you: a
    /// socket served by anyone else is refused before anything is sent
    #[arg(long, value_name = "UID", global = true)]
    server_uid: Option<u32>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// What the host runs: generations and their states
    Status,
    /// The host's recent swap attempts
    History,
    /// Swap to the plugin at FILE
    Swap {
        /// The plugin file, as the host sees the path
        file: PathBuf,
    },
    /// Return to the previous build
    Rollback {
        /// Without the serving build's state: the previous build starts
        /// from nothing (when it cannot read the serving build's state)
        #[arg(long)]
        cold: bool,
    },
    /// Ask the host whether it would accept FILE, without loading it
    Inspect {
        /// The plugin file, as the host sees the path
        file: PathBuf,
    },
    /// The slots the host serves
    Slots,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            let text = e.to_string();
            eprintln!("{}", text.lines().next().unwrap_or("usage error"));
            return ExitCode::from(2);
        }
        Err(e) => {
            print!("{e}");
            return ExitCode::SUCCESS;
        }
    };
    // Global arguments cannot be required by clap: checked here, with
    // clap's wording and exit status.
    let Some(socket) = cli.socket.clone() else {
        eprintln!("error: the following required arguments were not provided: --socket <PATH>");
        return ExitCode::from(2);
    };
    let absolute = |file: &PathBuf| std::path::absolute(file).unwrap_or_else(|_| file.clone());
    let (cmd, path) = match &cli.command {
        Command::Status => ("status", None),
        Command::History => ("history", None),
        Command::Swap { file } => ("swap", Some(absolute(file))),
        Command::Rollback { .. } => ("rollback", None),
        Command::Inspect { file } => ("inspect", Some(absolute(file))),
        Command::Slots => ("slots", None),
    };
    let mut request = Request::new(cmd);
    request.slot = cli.slot.clone();
    request.path = path.map(|p| p.display().to_string());
    request.cold = matches!(cli.command, Command::Rollback { cold: true });
    let (reply, line) = match client::ask(
        &socket,
        &request,
        Duration::from_secs(cli.timeout),
        cli.server_uid,
    ) {
        Ok(reply) => reply,
        Err(e) => {
            eprintln!("liveswapctl: {}: {e}", socket.display());
            return ExitCode::from(2);
        }
    };
    if cli.json {
        println!("{line}");
    }
    if reply.ok {
        if !cli.json {
            match render::result(cmd, reply.result.unwrap_or_default()) {
                Ok(text) => print!("{text}"),
                Err(e) => {
                    eprintln!("liveswapctl: unreadable {cmd} reply: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        return ExitCode::SUCCESS;
    }
    let (kind, message) = reply
        .error
        .map_or(("unknown".into(), "no message".into()), |e| {
            (e.kind, e.message)
        });
    if !cli.json {
        eprintln!("liveswapctl: {kind}: {message}");
    }
    ExitCode::from(if kind == "refused" { 1 } else { 2 })
}
