//! The exported API object: wires the interface to `my_code`. This part
//! rarely changes.

use liveswap_demo_types::Handles;

use crate::my_code;

struct DemoHandles {
    data: String,
}

impl Handles for DemoHandles {
    fn some_data(&self) -> String {
        self.data.clone()
    }

    fn some_fn(&self, i: i64) -> String {
        my_code::some_fn(i)
    }
}

liveswap::export!(Handles => DemoHandles { data: my_code::some_data() });
