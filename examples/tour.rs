//! A tour of rcos in one program: tasks spawned from `#[task]` functions, messages and
//! `call`, selective receive, hot swapping a running server that keeps its queued
//! messages, a monitor that sees a crash, and a supervisor that restarts a worker.
//! It prints a short narrated transcript.
//!
//! Run it with `cargo run --example tour`.
//!
//! The tour runs on one worker thread (`workers = 1`): pycos's semantics, one task at a
//! time, so the transcript reads the same on every run. Without `workers = 1` the same
//! program spreads its tasks over every core.

use std::error::Error;
use std::time::Duration;

use rcos::supervisor::{ChildSpec, Supervisor};
use rcos::task::MonitorStatus;
use rcos::{Interrupt, Message, Request, TaskFn, TaskRef, task};
use serde::{Deserialize, Serialize};

/// How long the tour waits for an answer that should come at once.
const PATIENCE: Duration = Duration::from_secs(5);

// ANCHOR: messages
/// Adds to the counter's total.
#[derive(Debug, Serialize, Deserialize, Message)]
struct Add(u64);

/// Asks the counter for its total (sent with `call`, which wraps it in a `Request`).
#[derive(Debug, Serialize, Deserialize, Message)]
struct Total;
// ANCHOR_END: messages

// ANCHOR: counter
/// A server task: adds up what it is sent and answers `Total` requests. Its state is a
/// plain local variable; nobody else can touch it.
#[task]
async fn counter(task: TaskRef) -> Result<(), Interrupt> {
    task.hot_swappable(true)?; // section 3 replaces this code while it runs
    let mut total = 0;
    loop {
        let msg = match task.receive().await {
            Ok(msg) => msg,
            // A hot-swap request arrives instead of a message; accept it and hand the
            // total over to the new code.
            Err(Interrupt::HotSwap(request)) => {
                request.accept_with(total).await;
                unreachable!("an accepted swap never returns");
            }
            Err(other) => return Err(other),
        };
        msg.matcher()
            .on(|Add(n): Add| total += n)
            .on(|request: Request<Total>| {
                let _ = request.reply(total);
            })
            .otherwise(|other| println!("counter: ignored a {}", other.type_name()));
    }
}
// ANCHOR_END: counter

// ANCHOR: counter_v2
/// The counter's next version: it takes the total over and says what it adds.
#[task]
async fn counter_v2(task: TaskRef) -> Result<(), Interrupt> {
    let mut total: u64 = task.swap_state().unwrap_or(0);
    println!("counter_v2: took over a total of {total}");
    loop {
        task.receive()
            .await?
            .matcher()
            .on(|Add(n): Add| {
                total += n;
                println!("counter_v2: Add({n}) -> {total}");
            })
            .on(|request: Request<Total>| {
                let _ = request.reply(total);
            })
            .otherwise(|other| println!("counter_v2: ignored a {}", other.type_name()));
    }
}
// ANCHOR_END: counter_v2

// ANCHOR: worker
/// Tells the boss it is up, then does jobs until it swallows poison.
#[derive(Debug, Serialize, Deserialize, Message)]
struct Up(TaskRef);

#[task]
async fn worker(task: TaskRef, boss: TaskRef) -> Result<(), Interrupt> {
    let _ = boss.send(Up(task.clone()));
    loop {
        let job = task.receive_type::<String>().await?;
        if job == "poison" {
            panic!("{task} swallowed poison");
        }
    }
}
// ANCHOR_END: worker

#[rcos::main(workers = 1)]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    // Two tasks below panic on purpose; rcos catches each panic and tells the monitors.
    // Keep Rust's report of each short: no backtrace, even with RUST_BACKTRACE set.
    std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
    let me = TaskRef::current().expect("main runs as a task");

    // ANCHOR: section1
    println!("== 1. Tasks and messages");
    let server = counter::spawn(); // a `#[task]` fn, spawned with its arguments
    for n in [1, 2, 3] {
        server.send(Add(n))?; // never blocks; order per sender is kept
    }
    let total: u64 = server.call(Total, PATIENCE).await?; // request/reply
    println!("main: {server} added 1 + 2 + 3 = {total}");

    let doubler = rcos::spawn(|_task| async { 21 * 2 }); // a closure works too
    let answer = doubler.finish().await.get::<i32>();
    println!("main: {doubler} returned {answer:?}");
    // ANCHOR_END: section1

    // ANCHOR: section2
    println!("== 2. Selective receive");
    #[derive(Debug, Serialize, Deserialize, Message)]
    struct Urgent(String);
    me.send("tidy the desk".to_string())?;
    me.send(Urgent("the server room is on fire".into()))?;
    me.send("answer the mail".to_string())?;
    // Take the urgent message first; the others stay queued, in order.
    let Urgent(alarm) = me.receive_type::<Urgent>().await?;
    println!("main: first, the urgent one: {alarm}");
    while let Some(msg) = me.try_receive()? {
        println!(
            "main: then, in order: {}",
            msg.downcast::<String>().unwrap_or_default()
        );
    }
    // ANCHOR_END: section2

    // ANCHOR: section3
    println!("== 3. Hot swap");
    // Queue two messages, then ask for the swap: the counter meets the request at its
    // next receive, ahead of the queued messages, which the new code then receives.
    server.send(Add(10))?;
    server.send(Add(20))?;
    println!(
        "main: queued Add(10) and Add(20), asking for {}",
        counter_v2::NAME
    );
    server.hot_swap(counter_v2, (), PATIENCE).await?;
    let total: u64 = server.call(Total, PATIENCE).await?;
    println!("main: swapped; same task, now {server}, total {total}");
    // ANCHOR_END: section3

    // ANCHOR: section4
    println!("== 4. Monitors");
    let fragile = rcos::spawn(|task| async move {
        let n = task.receive_type::<u32>().await?;
        Ok::<u32, Interrupt>(100 / n) // panics when n is 0
    });
    me.monitor(&fragile)?;
    me.monitor(&server)?;
    fragile.send(0u32)?;
    server.terminate();
    // Each ending arrives as a `MonitorStatus` message, telling how the task ended.
    for task in [&fragile, &server] {
        let status = me
            .receive_where(|status: &MonitorStatus| &status.task == task)
            .await?;
        println!("main: {} ended: {}", status.task, status.exit);
    }
    // ANCHOR_END: section4

    // ANCHOR: section5
    println!("== 5. Supervision");
    let boss = me.clone();
    let supervisor = Supervisor::builder()
        .intensity(3, Duration::from_secs(5)) // give up after 4 restarts in 5 s
        .child(ChildSpec::task("worker", worker, move || (boss.clone(),)).register("worker"))
        .spawn();
    let Up(first) = me.receive_type::<Up>().await?;
    println!("main: the supervisor started {first}; sending it poison");
    first.send("poison".to_string())?;
    let Up(second) = me.receive_type::<Up>().await?;
    let located = TaskRef::locate("worker", PATIENCE).await?;
    println!("main: restarted as {second}; \"worker\" now names {located}");
    rcos::supervisor::shutdown(&supervisor, PATIENCE).await?;
    println!(
        "main: supervisor shut down; worker alive: {}",
        second.is_alive()
    );
    // ANCHOR_END: section5

    // == 6. Channels: a later section of the tour slots in here.

    // == 7. Two nodes over loopback: a later section of the tour slots in here.

    println!("== Done");
    Ok(())
}
