//! An unknown key in `#[message(...)]`.
use rcos::Message;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Message)]
#[message(nmae = "inventory.Restock")]
struct Restock(u32);

fn main() {
    let _ = Restock::wire_name();
}
