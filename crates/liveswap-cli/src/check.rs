//! `liveswap check`: would this host binary accept this plugin?

use std::path::{Path, PathBuf};

use liveswap::Error;
use liveswap::check;
use liveswap::wire::Descriptor;

use crate::Failure;
use crate::read::{self, text};
use crate::show::escaped;

pub fn run(plugin: &Path, host: &Path, key_files: &[PathBuf]) -> Result<(), Failure> {
    let keys = read::keys(key_files)?;
    let host_image = read::open(host, "host")?;
    let expected = read::host_sections(host, host_image.bytes())?;
    let mut image = read::open(plugin, "plugin")?;
    if !keys.is_empty() {
        // The signature covers every byte.
        image.complete()?;
    }
    let bytes = image.bytes();
    // The plugin's interface picks the host's section to compare with
    // (a host may host several interfaces).
    let name = read::elf(plugin, "plugin", bytes)
        .ok()
        .and_then(|file| read::declared(plugin, &file).ok())
        .map(|d| text(&d.descriptor.interface_name));
    let hosted: Vec<String> = expected
        .iter()
        .filter_map(|s| Descriptor::from_bytes(s))
        .map(|d| text(&d.interface_name))
        .collect();
    let candidates: Vec<&Vec<u8>> = match &name {
        Some(name) if hosted.contains(name) => expected
            .iter()
            .zip(&hosted)
            .filter(|(_, h)| *h == name)
            .map(|(s, _)| s)
            .collect(),
        // One interface hosted: its check names the difference, as the
        // host would.
        _ if expected.len() == 1 => vec![&expected[0]],
        Some(name) => {
            return Err(Failure::Refused(format!(
                "plugin {}: interface {name:?} is not one that host {} hosts ({})",
                plugin.display(),
                host.display(),
                hosted.join(", ")
            )));
        }
        None => vec![&expected[0]],
    };
    if !keys.is_empty() {
        check::verify(plugin, bytes, &keys).map_err(|e| Failure::Refused(e.to_string()))?;
    }
    let mut first_error = None;
    for section in candidates {
        match check::check_section(plugin, bytes, section) {
            Ok(checked) => {
                let line = format!(
                    "ok: host {} would accept plugin {} (interface {} version {})",
                    host.display(),
                    plugin.display(),
                    text(&checked.descriptor.interface_name),
                    checked.descriptor.interface_version
                );
                println!("{}", escaped(&line));
                for warning in checked.warnings {
                    println!("warning: {}", escaped(&warning));
                }
                let host_sections: Vec<&[u8]> = expected.iter().map(|s| &s[..]).collect();
                let imports = check::check_imports(plugin, bytes, &host_sections)
                    .map_err(|e| Failure::Refused(e.to_string()))?;
                for name in imports {
                    println!(
                        "import: {} (the host carries it with the same types; it must also \
                         provide it when it loads the plugin)",
                        escaped(&name)
                    );
                }
                return Ok(());
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(match first_error {
        Some(e @ (Error::NotSharedObject { .. } | Error::NoDescriptor { .. })) => {
            Failure::BadInput(e.to_string())
        }
        Some(e) => Failure::Refused(e.to_string()),
        None => Failure::BadInput("nothing to compare".into()),
    })
}
