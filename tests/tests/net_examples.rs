//! Runs the networked examples as separate processes on loopback, as a user would:
//! each server with its client(s), `node_watch` twice with one of them killed, a
//! client monitoring a task on a server that is killed with SIGKILL, and a remote
//! service whose every run is reported to the client's monitor.
//!
//! The examples are built once with `cargo build`, then run as programs; each wait for
//! a line of output or for a program's end is bounded, and a program still running when
//! its test ends is killed. Nothing waits for time to pass: every step waits for the
//! line that shows the previous one happened.
#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// How long to wait for one line of output, or for a program to end.
const LIMIT: Duration = Duration::from_secs(60);

const EXAMPLES: [&str; 11] = [
    "remote_task_server",
    "remote_task_client",
    "remote_channel_server",
    "remote_channel_client",
    "pico_service",
    "pico_client",
    "chat_chan_server",
    "chat_chan_client",
    "node_watch",
    "rps_monitor_server",
    "rps_monitor_client",
];

/// The path of an example's executable, building them all the first time.
fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .args([
                "build",
                "-q",
                "-p",
                "rcos-examples",
                "--message-format=json",
            ])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .stderr(Stdio::inherit());
        for name in EXAMPLES {
            cargo.args(["--example", name]);
        }
        let out = cargo.output().expect("cargo runs");
        assert!(out.status.success(), "cargo build of the examples failed");
        // One JSON object per line; an example's has `"executable":"/path"`.
        let mut paths = BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Some(exe) = json_string(line, "executable") else {
                continue;
            };
            if let Some(name) = EXAMPLES
                .iter()
                .find(|n| PathBuf::from(&exe).file_name().is_some_and(|f| f == **n))
            {
                paths.insert(name.to_string(), PathBuf::from(exe));
            }
        }
        paths
    });
    built
        .get(name)
        .unwrap_or_else(|| panic!("cargo built no example {name}: {built:?}"))
        .clone()
}

/// The string value of `"key":"..."` in a line of cargo's JSON (no escapes expected in
/// paths here).
fn json_string(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let len = line[start..].find('"')?;
    Some(line[start..start + len].to_string())
}

/// A running example: its output arrives line by line through a channel.
struct Running {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Option<thread::JoinHandle<String>>,
}

impl Running {
    /// Starts an example with the demo secret (`RCOS_SECRET` unset).
    fn start(name: &str, args: &[&str]) -> Running {
        Running::start_with(name, args, None)
    }

