//! A channel that a task in another program subscribes to: the server half of a pair
//! with `remote_channel_client`.
//!
//! Twin of pycos's `examples/remote_channel_server.py` and `remote_channel_client.py`.
//! The server registers the channel `2clients` and subscribes a local receiver to it;
//! the client locates the channel at the server's location and subscribes a task of its
//! own. Each message is sent with `deliver(msg, timeout, 2)`, which waits until the
//! channel has two subscribers (the local one and the remote one) and answers how many
//! tasks it reached. After ten messages an end marker tells the client to unsubscribe;
//! the client answers the sender (whose reference is inside every message) when it has.
//! The server ends after `--clients N` clients (default 1).
//!
//! ```text
//! cargo run --example remote_channel_server               # prints "listening at 127.0.0.1:PORT"
//! cargo run --example remote_channel_client -- 127.0.0.1:PORT
//! ```

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use rcos::channel::Channel;
use rcos::net::NodeConfig;
use rcos::task::MonitorStatus;
use rcos::{Message, Runtime, TaskRef, task};
use rcos_examples::{Args, print_listening, secret};
use serde::{Deserialize, Serialize};

/// How many messages each client gets.
const MESSAGES: usize = 10;

/// How long `deliver` waits for the second subscriber.
const WAIT: Duration = Duration::from_secs(30);

// ANCHOR: messages
/// What goes through the channel (pycos's `{'msg': ..., 'sender': task}`); `text: None`
/// ends a client's round.
#[derive(Clone, Debug, Serialize, Deserialize, Message)]
struct Note {
    text: Option<String>,
    sender: TaskRef,
}

/// A client's answer to the end marker: it has unsubscribed (`client` is the task
/// that was subscribed).
#[derive(Debug, Serialize, Deserialize, Message)]
struct Unsubscribed {
    received: usize,
    client: TaskRef,
}
// ANCHOR_END: messages

/// The server's own subscriber: prints what it receives until it is terminated.
#[task(daemon)]
async fn receiver_proc(task: TaskRef) {
    while let Ok(note) = task.receive_type::<Note>().await {
        if let Some(text) = note.text {
            println!("  local receiver got \"{text}\"");
        }
    }
}

// ANCHOR: deliver
/// Sends `MESSAGES` notes to each of `clients` successive clients, each once the channel
/// has its two subscribers. Returns whether every note reached both.
async fn sender(channel: Channel, clients: usize) -> bool {
    let me = TaskRef::current().expect("runs as a task");
    for client in 1..=clients {
        println!("waiting for client {client} to subscribe");
        for i in 0..MESSAGES {
            let note = Note {
                text: Some(format!("message {i}")),
                sender: me.clone(),
            };
            // Waits (up to WAIT) until two tasks are subscribed, then sends to all
            // of them and answers how many it reached.
            match channel.deliver(note, WAIT, 2).await {
                Ok(0) => {
                    println!("no second subscriber within {WAIT:?}");
                    return false;
                }
                Ok(n) => println!("delivered message {i} to {n} subscribers"),
                Err(error) => {
                    println!("deliver failed: {error}");
                    return false;
                }
            }
        }
        // The end of this client's round; it answers once it has unsubscribed, so the
        // next round waits for the next client.
        let end = Note {
            text: None,
            sender: me.clone(),
        };
        if let Err(error) = channel.send(end) {
            println!("send failed: {error}");
            return false;
        }
        let Ok(Some(done)) = me.receive_type_timeout::<Unsubscribed>(WAIT).await else {
            println!("client {client} did not unsubscribe within {WAIT:?}");
            return false;
        };
        println!(
            "client {client} unsubscribed after {} messages",
            done.received
        );
        // Wait for the client's task to end (or its node to go): the next round, or the
        // end of this server, comes after the client has finished with it.
        if me.monitor(&done.client).is_ok() {
            let _ = me.receive_type_timeout::<MonitorStatus>(WAIT).await;
        }
    }
    true
}
// ANCHOR_END: deliver

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse(&["port", "clients"]);
    let clients: usize = args.parsed("clients", 1);
    let config = NodeConfig::new()
        .name("remote_channel_server")
        .secret(secret())
        .bind((Ipv4Addr::LOCALHOST, args.parsed("port", 0)));
    let rt = Runtime::builder()
        .node(config)
        .build()
        .expect("the node starts");

    let ok = rt.block_on(async move {
        // ANCHOR: channel
        // A channel, published so that other nodes can locate it by name.
        let channel = Channel::new("2clients").expect("the name is free");
        channel.register().expect("the channel is open");
        let receiver = receiver_proc::spawn();
        channel
            .subscribe(&receiver)
            .await
            .expect("the channel is open");
        // ANCHOR_END: channel
        if let Some(location) = rcos::Handle::current().and_then(|rt| rt.location()) {
            print_listening(location);
        }
        let ok = sender(channel.clone(), clients).await;
        channel.close();
        receiver.terminate();
        ok
    });
    if ok {
        let plural = if clients == 1 { "" } else { "s" };
        println!("served {clients} client{plural}");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
