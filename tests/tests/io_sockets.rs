//! Sockets on loopback: pycos's `send_msg` / `recv_msg` framing over TCP and Unix
//! streams, UDP datagrams, and what a misbehaving peer can and cannot do to a server.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use rcos::TaskRef;
use rcos::io::{DEFAULT_MAX_MESSAGE, MessageTooLarge, TcpListener, TcpStream, UdpSocket};
use rcos_tests::{rt2, run};

/// An echo server on a fresh loopback port: one task per connection, each echoing
/// messages until its peer closes. A connection that fails reports the error kind (as
/// a `String`) to `report`, if given.
async fn echo_server(report: Option<TaskRef>, max_message: usize) -> std::net::SocketAddr {
    let mut listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.set_max_message(max_message);
    let addr = listener.local_addr().unwrap();
    let server = rcos::spawn(move |_| async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            let report = report.clone();
            rcos::spawn(move |_| async move {
                loop {
                    match conn.recv_msg().await {
                        Ok(Some(msg)) => conn.send_msg(&msg).await.unwrap(),
                        Ok(None) => break,
                        Err(e) => {
                            if let Some(report) = &report {
                                let limit = e
                                    .get_ref()
                                    .and_then(|inner| inner.downcast_ref::<MessageTooLarge>())
                                    .map(|t| (t.size(), t.limit()));
                                let _ = report.send(format!("{:?} {limit:?}", e.kind()));
                            }
                            break;
                        }
                    }
                }
            });
        }
    });
    server.set_daemon(true);
    addr
}

#[test]
fn tcp_send_msg_round_trips_sizes_from_empty_to_megabytes() {
    let rt = rt2();
    run(&rt, async {
        let addr = echo_server(None, DEFAULT_MAX_MESSAGE).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        let sizes = [0usize, 1, 3, 4, 5, 1000, 65_535, 65_536, 65_537, 5 << 20];
        for (i, size) in sizes.into_iter().enumerate() {
            let msg: Vec<u8> = (0..size).map(|b| (b * 7 + i) as u8).collect();
            client.send_msg(&msg).await.unwrap();
            let back = client.recv_msg().await.unwrap().expect("a message");
            assert_eq!(back.len(), size);
            assert!(back == msg, "message of {size} bytes came back different");
        }
    });
}

#[test]
fn tcp_many_clients_at_once() {
    let rt = rt2();
    run(&rt, async {
        let addr = echo_server(None, DEFAULT_MAX_MESSAGE).await;
        let clients: Vec<TaskRef> = (0..20u32)
            .map(|c| {
                rcos::spawn(move |_| async move {
                    let mut s = TcpStream::connect(addr).await.unwrap();
                    for m in 0..20u32 {
                        let msg = format!("{c}:{m}:{}", "x".repeat((c * 97 + m * 13) as usize));
                        s.send_msg(msg.as_bytes()).await.unwrap();
                        assert_eq!(s.recv_msg().await.unwrap().unwrap(), msg.as_bytes());
                    }
                    c
                })
            })
            .collect();
        for c in clients {
            assert!(c.finish().await.is_returned());
        }
    });
}

#[test]
fn eof_in_the_middle_of_a_message_is_none() {
    let rt = rt2();
    run(&rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();

        // A length and half the body, then close.
        let mut peer = TcpStream::connect(addr).await.unwrap();
        let (mut conn, _) = listener.accept().await.unwrap();
        peer.send_all(&100u32.to_be_bytes()).await.unwrap();
        peer.send_all(&[b'h'; 50]).await.unwrap();
        drop(peer);
        assert_eq!(conn.recv_msg().await.unwrap(), None);
        assert_eq!(conn.recv_msg().await.unwrap(), None, "stays at the end");

        // Half a length prefix, then close.
        let mut peer = TcpStream::connect(addr).await.unwrap();
        let (mut conn, _) = listener.accept().await.unwrap();
        peer.send_all(&[0, 0]).await.unwrap();
        drop(peer);
        assert_eq!(conn.recv_msg().await.unwrap(), None);

        // A whole message, then close at the boundary.
        let mut peer = TcpStream::connect(addr).await.unwrap();
        let (mut conn, _) = listener.accept().await.unwrap();
        peer.send_msg(b"whole").await.unwrap();
        drop(peer);
        assert_eq!(conn.recv_msg().await.unwrap().unwrap(), b"whole");
        assert_eq!(conn.recv_msg().await.unwrap(), None);
    });
}

