//! The table's round trip and the comparison's words, on types declared
//! here in pairs: `a::T` as the host has it, `b::T` as a plugin might.

use super::table::encode_vec;
use super::{CrossSafe, MethodLayout, Table, compare_tables};

fn table(ret: super::LayoutRef) -> Table {
    let methods = [MethodLayout {
        name: "get",
        direct: false,
        args: &[],
        arg_names: &[],
        ret,
    }];
    Table::decode(&encode_vec(&methods)).expect("a table decodes")
}

/// The first difference between `A` as the host's type and `B` as the
/// plugin's (both must have the same path: declare them in modules `a`
/// and `b` under the same name, and rename with `name`).
fn difference<A: CrossSafe, B: CrossSafe>() -> Option<String> {
    compare_tables(&table(A::LAYOUT), &table(B::LAYOUT)).err()
}

#[test]
fn a_table_round_trips_and_equal_types_compare_equal() {
    let t = table(<Vec<(u8, Option<String>)> as CrossSafe>::LAYOUT);
    assert_eq!(t.methods.len(), 1);
    assert_eq!(t.types.len(), 5, "{t:#?}");
    assert_eq!(difference::<Vec<u8>, Vec<u8>>(), None);
}

#[test]
fn a_niche_is_a_difference() {
    let d = difference::<u32, std::num::NonZero<u32>>().unwrap();
    assert_eq!(
        d,
        "method `get`, result: the host has `u32`, the plugin `NonZero<u32>`"
    );
}

#[test]
fn bool_and_u8_differ_and_so_do_string_and_bytes() {
    assert!(difference::<bool, u8>().is_some());
    assert!(difference::<String, Vec<u8>>().is_some());
    assert!(difference::<char, u32>().is_some());
}

#[test]
fn an_array_length_is_part_of_the_type() {
    let d = difference::<[u64; 3], [u64; 4]>().unwrap();
    assert!(
        d.ends_with("the host has `[u64; 3]`, the plugin `[u64; 4]`"),
        "{d}"
    );
}

#[test]
fn a_map_is_known_by_its_key_and_value_types() {
    use std::collections::BTreeMap;
    let d = difference::<BTreeMap<u64, String>, BTreeMap<u64, u64>>();
    assert_eq!(
        d.unwrap(),
        "method `get`, result: the host has `String`, the plugin `u64`"
    );
}

mod a {
    #[derive(crate::CrossSafe)]
    pub struct Tree {
        pub label: String,
        pub children: Vec<Tree>,
    }
    #[derive(crate::CrossSafe)]
    pub struct Pair {
        pub left: u32,
        pub right: u64,
    }
}

mod b {
    #[derive(crate::CrossSafe)]
    pub struct Tree {
        pub label: String,
        pub children: Vec<Tree>,
        pub weight: u8,
    }
    #[derive(crate::CrossSafe)]
    pub struct Pair {
        pub left: u64,
        pub right: u64,
    }
}

#[test]
fn a_recursive_type_is_described_once_and_compared() {
    let t = table(<a::Tree as CrossSafe>::LAYOUT);
    let trees = t
        .types
        .iter()
        .filter(|t| t.name.ends_with("::Tree"))
        .count();
    assert_eq!(trees, 1, "one entry, which its own field reaches again");
    let tree = t
        .types
        .iter()
        .position(|t| t.name.ends_with("::Tree"))
        .unwrap();
    let super::Shape::Struct(fields) = &t.types[tree].shape else {
        panic!("a struct")
    };
    let vec = &t.types[fields[1].ty];
    assert_eq!(vec.args, vec![tree], "`Vec<Tree>` points back at `Tree`");
}

#[test]
fn a_field_of_another_type_is_named_with_both_types() {
    // Compare `a::Pair` with `b::Pair` as if they had the same path.
    let mut host = table(<a::Pair as CrossSafe>::LAYOUT);
    let plugin = table(<b::Pair as CrossSafe>::LAYOUT);
    host.types[0].name = plugin.types[0].name.clone();
    let d = compare_tables(&host, &plugin).unwrap_err();
    assert!(
        d.contains("field `left`: the host has `u32`, the plugin `u64`"),
        "{d}"
    );
}

#[test]
fn no_truncation_or_corruption_of_a_table_panics() {
    let methods = [MethodLayout {
        name: "get",
        direct: false,
        args: &[<b::Tree as CrossSafe>::LAYOUT],
        arg_names: &["tree"],
        ret: <Result<a::Pair, crate::RemoteError> as CrossSafe>::LAYOUT,
    }];
    let bytes = encode_vec(&methods);
    let good = Table::decode(&bytes).unwrap();
    for cut in 0..bytes.len() {
        assert!(Table::decode(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    // Every byte flipped: a clean error or a table that compares cleanly.
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0xff;
        if let Ok(t) = Table::decode(&bad) {
            let _ = compare_tables(&good, &t);
            let _ = compare_tables(&t, &good);
        }
    }
}

/// A table written by hand: `types` as (name, args), all of kind `Std`,
/// and one method `get` returning type 0.
fn hand_table(types: &[(&str, Vec<u32>)]) -> Vec<u8> {
    fn str(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as u32).to_le_bytes());
        out.extend(s.as_bytes());
    }
    let mut out = Vec::new();
    out.extend((types.len() as u32).to_le_bytes());
    for (name, args) in types {
        str(&mut out, name);
        str(&mut out, "std");
        str(&mut out, "");
        for v in [8u64, 8, 16] {
            out.extend(v.to_le_bytes());
        }
        out.push(super::table::KIND_STD);
        out.extend((args.len() as u32).to_le_bytes());
        for a in args {
            out.extend(a.to_le_bytes());
        }
    }
    out.extend(1u32.to_le_bytes());
    str(&mut out, "get");
    out.push(0);
    out.extend(0u32.to_le_bytes());
    out.extend(0u32.to_le_bytes());
    out
}

