//! Request/reply, two ways.
//!
//! 1. rcos's [`TaskRef::call`]: the caller sends a typed request and waits, with a
//!    timeout that is always finite, for the reply, which goes straight back to it. A
//!    slow server makes the call time out, and the server learns that the caller gave
//!    up.
//! 2. The pycos way (twin of pycos's `examples/pico_client_task.py` and
//!    `pico_service_task.py`): the request carries the caller's `TaskRef` and an id,
//!    the service sends the reply as an ordinary message, and the caller picks the
//!    reply with that id out of its mailbox with `receive_where`.
//!
//! Run it with `cargo run --example request_reply`.

use std::collections::BTreeMap;
use std::error::Error;
use std::time::Duration;

use rcos::{CallError, Message, Request, TaskRef, task};
use serde::{Deserialize, Serialize};

// ANCHOR: kv_types
/// What the key-value server can be asked.
#[derive(Debug, Serialize, Deserialize, Message)]
enum KvRequest {
    Put {
        key: String,
        value: String,
    },
    Get {
        key: String,
    },
    /// Takes `millis` to answer: a slow request.
    Slow {
        millis: u64,
    },
}

/// Its answers.
#[derive(Debug, PartialEq, Serialize, Deserialize, Message)]
enum KvReply {
    Stored { previous: Option<String> },
    Value(Option<String>),
    Done,
}
// ANCHOR_END: kv_types

// ANCHOR: kv_server
#[task(daemon)]
async fn kv_server(task: TaskRef) {
    let mut map = BTreeMap::new();
    while let Ok(msg) = task.receive().await {
        let request = match msg.downcast::<Request<KvRequest>>() {
            Ok(request) => request,
            Err(other) => {
                tracing::warn!("kv_server: ignored a {}", other.type_name());
                continue;
            }
        };
        let (body, reply_to) = request.into_parts();
        let reply = match body {
            KvRequest::Put { key, value } => KvReply::Stored {
                previous: map.insert(key, value),
            },
            KvRequest::Get { key } => KvReply::Value(map.get(&key).cloned()),
            KvRequest::Slow { millis } => {
                rcos::time::sleep(Duration::from_millis(millis)).await;
                KvReply::Done
            }
        };
        if let Err(error) = reply_to.send(reply) {
            // The caller timed out: the reply is handed back, not lost silently.
            let why = error.to_string();
            println!("kv_server: {why} (the reply was {:?})", error.into_inner());
        }
    }
}
// ANCHOR_END: kv_server

// ANCHOR: pico_types
/// A request in pycos's style: who to answer, and an id to match the answer with.
#[derive(Debug, Serialize, Deserialize, Message)]
struct PicoRequest {
    id: u32,
    reply_to: TaskRef,
    n: u64,
}

#[derive(Debug, Serialize, Deserialize, Message)]
struct PicoReply {
    id: u32,
    square: u64,
}

/// Answers each request with the square of its number.
#[task(daemon)]
async fn pico_service(task: TaskRef) {
    while let Ok(request) = task.receive_type::<PicoRequest>().await {
        let reply = PicoReply {
            id: request.id,
            square: request.n * request.n,
        };
        let _ = request.reply_to.send(reply); // the caller may have ended: fine
    }
}
// ANCHOR_END: pico_types

#[rcos::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    // ANCHOR: call
    let kv = kv_server::spawn();
    let timeout = Duration::from_secs(5);
    let put = KvRequest::Put {
        key: "lang".into(),
        value: "Python".into(),
    };
    let reply: KvReply = kv.call(put, timeout).await?;
    println!("put lang=Python: {reply:?}");
    let put = KvRequest::Put {
        key: "lang".into(),
        value: "Rust".into(),
    };
    let reply: KvReply = kv.call(put, timeout).await?;
    println!("put lang=Rust: {reply:?}");
    let get = KvRequest::Get { key: "lang".into() };
    let reply: KvReply = kv.call(get, timeout).await?;
    println!("get lang: {reply:?}");

    // The server takes 500 ms to answer this one; the caller waits only 100 ms.
    let slow = KvRequest::Slow { millis: 500 };
    match kv
        .call::<_, KvReply>(slow, Duration::from_millis(100))
        .await
    {
        Err(CallError::Timeout) => println!("slow request: no reply within 100 ms"),
        other => println!("slow request: unexpected {other:?}"),
    }
    // The server answers requests in order: this one waits for the slow one.
    let get = KvRequest::Get { key: "lang".into() };
    let reply: KvReply = kv.call(get, timeout).await?;
    println!("get lang again: {reply:?}");
    // ANCHOR_END: call

    // ANCHOR: pico
    let me = TaskRef::current().expect("main runs as a task");
    let pico = pico_service::spawn();
    for (id, n) in [(1, 3), (2, 4), (3, 5)] {
        let reply_to = me.clone();
        pico.send(PicoRequest { id, reply_to, n })?;
    }
    // Take the replies in the order we want; the others wait in the mailbox.
    for wanted in [3, 1, 2] {
        let reply = me.receive_where(|r: &PicoReply| r.id == wanted).await?;
        println!("pico reply {}: {}", reply.id, reply.square);
    }
    // pycos's `receive(timeout)` when no reply comes: a reply with id 9 never will.
    let never = me.receive_where(|r: &PicoReply| r.id == 9);
    if rcos::time::timeout(Duration::from_millis(100), never)
        .await
        .is_err()
    {
        println!("pico reply 9: none within 100 ms");
    }
    // Where pycos's send to a dead task goes nowhere, rcos hands the message back.
    pico.terminate();
    pico.finish().await;
    let request = PicoRequest {
        id: 4,
        reply_to: me.clone(),
        n: 6,
    };
    if let Err(error) = pico.send(request) {
        println!("pico request 4: {error}");
    }
    // ANCHOR_END: pico
    Ok(())
}
