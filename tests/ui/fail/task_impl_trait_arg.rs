//! `impl Trait` as a `#[task]` argument type.
use rcos::{TaskRef, task};

#[task]
async fn server(_task: TaskRef, _greeting: impl std::fmt::Display + Send + 'static) {}

fn main() {}
