//! Socket workload: framed-message round trips over loopback TCP — rcos tasks using
//! `rcos::io` (`send_msg` / `recv_msg`), against the floor, two threads running raw
//! async-io sockets with the same 4-byte length prefix written by hand.

use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use rcos::Runtime;
use rcos::io::{recv_msg, send_msg};

use crate::{Figure, per_op};

const WARM_UP: usize = 100;
const MESSAGE: [u8; 64] = [7; 64];

/// `n` round trips of a 64-byte message between two rcos tasks over loopback TCP.
pub(crate) fn rcos_roundtrip(n: usize, workers: usize) -> Figure {
    let rt = Runtime::builder()
        .name("bench-sockets")
        .workers(workers)
        .build()
        .expect("runtime starts");
    let total = n + WARM_UP;
    rt.block_on(async move {
        let listener = rcos::io::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = rcos::spawn(move |_| async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            stream.set_nodelay(true).expect("nodelay");
            for _ in 0..total {
                let msg = recv_msg(&mut stream, 1 << 20)
                    .await
                    .expect("read")
                    .expect("a message");
                send_msg(&mut stream, &msg).await.expect("write");
            }
        });
        let mut stream = rcos::io::TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let mut start = Instant::now();
        for i in 0..total {
            if i == WARM_UP {
                start = Instant::now();
            }
            send_msg(&mut stream, &MESSAGE).await.expect("write");
            let back = recv_msg(&mut stream, 1 << 20)
                .await
                .expect("read")
                .expect("a message");
            debug_assert_eq!(back.len(), MESSAGE.len());
        }
        let fig = per_op(start.elapsed(), n);
        server.finish().await;
        fig
    })
}

/// The floor: the same round trips between two tasks of an async-executor run by
/// `threads` threads (as rcos runs its tasks), on async-io sockets with the length
/// prefix written by hand.
pub(crate) fn floor_roundtrip(n: usize, threads: usize) -> Figure {
    let floor = crate::floor::Floor::new(threads);
    let ex = floor.executor();
    let total = n + WARM_UP;
    floor.run(async move {
        let listener = async_io::Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).expect("bind");
        let addr = listener.get_ref().local_addr().expect("addr");
        let server = ex.spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            stream.get_ref().set_nodelay(true).expect("nodelay");
            let mut stream = stream;
            for _ in 0..total {
                let mut len = [0u8; 4];
                stream.read_exact(&mut len).await.expect("read");
                let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
                stream.read_exact(&mut body).await.expect("read");
                let mut out = Vec::with_capacity(4 + body.len());
                out.extend_from_slice(&len);
                out.extend_from_slice(&body);
                stream.write_all(&out).await.expect("write");
            }
        });
        let mut stream = async_io::Async::<TcpStream>::connect(addr)
            .await
            .expect("connect");
        stream.get_ref().set_nodelay(true).expect("nodelay");
        let mut start = Instant::now();
        for i in 0..total {
            if i == WARM_UP {
                start = Instant::now();
            }
            let mut out = Vec::with_capacity(4 + MESSAGE.len());
            out.extend_from_slice(&(MESSAGE.len() as u32).to_be_bytes());
            out.extend_from_slice(&MESSAGE);
            stream.write_all(&out).await.expect("write");
            let mut len = [0u8; 4];
            stream.read_exact(&mut len).await.expect("read");
            let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
            stream.read_exact(&mut body).await.expect("read");
        }
        let fig = per_op(start.elapsed(), n);
        server.await;
        fig
    })
}
