//! `#[task]` on a `const` fn.
use rcos::{TaskRef, task};

#[task]
const async fn server(_task: TaskRef) {}

fn main() {}
