//! Host table against plugin table: the first difference, in words.
//!
//! Methods are compared in declaration order (argument names included:
//! two arguments of one type swapped are a difference, a rename is not),
//! then each argument and result type recursively: identity (path, crate,
//! generic arguments; a crate at a semver-compatible release is compared
//! by contents), fields or variants, then size, alignment and the size of
//! `Option<T>`. The refusal names the way from the method to the
//! difference, e.g. "method `check`, argument 1: `rules_api::Request`,
//! field `age_days`: the host has `u64`, the plugin `u32`".

use std::collections::HashSet;

use super::decode::{FieldRef, Shape, Table, Type};

/// Deepest nesting of types followed (a table from a file is untrusted).
const MAX_DEPTH: usize = 64;

/// Compares the host's table with the plugin's. `Ok` when every method
/// and every type reachable from it agree; otherwise the first difference.
///
/// # Errors
///
/// A one-line description of the first difference.
pub fn compare_tables(host: &Table, plugin: &Table) -> Result<(), String> {
    let mut cmp = Comparer {
        host,
        plugin,
        seen: HashSet::new(),
        same: HashSet::new(),
        trail: Vec::new(),
    };
    cmp.methods()
}

struct Comparer<'a> {
    host: &'a Table,
    plugin: &'a Table,
    seen: HashSet<(usize, usize)>,
    /// Pairs whose identities were found equal.
    same: HashSet<(usize, usize)>,
    trail: Vec<String>,
}

