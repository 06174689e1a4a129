//! A `#[task]` fn with two `TaskRef` parameters, neither named `task`.
use rcos::{TaskRef, task};

#[task]
async fn client(_me: TaskRef, _server: TaskRef) {}

fn main() {}
