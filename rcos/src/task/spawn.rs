//! Spawning: the future wrapper that runs a task's code, catches its panics, honours
//! `terminate`, and records how it ended.

use std::borrow::Cow;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_task::{ScheduleInfo, WithInfo};
use pin_project_lite::pin_project;

use super::core::{TaskCore, TaskLabel};
use super::{Exit, TaskFn, TaskRef, Value};
use crate::runtime::scheduler::{Runnable, ScheduleRef};
use crate::runtime::{Handle, Shared, context};
use crate::util::panic_message;

/// A swapped-in task function's future.
type Swapped = Pin<Box<dyn Future<Output = Value> + Send>>;

pin_project! {
    /// The code a task runs now: its own future, or after a hot swap the replacement.
    #[project = CodeProj]
    enum Code<F> {
        Original { #[pin] fut: F },
        Swapped { fut: Swapped },
        /// Dropped: the task ended, or is between its old and its new code.
        Gone,
    }
}

pin_project! {
    /// A task's future as the scheduler sees it: the task's code, with the bookkeeping
    /// around it. Kept small: it shares one allocation with the scheduler's header.
    struct TaskFuture<F> {
        #[pin]
        code: Code<F>,
        core: Option<Arc<TaskCore>>,
        // Only when `rcos=trace` is enabled: a disabled span still takes 40 bytes.
        span: Option<Box<tracing::Span>>,
        done: bool,
        // The task's waker is kept in its core (for `terminate`) from its first wait on;
        // a task that ends in its first poll never needs it.
        waker_kept: bool,
    }

    impl<F> PinnedDrop for TaskFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if *this.done {
                return;
            }
            // Dropped before it finished: terminated, by `terminate` or with its runtime.
            let Some(core) = this.core.take() else { return };
            let _enter = this.span.as_ref().map(|s| s.enter());
            let prev = context::set_current_task(Some(core));
            drop_quietly(this.code);
            if let Some(core) = context::set_current_task(prev) {
                core.finalize(Exit::Terminated);
            }
        }
    }
}

pin_project! {
    /// A task's own future with its output turned into a [`Value`]. (An `async` block
    /// doing the same would hold the future twice: once captured, once awaited.)
    struct OutputValue<Fut, G> {
        #[pin]
        fut: Fut,
        to_value: G,
    }
}

impl<Fut: Future, G: Fn(Fut::Output) -> Value> Future for OutputValue<Fut, G> {
    type Output = Value;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Value> {
        let this = self.project();
        match this.fut.poll(cx) {
            Poll::Ready(out) => Poll::Ready((this.to_value)(out)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Drops the task's code, catching a panic from its locals' `Drop`.
fn drop_quietly<F>(mut code: Pin<&mut Code<F>>) {
    if matches!(code.as_ref().get_ref(), Code::Gone) {
        return;
    }
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| code.set(Code::Gone))) {
        tracing::error!(panic = %panic_message(&*panic), "task panicked while being dropped");
    }
}

impl<F: Future<Output = Value>> Future for TaskFuture<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(());
        }
        let _enter = this.span.as_ref().map(|s| s.enter());
        let terminate = this.core.as_ref().is_some_and(|c| c.terminate_requested());
        let prev = context::set_current_task(this.core.take());
        let exit = if terminate {
            Exit::Terminated
        } else {
            loop {
                let code = this.code.as_mut();
                let polled = catch_unwind(AssertUnwindSafe(|| match code.project() {
                    CodeProj::Original { fut } => fut.poll(cx),
                    CodeProj::Swapped { fut } => fut.as_mut().poll(cx),
                    CodeProj::Gone => Poll::Pending,
                }));
                match polled {
                    Err(panic) => break Exit::Panicked(panic_message(&*panic)),
                    Ok(Poll::Pending) => {
                        let accepted =
                            context::with_current_task(|c| c.and_then(|c| c.take_accepted()));
                        match accepted {
                            Some(accepted) => {
                                if let Err(exit) = swap_in(this.code.as_mut(), accepted) {
                                    break exit;
                                }
                            }
                            None => {
                                *this.core = context::set_current_task(prev);
                                if !*this.waker_kept {
                                    *this.waker_kept = true;
                                    if let Some(core) = this.core.as_ref() {
                                        core.keep_self_waker(cx.waker());
                                    }
                                }
                                return Poll::Pending;
                            }
                        }
                    }
                    Ok(Poll::Ready(value)) => {
                        // A hot-swap request the task propagated out is accepted (pycos's
                        // re-raise); a thrown error it propagated ends it as thrown.
                        let (accepted, thrown) = context::with_current_task(|c| {
                            c.map_or((None, None), |c| c.propagated())
                        });
                        if let Some(accepted) = accepted {
                            drop_value_quietly(value);
                            if let Err(exit) = swap_in(this.code.as_mut(), accepted) {
                                break exit;
                            }
                            continue;
                        }
                        match thrown {
                            Some(msg) => {
                                drop_value_quietly(value);
                                break Exit::Thrown(msg);
                            }
                            None => break Exit::Returned(value),
                        }
                    }
                }
            }
        };
        // Drop what is left of the task's code before anyone learns that it ended.
        drop_quietly(this.code);
        *this.done = true;
        if let Some(core) = context::set_current_task(prev) {
            core.finalize(exit);
        }
        Poll::Ready(())
    }
}

