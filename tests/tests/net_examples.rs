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
use std::path::PathBuf;
use std::sync::OnceLock;

use rcos_tests::programs::{Running, example_path};

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
    example_path(&BUILT, &EXAMPLES, name)
}

/// Starts an example with the demo secret (`RCOS_SECRET` unset).
fn start(name: &str, args: &[&str]) -> Running {
    Running::spawn(name, example(name), args, None)
}

/// Starts an example with `RCOS_SECRET` set to `secret`.
fn start_with_secret(name: &str, args: &[&str], secret: &str) -> Running {
    Running::spawn(name, example(name), args, Some(secret))
}

/// A server: starts it and reads its location from its `listening at` line.
fn server(name: &str, args: &[&str]) -> (Running, String) {
    let mut server = start(name, args);
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

fn count(lines: &[String], needle: &str) -> usize {
    lines.iter().filter(|l| l.contains(needle)).count()
}

#[test]
fn remote_task_server_and_two_clients() {
    let (server, at) = server("remote_task_server", &["--clients", "2"]);
    // Two client programs at once, each with three tasks sending three jobs.
    let first = start("remote_task_client", &[&at]);
    let second = start("remote_task_client", &[&at, "--tasks", "2"]);
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
    let (server, at) = server("remote_task_server", &[]);
    let mut client = start("remote_task_client", &[&at, "--monitor"]);
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
    let (mut server, at) = server("remote_channel_server", &["--clients", "2"]);
    for client in 1..=2 {
        // The server's deliver(n = 2) waits: only its own receiver is subscribed.
        server.expect(&format!("waiting for client {client} to subscribe"));
        let lines = start("remote_channel_client", &[&at]).finish();
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
    let (mut service, at) = server("pico_service", &["--clients", "2"]);

    let lines = start("pico_client", &[&at, "--delay", "10"]).finish();
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
    let lines = start("pico_client", &[&at, "--delay", "1500", "--timeout", "100"]).finish_failed();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("no reply within 100ms")
    );

    // A client that does not know the secret is refused before anything it sends is
    // read: it finds nothing.
    let lines = start_with_secret(
        "pico_client",
        &[&at, "--timeout", "100"],
        "not the secret the service has",
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
    let (mut server, at) = server("chat_chan_server", &["--clients", "2"]);
    let mut alice = start("chat_chan_client", &[&at]);
    assert_eq!(alice.expect("joined as"), "joined as client 1");
    let mut bob = start("chat_chan_client", &[&at]);
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
    let (mut a, at) = server("node_watch", &["--name", "watcher-a"]);
    let mut b = start("node_watch", &["--name", "watcher-b", "--connect", &at]);
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
    let (mut c, at) = server("node_watch", &["--name", "watcher-c"]);
    let mut d = start("node_watch", &["--name", "watcher-d", "--connect", &at]);
    c.expect("online: watcher-d at ");
    assert_eq!(d.expect("online: "), format!("online: watcher-c at {at}"));
    c.kill();
    assert_eq!(d.expect("offline: "), format!("offline: watcher-c at {at}"));
    d.finish();
}

#[test]
fn rps_client_monitors_every_task_it_starts_through_the_service() {
    let (mut server, at) = server("rps_monitor_server", &[]);
    assert_eq!(server.seen()[0], "published the service \"compute\"");
    let lines = start("rps_monitor_client", &[&at]).finish();
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
