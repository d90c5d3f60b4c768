//! Host services (imports): a plugin calls an object the host lends it.
//! Checked before any plugin code runs (the fixture's load-time
//! constructor writes a marker file: no marker, no code ran); panics in
//! the host's object come back to the plugin as errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fixture_api::marker_path;
use liveswap::{Error, Options, Slot};
use liveswap_tests::fixture;
use quote_api::{HostData, Quote};

/// The host's service: prices it knows, and a method that panics.
#[derive(Default)]
struct Prices {
    asked: AtomicU64,
}

impl HostData for Prices {
    fn price(&self, item: String) -> Option<u64> {
        self.asked.fetch_add(1, Ordering::Relaxed);
        (item == "apple").then_some(21)
    }
    fn explode(&self) -> u32 {
        // An unwind without the panic hook: with `RUST_BACKTRACE` set, std's
        // hook would symbolize the plugin frames below and map plugin
        // copies for good (see README), which other tests of this binary
        // count. What crosses the boundary is the same unwind.
        std::panic::resume_unwind(Box::new("the host's service failed"))
    }
    fn listing(&self, item: String) -> Option<quote_api::Listing> {
        Some(quote_api::Listing { item, price: 21 })
    }
}

/// The marker file is one per process: the tests that load the fixture
/// run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn no_marker() {
    let _ = std::fs::remove_file(marker_path("quote-plugin"));
}

#[test]
fn a_plugin_calls_the_service_the_host_provides() {
    let _serial = serial();
    let prices = Arc::new(Prices::default());
    // Provided besides it: another interface of the same name (other
    // types), which the plugin does not import.
    let slot = Slot::<dyn Quote>::load_with(
        fixture("quote-plugin"),
        Options::default()
            .provide::<dyn changed::HostData, _>(Arc::new(changed::Prices))
            .provide::<dyn HostData, _>(Arc::clone(&prices)),
    )
    .unwrap();
    assert_eq!(slot.current().quote("apple".into()).unwrap(), Ok(42));
    assert_eq!(
        slot.current().quote("pear".into()).unwrap(),
        Err("the host has no price for pear".into())
    );
    assert_eq!(prices.asked.load(Ordering::Relaxed), 2);
    // Swapped: the new generation gets the same service.
    slot.swap(fixture("quote-plugin")).unwrap();
    assert_eq!(slot.current().quote("apple".into()).unwrap(), Ok(42));
    no_marker();
}

#[test]
fn the_hosts_object_lives_until_every_generation_given_it_is_unloaded() {
    let _serial = serial();
    let prices = Arc::new(Prices::default());
    let slot = Slot::<dyn Quote>::load_with(
        fixture("quote-plugin"),
        Options::default().provide::<dyn HostData, _>(Arc::clone(&prices)),
    )
    .unwrap();
    // A guard keeps the first generation while the second serves.
    let old = slot.current_owned();
    slot.swap(fixture("quote-plugin")).unwrap();
    drop(slot);
    assert!(
        Arc::strong_count(&prices) > 1,
        "held for the live generation"
    );
    assert_eq!(old.quote("apple".into()).unwrap(), Ok(42));
    drop(old);
    let deadline = std::time::Instant::now() + liveswap_tests::REAP_TIMEOUT;
    while Arc::strong_count(&prices) > 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        Arc::strong_count(&prices),
        1,
        "released once both are unloaded"
    );
    no_marker();
}

#[test]
fn a_panic_in_the_hosts_service_is_an_error_in_the_plugin_not_an_abort() {
    let _serial = serial();
    let slot = Slot::<dyn Quote>::load_with(
        fixture("quote-plugin"),
        Options::default().provide::<dyn HostData, _>(Arc::new(Prices::default())),
    )
    .unwrap();
    for _ in 0..20 {
        let text = slot.current().host_panics().unwrap();
        assert!(text.contains("the host's service failed"), "{text}");
    }
    assert_eq!(slot.current().quote("apple".into()).unwrap(), Ok(42));
    no_marker();
}

#[test]
fn a_host_that_does_not_provide_an_import_is_refused_before_any_plugin_code_runs() {
    let _serial = serial();
    no_marker();
    let Err(err) = Slot::<dyn Quote>::load(fixture("quote-plugin")) else {
        panic!("loaded without the import");
    };
    assert!(
        matches!(&err, Error::ImportMissing { interface, provided, .. }
            if interface == "fixture::HostData" && provided.is_empty()),
        "{err}"
    );
    assert!(
        err.to_string().contains("imports `fixture::HostData`"),
        "{err}"
    );
    assert!(!marker_path("quote-plugin").exists(), "no code of it ran");
}

/// The host's idea of `HostData`, changed: `price` takes a `u32`.
// Only its layout matters here: its view's methods are never called.
#[allow(dead_code)]
mod changed {
    #[liveswap::interface(version = 1, name = "fixture::HostData")]
    pub trait HostData: Send + Sync {
        fn price(&self, item: u32) -> Option<u64>;
        fn explode(&self) -> u32;
        fn listing(&self, item: String) -> Option<quote_api::Listing>;
    }

    pub struct Prices;

