//! The book's running example, step 6 (chapter "Distributed programming"): the
//! word-count service of step 5 on one node, `store`, and its client on another,
//! `front`. The client finds the tally and its channel by name at the store's
//! location, counts a document there, watches trending words from its own node, and
//! monitors the tally, until the store's node goes away.
//!
//! The two nodes are two runtimes of this one program, talking over loopback, so that
//! the example runs with one command; two programs on two machines work the same way.
//!
//! Run it with `cargo run --example service_6_two_nodes`.

use std::collections::HashMap;
use std::error::Error;
use std::time::Duration;

use rcos::channel::Channel;
use rcos::net::NodeConfig;
use rcos::task::MonitorStatus;
use rcos::{Message, Request, Runtime, TaskRef, task};
use serde::{Deserialize, Serialize};

const PATIENCE: Duration = Duration::from_secs(5);

// The messages, `tally` and `watcher` are step 5's.
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
/// Published on the channel when a word has been seen `TRENDING_AT` times.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
struct Trending {
    word: String,
    count: u64,
}

const TRENDING_AT: u64 = 2;

/// The `n` most frequent words, most frequent first (step 4's fixed version).
fn top(counts: &HashMap<String, u64>, n: usize) -> Vec<(String, u64)> {
    let mut all: Vec<(String, u64)> = counts.iter().map(|(w, c)| (w.clone(), *c)).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all.truncate(n);
    all
}

/// The tally of step 4 (version 2), which also publishes trending words on `trends`.
#[task]
async fn tally(task: TaskRef, trends: Channel) -> usize {
    let mut counts: HashMap<String, u64> = HashMap::new();
    while let Ok(msg) = task.receive().await {
        if msg.is::<Stop>() {
            break;
        }
        msg.matcher()
            .on(|Line(line): Line| {
                for word in line.split_whitespace() {
                    let word = word.to_lowercase();
                    let count = counts.entry(word.clone()).or_default();
                    *count += 1;
                    if *count == TRENDING_AT {
                        let _ = trends.send(Trending {
                            word,
                            count: *count,
                        });
                    }
                }
            })
            .on(|request: Request<Query>| {
                let answer = match request.body() {
                    Query::Count(word) => Answer::Count(counts.get(word).copied().unwrap_or(0)),
                    Query::Top(n) => Answer::Top(top(&counts, *n)),
                };
                let _ = request.reply(answer);
            })
            .otherwise(|other| println!("tally: ignored a {}", other.type_name()));
    }
    counts.len()
}

/// Collects the trending words it hears of, until `Stop`, and returns them.
#[task]
async fn watcher(task: TaskRef) -> Vec<String> {
    let mut heard = Vec::new();
    while let Ok(msg) = task.receive().await {
        match msg.downcast::<Trending>() {
            Ok(Trending { word, count }) => heard.push(format!("{word} ({count})")),
            Err(other) if other.is::<Stop>() => break,
            Err(other) => println!("watcher: ignored a {}", other.type_name()),
        }
    }
    heard
}

// ANCHOR: node
/// A runtime that is a network node on 127.0.0.1, at a free port.
fn node(name: &str) -> std::io::Result<Runtime> {
    Runtime::builder()
        .name(name.to_string())
        .node(
            NodeConfig::new()
                .secret(rcos_examples::secret())
                .heartbeat(Duration::from_millis(200), 3),
        )
        .build()
}
// ANCHOR_END: node

#[rcos::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let me = TaskRef::current().ok_or("main runs as a task")?;
    // ANCHOR: store
    let store = node("store")?;
    let at = store.location().ok_or("the store is a node")?;
    let trends = Channel::new_on(&store, "trends")?;
    trends.register()?; // other nodes may locate it
    tally::spawn_on(&store, trends.clone()).register("tally")?;
    println!("store: listening at {at}");
    // ANCHOR_END: store

    // ANCHOR: front
    let front = node("front")?;
    let main_task = me.clone();
    let client = front.spawn(move |me| async move {
        // Found by name at the store's location: references to the store's task and
        // channel, used with the same methods as local ones.
        let tally_task = TaskRef::locate_at(at, "tally", PATIENCE).await?;
        let trends = Channel::locate_at(at, "trends", PATIENCE).await?;
        let watcher_task = watcher::spawn(); // on this node, `front`
        trends.subscribe(&watcher_task).await?;
        for line in DOCUMENTS.concat() {
            tally_task.send(Line(line.to_string()))?;
        }
        let top3: Answer = tally_task.call(Query::Top(3), PATIENCE).await?;
        println!("front: {tally_task} says the top 3 are {top3:?}");
        // The trending words came over the same connection before the answer.
        watcher_task.send(Stop)?;
        let heard = watcher_task
            .finish()
            .await
            .get::<Vec<String>>()
            .unwrap_or_default();
        println!("front: the watcher heard that these are trending: {heard:?}");

        me.monitor(&tally_task)?;
        main_task.send("front is watching the tally".to_string())?;
        let status = me.receive_type::<MonitorStatus>().await?;
        println!("front: {} ended: {}", status.task, status.exit);
        Ok::<_, Box<dyn Error + Send + Sync>>(())
    });
    // ANCHOR_END: front

    // ANCHOR: lost
    let note = me.receive_type_timeout::<String>(PATIENCE).await?;
    println!(
        "main: {}; stopping the store",
        note.as_deref().unwrap_or("no word from front")
    );
    drop(store); // the store's node goes away, as if its machine had stopped
    let exit = client.finish().await;
    match exit
        .value()
        .and_then(|v| v.take::<Result<(), Box<dyn Error + Send + Sync>>>())
    {
        Some(Ok(())) => println!("main: the client is done"),
        Some(Err(error)) => println!("main: the client failed: {error}"),
        None => println!("main: the client ended: {exit}"),
    }
    // ANCHOR_END: lost
    Ok(())
}
