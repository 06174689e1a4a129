//! A `#[rcos::main]` option given twice.
#[rcos::main(workers = 1, workers = 2)]
async fn main() {}
