//! A worker count that is not a positive integer.
#[rcos::main(workers = 0)]
async fn main() {}
