//! A chat server: every line a client sends (as a `send_msg` message) goes to every
//! other client. Run it, then two or more `chat_client`s.
//!
//! Twin of pycos's `examples/chat_server.py`. There, each client's task writes to the
//! shared set of client sockets; here one *hub* task owns the clients' write ends and
//! the others talk to it by messages, so nothing is shared. Type `quit` to stop the
//! server; it also ends by itself when the last client leaves.
//!
//! ```text
//! cargo run --example chat_server              # a free port, printed
//! cargo run --example chat_server -- 3456      # port 3456
//! cargo run --example chat_client -- PORT alice    # in other terminals
//! cargo run --example chat_client -- PORT bob
//! ```

use std::collections::BTreeMap;
use std::io::BufRead;
use std::net::SocketAddr;

use rcos::TaskRef;
use rcos::io::{TcpListener, TcpStream};

/// What the hub is told. A local-only value (it holds a socket), sent with `send_local`.
enum Event {
    /// A client connected; here is the end the hub writes to.
    Join(u64, SocketAddr, TcpStream),
    /// A client sent a line.
    Line(u64, Vec<u8>),
    /// A client disconnected.
    Leave(u64),
    /// "quit" was typed.
    Quit,
}

// ANCHOR: hub
/// Owns the connected clients and relays each line to all but its sender. Ends when
/// told to quit, or when the last client leaves.
#[rcos::task]
async fn hub_proc(task: TaskRef) -> usize {
    let mut clients: BTreeMap<u64, (SocketAddr, TcpStream)> = BTreeMap::new();
    let mut relayed = 0;
    while let Ok(env) = task.receive().await {
        let Ok(event) = env.downcast_any::<Event>() else {
            continue;
        };
        match event {
            Event::Join(id, addr, writer) => {
                clients.insert(id, (addr, writer));
                println!("joined: {addr} ({} online)", clients.len());
            }
            Event::Line(from, line) => {
                let mut gone = Vec::new();
                for (&id, (_, writer)) in clients.iter_mut().filter(|(id, _)| **id != from) {
                    if writer.send_msg(&line).await.is_err() {
                        gone.push(id);
                    }
                }
                for id in gone {
                    clients.remove(&id);
                }
                relayed += 1;
            }
            Event::Leave(id) => {
                if let Some((addr, _)) = clients.remove(&id) {
                    println!("left: {addr} ({} online)", clients.len());
                }
                if clients.is_empty() {
                    break;
                }
            }
            Event::Quit => break,
        }
    }
    relayed
}
// ANCHOR_END: hub

// ANCHOR: client
/// Reads one client's messages and hands them to the hub, until the client leaves.
#[rcos::task(daemon)]
async fn client_reader(_task: TaskRef, mut conn: TcpStream, id: u64, hub: TaskRef) {
    // `Ok(None)` is the client closing; an error (such as an oversized message) ends
    // this connection only.
    while let Ok(Some(line)) = conn.recv_msg().await {
        if hub.send_local(Event::Line(id, line)).is_err() {
            return;
        }
    }
    let _ = hub.send_local(Event::Leave(id));
}
// ANCHOR_END: client

/// Accepts clients: registers each with the hub, then starts its reader.
#[rcos::task(daemon)]
async fn chat(_task: TaskRef, listener: TcpListener, hub: TaskRef) {
    let mut next_id = 0;
    loop {
        let (conn, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                continue;
            }
        };
        next_id += 1;
        // A clone is a second handle on the same socket: the hub writes, the reader reads.
        if hub
            .send_local(Event::Join(next_id, addr, conn.clone()))
            .is_err()
        {
            return; // the hub has ended
        }
        client_reader::spawn(conn, next_id, hub.clone());
    }
}

#[rcos::main]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .map_or(0, |a| a.parse().expect("a port number"));
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("cannot bind");
    println!(
        "chat server at {}",
        listener.local_addr().expect("a bound address")
    );

    let hub = hub_proc::spawn();
    chat::spawn(listener, hub.clone());

    // Reading stdin blocks, so it runs on a thread of its own; a line "quit" or "exit"
    // stops the server. The end of stdin does not (the server may run with no terminal).
    let quitter = hub.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if matches!(line.trim().to_lowercase().as_str(), "quit" | "exit") {
                let _ = quitter.send_local(Event::Quit);
                break;
            }
        }
    });

    let relayed = hub.finish().await.value().and_then(|v| v.get::<usize>());
    println!("chat server done: {} lines relayed", relayed.unwrap_or(0));
}
