//! The cluster examples run as a user would: two `cluster_node` processes on loopback,
//! then `cluster_client`, `cluster_status` and `cluster_files` against them, one after
//! another (a node serves one client at a time, then the next).
#![cfg(unix)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use rcos_tests::programs::{Running, example_path};

const EXAMPLES: [&str; 4] = [
    "cluster_node",
    "cluster_client",
    "cluster_status",
    "cluster_files",
];

fn start(name: &str, args: &[&str]) -> Running {
    static BUILT: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    Running::spawn(name, example_path(&BUILT, &EXAMPLES, name), args, None)
}

fn node(name: &str) -> (Running, String) {
    let mut node = start(
        "cluster_node",
        &["--cpus", "2", "--name", name, "--clients", "3"],
    );
    let line = node.expect("listening at ");
    let at = line.rsplit(' ').next().unwrap_or_default().to_string();
    (node, at)
}

#[test]
fn the_cluster_examples_run_against_two_nodes() {
    let ((a, at_a), (b, at_b)) = (node("n1"), node("n2"));

    let lines = start("cluster_client", &[&at_a, &at_b, "--jobs", "8"]).finish();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("sum of squares: 204"),
        "{lines:#?}"
    );
    let on = |lines: &[String], at: &str| {
        lines
            .iter()
            .filter(|l| l.ends_with(&format!("(on {at})")))
            .count()
    };
    assert!(
        on(&lines, &at_a) > 0 && on(&lines, &at_b) > 0,
        "both nodes ran jobs: {lines:#?}"
    );

    let lines = start("cluster_status", &[&at_a, &at_b, "--jobs", "6"]).finish();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("6 of 6 jobs done"),
        "{lines:#?}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains(" has 2 slots")).count(),
        2,
        "{lines:#?}"
    );

    let lines = start("cluster_files", &[&at_a, &at_b, "--files", "3"]).finish();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("3 of 3 files processed"),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"result 2: input-2.txt: 20 lines, 351 bytes".to_string()),
        "{lines:#?}"
    );

    // Each node served its three clients, then ended.
    for node in [a, b] {
        let lines = node.finish();
        assert_eq!(lines.last().map(String::as_str), Some("served 3 clients"));
    }
}