    /// Starts an example, with `RCOS_SECRET` set to `secret` if given.
    fn start_with(name: &str, args: &[&str], secret: Option<&str>) -> Running {
        let mut command = Command::new(example(name));
        command
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("RCOS_SECRET")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(secret) = secret {
            command.env("RCOS_SECRET", secret);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().expect("piped stderr");
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        Running {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            stderr: Some(stderr),
        }
    }

    /// A server: starts it and reads its location from its `listening at` line.
    fn server(name: &str, args: &[&str]) -> (Running, String) {
        let mut server = Running::start(name, args);
        let line = server.expect("listening at ");
        let location = line
            .rsplit(' ')
            .next()
            .expect("an address after `listening at`")
            .to_string();
        assert!(
            location.starts_with("127.0.0.1:") && location[10..].parse::<u16>().is_ok(),
            "no loopback location in {line:?}"
        );
        (server, location)
    }

    /// Waits for the next line containing `needle` and returns it.
    fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "{}: no line with {needle:?} in {LIMIT:?}; saw {:#?}",
                        self.name, self.seen
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let stderr = self.take_stderr();
                    panic!(
                        "{}: ended without a line with {needle:?}; saw {:#?}\nstderr: {stderr}",
                        self.name, self.seen
                    )
                }
            }
        }
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("the example reads its input");
        stdin.flush().expect("flushed");
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Kills the program with SIGKILL (no chance to say goodbye) and reaps it.
    fn kill(mut self) {
        self.child.kill().expect("the example can be killed");
        let _ = self.child.wait();
    }

    fn take_stderr(&mut self) -> String {
        self.stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Waits for the program to end (its output to close, within the limit) and returns
    /// its status and every line it printed.
    fn end(mut self) -> (ExitStatus, Vec<String>, String) {
        self.close_stdin();
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "{} did not end within {LIMIT:?}; saw {:#?}",
                        self.name, self.seen
                    )
                }
            }
        }
        let status = self.child.wait().expect("the example is waited for");
        let stderr = self.take_stderr();
        (status, std::mem::take(&mut self.seen), stderr)
    }

    /// Waits for the program to end, checks that it succeeded, and returns every line
    /// it printed.
    fn finish(self) -> Vec<String> {
        let name = self.name.clone();
        let (status, lines, stderr) = self.end();
        assert!(
            status.success(),
            "{name} failed with {status}\n--- stdout\n{}\n--- stderr\n{stderr}",
            lines.join("\n")
        );
        lines
    }

    /// Waits for the program to end, checks that it failed with status 1, and returns
    /// every line it printed.
    fn finish_failed(self) -> Vec<String> {
        let name = self.name.clone();
        let (status, lines, stderr) = self.end();
        assert_eq!(
            status.code(),
            Some(1),
            "{name} ended with {status}\n--- stdout\n{}\n--- stderr\n{stderr}",
            lines.join("\n")
        );
        lines
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Still running (the test failed): do not leave it behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn count(lines: &[String], needle: &str) -> usize {
    lines.iter().filter(|l| l.contains(needle)).count()
}

#[test]
fn remote_task_server_and_two_clients() {
    let (server, at) = Running::server("remote_task_server", &["--clients", "2"]);
    // Two client programs at once, each with three tasks sending three jobs.
    let first = Running::start("remote_task_client", &[&at]);
    let second = Running::start("remote_task_client", &[&at, "--tasks", "2"]);
    for (client, tasks) in [(first, 3u32), (second, 2)] {
        let lines = client.finish();
        assert!(lines[0].starts_with("found server_task/"), "{lines:#?}");
        assert!(lines[0].ends_with(&format!("@{at}")), "{lines:#?}");
        // Every job came back, to the task that sent it.
        let answered: BTreeSet<String> = lines
            .iter()
            .filter_map(|l| {
                let (who, what) = l.split_once(": server did ")?;
                assert!(what.starts_with(&format!("{who} message ")), "{l}");
                Some(what.to_string())
            })
            .collect();
        let expected: BTreeSet<String> = (0..tasks)
            .flat_map(|n| (0..3).map(move |x| format!("client {n} message {x}")))
            .collect();
        assert_eq!(answered, expected, "{lines:#?}");
        let jobs = tasks * 3;
        assert_eq!(
            lines.last().map(String::as_str),
            Some(format!("sent {jobs} jobs, got {jobs} answers").as_str())
        );
    }
    let lines = server.finish();
    assert_eq!(count(&lines, "processing client "), 15, "{lines:#?}");
    assert_eq!(count(&lines, "  done with client "), 15, "{lines:#?}");
    assert_eq!(count(&lines, "said goodbye"), 2, "{lines:#?}");
    // The server waited for each client's task to end before it stopped.
    assert_eq!(count(&lines, " has ended ("), 2, "{lines:#?}");
    assert!(lines.iter().any(|l| l.ends_with("has ended (2 of 2)")));
    assert_eq!(
        lines.last().map(String::as_str),
        Some("served 15 jobs from 2 clients")
    );
}

#[test]
fn a_monitor_learns_that_a_killed_server_node_was_lost() {
    let (server, at) = Running::server("remote_task_server", &[]);
    let mut client = Running::start("remote_task_client", &[&at, "--monitor"]);
    let watched = client.expect("monitoring ");
    assert!(watched.starts_with("monitoring server_task/"), "{watched}");
    // SIGKILL: the server cannot say goodbye; its connection just breaks.
    server.kill();
    let status = client.expect("monitor status:");
    assert!(
        status.starts_with("monitor status: node lost (server_task/"),
        "{status}"
    );
    client.finish();
}

#[test]
fn remote_channel_deliver_waits_for_the_remote_subscriber() {
    let (mut server, at) = Running::server("remote_channel_server", &["--clients", "2"]);
    for client in 1..=2 {
        // The server's deliver(n = 2) waits: only its own receiver is subscribed.
        server.expect(&format!("waiting for client {client} to subscribe"));
        let lines = Running::start("remote_channel_client", &[&at]).finish();
        assert_eq!(lines[0], format!("subscribed to 2clients at {at}"));
        let received: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("received \""))
            .map(|rest| rest.split('"').next().unwrap_or_default())
            .collect();
        let expected: Vec<String> = (0..10).map(|i| format!("message {i}")).collect();
        assert_eq!(received, expected, "in order, each once: {lines:#?}");
        // The sender's reference travelled inside each message.
        assert!(
            lines
                .iter()
                .filter(|l| l.starts_with("received "))
                .all(|l| l.ends_with(&format!("@{at}"))),
            "{lines:#?}"
        );
        assert_eq!(
            lines.last().map(String::as_str),
            Some("unsubscribed after 10 messages")
        );
        server.expect(&format!("client {client} unsubscribed after 10 messages"));
    }
    let lines = server.finish();
    assert_eq!(
        count(&lines, "to 2 subscribers"),
        20,
        "each deliver reached the local and the remote subscriber: {lines:#?}"
    );
    assert_eq!(count(&lines, "local receiver got \"message "), 20);
    assert_eq!(lines.last().map(String::as_str), Some("served 2 clients"));
}

