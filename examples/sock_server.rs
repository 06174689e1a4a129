//! A TCP server with a task per connection: each client sends one message of any length
//! ending in `/`, which the server reads in small chunks and prints. Run `sock_client`
//! against it.
//!
//! Twin of pycos's `examples/sock_server.py` (and the server of its tutorial). pycos's
//! server runs until "quit" is typed; this one ends by itself once it has received the
//! number of messages it was told to expect (10, what `sock_client` sends by default).
//!
//! ```text
//! cargo run --example sock_server                # a free port, printed; expects 10 messages
//! cargo run --example sock_server -- 8010 3      # port 8010, expects 3
//! cargo run --example sock_client -- PORT        # in another terminal
//! ```

use rcos::TaskRef;
use rcos::io::{TcpListener, TcpStream};

// ANCHOR: process
/// Deals with one client: reads until the message's closing `/` (or the end of the
/// connection), then reports the message to `main`.
#[rcos::task]
async fn process(_task: TaskRef, mut conn: TcpStream, main: TaskRef) {
    let mut data = Vec::new();
    let mut chunk = [0u8; 128];
    // Receive chunks (each may be smaller than the message) until the marker.
    while data.last() != Some(&b'/') {
        match conn.recv(&mut chunk).await {
            Ok(0) | Err(_) => break, // the client went away early
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    }
    println!("received: {}", String::from_utf8_lossy(&data));
    let _ = main.send(data.len() as u64);
}
// ANCHOR_END: process

// ANCHOR: server
/// Accepts connections and starts a `process` task for each. A daemon: it does not keep
/// the program alive.
#[rcos::task(daemon)]
async fn server(_task: TaskRef, listener: TcpListener, main: TaskRef) {
    loop {
        match listener.accept().await {
            Ok((conn, _addr)) => {
                process::spawn(conn, main.clone());
            }
            Err(error) => tracing::warn!(%error, "accept failed"),
        }
    }
}
// ANCHOR_END: server

#[rcos::main]
async fn main() {
    // (`Args` is not `Send`: it must not live across an await.)
    let (port, expected): (u16, u64) = {
        let mut args = std::env::args().skip(1);
        let port = args.next().map_or(0, |a| a.parse().expect("a port number"));
        let expected = args.next().map_or(10, |a| a.parse().expect("a count"));
        (port, expected)
    };

    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("cannot bind");
    let addr = listener.local_addr().expect("a bound address");
    // The first line of output: `sock_client` needs the port.
    println!("sock_server listening on {addr}");

    let me = TaskRef::current().expect("main runs as a task");
    server::spawn(listener, me.clone());
    let mut received = 0;
    while received < expected {
        match me.receive().await {
            Ok(msg) if msg.is::<u64>() => received += 1,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    println!("Received {received} messages");
}
