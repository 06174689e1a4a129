//! The state every task shares with the references to it: its mailbox, how it waits,
//! how it ended, and the bookkeeping that has to happen when it ends.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::task::Waker;

use crossbeam_utils::CachePadded;
use event_listener::Event;
use slab::Slab;

use super::hotswap::{Accepted, SwapRequest, SwapShared};
use super::queue::{Queue, Taken};
use super::{Exit, MonitorStatus, Overflow, TaskRef, Thrown};
use crate::error::{Interrupt, SendErrorKind};
use crate::message::{Envelope, Message};
use crate::runtime::Shared;
use crate::util::Mutex;

/// What a task is blocked on, as far as the runtime is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waiting {
    Nothing,
    /// In `receive`: a message wakes it.
    Receive,
    /// In `suspend`/`sleep`: only `resume` (or a timeout, or an interrupt) wakes it.
    Suspend,
}

/// A bounded mailbox's limits and accounting.
#[derive(Debug)]
pub(crate) struct Bounded {
    pub(crate) capacity: usize,
    pub(crate) overflow: Overflow,
    /// User messages in the queue (runtime signals are not counted).
    pub(crate) len: usize,
    /// Messages dropped by `Overflow::DropNewest`.
    pub(crate) dropped: u64,
    /// Notified when a user message leaves the queue.
    pub(crate) space: Arc<Event>,
}

/// Rarely used parts of a task's state, boxed so an idle task stays small.
#[derive(Default)]
pub(crate) struct Extra {
    /// A bounded mailbox's limits and accounting (given at spawn).
    pub(crate) bounded: Option<Bounded>,
    /// A value from `resume`, for the task's current `suspend`.
    pub(crate) resumed: Option<Envelope>,
    /// Names registered for the task; released when it ends.
    pub(crate) names: Vec<Arc<str>>,
    /// Tasks told when this one ends.
    pub(crate) monitors: Vec<TaskRef>,
    /// Errors thrown into the task, for its next waits, oldest first.
    pub(crate) thrown: VecDeque<Thrown>,
    /// The last thrown error handed to the task: if the task's output still holds it
    /// when the task ends, the task ended by not handling it.
    pub(crate) delivered_throw: Option<(std::sync::Weak<()>, String)>,
    /// Whether the task accepts hot-swap requests now.
    pub(crate) swappable: bool,
    /// A hot-swap request not yet handed to the task.
    pub(crate) swap: Option<Arc<SwapShared>>,
    /// The last request handed to the task: if its output still holds it when the
    /// task ends, the task accepted by propagating it (pycos's re-raise).
    pub(crate) delivered_swap: Option<std::sync::Weak<SwapShared>>,
    /// An accepted swap, for the task's wrapper to carry out.
    pub(crate) accepted: Option<Accepted>,
    /// State handed from the old function to the new one across a swap.
    pub(crate) swap_state: Option<Box<dyn std::any::Any + Send>>,
}

impl Extra {
    /// Whether an interrupt is ready for the task's next wait.
    pub(crate) fn has_interrupt(&self) -> bool {
        !self.thrown.is_empty() || (self.swappable && self.swap.is_some())
    }
}

pub(crate) struct State {
    pub(crate) name: Cow<'static, str>,
    pub(crate) queue: Queue,
    pub(crate) waiting: Waiting,
    /// The waker of the task while it waits in `receive` or `suspend`.
    pub(crate) waker: Option<Waker>,
    pub(crate) daemon: bool,
    /// Wakes the task whatever it waits on (used by `terminate`).
    pub(crate) self_waker: Option<Waker>,
    pub(crate) exit: Option<Exit>,
    pub(crate) extra: Option<Box<Extra>>,
}

impl State {
    pub(crate) fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// The bounded mailbox's accounting, if the mailbox is bounded.
    #[inline]
    pub(crate) fn bounded(&mut self) -> Option<&mut Bounded> {
        self.extra.as_mut()?.bounded.as_mut()
    }

    /// The bounded mailbox's limits, if the mailbox is bounded.
    #[inline]
    pub(crate) fn bounded_ref(&self) -> Option<&Bounded> {
        self.extra.as_ref()?.bounded.as_ref()
    }

