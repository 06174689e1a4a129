//! `#[rcos::main]` on a fn with parameters.
#[rcos::main]
async fn run(_args: Vec<String>) {}

fn main() {}
