//! The runtime: worker threads that run tasks, with async-io as the reactor.
//!
//! A [`Runtime`] owns its worker threads; a [`Handle`] is a cheap, cloneable reference to
//! it that tasks and other threads use to spawn, join and look names up. Every runtime
//! keeps its own tasks, names and clock, so several can live in one process (which is
//! how multi-node tests run) without seeing each other.
//!
//! Most programs never build one: the first [`spawn`](crate::spawn) outside any runtime
//! starts a default runtime with one worker per core, as `Pycos()` does in pycos, and
//! [`rcos::join`](crate::join) waits for its tasks.
//!
//! ```
//! use rcos::Runtime;
//!
//! let rt = Runtime::builder().workers(2).name("example").build().unwrap();
//! let task = rt.spawn(|_task| async { 6 * 7 });
//! assert_eq!(task.value().value().and_then(|v| v.get::<i32>()), Some(42));
//! rt.join().unwrap();
//! ```

mod builder;
pub(crate) mod context;
mod default;
pub(crate) mod det;
pub(crate) mod scheduler;
mod watchdog;

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use builder::Builder;
pub use context::EnterGuard;
pub(crate) use default::{default_handle, install_default};
pub use default::{join, terminate};

use crate::error::{JoinError, LocateError};
use crate::registry::Registry;
use crate::task::{Exit, TaskRef, TaskTable};
use crate::time::Clock;
use crate::util::Mutex;
use scheduler::Scheduler;

/// Who a runtime is: a name and a random incarnation number, fresh each time a runtime
/// starts, so that references to tasks of an earlier run of a program never reach a
/// later one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct NodeId {
    pub(crate) name: Arc<str>,
    pub(crate) incarnation: u64,
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// State shared by a runtime's handles, tasks and workers.
pub(crate) struct Shared {
    pub(crate) node: NodeId,
    pub(crate) sched: Scheduler,
    pub(crate) tasks: TaskTable,
    pub(crate) names: Registry,
    pub(crate) channels: crate::channel::ChannelRegistry,
    /// The network node, if this runtime is one.
    pub(crate) net: std::sync::OnceLock<Arc<crate::net::Node>>,
    pub(crate) clock: Clock,
    pub(crate) workers: usize,
    next_reply_id: AtomicU64,
    /// Reply slots whose `ReplyTo` was serialized, by id.
    pub(crate) replies: Mutex<std::collections::HashMap<u64, Arc<dyn crate::message::ReplySink>>>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("name", &self.node.name)
            .field("workers", &self.workers)
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Lets a simulation this runtime belongs to run while the guard lives (see
    /// [`det::RunGuard`]); `None` for any other runtime.
    pub(crate) fn run_guard(&self) -> Option<det::RunGuard> {
        self.sched.det.as_ref().map(|(world, _)| world.run_guard())
    }

    pub(crate) fn next_reply_id(&self) -> u64 {
        self.next_reply_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.sched.is_shut_down()
    }

    /// How this runtime shows in task references: its listening address if it is a
    /// node, its name otherwise.
    pub(crate) fn place(&self) -> String {
        match self.net.get() {
            Some(node) => node.location().to_string(),
            None => self.node.name.to_string(),
        }
    }
}

/// A runtime: worker threads, a reactor, and the tasks, names and clock that belong to
/// them.
///
/// Dropping the runtime (or calling [`terminate`](Self::terminate)) stops its workers and
/// drops every task it still runs: each task's future, with everything it owns, is
/// dropped, and its monitors are told it was terminated. Call [`join`](Handle::join)
/// first to let the tasks finish.
///
/// `Runtime` dereferences to its [`Handle`], which has the methods for spawning,
/// joining and looking names up.
pub struct Runtime {
    handle: Handle,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// A cheap, cloneable reference to a [`Runtime`].
///
/// A handle does not keep the runtime's threads alive: once the `Runtime` is dropped or
/// terminated, tasks spawned through a handle end at once with [`Exit::Terminated`].
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl Runtime {
    /// A runtime with one worker per core; see [`Runtime::builder`] for more choice.
    ///
    /// # Errors
    /// When the operating system refuses to start a worker thread.
    pub fn new() -> std::io::Result<Runtime> {
        Builder::new().build()
    }

    /// Starts configuring a runtime.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A handle to this runtime.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Ends every task and stops the workers; the same as dropping the runtime.
    ///
    /// Each task is dropped at its current await point (its locals' `Drop` runs) and its
    /// monitors are told [`Exit::Terminated`]. A task that is busy on a worker thread
    /// without awaiting is dropped when it next awaits, and `terminate` waits for that.
    pub fn terminate(self) {
        drop(self);
    }

    fn shutdown(&self) {
        let shared = &self.handle.shared;
        if shared.sched.is_shut_down() {
            return;
        }
        // While the workers still run: the node's writers send what is queued.
        let _running = shared.run_guard();
        if let Some(node) = shared.net.get() {
            node.stop();
        }
        if shared.sched.shutdown.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::debug!(runtime = %shared.node, "runtime shutting down");
        shared.sched.wake_all();
        let threads = std::mem::take(&mut *self.threads.lock());
        let me = std::thread::current().id();
        for thread in threads {
            if thread.thread().id() == me {
                continue;
            }
            if thread.join().is_err() {
                tracing::error!(runtime = %shared.node, "a worker thread panicked");
            }
        }
        // Every task still alive is idle (waiting on something) or queued: terminate
        // wakes it, and the scheduler, now shut down, drops it instead of running it.
        for core in shared.tasks.all() {
            core.request_terminate();
        }
        shared.sched.drain();
        shared.replies.lock().clear();
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::ops::Deref for Runtime {
    type Target = Handle;

    fn deref(&self) -> &Handle {
        &self.handle
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.handle.shared, f)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.shared, f)
    }
}

impl PartialEq for Handle {
    fn eq(&self, other: &Handle) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl Eq for Handle {}

impl Handle {
    /// The handle of the runtime the caller runs on (the current task's, a worker's, or
    /// one entered with [`enter`](Self::enter)), if any.
    pub fn current() -> Option<Handle> {
        context::current_shared().map(|shared| Handle { shared })
    }

