//! The watchdog: names a task that holds a worker thread for too long without awaiting.
//!
//! Tasks are never preempted. A task that computes without awaiting, or blocks its
//! thread (`std::thread::sleep`, a blocking read, a `loop {}`), keeps its worker until
//! it awaits again, and the tasks queued behind it on that worker wait (idle workers
//! steal what they can; with one worker, everything waits). Nothing can stop such a
//! task from outside — `catch_unwind` only sees panics — but the watchdog says which
//! task it is, with a `tracing` warning, once it has held its worker for longer than
//! the runtime's threshold (1 s unless set with
//! [`Builder::watchdog`](super::Builder::watchdog)).
//!
//! The cost on the hot path is one relaxed load and one relaxed store per poll: at the
//! start of each poll a worker writes a word holding the task's id and a poll counter
//! into its own slot. One thread per process (started with the first runtime that has
//! a watchdog, parked while none is alive) samples every runtime's slots a few times
//! per threshold; a slot whose word has not changed for the threshold is a task that
//! has not returned from its poll for that long.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use super::Shared;
use crate::task::core::TaskLabel;

/// The threshold of a runtime whose builder did not set one.
pub(crate) const DEFAULT_THRESHOLD: Duration = Duration::from_secs(1);

/// Low bits of a slot's word: a poll counter, so that the same task polled again
/// changes the word.
const SEQ_BITS: u32 = 20;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;

/// One word per worker: 0 while the worker is not running a task, otherwise the id of
/// the task it polls (shifted) and an odd poll counter.
pub(crate) struct Beats {
    words: Box<[CachePadded<AtomicU64>]>,
}

impl Beats {
    pub(crate) fn new(workers: usize) -> Beats {
        Beats {
            words: (0..workers)
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
        }
    }

    /// Worker `worker` starts polling task `task`. Only that worker writes its slot, so
    /// a relaxed load and store are enough.
    #[inline]
    pub(crate) fn beat(&self, worker: usize, task: u64) {
        if let Some(word) = self.words.get(worker) {
            let seq = (word.load(Ordering::Relaxed).wrapping_add(1) & SEQ_MASK) | 1;
            word.store((task << SEQ_BITS) | seq, Ordering::Relaxed);
        }
    }

    /// Worker `worker` runs no task (it is going to sleep, or stopping).
    #[inline]
    pub(crate) fn idle(&self, worker: usize) {
        if let Some(word) = self.words.get(worker) {
            word.store(0, Ordering::Relaxed);
        }
    }

    fn sample(&self, worker: usize) -> u64 {
        self.words[worker].load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Beats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Beats")
            .field("workers", &self.words.len())
            .finish()
    }
}

/// A runtime under watch, with what was last seen of each of its workers.
struct Watched {
    shared: Weak<Shared>,
    threshold: Duration,
    seen: Vec<Seen>,
}

#[derive(Clone, Copy)]
struct Seen {
    word: u64,
    since: Instant,
    reported: bool,
}

static WATCHED: std::sync::Mutex<Vec<Watched>> = std::sync::Mutex::new(Vec::new());
static THREAD: std::sync::OnceLock<Option<std::thread::Thread>> = std::sync::OnceLock::new();

/// Puts a runtime under the process's watchdog.
pub(crate) fn watch(shared: &Arc<Shared>, threshold: Duration) {
    let seen = Seen {
        word: 0,
        since: Instant::now(),
        reported: false,
    };
    WATCHED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(Watched {
            shared: Arc::downgrade(shared),
            threshold,
            seen: vec![seen; shared.workers],
        });
    let thread = THREAD.get_or_init(|| {
        match std::thread::Builder::new()
            .name("rcos-watchdog".to_string())
            .spawn(run)
        {
            Ok(handle) => Some(handle.thread().clone()),
            Err(error) => {
                tracing::warn!(%error, "cannot start the rcos watchdog thread; tasks that hold a worker will not be named");
                None
            }
        }
    });
    if let Some(thread) = thread {
        thread.unpark();
    }
}

/// The watchdog thread: samples every watched runtime a few times per threshold.
fn run() {
    let list = || {
        WATCHED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    loop {
        // Checked outside the list's lock, so that starting a runtime never waits for
        // a check (which locks the offending task's state to read its name).
        let mut checked = std::mem::take(&mut *list());
        checked.retain_mut(check);
        let tick = {
            let mut watched = list();
            watched.append(&mut checked);
            watched
                .iter()
                .map(|w| w.threshold / 4)
                .min()
                .map(|t| t.clamp(Duration::from_millis(10), Duration::from_millis(250)))
        };
        match tick {
            Some(tick) => std::thread::sleep(tick),
            // No runtime to watch: sleep until one is added.
            None => std::thread::park(),
        }
    }
}

/// Looks at one runtime's workers; false once the runtime is gone.
fn check(watched: &mut Watched) -> bool {
    let Some(shared) = watched.shared.upgrade() else {
        return false;
    };
    if shared.is_shut_down() {
        return false;
    }
    let now = Instant::now();
    let beats = &shared.sched.beats;
    for (worker, seen) in watched.seen.iter_mut().enumerate() {
        let word = beats.sample(worker);
        if word == seen.word && word != 0 {
            let held = now.saturating_duration_since(seen.since);
            if !seen.reported && held >= watched.threshold {
                seen.reported = true;
                let id = word >> SEQ_BITS;
                let name = shared
                    .tasks
                    .all()
                    .into_iter()
                    .find(|core| core.id == id)
                    .map(|core| core.state.lock().name.clone())
                    .unwrap_or(std::borrow::Cow::Borrowed("?"));
                tracing::warn!(
                    runtime = %shared.node,
                    worker,
                    task = %TaskLabel(&name, id),
                    held_ms = held.as_millis() as u64,
                    "task {} has held a worker thread for over {:?} without awaiting",
                    TaskLabel(&name, id),
                    watched.threshold,
                );
            }
            continue;
        }
        if seen.reported {
            tracing::info!(
                runtime = %shared.node,
                worker,
                task = seen.word >> SEQ_BITS,
                held_ms = now.saturating_duration_since(seen.since).as_millis() as u64,
                "the task the watchdog named has given its worker thread back"
            );
        }
        *seen = Seen {
            word,
            since: now,
            reported: false,
        };
    }
    true
}
