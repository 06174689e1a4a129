//! The dashboard refuses a request body over its cap (`MAX_BODY`) with 413 and closes
//! the connection at once: the client reads the answer and then the end of the stream,
//! even though it declared a long body, sent only part of it and keeps its side open.
//! Fifty such requests leave nothing behind (the process's threads and file descriptors
//! come back to what they were) and the dashboard still answers. A silent connection is
//! closed after 20 s, and the dashboard still accepts connections after that long
//! without one.
//!
//! The only test of its binary, so that the counts of threads and descriptors in
//! `/proc/self` are the dashboard's alone.
#![cfg(target_os = "linux")]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcos::cluster::dashboard::{self, MAX_BODY};
use rcos::cluster::{ClusterSnapshot, DashboardSource, JobId};
use rcos_tests::PATIENCE;

/// A cluster with nothing in it.
struct Empty;

impl DashboardSource for Empty {
    fn snapshot(&self) -> ClusterSnapshot {
        ClusterSnapshot::default()
    }
    fn suspend_node(&self, node: &str) -> Result<(), String> {
        Err(format!("no node named {node:?}"))
    }
    fn resume_node(&self, node: &str) -> Result<(), String> {
        Err(format!("no node named {node:?}"))
    }
    fn terminate_job(&self, job: JobId) -> Result<(), String> {
        Err(format!("no job {job}"))
    }
}

fn count(dir: &str) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

/// Threads and open file descriptors of this process.
fn resources() -> (usize, usize) {
    (count("/proc/self/task"), count("/proc/self/fd"))
}

/// Sends a request declaring a `length`-byte body, then only part of it, and keeps its
/// side open: returns the answer's status once the stream has ended (within
/// [`PATIENCE`]), and how long the end took to come.
fn oversized(addr: SocketAddr, length: u64) -> (u16, Duration) {
    let mut stream = TcpStream::connect(addr).expect("the dashboard accepts");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    let head = format!(
        "POST /api/jobs/1/terminate HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    // Part of the body; the rest never comes, and the sending side stays open.
    let _ = stream.write_all(&[b'x'; 3000]);
    let start = Instant::now();
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
            panic!(
                "the connection was not closed within {PATIENCE:?} after {:?}",
                String::from_utf8_lossy(&answer)
            )
        }
        Err(e) => panic!(
            "the connection was reset ({e}) instead of closed, after {:?}",
            String::from_utf8_lossy(&answer)
        ),
    }
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    (status, start.elapsed())
}

fn status_ok(addr: SocketAddr) -> bool {
    let mut stream = TcpStream::connect(addr).expect("the dashboard accepts");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET /api/status HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.starts_with("HTTP/1.1 200")
}

/// The threads of this process whose name starts with `prefix`.
fn threads_named(prefix: &str) -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// The threads and descriptors once no connection is relayed any more (waiting up to
/// [`PATIENCE`], reading /proc every 50 ms as it has no notification).
fn settled() -> (usize, usize) {
    let deadline = Instant::now() + PATIENCE;
    while threads_named("rcos-dash-") > 0 {
        assert!(Instant::now() < deadline, "connections still relayed");
        std::thread::sleep(Duration::from_millis(50));
    }
    resources()
}

/// Waits (up to [`PATIENCE`]) until the process has no more threads and descriptors than
/// `baseline`: the relays end one second after their connection, tiny_http's extra
/// threads five seconds after their last connection. /proc has no notification, so it
/// is read again every 50 ms.
fn back_to(baseline: (usize, usize)) -> (usize, usize) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = resources();
        if now.0 <= baseline.0 && now.1 <= baseline.1 {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "threads and descriptors {now:?}, not back to {baseline:?} in {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_oversized_body_gets_413_and_its_connection_closed_and_freed() {
    rcos_tests::log_if_asked();
    let dashboard =
        dashboard::serve(Arc::new(Empty), "127.0.0.1:0".parse().unwrap()).expect("it binds");
    let addr = dashboard.local_addr();
    // After one request, once its connection has ended: the dashboard's own threads
    // (tiny_http's pool started) and sockets only.
    assert!(status_ok(addr));
    let baseline = settled();

    // Just over the cap, 64 MiB, 1 GiB: each closed at once, 50 times.
    let lengths = [MAX_BODY as u64 + 1, 64 << 20, 1 << 30];
    let mut slowest = Duration::ZERO;
    for n in 0..50 {
        let (status, took) = oversized(addr, lengths[n % lengths.len()]);
        assert_eq!(status, 413, "request {n}");
        slowest = slowest.max(took);
    }
    println!("50 oversized bodies: 413 and closed, the slowest end after {slowest:?}");
    assert!(status_ok(addr), "still answering");
    let after = back_to(baseline);
    println!("threads and descriptors: {baseline:?} before, {after:?} after");

    // A length no machine could reserve: still 413 and closed (tiny_http's half of it is
    // abandoned, as the dashboard's docs say).
    let (status, _) = oversized(addr, 1 << 50);
    assert_eq!(status, 413);
    assert!(status_ok(addr), "still answering");

    // A connection that stays silent is closed after 20 s; and after 20 s without a new
    // connection, new ones are still accepted (a timeout on the listening socket once
    // made tiny_http stop accepting).
    let mut silent = TcpStream::connect(addr).expect("the dashboard accepts");
    silent.set_read_timeout(Some(PATIENCE * 2)).unwrap();
    let start = Instant::now();
    let mut rest = Vec::new();
    silent
        .read_to_end(&mut rest)
        .expect("a silent connection is closed, not left open");
    let took = start.elapsed();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert!(took >= Duration::from_secs(19), "closed after {took:?}");
    assert!(status_ok(addr), "still accepting after {took:?}");
    dashboard.stop();
}
