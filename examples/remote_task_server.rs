//! A server task that other programs find by name and talk to: the server half of a
//! pair with `remote_task_client`.
//!
//! Twin of pycos's `examples/remote_task_server.py`: the task registers itself as
//! `server_task` and starts a short task to process each message it receives. Here each
//! message also carries the sender's reference, so the processing task answers it, and
//! the server ends by itself once `--clients N` client programs (default 1) have said
//! goodbye.
//!
//! ```text
//! cargo run --example remote_task_server                  # prints "listening at 127.0.0.1:PORT"
//! cargo run --example remote_task_client -- 127.0.0.1:PORT    # in another terminal
//! ```
//!
//! Options: `--port N` (default 0: any free port), `--clients N` (default 1). The
//! secret both programs share is `RCOS_SECRET`, or the demo secret of
//! `rcos_examples::DEMO_SECRET`.

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use rcos::net::NodeConfig;
use rcos::task::MonitorStatus;
use rcos::{Message, Runtime, TaskRef, task};
use rcos_examples::{Args, print_listening, secret};
use serde::{Deserialize, Serialize};

// ANCHOR: messages
/// A piece of work from a client. The client program declares the same type: what two
/// programs must agree on is the message's wire name (here `Job`) and its fields.
#[derive(Debug, Serialize, Deserialize, Message)]
struct Job {
    /// Who to answer: a reference to a task in the client's program.
    reply_to: TaskRef,
    text: String,
}

/// The answer to a [`Job`].
#[derive(Debug, Serialize, Deserialize, Message)]
struct Done {
    text: String,
}

/// A client program has finished; `task` is its main task.
#[derive(Debug, Serialize, Deserialize, Message)]
struct Bye {
    client: String,
    task: TaskRef,
}
// ANCHOR_END: messages

// ANCHOR: process
/// Processes one job (pycos's `process`) and answers the client's task directly.
#[task]
async fn process(_task: TaskRef, job: Job) {
    println!("processing {}", job.text);
    rcos::time::sleep(Duration::from_millis(fastrand::u64(10..100))).await;
    println!("  done with {}", job.text);
    // The reference came inside the message, from another program: it works as is.
    if let Err(error) = job.reply_to.send(Done { text: job.text }) {
        println!("  could not answer: {error}");
    }
}
// ANCHOR_END: process

/// What `server_task` receives.
enum Event {
    Job(Job),
    Bye(Bye),
    Ended(MonitorStatus),
    Other,
}

// ANCHOR: server
/// Registered as `server_task`: starts a `process` task for each job, until `clients`
/// client programs have said goodbye and ended. Returns how many jobs it received.
#[task]
async fn server_task(task: TaskRef, clients: usize) -> u64 {
    task.register("server_task")
        .expect("the name server_task is free");
    let (mut jobs, mut left) = (0, 0);
    while left < clients {
        let Ok(msg) = task.receive().await else { break };
        let event = msg
            .matcher()
            .on(Event::Job)
            .on(Event::Bye)
            .on(Event::Ended)
            // Anything else (`remote_task_client --monitor` sends a `()`) is ignored.
            .otherwise(|_| Event::Other);
        match event {
            Event::Job(job) => {
                jobs += 1;
                process::spawn(job);
            }
            Event::Bye(bye) => {
                println!("{} said goodbye", bye.client);
                // Count the client once its task has ended (or its node has gone): the
                // server stops only after every client has finished with it.
                if task.monitor(&bye.task).is_err() {
                    left += 1;
                }
            }
            Event::Ended(status) => {
                left += 1;
                println!("{} has ended ({left} of {clients})", status.task);
            }
            Event::Other => {}
        }
    }
    jobs
}
// ANCHOR_END: server

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse(&["port", "clients"]);
    let clients: usize = args.parsed("clients", 1);

    // ANCHOR: node
    // A runtime becomes a node: it listens on 127.0.0.1 (port 0: any free one) and
    // talks only to nodes that know the same secret.
    let config = NodeConfig::new()
        .name("remote_task_server")
        .secret(secret())
        .bind((Ipv4Addr::LOCALHOST, args.parsed("port", 0)));
    let rt = Runtime::builder()
        .node(config)
        .build()
        .expect("the node starts");
    print_listening(rt.location().expect("a node has a location"));
    // ANCHOR_END: node

    let server = server_task::spawn_on(&rt, clients);
    let jobs = rt.block_on(async move { server.finish().await.get::<u64>() });
    // Let the last `process` tasks finish, then stop the node.
    if let Err(error) = rt.join() {
        eprintln!("{error}");
    }
    match jobs {
        Some(jobs) => {
            let plural = if clients == 1 { "" } else { "s" };
            println!("served {jobs} jobs from {clients} client{plural}");
            ExitCode::SUCCESS
        }
        None => {
            println!("the server task failed");
            ExitCode::FAILURE
        }
    }
}