#[test]
fn a_table_whose_generic_arguments_loop_is_refused() {
    let own = hand_table(&[("loop", vec![0; 12])]);
    let err = Table::decode(&own).unwrap_err();
    assert_eq!(err.what, "a type is among its own generic arguments");
    let pair = hand_table(&[("a", vec![1]), ("b", vec![0])]);
    assert!(Table::decode(&pair).is_err());
    let wide = hand_table(&[("wide", vec![1; 17]), ("leaf", vec![])]);
    assert_eq!(
        Table::decode(&wide).unwrap_err().what,
        "more generic arguments than a type may have"
    );
}

#[test]
fn a_deep_diamond_of_types_is_compared_and_shown_in_bounded_work() {
    // Type i has sixteen arguments, all type i + 1: 16^40 paths, 41 types.
    let depth = 40u32;
    let mut types: Vec<(String, Vec<u32>)> = (0..depth)
        .map(|i| (format!("t{i}"), vec![i + 1; 16]))
        .collect();
    types.push(("leaf".into(), vec![]));
    let as_refs: Vec<(&str, Vec<u32>)> =
        types.iter().map(|(n, a)| (n.as_str(), a.clone())).collect();
    let host = Table::decode(&hand_table(&as_refs)).unwrap();
    let mut plugin = host.clone();
    plugin.methods[0].name = "got".into();
    let d = compare_tables(&host, &plugin).unwrap_err();
    assert!(d.len() < 8_000, "{} bytes", d.len());
    plugin = host.clone();
    plugin.types[depth as usize].name = "other".into();
    let d = compare_tables(&host, &plugin).unwrap_err();
    assert!(
        d.ends_with("the host has `leaf`, the plugin `other`"),
        "{d}"
    );
}

/// `host` and `plugin` compared as if they had the same path (the
/// plugin's names are given to the host's types).
fn difference_renamed(host: super::LayoutRef, plugin: super::LayoutRef) -> Option<String> {
    let mut host = table(host);
    let plugin = table(plugin);
    for t in &mut host.types {
        if let Some(p) = plugin
            .types
            .iter()
            .find(|p| p.name.rsplit("::").next() == t.name.rsplit("::").next())
        {
            t.name = p.name.clone();
        }
    }
    compare_tables(&host, &plugin).err()
}

mod request_v1 {
    #[derive(crate::CrossSafe)]
    pub struct Request {
        pub user: String,
        pub score: u32,
        pub kind: u8,
    }
}

mod request_v2 {
    #[derive(crate::CrossSafe)]
    pub struct Request {
        pub user: String,
        pub country: String,
        pub score: u32,
        pub kind: u8,
    }
    #[derive(crate::CrossSafe)]
    #[repr(C)]
    pub struct Node {
        pub len: u64,
        pub kind: u8,
    }
    #[derive(crate::CrossSafe)]
    #[repr(C)]
    pub struct Swapped {
        pub kind: u8,
        pub len: u32,
    }
}

mod node_v1 {
    #[derive(crate::CrossSafe)]
    #[repr(C)]
    pub struct Node {
        pub len: u32,
        pub kind: u8,
    }
    #[derive(crate::CrossSafe)]
    #[repr(C)]
    pub struct Swapped {
        pub len: u32,
        pub kind: u8,
    }
}

#[test]
fn an_added_field_is_named_first_and_then_what_it_moved() {
    let d = difference_renamed(
        <request_v1::Request as CrossSafe>::LAYOUT,
        <request_v2::Request as CrossSafe>::LAYOUT,
    )
    .unwrap();
    assert!(
        d.contains("the plugin has a field `country: String` at offset"),
        "{d}"
    );
    assert!(d.contains("the host does not"), "{d}");
    let removed = difference_renamed(
        <request_v2::Request as CrossSafe>::LAYOUT,
        <request_v1::Request as CrossSafe>::LAYOUT,
    )
    .unwrap();
    assert!(
        removed.contains("the host has a field `country: String`")
            && removed.contains("the plugin does not"),
        "{removed}"
    );
}

