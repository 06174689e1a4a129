//! The shape of a ractor, kameo or actix actor, written as an rcos task: the state is a
//! struct with a method per message, the task's loop receives and dispatches, `Drop`
//! plays the part of `post_stop`, and a supervisor restarts the task under its name.
//! The book's appendix "Coming from ractor, kameo or actix" walks through it.
//!
//! Run it with `cargo run --example actor_style`.

use std::error::Error;
use std::time::Duration;

use rcos::supervisor::{ChildSpec, Supervisor};
use rcos::{Message, Request, TaskRef, task};
use serde::{Deserialize, Serialize};

const PATIENCE: Duration = Duration::from_secs(5);

// ANCHOR: messages
/// Changes the count: sent with `send` (a cast, a tell).
#[derive(Debug, Serialize, Deserialize, Message)]
enum CounterMsg {
    Increment(i64),
    Decrement(i64),
}

/// Asks for the count: sent with `call` (a call, an ask); the reply is an `i64`.
#[derive(Debug, Serialize, Deserialize, Message)]
struct GetCount;

/// Stops the counter, which returns its count.
#[derive(Debug, Serialize, Deserialize, Message)]
struct Stop;
// ANCHOR_END: messages

// ANCHOR: state
/// The actor's state, with a method per message it handles.
struct Counter {
    me: String,
    count: i64,
}

impl Counter {
    fn handle(&mut self, msg: CounterMsg) {
        match msg {
            CounterMsg::Increment(n) => self.count += n,
            CounterMsg::Decrement(n) => self.count -= n,
        }
    }
}

/// `post_stop`: runs however the task ends — it returned, panicked or was terminated.
impl Drop for Counter {
    fn drop(&mut self) {
        println!("{}: stopped at {}", self.me, self.count);
    }
}
// ANCHOR_END: state

// ANCHOR: task
/// The actor itself: `pre_start` is the code before the loop, `handle` the loop.
#[task]
async fn counter(task: TaskRef, start: i64) -> i64 {
    let mut state = Counter {
        me: task.to_string(),
        count: start,
    };
    while let Ok(msg) = task.receive().await {
        let go_on = msg
            .matcher()
            .on(|msg: CounterMsg| {
                state.handle(msg);
                true
            })
            .on(|request: Request<GetCount>| {
                let _ = request.reply(state.count);
                true
            })
            .on(|Stop: Stop| false)
            .otherwise(|other| {
                println!("{}: ignored a {}", state.me, other.type_name());
                true
            });
        if !go_on {
            break;
        }
    }
    state.count
}
// ANCHOR_END: task

#[rcos::main(workers = 1)]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    // ANCHOR: main
    let c = counter::spawn(0); // Actor::spawn, start(): returns the reference at once
    c.send(CounterMsg::Increment(5))?; // cast!, tell, do_send
    c.send(CounterMsg::Decrement(2))?;
    let count: i64 = c.call(GetCount, PATIENCE).await?; // call!, ask, send().await
    println!("count: {count}");
    c.send(Stop)?;
    let exit = c.finish().await; // the JoinHandle, and the actor's final result
    println!("{c} returned {:?}", exit.get::<i64>());
    // ANCHOR_END: main

    // ANCHOR: supervised
    let supervisor = Supervisor::builder()
        .child(ChildSpec::task("counter", counter, || (100,)).register("counter"))
        .spawn();
    let first = TaskRef::locate("counter", PATIENCE).await?; // where_is, lookup
    first.send(CounterMsg::Increment(1))?;
    let count: i64 = first.call(GetCount, PATIENCE).await?;
    println!("{first} counts {count}");
    first.terminate(); // kill(); a panic would do the same
    let status = first.finish().await;
    println!("{first} ended: {status}");
    let second = TaskRef::locate("counter", PATIENCE).await?;
    let count: i64 = second.call(GetCount, PATIENCE).await?;
    println!("the supervisor restarted it as {second}, at {count}");
    rcos::supervisor::shutdown(&supervisor, PATIENCE).await?;
    // ANCHOR_END: supervised
    Ok(())
}
