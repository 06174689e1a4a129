//! `TaskRef`: the handle through which everything talks to a task.

use std::borrow::Cow;
use std::fmt;
use std::future::poll_fn;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use event_listener::Listener;

use super::core::{Pushed, TaskCore, Waiting};
use super::{Exit, Overflow};
use crate::error::{CallError, Interrupt, LocateError, RegisterError, ResumeError, SendError, SendErrorKind};
use crate::message::{Envelope, Message, ReplySlot, ReplyTo, Request};
use crate::runtime::{Handle, NodeId, context};

/// A reference to a task: cheap to clone, `Send + Sync`, comparable, hashable,
/// printable as `name/id@runtime`, and serializable.
///
/// Everything one does with a task goes through its `TaskRef`: [`send`](Self::send) it
/// messages, [`call`](Self::call) it, wait for it to [`finish`](Self::finish),
/// [`terminate`](Self::terminate) it, [`register`](Self::register) it under a name. A task
/// gets its own reference as its first argument and uses it to
/// [`receive`](Self::receive), [`sleep`](Self::sleep) and [`suspend`](Self::suspend) — these
/// work only on the calling task's own reference.
///
/// The methods keep pycos's names and meaning; where pycos needs `yield`, rcos needs
/// `.await`.
#[derive(Clone)]
pub struct TaskRef {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Local(Arc<TaskCore>),
    /// A reference that does not resolve here: a task that ended before the reference
    /// was deserialized, or a task on a runtime this one cannot reach.
    Detached(Arc<Detached>),
}

pub(crate) struct Detached {
    pub(crate) node: NodeId,
    pub(crate) id: u64,
    pub(crate) name: String,
}

/// A task's number, unique within its runtime (and never reused by it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub(crate) u64);

impl TaskId {
    /// The number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl TaskRef {
    pub(crate) fn from_core(core: Arc<TaskCore>) -> TaskRef {
        TaskRef {
            repr: Repr::Local(core),
        }
    }

    pub(crate) fn detached(node: NodeId, id: u64, name: String) -> TaskRef {
        TaskRef {
            repr: Repr::Detached(Arc::new(Detached { node, id, name })),
        }
    }

    pub(crate) fn core(&self) -> Option<&Arc<TaskCore>> {
        match &self.repr {
            Repr::Local(core) => Some(core),
            Repr::Detached(_) => None,
        }
    }

    pub(crate) fn node(&self) -> &NodeId {
        match &self.repr {
            Repr::Local(core) => &core.rt.node,
            Repr::Detached(d) => &d.node,
        }
    }

    /// The task being run by the calling code (pycos's `Pycos.cur_task()`); `None` on a
    /// plain thread.
    pub fn current() -> Option<TaskRef> {
        context::with_current_task(|core| core.map(|c| TaskRef::from_core(c.clone())))
    }

    /// The task's id, unique within its runtime.
    pub fn id(&self) -> TaskId {
        match &self.repr {
            Repr::Local(core) => TaskId(core.id),
            Repr::Detached(d) => TaskId(d.id),
        }
    }

