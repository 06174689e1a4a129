//! `#[task]` on an `extern` fn.
use rcos::{TaskRef, task};

#[task]
async extern "C" fn server(_task: TaskRef) {}

fn main() {}
