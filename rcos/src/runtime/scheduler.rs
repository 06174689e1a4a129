//! The scheduler: worker threads that run tasks, with per-worker queues, a LIFO slot
//! for the task woken last, work stealing, and async-io driving I/O and timers.
//!
//! Each worker runs `async_io::block_on` on a future that runs ready tasks; when none
//! is ready it registers as a sleeper and returns `Pending`, which lets `block_on` wait
//! on the reactor (or park) until it is woken. A task woken by a task running on the
//! same worker goes to that worker's LIFO slot and runs next, so two tasks that talk to
//! each other stay on one thread and hand control over without touching shared queues.
//! The LIFO slot cannot be stolen; after a few LIFO runs in a row its task goes to the
//! back of the local queue, so a chatty pair cannot starve the others. A task that was
//! stolen and ended on another worker has its state freed by the worker that spawned it
//! (see [`ScheduleRef`]).
//!
//! In deterministic mode (feature `test-util`) the ready tasks go to a
//! [`DetWorld`](super::det::DetWorld) instead, which runs them one at a time in an order
//! drawn from a seeded random generator; when nothing is ready, its virtual clock jumps
//! to the next timer.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use std::task::{Context, Poll, Waker};

use async_task::ScheduleInfo;
use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use crossbeam_utils::CachePadded;

use super::Shared;
use super::context::WORKER;
use super::det::DetWorld;
use crate::task::core::TaskCore;
use crate::util::Mutex;

/// A task ready to run, as the scheduler queues it, with the task's id as its metadata
/// (for the watchdog, which is told what each worker polls without a look at the
/// task's state).
pub(crate) type Runnable = async_task::Runnable<u64>;

/// Tasks a worker runs before it lets `block_on` look at the reactor.
const BUDGET: usize = 128;
/// LIFO-slot runs in a row before the slot's task goes to the back of the queue.
const MAX_LIFO_STREAK: u32 = 3;
/// Every this many picks, the global queue is looked at first (fairness).
const GLOBAL_QUEUE_INTERVAL: u32 = 61;
/// The [`TaskCore::home`] of a task not spawned by a worker of a runtime with several.
pub(crate) const NO_HOME: u8 = u8::MAX;
/// Ended tasks' states a worker gathers for another before it hands them over.
const HOMEWARD_BATCH: usize = 32;
/// Task states handed back to their spawning worker so far, in all runtimes.
#[cfg(test)]
static HANDED_HOME: AtomicUsize = AtomicUsize::new(0);

/// The scheduler's shared state.
pub(crate) struct Scheduler {
    injector: Injector<Runnable>,
    stealers: Vec<Stealer<Runnable>>,
    sleepers: Mutex<Vec<(usize, Waker)>>,
    idle: AtomicUsize,
    pub(super) shutdown: AtomicBool,
    /// In deterministic mode: the world this runtime's tasks run in, and its slot there.
    pub(crate) det: Option<(Arc<DetWorld>, usize)>,
    /// What each worker is polling, for the watchdog.
    pub(super) beats: super::watchdog::Beats,
    /// For each worker, the states of ended tasks it spawned, handed back by the
    /// workers that ran them, for it to free (see [`ScheduleRef`]).
    homeward: Box<[CachePadded<Homeward>]>,
}

/// Ended tasks' states on their way back to the worker that spawned them.
#[derive(Default)]
struct Homeward {
    cores: Mutex<Vec<Arc<TaskCore>>>,
    /// `!cores.is_empty()`, readable without the lock.
    waiting: AtomicBool,
    /// The worker has gone to sleep: whoever hands states over frees them instead, so
    /// that they are not kept for as long as it sleeps.
    asleep: AtomicBool,
}

impl Homeward {
    /// Hands states over to the worker; frees them at once if it sleeps.
    fn hand_over(&self, mut batch: Vec<Arc<TaskCore>>) {
        let mut cores = self.cores.lock();
        if cores.is_empty() {
            std::mem::swap(&mut *cores, &mut batch);
        } else {
            cores.append(&mut batch);
        }
        self.waiting.store(true, Ordering::SeqCst);
        drop(cores);
        // Empty, or the worker's emptied vector: freed here, but that is one block per
        // batch, not one per task.
        drop(batch);
        // The worker looks at `waiting` after it says it sleeps (see `run_tasks`): one
        // of the two sees the other, and the states are freed either way.
        if self.asleep.load(Ordering::SeqCst) {
            drop(self.take());
        }
    }

