//! A key given twice across `#[message(...)]` attributes.
use rcos::Message;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Message)]
#[message(name = "a.Restock")]
#[message(name = "b.Restock")]
struct Restock(u32);

fn main() {
    let _ = Restock::wire_name();
}
