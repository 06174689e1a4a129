//! The cluster dashboard (pycos's httpd): an HTTP server showing a cluster client's
//! nodes and jobs live, with a JSON API behind the page.
//!
//! [`serve`] starts it on threads of its own (it does not run on the rcos runtime), reading
//! from any [`DashboardSource`], normally the cluster client. The page polls the JSON API
//! about once a second and redraws without reloading; its buttons suspend and resume
//! nodes and terminate jobs.
//!
//! # Routes
//!
//! | method and path | answer |
//! | --- | --- |
//! | `GET /` | the page (its script and style are `GET /dashboard.js` and `GET /dashboard.css`) |
//! | `GET /api/status` | the [`ClusterSnapshot`](super::ClusterSnapshot) as JSON |
//! | `POST /api/nodes/{name}/suspend` | [`DashboardSource::suspend_node`]; `{"ok":true}` |
//! | `POST /api/nodes/{name}/resume` | [`DashboardSource::resume_node`]; `{"ok":true}` |
//! | `POST /api/jobs/{id}/terminate` | [`DashboardSource::terminate_job`]; `{"ok":true}` |
//!
//! `HEAD` is answered wherever `GET` is. A node name in a path is percent-encoded (as
//! JavaScript's `encodeURIComponent` does). Errors have a JSON body `{"error":"why"}`:
//!
//! | status | when |
//! | --- | --- |
//! | 400 | a job id that is not a number, an empty or badly encoded node name |
//! | 403 | a `POST` whose `Origin` is not this dashboard's own (another web site's page); on loopback, a `Host` other than an IP address or `localhost` |
//! | 404 | an unknown path; a node or job the source does not know |
//! | 405 | a known path with the wrong method (the `Allow` header lists the right ones) |
//! | 409 | the source refused an action on a node or job it knows, e.g. a job that has already ended |
//! | 411 | a body sent in chunks (`Transfer-Encoding`), which is not read |
//! | 413 | a body declared longer than [`MAX_BODY`] bytes (the actions take no body) |
//! | 500 | the source panicked (the dashboard goes on serving) |
//!
//! # Security
//!
//! The dashboard binds where it is told; bind it to loopback (`127.0.0.1`) unless the
//! network is trusted, since it has no authentication of its own: whoever reaches it can
//! see the cluster and terminate jobs. It never sees the cluster's secret: it knows only
//! what [`DashboardSource`] gives it, which carries no secret. Other web sites' pages
//! cannot drive it through a visitor's browser: actions from a foreign `Origin` are
//! refused; on a loopback address, requests naming another host (as a page whose domain
//! was made to resolve to 127.0.0.1 would send) are refused; the page's script builds the
//! page with text only (no HTML from data); and a content security policy allows only
//! the dashboard's own script and style.
//!
//! # Limits
//!
//! Connections silent for 20 s are closed (keep-alive ones too; browsers reconnect), and
//! at most [`MAX_CONNECTIONS`] are open at once (more are closed as they come).
//!
//! A request declaring a body longer than [`MAX_BODY`] is answered 413 and its
//! connection closed at once: the client reads the answer, then the end of the stream,
//! and everything the connection held (its threads and sockets) is freed. This takes
//! some care, since tiny_http 0.12 would otherwise read the unread body to its end (a
//! slow client holding a thread), into a buffer as large as the declared length (which a
//! hostile `Content-Length` could make abort the process). So tiny_http does not face
//! the network itself: the dashboard accepts each connection and relays it to tiny_http
//! over loopback, and to refuse a body it ends the relay, so that tiny_http finds the
//! body's end at once without reading anything more. One case is left: a declared
//! length so large that this machine could not even reserve (not touch) that much
//! address space, e.g. `Content-Length: 1125899906842624`, on which tiny_http's
//! clean-up would abort the process. The client still gets its 413 and the end of the
//! stream, but tiny_http's half of the connection is then abandoned (a thread and two
//! loopback sockets kept until the process ends, with a warning in the log) rather than
//! freed.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use rcos::cluster::dashboard;
//! use rcos::cluster::{ClusterSnapshot, DashboardSource, JobId};
//!
//! /// A cluster with nothing in it.
//! struct Empty;
//!
//! impl DashboardSource for Empty {
//!     fn snapshot(&self) -> ClusterSnapshot {
//!         ClusterSnapshot::default()
//!     }
//!     fn suspend_node(&self, node: &str) -> Result<(), String> {
//!         Err(format!("no node named {node}"))
//!     }
//!     fn resume_node(&self, node: &str) -> Result<(), String> {
//!         Err(format!("no node named {node}"))
//!     }
//!     fn terminate_job(&self, job: JobId) -> Result<(), String> {
//!         Err(format!("no job {job}"))
//!     }
//! }
//!
//! # fn main() -> std::io::Result<()> {
//! // Port 0 picks a free port; a program would use e.g. 127.0.0.1:8181.
//! let dashboard = dashboard::serve(Arc::new(Empty), "127.0.0.1:0".parse().unwrap())?;
//! assert!(dashboard.url().starts_with("http://127.0.0.1:"));
//! dashboard.stop();
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use socket2::SockRef;
use tiny_http::{Header, Method, Request, Response, Server, StatusCode};
use tracing::{debug, error, info, warn};

