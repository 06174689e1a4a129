//! `#[rcos::main]` without `async`.
#[rcos::main]
fn main() {}