#[test]
fn pico_request_reply_with_timeouts_and_a_wrong_secret() {
    let (mut service, at) = Running::server("pico_service", &["--clients", "2"]);

    let lines = Running::start("pico_client", &[&at, "--delay", "10"]).finish();
    assert!(
        lines[0].starts_with("pico service is pico_service/"),
        "{lines:#?}"
    );
    let result = &lines[1];
    let time = result
        .strip_prefix("result: ")
        .and_then(|r| r.split_once(" UTC, from: pico_service/"))
        .map(|(time, _)| time)
        .unwrap_or_else(|| panic!("no result line: {lines:#?}"));
    assert!(
        time.len() == 8 && time.split(':').all(|p| p.parse::<u8>().is_ok()),
        "{result}"
    );
    service.expect("answered ");

    // The service takes longer than the client waits: the client gives up.
    let lines = Running::start("pico_client", &[&at, "--delay", "1500", "--timeout", "100"])
        .finish_failed();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("no reply within 100ms")
    );

    // A client that does not know the secret is refused before anything it sends is
    // read: it finds nothing.
    let lines = Running::start_with(
        "pico_client",
        &[&at, "--timeout", "100"],
        Some("not the secret the service has"),
    )
    .finish_failed();
    assert!(
        lines[0].starts_with(&format!("could not find the pico service at {at}")),
        "{lines:#?}"
    );

    let lines = service.finish();
    assert_eq!(count(&lines, "request from "), 2, "{lines:#?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("answered 2 requests")
    );
}

