//! Supervisors: tasks that start other tasks, watch them with monitors, and restart
//! them when they end, Erlang/OTP style.
//!
//! A supervisor is built from [`ChildSpec`]s, each naming what to start (a `#[task]` fn
//! and how to make its arguments, or another supervisor) and when to restart it
//! ([`Restart`]). When a child ends and should be restarted, the [`Strategy`] decides
//! which children restart with it. If children keep failing — more than `max`
//! restarts within `period` (the restart intensity) — the supervisor stops the
//! remaining children and ends itself with [`Exit::Thrown`], which its own monitors (a
//! parent supervisor, say) see as a failure.
//!
//! ```
//! use std::time::Duration;
//! use rcos::supervisor::{ChildSpec, Restart, Strategy, Supervisor};
//! use rcos::{task, TaskRef};
//!
//! #[task]
//! async fn worker(task: TaskRef, id: u32) {
//!     while let Ok(msg) = task.receive().await {
//!         if msg.is::<String>() {
//!             panic!("worker {id} got a poison message");
//!         }
//!     }
//! }
//!
//! # rcos::Runtime::new().unwrap().block_on(async {
//! let sup = Supervisor::builder()
//!     .strategy(Strategy::OneForOne)
//!     .intensity(3, Duration::from_secs(5))
//!     .child(ChildSpec::task("w1", worker, || (1,)).register("w1"))
//!     .child(ChildSpec::task("w2", worker, || (2,)).restart(Restart::Transient))
//!     .spawn();
//! let w1 = TaskRef::locate("w1", Duration::from_secs(1)).await.unwrap();
//! w1.send("poison".to_string()).unwrap();
//! // The supervisor restarts it under the same name.
//! let again = loop {
//!     let found = TaskRef::locate("w1", Duration::from_secs(1)).await.unwrap();
//!     if found != w1 {
//!         break found;
//!     }
//!     rcos::task::yield_now().await;
//! };
//! assert!(again.is_alive());
//! rcos::supervisor::shutdown(&sup, Duration::from_secs(5)).await.unwrap();
//! # });
//! ```

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::task::{Builder, MonitorStatus};
use crate::{Exit, Interrupt, Message, Request, TaskFn, TaskRef};

/// Which children restart when one of them must be restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// Only the child that ended.
    #[default]
    OneForOne,
    /// Every child: the others are stopped (in reverse start order) and all start again
    /// in order.
    OneForAll,
    /// The child that ended and the children started after it.
    RestForOne,
}

/// When a child that ended is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Restart {
    /// Always.
    #[default]
    Permanent,
    /// Only if it failed: panicked, was terminated by someone else, or ended by a
    /// thrown error (see [`Exit::is_failure`]). A child that returns is done.
    Transient,
    /// Never.
    Temporary,
}

/// How to start one child of a supervisor, and when to restart it.
#[derive(Clone)]
pub struct ChildSpec {
    id: Cow<'static, str>,
    start: Arc<dyn Fn() -> TaskRef + Send + Sync>,
    restart: Restart,
    register: Option<Cow<'static, str>>,
    shutdown: Duration,
}

impl ChildSpec {
    /// A child that runs the `#[task]` fn `task_fn` with the arguments `args` makes,
    /// afresh for every (re)start.
    pub fn task<T, A>(id: impl Into<Cow<'static, str>>, task_fn: fn() -> T, args: A) -> ChildSpec
    where
        T: TaskFn,
        A: Fn() -> T::Args + Send + Sync + 'static,
    {
        ChildSpec::from_fn(id, move || Builder::new().spawn_fn(task_fn, args()))
    }

    /// A child started by `start`, which must spawn a task (on the caller's runtime:
    /// `start` runs inside the supervisor) and return its reference.
    pub fn from_fn<F>(id: impl Into<Cow<'static, str>>, start: F) -> ChildSpec
    where
        F: Fn() -> TaskRef + Send + Sync + 'static,
    {
        ChildSpec {
            id: id.into(),
            start: Arc::new(start),
            restart: Restart::Permanent,
            register: None,
            shutdown: Duration::from_secs(5),
        }
    }

    /// A child that is itself a supervisor: supervision trees.
    pub fn supervisor(
        id: impl Into<Cow<'static, str>>,
        supervisor: SupervisorBuilder,
    ) -> ChildSpec {
        ChildSpec::from_fn(id, move || supervisor.clone().spawn())
    }

    /// When to restart the child (default [`Restart::Permanent`]).
    pub fn restart(mut self, restart: Restart) -> ChildSpec {
        self.restart = restart;
        self
    }

    /// Registers each incarnation of the child under `name`, so that
    /// [`TaskRef::locate`] and name-based sends reach the current one.
    pub fn register(mut self, name: impl Into<Cow<'static, str>>) -> ChildSpec {
        self.register = Some(name.into());
        self
    }

    /// How long the supervisor waits for the child to end when it stops it
    /// (default 5 s); it is terminated, so it ends at its next await.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> ChildSpec {
        self.shutdown = timeout;
        self
    }

    /// The child's id within its supervisor.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("restart", &self.restart)
            .field("register", &self.register)
            .finish_non_exhaustive()
    }
}

