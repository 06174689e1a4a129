//! Finds the task `remote_task_server` registered, at the location given, and sends it
//! jobs from several tasks; each answer comes back straight to the task that asked.
//!
//! Twin of pycos's `examples/remote_task_client.py` (whose tasks locate `server_task`
//! and send it three messages each). With `--monitor` it instead monitors the server's
//! task and reports how it ended: kill the server (Ctrl-C, or `kill -9`) and the
//! monitor is told its node was lost.
//!
//! ```text
//! cargo run --example remote_task_server                  # prints "listening at 127.0.0.1:PORT"
//! cargo run --example remote_task_client -- 127.0.0.1:PORT
//! cargo run --example remote_task_client -- 127.0.0.1:PORT --monitor
//! ```
//!
//! Options: `--tasks N` client tasks (default 3), `--messages N` jobs each (default 3),
//! `--port N` for this program's own node (default 0).

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use rcos::net::{Location, NodeConfig};
use rcos::task::MonitorStatus;
use rcos::{Exit, Message, Runtime, TaskRef, task};
use rcos_examples::{Args, secret};
use serde::{Deserialize, Serialize};

const USAGE: &str = "remote_task_client LOCATION [--tasks N] [--messages N] [--monitor]";

/// How long to look for the server, and to wait for an acknowledgement.
const PATIENCE: Duration = Duration::from_secs(10);

/// The same types as `remote_task_server`'s: the wire names and fields match.
#[derive(Debug, Serialize, Deserialize, Message)]
struct Job {
    reply_to: TaskRef,
    text: String,
}

/// The server's answer to a [`Job`].
#[derive(Debug, Serialize, Deserialize, Message)]
struct Done {
    text: String,
}

/// Tells the server this client program has finished; `task` is its main task.
#[derive(Debug, Serialize, Deserialize, Message)]
struct Bye {
    client: String,
    task: TaskRef,
}

// ANCHOR: client
/// Sends `messages` jobs to the server, with short pauses, then waits for as many
/// answers. Returns how many came back.
#[task]
async fn client_proc(task: TaskRef, n: u32, server: TaskRef, messages: u32) -> u32 {
    for x in 0..messages {
        rcos::time::sleep(Duration::from_millis(fastrand::u64(10..100))).await;
        let job = Job {
            reply_to: task.clone(),
            text: format!("client {n} message {x}"),
        };
        if let Err(error) = server.send(job) {
            println!("client {n}: not sent: {error}");
            return 0;
        }
    }
    let mut answers = 0;
    while answers < messages {
        match task.receive_type_timeout::<Done>(PATIENCE).await {
            Ok(Some(done)) => {
                println!("client {n}: server did {}", done.text);
                answers += 1;
            }
            _ => {
                println!("client {n}: no answer within {PATIENCE:?}");
                break;
            }
        }
    }
    answers
}
// ANCHOR_END: client

/// Runs the client tasks, then says goodbye to the server.
async fn exchange(server: TaskRef, tasks: u32, messages: u32) -> bool {
    let clients: Vec<TaskRef> = (0..tasks)
        .map(|n| client_proc::spawn(n, server.clone(), messages))
        .collect();
    let mut answers = 0;
    for client in clients {
        answers += client.finish().await.get::<u32>().unwrap_or(0);
    }
    let sent = tasks * messages;
    println!("sent {sent} jobs, got {answers} answers");
    // ANCHOR: bye
    // `deliver` returns once the message is in the server task's mailbox: when this
    // program ends right after, the goodbye has arrived. (`send` only queues it: had
    // the connection failed, it would be lost without a word.)
    let at = rcos::Handle::current().and_then(|rt| rt.location());
    let bye = Bye {
        client: format!("client at {}", at.map_or("?".into(), |l| l.to_string())),
        task: TaskRef::current().expect("runs as a task"),
    };
    if let Err(error) = server.deliver(bye, PATIENCE).await {
        println!("goodbye not delivered: {error}");
        return false;
    }
    // ANCHOR_END: bye
    answers == sent
}

// ANCHOR: monitor
/// Monitors the server's task and reports how it ends.
async fn watch(server: TaskRef) -> bool {
    let me = TaskRef::current().expect("runs as a task");
    if let Err(error) = me.monitor(&server) {
        println!("cannot monitor {server}: {error}");
        return false;
    }
    // A round trip to the server's task, so that it is known to be there.
    if let Err(error) = server.deliver((), PATIENCE).await {
        println!("{server} does not answer: {error}");
        return false;
    }
    println!("monitoring {server}");
    match me.receive_type::<MonitorStatus>().await {
        Ok(MonitorStatus {
            exit: Exit::NodeLost,
            task,
        }) => println!("monitor status: node lost ({task}: {})", Exit::NodeLost),
        Ok(status) => println!("monitor status: {} {}", status.task, status.exit),
        Err(interrupt) => println!("interrupted: {interrupt}"),
    }
    true
}
// ANCHOR_END: monitor

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse(&["port", "tasks", "messages"]);
    let location: Location = args.required(0, USAGE);
    let (tasks, messages) = (args.parsed("tasks", 3), args.parsed("messages", 3));
    let monitor = args.flag("monitor");

    let config = NodeConfig::new()
        .name("remote_task_client")
        .secret(secret())
        .bind((Ipv4Addr::LOCALHOST, args.parsed("port", 0)));
    let rt = Runtime::builder()
        .node(config)
        .build()
        .expect("the node starts");

    let ok = rt.block_on(async move {
        // ANCHOR: locate
        // Connects to the node at `location` (authenticating both ways) and asks it for
        // the task registered as `server_task`.
        let server = match TaskRef::locate_at(location, "server_task", PATIENCE).await {
            Ok(server) => server,
            Err(error) => {
                println!("could not find server_task at {location}: {error}");
                return false;
            }
        };
        println!("found {server}");
        // ANCHOR_END: locate
        if monitor {
            watch(server).await
        } else {
            exchange(server, tasks, messages).await
        }
    });
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
