//! The cluster dashboard in a real headless browser: Debian's chromium driven by
//! playwright-core (`tests/browser/dashboard.mjs`, run with `node`). The script checks
//! that the page loads, lists the nodes and jobs, updates by itself as a job finishes,
//! and that a Terminate button ends a running job; it saves a screenshot.
//!
//! `cluster_dashboard_in_a_browser` drives a real cluster: two `cluster_node` processes
//! and the `cluster_dashboard` client example, on loopback; its screenshot
//! (`target/dashboard.png`) is the one in the book. `dashboard_page_in_a_browser` tests
//! the page alone, against a cluster simulated in the test.
//!
//! When chromium, node or the script's node_modules are missing, each test prints
//! `skipped: <why>` and passes.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use rcos::cluster::dashboard;
use rcos::cluster::{
    ClusterSnapshot, DashboardSource, JobId, JobState, JobView, NodeState, NodeView,
};
use rcos_tests::PATIENCE;
use rcos_tests::programs::{Running, example_path};

const CHROMIUM: &str = "/usr/bin/chromium";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Why the browser check cannot run here, if it cannot.
fn missing() -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("no chromium at {CHROMIUM}"));
    }
    if !browser_dir().join("node_modules/playwright-core").is_dir() {
        return Some(format!(
            "no playwright-core in {}/node_modules (run npm ci there)",
            browser_dir().display()
        ));
    }
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => None,
        _ => Some("no node on the PATH".to_string()),
    }
}

/// Where a screenshot goes: `target/<name>`.
fn screenshot_path(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    std::fs::create_dir_all(&target).expect("the target folder exists");
    target.join(name)
}

/// Runs the browser script against `url`; panics with its output if it fails.
fn run_script(url: &str, screenshot: &Path, extra: &[&str]) -> String {
    let _ = std::fs::remove_file(screenshot);
    let out = Command::new("node")
        .arg("dashboard.mjs")
        .arg(url)
        .arg(screenshot)
        .args(extra)
        .current_dir(browser_dir())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser check failed ({})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(
        screenshot.is_file(),
        "no screenshot at {}",
        screenshot.display()
    );
    stdout
}

/// A cluster whose jobs run on a clock: two long jobs (until terminated), and a short
/// job starting every 1.5 s that runs for 4 s, alternating between two nodes. Terminating
/// a job really ends it. It stands in for a cluster client to test the page itself.
struct Simulated {
    start: Instant,
    terminated: Mutex<BTreeMap<JobId, u64>>,
    suspended: Mutex<Vec<String>>,
}

const NODES: [&str; 2] = ["node-a", "node-b"];
const LONG_JOBS: JobId = 2;
const SHORT_EVERY_MS: u64 = 1500;
const SHORT_RUNS_MS: u64 = 4000;

impl Simulated {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Job `id` as it stands at `now`: (task, node, start, planned end).
    fn plan(id: JobId) -> (&'static str, &'static str, u64, Option<u64>) {
        let node = NODES[usize::try_from(id % 2).unwrap()];
        if id <= LONG_JOBS {
            ("long_job", node, 0, None)
        } else {
            let start = (id - LONG_JOBS - 1) * SHORT_EVERY_MS;
            ("short_job", node, start, Some(start + SHORT_RUNS_MS))
        }
    }

    fn job(&self, id: JobId, now: u64) -> JobView {
        let (task, node, start, end) = Simulated::plan(id);
        let terminated = self.terminated.lock().unwrap().get(&id).copied();
        let (state, ended, outcome) = match (terminated, end) {
            (Some(at), _) => (JobState::Terminated, Some(at), "terminated".to_string()),
            (None, Some(end)) if end <= now => {
                (JobState::Finished, Some(end), format!("{}", id * id))
            }
            _ => (JobState::Running, None, String::new()),
        };
        JobView {
            id,
            task: task.to_string(),
            node: node.to_string(),
            state,
            started_ms: Some(start),
            duration_ms: ended.map(|e| e - start),
            outcome: ended.map(|_| outcome),
        }
    }

