//! The dashboard of a real cluster never shows the cluster's secret: two `cluster_node`
//! processes and a client in this process share a known secret, jobs run, finish, fail
//! and are terminated, and every route of the dashboard (the page, its script and
//! style, the status JSON, and the answers to actions, good and bad) is fetched and
//! searched for the secret and for a part of it. This runs everywhere, unlike the
//! browser test, which needs chromium.
#![cfg(unix)]

mod cluster_support;

#[path = "../../examples/shared/cluster_jobs.rs"]
mod cluster_jobs;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use cluster_jobs::{compute, gate};
use cluster_support::start_node_with_secret;
use rcos::cluster::{Cluster, JobError, dashboard};
use rcos::net::NodeConfig;
use rcos::{TaskRef, task};
use rcos_tests::PATIENCE;

/// The secret the cluster shares; the dashboard must never show it.
const SECRET: &str = "dashboard secret 7f3a91c2 that must not leak";
/// A part of it that is unlikely to appear by chance.
const PART: &str = "7f3a91c2";

/// The whole answer (status line, headers and body) to `METHOD /path` over HTTP/1.1.
fn fetch(addr: SocketAddr, method: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("the dashboard accepts");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let length = if method == "POST" {
        "Content-Length: 0\r\n"
    } else {
        ""
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{length}\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("an answer");
    String::from_utf8_lossy(&answer).into_owned()
}

/// A task only this program has: the nodes do not know it, so its job fails.
#[task(remote)]
async fn not_on_the_nodes(_task: TaskRef) -> u64 {
    0
}

#[test]
fn no_route_of_a_real_clusters_dashboard_shows_the_secret() {
    let a = start_node_with_secret(&["--cpus", "2", "--name", "alpha"], SECRET);
    let b = start_node_with_secret(&["--cpus", "1", "--name", "beta"], SECRET);
    let (at_a, at_b) = (a.at, b.at);
    let rt = rcos_tests::node_with(
        "dash-client",
        NodeConfig::new().secret(SECRET.as_bytes().to_vec()),
    );
    // A running job, a finished one, a failed one and a waiting one.
    let (cluster, running, waiting) = rcos_tests::run(&rt, async move {
        let cluster = Cluster::builder().nodes([at_a, at_b]).start().unwrap();
        cluster.wait_nodes(2, PATIENCE).await.unwrap();
        let done = cluster.run(compute, (4, 0)).await.unwrap();
        assert_eq!(done.finish().await.unwrap().get::<u64>(), Some(16));
        let error = cluster.run(not_on_the_nodes, ()).await.unwrap_err();
        assert!(matches!(error, JobError::UnknownTask(_)), "{error:?}");
        let mut running = Vec::new();
        for _ in 0..3 {
            running.push(cluster.run(gate, ()).await.unwrap());
        }
        let waiting = cluster.submit(gate, ()).unwrap();
        (cluster, running, waiting)
    });
    let board = dashboard::serve(Arc::new(cluster.clone()), "127.0.0.1:0".parse().unwrap())
        .expect("the dashboard binds");
    let addr = board.local_addr();

    let mut answers = Vec::new();
    for path in [
        "/",
        "/index.html",
        "/dashboard.js",
        "/dashboard.css",
        "/api/status",
    ] {
        let answer = fetch(addr, "GET", path);
        assert!(answer.starts_with("HTTP/1.1 200"), "GET {path}: {answer}");
        answers.push((format!("GET {path}"), answer));
    }
    let status = &answers.last().unwrap().1;
    for shown in [
        "alpha",
        "beta",
        "compute",
        "not_on_the_nodes",
        "gate",
        "waiting",
    ] {
        assert!(status.contains(shown), "{shown} not in {status}");
    }
    // Actions, those that succeed and those refused, and paths that do not exist.
    let job = running[0].id();
    for (method, path) in [
        ("POST", "/api/nodes/beta/suspend".to_string()),
        ("POST", "/api/nodes/beta/resume".to_string()),
        ("POST", format!("/api/jobs/{job}/terminate")),
        ("POST", "/api/nodes/gamma/suspend".to_string()),
        ("POST", "/api/jobs/999999/terminate".to_string()),
        ("POST", "/api/jobs/x/terminate".to_string()),
        ("GET", "/api/nodes/alpha/suspend".to_string()),
        ("GET", "/secret".to_string()),
        ("GET", "/api/status/..%2f..%2fsecret".to_string()),
    ] {
        let answer = fetch(addr, method, &path);
        assert!(answer.starts_with("HTTP/1.1 "), "{method} {path}: {answer}");
        answers.push((format!("{method} {path}"), answer));
    }
    // The status after the actions, with a terminated job.
    let answer = fetch(addr, "GET", "/api/status");
    answers.push(("GET /api/status, later".to_string(), answer));
    for (what, answer) in &answers {
        assert!(!answer.contains(SECRET), "{what} shows the secret");
        assert!(!answer.contains(PART), "{what} shows part of the secret");
    }
    board.stop();

    rcos_tests::run(&rt, async move {
        assert!(running[0].finish().await.is_ok());
        for (n, job) in running.iter().enumerate().skip(1) {
            job.started().await.unwrap().send(n as u64).unwrap();
        }
        waiting.started().await.unwrap().send(9u64).unwrap();
        cluster.close(false).await;
    });
    drop((a, b));
}