#[test]
fn oversized_prefix_closes_only_that_connection() {
    let rt = rt2();
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let addr = echo_server(Some(me.clone()), DEFAULT_MAX_MESSAGE).await;

        let mut good = TcpStream::connect(addr).await.unwrap();
        good.send_msg(b"before").await.unwrap();
        assert_eq!(good.recv_msg().await.unwrap().unwrap(), b"before");

        // 4 GiB announced: refused at once, nothing allocated, connection shut.
        let start = Instant::now();
        let mut bad = TcpStream::connect(addr).await.unwrap();
        bad.send_all(&[0xFF, 0xFF, 0xFF, 0xFF]).await.unwrap();
        let report = me.receive().await.unwrap().downcast::<String>().unwrap();
        assert_eq!(report, "InvalidData Some((4294967295, 16777216))");
        let mut buf = [0u8; 16];
        match bad.recv(&mut buf).await {
            Ok(0) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("the bad connection should be closed, got {other:?}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );

        // The listener and the other connections carry on.
        good.send_msg(b"after").await.unwrap();
        assert_eq!(good.recv_msg().await.unwrap().unwrap(), b"after");
        let mut fresh = TcpStream::connect(addr).await.unwrap();
        fresh.send_msg(b"new").await.unwrap();
        assert_eq!(fresh.recv_msg().await.unwrap().unwrap(), b"new");
    });
}

#[test]
fn max_message_is_configurable_per_listener_and_socket() {
    let rt = rt2();
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let addr = echo_server(Some(me.clone()), 1024).await;

        let mut c = TcpStream::connect(addr).await.unwrap();
        c.send_msg(&[1; 1024]).await.unwrap();
        assert_eq!(c.recv_msg().await.unwrap().unwrap().len(), 1024);
        c.send_msg(&[1; 1025]).await.unwrap();
        let report = me.receive().await.unwrap().downcast::<String>().unwrap();
        assert_eq!(report, "InvalidData Some((1025, 1024))");

        // The client side has its own limit.
        let addr = echo_server(None, DEFAULT_MAX_MESSAGE).await;
        let mut c = TcpStream::connect(addr).await.unwrap();
        assert_eq!(c.max_message(), DEFAULT_MAX_MESSAGE);
        c.set_max_message(10);
        c.send_msg(b"0123456789A").await.unwrap();
        let err = c.recv_msg().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        let err = c.recv_msg().await.unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidData,
            "the stream stays failed"
        );
    });
}

#[test]
fn recv_msg_is_cancel_safe() {
    let rt = rt2();
    run(&rt, async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut peer = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut conn, _) = listener.accept().await.unwrap();

        let msg: Vec<u8> = (0..60_000u32).map(|i| i as u8).collect();
        let mut framed = (msg.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&msg);
        // Send the message in three parts, timing the receiver out after each of the
        // first two: every timeout drops a `recv_msg` in the middle of the message.
        let cuts = [0, 2, 30_003, framed.len()];
        for (i, part) in cuts.windows(2).enumerate() {
            peer.send_all(&framed[part[0]..part[1]]).await.unwrap();
            if i < 2 {
                let got = rcos::time::timeout(Duration::from_millis(50), conn.recv_msg()).await;
                assert!(got.is_err(), "part {i}: no whole message yet");
            } else {
                // The last part completes the message (`run` bounds the wait).
                let got = conn.recv_msg().await.unwrap();
                assert!(got == Some(msg.clone()), "the message came back whole");
            }
        }
    });
}

#[test]
fn clones_read_and_write_from_two_tasks() {
    let rt = rt2();
    run(&rt, async {
        let addr = echo_server(None, DEFAULT_MAX_MESSAGE).await;
        let stream = TcpStream::connect(addr).await.unwrap();
        let mut writer = stream.clone();
        let mut reader = stream;
        let w = rcos::spawn(move |_| async move {
            for i in 0..100u32 {
                writer.send_msg(&i.to_be_bytes()).await.unwrap();
            }
        });
        for i in 0..100u32 {
            assert_eq!(reader.recv_msg().await.unwrap().unwrap(), i.to_be_bytes());
        }
        assert!(w.finish().await.is_returned());
    });
}

