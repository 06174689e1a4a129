//! Runs each example of `rcos-examples` with `cargo run` and checks that it ends by
//! itself, exits with status 0, and prints the lines that show it did its job.
#![cfg(unix)]

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// How long one example may take, its compilation included, before it is killed.
const LIMIT: Duration = Duration::from_secs(120);

/// What an example printed.
struct Output {
    stdout: String,
    stderr: String,
}

impl Output {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// The index of the first line containing `needle`; fails the test if none does.
    fn find(&self, needle: &str) -> usize {
        self.lines()
            .iter()
            .position(|line| line.contains(needle))
            .unwrap_or_else(|| panic!("no line contains {needle:?} in:\n{}", self.stdout))
    }

    /// Checks that lines containing each needle appear, in this order.
    fn in_order(&self, needles: &[&str]) {
        let positions: Vec<usize> = needles.iter().map(|n| self.find(n)).collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "expected {needles:?} in this order, found them at lines {positions:?} of:\n{}",
            self.stdout
        );
    }

    /// The number after `prefix` on the line that starts with it.
    fn number_after(&self, prefix: &str) -> f64 {
        let line = self.lines()[self.find(prefix)];
        let rest = &line[line.find(prefix).unwrap() + prefix.len()..];
        let number: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        number
            .parse()
            .unwrap_or_else(|_| panic!("no number after {prefix:?} in {line:?}"))
    }
}

/// Runs `cargo run -q -p rcos-examples --example NAME -- ARGS` from the workspace root
/// and returns what it printed, after checking that it exited with status 0.
fn run(name: &str, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO"))
        .args(["run", "-q", "-p", "rcos-examples", "--example", name, "--"])
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that a hung example is killed along with cargo.
        .process_group(0)
        .spawn()
        .expect("cargo starts");
    let pid = child.id();
    let mut out_pipe = child.stdout.take().expect("piped stdout");
    let mut err_pipe = child.stderr.take().expect("piped stderr");
    let stdout = thread::spawn(move || {
        let mut text = String::new();
        let _ = out_pipe.read_to_string(&mut text);
        text
    });
    let stderr = thread::spawn(move || {
        let mut text = String::new();
        let _ = err_pipe.read_to_string(&mut text);
        text
    });
    let (done, status) = mpsc::channel::<std::io::Result<ExitStatus>>();
    thread::spawn(move || {
        let _ = done.send(child.wait());
    });
    let status = match status.recv_timeout(LIMIT) {
        Ok(status) => status.expect("cargo is waited for"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
            panic!("example {name} did not end within {LIMIT:?}; killed it");
        }
    };
    let output = Output {
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    };
    assert!(
        status.success(),
        "example {name} failed with {status}\n--- stdout\n{}\n--- stderr\n{}",
        output.stdout,
        output.stderr
    );
    output
}

#[test]
fn hello() {
    let out = run("hello", &[]);
    out.in_order(&["Hello, Ada!", "Hello, Grace!", "greeted 2 people"]);
}

#[test]
fn tour() {
    let out = run("tour", &[]);
    out.in_order(&[
        "== 1. Tasks and messages",
        "added 1 + 2 + 3 = 6",
        "returned Some(42)",
        "== 2. Selective receive",
        "first, the urgent one",
        "then, in order: tidy the desk",
        "then, in order: answer the mail",
        "== 3. Hot swap",
        "queued Add(10) and Add(20)",
        "counter_v2: took over a total of 6",
        "counter_v2: Add(10) -> 16",
        "counter_v2: Add(20) -> 36",
        "now counter_v2/",
        "== 4. Monitors",
        "ended: panicked: attempt to divide by zero",
        "ended: terminated",
        "== 5. Supervision",
        "sending it poison",
        "restarted as worker/",
        "worker alive: false",
        "== 6. Channels",
        "the first headline reached 2 readers",
        "== 7. Two nodes over loopback",
        "(on alpha) says the total is 42",
        "on alpha, which returned Some(144)",
        "beta is watching; alpha shuts down",
        "ended: its node was lost",
        "== Done",
    ]);
    assert!(out.stdout.contains("total 36"), "{}", out.stdout);
    // Both readers read both headlines that passed the transform, not the boring one.
    assert_eq!(
        out.stdout.matches("read 2 headlines").count(),
        2,
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.to_lowercase().contains("boring"),
        "{}",
        out.stdout
    );
}