    /// Whether a message may be queued: not once the task has ended, and, in a full
    /// bounded mailbox, as its overflow policy says (runtime signals always may).
    /// Counts an admitted message against a bounded mailbox's capacity.
    #[inline]
    fn admit(&mut self, task: u64, system: bool) -> Admit {
        if self.exit.is_some() {
            return Admit::No(SendErrorKind::Ended);
        }
        if system {
            return Admit::Yes;
        }
        if let Some(b) = self.bounded() {
            if b.len >= b.capacity {
                return match b.overflow {
                    Overflow::DropNewest => {
                        b.dropped += 1;
                        tracing::debug!(task, "mailbox full: message dropped");
                        Admit::Drop
                    }
                    Overflow::Fail | Overflow::Wait => Admit::No(SendErrorKind::Full),
                };
            }
            b.len += 1;
        }
        Admit::Yes
    }

    /// Takes the waker if the task waits in a way that `wake_for` ends.
    #[inline]
    pub(crate) fn take_waker_if(&mut self, wake_for: Waiting) -> Option<Waker> {
        if self.waiting == wake_for {
            self.waiting = Waiting::Nothing;
            self.waker.take()
        } else {
            None
        }
    }

    /// Pops the oldest message, keeping a bounded mailbox's count; returns the event
    /// to notify (outside the lock) if room was made.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<(Envelope, Option<Arc<Event>>)> {
        let env = self.queue.pop_front()?;
        let space = self.made_room(&env);
        Some((env, space))
    }

    pub(crate) fn made_room(&mut self, env: &Envelope) -> Option<Arc<Event>> {
        self.made_room_for(env.is_system())
    }

    /// As [`made_room`](Self::made_room), for a message that `system` says is or is not
    /// a runtime signal.
    pub(crate) fn made_room_for(&mut self, system: bool) -> Option<Arc<Event>> {
        match self.bounded() {
            Some(b) if !system => {
                b.len = b.len.saturating_sub(1);
                Some(b.space.clone())
            }
            _ => None,
        }
    }

    /// Registers the task's waker for a wait of kind `waiting`.
    #[inline]
    ///
    /// An interrupt that arrived after the task last looked (a throw, or a swap request
    /// while swappable) wakes it straight away instead: both are only ever queued under
    /// this same lock, so none slips in between the look and the parking.
    pub(crate) fn park(&mut self, waiting: Waiting, waker: &Waker) {
        if self.extra.as_ref().is_some_and(|e| e.has_interrupt()) {
            waker.wake_by_ref();
            return;
        }
        self.waiting = waiting;
        match &self.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => self.waker = Some(waker.clone()),
        }
    }
}

/// Everything about one task that outlives a poll.
pub(crate) struct TaskCore {
    pub(crate) id: u64,
    pub(crate) slot: Slot,
    pub(crate) rt: Arc<Shared>,
    /// `TERMINATE`, `INTERRUPT` and `SWAP` (what the task must look at), `DELIVERED`,
    /// `EXPORTED` and `BOUNDED`: flags readable without the lock.
    signals: AtomicU8,
    /// The worker that spawned the task, which frees its state when it ends (see
    /// [`ScheduleRef`](crate::runtime::scheduler::ScheduleRef)), or
    /// [`NO_HOME`](crate::runtime::scheduler::NO_HOME).
    pub(crate) home: u8,
    /// `!batch.is_empty()`, readable without the lock (written only by the task).
    batched: AtomicBool,
    pub(crate) state: Mutex<State>,
    /// Messages the task took from its mailbox in one go and has not received yet:
    /// older than everything in `state.queue`. Only the task itself touches it, so
    /// under load a receiver takes many messages per lock of the shared queue.
    batch: Mutex<Queue>,
    /// Notified when the task ends.
    pub(crate) exited: Event,
}

/// The task must end at its next await.
pub(crate) const TERMINATE: u8 = 1;
/// A thrown error or a hot-swap request waits for the task's next wait.
pub(crate) const INTERRUPT: u8 = 2;
/// The task accepted a hot swap: its wrapper must replace its future.
pub(crate) const SWAP: u8 = 4;
/// The task has been handed a thrown error or a hot-swap request at least once: when
/// it ends, its output may still hold one (see `propagated`). Set and read only by the
/// task itself; a task never interrupted skips that look at its state.
pub(crate) const DELIVERED: u8 = 8;
/// The task's reference was serialized: it is indexed by id for remote messages.
const EXPORTED: u8 = 16;
/// The task's mailbox is bounded (set at spawn, never changed): its accounting is only
/// looked at, under the lock, when this says so.
const BOUNDED: u8 = 32;

/// What [`State::admit`] decided.
enum Admit {
    Yes,
    /// `Overflow::DropNewest`: drop the message (outside the lock).
    Drop,
    No(SendErrorKind),
}