use super::{DashboardSource, JobId};

/// The page, its script and its style: plain files next to this module, built in.
const PAGE: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/dashboard.js");
const STYLE: &str = include_str!("dashboard/dashboard.css");

/// The longest request body the dashboard accepts, in bytes; longer ones get 413. The
/// actions take no body, so this only bounds what a client may send.
pub const MAX_BODY: usize = 1024;

/// Threads answering requests, so that one slow client does not hold up the page.
const WORKERS: usize = 2;

/// How long a connection may stay silent (or refuse to take an answer) before it is
/// closed: idle keep-alive connections end, and a slow client holds nothing for long.
const IDLE: Duration = Duration::from_secs(20);

/// The longest declared body for which tiny_http's clean-up buffer is reserved without
/// asking the system first (see [`reservable`]), and the longest drained after a 413 on
/// a connection that did not come through the relay (a local process connecting to
/// tiny_http's own loopback port; see [`refuse_unrelayed`]).
const DRAIN_MAX: usize = 64 << 20;

/// Connections open at once at most; more are closed as they are accepted.
pub const MAX_CONNECTIONS: usize = 128;

/// How often a relay's threads look up from a blocked read to see whether their
/// connection is closing (and how often the accepting thread sees whether to stop).
const POLL: Duration = Duration::from_millis(200);

/// After a refused connection's answer is sent and its end signalled, how long what the
/// client still sends is read and discarded before the socket is closed (closing with
/// unread data would reset the connection, which may destroy the answer before the
/// client reads it).
const LINGER: Duration = Duration::from_secs(1);

/// When tiny_http's half of a refused connection is abandoned, how long its answer may
/// take to cross the loopback relay before the client's side is closed.
const ANSWER_CROSSING: Duration = Duration::from_millis(500);

/// How many refused bodies may be drained at once.
const MAX_DRAINERS: usize = 4;