    /// Takes every state handed over.
    fn take(&self) -> Vec<Arc<TaskCore>> {
        if !self.waiting.load(Ordering::SeqCst) {
            return Vec::new();
        }
        let mut cores = self.cores.lock();
        self.waiting.store(false, Ordering::Relaxed);
        std::mem::take(&mut *cores)
    }
}

/// A task's state as its schedule function holds it.
///
/// When the runtime lets go of a task that has ended, this is its last reference to
/// the task's state (the schedule function goes with the task's allocation, after the
/// task's future). If it is the last reference of all, and the task was spawned by
/// another worker, the state goes back to that worker to be freed there.
///
/// Why: a task spawned on one worker is often stolen and run by another, and its
/// state was freed there. glibc's allocator frees a block of that size (larger than
/// its lock-free "fast" blocks) into the arena of the thread that allocated it, under
/// the arena's lock, which the spawning thread takes for every allocation. With one
/// worker spawning and another running the tasks, the two threads contended for that
/// lock on every task. Handed back in batches, the states are freed by the thread
/// that allocated them, into its own cache, where its next spawns find them.
pub(crate) struct ScheduleRef(Arc<TaskCore>);

impl ScheduleRef {
    pub(crate) fn new(core: Arc<TaskCore>) -> ScheduleRef {
        ScheduleRef(core)
    }

    #[inline]
    pub(crate) fn core(&self) -> &Arc<TaskCore> {
        &self.0
    }
}

impl Drop for ScheduleRef {
    fn drop(&mut self) {
        // Nobody else holds the state (there are no weak references to task states),
        // so nobody can start to while this looks.
        if self.0.home != NO_HOME && Arc::strong_count(&self.0) == 1 {
            send_home(self.0.clone());
        }
    }
}

