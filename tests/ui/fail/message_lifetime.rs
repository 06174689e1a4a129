//! `#[derive(Message)]` on a type that borrows.
use rcos::Message;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Message)]
struct Name<'a> {
    text: &'a str,
}

fn main() {}