#[test]
fn tasks() {
    let out = run("tasks", &["200", "300"]);
    out.find("200 tasks");
    let longest = out.number_after("longest sleep");
    let sum = out.number_after("sum of sleeps");
    let total = out.number_after("total:");
    assert!(
        longest <= 0.3 + 1e-3,
        "sleeps are at most 300 ms: {longest}"
    );
    assert!(
        total + 1e-3 >= longest,
        "total {total} < longest sleep {longest}"
    );
    // The tasks sleep at the same time: the total is about the longest sleep, far from
    // the sum (about 30 s here). The slack covers a slow, loaded machine.
    assert!(
        total < longest + 2.0,
        "total {total}, longest sleep {longest}"
    );
    assert!(sum > 10.0 * total, "sum {sum}, total {total}");
}

#[test]
fn client_server() {
    let out = run("client_server", &[]);
    // "received ID: CLIENT / X": every id once, each client's three messages in order.
    let mut ids = BTreeSet::new();
    let mut next_x = [0u32; 10];
    for line in out.lines() {
        let Some(rest) = line.strip_prefix("received ") else {
            continue;
        };
        let (id, rest) = rest.split_once(": ").expect("ID: CLIENT / X");
        let (client, x) = rest.split_once(" / ").expect("CLIENT / X");
        assert!(ids.insert(id.parse::<u32>().unwrap()), "id {id} twice");
        let (client, x): (usize, u32) = (client.parse().unwrap(), x.parse().unwrap());
        assert_eq!(x, next_x[client], "client {client} out of order");
        next_x[client] += 1;
    }
    assert_eq!(ids, (1..=30).collect(), "{}", out.stdout);
    assert_eq!(next_x, [3; 10]);
    out.find("server received 30 messages");
}

#[test]
fn request_reply() {
    let out = run("request_reply", &[]);
    out.in_order(&[
        "put lang=Python: Stored { previous: None }",
        "put lang=Rust: Stored { previous: Some(\"Python\") }",
        "get lang: Value(Some(\"Rust\"))",
        "slow request: no reply within 100 ms",
        "kv_server: the caller is no longer waiting",
        "get lang again: Value(Some(\"Rust\"))",
        "pico reply 3: 25",
        "pico reply 1: 9",
        "pico reply 2: 16",
        "pico reply 9: none within 100 ms",
        "pico request 4: message not sent: the receiving task has ended",
    ]);
}

#[test]
fn hotswap() {
    let out = run("hotswap", &[]);
    out.find("server_v1: refusing the swap to server_v3_beta");
    out.find("main: swap to server_v3_beta refused");
    out.find("server_v1: #1 apple");
    out.find("server_v1: #2 banana");
    // The three messages queued while the server was paused are served by the new code,
    // after the swap, numbered on from the state handed over.
    out.in_order(&[
        "main: 3 messages queued",
        "server_v1: accepting the swap to server_v2",
        "server_v2: running, 2 messages served before me",
        "server_v2: #3 cherry",
        "server_v2: #4 damson",
        "server_v2: #5 elderberry",
        "main: the server served 5 messages in all",
    ]);
    out.find("main: swap to server_v2 accepted; the server is now server_v2/");
    assert!(!out.stdout.contains("server_v1: #3"), "{}", out.stdout);
}

#[test]
fn monitor_restart() {
    let out = run("monitor_restart", &[]);
    out.in_order(&[
        "main: 1000 / 10 = 100",
        "main: 1000 / 5 = 200",
        "panicked (attempt to divide by zero); restart 1",
        "main: 1000 / 4 = 250",
        "panicked (attempt to divide by zero); restart 2",
        "main: 1000 / 8 = 125",
        "panicked (attempt to divide by zero); giving up",
        "main: the keeper gave up after 3 failures",
    ]);
    assert_eq!(out.stdout.matches("is up").count(), 3, "{}", out.stdout);
}

#[test]
fn supervisor() {
    let out = run("supervisor", &[]);
    out.in_order(&[
        r#"started: {"cache", "consumer", "mailer", "producer"}"#,
        "cache stopped",
        r#"restarted: {"cache"}"#,
        r#""cache" was worker/"#,
        "the consumer was stopped with it: terminated",
        r#"restarted: {"consumer", "producer"}"#,
        "shutting down",
        "root returned normally: true",
    ]);
    // After "shutting down", every worker stops.
    let shutdown = out.find("shutting down");
    let after: Vec<&str> = out.lines()[shutdown..].to_vec();
    for name in ["cache", "mailer", "producer", "consumer"] {
        assert!(
            after.iter().any(|l| l.trim() == format!("{name} stopped")),
            "{name} did not stop:\n{}",
            out.stdout
        );
    }
}

