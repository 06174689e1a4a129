//! A `#[task]` body that holds something not `Send` across an `.await`.
use std::rc::Rc;

use rcos::{TaskRef, task};

#[task]
async fn server(task: TaskRef) {
    let local = Rc::new(1);
    let _ = task.receive().await;
    drop(local);
}

fn main() {}
