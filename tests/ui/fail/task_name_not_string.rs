//! A task name that is not a string literal.
use rcos::{TaskRef, task};

#[task(name = server)]
async fn server(_task: TaskRef) {}

fn main() {
    server::spawn();
}
