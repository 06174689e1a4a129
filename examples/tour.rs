//! A tour of rcos in one program: tasks spawned from `#[task]` functions, messages and
//! `call`, selective receive, hot swapping a running server that keeps its queued
//! messages, a monitor that sees a crash, a supervisor that restarts a worker, a
//! channel with a transform, and two network nodes talking over loopback (locate,
//! call, remote spawn, and a monitor told when the other node goes away).
//! It prints a short narrated transcript.
//!
//! Run it with `cargo run --example tour`.
//!
//! The tour runs on one worker thread (`workers = 1`): pycos's semantics, one task at a
//! time, so the transcript reads the same on every run. Without `workers = 1` the same
//! program spreads its tasks over every core.

use std::error::Error;
use std::time::Duration;

use rcos::channel::Channel;
use rcos::net::NodeConfig;
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

// ANCHOR: reader
/// Reads headlines from a channel; returns how many it read once the paper is done.
#[task]
async fn reader(task: TaskRef, id: u32) -> u32 {
    let mut read = 0;
    while let Ok(headline) = task.receive_type::<String>().await {
        println!("reader {id}: {headline}");
        read += 1;
        if headline == "LAST EDITION" {
            break;
        }
    }
    read
}
// ANCHOR_END: reader

// ANCHOR: square
/// Squares a number; `remote`, so another node can spawn it by name.
#[task(remote)]
async fn square(_task: TaskRef, n: u64) -> u64 {
    n * n
}
// ANCHOR_END: square

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

    // ANCHOR: section6
    println!("== 6. Channels");
    let news = Channel::new("news")?;
    // A transform sees every message first: it may change it, or drop it (None).
    news.set_transform(|_channel: &str, headline: String| {
        (!headline.contains("boring")).then(|| headline.to_uppercase())
    })?;
    let readers: Vec<TaskRef> = (1..=2).map(reader::spawn).collect();
    for r in &readers {
        news.subscribe(r).await?;
    }
    let reached = news
        .deliver("rcos tour reaches channels".to_string(), PATIENCE, 2)
        .await?;
    news.send("a boring headline".to_string())?; // dropped by the transform
    news.send("last edition".to_string())?;
    println!("main: the first headline reached {reached} readers");
    for r in &readers {
        let read = r.finish().await.get::<u32>().unwrap_or(0);
        println!("main: {r} read {read} headlines");
    }
    // ANCHOR_END: section6

    // ANCHOR: section7
    println!("== 7. Two nodes over loopback");
    // Two more runtimes in this program, each a network node on 127.0.0.1 (a random
    // port) with the same secret; in real life, two programs on two machines.
    let node = |name: &str| {
        rcos::Runtime::builder()
            .name(name.to_string())
            .workers(1)
            .node(
                NodeConfig::new()
                    .secret(b"the tour's shared secret, 32 bytes".to_vec())
                    .heartbeat(Duration::from_millis(200), 3)
                    .reconnect_grace(Duration::from_millis(300)),
            )
            .build()
    };
    let (alpha, beta) = (node("alpha")?, node("beta")?);
    let at = alpha.location().ok_or("alpha is a node")?;
    counter::spawn_on(&alpha).register("shared-counter")?;
    println!("main: alpha listens at {at}; beta connects");
    // Code running on beta: the same API as for local tasks.
    let main_task = me.clone();
    let on_beta = beta.spawn(move |me| async move {
        rcos::net::peer(at).await?;
        let remote = TaskRef::locate("shared-counter", PATIENCE).await?;
        remote.send(Add(40))?;
        remote.send(Add(2))?;
        let total: u64 = remote.call(Total, PATIENCE).await?;
        println!("beta: {remote} (on alpha) says the total is {total}");
        let squared = rcos::Handle::current()
            .ok_or("beta runs tasks")?
            .spawn_at(at, square, (12,))
            .await?;
        let value = squared.finish().await.get::<u64>();
        println!("beta: spawned {squared} on alpha, which returned {value:?}");
        me.monitor(&remote)?;
        main_task.send("beta is watching".to_string())?;
        let status = me.receive_type::<MonitorStatus>().await?;
        println!("beta: {} ended: {}", status.task, status.exit);
        Ok::<_, Box<dyn Error + Send + Sync>>(())
    });
    let note = me.receive_type_timeout::<String>(PATIENCE).await?;
    println!(
        "main: {}; alpha shuts down",
        note.as_deref().unwrap_or("no word from beta")
    );
    drop(alpha);
    on_beta.finish().await;
    // ANCHOR_END: section7

    println!("== Done");
    Ok(())
}
