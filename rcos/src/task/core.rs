//! The state every task shares with the references to it: its mailbox, how it waits,
//! how it ended, and the bookkeeping that has to happen when it ends.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Waker;

use event_listener::Event;

use super::{Exit, Overflow, TaskRef};
use crate::error::{Interrupt, SendErrorKind};
use crate::message::Envelope;
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
#[derive(Debug, Default)]
pub(crate) struct Extra {
    /// Names registered for the task; released when it ends.
    pub(crate) names: Vec<Arc<str>>,
}

pub(crate) struct State {
    pub(crate) name: Cow<'static, str>,
    pub(crate) queue: VecDeque<Envelope>,
    pub(crate) bounded: Option<Box<Bounded>>,
    pub(crate) waiting: Waiting,
    /// The waker of the task while it waits in `receive` or `suspend`.
    pub(crate) waker: Option<Waker>,
    /// A value from `resume`, for the task's current `suspend`.
    pub(crate) resumed: Option<Envelope>,
    /// An interrupt for the task's current or next wait.
    pub(crate) interrupt: Option<Interrupt>,
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

    /// Takes the waker whatever the task waits on (`receive` or `suspend`).
    pub(crate) fn take_any_waker(&mut self) -> Option<Waker> {
        if self.waiting == Waiting::Nothing {
            None
        } else {
            self.waiting = Waiting::Nothing;
            self.waker.take()
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
        match &mut self.bounded {
            Some(b) if !env.is_system() => {
                b.len = b.len.saturating_sub(1);
                Some(b.space.clone())
            }
            _ => None,
        }
    }

    /// Registers the task's waker for a wait of kind `waiting`.
    #[inline]
    pub(crate) fn park(&mut self, waiting: Waiting, waker: &Waker) {
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
    pub(crate) rt: Arc<Shared>,
    terminate: AtomicBool,
    pub(crate) state: Mutex<State>,
    /// Notified when the task ends.
    pub(crate) exited: Event,
}

/// What a message push did.
pub(crate) enum Pushed {
    Queued,
    /// `Overflow::DropNewest` dropped it (returned so it is dropped outside the lock).
    Dropped(Envelope),
}

impl TaskCore {
    pub(crate) fn new(
        id: u64,
        rt: Arc<Shared>,
        name: Cow<'static, str>,
        daemon: bool,
        mailbox: Option<(usize, Overflow)>,
    ) -> TaskCore {
        TaskCore {
            id,
            rt,
            terminate: AtomicBool::new(false),
            state: Mutex::new(State {
                name,
                queue: VecDeque::new(),
                bounded: mailbox.map(|(capacity, overflow)| {
                    Box::new(Bounded {
                        capacity,
                        overflow,
                        len: 0,
                        dropped: 0,
                        space: Arc::new(Event::new()),
                    })
                }),
                waiting: Waiting::Nothing,
                waker: None,
                resumed: None,
                interrupt: None,
                daemon,
                self_waker: None,
                exit: None,
                extra: None,
            }),
            exited: Event::new(),
        }
    }

    /// Puts a message in the mailbox and wakes the task if it waits in `receive`.
    #[inline]
    pub(crate) fn push(&self, env: Envelope) -> Result<Pushed, (Envelope, SendErrorKind)> {
        let waker = {
            let mut st = self.state.lock();
            if st.exit.is_some() {
                return Err((env, SendErrorKind::Ended));
            }
            if let Some(b) = &mut st.bounded {
                if !env.is_system() {
                    if b.len >= b.capacity {
                        return match b.overflow {
                            Overflow::DropNewest => {
                                b.dropped += 1;
                                tracing::debug!(task = self.id, "mailbox full: message dropped");
                                Ok(Pushed::Dropped(env))
                            }
                            Overflow::Fail | Overflow::Wait => Err((env, SendErrorKind::Full)),
                        };
                    }
                    b.len += 1;
                }
            }
            st.queue.push_back(env);
            st.take_waker_if(Waiting::Receive)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(Pushed::Queued)
    }

    /// The event a sender waits on for room in a bounded mailbox.
    pub(crate) fn space_event(&self) -> Option<Arc<Event>> {
        self.state.lock().bounded.as_ref().map(|b| b.space.clone())
    }

    pub(crate) fn terminate_requested(&self) -> bool {
        self.terminate.load(Ordering::Acquire)
    }

    /// Asks the task to end at its next await point (or, after shutdown, to be dropped).
    pub(crate) fn request_terminate(&self) {
        self.terminate.store(true, Ordering::Release);
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
            st.waiting = Waiting::Nothing;
            st.waker = None;
            st.resumed = None;
            st.interrupt = None;
            (
                std::mem::take(&mut st.queue),
                st.extra.take(),
                st.daemon,
                st.self_waker.take(),
                st.bounded.as_ref().map(|b| b.space.clone()),
            )
        };
        // Names and the table entry go first, so that whoever learns of the end finds
        // the runtime's state consistent with it.
        if let Some(extra) = extra {
            let me = TaskRef::from_core(self.clone());
            for name in extra.names {
                self.rt.names.release(&name, &me);
            }
        }
        self.rt.tasks.remove(self.id);
        self.exited.notify(usize::MAX);
        if let Some(space) = space {
            // Senders waiting for room learn that the task is gone.
            space.notify(usize::MAX);
        }
        if !daemon {
            self.rt.remove_non_daemon();
        }
        // Queued messages go with the task; requests among them tell their callers.
        drop(queue);
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

/// The live tasks of a runtime, by id.
pub(crate) struct TaskTable {
    shards: Box<[Mutex<HashMap<u64, Arc<TaskCore>>>]>,
}

const SHARDS: usize = 16;

impl TaskTable {
    pub(crate) fn new() -> TaskTable {
        TaskTable {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    #[inline]
    fn shard(&self, id: u64) -> &Mutex<HashMap<u64, Arc<TaskCore>>> {
        &self.shards[(id as usize) % SHARDS]
    }

    pub(crate) fn insert(&self, core: Arc<TaskCore>) {
        self.shard(core.id).lock().insert(core.id, core);
    }

    pub(crate) fn remove(&self, id: u64) {
        let removed = self.shard(id).lock().remove(&id);
        drop(removed);
    }

    pub(crate) fn get(&self, id: u64) -> Option<Arc<TaskCore>> {
        self.shard(id).lock().get(&id).cloned()
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    pub(crate) fn all(&self) -> Vec<Arc<TaskCore>> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            all.extend(shard.lock().values().cloned());
        }
        all
    }
}