#[test]
fn a_field_whose_type_changed_is_named_with_both_types_and_what_moved() {
    let d = difference_renamed(
        <node_v1::Node as CrossSafe>::LAYOUT,
        <request_v2::Node as CrossSafe>::LAYOUT,
    )
    .unwrap();
    assert!(
        d.contains("field `len`: the host has `u32`, the plugin `u64`; it moves `kind` (4 -> 8)"),
        "{d}"
    );
}

#[test]
fn fields_in_another_order_are_named_as_such() {
    let d = difference_renamed(
        <node_v1::Swapped as CrossSafe>::LAYOUT,
        <request_v2::Swapped as CrossSafe>::LAYOUT,
    )
    .unwrap();
    assert!(
        d.contains("the fields are in another order: the host has len, kind, the plugin kind, len"),
        "{d}"
    );
}

#[test]
fn releases_that_semver_calls_compatible_compare_by_contents() {
    let mut host = table(<a::Pair as CrossSafe>::LAYOUT);
    let mut plugin = host.clone();
    host.types[0].version = "0.7.12".into();
    plugin.types[0].version = "0.7.13".into();
    assert_eq!(compare_tables(&host, &plugin), Ok(()), "a patch release");
    plugin.types[0].version = "0.8.0".into();
    let d = compare_tables(&host, &plugin).unwrap_err();
    assert!(
        d.contains("comes from liveswap 0.7.12 in the host, liveswap 0.8.0 in the plugin"),
        "{d}"
    );
    host.types[0].version = "1.2.0".into();
    plugin.types[0].version = "1.9.3".into();
    assert_eq!(
        compare_tables(&host, &plugin),
        Ok(()),
        "a minor release after 1.0"
    );
    plugin.types[0].version = "2.0.0".into();
    assert!(compare_tables(&host, &plugin).is_err(), "a major release");
}

#[test]
fn a_compatible_release_that_changed_a_type_is_named_in_the_refusal() {
    let mut host = table(<a::Pair as CrossSafe>::LAYOUT);
    let mut plugin = table(<b::Pair as CrossSafe>::LAYOUT);
    host.types[0].name = plugin.types[0].name.clone();
    host.types[0].version = "0.7.12".into();
    plugin.types[0].version = "0.7.13".into();
    let d = compare_tables(&host, &plugin).unwrap_err();
    assert!(
        d.contains("(liveswap 0.7.12 in the host, 0.7.13 in the plugin)"),
        "{d}"
    );
}

mod recursion {
    pub type Kids = Vec<Tree>;
    #[derive(crate::CrossSafe)]
    pub struct Tree {
        pub kids: Kids,
        pub forest: Option<Box<Forest>>,
    }
    #[derive(crate::CrossSafe)]
    pub struct Forest {
        pub trees: Vec<Tree>,
        pub this: Vec<Self>,
    }
    pub mod other {
        #[derive(crate::CrossSafe)]
        pub struct Tree {
            pub a: u8,
            pub b: u16,
        }
    }
    #[derive(crate::CrossSafe)]
    pub struct Mixed {
        pub kids: Vec<(Mixed, other::Tree)>,
    }
}

#[test]
fn recursion_through_an_alias_and_between_two_types_is_described() {
    let t = table(<recursion::Tree as CrossSafe>::LAYOUT);
    let names: Vec<&str> = t.types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names.iter().filter(|n| n.ends_with("::Tree")).count(),
        1,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| n.ends_with("::Forest")).count(),
        1,
        "{names:?}"
    );
    assert_eq!(compare_tables(&t, &t.clone()), Ok(()));
}

#[test]
fn another_type_of_the_same_last_name_inside_a_recursive_type_is_described_in_full() {
    let t = table(<recursion::Mixed as CrossSafe>::LAYOUT);
    let other = t
        .types
        .iter()
        .find(|t| t.name.ends_with("other::Tree"))
        .expect("other::Tree is in the table");
    let super::Shape::Struct(fields) = &other.shape else {
        panic!("described with its fields: {other:?}")
    };
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
}

fn transfer(arg_names: &'static [&'static str]) -> Table {
    const U64S: [super::LayoutRef; 2] = [<u64 as CrossSafe>::LAYOUT; 2];
    let methods = [MethodLayout {
        name: "transfer",
        direct: true,
        args: &U64S,
        arg_names,
        ret: <u64 as CrossSafe>::LAYOUT,
    }];
    Table::decode(&encode_vec(&methods)).expect("a table decodes")
}

#[test]
fn arguments_of_one_type_in_another_order_are_refused() {
    let err = compare_tables(&transfer(&["from", "to"]), &transfer(&["to", "from"]))
        .expect_err("swapped arguments refused");
    assert!(
        err.contains("the host names its arguments (from, to), the plugin (to, from)"),
        "{err}"
    );
    assert!(err.contains("method `transfer`"), "{err}");
}

#[test]
fn an_argument_renamed_in_place_is_accepted() {
    assert_eq!(
        compare_tables(&transfer(&["from", "to"]), &transfer(&["source", "to"])).err(),
        None
    );
    assert_eq!(
        compare_tables(&transfer(&["_", "_"]), &transfer(&["a", "b"])).err(),
        None,
        "`_` names nothing"
    );
}
