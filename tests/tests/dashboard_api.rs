//! The cluster dashboard's HTTP API, spoken to over plain TCP: the status JSON and its
//! shape, the page and its files, actions reaching the source and changing what it
//! reports, every kind of bad request answered with its 4xx (and the source left alone),
//! and stopping (by `stop` or by drop) freeing the port without hanging.
//!
//! The source here is a cluster kept in memory by the test, whose actions really change
//! its state: that tests the dashboard layer itself. The dashboard against a real
//! cluster is in `cluster_dashboard_browser`.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use rcos::cluster::dashboard::{self, Dashboard, MAX_BODY};
use rcos::cluster::{
    ClusterSnapshot, DashboardSource, JobId, JobState, JobView, NodeState, NodeView,
};
use rcos_tests::PATIENCE;
use serde_json::Value;

/// A cluster in memory: two nodes taking jobs, one failed node, and jobs in each state.
/// Every call is recorded.
#[derive(Debug)]
struct Cluster {
    state: Mutex<ClusterSnapshot>,
    calls: Mutex<Vec<String>>,
}

fn node(name: &str, state: NodeState, slots: u32, busy: u32) -> NodeView {
    NodeView {
        name: name.to_string(),
        location: format!("127.0.0.1:{}", 9706 + slots),
        state,
        slots,
        busy,
        running: busy,
        done: 3,
        platform: "linux x86_64".to_string(),
        cpu_available: Some(62.5),
        memory_available: Some(8 << 30),
    }
}

fn job(id: JobId, task: &str, node: &str, state: JobState) -> JobView {
    let ended = !matches!(state, JobState::Waiting | JobState::Running);
    JobView {
        id,
        task: task.to_string(),
        node: node.to_string(),
        state,
        started_ms: (state != JobState::Waiting).then_some(100 * id),
        duration_ms: ended.then_some(1500),
        outcome: ended.then(|| format!("{state:?} <b>outcome</b>")),
    }
}