    impl HostData for Prices {
        fn price(&self, _: u32) -> Option<u64> {
            None
        }
        fn explode(&self) -> u32 {
            0
        }
        fn listing(&self, _: String) -> Option<quote_api::Listing> {
            None
        }
    }
}

#[test]
fn an_import_whose_types_changed_is_refused_naming_the_method() {
    let _serial = serial();
    no_marker();
    let Err(err) = Slot::<dyn Quote>::load_with(
        fixture("quote-plugin"),
        Options::default().provide::<dyn changed::HostData, _>(Arc::new(changed::Prices)),
    ) else {
        panic!("loaded with a changed import");
    };
    assert!(
        matches!(&err, Error::ImportMismatch { interface, detail, .. }
            if interface == "fixture::HostData"
                && detail == "method `price`, argument 1: the host has `u32`, the plugin `String`"),
        "{err}"
    );
    assert!(!marker_path("quote-plugin").exists(), "no code of it ran");
}

#[test]
fn an_import_whose_struct_changed_a_fields_type_is_refused_naming_the_field() {
    let _serial = serial();
    // The quote plugin built against `quote-api` whose `Listing::price`
    // is a `u32`; this host has it as a `u64`.
    let changed = liveswap_tests::fixture("quote-plugin-changed-listing");
    no_marker();
    let Err(err) = Slot::<dyn Quote>::load_with(
        &changed,
        Options::default().provide::<dyn HostData, _>(Arc::new(Prices::default())),
    ) else {
        panic!("loaded with a changed import");
    };
    let Error::ImportMismatch {
        interface, detail, ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(interface, "fixture::HostData");
    assert_eq!(
        detail,
        "method `listing`, result: `quote_api::Listing`, field `price`: the host has `u64`, \
         the plugin `u32`"
    );
    assert!(!marker_path("quote-plugin").exists(), "no code of it ran");
}

/// A second service, for the plugin that imports two: its fetch is ready
/// at once.
struct Fetches;

impl quote_api::HostFetch for Fetches {
    async fn fetch(&self, item: String, _delay_ms: u64) -> Option<u64> {
        (item == "apple").then_some(100)
    }
    async fn explode(&self) -> u32 {
        panic!("not called")
    }
    async fn keep_waker(&self) -> u32 {
        7
    }
}

#[test]
fn a_plugin_importing_two_services_uses_both_among_more_the_host_provides() {
    let _serial = serial();
    let plugin = liveswap_tests::fixture("quote-plugin-two-imports");
    let slot = Slot::<dyn Quote>::load_with(
        &plugin,
        Options::default()
            .provide::<dyn quote_api::Pricer, _>(Arc::new(Unused))
            .provide::<dyn quote_api::HostFetch, _>(Arc::new(Fetches))
            .provide::<dyn HostData, _>(Arc::new(Prices::default())),
    )
    .unwrap();
    assert_eq!(
        slot.current().quote("apple".into()).unwrap(),
        Ok(2 * 21 + 100),
        "HostData's price twice, plus HostFetch's"
    );
    no_marker();
}

#[test]
fn a_plugin_importing_two_services_is_refused_when_one_is_missing() {
    let _serial = serial();
    let plugin = liveswap_tests::fixture("quote-plugin-two-imports");
    no_marker();
    let Err(err) = Slot::<dyn Quote>::load_with(
        &plugin,
        Options::default().provide::<dyn HostData, _>(Arc::new(Prices::default())),
    ) else {
        panic!("loaded without HostFetch");
    };
    assert!(
        matches!(&err, Error::ImportMissing { interface, provided, .. }
            if interface == "fixture::HostFetch" && provided == &["fixture::HostData".to_string()]),
        "{err}"
    );
    assert!(!marker_path("quote-plugin").exists(), "no code of it ran");
}

/// An interface provided and imported by nobody.
struct Unused;

impl quote_api::Pricer for Unused {
    async fn price(&self, _: String, _: u64) -> Result<u64, String> {
        Err("unused".into())
    }
    async fn host_panics(&self) -> String {
        String::new()
    }
    fn keep_waker_blocking(&self) -> u32 {
        0
    }
    fn spawn_fetch(&self, _: String, _: u64) -> bool {
        false
    }
    fn spawn_blocking_fetch(&self, _: String) -> bool {
        false
    }
    fn fetched(&self) -> u64 {
        0
    }
}

#[test]
fn imports_are_checked_offline_against_the_interfaces_a_host_binary_carries() {
    // This test binary links `quote-api`, so it carries `HostData`'s
    // section, as a host built with it would.
    let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let file = object::File::parse(&*exe).unwrap();
    use object::{Object, ObjectSection};
    let carried = file
        .section_by_name(liveswap::check::HOST_SECTION)
        .unwrap()
        .data()
        .unwrap();
    let host = liveswap::check::host_sections(carried).unwrap();
    let plugin = std::fs::read(fixture("quote-plugin")).unwrap();
    let names = liveswap::check::check_imports(&fixture("quote-plugin"), &plugin, &host).unwrap();
    assert_eq!(names, vec!["fixture::HostData".to_string()]);
    // Against a host that carries nothing of it: refused, named.
    let err = liveswap::check::check_imports(&fixture("quote-plugin"), &plugin, &[]).unwrap_err();
    assert!(matches!(err, Error::ImportMissing { .. }), "{err}");
}
