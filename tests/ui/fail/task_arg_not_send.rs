//! A `#[task]` argument that is not `Send`.
use std::rc::Rc;

use rcos::{TaskRef, task};

#[task]
async fn server(_task: TaskRef, _shared: Rc<u8>) {}

fn main() {}
