//! A chat over a channel: the server half of a pair with `chat_chan_client`.
//!
//! Twin of pycos's `examples/chat_chan_server.py`. The server registers a task,
//! `chat_server`, that hands out client numbers, and a channel, `chat_channel`, with a
//! *transform* that rewrites every line on its way through: shouting (a line in
//! capitals) is dropped, `joined` and `bye` become `joined :-)` and `left :-(`, and
//! anything else becomes `says: ...`. Clients locate the channel at the server task's
//! location, subscribe to it and send their lines to it; every subscriber receives
//! them. A local logger subscribes too and prints what goes through. The server ends
//! after `--clients N` clients (default 2) have left.
//!
//! ```text
//! cargo run --example chat_chan_server                    # prints "listening at 127.0.0.1:PORT"
//! cargo run --example chat_chan_client -- 127.0.0.1:PORT  # in two or more terminals
//! ```

use std::net::Ipv4Addr;
use std::process::ExitCode;

use rcos::channel::Channel;
use rcos::net::NodeConfig;
use rcos::{Message, Runtime, TaskRef, task};
use rcos_examples::{Args, print_listening, secret};
use serde::{Deserialize, Serialize};

// ANCHOR: messages
/// A line of chat: its text and the number of the client it is from.
#[derive(Clone, Debug, Serialize, Deserialize, Message)]
struct ChatLine {
    text: String,
    from: u32,
}

/// What clients tell the server task.
#[derive(Debug, Serialize, Deserialize, Message)]
enum ToServer {
    /// A new client: answer it with a [`Welcome`].
    Join { who: TaskRef },
    /// Client `id` leaves.
    Quit { id: u32 },
}

/// A client's number.
#[derive(Debug, Serialize, Deserialize, Message)]
struct Welcome {
    id: u32,
}
// ANCHOR_END: messages

/// Tells the logger that the chat is over.
#[derive(Debug, Serialize, Deserialize, Message)]
struct Closing;

// ANCHOR: transform
/// The channel's transform: drops shouting, rewrites the rest.
fn rewrite(_channel: &str, line: ChatLine) -> Option<ChatLine> {
    let shouting =
        line.text.chars().any(char::is_alphabetic) && line.text == line.text.to_uppercase();
    if shouting {
        return None;
    }
    let text = match line.text.as_str() {
        "joined" => "joined :-)".to_string(),
        "bye" => "left :-(".to_string(),
        text => format!("says: {text}"),
    };
    Some(ChatLine { text, ..line })
}
// ANCHOR_END: transform

/// Prints every line that goes through the channel, until [`Closing`]; returns how
/// many it saw.
#[task]
async fn logger(task: TaskRef) -> u32 {
    let mut lines = 0;
    while let Ok(msg) = task.receive().await {
        match msg.downcast::<ChatLine>() {
            Ok(line) => {
                println!("[chat] {} {}", line.from, line.text);
                lines += 1;
            }
            Err(other) if other.is::<Closing>() => break,
            Err(_) => {}
        }
    }
    lines
}

// ANCHOR: server
/// Registered as `chat_server`: numbers the clients and announces arrivals and
/// departures on the channel, until `clients` clients have left.
#[task]
async fn chat_server(task: TaskRef, channel: Channel, clients: usize) {
    task.register("chat_server")
        .expect("the name chat_server is free");
    let (mut next_id, mut left) = (1, 0);
    while left < clients {
        let Ok(msg) = task.receive_type::<ToServer>().await else {
            break;
        };
        match msg {
            ToServer::Join { who } => {
                let _ = channel.send(ChatLine {
                    text: "joined".into(),
                    from: next_id,
                });
                let _ = who.send(Welcome { id: next_id });
                next_id += 1;
            }
            ToServer::Quit { id } => {
                let _ = channel.send(ChatLine {
                    text: "bye".into(),
                    from: id,
                });
                left += 1;
            }
        }
    }
}
// ANCHOR_END: server

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse(&["port", "clients"]);
    let clients: usize = args.parsed("clients", 2);
    let config = NodeConfig::new()
        .name("chat_chan_server")
        .secret(secret())
        .bind((Ipv4Addr::LOCALHOST, args.parsed("port", 0)));
    let rt = Runtime::builder()
        .node(config)
        .build()
        .expect("the node starts");

    let lines = rt.block_on(async move {
        // ANCHOR: channel
        let channel = Channel::new("chat_channel").expect("the name is free");
        channel
            .set_transform(rewrite)
            .expect("a local channel takes a transform");
        channel.register().expect("the channel is open");
        // ANCHOR_END: channel
        let log = logger::spawn();
        channel.subscribe(&log).await.expect("the channel is open");
        let server = chat_server::spawn(channel.clone(), clients);
        if let Some(location) = rcos::Handle::current().and_then(|rt| rt.location()) {
            print_listening(location);
        }
        server.finish().await;
        channel.close();
        // After everything the channel sent it: the mailbox keeps their order.
        let _ = log.send(Closing);
        log.finish().await.get::<u32>()
    });
    println!("chat server done: {} lines", lines.unwrap_or(0));
    ExitCode::SUCCESS
}
