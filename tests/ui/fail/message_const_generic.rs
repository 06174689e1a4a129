//! `#[derive(Message)]` on a type with a const generic parameter.
use rcos::Message;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Message)]
struct Buffer<const N: usize> {
    len: u8,
}

fn main() {}
