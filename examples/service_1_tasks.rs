//! The book's running example, step 1 (chapter "Tasks"): a word-count service.
//!
//! `tally` is a task that counts the words of the lines it is sent, in a map that is
//! a local variable of its own. Two `reader` tasks, one per document, send it their
//! lines. When the readers are done, `main` tells the tally to stop, and the tally
//! returns how many different words it saw.
//!
//! Each later step (`service_2_messages` to `service_6_two_nodes`) grows this program
//! by what its chapter teaches. Run it with `cargo run --example service_1_tasks`.

use std::collections::HashMap;

use rcos::{TaskRef, task};

/// The documents the readers send, one line at a time.
const DOCUMENTS: [&[&str]; 2] = [
    &["the quick brown fox", "jumps over the lazy dog"],
    &["the dog sleeps", "the fox runs"],
];

// ANCHOR: tally
/// Counts the words of the lines it is sent, until an empty line; returns how many
/// different words it saw.
#[task]
async fn tally(task: TaskRef) -> usize {
    let mut counts: HashMap<String, u64> = HashMap::new(); // its state: a local
    while let Ok(line) = task.receive_type::<String>().await {
        if line.is_empty() {
            break;
        }
        for word in line.split_whitespace() {
            *counts.entry(word.to_lowercase()).or_default() += 1;
        }
    }
    counts.len()
}
// ANCHOR_END: tally

// ANCHOR: reader
/// Sends the lines of one document to the tally; returns how many it sent.
#[task]
async fn reader(_task: TaskRef, tally: TaskRef, document: &'static [&'static str]) -> usize {
    for line in document {
        if tally.send(line.to_string()).is_err() {
            break; // the tally has ended
        }
    }
    document.len()
}
// ANCHOR_END: reader

// ANCHOR: main
#[rcos::main]
async fn main() {
    let tally_task = tally::spawn();
    let readers: Vec<TaskRef> = DOCUMENTS
        .into_iter()
        .map(|document| reader::spawn(tally_task.clone(), document))
        .collect();
    for reader_task in &readers {
        let sent = reader_task.finish().await.get::<usize>().unwrap_or(0);
        println!("{reader_task} sent {sent} lines");
    }
    // Every line is queued before this one: the readers have ended.
    let _ = tally_task.send(String::new());
    let words = tally_task.finish().await.get::<usize>().unwrap_or(0);
    println!("{tally_task} saw {words} different words");
}
// ANCHOR_END: main
