//! Remote workloads: two nodes over loopback in one process (one worker each), and the
//! floor — raw async-io TCP sockets carrying the same length-prefixed CBOR frames,
//! without actors, authentication or MACs.

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use rcos::net::NodeConfig;
use rcos::{Interrupt, Request, Runtime, TaskRef};
use serde::{Deserialize, Serialize};

use crate::{Figure, per_op, throughput};

const LONG: Duration = Duration::from_secs(120);
const SECRET: &[u8] = b"the bench's secret: loopback only";

fn node(name: &str) -> Runtime {
    Runtime::builder()
        .name(name.to_string())
        .workers(1)
        .node(NodeConfig::new().secret(SECRET))
        .build()
        .expect("node starts")
}

/// One-way throughput: `n` small messages from a task on one node to a task on the
/// other, in order; the clock stops when the last one is received.
pub(crate) fn rcos_oneway(n: usize) -> Figure {
    let (a, b) = (node("bench-a"), node("bench-b"));
    let at = a.location().expect("a node");
    let sink = a.spawn(move |task| async move {
        let mut next = 0u64;
        while next < n as u64 {
            let got = task.receive_type::<u64>().await?;
            debug_assert_eq!(got, next);
            next += 1;
        }
        Ok::<_, Interrupt>(Instant::now())
    });
    sink.register("sink").expect("name free");
    let start = b.block_on(async move {
        rcos::net::peer(at).await.expect("peer");
        let sink = TaskRef::locate("sink", LONG).await.expect("sink found");
        let start = Instant::now();
        for i in 0..n as u64 {
            let mut msg = i;
            loop {
                match sink.send(msg) {
                    Ok(()) => break,
                    Err(e) if e.is_full() => {
                        msg = e.into_inner();
                        rcos::task::yield_now().await;
                    }
                    Err(e) => panic!("send failed: {e}"),
                }
            }
        }
        start
    });
    let end = sink
        .value_timeout(LONG)
        .and_then(|exit| {
            exit.value()
                .and_then(|v| v.take::<Result<Instant, Interrupt>>())
        })
        .and_then(Result::ok)
        .expect("all received");
    throughput(end - start, n)
}

/// Round trip: `n` sequential `call`s from one node to an echo task on the other.
pub(crate) fn rcos_roundtrip(n: usize) -> Figure {
    let (a, b) = (node("bench-c"), node("bench-d"));
    let at = a.location().expect("a node");
    let echo = a.spawn(|task| async move {
        while let Ok(req) = task.receive_type::<Request<u64>>().await {
            let n = *req.body();
            let _ = req.reply(n);
        }
    });
    echo.register("echo").expect("name free");
    b.block_on(async move {
        rcos::net::peer(at).await.expect("peer");
        let echo = TaskRef::locate("echo", LONG).await.expect("echo found");
        // Warm the path up.
        for i in 0..100u64 {
            let _: u64 = echo.call(i, LONG).await.expect("reply");
        }
        let start = Instant::now();
        for i in 0..n as u64 {
            let back: u64 = echo.call(i, LONG).await.expect("reply");
            debug_assert_eq!(back, i);
        }
        per_op(start.elapsed(), n)
    })
}

/// What the floor's frames carry: a destination and a message, as rcos's do.
#[derive(Serialize, Deserialize)]
struct RawFrame {
    to: u64,
    #[serde(with = "serde_bytes_compat")]
    msg: Vec<u8>,
}

/// Bytes as a CBOR byte string (what `serde_bytes` does), without the dependency.
mod serde_bytes_compat {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let buf = ciborium::value::Value::deserialize(d)?;
        match buf {
            ciborium::value::Value::Bytes(b) => Ok(b),
            _ => Err(serde::de::Error::custom("expected bytes")),
        }
    }
}

fn encode_frame(i: u64, out: &mut Vec<u8>) {
    let mut msg = Vec::with_capacity(9);
    ciborium::into_writer(&i, &mut msg).expect("encodes");
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    ciborium::into_writer(&RawFrame { to: 7, msg }, &mut *out).expect("encodes");
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

fn decode_frame(body: &[u8]) -> u64 {
    let frame: RawFrame = ciborium::from_reader(body).expect("decodes");
    ciborium::from_reader(&frame.msg[..]).expect("decodes")
}

/// The floor of one-way throughput: a writer thread batching frames into a socket, a
/// reader thread decoding every frame and every message.
pub(crate) fn floor_oneway(n: usize) -> Figure {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let reader = std::thread::spawn(move || {
        async_io::block_on(async move {
            let (stream, _) = listener.accept().expect("accept");
            let mut stream = async_io::Async::new(stream).expect("async");
            let mut buf = vec![0u8; 256 << 10];
            let (mut filled, mut next) = (0usize, 0u64);
            while next < n as u64 {
                let got = stream.read(&mut buf[filled..]).await.expect("read");
                assert!(got > 0, "closed early");
                filled += got;
                let mut at = 0;
                while filled - at >= 4 {
                    let len = u32::from_be_bytes(buf[at..at + 4].try_into().expect("4")) as usize;
                    if filled - at - 4 < len {
                        break;
                    }
                    let value = decode_frame(&buf[at + 4..at + 4 + len]);
                    debug_assert_eq!(value, next);
                    next += 1;
                    at += 4 + len;
                }
                buf.copy_within(at..filled, 0);
                filled -= at;
            }
            Instant::now()
        })
    });
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let start = Instant::now();
    async_io::block_on(async move {
        let mut stream = async_io::Async::new(stream).expect("async");
        let mut batch = Vec::with_capacity(64 << 10);
        for i in 0..n as u64 {
            encode_frame(i, &mut batch);
            if batch.len() >= 60 << 10 {
                stream.write_all(&batch).await.expect("write");
                batch.clear();
            }
        }
        stream.write_all(&batch).await.expect("write");
        stream.flush().await.expect("flush");
    });
    let end = reader.join().expect("reader");
    throughput(end - start, n)
}

/// The floor of a round trip: one frame there, decoded and echoed, and back.
pub(crate) fn floor_roundtrip(n: usize) -> Figure {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let total = n + 100;
    let server = std::thread::spawn(move || {
        async_io::block_on(async move {
            let (stream, _) = listener.accept().expect("accept");
            stream.set_nodelay(true).expect("nodelay");
            let mut stream = async_io::Async::new(stream).expect("async");
            let mut out = Vec::new();
            for _ in 0..total {
                let mut len = [0u8; 4];
                stream.read_exact(&mut len).await.expect("read");
                let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
                stream.read_exact(&mut body).await.expect("read");
                out.clear();
                encode_frame(decode_frame(&body), &mut out);
                stream.write_all(&out).await.expect("write");
            }
        });
    });
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let fig = async_io::block_on(async move {
        let mut stream = async_io::Async::new(stream).expect("async");
        let mut out = Vec::new();
        let mut start = Instant::now();
        for i in 0..total as u64 {
            if i == 100 {
                start = Instant::now();
            }
            out.clear();
            encode_frame(i, &mut out);
            stream.write_all(&out).await.expect("write");
            let mut len = [0u8; 4];
            stream.read_exact(&mut len).await.expect("read");
            let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
            stream.read_exact(&mut body).await.expect("read");
            debug_assert_eq!(decode_frame(&body), i);
        }
        per_op(start.elapsed(), n)
    });
    server.join().expect("server");
    fig
}
