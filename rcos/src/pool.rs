//! `AsyncThreadPool`: run blocking functions on a pool of threads without blocking the
//! tasks' worker threads.

use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::util::sync_shim::Condvar;
use crate::util::{Mutex, Slot, SlotFiller, panic_message};

type Job = Box<dyn FnOnce() + Send>;

/// A fixed pool of threads for blocking work (pycos's `AsyncThreadPool`).
///
/// Tasks must never block their worker thread (a blocking read of stdin, a heavy
/// computation, a synchronous database call): every other task on that worker would
/// wait. [`run`](Self::run) hands such a function to a pool thread and awaits its result,
/// while the task's worker goes on running other tasks.
///
/// Handles are cheap clones of one pool. [`terminate`](Self::terminate) waits for the
/// queued functions and stops the threads; dropping the last handle closes the pool
/// without waiting: functions already queued still run, then the threads exit.
///
/// ```
/// use rcos::pool::AsyncThreadPool;
///
/// let pool = AsyncThreadPool::new(2);
/// # rcos::Runtime::new().unwrap().block_on({ let pool = pool.clone(); async move {
/// let sum = pool.run(|| (1..=1_000_000u64).sum::<u64>()).await.unwrap();
/// assert_eq!(sum, 500_000_500_000);
/// # }});
/// pool.terminate();
/// ```
#[derive(Clone)]
pub struct AsyncThreadPool {
    inner: Arc<Owner>,
}

/// The handles' share of the pool: when the last handle goes, the pool closes. (The
/// threads hold [`Inner`] directly, so they do not keep the pool open.)
struct Owner(Arc<Inner>);

impl std::ops::Deref for Owner {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Drop for Owner {
    /// Closes the pool without waiting: functions already queued still run, then the
    /// threads exit.
    fn drop(&mut self) {
        self.0.state.lock().closed = true;
        self.0.work.notify_all();
    }
}

struct Inner {
    state: Mutex<State>,
    /// Signalled when a job is queued or the pool closes (threads wait on it).
    work: Condvar,
    /// Signalled when a job finishes (`join` waits on it).
    idle: Condvar,
    threads: Mutex<Vec<JoinHandle<()>>>,
    size: usize,
}

struct State {
    queue: VecDeque<Job>,
    running: usize,
    closed: bool,
}

/// Why [`AsyncThreadPool::run`] gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolError {
    /// The function panicked; this is the panic message. The pool thread survives.
    Panicked(String),
    /// The pool was terminated before the function ran.
    Terminated,
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::Panicked(msg) => write!(f, "the blocking function panicked: {msg}"),
            PoolError::Terminated => f.write_str("the thread pool was terminated"),
        }
    }
}

impl std::error::Error for PoolError {}

impl AsyncThreadPool {
    /// A pool of `threads` threads (at least one).
    ///
    /// # Panics
    /// If the operating system refuses to start a thread.
    pub fn new(threads: usize) -> AsyncThreadPool {
        let size = threads.max(1);
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                running: 0,
                closed: false,
            }),
            work: Condvar::new(),
            idle: Condvar::new(),
            threads: Mutex::new(Vec::new()),
            size,
        });
        let handles = (0..size)
            .map(|i| {
                let inner = inner.clone();
                std::thread::Builder::new()
                    .name(format!("rcos-pool-{i}"))
                    .spawn(move || inner.work_loop())
                    .unwrap_or_else(|error| panic!("cannot start a pool thread: {error}"))
            })
            .collect();
        *inner.threads.lock() = handles;
        AsyncThreadPool {
            inner: Arc::new(Owner(inner)),
        }
    }

    /// Runs `f` on a pool thread and returns its result; if every thread is busy, `f`
    /// waits for one. Other tasks keep running meanwhile. On a deterministic runtime
    /// the virtual clock does not jump while `f` runs.
    ///
    /// # Errors
    /// [`PoolError::Panicked`] if `f` panicked, [`PoolError::Terminated`] if the pool was
    /// terminated first.
    pub async fn run<F, T>(&self, f: F) -> Result<T, PoolError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let slot = Arc::new(Slot::new());
        let filler = SlotFiller(slot.clone());
        let _busy = crate::time::current_clock().inhibit_advance();
        let job: Job = Box::new(move || {
            let out = catch_unwind(AssertUnwindSafe(f))
                .map_err(|panic| PoolError::Panicked(panic_message(&*panic)));
            let _ = filler.fill(out);
        });
        {
            let mut st = self.inner.state.lock();
            if st.closed {
                return Err(PoolError::Terminated);
            }
            st.queue.push_back(job);
        }
        self.inner.work.notify_one();
        match slot.wait().await {
            Some(out) => out,
            None => Err(PoolError::Terminated),
        }
    }

    /// Waits, blocking the calling thread, until every queued function has run (pycos's
    /// `join`). Call it from a plain thread, not a task.
    pub fn join(&self) {
        let mut st = self.inner.state.lock();
        while !st.queue.is_empty() || st.running > 0 {
            st = self
                .inner
                .idle
                .wait(st)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Waits for every queued function to run, then stops the threads (pycos's
    /// `terminate`); later `run`s fail with [`PoolError::Terminated`]. Blocks the calling
    /// thread: call it from a plain thread.
    pub fn terminate(&self) {
        self.join();
        self.inner.state.lock().closed = true;
        self.inner.work.notify_all();
        let threads = std::mem::take(&mut *self.inner.threads.lock());
        let me = std::thread::current().id();
        for thread in threads {
            if thread.thread().id() != me {
                let _ = thread.join();
            }
        }
    }

    /// How many threads the pool has.
    pub fn size(&self) -> usize {
        self.inner.size
    }
}

impl Inner {
    fn work_loop(&self) {
        loop {
            let job = {
                let mut st = self.state.lock();
                loop {
                    if let Some(job) = st.queue.pop_front() {
                        st.running += 1;
                        break job;
                    }
                    if st.closed {
                        return;
                    }
                    st = self
                        .work
                        .wait(st)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            };
            job();
            self.state.lock().running -= 1;
            self.idle.notify_all();
        }
    }
}

impl fmt::Debug for AsyncThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.lock();
        f.debug_struct("AsyncThreadPool")
            .field("size", &self.inner.size)
            .field("queued", &st.queue.len())
            .field("running", &st.running)
            .field("closed", &st.closed)
            .finish()
    }
}