/// What the page may load: its own script, style and images, and nothing inline.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Starts the dashboard at `addr`, reading the cluster from `source`.
///
/// It serves on threads of its own until [`Dashboard::stop`] or until the returned
/// [`Dashboard`] is dropped. Give it a loopback address (`127.0.0.1:8181`) unless other
/// machines should see it; port 0 picks a free port ([`Dashboard::local_addr`] tells
/// which).
///
/// # Errors
/// The address cannot be bound (in use, not local, not permitted), or a thread cannot be
/// started.
///
/// # Example
/// A cluster client is a source: the dashboard shows its nodes and jobs.
/// ```no_run
/// # use std::sync::Arc;
/// # fn example(node: rcos::net::Location) -> Result<(), Box<dyn std::error::Error>> {
/// let cluster = rcos::cluster::Cluster::builder().node(node).start()?;
/// let dashboard =
///     rcos::cluster::dashboard::serve(Arc::new(cluster.clone()), "127.0.0.1:8181".parse()?)?;
/// tracing::info!(url = %dashboard.url(), "dashboard started");
/// # Ok(())
/// # }
/// ```
pub fn serve(source: Arc<dyn DashboardSource>, addr: SocketAddr) -> io::Result<Dashboard> {
    let front = TcpListener::bind(addr)?;
    let local_addr = front.local_addr()?;
    // Accepted connections inherit these (on Linux, and most other systems); on Linux
    // the read timeout also bounds each wait in `accept`, so that the accepting thread
    // sees when to stop.
    let socket = SockRef::from(&front);
    socket.set_read_timeout(Some(POLL))?;
    socket.set_write_timeout(Some(IDLE))?;
    // tiny_http listens on loopback only, for the relay (see "Limits"). No timeouts on
    // this socket: tiny_http's accepting thread would take one for an error and stop;
    // the relay closes silent connections instead.
    let inner = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .or_else(|_| TcpListener::bind((Ipv6Addr::LOCALHOST, 0)))?;
    let inner_addr = inner.local_addr()?;
    let server = Arc::new(Server::from_listener(inner, None).map_err(io::Error::other)?);
    let stopping = Arc::new(AtomicBool::new(false));
    let relays = Arc::new(Relays::default());
    let shared = Arc::new(Shared {
        source,
        drainers: AtomicUsize::new(0),
        loopback: local_addr.ip().is_loopback(),
        relays: Arc::clone(&relays),
    });
    let mut dashboard = Dashboard {
        local_addr,
        server: Some(server),
        stopping,
        workers: Vec::with_capacity(WORKERS),
        accepting: None,
        relays: Arc::clone(&relays),
    };
    for n in 0..WORKERS {
        let Some(server) = dashboard.server.clone() else {
            break;
        };
        let stopping = Arc::clone(&dashboard.stopping);
        let shared = Arc::clone(&shared);
        let worker = thread::Builder::new()
            .name(format!("rcos-dashboard-{n}"))
            .spawn(move || work(&server, &stopping, &shared))?;
        // On an error above, dropping `dashboard` stops the workers already started.
        dashboard.workers.push(worker);
    }
    let stopping = Arc::clone(&dashboard.stopping);
    dashboard.accepting = Some(
        thread::Builder::new()
            .name("rcos-dashboard-accept".to_string())
            .spawn(move || accept(&front, inner_addr, &stopping, &relays))?,
    );
    info!(addr = %local_addr, "dashboard serving at http://{local_addr}/");
    Ok(dashboard)
}

/// A running dashboard; made by [`serve`]. Dropping it stops it, as [`stop`](Self::stop)
/// does.
pub struct Dashboard {
    local_addr: SocketAddr,
    /// Until stopped.
    server: Option<Arc<Server>>,
    stopping: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    /// The thread accepting connections, which owns the listening socket.
    accepting: Option<JoinHandle<()>>,
    relays: Arc<Relays>,
}

impl Dashboard {
    /// The address it listens at (with the port chosen, if port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The page's address, e.g. `http://127.0.0.1:8181/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.local_addr)
    }

    /// Stops serving: requests being answered are finished, then its threads end and
    /// the address is free again. Connections a browser keeps open get no more answers.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        self.stopping.store(true, Ordering::SeqCst);
        // No new connections: the listening socket closes when its thread ends. Its
        // wait in `accept` ends within POLL on Linux; a connection wakes it elsewhere.
        if let Some(accepting) = self.accepting.take() {
            let _ = TcpStream::connect_timeout(&probe(self.local_addr), POLL);
            if accepting.join().is_err() {
                warn!("the dashboard's accepting thread panicked");
            }
        }
        // Open connections end now; their relays' threads then end by themselves.
        for relay in self.relays.lock().values() {
            relay.close();
        }
        // Each unblock wakes one worker waiting for a request (or is kept for the next
        // one that waits).
        for _ in &self.workers {
            server.unblock();
        }
        for worker in self.workers.drain(..) {
            if worker.join().is_err() {
                warn!("a dashboard thread panicked");
            }
        }
        // The last reference: dropping it wakes tiny_http's accepting thread, which
        // then ends and closes its loopback listening socket.
        drop(server);
        wait_closed(self.local_addr);
        info!(addr = %self.local_addr, "dashboard stopped");
    }
}

/// Waits (at most a few seconds) until nothing listens at `addr` any more, so that when
/// [`Dashboard::stop`] returns, connections are refused and the address can be bound
/// again: a check that the listening socket, closed when its thread ended, is gone.
fn wait_closed(addr: SocketAddr) {
    let probe = probe(addr);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match TcpStream::connect_timeout(&probe, Duration::from_millis(500)) {
            // Accepted by the kernel, not by anyone: the listener is still closing.
            Ok(_) => thread::yield_now(),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return,
            Err(e) => {
                debug!(error = %e, "dashboard: cannot tell whether {addr} is closed");
                return;
            }
        }
    }
    warn!("dashboard: {addr} still accepts connections after stopping");
}

