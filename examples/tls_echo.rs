//! An echo server of framed messages over TLS (feature `tls`), in pycos's model: the
//! server presents a self-signed certificate (its `certfile` and `keyfile`) and clients
//! trust exactly that certificate. A client that trusts another certificate fails its
//! handshake, and only its connection is affected.
//!
//! Twin of pycos's `AsyncSocket(sock, certfile=..., keyfile=...)` as its TCP examples
//! use it. The certificate is made in code (with the `rcgen` crate) and written to a
//! temporary folder, where a real server would have files made with `openssl`.
//!
//! Run it with `cargo run --example tls_echo` (the examples enable rcos's `tls`
//! feature).

use std::path::Path;

use rcos::TaskRef;
use rcos::io::tls::{TlsAcceptor, TlsConnector};
use rcos::io::{TcpListener, TcpStream};

/// Makes a self-signed certificate for `localhost` and writes `cert.pem` and `key.pem`
/// into `dir` (what `openssl req -x509 ...` does for a real server).
async fn make_certificate(dir: &Path) -> std::io::Result<()> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .map_err(std::io::Error::other)?;
    rcos::io::fs::write(dir.join("cert.pem"), made.cert.pem()).await?;
    rcos::io::fs::write(dir.join("key.pem"), made.key_pair.serialize_pem()).await
}

// ANCHOR: server
/// One connection: the TLS handshake, then an echo of every message. Tells `main` how
/// it went.
#[rcos::task]
async fn echo(_task: TaskRef, acceptor: TlsAcceptor, tcp: TcpStream, main: TaskRef) {
    let report = match acceptor.accept(tcp).await {
        Err(error) => format!("server: handshake failed: {error}"),
        Ok(mut tls) => {
            let mut echoed = 0;
            while let Ok(Some(msg)) = tls.recv_msg().await {
                if tls.send_msg(&msg).await.is_err() {
                    break;
                }
                echoed += 1;
            }
            format!("server: {echoed} messages echoed over TLS")
        }
    };
    let _ = main.send(report);
}

/// Accepts TCP connections; each one's handshake runs in its own task, so a slow or
/// hostile client never holds up the next.
#[rcos::task(daemon)]
async fn server(_task: TaskRef, listener: TcpListener, acceptor: TlsAcceptor, main: TaskRef) {
    while let Ok((tcp, _addr)) = listener.accept().await {
        echo::spawn(acceptor.clone(), tcp, main.clone());
    }
}
// ANCHOR_END: server

#[rcos::main]
async fn main() -> std::io::Result<()> {
    let dir = std::env::temp_dir().join(format!("rcos-tls-echo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    make_certificate(&dir).await?;
    let me = TaskRef::current().expect("main runs as a task");

    // ANCHOR: setup
    // The server: its certificate and private key.
    let acceptor = TlsAcceptor::from_pem_files(dir.join("cert.pem"), dir.join("key.pem"))?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    server::spawn(listener, acceptor, me.clone());
    // A client: trusts the server's certificate (never needs its key).
    let connector = TlsConnector::from_pem_file(dir.join("cert.pem"))?;
    // ANCHOR_END: setup

    // ANCHOR: client
    let tcp = TcpStream::connect(addr).await?;
    // "localhost" must be one of the names in the server's certificate.
    let mut tls = connector.connect("localhost", tcp).await?;
    for text in ["hello", "over TLS"] {
        tls.send_msg(text.as_bytes()).await?;
        let back = tls.recv_msg().await?.unwrap_or_default();
        println!("client: got back {:?}", String::from_utf8_lossy(&back));
    }
    println!(
        "client: the server presented {} certificate(s)",
        tls.peer_certificates().len()
    );
    tls.close().await?; // TLS's close notification, then the end of the stream
    println!("{}", me.receive_type::<String>().await.unwrap_or_default());
    // ANCHOR_END: client

    // ANCHOR: impostor
    // A client that trusts some other certificate refuses this server.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .map_err(std::io::Error::other)?;
    let suspicious = TlsConnector::from_pem(other.cert.pem().as_bytes())?;
    let tcp = TcpStream::connect(addr).await?;
    match suspicious.connect("localhost", tcp).await {
        Err(error) => println!("suspicious client: handshake failed: {error}"),
        Ok(_) => unreachable!("the server's certificate is not trusted"),
    }
    println!("{}", me.receive_type::<String>().await.unwrap_or_default());
    // ANCHOR_END: impostor

    std::fs::remove_dir_all(&dir)
}