    /// Jobs started by `now`, running ones first, then the 12 that ended last.
    fn jobs(&self, now: u64) -> Vec<JobView> {
        let started = LONG_JOBS + now / SHORT_EVERY_MS + 1;
        let all: Vec<JobView> = (1..=started).map(|id| self.job(id, now)).collect();
        let (mut running, mut ended): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|j| j.state == JobState::Running);
        ended.sort_by_key(|j| {
            std::cmp::Reverse(j.started_ms.zip(j.duration_ms).map(|(s, d)| s + d))
        });
        ended.truncate(12);
        running.append(&mut ended);
        running
    }
}

impl DashboardSource for Simulated {
    fn snapshot(&self) -> ClusterSnapshot {
        let now = self.now_ms();
        let jobs = self.jobs(now);
        let suspended = self.suspended.lock().unwrap().clone();
        let nodes = NODES
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let here = |j: &&JobView| j.node == *name;
                let running = jobs
                    .iter()
                    .filter(here)
                    .filter(|j| j.state == JobState::Running)
                    .count();
                let done = jobs.iter().filter(here).count() - running;
                NodeView {
                    name: name.to_string(),
                    location: format!("127.0.0.1:{}", 51_348 + i),
                    state: if suspended.iter().any(|s| s == name) {
                        NodeState::Suspended
                    } else {
                        NodeState::Initialised
                    },
                    slots: 4,
                    busy: u32::try_from(running.min(4)).unwrap(),
                    running: u32::try_from(running).unwrap(),
                    done: u64::try_from(done).unwrap(),
                    platform: "linux x86_64".to_string(),
                    // The last node has not measured its CPU: the page must show it
                    // as unknown (and not stop updating on a null).
                    cpu_available: (i + 1 < NODES.len()).then_some(50.0),
                    memory_available: Some(6 << 30),
                }
            })
            .collect();
        ClusterSnapshot {
            now_ms: now,
            nodes,
            jobs,
        }
    }

    fn suspend_node(&self, node: &str) -> Result<(), String> {
        if !NODES.contains(&node) {
            return Err(format!("no node named {node:?}"));
        }
        self.suspended.lock().unwrap().push(node.to_string());
        Ok(())
    }

    fn resume_node(&self, node: &str) -> Result<(), String> {
        self.suspended.lock().unwrap().retain(|s| s != node);
        Ok(())
    }

    fn terminate_job(&self, id: JobId) -> Result<(), String> {
        let now = self.now_ms();
        if self.job(id, now).state != JobState::Running {
            return Err(format!("job {id} is not running"));
        }
        self.terminated.lock().unwrap().insert(id, now);
        Ok(())
    }
}

/// The page itself, against a simulated cluster: quick, and independent of the cluster
/// layer.
#[test]
fn dashboard_page_in_a_browser() {
    if let Some(why) = missing() {
        println!("skipped: {why}");
        return;
    }
    rcos_tests::log_if_asked();
    let cluster = Arc::new(Simulated {
        start: Instant::now(),
        terminated: Mutex::new(BTreeMap::new()),
        suspended: Mutex::new(Vec::new()),
    });
    let dashboard = dashboard::serve(cluster.clone(), "127.0.0.1:0".parse().unwrap())
        .expect("the dashboard binds");
    let screenshot = screenshot_path("dashboard-simulated.png");
    let out = run_script(
        &dashboard.url(),
        &screenshot,
        &["--terminate-task", "long_job"],
    );
    assert!(out.contains("shows as terminated"), "{out}");
    // The click reached the source: one long job is terminated, the other runs on.
    let snapshot = cluster.snapshot();
    let long: Vec<JobState> = snapshot
        .jobs
        .iter()
        .filter(|j| j.id <= LONG_JOBS)
        .map(|j| j.state)
        .collect();
    assert_eq!(long.len(), 2);
    assert!(long.contains(&JobState::Terminated) && long.contains(&JobState::Running));
    dashboard.stop();
}

static BUILT: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
const EXAMPLES: &[&str] = &["cluster_node", "cluster_dashboard"];

/// The secret the test's cluster shares; the dashboard must never show it.
const CLUSTER_SECRET: &str = "dashboard-test secret 5c1e0b7d, never shown";

/// The body of `GET url` (HTTP/1.1, `Connection: close`), from a plain TCP client.
fn http_get(url: &str) -> String {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = TcpStream::connect(host).expect("the dashboard accepts");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "GET {url}: {answer}");
    dechunked(answer)
}