#[test]
fn lifecycle() {
    let out = run("lifecycle", &[]);
    out.in_order(&[
        r#"returned Some("hello, pycos")"#,
        "after join: worker alive false, ticker alive true",
        "after terminate: ticker alive false",
        r#"was resumed with Some("wake up")"#,
        r#""server" names task/"#,
        "terminated; locate now says: no task registered",
        r#"careful: Some("saved my work, then stopped: shutting down")"#,
        "careless: ended by a thrown error: shutting down",
        "panicked: index out of bounds",
        r#"the runtime carries on: Some("hello, again")"#,
    ]);
}

#[test]
fn messages() {
    let out = run("messages", &[]);
    out.in_order(&[
        "wire names: Order, shop.v2.Cancel, Vec<Option<u8>>",
        "received order 1 with 2 items",
        "received cancellation of order 1",
        "received the number 7",
        "received something else: a bool",
        "received a shared buffer of 512 bytes",
        "downcast: order 1",
        "strict: message 2 queued",
        "mailbox is full; got 3 back",
        "lossy: 2 queued, 3 dropped",
        "patient: second delivery: message not sent",
        "order{id=42}: accepted",
        "order{id=42}: packing 1 items",
    ]);
}

#[test]
fn deterministic() {
    let out = run("deterministic", &[]);
    out.find("the call timed out after 30s of virtual time");
    let seed1: Vec<&str> = out
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("seed 1: "))
        .map(|l| l.split(']').next().unwrap())
        .collect();
    assert_eq!(seed1.len(), 2);
    assert_eq!(seed1[0], seed1[1], "the same seed, the same order");
    out.find("advanced the clock by 90s");
}

#[test]
fn channel() {
    let out = run("channel", &[]);
    // Each subscriber prints its result after the `None` that follows the numbers.
    out.in_order(&[
        "== sum and product",
        "sent 1.500000",
        "sent 3.000000",
        "sum: 7.250000",
    ]);
    out.in_order(&["sent 3.000000", "prod: 5.062500", "== a transform"]);
    // Channel and direct messages in one mailbox, in the order they were sent; the
    // shouting was dropped by the transform, the number passed it unchanged.
    out.in_order(&[
        "== a transform",
        "listener: [chat] ada: hello",
        "listener: a direct message, between two channel messages",
        "listener: the number 7",
        "listener: [chat] bob left",
        "listener: end",
        "the listener received 5 messages",
        "deliver(n = 1) reached 1 task(s)",
        r#"the reader got Some("extra! extra!")"#,
        "deliver(n = 2) reached 0 task(s) after its timeout",
        r#"second channel "alerts": a channel named "alerts" exists already"#,
        "send after close: the channel is closed",
        "a new channel takes the name: alerts@",
    ]);
    assert!(!out.stdout.contains("HELLO"), "{}", out.stdout);
}

#[test]
fn channel_hierarchy() {
    let out = run("channel_hierarchy", &[]);
    out.in_order(&[
        "company reached 4 people",
        "engineering reached 2 people",
        "sales reached 1 person",
        "engineering -> company: refused, a cycle",
        "sales -> sales: refused: the subscription would make a cycle",
        r#"linus heard ["all hands at ten", "the build is green"]"#,
        "engineering has 2 subscribers",
        "company reached 3 people; engineering now has 1 subscriber",
        r#"ceo heard ["all hands at ten", "welcome, Grace"]"#,
        r#"ada heard ["all hands at ten", "the build is green", "welcome, Grace"]"#,
        r#"zig heard ["all hands at ten", "quarter closed", "welcome, Grace"]"#,
    ]);
}

