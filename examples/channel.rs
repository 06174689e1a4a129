//! Broadcast channels: a channel sends each message to every task subscribed to it.
//!
//! Twin of pycos's `examples/channel.py` (a client broadcasts numbers to a task that
//! adds them up and one that multiplies them), followed by what pycos shows in other
//! examples: a transform that drops or rewrites messages (`chat_chan_server.py`), a
//! subscriber's mailbox mixing channel and direct messages, `deliver` waiting for
//! subscribers (`remote_channel_server.py`, here in one program), `locate`, and the
//! errors.
//!
//! Run it with `cargo run --example channel`.

use std::time::Duration;

use rcos::channel::{Channel, ChannelError};
use rcos::{TaskRef, task};

// ANCHOR: seqsum
/// Adds up the numbers received until `None`, like pycos's `seqsum`.
#[task]
async fn seqsum(task: TaskRef) -> f64 {
    let mut result = 0.0;
    while let Ok(Some(x)) = task.receive_type::<Option<f64>>().await {
        result += x;
    }
    println!("sum: {result:.6}");
    result
}

/// Multiplies the numbers received until `None`, like pycos's `seqprod`.
#[task]
async fn seqprod(task: TaskRef) -> f64 {
    let mut result = 1.0;
    while let Ok(Some(x)) = task.receive_type::<Option<f64>>().await {
        result *= x;
    }
    println!("prod: {result:.6}");
    result
}
// ANCHOR_END: seqsum

// ANCHOR: client
/// pycos's `client_proc`: two subscribers, four numbers, then `None` to end them.
async fn client_proc() -> Result<(), ChannelError> {
    let channel = Channel::new("sum_prod")?;
    let sum_task = seqsum::spawn();
    let prod_task = seqprod::spawn();
    channel.subscribe(&sum_task).await?;
    channel.subscribe(&prod_task).await?;
    // pycos draws them at random; fixed numbers make the output the same every run.
    for x in [1.5, 0.5, 2.25, 3.0] {
        channel.send(Some(x))?;
        println!("sent {x:.6}");
    }
    channel.send(None::<f64>)?;
    channel.unsubscribe(&sum_task).await?;
    channel.unsubscribe(&prod_task).await?;
    // Wait for both, so that their lines come before the next section's.
    sum_task.finish().await;
    prod_task.finish().await;
    Ok(())
}
// ANCHOR_END: client

// ANCHOR: listener
/// Prints every line it receives, from the channel or sent to it directly, in the
/// order they arrive; a `u32` is printed too. Ends at `"end"`.
#[task]
async fn listener(task: TaskRef) -> usize {
    let mut heard = 0;
    while let Ok(msg) = task.receive().await {
        let done = msg
            .matcher()
            .on(|line: String| {
                println!("listener: {line}");
                line == "end"
            })
            .on(|n: u32| {
                println!("listener: the number {n}");
                false
            })
            .otherwise(|_| false);
        heard += 1;
        if done {
            break;
        }
    }
    heard
}
// ANCHOR_END: listener

/// A transform, one-to-many order, and one mailbox for everything.
async fn transform_demo() -> Result<(), ChannelError> {
    // ANCHOR: transform
    let chat = Channel::new("chat")?;
    // Like `chat_chan_server.py`: drop SHOUTING, rewrite "bye", tag the rest.
    chat.set_transform(|name: &str, line: String| {
        let (who, text) = line.split_once(": ")?;
        if text.chars().any(char::is_alphabetic) && text.to_uppercase() == text {
            None // dropped: no subscriber gets it
        } else if text == "bye" {
            Some(format!("[{name}] {who} left"))
        } else {
            Some(format!("[{name}] {line}"))
        }
    })?;
    let ear = listener::spawn();
    chat.subscribe(&ear).await?;

    chat.send("ada: hello".to_string())?;
    chat.send("bob: HELLO!!!".to_string())?; // dropped by the transform
    ear.send("a direct message, between two channel messages".to_string())
        .expect("the listener is alive");
    chat.send(7u32)?; // not a String: passes the transform unchanged
    chat.send("bob: bye".to_string())?;
    // A line without ": " makes the transform return `None` too; send the end
    // directly instead.
    ear.send("end".to_string()).expect("the listener is alive");
    let heard = ear.finish().await.get::<usize>().unwrap_or(0);
    println!("the listener received {heard} messages");
    // ANCHOR_END: transform
    Ok(())
}

/// `deliver` waits for subscribers and counts them; `locate` finds a channel by name.
async fn deliver_demo() -> Result<(), ChannelError> {
    // ANCHOR: deliver
    let news = Channel::new("news")?;
    // A subscriber that comes later, finding the channel by its name.
    let reader = rcos::spawn(|task| async move {
        let news = Channel::locate("news", Duration::from_secs(5))
            .await
            .expect("the channel exists");
        news.subscribe(&task).await.expect("the channel is open");
        task.receive_type::<String>().await.ok()
    });
    // Waits until at least 1 subscriber is there, then sends: it reached 1 task.
    let reached = news
        .deliver("extra! extra!".to_string(), Duration::from_secs(5), 1)
        .await?;
    println!("deliver(n = 1) reached {reached} task(s)");
    let got = reader.finish().await.get::<Option<String>>().flatten();
    println!("the reader got {got:?}");
    // Nobody else subscribes: waiting for 2 subscribers times out, nothing is sent.
    let reached = news
        .deliver("anyone?".to_string(), Duration::from_millis(100), 2)
        .await?;
    println!("deliver(n = 2) reached {reached} task(s) after its timeout");
    // ANCHOR_END: deliver
    Ok(())
}

/// What fails, and how.
async fn errors_demo() {
    // ANCHOR: errors
    let first = Channel::new("alerts").expect("a new name");
    // Names are unique per runtime (pycos warns and leaves the second one unregistered).
    match Channel::new("alerts") {
        Err(error) => println!("second channel \"alerts\": {error}"),
        Ok(_) => unreachable!("the name is taken"),
    }
    first.close();
    match first.send("too late".to_string()) {
        Err(error) => println!("send after close: {error}"),
        Ok(()) => unreachable!("the channel is closed"),
    }
    // A closed (or dropped) channel's name is free again.
    let second = Channel::new("alerts").expect("the name is free again");
    println!("a new channel takes the name: {second}");
    // ANCHOR_END: errors
}

#[rcos::main]
async fn main() {
    println!("== sum and product over a channel");
    client_proc().await.expect("the channel works");
    println!("== a transform, and one mailbox");
    transform_demo().await.expect("the channel works");
    println!("== deliver and locate");
    deliver_demo().await.expect("the channel works");
    println!("== errors");
    errors_demo().await;
}
