//! Pipes to subprocesses: pycos's `AsyncPipe`.
//!
//! A [`Pipe`] runs one command, or a pipeline of commands like `cat | grep error` whose
//! standard output feeds the next one's standard input. A task writes to the first
//! command's standard input and reads the last one's standard output and standard
//! error, each without blocking a worker thread; [`Pipe::communicate`] does all three
//! at once and waits for the processes to end, like Python's `Popen.communicate`.
//!
//! ```
//! use std::process::Command;
//! use rcos::io::pipe::Pipe;
//!
//! # if std::process::Command::new("tr").arg("--version").output().is_err() { return; }
//! # rcos::Runtime::new().unwrap().block_on(async {
//! let mut upper = Command::new("tr");
//! upper.args(["a-z", "A-Z"]);
//! let mut pipe = Pipe::spawn(upper).await?;
//! let out = pipe.communicate(b"shout").await?;
//! assert_eq!(out.stdout, b"SHOUT");
//! assert!(out.status.success());
//! # std::io::Result::Ok(())
//! # }).unwrap();
//! ```

use std::ffi::OsString;
use std::fmt;
use std::io::{self, ErrorKind};
use std::pin::Pin;
use std::process::{Command, ExitStatus, Stdio};
use std::task::{Context, Poll};

use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};
use futures_lite::io::BufReader;
use futures_lite::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// One command or a pipeline of commands, with its ends piped to the task: pycos's
/// `AsyncPipe`.
///
/// - The first command's standard input is a pipe that [`write`](Self::write) (or the
///   `AsyncWrite` impl) writes to; [`close_stdin`](Self::close_stdin) ends it, which is
///   how most programs learn that their input is complete.
/// - The last command's standard output is a pipe that [`read_all`](Self::read_all),
///   [`read_line`](Self::read_line) (or the `AsyncRead` impl) read.
/// - The last command's standard error is a pipe too, read with
///   [`read_stderr_all`](Self::read_stderr_all) and
///   [`read_stderr_line`](Self::read_stderr_line). The other commands' standard error is
///   what their `Command` says (by default this program's).
///
/// A pipe holds only as much as the system buffers (64 KiB on Linux): a program whose
/// output nobody reads stops until it is read. [`communicate`](Self::communicate) reads
/// both outputs while it writes the input, so it never gets stuck that way; to read and
/// write in separate tasks, take the ends out with [`take_stdin`](Self::take_stdin),
/// [`take_stdout`](Self::take_stdout) and [`take_stderr`](Self::take_stderr).
///
/// Dropping a `Pipe` does not stop its processes (their ends of the pipes close, and the
/// system reaps them when they exit); call [`kill`](Self::kill) to stop them.
pub struct Pipe {
    children: Vec<async_process::Child>,
    programs: Vec<OsString>,
    stdin: Option<PipeWriter>,
    stdout: Option<PipeReader>,
    stderr: Option<PipeReader>,
}

/// What [`Pipe::communicate`] collects: everything the last command wrote, and how the
/// commands ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Output {
    /// The last command's standard output.
    pub stdout: Vec<u8>,
    /// The last command's standard error.
    pub stderr: Vec<u8>,
    /// How the last command ended (a shell pipeline's status).
    pub status: ExitStatus,
    /// How each command ended, in pipeline order (one entry for a single command).
    pub statuses: Vec<ExitStatus>,
}

impl Output {
    /// Whether every command of the pipeline exited with status 0.
    pub fn all_succeeded(&self) -> bool {
        self.statuses.iter().all(ExitStatus::success)
    }
}

fn not_piped(what: &str) -> io::Error {
    io::Error::new(
        ErrorKind::NotConnected,
        format!("the pipe's {what} was closed or taken"),
    )
}

