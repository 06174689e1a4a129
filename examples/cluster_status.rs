//! A custom scheduler driven by status messages (pycos's `dispycos_client7.py`): the
//! program's main task is the cluster's status task; each time a node's slot is set up
//! it sends a job to that node, and each time a job finishes it sends the next one to
//! the same node, so every slot always has one job and nothing queues.
//!
//! ```text
//! cargo run --example cluster_node -- --cpus 2     # "... listening at 127.0.0.1:PORT1"
//! cargo run --example cluster_node -- --cpus 2     # "... listening at 127.0.0.1:PORT2"
//! cargo run --example cluster_status -- 127.0.0.1:PORT1 127.0.0.1:PORT2 --jobs 10
//! ```

#[path = "shared/cluster_jobs.rs"]
mod cluster_jobs;

use std::net::Ipv4Addr;
use std::process::ExitCode;

use cluster_jobs::compute;
use rcos::cluster::{Cluster, ClusterStatus};
use rcos::net::{Location, NodeConfig};
use rcos::{Runtime, TaskRef};
use rcos_examples::{Args, secret};

/// Where a job ran, in words.
fn node_of(job: &rcos::cluster::JobInfo) -> String {
    job.node.map(|at| at.to_string()).unwrap_or_default()
}

// ANCHOR: scheduler
/// Runs `jobs` jobs, placing each itself: one per slot as slots come up, then the next
/// on the node of each job that finishes. Returns how many finished well.
async fn schedule(nodes: Vec<Location>, jobs: u64) -> u64 {
    let me = TaskRef::current().expect("runs as a task");
    let cluster = Cluster::builder()
        .nodes(nodes)
        .status_task(me.clone())
        .start()
        .expect("the runtime is a node");
    let (mut submitted, mut done, mut good) = (0u64, 0u64, 0u64);
    // Sends job number `submitted + 1` to `node` (it starts at once: its slot is free).
    let mut submit = |node: Location| {
        if submitted < jobs {
            submitted += 1;
            let work_ms = fastrand::u64(50..300);
            if let Err(error) = cluster.submit_at(node, true, compute, (submitted, work_ms)) {
                println!("job {submitted} not submitted: {error}");
            }
        }
    };
    while done < jobs {
        let Ok(status) = me.receive_type::<ClusterStatus>().await else {
            break;
        };
        match status {
            ClusterStatus::NodeInitialised(node) => {
                println!(
                    "node {} at {} has {} slots",
                    node.name, node.location, node.slots
                )
            }
            // A slot is ready: give it a job.
            ClusterStatus::ServerInitialised { node, .. } => submit(node),
            ClusterStatus::JobFinished { job, exit } => {
                done += 1;
                match exit.get::<u64>() {
                    Some(square) => {
                        good += 1;
                        println!("job {} finished on {}: {square}", job.id, node_of(&job))
                    }
                    None => println!("job {} failed: {exit}", job.id),
                }
                // Its slot is free again: the next job goes there.
                if let Some(node) = job.node {
                    submit(node);
                }
            }
            ClusterStatus::JobFailed { job, reason } => {
                done += 1;
                println!("job {} could not run: {reason}", job.id);
            }
            ClusterStatus::JobAbandoned(job) => {
                done += 1;
                println!("job {} was lost with its node", job.id);
            }
            ClusterStatus::NodeIgnored { location, reason } => {
                println!("node {location} ignored: {reason}")
            }
            _ => {}
        }
    }
    cluster.close(false).await;
    good
}
// ANCHOR_END: scheduler

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse(&["jobs"]);
    let jobs: u64 = args.parsed("jobs", 10);
    let usage = "cluster_status NODE_LOCATION... [--jobs N]";
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
    let good = rt.block_on(schedule(nodes, jobs));
    rt.terminate();
    println!("{good} of {jobs} jobs done");
    if good == jobs {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
