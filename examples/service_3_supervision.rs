//! The book's running example, step 3 (chapter "Monitors and supervision"): the
//! word-count service of step 2, started by a supervisor that restarts it when it
//! crashes, under a name that clients look up. A monitor watches it crash.
//!
//! Run it with `cargo run --example service_3_supervision`.

use std::collections::HashMap;
use std::error::Error;
use std::time::Duration;

use rcos::supervisor::{ChildSpec, Supervisor};
use rcos::task::MonitorStatus;
use rcos::{Message, Request, TaskRef, task};
use serde::{Deserialize, Serialize};

const PATIENCE: Duration = Duration::from_secs(5);

// The messages, `top` (with its bug) and `tally` are step 2's.
const DOCUMENTS: [&[&str]; 2] = [
    &["the quick brown fox", "jumps over the lazy dog"],
    &["the dog sleeps", "the fox runs"],
];

/// A line of text to count.
#[derive(Debug, Serialize, Deserialize, Message)]
struct Line(String);

/// A question for the tally, sent with `call`.
#[derive(Debug, Serialize, Deserialize, Message)]
enum Query {
    /// How often has this word been seen?
    Count(String),
    /// The `n` most frequent words, most frequent first.
    Top(usize),
}

/// The tally's answers.
#[derive(Debug, PartialEq, Serialize, Deserialize, Message)]
enum Answer {
    Count(u64),
    Top(Vec<(String, u64)>),
}

/// Tells the tally to stop.
#[derive(Debug, Serialize, Deserialize, Message)]
struct Stop;

/// The `n` most frequent words, most frequent first (ties in alphabetical order).
fn top(counts: &HashMap<String, u64>, n: usize) -> Vec<(String, u64)> {
    let mut all: Vec<(String, u64)> = counts.iter().map(|(w, c)| (w.clone(), *c)).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all[..n].to_vec() // a bug, found in step 3: this panics when n > all.len()
}

/// Counts the words of every `Line`, answers `Query` requests, ends at `Stop`.
#[task]
async fn tally(task: TaskRef) -> usize {
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut stop = false;
    while !stop {
        let Ok(msg) = task.receive().await else { break };
        msg.matcher()
            .on(|Line(line): Line| {
                for word in line.split_whitespace() {
                    *counts.entry(word.to_lowercase()).or_default() += 1;
                }
            })
            .on(|request: Request<Query>| {
                let answer = match request.body() {
                    Query::Count(word) => Answer::Count(counts.get(word).copied().unwrap_or(0)),
                    Query::Top(n) => Answer::Top(top(&counts, *n)),
                };
                let _ = request.reply(answer);
            })
            .on(|Stop: Stop| stop = true)
            .otherwise(|other| println!("tally: ignored a {}", other.type_name()));
    }
    counts.len()
}

// ANCHOR: main
#[rcos::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    // The tally panics below; keep Rust's report of the panic to its first lines.
    std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
    let me = TaskRef::current().ok_or("main runs as a task")?;

    // ANCHOR: supervise
    let supervisor = Supervisor::builder()
        .child(ChildSpec::task("tally", tally, || ()).register("tally"))
        .spawn();
    let first = TaskRef::locate("tally", PATIENCE).await?; // clients find it by name
    me.monitor(&first)?;
    // ANCHOR_END: supervise
    for line in DOCUMENTS.concat() {
        first.send(Line(line.to_string()))?;
    }

    // ANCHOR: crash
    // Ten different words were counted: asking for the top 100 hits the bug in `top`.
    let top100: Result<Answer, _> = first.call(Query::Top(100), PATIENCE).await;
    match top100 {
        Ok(answer) => println!("top 100: {answer:?}"),
        Err(error) => println!("top 100: {error}"),
    }
    let status = me.receive_type::<MonitorStatus>().await?;
    println!("monitor: {} ended: {}", status.task, status.exit);

    // The supervisor has started a new tally under the same name.
    let second = TaskRef::locate("tally", PATIENCE).await?;
    let fox: Answer = second.call(Query::Count("fox".into()), PATIENCE).await?;
    println!("\"tally\" now names {second}, which counts \"fox\": {fox:?}");
    // ANCHOR_END: crash

    rcos::supervisor::shutdown(&supervisor, PATIENCE).await?;
    println!(
        "supervisor shut down; the tally is alive: {}",
        second.is_alive()
    );
    Ok(())
}
// ANCHOR_END: main
