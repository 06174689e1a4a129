//! A cluster client that runs jobs on cluster nodes and collects their results with
//! `finish` (pycos's `dispycos_client2.py`).
//!
//! Start two nodes, then the client with their locations:
//!
//! ```text
//! cargo run --example cluster_node -- --cpus 2     # "... listening at 127.0.0.1:PORT1"
//! cargo run --example cluster_node -- --cpus 2     # "... listening at 127.0.0.1:PORT2"
//! cargo run --example cluster_client -- 127.0.0.1:PORT1 127.0.0.1:PORT2
//! ```
//!
//! `--jobs N` sets the number of jobs (default 10). Each job is the `compute` task of
//! `examples/shared/cluster_jobs.rs`, compiled into both programs. With 4 slots in all,
//! the first 4 jobs start at once and the others wait for a free slot.

#[path = "shared/cluster_jobs.rs"]
mod cluster_jobs;

use std::net::Ipv4Addr;
use std::process::ExitCode;

use cluster_jobs::compute;
use rcos::Runtime;
use rcos::cluster::Cluster;
use rcos::net::{Location, NodeConfig};
use rcos_examples::{Args, secret};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse(&["jobs"]);
    let jobs: u64 = args.parsed("jobs", 10);
    let nodes: Vec<Location> = (0..args.positional.len())
        .map(|n| args.required(n, "cluster_client NODE_LOCATION... [--jobs N]"))
        .collect();
    if nodes.is_empty() {
        eprintln!("usage: cluster_client NODE_LOCATION... [--jobs N]");
        return ExitCode::from(2);
    }
    // The client's runtime is a node too: nodes answer it by messages.
    let config = NodeConfig::new()
        .secret(secret())
        .bind((Ipv4Addr::LOCALHOST, 0));
    let rt = Runtime::builder()
        .node(config)
        .build()
        .expect("the client's node starts");
    let ok = rt.block_on(async move {
        // ANCHOR: client
        let cluster = Cluster::builder()
            .nodes(nodes)
            .start()
            .expect("the runtime is a node");
        // Queue every job at once: each starts when a slot is free.
        let submitted: Vec<_> = (1..=jobs)
            .map(|n| cluster.submit(compute, (n, 100 + 20 * (n % 5))))
            .collect();
        let mut sum = 0;
        for (n, job) in (1..=jobs).zip(submitted) {
            let result = match job {
                Ok(job) => job
                    .finish()
                    .await
                    .map(|exit| (exit.get::<u64>(), job.node())),
                Err(error) => Err(error),
            };
            match result {
                Ok((Some(square), Some(node))) => {
                    println!("job {n}: {n} squared is {square} (on {node})");
                    sum += square;
                }
                Ok((other, _)) => println!("job {n}: no number back: {other:?}"),
                Err(error) => println!("job {n} failed: {error}"),
            }
        }
        cluster.close(false).await;
        // ANCHOR_END: client
        println!("sum of squares: {sum}");
        sum == (1..=jobs).map(|n| n * n).sum::<u64>()
    });
    rt.terminate();
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