impl Pipe {
    /// Starts `command` with its standard input, output and error piped.
    ///
    /// # Errors
    /// When the program cannot be started (not found, not executable); the error names
    /// the program.
    pub async fn spawn(command: Command) -> io::Result<Pipe> {
        Pipe::pipeline([command]).await
    }

    /// Starts a pipeline: each command's standard output feeds the next one's standard
    /// input, as `first | second | ...` in a shell.
    ///
    /// ```
    /// use std::process::Command;
    /// use rcos::io::pipe::Pipe;
    ///
    /// # for tool in ["cat", "grep"] { if std::process::Command::new(tool).arg("--version").output().is_err() { return; } }
    /// # rcos::Runtime::new().unwrap().block_on(async {
    /// let mut grep = Command::new("grep");
    /// grep.arg("error");
    /// let mut pipe = Pipe::pipeline([Command::new("cat"), grep]).await?;
    /// pipe.write(b"ok\nerror: disk full\nok\n").await?;
    /// pipe.close_stdin().await?;
    /// assert_eq!(pipe.read_line().await?.as_deref(), Some("error: disk full"));
    /// assert_eq!(pipe.read_line().await?, None);
    /// assert!(pipe.wait().await?.success());
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// `InvalidInput` for an empty pipeline; otherwise as [`spawn`](Self::spawn). When a
    /// later command cannot start, the ones already started are killed.
    pub async fn pipeline(commands: impl IntoIterator<Item = Command>) -> io::Result<Pipe> {
        let commands: Vec<Command> = commands.into_iter().collect();
        if commands.is_empty() {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                "a pipeline needs at least one command",
            ));
        }
        let last = commands.len() - 1;
        let mut pipe = Pipe {
            children: Vec::with_capacity(commands.len()),
            programs: Vec::with_capacity(commands.len()),
            stdin: None,
            stdout: None,
            stderr: None,
        };
        let mut feed: Option<Stdio> = None;
        for (i, command) in commands.into_iter().enumerate() {
            let program = command.get_program().to_os_string();
            let mut command = async_process::Command::from(command);
            command.stdin(feed.take().unwrap_or_else(Stdio::piped));
            command.stdout(Stdio::piped());
            if i == last {
                command.stderr(Stdio::piped());
            }
            let mut child = match command.spawn() {
                Ok(child) => child,
                Err(e) => {
                    pipe.kill_quietly();
                    return Err(io::Error::new(
                        e.kind(),
                        format!("cannot start {}: {e}", program.to_string_lossy()),
                    ));
                }
            };
            tracing::debug!(program = %program.to_string_lossy(), pid = child.id(), "process started");
            if i == 0 {
                pipe.stdin = child.stdin.take().map(|inner| PipeWriter { inner });
            }
            if i == last {
                pipe.stdout = child
                    .stdout
                    .take()
                    .map(|s| PipeReader::new(Source::Stdout(s)));
                pipe.stderr = child
                    .stderr
                    .take()
                    .map(|s| PipeReader::new(Source::Stderr(s)));
            } else if let Some(out) = child.stdout.take() {
                match out.into_stdio().await {
                    Ok(stdio) => feed = Some(stdio),
                    Err(e) => {
                        pipe.children.push(child);
                        pipe.kill_quietly();
                        return Err(e);
                    }
                }
            }
            pipe.children.push(child);
            pipe.programs.push(program);
        }
        Ok(pipe)
    }

    /// Writes all of `data` to the first command's standard input (pycos's
    /// `write(data, full=True)`).
    ///
    /// # Errors
    /// `BrokenPipe` when the process no longer reads its input (it exited);
    /// `NotConnected` after [`close_stdin`](Self::close_stdin) or
    /// [`take_stdin`](Self::take_stdin).
    pub async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.stdin
            .as_mut()
            .ok_or_else(|| not_piped("stdin"))?
            .write(data)
            .await
    }

    /// Closes the first command's standard input: the program reads the end of its
    /// input. Does nothing if it is already closed.
    ///
    /// # Errors
    /// Errors of writes still buffered.
    pub async fn close_stdin(&mut self) -> io::Result<()> {
        match self.stdin.take() {
            Some(stdin) => stdin.close().await,
            None => Ok(()),
        }
    }

    /// Reads the last command's standard output to its end (pycos's `read()`).
    ///
    /// # Errors
    /// The system's; `NotConnected` if standard output was taken.
    pub async fn read_all(&mut self) -> io::Result<Vec<u8>> {
        self.stdout
            .as_mut()
            .ok_or_else(|| not_piped("stdout"))?
            .read_all()
            .await
    }

    /// Reads the next line of the last command's standard output, without its line
    /// ending; `None` at the end (pycos's `readline()`).
    ///
    /// # Errors
    /// The system's; `InvalidData` when the line is not UTF-8; `NotConnected` if
    /// standard output was taken.
    pub async fn read_line(&mut self) -> io::Result<Option<String>> {
        self.stdout
            .as_mut()
            .ok_or_else(|| not_piped("stdout"))?
            .read_line()
            .await
    }

    /// Reads the last command's standard error to its end (pycos's `read_stderr()`).
    ///
    /// # Errors
    /// The system's; `NotConnected` if standard error was taken.
    pub async fn read_stderr_all(&mut self) -> io::Result<Vec<u8>> {
        self.stderr
            .as_mut()
            .ok_or_else(|| not_piped("stderr"))?
            .read_all()
            .await
    }

    /// Reads the next line of the last command's standard error (pycos's
    /// `readline_stderr()`).
    ///
    /// # Errors
    /// As [`read_line`](Self::read_line).
    pub async fn read_stderr_line(&mut self) -> io::Result<Option<String>> {
        self.stderr
            .as_mut()
            .ok_or_else(|| not_piped("stderr"))?
            .read_line()
            .await
    }

    /// Takes the first command's standard input out, for a writer task.
    pub fn take_stdin(&mut self) -> Option<PipeWriter> {
        self.stdin.take()
    }

    /// Takes the last command's standard output out, for a reader task.
    pub fn take_stdout(&mut self) -> Option<PipeReader> {
        self.stdout.take()
    }

    /// Takes the last command's standard error out, for a reader task.
    pub fn take_stderr(&mut self) -> Option<PipeReader> {
        self.stderr.take()
    }

    /// Writes `input` to the first command, closes its standard input, reads the last
    /// command's standard output and error to their ends (all three at once), and waits
    /// for every command to exit.
    ///
    /// A command that exits without reading all its input is not an error: its status
    /// says how it ended. Ends that were taken out or closed before are skipped (their
    /// parts of the [`Output`] are empty).
    ///
    /// ```
    /// use std::process::Command;
    /// use rcos::io::pipe::Pipe;
    ///
    /// # if std::process::Command::new("sh").arg("-c").arg("true").output().is_err() { return; }
    /// # rcos::Runtime::new().unwrap().block_on(async {
    /// let mut sh = Command::new("sh");
    /// sh.args(["-c", "echo out; echo err >&2; exit 3"]);
    /// let out = Pipe::spawn(sh).await?.communicate(b"").await?;
    /// assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b"out\n"[..], &b"err\n"[..]));
    /// assert_eq!(out.status.code(), Some(3));
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// The system's, when a pipe fails (other than the input pipe breaking because the
    /// command stopped reading) or a process cannot be waited for.
    pub async fn communicate(&mut self, input: &[u8]) -> io::Result<Output> {
        self.communicate_from(input).await
    }

    /// Like [`communicate`](Self::communicate), with the input read from `input` as it
    /// goes (a [`File`](crate::io::fs::File), a socket, ...) instead of held in memory;
    /// pycos's `communicate(file)`.
    ///
    /// # Errors
    /// As [`communicate`](Self::communicate), and `input`'s read errors.
    pub async fn communicate_from<R>(&mut self, input: R) -> io::Result<Output>
    where
        R: AsyncRead + Unpin,
    {
        let stdin = self.stdin.take();
        let mut stdout = self.stdout.take();
        let mut stderr = self.stderr.take();
        let write = async move {
            let Some(mut stdin) = stdin else {
                return Ok(());
            };
            match futures_lite::io::copy(input, &mut stdin).await {
                Ok(_) => stdin.close().await,
                Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                    tracing::debug!("the process stopped reading its input");
                    Ok(())
                }
                Err(e) => Err(e),
            }
        };
        let read_out = async {
            match stdout.as_mut() {
                Some(r) => r.read_all().await,
                None => Ok(Vec::new()),
            }
        };
        let read_err = async {
            match stderr.as_mut() {
                Some(r) => r.read_all().await,
                None => Ok(Vec::new()),
            }
        };
        let (written, (out, err)) =
            futures_lite::future::zip(write, futures_lite::future::zip(read_out, read_err)).await;
        let statuses = self.wait_all().await?;
        written?;
        let status = *statuses.last().ok_or_else(|| not_piped("process"))?;
        Ok(Output {
            stdout: out?,
            stderr: err?,
            status,
            statuses,
        })
    }

    /// Closes standard input (so that no process waits for more) and waits until every
    /// command has exited; returns the last command's status.
    ///
    /// Output that is not read may keep a process from exiting: read it first, or use
    /// [`communicate`](Self::communicate).
    ///
    /// # Errors
    /// The system's.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        let statuses = self.wait_all().await?;
        statuses.last().copied().ok_or_else(|| not_piped("process"))
    }

    /// Closes standard input and waits until every command has exited; returns each
    /// command's status, in pipeline order.
    ///
    /// # Errors
    /// The system's.
    pub async fn wait_all(&mut self) -> io::Result<Vec<ExitStatus>> {
        self.stdin = None;
        let mut statuses = Vec::with_capacity(self.children.len());
        for (child, program) in self.children.iter_mut().zip(&self.programs) {
            let status = child.status().await?;
            tracing::debug!(program = %program.to_string_lossy(), %status, "process ended");
            statuses.push(status);
        }
        Ok(statuses)
    }

    /// The last command's status if it has exited, without waiting (pycos's `poll()`).
    ///
    /// # Errors
    /// The system's.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        match self.children.last_mut() {
            Some(child) => child.try_status(),
            None => Err(not_piped("process")),
        }
    }

    /// Kills every command of the pipeline (SIGKILL on Unix).
    ///
    /// # Errors
    /// The first error the system gives; every process is tried.
    pub fn kill(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        for child in &mut self.children {
            if let Err(e) = child.kill() {
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        result
    }

    fn kill_quietly(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
        }
    }

    /// The process ids of the commands, in pipeline order.
    pub fn ids(&self) -> Vec<u32> {
        self.children.iter().map(async_process::Child::id).collect()
    }
}

