// A field whose type is another crate's type of the same name as the
// deriving type is that other type, not a recursion: it must be
// `CrossSafe` itself (`std::io::Error` is not).
#[derive(liveswap::CrossSafe)]
pub enum Error {
    Io(std::io::Error),
    Message(String),
}

fn main() {}