/// What a message push did.
pub(crate) enum Pushed {
    Queued,
    /// `Overflow::DropNewest` dropped it (returned so it is dropped outside the lock).
    Dropped(Envelope),
}

impl TaskCore {
    #[inline]
    pub(crate) fn new(
        id: u64,
        slot: Slot,
        home: u8,
        rt: Arc<Shared>,
        name: Cow<'static, str>,
        daemon: bool,
        mailbox: Option<(usize, Overflow)>,
    ) -> TaskCore {
        TaskCore {
            id,
            slot,
            rt,
            signals: AtomicU8::new(if mailbox.is_some() { BOUNDED } else { 0 }),
            home,
            batch: Mutex::new(Queue::default()),
            batched: AtomicBool::new(false),
            state: Mutex::new(State {
                name,
                queue: Queue::default(),
                waiting: Waiting::Nothing,
                waker: None,
                daemon,
                self_waker: None,
                exit: None,
                extra: mailbox.map(|(capacity, overflow)| {
                    Box::new(Extra {
                        bounded: Some(Bounded {
                            capacity,
                            overflow,
                            len: 0,
                            dropped: 0,
                            space: Arc::new(Event::new()),
                        }),
                        ..Extra::default()
                    })
                }),
            }),
            exited: Event::new(),
        }
    }

