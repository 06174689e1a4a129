//! Runs the I/O examples end to end, as a user would: `sock_server` with `sock_client`,
//! `chat_server` with two `chat_client`s whose standard input the test types into, and
//! the single-program ones (`udp`, `pipe_csum`, `pipe_grep`).
//!
//! The examples are built once with `cargo build`, then run as programs; each wait for
//! a line of output or for a program's end is bounded, and a program still running when
//! its test ends is killed.
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

const EXAMPLES: [&str; 7] = [
    "sock_server",
    "sock_client",
    "udp",
    "chat_server",
    "chat_client",
    "pipe_csum",
    "pipe_grep",
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

/// Whether the tools exist; prints why the test is skipped if not.
fn have(tools: &[&str]) -> bool {
    for tool in tools {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .is_ok_and(|out| out.status.success());
        if !found {
            println!("skipped: `{tool}` is not installed on this machine");
            return false;
        }
    }
    true
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
    fn start(name: &str, args: &[&str]) -> Running {
        let mut child = Command::new(example(name))
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
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

    fn take_stderr(&mut self) -> String {
        self.stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Waits for the program to end (its output to close, within the limit) and returns
    /// its status and every line it printed.
    fn finish(mut self) -> (ExitStatus, Vec<String>) {
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
        assert!(
            status.success(),
            "{} failed with {status}\n--- stdout\n{}\n--- stderr\n{stderr}",
            self.name,
            self.seen.join("\n")
        );
        (status, std::mem::take(&mut self.seen))
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

/// The port at the end of a line like `... 127.0.0.1:PORT`.
fn port_of(line: &str) -> String {
    let port = line.rsplit(':').next().expect("an address").trim();
    assert!(port.parse::<u16>().is_ok(), "no port in {line:?}");
    port.to_string()
}

#[test]
fn sock_server_and_sock_client() {
    let mut server = Running::start("sock_server", &["0", "10"]);
    let port = port_of(&server.expect("sock_server listening on 127.0.0.1:"));

    let (_, client_lines) = Running::start("sock_client", &[&port, "10"]).finish();
    let connected: BTreeSet<u32> = client_lines
        .iter()
        .filter_map(|l| l.strip_suffix(" connected")?.parse().ok())
        .collect();
    assert_eq!(connected, (0..10).collect(), "{client_lines:#?}");

    let (_, lines) = server.finish();
    let mut senders = BTreeSet::new();
    for line in lines.iter().filter_map(|l| l.strip_prefix("received: ")) {
        // "N: ----.../": the whole message, however it was cut into chunks.
        let (n, dashes) = line.split_once(": ").expect("N: dashes");
        assert!(dashes.ends_with('/'), "{line}");
        let len = dashes.len() - 1;
        assert!((100..=300).contains(&len) && dashes[..len].bytes().all(|b| b == b'-'));
        assert!(senders.insert(n.parse::<u32>().unwrap()), "{n} twice");
    }
    assert_eq!(senders, (0..10).collect(), "{lines:#?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("Received 10 messages")
    );
}

#[test]
fn chat_server_and_two_chat_clients() {
    let mut server = Running::start("chat_server", &[]);
    let port = port_of(&server.expect("chat server at 127.0.0.1:"));

    let mut alice = Running::start("chat_client", &[&port, "alice"]);
    server.expect("(1 online)");
    let mut bob = Running::start("chat_client", &[&port, "bob"]);
    server.expect("(2 online)");

    alice.type_line("hello bob");
    assert_eq!(bob.expect("alice:"), "  alice: hello bob");
    bob.type_line("hi alice");
    assert_eq!(alice.expect("bob:"), "  bob: hi alice");
    bob.type_line("and goodbye");
    assert_eq!(alice.expect("bob:"), "  bob: and goodbye");

    // alice leaves with "quit": the server drops her, bob stays.
    alice.type_line("quit");
    let (_, alice_lines) = alice.finish();
    assert!(
        !alice_lines.iter().any(|l| l.contains("alice:")),
        "no echo to the sender"
    );
    assert!(server.expect("left:").ends_with("(1 online)"));

    // bob leaves at the end of his input; the last one out ends the server.
    bob.close_stdin();
    bob.finish();
    server.expect("(0 online)");
    let (_, lines) = server.finish();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("chat server done: 3 lines relayed")
    );
}

#[test]
fn udp_clients_and_server() {
    let (_, lines) = Running::start("udp", &["20"]).finish();
    let from: BTreeSet<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("Received \"client socket: "))
        .collect();
    assert_eq!(from.len(), 20, "{lines:#?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("server received 20 of 20 datagrams")
    );
}

#[test]
fn pipe_csum_agrees_with_sha1sum() {
    if !have(&["sha1sum"]) {
        return;
    }
    // A file whose checksum is known: a million 'a's.
    let path = std::env::temp_dir().join(format!("rcos-pipe-csum-{}", std::process::id()));
    std::fs::write(&path, vec![b'a'; 1_000_000]).unwrap();
    let (_, lines) = Running::start("pipe_csum", &[path.to_str().unwrap()]).finish();
    std::fs::remove_file(&path).unwrap();
    let sum = "34aa973cd4c4daa4f61eeb2bdbad27316534016f";
    assert_eq!(
        lines,
        [
            format!("communicate sha1sum: {sum}"),
            format!("     feeder sha1sum: {sum}")
        ]
    );

    // Without an argument: its own executable, as `sha1sum` sees it.
    let exe = example("pipe_csum");
    let direct = Command::new("sha1sum").arg(&exe).output().unwrap();
    let direct = String::from_utf8_lossy(&direct.stdout);
    let direct = direct.split_whitespace().next().unwrap().to_string();
    let (_, lines) = Running::start("pipe_csum", &[]).finish();
    assert!(
        lines.iter().all(|l| l.ends_with(&direct)),
        "{lines:#?} vs {direct}"
    );
}

#[test]
fn pipe_grep_finds_the_errors() {
    if !have(&["cat", "grep"]) {
        return;
    }
    let (_, lines) = Running::start("pipe_grep", &[]).finish();
    assert_eq!(lines.len(), 9, "{lines:#?}");
    assert_eq!(lines[0], "line 5: ERROR: disk 5 is full");
    assert_eq!(lines[8], "8 lines matched");

    let path = std::env::temp_dir().join(format!("rcos-pipe-grep-{}", std::process::id()));
    let log: String = (0..5000)
        .map(|i| {
            if i % 1000 == 0 {
                format!("{i} kernel: Error {i}\n")
            } else {
                format!("{i} ok\n")
            }
        })
        .collect();
    std::fs::write(&path, log).unwrap();
    let (_, lines) = Running::start("pipe_grep", &[path.to_str().unwrap()]).finish();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        lines,
        [
            "0 kernel: Error 0",
            "1000 kernel: Error 1000",
            "2000 kernel: Error 2000",
            "3000 kernel: Error 3000",
            "4000 kernel: Error 4000",
            "5 lines matched"
        ]
    );
}