impl Comparer<'_> {
    /// The trail and the detail in one line: "method `check`, argument 1:
    /// `rules_api::Request`, field 0: the host has ...".
    fn fail(&self, detail: String) -> Result<(), String> {
        let mut text = String::new();
        let mut after_position = false;
        for (i, step) in self.trail.iter().enumerate() {
            if i > 0 {
                text.push_str(if after_position { ": " } else { ", " });
            }
            text.push_str(step);
            after_position = step == "result" || step.starts_with("argument ");
        }
        if !text.is_empty() {
            let continues = detail.starts_with("field ") || detail.starts_with("variant ");
            text.push_str(if continues && !after_position {
                ", "
            } else {
                ": "
            });
        }
        text.push_str(&detail);
        Err(text)
    }

    fn methods(&mut self) -> Result<(), String> {
        let (h, p) = (&self.host.methods, &self.plugin.methods);
        for i in 0..h.len().max(p.len()) {
            let (hm, pm) = match (h.get(i), p.get(i)) {
                (Some(hm), Some(pm)) => (hm, pm),
                (Some(hm), None) => {
                    return self.fail(format!(
                        "the host has a method `{}` (method {i}), the plugin has {} methods",
                        signature(self.host, hm),
                        p.len()
                    ));
                }
                (None, Some(pm)) => {
                    return self.fail(format!(
                        "the plugin has a method `{}` (method {i}), the host has {} methods",
                        signature(self.plugin, pm),
                        h.len()
                    ));
                }
                (None, None) => unreachable!("i is below the longer length"),
            };
            if hm.name != pm.name || hm.args.len() != pm.args.len() {
                return self.fail(format!(
                    "method {i}: the host has `{}`, the plugin `{}`",
                    signature(self.host, hm),
                    signature(self.plugin, pm)
                ));
            }
            self.trail.push(format!("method `{}`", hm.name));
            for (a, (&ht, &pt)) in hm.args.iter().zip(&pm.args).enumerate() {
                self.trail.push(format!("argument {}", a + 1));
                self.ty(ht, pt, 0)?;
                self.trail.pop();
            }
            self.trail.push("result".into());
            self.ty(hm.ret, pm.ret, 0)?;
            self.trail.pop();
            if moved_argument(&hm.arg_names, &pm.arg_names) {
                return self.fail(format!(
                    "the host names its arguments ({}), the plugin ({}): arguments of one type in \
                     another order would be read as each other",
                    hm.arg_names.join(", "),
                    pm.arg_names.join(", ")
                ));
            }
            if hm.direct != pm.direct {
                return self.fail("calling convention differs".into());
            }
            self.trail.pop();
        }
        Ok(())
    }

    fn ty(&mut self, h: usize, p: usize, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return self.fail(format!("types nested deeper than {MAX_DEPTH}"));
        }
        let (ht, pt) = (&self.host.types[h], &self.plugin.types[p]);
        if let Some(detail) = self.identity(h, p, 0) {
            return self.fail(detail);
        }
        if !self.seen.insert((h, p)) {
            return Ok(());
        }
        let shown = display(self.host, h, 0);
        // Releases semver calls compatible (`0.7.12` and `0.7.13`) are
        // compared by contents; when the contents differ, the trail says
        // which releases they came from.
        let step = if ht.version == pt.version {
            format!("`{shown}`")
        } else {
            format!(
                "`{shown}` ({} {} in the host, {} in the plugin)",
                ht.package, ht.version, pt.version
            )
        };
        match (&ht.shape, &pt.shape) {
            (Shape::Struct(hf), Shape::Struct(pf)) => {
                self.trail.push(step.clone());
                self.fields(hf, pf, depth)?;
                self.trail.pop();
            }
            (Shape::Enum(hr, hv), Shape::Enum(pr, pv)) => {
                self.trail.push(step.clone());
                if hr != pr {
                    return self.fail(format!("the host has repr({hr}), the plugin repr({pr})"));
                }
                let show =
                    |v: &super::decode::VariantRef| format!("`{}` = {}", v.name, v.discriminant);
                if let Some(v) = pv.iter().find(|v| !hv.iter().any(|h| h.name == v.name)) {
                    return self.fail(format!(
                        "the plugin has a variant {} the host does not",
                        show(v)
                    ));
                }
                if let Some(v) = hv.iter().find(|v| !pv.iter().any(|p| p.name == v.name)) {
                    return self.fail(format!(
                        "the host has a variant {} the plugin does not",
                        show(v)
                    ));
                }
                for i in 0..hv.len().max(pv.len()) {
                    match (hv.get(i), pv.get(i)) {
                        (Some(a), Some(b))
                            if a.name == b.name && a.discriminant == b.discriminant =>
                        {
                            self.trail.push(format!("variant `{}`", a.name));
                            self.fields(&a.fields, &b.fields, depth)?;
                            self.trail.pop();
                        }
                        (a, b) => {
                            let show = |v: Option<&super::decode::VariantRef>| {
                                v.map_or("none".to_string(), |v| {
                                    format!("`{}` = {}", v.name, v.discriminant)
                                })
                            };
                            return self.fail(format!(
                                "variant {i}: the host has {}, the plugin {}",
                                show(a),
                                show(b)
                            ));
                        }
                    }
                }
                self.trail.pop();
            }
            (Shape::Tuple(ho), Shape::Tuple(po)) if ho != po => {
                return self.fail(format!(
                    "`{shown}`: element offsets differ: the host has {ho:?}, the plugin {po:?}"
                ));
            }
            _ => {}
        }
        for (&ha, &pa) in ht.args.iter().zip(&pt.args) {
            self.ty(ha, pa, depth + 1)?;
        }
        if (ht.size, ht.align) != (pt.size, pt.align) {
            return self.fail(format!(
                "{step} is {} bytes (align {}) in the host, {} bytes (align {}) in the plugin",
                ht.size, ht.align, pt.size, pt.align
            ));
        }
        if ht.option_size != pt.option_size {
            return self.fail(format!(
                "`Option<{shown}>` is {} bytes in the host, {} in the plugin (a niche changed)",
                ht.option_size, pt.option_size
            ));
        }
        Ok(())
    }

    /// `None` when `h` and `p` name the same type (path, crate, version,
    /// kind, generic arguments); otherwise the innermost difference.
    /// Pairs found equal are remembered, so a shared type is walked once.
    fn identity(&mut self, h: usize, p: usize, depth: usize) -> Option<String> {
        if self.same.contains(&(h, p)) {
            return None;
        }
        let (host, plugin) = (self.host, self.plugin);
        let (ht, pt) = (&host.types[h], &plugin.types[p]);
        let shown = || {
            format!(
                "the host has `{}`, the plugin `{}`",
                display(host, h, 0),
                display(plugin, p, 0)
            )
        };
        if depth > MAX_DEPTH {
            return Some(format!("types nested deeper than {MAX_DEPTH}"));
        }
        let same_kind = std::mem::discriminant(&ht.shape) == std::mem::discriminant(&pt.shape);
        if ht.name != pt.name
            || ht.package != pt.package
            || !same_kind
            || ht.args.len() != pt.args.len()
        {
            return Some(shown());
        }
        if !semver_compatible(&ht.version, &pt.version) {
            return Some(format!(
                "`{}` comes from {} {} in the host, {} {} in the plugin: releases that may \
                 change what the type means (semver: another major release, or another minor \
                 release before 1.0)",
                display(host, h, 0),
                ht.package,
                ht.version,
                pt.package,
                pt.version
            ));
        }
        match (&ht.shape, &pt.shape) {
            (Shape::Array(a), Shape::Array(b)) if a != b => return Some(shown()),
            (Shape::Ref(a), Shape::Ref(b)) if a != b => return Some(shown()),
            _ => {}
        }
        // The innermost difference says the most: `rules_api::Request`
        // comes from another version, rather than `&Request` differs.
        for (&a, &b) in ht.args.iter().zip(&pt.args) {
            if let Some(difference) = self.identity(a, b, depth + 1) {
                return Some(difference);
            }
        }
        self.same.insert((h, p));
        None
    }

    /// Fields of one struct or variant, the cause first: a field only one
    /// side has, then one whose type changed, then the order; then each
    /// field's own type; then offsets. A refusal also names the fields the
    /// change moved.
    fn fields(&mut self, hf: &[FieldRef], pf: &[FieldRef], depth: usize) -> Result<(), String> {
        let (host, plugin) = (self.host, self.plugin);
        let in_host = |name: &str| hf.iter().any(|f| f.name == name);
        let in_plugin = |name: &str| pf.iter().any(|f| f.name == name);
        let added: Vec<&FieldRef> = pf.iter().filter(|f| !in_host(&f.name)).collect();
        let removed: Vec<&FieldRef> = hf.iter().filter(|f| !in_plugin(&f.name)).collect();
        let moved = moved(hf, pf);
        match (removed.as_slice(), added.as_slice()) {
            ([], []) => {}
            ([old], [new]) if hf.len() == pf.len() => {
                let i = hf.iter().position(|f| f.name == old.name).unwrap_or(0);
                return self.fail(format!(
                    "field {i}: the host has {}, the plugin {}{moved}",
                    field(host, old),
                    field(plugin, new)
                ));
            }
            (_, [new, ..]) => {
                return self.fail(format!(
                    "the plugin has a field {} the host does not{moved}",
                    field(plugin, new)
                ));
            }
            ([old, ..], []) => {
                return self.fail(format!(
                    "the host has a field {} the plugin does not{moved}",
                    field(host, old)
                ));
            }
        }
        // Same names on both sides.
        for (a, b) in hf.iter().zip(pf) {
            if a.name != b.name {
                let names = |f: &[FieldRef]| {
                    f.iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return self.fail(format!(
                    "the fields are in another order: the host has {}, the plugin {}{moved}",
                    names(hf),
                    names(pf)
                ));
            }
        }
        for (a, b) in hf.iter().zip(pf) {
            if let Some(difference) = self.identity(a.ty, b.ty, 0) {
                self.trail.push(format!("field `{}`", a.name));
                let result = self.fail(format!("{difference}{moved}"));
                self.trail.pop();
                return result;
            }
        }
        for (a, b) in hf.iter().zip(pf) {
            self.trail.push(format!("field `{}`", a.name));
            self.ty(a.ty, b.ty, depth + 1)?;
            self.trail.pop();
        }
        if let Some((a, b)) = hf.iter().zip(pf).find(|(a, b)| a.offset != b.offset) {
            return self.fail(format!(
                "field `{}` is at offset {} in the host, {} in the plugin{moved}",
                a.name, a.offset, b.offset
            ));
        }
        Ok(())
    }
}

