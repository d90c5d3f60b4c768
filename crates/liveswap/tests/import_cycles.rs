//! The library's files import one another without a cycle: the graph of
//! `use` and paths between the files of `src/` (tests excluded) has no
//! strongly connected component of more than one file. A re-export is
//! followed to the file that defines the item, so `crate::Slot` is an
//! edge to `slot.rs`, not to `lib.rs`; `lib.rs` itself (the root that
//! declares and re-exports everything) is left out. A directory's own
//! root file (`mod.rs`) declares the files under it and may use them: an
//! edge from a module to one of its own descendants is not counted; an
//! edge back up (`super::`), or across to any other module, is.
//!
//! Adding an import that closes a cycle fails
//! `the_library_has_no_import_cycles`, naming the files and the edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// A module path, from the crate root (`["pipeline", "room"]`).
type ModPath = Vec<String>;

/// One source file of the crate.
struct File {
    module: ModPath,
    syntax: syn::File,
}

/// The crate's files, by module path.
struct Crate {
    files: BTreeMap<ModPath, File>,
}

impl Crate {
    fn read(src: &Path) -> Crate {
        let mut files = BTreeMap::new();
        let mut stack = vec![src.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read src") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let rel = path.strip_prefix(src).expect("under src");
                let mut module: ModPath = rel
                    .with_extension("")
                    .iter()
                    .map(|c| c.to_string_lossy().into_owned())
                    .collect();
                if module.last().is_some_and(|l| l == "mod" || l == "lib") {
                    module.pop();
                }
                // Unit tests' files (`#[cfg(test)] mod tests;`).
                if module.last().is_some_and(|l| l == "tests") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("read file");
                let syntax =
                    syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                files.insert(module.clone(), File { module, syntax });
            }
        }
        Crate { files }
    }

    fn name(module: &ModPath) -> String {
        if module.is_empty() {
            "lib.rs".into()
        } else {
            module.join("/")
        }
    }

    /// The file that defines what `path` (absolute, from the crate root)
    /// names: the longest prefix that is a file, then through that file's
    /// re-exports.
    fn resolve(&self, path: &[String], depth: usize) -> Option<ModPath> {
        let n = (0..=path.len())
            .rev()
            .find(|&n| self.files.contains_key(&path[..n]))?;
        let module = path[..n].to_vec();
        if depth < 8
            && let Some(next) = path.get(n)
            && let Some(target) = self.reexport(&module, next)
        {
            let mut target = target;
            target.extend_from_slice(&path[n + 1..]);
            return self.resolve(&target, depth + 1).or(Some(module));
        }
        Some(module)
    }

    /// What `name`, re-exported by `module`'s file, points to (absolute).
    fn reexport(&self, module: &ModPath, name: &str) -> Option<Vec<String>> {
        let file = self.files.get(module)?;
        for item in &file.syntax.items {
            let syn::Item::Use(item) = item else { continue };
            if matches!(item.vis, syn::Visibility::Inherited) || is_test(&item.attrs) {
                continue;
            }
            let mut found = None;
            leaves(&item.tree, &mut Vec::new(), &mut |path, alias| {
                if alias == name {
                    found = Some(path.to_vec());
                }
            });
            if let Some(path) = found {
                return absolute(self, module, &path);
            }
        }
        None
    }

    /// The files `module`'s file refers to.
    fn edges(&self, module: &ModPath) -> BTreeSet<ModPath> {
        let file = &self.files[module];
        let mut paths = Paths::default();
        for item in &file.syntax.items {
            if !is_test_item(item) {
                paths.visit_item(item);
            }
        }
        let mut out = BTreeSet::new();
        for path in paths.found {
            let Some(path) = absolute(self, &file.module, &path) else {
                continue;
            };
            if let Some(target) = self.resolve(&path, 0)
                && !target.starts_with(module)
                && !target.is_empty()
            {
                out.insert(target);
            }
        }
        out
    }

    /// Groups of files that import one another (Tarjan's algorithm).
    fn cycles(&self) -> Vec<Vec<(ModPath, Vec<ModPath>)>> {
        let graph: BTreeMap<ModPath, BTreeSet<ModPath>> = self
            .files
            .keys()
            .filter(|m| !m.is_empty())
            .map(|m| (m.clone(), self.edges(m)))
            .collect();
        let mut tarjan = Tarjan {
            graph: &graph,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            next: 0,
            components: Vec::new(),
        };
        for node in graph.keys() {
            if !tarjan.index.contains_key(node) {
                tarjan.connect(node);
            }
        }
        tarjan
            .components
            .into_iter()
            .filter(|c| c.len() > 1)
            .map(|c| {
                let members: BTreeSet<_> = c.iter().cloned().collect();
                c.into_iter()
                    .map(|m| {
                        let to = graph[&m].intersection(&members).cloned().collect();
                        (m, to)
                    })
                    .collect()
            })
            .collect()
    }
}