impl Cluster {
    fn new() -> Arc<Cluster> {
        Arc::new(Cluster {
            state: Mutex::new(ClusterSnapshot {
                now_ms: 12_345,
                nodes: vec![
                    node("alpha", NodeState::Initialised, 2, 1),
                    node("node one", NodeState::Initialised, 4, 0),
                    NodeView {
                        // It never measured its CPU or memory: unknown, not 0.
                        cpu_available: None,
                        memory_available: None,
                        ..node("gamma", NodeState::Failed, 0, 0)
                    },
                ],
                jobs: vec![
                    job(1, "compute", "alpha", JobState::Running),
                    job(2, "compute", "", JobState::Waiting),
                    job(3, "compute", "alpha", JobState::Finished),
                    job(4, "fetch", "node one", JobState::Failed),
                ],
            }),
            calls: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn set_node_state(&self, name: &str, from: NodeState, to: NodeState) -> Result<(), String> {
        let mut state = self.state.lock().unwrap();
        let node = state
            .nodes
            .iter_mut()
            .find(|n| n.name == name)
            .ok_or_else(|| format!("no node named {name:?}"))?;
        if node.state != from {
            return Err(format!("node {name:?} is {:?}", node.state));
        }
        node.state = to;
        Ok(())
    }
}

impl DashboardSource for Cluster {
    fn snapshot(&self) -> ClusterSnapshot {
        self.state.lock().unwrap().clone()
    }

    fn suspend_node(&self, node: &str) -> Result<(), String> {
        self.calls.lock().unwrap().push(format!("suspend {node}"));
        self.set_node_state(node, NodeState::Initialised, NodeState::Suspended)
    }

    fn resume_node(&self, node: &str) -> Result<(), String> {
        self.calls.lock().unwrap().push(format!("resume {node}"));
        self.set_node_state(node, NodeState::Suspended, NodeState::Initialised)
    }

    fn terminate_job(&self, id: JobId) -> Result<(), String> {
        self.calls.lock().unwrap().push(format!("terminate {id}"));
        let mut state = self.state.lock().unwrap();
        let now = state.now_ms;
        let job = state
            .jobs
            .iter_mut()
            .find(|j| j.id == id)
            .ok_or_else(|| format!("no job {id}"))?;
        if !matches!(job.state, JobState::Waiting | JobState::Running) {
            return Err(format!("job {id} has already ended"));
        }
        job.state = JobState::Terminated;
        job.duration_ms = job.started_ms.map(|s| now.saturating_sub(s));
        job.outcome = Some("terminated from the dashboard".to_string());
        Ok(())
    }
}

/// One HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a UTF-8 body")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }

    /// The `error` of a JSON error body.
    fn error(&self) -> String {
        assert_eq!(self.header("content-type"), Some("application/json"));
        self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error in {:?}", self.text()))
            .to_string()
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("the dashboard accepts");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Sends `raw` as it is, closes the sending side, and reads the whole answer.
fn exchange(addr: SocketAddr, raw: &[u8]) -> Answer {
    let mut stream = connect(addr);
    stream.write_all(raw).unwrap();
    // The server may answer (and close) before reading all of a refused body.
    let _ = stream.shutdown(Shutdown::Write);
    let mut bytes = Vec::new();
    if let Err(e) = stream.read_to_end(&mut bytes) {
        // A reset after a complete answer (the server closed with unread data) is fine.
        assert!(
            e.kind() == ErrorKind::ConnectionReset && !bytes.is_empty(),
            "reading the answer: {e}"
        );
    }
    parse(&bytes)
}

/// A request with `Connection: close` and the given extra header lines and body.
fn request(addr: SocketAddr, method: &str, path: &str, extra: &[&str], body: &[u8]) -> Answer {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for line in extra {
        raw.push_str(line);
        raw.push_str("\r\n");
    }
    if !body.is_empty() && !extra.iter().any(|l| l.starts_with("Transfer-Encoding")) {
        raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    raw.push_str("\r\n");
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(body);
    exchange(addr, &raw)
}

fn get(addr: SocketAddr, path: &str) -> Answer {
    request(addr, "GET", path, &[], b"")
}

fn post(addr: SocketAddr, path: &str) -> Answer {
    request(addr, "POST", path, &[], b"")
}

/// Splits an HTTP/1.1 answer into status, headers and (de-chunked) body.
fn parse(bytes: &[u8]) -> Answer {
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(bytes)));
    let head = std::str::from_utf8(&bytes[..end]).expect("ASCII headers");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = bytes[end + 4..].to_vec();
    if headers.get("transfer-encoding").map(String::as_str) == Some("chunked") {
        body = dechunk(&body);
    } else if let Some(len) = headers.get("content-length") {
        body.truncate(len.parse().unwrap());
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..eol]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 4 + size..];
    }
}

fn start() -> (Arc<Cluster>, Dashboard) {
    rcos_tests::log_if_asked();
    let cluster = Cluster::new();
    let dashboard =
        dashboard::serve(cluster.clone(), "127.0.0.1:0".parse().unwrap()).expect("it binds");
    (cluster, dashboard)
}

#[test]
fn status_is_the_snapshot_as_json() {
    let (cluster, dashboard) = start();
    let answer = get(dashboard.local_addr(), "/api/status");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));

    // The shape the page (and any other client) relies on.
    let json = answer.json();
    assert_eq!(json["now_ms"], 12_345);
    let alpha = &json["nodes"][0];
    assert_eq!(alpha["name"], "alpha");
    assert_eq!(alpha["location"], "127.0.0.1:9708");
    assert_eq!(alpha["state"], "initialised");
    assert_eq!(alpha["slots"], 2);
    assert_eq!(alpha["busy"], 1);
    assert_eq!(alpha["running"], 1);
    assert_eq!(alpha["done"], 3);
    assert_eq!(alpha["platform"], "linux x86_64");
    assert_eq!(alpha["cpu_available"], 62.5);
    assert_eq!(alpha["memory_available"], 8u64 << 30);
    assert_eq!(json["nodes"][2]["state"], "failed");
    // Unknown availability is `null`, never a made-up 0.
    assert!(json["nodes"][2]["cpu_available"].is_null(), "{json}");
    assert!(json["nodes"][2]["memory_available"].is_null(), "{json}");
    let running = &json["jobs"][0];
    assert_eq!(running["id"], 1);
    assert_eq!(running["task"], "compute");
    assert_eq!(running["node"], "alpha");
    assert_eq!(running["state"], "running");
    assert_eq!(running["started_ms"], 100);
    assert!(running["duration_ms"].is_null());
    assert!(running["outcome"].is_null());
    assert_eq!(json["jobs"][1]["state"], "waiting");
    assert!(json["jobs"][1]["started_ms"].is_null());
    let failed = &json["jobs"][3];
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["duration_ms"], 1500);
    assert_eq!(failed["outcome"], "Failed <b>outcome</b>");

    // And all of it: the JSON reads back as the very snapshot.
    let back: ClusterSnapshot = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(back, cluster.snapshot());

    // HEAD answers the same headers without a body; a query string is ignored.
    let head = request(dashboard.local_addr(), "HEAD", "/api/status", &[], b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(get(dashboard.local_addr(), "/api/status?t=1").status, 200);
    assert!(cluster.calls().is_empty(), "reading changes nothing");
}

