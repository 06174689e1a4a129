//! `#[rcos::main]` without a return value.

use rcos::{TaskRef, task};

/// Doubles.
#[task]
async fn double(task: TaskRef, n: u32) -> u32 {
    let _ = task;
    n * 2
}

#[rcos::main]
async fn main() {
    let t = double::spawn(21);
    assert_eq!(t.finish().await.get::<u32>(), Some(42));
}