    /// The runtime's name (its location, until it becomes a network node).
    pub fn name(&self) -> &str {
        &self.shared.node.name
    }

    /// How many worker threads run tasks.
    pub fn workers(&self) -> usize {
        self.shared.workers
    }

    /// How many tasks are alive.
    pub fn task_count(&self) -> usize {
        self.shared.tasks.len()
    }

    /// Whether the runtime has been terminated.
    pub fn is_terminated(&self) -> bool {
        self.shared.is_shut_down()
    }

    /// The current time on this runtime's clock (virtual in deterministic mode).
    pub fn now(&self) -> Instant {
        self.shared.clock.now()
    }

    /// Moves a deterministic runtime's virtual clock forward by `by`, firing the timers
    /// that fall due. Does nothing on a runtime that runs on real time.
    #[cfg(feature = "test-util")]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    pub fn advance(&self, by: Duration) {
        if let Clock::Virtual(clock) = &self.shared.clock {
            clock.advance(by);
            self.shared.sched.wake_all();
        }
    }

    /// Makes this runtime the current one on this (plain) thread until the guard is
    /// dropped: [`spawn`](crate::spawn), [`time`](crate::time) and
    /// [`TaskRef::locate`] then use it, and task references deserialized here resolve
    /// against it.
    pub fn enter(&self) -> EnterGuard {
        context::enter(self.clone())
    }

    /// Spawns a task running the future that `f` makes; `f` is called at once, with the
    /// new task's own reference.
    ///
    /// ```
    /// # let rt = rcos::Runtime::new().unwrap();
    /// let echo = rt.spawn(|task| async move {
    ///     while let Ok(msg) = task.receive().await {
    ///         if let Ok(text) = msg.downcast::<String>() {
    ///             tracing::info!("echo: {text}");
    ///         }
    ///     }
    /// });
    /// echo.send("hello".to_string()).unwrap();
    /// echo.terminate();
    /// ```
    pub fn spawn<F, Fut>(&self, f: F) -> TaskRef
    where
        F: FnOnce(TaskRef) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        crate::task::Builder::new().spawn_on(self, f)
    }

    /// Spawns a [`#[task]`](macro@crate::task) function with its arguments.
    pub fn spawn_fn<T: crate::TaskFn>(&self, task_fn: fn() -> T, args: T::Args) -> TaskRef {
        crate::task::Builder::new().spawn_fn_on(self, task_fn, args)
    }

    /// Runs `future` as a task on this runtime and blocks the calling thread until it is
    /// done, returning its output.
    ///
    /// The future runs as a task (so [`TaskRef::current`] works inside it); the tasks it
    /// spawns keep running after it returns.
    ///
    /// # Panics
    /// If the future panics (with the same message), if the runtime is terminated before
    /// the future finishes, or if called on one of this runtime's own worker threads
    /// (which would deadlock).
    pub fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        assert!(
            !context::on_worker_of(&self.shared),
            "Handle::block_on called from inside the runtime it would block"
        );
        let slot = Arc::new(crate::util::Slot::new());
        let filler = crate::util::SlotFiller(slot.clone());
        // A simulation runs while the future does, and stops the moment it finishes:
        // the task lets go of the world itself, so where it stops depends on the seed
        // alone, not on when this thread wakes up. (The guard is taken once the task is
        // queued, or the world would start without it and let time jump meanwhile.)
        let running = Arc::new(crate::util::Mutex::new((false, None::<det::RunGuard>)));
        let release = running.clone();
        let task = crate::task::Builder::new()
            .name("main")
            .spawn_on(self, move |_| async move {
                let out = future.await;
                let guard = {
                    let mut running = release.lock();
                    running.0 = true;
                    running.1.take()
                };
                drop(guard);
                let _ = filler.fill(out);
            });
        if let Some(guard) = self.shared.run_guard() {
            let mut running = running.lock();
            if !running.0 {
                running.1 = Some(guard);
            }
        }
        match slot.wait_blocking() {
            Some(out) => out,
            None => match task.value() {
                Exit::Panicked(msg) => panic!("{msg}"),
                exit => panic!("the runtime ended before block_on's future finished ({exit})"),
            },
        }
    }

