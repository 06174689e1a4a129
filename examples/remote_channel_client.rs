//! Subscribes a task of this program to the channel `remote_channel_server` registered,
//! and prints what arrives through it until the server's end marker.
//!
//! Twin of pycos's `examples/remote_channel_client.py`; see `remote_channel_server` for
//! the whole story.
//!
//! ```text
//! cargo run --example remote_channel_server               # prints "listening at 127.0.0.1:PORT"
//! cargo run --example remote_channel_client -- 127.0.0.1:PORT
//! ```

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use rcos::channel::Channel;
use rcos::net::{Location, NodeConfig};
use rcos::{Message, Runtime, TaskRef};
use rcos_examples::{Args, secret};
use serde::{Deserialize, Serialize};

/// How long to look for the channel, and to wait for each message.
const PATIENCE: Duration = Duration::from_secs(30);

/// The same types as `remote_channel_server`'s.
#[derive(Clone, Debug, Serialize, Deserialize, Message)]
struct Note {
    text: Option<String>,
    sender: TaskRef,
}

/// Tells the sender this client has unsubscribed.
#[derive(Debug, Serialize, Deserialize, Message)]
struct Unsubscribed {
    received: usize,
    client: TaskRef,
}

// ANCHOR: subscribe
/// Subscribes the calling task to the channel at `location` and prints the notes it
/// gets; at the end marker, unsubscribes and tells the sender.
async fn receive_notes(location: Location) -> Result<usize, String> {
    let channel = Channel::locate_at(location, "2clients", PATIENCE)
        .await
        .map_err(|e| format!("could not find the channel at {location}: {e}"))?;
    let me = TaskRef::current().expect("runs as a task");
    // The subscription is a request to the channel's node, answered once it is made.
    channel
        .subscribe(&me)
        .await
        .map_err(|e| format!("subscribe failed: {e}"))?;
    println!("subscribed to {} at {location}", channel.name());
    let mut received = 0;
    loop {
        let note = match me.receive_type_timeout::<Note>(PATIENCE).await {
            Ok(Some(note)) => note,
            _ => return Err(format!("nothing arrived within {PATIENCE:?}")),
        };
        match note.text {
            Some(text) => {
                println!("received \"{text}\" from {}", note.sender);
                received += 1;
            }
            None => {
                channel
                    .unsubscribe(&me)
                    .await
                    .map_err(|e| format!("unsubscribe failed: {e}"))?;
                println!("unsubscribed after {received} messages");
                note.sender
                    .deliver(
                        Unsubscribed {
                            received,
                            client: me.clone(),
                        },
                        PATIENCE,
                    )
                    .await
                    .map_err(|e| format!("could not tell the sender: {e}"))?;
                return Ok(received);
            }
        }
    }
}
// ANCHOR_END: subscribe

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse(&["port"]);
    let location: Location = args.required(0, "remote_channel_client LOCATION");
    let config = NodeConfig::new()
        .name("remote_channel_client")
        .secret(secret())
        .bind((Ipv4Addr::LOCALHOST, args.parsed("port", 0)));
    let rt = Runtime::builder()
        .node(config)
        .build()
        .expect("the node starts");
    match rt.block_on(receive_notes(location)) {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            println!("{error}");
            ExitCode::FAILURE
        }
    }
}