    /// Puts a message in the mailbox and wakes the task if it waits in `receive`.
    #[inline]
    pub(crate) fn push(&self, env: Envelope) -> Result<Pushed, (Envelope, SendErrorKind)> {
        let waker = {
            let mut st = self.state.lock();
            match st.admit(self.id, env.is_system()) {
                Admit::Yes => {}
                Admit::Drop => return Ok(Pushed::Dropped(env)),
                Admit::No(kind) => return Err((env, kind)),
            }
            st.queue.push_back(env);
            st.take_waker_if(Waiting::Receive)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(Pushed::Queued)
    }

    /// Puts a message sent as an `M` in the mailbox (see [`Queue::push_message`]) and
    /// wakes the task if it waits in `receive`. A message dropped by
    /// [`Overflow::DropNewest`] counts as queued.
    #[inline]
    pub(crate) fn push_message<M: Message>(&self, msg: M) -> Result<(), (M, SendErrorKind)> {
        let span = crate::message::current_span();
        let waker = {
            let mut st = self.state.lock();
            match st.admit(self.id, false) {
                Admit::Yes => {}
                Admit::Drop => {
                    drop(st);
                    drop((msg, span));
                    return Ok(());
                }
                Admit::No(kind) => {
                    drop(st);
                    return Err((msg, kind));
                }
            }
            st.queue.push_message(msg, span);
            st.take_waker_if(Waiting::Receive)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// The task's own next message, taking a batch from the shared queue when several
    /// wait; with `park`, registers the waker for `Waiting::Receive` if there is none.
    /// Only the task itself may call this. Inlined into `receive`, for the reason
    /// [`Queue::pop_front`] gives.
    #[inline(always)]
    pub(crate) fn pop_own(&self, park: Option<&Waker>) -> Option<Envelope> {
        if self.batched.load(Ordering::Relaxed) {
            let env = {
                let mut batch = self.batch.lock();
                let env = batch.pop_front();
                self.batched.store(!batch.is_empty(), Ordering::Relaxed);
                env
            };
            if let Some(env) = env {
                if self.is_bounded() && !env.is_system() {
                    // A bounded mailbox counts batched messages until they are received.
                    let space = self.state.lock().bounded().map(|b| {
                        b.len = b.len.saturating_sub(1);
                        b.space.clone()
                    });
                    if let Some(space) = space {
                        crate::util::notify(&space, 1);
                    }
                }
                return Some(env);
            }
        }
        let (env, space) = {
            let mut st = self.state.lock();
            if st.queue.len() > 1 && st.bounded_ref().is_none() {
                let mut batch = self.batch.lock();
                std::mem::swap(&mut *batch, &mut st.queue);
                let env = batch.pop_front();
                self.batched.store(!batch.is_empty(), Ordering::Relaxed);
                (env, None)
            } else {
                match st.pop() {
                    Some((env, space)) => (Some(env), space),
                    None => {
                        if let Some(waker) = park {
                            st.park(Waiting::Receive, waker);
                        }
                        (None, None)
                    }
                }
            }
        };
        if let Some(space) = space {
            crate::util::notify(&space, 1);
        }
        env
    }

    /// The task's own next message if it is a local `M`, taken out without looking at
    /// any other (see [`Queue::pop_front_as`]): selective receive's fast path. `None`
    /// if the next message is something else, none is queued, or the mailbox is
    /// bounded (whose accounting the full scan keeps). Only the task itself may call
    /// this.
    #[inline(always)]
    pub(crate) fn pop_own_as<M: Message>(&self) -> Option<Taken<M>> {
        if self.is_bounded() {
            return None;
        }
        if self.batched.load(Ordering::Relaxed) {
            // The batch is older than anything in the shared queue: its front is next.
            let mut batch = self.batch.lock();
            let taken = batch.pop_front_as::<M>();
            self.batched.store(!batch.is_empty(), Ordering::Relaxed);
            return taken;
        }
        let mut st = self.state.lock();
        if st.queue.len() > 1 {
            let mut batch = self.batch.lock();
            std::mem::swap(&mut *batch, &mut st.queue);
            drop(st);
            let taken = batch.pop_front_as::<M>();
            self.batched.store(!batch.is_empty(), Ordering::Relaxed);
            taken
        } else {
            st.queue.pop_front_as::<M>()
        }
    }

    /// Puts back, in front of every other message, one that
    /// [`pop_own_as`](Self::pop_own_as) took and the task did not want.
    pub(crate) fn put_back_own_front(&self, env: Envelope) {
        let mut batch = self.batch.lock();
        batch.push_front(env);
        self.batched.store(true, Ordering::Relaxed);
    }

    /// Takes every message not yet received, oldest first, runs and all (for selective
    /// receive by type). Give it back with [`put_back_queue_own`](Self::put_back_queue_own).
    pub(crate) fn take_queue_own(&self) -> Queue {
        let mut all = {
            let mut batch = self.batch.lock();
            self.batched.store(false, Ordering::Relaxed);
            std::mem::take(&mut *batch)
        };
        all.append(&mut self.state.lock().queue);
        all
    }

    /// Puts back what selective receive by type did not take: older than anything that
    /// arrived meanwhile.
    ///
    /// Anything the batch took meanwhile (a predicate, which is user code, may itself
    /// have received) is newer than `rest` and goes behind it.
    pub(crate) fn put_back_queue_own(&self, mut rest: Queue) {
        let mut batch = self.batch.lock();
        rest.append(&mut batch);
        *batch = rest;
        self.batched.store(!batch.is_empty(), Ordering::Relaxed);
    }

    /// Counts a selectively received message that is no runtime signal out of a
    /// bounded mailbox.
    pub(crate) fn received_own_message(&self) {
        if !self.is_bounded() {
            return;
        }
        let space = self.state.lock().made_room_for(false);
        if let Some(space) = space {
            crate::util::notify(&space, 1);
        }
    }

    /// Takes every message not yet received, oldest first (for selective receive).
    pub(crate) fn take_all_own(&self) -> VecDeque<Envelope> {
        let mut all = {
            let mut batch = self.batch.lock();
            self.batched.store(false, Ordering::Relaxed);
            batch.take_all()
        };
        self.state.lock().queue.append_to(&mut all);
        all
    }

    /// Puts back what selective receive did not take: older than anything that
    /// arrived meanwhile.
    ///
    /// Anything the batch took meanwhile (a predicate, which is user code, may itself
    /// have received) is newer than `rest` and goes behind it.
    pub(crate) fn put_back_own(&self, mut rest: VecDeque<Envelope>) {
        let mut batch = self.batch.lock();
        batch.append_to(&mut rest);
        batch.set(rest);
        self.batched.store(!batch.is_empty(), Ordering::Relaxed);
    }

    /// Counts a selectively received message out of a bounded mailbox.
    pub(crate) fn received_own(&self, env: &Envelope) {
        let space = self.state.lock().made_room(env);
        if let Some(space) = space {
            crate::util::notify(&space, 1);
        }
    }

    /// Messages waiting, batched or not.
    pub(crate) fn mailbox_len(&self) -> usize {
        let batched = self.batch.lock().len();
        batched + self.state.lock().queue.len()
    }

    /// The event a sender waits on for room in a bounded mailbox.
    pub(crate) fn space_event(&self) -> Option<Arc<Event>> {
        self.state.lock().bounded_ref().map(|b| b.space.clone())
    }

    /// Whether the mailbox is bounded.
    #[inline]
    fn is_bounded(&self) -> bool {
        self.signals.load(Ordering::Relaxed) & BOUNDED != 0
    }

    fn is_exported(&self) -> bool {
        self.signalled(EXPORTED)
    }

    /// Marks the task as exported; true the first time.
    fn mark_exported(&self) -> bool {
        self.signals.fetch_or(EXPORTED, Ordering::AcqRel) & EXPORTED == 0
    }

    pub(crate) fn terminate_requested(&self) -> bool {
        self.signals.load(Ordering::Acquire) & TERMINATE != 0
    }

    #[inline]
    pub(crate) fn signalled(&self, signal: u8) -> bool {
        self.signals.load(Ordering::Acquire) & signal != 0
    }

    pub(crate) fn set_signal(&self, signal: u8, on: bool) {
        if on {
            self.signals.fetch_or(signal, Ordering::AcqRel);
        } else {
            self.signals.fetch_and(!signal, Ordering::AcqRel);
        }
    }

    /// The interrupt for the task's wait, if one is ready: a thrown error first, then a
    /// hot-swap request (only while the task is swappable). Only the task itself may
    /// call this.
    #[inline]
    pub(crate) fn take_interrupt(self: &Arc<Self>) -> Option<Interrupt> {
        if !self.signalled(INTERRUPT) {
            return None;
        }
        self.take_pending_interrupt()
    }

    /// [`take_interrupt`](Self::take_interrupt) once the flag says one may wait (kept
    /// out of line: a receive checks the flag for every message).
    #[cold]
    #[inline(never)]
    fn take_pending_interrupt(self: &Arc<Self>) -> Option<Interrupt> {
        let mut st = self.state.lock();
        let extra = st.extra.as_mut()?;
        let interrupt = if let Some(thrown) = extra.thrown.pop_front() {
            extra.delivered_throw = Some((thrown.token(), thrown.message().to_string()));
            Some(Interrupt::Thrown(thrown))
        } else if extra.swappable {
            extra.swap.take().map(|shared| {
                extra.delivered_swap = Some(Arc::downgrade(&shared));
                Interrupt::HotSwap(SwapRequest::new(shared, self.clone()))
            })
        } else {
            None
        };
        let more = extra.has_interrupt();
        drop(st);
        if !more {
            self.set_signal(INTERRUPT, false);
        }
        if interrupt.is_some() && !self.signalled(DELIVERED) {
            self.set_signal(DELIVERED, true);
        }
        interrupt
    }

    /// Keeps the task's waker for [`request_terminate`](Self::request_terminate); the
    /// task's wrapper calls it at the task's first wait. A terminate asked for before
    /// the waker was kept is honoured here: it found no waker to wake.
    pub(crate) fn keep_self_waker(&self, waker: &std::task::Waker) {
        {
            let mut st = self.state.lock();
            if st.exit.is_some() {
                return;
            }
            st.self_waker = Some(waker.clone());
        }
        // `request_terminate` sets the signal before it looks for the waker under the
        // lock: either it saw the waker kept above, or the signal is visible here.
        if self.terminate_requested() {
            waker.wake_by_ref();
        }
    }

    /// Asks the task to end at its next await point (or, after shutdown, to be dropped).
    pub(crate) fn request_terminate(&self) {
        self.set_signal(TERMINATE, true);
        let waker = {
            let st = self.state.lock();
            if st.exit.is_some() {
                return;
            }
            st.self_waker.clone()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Records how the task ended and does everything that follows: wakes `finish`
    /// waiters, releases names, drops queued messages, counts it out for `join`.
    /// Returns false if the task had ended already.
    pub(crate) fn finalize(self: &Arc<Self>, exit: Exit) -> bool {
        let exit_for_monitors;
        let (queue, extra, daemon, self_waker, space) = {
            let mut st = self.state.lock();
            if st.exit.is_some() {
                return false;
            }
            match &exit {
                Exit::Panicked(msg) => {
                    tracing::error!(task = %TaskLabel(&st.name, self.id), panic = %msg, "task panicked")
                }
                other => {
                    tracing::trace!(task = %TaskLabel(&st.name, self.id), exit = %other, "task ended")
                }
            }
            st.exit = Some(exit);
            exit_for_monitors = st
                .extra
                .as_ref()
                .filter(|e| !e.monitors.is_empty())
                .and_then(|_| st.exit.clone());
            st.waiting = Waiting::Nothing;
            st.waker = None;
            let space = st.bounded_ref().map(|b| b.space.clone());
            // Everything but a bounded mailbox's accounting (still asked about, and
            // waited on by senders who learn that the task is gone) goes with the task.
            let mut extra = st.extra.take();
            if let Some(bounded) = extra.as_mut().and_then(|e| e.bounded.take()) {
                st.extra = Some(Box::new(Extra {
                    bounded: Some(bounded),
                    ..Extra::default()
                }));
            }
            // The queue goes even when empty: its room would otherwise stay allocated
            // as long as a reference to the task does (an exported task's state is
            // kept a while after it ends, see `RecentlyEnded`).
            (
                st.queue
                    .is_allocated()
                    .then(|| std::mem::take(&mut st.queue)),
                extra,
                st.daemon,
                st.self_waker.take(),
                space,
            )
        };
        // Names and the table entry go first, so that whoever learns of the end finds
        // the runtime's state consistent with it.
        let mut monitors = Vec::new();
        if let Some(extra) = extra {
            let me = TaskRef::from_core(self.clone());
            for name in &extra.names {
                self.rt.names.release(name, &me);
            }
            let Extra {
                monitors: m, swap, ..
            } = *extra;
            monitors = m;
            if let Some(swap) = swap {
                swap.end(super::hotswap::Outcome::Ended);
            }
        }
        self.rt.tasks.remove(self, daemon);
        // No fence needed (unlike `util::notify`): every waiter listens, then looks at
        // `exit` under the state lock, which this task took to set it. Either the
        // waiter's look came after, and it saw the exit, or its listener was registered
        // before this task took the lock, and is seen here.
        if self.exited.total_listeners() > 0 {
            self.exited.notify(usize::MAX);
        }
        if let Some(space) = space {
            // Senders waiting for room learn that the task is gone.
            crate::util::notify(&space, usize::MAX);
        }
        if !monitors.is_empty() {
            let status = MonitorStatus {
                task: TaskRef::from_core(self.clone()),
                exit: exit_for_monitors.unwrap_or(Exit::NotFound),
            };
            for monitor in monitors {
                // A monitor that has ended needs no news.
                let _ = monitor.send_system(status.clone());
            }
        }
        // Queued messages go with the task; requests among them tell their callers.
        // Only the task itself fills its batch (from the queue, so never unless the
        // queue was allocated), and it has stopped running: the batch goes too, with
        // its room.
        if queue.is_some() || self.batched.load(Ordering::Relaxed) {
            drop(queue);
            let batch = std::mem::take(&mut *self.batch.lock());
            self.batched.store(false, Ordering::Relaxed);
            drop(batch);
        }
        drop(self_waker);
        true
    }

    pub(crate) fn exit(&self) -> Option<Exit> {
        self.state.lock().exit.clone()
    }
}

/// `name/id` for logs.
pub(crate) struct TaskLabel<'a>(pub(crate) &'a str, pub(crate) u64);

impl std::fmt::Display for TaskLabel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.0, self.1)
    }
}

/// The live tasks of a runtime, with the count of live non-daemon tasks that
/// [`join`](crate::Handle::join) waits for.
///
/// Tasks live in slabs, one per shard, each shard mostly used by one worker thread
/// (the one that spawns into it), so spawning and ending tasks touches little shared
/// memory. Tasks whose reference was serialized are also indexed by id, for messages
/// that arrive addressed to them.
pub(crate) struct TaskTable {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    exported: Mutex<HashMap<u64, Arc<TaskCore>>>,
    /// The last exported tasks that ended, so that a peer asking how one ended (its
    /// `finish`, or a monitor set up late) gets the real exit rather than "not found".
    ended: Mutex<RecentlyEnded>,
    /// Threads waiting in `join`; ending tasks notify only when there are some.
    joiners: AtomicUsize,
    all_done: Event,
}

#[derive(Default)]
struct Shard {
    tasks: Slab<Arc<TaskCore>>,
    non_daemon: usize,
    /// Tasks ever spawned into this shard; makes ids unique.
    spawned: u64,
}

const SHARDS: usize = 64;

/// Where a task sits in its runtime's table.
///
/// Packed (5 bytes, no padding), so that it shares a word with the task's flags.
#[derive(Clone, Copy, Debug)]
#[repr(C, packed)]
pub(crate) struct Slot {
    shard: u8,
    key: u32,
}

/// Spawns a thread makes into one shard before it moves on to the next.
const SHARD_RUN: usize = 64;

thread_local! {
    /// Counts this thread's spawns; `count / SHARD_RUN` is the shard it spawns into.
    /// Each thread walks the shards in turn, starting at its own place: a task often
    /// ends on another worker than the one that spawned it, and walking keeps the
    /// spawner and the finisher of tasks away from each other's shard lock. It moves
    /// on only every [`SHARD_RUN`] spawns, so that tasks spawned one after the other
    /// sit side by side in one slab (one cache line holds four entries) instead of
    /// one in each of 64 slabs.
    static SHARD: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// Makes this thread start its walk at a place of its own (worker threads call it).
pub(crate) fn set_thread_shard(index: usize) {
    SHARD.with(|s| s.set(index * (SHARDS / 4) * SHARD_RUN));
}

fn thread_shard() -> u8 {
    SHARD.with(|s| {
        let mut next = s.get();
        if next == usize::MAX {
            static START: AtomicUsize = AtomicUsize::new(0);
            next = START.fetch_add(SHARDS / 4 + 1, Ordering::Relaxed) * SHARD_RUN;
        }
        s.set(next.wrapping_add(1));
        ((next / SHARD_RUN) % SHARDS) as u8
    })
}

impl TaskTable {
    pub(crate) fn new() -> TaskTable {
        TaskTable {
            shards: (0..SHARDS)
                .map(|_| CachePadded::new(Mutex::new(Shard::default())))
                .collect(),
            exported: Mutex::new(HashMap::new()),
            ended: Mutex::new(RecentlyEnded::default()),
            joiners: AtomicUsize::new(0),
            all_done: Event::new(),
        }
    }

    /// Adds a new task, made by `make` from its id and slot.
    pub(crate) fn insert_new(
        &self,
        daemon: bool,
        make: impl FnOnce(u64, Slot) -> Arc<TaskCore>,
    ) -> Arc<TaskCore> {
        let shard_index = thread_shard();
        let mut shard = self.shards[usize::from(shard_index)].lock();
        shard.spawned += 1;
        let id = shard.spawned * SHARDS as u64 + u64::from(shard_index);
        let entry = shard.tasks.vacant_entry();
        let slot = Slot {
            shard: shard_index,
            key: entry.key() as u32,
        };
        let core = make(id, slot);
        entry.insert(core.clone());
        shard.non_daemon += usize::from(!daemon);
        core
    }

    pub(crate) fn remove(&self, core: &TaskCore, daemon: bool) {
        let slot = core.slot;
        let (removed, emptied) = {
            let mut shard = self.shards[usize::from(slot.shard)].lock();
            let removed = shard.tasks.try_remove(slot.key as usize);
            if removed.is_some() && !daemon {
                shard.non_daemon -= 1;
            }
            (removed, shard.non_daemon == 0)
        };
        drop(removed);
        if core.is_exported() {
            let removed = self.exported.lock().remove(&core.id);
            if let Some(core) = removed {
                let evicted = self.ended.lock().push(core);
                drop(evicted);
            }
        }
        if emptied {
            self.wake_joiners();
        }
    }

    /// Moves a live task in or out of the non-daemon count.
    pub(crate) fn set_daemon(&self, core: &TaskCore, daemon: bool) {
        let emptied = {
            let mut shard = self.shards[usize::from(core.slot.shard)].lock();
            if !shard.tasks.contains(core.slot.key as usize) {
                return;
            }
            if daemon {
                shard.non_daemon -= 1;
            } else {
                shard.non_daemon += 1;
            }
            shard.non_daemon == 0
        };
        if emptied {
            self.wake_joiners();
        }
    }

    /// Indexes a task by id, once its reference has been serialized.
    pub(crate) fn export(&self, core: &Arc<TaskCore>) {
        if !core.mark_exported() {
            return;
        }
        if core.state.lock().exit.is_none() {
            self.exported.lock().insert(core.id, core.clone());
            // It may have ended in between; its finalize then found nothing to remove.
            if core.state.lock().exit.is_none() {
                return;
            }
            // Whichever of this and the task's finalize removes it keeps its exit.
            let removed = self.exported.lock().remove(&core.id);
            if removed.is_none() {
                return;
            }
        }
        // Already ended: its exit stays available to the peer that gets the reference.
        let evicted = self.ended.lock().push(core.clone());
        drop(evicted);
    }

    /// A live task whose reference was serialized, by id.
    pub(crate) fn get(&self, id: u64) -> Option<Arc<TaskCore>> {
        self.exported.lock().get(&id).cloned()
    }

    /// Like [`get`](Self::get), or one of the last [`ENDED_KEPT`] exported tasks that
    /// ended (for questions about how it ended).
    pub(crate) fn get_or_ended(&self, id: u64) -> Option<Arc<TaskCore>> {
        self.get(id)
            .or_else(|| self.ended.lock().by_id.get(&id).cloned())
    }

    fn wake_joiners(&self) {
        if self.joiners.load(Ordering::SeqCst) > 0 {
            crate::util::notify(&self.all_done, usize::MAX);
        }
    }

    /// Live non-daemon tasks, counted with every shard locked.
    pub(crate) fn non_daemon(&self) -> usize {
        let guards: Vec<_> = self.shards.iter().map(|s| s.lock()).collect();
        guards.iter().map(|g| g.non_daemon).sum()
    }

    /// Waits (blocking the thread) until no non-daemon task is alive, `stop` says so,
    /// or the deadline passes; returns false on the deadline.
    pub(crate) fn wait_non_daemon_done(
        &self,
        deadline: Option<std::time::Instant>,
        stop: impl Fn() -> bool,
    ) -> bool {
        use event_listener::Listener;
        self.joiners.fetch_add(1, Ordering::SeqCst);
        let _leave = LeaveJoin(&self.joiners);
        loop {
            if stop() || self.non_daemon() == 0 {
                return true;
            }
            let listener = self.all_done.listen();
            if stop() || self.non_daemon() == 0 {
                return true;
            }
            match deadline {
                None => listener.wait(),
                Some(deadline) => {
                    if listener.wait_deadline(deadline).is_none() {
                        return false;
                    }
                }
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().tasks.len()).sum()
    }

    pub(crate) fn all(&self) -> Vec<Arc<TaskCore>> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            all.extend(shard.lock().tasks.iter().map(|(_, core)| core.clone()));
        }
        all
    }
}

/// How many ended exported tasks keep their exit available to peers.
pub(crate) const ENDED_KEPT: usize = 4096;

/// The last [`ENDED_KEPT`] exported tasks that ended, oldest first out.
#[derive(Default)]
struct RecentlyEnded {
    by_id: HashMap<u64, Arc<TaskCore>>,
    order: std::collections::VecDeque<u64>,
}

impl RecentlyEnded {
    /// Keeps `core`; returns the one it pushed out, to be dropped outside the lock.
    fn push(&mut self, core: Arc<TaskCore>) -> Option<Arc<TaskCore>> {
        let id = core.id;
        self.order.push_back(id);
        self.by_id.insert(id, core);
        if self.order.len() > ENDED_KEPT {
            let oldest = self.order.pop_front()?;
            return self.by_id.remove(&oldest);
        }
        None
    }
}

struct LeaveJoin<'a>(&'a AtomicUsize);

