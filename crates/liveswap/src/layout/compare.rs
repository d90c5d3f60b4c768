//! Host table against plugin table: the first difference, in words.
//!
//! Methods are compared in declaration order, then each argument and
//! result type recursively: identity (path, crate, version, generic
//! arguments), fields or variants in order, then size, alignment and the
//! size of `Option<T>`. The refusal names the way from the method to the
//! difference, e.g. "method `check`, argument 1: `rules_api::Request`,
//! field 0: the host has `urls: Vec<String>` at offset 0, the plugin
//! `user: String` at offset 0".

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
        match (&ht.shape, &pt.shape) {
            (Shape::Struct(hf), Shape::Struct(pf)) => {
                self.trail.push(format!("`{shown}`"));
                self.fields(hf, pf, depth)?;
                self.trail.pop();
            }
            (Shape::Enum(hr, hv), Shape::Enum(pr, pv)) => {
                self.trail.push(format!("`{shown}`"));
                if hr != pr {
                    return self.fail(format!("the host has repr({hr}), the plugin repr({pr})"));
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
                "`{shown}` is {} bytes (align {}) in the host, {} bytes (align {}) in the plugin",
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
        let same_kind = std::mem::discriminant(&ht.shape) == std::mem::discriminant(&pt.shape)
            || matches!(
                (&ht.shape, &pt.shape),
                (Shape::ByName, _) | (_, Shape::ByName)
            );
        if ht.name != pt.name
            || ht.package != pt.package
            || !same_kind
            || ht.args.len() != pt.args.len()
        {
            return Some(shown());
        }
        if ht.version != pt.version {
            return Some(format!(
                "`{}` comes from {} {} in the host, {} {} in the plugin",
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

    fn fields(&mut self, hf: &[FieldRef], pf: &[FieldRef], depth: usize) -> Result<(), String> {
        let show = |t: &Table, f: Option<&FieldRef>| match f {
            None => "no such field".to_string(),
            Some(f) if f.offset == u64::MAX => format!("`{}: {}`", f.name, display(t, f.ty, 0)),
            Some(f) => format!(
                "`{}: {}` at offset {}",
                f.name,
                display(t, f.ty, 0),
                f.offset
            ),
        };
        for i in 0..hf.len().max(pf.len()) {
            let (a, b) = (hf.get(i), pf.get(i));
            let differs = match (a, b) {
                (Some(a), Some(b)) => {
                    a.name != b.name
                        || a.offset != b.offset
                        || self.identity(a.ty, b.ty, 0).is_some()
                }
                _ => true,
            };
            if differs {
                return self.fail(format!(
                    "field {i}: the host has {}, the plugin {}",
                    show(self.host, a),
                    show(self.plugin, b)
                ));
            }
        }
        for (a, b) in hf.iter().zip(pf) {
            self.trail.push(format!("field `{}`", a.name));
            self.ty(a.ty, b.ty, depth + 1)?;
            self.trail.pop();
        }
        Ok(())
    }
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
        Shape::Struct(_) | Shape::Enum(..) | Shape::ByName => with_args(&t.name, &args),
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
