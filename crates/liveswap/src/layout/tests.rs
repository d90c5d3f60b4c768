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
fn a_hash_map_is_known_by_its_key_value_and_hasher_types() {
    use std::collections::HashMap;
    use std::hash::RandomState;
    let d = difference::<HashMap<u64, String, RandomState>, HashMap<u64, u64, RandomState>>();
    assert_eq!(
        d.unwrap(),
        "method `get`, result: the host has `String`, the plugin `u64`"
    );
    let layout = <HashMap<u64, String, RandomState> as CrossSafe>::LAYOUT;
    assert_eq!(layout.args.len(), 3, "the hasher is an argument");
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
