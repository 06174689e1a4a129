//! A `#[task]` fn without its `TaskRef` parameter.
use rcos::task;

#[task]
async fn server(greeting: String, count: u32) -> u64 {
    count as u64 + greeting.len() as u64
}

fn main() {}
