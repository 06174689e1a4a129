//! A `#[task]` option given twice.
use rcos::{TaskRef, task};

#[task(name = "a", daemon, name = "b")]
async fn server(_task: TaskRef) {}

fn main() {
    server::spawn();
}
