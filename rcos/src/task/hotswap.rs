//! Hot swapping: replacing a running task's function while it keeps its reference,
//! mailbox, monitors and names.
//!
//! The requester calls [`TaskRef::hot_swap`]. The request waits until the task is
//! swappable ([`TaskRef::hot_swappable`]) and at a safe point — a `receive`, `sleep` or
//! `suspend`, where the runtime holds the task — and then that wait returns
//! [`Interrupt::HotSwap`](crate::Interrupt::HotSwap) with a [`SwapRequest`]. The task
//! looks at it and accepts ([`SwapRequest::accept`], or propagating it with `?`, like
//! re-raising pycos's `HotSwapException`) or refuses (dropping it). On acceptance the
//! old future is dropped at that await and the new function starts from the top with
//! the same `TaskRef`; messages queued before the swap are received after it, in order.
//! State crosses with [`SwapRequest::accept_with`] and [`TaskRef::swap_state`].

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::core::{INTERRUPT, SWAP, TaskCore};
use super::taskref::Repr;
use super::{TaskFn, TaskRef, Value};
use crate::runtime::context;
use crate::util::{Mutex, Slot};

/// The new future of a swapped task, made from its reference.
pub(crate) type Factory =
    Box<dyn FnOnce(TaskRef) -> Pin<Box<dyn Future<Output = Value> + Send>> + Send>;

/// The factory of a `#[task]` fn called with `args`.
pub(crate) fn factory<T: TaskFn>(task_fn: T, args: T::Args) -> Factory {
    Box::new(move |task: TaskRef| {
        let fut = task_fn.call(task, args);
        Box::pin(async move { T::output_value(fut.await) })
            as Pin<Box<dyn Future<Output = Value> + Send>>
    })
}

/// What became of a hot-swap request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Swapped,
    Refused,
    Superseded,
    Ended,
}

/// A request as the runtime keeps it, shared by the requester and the task.
pub(crate) struct SwapShared {
    name: &'static str,
    factory: Mutex<Option<Factory>>,
    outcome: Slot<Outcome>,
}

impl SwapShared {
    /// Answers the requester (the first answer counts).
    pub(crate) fn end(&self, outcome: Outcome) {
        let _ = self.outcome.fill(outcome);
    }
}

/// An accepted swap, waiting for the task's wrapper to carry it out.
pub(crate) struct Accepted {
    pub(crate) name: &'static str,
    pub(crate) factory: Factory,
    pub(crate) request: Arc<SwapShared>,
}

impl TaskCore {
    /// The accepted swap, if the task accepted one since the last look.
    #[inline]
    pub(crate) fn take_accepted(&self) -> Option<Accepted> {
        if !self.signalled(SWAP) {
            return None;
        }
        self.take_accepted_swap()
    }

    /// [`take_accepted`](Self::take_accepted) once the flag is up (out of line: the
    /// flag is looked at on every poll of every task).
    #[cold]
    #[inline(never)]
    fn take_accepted_swap(&self) -> Option<Accepted> {
        self.set_signal(SWAP, false);
        self.state.lock().extra.as_mut()?.accepted.take()
    }

    /// What the task's output propagated out when it ended, in one look at its state:
    /// the hot-swap request it was handed (accepted then, pycos's re-raise: the swap to
    /// carry out), or else the message of the thrown error it was handed. A task that
    /// was never interrupted has neither, and costs one atomic load.
    pub(crate) fn propagated(self: &Arc<Self>) -> (Option<Accepted>, Option<String>) {
        if !self.signalled(super::core::DELIVERED) {
            return (None, None);
        }
        let (swap, thrown) = {
            let mut st = self.state.lock();
            let Some(extra) = st.extra.as_mut() else {
                return (None, None);
            };
            let swap = extra.delivered_swap.take().and_then(|w| w.upgrade());
            let thrown = extra
                .delivered_throw
                .as_ref()
                .filter(|(token, _)| token.strong_count() > 0)
                .map(|(_, message)| message.clone());
            (swap, thrown)
        };
        if let Some(shared) = swap {
            if accept(self, &shared, None) {
                if let Some(accepted) = self.take_accepted() {
                    return (Some(accepted), None);
                }
            }
        }
        (None, thrown)
    }
}

/// A hot-swap request as the task sees it, in [`Interrupt::HotSwap`](crate::Interrupt::HotSwap).
///
/// Accept it with [`accept`](Self::accept) (or by propagating the interrupt out of the
/// task's function with `?`); refuse it with [`refuse`](Self::refuse) or by dropping it.
pub struct SwapRequest {
    shared: Arc<SwapShared>,
    core: Arc<TaskCore>,
}

impl SwapRequest {
    pub(crate) fn new(shared: Arc<SwapShared>, core: Arc<TaskCore>) -> SwapRequest {
        SwapRequest { shared, core }
    }

