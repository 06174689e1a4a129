//! `#[task]` on a fn with a `where` clause.
use rcos::{TaskRef, task};

#[task]
async fn server(_task: TaskRef, _n: u8)
where
    u8: Copy,
{
}

fn main() {}
