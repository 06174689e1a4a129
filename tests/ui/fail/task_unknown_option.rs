//! An unknown `#[task]` option, close to a valid one.
use rcos::{TaskRef, task};

#[task(deamon)]
async fn server(_task: TaskRef) {}

fn main() {
    server::spawn();
}
