//! A conditional `#[task]` parameter.
use rcos::{TaskRef, task};

#[task]
async fn server(_task: TaskRef, #[cfg(unix)] _fd: i32) {}

fn main() {}
