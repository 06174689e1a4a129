//! Flags with values that are not booleans.
use rcos::{TaskRef, task};

#[task(daemon = 1, remote("yes"))]
async fn server(_task: TaskRef) {}

fn main() {
    server::spawn();
}