#[test]
fn chat_over_a_channel_with_a_transform() {
    let (mut server, at) = Running::server("chat_chan_server", &["--clients", "2"]);
    let mut alice = Running::start("chat_chan_client", &[&at]);
    assert_eq!(alice.expect("joined as"), "joined as client 1");
    let mut bob = Running::start("chat_chan_client", &[&at]);
    assert_eq!(bob.expect("joined as"), "joined as client 2");
    // The server announced bob on the channel; the transform added a smile.
    assert_eq!(alice.expect("    2 "), "    2 joined :-)");

    alice.type_line("hello bob");
    assert_eq!(bob.expect("    1 "), "    1 says: hello bob");
    // Shouting is dropped by the transform: the next line bob sees is the one after.
    alice.type_line("STOP SHOUTING");
    alice.type_line("sorry");
    assert_eq!(bob.expect("    1 "), "    1 says: sorry");
    bob.type_line("hi alice");
    assert_eq!(alice.expect("    2 "), "    2 says: hi alice");

    alice.type_line("quit");
    assert_eq!(bob.expect("    1 "), "    1 left :-(");
    let alice_lines = alice.finish();
    assert_eq!(
        alice_lines.last().map(String::as_str),
        Some("left the chat")
    );
    assert!(
        !alice_lines.iter().any(|l| l.starts_with("    1 ")),
        "a client does not print its own lines: {alice_lines:#?}"
    );

    // bob leaves at the end of his input; the last one out ends the server.
    bob.close_stdin();
    assert_eq!(
        bob.finish().last().map(String::as_str),
        Some("left the chat")
    );
    server.expect("[chat] 2 left :-(");
    let lines = server.finish();
    assert!(!lines.iter().any(|l| l.contains("SHOUTING")), "{lines:#?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("chat server done: 7 lines")
    );
}

#[test]
fn node_watch_sees_a_killed_peer_go_offline_either_way() {
    // Killed: the node that connected. The one it connected to sees it go.
    let (mut a, at) = Running::server("node_watch", &["--name", "watcher-a"]);
    let mut b = Running::start("node_watch", &["--name", "watcher-b", "--connect", &at]);
    assert_eq!(b.expect("online: "), format!("online: watcher-a at {at}"));
    let b_online = a.expect("online: ");
    assert!(
        b_online.starts_with("online: watcher-b at 127.0.0.1:"),
        "{b_online}"
    );
    b.kill();
    let offline = b_online.replace("online:", "offline:");
    assert_eq!(a.expect("offline: "), offline);
    a.finish();

    // Killed: the node that was connected to. The one that connected sees it go.
    let (mut c, at) = Running::server("node_watch", &["--name", "watcher-c"]);
    let mut d = Running::start("node_watch", &["--name", "watcher-d", "--connect", &at]);
    c.expect("online: watcher-d at ");
    assert_eq!(d.expect("online: "), format!("online: watcher-c at {at}"));
    c.kill();
    assert_eq!(d.expect("offline: "), format!("offline: watcher-c at {at}"));
    d.finish();
}

#[test]
fn rps_client_monitors_every_task_it_starts_through_the_service() {
    let (mut server, at) = Running::server("rps_monitor_server", &[]);
    assert_eq!(server.seen[0], "published the service \"compute\"");
    let lines = Running::start("rps_monitor_client", &[&at]).finish();
    // Each call started a task on the server's node.
    for n in 1..=6 {
        let started = format!(" with n = {n}");
        let line = lines
            .iter()
            .find(|l| l.ends_with(&started))
            .unwrap_or_else(|| panic!("n = {n} was not started: {lines:#?}"));
        assert!(
            line.starts_with("started compute/") && line.contains(&format!("@{at} ")),
            "{line}"
        );
    }
    // One status each: the multiples of three panicked, the others returned their sum.
    let status = |n: u64| {
        let prefix = format!("n = {n}: ");
        let found: Vec<&String> = lines.iter().filter(|l| l.starts_with(&prefix)).collect();
        assert_eq!(found.len(), 1, "n = {n}: {lines:#?}");
        found[0][prefix.len()..].to_string()
    };
    for n in [3, 6] {
        assert_eq!(
            status(n),
            format!("panicked: {n} is a multiple of three: refusing on purpose")
        );
    }
    for n in [1, 2, 4, 5] {
        assert_eq!(status(n), format!("returned Some({})", n * (n + 1) / 2));
    }
    assert_eq!(status(5), "returned Some(15)");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("4 succeeded, 2 failed")
    );
    server.expect("rps_monitor_client said goodbye (1 of 1)");
    let lines = server.finish();
    assert_eq!(lines.last().map(String::as_str), Some("service closed"));
}
