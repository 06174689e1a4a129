//! UDP clients and a server in one program: 50 client tasks each send one datagram to
//! the server task, which prints what it receives.
//!
//! Twin of pycos's `examples/udp.py`. UDP does not retransmit: on a real network a
//! datagram can be lost, so the server gives up after a few seconds of silence instead
//! of waiting forever (on loopback nothing is lost).
//!
//! ```text
//! cargo run --example udp          # 50 clients
//! cargo run --example udp -- 5     # 5 clients
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use rcos::TaskRef;
use rcos::io::UdpSocket;

// ANCHOR: server
/// Receives `n` datagrams (or stops after 5 s without one) and returns how many came.
#[rcos::task]
async fn server_proc(_task: TaskRef, n: u32, sock: UdpSocket) -> u32 {
    let mut buf = [0u8; 1024];
    let mut received = 0;
    while received < n {
        let datagram = rcos::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf));
        match datagram.await {
            Ok(Ok((len, from))) => {
                let msg = String::from_utf8_lossy(&buf[..len]);
                println!("Received \"{msg}\" from {}:{}", from.ip(), from.port());
                received += 1;
            }
            Ok(Err(error)) => eprintln!("recv_from failed: {error}"),
            Err(_) => {
                eprintln!("no datagram for 5 s: some were lost");
                break;
            }
        }
    }
    received
}
// ANCHOR_END: server

// ANCHOR: client
/// Sends one datagram, naming its own socket, to the server.
#[rcos::task]
async fn client_proc(_task: TaskRef, server: SocketAddr) -> std::io::Result<()> {
    let sock = UdpSocket::bind("127.0.0.1:0").await?;
    let msg = format!("client socket: {}", sock.local_addr()?.port());
    sock.send_to(msg.as_bytes(), server).await?;
    Ok(())
}
// ANCHOR_END: client

#[rcos::main]
async fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .map_or(50, |a| a.parse().expect("a number of clients"));
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("cannot bind");
    let addr = sock.local_addr().expect("a bound address");

    let server = server_proc::spawn(n, sock);
    for _ in 0..n {
        client_proc::spawn(addr);
    }
    let received = server.finish().await.get::<u32>().unwrap_or(0);
    println!("server received {received} of {n} datagrams");
}
