//! `#[task]` on an `unsafe` fn.
use rcos::{TaskRef, task};

#[task]
async unsafe fn server(_task: TaskRef) {}

fn main() {}
