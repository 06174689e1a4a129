//! The book's running example, step 7 (chapter "Cluster computing and dashboard"): the
//! word counting of the earlier steps as jobs on a cluster. Each document is counted by
//! a `count_words` job on whichever node has a free slot; the client merges the counts
//! and prints the top words, as step 6's tally answered.
//!
//! The two cluster nodes and the client are three runtimes of this one program, talking
//! over loopback, so that the example runs with one command. With separate programs,
//! each node would run `rcos::cluster::serve` (or the `cluster_node` example) and have
//! `count_words` compiled in.
//!
//! Run it with `cargo run --example service_7_cluster`.

use std::collections::HashMap;
use std::error::Error;
use std::net::Ipv4Addr;
use std::time::Duration;

use rcos::cluster::{Cluster, NodeServer};
use rcos::net::NodeConfig;
use rcos::{Runtime, TaskRef, task};

const PATIENCE: Duration = Duration::from_secs(10);

const DOCUMENTS: [&str; 4] = [
    "the quick brown fox jumps over the lazy dog",
    "the dog sleeps",
    "the fox runs",
    "a dog and a fox",
];

// ANCHOR: job
/// A job: counts the words of one document, on whichever node runs it.
#[task(remote)]
async fn count_words(_task: TaskRef, text: String) -> Vec<(String, u64)> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word.to_lowercase()).or_default() += 1;
    }
    counts.into_iter().collect()
}
// ANCHOR_END: job

/// The `n` most frequent words, most frequent first (step 4's `top`).
fn top(counts: &HashMap<String, u64>, n: usize) -> Vec<(String, u64)> {
    let mut all: Vec<(String, u64)> = counts.iter().map(|(w, c)| (w.clone(), *c)).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all.truncate(n);
    all
}

/// A runtime that is a node on loopback, sharing the example's secret.
fn node(name: &'static str) -> Result<Runtime, Box<dyn Error>> {
    let config = NodeConfig::new()
        .name(name)
        .secret(b"the running example's secret".to_vec())
        .bind((Ipv4Addr::LOCALHOST, 0));
    Ok(Runtime::builder().name(name).node(config).build()?)
}

fn main() -> Result<(), Box<dyn Error>> {
    // ANCHOR: nodes
    // Two cluster nodes with one worker slot each.
    let mut locations = Vec::new();
    let mut nodes = Vec::new();
    for name in ["counter-a", "counter-b"] {
        let rt = node(name)?;
        NodeServer::new().cpus(1).serve(rt.handle())?;
        let at = rt.handle().location().ok_or("a node has a location")?;
        println!("{name}: serving at {at}");
        locations.push(at);
        nodes.push(rt);
    }
    // ANCHOR_END: nodes
    let client = node("front")?;
    let merged = client
        .block_on(async move {
            // ANCHOR: client
            let cluster = Cluster::builder().nodes(locations).start()?;
            cluster.wait_nodes(2, PATIENCE).await?;
            // Every document is a job; with two slots, two run at once and the others wait.
            let jobs: Vec<_> = DOCUMENTS
                .iter()
                .map(|doc| cluster.submit(count_words, (doc.to_string(),)))
                .collect::<Result<_, _>>()?;
            let mut counts: HashMap<String, u64> = HashMap::new();
            for job in jobs {
                let exit = job.finish().await?;
                let node = job.node().map(|at| at.to_string()).unwrap_or_default();
                let Some(words) = exit.get::<Vec<(String, u64)>>() else {
                    return Err(format!("job {} ended without counts: {exit}", job.id()).into());
                };
                println!(
                    "job {} counted {} distinct words on {node}",
                    job.id(),
                    words.len()
                );
                for (word, n) in words {
                    *counts.entry(word).or_default() += n;
                }
            }
            cluster.close(false).await;
            // ANCHOR_END: client
            Ok::<_, Box<dyn Error + Send + Sync>>(counts)
        })
        .map_err(|e| e as Box<dyn Error>)?;
    println!("front: the top 3 are {:?}", top(&merged, 3));
    client.terminate();
    for rt in nodes {
        rt.terminate();
    }
    Ok(())
}
