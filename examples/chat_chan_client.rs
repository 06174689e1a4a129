//! A chat client for `chat_chan_server`: joins, subscribes to the server's channel, then
//! sends each line typed to the channel and prints the others' lines as the channel's
//! transform rewrote them. `quit`, `exit` or the end of input leaves.
//!
//! Twin of pycos's `examples/chat_chan_client.py`. Reading the terminal blocks, so it
//! runs on an `AsyncThreadPool` thread while the receiving task goes on printing.
//!
//! ```text
//! cargo run --example chat_chan_server                    # prints "listening at 127.0.0.1:PORT"
//! cargo run --example chat_chan_client -- 127.0.0.1:PORT  # in two or more terminals
//! ```

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use rcos::channel::Channel;
use rcos::net::{Location, NodeConfig};
use rcos::pool::AsyncThreadPool;
use rcos::{Message, Runtime, TaskRef, task};
use rcos_examples::{Args, secret};
use serde::{Deserialize, Serialize};

/// How long to look for the server and wait for its answers.
const PATIENCE: Duration = Duration::from_secs(10);

/// The same types as `chat_chan_server`'s.
#[derive(Clone, Debug, Serialize, Deserialize, Message)]
struct ChatLine {
    text: String,
    from: u32,
}

/// What clients tell the server task.
#[derive(Debug, Serialize, Deserialize, Message)]
enum ToServer {
    Join { who: TaskRef },
    Quit { id: u32 },
}

/// This client's number.
#[derive(Debug, Serialize, Deserialize, Message)]
struct Welcome {
    id: u32,
}

/// Reads one line of stdin (blocking): `None` at the end of input.
fn read_line() -> Option<String> {
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_string()),
    }
}

/// Prints the lines of the other clients.
#[task(daemon)]
async fn recv_proc(task: TaskRef, me: u32) {
    while let Ok(line) = task.receive_type::<ChatLine>().await {
        if line.from != me {
            println!("    {} {}", line.from, line.text);
        }
    }
}

// ANCHOR: client
/// Joins the chat at `location`, then sends what is typed until `quit`.
async fn chat(location: Location) -> Result<(), String> {
    let server = TaskRef::locate_at(location, "chat_server", PATIENCE)
        .await
        .map_err(|e| format!("could not find the chat server at {location}: {e}"))?;
    let me = TaskRef::current().expect("runs as a task");
    let _ = server.send(ToServer::Join { who: me.clone() });
    let Ok(Some(Welcome { id })) = me.receive_type_timeout::<Welcome>(PATIENCE).await else {
        return Err("the server did not answer".into());
    };
    // The channel lives where the server task does.
    let at = server.location().unwrap_or(location);
    let channel = Channel::locate_at(at, "chat_channel", PATIENCE)
        .await
        .map_err(|e| format!("no chat channel at {at}: {e}"))?;
    let receiver = recv_proc::spawn(id);
    channel
        .subscribe(&receiver)
        .await
        .map_err(|e| format!("subscribe failed: {e}"))?;
    println!("joined as client {id}");

    let keyboard = AsyncThreadPool::new(1);
    while let Ok(Some(line)) = keyboard.run(read_line).await {
        if matches!(line.as_str(), "quit" | "exit") {
            break;
        }
        // To the channel, on the server's node: its transform, then every subscriber.
        if let Err(error) = channel.send(ChatLine {
            text: line,
            from: id,
        }) {
            println!("not sent: {error}");
        }
    }
    // Acknowledged, so it has arrived before this program ends.
    let _ = server.deliver(ToServer::Quit { id }, PATIENCE).await;
    let _ = channel.unsubscribe(&receiver).await;
    receiver.terminate();
    println!("left the chat");
    Ok(())
}
// ANCHOR_END: client

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse(&["port"]);
    let location: Location = args.required(0, "chat_chan_client LOCATION");
    let config = NodeConfig::new()
        .name("chat_chan_client")
        .secret(secret())
        .bind((Ipv4Addr::LOCALHOST, args.parsed("port", 0)));
    let rt = Runtime::builder()
        .node(config)
        .build()
        .expect("the node starts");
    match rt.block_on(chat(location)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            println!("{error}");
            ExitCode::FAILURE
        }
    }
}
