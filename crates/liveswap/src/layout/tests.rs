//! The table's round trip and the comparison's words, on types declared
//! here in pairs: `a::T` as the host has it, `b::T` as a plugin might.

use super::table::encode_vec;
use super::{CrossSafe, MethodLayout, Table, compare_tables};

fn table(ret: &'static super::TypeLayout) -> Table {
    let methods = [MethodLayout {
        name: "get",
        direct: false,
        args: &[],
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
    assert_eq!(
        trees, 2,
        "the type, and its by-name reference inside itself"
    );
}

#[test]
fn a_field_of_another_type_is_named_with_both_types() {
    // Compare `a::Pair` with `b::Pair` as if they had the same path.
    let mut host = table(<a::Pair as CrossSafe>::LAYOUT);
    let plugin = table(<b::Pair as CrossSafe>::LAYOUT);
    host.types[0].name = plugin.types[0].name.clone();
    let d = compare_tables(&host, &plugin).unwrap_err();
    assert!(
        d.contains("field 0: the host has `left: u32` at offset"),
        "{d}"
    );
    assert!(d.contains("the plugin `left: u64` at offset"), "{d}");
}

#[test]
fn no_truncation_or_corruption_of_a_table_panics() {
    let methods = [MethodLayout {
        name: "get",
        direct: false,
        args: &[<b::Tree as CrossSafe>::LAYOUT],
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
fn a_table_whose_types_refer_to_themselves_is_refused() {
    let own = hand_table(&[("loop", vec![0; 12])]);
    let err = Table::decode(&own).unwrap_err();
    assert_eq!(err.what, "type references form a cycle");
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
