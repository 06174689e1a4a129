//! Files and pipes to real subprocesses: `sha1sum`, `cat | grep`, processes that stop
//! reading or die in the middle of `communicate`.

use std::io::ErrorKind;
use std::process::Command;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use rcos::io::fs::{self, File, OpenOptions};
use rcos::io::pipe::Pipe;
use rcos_tests::{rt2, run};

/// Whether `tool` can be run here; prints why a test is skipped when not.
fn have(tools: &[&str]) -> bool {
    for tool in tools {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .is_ok_and(|out| out.status.success());
        if !found {
            println!("skipped: `{tool}` is not installed on this machine");
            return false;
        }
    }
    true
}

fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(args[0]);
    c.args(&args[1..]);
    c
}

/// A file path in the temp directory, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(tag: &str) -> TempFile {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        TempFile(std::env::temp_dir().join(format!("rcos-io-{tag}-{}-{n}", std::process::id())))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const SHA1_ABC: &str = "a9993e364706816aba3e25717850c26c9cd0d89d";
const SHA1_MILLION_A: &str = "34aa973cd4c4daa4f61eeb2bdbad27316534016f";

#[test]
fn files_write_read_append() {
    let rt = rt2();
    let tmp = TempFile::new("fs");
    let path = tmp.0.clone();
    run(&rt, async move {
        fs::write(&path, "one\n").await.unwrap();
        let mut log = File::open_with(&path, OpenOptions::new().append(true))
            .await
            .unwrap();
        log.write_all(b"two\n").await.unwrap();
        log.close().await.unwrap();
        assert_eq!(fs::read_to_string(&path).await.unwrap(), "one\ntwo\n");
        assert_eq!(fs::read(&path).await.unwrap(), b"one\ntwo\n");

        let mut f = File::open(&path).await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), 8);
        let mut buf = String::new();
        f.read_to_string(&mut buf).await.unwrap();
        assert_eq!(buf, "one\ntwo\n");

        fs::write(&path, [0xFF, 0xFE]).await.unwrap();
        let err = fs::read_to_string(&path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);

        let err = File::open(path.with_extension("missing"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        let err = File::open_with(&path, OpenOptions::new().write(true).create_new(true))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    });
}

#[test]
fn communicate_with_sha1sum() {
    if !have(&["sha1sum"]) {
        return;
    }
    let rt = rt2();
    run(&rt, async {
        let out = Pipe::spawn(cmd(&["sha1sum"]))
            .await
            .unwrap()
            .communicate(b"abc")
            .await
            .unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8(out.stdout).unwrap().starts_with(SHA1_ABC));
        assert!(out.stderr.is_empty());

        // Much more input than a pipe holds: written while the output is read.
        let million = vec![b'a'; 1_000_000];
        let out = Pipe::spawn(cmd(&["sha1sum"]))
            .await
            .unwrap()
            .communicate(&million)
            .await
            .unwrap();
        assert!(
            String::from_utf8(out.stdout)
                .unwrap()
                .starts_with(SHA1_MILLION_A)
        );
    });
}

#[test]
fn communicate_from_a_file() {
    if !have(&["sha1sum"]) {
        return;
    }
    let rt = rt2();
    let tmp = TempFile::new("csum");
    let path = tmp.0.clone();
    run(&rt, async move {
        fs::write(&path, vec![b'a'; 1_000_000]).await.unwrap();
        let input = File::open(&path).await.unwrap();
        let mut pipe = Pipe::spawn(cmd(&["sha1sum"])).await.unwrap();
        let out = pipe.communicate_from(input).await.unwrap();
        assert!(
            String::from_utf8(out.stdout)
                .unwrap()
                .starts_with(SHA1_MILLION_A)
        );
    });
}

#[test]
fn cat_grep_pipeline_with_reader_and_writer_tasks() {
    if !have(&["cat", "grep"]) {
        return;
    }
    let rt = rt2();
    run(&rt, async {
        let mut pipe = Pipe::pipeline([cmd(&["cat"]), cmd(&["grep", "error"])])
            .await
            .unwrap();
        assert_eq!(pipe.ids().len(), 2);
        let mut stdin = pipe.take_stdin().unwrap();
        let writer = rcos::spawn(move |_| async move {
            for i in 0..20_000u32 {
                let line = if i % 7 == 0 {
                    format!("{i}: error: something broke\n")
                } else {
                    format!("{i}: all is well\n")
                };
                stdin.write(line.as_bytes()).await.unwrap();
            }
            stdin.close().await.unwrap();
        });
        let mut matched = 0u32;
        while let Some(line) = pipe.read_line().await.unwrap() {
            assert!(line.ends_with("error: something broke"), "{line:?}");
            let n: u32 = line.split(':').next().unwrap().parse().unwrap();
            assert_eq!(n, matched * 7, "lines arrive in order");
            matched += 1;
        }
        assert_eq!(matched, 20_000 / 7 + 1);
        assert!(writer.finish().await.is_returned());
        assert!(pipe.wait().await.unwrap().success());
    });
}

