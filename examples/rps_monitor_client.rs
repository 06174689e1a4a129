//! Runs a remote service many times and learns how each run ended from monitor
//! messages: the client half of a pair with `rps_monitor_server`.
//!
//! Twin of pycos's `examples/rps_monitor_client.py`: some calls fail on purpose (the
//! service refuses multiples of three); the client's task monitors every task it
//! starts through the service and receives one `MonitorStatus` for each, success or
//! failure, then says goodbye to the server.
//!
//! ```text
//! cargo run --example rps_monitor_client -- 127.0.0.1:PORT [--calls N]
//! ```

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use rcos::net::{Location, NodeConfig};
use rcos::rps::RpsClient;
use rcos::task::MonitorStatus;
use rcos::{Exit, Runtime, TaskRef};
use rcos_examples::{Args, secret};

#[path = "shared/rps_compute.rs"]
mod rps_compute;
use rps_compute::compute;

const PATIENCE: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse(&["calls"]);
    let server: Location = args.required(0, "rps_monitor_client LOCATION [--calls N]");
    let calls: u64 = args.parsed("calls", 6);
    let config = NodeConfig::new()
        .name("rps_monitor_client")
        .secret(secret())
        .bind((Ipv4Addr::LOCALHOST, 0));
    let rt = Runtime::builder()
        .node(config)
        .build()
        .expect("the node starts");
    let outcome = rt.block_on(async move {
        // ANCHOR: client
        let me = TaskRef::current().expect("block_on runs a task");
        // Find the service on the server; every task started through it is monitored
        // by this task.
        let service = RpsClient::locate_at(server, compute, PATIENCE)
            .await?
            .monitor_with(&me);
        let mut started = Vec::new();
        for n in 1..=calls {
            let job = service.run((n,)).await?;
            println!("started {job} with n = {n}");
            started.push((job, n));
        }
        let (mut ok, mut failed) = (0, 0);
        for _ in 0..started.len() {
            let status = me.receive_type::<MonitorStatus>().await?;
            let n = started
                .iter()
                .find(|(job, _)| *job == status.task)
                .map_or(0, |(_, n)| *n);
            match &status.exit {
                Exit::Returned(value) => {
                    ok += 1;
                    println!("n = {n}: returned {:?}", value.get::<u64>());
                }
                other => {
                    failed += 1;
                    println!("n = {n}: {other}");
                }
            }
        }
        // ANCHOR_END: client
        let doorman = TaskRef::locate_at(server, "rps_monitor_server/doorman", PATIENCE).await?;
        doorman
            .deliver("rps_monitor_client".to_string(), PATIENCE)
            .await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((ok, failed))
    });
    match outcome {
        Ok((ok, failed)) => {
            println!("{ok} succeeded, {failed} failed");
            ExitCode::SUCCESS
        }
        Err(error) => {
            println!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
