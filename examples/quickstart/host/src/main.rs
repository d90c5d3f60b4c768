use std::path::{Path, PathBuf};
use std::process::ExitCode;

use liveswap::Slot;
use quickstart_interface::Handles;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: quickstart-host <path of the plugin's .so>");
        return ExitCode::from(2);
    };
    match run(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}"); // names the file and what was wrong with it
            ExitCode::FAILURE
        }
    }
}

fn run(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let plugin = Slot::<dyn Handles>::load(path)?;
    println!("{}", plugin.current().some_fn(7)?); // never waits; Err if it panicked
    let report = plugin.swap(path)?; // the same path again, e.g. after a rebuild
    println!("generation {} in {:?}", report.generation, report.total());
    println!("{}", plugin.with(|api| api.some_data())?);
    Ok(())
}
