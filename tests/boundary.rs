//! The boundary is checked type by type before any plugin code runs: a
//! plugin built against an altered copy of the shared types crate is
//! refused, before `dlopen`, with a message that names the method, the type
//! and the first difference; the serving version keeps serving.
//!
//! Each altered plugin is its own package, built against a `rules_api`
//! package of its own (`tests/fixtures/rules-api-variants`), so that its
//! alteration unifies with no other build of `rules_api` though every
//! fixture plugin is built in one cargo run; each test asserts that the
//! altered plugin's type table really differs from the host's.

use std::fs;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use liveswap::{Error, Slot};
use liveswap_tests::{build_with_profile, fixture, marker_path};
use rules_api::{Action, Rules, request, tree};

/// The rules plugin's load-time constructor writes one marker for the
/// whole process: tests that read it take turns.
/// Its drop removes the marker, whatever the test did, so no run leaves
/// one in the temporary directory.
fn one_at_a_time() -> Turn {
    static LOCK: Mutex<()> = Mutex::new(());
    Turn(LOCK.lock().unwrap_or_else(|p| p.into_inner()))
}

struct Turn(#[allow(dead_code)] MutexGuard<'static, ()>);

impl Drop for Turn {
    fn drop(&mut self) {
        let _ = fs::remove_file(marker_path("rules-plugin"));
    }
}

fn section(path: &Path) -> Vec<u8> {
    use object::{Object, ObjectSection};
    let bytes = fs::read(path).expect("read plugin");
    let file = object::File::parse(&*bytes).expect("parse plugin");
    let section = file
        .section_by_name(liveswap::wire::SECTION)
        .expect("a descriptor");
    section.data().expect("section data").to_vec()
}

/// Swaps the serving rules plugin for `variant` and returns the refusal's
/// detail, after checking that nothing of the variant ran or stayed mapped
/// and that the serving version still answers right.
fn refusal(variant: &str) -> String {
    let _turn = one_at_a_time();
    let altered = fixture(variant);
    let baseline = fixture("rules-plugin");
    assert_ne!(
        section(&altered)[liveswap::wire::DESCRIPTOR_SIZE..],
        section(&baseline)[liveswap::wire::DESCRIPTOR_SIZE..],
        "{variant}: the altered plugin's type table must differ"
    );
    let slot = Slot::<dyn Rules>::load(&baseline).expect("load the rules plugin");
    let marker = marker_path("rules-plugin");
    assert!(
        marker.exists(),
        "the baseline's constructor writes the marker"
    );
    fs::remove_file(&marker).unwrap();

    let err = slot
        .swap(&altered)
        .expect_err("an altered plugin is refused");

    assert!(!marker.exists(), "{variant}: the plugin's code ran");
    let stem = altered.file_stem().unwrap().to_string_lossy().into_owned();
    assert!(
        !liveswap::stats::mapped_files()
            .iter()
            .any(|m| m.contains(&stem)),
        "{variant}: nothing of it stays mapped"
    );
    assert_eq!(slot.generation(), 1);
    let verdict = slot.current().check(&request("ann", 90)).unwrap();
    assert_eq!(verdict.action, Action::Block);
    match err {
        Error::LayoutMismatch {
            interface, detail, ..
        } => {
            assert_eq!(interface, "rules_api::Rules");
            detail
        }
        other => panic!("{variant}: expected a layout mismatch, got {other:?}"),
    }
}

#[test]
fn the_unaltered_plugin_serves_right_verdicts() {
    let _turn = one_at_a_time();
    let slot = Slot::<dyn Rules>::load(fixture("rules-plugin")).unwrap();
    let current = slot.current();
    let scores = [10, 49, 50, 79, 80, 203];
    let requests: Vec<_> = scores.iter().map(|&s| request("bo", s)).collect();
    let verdicts = current.check_all(&requests).unwrap();
    let actions: Vec<Action> = verdicts.iter().map(|v| v.action).collect();
    use Action::{Allow, Block, Review};
    assert_eq!(actions, [Allow, Allow, Review, Review, Block, Block]);
    assert_eq!(verdicts[3].reason, "bo: score 79");
    assert_eq!(current.weigh(&tree()).unwrap(), 24);
}

#[test]
fn two_fields_declared_in_the_other_order_are_refused_naming_the_order() {
    let detail = refusal("rules-swapped-fields");
    assert!(
        detail.starts_with(
            "method `check`, argument 1: `rules_api::Request`: the fields are in another \
             order: the host has user, urls, score, age_days, the plugin urls, user, score, \
             age_days; it moves `user` (0 -> "
        ),
        "{detail}"
    );
}

#[test]
fn two_same_size_fields_swapped_are_refused() {
    let detail = refusal("rules-swapped-scores");
    assert!(
        detail.contains(
            "`rules_api::Request`: the fields are in another order: the host has user, urls, \
             score, age_days, the plugin user, urls, age_days, score; it moves `score`"
        ),
        "{detail}"
    );
}

#[test]
fn an_added_field_is_named_before_the_fields_it_moved() {
    let detail = refusal("rules-added-country");
    assert!(
        detail.starts_with(
            "method `check`, argument 1: `rules_api::Request`: the plugin has a field \
             `country: String` at offset "
        ),
        "{detail}"
    );
    assert!(
        detail.contains(" the host does not; it moves `"),
        "{detail}"
    );
}

#[test]
fn a_field_whose_type_changed_is_named_with_both_types() {
    let detail = refusal("rules-narrow-age");
    assert!(
        detail.starts_with(
            "method `check`, argument 1: `rules_api::Request`, field `age_days`: the host has \
             `u64`, the plugin `u32`"
        ),
        "{detail}"
    );
}

#[test]
fn another_type_of_the_same_last_name_inside_a_recursive_type_is_compared() {
    let detail = refusal("rules-swapped-other-tree");
    assert!(
        detail.starts_with(
            "method `weigh`, argument 1: `rules_api::Tree`, field `kids`, \
             `rules_api::other::Tree`: the fields are in another order: the host has tens, \
             ones, the plugin ones, tens"
        ),
        "{detail}"
    );
}

#[test]
fn arguments_of_one_type_declared_in_another_order_are_refused() {
    let detail = refusal("rules-swapped-limits");
    assert!(
        detail.starts_with(
            "method `clamp`: the host names its arguments (value, low, high), the plugin \
             (value, high, low)"
        ),
        "{detail}"
    );
}

#[test]
fn a_grown_struct_is_refused_naming_the_new_field() {
    let detail = refusal("rules-grown-request");
    assert!(
        detail.contains(
            "`rules_api::Request`: the plugin has a field `history: [u64; 3]` at offset "
        ) && detail.ends_with(" the host does not"),
        "{detail}"
    );
}

#[test]
fn an_added_enum_variant_in_a_result_is_refused() {
    let detail = refusal("rules-extra-variant");
    assert_eq!(
        detail,
        "method `check`, result: `rules_api::Verdict`, field `action`, `rules_api::Action`: \
         the plugin has a variant `Quarantine` = 3 the host does not"
    );
}

#[test]
fn two_enum_variants_in_the_other_order_are_refused() {
    let detail = refusal("rules-reordered-variants");
    assert!(
        detail.ends_with(
            "`rules_api::Action`, variant 1: the host has `Review` = 1, the plugin `Block` = 1"
        ),
        "{detail}"
    );
}

#[test]
fn the_types_crate_at_a_compatible_release_with_the_same_types_is_accepted() {
    let _turn = one_at_a_time();
    let plugin = fixture("rules-v1-1");
    let slot = Slot::<dyn Rules>::load(fixture("rules-plugin")).unwrap();
    // The tables differ only in the release (1.0.0 and 1.1.0).
    assert_ne!(
        section(&plugin)[liveswap::wire::DESCRIPTOR_SIZE..],
        section(&fixture("rules-plugin"))[liveswap::wire::DESCRIPTOR_SIZE..]
    );
    let report = slot
        .swap(&plugin)
        .expect("1.1.0 is semver-compatible with 1.0.0, and its types are the same");
    assert_eq!(report.generation, 2);
    let current = slot.current();
    assert_eq!(
        current.check(&request("cy", 55)).unwrap().action,
        Action::Review
    );
    assert_eq!(current.weigh(&tree()).unwrap(), 24);
}

#[test]
fn the_types_crate_at_an_incompatible_release_is_refused_naming_both_releases() {
    let detail = refusal("rules-v2-0");
    assert!(
        detail.starts_with(
            "method `check`, argument 1: `rules_api::Request` comes from rules_api 1.0.0 in \
             the host, rules_api 2.0.0 in the plugin: releases that may change what the type \
             means"
        ),
        "{detail}"
    );
}

/// Slow (a release build with LTO of the library and its dependencies), so
/// `.ci/run` runs it on its own: `cargo test -p liveswap-tests --test
/// integration -- --ignored boundary::`.
#[test]
#[ignore = "builds the library with LTO; run by .ci/run"]
fn a_plugin_built_with_lto_and_strip_keeps_its_descriptor_and_loads() {
    let _turn = one_at_a_time();
    let plugin = build_with_profile("rules-plugin", "lto-strip");
    let baseline = fixture("rules-plugin");
    // Same types, same table: only the build profile differs.
    assert_eq!(
        section(&plugin)[liveswap::wire::DESCRIPTOR_SIZE..],
        section(&baseline)[liveswap::wire::DESCRIPTOR_SIZE..]
    );
    let slot = Slot::<dyn Rules>::load(&baseline).unwrap();
    let report = slot.swap(&plugin).expect("an LTO, stripped plugin loads");
    assert_eq!(report.generation, 2);
    let verdict = slot.current().check(&request("lto", 80)).unwrap();
    assert_eq!(verdict.action, Action::Block);
    let _ = std::fs::remove_file(marker_path("rules-plugin"));
}