    /// The name of the function the task would run after the swap.
    pub fn new_name(&self) -> &'static str {
        self.shared.name
    }

    /// Refuses the swap: the task carries on with its current code, and the requester
    /// gets [`HotSwapError::Refused`].
    pub fn refuse(self) {
        drop(self);
    }

    /// Accepts the swap. The task's current code ends at this await (its locals are
    /// dropped) and the new function starts from the top; this future never completes.
    pub async fn accept(self) {
        self.accept_inner(None).await;
    }

    /// Accepts the swap and hands `state` to the new function, which takes it with
    /// [`TaskRef::swap_state`]: the hook through which state crosses a swap.
    pub async fn accept_with<S: Send + 'static>(self, state: S) {
        self.accept_inner(Some(Box::new(state))).await;
    }

    async fn accept_inner(self, state: Option<Box<dyn Any + Send>>) {
        if !context::is_current_task(&self.core) {
            tracing::warn!("a hot-swap request can only be accepted by its own task; refused");
            return;
        }
        accept(&self.core, &self.shared, state);
        // The wrapper replaces this future before it is polled again.
        std::future::pending::<()>().await;
    }
}

/// Records `shared` as accepted by `core` (the task itself).
pub(crate) fn accept(
    core: &Arc<TaskCore>,
    shared: &Arc<SwapShared>,
    state: Option<Box<dyn Any + Send>>,
) -> bool {
    let Some(factory) = shared.factory.lock().take() else {
        return false;
    };
    {
        let mut st = core.state.lock();
        let extra = st.extra();
        extra.swap_state = state;
        extra.accepted = Some(Accepted {
            name: shared.name,
            factory,
            request: shared.clone(),
        });
    }
    core.set_signal(SWAP, true);
    true
}

impl Drop for SwapRequest {
    fn drop(&mut self) {
        // Not accepted (an accepted request has no factory left): refused.
        if self.shared.factory.lock().take().is_some() {
            self.shared.end(Outcome::Refused);
        }
    }
}

impl fmt::Debug for SwapRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SwapRequest")
            .field("new", &self.shared.name)
            .finish_non_exhaustive()
    }
}

/// Why a [`hot_swap`](TaskRef::hot_swap) did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HotSwapError {
    /// The task looked at the request and refused it.
    Refused,
    /// The task never became swappable before the timeout.
    NotSwappable,
    /// The task was swappable but did not reach a `receive`, `sleep` or `suspend`
    /// before the timeout.
    Timeout,
    /// A newer request replaced this one before the task took it.
    Superseded,
    /// The task ended before the swap.
    Ended,
    /// The task is in another program, which does not take swaps from here.
    Unreachable,
}

impl fmt::Display for HotSwapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HotSwapError::Refused => "the task refused the hot swap",
            HotSwapError::NotSwappable => "the task is not hot-swappable",
            HotSwapError::Timeout => "the task did not reach a safe point in time",
            HotSwapError::Superseded => "a newer hot-swap request replaced this one",
            HotSwapError::Ended => "the task has ended",
            HotSwapError::Unreachable => "the task cannot be reached for a hot swap",
        })
    }
}

impl std::error::Error for HotSwapError {}

impl TaskRef {
    /// Marks the calling task as accepting hot swaps (or not): pycos's
    /// `hot_swappable`. Only a task can mark itself.
    ///
    /// # Errors
    /// [`Interrupt::WrongTask`](crate::Interrupt::WrongTask) on another task's reference.
    pub fn hot_swappable(&self, swappable: bool) -> Result<(), crate::Interrupt> {
        let core = match &self.repr {
            Repr::Local(core) if context::is_current_task(core) => core,
            _ => return Err(crate::Interrupt::WrongTask),
        };
        let mut st = core.state.lock();
        let extra = st.extra();
        extra.swappable = swappable;
        let ready = extra.has_interrupt();
        drop(st);
        core.set_signal(INTERRUPT, ready);
        Ok(())
    }

