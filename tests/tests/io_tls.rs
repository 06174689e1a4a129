//! TLS on loopback with certificates made in the test: echo, failed handshakes that
//! harm only their own connection, mutual TLS, and the message limit under encryption.
#![cfg(feature = "tls")]

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use rcos::TaskRef;
use rcos::io::tls::{TlsAcceptor, TlsConnector, TlsStream};
use rcos::io::{TcpListener, TcpStream};
use rcos_tests::{rt2, run};

/// A self-signed certificate and its key, PEM, valid for `localhost` and `127.0.0.1`.
fn self_signed() -> (String, String) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    (ck.cert.pem(), ck.key_pair.serialize_pem())
}

/// A TLS echo server: each TCP connection gets its own task, which runs the handshake
/// and echoes messages. The handshake's outcome goes to `report` as a `String`:
/// `"ok"`, or the error kind.
async fn tls_echo_server(acceptor: TlsAcceptor, report: TaskRef) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = rcos::spawn(move |_| async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let report = report.clone();
            rcos::spawn(move |_| async move {
                let mut tls = match acceptor.accept(tcp).await {
                    Ok(tls) => {
                        let _ = report.send("ok".to_string());
                        tls
                    }
                    Err(e) => {
                        let _ = report.send(format!("{:?}", e.kind()));
                        return;
                    }
                };
                while let Ok(Some(msg)) = tls.recv_msg().await {
                    if tls.send_msg(&msg).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    server.set_daemon(true);
    addr
}

async fn next_report(me: &TaskRef) -> String {
    me.receive().await.unwrap().downcast::<String>().unwrap()
}

async fn connect(connector: &TlsConnector, name: &str, addr: SocketAddr) -> TlsStream {
    let tcp = TcpStream::connect(addr).await.unwrap();
    connector.connect(name, tcp).await.unwrap()
}

#[test]
fn tls_echo_with_a_self_signed_certificate() {
    let rt = rt2();
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let (cert, key) = self_signed();
        let acceptor = TlsAcceptor::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
        let addr = tls_echo_server(acceptor, me.clone()).await;
        let connector = TlsConnector::from_pem(cert.as_bytes()).unwrap();

        for name in ["localhost", "127.0.0.1"] {
            let mut tls = connect(&connector, name, addr).await;
            assert_eq!(next_report(&me).await, "ok");
            for size in [0usize, 1, 16_384, 100_000, 2 << 20] {
                let msg: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
                tls.send_msg(&msg).await.unwrap();
                assert!(
                    tls.recv_msg().await.unwrap().unwrap() == msg,
                    "{size} bytes"
                );
            }
            // Raw bytes work too, inside the encryption.
            tls.send_all(&3u32.to_be_bytes()).await.unwrap();
            tls.send_all(b"raw").await.unwrap();
            let mut back = [0u8; 7];
            tls.recv_exact(&mut back).await.unwrap();
            assert_eq!(&back[4..], b"raw");
            assert!(!tls.peer_certificates().is_empty());
            tls.close().await.unwrap();
            // The server echoes nothing more and closes its side.
            assert_eq!(tls.recv_msg().await.unwrap(), None);
        }
    });
}

#[test]
fn plain_bytes_to_the_tls_port_fail_that_connection_only() {
    let rt = rt2();
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let (cert, key) = self_signed();
        let acceptor = TlsAcceptor::from_pem(cert.as_bytes(), key.as_bytes())
            .unwrap()
            .with_handshake_timeout(Duration::from_secs(2));
        let addr = tls_echo_server(acceptor, me.clone()).await;
        let connector = TlsConnector::from_pem(cert.as_bytes()).unwrap();

        // Open a good connection before the bad ones, to check it survives them.
        let mut early = connect(&connector, "localhost", addr).await;
        assert_eq!(next_report(&me).await, "ok");

        // Plain text instead of a ClientHello.
        let mut plain = TcpStream::connect(addr).await.unwrap();
        plain
            .send_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(next_report(&me).await, "InvalidData");
        // The server answered with an alert (or nothing) and closed: no hang here.
        let mut buf = vec![0u8; 1024];
        loop {
            match plain.recv(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }

        // A length prefix of garbage after a valid-looking record header.
        let mut junk = TcpStream::connect(addr).await.unwrap();
        junk.send_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])
            .await
            .unwrap();
        assert_eq!(next_report(&me).await, "InvalidData");
        drop(junk);

        // A client that says nothing is dropped at the handshake timeout.
        let silent = TcpStream::connect(addr).await.unwrap();
        assert_eq!(next_report(&me).await, "TimedOut");
        drop(silent);

        // The server goes on: a new client, and the early one, both work.
        let mut late = connect(&connector, "localhost", addr).await;
        assert_eq!(next_report(&me).await, "ok");
        for tls in [&mut early, &mut late] {
            tls.send_msg(b"still here").await.unwrap();
            assert_eq!(tls.recv_msg().await.unwrap().unwrap(), b"still here");
        }
    });
}

