//! A `#[task]` argument that borrows.
use rcos::{TaskRef, task};

#[task]
async fn server(_task: TaskRef, _greeting: &str) {}

fn main() {}