impl fmt::Debug for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipe")
            .field("programs", &self.programs)
            .field("ids", &self.ids())
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .finish()
    }
}

/// Reads the last command's standard output.
impl AsyncRead for Pipe {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.stdout.as_mut() {
            Some(r) => Pin::new(r).poll_read(cx, buf),
            None => Poll::Ready(Err(not_piped("stdout"))),
        }
    }
}

/// Writes to the first command's standard input; `close` closes it.
impl AsyncWrite for Pipe {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.stdin.as_mut() {
            Some(w) => Pin::new(w).poll_write(cx, buf),
            None => Poll::Ready(Err(not_piped("stdin"))),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stdin.as_mut() {
            Some(w) => Pin::new(w).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = match self.stdin.as_mut() {
            Some(w) => std::task::ready!(Pin::new(w).poll_close(cx)),
            None => Ok(()),
        };
        self.stdin = None;
        Poll::Ready(result)
    }
}

/// The standard input of a [`Pipe`]'s first command, taken out with
/// [`Pipe::take_stdin`]. Dropping it (or [`close`](Self::close)) closes it.
///
/// ```
/// use std::process::Command;
/// use rcos::io::pipe::Pipe;
///
/// # if std::process::Command::new("wc").arg("--version").output().is_err() { return; }
/// # rcos::Runtime::new().unwrap().block_on(async {
/// let mut wc = Command::new("wc");
/// wc.arg("-l");
/// let mut pipe = Pipe::spawn(wc).await?;
/// let mut stdin = pipe.take_stdin().unwrap();
/// let writer = rcos::spawn(move |_| async move {
///     for i in 0..100 {
///         stdin.write(format!("line {i}\n").as_bytes()).await?;
///     }
///     stdin.close().await
/// });
/// let counted = pipe.read_all().await?;
/// assert_eq!(String::from_utf8_lossy(&counted).trim(), "100");
/// assert!(writer.finish().await.is_returned());
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub struct PipeWriter {
    inner: async_process::ChildStdin,
}

impl PipeWriter {
    /// Writes all of `data`.
    ///
    /// # Errors
    /// `BrokenPipe` when the process no longer reads (it exited), and the system's.
    pub async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.inner.write_all(data).await
    }

