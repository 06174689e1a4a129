//! The book's running example, step 2 (chapter "Messages"): the word-count service of
//! step 1 with messages of its own types, and questions answered with `call`.
//!
//! Run it with `cargo run --example service_2_messages`.

use std::collections::HashMap;
use std::error::Error;
use std::time::Duration;

use rcos::{Message, Request, TaskRef, task};
use serde::{Deserialize, Serialize};

const PATIENCE: Duration = Duration::from_secs(5);

const DOCUMENTS: [&[&str]; 2] = [
    &["the quick brown fox", "jumps over the lazy dog"],
    &["the dog sleeps", "the fox runs"],
];

// ANCHOR: messages
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
// ANCHOR_END: messages

// ANCHOR: top
/// The `n` most frequent words, most frequent first (ties in alphabetical order).
fn top(counts: &HashMap<String, u64>, n: usize) -> Vec<(String, u64)> {
    let mut all: Vec<(String, u64)> = counts.iter().map(|(w, c)| (w.clone(), *c)).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all[..n].to_vec() // a bug, found in step 3: this panics when n > all.len()
}
// ANCHOR_END: top

// ANCHOR: tally
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
// ANCHOR_END: tally

// ANCHOR: main
#[rcos::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let tally_task = tally::spawn();
    for line in DOCUMENTS.concat() {
        tally_task.send(Line(line.to_string()))?;
    }
    // A call is queued behind the lines sent before it: they are all counted.
    let top3: Answer = tally_task.call(Query::Top(3), PATIENCE).await?;
    println!("top 3: {top3:?}");
    let fox: Answer = tally_task
        .call(Query::Count("fox".into()), PATIENCE)
        .await?;
    println!("\"fox\": {fox:?}");
    tally_task.send(7u8)?; // not a message the tally knows: it says so
    tally_task.send(Stop)?;
    let words = tally_task.finish().await.get::<usize>().unwrap_or(0);
    println!("{tally_task} saw {words} different words");
    Ok(())
}
// ANCHOR_END: main
