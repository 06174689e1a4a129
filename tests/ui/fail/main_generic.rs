//! `#[rcos::main]` on a generic fn.
#[rcos::main]
async fn run<T: Default>() {}

fn main() {}
