//! Messages in detail: deriving `Message` and wire names, dispatching on a received
//! message's type, local-only values, bounded mailboxes and their overflow policies,
//! and the `tracing` span that travels with each message. The Messages chapter of the
//! book is built from it.
//!
//! Run it with `cargo run --example messages`.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use rcos::task::{Builder, Overflow};
use rcos::{Envelope, Message, SendErrorKind, TaskRef, task};
use serde::{Deserialize, Serialize};

// ANCHOR: derive
/// A message: serde's two traits plus `Message`, which gives it a wire name.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
struct Order {
    id: u32,
    items: Vec<String>,
}

/// The wire name can be set: to version a message, or keep it across a rename.
#[derive(Debug, Serialize, Deserialize, Message)]
#[message(name = "shop.v2.Cancel")]
struct Cancel {
    id: u32,
}
// ANCHOR_END: derive

// ANCHOR: matcher
/// Describes any message it is given, by type.
fn describe(msg: Envelope) -> String {
    msg.matcher()
        .on(|order: Order| format!("order {} with {} items", order.id, order.items.len()))
        .on(|Cancel { id }: Cancel| format!("cancellation of order {id}"))
        .on(|n: u64| format!("the number {n}"))
        .on_any(|shared: Arc<Vec<u8>>| format!("a shared buffer of {} bytes", shared.len()))
        .otherwise(|other| format!("something else: a {}", other.type_name()))
}
// ANCHOR_END: matcher

// ANCHOR: packer
/// Handles each order inside the span it was sent from, so its logs (and the messages
/// it sends) belong to the same request. Anything but an order stops it.
#[task]
async fn packer(task: TaskRef) {
    while let Ok(msg) = task.receive().await {
        let _request = msg.span().clone().entered();
        match msg.downcast::<Order>() {
            Ok(order) => tracing::info!("packing {} items", order.items.len()),
            Err(_) => break,
        }
    }
}
// ANCHOR_END: packer

#[rcos::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    // Logs go to stdout here, without time stamps, to show the spans.
    tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .without_time()
        .with_ansi(false)
        .with_target(false)
        .init();
    let me = TaskRef::current().expect("main runs as a task");

    // ANCHOR: wire_names
    println!(
        "wire names: {}, {}, {}",
        Order::wire_name(),
        Cancel::wire_name(),
        <Vec<Option<u8>>>::wire_name()
    );
    // ANCHOR_END: wire_names

    // ANCHOR: dispatch
    let order = Order {
        id: 1,
        items: vec!["tea".into(), "scones".into()],
    };
    me.send(order.clone())?;
    me.send(Cancel { id: 1 })?;
    me.send(7u64)?; // an integer literal needs its type: `7` alone would be an i32
    me.send(true)?;
    // Not a message (an `Arc` cannot be serialized), but fine between local tasks.
    me.send_local(Arc::new(vec![0u8; 512]))?;
    while let Some(msg) = me.try_receive()? {
        println!("received {}", describe(msg));
    }
    // ANCHOR_END: dispatch

    // ANCHOR: downcast
    me.send(order)?;
    let msg = me.receive().await?;
    assert!(msg.is::<Order>());
    // A wrong guess hands the envelope back: nothing is lost.
    let msg = msg.downcast::<Cancel>().unwrap_err();
    let order = msg.downcast::<Order>().expect("it is an order");
    println!("downcast: order {} for {:?}", order.id, order.items);
    // ANCHOR_END: downcast

    // ANCHOR: bounded
    // A mailbox for two messages that refuses the third...
    let strict = Builder::new()
        .name("strict")
        .mailbox(2, Overflow::Fail)
        .spawn(|task| async move { task.suspend(None).await.map(|_| ()) });
    for n in 1..=3u64 {
        match strict.send(n) {
            Ok(()) => println!("strict: message {n} queued"),
            Err(error) if error.kind() == SendErrorKind::Full => {
                // The message comes back with the error.
                let why = error.to_string();
                println!("strict: {why}; got {} back", error.into_inner())
            }
            Err(error) => return Err(error.into()),
        }
    }
    // ...and one that drops it, and counts.
    let lossy = Builder::new()
        .name("lossy")
        .mailbox(2, Overflow::DropNewest)
        .spawn(|task| async move { task.suspend(None).await.map(|_| ()) });
    for n in 1..=5u64 {
        lossy.send(n)?; // never fails for a full mailbox
    }
    println!(
        "lossy: {} queued, {} dropped",
        lossy.mailbox_len(),
        lossy.dropped_messages()
    );
    // With `Overflow::Wait`, `deliver` waits for room, up to its timeout.
    let patient = Builder::new()
        .name("patient")
        .mailbox(1, Overflow::Wait)
        .spawn(|task| async move { task.suspend(None).await.map(|_| ()) });
    patient.deliver(1u64, Duration::from_millis(50)).await?;
    let second = patient.deliver(2u64, Duration::from_millis(50)).await;
    println!("patient: second delivery: {}", second.unwrap_err());
    for task in [strict, lossy, patient] {
        task.terminate();
    }
    // ANCHOR_END: bounded

    // ANCHOR: spans
    let packing = packer::spawn();
    let span = tracing::info_span!("order", id = 42);
    span.in_scope(|| {
        tracing::info!("accepted");
        packing.send(Order {
            id: 42,
            items: vec!["jam".into()],
        })
    })?;
    // ANCHOR_END: spans
    packing.send("stop".to_string())?;
    packing.finish().await;
    Ok(())
}