#[test]
fn the_page_and_its_files_are_built_in() {
    let (_cluster, dashboard) = start();
    let addr = dashboard.local_addr();
    assert_eq!(dashboard.url(), format!("http://{addr}/"));

    let page = get(addr, "/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = page.text();
    assert!(html.contains(r#"<script src="dashboard.js""#), "{html}");
    assert!(html.contains(r#"href="dashboard.css""#), "{html}");
    assert!(html.contains(r#"id="nodes""#) && html.contains(r#"id="running-jobs""#));

    let script = get(addr, "/dashboard.js");
    assert_eq!(script.status, 200);
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(script.text().contains("api/status"));
    let style = get(addr, "/dashboard.css");
    assert_eq!(style.status, 200);
    assert_eq!(
        style.header("content-type"),
        Some("text/css; charset=utf-8")
    );

    // Nothing is fetched from elsewhere (the machines it runs on may have no internet),
    // and the script never turns data into HTML.
    for file in [&html, &script.text(), &style.text()] {
        assert!(!file.contains("http://") && !file.contains("https://"));
        assert!(!file.contains("//cdn"));
    }
    assert!(!script.text().contains("innerHTML"));
    assert_eq!(get(addr, "/index.html").status, 200);
}

#[test]
fn node_actions_reach_the_source() {
    let (cluster, dashboard) = start();
    let addr = dashboard.local_addr();

    let answer = post(addr, "/api/nodes/alpha/suspend");
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json(), serde_json::json!({ "ok": true }));
    assert_eq!(
        get(addr, "/api/status").json()["nodes"][0]["state"],
        "suspended"
    );

    // Suspending it again: the source refuses, and the node exists: 409 with its reason.
    let again = post(addr, "/api/nodes/alpha/suspend");
    assert_eq!(again.status, 409);
    assert!(again.error().contains("Suspended"), "{}", again.error());

    assert_eq!(post(addr, "/api/nodes/alpha/resume").status, 200);
    assert_eq!(
        get(addr, "/api/status").json()["nodes"][0]["state"],
        "initialised"
    );

    // A name that needs percent-encoding, as the page's encodeURIComponent writes it.
    assert_eq!(post(addr, "/api/nodes/node%20one/suspend").status, 200);
    assert_eq!(
        get(addr, "/api/status").json()["nodes"][1]["state"],
        "suspended"
    );

    assert_eq!(
        cluster.calls(),
        [
            "suspend alpha",
            "suspend alpha",
            "resume alpha",
            "suspend node one"
        ]
    );
}

#[test]
fn terminate_reaches_the_source() {
    let (cluster, dashboard) = start();
    let addr = dashboard.local_addr();

    let answer = post(addr, "/api/jobs/1/terminate");
    assert_eq!(answer.status, 200, "{}", answer.text());
    let job = &get(addr, "/api/status").json()["jobs"][0];
    assert_eq!(job["state"], "terminated");
    assert_eq!(job["duration_ms"], 12_345 - 100);
    assert_eq!(job["outcome"], "terminated from the dashboard");

    // A waiting job can be terminated too; an ended one cannot (409, the source's reason).
    assert_eq!(post(addr, "/api/jobs/2/terminate").status, 200);
    let ended = post(addr, "/api/jobs/3/terminate");
    assert_eq!(ended.status, 409);
    assert_eq!(ended.error(), "job 3 has already ended");

    assert_eq!(
        cluster.calls(),
        ["terminate 1", "terminate 2", "terminate 3"]
    );
}

/// A bad request: method, path, extra header lines and body; the status it must get,
/// and the `Allow` header of a 405.
type Case<'a> = (
    &'a str,
    &'a str,
    &'a [&'a str],
    &'a [u8],
    u16,
    Option<&'a str>,
);

#[test]
fn bad_requests_get_4xx_and_leave_the_source_alone() {
    let (cluster, dashboard) = start();
    let addr = dashboard.local_addr();
    let big = vec![b'x'; MAX_BODY + 1];
    let chunked = format!("{:x}\r\n{}\r\n0\r\n\r\n", big.len(), "x".repeat(big.len()));

    let cases: &[Case<'_>] = &[
        // Unknown paths.
        ("GET", "/nope", &[], b"", 404, None),
        ("GET", "/api", &[], b"", 404, None),
        ("GET", "/api/status/more", &[], b"", 404, None),
        ("GET", "/api/nodes/alpha", &[], b"", 404, None),
        ("POST", "/api/nodes/alpha/delete", &[], b"", 404, None),
        ("POST", "/api/nodes/a/b/suspend", &[], b"", 404, None),
        ("POST", "/api/jobs/1/kill", &[], b"", 404, None),
        ("GET", "/../etc/passwd", &[], b"", 404, None),
        // Known paths, wrong methods.
        ("POST", "/", &[], b"", 405, Some("GET, HEAD")),
        ("DELETE", "/api/status", &[], b"", 405, Some("GET, HEAD")),
        ("POST", "/api/status", &[], b"", 405, Some("GET, HEAD")),
        (
            "GET",
            "/api/nodes/alpha/suspend",
            &[],
            b"",
            405,
            Some("POST"),
        ),
        ("PUT", "/api/jobs/1/terminate", &[], b"", 405, Some("POST")),
        ("BREW", "/api/jobs/1/terminate", &[], b"", 405, Some("POST")),
        // Bad job ids and node names.
        ("POST", "/api/jobs/abc/terminate", &[], b"", 400, None),
        ("POST", "/api/jobs/-1/terminate", &[], b"", 400, None),
        ("POST", "/api/jobs/1.5/terminate", &[], b"", 400, None),
        ("POST", "/api/jobs//terminate", &[], b"", 400, None),
        (
            "POST",
            "/api/jobs/99999999999999999999999/terminate",
            &[],
            b"",
            400,
            None,
        ),
        ("POST", "/api/nodes//suspend", &[], b"", 400, None),
        ("POST", "/api/nodes/%zz/suspend", &[], b"", 400, None),
        ("POST", "/api/nodes/%4/resume", &[], b"", 400, None),
        ("POST", "/api/nodes/%FF%FE/resume", &[], b"", 400, None),
        // Bodies over the limit; a body sent in chunks is not read at all.
        ("POST", "/api/jobs/1/terminate", &[], &big, 413, None),
        (
            "POST",
            "/api/jobs/1/terminate",
            &["Transfer-Encoding: chunked"],
            chunked.as_bytes(),
            411,
            None,
        ),
        // Another web site's page posting through a visitor's browser.
        (
            "POST",
            "/api/jobs/1/terminate",
            &["Origin: http://evil.example"],
            b"",
            403,
            None,
        ),
        (
            "POST",
            "/api/nodes/alpha/suspend",
            &["Origin: null"],
            b"",
            403,
            None,
        ),
    ];
    for &(method, path, extra, body, status, allow) in cases {
        let answer = request(addr, method, path, extra, body);
        let what = format!("{method} {path} {extra:?}");
        assert_eq!(answer.status, status, "{what}: {}", answer.text());
        assert!(!answer.error().is_empty(), "{what}: a reason");
        assert_eq!(answer.header("allow"), allow, "{what}");
    }
    assert!(
        cluster.calls().is_empty(),
        "no bad request reached the source: {:?}",
        cluster.calls()
    );

    // On loopback, a request naming another host: a page whose domain was made to
    // resolve to 127.0.0.1 (DNS rebinding), reading or acting as if same-origin.
    let port = addr.port();
    let rebound = format!("evil.example:{port}");
    for (method, path) in [("GET", "/api/status"), ("POST", "/api/jobs/1/terminate")] {
        let raw = format!(
            "{method} {path} HTTP/1.1\r\nHost: {rebound}\r\nOrigin: http://{rebound}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let answer = exchange(addr, raw.as_bytes());
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.text());
        assert!(answer.error().contains("local addresses"));
    }
    let by_name = exchange(
        addr,
        format!("GET /api/status HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(by_name.status, 200, "localhost is a local name");
    assert!(cluster.calls().is_empty(), "{:?}", cluster.calls());

    // A job or node the source does not know: it is asked, refuses, and is not found in
    // its snapshot: 404.
    let job = post(addr, "/api/jobs/999/terminate");
    assert_eq!((job.status, job.error().as_str()), (404, "no job 999"));
    let node = post(addr, "/api/nodes/nobody/suspend");
    assert_eq!(node.status, 404);
    assert_eq!(node.error(), r#"no node named "nobody""#);

    // Not HTTP at all, or a huge declared body that never comes: tiny_http or the
    // dashboard answer 4xx and close.
    let garbage = exchange(addr, b"HELLO THERE\r\n\r\n");
    assert_eq!(garbage.status, 400);
    // (tiny_http would try to allocate a declared body to drain it: this one's
    // connection is left open instead, so read only the answer's head.)
    let mut huge = connect(addr);
    write!(
        huge,
        "POST /api/jobs/1/terminate HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n",
        1u64 << 50
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        huge.read_exact(&mut byte)
            .expect("an answer to the huge body");
        head.push(byte[0]);
    }
    assert_eq!(parse(&head).status, 413);
    drop(huge);

    // Still serving, and nothing changed.
    let status = get(addr, "/api/status");
    assert_eq!(status.status, 200);
    let after: ClusterSnapshot = serde_json::from_slice(&status.body).unwrap();
    assert_eq!(after, Cluster::new().snapshot());
}

/// A source that panics when asked anything.
struct Panicky;

impl DashboardSource for Panicky {
    fn snapshot(&self) -> ClusterSnapshot {
        panic!("snapshot fails (on purpose)")
    }
    fn suspend_node(&self, _: &str) -> Result<(), String> {
        panic!("suspend fails (on purpose)")
    }
    fn resume_node(&self, _: &str) -> Result<(), String> {
        panic!("resume fails (on purpose)")
    }
    fn terminate_job(&self, _: JobId) -> Result<(), String> {
        panic!("terminate fails (on purpose)")
    }
}

#[test]
fn a_panicking_source_gets_500_and_the_dashboard_goes_on() {
    rcos_tests::log_if_asked();
    let dashboard = dashboard::serve(Arc::new(Panicky), "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = dashboard.local_addr();
    for _ in 0..3 {
        // More failures than it has threads: none of them is lost.
        let answer = get(addr, "/api/status");
        assert_eq!(answer.status, 500);
        assert!(!answer.error().contains("on purpose"), "no internals leak");
        assert_eq!(post(addr, "/api/jobs/1/terminate").status, 500);
    }
    assert_eq!(get(addr, "/").status, 200);
    dashboard.stop();
}

/// Runs `f` on a thread and fails the test if it takes longer than [`PATIENCE`].
fn within_patience(what: &str, f: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    finished
        .recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("{what} did not finish within {PATIENCE:?}"));
}

#[test]
fn stop_and_drop_free_the_port_without_hanging() {
    let (_cluster, dashboard) = start();
    let addr = dashboard.local_addr();

    // A browser-like client keeps its connection open after an answer.
    let mut kept = connect(addr);
    write!(kept, "GET /api/status HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");

    within_patience("stop", move || dashboard.stop());
    let refused = TcpStream::connect(addr).expect_err("nothing listens after stop");
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);

    // The address is free again; dropping this one stops it as well.
    let cluster = Cluster::new();
    let again = dashboard::serve(cluster, addr).expect("the same address binds again");
    assert_eq!(again.local_addr(), addr);
    assert_eq!(get(addr, "/api/status").status, 200);
    within_patience("drop", move || drop(again));
    assert!(
        TcpStream::connect(addr).is_err(),
        "nothing listens after drop"
    );
    drop(kept);
}

#[test]
fn an_address_in_use_is_an_error() {
    let (_cluster, dashboard) = start();
    let err =
        dashboard::serve(Cluster::new(), dashboard.local_addr()).expect_err("the address is taken");
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    assert!(format!("{dashboard:?}").contains("Dashboard"));
}
