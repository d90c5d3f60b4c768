//! `liveswap`: what a plugin file declares, and whether a host would
//! accept it, read from the files alone: nothing is loaded or run.
//!
//! - `liveswap inspect PLUGIN [--json]`: the interface, its version, the
//!   compiler, target and library version the plugin was built with, its
//!   methods, the types that cross, hazards read from its imports, and the
//!   signature beside it;
//! - `liveswap check PLUGIN --against HOST`: exit 0 when the host binary
//!   would accept the plugin, 1 with the host's own refusal otherwise.
//!
//! Bad input (a missing file, a file that is not ELF, a plugin without a
//! descriptor, a host without descriptors) is one line on standard error
//! and exit status 2. So is a path that is not a regular file (a FIFO is
//! refused, not waited on) and a file over 1 GiB (refused from its size,
//! unread). Of a file, only what is shown or checked is read (its headers,
//! symbol tables and `.liveswap` sections), unless a signature is verified,
//! which covers every byte.
//!
//! Text from the files (names, signatures' comments, refusals quoting
//! them) is printed with its control characters escaped (`\u{1b}`): a
//! crafted plugin cannot drive the terminal it is inspected in.

mod check;
mod inspect;
mod read;
mod show;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Inspect liveswap plugins and check them against a host, offline"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print what a plugin file declares, without loading it
    Inspect {
        /// The plugin (a cdylib built with `liveswap::export!`)
        plugin: PathBuf,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
        /// A minisign public key to verify the signature beside the plugin
        /// with (repeatable)
        #[arg(long = "trusted-key", value_name = "FILE")]
        trusted_keys: Vec<PathBuf>,
    },
    /// Exit 0 if HOST would accept PLUGIN, 1 with the host's message if not
    Check {
        /// The plugin
        plugin: PathBuf,
        /// The host binary (it carries the descriptors of the interfaces it
        /// hosts)
        #[arg(long, value_name = "HOST_BINARY")]
        against: PathBuf,
        /// Also require a signature by one of these minisign public keys, as
        /// a host configured with them would (repeatable)
        #[arg(long = "trusted-key", value_name = "FILE")]
        trusted_keys: Vec<PathBuf>,
    },
}

/// Why a command did not succeed.
pub enum Failure {
    /// The host would refuse the plugin: its message (exit 1).
    Refused(String),
    /// The input could not be read as asked (exit 2).
    BadInput(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect {
            plugin,
            json,
            trusted_keys,
        } => inspect::run(&plugin, json, &trusted_keys),
        Command::Check {
            plugin,
            against,
            trusted_keys,
        } => check::run(&plugin, &against, &trusted_keys),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Refused(message)) => {
            println!("{}", show::escaped(&message));
            ExitCode::from(1)
        }
        Err(Failure::BadInput(message)) => {
            eprintln!("liveswap: {}", show::escaped(&message.replace('\n', " ")));
            ExitCode::from(2)
        }
    }
}
