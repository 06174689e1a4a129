//! Running the example programs as a user would: built once with `cargo build`, started
//! as child processes, their output read line by line with bounded waits, and killed if
//! a test ends while they still run.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// How long to wait for one line of output, or for a program to end.
pub const LIMIT: Duration = Duration::from_secs(60);

/// The path of example `name`, building all of `names` (once per `built`) the first
/// time. Each test binary keeps its own `built` and list.
pub fn example_path(
    built: &'static OnceLock<BTreeMap<String, PathBuf>>,
    names: &[&str],
    name: &str,
) -> PathBuf {
    let built = built.get_or_init(|| build(names));
    built
        .get(name)
        .unwrap_or_else(|| panic!("cargo built no example {name}: {built:?}"))
        .clone()
}

fn build(names: &[&str]) -> BTreeMap<String, PathBuf> {
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
    for name in names {
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
        if let Some(name) = names
            .iter()
            .find(|n| PathBuf::from(&exe).file_name().is_some_and(|f| f == **n))
        {
            paths.insert(name.to_string(), PathBuf::from(exe));
        }
    }
    paths
}

/// The string value of `"key":"..."` in a line of cargo's JSON (no escapes expected in
/// paths here).
fn json_string(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let len = line[start..].find('"')?;
    Some(line[start..start + len].to_string())
}

/// A running program: its output arrives line by line through a channel.
#[derive(Debug)]
pub struct Running {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Option<thread::JoinHandle<String>>,
}

impl Running {
    /// Starts `exe` (called `name` in messages) with `args`, without `RUST_LOG` and
    /// with `RCOS_SECRET` set to `secret` if given (unset otherwise).
    pub fn spawn(name: &str, exe: PathBuf, args: &[&str], secret: Option<&str>) -> Running {
        let mut command = Command::new(exe);
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

    /// Waits for the next line containing `needle` and returns it.
    pub fn expect(&mut self, needle: &str) -> String {
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

    /// The lines read so far (by [`expect`](Self::expect)).
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// Types `line` (and a newline) on the program's standard input.
    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("the example reads its input");
        stdin.flush().expect("flushed");
    }

    /// Closes the program's standard input (end of file).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The program's process id (for [`signal`]).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the program with SIGKILL (no chance to say goodbye) and reaps it.
    pub fn kill(mut self) {
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
    /// its status, every line it printed, and its standard error.
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
    pub fn finish(self) -> Vec<String> {
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
    pub fn finish_failed(self) -> Vec<String> {
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

/// Sends process `pid` a signal (`"STOP"`, `"CONT"`…) with `kill`.
pub fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid} failed");
}
