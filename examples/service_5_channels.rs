//! The book's running example, step 5 (chapter "Channels"): the word-count service
//! publishes the words that start trending on a channel, which any number of tasks
//! can subscribe to.
//!
//! Run it with `cargo run --example service_5_channels`.

use std::collections::HashMap;
use std::error::Error;

use rcos::channel::Channel;
use rcos::{Message, Request, TaskRef, task};
use serde::{Deserialize, Serialize};

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
// ANCHOR: trending
/// Published on the channel when a word has been seen `TRENDING_AT` times.
#[derive(Debug, Clone, Serialize, Deserialize, Message)]
struct Trending {
    word: String,
    count: u64,
}

const TRENDING_AT: u64 = 2;
// ANCHOR_END: trending

/// The `n` most frequent words, most frequent first (step 4's fixed version).
fn top(counts: &HashMap<String, u64>, n: usize) -> Vec<(String, u64)> {
    let mut all: Vec<(String, u64)> = counts.iter().map(|(w, c)| (w.clone(), *c)).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all.truncate(n);
    all
}

// ANCHOR: tally
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
// ANCHOR_END: tally

// ANCHOR: watcher
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
// ANCHOR_END: watcher

// ANCHOR: main
#[rcos::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let trends = Channel::new("trends")?;
    let watcher_task = watcher::spawn();
    trends.subscribe(&watcher_task).await?;
    let tally_task = tally::spawn(trends.clone());
    for line in DOCUMENTS.concat() {
        tally_task.send(Line(line.to_string()))?;
    }
    tally_task.send(Stop)?;
    let words = tally_task.finish().await.get::<usize>().unwrap_or(0);
    // Whatever the tally published was queued at the watcher before the tally ended,
    // so this `Stop` arrives after all of it.
    watcher_task.send(Stop)?;
    let heard = watcher_task
        .finish()
        .await
        .get::<Vec<String>>()
        .unwrap_or_default();
    println!("{tally_task} saw {words} different words");
    println!("the watcher heard that these words are trending: {heard:?}");
    Ok(())
}
// ANCHOR_END: main
