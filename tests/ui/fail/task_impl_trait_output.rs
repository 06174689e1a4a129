//! `impl Trait` as a `#[task]` output type.
use rcos::{TaskRef, task};

#[task]
async fn server(_task: TaskRef) -> impl std::fmt::Display {
    1
}

fn main() {}
