//! Hot swapping: replacing a running server's code while it keeps its `TaskRef`, its
//! mailbox (with the messages queued in it) and its state.
//!
//! Twin of pycos's `examples/hotswap.py` and `hotswap_funcs.py`, driven by a script
//! instead of by stdin. As in pycos, the server inspects each swap request and accepts
//! only the function it expects (here `server_v2`): the swap to `server_v3_beta` is
//! refused and the old code keeps running.
//!
//! Run it with `cargo run --example hotswap`.

use std::error::Error;
use std::time::Duration;

use rcos::task::HotSwapError;
use rcos::{Interrupt, Message, Request, TaskFn, TaskRef, task};
use serde::{Deserialize, Serialize};

const PATIENCE: Duration = Duration::from_secs(5);

/// Requests both versions of the server understand (sent with `call`).
#[derive(Debug, Serialize, Deserialize, Message)]
enum Control {
    /// Stop serving until a swap arrives (the reply comes first).
    Pause,
    /// End, answering with the number of messages served.
    Stop,
}

// ANCHOR: v1
/// Version 1: numbers the text messages it serves.
#[task]
async fn server_v1(task: TaskRef) -> Result<u32, Interrupt> {
    task.hot_swappable(true)?;
    let mut served = 0u32;
    loop {
        let msg = match task.receive().await {
            Ok(msg) => msg,
            Err(interrupt) => {
                consider_swap(interrupt, served).await?;
                continue;
            }
        };
        let control = msg
            .matcher()
            .on(|text: String| {
                served += 1;
                println!("server_v1: #{served} {text}");
                None
            })
            .on(|request: Request<Control>| Some(answer(request)))
            .otherwise(|_| None);
        match control {
            Some(Control::Stop) => return Ok(served),
            // Suspended, the server receives nothing: messages queue up. A swap request
            // still reaches it here, since `suspend` is a safe point.
            Some(Control::Pause) => {
                if let Err(interrupt) = task.suspend(None).await {
                    consider_swap(interrupt, served).await?;
                }
            }
            None => {}
        }
    }
}

/// Acknowledges a control request and returns it.
fn answer(request: Request<Control>) -> Control {
    let (control, reply_to) = request.into_parts();
    let _ = reply_to.send(());
    control
}

/// What version 1 does with an interrupt: accept a swap to `server_v2` and hand it
/// the count, refuse any other swap; any other interrupt ends the server.
async fn consider_swap(interrupt: Interrupt, served: u32) -> Result<(), Interrupt> {
    match interrupt {
        Interrupt::HotSwap(request) if request.new_name() == server_v2::NAME => {
            println!("server_v1: accepting the swap to {}", request.new_name());
            request.accept_with(served).await; // never returns: the new code takes over
            Ok(())
        }
        Interrupt::HotSwap(request) => {
            println!("server_v1: refusing the swap to {}", request.new_name());
            request.refuse();
            Ok(())
        }
        other => Err(other),
    }
}
// ANCHOR_END: v1

// ANCHOR: v2
/// Version 2: takes the count over and keeps numbering, from the queued messages on.
#[task]
async fn server_v2(task: TaskRef) -> Result<u32, Interrupt> {
    let mut served: u32 = task.swap_state().unwrap_or(0);
    println!("server_v2: running, {served} messages served before me");
    loop {
        let msg = task.receive().await?;
        let control = msg
            .matcher()
            .on(|text: String| {
                served += 1;
                println!("server_v2: #{served} {text}");
                None
            })
            .on(|request: Request<Control>| Some(answer(request)))
            .otherwise(|_| None);
        if let Some(Control::Stop) = control {
            return Ok(served);
        }
    }
}
// ANCHOR_END: v2

/// A version the server refuses to run.
#[task]
async fn server_v3_beta(task: TaskRef) {
    let _ = task.receive().await;
}

// ANCHOR: script
#[rcos::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let server = server_v1::spawn();
    println!("main: started {server}");
    for text in ["apple", "banana"] {
        server.send(text.to_string())?;
    }

    // A swap the server refuses: it keeps running its code.
    match server.hot_swap(server_v3_beta, (), PATIENCE).await {
        Err(HotSwapError::Refused) => println!("main: swap to server_v3_beta refused"),
        other => println!("main: swap to server_v3_beta: unexpected {other:?}"),
    }

    // Pause the server, queue three messages, then swap: the new code receives them.
    server.call::<_, ()>(Control::Pause, PATIENCE).await?;
    for text in ["cherry", "damson", "elderberry"] {
        server.send(text.to_string())?;
    }
    println!(
        "main: {} messages queued, swapping to server_v2",
        server.mailbox_len()
    );
    server.hot_swap(server_v2, (), PATIENCE).await?;
    println!("main: swap to server_v2 accepted; the server is now {server}");

    server.call::<_, ()>(Control::Stop, PATIENCE).await?;
    // The output is a `Result<u32, Interrupt>`, a local value (an `Interrupt` is not
    // a message): it is moved out with `take`.
    let exit = server.finish().await;
    if let Some(Ok(served)) = exit
        .value()
        .and_then(|v| v.take::<Result<u32, Interrupt>>())
    {
        println!("main: the server served {served} messages in all");
    }
    Ok(())
}
// ANCHOR_END: script