/// The entry point: `Supervisor::builder()`.
#[derive(Debug)]
pub struct Supervisor(());

impl Supervisor {
    /// Starts describing a supervisor.
    pub fn builder() -> SupervisorBuilder {
        SupervisorBuilder {
            name: Cow::Borrowed("supervisor"),
            strategy: Strategy::OneForOne,
            max_restarts: 3,
            period: Duration::from_secs(5),
            children: Vec::new(),
        }
    }
}

/// Describes a supervisor: strategy, restart intensity and children.
#[derive(Clone, Debug)]
#[must_use = "a supervisor builder does nothing until it spawns"]
pub struct SupervisorBuilder {
    name: Cow<'static, str>,
    strategy: Strategy,
    max_restarts: u32,
    period: Duration,
    children: Vec<ChildSpec>,
}

impl SupervisorBuilder {
    /// The supervisor task's name (default `"supervisor"`).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Which children restart together (default [`Strategy::OneForOne`]).
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// The restart intensity: more than `max_restarts` restarts within `period` and the
    /// supervisor gives up (default 3 in 5 seconds).
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.max_restarts = max_restarts;
        self.period = period;
        self
    }

    /// Adds a child; children start in the order they are added and stop in reverse.
    pub fn child(mut self, child: ChildSpec) -> Self {
        self.children.push(child);
        self
    }

    /// Spawns the supervisor on the caller's runtime (or the default one); it starts
    /// its children at once.
    pub fn spawn(self) -> TaskRef {
        let name = self.name.clone();
        Builder::new().name(name).spawn(move |task| run(task, self))
    }

    /// Spawns the supervisor on the given runtime.
    pub fn spawn_on(self, handle: &crate::Handle) -> TaskRef {
        let name = self.name.clone();
        Builder::new()
            .name(name)
            .spawn_on(handle, move |task| run(task, self))
    }
}

/// Asks a supervisor to stop its children in reverse start order and end, and waits
/// up to `timeout` for it to do so.
///
/// # Errors
/// [`crate::CallError`] if the supervisor has ended or does not answer in time.
pub async fn shutdown(supervisor: &TaskRef, timeout: Duration) -> Result<(), crate::CallError> {
    supervisor.call::<Shutdown, ()>(Shutdown, timeout).await
}

/// The request that makes a supervisor shut down (see [`shutdown`]).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Shutdown;

impl Message for Shutdown {
    fn wire_name() -> Cow<'static, str> {
        Cow::Borrowed("rcos::supervisor::Shutdown")
    }
}

/// Why a supervisor gave up; the message of its [`Exit::Thrown`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SupervisorError {
    /// Children were restarted more than `max` times within `period`.
    IntensityExceeded {
        /// The child whose end would have been one restart too many.
        child: String,
        /// The allowed restarts.
        max: u32,
        /// Within this time.
        period: Duration,
    },
}

impl fmt::Display for SupervisorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SupervisorError::IntensityExceeded { child, max, period } => write!(
                f,
                "restart intensity exceeded: more than {max} restarts in {period:?} (last: child `{child}`)"
            ),
        }
    }
}

impl std::error::Error for SupervisorError {}

/// One child as the running supervisor knows it.
struct Child {
    spec: ChildSpec,
    task: Option<TaskRef>,
}

/// Terminates the children if the supervisor itself is dropped (terminated, or its
/// runtime stopped), latest-started first.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in self.0.iter().rev() {
            if let Some(task) = &child.task {
                task.terminate();
            }
        }
    }
}

