//! A small supervision tree, Erlang/OTP style (pycos has no supervisors; rcos builds
//! them on monitors).
//!
//! ```text
//! root (one-for-one)
//! ├── "cache"          a worker
//! ├── "mailer"         a worker
//! └── pair (one-for-all)
//!     ├── "producer"   a worker
//!     └── "consumer"   a worker
//! ```
//!
//! A worker that swallows a poison message panics; its supervisor restarts it under the
//! same registered name. In the one-for-all pair, the other worker is restarted with
//! it. Then the whole tree shuts down in order, children in reverse start order.
//!
//! Run it with `cargo run --example supervisor` (`RUST_LOG=rcos=debug` shows the
//! supervisors' own logs).

use std::collections::BTreeSet;
use std::error::Error;
use std::time::Duration;

use rcos::supervisor::{ChildSpec, Strategy, Supervisor, SupervisorBuilder};
use rcos::task::MonitorStatus;
use rcos::{Interrupt, Message, TaskRef, task};
use serde::{Deserialize, Serialize};

const PATIENCE: Duration = Duration::from_secs(5);

/// A worker's greeting to the boss when it starts: its name and reference.
#[derive(Debug, Serialize, Deserialize, Message)]
struct Up(String, TaskRef);

/// Prints when a worker's code is dropped: when it panics or is stopped.
struct Goodbye(String);

impl Drop for Goodbye {
    fn drop(&mut self) {
        println!("  {} stopped", self.0);
    }
}

// ANCHOR: worker
/// A worker: says it is up, then does jobs until it swallows poison.
#[task]
async fn worker(task: TaskRef, name: String, boss: TaskRef) -> Result<(), Interrupt> {
    let _goodbye = Goodbye(name.clone());
    let _ = boss.send(Up(name.clone(), task.clone()));
    loop {
        let job = task.receive_type::<String>().await?;
        if job == "poison" {
            panic!("{name} swallowed poison");
        }
    }
}

/// A child spec for a worker registered under its name.
fn worker_spec(name: &'static str, boss: &TaskRef) -> ChildSpec {
    let boss = boss.clone();
    ChildSpec::task(name, worker, move || (name.to_string(), boss.clone())).register(name)
}
// ANCHOR_END: worker

// ANCHOR: tree
fn tree(boss: &TaskRef) -> SupervisorBuilder {
    let pair = Supervisor::builder()
        .name("pair")
        .strategy(Strategy::OneForAll) // one fails: both restart
        .child(worker_spec("producer", boss))
        .child(worker_spec("consumer", boss));
    Supervisor::builder()
        .name("root")
        .strategy(Strategy::OneForOne) // one fails: only it restarts
        .intensity(5, Duration::from_secs(10)) // more than 5 restarts in 10 s: give up
        .child(worker_spec("cache", boss))
        .child(worker_spec("mailer", boss))
        .child(ChildSpec::supervisor("pair", pair))
}
// ANCHOR_END: tree

/// Waits for `n` workers to say they are up; returns their names, sorted.
async fn ups(me: &TaskRef, n: usize) -> Result<BTreeSet<String>, Interrupt> {
    let mut names = BTreeSet::new();
    for _ in 0..n {
        let Up(name, _) = me.receive_type::<Up>().await?;
        names.insert(name);
    }
    Ok(names)
}

// ANCHOR: main
#[rcos::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // Workers panic on purpose; rcos catches each panic and tells the supervisor.
    // Keep Rust's report of each short: no backtrace, even with RUST_BACKTRACE set.
    std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
    let me = TaskRef::current().expect("main runs as a task");

    let root = tree(&me).spawn();
    println!("started: {:?}", ups(&me, 4).await?);

    // One-for-one: only the poisoned worker restarts, under the same name.
    let cache = TaskRef::locate("cache", PATIENCE).await?;
    cache.send("poison".to_string())?;
    println!("restarted: {:?}", ups(&me, 1).await?);
    let again = TaskRef::locate("cache", PATIENCE).await?;
    println!("\"cache\" was {cache}, now names {again}");

    // One-for-all: poisoning the producer restarts the consumer too.
    let producer = TaskRef::locate("producer", PATIENCE).await?;
    let consumer = TaskRef::locate("consumer", PATIENCE).await?;
    me.monitor(&consumer)?;
    producer.send("poison".to_string())?;
    let status = me.receive_type::<MonitorStatus>().await?;
    println!("the consumer was stopped with it: {}", status.exit);
    println!("restarted: {:?}", ups(&me, 2).await?);

    // Orderly shutdown: each supervisor stops its children, last started first.
    println!("shutting down");
    rcos::supervisor::shutdown(&root, PATIENCE).await?;
    println!(
        "root returned normally: {}",
        root.finish().await.is_returned()
    );
    Ok(())
}
// ANCHOR_END: main
