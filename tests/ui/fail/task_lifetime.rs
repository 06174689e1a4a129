//! `#[task]` on a fn with a lifetime parameter.
use rcos::{TaskRef, task};

#[task]
async fn server<'a>(_task: TaskRef, _name: &'a str) {}

fn main() {}
