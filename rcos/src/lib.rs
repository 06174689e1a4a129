//! # rcos — actors in the model of pycos
//!
//! rcos runs lightweight **tasks** that own their state and talk only by **messages**.
//! It takes the programming model of the Python framework
//! [pycos](https://pycos.org) — tasks with mailboxes, broadcast channels, monitors, hot
//! swapping of running code, and messaging that works the same between machines as
//! inside one program — and makes it fast and safe in Rust: tasks run on every core,
//! task definitions are checked at compile time, and nothing from the network is
//! trusted before it is authenticated.
//!
//! ```
//! use std::time::Duration;
//! use rcos::{task, Request, TaskRef};
//!
//! /// A server task: answers `call`s with a greeting, keeps count in a local variable.
//! #[task]
//! async fn greeter(task: TaskRef, greeting: String) -> u32 {
//!     let mut served = 0;
//!     while let Ok(msg) = task.receive().await {
//!         match msg.downcast::<Request<String>>() {
//!             Ok(req) => {
//!                 let reply = format!("{greeting}, {}!", req.body());
//!                 let _ = req.reply(reply);
//!                 served += 1;
//!             }
//!             Err(_) => break, // anything else stops the server
//!         }
//!     }
//!     served
//! }
//!
//! #[rcos::main]
//! async fn main() {
//!     let server = greeter::spawn("Hello".to_string());
//!     let answer: String = server.call("rcos".to_string(), Duration::from_secs(1)).await.unwrap();
//!     assert_eq!(answer, "Hello, rcos!");
//!     server.send(()).unwrap();
//!     assert_eq!(server.finish().await.get::<u32>(), Some(1));
//! }
//! ```
//!
//! ## The pieces
//!
//! - [`Runtime`] and [`Handle`]: worker threads (one per core by default,
//!   `workers(1)` for pycos's one-task-at-a-time semantics) with async-io as the
//!   reactor; a default runtime starts on first use.
//! - [`TaskRef`]: the reference to a task, with pycos's methods — `send`, `deliver`,
//!   `receive`, `sleep`, `suspend`/`resume`, `finish`, `terminate`, `register`/`locate` —
//!   plus request/reply ([`TaskRef::call`]) and selective receive
//!   ([`TaskRef::receive_where`]).
//! - [`Message`] and [`Envelope`]: what can be sent, and what a task receives.
//! - [`macro@task`], [`macro@Message`] and [`macro@main`]: the macros (feature `macros`).
//! - [`mod@task`]: task options ([`task::Builder`]), exits and monitors
//!   ([`task::MonitorStatus`]), hot swapping; [`supervisor`]: supervision trees.
//! - [`channel`]: broadcast channels; [`sync`]: locks, semaphores, events and
//!   conditions for tasks; [`pool`]: a thread pool for blocking work; [`io`]: sockets,
//!   files and pipes; [`time`]: sleeps and timeouts on the runtime's clock, virtual in
//!   deterministic test runtimes.
//! - [`net`]: a runtime made a network node, with the same API across nodes;
//!   [`rps`]: remote services; [`cluster`]: jobs placed on the nodes of a cluster.
//!
//! The book (`book/` in the repository, `mdbook build book`) is the guide to all of
//! it, with the exact runtime semantics in its reference part.
//!
//! ## Feature flags
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `macros` | yes | `#[task]`, `#[derive(Message)]` and `#[rcos::main]` (the `rcos-macros` crate) |
//! | `tls` | no | TLS 1.3 for TCP streams, in `io::tls` (rustls with the *ring* provider), and mutual TLS between nodes (`net::NodeConfig::tls`) |
//! | `test-util` | no | [`runtime::Builder::deterministic`]: a one-worker runtime with a virtual clock and a seeded ready order, for fast and repeatable tests of timeouts and races |
//! | `dashboard` | no | `cluster::dashboard`: an HTTP server with a live web page and a JSON API showing a cluster's nodes and jobs (pycos's httpd); adds `tiny_http` and `serde_json` |
//!
//! Without a feature, everything else is there: runtimes, tasks, messages, monitors,
//! supervisors, hot swapping, channels, synchronisation, the thread pool, I/O, networking,
//! remote services and cluster computing.
//!
//! Features only add items; none changes or removes any.
//!
//! ## Panics in tasks
//!
//! A task that panics ends with [`Exit::Panicked`]; the runtime and every other task
//! carry on. This relies on unwinding: building with `panic = "abort"` is not
//! supported, as any panic would then end the whole process (a runtime built so logs a
//! warning when it starts).
//!
//! ## Tasks that do not await
//!
//! Tasks are never preempted, and `catch_unwind` cannot stop a task that loops or
//! blocks its thread without awaiting: it keeps its worker thread until it awaits. The
//! runtime's watchdog names such a task in a `tracing` warning once it has held its
//! worker for longer than a threshold (1 s unless set with
//! [`runtime::Builder::watchdog`]).
//!
//! ## Memory after a burst
//!
//! Mailboxes are unbounded unless bounded with [`task::Builder::mailbox`]. When a burst
//! of messages is received and dropped, their memory goes back to the allocator, but
//! the process's resident size need not come down: glibc's malloc often keeps freed
//! memory for reuse (a second burst of the same size reuses it rather than growing),
//! and a mailbox's queue keeps the capacity of its largest backlog (24 bytes a
//! message). Bound the mailboxes that can receive bursts, or use an allocator that
//! returns memory to the system, where the resident size after a burst matters.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings), allow(dead_code, unused_variables))))]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)
)]

