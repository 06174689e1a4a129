//! The jobs of the cluster examples (`cluster_node`, `cluster_client`, `cluster_status`,
//! `cluster_files`) and of the cluster tests, compiled into every one of those programs:
//! Rust cannot ship code, so a job is a `#[task(remote)]` fn both sides have.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rcos::net::Location;
use rcos::{Interrupt, TaskRef, task};

// ANCHOR: compute
/// A CPU-bound job: works for `ms` milliseconds (a sleep stands in for the work here),
/// then returns `n` squared.
#[task(remote)]
pub(crate) async fn compute(_task: TaskRef, n: u64, ms: u64) -> u64 {
    rcos::time::sleep(Duration::from_millis(ms)).await;
    n * n
}
// ANCHOR_END: compute

/// `hold` jobs running now in this program, and the most that ever ran at once.
static RUNNING: AtomicU32 = AtomicU32::new(0);
static PEAK: AtomicU32 = AtomicU32::new(0);

/// Runs for `ms` milliseconds; returns where it ran and the most `hold` jobs this node
/// ran at once so far (so that a client can check that slots were respected).
#[task(remote)]
pub(crate) async fn hold(task: TaskRef, ms: u64) -> (String, u32) {
    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    PEAK.fetch_max(now, Ordering::SeqCst);
    rcos::time::sleep(Duration::from_millis(ms)).await;
    RUNNING.fetch_sub(1, Ordering::SeqCst);
    (here(&task), PEAK.load(Ordering::SeqCst))
}

/// Waits until it is sent a number, and returns it: a job that ends when told to.
#[task(remote)]
pub(crate) async fn gate(task: TaskRef) -> u64 {
    task.receive_type::<u64>().await.unwrap_or(0)
}

/// Where `task` runs, as `address:port` (empty if not on a node).
pub(crate) fn here(task: &TaskRef) -> String {
    task.runtime()
        .and_then(|rt| rt.location())
        .map(|at| at.to_string())
        .unwrap_or_default()
}

// ANCHOR: setup
/// A node setup: fails on the node whose port is `refuse_port`, to show that such a
/// node takes no jobs; elsewhere it would load data into the node's memory.
#[task(remote)]
pub(crate) async fn check_node(task: TaskRef, refuse_port: u16) -> Result<(), String> {
    let port = task
        .runtime()
        .and_then(|rt| rt.location())
        .map(|at| at.addr().port());
    if port == Some(refuse_port) {
        return Err(format!("this node (port {refuse_port}) is not wanted"));
    }
    Ok(())
}
// ANCHOR_END: setup

// ANCHOR: saver
/// A long job that saves its state when told to terminate: the cluster throws into it
/// first, and it returns what it has done so far instead of losing it.
#[task(remote)]
pub(crate) async fn saver(task: TaskRef) -> String {
    let mut steps = 0u64;
    loop {
        match task.sleep(Duration::from_millis(50)).await {
            Ok(_) => steps += 1,
            Err(Interrupt::Thrown(why)) => {
                return format!("saved after {steps} steps ({})", why.message());
            }
            Err(_) => return format!("stopped after {steps} steps"),
        }
    }
}
// ANCHOR_END: saver

// ANCHOR: files
/// Counts the lines and bytes of `file` (sent beforehand into this node's destination
/// folder), writes the counts to `file.count`, and sends that back to the client at
/// `client`. Returns the result file's name.
#[task(remote)]
pub(crate) async fn count_file(
    _task: TaskRef,
    file: String,
    client: Location,
) -> Result<String, String> {
    let dir = rcos::cluster::dest_path().ok_or("not on a node")?;
    let text = rcos::io::fs::read(dir.join(&file))
        .await
        .map_err(|e| format!("cannot read {file}: {e}"))?;
    let lines = text.iter().filter(|b| **b == b'\n').count();
    let result = dir.join(format!("{file}.count"));
    let summary = format!("{file}: {lines} lines, {} bytes\n", text.len());
    rcos::io::fs::write(&result, summary)
        .await
        .map_err(|e| format!("cannot write the result: {e}"))?;
    let options = rcos::net::SendFileOptions::new().overwrite(true);
    rcos::net::send_file(client, &result, options)
        .await
        .map_err(|e| format!("cannot send the result back: {e}"))?;
    Ok(format!("{file}.count"))
}
// ANCHOR_END: files