async fn run(task: TaskRef, spec: SupervisorBuilder) -> Result<(), Interrupt> {
    let SupervisorBuilder {
        strategy,
        max_restarts,
        period,
        children,
        ..
    } = spec;
    let mut children = Children(
        children
            .into_iter()
            .map(|spec| Child { spec, task: None })
            .collect(),
    );
    for i in 0..children.0.len() {
        start(&task, &mut children.0[i]);
    }
    let mut restarts: VecDeque<Instant> = VecDeque::new();
    loop {
        let env = match task.receive().await {
            Ok(env) => env,
            Err(Interrupt::HotSwap(req)) => {
                req.refuse();
                continue;
            }
            Err(other) => {
                stop_all(&task, &mut children.0).await;
                return Err(other);
            }
        };
        let env = match env.downcast::<Request<Shutdown>>() {
            Ok(req) => {
                stop_all(&task, &mut children.0).await;
                let _ = req.reply(());
                return Ok(());
            }
            Err(env) => env,
        };
        let Ok(status) = env.downcast::<MonitorStatus>() else {
            tracing::debug!(supervisor = %task, "ignored a message that is not a child's status");
            continue;
        };
        let Some(i) = children
            .0
            .iter()
            .position(|c| c.task.as_ref() == Some(&status.task))
        else {
            continue; // a child stopped on purpose, or one already replaced
        };
        children.0[i].task = None;
        let child = &children.0[i].spec;
        let restart = match child.restart {
            Restart::Permanent => true,
            Restart::Transient => status.exit.is_failure(),
            Restart::Temporary => false,
        };
        log_exit(&task, child, &status.exit, restart);
        if !restart {
            continue;
        }
        let now = crate::time::now();
        restarts.push_back(now);
        while restarts
            .front()
            .is_some_and(|t| now.duration_since(*t) > period)
        {
            restarts.pop_front();
        }
        if restarts.len() > max_restarts as usize {
            let error = SupervisorError::IntensityExceeded {
                child: child.id.to_string(),
                max: max_restarts,
                period,
            };
            tracing::error!(supervisor = %task, %error, "supervisor gives up");
            stop_all(&task, &mut children.0).await;
            // End as a failure its own monitors (a parent supervisor) can see: throw
            // the error into this task and let it propagate.
            task.throw(error);
            loop {
                task.receive().await?;
            }
        }
        let range = match strategy {
            Strategy::OneForOne => i..i + 1,
            Strategy::OneForAll => 0..children.0.len(),
            Strategy::RestForOne => i..children.0.len(),
        };
        for j in range.clone().rev() {
            if j != i {
                stop(&task, &mut children.0[j]).await;
            }
        }
        for j in range {
            start(&task, &mut children.0[j]);
        }
    }
}

fn log_exit(supervisor: &TaskRef, child: &ChildSpec, exit: &Exit, restart: bool) {
    if exit.is_failure() {
        tracing::warn!(supervisor = %supervisor, child = %child.id, %exit, restart, "child ended");
    } else {
        tracing::debug!(supervisor = %supervisor, child = %child.id, %exit, restart, "child ended");
    }
}

/// Starts (or restarts) a child: spawn, monitor, register its name.
fn start(supervisor: &TaskRef, child: &mut Child) {
    let task = (child.spec.start)();
    if let Err(error) = supervisor.monitor(&task) {
        tracing::error!(supervisor = %supervisor, child = %child.spec.id, %error, "cannot monitor a child");
    }
    if let Some(name) = &child.spec.register {
        if let Err(error) = task.register(name) {
            tracing::error!(supervisor = %supervisor, child = %child.spec.id, %error, "cannot register a child's name");
        }
    }
    tracing::debug!(supervisor = %supervisor, child = %child.spec.id, task = %task, "child started");
    child.task = Some(task);
}

/// Stops a child: terminates it and waits (up to its shutdown timeout) for its status.
async fn stop(supervisor: &TaskRef, child: &mut Child) {
    let Some(task) = child.task.take() else {
        return;
    };
    task.terminate();
    let waited = crate::time::timeout(
        child.spec.shutdown,
        supervisor.receive_where(|s: &MonitorStatus| s.task == task),
    )
    .await;
    if waited.is_err() {
        tracing::warn!(supervisor = %supervisor, child = %child.spec.id, "child did not stop in time");
    }
    supervisor.unmonitor(&task);
}

/// Stops every child, latest-started first.
async fn stop_all(supervisor: &TaskRef, children: &mut [Child]) {
    for child in children.iter_mut().rev() {
        stop(supervisor, child).await;
    }
}
