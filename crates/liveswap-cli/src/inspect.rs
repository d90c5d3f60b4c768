//! `liveswap inspect`: what a plugin file declares.

use std::path::{Path, PathBuf};

use liveswap::check::{self, TrustedKey};
use liveswap::layout::{Shape, Table};
use liveswap::wire::FLAG_PANIC_UNWIND;
use serde_json::{Value, json};

use crate::Failure;
use crate::read::{self, Image, text};
use crate::show::{escaped, json_escaped};

/// Imports worth knowing of that do not, alone, make a hazard.
const NOTED_IMPORTS: &[(&str, &str)] = &[(
    "pthread_create",
    "imports pthread_create: a thread its code starts and does not stop when its instance is \
     dropped keeps its generation loaded (reported pinned, naming the thread and what started \
     it); the file alone cannot tell whether it does",
)];

pub fn run(path: &Path, json: bool, key_files: &[PathBuf]) -> Result<(), Failure> {
    let keys = read::keys(key_files)?;
    let mut image = read::open(path, "plugin")?;
    let (declared, hazards, notes) = {
        let file = read::elf(path, "plugin", image.bytes())?;
        let declared = read::declared(path, &file)?;
        (declared, check::hazards(&file), noted_imports(&file))
    };
    let signature = signature(path, &mut image, &keys)?;
    let mut report = report(path, &declared, hazards, signature);
    report["notes"] = json!(notes);
    if json {
        // The strings in it come from the file: `serde_json` escapes the
        // C0 controls in them, `json_escaped` the rest.
        let text = serde_json::to_string_pretty(&report).unwrap_or_default();
        println!("{}", json_escaped(&text));
    } else {
        print!("{}", as_text(&report));
    }
    Ok(())
}

fn noted_imports(file: &object::File<'_>) -> Vec<String> {
    use object::{Object, ObjectSymbol};
    file.dynamic_symbols()
        .filter(|s| s.is_undefined())
        .filter_map(|s| {
            let name = s.name().ok()?;
            NOTED_IMPORTS
                .iter()
                .find(|(i, _)| *i == name)
                .map(|(_, why)| (*why).to_string())
        })
        .collect()
}

/// The signature beside the plugin, verified when keys were given (which
/// reads every byte of the plugin).
fn signature(path: &Path, image: &mut Image, keys: &[TrustedKey]) -> Result<Value, Failure> {
    let file = match check::read_signature(path) {
        Ok(file) => file,
        Err(liveswap::Error::Signature {
            signature, problem, ..
        }) => {
            let status = match problem {
                liveswap::check::SignatureProblem::Missing => "none".to_string(),
                other => format!("unreadable: {other}"),
            };
            return Ok(json!({ "file": signature.display().to_string(), "status": status }));
        }
        Err(other) => return Ok(json!({ "status": format!("unreadable: {other}") })),
    };
    let status = if keys.is_empty() {
        "not verified (no --trusted-key given)".to_string()
    } else {
        match check::verify(path, image.complete()?, keys) {
            Ok(_) => "verified".to_string(),
            Err(liveswap::Error::Signature { problem, .. }) => format!("refused: {problem}"),
            Err(other) => format!("refused: {other}"),
        }
    };
    Ok(json!({
        "file": file.path.display().to_string(),
        "status": status,
        "key_id": file.key_id,
        "trusted_comment": file.trusted_comment,
    }))
}

fn report(path: &Path, d: &read::Declared, hazards: Vec<String>, signature: Value) -> Value {
    let desc = &d.descriptor;
    let methods: Vec<Value> = (0..d.table.methods.len())
        .map(|i| {
            json!({
                "name": d.table.methods[i].name,
                "signature": d.table.method_signature(i),
                "direct": d.table.methods[i].direct,
            })
        })
        .collect();
    let types: Vec<Value> = (0..d.table.types.len())
        .map(|i| type_json(&d.table, i))
        .collect();
    json!({
        "plugin": path.display().to_string(),
        "interface": text(&desc.interface_name),
        "interface_version": desc.interface_version,
        "compiler": text(&desc.rustc),
        "target": text(&desc.target),
        "liveswap_version": text(&desc.liveswap_version),
        "panic_strategy": if desc.flags & FLAG_PANIC_UNWIND != 0 { "unwind" } else { "abort" },
        "fingerprint": format!("{:016x}", desc.fingerprint),
        "methods": methods,
        "types": types,
        "hazards": hazards,
        "signature": signature,
    })
}