impl Drop for LeaveJoin<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod size_tests {
    /// An idle task's cost starts here; keep it from creeping up unnoticed.
    #[test]
    fn task_state_stays_small() {
        assert!(
            std::mem::size_of::<super::TaskCore>() <= 168,
            "{}",
            std::mem::size_of::<super::TaskCore>()
        );
        assert!(std::mem::size_of::<crate::Envelope>() <= 24);
        assert!(std::mem::size_of::<crate::Exit>() <= 32);
    }
}

#[cfg(test)]
mod end_tests {
    use super::super::queue::QUEUE_KEPT;
    use crate::Runtime;

    /// An ended task's state lives on while someone holds a reference to it (an
    /// exported task's, for a while, in the table): its mailbox's room does not.
    #[test]
    fn an_ended_task_keeps_no_mailbox_room() {
        let rt = Runtime::builder().workers(1).build().expect("a runtime");
        let n = 4 * QUEUE_KEPT as u64;
        // Waits for a go, so the whole burst is queued before it receives: then
        // selective receive takes it all into the batch in one go.
        let task = rt.spawn(move |me| async move {
            let _: String = me.receive_type().await?;
            let mut sum = 0;
            for _ in 0..n / 2 {
                sum += me.receive_type::<u64>().await?;
            }
            // Half the burst is still queued when it ends.
            Ok::<u64, crate::Interrupt>(sum)
        });
        for i in 0..n {
            task.send(i).expect("queued");
        }
        task.send(String::from("go")).expect("queued");
        let ended = task.clone();
        rt.block_on(async move { ended.finish().await });
        let core = task.core().expect("a local task");
        assert!(
            !core.state.lock().queue.is_allocated(),
            "the ended task's queue holds no allocation"
        );
        let batch = core.batch.lock();
        assert!(
            batch.capacity() == 0,
            "the ended task's batch holds no room"
        );
    }
}
