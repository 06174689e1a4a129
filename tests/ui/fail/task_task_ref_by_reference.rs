//! A `#[task]` fn that borrows its `TaskRef`.
use rcos::{TaskRef, task};

#[task]
async fn server(_task: &TaskRef) {}

fn main() {}
