//! `#[derive(Message)]` on a union.
use rcos::Message;

#[derive(Message)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
