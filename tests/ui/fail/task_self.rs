//! `#[task]` on a method.
use rcos::{TaskRef, task};

struct Server;

impl Server {
    #[task]
    async fn run(&self, _task: TaskRef) {}
}

fn main() {}
