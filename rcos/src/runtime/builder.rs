//! Configuring and starting a runtime.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{Runtime, new_shared, scheduler};

/// Configures a [`Runtime`].
///
/// ```
/// let rt = rcos::Runtime::builder()
///     .workers(1) // pycos's semantics: one thread runs every task
///     .name("single")
///     .build()
///     .unwrap();
/// assert_eq!(rt.workers(), 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    workers: Option<usize>,
    name: Option<Cow<'static, str>>,
    seed: Option<u64>,
    /// The deterministic world to join (a simulation's), instead of a new one.
    world: Option<std::sync::Arc<super::det::DetWorld>>,
    node: Option<crate::net::NodeConfig>,
    /// `None`: the default threshold; `Some(None)`: no watchdog.
    watchdog: Option<Option<Duration>>,
}

impl Builder {
    /// A builder with the defaults: one worker per core, a generated name.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// How many worker threads run tasks (at least one). `workers(1)` gives pycos's
    /// semantics: one task runs at a time, so tasks never race each other between awaits.
    pub fn workers(mut self, workers: usize) -> Builder {
        self.workers = Some(workers.max(1));
        self
    }

    /// The runtime's name: it shows in task references (`name/id@runtime`), in thread
    /// names and in logs.
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Makes a deterministic runtime for tests: one worker, a virtual clock that jumps to
    /// the next timer whenever every task is waiting, and a ready order chosen by a
    /// random generator seeded with `seed`. The same program with the same seed runs
    /// the same way each time (as long as it does no real I/O and no thread outside the
    /// runtime sends to it while it runs).
    #[cfg(feature = "test-util")]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    pub fn deterministic(mut self, seed: u64) -> Builder {
        self.seed = Some(seed);
        self.workers = Some(1);
        self
    }

    /// Makes the runtime a deterministic one that runs in `world` with the others
    /// there (a simulation's nodes).
    #[cfg(feature = "test-util")]
    pub(crate) fn in_world(mut self, world: std::sync::Arc<super::det::DetWorld>) -> Builder {
        self.world = Some(world);
        self.workers = Some(1);
        self
    }

    /// Makes the runtime a network node (see [`rcos::net`](crate::net)): it listens as
    /// configured and can talk to other nodes.
    pub fn node(mut self, config: crate::net::NodeConfig) -> Builder {
        self.node = Some(config);
        self
    }

    /// Sets how long a task may hold a worker thread, in one poll, before the watchdog
    /// names it with a `tracing` warning (default: 1 s); `None` turns the watchdog off.
    ///
    /// Tasks are never preempted: a task that computes or blocks without awaiting keeps
    /// its worker, and nothing (not even `catch_unwind`) can stop it from outside. The
    /// watchdog only tells which task it is (`name/id`), once per such poll. It costs
    /// one relaxed atomic store per poll and one thread per process that wakes a few
    /// times per threshold while some runtime has a watchdog.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = rcos::Runtime::builder()
    ///     .watchdog(Some(Duration::from_millis(200)))
    ///     .build()
    ///     .unwrap();
    /// # drop(rt);
    /// ```
    pub fn watchdog(mut self, threshold: Option<Duration>) -> Builder {
        self.watchdog = Some(threshold);
        self
    }

    /// Starts the runtime's worker threads (and, for a node, its listener).
    ///
    /// # Errors
    /// When the operating system refuses to start a thread; for a node, when it cannot
    /// listen where configured or its secret does not meet the policy (see
    /// [`NodeConfig`](crate::net::NodeConfig)).
    pub fn build(self) -> std::io::Result<Runtime> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let workers = self
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        let name = self.name.unwrap_or_else(|| {
            Cow::Owned(format!("rt{}", COUNTER.fetch_add(1, Ordering::Relaxed)))
        });
        let det = self
            .world
            .or_else(|| self.seed.map(super::det::DetWorld::new));
        let (shared, locals) = new_shared(name, workers, det);
        let mut threads = Vec::with_capacity(workers);
        for (index, local) in locals.into_iter().enumerate() {
            let worker_shared = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{}-worker-{index}", shared.node.name))
                .spawn(move || scheduler::run_worker(worker_shared, index, local));
            match spawned {
                Ok(thread) => threads.push(thread),
                Err(error) => {
                    // Stop the workers already started before reporting the failure.
                    drop(Runtime::from_parts(shared, threads));
                    return Err(error);
                }
            }
        }
        tracing::debug!(runtime = %shared.node, workers, "runtime started");
        if cfg!(panic = "abort") {
            tracing::warn!(runtime = %shared.node, "rcos built with panic = \"abort\": a panicking task ends the whole process (unsupported; see the crate docs)");
        }
        if let Some(threshold) = self
            .watchdog
            .unwrap_or(Some(super::watchdog::DEFAULT_THRESHOLD))
        {
            super::watchdog::watch(&shared, threshold);
        }
        let rt = Runtime::from_parts(shared.clone(), threads);
        if let Some(config) = self.node {
            let node = crate::net::Node::start(&shared, config)?;
            let _ = shared.net.set(node);
        }
        Ok(rt)
    }
}
