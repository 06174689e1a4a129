//! `overflow` without a bounded mailbox.
use rcos::{TaskRef, task};

#[task(overflow = "fail")]
async fn server(_task: TaskRef) {}

fn main() {
    server::spawn();
}
