//! The book's running example, step 4 (chapter "Hot swapping"): the word-count service
//! of step 3 gets the fix for its bug while it runs, without losing its counts.
//!
//! Run it with `cargo run --example service_4_hot_swap`.

use std::collections::HashMap;
use std::error::Error;
use std::time::Duration;

use rcos::{Interrupt, Message, Request, TaskRef, task};
use serde::{Deserialize, Serialize};

const PATIENCE: Duration = Duration::from_secs(5);

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

// ANCHOR: tally
/// Step 2's tally, made swappable: at a swap request it hands its counts over.
#[task]
async fn tally(task: TaskRef) -> usize {
    let _ = task.hot_swappable(true); // fails only on another task's reference
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut stop = false;
    while !stop {
        let msg = match task.receive().await {
            Ok(msg) => msg,
            Err(Interrupt::HotSwap(request)) => {
                request.accept_with(counts).await; // never returns: the new code runs
                unreachable!("an accepted swap does not come back");
            }
            Err(_) => break,
        };
        msg.matcher()
            .on(|Line(line): Line| count_words(&mut counts, &line))
            .on(|request: Request<Query>| {
                let answer = answer(&counts, request.body(), top);
                let _ = request.reply(answer);
            })
            .on(|Stop: Stop| stop = true)
            .otherwise(|other| println!("tally: ignored a {}", other.type_name()));
    }
    counts.len()
}
// ANCHOR_END: tally

// ANCHOR: tally_v2
/// The fixed `top`: at most `n` words.
fn top_fixed(counts: &HashMap<String, u64>, n: usize) -> Vec<(String, u64)> {
    let mut all: Vec<(String, u64)> = counts.iter().map(|(w, c)| (w.clone(), *c)).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all.truncate(n);
    all
}

/// The tally's next version: it takes the counts over and uses the fixed `top`.
#[task]
async fn tally_v2(task: TaskRef) -> usize {
    let mut counts: HashMap<String, u64> = task.swap_state().unwrap_or_default();
    println!("tally_v2: took over {} words", counts.len());
    while let Ok(msg) = task.receive().await {
        if msg.is::<Stop>() {
            break;
        }
        msg.matcher()
            .on(|Line(line): Line| count_words(&mut counts, &line))
            .on(|request: Request<Query>| {
                let answer = answer(&counts, request.body(), top_fixed);
                let _ = request.reply(answer);
            })
            .otherwise(|other| println!("tally_v2: ignored a {}", other.type_name()));
    }
    counts.len()
}
// ANCHOR_END: tally_v2

/// Counts the words of `line`.
fn count_words(counts: &mut HashMap<String, u64>, line: &str) {
    for word in line.split_whitespace() {
        *counts.entry(word.to_lowercase()).or_default() += 1;
    }
}

/// A way to pick the `n` most frequent words.
type Top = fn(&HashMap<String, u64>, usize) -> Vec<(String, u64)>;

/// The answer to `query`, with `top` as the way to pick the most frequent words.
fn answer(counts: &HashMap<String, u64>, query: &Query, top: Top) -> Answer {
    match query {
        Query::Count(word) => Answer::Count(counts.get(word).copied().unwrap_or(0)),
        Query::Top(n) => Answer::Top(top(counts, *n)),
    }
}

// ANCHOR: main
#[rcos::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let tally_task = tally::spawn();
    for line in DOCUMENTS[0] {
        tally_task.send(Line(line.to_string()))?;
    }
    // The answer comes after the lines queued before the question have been counted.
    let the: Answer = tally_task
        .call(Query::Count("the".into()), PATIENCE)
        .await?;
    println!("version 1 counted \"the\": {the:?}");
    tally_task.hot_swap(tally_v2, (), PATIENCE).await?;
    println!("swapped: the same task is now {tally_task}");
    for line in DOCUMENTS[1] {
        tally_task.send(Line(line.to_string()))?;
    }
    let top100: Answer = tally_task.call(Query::Top(100), PATIENCE).await?;
    if let Answer::Top(words) = &top100 {
        println!("top 100: {} words, first {:?}", words.len(), words.first());
    }
    tally_task.send(Stop)?;
    let words = tally_task.finish().await.get::<usize>().unwrap_or(0);
    println!("{tally_task} saw {words} different words");
    Ok(())
}
// ANCHOR_END: main
