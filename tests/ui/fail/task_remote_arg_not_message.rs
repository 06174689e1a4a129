//! A `remote` task whose argument is not a message.
use rcos::{TaskRef, task};

/// Not serializable.
struct Socket;

#[task(remote)]
async fn server(_task: TaskRef, _greeting: String, _socket: Socket) {}

fn main() {}
