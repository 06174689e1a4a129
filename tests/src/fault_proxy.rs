//! A fault-injecting TCP proxy, in place of `tc netem` (which this machine's kernel
//! lacks): it forwards connections to a target and, at run time, on the test's command,
//! delays (with jitter), throttles, stalls, resets (RST, via `SO_LINGER` 0), half-closes,
//! flips a byte of, or truncates the stream, in one direction or both.
//!
//! A node put behind a proxy announces the proxy as its address
//! ([`NodeConfig::external_address`](rcos::net::NodeConfig::external_address)), so its
//! peers reconnect through the proxy too:
//!
//! ```no_run
//! use rcos_tests::fault_proxy::{Dir, FaultProxy};
//!
//! let proxy = FaultProxy::new();
//! let b = rcos_tests::node_with(
//!     "b",
//!     rcos::net::NodeConfig::new()
//!         .secret(rcos_tests::SECRET)
//!         .external_address(proxy.addr()),
//! );
//! proxy.forward_to(b.bound_address().unwrap());
//! proxy.set(Dir::Both, |f| f.delay = std::time::Duration::from_millis(20));
//! proxy.reset(); // every connection through it gets an RST
//! ```
//!
//! Every forwarding thread blocks on a socket or a channel; none polls. The proxy stops
//! accepting and cuts its connections when dropped.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// A direction of the traffic through the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// From the connecting side (the client) to the target.
    Up,
    /// From the target back to the client.
    Down,
    /// Both directions.
    Both,
}

impl Dir {
    fn includes(self, one: Dir) -> bool {
        self == Dir::Both || self == one
    }
}

/// The faults applied to one direction. All off by default.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Every chunk is held this long before it is forwarded.
    pub delay: Duration,
    /// Plus or minus this much, uniformly at random (order is kept: a chunk never
    /// overtakes an earlier one).
    pub jitter: Duration,
    /// At most this many bytes per second (`None`: unlimited).
    pub bandwidth: Option<u64>,
    /// While set, nothing is forwarded (it is held, not dropped: TCP stays open, like a
    /// link that silently stopped carrying packets).
    pub stall: bool,
    /// Flip (xor 0xFF) the byte this many bytes further on in the stream, once.
    pub flip_at: Option<u64>,
    /// Forward this many more bytes, then close the connection (both ways).
    pub truncate_at: Option<u64>,
}

/// What the proxy has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted and forwarded.
    pub connections: u64,
    /// Connections refused (while refusing, or when the target did not answer).
    pub refused: u64,
    /// Connections ended with an RST.
    pub resets: u64,
    /// Bytes forwarded client → target.
    pub bytes_up: u64,
    /// Bytes forwarded target → client.
    pub bytes_down: u64,
    /// Bytes flipped.
    pub flipped: u64,
    /// Connections truncated.
    pub truncated: u64,
}

/// One forwarded connection: the two sockets, shared by the four threads that move
/// its bytes.
struct Conn {
    client: Arc<TcpStream>,
    server: Arc<TcpStream>,
    /// Set when the proxy ends the connection on purpose (reset, cut, truncation): the
    /// threads stop forwarding instead of passing an end of stream on.
    ended: AtomicBool,
    /// Set by [`FaultProxy::half_close`] per direction: that way is shut (FIN sent on).
    half_closed: [AtomicBool; 2],
    /// Writer threads still running; the connection is over when both have ended.
    writers: AtomicU64,
}

impl Conn {
    fn dest(&self, dir: Dir) -> &TcpStream {
        if dir == Dir::Up {
            &self.server
        } else {
            &self.client
        }
    }

