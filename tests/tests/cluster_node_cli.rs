//! The `cluster_node` program's command line: a misspelt option or a value that does not
//! parse is refused with a message and exit status 2 (not silently ignored), a negative
//! `--cpus` leaves cores free, and `--dest` with `--max-file-size` decide where files
//! sent to the node go and how large they may be.
#![cfg(unix)]

mod cluster_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use cluster_support::{client_runtime, node_exe, secret_text, start_node};
use rcos::net::{FileError, SendFileOptions};

/// Runs `cluster_node` with `args`; it must fail at once with status 2 and a message on
/// standard error, which is returned.
fn refused(args: &[&str]) -> String {
    let out = Command::new(node_exe())
        .args(args)
        .env_remove("RUST_LOG")
        .env("RCOS_SECRET", secret_text())
        .output()
        .expect("cluster_node runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(2),
        "cluster_node {args:?} ended with {}; stderr: {stderr}",
        out.status
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening at"),
        "cluster_node {args:?} started"
    );
    stderr
}

#[test]
fn unknown_options_and_bad_values_are_refused_with_status_2() {
    let stderr = refused(&["--cpu", "2"]);
    assert!(stderr.contains("unknown option --cpu"), "{stderr}");
    let stderr = refused(&["--cpus", "2", "stray"]);
    assert!(stderr.contains("unexpected argument \"stray\""), "{stderr}");
    let stderr = refused(&["--clients", "many"]);
    assert!(
        stderr.contains("--clients") && stderr.contains("many"),
        "{stderr}"
    );
    let stderr = refused(&["--pulse-ms", "-5"]);
    assert!(
        stderr.contains("--pulse-ms") && stderr.contains("-5"),
        "{stderr}"
    );
    let stderr = refused(&["--cpus", "two"]);
    assert!(
        stderr.contains("--cpus") && stderr.contains("two"),
        "{stderr}"
    );
    let stderr = refused(&["--max-file-size", "1k"]);
    assert!(stderr.contains("--max-file-size"), "{stderr}");
    let stderr = refused(&["--name"]);
    assert!(stderr.contains("--name needs a value"), "{stderr}");
}

#[test]
fn a_negative_cpus_leaves_that_many_cores_free() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slots = |line: &str| -> usize {
        let (_, rest) = line.split_once(": ").expect("name: N slots");
        rest.split(' ').next().unwrap().parse().unwrap()
    };
    // The node's one line: "cluster node NAME: N slots, listening at ...".
    let ready = |args: &[&str]| {
        let node = start_node(args);
        node.process.seen().last().cloned().unwrap_or_default()
    };
    let line = ready(&["--cpus", "-1"]);
    assert_eq!(slots(&line), (cores - 1).max(1), "{line}");
    // Leaving more cores free than there are: still one slot.
    let line = ready(&["--cpus", "-1000"]);
    assert_eq!(slots(&line), 1, "{line}");
}

/// A folder of this test's own, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("rcos-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(path: &Path, bytes: usize) {
    std::fs::write(path, vec![b'x'; bytes]).unwrap();
}

#[test]
fn files_land_in_dest_and_a_file_over_max_file_size_is_refused() {
    let (dest, src) = (TempDir::new("node-dest"), TempDir::new("node-src"));
    let node = start_node(&[
        "--cpus",
        "1",
        "--dest",
        dest.0.to_str().unwrap(),
        "--max-file-size",
        "1000",
    ]);
    let at = node.at;
    let (small, large) = (src.0.join("small.txt"), src.0.join("large.txt"));
    write(&small, 1000);
    write(&large, 1001);
    let rt = client_runtime();
    rcos_tests::run(&rt, async move {
        let sent = rcos::net::send_file(at, &small, SendFileOptions::new()).await;
        assert_eq!(sent.unwrap(), 1000);
        let error = rcos::net::send_file(at, &large, SendFileOptions::new())
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                FileError::TooLarge {
                    size: 1001,
                    max: Some(1000)
                }
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "file of 1001 bytes is over the limit of 1000"
        );
    });
    let landed = std::fs::read(dest.0.join("small.txt")).expect("small.txt in --dest");
    assert_eq!(landed.len(), 1000);
    assert!(!dest.0.join("large.txt").exists());
    let names: Vec<_> = std::fs::read_dir(&dest.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        ["small.txt"],
        "nothing else, not even a partial file"
    );
    drop(node);
}