#[test]
fn a_certificate_the_client_does_not_trust_is_refused() {
    let rt = rt2();
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let (cert, key) = self_signed();
        let (other_cert, _) = self_signed();
        let acceptor = TlsAcceptor::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
        let addr = tls_echo_server(acceptor, me.clone()).await;

        let untrusting = TlsConnector::from_pem(other_cert.as_bytes()).unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let err = untrusting.connect("localhost", tcp).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
        assert_ne!(next_report(&me).await, "ok");

        // The right certificate, the wrong name.
        let trusting = TlsConnector::from_pem(cert.as_bytes()).unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let err = trusting.connect("example.org", tcp).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
        assert_ne!(next_report(&me).await, "ok");

        // Not a server name at all.
        let tcp = TcpStream::connect(addr).await.unwrap();
        let err = trusting.connect("not a name!", tcp).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    });
}

#[test]
fn mutual_tls_requires_a_client_certificate() {
    let rt = rt2();
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let (server_cert, server_key) = self_signed();
        let (client_cert, client_key) = self_signed();
        let acceptor = TlsAcceptor::from_pem_with_client_auth(
            server_cert.as_bytes(),
            server_key.as_bytes(),
            client_cert.as_bytes(),
        )
        .unwrap();
        let addr = tls_echo_server(acceptor, me.clone()).await;

        // Without a certificate: the server refuses. (In TLS 1.3 the client may finish
        // its side first and learn of the refusal on its first read.)
        let anonymous = TlsConnector::from_pem(server_cert.as_bytes()).unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        if let Ok(mut tls) = anonymous.connect("localhost", tcp).await {
            let _ = tls.send_msg(b"let me in").await;
            assert!(!matches!(tls.recv_msg().await, Ok(Some(_))));
        }
        assert_ne!(next_report(&me).await, "ok");

        let known = TlsConnector::from_pem_with_client_cert(
            server_cert.as_bytes(),
            client_cert.as_bytes(),
            client_key.as_bytes(),
        )
        .unwrap();
        let mut tls = connect(&known, "localhost", addr).await;
        assert_eq!(next_report(&me).await, "ok");
        tls.send_msg(b"hello").await.unwrap();
        assert_eq!(tls.recv_msg().await.unwrap().unwrap(), b"hello");
    });
}

#[test]
fn oversized_message_over_tls_is_invalid_data() {
    let rt = rt2();
    run(&rt, async {
        let (cert, key) = self_signed();
        let acceptor = TlsAcceptor::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
        let mut listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.set_max_message(100);
        let addr = listener.local_addr().unwrap();
        let server = rcos::spawn(move |_| async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = acceptor.accept(tcp).await.unwrap();
            assert_eq!(tls.max_message(), 100);
            let ok = tls.recv_msg().await.unwrap().unwrap();
            let err = tls.recv_msg().await.unwrap_err();
            (ok.len(), format!("{:?}", err.kind()))
        });
        let connector = TlsConnector::from_pem(cert.as_bytes()).unwrap();
        let mut tls = connect(&connector, "localhost", addr).await;
        tls.send_msg(&[0; 100]).await.unwrap();
        tls.send_msg(&[0; 101]).await.unwrap();
        let out = server.finish().await;
        let (len, kind) = out.value().unwrap().take::<(usize, String)>().unwrap();
        assert_eq!((len, kind.as_str()), (100, "InvalidData"));
    });
}

#[test]
fn bad_pem_is_reported() {
    let (cert, key) = self_signed();
    let (_, other_key) = self_signed();
    let err = TlsAcceptor::from_pem(b"not pem", key.as_bytes()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    let err = TlsAcceptor::from_pem(cert.as_bytes(), b"").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    let err = TlsAcceptor::from_pem(cert.as_bytes(), other_key.as_bytes()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let err = TlsConnector::from_pem(b"").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    let err =
        TlsAcceptor::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn tls_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync + 'static>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<TlsAcceptor>();
    send_sync::<TlsConnector>();
    send_sync::<TlsStream>();
    let mut stream: Option<TlsStream> = None;
    if let Some(s) = stream.as_mut() {
        send(&s.recv_msg());
        send(&s.send_msg(b""));
    }
}
