//! Mailbox capacities that are not positive integer literals.
use rcos::{TaskRef, task};

#[task(mailbox = 0)]
async fn zero(_task: TaskRef) {}

#[task(mailbox = "100")]
async fn string(_task: TaskRef) {}

#[task(mailbox = -1)]
async fn negative(_task: TaskRef) {}

fn main() {
    zero::spawn();
    string::spawn();
    negative::spawn();
}