/// Hands an ended task's state to the worker that spawned it, if this thread is
/// another worker of the same runtime; drops it here otherwise.
///
/// This runs in a drop, which can come late in a thread's life (a waker kept in a
/// thread-local of the thread's own): after the worker's context is gone, it drops.
fn send_home(core: Arc<TaskCore>) {
    let mut core = Some(core);
    let _ = WORKER.try_with(|w| {
        let Ok(w) = w.try_borrow() else {
            return;
        };
        if let Some(ctx) = w.as_ref() {
            if let Some(c) = core.take_if(|c| {
                usize::from(c.home) != ctx.index
                    && Arc::ptr_eq(&ctx.shared, &c.rt)
                    && !ctx.shared.sched.is_shut_down()
            }) {
                ctx.send_home(c);
            }
        }
    });
    drop(core);
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("workers", &self.stealers.len())
            .field("idle", &self.idle.load(Ordering::Relaxed))
            .field("deterministic", &self.det.is_some())
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// Makes the scheduler and the local queues of its workers.
    pub(super) fn new(
        workers: usize,
        det: Option<Arc<DetWorld>>,
    ) -> (Scheduler, Vec<Worker<Runnable>>) {
        let locals: Vec<Worker<Runnable>> = (0..workers).map(|_| Worker::new_fifo()).collect();
        let sched = Scheduler {
            injector: Injector::new(),
            stealers: locals.iter().map(Worker::stealer).collect(),
            sleepers: Mutex::new(Vec::with_capacity(workers)),
            idle: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            det: det.map(|world| {
                let slot = world.join();
                (world, slot)
            }),
            beats: super::watchdog::Beats::new(workers),
            homeward: (0..workers).map(|_| CachePadded::default()).collect(),
        };
        (sched, locals)
    }

    /// The [`TaskCore::home`] of a task spawned now by this thread.
    #[inline]
    pub(crate) fn home_here(&self, shared: &Arc<Shared>) -> u8 {
        if self.stealers.len() < 2 || self.det.is_some() {
            return NO_HOME;
        }
        WORKER.with(|w| match w.try_borrow().as_deref() {
            Ok(Some(ctx)) if Arc::ptr_eq(&ctx.shared, shared) => {
                u8::try_from(ctx.index).unwrap_or(NO_HOME)
            }
            _ => NO_HOME,
        })
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Queues a task that was woken.
    pub(crate) fn schedule(&self, shared: &Arc<Shared>, runnable: Runnable, info: ScheduleInfo) {
        if self.is_shut_down() {
            // The runtime is going away: the task's future is dropped by `drain`, not
            // here, because a wake can come from inside a lock (an event's notify) that
            // the future's own drop would take again.
            self.injector.push(runnable);
            return;
        }
        if let Some((world, slot)) = &self.det {
            world.push(*slot, runnable);
            return;
        }
        let runnable = WORKER.with(|w| {
            let Ok(w) = w.try_borrow() else {
                return Some(runnable);
            };
            match w.as_ref() {
                // Only while the worker runs tasks: a wake from inside the reactor (a
                // timer or socket, on a worker thread that is waiting for I/O) must
                // go through the shared queue and wake a worker.
                Some(ctx) if ctx.running.get() && Arc::ptr_eq(&ctx.shared, shared) => {
                    if info.woken_while_running || NO_LIFO.get() {
                        // The task yielded: it goes to the back, not to the front.
                        ctx.local.push(runnable);
                        self.notify_others();
                    } else if let Some(prev) = ctx.lifo.replace(Some(runnable)) {
                        ctx.local.push(prev);
                        self.notify_others();
                    }
                    None
                }
                _ => Some(runnable),
            }
        });
        if let Some(runnable) = runnable {
            self.injector.push(runnable);
            self.notify();
        }
    }

    /// Queues a task that was just spawned: behind the tasks already waiting.
    pub(crate) fn schedule_new(&self, shared: &Arc<Shared>, runnable: Runnable) {
        if self.is_shut_down() {
            self.injector.push(runnable);
            return;
        }
        if let Some((world, slot)) = &self.det {
            world.push(*slot, runnable);
            return;
        }
        let (runnable, on_worker) = WORKER.with(|w| {
            let Ok(w) = w.try_borrow() else {
                return (Some(runnable), false);
            };
            match w.as_ref() {
                Some(ctx) if ctx.running.get() && Arc::ptr_eq(&ctx.shared, shared) => {
                    ctx.local.push(runnable);
                    if self.stealers.len() > 1 {
                        ctx.free_returned();
                    }
                    (None, true)
                }
                _ => (Some(runnable), false),
            }
        });
        if let Some(runnable) = runnable {
            self.injector.push(runnable);
        }
        if on_worker {
            self.notify_others();
        } else {
            self.notify();
        }
    }

    /// Like [`notify`](Self::notify), from a worker that is running tasks and has just
    /// queued one where it will look itself: only other workers could need waking.
    #[inline]
    fn notify_others(&self) {
        if self.stealers.len() > 1 {
            self.notify();
        }
    }

    /// Wakes a sleeping worker if there is one.
    #[inline]
    fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.idle.load(Ordering::Relaxed) > 0 {
            self.wake_one();
        }
    }

    #[cold]
    fn wake_one(&self) {
        let waker = {
            let mut sleepers = self.sleepers.lock();
            let waker = sleepers.pop().map(|(_, w)| w);
            if waker.is_some() {
                self.idle.fetch_sub(1, Ordering::SeqCst);
            }
            waker
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Wakes every sleeping worker (shutdown, or the virtual clock moved).
    pub(crate) fn wake_all(&self) {
        if let Some((world, _)) = &self.det {
            world.wake_all();
        }
        let wakers: Vec<(usize, Waker)> = {
            let mut sleepers = self.sleepers.lock();
            self.idle.fetch_sub(sleepers.len(), Ordering::SeqCst);
            std::mem::take(&mut *sleepers)
        };
        for (_, waker) in wakers {
            waker.wake();
        }
    }

    /// Drops every queued task (at shutdown, once the workers have stopped).
    pub(super) fn drain(&self) {
        // Task states on their way home hold the runtime: let go of them.
        for homeward in self.homeward.iter() {
            drop(std::mem::take(&mut *homeward.cores.lock()));
        }
        // Dropping a task's future can wake others, which land in the injector again:
        // go on until nothing is left anywhere.
        loop {
            let mut dropped = false;
            loop {
                match self.injector.steal() {
                    Steal::Success(runnable) => {
                        drop(runnable);
                        dropped = true;
                    }
                    Steal::Retry => continue,
                    Steal::Empty => break,
                }
            }
            if let Some((world, slot)) = &self.det {
                let ready = world.take(*slot);
                dropped |= !ready.is_empty();
                drop(ready);
            }
            if !dropped {
                break;
            }
        }
    }

    fn has_work(&self) -> bool {
        !self.injector.is_empty()
            || self.stealers.iter().any(|s| !s.is_empty())
            || self.det.as_ref().is_some_and(|(world, _)| world.has_work())
    }
}

thread_local! {
    /// Set while waking tasks that must not wait in this worker's LIFO slot.
    static NO_LIFO: Cell<bool> = const { Cell::new(false) };
}

/// Runs `wake` so that the tasks it wakes go to this worker's queue, where idle workers
/// can steal them, rather than to its LIFO slot, which only this worker runs, and only
/// once the running task yields. For wakes of I/O tasks (a connection's writer) by a
/// task that may go on for long (one sending many messages).
pub(crate) fn wake_stealable<R>(wake: impl FnOnce() -> R) -> R {
    let before = NO_LIFO.replace(true);
    let out = wake();
    NO_LIFO.set(before);
    out
}

/// One worker's own state, kept in a thread-local on its thread.
pub(crate) struct WorkerCtx {
    pub(crate) shared: Arc<Shared>,
    index: usize,
    local: Worker<Runnable>,
    lifo: Cell<Option<Runnable>>,
    lifo_streak: Cell<u32>,
    tick: Cell<u32>,
    sleeping: Cell<bool>,
    /// Inside `poll`, running tasks (as opposed to waiting in the reactor).
    running: Cell<bool>,
    /// For each other worker, the states of ended tasks it spawned, gathered here
    /// until there are [`HOMEWARD_BATCH`] (see [`ScheduleRef`]).
    outbox: RefCell<Vec<Vec<Arc<TaskCore>>>>,
}

/// The body of a worker thread.
pub(super) fn run_worker(shared: Arc<Shared>, index: usize, local: Worker<Runnable>) {
    let ctx = Rc::new(WorkerCtx {
        shared,
        index,
        local,
        lifo: Cell::new(None),
        lifo_streak: Cell::new(0),
        tick: Cell::new(0),
        sleeping: Cell::new(false),
        running: Cell::new(false),
        outbox: RefCell::new(Vec::new()),
    });
    WORKER.with(|w| *w.borrow_mut() = Some(ctx.clone()));
    crate::task::core::set_thread_shard(index);
    tracing::debug!(runtime = %ctx.shared.node, worker = index, "worker started");
    async_io::block_on(poll_fn(|cx| ctx.poll(cx)));
    drop(ctx.outbox.take());
    ctx.free_returned();
    WORKER.with(|w| *w.borrow_mut() = None);
    tracing::debug!(runtime = %ctx.shared.node, worker = index, "worker stopped");
}

impl WorkerCtx {
    fn poll(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.running.set(true);
        let out = self.run_tasks(cx);
        self.running.set(false);
        out
    }

    fn run_tasks(&self, cx: &mut Context<'_>) -> Poll<()> {
        let sched = &self.shared.sched;
        if let Some((world, _)) = &sched.det {
            return self.run_det(world, cx);
        }
        if self.sleeping.get() {
            self.wake_up();
        }
        let mut ran = 0;
        while ran < BUDGET {
            if sched.is_shut_down() {
                self.drain();
                return Poll::Ready(());
            }
            if let Some(runnable) = self.next() {
                sched.beats.beat(self.index, *runnable.metadata());
                runnable.run();
                ran += 1;
                continue;
            }
            if self.shared.clock.advance_if_idle() {
                continue;
            }
            // Nothing to do. Ended tasks' states gathered here go to their homes, and
            // those handed back here are freed (from now on, whoever hands some over
            // frees them): freeing can drop a task's returned value, whose drop may
            // wake a task, so this comes before the last look for work.
            self.flush_outbox();
            self.set_asleep(true);
            self.free_returned();
            // Register as a sleeper, then look once more so that a task queued in
            // between is not missed.
            self.sleeping.set(true);
            sched.sleepers.lock().push((self.index, cx.waker().clone()));
            sched.idle.fetch_add(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            if self.has_work() || sched.is_shut_down() {
                self.wake_up();
                continue;
            }
            sched.beats.idle(self.index);
            return Poll::Pending;
        }
        // Out of budget: let block_on look at the reactor, then come straight back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// The deterministic worker: runs the world's tasks, one at a time while it holds
    /// the turn, whichever runtime of the world they belong to.
    fn run_det(&self, world: &DetWorld, cx: &mut Context<'_>) -> Poll<()> {
        let sched = &self.shared.sched;
        let mut ran = 0;
        while ran < BUDGET {
            if sched.is_shut_down() {
                self.drain();
                return Poll::Ready(());
            }
            let turn = world.turn();
            if let Some(runnable) = world.pick() {
                sched.beats.beat(self.index, *runnable.metadata());
                runnable.run();
                // Idle while waiting for the next turn, which can take a while when the
                // world is shared: the watchdog must not blame the task that just ran.
                sched.beats.idle(self.index);
                drop(turn);
                ran += 1;
                continue;
            }
            // Nothing ready anywhere in the world, and nothing running: time jumps.
            if world.running() && world.clock.advance_to_next() {
                continue;
            }
            if !world.sleep(cx.waker()) || sched.is_shut_down() {
                continue;
            }
            drop(turn);
            sched.beats.idle(self.index);
            return Poll::Pending;
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Gathers an ended task's state for the worker that spawned it (see
    /// [`ScheduleRef`]), handing over a batch when there are enough.
    fn send_home(&self, core: Arc<TaskCore>) {
        let home = usize::from(core.home);
        let batch = {
            let mut outbox = self.outbox.borrow_mut();
            if outbox.len() <= home {
                outbox.resize_with(home + 1, Vec::new);
            }
            let Some(held) = outbox.get_mut(home) else {
                return;
            };
            held.push(core);
            if held.len() < HOMEWARD_BATCH {
                return;
            }
            std::mem::take(held)
        };
        self.hand_over(home, batch);
    }

    fn hand_over(&self, home: usize, batch: Vec<Arc<TaskCore>>) {
        if let Some(homeward) = self.shared.sched.homeward.get(home) {
            #[cfg(test)]
            HANDED_HOME.fetch_add(batch.len(), Ordering::Relaxed);
            homeward.hand_over(batch);
        }
    }

    /// Hands over every gathered state (before this worker sleeps).
    fn flush_outbox(&self) {
        let batches: Vec<(usize, Vec<Arc<TaskCore>>)> = {
            let mut outbox = self.outbox.borrow_mut();
            outbox
                .iter_mut()
                .enumerate()
                .filter(|(_, held)| !held.is_empty())
                .map(|(home, held)| (home, std::mem::take(held)))
                .collect()
        };
        for (home, batch) in batches {
            self.hand_over(home, batch);
        }
    }

    /// Frees the states of ended tasks this worker spawned that other workers handed
    /// back.
    fn free_returned(&self) {
        if let Some(homeward) = self.shared.sched.homeward.get(self.index) {
            drop(homeward.take());
        }
    }

    /// Says whether this worker sleeps, for the workers that hand it states back.
    fn set_asleep(&self, asleep: bool) {
        if let Some(homeward) = self.shared.sched.homeward.get(self.index) {
            homeward.asleep.store(asleep, Ordering::SeqCst);
        }
    }

    /// Takes this worker off the sleeper list if a notifier has not already done so.
    fn wake_up(&self) {
        self.sleeping.set(false);
        self.set_asleep(false);
        let sched = &self.shared.sched;
        let mut sleepers = sched.sleepers.lock();
        if let Some(pos) = sleepers.iter().position(|(i, _)| *i == self.index) {
            sleepers.swap_remove(pos);
            sched.idle.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn has_work(&self) -> bool {
        let lifo = self.lifo.take();
        let has = lifo.is_some();
        self.lifo.set(lifo);
        has || !self.local.is_empty() || self.shared.sched.has_work()
    }

    fn next(&self) -> Option<Runnable> {
        if let Some(runnable) = self.lifo.take() {
            let streak = self.lifo_streak.get();
            if streak < MAX_LIFO_STREAK {
                self.lifo_streak.set(streak + 1);
                return Some(runnable);
            }
            self.local.push(runnable);
        }
        self.lifo_streak.set(0);
        let tick = self.tick.get().wrapping_add(1);
        self.tick.set(tick);
        if tick % GLOBAL_QUEUE_INTERVAL == 0 {
            if let Some(runnable) = self.steal_global() {
                return Some(runnable);
            }
        }
        if let Some(runnable) = self.local.pop() {
            return Some(runnable);
        }
        if let Some(runnable) = self.steal_global() {
            return Some(runnable);
        }
        self.steal_other()
    }

    fn steal_global(&self) -> Option<Runnable> {
        loop {
            match self.shared.sched.injector.steal_batch_and_pop(&self.local) {
                Steal::Success(runnable) => return Some(runnable),
                Steal::Retry => continue,
                Steal::Empty => return None,
            }
        }
    }

    fn steal_other(&self) -> Option<Runnable> {
        let stealers = &self.shared.sched.stealers;
        let n = stealers.len();
        if n <= 1 {
            return None;
        }
        let start = fastrand::usize(..n);
        for k in 0..n {
            let i = (start + k) % n;
            if i == self.index {
                continue;
            }
            loop {
                match stealers[i].steal_batch_and_pop(&self.local) {
                    Steal::Success(runnable) => return Some(runnable),
                    Steal::Retry => continue,
                    Steal::Empty => break,
                }
            }
        }
        None
    }

    fn drain(&self) {
        drop(self.lifo.take());
        while let Some(runnable) = self.local.pop() {
            drop(runnable);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Weak};
    use std::time::{Duration, Instant};

    use super::HANDED_HOME;
    use crate::runtime::Runtime;
    use crate::task::core::TaskCore;

    /// A runtime with two workers, so that a task can be spawned on one and run on the
    /// other.
    fn two_workers(name: &'static str) -> Runtime {
        Runtime::builder()
            .workers(2)
            .name(name)
            .build()
            .expect("a runtime")
    }

    /// Spins until `done` says so, for at most a minute (a worker thread must not park
    /// here: the point is to keep it busy).
    fn spin_until(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::yield_now();
        }
    }

    /// A task state still on its way home when the runtime shuts down holds the
    /// runtime's state, which holds it: the final drain breaks that cycle.
    #[test]
    fn the_final_drain_lets_go_of_states_on_their_way_home() {
        let shared = crate::task::bare::runtime("drain-homeward");
        let core = crate::task::bare::task(&shared, "ended", None);
        let state = Arc::downgrade(&core);
        let runtime = Arc::downgrade(&shared);
        shared.sched.homeward[0].cores.lock().push(core);
        drop(shared);
        let shared = runtime
            .upgrade()
            .expect("kept alive by the state on its way home");
        shared.tasks.remove(&state.upgrade().expect("held"), false);
        shared.sched.drain();
        drop(shared);
        assert!(state.upgrade().is_none(), "the state was let go of");
        assert!(
            runtime.upgrade().is_none(),
            "no cycle keeps the runtime alive"
        );
    }

    /// States handed to a worker that sleeps are freed at once, not kept for as long
    /// as it sleeps; handed to one that is awake, they wait for it.
    #[test]
    fn states_handed_to_a_sleeping_worker_are_freed_at_once() {
        let shared = crate::task::bare::runtime("homeward-asleep");
        let homeward = super::Homeward::default();
        let handed = |homeward: &super::Homeward| {
            let core = crate::task::bare::task(&shared, "ended", None);
            shared.tasks.remove(&core, false);
            let state = Arc::downgrade(&core);
            homeward.hand_over(vec![core]);
            state
        };
        let kept = handed(&homeward);
        assert!(kept.upgrade().is_some(), "an awake worker frees it itself");
        homeward.asleep.store(true, Ordering::SeqCst);
        let freed = handed(&homeward);
        assert!(freed.upgrade().is_none(), "freed by whoever handed it over");
        assert!(kept.upgrade().is_none(), "and so was what waited");
        assert!(homeward.take().is_empty());
    }

    /// Sends a message to a task when dropped.
    struct TellOnDrop(crate::TaskRef);

    impl Drop for TellOnDrop {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }

    /// A task's returned value is dropped with its state, which may now happen when a
    /// worker is about to sleep (freeing what was handed back, or handing it to a
    /// sleeping worker). A drop that wakes a task must not leave that task in the
    /// worker's LIFO slot while the worker sleeps: every message here arrives.
    #[test]
    fn a_wake_from_a_dropped_return_value_is_not_slept_through() {
        const TASKS: usize = 1000;
        let rt = two_workers("homeward-wake");
        let told = rt.block_on(async {
            let me = crate::TaskRef::current().expect("block_on runs a task");
            let counter = crate::spawn(move |task| async move {
                for _ in 0..TASKS {
                    if task.receive().await.is_err() {
                        return;
                    }
                }
                let _ = me.send(TASKS as u64);
            });
            let ended = Arc::new(AtomicUsize::new(0));
            let spawner = crate::spawn(move |_| async move {
                for _ in 0..TASKS {
                    let (ended, counter) = (ended.clone(), counter.clone());
                    crate::spawn(move |_| async move {
                        ended.fetch_add(1, Ordering::AcqRel);
                        TellOnDrop(counter)
                    });
                }
                // This worker stays busy: the other one runs every task.
                spin_until("the tasks to end", || {
                    ended.load(Ordering::Acquire) == TASKS
                });
            });
            let _ = spawner.finish().await;
            let me = crate::TaskRef::current().expect("block_on runs a task");
            me.receive_type_timeout::<u64>(Duration::from_secs(60))
                .await
        });
        rt.terminate();
        assert_eq!(
            told.ok().flatten(),
            Some(TASKS as u64),
            "every returned value's drop was told"
        );
    }

    /// Tasks spawned on one worker and run on the other (their spawner keeps its own
    /// worker busy until they have all ended) have their states handed back to the
    /// spawning worker; every one of them is freed, and nothing handed back keeps the
    /// runtime alive once it is terminated.
    #[test]
    fn states_of_tasks_run_elsewhere_go_home_and_all_are_freed() {
        const TASKS: usize = 1000;
        let rt = two_workers("homeward");
        let runtime: Weak<crate::runtime::Shared> = Arc::downgrade(&rt.handle().shared);
        let handed_before = HANDED_HOME.load(Ordering::Relaxed);
        let states: Arc<std::sync::Mutex<Vec<Weak<TaskCore>>>> = Arc::default();
        let exit = rt.block_on({
            let states = states.clone();
            async move {
                let ended = Arc::new(AtomicUsize::new(0));
                let spawner = crate::spawn(move |_| async move {
                    for _ in 0..TASKS {
                        let ended = ended.clone();
                        let task = crate::spawn(move |_| async move {
                            ended.fetch_add(1, Ordering::AcqRel);
                        });
                        let state = task.core().map(Arc::downgrade);
                        states.lock().expect("not poisoned").extend(state);
                    }
                    // This worker stays busy: the other one runs every task.
                    spin_until("the tasks to end", || {
                        ended.load(Ordering::Acquire) == TASKS
                    });
                });
                spawner.finish().await
            }
        });
        assert!(
            matches!(exit, crate::Exit::Returned(_)),
            "the spawner ended with {exit}"
        );
        let states = std::mem::take(&mut *states.lock().expect("not poisoned"));
        assert_eq!(states.len(), TASKS);
        // Each task's state goes when its allocation does, a moment after it ends.
        spin_until("the ended tasks' states to be handed back", || {
            HANDED_HOME.load(Ordering::Relaxed) - handed_before >= TASKS - super::HOMEWARD_BATCH
        });
        rt.terminate();
        let kept = states.iter().filter(|s| s.upgrade().is_some()).count();
        assert_eq!(kept, 0, "task states still alive after terminate");
        assert!(
            runtime.upgrade().is_none(),
            "the runtime's state outlived its termination"
        );
    }
}
