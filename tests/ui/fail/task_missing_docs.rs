//! A public `#[task]` without docs under `deny(missing_docs)`.
#![deny(missing_docs)]

/// Tasks.
pub mod tasks {
    use rcos::{TaskRef, task};

    #[task]
    pub async fn undocumented(_task: TaskRef) {}
}

fn main() {
    tasks::undocumented::spawn();
}
