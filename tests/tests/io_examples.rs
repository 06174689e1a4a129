//! Runs the I/O examples end to end, as a user would: `sock_server` with `sock_client`,
//! `chat_server` with two `chat_client`s whose standard input the test types into, and
//! the single-program ones (`udp`, `pipe_csum`, `pipe_grep`).
//!
//! The examples are built once with `cargo build`, then run as programs; each wait for
//! a line of output or for a program's end is bounded, and a program still running when
//! its test ends is killed.
#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use rcos_tests::programs::{Running, example_path};

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
    example_path(&BUILT, &EXAMPLES, name)
}

/// Starts an example.
fn start(name: &str, args: &[&str]) -> Running {
    Running::spawn(name, example(name), args, None)
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

/// The port at the end of a line like `... 127.0.0.1:PORT`.
fn port_of(line: &str) -> String {
    let port = line.rsplit(':').next().expect("an address").trim();
    assert!(port.parse::<u16>().is_ok(), "no port in {line:?}");
    port.to_string()
}

#[test]
fn sock_server_and_sock_client() {
    let mut server = start("sock_server", &["0", "10"]);
    let port = port_of(&server.expect("sock_server listening on 127.0.0.1:"));

    let client_lines = start("sock_client", &[&port, "10"]).finish();
    let connected: BTreeSet<u32> = client_lines
        .iter()
        .filter_map(|l| l.strip_suffix(" connected")?.parse().ok())
        .collect();
    assert_eq!(connected, (0..10).collect(), "{client_lines:#?}");

    let lines = server.finish();
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
    let mut server = start("chat_server", &[]);
    let port = port_of(&server.expect("chat server at 127.0.0.1:"));

    let mut alice = start("chat_client", &[&port, "alice"]);
    server.expect("(1 online)");
    let mut bob = start("chat_client", &[&port, "bob"]);
    server.expect("(2 online)");

    alice.type_line("hello bob");
    assert_eq!(bob.expect("alice:"), "  alice: hello bob");
    bob.type_line("hi alice");
    assert_eq!(alice.expect("bob:"), "  bob: hi alice");
    bob.type_line("and goodbye");
    assert_eq!(alice.expect("bob:"), "  bob: and goodbye");

    // alice leaves with "quit": the server drops her, bob stays.
    alice.type_line("quit");
    let alice_lines = alice.finish();
    assert!(
        !alice_lines.iter().any(|l| l.contains("alice:")),
        "no echo to the sender"
    );
    assert!(server.expect("left:").ends_with("(1 online)"));

    // bob leaves at the end of his input; the last one out ends the server.
    bob.close_stdin();
    bob.finish();
    server.expect("(0 online)");
    let lines = server.finish();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("chat server done: 3 lines relayed")
    );
}

#[test]
fn udp_clients_and_server() {
    let lines = start("udp", &["20"]).finish();
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
    let lines = start("pipe_csum", &[path.to_str().unwrap()]).finish();
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
    let lines = start("pipe_csum", &[]).finish();
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
    let lines = start("pipe_grep", &[]).finish();
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
    let lines = start("pipe_grep", &[path.to_str().unwrap()]).finish();
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