fn drop_value_quietly(value: Value) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| drop(value))) {
        tracing::error!(panic = %panic_message(&*panic), "a task's output panicked while being dropped");
    }
}

/// Carries out an accepted hot swap: drops the task's current code, then makes the
/// new function's future. Runs with the task as the current one. Fails with the exit
/// to end with if the old code's drop or the new function's start panics.
fn swap_in<F>(mut code: Pin<&mut Code<F>>, accepted: super::hotswap::Accepted) -> Result<(), Exit> {
    drop_quietly(code.as_mut());
    let Some(task) = TaskRef::current() else {
        return Err(Exit::Terminated);
    };
    if let Some(core) = task.core() {
        core.state.lock().name = Cow::Borrowed(accepted.name);
    }
    tracing::debug!(task = %task, "hot swapped");
    let super::hotswap::Accepted {
        factory, request, ..
    } = accepted;
    match catch_unwind(AssertUnwindSafe(|| factory(task))) {
        Ok(fut) => {
            code.set(Code::Swapped { fut });
            request.end(super::hotswap::Outcome::Swapped);
            Ok(())
        }
        Err(panic) => {
            request.end(super::hotswap::Outcome::Swapped);
            Err(Exit::Panicked(panic_message(&*panic)))
        }
    }
}

/// How a bounded mailbox treats a message that does not fit.
///
/// Runtime signals (monitor statuses, hot-swap requests, throws) are never subject to
/// it: they always get in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Overflow {
    /// `send` fails with [`SendErrorKind::Full`](crate::SendErrorKind::Full) (the
    /// message handed back); `deliver` waits for room until its timeout.
    Wait,
    /// `send` and `deliver` both fail at once with the message handed back.
    Fail,
    /// The new message is dropped (and counted; see
    /// [`TaskRef::dropped_messages`](crate::TaskRef::dropped_messages)); the sender is
    /// not told.
    DropNewest,
}

/// Configures a task before spawning it: name, daemon flag, mailbox bound, runtime.
///
/// ```
/// use rcos::task::{Builder, Overflow};
///
/// # let rt = rcos::Runtime::new().unwrap();
/// # let _guard = rt.enter();
/// let worker = Builder::new()
///     .name("worker")
///     .daemon(true)
///     .mailbox(1_000, Overflow::Fail)
///     .spawn(|task| async move {
///         while let Ok(_job) = task.receive().await {}
///     });
/// assert_eq!(worker.name(), "worker");
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until it spawns"]
pub struct Builder {
    name: Option<Cow<'static, str>>,
    daemon: bool,
    mailbox: Option<(usize, Overflow)>,
}

impl Builder {
    /// A builder for a non-daemon task with an unbounded mailbox.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The task's name (shown as `name/id@runtime`; not registered, see
    /// [`TaskRef::register`]).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// A daemon task does not hold [`join`](crate::Handle::join) open.
    pub fn daemon(mut self, daemon: bool) -> Builder {
        self.daemon = daemon;
        self
    }

    /// Bounds the mailbox to `capacity` messages (at least 1), with the given policy for
    /// a message that does not fit. Mailboxes are unbounded by default, as in pycos.
    pub fn mailbox(mut self, capacity: usize, overflow: Overflow) -> Builder {
        self.mailbox = Some((capacity.max(1), overflow));
        self
    }