fn type_json(table: &Table, index: usize) -> Value {
    let t = &table.types[index];
    let fields = |fields: &[liveswap::layout::FieldRef]| -> Vec<Value> {
        fields
            .iter()
            .map(|f| {
                let offset = (f.offset != u64::MAX).then_some(f.offset);
                json!({ "name": f.name, "type": table.type_name(f.ty), "offset": offset })
            })
            .collect()
    };
    let (kind, detail) = match &t.shape {
        Shape::Scalar => ("scalar", Value::Null),
        Shape::Std => ("std", Value::Null),
        Shape::Struct(f) => ("struct", json!({ "fields": fields(f) })),
        Shape::Enum(repr, variants) => (
            "enum",
            json!({
                "repr": repr,
                "variants": variants.iter().map(|v| json!({
                    "name": v.name,
                    "discriminant": v.discriminant.to_string(),
                    "fields": fields(&v.fields),
                })).collect::<Vec<_>>(),
            }),
        ),
        Shape::Tuple(offsets) => ("tuple", json!({ "offsets": offsets })),
        Shape::Array(len) => ("array", json!({ "len": len })),
        Shape::Ref(mutable) => ("reference", json!({ "mutable": mutable })),
        Shape::Str => ("str", Value::Null),
        Shape::Slice => ("slice", Value::Null),
    };
    json!({
        "name": table.type_name(index),
        "crate": t.package,
        "crate_version": t.version,
        "size": t.size,
        "align": t.align,
        "option_size": t.option_size,
        "kind": kind,
        "detail": detail,
    })
}

/// The report as text; every string in it is escaped (`escaped`), for most
/// come from the file.
fn as_text(r: &Value) -> String {
    let s = |v: &Value| {
        v.as_str()
            .map_or_else(|| v.to_string(), |v| escaped(v).into_owned())
    };
    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str(&l);
        out.push('\n');
    };
    line(format!("plugin:      {}", s(&r["plugin"])));
    line(format!(
        "interface:   {} version {}",
        s(&r["interface"]),
        r["interface_version"]
    ));
    line(format!("compiler:    {}", s(&r["compiler"])));
    line(format!("target:      {}", s(&r["target"])));
    line(format!("liveswap:    {}", s(&r["liveswap_version"])));
    line(format!("panic:       {}", s(&r["panic_strategy"])));
    line(format!("fingerprint: {}", s(&r["fingerprint"])));
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    line(format!("methods ({}):", list(&r["methods"]).len()));
    for m in list(&r["methods"]) {
        line(format!("  {}", s(&m["signature"])));
    }
    line(format!("types that cross ({}):", list(&r["types"]).len()));
    for t in list(&r["types"]) {
        let origin = format!("{} {}", s(&t["crate"]), s(&t["crate_version"]));
        let mut entry = format!(
            "  {}: {}{}, size {}, align {}, Option size {}",
            s(&t["name"]),
            s(&t["kind"]),
            if origin.trim().is_empty() {
                String::new()
            } else {
                format!(" from {}", origin.trim())
            },
            t["size"],
            t["align"],
            t["option_size"]
        );
        let fields = list(&t["detail"]["fields"]);
        if !fields.is_empty() {
            let shown: Vec<String> = fields
                .iter()
                .map(|f| format!("{}: {} @{}", s(&f["name"]), s(&f["type"]), f["offset"]))
                .collect();
            entry.push_str(&format!(" {{ {} }}", shown.join(", ")));
        }
        let variants = list(&t["detail"]["variants"]);
        if !variants.is_empty() {
            let shown: Vec<String> = variants
                .iter()
                .map(|v| format!("{} = {}", s(&v["name"]), s(&v["discriminant"])))
                .collect();
            entry.push_str(&format!(" {{ {} }}", shown.join(", ")));
        }
        line(entry);
    }
    let hazards = list(&r["hazards"]);
    if hazards.is_empty() {
        line("hazards:     none found in its imports".into());
    } else {
        line("hazards:".into());
        for h in hazards {
            line(format!("  - {}", s(&h)));
        }
    }
    for note in list(&r["notes"]) {
        line(format!("note:        {}", s(&note)));
    }
    let sig = &r["signature"];
    let mut signature = format!("signature:   {}", s(&sig["status"]));
    if let Some(file) = sig["file"].as_str() {
        signature.push_str(&format!(" ({})", escaped(file)));
    }
    if let Some(id) = sig["key_id"].as_str() {
        // Quoted as Rust quotes strings, which escapes the controls.
        let comment = format!("{:?}", sig["trusted_comment"].as_str().unwrap_or_default());
        signature.push_str(&format!(
            "; key {}, trusted comment {}",
            escaped(id),
            escaped(&comment)
        ));
    }
    line(signature);
    out
}