/// `` `name: Type` at offset N `` (no offset inside an enum variant).
fn field(table: &Table, f: &FieldRef) -> String {
    if f.offset == u64::MAX {
        format!("`{}: {}`", f.name, display(table, f.ty, 0))
    } else {
        format!(
            "`{}: {}` at offset {}",
            f.name,
            display(table, f.ty, 0),
            f.offset
        )
    }
}

/// "; it moves `score` (48 -> 72), `kind` (56 -> 80)": the fields both
/// sides have at other offsets, or nothing.
fn moved(hf: &[FieldRef], pf: &[FieldRef]) -> String {
    const SHOWN: usize = 4;
    let moved: Vec<String> = hf
        .iter()
        .filter_map(|a| {
            let b = pf.iter().find(|b| b.name == a.name)?;
            (a.offset != b.offset && a.offset != u64::MAX && b.offset != u64::MAX)
                .then(|| format!("`{}` ({} -> {})", a.name, a.offset, b.offset))
        })
        .collect();
    match moved.len() {
        0 => String::new(),
        n if n <= SHOWN => format!("; it moves {}", moved.join(", ")),
        n => format!(
            "; it moves {} and {} more",
            moved[..SHOWN].join(", "),
            n - SHOWN
        ),
    }
}

/// Whether two tables are equal but for the releases of crates that
/// semver calls compatible (`0.7.12` and `0.7.13`): the check behind
/// [`compare_tables`], which accepts such tables, that nothing else
/// differs in their bytes.
pub fn equal_but_compatible_releases(host: &Table, plugin: &Table) -> bool {
    if host.types.len() != plugin.types.len() || host.methods != plugin.methods {
        return false;
    }
    host.types.iter().zip(&plugin.types).all(|(h, p)| {
        semver_compatible(&h.version, &p.version) && {
            let mut p = p.clone();
            p.version.clone_from(&h.version);
            *h == p
        }
    })
}

