//! The SHA-1 checksum of a file, computed by the `sha1sum` program through a pipe, twice:
//! once with `communicate` (which feeds the input and collects the output at once), once
//! with a writer task and a reader task of our own.
//!
//! Twin of pycos's `examples/pipe_csum.py`. Both lines print the same checksum, the one
//! `sha1sum FILE` prints.
//!
//! ```text
//! cargo run --example pipe_csum                 # checksum of this program's executable
//! cargo run --example pipe_csum -- Cargo.toml
//! ```

use std::path::PathBuf;
use std::process::Command;

use rcos::TaskRef;
use rcos::io::fs::File;
use rcos::io::pipe::{Pipe, PipeReader, PipeWriter};

/// `sha1sum` prints `CHECKSUM  -`: the checksum is the first word.
fn first_word(line: &str) -> String {
    line.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

// ANCHOR: communicate
/// `communicate` streams the file into `sha1sum` while reading its output.
async fn communicate(input: PathBuf) -> std::io::Result<String> {
    let mut pipe = Pipe::spawn(Command::new("sha1sum")).await?;
    let file = File::open(&input).await?;
    let out = pipe.communicate_from(file).await?;
    Ok(first_word(&String::from_utf8_lossy(&out.stdout)))
}
// ANCHOR_END: communicate

// ANCHOR: feeder
/// Copies the file into the pipe in 8 KiB chunks, then closes the pipe's input.
#[rcos::task]
async fn write_proc(_task: TaskRef, input: PathBuf, mut pipe: PipeWriter) -> std::io::Result<()> {
    let mut file = File::open(&input).await?;
    let mut buf = vec![0u8; 8 * 1024];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        pipe.write(&buf[..n]).await?;
    }
    pipe.close().await
}

/// Reads the pipe's output to its end (`sha1sum` prints one short line).
#[rcos::task]
async fn read_proc(_task: TaskRef, mut pipe: PipeReader) -> std::io::Result<String> {
    Ok(first_word(&pipe.read_to_string().await?))
}

/// The same checksum with a writer task and a reader task.
async fn custom_feeder(input: PathBuf) -> std::io::Result<String> {
    let mut pipe = Pipe::spawn(Command::new("sha1sum")).await?;
    let (stdin, stdout) = (pipe.take_stdin(), pipe.take_stdout());
    let (Some(stdin), Some(stdout)) = (stdin, stdout) else {
        unreachable!("a new pipe has both ends");
    };
    let reader = read_proc::spawn(stdout);
    let writer = write_proc::spawn(input, stdin);
    let written = writer.finish().await;
    if let Some(Err(error)) = written
        .value()
        .and_then(|v| v.take::<std::io::Result<()>>())
    {
        return Err(error);
    }
    let output = reader.finish().await;
    let checksum = output
        .value()
        .and_then(|v| v.take::<std::io::Result<String>>())
        .unwrap_or_else(|| Err(std::io::Error::other("the reader task failed")))?;
    pipe.wait().await?;
    Ok(checksum)
}
// ANCHOR_END: feeder

#[rcos::main]
async fn main() {
    let input = std::env::args().nth(1).map_or_else(
        || std::env::current_exe().expect("the path of this program"),
        PathBuf::from,
    );
    match communicate(input.clone()).await {
        Ok(sum) => println!("communicate sha1sum: {sum}"),
        Err(error) => {
            eprintln!("cannot checksum {} with sha1sum: {error}", input.display());
            std::process::exit(1);
        }
    }
    match custom_feeder(input.clone()).await {
        Ok(sum) => println!("     feeder sha1sum: {sum}"),
        Err(error) => {
            eprintln!("cannot checksum {} with sha1sum: {error}", input.display());
            std::process::exit(1);
        }
    }
}