    /// Spawns on the caller's runtime (or the default runtime); see [`crate::spawn`].
    pub fn spawn<F, Fut>(self, f: F) -> TaskRef
    where
        F: FnOnce(TaskRef) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        with_current_or_default(|shared| self.spawn_closure(shared, f))
    }

    /// Spawns on the given runtime.
    pub fn spawn_on<F, Fut>(self, handle: &Handle, f: F) -> TaskRef
    where
        F: FnOnce(TaskRef) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        self.spawn_closure(&handle.shared, f)
    }

    fn spawn_closure<F, Fut>(self, shared: &Arc<Shared>, f: F) -> TaskRef
    where
        F: FnOnce(TaskRef) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        self.spawn_value(shared, "task", |task| OutputValue {
            fut: f(task),
            to_value: super::exit::output_value::<Fut::Output>,
        })
    }

    /// Spawns a `#[task]` function with its arguments on the caller's runtime (or the
    /// default runtime). The function's own options (name, daemon, mailbox) apply unless
    /// this builder sets them.
    pub fn spawn_fn<T: TaskFn>(self, task_fn: fn() -> T, args: T::Args) -> TaskRef {
        with_current_or_default(|shared| self.spawn_task_fn(shared, task_fn(), args))
    }

    /// Spawns a `#[task]` function with its arguments on the given runtime.
    pub fn spawn_fn_on<T: TaskFn>(
        self,
        handle: &Handle,
        task_fn: fn() -> T,
        args: T::Args,
    ) -> TaskRef {
        self.spawn_task_fn(&handle.shared, task_fn(), args)
    }

    /// Spawns a task function given as its value (not its constructor).
    pub(crate) fn spawn_task_fn_on<T: TaskFn>(
        self,
        handle: &Handle,
        task_fn: T,
        args: T::Args,
    ) -> TaskRef {
        self.spawn_task_fn(&handle.shared, task_fn, args)
    }

    fn spawn_task_fn<T: TaskFn>(self, shared: &Arc<Shared>, task_fn: T, args: T::Args) -> TaskRef {
        let defaults = T::configure(Builder::new());
        let merged = Builder {
            name: self.name.or(defaults.name),
            daemon: self.daemon || defaults.daemon,
            mailbox: self.mailbox.or(defaults.mailbox),
        };
        merged.spawn_value(shared, T::NAME, move |task| OutputValue {
            fut: task_fn.call(task, args),
            to_value: T::output_value,
        })
    }

    fn spawn_value<F, Fut>(self, shared: &Arc<Shared>, default_name: &'static str, f: F) -> TaskRef
    where
        F: FnOnce(TaskRef) -> Fut,
        Fut: Future<Output = Value> + Send + 'static,
    {
        let name = self.name.unwrap_or(Cow::Borrowed(default_name));
        let daemon = self.daemon;
        let mailbox = self.mailbox;
        let home = shared.sched.home_here(shared);
        let core = shared.tasks.insert_new(daemon, |id, slot| {
            Arc::new(TaskCore::new(
                id,
                slot,
                home,
                shared.clone(),
                name,
                daemon,
                mailbox,
            ))
        });
        let id = core.id;
        let task = TaskRef::from_core(core.clone());
        let inner = f(task.clone());
        let span = tracing::trace_span!("task", id, name = tracing::field::Empty);
        let span = (!span.is_disabled()).then(|| {
            span.record("name", tracing::field::display(task.name()));
            Box::new(span)
        });
        // The schedule function holds the task's own core rather than the runtime, so
        // that spawning and ending tasks does not bounce the runtime's reference count
        // between threads. (The cycle through the kept waker is cut when the task ends.)
        let schedule_core = ScheduleRef::new(core.clone());
        let future = TaskFuture {
            code: Code::Original { fut: inner },
            core: Some(core),
            span,
            done: false,
            waker_kept: false,
        };
        let schedule = move |runnable: Runnable, info: ScheduleInfo| {
            let rt = &schedule_core.core().rt;
            rt.sched.schedule(rt, runnable, info);
        };
        // The id rides in the task's header for the watchdog (in the same size class:
        // the allocation stays 128 bytes).
        let (runnable, handle) = async_task::Builder::new()
            .metadata(id)
            .spawn(move |_| future, WithInfo(schedule));
        handle.detach();
        if shared.is_shut_down() {
            tracing::warn!(task = %TaskLabel(&task.name(), id), "spawn on a terminated runtime: the task ends at once");
            drop(runnable);
        } else {
            shared.sched.schedule_new(shared, runnable);
        }
        task
    }
}

/// The runtime the caller runs on, or the default one.
pub(crate) fn current_or_default() -> Handle {
    Handle::current().unwrap_or_else(crate::runtime::default_handle)
}

/// Calls `f` with the runtime the caller runs on, or with the default one.
///
/// From a task this borrows the runtime through the task's own core, so spawning does
/// not bounce the runtime's reference count between worker threads.
fn with_current_or_default<R>(f: impl FnOnce(&Arc<Shared>) -> R) -> R {
    match context::with_current_task(|core| core.cloned()) {
        Some(core) => f(&core.rt),
        None => f(&current_or_default().shared),
    }
}

/// Spawns a task on the caller's runtime, or on the default runtime (started on first
/// use, like pycos's `Pycos()`) when called outside any runtime.
///
/// `f` is called at once with the new task's [`TaskRef`] and returns the future the task
/// runs. The future must be `Send` (tasks move between worker threads); `f` itself need
/// not be.
///
/// ```
/// let task = rcos::spawn(|task| async move {
///     let msg = task.receive().await?;
///     Ok::<_, rcos::Interrupt>(msg.downcast::<u32>().unwrap_or(0) * 2)
/// });
/// task.send(21u32).unwrap();
/// let exit = task.value();
/// assert_eq!(exit.value().unwrap().take::<Result<u32, rcos::Interrupt>>().unwrap().unwrap(), 42);
/// # rcos::terminate();
/// ```
pub fn spawn<F, Fut>(f: F) -> TaskRef
where
    F: FnOnce(TaskRef) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    Builder::new().spawn(f)
}

/// Lets the other ready tasks run before the calling task continues.
///
/// Tasks are never preempted: a task that computes for a long time without awaiting
/// holds its worker thread. Awaiting `yield_now()` in such a loop gives the others a
/// turn.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}