// Lets the macros' `::rcos::` paths work inside this crate's own tests.
#[allow(unused_extern_crates)]
extern crate self as rcos;

pub mod channel;
pub mod cluster;
pub mod error;
pub mod io;
pub mod message;
pub mod net;
pub mod pool;
mod registry;
pub mod rps;
pub mod runtime;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod sim;
pub mod supervisor;
pub mod sync;
pub mod task;
pub mod time;
mod util;

pub use error::{
    CallError, Interrupt, JoinError, LocateError, RegisterError, ReplyError, ResumeError,
    SendError, SendErrorKind, SpawnError,
};
pub use message::{Envelope, Message, ReplyTo, Request};
pub use runtime::{Handle, Runtime, join, terminate};
pub use task::{Exit, TaskFn, TaskId, TaskRef, Value, spawn};

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use rcos_macros::{Message, main, task};

/// The common imports: `use rcos::prelude::*;`.
pub mod prelude {
    pub use crate::{Envelope, Exit, Handle, Message, Request, Runtime, TaskRef};
    #[cfg(feature = "macros")]
    pub use rcos_macros::task;
}

/// Support for the macros' expansions. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    use std::future::Future;

    pub use crate::task::RemoteTaskEntry;
    pub use inventory;

    use crate::task::Value;

    /// Fails to compile unless `T` is a message (used by `#[task(remote)]` to point at
    /// the argument that is not).
    pub const fn assert_message<T: crate::Message>() {}

    /// Holds a task's output while `#[task]` picks how to store it.
    #[derive(Debug)]
    pub struct OutputWrap<T>(pub Option<T>);

    /// Chosen when the output is a message: it stays encodable for other nodes.
    pub trait ViaMessage {
        fn __rcos_into_value(&mut self) -> Value;
    }

    impl<T: crate::Message> ViaMessage for OutputWrap<T> {
        fn __rcos_into_value(&mut self) -> Value {
            match self.0.take() {
                Some(out) => Value::new(out),
                None => Value::new(()),
            }
        }
    }

    /// Chosen for any other output: a local value.
    pub trait ViaLocal {
        fn __rcos_into_value(&mut self) -> Value;
    }

    impl<T: Send + 'static> ViaLocal for &mut OutputWrap<T> {
        fn __rcos_into_value(&mut self) -> Value {
            match self.0.take() {
                Some(out) => Value::new_local(out),
                None => Value::new(()),
            }
        }
    }

    /// The body of `#[rcos::main]`: runs `future` as a task on a fresh default runtime,
    /// waits for the non-daemon tasks it started, then stops the runtime.
    ///
    /// # Panics
    /// If the runtime cannot start, or `future` panics.
    pub fn main_entry<F>(workers: Option<usize>, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let mut builder = crate::runtime::Builder::new().name("rcos");
        if let Some(workers) = workers {
            builder = builder.workers(workers);
        }
        let rt = builder
            .build()
            .unwrap_or_else(|error| panic!("cannot start the rcos runtime: {error}"));
        let handle = crate::runtime::install_default(rt);
        let out = handle.block_on(future);
        if let Err(error) = handle.join() {
            tracing::error!(%error, "waiting for tasks at the end of main");
        }
        crate::runtime::terminate();
        out
    }
}

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

// The macros' docs live in rcos-macros, which cannot depend on rcos: their examples
// run here.
#[cfg(doctest)]
#[doc = include_str!("../../rcos-macros/docs/task.md")]
struct TaskMacroDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../rcos-macros/docs/message.md")]
struct MessageMacroDoctests;

#[cfg(doctest)]
#[doc = include_str!("../../rcos-macros/docs/main.md")]
struct MainMacroDoctests;
