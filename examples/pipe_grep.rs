//! A pipeline of two programs, `cat | grep -i error`: a writer task feeds a file into
//! `cat` line by line, and a reader task prints the lines `grep` lets through.
//!
//! Twin of pycos's `examples/pipe_grep.py` (which chains `grep | wc`). Without a file
//! argument, it makes up a log to search.
//!
//! ```text
//! cargo run --example pipe_grep                     # a made-up log
//! cargo run --example pipe_grep -- /var/log/syslog
//! ```

use std::process::Command;

use rcos::TaskRef;
use rcos::io::pipe::{Pipe, PipeReader, PipeWriter};

/// A made-up log: every fifth line reports an error.
fn sample_log() -> String {
    (1..=40)
        .map(|i| {
            if i % 5 == 0 {
                format!("line {i}: ERROR: disk {i} is full\n")
            } else {
                format!("line {i}: all is well\n")
            }
        })
        .collect()
}

// ANCHOR: writer
/// Writes the input into the pipeline line by line, then closes its input so that the
/// programs finish.
#[rcos::task]
async fn writer(_task: TaskRef, mut pipe: PipeWriter, input: String) -> std::io::Result<()> {
    for line in input.split_inclusive('\n') {
        pipe.write(line.as_bytes()).await?;
    }
    pipe.close().await
}
// ANCHOR_END: writer

// ANCHOR: reader
/// Prints each line that comes out of the pipeline; returns how many there were.
#[rcos::task]
async fn line_reader(_task: TaskRef, mut pipe: PipeReader) -> u64 {
    let mut lines = 0;
    loop {
        match pipe.read_line().await {
            Ok(Some(line)) => {
                println!("{line}");
                lines += 1;
            }
            Ok(None) => break,
            Err(error) => {
                tracing::debug!(%error, "read failed");
                break;
            }
        }
    }
    lines
}
// ANCHOR_END: reader

#[rcos::main]
async fn main() {
    let path = std::env::args().nth(1);
    let input = match path {
        Some(path) => match rcos::io::fs::read(&path).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(error) => {
                eprintln!("cannot read {path}: {error}");
                std::process::exit(1);
            }
        },
        None => sample_log(),
    };

    // ANCHOR: pipeline
    let mut grep = Command::new("grep");
    grep.args(["-i", "error"]);
    let mut pipe = match Pipe::pipeline([Command::new("cat"), grep]).await {
        Ok(pipe) => pipe,
        Err(error) => {
            eprintln!("cannot start cat | grep: {error}");
            std::process::exit(1);
        }
    };
    let (Some(stdin), Some(stdout)) = (pipe.take_stdin(), pipe.take_stdout()) else {
        unreachable!("a new pipe has both ends");
    };
    writer::spawn(stdin, input);
    let reader = line_reader::spawn(stdout);
    let matched = reader.finish().await.get::<u64>().unwrap_or(0);
    // ANCHOR_END: pipeline
    // grep exits with 1 when nothing matched: not an error here.
    let _ = pipe.wait().await;
    println!("{matched} lines matched");
}
