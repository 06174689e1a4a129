//! Asks `pico_service` for the time: a request carrying this task's reference, and a
//! receive with a timeout for the reply.
//!
//! Twin of pycos's `examples/pico_client_task.py`. Exits with status 1 if the service
//! cannot be found or does not answer in time (try `--delay 2000 --timeout 500`).
//!
//! ```text
//! cargo run --example pico_service                        # prints "listening at 127.0.0.1:PORT"
//! cargo run --example pico_client -- 127.0.0.1:PORT [--delay MS] [--timeout MS]
//! ```

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use rcos::net::{Location, NodeConfig};
use rcos::{Message, Runtime, TaskRef};
use rcos_examples::{Args, secret};
use serde::{Deserialize, Serialize};

/// The same types as `pico_service`'s.
#[derive(Debug, Serialize, Deserialize, Message)]
struct PicoRequest {
    req: String,
    reply: TaskRef,
    delay_ms: u64,
}

/// The service's answer.
#[derive(Debug, Serialize, Deserialize, Message)]
struct PicoReply {
    result: String,
    from: TaskRef,
}

// ANCHOR: client
/// Finds the service, asks it the time and waits up to `timeout` for the answer.
async fn ask_time(location: Location, delay_ms: u64, timeout: Duration) -> Result<(), String> {
    let service = TaskRef::locate_at(location, "pico_service", Duration::from_secs(10))
        .await
        .map_err(|e| format!("could not find the pico service at {location}: {e}"))?;
    println!("pico service is {service}");
    let me = TaskRef::current().expect("runs as a task");
    let request = PicoRequest {
        req: "time".into(),
        reply: me.clone(),
        delay_ms,
    };
    service
        .send(request)
        .map_err(|e| format!("request not sent: {e}"))?;
    // The reply is an ordinary message: wait for one of its type, for a while only,
    // in case the request or the reply is lost.
    match me.receive_type_timeout::<PicoReply>(timeout).await {
        Ok(Some(reply)) => {
            println!("result: {}, from: {}", reply.result, reply.from);
            Ok(())
        }
        _ => Err(format!("no reply within {timeout:?}")),
    }
}
// ANCHOR_END: client

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse(&["port", "delay", "timeout"]);
    let location: Location = args.required(0, "pico_client LOCATION [--delay MS] [--timeout MS]");
    let delay_ms = args.parsed("delay", fastrand::u64(100..300));
    let timeout = Duration::from_millis(args.parsed("timeout", 10_000));
    let config = NodeConfig::new()
        .name("pico_client")
        .secret(secret())
        .bind((Ipv4Addr::LOCALHOST, args.parsed("port", 0)));
    let rt = Runtime::builder()
        .node(config)
        .build()
        .expect("the node starts");
    match rt.block_on(ask_time(location, delay_ms, timeout)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            println!("{error}");
            ExitCode::FAILURE
        }
    }
}