/// The answer with a chunked body joined back into one piece (the chunk boundaries
/// would otherwise split what the test looks for, at offsets that vary run to run).
fn dechunked(answer: String) -> String {
    let Some((head, body)) = answer.split_once("\r\n\r\n") else {
        return answer;
    };
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return answer;
    }
    // Bytes, not chars: a chunk boundary may fall inside a character.
    let mut body = body.as_bytes();
    let mut joined = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..eol]).expect("a chunk size line");
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        let rest = &body[eol + 2..];
        joined.extend_from_slice(&rest[..size]);
        body = rest[size..].strip_prefix(b"\r\n").unwrap_or(&rest[size..]);
    }
    format!("{head}\r\n\r\n{}", String::from_utf8_lossy(&joined))
}

/// The `host:port` at the end of a node's "... listening at 127.0.0.1:PORT" line.
fn location(line: &str) -> String {
    line.rsplit(' ').next().expect("a location").to_string()
}

/// A real cluster: two node processes on loopback and the `cluster_dashboard` client,
/// all sharing a secret. The browser sees both nodes and the client's jobs, a short job
/// finish, and terminates a long one; then the client closes and the nodes, which serve
/// one client, exit.
#[test]
fn cluster_dashboard_in_a_browser() {
    if let Some(why) = missing() {
        println!("skipped: {why}");
        return;
    }
    let node = example_path(&BUILT, EXAMPLES, "cluster_node");
    let client = example_path(&BUILT, EXAMPLES, "cluster_dashboard");
    let node_args = |name| ["--cpus", "2", "--name", name, "--clients", "1"];
    let mut a = Running::spawn(
        "node-a",
        node.clone(),
        &node_args("node-a"),
        Some(CLUSTER_SECRET),
    );
    let mut b = Running::spawn("node-b", node, &node_args("node-b"), Some(CLUSTER_SECRET));
    let at_a = location(&a.expect("listening at"));
    let at_b = location(&b.expect("listening at"));
    let mut client = Running::spawn(
        "cluster_dashboard",
        client,
        &[&at_a, &at_b, "--dashboard", "127.0.0.1:0", "--jobs", "1000"],
        Some(CLUSTER_SECRET),
    );
    let url = location(&client.expect("dashboard at "));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let screenshot = screenshot_path("dashboard.png");
    let out = run_script(&url, &screenshot, &["--terminate-task", "saver"]);
    assert!(out.contains("node-a") && out.contains("node-b"), "{out}");

    // The dashboard never shows the secret given to the cluster: not in the page, not
    // in its script, not in the status JSON (which now lists nodes and jobs).
    for path in ["", "dashboard.js", "dashboard.css", "api/status"] {
        let answer = http_get(&format!("{url}{path}"));
        assert!(
            !answer.contains(CLUSTER_SECRET),
            "GET /{path} shows the secret"
        );
        assert!(
            !answer.contains("5c1e0b7d"),
            "GET /{path} shows part of the secret"
        );
    }
    let status = http_get(&format!("{url}api/status"));
    assert!(status.contains(r#""name":"node-a""#), "{status}");
    assert!(status.contains(r#""state":"terminated""#), "{status}");

    // The end of its input closes the client: the other long job is terminated too, and
    // every job's outcome is printed. The terminated jobs saved their state first.
    let lines = client.finish();
    let saved = lines.iter().filter(|l| l.contains("saved after")).count();
    assert_eq!(saved, 2, "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("short jobs gave the right result")),
        "{lines:#?}"
    );
    a.expect("served 1 clients");
    b.expect("served 1 clients");
    a.finish();
    b.finish();
}

/// The test's own HTTP reading: a chunked body comes back joined, whatever the chunk
/// boundaries split.
#[test]
fn a_chunked_answer_is_joined() {
    let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked";
    let answer = format!("{head}\r\n\r\n4\r\n\"sta\r\n6\r\nte\":1}}\r\n0\r\n\r\n");
    assert_eq!(dechunked(answer), format!("{head}\r\n\r\n\"state\":1}}"));
    let plain = "HTTP/1.1 200 OK\r\n\r\n{}".to_string();
    assert_eq!(dechunked(plain.clone()), plain);
}