    /// The task's name.
    pub fn name(&self) -> Cow<'static, str> {
        match &self.repr {
            Repr::Local(core) => core.state.lock().name.clone(),
            Repr::Detached(d) => Cow::Owned(d.name.clone()),
        }
    }

    /// The runtime the task runs on, if it is in this program.
    pub fn runtime(&self) -> Option<Handle> {
        self.core().map(|core| Handle { shared: core.rt.clone() })
    }

    /// Whether the task is in this program.
    pub fn is_local(&self) -> bool {
        self.core().is_some()
    }

    /// Whether the task is still running (a task in another program counts as running
    /// while its node is reachable; a detached reference never does).
    pub fn is_alive(&self) -> bool {
        match &self.repr {
            Repr::Local(core) => core.state.lock().exit.is_none(),
            Repr::Detached(_) => false,
        }
    }

    /// Queues a message for the task. Never blocks; messages from one sender to one task
    /// arrive in the order sent.
    ///
    /// # Errors
    /// The message is handed back if the task has ended, its bounded mailbox is full
    /// (with [`Overflow::Fail`] or [`Overflow::Wait`]), or it cannot be reached.
    /// A message dropped by [`Overflow::DropNewest`] counts as sent.
    ///
    /// ```
    /// # let rt = rcos::Runtime::new().unwrap();
    /// let task = rt.spawn(|task| async move { task.receive().await.ok()?.downcast::<u8>().ok() });
    /// task.send(7u8).unwrap();
    /// assert_eq!(task.value().value().unwrap().take::<Option<u8>>(), Some(Some(7)));
    /// // The task has ended: the message comes back.
    /// let err = task.send(8u8).unwrap_err();
    /// assert!(err.is_ended());
    /// assert_eq!(err.into_inner(), 8);
    /// ```
    #[inline]
    pub fn send<M: Message>(&self, msg: M) -> Result<(), SendError<M>> {
        match &self.repr {
            Repr::Local(core) => push_local(core, Envelope::new(msg)).map_err(|e| e.map(take_back::<M>)),
            Repr::Detached(_) => Err(SendError::new(msg, self.unreachable_kind())),
        }
    }

    /// Queues a value of any type for a task in this program, without serializing it:
    /// a socket, an `Arc`, a reply channel. The receiver takes it out with
    /// [`Envelope::downcast_any`].
    ///
    /// # Errors
    /// As [`send`](Self::send); also [`SendErrorKind::Unreachable`] for a task in another
    /// program.
    pub fn send_local<T: Send + 'static>(&self, value: T) -> Result<(), SendError<T>> {
        match &self.repr {
            Repr::Local(core) => {
                push_local(core, Envelope::new_local(value)).map_err(|e| e.map(take_back_any::<T>))
            }
            Repr::Detached(_) => Err(SendError::new(value, SendErrorKind::Unreachable)),
        }
    }

    /// Sends an envelope on as it is (for example one just received), keeping its
    /// original `tracing` span.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn forward(&self, env: Envelope) -> Result<(), SendError<Envelope>> {
        match &self.repr {
            Repr::Local(core) => push_local(core, env),
            Repr::Detached(_) => Err(SendError::new(env, self.unreachable_kind())),
        }
    }

    /// Queues a runtime signal: never subject to a bounded mailbox's capacity.
    pub(crate) fn send_system<M: Message>(&self, msg: M) -> Result<(), SendError<M>> {
        match &self.repr {
            Repr::Local(core) => push_local(core, Envelope::system(msg)).map_err(|e| e.map(take_back::<M>)),
            Repr::Detached(_) => Err(SendError::new(msg, self.unreachable_kind())),
        }
    }

    fn unreachable_kind(&self) -> SendErrorKind {
        let Repr::Detached(d) = &self.repr else {
            return SendErrorKind::Unreachable;
        };
        let here = context::current_shared();
        match here {
            // A task of this very runtime that is no longer in its table has ended.
            Some(shared) if shared.node == d.node => SendErrorKind::Ended,
            _ => SendErrorKind::Unreachable,
        }
    }

    /// Sends a message and waits until it is in the task's mailbox (pycos's `deliver`).
    ///
    /// For a task in this program that is at once, unless its bounded mailbox is full
    /// with [`Overflow::Wait`]: then `deliver` waits for room, up to `timeout`.
    ///
    /// # Errors
    /// The message is handed back if the task has ended, the mailbox stayed full until
    /// the timeout ([`SendErrorKind::Timeout`]) or is full with [`Overflow::Fail`], or
    /// the task cannot be reached.
    pub async fn deliver<M: Message>(&self, msg: M, timeout: Duration) -> Result<(), SendError<M>> {
        let Repr::Local(core) = &self.repr else {
            return Err(SendError::new(msg, self.unreachable_kind()));
        };
        let waits = core
            .state
            .lock()
            .bounded
            .as_ref()
            .is_some_and(|b| b.overflow == Overflow::Wait);
        if !waits {
            return self.send(msg);
        }
        let clock = core.rt.clock.clone();
        let deadline = clock.deadline(timeout);
        let mut env = Envelope::new(msg);
        loop {
            let space = core.space_event();
            let listener = space.as_ref().map(|s| s.listen());
            match core.push(env) {
                Ok(_) => return Ok(()),
                Err((back, SendErrorKind::Full)) => env = back,
                Err((back, kind)) => return Err(SendError::new(back, kind).map(take_back::<M>)),
            }
            let Some(listener) = listener else { continue };
            if clock.now() >= deadline || !race_timer(clock.sleep_until(deadline), listener).await {
                return Err(SendError::new(env, SendErrorKind::Timeout).map(take_back::<M>));
            }
        }
    }

    /// The calling task's own core, if this reference is the calling task's.
    fn own_core(&self) -> Result<&Arc<TaskCore>, Interrupt> {
        match &self.repr {
            Repr::Local(core) if context::is_current_task(core) => Ok(core),
            _ => Err(Interrupt::WrongTask),
        }
    }

    /// Waits for the next message (pycos's `receive`/`recv`). Only the task itself can
    /// receive.
    ///
    /// # Errors
    /// [`Interrupt::WrongTask`] if this is not the calling task's own reference.
    pub async fn receive(&self) -> Result<Envelope, Interrupt> {
        let core = self.own_core()?;
        let mut parked = ParkGuard::new(core, Waiting::Receive);
        poll_fn(|cx| {
            let (env, space) = {
                let mut st = core.state.lock();
                match st.pop() {
                    Some(popped) => popped,
                    None => {
                        st.park(Waiting::Receive, cx.waker());
                        parked.armed = true;
                        return Poll::Pending;
                    }
                }
            };
            parked.armed = false;
            if let Some(space) = space {
                space.notify(1);
            }
            Poll::Ready(Ok(env))
        })
        .await
    }

    /// Same as [`receive`](Self::receive) (pycos's alias).
    pub async fn recv(&self) -> Result<Envelope, Interrupt> {
        self.receive().await
    }

    /// The next message if one is queued, without waiting (pycos's `receive(timeout=0)`).
    ///
    /// # Errors
    /// As [`receive`](Self::receive).
    pub fn try_receive(&self) -> Result<Option<Envelope>, Interrupt> {
        let core = self.own_core()?;
        let popped = core.state.lock().pop();
        Ok(popped.map(|(env, space)| {
            if let Some(space) = space {
                space.notify(1);
            }
            env
        }))
    }

    /// The next message, or `None` if none arrives within `timeout`.
    ///
    /// # Errors
    /// As [`receive`](Self::receive).
    pub async fn receive_timeout(&self, timeout: Duration) -> Result<Option<Envelope>, Interrupt> {
        let core = self.own_core()?;
        if timeout.is_zero() {
            return self.try_receive();
        }
        match core.rt.clock.timeout(timeout, self.receive()).await {
            Ok(result) => result.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// The next message, or `alarm` (wrapped as an envelope) if none arrives within
    /// `timeout`: pycos's `receive(timeout, alarm_value)`.
    ///
    /// # Errors
    /// As [`receive`](Self::receive).
    pub async fn receive_or<M: Message>(&self, timeout: Duration, alarm: M) -> Result<Envelope, Interrupt> {
        Ok(self
            .receive_timeout(timeout)
            .await?
            .unwrap_or_else(|| Envelope::new(alarm)))
    }

    /// Waits for the next message that `pred` accepts; the others stay queued, in
    /// order, for later receives (pycos's `CategorizeMessages`, Erlang's selective
    /// receive). Each queued message is offered to `pred` at most once per wake-up.
    ///
    /// # Errors
    /// As [`receive`](Self::receive).
    pub async fn receive_match<P>(&self, pred: P) -> Result<Envelope, Interrupt>
    where
        P: FnMut(&mut Envelope) -> bool,
    {
        let core = self.own_core()?;
        select_receive(core, pred).await
    }

    /// [`receive_match`](Self::receive_match) with a timeout: `None` if no accepted
    /// message arrives in time.
    ///
    /// # Errors
    /// As [`receive`](Self::receive).
    pub async fn receive_match_timeout<P>(&self, timeout: Duration, pred: P) -> Result<Option<Envelope>, Interrupt>
    where
        P: FnMut(&mut Envelope) -> bool,
    {
        let core = self.own_core()?;
        match core.rt.clock.timeout(timeout, select_receive(core, pred)).await {
            Ok(result) => result.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Waits for the next message of type `M`; messages of other types stay queued in
    /// order.
    ///
    /// # Errors
    /// As [`receive`](Self::receive).
    pub async fn receive_type<M: Message>(&self) -> Result<M, Interrupt> {
        self.receive_where::<M, _>(|_| true).await
    }

    /// Waits for the next message of type `M` that `pred` accepts; the others stay
    /// queued in order.
    ///
    /// ```
    /// # use rcos::{Message, TaskRef};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Serialize, Deserialize, Message)]
    /// struct Reply { id: u32, body: String }
    ///
    /// async fn wait_for_reply(task: &TaskRef, id: u32) -> Result<String, rcos::Interrupt> {
    ///     Ok(task.receive_where(|r: &Reply| r.id == id).await?.body)
    /// }
    /// ```
    ///
    /// # Errors
    /// As [`receive`](Self::receive).
    pub async fn receive_where<M, P>(&self, mut pred: P) -> Result<M, Interrupt>
    where
        M: Message,
        P: FnMut(&M) -> bool,
    {
        let core = self.own_core()?;
        let mut env = select_receive(core, |env| env.peek::<M>().is_some_and(&mut pred)).await?;
        loop {
            // `peek` decoded it in place, so this cannot fail; loop to stay panic-free.
            match env.downcast::<M>() {
                Ok(msg) => return Ok(msg),
                Err(back) => {
                    tracing::error!("selected message changed type; receiving the next one");
                    drop(back);
                    env = select_receive(core, |env| env.peek::<M>().is_some_and(&mut pred)).await?;
                }
            }
        }
    }

    /// Waits for the next message of type `M`, or `None` after `timeout`; messages of
    /// other types stay queued in order.
    ///
    /// # Errors
    /// As [`receive`](Self::receive).
    pub async fn receive_type_timeout<M: Message>(&self, timeout: Duration) -> Result<Option<M>, Interrupt> {
        let core = self.own_core()?;
        match core.rt.clock.timeout(timeout, self.receive_type::<M>()).await {
            Ok(result) => result.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Suspends the task until another task [`resume`](Self::resume)s it (returning the
    /// value it was resumed with) or `timeout` passes (returning `None`). With `None` as
    /// the timeout only a resume ends the suspension; `Some(Duration::ZERO)` returns
    /// `None` at once. A message does not end a suspension (pycos semantics).
    ///
    /// # Errors
    /// As [`receive`](Self::receive).
    pub async fn suspend(&self, timeout: Option<Duration>) -> Result<Option<Envelope>, Interrupt> {
        let core = self.own_core()?;
        if timeout.is_some_and(|t| t.is_zero()) {
            return Ok(None);
        }
        let mut sleep = timeout.map(|t| core.rt.clock.sleep(t));
        let mut parked = ParkGuard::new(core, Waiting::Suspend);
        poll_fn(|cx| {
            {
                let mut st = core.state.lock();
                if let Some(value) = st.resumed.take() {
                    parked.armed = false;
                    return Poll::Ready(Ok(Some(value)));
                }
                st.park(Waiting::Suspend, cx.waker());
                parked.armed = true;
            }
            if let Some(sleep) = sleep.as_mut() {
                if std::pin::Pin::new(sleep).poll(cx).is_ready() {
                    let mut st = core.state.lock();
                    if st.waiting == Waiting::Suspend {
                        st.waiting = Waiting::Nothing;
                    }
                    parked.armed = false;
                    // A resume that raced with the timer wins.
                    return Poll::Ready(Ok(st.resumed.take()));
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Sleeps for `duration`: pycos's `sleep`, which is `suspend` with a timeout, so a
    /// [`resume`](Self::resume) ends it early and its value is returned. Returns `None`
    /// when the full time passed.
    ///
    /// # Errors
    /// As [`receive`](Self::receive).
    pub async fn sleep(&self, duration: Duration) -> Result<Option<Envelope>, Interrupt> {
        self.suspend(Some(duration)).await
    }

    /// Wakes the task from [`suspend`](Self::suspend) or [`sleep`](Self::sleep) with a
    /// value.
    ///
    /// # Errors
    /// The value is handed back if the task is not suspended right now (a resume is not
    /// kept for a later suspend; use an [`Event`](event_listener::Event) or a message
    /// for that) or has ended.
    pub fn resume<M: Message>(&self, value: M) -> Result<(), ResumeError<M>> {
        let Repr::Local(core) = &self.repr else {
            return Err(ResumeError::new(value, true));
        };
        let waker = {
            let mut st = core.state.lock();
            if st.exit.is_some() {
                return Err(ResumeError::new(value, true));
            }
            if st.waiting != Waiting::Suspend {
                return Err(ResumeError::new(value, false));
            }
            st.resumed = Some(Envelope::new(value));
            st.take_waker_if(Waiting::Suspend)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Marks the task as a daemon (or not): daemons do not hold
    /// [`join`](crate::Handle::join) open. Does nothing on an ended or remote task.
    pub fn set_daemon(&self, daemon: bool) {
        let Repr::Local(core) = &self.repr else { return };
        let mut st = core.state.lock();
        if st.exit.is_some() || st.daemon == daemon {
            return;
        }
        st.daemon = daemon;
        if daemon {
            core.rt.remove_non_daemon();
        } else {
            core.rt.add_non_daemon();
        }
    }

    /// Whether the task is a daemon.
    pub fn is_daemon(&self) -> bool {
        self.core().is_some_and(|core| core.state.lock().daemon)
    }

    /// How many messages wait in the task's mailbox.
    pub fn mailbox_len(&self) -> usize {
        self.core().map_or(0, |core| core.state.lock().queue.len())
    }

    /// How many messages the task's bounded mailbox dropped under
    /// [`Overflow::DropNewest`].
    pub fn dropped_messages(&self) -> u64 {
        self.core()
            .and_then(|core| core.state.lock().bounded.as_ref().map(|b| b.dropped))
            .unwrap_or(0)
    }

    /// Waits for the task to end and tells how (pycos's `finish`).
    ///
    /// ```
    /// # rcos::Runtime::new().unwrap().block_on(async {
    /// let worker = rcos::spawn(|_| async { 40 + 2 });
    /// assert_eq!(worker.finish().await.get::<i32>(), Some(42));
    /// # });
    /// ```
    pub async fn finish(&self) -> Exit {
        let Repr::Local(core) = &self.repr else {
            return Exit::NotFound;
        };
        loop {
            if let Some(exit) = core.exit() {
                return exit;
            }
            let listener = core.exited.listen();
            if let Some(exit) = core.exit() {
                return exit;
            }
            listener.await;
        }
    }

    /// [`finish`](Self::finish), giving up after `timeout`.
    ///
    /// # Errors
    /// [`Elapsed`](crate::time::Elapsed) if the task was still running then.
    pub async fn finish_timeout(&self, timeout: Duration) -> Result<Exit, crate::time::Elapsed> {
        let clock = self.core().map_or_else(crate::time::current_clock, |c| c.rt.clock.clone());
        clock.timeout(timeout, self.finish()).await
    }

    /// Blocks the calling thread until the task ends and tells how (pycos's `value`).
    /// Call it from a plain thread, never from a task: that would block a worker.
    pub fn value(&self) -> Exit {
        let Repr::Local(core) = &self.repr else {
            return Exit::NotFound;
        };
        loop {
            if let Some(exit) = core.exit() {
                return exit;
            }
            let listener = core.exited.listen();
            if let Some(exit) = core.exit() {
                return exit;
            }
            listener.wait();
        }
    }

    /// [`value`](Self::value), giving up after `timeout` (real time): `None` if the task
    /// was still running then.
    pub fn value_timeout(&self, timeout: Duration) -> Option<Exit> {
        let Repr::Local(core) = &self.repr else {
            return Some(Exit::NotFound);
        };
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(exit) = core.exit() {
                return Some(exit);
            }
            let listener = core.exited.listen();
            if let Some(exit) = core.exit() {
                return Some(exit);
            }
            listener.wait_deadline(deadline)?;
        }
    }

    /// Ends the task: it is dropped at its next await point (its locals' `Drop` runs)
    /// and ends with [`Exit::Terminated`]. A task busy without awaiting is dropped when
    /// it next awaits. Returns whether the task was still running.
    pub fn terminate(&self) -> bool {
        match &self.repr {
            Repr::Local(core) => {
                if core.state.lock().exit.is_some() {
                    return false;
                }
                core.request_terminate();
                true
            }
            Repr::Detached(_) => false,
        }
    }

    /// Registers the task under `name` on its runtime, so that [`locate`](Self::locate)
    /// finds it. A task can have several names; they are released when it ends.
    ///
    /// # Errors
    /// If another live task holds the name, the task has ended, or it is not local.
    pub fn register(&self, name: &str) -> Result<(), RegisterError> {
        let Repr::Local(core) = &self.repr else {
            return Err(RegisterError::NotLocal);
        };
        let key = core.rt.names.register(name, self)?;
        let mut st = core.state.lock();
        if st.exit.is_some() {
            drop(st);
            core.rt.names.release(name, self);
            return Err(RegisterError::Ended);
        }
        let names = &mut st.extra().names;
        if !names.iter().any(|n| **n == *name) {
            names.push(key);
        }
        Ok(())
    }

    /// Releases `name` if this task holds it; returns whether it did.
    pub fn unregister(&self, name: &str) -> bool {
        let Repr::Local(core) = &self.repr else {
            return false;
        };
        if let Some(extra) = core.state.lock().extra.as_mut() {
            extra.names.retain(|n| **n != *name);
        }
        core.rt.names.release(name, self)
    }

    /// Finds the task registered as `name` on the caller's runtime (or the default
    /// runtime), waiting up to `timeout` for it to appear.
    ///
    /// # Errors
    /// [`LocateError::NotFound`] if no task took the name in time.
    pub async fn locate(name: &str, timeout: Duration) -> Result<TaskRef, LocateError> {
        super::spawn::current_or_default().locate(name, timeout).await
    }

    /// Sends `request` and waits up to `timeout` for the reply: request/reply, with the
    /// reply routed straight back to the caller (not through its mailbox). The receiver
    /// gets a [`Request<M>`](Request) and answers with [`Request::reply`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use rcos::Request;
    ///
    /// # rcos::Runtime::new().unwrap().block_on(async {
    /// let adder = rcos::spawn(|task| async move {
    ///     while let Ok(msg) = task.receive().await {
    ///         if let Ok(req) = msg.downcast::<Request<(u32, u32)>>() {
    ///             let (a, b) = *req.body();
    ///             let _ = req.reply(a + b);
    ///         }
    ///     }
    /// });
    /// let sum: u32 = adder.call((2u32, 3u32), Duration::from_secs(1)).await.unwrap();
    /// assert_eq!(sum, 5);
    /// # adder.terminate();
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`CallError`]: the request could not be sent, no reply came in time, the receiver
    /// dropped the request, or the reply was of another type.
    pub async fn call<M: Message, R: Message>(&self, request: M, timeout: Duration) -> Result<R, CallError> {
        let clock = match &self.repr {
            Repr::Local(core) => core.rt.clock.clone(),
            Repr::Detached(_) => crate::time::current_clock(),
        };
        let home = self.core().map(|c| Arc::downgrade(&c.rt));
        let slot = Arc::new(ReplySlot::new(home));
        let _caller_gone = CloseOnDrop(&slot);
        let request = Request::new(request, ReplyTo::local(slot.clone()));
        if let Err(e) = self.send(request) {
            return Err(CallError::Send(e.kind()));
        }
        match clock.timeout(timeout, slot.wait()).await {
            Err(_) => Err(CallError::Timeout),
            Ok(None) => Err(CallError::NoReply),
            Ok(Some(env)) => env.downcast::<R>().map_err(CallError::WrongReply),
        }
    }
}

/// Closes a reply slot when the caller stops waiting.
struct CloseOnDrop<'a>(&'a Arc<ReplySlot>);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Clears a task's wait state if its `receive`/`suspend` future is dropped while parked,
/// so that a later `resume` does not take a stale suspension for a live one.
struct ParkGuard<'a> {
    core: &'a Arc<TaskCore>,
    kind: Waiting,
    armed: bool,
}

impl<'a> ParkGuard<'a> {
    fn new(core: &'a Arc<TaskCore>, kind: Waiting) -> Self {
        ParkGuard { core, kind, armed: false }
    }
}

impl Drop for ParkGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut st = self.core.state.lock();
            if st.waiting == self.kind {
                st.waiting = Waiting::Nothing;
            }
        }
    }
}

fn push_local(core: &Arc<TaskCore>, env: Envelope) -> Result<(), SendError<Envelope>> {
    match core.push(env) {
        Ok(Pushed::Queued) => Ok(()),
        Ok(Pushed::Dropped(env)) => {
            drop(env);
            Ok(())
        }
        Err((env, kind)) => Err(SendError::new(env, kind)),
    }
}

/// Recovers the message from an envelope that was just built from it.
fn take_back<M: Message>(env: Envelope) -> M {
    match env.downcast::<M>() {
        Ok(msg) => msg,
        // The envelope was made from an `M` a moment ago by this module.
        Err(_) => unreachable!("an envelope changed type"),
    }
}

fn take_back_any<T: Send + 'static>(env: Envelope) -> T {
    match env.downcast_any::<T>() {
        Ok(value) => value,
        Err(_) => unreachable!("an envelope changed type"),
    }
}

/// Selective receive: scans the queue outside the mailbox lock (so the predicate, which
/// is user code, never runs under it), leaving unaccepted messages in order.
async fn select_receive<P>(core: &Arc<TaskCore>, mut pred: P) -> Result<Envelope, Interrupt>
where
    P: FnMut(&mut Envelope) -> bool,
{
    let mut parked = ParkGuard::new(core, Waiting::Receive);
    poll_fn(|cx| {
        let mut scanned = 0;
        loop {
            let mut queue = std::mem::take(&mut core.state.lock().queue);
            let hit = queue
                .iter_mut()
                .skip(scanned)
                .position(|env| pred(env))
                .and_then(|i| queue.remove(scanned + i));
            scanned = queue.len();
            let mut st = core.state.lock();
            let newer = std::mem::take(&mut st.queue);
            let more = !newer.is_empty();
            queue.extend(newer);
            st.queue = queue;
            if let Some(env) = hit {
                let space = st.made_room(&env);
                drop(st);
                parked.armed = false;
                if let Some(space) = space {
                    space.notify(1);
                }
                return Poll::Ready(Ok(env));
            }
            if more {
                // Messages arrived while scanning: look at them before parking.
                continue;
            }
            st.park(Waiting::Receive, cx.waker());
            parked.armed = true;
            return Poll::Pending;
        }
    })
    .await
}

impl PartialEq for TaskRef {
    fn eq(&self, other: &TaskRef) -> bool {
        match (&self.repr, &other.repr) {
            (Repr::Local(a), Repr::Local(b)) => Arc::ptr_eq(a, b),
            _ => self.id() == other.id() && self.node().incarnation == other.node().incarnation,
        }
    }
}

impl Eq for TaskRef {}

impl Hash for TaskRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.node().incarnation.hash(state);
        self.id().hash(state);
    }
}

impl fmt::Display for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@{}", self.name(), self.id(), self.node())
    }
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskRef({self})")
    }
}

/// Waits for `listener` unless `timer` fires first; true if the listener won.
async fn race_timer<L: std::future::Future<Output = ()>>(timer: crate::time::Sleep, listener: L) -> bool {
    futures_lite::future::or(
        async {
            listener.await;
            true
        },
        async {
            timer.await;
            false
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taskref_is_small() {
        assert!(std::mem::size_of::<TaskRef>() <= 16);
    }
}
