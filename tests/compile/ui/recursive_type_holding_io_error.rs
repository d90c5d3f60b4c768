// A type that contains itself does not vouch for another type of the same
// last name inside it: `std::io::Error` must be `CrossSafe` on its own.
#[derive(liveswap::CrossSafe)]
pub enum Error {
    Message(String),
    Caused(Box<(Error, std::io::Error)>),
}

fn main() {}
