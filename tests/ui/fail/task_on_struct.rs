//! `#[task]` on something that is not a fn.
use rcos::task;

#[task]
struct Server;

fn main() {}