/// Where to connect to reach a socket listening at `addr` (loopback for an unspecified
/// address).
fn probe(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.shut_down();
    }
}

impl fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dashboard")
            .field("local_addr", &self.local_addr)
            .field("running", &self.server.is_some())
            .finish()
    }
}

/// What the worker threads share.
struct Shared {
    source: Arc<dyn DashboardSource>,
    /// Refused bodies being drained now (of connections that did not come through the
    /// relay).
    drainers: AtomicUsize,
    /// Whether it listens on a loopback address only, where only local names may be
    /// used to reach it.
    loopback: bool,
    relays: Arc<Relays>,
}

/// The open connections, by the address of the relay's socket towards tiny_http (which
/// is what tiny_http gives as a request's remote address).
#[derive(Default)]
struct Relays(Mutex<HashMap<SocketAddr, Arc<Relay>>>);

impl Relays {
    fn lock(&self) -> MutexGuard<'_, HashMap<SocketAddr, Arc<Relay>>> {
        // Nothing is left half-changed under this lock: a poisoned one is fine to use.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One connection: the client's socket and the relay's socket towards tiny_http, with
/// a thread copying each way.
struct Relay {
    client: TcpStream,
    inner: TcpStream,
    /// What the client sends is no longer passed on (its request was refused).
    refused: AtomicBool,
    /// Set when the client has been sent the end of the stream: what it still sends is
    /// read and discarded until [`LINGER`] after this.
    ended: Mutex<Option<Instant>>,
    /// Set when tiny_http's half is abandoned: its answer is passed on until then.
    give_up: Mutex<Option<Instant>>,
    /// Threads still running (two at first); the last one unregisters the relay.
    threads: AtomicUsize,
    /// When something last passed, either way.
    last: Mutex<Instant>,
}

impl Relay {
    fn when(slot: &Mutex<Option<Instant>>) -> Option<Instant> {
        *slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set(slot: &Mutex<Option<Instant>>, at: Instant) {
        let mut slot = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.get_or_insert(at);
    }

    /// Notes that something passed.
    fn touch(&self) {
        *self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Instant::now();
    }

    /// Whether nothing has passed for [`IDLE`]; then both sides are closed.
    fn idle(&self) -> bool {
        let last = *self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let idle = last.elapsed() >= IDLE;
        if idle {
            self.close();
        }
        idle
    }

    /// Ends both sides at once (the dashboard stops, or the connection is idle).
    fn close(&self) {
        self.refused.store(true, Ordering::SeqCst);
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.inner.shutdown(Shutdown::Both);
    }
}

/// Whether an error of a read or write is its timeout running out.
fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The accepting thread: takes each connection and starts its relay to tiny_http at
/// `inner`, until the dashboard stops.
fn accept(front: &TcpListener, inner: SocketAddr, stopping: &AtomicBool, relays: &Arc<Relays>) {
    while !stopping.load(Ordering::SeqCst) {
        let (client, from) = match front.accept() {
            Ok(accepted) => accepted,
            Err(e) if timed_out(&e) || e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // E.g. out of file descriptors: the next try may succeed.
                warn!(error = %e, "dashboard: a connection could not be accepted");
                thread::yield_now();
                continue;
            }
        };
        if stopping.load(Ordering::SeqCst) {
            break;
        }
        if relays.lock().len() >= MAX_CONNECTIONS {
            warn!(%from, "dashboard: {MAX_CONNECTIONS} connections open; one more closed");
            continue;
        }
        if let Err(e) = relay(client, inner, relays) {
            warn!(%from, error = %e, "dashboard: a connection could not be relayed");
        }
    }
}

/// Starts relaying `client` to tiny_http at `inner`: one thread each way.
fn relay(client: TcpStream, inner: SocketAddr, relays: &Arc<Relays>) -> io::Result<()> {
    let to_inner = TcpStream::connect_timeout(&inner, IDLE)?;
    to_inner.set_read_timeout(Some(POLL))?;
    to_inner.set_write_timeout(Some(IDLE))?;
    // Inherited from the listening socket on Linux; set here for the other systems.
    client.set_read_timeout(Some(POLL))?;
    client.set_write_timeout(Some(IDLE))?;
    let _ = client.set_nodelay(true);
    let _ = to_inner.set_nodelay(true);
    let key = to_inner.local_addr()?;
    let entry = Arc::new(Relay {
        client: client.try_clone()?,
        inner: to_inner.try_clone()?,
        refused: AtomicBool::new(false),
        ended: Mutex::new(None),
        give_up: Mutex::new(None),
        threads: AtomicUsize::new(2),
        last: Mutex::new(Instant::now()),
    });
    relays.lock().insert(key, Arc::clone(&entry));
    let (client_in, inner_out) = (client.try_clone()?, to_inner.try_clone()?);
    let up = (Arc::clone(&entry), Arc::clone(relays));
    let upwards = thread::Builder::new()
        .name("rcos-dash-in".to_string())
        .spawn(move || {
            from_client(&up.0, client_in, inner_out);
            finished(&up.0, &up.1, key);
        });
    if let Err(e) = upwards {
        relays.lock().remove(&key);
        return Err(e);
    }
    let down = (Arc::clone(&entry), Arc::clone(relays));
    let downwards = thread::Builder::new()
        .name("rcos-dash-out".to_string())
        .spawn(move || {
            to_client(&down.0, to_inner, client);
            finished(&down.0, &down.1, key);
        });
    if let Err(e) = downwards {
        // The other thread ends when the sockets do.
        entry.close();
        finished(&entry, relays, key);
        return Err(e);
    }
    Ok(())
}

/// One of a relay's threads has ended; the last one unregisters it, which closes its
/// sockets.
fn finished(relay: &Relay, relays: &Relays, key: SocketAddr) {
    if relay.threads.fetch_sub(1, Ordering::SeqCst) == 1 {
        relays.lock().remove(&key);
    }
}

/// Copies what the client sends to tiny_http, until the client ends its side (then
/// tiny_http is told the same), or, once the client has been sent the end of the
/// stream, until [`LINGER`] has passed.
fn from_client(relay: &Relay, mut client: TcpStream, mut inner: TcpStream) {
    let mut buf = vec![0u8; 16 << 10];
    let mut passing = true;
    loop {
        if Relay::when(&relay.ended).is_some_and(|t| t.elapsed() >= LINGER) {
            break;
        }
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                relay.touch();
                passing &= !relay.refused.load(Ordering::SeqCst);
                if passing && inner.write_all(&buf[..n]).is_err() {
                    passing = false;
                }
            }
            Err(e) if timed_out(&e) || e.kind() == io::ErrorKind::Interrupted => {
                if relay.idle() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = inner.shutdown(Shutdown::Write);
}

/// Copies tiny_http's answers to the client until tiny_http closes the connection (or
/// its half is abandoned and [`ANSWER_CROSSING`] has passed), then sends the client the
/// end of the stream.
fn to_client(relay: &Relay, mut inner: TcpStream, mut client: TcpStream) {
    let mut buf = vec![0u8; 16 << 10];
    loop {
        match inner.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                relay.touch();
                if client.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if timed_out(&e) || e.kind() == io::ErrorKind::Interrupted => {
                if Relay::when(&relay.give_up).is_some_and(|t| Instant::now() >= t) || relay.idle()
                {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = client.shutdown(Shutdown::Write);
    Relay::set(&relay.ended, Instant::now());
}

/// One worker: answers requests until the dashboard stops.
fn work(server: &Server, stopping: &AtomicBool, shared: &Arc<Shared>) {
    loop {
        match server.recv() {
            Ok(request) => answer(shared, request),
            Err(e) => {
                if !stopping.load(Ordering::SeqCst) {
                    error!(error = %e, "the dashboard stops accepting connections");
                }
                return;
            }
        }
    }
}

/// An answer, before it becomes a tiny_http response.
#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    allow: Option<&'static str>,
}

impl Reply {
    fn asset(content_type: &'static str, text: &'static str) -> Reply {
        Reply {
            status: 200,
            content_type,
            body: text.as_bytes().to_vec(),
            allow: None,
        }
    }

    fn json(status: u16, value: &serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
            allow: None,
        }
    }

    fn ok() -> Reply {
        Reply::json(200, &serde_json::json!({ "ok": true }))
    }

    fn error(status: u16, message: impl fmt::Display) -> Reply {
        Reply::json(status, &serde_json::json!({ "error": message.to_string() }))
    }

    fn wrong_method(allow: &'static str) -> Reply {
        let mut reply = Reply::error(405, format!("method not allowed here; use {allow}"));
        reply.allow = Some(allow);
        reply
    }

    fn into_response(self) -> Response<io::Cursor<Vec<u8>>> {
        let mut response = Response::from_data(self.body).with_status_code(StatusCode(self.status));
        let mut headers = vec![
            ("Content-Type", self.content_type),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
        ];
        if self.content_type.starts_with("text/html") {
            headers.push(("Content-Security-Policy", CONTENT_SECURITY_POLICY));
            headers.push(("X-Frame-Options", "DENY"));
        }
        if let Some(allow) = self.allow {
            headers.push(("Allow", allow));
        }
        for (name, value) in headers {
            // Fixed, well-formed names and values: from_bytes accepts them all.
            if let Ok(header) = Header::from_bytes(name, value) {
                response.add_header(header);
            }
        }
        response
    }
}

/// Answers one request; never panics on what the request holds.
fn answer(shared: &Arc<Shared>, request: Request) {
    let method = request.method().clone();
    let url = request.url().to_owned();
    if let Some(length) = request.body_length().filter(|&n| n > MAX_BODY) {
        debug!(%method, url = %url, length, "dashboard request refused: body too large");
        refuse_large_body(request, length, shared);
        return;
    }
    let host = header_value(&request, "Host");
    let reply = if shared.loopback && !local_host(host.as_deref()) {
        // A page of another site whose name now resolves to 127.0.0.1 (DNS rebinding)
        // would otherwise count as this dashboard's own.
        warn!(host, "dashboard request for another host name refused");
        Reply::error(
            403,
            "this dashboard answers to local addresses only (127.0.0.1, localhost)",
        )
    } else if header_value(&request, "Transfer-Encoding").is_some() {
        // A body of unknown length: refused without reading it, so that a client
        // trickling it cannot hold this thread.
        Reply::error(411, "send a Content-Length (the actions take no body)")
    } else {
        let origin = header_value(&request, "Origin");
        let source = &*shared.source;
        let call = || route(source, &method, &url, origin.as_deref(), host.as_deref());
        panic::catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|_| {
            error!(%method, url = %url, "the dashboard's source panicked");
            Reply::error(500, "the cluster client failed to answer")
        })
    };
    if reply.status >= 400 {
        debug!(%method, url = %url, status = reply.status, "dashboard request refused");
    } else {
        debug!(%method, url = %url, status = reply.status, "dashboard request");
    }
    if let Err(e) = request.respond(reply.into_response()) {
        debug!(error = %e, "dashboard answer not delivered");
    }
}

/// The 413 answer.
fn too_large() -> Response<io::Cursor<Vec<u8>>> {
    Reply::error(413, format!("request body over {MAX_BODY} bytes")).into_response()
}

/// Answers 413 to a request declaring a body over [`MAX_BODY`], and closes its
/// connection (see "Limits" in the module's docs).
///
/// tiny_http 0.12, when a request is done with, reads whatever is left of its body into
/// a buffer as large as the declared length (`vec![0; left]`, reserved, not touched)
/// and discards it. Here the relay stops passing on what the client sends and ends
/// tiny_http's side of the stream first, so that this read ends at once; the answer
/// crosses the relay, and then the client is sent the end of the stream. Only when the
/// buffer could not even be reserved is tiny_http's half abandoned instead.
fn refuse_large_body(request: Request, length: usize, shared: &Arc<Shared>) {
    let relay = request
        .remote_addr()
        .and_then(|from| shared.relays.lock().get(from).cloned());
    let Some(relay) = relay else {
        return refuse_unrelayed(request, length, shared);
    };
    relay.refused.store(true, Ordering::SeqCst);
    let _ = relay.inner.shutdown(Shutdown::Write);
    if reservable(length) {
        if let Err(e) = request.respond(too_large()) {
            debug!(error = %e, "dashboard answer not delivered");
        }
        return;
    }
    warn!(
        length,
        "dashboard: a request declares a body of {length} bytes, more than this machine \
         could reserve; answered 413 and closed, its tiny_http thread abandoned"
    );
    let stream = request.upgrade("close", too_large());
    // Dropping it would make tiny_http reserve `length` bytes, and abort.
    std::mem::forget(stream);
    Relay::set(&relay.give_up, Instant::now() + ANSWER_CROSSING);
}

/// Whether a buffer of `length` bytes can be reserved (without touching it, as
/// tiny_http's clean-up does): always, up to [`DRAIN_MAX`]; beyond, where the system
/// grants address space by each request's own size (Linux's overcommit modes 0 and 1),
/// if a reservation of that size succeeds now.
fn reservable(length: usize) -> bool {
    if length <= DRAIN_MAX {
        return true;
    }
    let mode = std::fs::read_to_string("/proc/sys/vm/overcommit_memory").unwrap_or_default();
    matches!(mode.trim(), "0" | "1") && Vec::<u8>::new().try_reserve_exact(length).is_ok()
}

/// Answers 413 to a request that did not come through the relay (only a process of this
/// machine can connect to tiny_http's loopback port directly), without holding up the
/// worker threads: a declared length up to [`DRAIN_MAX`] is answered and drained on a
/// thread of its own (at most [`MAX_DRAINERS`] at once, each until the client sends
/// the rest or closes); a larger one (or one past that limit) is answered and its
/// connection abandoned (leaked, with a warning) rather than dropped.
fn refuse_unrelayed(request: Request, length: usize, shared: &Arc<Shared>) {
    let drainers = &shared.drainers;
    if length <= DRAIN_MAX && drainers.fetch_add(1, Ordering::SeqCst) < MAX_DRAINERS {
        let count = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name("rcos-dashboard-drain".to_string())
            .spawn(move || {
                if let Err(e) = request.respond(too_large()) {
                    debug!(error = %e, "dashboard answer not delivered");
                }
                count.drainers.fetch_sub(1, Ordering::SeqCst);
            });
        match spawned {
            Ok(_) => return,
            Err(e) => {
                drainers.fetch_sub(1, Ordering::SeqCst);
                warn!(error = %e, "dashboard: no thread to drain a refused body");
            }
        }
        // The request went with the failed spawn: dropped, it was answered 500 and
        // drained (within DRAIN_MAX) here.
        return;
    }
    if length <= DRAIN_MAX {
        drainers.fetch_sub(1, Ordering::SeqCst);
    }
    warn!(
        length,
        "dashboard: a request declares a body of {length} bytes; answered 413 and its \
         connection abandoned"
    );
    let stream = request.upgrade("close", too_large());
    // Dropping it would make tiny_http allocate `length` bytes to drain it.
    std::mem::forget(stream);
}

fn header_value(request: &Request, name: &'static str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str().to_owned())
}

/// Picks the answer for `method` and `url`.
fn route(
    source: &dyn DashboardSource,
    method: &Method,
    url: &str,
    origin: Option<&str>,
    host: Option<&str>,
) -> Reply {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let Some(path) = path.strip_prefix('/') else {
        return Reply::error(400, "the request target is not a path");
    };
    let segments: Vec<&str> = path.split('/').collect();
    let readable = matches!(method, Method::Get | Method::Head);
    let action = matches!(method, Method::Post);
    match segments.as_slice() {
        [""] | ["index.html"] if readable => Reply::asset("text/html; charset=utf-8", PAGE),
        ["dashboard.js"] if readable => Reply::asset("text/javascript; charset=utf-8", SCRIPT),
        ["dashboard.css"] if readable => Reply::asset("text/css; charset=utf-8", STYLE),
        ["api", "status"] if readable => match serde_json::to_value(source.snapshot()) {
            Ok(value) => Reply::json(200, &value),
            Err(e) => Reply::error(500, format!("the snapshot cannot be written: {e}")),
        },
        [""] | ["index.html"] | ["dashboard.js"] | ["dashboard.css"] | ["api", "status"] => {
            Reply::wrong_method("GET, HEAD")
        }
        ["api", "nodes", _, "suspend" | "resume"] | ["api", "jobs", _, "terminate"] if !action => {
            Reply::wrong_method("POST")
        }
        ["api", "nodes", _, "suspend" | "resume"] | ["api", "jobs", _, "terminate"]
            if !same_origin(origin, host) =>
        {
            warn!(origin, "dashboard action from another web site refused");
            Reply::error(
                403,
                "actions are accepted only from the dashboard's own page",
            )
        }
        ["api", "nodes", name, verb @ ("suspend" | "resume")] => {
            let name = match percent_decode(name) {
                Ok(name) if !name.is_empty() => name,
                Ok(_) => return Reply::error(400, "empty node name"),
                Err(why) => return Reply::error(400, format!("bad node name: {why}")),
            };
            let result = if *verb == "suspend" {
                source.suspend_node(&name)
            } else {
                source.resume_node(&name)
            };
            match result {
                Ok(()) => {
                    info!(node = %name, "dashboard: {verb} node");
                    Reply::ok()
                }
                Err(why) => {
                    let known = source.snapshot().nodes.iter().any(|n| n.name == name);
                    Reply::error(if known { 409 } else { 404 }, why)
                }
            }
        }
        ["api", "jobs", id, "terminate"] => {
            let Ok(id) = id.parse::<JobId>() else {
                return Reply::error(400, format!("bad job id {:?}: not a number", short(id)));
            };
            match source.terminate_job(id) {
                Ok(()) => {
                    info!(job = id, "dashboard: terminate job");
                    Reply::ok()
                }
                Err(why) => {
                    let known = source.snapshot().jobs.iter().any(|j| j.id == id);
                    Reply::error(if known { 409 } else { 404 }, why)
                }
            }
        }
        _ => Reply::error(404, format!("no such page: {}", short(url))),
    }
}

/// Whether `host` (a `Host` header) names this machine by a local name or an IP
/// address. Without one (HTTP/1.0) it is no browser's request for another site: allowed.
fn local_host(host: Option<&str>) -> bool {
    let Some(host) = host else {
        return true;
    };
    if host.parse::<SocketAddr>().is_ok() || host.parse::<IpAddr>().is_ok() {
        return true;
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    name.eq_ignore_ascii_case("localhost")
}

/// Whether a request's `Origin` (sent by browsers with every `POST`) is the dashboard
/// itself. Without an `Origin` it is not a browser's cross-site request: allowed.
fn same_origin(origin: Option<&str>, host: Option<&str>) -> bool {
    match (origin, host) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .strip_prefix("http://")
            .is_some_and(|o| o.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

/// At most 100 characters of `text`, for error messages that echo a request.
fn short(text: &str) -> &str {
    text.char_indices()
        .nth(100)
        .map_or(text, |(end, _)| &text[..end])
}

/// Decodes `%XX` escapes in a path segment into UTF-8 text.
fn percent_decode(segment: &str) -> Result<String, &'static str> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let Some(&[high, low]) = bytes.get(i + 1..i + 3) else {
                return Err("unfinished % escape");
            };
            let digit = |d: u8| char::from(d).to_digit(16).ok_or("bad % escape");
            let byte = digit(high)? * 16 + digit(low)?;
            out.push(u8::try_from(byte).map_err(|_| "bad % escape")?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("node-1").as_deref(), Ok("node-1"));
        assert_eq!(percent_decode("a%20b%2Fc").as_deref(), Ok("a b/c"));
        assert_eq!(percent_decode("%C3%A9").as_deref(), Ok("é"));
        assert!(percent_decode("%").is_err());
        assert!(percent_decode("%4").is_err());
        assert!(percent_decode("%zz").is_err());
        assert!(percent_decode("%+1").is_err());
        assert!(percent_decode("%FF").is_err());
        assert!(percent_decode("%C3").is_err());
    }

    #[test]
    fn origins() {
        assert!(same_origin(None, None));
        assert!(same_origin(
            Some("http://127.0.0.1:8181"),
            Some("127.0.0.1:8181")
        ));
        assert!(!same_origin(
            Some("http://evil.example"),
            Some("127.0.0.1:8181")
        ));
        assert!(!same_origin(Some("null"), Some("127.0.0.1:8181")));
        assert!(!same_origin(Some("http://127.0.0.1:8181"), None));
    }

    #[test]
    fn local_hosts() {
        for host in [
            "127.0.0.1:8181",
            "127.0.0.1",
            "[::1]:8181",
            "::1",
            "localhost:8181",
        ] {
            assert!(local_host(Some(host)), "{host}");
        }
        assert!(local_host(Some("LOCALHOST")));
        assert!(local_host(None));
        for host in [
            "evil.example:8181",
            "evil.example",
            "localhost.evil.example",
            "",
        ] {
            assert!(!local_host(Some(host)), "{host}");
        }
    }

    #[test]
    fn short_cuts_at_characters() {
        let long = "é".repeat(300);
        assert_eq!(short(&long).chars().count(), 100);
        assert_eq!(short("abc"), "abc");
    }
}
