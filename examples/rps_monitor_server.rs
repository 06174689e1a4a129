//! Publishes a remote service (pycos's RPS) that other programs run: the server half
//! of a pair with `rps_monitor_client`.
//!
//! Twin of pycos's `examples/rps_monitor_server.py`: the service is a task function
//! published by name; each call from a client starts a new task here. The server ends
//! once `--clients N` clients (default 1) have said goodbye.
//!
//! ```text
//! cargo run --example rps_monitor_server                      # prints "listening at 127.0.0.1:PORT"
//! cargo run --example rps_monitor_client -- 127.0.0.1:PORT    # in another terminal
//! ```
//!
//! Options: `--port N` (default 0: any free port), `--clients N`. The secret is
//! `RCOS_SECRET`, or the demo secret of `rcos_examples::DEMO_SECRET`.

use std::net::Ipv4Addr;
use std::process::ExitCode;

use rcos::net::NodeConfig;
use rcos::rps::Rps;
use rcos::{Runtime, TaskRef};
use rcos_examples::{Args, print_listening, secret};

#[path = "shared/rps_compute.rs"]
mod rps_compute;
use rps_compute::compute;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    // The service panics on purpose for some calls: keep Rust's report of each short.
    std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
    let args = Args::parse(&["port", "clients"]);
    let clients: usize = args.parsed("clients", 1);
    let config = NodeConfig::new()
        .name("rps_monitor_server")
        .secret(secret())
        .bind((Ipv4Addr::LOCALHOST, args.parsed("port", 0)));
    let rt = Runtime::builder()
        .node(config)
        .build()
        .expect("the node starts");

    // ANCHOR: publish
    let service = Rps::publish_on(&rt, compute).expect("the service name is free");
    println!("published the service {:?}", service.name());
    // ANCHOR_END: publish
    print_listening(rt.location().expect("a node has a location"));

    // Clients say goodbye to this task when they are done.
    let doorman = rt.spawn(move |task: TaskRef| async move {
        task.register("rps_monitor_server/doorman")
            .expect("the name is free");
        for seen in 1..=clients {
            let Ok(client) = task.receive_type::<String>().await else {
                break;
            };
            println!("{client} said goodbye ({seen} of {clients})");
        }
    });
    rt.block_on(async move { doorman.finish().await });
    service.close();
    println!("service closed");
    ExitCode::SUCCESS
}
