//! The deterministic schedule: the ready tasks of one deterministic runtime, or of
//! several that run as one (a [`Sim`](crate::sim::Sim)), picked one at a time with a
//! seeded random generator, on one virtual clock.
//!
//! Each runtime in a world keeps its own worker thread, but a task runs only while its
//! worker holds the world's turn, and which task runs next is drawn from every
//! runtime's ready list at once. So the order in which tasks run, and the virtual times
//! at which they do, depend on the seed alone, not on which thread got the turn.
//! Time jumps to the next timer only when no task in the world is ready.
//!
//! A runtime can be frozen (a simulated `SIGSTOP`, or a `kill -9` that is never
//! undone): its tasks stay queued and are not picked, and its ready tasks do not hold
//! time still.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Waker;

use super::scheduler::Runnable;
use crate::time::VirtualClock;
use crate::util::Mutex;

/// One deterministic schedule, shared by the runtimes that run on it.
pub(crate) struct DetWorld {
    inner: Mutex<Inner>,
    /// Held while a task runs (and while time moves): one thing at a time.
    turn: Mutex<()>,
    pub(crate) clock: Arc<VirtualClock>,
    /// A simulation's world runs only while a thread waits on it (see [`RunGuard`]).
    sim: bool,
    runners: AtomicUsize,
}

/// Lets a simulation's world run while it lives: held by a thread that waits for
/// something in it (`block_on`, `join`, a task's value, a runtime's shutdown). Tasks
/// spawned and messages sent from outside meanwhile are queued in program order, so
/// what happens depends on the seed, not on how fast a thread got somewhere.
pub(crate) struct RunGuard(Arc<DetWorld>);

impl Drop for RunGuard {
    fn drop(&mut self) {
        self.0.runners.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Inner {
    /// Each runtime's ready tasks, by the slot it was given when it joined.
    lists: Vec<List>,
    rng: fastrand::Rng,
    /// Workers waiting for a task to be ready.
    sleepers: Vec<Waker>,
}

#[derive(Default)]
struct List {
    ready: Vec<Runnable>,
    frozen: bool,
}

impl std::fmt::Debug for DetWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetWorld")
            .field("runtimes", &self.inner.lock().lists.len())
            .finish_non_exhaustive()
    }
}

/// Held while a task of the world runs.
pub(crate) struct Turn<'a>(#[allow(dead_code)] crate::util::MutexGuard<'a, ()>);

impl DetWorld {
    /// The world of one deterministic runtime: it runs whenever it has work.
    pub(crate) fn new(seed: u64) -> Arc<DetWorld> {
        DetWorld::make(seed, false)
    }

    /// A simulation's world: it runs only while some thread waits on it.
    #[cfg(feature = "test-util")]
    pub(crate) fn new_sim(seed: u64) -> Arc<DetWorld> {
        DetWorld::make(seed, true)
    }

    fn make(seed: u64, sim: bool) -> Arc<DetWorld> {
        Arc::new(DetWorld {
            sim,
            runners: AtomicUsize::new(0),
            inner: Mutex::new(Inner {
                lists: Vec::new(),
                rng: fastrand::Rng::with_seed(seed),
                sleepers: Vec::new(),
            }),
            turn: Mutex::new(()),
            clock: Arc::new(VirtualClock::new()),
        })
    }

    /// Whether the world may run now.
    pub(crate) fn running(&self) -> bool {
        !self.sim || self.runners.load(Ordering::SeqCst) > 0
    }

    /// Lets the world run until the guard is dropped.
    pub(crate) fn run_guard(self: &Arc<Self>) -> RunGuard {
        self.runners.fetch_add(1, Ordering::SeqCst);
        self.wake_all();
        RunGuard(self.clone())
    }

    /// Gives a runtime joining the world its slot.
    pub(crate) fn join(&self) -> usize {
        let mut inner = self.inner.lock();
        inner.lists.push(List::default());
        inner.lists.len() - 1
    }

    /// A simulated node's incarnation: drawn from the world's generator, so that
    /// which of two nodes dials first is decided by the seed. `None` outside a
    /// simulation: a lone deterministic runtime keeps a random incarnation (two of them
    /// with one seed must not look like one node, and drawing would shift the seed's
    /// schedule).
    pub(crate) fn incarnation(&self) -> Option<u64> {
        self.sim.then(|| self.inner.lock().rng.u64(..))
    }

    /// Queues a ready task of the runtime in `slot` and wakes the sleeping workers.
    pub(crate) fn push(&self, slot: usize, runnable: Runnable) {
        let sleepers = {
            let mut inner = self.inner.lock();
            inner.lists[slot].ready.push(runnable);
            std::mem::take(&mut inner.sleepers)
        };
        for waker in sleepers {
            waker.wake();
        }
    }

    /// Waits for the turn: while it is held, no other task of the world runs.
    pub(crate) fn turn(&self) -> Turn<'_> {
        Turn(self.turn.lock())
    }

    /// Takes the next task to run, drawn from every runtime that is not frozen.
    pub(crate) fn pick(&self) -> Option<Runnable> {
        if !self.running() {
            return None;
        }
        let mut inner = self.inner.lock();
        let total: usize = inner
            .lists
            .iter()
            .filter(|l| !l.frozen)
            .map(|l| l.ready.len())
            .sum();
        if total == 0 {
            return None;
        }
        let mut pick = inner.rng.usize(..total);
        for list in inner.lists.iter_mut().filter(|l| !l.frozen) {
            if pick < list.ready.len() {
                return Some(list.ready.swap_remove(pick));
            }
            pick -= list.ready.len();
        }
        None
    }

    /// Whether some runtime that is not frozen has a task ready.
    pub(crate) fn has_work(&self) -> bool {
        self.running()
            && self
                .inner
                .lock()
                .lists
                .iter()
                .any(|l| !l.frozen && !l.ready.is_empty())
    }

    /// Registers a worker to be woken when a task is ready; `false` (and nothing
    /// registered) if one is ready already.
    pub(crate) fn sleep(&self, waker: &Waker) -> bool {
        let mut inner = self.inner.lock();
        if self.running() && inner.lists.iter().any(|l| !l.frozen && !l.ready.is_empty()) {
            return false;
        }
        if !inner.sleepers.iter().any(|w| w.will_wake(waker)) {
            inner.sleepers.push(waker.clone());
        }
        true
    }

    /// Wakes every waiting worker.
    pub(crate) fn wake_all(&self) {
        let sleepers = std::mem::take(&mut self.inner.lock().sleepers);
        for waker in sleepers {
            waker.wake();
        }
    }

    /// Stops (or lets go on) running the tasks of the runtime in `slot`.
    #[cfg(feature = "test-util")]
    pub(crate) fn set_frozen(&self, slot: usize, frozen: bool) {
        self.inner.lock().lists[slot].frozen = frozen;
        self.wake_all();
    }

    /// Takes every queued task of the runtime in `slot` (at its shutdown).
    pub(crate) fn take(&self, slot: usize) -> Vec<Runnable> {
        std::mem::take(&mut self.inner.lock().lists[slot].ready)
    }
}
