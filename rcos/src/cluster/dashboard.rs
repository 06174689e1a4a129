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
//! Connections silent for 20 s are closed (keep-alive ones too; browsers reconnect).
//! tiny_http 0.12 drains an unread request body into a buffer as large as its declared
//! length, which a hostile `Content-Length` could make abort the process; the dashboard
//! never lets it: a declared body over 64 MiB (or any, while 4 are being drained) is
//! answered 413 and its connection abandoned (left open, with a warning in the log)
//! instead.
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

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

/// The longest declared body that is drained after a 413; see [`refuse_large_body`].
const DRAIN_MAX: usize = 64 << 20;

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
    let listener = TcpListener::bind(addr)?;
    let local_addr = listener.local_addr()?;
    // Accepted connections inherit these (on Linux, and most other systems).
    let socket = SockRef::from(&listener);
    socket.set_read_timeout(Some(IDLE))?;
    socket.set_write_timeout(Some(IDLE))?;
    let server = Arc::new(Server::from_listener(listener, None).map_err(io::Error::other)?);
    let stopping = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Shared {
        source,
        drainers: AtomicUsize::new(0),
        loopback: local_addr.ip().is_loopback(),
    });
    let mut dashboard = Dashboard {
        local_addr,
        server: Some(server),
        stopping,
        workers: Vec::with_capacity(WORKERS),
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
        // then ends and closes the listening socket.
        drop(server);
        wait_closed(self.local_addr);
        info!(addr = %self.local_addr, "dashboard stopped");
    }
}

/// Waits (at most a few seconds) until nothing listens at `addr` any more, so that when
/// [`Dashboard::stop`] returns, connections are refused and the address can be bound
/// again. tiny_http closes the listening socket on its own thread, just after the
/// server is dropped; this waits for that by trying to connect.
fn wait_closed(addr: SocketAddr) {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let probe = SocketAddr::new(ip, addr.port());
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
    /// Refused bodies being drained now.
    drainers: AtomicUsize,
    /// Whether it listens on a loopback address only, where only local names may be
    /// used to reach it.
    loopback: bool,
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

/// Answers 413 to a request declaring a body over [`MAX_BODY`], without holding up the
/// worker threads.
///
/// tiny_http 0.12 reads and discards an unread body when the request is dropped, into a
/// buffer as large as the declared length: a huge `Content-Length` would abort the
/// process on the failed allocation, and a slow client would hold the thread. So a
/// declared length up to [`DRAIN_MAX`] is answered and drained on a short-lived thread
/// of its own (at most [`MAX_DRAINERS`] at once; each read waits at most [`IDLE`]); a
/// larger one (or one past that limit) is answered and its connection abandoned
/// (leaked, with a warning) rather than dropped.
fn refuse_large_body(request: Request, length: usize, shared: &Arc<Shared>) {
    let drainers = &shared.drainers;
    let reply = || Reply::error(413, format!("request body over {MAX_BODY} bytes")).into_response();
    if length <= DRAIN_MAX && drainers.fetch_add(1, Ordering::SeqCst) < MAX_DRAINERS {
        let count = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name("rcos-dashboard-drain".to_string())
            .spawn(move || {
                if let Err(e) = request.respond(reply()) {
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
    let stream = request.upgrade("close", reply());
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
