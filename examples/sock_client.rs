//! TCP clients, one task each: every client connects to `sock_server`, sends one
//! message of random length ending in `/`, and closes.
//!
//! Twin of pycos's `examples/sock_client.py` (and the client of its tutorial).
//!
//! ```text
//! cargo run --example sock_server            # prints the port it listens on
//! cargo run --example sock_client -- PORT    # 10 clients
//! cargo run --example sock_client -- PORT 3  # 3 clients
//! ```

use rcos::TaskRef;
use rcos::io::TcpStream;

// ANCHOR: client
/// Connects, sends `"n: ------.../"`, and closes the connection.
#[rcos::task]
async fn client(_task: TaskRef, port: u16, n: u32) -> std::io::Result<()> {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await?;
    println!("{n} connected");
    // Send an arbitrary length of data; the server reads until the '/'.
    let msg = format!("{n}: {}/", "-".repeat(fastrand::usize(100..=300)));
    sock.send_all(msg.as_bytes()).await?;
    // Dropping the stream closes the connection (pycos's `sock.close()`).
    Ok(())
}
// ANCHOR_END: client

#[rcos::main]
async fn main() {
    // (`Args` is not `Send`: it must not live across an await.)
    let (port, n): (u16, u32) = {
        let mut args = std::env::args().skip(1);
        let port = args.next().expect("usage: sock_client PORT [CLIENTS]");
        let n = args
            .next()
            .map_or(10, |a| a.parse().expect("a number of clients"));
        (port.parse().expect("a port number"), n)
    };

    let clients: Vec<TaskRef> = (0..n).map(|i| client::spawn(port, i)).collect();
    let mut failed = 0;
    for c in &clients {
        let exit = c.finish().await;
        match exit.value().and_then(|v| v.take::<std::io::Result<()>>()) {
            Some(Ok(())) => {}
            Some(Err(error)) => {
                eprintln!("a client failed: {error}");
                failed += 1;
            }
            None => failed += 1,
        }
    }
    if failed > 0 {
        std::process::exit(1);
    }
}
