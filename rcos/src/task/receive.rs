//! Waiting inside a task: `receive` and its variants, `suspend`, `sleep`, and `resume`
//! from outside.

use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use super::TaskRef;
use super::core::{TaskCore, Waiting};
use super::queue::Taken;
use super::taskref::Repr;
use crate::error::{Interrupt, ResumeError};
use crate::message::{Envelope, Message};
use crate::runtime::context;

impl TaskRef {
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
            if let Some(interrupt) = core.take_interrupt() {
                parked.armed = false;
                return Poll::Ready(Err(interrupt));
            }
            match core.pop_own(Some(cx.waker())) {
                Some(env) => {
                    parked.armed = false;
                    Poll::Ready(Ok(env))
                }
                None => {
                    parked.armed = true;
                    Poll::Pending
                }
            }
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
        if let Some(interrupt) = core.take_interrupt() {
            return Err(interrupt);
        }
        Ok(core.pop_own(None))
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
    pub async fn receive_or<M: Message>(
        &self,
        timeout: Duration,
        alarm: M,
    ) -> Result<Envelope, Interrupt> {
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
    pub async fn receive_match_timeout<P>(
        &self,
        timeout: Duration,
        pred: P,
    ) -> Result<Option<Envelope>, Interrupt>
    where
        P: FnMut(&mut Envelope) -> bool,
    {
        let core = self.own_core()?;
        match core
            .rt
            .clock
            .timeout(timeout, select_receive(core, pred))
            .await
        {
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
        // The next message is usually the one wanted: take it without a scan.
        if let Some(interrupt) = core.take_interrupt() {
            return Err(interrupt);
        }
        match core.pop_own_as::<M>() {
            Some(Taken::Value(msg, span)) => {
                if pred(&msg) {
                    return Ok(msg);
                }
                core.put_back_own_front(Envelope::with_span(msg, span));
            }
            Some(Taken::Env(env)) => {
                if env.downcast_ref::<M>().is_some_and(&mut pred) {
                    match env.downcast::<M>() {
                        Ok(msg) => return Ok(msg),
                        Err(back) => core.put_back_own_front(back),
                    }
                } else {
                    core.put_back_own_front(env);
                }
            }
            None => return select_receive_as(core, pred, 0).await,
        }
        // The predicate refused the next message: the scan starts after it.
        select_receive_as(core, pred, 1).await
    }

    /// Waits for the next message of type `M`, or `None` after `timeout`; messages of
    /// other types stay queued in order.
    ///
    /// # Errors
    /// As [`receive`](Self::receive).
    pub async fn receive_type_timeout<M: Message>(
        &self,
        timeout: Duration,
    ) -> Result<Option<M>, Interrupt> {
        let core = self.own_core()?;
        match core
            .rt
            .clock
            .timeout(timeout, self.receive_type::<M>())
            .await
        {
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
            if let Some(interrupt) = core.take_interrupt() {
                parked.armed = false;
                return Poll::Ready(Err(interrupt));
            }
            {
                let mut st = core.state.lock();
                if let Some(value) = st.extra.as_mut().and_then(|e| e.resumed.take()) {
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
                    return Poll::Ready(Ok(st.extra.as_mut().and_then(|e| e.resumed.take())));
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
            st.extra().resumed = Some(Envelope::new(value));
            st.take_waker_if(Waiting::Suspend)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
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
        ParkGuard {
            core,
            kind,
            armed: false,
        }
    }

    /// After a scan of the mailbox found nothing wanted: parks for a message unless
    /// one arrived meanwhile (then the caller looks again); true if it parked.
    fn park_unless_arrived(&mut self, waker: &std::task::Waker) -> bool {
        let mut st = self.core.state.lock();
        if !st.queue.is_empty() {
            return false;
        }
        st.park(self.kind, waker);
        self.armed = true;
        true
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

/// Selective receive by type: scans the unreceived messages outside the mailbox lock
/// (so the predicate, which is user code, never runs under it), passing over messages
/// of other types a run at a time, and leaving the others in order.
///
/// The predicate sees each message at most once per wake-up: `seen` messages at the
/// front have been offered to it already (by the caller's look at the next message).
async fn select_receive_as<M, P>(
    core: &Arc<TaskCore>,
    mut pred: P,
    mut seen: usize,
) -> Result<M, Interrupt>
where
    M: Message,
    P: FnMut(&M) -> bool,
{
    let mut parked = ParkGuard::new(core, Waiting::Receive);
    poll_fn(|cx| {
        // Messages at the front that this wake-up has offered to the predicate.
        let mut scanned = std::mem::take(&mut seen);
        loop {
            if let Some(interrupt) = core.take_interrupt() {
                parked.armed = false;
                return Poll::Ready(Err(interrupt));
            }
            let mut all = core.take_queue_own();
            let hit = all.remove_first_as::<M>(scanned, &mut pred);
            if hit.is_none() {
                scanned = all.len();
            }
            core.put_back_queue_own(all);
            match hit {
                Some(Taken::Value(msg, _)) => {
                    parked.armed = false;
                    core.received_own_message();
                    return Poll::Ready(Ok(msg));
                }
                Some(Taken::Env(env)) => {
                    core.received_own(&env);
                    // `remove_first_as` checked its type, so this cannot fail; look
                    // again to stay panic-free.
                    match env.downcast::<M>() {
                        Ok(msg) => {
                            parked.armed = false;
                            return Poll::Ready(Ok(msg));
                        }
                        Err(back) => {
                            tracing::error!(
                                "selected message changed type; receiving the next one"
                            );
                            drop(back);
                            continue;
                        }
                    }
                }
                None => {}
            }
            if parked.park_unless_arrived(cx.waker()) {
                return Poll::Pending;
            }
        }
    })
    .await
}

/// Selective receive: scans the unreceived messages outside the mailbox lock (so the
/// predicate, which is user code, never runs under it), leaving the others in order.
async fn select_receive<P>(core: &Arc<TaskCore>, mut pred: P) -> Result<Envelope, Interrupt>
where
    P: FnMut(&mut Envelope) -> bool,
{
    let mut parked = ParkGuard::new(core, Waiting::Receive);
    poll_fn(|cx| {
        let mut scanned = 0;
        loop {
            if let Some(interrupt) = core.take_interrupt() {
                parked.armed = false;
                return Poll::Ready(Err(interrupt));
            }
            let mut all = core.take_all_own();
            let hit = all
                .iter_mut()
                .skip(scanned)
                .position(&mut pred)
                .and_then(|i| all.remove(scanned + i));
            scanned = all.len();
            core.put_back_own(all);
            if let Some(env) = hit {
                parked.armed = false;
                core.received_own(&env);
                return Poll::Ready(Ok(env));
            }
            if parked.park_unless_arrived(cx.waker()) {
                return Poll::Pending;
            }
        }
    })
    .await
}
