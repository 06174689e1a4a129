//! A `remote` task whose output is not a message.
use std::sync::Arc;

use rcos::{TaskRef, task};

#[task(remote)]
async fn server(_task: TaskRef) -> Arc<u8> {
    Arc::new(1)
}

fn main() {}
