//! An echo server of framed messages on a Unix domain socket, with a task per
//! connection: what `send_msg` / `recv_msg` guarantee, and what happens when a client
//! sends a message over the server's size limit.
//!
//! pycos wraps `AF_UNIX` sockets in the same `AsyncSocket` as TCP ones; so does rcos
//! (`UnixListener` and `UnixStream` have `TcpListener`'s and `TcpStream`'s methods), and
//! the same code serves TCP if `bind` is given an address instead of a path.
//!
//! Run it with `cargo run --example unix_echo` (on Unix).

#[cfg(unix)]
use rcos::TaskRef;
#[cfg(unix)]
use rcos::io::{MessageTooLarge, UnixListener, UnixStream};

// ANCHOR: echo
/// Sends every message of one connection back, until the client closes it or breaks
/// the rules; then tells `main` how it ended.
#[cfg(unix)]
#[rcos::task]
async fn echo(_task: TaskRef, mut conn: UnixStream, main: TaskRef) {
    let mut echoed = 0;
    let ending = loop {
        match conn.recv_msg().await {
            Ok(Some(msg)) => {
                if conn.send_msg(&msg).await.is_err() {
                    break "the client went away".to_string();
                }
                echoed += 1;
            }
            Ok(None) => break "the client closed the connection".to_string(),
            Err(error) => {
                // An oversized message: the socket has shut the connection down.
                let size = error
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<MessageTooLarge>())
                    .map_or(0, MessageTooLarge::size);
                break format!("refused a message of {size} bytes: {error}");
            }
        }
    };
    let _ = main.send(format!("server: {echoed} messages echoed; {ending}"));
}

/// Accepts connections, one `echo` task each. A daemon: it never ends by itself.
#[cfg(unix)]
#[rcos::task(daemon)]
async fn server(_task: TaskRef, listener: UnixListener, main: TaskRef) {
    while let Ok((conn, _addr)) = listener.accept().await {
        echo::spawn(conn, main.clone());
    }
}
// ANCHOR_END: echo

#[cfg(unix)]
#[rcos::main]
async fn main() -> std::io::Result<()> {
    // ANCHOR: bind
    let dir = std::env::temp_dir().join(format!("rcos-unix-echo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("echo.sock");
    let mut listener = UnixListener::bind(&path)?;
    // Every accepted connection refuses messages over 1 KiB (the default is 16 MiB).
    listener.set_max_message(1024);
    let me = TaskRef::current().expect("main runs as a task");
    server::spawn(listener, me.clone());
    // ANCHOR_END: bind

    // ANCHOR: client
    let mut client = UnixStream::connect(&path).await?;
    for text in ["hello", "", "a message is delivered whole, or not at all"] {
        client.send_msg(text.as_bytes()).await?;
        let back = client.recv_msg().await?.unwrap_or_default();
        println!(
            "client: sent {:?}, got back {:?}",
            text,
            String::from_utf8_lossy(&back)
        );
    }
    drop(client); // closes the connection
    println!("{}", me.receive_type::<String>().await.unwrap_or_default());

    let mut greedy = UnixStream::connect(&path).await?;
    greedy.send_msg(&[b'x'; 4096]).await?;
    // The server shut the connection down: the client reads its end (or, if the
    // server's socket was closed with the message still unread, a reset).
    match greedy.recv_msg().await {
        Ok(None) => println!("greedy client: the server cut the connection (end of stream)"),
        Err(error) => println!("greedy client: the server cut the connection ({error})"),
        Ok(Some(_)) => unreachable!("the message was over the limit"),
    }
    println!("{}", me.receive_type::<String>().await.unwrap_or_default());
    // ANCHOR_END: client

    // The socket file stays until it is removed.
    std::fs::remove_dir_all(&dir)
}

#[cfg(not(unix))]
fn main() {
    eprintln!("Unix domain sockets exist only on Unix");
}
