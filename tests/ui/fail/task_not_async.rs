//! `#[task]` on a fn without `async`.
use rcos::{TaskRef, task};

#[task]
fn server(_task: TaskRef) {}

fn main() {}
