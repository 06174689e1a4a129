//! A chat client for `chat_server`: each line typed is sent to the server (prefixed with
//! this client's name), and every line from the other clients is printed, indented.
//! `quit`, `exit` or the end of input leaves the chat.
//!
//! Twin of pycos's `examples/chat_client.py`. Reading the terminal blocks, so, as in
//! pycos, the sending task reads it through an `AsyncThreadPool` of one thread while the
//! receiving task goes on printing.
//!
//! ```text
//! cargo run --example chat_server                  # prints its port
//! cargo run --example chat_client -- PORT alice
//! ```

use std::time::Duration;

use rcos::TaskRef;
use rcos::io::TcpStream;
use rcos::pool::AsyncThreadPool;

/// Reads one line of stdin (blocking): `None` at the end of input.
fn read_line() -> Option<String> {
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
    }
}

// ANCHOR: recv
/// Prints what the others say, until the server closes the connection.
#[rcos::task]
async fn client_recv(_task: TaskRef, mut sock: TcpStream, main: TaskRef) {
    while let Ok(Some(msg)) = sock.recv_msg().await {
        println!("  {}", String::from_utf8_lossy(&msg));
    }
    let _ = main.send("receiver done".to_string());
}
// ANCHOR_END: recv

// ANCHOR: send
/// Sends each line typed, until `quit`; then closes this side of the connection. A
/// daemon: blocked on the terminal, it must not keep the program alive once the server
/// has gone.
#[rcos::task(daemon)]
async fn client_send(_task: TaskRef, mut sock: TcpStream, name: String, main: TaskRef) {
    let thread_pool = AsyncThreadPool::new(1);
    // AsyncThreadPool: the blocking read runs on the pool's thread, not on a worker.
    while let Ok(Some(line)) = thread_pool.run(read_line).await {
        let line = line.trim();
        if matches!(line, "quit" | "exit") {
            break;
        }
        if sock
            .send_msg(format!("{name}: {line}").as_bytes())
            .await
            .is_err()
        {
            break;
        }
    }
    // The server reads the end of our stream, drops us, and closes its side.
    let _ = sock.shutdown(std::net::Shutdown::Write);
    let _ = main.send("sender done".to_string());
}
// ANCHOR_END: send

#[rcos::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = args
        .first()
        .expect("usage: chat_client PORT [NAME]")
        .parse()
        .expect("a port number");
    let name = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| format!("user{}", std::process::id()));

    let sock = match TcpStream::connect(("127.0.0.1", port)).await {
        Ok(sock) => sock,
        Err(error) => {
            eprintln!("cannot connect to the chat server on port {port}: {error}");
            std::process::exit(1);
        }
    };
    let me = TaskRef::current().expect("main runs as a task");
    // Two handles on one connection: one task reads, the other writes.
    client_recv::spawn(sock.clone(), me.clone());
    client_send::spawn(sock, name, me.clone());

    // Whichever ends first: if the user left, give the server a moment to close our
    // connection so the last lines are printed; if the server left, we are done.
    if let Ok(first) = me.receive_type::<String>().await {
        if first == "sender done" {
            let _ = me
                .receive_type_timeout::<String>(Duration::from_secs(5))
                .await;
        } else {
            println!("the server closed the connection");
        }
    }
}
