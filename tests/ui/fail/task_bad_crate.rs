//! A `crate` option that is not a path.
use rcos::{TaskRef, task};

#[task(crate = "not a path")]
async fn server(_task: TaskRef) {}

fn main() {
    server::spawn();
}