#[test]
fn sync_lock() {
    let out = run("sync_lock", &[]);
    out.in_order(&[
        "without a lock: balance",
        "with a lock:    balance 100 ",
        "acquire again: the caller already holds this lock",
        "another task's release: the lock is not held by the caller",
        "another task's acquire_timeout: timed out waiting",
        "after the guard is dropped: locked false",
        "after release(): locked false",
        "a Lock taken twice: the caller already holds this lock",
    ]);
    // Each report's three lines follow its title, never mixed with another report's.
    let lines = out.lines();
    for title in ["A", "B", "C"] {
        let at = out.find(&format!("report {title} (lock depth 1)"));
        for (i, line) in ["first", "second", "third"].iter().enumerate() {
            let expected = format!("{title}: {line} line (lock depth 2)");
            assert_eq!(lines[at + 1 + i].trim(), expected, "{}", out.stdout);
        }
    }
}

#[test]
fn sync_semaphore() {
    let out = run("sync_semaphore", &[]);
    let started: Vec<&str> = out
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("download "))
        .collect();
    assert_eq!(started.len(), 6, "{}", out.stdout);
    for line in started {
        assert!(
            line.ends_with("(1 running)") || line.ends_with("(2 running)"),
            "more than 2 at once: {line}"
        );
    }
    out.in_order(&[
        "6 downloads wait for the start signal",
        "all done; at most 2 ran at once with 2 permits",
        "free permits: 0",
        "a third permit: timed out waiting",
        "try_acquire: None",
        "wait_timeout on a clear event: false",
        "wait_timeout on a set event: true",
    ]);
}

#[test]
fn sync_condition() {
    let out = run("sync_condition", &[]);
    let took = out.lines().iter().filter(|l| l.contains(" took ")).count();
    // 12 "x took N" lines and 2 "consumer x took K items" lines.
    assert_eq!(took, 14, "{}", out.stdout);
    out.in_order(&["every item taken once: true", "the buffer held at most"]);
    let high = out.number_after("the buffer held at most");
    assert!((1.0..=3.0).contains(&high), "capacity 3, held {high}");
    assert!(!out.stdout.contains("giving up"), "{}", out.stdout);
}

#[test]
fn thread_pool() {
    let out = run("thread_pool", &[]);
    // Blocking the only worker stops the ticker; the pool does not.
    let on_worker = out.number_after("on the worker: 42 rows; meanwhile the ticker ticked");
    let on_pool = out.number_after("on the pool:   42 rows; meanwhile the ticker ticked");
    assert!(
        on_worker <= 1.0,
        "the ticker ran while the worker was blocked: {on_worker}"
    );
    assert!(
        on_pool >= 3.0,
        "the ticker was stopped by the pool: {on_pool}"
    );
    out.in_order(&[
        "a panicking function: the blocking function panicked: the driver crashed",
        "the pool goes on: 20! = 2432902008176640000",
        "the task gave up waiting: true",
        "after join, the function finished: true",
        "run after terminate: the thread pool was terminated",
    ]);
}

#[test]
fn unix_echo() {
    let out = run("unix_echo", &[]);
    out.in_order(&[
        r#"client: sent "hello", got back "hello""#,
        r#"client: sent "", got back """#,
        r#"client: sent "a message is delivered whole, or not at all", got back "a message"#,
        "server: 3 messages echoed; the client closed the connection",
        "greedy client: the server cut the connection",
        "server: 0 messages echoed; refused a message of 4096 bytes: message of 4096 bytes \
         exceeds the limit of 1024 bytes",
    ]);
}

#[test]
fn tls_echo() {
    let out = run("tls_echo", &[]);
    out.in_order(&[
        r#"client: got back "hello""#,
        r#"client: got back "over TLS""#,
        "client: the server presented 1 certificate(s)",
        "server: 2 messages echoed over TLS",
        "suspicious client: handshake failed: invalid peer certificate",
        "server: handshake failed",
    ]);
}

