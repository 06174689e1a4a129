//! A cluster client with the web dashboard on (pycos's `dispycos_httpd1.py`): while its
//! jobs run, a browser at the dashboard's address shows the nodes, their slots, and the
//! running and finished jobs, live; its buttons suspend and resume nodes and terminate
//! jobs.
//!
//! ```text
//! cargo run --example cluster_node -- --cpus 2     # "... listening at 127.0.0.1:PORT1"
//! cargo run --example cluster_node -- --cpus 2     # "... listening at 127.0.0.1:PORT2"
//! cargo run --example cluster_dashboard -- 127.0.0.1:PORT1 127.0.0.1:PORT2
//! # then open http://127.0.0.1:8181 in a browser; press Enter here to close
//! ```
//!
//! It runs two long `saver` jobs (they run until terminated, e.g. from the dashboard,
//! and then save their state) and `--jobs N` short `compute` jobs (default 20), which
//! wait for free slots. Enter (or the end of its input) closes the client: jobs still
//! running are terminated, and every job's outcome is printed. Options: `--dashboard
//! ADDRESS:PORT` (default `127.0.0.1:8181`; port 0 picks a free one).

#[path = "shared/cluster_jobs.rs"]
mod cluster_jobs;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use cluster_jobs::{compute, saver};
use rcos::Runtime;
use rcos::cluster::{Cluster, Job, dashboard};
use rcos::net::{Location, NodeConfig};
use rcos_examples::{Args, secret};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse(&["jobs", "dashboard"]);
    let jobs: u64 = args.parsed("jobs", 20);
    let at: SocketAddr = args.parsed("dashboard", SocketAddr::from((Ipv4Addr::LOCALHOST, 8181)));
    let usage = "cluster_dashboard NODE_LOCATION... [--dashboard ADDR] [--jobs N]";
    let nodes: Vec<Location> = (0..args.positional.len())
        .map(|n| args.required(n, usage))
        .collect();
    if nodes.is_empty() {
        eprintln!("usage: {usage}");
        return ExitCode::from(2);
    }
    let config = NodeConfig::new()
        .secret(secret())
        .bind((Ipv4Addr::LOCALHOST, 0));
    let rt = Runtime::builder()
        .node(config)
        .build()
        .expect("the client's node starts");
    let cluster = match Cluster::builder().nodes(nodes).start_on(rt.handle()) {
        Ok(cluster) => cluster,
        Err(error) => {
            eprintln!("cluster_dashboard: {error}");
            return ExitCode::FAILURE;
        }
    };
    // ANCHOR: dashboard
    // The client is the dashboard's source; the dashboard serves on threads of its own.
    let board = match dashboard::serve(Arc::new(cluster.clone()), at) {
        Ok(board) => board,
        Err(error) => {
            eprintln!("cluster_dashboard: cannot serve the dashboard at {at}: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("dashboard at {}", board.url());
    // ANCHOR_END: dashboard
    let _ = std::io::Write::flush(&mut std::io::stdout());

    // Two long jobs first (jobs 1 and 2), then the short ones; all wait for slots.
    let submit = |job: Result<Job, _>| job.map_err(|e| println!("not submitted: {e}")).ok();
    let long: Vec<Job> = (0..2)
        .filter_map(|_| submit(cluster.submit(saver, ())))
        .collect();
    let short: Vec<(u64, Job)> = (1..=jobs)
        .filter_map(|n| {
            submit(cluster.submit(compute, (n, fastrand::u64(300..1000)))).map(|j| (n, j))
        })
        .collect();

    // Until Enter, or the end of the input.
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);

    let ok = rt.block_on(async move {
        cluster.close(true).await;
        for job in &long {
            match job.finish().await {
                Ok(exit) => match exit.get::<String>() {
                    Some(saved) => println!("job {}: {saved}", job.id()),
                    None => println!("job {}: {exit}", job.id()),
                },
                Err(error) => println!("job {}: {error}", job.id()),
            }
        }
        let mut ok = true;
        for (n, job) in &short {
            match job.finish().await {
                Ok(exit) => {
                    let value = exit.get::<u64>();
                    println!("job {}: {exit}: {value:?}", job.id());
                    ok &= value.is_none_or(|v| v == n * n);
                }
                Err(error) => println!("job {}: {error}", job.id()),
            }
        }
        ok
    });
    board.stop();
    rt.terminate();
    if ok {
        println!("short jobs gave the right result");
        ExitCode::SUCCESS
    } else {
        println!("a short job gave a wrong result");
        ExitCode::FAILURE
    }
}
