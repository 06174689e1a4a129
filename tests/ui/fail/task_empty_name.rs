//! An empty task name.
use rcos::{TaskRef, task};

#[task(name = "")]
async fn server(_task: TaskRef) {}

fn main() {
    server::spawn();
}
