//! `#[task]` on a generic fn.
use rcos::{TaskRef, task};

#[task]
async fn server<T: Send + 'static>(_task: TaskRef, _state: T) {}

fn main() {}
