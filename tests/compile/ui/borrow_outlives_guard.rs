//! A value borrowed from the plugin cannot be kept past its guard: after
//! the guard drops, the version may be unloaded and the borrow would dangle.

use fixture_api::Calc;
use liveswap::Slot;

fn main() {
    let plugin = Slot::<dyn Calc>::load("libcalc.so").unwrap();
    let label = {
        let guard = plugin.current();
        guard.label().unwrap()
    };
    println!("{label}");
}
