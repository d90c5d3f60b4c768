use quickstart_interface::Handles;

struct MyHandles;

impl Handles for MyHandles {
    fn some_data(&self) -> String {
        "I live in a shared object".into()
    }

    fn some_fn(&self, i: i64) -> String {
        format!("Adding to 10: {}", i + 10)
    }
}

liveswap::export!(Handles => MyHandles);