    /// Waits, from a plain thread, until every non-daemon task has ended.
    ///
    /// New tasks may be spawned afterwards, and `join` may be called again. Tasks spawned
    /// while `join` waits are waited for too.
    ///
    /// # Errors
    /// [`JoinError::InsideRuntime`] when called from a task or worker of this runtime,
    /// where waiting would deadlock.
    pub fn join(&self) -> Result<(), JoinError> {
        self.join_inner(None)
    }

    /// Like [`join`](Self::join), giving up after `timeout` (real time).
    ///
    /// # Errors
    /// [`JoinError::Timeout`] if tasks are still running then.
    pub fn join_timeout(&self, timeout: Duration) -> Result<(), JoinError> {
        self.join_inner(Some(Instant::now() + timeout))
    }

    fn join_inner(&self, deadline: Option<Instant>) -> Result<(), JoinError> {
        if context::on_worker_of(&self.shared) {
            return Err(JoinError::InsideRuntime);
        }
        let shared = &self.shared;
        let _running = shared.run_guard();
        if shared
            .tasks
            .wait_non_daemon_done(deadline, || shared.is_shut_down())
        {
            Ok(())
        } else {
            Err(JoinError::Timeout)
        }
    }

    /// Finds the task registered under `name` on this runtime, waiting up to `timeout`
    /// for it to be registered.
    ///
    /// # Errors
    /// [`LocateError::NotFound`] when no task took the name in time.
    pub async fn locate(&self, name: &str, timeout: Duration) -> Result<TaskRef, LocateError> {
        let shared = &self.shared;
        let Some(net) = self.node() else {
            return shared.names.locate(shared, name, timeout).await;
        };
        // Here, or on any peer: the first positive answer wins (a "not found" from one
        // peer does not end the search).
        let deadline = shared.clock.deadline(timeout);
        let local = async { shared.names.locate(shared, name, timeout).await.ok() };
        let remote = async {
            match net.locate_anywhere(name, false, deadline).await {
                Some(crate::net::frame::Answer::Task(task)) => Some(task),
                _ => None,
            }
        };
        crate::net::first_found(&shared.clock, timeout, local, remote)
            .await
            .ok_or_else(|| LocateError::NotFound {
                name: name.to_string(),
            })
    }

    /// Spawns the `#[task(remote)]` function registered as `name`, with its arguments
    /// encoded as CBOR (a tuple in declaration order): what a node does when another
    /// node asks it to start a task. Also handy for choosing a task by name at run time.
    ///
    /// # Errors
    /// [`SpawnError`](crate::SpawnError) if no remote task has that name, several do, or
    /// the arguments do not decode.
    pub fn spawn_named(
        &self,
        name: &str,
        args: &[u8],
    ) -> Result<TaskRef, crate::error::SpawnError> {
        crate::task::spawn_by_name(self, name, args)
    }

    /// The task registered under `name` on this runtime right now, if any.
    pub fn registered(&self, name: &str) -> Option<TaskRef> {
        self.shared.names.get(name)
    }
}

/// Builds the shared state of a new runtime.
pub(crate) fn new_shared(
    name: Cow<'static, str>,
    workers: usize,
    det: Option<Arc<det::DetWorld>>,
) -> (
    Arc<Shared>,
    Vec<crossbeam_deque::Worker<scheduler::Runnable>>,
) {
    let (clock, incarnation) = match &det {
        Some(world) => (
            Clock::Virtual(world.clock.clone()),
            world.incarnation().unwrap_or_else(random_u64),
        ),
        None => (Clock::Real, random_u64()),
    };
    let (sched, locals) = Scheduler::new(workers, det);
    let shared = Arc::new(Shared {
        node: NodeId {
            name: Arc::from(name.as_ref()),
            incarnation,
        },
        sched,
        tasks: TaskTable::new(),
        names: Registry::new(),
        channels: crate::channel::ChannelRegistry::new(),
        net: std::sync::OnceLock::new(),
        clock,
        workers,
        next_reply_id: AtomicU64::new(1),
        replies: Mutex::new(std::collections::HashMap::new()),
    });
    (shared, locals)
}

fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    match getrandom::fill(&mut buf) {
        Ok(()) => u64::from_le_bytes(buf),
        Err(error) => {
            tracing::warn!(%error, "no OS randomness; runtime incarnation falls back to fastrand");
            fastrand::u64(..)
        }
    }
}

impl Runtime {
    pub(crate) fn from_parts(shared: Arc<Shared>, threads: Vec<JoinHandle<()>>) -> Runtime {
        Runtime {
            handle: Handle { shared },
            threads: Mutex::new(threads),
        }
    }
}
