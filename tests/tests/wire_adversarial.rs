//! The decoders under hostile input, measured (plan rows A3, A4, A5, A8): each hostile
//! input is refused quickly without allocating much; the nesting limit holds at the
//! runtime's real stack in a debug build; a maximal frame of tiny items stays within a
//! bounded amplification; other protocols are refused on their first four bytes.
//!
//! A counting global allocator measures the bytes allocated, so the tests of this file
//! take turns (one lock) and each measures only what it runs. Each prints the figure its
//! plan row names.

use std::net::TcpStream;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rcos::net::__fuzz::{self, StreamOptions};
use rcos::net::{self, NodeConfig};
use rcos::{Runtime, TaskRef};
use rcos_tests::{PATIENCE, SECRET, node, node_with, run};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// One test at a time: the allocator counts every thread.
fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f`; returns its result, the bytes it allocated (growth by reallocation
/// included, frees not subtracted: an upper bound of its peak) and how long it took.
fn measured<T>(f: impl FnOnce() -> T) -> (T, usize, Duration) {
    let region = Region::new(GLOBAL);
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    // (Growth by reallocation is counted in `bytes_allocated` too.)
    let bytes = region.change().bytes_allocated;
    (out, bytes, took)
}

fn kib(bytes: usize) -> f64 {
    bytes as f64 / 1024.0
}

/// The time a refusal may take in this build: the plan's figure in release; debug code
/// (what `cargo test` runs) is several times slower, so it gets ten times as long.
fn budget(release: Duration) -> Duration {
    if cfg!(debug_assertions) {
        release * 10
    } else {
        release
    }
}

#[test]
fn a3_adversarial_inputs_are_refused_quickly_without_allocating() {
    let _turn = exclusive();
    let scale = 1_000_000;
    let cases = __fuzz::adversarial_streams(scale);
    let (mut max_time, mut max_alloc) = (Duration::ZERO, 0usize);
    let mut refused = 0;
    for (name, stream) in &cases {
        let input = [__fuzz::preamble(), stream.clone()].concat();
        // The body's declared length (a refused length declares more than arrives).
        let frame = stream.len().saturating_sub(4);
        let (report, bytes, took) =
            measured(|| __fuzz::decode_stream(&input, StreamOptions::default()));
        println!(
            "A3: {name}: {} in {:.3} ms, {:.1} KiB allocated ({} frames)",
            report.error.as_deref().unwrap_or("accepted"),
            took.as_secs_f64() * 1e3,
            kib(bytes),
            report.frames
        );
        // Refused: the stream ends in an error before any frame that carries a message is
        // handed on (the indefinite-length text is well-formed CBOR: it decodes, and is
        // refused by the checks after it, or ends with the stream).
        assert!(report.error.is_some(), "{name}: {report:?}");
        if name != "indefinite-text-chunks" && name != "trailing-bytes" {
            assert_eq!(report.frames, 0, "{name}: {report:?}");
        } else {
            assert!(report.frames <= 1, "{name}: {report:?}");
        }
        assert!(
            bytes <= frame + 64 * 1024,
            "{name}: {bytes} bytes allocated for a {frame}-byte frame"
        );
        assert!(took < budget(Duration::from_millis(10)), "{name}: {took:?}");
        max_time = max_time.max(took);
        max_alloc = max_alloc.max(bytes.saturating_sub(frame));
        refused += 1;
    }
    println!(
        "A3: {refused} inputs rejected, max {:.2} ms ({} build), max alloc {:.1} KiB beyond the frame itself",
        max_time.as_secs_f64() * 1e3,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        kib(max_alloc)
    );
}

/// A value nested as deep as it is long: `Nest(vec![Nest(vec![..])])` is CBOR arrays
/// inside arrays.
#[derive(Debug, serde::Serialize, serde::Deserialize, rcos::Message)]
struct Nest(Vec<Nest>);

/// The encoding of `depth` nested arrays (the innermost empty).
fn nested(depth: usize) -> Vec<u8> {
    [vec![0x81u8; depth - 1], vec![0x80]].concat()
}

#[test]
fn a4_the_nesting_limit_holds_on_a_runtime_worker_thread() {
    let _turn = exclusive();
    let limit = 64;
    // A runtime as an application makes one: default workers and their default stacks.
    let rt = Runtime::builder().build().unwrap();
    let results = run(&rt, async move {
        let task = rcos::spawn(move |_task| async move {
            let at = __fuzz::decode_message::<Nest>(&nested(limit)).map(|_| ());
            let over = __fuzz::decode_message::<Nest>(&nested(limit + 1)).map(|_| ());
            let far = __fuzz::decode_message::<Nest>(&nested(1_000_000)).map(|_| ());
            let thread = std::thread::current().name().map(str::to_string);
            (at, over, far, thread)
        });
        task.finish().await
    });
    let (at, over, far, thread) = results
        .value()
        .and_then(|v| {
            v.take::<(
                Result<(), String>,
                Result<(), String>,
                Result<(), String>,
                Option<String>,
            )>()
        })
        .expect("the decoding task returned");
    assert!(at.is_ok(), "depth {limit}: {at:?}");
    assert!(over.is_err(), "depth {}: decoded", limit + 1);
    assert!(far.is_err());
    // The arrival check agrees with the decoder.
    assert!(__fuzz::payload_within_depth(&nested(limit), limit));
    assert!(!__fuzz::payload_within_depth(&nested(limit + 1), limit));

    // Across two nodes: the deepest message the limit allows arrives and is read; one
    // level more is refused on arrival (its `deliver` fails), and the node goes on.
    let a = node("a4-a");
    let at_loc = a.location().unwrap();
    let reader = a.spawn(|task| async move {
        let msg = task.receive().await?;
        Ok::<_, rcos::Interrupt>(msg.downcast::<Nest>().is_ok())
    });
    reader.register("a4-reader").unwrap();
    let b = node("a4-b");
    let refused_deeper = run(&b, async move {
        let t = TaskRef::locate_at(at_loc, "a4-reader", Duration::from_secs(10))
            .await
            .unwrap();
        let deep = |d: usize| {
            let mut n = Nest(Vec::new());
            for _ in 1..d {
                n = Nest(vec![n]);
            }
            n
        };
        let refused = t
            .deliver(deep(limit + 1), Duration::from_secs(10))
            .await
            .is_err();
        t.deliver(deep(limit), Duration::from_secs(10))
            .await
            .unwrap();
        refused
    });
    assert!(refused_deeper);
    let exit = reader.value_timeout(PATIENCE).expect("the reader ended");
    let read = exit
        .value()
        .and_then(|v| v.take::<Result<bool, rcos::Interrupt>>())
        .expect("the reader returned")
        .unwrap();
    assert!(
        read,
        "the message at the limit did not decode on the receiving task"
    );
    println!(
        "A4: depth {limit} ok, depth {} Err, depth 1,000,000 Err, on worker thread {:?} (default 2 MiB stack, {} build); across nodes: depth {limit} read by the task, {} refused on arrival",
        limit + 1,
        thread.unwrap_or_default(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        limit + 1
    );
}

/// A `Send` frame whose message name and payload are the CBOR items `name` and `bytes`.
fn send_frame(name: &[u8], bytes: &[u8]) -> Vec<u8> {
    let mut out = b"\xa1\x64Send\xa2\x62to\x01\x63msg\xa2\x64name".to_vec();
    out.extend_from_slice(name);
    out.extend_from_slice(b"\x65bytes");
    out.extend_from_slice(bytes);
    out
}

/// A CBOR array of `n` copies of `item` (a definite length with a 4-byte head).
fn array_of(n: usize, item: &[u8]) -> Vec<u8> {
    let mut out = vec![0x9a];
    out.extend_from_slice(&(n as u32).to_be_bytes());
    for _ in 0..n {
        out.extend_from_slice(item);
    }
    out
}

/// The process's peak resident memory so far, in bytes (after [`reset_peak`]).
fn peak_rss() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<usize>().ok()? * 1024)
}

fn rss() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<usize>().ok()? * 1024)
}

/// Resets the peak resident memory to the current one (Linux: `clear_refs` 5).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[test]
fn a5_a_maximal_frame_of_tiny_items_stays_within_the_amplification_bound() {
    let _turn = exclusive();
    let max = 1usize << 20;
    // Items that fill a record of at most `max` bytes once their heads are added.
    let n = max - 64;
    let frames: Vec<(&str, Vec<u8>)> = vec![
        (
            "WireMsg.bytes as a byte string",
            send_frame(
                b"\x61x",
                &[vec![0x5a], (n as u32).to_be_bytes().to_vec(), vec![0u8; n]].concat(),
            ),
        ),
        (
            "WireMsg.bytes as an array of 1-byte integers",
            send_frame(b"\x61x", &array_of(n, &[0x00])),
        ),
        (
            "WireMsg.name as 1-byte text chunks",
            send_frame(
                &[vec![0x7f], [0x61, b'a'].repeat(n / 2), vec![0xff]].concat(),
                b"\x40",
            ),
        ),
        ("an ignored field: an array of 1-byte items", {
            let mut f =
                b"\xa1\x66Locate\xa4\x63req\x01\x64name\x61x\x67channel\xf4\x63zzz".to_vec();
            f.extend_from_slice(&array_of(n, &[0x00]));
            f
        }),
        ("FileChunk.bytes as an array of 1-byte integers", {
            let mut f =
                b"\xa1\x69FileChunk\xa4\x63req\x01\x68transfer\x01\x66offset\x00\x65bytes".to_vec();
            f.extend_from_slice(&array_of(n, &[0x00]));
            f
        }),
        ("Exit value bytes as an array of 1-byte integers", {
            let mut f = b"\xa1\x66Answer\xa2\x63req\x01\x66answer\xa1\x64Exit\xa1\x68Returned\xa2\x64name\x63u32\x65bytes".to_vec();
            f.extend_from_slice(&array_of(n, &[0x00]));
            f
        }),
        (
            "a record of 7-byte Ping frames",
            b"\xa1\x64Ping\x00".repeat(n / 7),
        ),
    ];
    // Payloads as receiving tasks decode them: each item one byte on the wire.
    type Decode = fn(&[u8]) -> bool;
    let payloads: Vec<(&str, Vec<u8>, Decode)> = vec![
        (
            "payload Vec<u64> of 1-byte integers",
            array_of(n, &[0x00]),
            |b| __fuzz::decode_message::<Vec<u64>>(b).is_ok(),
        ),
        (
            "payload Vec<String> of empty texts",
            array_of(n, &[0x60]),
            |b| __fuzz::decode_message::<Vec<String>>(b).is_ok(),
        ),
        (
            "payload Vec<Vec<u8>> of empty byte strings",
            array_of(n, &[0x80]),
            |b| __fuzz::decode_message::<Vec<Vec<u8>>>(b).is_ok(),
        ),
        (
            "payload Vec<Option<u32>> of nulls",
            array_of(n, &[0xf6]),
            |b| __fuzz::decode_message::<Vec<Option<u32>>>(b).is_ok(),
        ),
    ];
    let peak_ok = reset_peak();
    let mut worst = (0.0f64, "");
    let mut check = |what: &'static str, len: usize, f: &dyn Fn() -> bool| {
        reset_peak();
        let base = rss().unwrap_or(0);
        let (ok, bytes, took) = measured(f);
        let grew = if peak_ok {
            peak_rss().unwrap_or(0).saturating_sub(base)
        } else {
            0
        };
        let factor = bytes.max(grew) as f64 / len as f64;
        println!(
            "A5: {what}: {len} bytes, {} in {:.1} ms, {:.1} MiB allocated, peak RSS +{:.1} MiB: {factor:.1}x",
            if ok { "decoded" } else { "refused" },
            took.as_secs_f64() * 1e3,
            bytes as f64 / (1 << 20) as f64,
            grew as f64 / (1 << 20) as f64,
        );
        assert!(factor <= 40.0, "{what}: {factor:.1}x the frame");
        if !what.starts_with("payload") {
            // What the node itself decodes (a payload is decoded by the task it is for).
            assert!(
                took < budget(Duration::from_millis(200)),
                "{what}: {took:?}"
            );
        }
        if factor > worst.0 {
            worst = (factor, what);
        }
    };
    for (what, body) in &frames {
        assert!(body.len() <= max, "{what}: {} bytes", body.len());
        let input = [__fuzz::preamble(), __fuzz::record(body)].concat();
        check(what, body.len(), &|| {
            __fuzz::decode_stream(&input, StreamOptions::default()).frames > 0
        });
    }
    for (what, body, decode) in &payloads {
        check(what, body.len(), &|| decode(body));
    }
    println!(
        "A5: worst {:.1}x the frame ({}); bound 40x; peak RSS {}",
        worst.0,
        worst.1,
        if peak_ok {
            "measured"
        } else {
            "not measurable here (allocations only)"
        }
    );
}

#[test]
fn a8_other_protocols_are_refused_on_their_first_four_bytes() {
    let _turn = exclusive();
    let tls_hello: &[u8] = &[
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    let cases: [(&str, &[u8]); 3] = [
        ("TLS ClientHello", tls_hello),
        ("HTTP GET /", b"GET / HTTP/1.1\r\nHost: rcos\r\n\r\n"),
        ("garbage", b"\x00\x00\x10\x00 then a huge length"),
    ];
    // In-process: the preamble check alone.
    for (what, bytes) in cases {
        let (report, allocated, took) =
            measured(|| __fuzz::decode_stream(bytes, StreamOptions::default()));
        let error = report.error.unwrap();
        assert!(error.contains("not an rcos peer"), "{what}: {error}");
        assert!(took < budget(Duration::from_millis(1)), "{what}: {took:?}");
        assert!(allocated <= 4096, "{what}: {allocated} bytes");
        println!(
            "A8: {what} (in process): refused on the magic in {:.1} us, {allocated} bytes allocated",
            took.as_secs_f64() * 1e6
        );
    }
    // On a node's port: only the first four bytes are sent; a node that waited for a
    // length or more bytes would keep the connection open until its handshake timeout
    // (20 s here), so a close now proves the refusal came from the magic.
    let a = node_with(
        "a8-a",
        NodeConfig::new()
            .secret(SECRET)
            .handshake_timeout(Duration::from_secs(20)),
    );
    let at = a.location().unwrap();
    for (what, bytes) in cases {
        let (closed, allocated, took) = measured(|| closed_after(at.addr(), &bytes[..4]));
        assert!(closed, "{what}: not closed");
        assert!(took < Duration::from_secs(5), "{what}: {took:?}");
        println!(
            "A8: {what} (4 bytes to a node): closed in {:.2} ms, {:.1} KiB allocated by the process meanwhile",
            took.as_secs_f64() * 1e3,
            kib(allocated)
        );
    }
    // The node still serves.
    let b = node("a8-b");
    run(&b, async move { net::peer(at).await.unwrap() });
    a8_plaintext_to_a_tls_port();
}

/// Writes `bytes` and waits (bounded) for the other side to close: true if it closed
/// (EOF or reset) after sending at most the 8-byte preamble.
fn closed_after(addr: std::net::SocketAddr, bytes: &[u8]) -> bool {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let _ = s.write_all(bytes);
    let mut got = 0;
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got <= 8,
            Ok(n) => got += n,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false;
            }
            Err(_) => return got <= 8,
        }
    }
}

/// Plaintext rcos to a TLS node: the TLS handshake fails on the first record.
#[cfg(feature = "tls")]
fn a8_plaintext_to_a_tls_port() {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let (cert, key) = (ck.cert.pem(), ck.key_pair.serialize_pem());
    let config = NodeConfig::new()
        .secret(SECRET)
        .handshake_timeout(Duration::from_secs(20))
        .tls(cert.as_bytes(), key.as_bytes(), cert.as_bytes())
        .unwrap();
    let tls = node_with("a8-tls", config);
    let at = tls.location().unwrap();
    let (closed, allocated, took) = measured(|| closed_after(at.addr(), &__fuzz::preamble()));
    assert!(closed);
    assert!(took < Duration::from_secs(5), "{took:?}");
    println!(
        "A8: rcos plaintext to a TLS port: closed in {:.2} ms, {:.1} KiB allocated by the process meanwhile",
        took.as_secs_f64() * 1e3,
        kib(allocated)
    );
}

#[cfg(not(feature = "tls"))]
fn a8_plaintext_to_a_tls_port() {
    println!("A8: plaintext to a TLS port: not run (feature tls off)");
}
