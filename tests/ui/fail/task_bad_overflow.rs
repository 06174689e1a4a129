//! An unknown overflow policy.
use rcos::{TaskRef, task};

#[task(mailbox = 10, overflow = "block")]
async fn server(_task: TaskRef) {}

fn main() {
    server::spawn();
}
