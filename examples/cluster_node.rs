//! A cluster node server (pycos's `dispycosnode.py`): offers worker slots to one
//! cluster client at a time, which runs jobs on them. The jobs it can run are the
//! `#[task(remote)]` fns compiled into it, here those of `examples/shared/cluster_jobs.rs`.
//!
//! ```text
//! cargo run --example cluster_node -- --cpus 2      # prints "... listening at 127.0.0.1:PORT"
//! cargo run --example cluster_node -- --cpus 2      # a second node, in another terminal
//! cargo run --example cluster_client -- 127.0.0.1:PORT1 127.0.0.1:PORT2
//! ```
//!
//! Options (pycos's names where it has them): `--cpus N` worker slots (negative: leave
//! N cores free; default one per core), `--host IP` and `--port N` to listen on
//! (default 127.0.0.1, any free port), `--name NAME`, `--secret TEXT` or `--secret-file
//! PATH` (default `RCOS_SECRET` or the demo secret), `--cert`, `--key` and `--trusted`
//! PEM files for TLS, `--dest DIR` (where files sent to it go), `--max-file-size BYTES`,
//! `--clients N` (serve N clients, then exit), `--discover` (announce itself by UDP
//! discovery beacons, and answer them) with `--discover-port N` (the beacons' UDP port,
//! default 9705; clients must use the same), `--pulse-ms N` (how often it reports its
//! availability to its client). An unknown option or a value that does not parse is an
//! error: the node says which on standard error and exits with status 2.

#[path = "shared/cluster_jobs.rs"]
mod cluster_jobs;

use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;

use rcos::Runtime;
use rcos::cluster::NodeServer;
use rcos::net::NodeConfig;
use rcos_examples::{Args, secret};

const OPTIONS: [&str; 14] = [
    "cpus",
    "host",
    "port",
    "name",
    "secret",
    "secret-file",
    "cert",
    "key",
    "trusted",
    "dest",
    "max-file-size",
    "clients",
    "pulse-ms",
    "discover-port",
];

/// Checks that every argument is a known option with its value or the `--discover`
/// flag: a misspelt option (`--cpu 2`) is an error, not silently ignored.
fn check_args(argv: &[String]) -> Result<(), String> {
    let mut args = argv.iter();
    while let Some(arg) = args.next() {
        match arg.strip_prefix("--") {
            Some("discover") => {}
            Some(name) if OPTIONS.contains(&name) => {
                if args.next().is_none() {
                    return Err(format!("--{name} needs a value"));
                }
            }
            Some(name) => {
                return Err(format!(
                    "unknown option --{name} (the options are --{} and --discover)",
                    OPTIONS.join(", --")
                ));
            }
            None => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    Ok(())
}

/// The node's network configuration, from the command line.
fn config(args: &Args) -> Result<NodeConfig, String> {
    let host: IpAddr = args.parsed("host", IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut config = NodeConfig::new()
        .bind((host, args.parsed("port", 0)))
        .discovery(args.flag("discover"));
    if let Some(port) = args.option("discover-port") {
        let port = port
            .parse()
            .map_err(|_| format!("--discover-port {port:?}"))?;
        config = config.discovery_port(port);
    }
    // Names tell nodes apart in status messages and on the dashboard.
    let name = match args.option("name") {
        Some(name) => name.to_string(),
        None => format!("node-{}", std::process::id()),
    };
    config = config.name(name);
    config = match (args.option("secret"), args.option("secret-file")) {
        (Some(text), _) => config.secret(text.as_bytes().to_vec()),
        (None, Some(path)) => config.secret_file(path),
        (None, None) => config.secret(secret()),
    };
    if let Some(dir) = args.option("dest") {
        config = config.dest_path(dir);
    }
    if let Some(bytes) = args.option("max-file-size") {
        let bytes = bytes
            .parse()
            .map_err(|_| format!("--max-file-size {bytes:?}"))?;
        config = config.max_file_size(bytes);
    }
    match (
        args.option("cert"),
        args.option("key"),
        args.option("trusted"),
    ) {
        (Some(cert), Some(key), Some(trusted)) => config
            .tls_files(cert, key, trusted)
            .map_err(|e| format!("TLS: {e}")),
        (None, None, None) => Ok(config),
        _ => Err("TLS needs all of --cert, --key and --trusted".to_string()),
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if let Err(error) = check_args(&argv) {
        eprintln!("cluster_node: {error}");
        return ExitCode::from(2);
    }
    let args = Args::parse(&OPTIONS);
    let config = match config(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("cluster_node: {error}");
            return ExitCode::from(2);
        }
    };

    // ANCHOR: serve
    // `parsed` exits with status 2 and a message if a value does not parse.
    let mut server = NodeServer::new().cpus(args.parsed("cpus", 0));
    if args.option("clients").is_some() {
        server = server.clients(args.parsed("clients", 1));
    }
    if args.option("pulse-ms").is_some() {
        server = server.pulse_interval(std::time::Duration::from_millis(
            args.parsed("pulse-ms", 2000),
        ));
    }
    if let Some(dir) = args.option("dest") {
        server = server.dest_path(dir);
    }
    let slots = server.slots();
    // One worker thread per slot, and one more so that messages keep flowing while
    // every slot runs a CPU-bound job.
    let rt = match Runtime::builder()
        .workers(slots as usize + 1)
        .node(config)
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("cluster_node: the node does not start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let service = match server.serve(rt.handle()) {
        Ok(service) => service,
        Err(error) => {
            eprintln!("cluster_node: {error}");
            return ExitCode::FAILURE;
        }
    };
    // ANCHOR_END: serve
    let location = rt.location().map(|at| at.to_string()).unwrap_or_default();
    let name = args
        .option("name")
        .map_or_else(|| format!("node-{}", std::process::id()), str::to_string);
    println!("cluster node {name}: {slots} slots, listening at {location}");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let served = rt.block_on(async move { service.finish().await.get::<u64>() });
    println!("served {} clients", served.unwrap_or(0));
    rt.terminate();
    ExitCode::SUCCESS
}
