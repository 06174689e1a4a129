//! An unknown `#[rcos::main]` option.
#[rcos::main(flavor = "multi_thread")]
async fn main() {}
