//! Message passing between local tasks: ten clients send three messages each to a
//! server that prints them. The server never ends on its own; it is a *daemon*, so the
//! program still ends once the clients are done.
//!
//! Twin of pycos's `examples/client_server.py`.
//!
//! ```text
//! cargo run --example client_server          # 10 clients
//! cargo run --example client_server -- 3     # 3 clients
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rcos::{Message, Request, TaskRef, task};
use serde::{Deserialize, Serialize};

/// Numbers the messages of all clients: pycos's global `msg_id`. pycos needs no lock
/// for it, because one thread runs every task; rcos runs tasks on every core, so a
/// shared counter must be an atomic (or the runtime limited to `workers = 1`).
static MSG_ID: AtomicU64 = AtomicU64::new(0);

/// Asks the server how many messages it has received (with `call`).
#[derive(Debug, Serialize, Deserialize, Message)]
struct Received;

// ANCHOR: server
/// Prints every text message it receives. A daemon task: it does not keep the program
/// alive (pycos's `task.set_daemon()`; `task.set_daemon(true)` works here too).
#[task(daemon)]
async fn server_proc(task: TaskRef) {
    let mut received = 0u64;
    while let Ok(msg) = task.receive().await {
        msg.matcher()
            .on(|text: String| {
                received += 1;
                println!("received {text}");
            })
            .on(|request: Request<Received>| {
                let _ = request.reply(received);
            })
            .otherwise(|other| tracing::warn!("server: ignored a {}", other.type_name()));
    }
}
// ANCHOR_END: server

// ANCHOR: client
/// Sends three messages to the server, pausing a random time before each.
#[task]
async fn client_proc(task: TaskRef, server: TaskRef, n: u32) {
    for x in 0..3 {
        // pycos: `yield task.suspend(random.uniform(0.5, 3))`; shorter here.
        let _ = task
            .sleep(Duration::from_millis(fastrand::u64(0..300)))
            .await;
        let id = MSG_ID.fetch_add(1, Ordering::Relaxed) + 1;
        if server.send(format!("{id}: {n} / {x}")).is_err() {
            return; // the server has ended
        }
    }
}
// ANCHOR_END: client

// ANCHOR: main
#[rcos::main]
async fn main() {
    let clients: u32 = std::env::args()
        .nth(1)
        .map_or(10, |a| a.parse().expect("a number of clients"));
    let server = server_proc::spawn();
    let clients: Vec<TaskRef> = (0..clients)
        .map(|n| client_proc::spawn(server.clone(), n))
        .collect();
    for client in &clients {
        client.finish().await;
    }
    // Every client's messages are in the server's mailbox before this request.
    let received: u64 = server
        .call(Received, Duration::from_secs(5))
        .await
        .expect("the server answers");
    println!("server received {received} messages");
    // When `main` returns, `#[rcos::main]` waits for every non-daemon task (pycos's
    // `join`). The server is a daemon: the program ends although it still runs.
}
// ANCHOR_END: main