/// `path` as written in `module`'s file, made absolute: `crate::`,
/// `super::`, `self::`, or a child module's name.
fn absolute(krate: &Crate, module: &ModPath, path: &[String]) -> Option<Vec<String>> {
    let (first, rest) = path.split_first()?;
    let mut base = match first.as_str() {
        "crate" => Vec::new(),
        "self" => module.clone(),
        "super" => {
            let mut base = module.clone();
            base.pop()?;
            let mut rest = rest;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
            base.extend_from_slice(rest);
            return Some(base);
        }
        child => {
            let mut child_path = module.clone();
            child_path.push(child.to_string());
            if !krate.files.contains_key(&child_path) {
                return None;
            }
            child_path.extend_from_slice(rest);
            return Some(child_path);
        }
    };
    base.extend_from_slice(rest);
    Some(base)
}

/// Calls `f` with each leaf of a use tree: its full path and the name it
/// is known by.
fn leaves(tree: &syn::UseTree, prefix: &mut Vec<String>, f: &mut dyn FnMut(&[String], &str)) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            leaves(&p.tree, prefix, f);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                f(prefix, prefix.last().map_or("", String::as_str));
            } else {
                prefix.push(name.clone());
                f(prefix, &name);
                prefix.pop();
            }
        }
        syn::UseTree::Rename(r) => {
            prefix.push(r.ident.to_string());
            f(prefix, &r.rename.to_string());
            prefix.pop();
        }
        syn::UseTree::Glob(_) => f(prefix, "*"),
        syn::UseTree::Group(g) => {
            for tree in &g.items {
                leaves(tree, prefix, f);
            }
        }
    }
}

/// `#[cfg(test)]`.
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test")
    })
}

fn is_test_item(item: &syn::Item) -> bool {
    match item {
        syn::Item::Mod(m) => is_test(&m.attrs),
        syn::Item::Fn(f) => is_test(&f.attrs),
        syn::Item::Use(u) => is_test(&u.attrs),
        syn::Item::Impl(i) => is_test(&i.attrs),
        _ => false,
    }
}

/// Every path a file writes: in `use` items, in code, and in the tokens
/// of macro calls (`crate::x::y` inside `tracing::warn!(..)`).
#[derive(Default)]
struct Paths {
    found: Vec<Vec<String>>,
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        leaves(&item.tree, &mut Vec::new(), &mut |path, _| {
            self.found.push(path.to_vec());
        });
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if !is_test(&item.attrs) {
            syn::visit::visit_item_mod(self, item);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.found
            .push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        let tokens: Vec<_> = mac.tokens.clone().into_iter().collect();
        scan_tokens(&tokens, &mut self.found);
    }
}