    /// Asks the task to replace its function with `task_fn(args)` and waits up to
    /// `timeout` for the outcome; see the [module docs](crate::task::hotswap).
    ///
    /// ```
    /// use std::time::Duration;
    /// use rcos::{task, Interrupt, TaskRef};
    ///
    /// #[task]
    /// async fn v1(task: TaskRef) -> Result<&'static str, Interrupt> {
    ///     task.hot_swappable(true)?;
    ///     loop {
    ///         task.receive().await?; // a swap request propagates: accepted
    ///     }
    /// }
    ///
    /// #[task]
    /// async fn v2(task: TaskRef) -> &'static str {
    ///     let _ = task.receive().await;
    ///     "v2"
    /// }
    ///
    /// # rcos::Runtime::new().unwrap().block_on(async {
    /// let server = v1::spawn();
    /// server.hot_swap(v2, (), Duration::from_secs(5)).await.unwrap();
    /// server.send(()).unwrap();
    /// assert_eq!(server.finish().await.value().unwrap().take::<&str>(), Some("v2"));
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`HotSwapError`]: refused, never swappable or never at a safe point before the
    /// timeout, superseded by a newer request, ended, or unreachable.
    pub async fn hot_swap<T: TaskFn>(
        &self,
        task_fn: fn() -> T,
        args: T::Args,
        timeout: Duration,
    ) -> Result<(), HotSwapError> {
        if let Repr::Remote(_) = &self.repr {
            tracing::warn!(task = %self, "hot_swap of a task on another node needs hot_swap_remote and a #[task(remote)] fn");
            return Err(HotSwapError::Unreachable);
        }
        self.hot_swap_factory(T::NAME, factory(task_fn(), args), timeout)
            .await
    }

    /// [`hot_swap`](Self::hot_swap) to a `#[task(remote)]` function, which also works
    /// for a task on another node: the function is named there by its registered name
    /// and its arguments travel encoded.
    ///
    /// # Errors
    /// As `hot_swap`.
    pub async fn hot_swap_remote<T: crate::task::RemoteTaskFn>(
        &self,
        task_fn: fn() -> T,
        args: T::Args,
        timeout: Duration,
    ) -> Result<(), HotSwapError> {
        match &self.repr {
            Repr::Remote(remote) => {
                let args = crate::message::encode(&args).map_err(|_| HotSwapError::Unreachable)?;
                remote.hot_swap(T::NAME, args, timeout).await
            }
            _ => {
                self.hot_swap_factory(T::NAME, factory(task_fn(), args), timeout)
                    .await
            }
        }
    }

    /// A hot swap to the `#[task(remote)]` function registered as `function`, with
    /// encoded arguments (a request from another node).
    pub(crate) async fn hot_swap_named(
        &self,
        function: &str,
        args: &[u8],
        timeout: Duration,
    ) -> Result<(), HotSwapError> {
        let entry = crate::task::task_fn::remote_entry(function).map_err(|error| {
            tracing::warn!(%error, "hot swap to an unknown function refused");
            HotSwapError::Refused
        })?;
        let made = (entry.factory)(args).map_err(|error| {
            tracing::warn!(%error, "hot swap with bad arguments refused");
            HotSwapError::Refused
        })?;
        self.hot_swap_factory(entry.name, made, timeout).await
    }

    async fn hot_swap_factory(
        &self,
        name: &'static str,
        factory: Factory,
        timeout: Duration,
    ) -> Result<(), HotSwapError> {
        let core = match &self.repr {
            Repr::Local(core) => core,
            Repr::Detached(d) if d.ended => return Err(HotSwapError::Ended),
            Repr::Detached(_) | Repr::Remote(_) => return Err(HotSwapError::Unreachable),
        };
        let shared = Arc::new(SwapShared {
            name,
            factory: Mutex::new(Some(factory)),
            outcome: Slot::new(),
        });
        let (replaced, waker) = {
            let mut st = core.state.lock();
            if st.exit.is_some() {
                return Err(HotSwapError::Ended);
            }
            let extra = st.extra();
            let replaced = extra.swap.replace(shared.clone());
            let swappable = extra.swappable;
            if swappable {
                core.set_signal(INTERRUPT, true);
            }
            (replaced, swappable.then(|| st.take_any_waker()).flatten())
        };
        if let Some(replaced) = replaced {
            replaced.end(Outcome::Superseded);
        }
        if let Some(waker) = waker {
            waker.wake();
        }
        match core.rt.clock.timeout(timeout, shared.outcome.wait()).await {
            Ok(Some(Outcome::Swapped)) => Ok(()),
            Ok(Some(Outcome::Refused)) => Err(HotSwapError::Refused),
            Ok(Some(Outcome::Superseded)) => Err(HotSwapError::Superseded),
            Ok(Some(Outcome::Ended) | None) => Err(HotSwapError::Ended),
            Err(_) => {
                // Withdraw the request if the task has not taken it yet.
                let mut st = core.state.lock();
                let swappable = match st.extra.as_mut() {
                    Some(extra) => {
                        if extra.swap.as_ref().is_some_and(|s| Arc::ptr_eq(s, &shared)) {
                            extra.swap = None;
                        }
                        extra.swappable
                    }
                    None => false,
                };
                drop(st);
                shared.factory.lock().take();
                shared.end(Outcome::Ended);
                Err(if swappable {
                    HotSwapError::Timeout
                } else {
                    HotSwapError::NotSwappable
                })
            }
        }
    }

    /// The state the previous function handed over with
    /// [`SwapRequest::accept_with`], if it is a `S` (taken: a second call gets `None`).
    pub fn swap_state<S: Send + 'static>(&self) -> Option<S> {
        let core = self.core()?;
        let mut st = core.state.lock();
        let extra = st.extra.as_mut()?;
        let state = extra.swap_state.take()?;
        match state.downcast::<S>() {
            Ok(state) => Some(*state),
            Err(other) => {
                extra.swap_state = Some(other);
                None
            }
        }
    }
}
