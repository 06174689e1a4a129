//! Watches other nodes come and go: prints `online` when a peer connects and
//! `offline` when it is lost (it closed, its process died, or it stopped answering
//! heartbeats).
//!
//! The peer-status part of pycos's `examples/rps_log_watch_client.py`, which subscribes
//! to `peer_status` to learn of servers going up and down. Run two; kill one (Ctrl-C,
//! or `kill -9`) and the other prints `offline` for it, then ends. `--offline N` makes
//! it wait for N departures instead of one.
//!
//! ```text
//! cargo run --example node_watch                          # prints "listening at 127.0.0.1:PORT"
//! cargo run --example node_watch -- --connect 127.0.0.1:PORT
//! ```

use std::net::Ipv4Addr;
use std::process::ExitCode;

use rcos::net::{self, Location, NodeConfig, PeerStatus};
use rcos::{Runtime, TaskRef};
use rcos_examples::{Args, print_listening, secret};

// ANCHOR: watch
/// Prints peers' status changes until `offline` of them have gone offline.
async fn watch(connect: Option<Location>, offline: usize) -> Result<(), String> {
    let me = TaskRef::current().expect("runs as a task");
    // From now on this task receives a `PeerStatus` whenever a peer comes or goes
    // (and one at once for each peer online now).
    net::peer_status(&me).map_err(|e| e.to_string())?;
    if let Some(location) = connect {
        // Connects and authenticates; keeps reconnecting if the connection breaks.
        net::peer(location)
            .await
            .map_err(|e| format!("cannot connect to {location}: {e}"))?;
    }
    let mut gone = 0;
    while gone < offline {
        let status = me
            .receive_type::<PeerStatus>()
            .await
            .map_err(|e| e.to_string())?;
        let state = if status.online { "online" } else { "offline" };
        println!("{state}: {} at {}", status.name, status.location);
        if !status.online {
            gone += 1;
        }
    }
    Ok(())
}
// ANCHOR_END: watch

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse(&["port", "connect", "name", "offline"]);
    let connect: Option<Location> = args.option("connect").map(|text| {
        text.parse().unwrap_or_else(|_| {
            eprintln!("--connect: not an address:port: {text:?}");
            std::process::exit(2)
        })
    });
    let name = args.option("name").map_or_else(
        || format!("node_watch-{}", std::process::id()),
        str::to_string,
    );
    let config = NodeConfig::new()
        .name(name)
        .secret(secret())
        .bind((Ipv4Addr::LOCALHOST, args.parsed("port", 0)));
    let rt = Runtime::builder()
        .node(config)
        .build()
        .expect("the node starts");
    print_listening(rt.location().expect("a node has a location"));
    match rt.block_on(watch(connect, args.parsed("offline", 1))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            println!("{error}");
            ExitCode::FAILURE
        }
    }
}