/// Finds `crate :: a :: b` in a macro's tokens (and in nested groups).
fn scan_tokens(tokens: &[proc_macro2::TokenTree], found: &mut Vec<Vec<String>>) {
    use proc_macro2::TokenTree;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Group(g) => {
                let inner: Vec<_> = g.stream().into_iter().collect();
                scan_tokens(&inner, found);
            }
            TokenTree::Ident(id) if id == "crate" || id == "super" => {
                let mut path = vec![id.to_string()];
                let mut j = i + 1;
                while let (
                    Some(TokenTree::Punct(a)),
                    Some(TokenTree::Punct(b)),
                    Some(TokenTree::Ident(next)),
                ) = (tokens.get(j), tokens.get(j + 1), tokens.get(j + 2))
                    && a.as_char() == ':'
                    && b.as_char() == ':'
                {
                    path.push(next.to_string());
                    j += 3;
                }
                if path.len() > 1 {
                    found.push(path);
                }
                i = j.max(i + 1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
}

struct Tarjan<'g> {
    graph: &'g BTreeMap<ModPath, BTreeSet<ModPath>>,
    index: BTreeMap<ModPath, usize>,
    low: BTreeMap<ModPath, usize>,
    stack: Vec<ModPath>,
    on_stack: BTreeSet<ModPath>,
    next: usize,
    components: Vec<Vec<ModPath>>,
}

impl Tarjan<'_> {
    fn connect(&mut self, node: &ModPath) {
        self.index.insert(node.clone(), self.next);
        self.low.insert(node.clone(), self.next);
        self.next += 1;
        self.stack.push(node.clone());
        self.on_stack.insert(node.clone());
        let graph = self.graph;
        for to in graph.get(node).into_iter().flatten() {
            if !self.index.contains_key(to) {
                self.connect(to);
                let low = self.low[node].min(self.low[to]);
                self.low.insert(node.clone(), low);
            } else if self.on_stack.contains(to) {
                let low = self.low[node].min(self.index[to]);
                self.low.insert(node.clone(), low);
            }
        }
        if self.low[node] == self.index[node] {
            let mut component = Vec::new();
            while let Some(member) = self.stack.pop() {
                self.on_stack.remove(&member);
                let done = &member == node;
                component.push(member);
                if done {
                    break;
                }
            }
            self.components.push(component);
        }
    }
}

fn report(cycles: &[Vec<(ModPath, Vec<ModPath>)>]) -> String {
    let mut text = String::new();
    for cycle in cycles {
        text.push_str(&format!("a cycle of {} files:\n", cycle.len()));
        for (from, to) in cycle {
            let to: Vec<_> = to.iter().map(Crate::name).collect();
            text.push_str(&format!("  {} -> {}\n", Crate::name(from), to.join(", ")));
        }
    }
    text
}

#[test]
fn the_library_has_no_import_cycles() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let krate = Crate::read(&src);
    assert!(krate.files.len() > 50, "read {} files", krate.files.len());
    let cycles = krate.cycles();
    assert!(cycles.is_empty(), "{}", report(&cycles));
}

#[test]
fn the_check_finds_a_cycle_through_a_reexport_and_a_macro_call() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path();
    std::fs::create_dir(src.join("a")).expect("mkdir");
    std::fs::write(src.join("lib.rs"), "mod a; mod b; pub use b::Thing;").expect("write");
    std::fs::write(
        src.join("a/mod.rs"),
        "mod inner; pub(crate) use inner::Helper;",
    )
    .expect("write");
    // a/inner.rs -> b.rs through the root's re-export of `Thing`.
    std::fs::write(
        src.join("a/inner.rs"),
        "pub struct Helper; fn f() { let _ = crate::Thing; }",
    )
    .expect("write");
    // b.rs -> a/inner.rs through a/mod.rs's re-export, inside a macro call.
    std::fs::write(
        src.join("b.rs"),
        "pub struct Thing; fn g() { println!(\"{:?}\", crate::a::Helper); }",
    )
    .expect("write");
    let krate = Crate::read(src);
    let cycles = krate.cycles();
    let text = report(&cycles);
    assert_eq!(cycles.len(), 1, "{text}");
    assert!(text.contains("a/inner -> b"), "{text}");
    assert!(text.contains("b -> a/inner"), "{text}");
    // A test module's imports do not count.
    std::fs::write(
        src.join("b.rs"),
        "pub struct Thing;\n#[cfg(test)]\nmod tests { use crate::a::Helper; }",
    )
    .expect("write");
    assert!(Crate::read(src).cycles().is_empty());
}