#[test]
fn files() {
    let out = run("files", &[]);
    // 1 line from `create`, then 3 tasks x 5 appended entries, none lost.
    out.find(r#"16 lines, 15 entries; first: Some("log opened")"#);
    // What the chunks added up to is the size of the file.
    let line = out.lines()[out.find("chunks of up to 64; the file has")];
    let read: f64 = line.split(' ').next().unwrap().parse().unwrap();
    assert_eq!(read, out.number_after("the file has"), "{line}");
    assert!(read > 0.0);
    out.find("opening a missing file: NotFound");
}

#[test]
fn node_config() {
    let out = run("node_config", &[]);
    // The Debug form of the configuration shows the options, never the secret.
    out.in_order(&[
        "NodeConfig {",
        "max_frame: 4194304,",
        "heartbeat_interval: 500ms,",
        "heartbeat_misses: 6,",
        "beacon_interval: 2s,",
        "tls: true,",
    ]);
    let listening = out.find("alpha listening at ");
    assert!(
        !out.lines()[..listening]
            .iter()
            .any(|l| l.contains("secret")),
        "{}",
        out.stdout
    );
    let line = out.lines()[listening];
    let alpha = line.rsplit(' ').next().unwrap();
    assert!(alpha.starts_with("127.0.0.1:"), "{line}");
    out.in_order(&[
        "alpha listening at ",
        &format!("beta's peers, over TLS: {alpha}"),
        "gateway: location 203.0.113.7:9705, bound to 127.0.0.1:",
        "open: refused: a node listening on 0.0.0.0:0 needs a secret of at least 16 bytes",
    ]);
}

// The book's running example: a word-count service that grows one step per chapter.

#[test]
fn service_1_tasks() {
    let out = run("service_1_tasks", &[]);
    assert_eq!(
        out.stdout.matches(" sent 2 lines").count(),
        2,
        "{}",
        out.stdout
    );
    out.in_order(&["sent 2 lines", "saw 10 different words"]);
    assert!(out.stdout.contains("tally/"), "{}", out.stdout);
}

#[test]
fn service_2_messages() {
    let out = run("service_2_messages", &[]);
    out.in_order(&[
        r#"top 3: Top([("the", 4), ("dog", 2), ("fox", 2)])"#,
        r#""fox": Count(2)"#,
        "tally: ignored a u8",
        "saw 10 different words",
    ]);
}

#[test]
fn service_3_supervision() {
    let out = run("service_3_supervision", &[]);
    out.in_order(&[
        "top 100: the request was dropped without a reply",
        "ended: panicked: range end index 100 out of range",
        r#"which counts "fox": Count(0)"#,
        "supervisor shut down; the tally is alive: false",
    ]);
    // The two lines name two different tasks: the crashed tally and its replacement.
    let crashed = out.lines()[out.find("monitor: tally/")]
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    let restarted = out.lines()[out.find("now names tally/")]
        .split_whitespace()
        .nth(3)
        .unwrap()
        .trim_end_matches(',')
        .to_string();
    assert_ne!(crashed, restarted, "{}", out.stdout);
}

#[test]
fn service_4_hot_swap() {
    let out = run("service_4_hot_swap", &[]);
    out.in_order(&[
        r#"version 1 counted "the": Count(2)"#,
        "tally_v2: took over 8 words",
        "swapped: the same task is now tally_v2/",
        r#"top 100: 10 words, first Some(("the", 4))"#,
        "saw 10 different words",
    ]);
}

#[test]
fn service_5_channels() {
    let out = run("service_5_channels", &[]);
    out.in_order(&[
        "saw 10 different words",
        r#"trending: ["the (2)", "dog (2)", "fox (2)"]"#,
    ]);
}

#[test]
fn service_6_two_nodes() {
    let out = run("service_6_two_nodes", &[]);
    out.in_order(&[
        "store: listening at 127.0.0.1:",
        r#"says the top 3 are Top([("the", 4), ("dog", 2), ("fox", 2)])"#,
        r#"trending: ["the (2)", "dog (2)", "fox (2)"]"#,
        "front is watching the tally; stopping the store",
        "ended: its node was lost",
        "main: the client is done",
    ]);
}

#[test]
fn service_7_cluster() {
    let out = run("service_7_cluster", &[]);
    out.in_order(&[
        "counter-a: serving at 127.0.0.1:",
        "counter-b: serving at 127.0.0.1:",
        "job 1 counted 8 distinct words on 127.0.0.1:",
        "job 2 counted 3 distinct words on 127.0.0.1:",
        "job 3 counted 3 distinct words on 127.0.0.1:",
        "job 4 counted 4 distinct words on 127.0.0.1:",
        r#"front: the top 3 are [("the", 4), ("dog", 3), ("fox", 3)]"#,
    ]);
}

#[test]
fn actor_style() {
    let out = run("actor_style", &[]);
    out.in_order(&[
        "count: 3",
        ": stopped at 3",
        "returned Some(3)",
        "counts 101",
        ": stopped at 101",
        "ended: terminated",
        "the supervisor restarted it as counter/",
    ]);
}