    /// Closes the pipe: the process reads the end of its input.
    ///
    /// # Errors
    /// Errors of writes still buffered.
    pub async fn close(mut self) -> io::Result<()> {
        self.inner.flush().await
    }
}

impl fmt::Debug for PipeWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeWriter").finish_non_exhaustive()
    }
}

impl AsyncWrite for PipeWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// The standard output or error of a [`Pipe`]'s last command, taken out with
/// [`Pipe::take_stdout`] or [`Pipe::take_stderr`]. Buffered: it implements
/// `AsyncBufRead` as well as `AsyncRead`.
pub struct PipeReader {
    inner: BufReader<Source>,
}

enum Source {
    Stdout(async_process::ChildStdout),
    Stderr(async_process::ChildStderr),
}

impl AsyncRead for Source {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Source::Stdout(s) => Pin::new(s).poll_read(cx, buf),
            Source::Stderr(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl PipeReader {
    fn new(source: Source) -> PipeReader {
        PipeReader {
            inner: BufReader::new(source),
        }
    }

    /// Reads to the end.
    ///
    /// # Errors
    /// The system's.
    pub async fn read_all(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.inner.read_to_end(&mut out).await?;
        Ok(out)
    }

    /// Reads to the end, as UTF-8 text.
    ///
    /// # Errors
    /// The system's; `InvalidData` when the text is not UTF-8.
    pub async fn read_to_string(&mut self) -> io::Result<String> {
        let mut out = String::new();
        self.inner.read_to_string(&mut out).await?;
        Ok(out)
    }

    /// Reads the next line, without its line ending (`\n` or `\r\n`); `None` at the end.
    ///
    /// # Errors
    /// The system's; `InvalidData` when the line is not UTF-8.
    pub async fn read_line(&mut self) -> io::Result<Option<String>> {
        let mut line = String::new();
        if self.inner.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        if line.ends_with('\n') {
            line.pop();
            if line.ends_with('\r') {
                line.pop();
            }
        }
        Ok(Some(line))
    }

    /// Reads some bytes into `buf`; `Ok(0)` at the end.
    ///
    /// # Errors
    /// The system's.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).await
    }
}

impl fmt::Debug for PipeReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let which = match self.inner.get_ref() {
            Source::Stdout(_) => "stdout",
            Source::Stderr(_) => "stderr",
        };
        f.debug_struct("PipeReader")
            .field("source", &which)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for PipeReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncBufRead for PipeReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        Pin::new(&mut self.get_mut().inner).poll_fill_buf(cx)
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        Pin::new(&mut self.inner).consume(amt);
    }
}
