//! A tiny ("pico") service that tells the time: the server half of a pair with
//! `pico_client`.
//!
//! Twin of pycos's `examples/pico_service_task.py`: requests are ordinary messages that
//! carry the reference of the task to answer, and the service sends its reply as an
//! ordinary message to that task; the client waits for it with a timeout. (rcos's
//! `TaskRef::call` does the same in one step, for any node.) The service ends after
//! answering `--clients N` requests (default 1).
//!
//! ```text
//! cargo run --example pico_service                        # prints "listening at 127.0.0.1:PORT"
//! cargo run --example pico_client -- 127.0.0.1:PORT
//! ```

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcos::net::NodeConfig;
use rcos::{Message, Runtime, TaskRef, task};
use rcos_examples::{Args, print_listening, secret};
use serde::{Deserialize, Serialize};

// ANCHOR: messages
/// A request: what is asked, who to answer, and how long the service should pretend
/// the answer takes (pycos's `{'req': 'time', 'reply': task, 'delay': ...}`).
#[derive(Debug, Serialize, Deserialize, Message)]
struct PicoRequest {
    req: String,
    reply: TaskRef,
    delay_ms: u64,
}

/// The answer, and who gave it.
#[derive(Debug, Serialize, Deserialize, Message)]
struct PicoReply {
    result: String,
    from: TaskRef,
}
// ANCHOR_END: messages

/// The time of day, UTC, as `HH:MM:SS`.
fn time_of_day() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (h, m, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
    format!("{h:02}:{m:02}:{s:02} UTC")
}

// ANCHOR: service
/// Registered as `pico_service`; answers `requests` requests, then ends.
#[task]
async fn pico_service(task: TaskRef, requests: usize) -> usize {
    task.register("pico_service")
        .expect("the name pico_service is free");
    let mut answered = 0;
    while answered < requests {
        let Ok(request) = task.receive_type::<PicoRequest>().await else {
            break;
        };
        if request.req != "time" {
            println!("ignored a request for {:?}", request.req);
            continue;
        }
        println!("request from {}", request.reply);
        // Simulate a slow sensor; the client's timeout may run out meanwhile.
        rcos::time::sleep(Duration::from_millis(request.delay_ms)).await;
        let reply = PicoReply {
            result: time_of_day(),
            from: task.clone(),
        };
        // `deliver`, not `send`: it returns once the reply is in the client's mailbox,
        // so the service may stop right after its last one.
        match request.reply.deliver(reply, Duration::from_secs(10)).await {
            Ok(()) => println!("answered {}", request.reply),
            Err(error) => println!("could not answer {}: {error}", request.reply),
        }
        answered += 1;
    }
    answered
}
// ANCHOR_END: service

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse(&["port", "clients"]);
    let requests: usize = args.parsed("clients", 1);
    let config = NodeConfig::new()
        .name("pico_server")
        .secret(secret())
        .bind((Ipv4Addr::LOCALHOST, args.parsed("port", 0)));
    let rt = Runtime::builder()
        .node(config)
        .build()
        .expect("the node starts");
    print_listening(rt.location().expect("a node has a location"));
    let service = pico_service::spawn_on(&rt, requests);
    let answered = rt.block_on(async move { service.finish().await.get::<usize>() });
    println!("answered {} requests", answered.unwrap_or(0));
    if answered == Some(requests) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
