//! Files read and written by tasks without blocking the worker threads: a log that
//! several tasks append to, read back whole and in chunks.
//!
//! pycos's `AsyncFile` works only on what can be polled (pipes, sockets), not on disk
//! files, so this has no pycos twin: rcos runs file operations on a background thread
//! pool instead, and a task waits for them as it waits for a socket.
//!
//! Run it with `cargo run --example files`.

use std::path::{Path, PathBuf};

use rcos::TaskRef;
use rcos::io::fs::{self, File, OpenOptions};

// ANCHOR: append
/// Appends `count` lines to the log, opening it in append mode: each write lands at
/// the end, whoever else appends meanwhile.
#[rcos::task]
async fn appender(_task: TaskRef, path: PathBuf, who: String, count: u32) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    for i in 1..=count {
        let mut log = File::open_with(&path, &options).await?;
        log.write_all(format!("{who}: entry {i}\n").as_bytes())
            .await?;
        // Writes are buffered: `close` flushes them and reports any error.
        log.close().await?;
    }
    Ok(())
}
// ANCHOR_END: append

// ANCHOR: chunks
/// Reads the file in chunks of `size` bytes; returns how many chunks and bytes.
async fn read_in_chunks(path: &Path, size: usize) -> std::io::Result<(usize, usize)> {
    let mut file = File::open(path).await?;
    let mut buf = vec![0u8; size];
    let (mut chunks, mut bytes) = (0, 0);
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok((chunks, bytes)); // the end of the file
        }
        chunks += 1;
        bytes += n;
    }
}
// ANCHOR_END: chunks

#[rcos::main]
async fn main() -> std::io::Result<()> {
    let dir = std::env::temp_dir().join(format!("rcos-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("app.log");

    // ANCHOR: main
    // A new file, written and closed.
    let mut log = File::create(&path).await?;
    log.write_all(b"log opened\n").await?;
    log.close().await?;

    // Three tasks append at once.
    let writers: Vec<TaskRef> = ["ada", "bob", "cy"]
        .into_iter()
        .map(|who| appender::spawn(path.clone(), who.to_string(), 5))
        .collect();
    for writer in writers {
        writer.finish().await;
    }

    // Read it back whole ...
    let text = fs::read_to_string(&path).await?;
    let entries = text.lines().filter(|l| l.contains(": entry ")).count();
    println!(
        "{} lines, {entries} entries; first: {:?}",
        text.lines().count(),
        text.lines().next()
    );
    // ... and in chunks.
    let (chunks, bytes) = read_in_chunks(&path, 64).await?;
    let size = File::open(&path).await?.metadata().await?.len();
    println!("{bytes} bytes in {chunks} chunks of up to 64; the file has {size} bytes");
    // ANCHOR_END: main

    // ANCHOR: missing
    match File::open(dir.join("no-such.log")).await {
        Err(error) => println!("opening a missing file: {:?}: {error}", error.kind()),
        Ok(_) => unreachable!("the file does not exist"),
    }
    // ANCHOR_END: missing
    std::fs::remove_dir_all(&dir)
}