#[test]
fn tcp_connect_to_a_closed_port_is_refused() {
    let rt = rt2();
    run(&rt, async {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let err = TcpStream::connect(("127.0.0.1", port)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        // A host name goes through the resolver.
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        // `localhost` may resolve to ::1 first; each address is tried in turn.
        let c = TcpStream::connect(format!("localhost:{port}")).await;
        assert!(c.is_ok(), "{:?}", c.err());
        drop(l);
    });
}

#[test]
fn udp_datagrams_both_ways() {
    let rt = rt2();
    run(&rt, async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server_addr = server.local_addr().unwrap();
        let echo = {
            let server = server.clone();
            rcos::spawn(move |_| async move {
                let mut buf = vec![0u8; 2048];
                for _ in 0..10 {
                    let (n, from) = server.recv_from(&mut buf).await.unwrap();
                    let mut reply = b"echo ".to_vec();
                    reply.extend_from_slice(&buf[..n]);
                    server.send_to(&reply, from).await.unwrap();
                }
            })
        };
        let client = UdpSocket::bind(("127.0.0.1", 0)).await.unwrap();
        let mut buf = [0u8; 2048];
        for i in 0..10 {
            let msg = format!("datagram {i}");
            client.send_to(msg.as_bytes(), server_addr).await.unwrap();
            let (n, from) = client.recv_from(&mut buf).await.unwrap();
            assert_eq!(from, server_addr);
            assert_eq!(&buf[..n], format!("echo {msg}").as_bytes());
        }
        assert!(echo.finish().await.is_returned());

        // Connected sockets: send / recv.
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        b.connect(a.local_addr().unwrap()).await.unwrap();
        a.send(b"one datagram").await.unwrap();
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"one datagram");
        assert_eq!(b.peer_addr().unwrap(), a.local_addr().unwrap());
    });
}

#[cfg(unix)]
mod unix {
    use super::*;
    use rcos::io::{UnixListener, UnixStream};

    /// A fresh directory, removed on drop (also when the test fails).
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!(
                "rcos-io-{tag}-{}-{}",
                std::process::id(),
                unique()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn unique() -> usize {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    #[test]
    fn unix_socket_round_trips_and_eof() {
        let rt = rt2();
        let dir = TempDir::new("unix");
        let path = dir.0.join("echo.sock");
        run(&rt, async move {
            let listener = UnixListener::bind(&path).unwrap();
            let server = rcos::spawn(move |_| async move {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut n = 0;
                while let Some(msg) = conn.recv_msg().await.unwrap() {
                    conn.send_msg(&msg).await.unwrap();
                    n += 1;
                }
                n
            });
            let mut client = UnixStream::connect(&path).await.unwrap();
            for size in [0usize, 10, 100_000, 3 << 20] {
                let msg = vec![size as u8; size];
                client.send_msg(&msg).await.unwrap();
                assert!(client.recv_msg().await.unwrap().unwrap() == msg);
            }
            // Half a message, then close: the server sees none.
            client.send_all(&10u32.to_be_bytes()).await.unwrap();
            client.send_all(b"12345").await.unwrap();
            drop(client);
            assert_eq!(server.finish().await.get::<i32>(), Some(4));
        });
        assert!(dir.0.join("echo.sock").exists());
        drop(dir);
    }

    #[test]
    fn unix_oversized_prefix_is_invalid_data() {
        let rt = rt2();
        run(&rt, async {
            let (mut a, mut b) = UnixStream::pair().unwrap();
            a.send_all(&[0xFF, 0xFF, 0xFF, 0xFF]).await.unwrap();
            let err = b.recv_msg().await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidData);
            // b shut the connection down: a reads the end.
            let mut buf = [0u8; 4];
            assert_eq!(a.recv(&mut buf).await.unwrap(), 0);
        });
    }
}

/// The I/O types can move into tasks and be shared; their futures can run in tasks.
#[test]
fn io_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync + 'static>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<TcpListener>();
    send_sync::<TcpStream>();
    send_sync::<UdpSocket>();
    send_sync::<MessageTooLarge>();
    #[cfg(unix)]
    {
        send_sync::<rcos::io::UnixListener>();
        send_sync::<rcos::io::UnixStream>();
    }
    send_sync::<rcos::io::fs::File>();
    send_sync::<rcos::io::pipe::Pipe>();
    send_sync::<rcos::io::pipe::PipeReader>();
    send_sync::<rcos::io::pipe::PipeWriter>();
    send_sync::<rcos::io::pipe::Output>();

    let mut stream: Option<TcpStream> = None;
    if let Some(s) = stream.as_mut() {
        send(&s.recv_msg());
        send(&s.send_msg(b""));
    }
    let mut pipe: Option<rcos::io::pipe::Pipe> = None;
    if let Some(p) = pipe.as_mut() {
        send(&p.communicate(b""));
        send(&p.read_line());
    }
    send(&TcpStream::connect("localhost:1"));
}
