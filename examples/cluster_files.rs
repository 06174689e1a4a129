//! Sending input files to cluster jobs and getting result files back (pycos's
//! `dispycos_client4.py`): the client writes a few text files, sends each to a node's
//! destination folder, and runs a job there that counts the file's lines and sends a
//! result file back into the client's own destination folder.
//!
//! ```text
//! cargo run --example cluster_node -- --cpus 2     # "... listening at 127.0.0.1:PORT1"
//! cargo run --example cluster_node -- --cpus 2     # "... listening at 127.0.0.1:PORT2"
//! cargo run --example cluster_files -- 127.0.0.1:PORT1 127.0.0.1:PORT2
//! ```
//!
//! `--files N` sets the number of input files (default 4). Each node keeps the files in
//! its destination folder (`--dest` of `cluster_node`; a folder under the system's
//! temporary folder by default).

#[path = "shared/cluster_jobs.rs"]
mod cluster_jobs;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cluster_jobs::count_file;
use rcos::Runtime;
use rcos::cluster::Cluster;
use rcos::net::{Location, NodeConfig, SendFileOptions, del_file, send_file};
use rcos_examples::{Args, secret};

/// Writes input file number `n` (with `n * 10` lines) into `dir`.
fn write_input(dir: &std::path::Path, n: u64) -> std::io::Result<PathBuf> {
    let path = dir.join(format!("input-{n}.txt"));
    let text: String = (1..=n * 10)
        .map(|line| format!("line {line} of file {n}\n"))
        .collect();
    std::fs::write(&path, text)?;
    Ok(path)
}

// ANCHOR: files
/// Sends input file `n` to a node, runs `count_file` on it there, and returns the
/// contents of the result file the job sent back.
async fn process(
    cluster: &Cluster,
    node: Location,
    input: PathBuf,
    me: Location,
) -> Result<String, String> {
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or("no file name")?;
    // Into the node's destination folder, where the job looks for it.
    send_file(node, &input, SendFileOptions::new().overwrite(true))
        .await
        .map_err(|e| format!("cannot send {name}: {e}"))?;
    let job = cluster
        .run_at(node, count_file, (name.clone(), me))
        .await
        .map_err(|e| e.to_string())?;
    let exit = job.finish().await.map_err(|e| e.to_string())?;
    let result = match exit.get::<Result<String, String>>() {
        Some(Ok(result)) => result,
        Some(Err(error)) => return Err(error),
        None => return Err(format!("the job {exit}")),
    };
    // The job sent the result file into this program's destination folder.
    let dest = rcos::cluster::dest_path().ok_or("not a node")?;
    let text = rcos::io::fs::read(dest.join(&result))
        .await
        .map_err(|e| format!("cannot read {result}: {e}"))?;
    // The input is not needed on the node any more.
    let _ = del_file(node, &name, Duration::from_secs(10)).await;
    Ok(String::from_utf8_lossy(&text).trim_end().to_string())
}
// ANCHOR_END: files

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse(&["files"]);
    let files: u64 = args.parsed("files", 4);
    let usage = "cluster_files NODE_LOCATION... [--files N]";
    let nodes: Vec<Location> = (0..args.positional.len())
        .map(|n| args.required(n, usage))
        .collect();
    if nodes.is_empty() {
        eprintln!("usage: {usage}");
        return ExitCode::from(2);
    }
    let work = std::env::temp_dir().join(format!("rcos-cluster-files-{}", std::process::id()));
    let inputs = work.join("inputs");
    if let Err(error) = std::fs::create_dir_all(&inputs) {
        eprintln!("cannot create {}: {error}", inputs.display());
        return ExitCode::FAILURE;
    }
    // Result files arrive in the client's destination folder.
    let config = NodeConfig::new()
        .secret(secret())
        .bind((Ipv4Addr::LOCALHOST, 0))
        .dest_path(work.join("results"));
    let rt = Runtime::builder()
        .node(config)
        .build()
        .expect("the client's node starts");
    let me = rt.location().expect("a node has a location");
    let good = rt.block_on(async move {
        let cluster = Cluster::builder()
            .nodes(nodes)
            .start()
            .expect("the runtime is a node");
        let ready = match cluster.wait_nodes(1, Duration::from_secs(30)).await {
            Ok(ready) => ready,
            Err(_) => {
                println!("no node is ready");
                return 0;
            }
        };
        // One task per file, spread over the nodes, all at once.
        let tasks: Vec<_> = (1..=files)
            .map(|n| {
                let node = ready[(n as usize - 1) % ready.len()].location;
                let (cluster, inputs) = (cluster.clone(), inputs.clone());
                rcos::spawn(move |_| async move {
                    let input = write_input(&inputs, n).map_err(|e| e.to_string())?;
                    process(&cluster, node, input, me).await
                })
            })
            .collect();
        let mut good = 0;
        for (n, task) in (1..=files).zip(tasks) {
            match task
                .finish()
                .await
                .value()
                .and_then(|v| v.take::<Result<String, String>>())
            {
                Some(Ok(summary)) => {
                    good += 1;
                    println!("result {n}: {summary}");
                }
                Some(Err(error)) => println!("file {n} failed: {error}"),
                None => println!("file {n}: its task failed"),
            }
        }
        cluster.close(false).await;
        good
    });
    rt.terminate();
    let _ = std::fs::remove_dir_all(&work);
    println!("{good} of {files} files processed");
    if good == files {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