#[test]
fn pipeline_statuses_and_communicate() {
    if !have(&["cat", "grep"]) {
        return;
    }
    let rt = rt2();
    run(&rt, async {
        let mut pipe = Pipe::pipeline([cmd(&["cat"]), cmd(&["grep", "-c", "x"])])
            .await
            .unwrap();
        let out = pipe.communicate(b"x\ny\nx\n").await.unwrap();
        assert_eq!(out.stdout, b"2\n");
        assert!(out.all_succeeded());
        assert_eq!(out.statuses.len(), 2);

        // grep finds nothing: the pipeline's status is grep's, 1.
        let mut pipe = Pipe::pipeline([cmd(&["cat"]), cmd(&["grep", "x"])])
            .await
            .unwrap();
        let out = pipe.communicate(b"nothing here\n").await.unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(out.statuses[0].success());
        assert!(!out.all_succeeded());
        assert!(out.stdout.is_empty());
    });
}

#[test]
fn a_process_that_stops_reading_gives_its_status_not_a_hang() {
    if !have(&["head", "sh"]) {
        return;
    }
    let rt = rt2();
    run(&rt, async {
        let big = vec![b'z'; 10 << 20];
        // Reads 10 bytes of 10 MiB and exits: the rest of the input has nowhere to go.
        let out = Pipe::spawn(cmd(&["head", "-c", "10"]))
            .await
            .unwrap()
            .communicate(&big)
            .await
            .unwrap();
        assert_eq!(out.stdout, b"zzzzzzzzzz");
        assert!(out.status.success());

        // Exits at once with a status of its own, reading nothing.
        let out = Pipe::spawn(cmd(&["sh", "-c", "exit 3"]))
            .await
            .unwrap()
            .communicate(&big)
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(3));

        // Reads one line, writes to both outputs, then fails.
        let out = Pipe::spawn(cmd(&[
            "sh",
            "-c",
            "read x; echo got $x; echo oops >&2; exit 4",
        ]))
        .await
        .unwrap()
        .communicate(b"first\nsecond\n")
        .await
        .unwrap();
        assert_eq!(out.stdout, b"got first\n");
        assert_eq!(out.stderr, b"oops\n");
        assert_eq!(out.status.code(), Some(4));

        // Writing after the process is gone: an error, not a hang.
        let mut pipe = Pipe::spawn(cmd(&["sh", "-c", "exit 0"])).await.unwrap();
        assert!(pipe.wait().await.unwrap().success());
        assert!(pipe.write(&big).await.is_err());
    });
}

#[test]
fn stderr_lines_kill_and_missing_programs() {
    if !have(&["sh", "sleep"]) {
        return;
    }
    let rt = rt2();
    run(&rt, async {
        let mut pipe = Pipe::spawn(cmd(&["sh", "-c", "echo one >&2; echo two >&2"]))
            .await
            .unwrap();
        assert_eq!(
            pipe.read_stderr_line().await.unwrap().as_deref(),
            Some("one")
        );
        assert_eq!(pipe.read_stderr_all().await.unwrap(), b"two\n");
        assert_eq!(pipe.read_all().await.unwrap(), b"");
        assert!(pipe.wait().await.unwrap().success());

        let mut sleeper = Pipe::spawn(cmd(&["sleep", "60"])).await.unwrap();
        assert_eq!(sleeper.try_wait().unwrap(), None);
        sleeper.kill().unwrap();
        let status = sleeper.wait().await.unwrap();
        assert!(!status.success());

        let err = Pipe::spawn(cmd(&["rcos-no-such-program"]))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains("rcos-no-such-program"), "{err}");
        let err = Pipe::pipeline(Vec::new()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    });
}

#[test]
fn a_pipe_is_async_read_and_write() {
    if !have(&["cat"]) {
        return;
    }
    let rt = rt2();
    run(&rt, async {
        let mut pipe = Pipe::spawn(cmd(&["cat"])).await.unwrap();
        pipe.write_all(b"through cat").await.unwrap();
        pipe.close().await.unwrap();
        let mut out = String::new();
        pipe.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "through cat");
        let err = pipe.write(b"closed").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotConnected);
        assert!(pipe.wait().await.unwrap().success());
    });
}