    /// Ends the connection: with `rst`, both sockets close with an RST (`SO_LINGER` 0)
    /// once the forwarding threads let go; otherwise with a FIN both ways.
    fn end(&self, rst: bool) {
        if self.ended.swap(true, Ordering::SeqCst) {
            return;
        }
        for s in [&self.client, &self.server] {
            if rst {
                let _ = socket2::SockRef::from(&**s).set_linger(Some(Duration::ZERO));
                // Blocked reads return (0 bytes) and the threads drop their references;
                // the last one closes the socket, which then sends the RST.
                let _ = s.shutdown(Shutdown::Read);
            } else {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

struct Inner {
    target: Mutex<Option<SocketAddr>>,
    faults: Mutex<[Faults; 2]>,
    /// Notified when the faults change (a stall ends).
    changed: Condvar,
    refuse: AtomicBool,
    conns: Mutex<Vec<Arc<Conn>>>,
    stats: Mutex<ProxyStats>,
    stopped: AtomicBool,
    rng: AtomicU64,
}

fn index(dir: Dir) -> usize {
    if dir == Dir::Up { 0 } else { 1 }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A TCP proxy on `127.0.0.1` (or a given address) with faults controlled at run time.
pub struct FaultProxy {
    addr: SocketAddr,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Default for FaultProxy {
    fn default() -> Self {
        FaultProxy::new()
    }
}

impl FaultProxy {
    /// A proxy on a free port of `127.0.0.1`, forwarding to the address given later with
    /// [`forward_to`](Self::forward_to) (connections before that are refused).
    pub fn new() -> FaultProxy {
        FaultProxy::bind("127.0.0.1:0".parse().expect("an address"))
    }

    /// A proxy listening on `at`.
    pub fn bind(at: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind(at).expect("the proxy binds");
        let addr = listener.local_addr().expect("a bound address");
        let inner = Arc::new(Inner {
            target: Mutex::new(None),
            faults: Mutex::new([Faults::default(), Faults::default()]),
            changed: Condvar::new(),
            refuse: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
            stats: Mutex::new(ProxyStats::default()),
            stopped: AtomicBool::new(false),
            rng: AtomicU64::new(0x9E37_79B9_7F4A_7C15 ^ u64::from(addr.port())),
        });
        let accepting = inner.clone();
        thread::Builder::new()
            .name("fault-proxy-accept".into())
            .spawn(move || accept_loop(listener, accepting))
            .expect("a thread");
        FaultProxy { addr, inner }
    }

    /// A proxy forwarding to `to` at once.
    pub fn to(to: SocketAddr) -> FaultProxy {
        let proxy = FaultProxy::new();
        proxy.forward_to(to);
        proxy
    }

    /// Where the proxy listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Forwards new connections to `to`.
    ///
    /// # Panics
    /// If `to` is the proxy itself (every connection would make another).
    pub fn forward_to(&self, to: SocketAddr) {
        assert_ne!(to, self.addr, "a proxy cannot forward to itself");
        *lock(&self.inner.target) = Some(to);
    }

    /// Changes the faults of `dir` (applied to data forwarded from now on, on every
    /// connection, present and future).
    pub fn set(&self, dir: Dir, change: impl Fn(&mut Faults)) {
        let mut faults = lock(&self.inner.faults);
        for one in [Dir::Up, Dir::Down] {
            if dir.includes(one) {
                change(&mut faults[index(one)]);
            }
        }
        drop(faults);
        self.inner.changed.notify_all();
    }

    /// Removes every fault (and ends stalls: held data flows on).
    pub fn clear(&self) {
        self.set(Dir::Both, |f| *f = Faults::default());
    }

    /// Stalls (or resumes) `dir`.
    pub fn stall(&self, dir: Dir, on: bool) {
        self.set(dir, |f| f.stall = on);
    }

    /// Refuses (closes at once) new connections while `on`.
    pub fn refuse(&self, on: bool) {
        self.inner.refuse.store(on, Ordering::SeqCst);
    }

    /// Resets every current connection: both ends get an RST. New connections are
    /// still accepted. Returns how many were reset.
    pub fn reset(&self) -> usize {
        let conns: Vec<Arc<Conn>> = lock(&self.inner.conns).drain(..).collect();
        for c in &conns {
            c.end(true);
        }
        lock(&self.inner.stats).resets += conns.len() as u64;
        conns.len()
    }

    /// Closes every current connection (FIN both ways) and refuses new ones: the
    /// node behind is unreachable through this proxy until [`refuse`](Self::refuse)`(false)`.
    pub fn cut(&self) {
        self.refuse(true);
        for c in lock(&self.inner.conns).drain(..) {
            c.end(false);
        }
    }

    /// Half-closes `dir` on every current connection: the receiving side of that
    /// direction reads an end of stream, while the other direction still flows.
    pub fn half_close(&self, dir: Dir) {
        for c in lock(&self.inner.conns).iter() {
            for one in [Dir::Up, Dir::Down] {
                if dir.includes(one) {
                    c.half_closed[index(one)].store(true, Ordering::SeqCst);
                    let _ = c.dest(one).shutdown(Shutdown::Write);
                }
            }
        }
    }

    /// The connections open now.
    pub fn open_connections(&self) -> usize {
        let mut conns = lock(&self.inner.conns);
        conns.retain(|c| !c.ended.load(Ordering::SeqCst));
        conns.len()
    }

    /// What the proxy has done so far.
    pub fn stats(&self) -> ProxyStats {
        *lock(&self.inner.stats)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.cut();
        self.inner.changed.notify_all();
        // Wake the accept loop so that it sees `stopped` and ends.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    for client in listener.incoming() {
        if inner.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let target = *lock(&inner.target);
        let target = target.filter(|_| !inner.refuse.load(Ordering::SeqCst));
        let server =
            target.and_then(|t| TcpStream::connect_timeout(&t, Duration::from_secs(5)).ok());
        let Some(server) = server else {
            lock(&inner.stats).refused += 1;
            drop(client);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let conn = Arc::new(Conn {
            client: Arc::new(client),
            server: Arc::new(server),
            ended: AtomicBool::new(false),
            half_closed: [AtomicBool::new(false), AtomicBool::new(false)],
            writers: AtomicU64::new(2),
        });
        {
            let mut conns = lock(&inner.conns);
            conns.retain(|c| !c.ended.load(Ordering::SeqCst));
            conns.push(conn.clone());
        }
        lock(&inner.stats).connections += 1;
        for dir in [Dir::Up, Dir::Down] {
            let (tx, rx) = channel();
            let (c, i) = (conn.clone(), inner.clone());
            thread::Builder::new()
                .name("fault-proxy-read".into())
                .spawn(move || read_side(c, dir, tx))
                .expect("a thread");
            let (c, i2) = (conn.clone(), i);
            thread::Builder::new()
                .name("fault-proxy-write".into())
                .spawn(move || {
                    write_side(&c, i2, dir, rx);
                    if c.writers.fetch_sub(1, Ordering::SeqCst) == 1 {
                        // Both ways are over: nothing holds the sockets any more.
                        c.ended.store(true, Ordering::SeqCst);
                    }
                })
                .expect("a thread");
        }
    }
}

/// Reads `dir`'s source and hands each chunk, stamped with its arrival, to the writer.
fn read_side(conn: Arc<Conn>, dir: Dir, tx: Sender<(Instant, Vec<u8>)>) {
    let mut from: &TcpStream = if dir == Dir::Up {
        &conn.client
    } else {
        &conn.server
    };
    let mut buf = vec![0u8; 16 << 10];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    }
    // The end of the stream (or an error): the writer passes it on after the data.
}

/// Writes `dir`'s chunks to its destination, applying the faults of the moment.
fn write_side(conn: &Conn, inner: Arc<Inner>, dir: Dir, rx: Receiver<(Instant, Vec<u8>)>) {
    let i = index(dir);
    let mut to: &TcpStream = conn.dest(dir);
    let mut not_before = Instant::now();
    let mut pending: Option<(Instant, Vec<u8>)> = None;
    loop {
        let (arrived, mut chunk) = match pending.take() {
            Some(item) => item,
            None => match rx.recv() {
                Ok(item) => item,
                Err(_) => break, // the source ended
            },
        };
        // Wait out a stall (held, not dropped).
        let faults = {
            let mut faults = lock(&inner.faults);
            while faults[i].stall && !conn.ended.load(Ordering::SeqCst) {
                faults = inner
                    .changed
                    .wait_timeout(faults, Duration::from_millis(200))
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            faults[i].clone()
        };
        if conn.ended.load(Ordering::SeqCst) {
            return;
        }
        // Delay with jitter, never overtaking an earlier chunk.
        if !faults.delay.is_zero() || !faults.jitter.is_zero() {
            let jitter = faults.jitter.as_micros() as i64;
            let offset = if jitter > 0 {
                let r = next_random(&inner.rng);
                (r % (2 * jitter as u64 + 1)) as i64 - jitter
            } else {
                0
            };
            let delay = (faults.delay.as_micros() as i64 + offset).max(0) as u64;
            let due = (arrived + Duration::from_micros(delay)).max(not_before);
            not_before = due;
            let now = Instant::now();
            if due > now {
                // The fault itself: holding the data for its delay.
                match rx_wait(conn, due - now) {
                    Wait::Ended => return,
                    Wait::Elapsed => {}
                }
            }
        }
        // Byte flip and truncation, counted from when they were set.
        let mut truncate_here = None;
        {
            let mut all = lock(&inner.faults);
            let f = &mut all[i];
            if let Some(at) = f.flip_at {
                if (at as usize) < chunk.len() {
                    chunk[at as usize] ^= 0xFF;
                    f.flip_at = None;
                    lock(&inner.stats).flipped += 1;
                } else {
                    f.flip_at = Some(at - chunk.len() as u64);
                }
            }
            if let Some(at) = f.truncate_at {
                if (at as usize) < chunk.len() {
                    truncate_here = Some(at as usize);
                    f.truncate_at = None;
                } else {
                    f.truncate_at = Some(at - chunk.len() as u64);
                }
            }
        }
        if let Some(at) = truncate_here {
            chunk.truncate(at);
        }
        if conn.half_closed[i].load(Ordering::SeqCst) {
            continue; // that way is shut: drop what still comes
        }
        // Bandwidth: write in slices, each followed by its share of a second.
        let slice = match faults.bandwidth {
            Some(bw) => ((bw / 50).max(1) as usize).min(chunk.len().max(1)),
            None => chunk.len().max(1),
        };
        for part in chunk.chunks(slice) {
            if to.write_all(part).is_err() {
                conn.end(false);
                return;
            }
            {
                let mut stats = lock(&inner.stats);
                if dir == Dir::Up {
                    stats.bytes_up += part.len() as u64;
                } else {
                    stats.bytes_down += part.len() as u64;
                }
            }
            if let Some(bw) = faults.bandwidth {
                let pause = Duration::from_secs_f64(part.len() as f64 / bw.max(1) as f64);
                if let Wait::Ended = rx_wait(conn, pause) {
                    return;
                }
            }
        }
        if truncate_here.is_some() {
            lock(&inner.stats).truncated += 1;
            conn.end(false);
            return;
        }
        // Take what else is already here without blocking, to keep order simple.
        match rx.try_recv() {
            Ok(item) => pending = Some(item),
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
            Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
        }
    }
    // The source ended: pass the end of stream on (unless the proxy ended it).
    if !conn.ended.load(Ordering::SeqCst) {
        let _ = to.shutdown(Shutdown::Write);
    }
}

enum Wait {
    Elapsed,
    Ended,
}

/// Holds for `d` (the injected delay), returning early if the connection is ended.
fn rx_wait(conn: &Conn, d: Duration) -> Wait {
    // A private channel that nobody sends on: `recv_timeout` is the wait.
    let (_tx, rx) = channel::<()>();
    let deadline = Instant::now() + d;
    loop {
        if conn.ended.load(Ordering::SeqCst) {
            return Wait::Ended;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Wait::Elapsed;
        }
        match rx.recv_timeout(left.min(Duration::from_millis(100))) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return Wait::Elapsed,
        }
    }
}

fn next_random(state: &AtomicU64) -> u64 {
    // xorshift64*, shared by the connections (good enough for jitter).
    let mut x = state.load(Ordering::Relaxed);
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    state.store(x, Ordering::Relaxed);
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}
