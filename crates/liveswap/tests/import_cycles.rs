//! The library's files import one another without a cycle: the graph of
//! `use` and paths between the files of `src/` (tests excluded) has no
//! strongly connected component of more than one file. A re-export is
//! followed to the file that defines the item, so `crate::Slot` is an
//! edge to `slot.rs`, not to `lib.rs`; `lib.rs` itself (the root that
//! declares and re-exports everything) is left out, but its inline
//! modules' re-exports (`liveswap::stats`) are followed. A name a `use`
//! brings in (`use crate::footprint;`) stands for its path
//! (`footprint::keys::free()` is an edge to `footprint/keys.rs`). The
//! files of one module may use one another: a group of files that import
//! one another is allowed only when it is a directory's root file
//! (`mod.rs`) and files under that directory; a cycle that crosses a
//! module's boundary fails.
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
            && let Some((target, used)) = self.reexport(&module, &path[n..])
        {
            let mut target = target;
            target.extend_from_slice(&path[n + used..]);
            return self.resolve(&target, depth + 1).or(Some(module));
        }
        Some(module)
    }

    /// What `rest` (the path after `module`) names through `module`'s
    /// file's re-exports, its own or those of an inline module in it
    /// (`lib.rs`'s `pub mod stats { pub use ... }`): the absolute path it
    /// points to, and how many segments of `rest` that used.
    fn reexport(&self, module: &ModPath, rest: &[String]) -> Option<(Vec<String>, usize)> {
        let file = self.files.get(module)?;
        let mut items = &file.syntax.items;
        let mut inline = module.clone();
        for (used, name) in rest.iter().enumerate() {
            if let Some(path) = public_use(items, name) {
                let path = absolute(self, &inline, &path, &Aliases::new())?;
                return Some((path, used + 1));
            }
            // An inline module: look at its items for the next segment.
            let inner = items.iter().find_map(|item| match item {
                syn::Item::Mod(m) if m.ident == name.as_str() && !is_test(&m.attrs) => {
                    m.content.as_ref().map(|(_, items)| items)
                }
                _ => None,
            })?;
            items = inner;
            inline.push(name.clone());
        }
        None
    }

    /// The files `module`'s file refers to.
    fn edges(&self, module: &ModPath) -> BTreeSet<ModPath> {
        let file = &self.files[module];
        let mut paths = Paths::default();
        let mut aliases = Aliases::new();
        for item in &file.syntax.items {
            if is_test_item(item) {
                continue;
            }
            paths.visit_item(item);
            // Names a `use` brings in (`use crate::footprint;` makes
            // `footprint::keys::free()` a path into `footprint/keys.rs`).
            if let syn::Item::Use(u) = item {
                leaves(&u.tree, &mut Vec::new(), &mut |path, alias| {
                    if matches!(
                        path.first().map(String::as_str),
                        Some("crate" | "super" | "self")
                    ) {
                        aliases.insert(alias.to_string(), path.to_vec());
                    }
                });
            }
        }
        let mut out = BTreeSet::new();
        for path in paths.found {
            let Some(path) = absolute(self, &file.module, &path, &aliases) else {
                continue;
            };
            if let Some(target) = self.resolve(&path, 0)
                && target != *module
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
            .filter(|c| c.len() > 1 && !within_one_module(c))
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
fn absolute(
    krate: &Crate,
    module: &ModPath,
    path: &[String],
    aliases: &Aliases,
) -> Option<Vec<String>> {
    let (first, rest) = path.split_first()?;
    if let Some(alias) = aliases.get(first)
        && alias.len() > 1
    {
        let mut full = alias.clone();
        full.extend_from_slice(rest);
        return absolute(krate, module, &full, &Aliases::new());
    }
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

/// The names a file's `use` items bring in, and what they stand for.
type Aliases = BTreeMap<String, Vec<String>>;

/// The path a `pub` or `pub(crate)` `use` among `items` gives `name`.
fn public_use(items: &[syn::Item], name: &str) -> Option<Vec<String>> {
    for item in items {
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
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Whether a group of files that import one another lies within one
/// module: one of them is a directory's root file (`mod.rs`) and the
/// others are under that directory. A module's files may use one another;
/// a cycle that crosses a module's boundary may not.
fn within_one_module(component: &[ModPath]) -> bool {
    component
        .iter()
        .any(|root| component.iter().all(|m| m.starts_with(root)))
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

/// A crate laid out from `(path, text)` pairs in a temporary directory.
fn layout(files: &[(&str, &str)]) -> (tempfile::TempDir, Crate) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let krate = Crate::read(dir.path());
    (dir, krate)
}

#[test]
fn the_check_finds_a_cycle_through_a_reexport_and_a_macro_call() {
    let (_dir, krate) = layout(&[
        ("lib.rs", "mod a; mod b; pub use b::Thing;"),
        ("a/mod.rs", "mod inner; pub(crate) use inner::Helper;"),
        // a/inner.rs -> b.rs through the root's re-export of `Thing`.
        (
            "a/inner.rs",
            "pub struct Helper; fn f() { let _ = crate::Thing; }",
        ),
        // b.rs -> a/inner.rs through a/mod.rs's re-export, in a macro call.
        (
            "b.rs",
            "pub struct Thing; fn g() { println!(\"{:?}\", crate::a::Helper); }",
        ),
    ]);
    let text = report(&krate.cycles());
    assert!(text.contains("a/inner -> b"), "{text}");
    assert!(text.contains("b -> a/inner"), "{text}");
}

#[test]
fn the_check_ignores_a_test_module_and_allows_a_module_s_own_files() {
    let (_dir, krate) = layout(&[
        ("lib.rs", "mod a; mod b;"),
        (
            "a/mod.rs",
            "mod x; pub struct Core; fn f() { x::helper(); }",
        ),
        ("a/x.rs", "pub fn helper() { let _ = super::Core; }"),
        (
            "b.rs",
            "pub struct Thing;\n#[cfg(test)]\nmod tests { use crate::a::Core; }",
        ),
    ]);
    assert!(krate.cycles().is_empty(), "{}", report(&krate.cycles()));
}

#[test]
fn the_check_finds_a_cycle_through_a_module_s_root_and_one_of_its_files() {
    // a/mod.rs -> a/x.rs -> b.rs -> a/mod.rs: it crosses the module `a`.
    let (_dir, krate) = layout(&[
        ("lib.rs", "mod a; mod b;"),
        (
            "a/mod.rs",
            "mod x; pub struct Core; fn f() { x::helper(); }",
        ),
        ("a/x.rs", "pub fn helper() { crate::b::go(); }"),
        ("b.rs", "pub fn go() { let _ = crate::a::Core; }"),
    ]);
    let text = report(&krate.cycles());
    assert!(text.contains("a cycle of 3 files"), "{text}");
}

#[test]
fn the_check_follows_a_module_alias_and_a_root_inline_module() {
    let (_dir, krate) = layout(&[
        (
            "lib.rs",
            "mod a; mod b; pub mod api { pub use crate::b::Thing; }",
        ),
        ("a/mod.rs", "pub mod deep;"),
        // `use crate::a;` then `a::deep::f()`: an edge to a/deep.rs.
        (
            "b.rs",
            "use crate::a;\npub struct Thing; fn g() { a::deep::f(); }",
        ),
        // Back through the root's inline module `api`.
        ("a/deep.rs", "pub fn f() { let _ = crate::api::Thing; }"),
    ]);
    let text = report(&krate.cycles());
    assert!(text.contains("b -> a/deep"), "{text}");
    assert!(text.contains("a/deep -> b"), "{text}");
}
