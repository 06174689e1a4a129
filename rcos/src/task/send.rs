//! Sending to a task: `send`, `send_local`, `forward`, `deliver` and `call`.

use std::sync::Arc;
use std::time::Duration;

use super::Overflow;
use super::TaskRef;
use super::core::{Pushed, TaskCore};
use super::taskref::Repr;
use crate::error::{CallError, SendError, SendErrorKind};
use crate::message::{Envelope, Message, Reply, ReplySink, ReplySlot, ReplyTo, Request};
use crate::net::frame::WireMsg;

impl TaskRef {
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
            Repr::Local(core) => core
                .push_message(msg)
                .map_err(|(msg, kind)| SendError::new(msg, kind)),
            Repr::Detached(_) => Err(SendError::new(msg, self.unreachable_kind())),
            Repr::Remote(r) => match r.send_msg(WireMsg::of(&msg)) {
                Ok(()) => Ok(()),
                Err(kind) => Err(SendError::new(msg, kind)),
            },
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
            Repr::Detached(_) | Repr::Remote(_) => {
                Err(SendError::new(value, SendErrorKind::Unreachable))
            }
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
            Repr::Remote(r) => match r.send_msg(WireMsg::of_envelope(&env)) {
                Ok(()) => Ok(()),
                Err(kind) => Err(SendError::new(env, kind)),
            },
        }
    }

    /// Queues a runtime signal: never subject to a bounded mailbox's capacity.
    pub(crate) fn send_system<M: Message>(&self, msg: M) -> Result<(), SendError<M>> {
        match &self.repr {
            Repr::Local(core) => {
                push_local(core, Envelope::system(msg)).map_err(|e| e.map(take_back::<M>))
            }
            Repr::Detached(_) => Err(SendError::new(msg, self.unreachable_kind())),
            Repr::Remote(r) => match r.send_msg(WireMsg::of(&msg)) {
                Ok(()) => Ok(()),
                Err(kind) => Err(SendError::new(msg, kind)),
            },
        }
    }

    fn unreachable_kind(&self) -> SendErrorKind {
        match &self.repr {
            Repr::Detached(d) if d.ended => SendErrorKind::Ended,
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
        let core = match &self.repr {
            Repr::Local(core) => core,
            Repr::Detached(_) => return Err(SendError::new(msg, self.unreachable_kind())),
            Repr::Remote(r) => {
                let wire = match WireMsg::of(&msg) {
                    Ok(wire) => wire,
                    Err(error) => {
                        tracing::warn!(%error, "message not encoded for another node");
                        return Err(SendError::new(msg, SendErrorKind::Unreachable));
                    }
                };
                return r
                    .deliver(wire, timeout)
                    .await
                    .map_err(|kind| SendError::new(msg, kind));
            }
        };
        let waits = core
            .state
            .lock()
            .bounded_ref()
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
    pub async fn call<M: Message, R: Message>(
        &self,
        request: M,
        timeout: Duration,
    ) -> Result<R, CallError> {
        let (clock, home) = match &self.repr {
            Repr::Local(core) => (core.rt.clock.clone(), Some(Arc::downgrade(&core.rt))),
            Repr::Detached(_) => (crate::time::current_clock(), None),
            Repr::Remote(r) => match r.via.upgrade() {
                Some(via) => (via.clock.clone(), Some(r.via.clone())),
                None => (crate::time::current_clock(), None),
            },
        };
        let slot = Arc::new(ReplySlot::<R>::new(home));
        let _caller_gone = CloseOnDrop(&*slot);
        let request = Request::new(request, ReplyTo::local(slot.clone()));
        if let Err(e) = self.send(request) {
            return Err(CallError::Send(e.kind()));
        }
        match clock.timeout_polled_now(timeout, slot.wait()).await {
            Err(_) => Err(CallError::Timeout),
            Ok(None) => Err(CallError::NoReply),
            Ok(Some(Reply::Value(reply))) => Ok(reply),
            Ok(Some(Reply::Envelope(env))) => env
                .downcast::<R>()
                .map_err(|env| CallError::WrongReply(crate::error::WrongReply::new(env))),
        }
    }
}

/// Closes a reply slot when the caller stops waiting.
struct CloseOnDrop<'a>(&'a dyn ReplySink);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
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

/// Waits for `listener` unless `timer` fires first; true if the listener won.
async fn race_timer<L: std::future::Future<Output = ()>>(
    timer: crate::time::Sleep,
    listener: L,
) -> bool {
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