/// Whether two releases of one crate are compatible by semver's rule (as
/// Cargo reads `^`): the same major release, or the same minor release
/// before 1.0, or the same patch release before 0.1. Equal strings
/// (the standard library's empty version too) always are; a version that
/// does not parse is compatible only with itself.
fn semver_compatible(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (Ok(va), Ok(vb)) = (semver::Version::parse(a), semver::Version::parse(b)) else {
        return false;
    };
    let caret = |v: &semver::Version| semver::VersionReq::parse(&format!("^{v}")).ok();
    let (lo, hi) = if va <= vb { (&va, &vb) } else { (&vb, &va) };
    caret(lo).is_some_and(|req| req.matches(hi))
}

/// A type as written: `Vec<String>`, `&[u8]`, `(u8, rules_api::Request)`.
/// User types keep their path; standard types their last segment.
pub(crate) fn display(table: &Table, index: usize, _depth: usize) -> String {
    let mut budget = DISPLAY_BUDGET;
    shown(table, index, 0, &mut budget)
}

/// Most types one displayed name shows; the rest is `..`.
const DISPLAY_BUDGET: usize = 32;

fn shown(table: &Table, index: usize, depth: usize, budget: &mut usize) -> String {
    let t: &Type = &table.types[index];
    if depth > 8 || *budget == 0 {
        return "..".into();
    }
    *budget -= 1;
    let args: Vec<String> = t
        .args
        .iter()
        .map(|&a| shown(table, a, depth + 1, budget))
        .collect();
    match &t.shape {
        Shape::Tuple(_) => format!("({})", args.join(", ")),
        Shape::Array(n) => format!("[{}; {n}]", args.join(", ")),
        Shape::Ref(mutable) => {
            format!("&{}{}", if *mutable { "mut " } else { "" }, args.join(""))
        }
        Shape::Slice => format!("[{}]", args.join("")),
        Shape::Str => "str".into(),
        Shape::Scalar => t.name.clone(),
        Shape::Std => {
            let short = t.name.rsplit("::").next().unwrap_or(&t.name);
            with_args(short, &args)
        }
        Shape::Struct(_) | Shape::Enum(..) => with_args(&t.name, &args),
    }
}

fn with_args(name: &str, args: &[String]) -> String {
    if args.is_empty() {
        name.to_string()
    } else {
        format!("{name}<{}>", args.join(", "))
    }
}

/// `fn name(A, B) -> R`.
pub(crate) fn signature(table: &Table, m: &super::decode::Method) -> String {
    let args: Vec<String> = m.args.iter().map(|&a| display(table, a, 0)).collect();
    format!(
        "fn {}({}) -> {}",
        m.name,
        args.join(", "),
        display(table, m.ret, 0)
    )
}

impl Table {
    /// Type `index` as written (`Vec<String>`, `&[u8]`, `rules_api::Request`).
    pub fn type_name(&self, index: usize) -> String {
        display(self, index, 0)
    }

    /// Method `index` as a signature: `fn name(A, B) -> R`.
    pub fn method_signature(&self, index: usize) -> String {
        signature(self, &self.methods[index])
    }
}

/// Whether an argument name of one side sits at another position on the
/// other: arguments of one type swapped. A plain rename (`x` to `amount`)
/// is not a move, and `_` names nothing.
fn moved_argument(host: &[String], plugin: &[String]) -> bool {
    host.iter().enumerate().any(|(i, name)| {
        !name.is_empty()
            && name != "_"
            && plugin
                .iter()
                .enumerate()
                .any(|(j, other)| j != i && other == name)
    })
}
