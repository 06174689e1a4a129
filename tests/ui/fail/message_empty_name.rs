//! An empty wire name.
use rcos::Message;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Message)]
#[message(name = "")]
struct Restock(u32);

fn main() {
    let _ = Restock::wire_name();
}
