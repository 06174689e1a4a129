//! Remote services (pycos's RPS): a `#[task(remote)]` fn published by name on a node,
//! which callers on other nodes (or the same one) locate and run with arguments.
//!
//! Each call starts a new task on the publishing node and gives the caller its
//! [`TaskRef`]: the caller can send it messages, wait for its result with
//! [`finish`](TaskRef::finish), and — with [`RpsClient::monitor_with`] — have one of its
//! tasks told how every task it started through the service ended, by an ordinary
//! [`MonitorStatus`](crate::task::MonitorStatus). The monitor is set up as soon as the
//! service answers; a task that has already ended by then is reported with its real
//! exit (a node keeps the exits of its last ended tasks for such questions), so no
//! ending is missed.
//!
//! ```
//! use std::time::Duration;
//! use rcos::rps::{Rps, RpsClient};
//! use rcos::{Runtime, TaskRef, task};
//!
//! /// The service: upper-cases a text.
//! #[task(remote)]
//! async fn shout(_task: TaskRef, text: String) -> String {
//!     text.to_uppercase()
//! }
//!
//! let rt = Runtime::builder().workers(1).build().unwrap();
//! let reply = rt.block_on(async {
//!     let _service = Rps::publish(shout).unwrap();
//!     // Usually on another node: `RpsClient::locate` asks every peer.
//!     let client = RpsClient::locate(shout, Duration::from_secs(5)).await.unwrap();
//!     let job = client.run(("hello".to_string(),)).await.unwrap();
//!     job.finish().await.get::<String>()
//! });
//! assert_eq!(reply.as_deref(), Some("HELLO"));
//! ```
//!
//! Differences from pycos: a service is a compiled `#[task(remote)]` fn, so its
//! arguments are typed and checked on both sides (bad arguments are refused with a
//! reason, and nothing runs); the service's name is the function's remote name.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{CallError, LocateError, RegisterError};
use crate::net::Location;
use crate::task::RemoteTaskFn;
use crate::{Handle, Message, Request, TaskRef};

/// The registered name of the task that serves service `name`.
fn service_task_name(name: &str) -> String {
    format!("rcos-rps/{name}")
}

/// A request to a service task: run the function with these encoded arguments.
#[derive(Debug, Serialize, Deserialize)]
struct RunRequest {
    #[serde(with = "serde_bytes")]
    args: Vec<u8>,
}

impl Message for RunRequest {
    fn wire_name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("rcos::rps::Run")
    }
}

/// The service's answer: the new task, or why nothing was started.
#[derive(Debug, Serialize, Deserialize)]
struct RunReply(Result<TaskRef, String>);

impl Message for RunReply {
    fn wire_name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("rcos::rps::RunReply")
    }
}

/// Why a service could not be published, found or run.
#[derive(Debug)]
#[non_exhaustive]
pub enum RpsError {
    /// A service of this name is already published on this runtime.
    AlreadyPublished(String),
    /// No node (here or among the peers) published the service within the timeout.
    NotFound(String),
    /// The service could not be asked: the request was not sent (its node cannot be
    /// reached).
    Unreachable(String),
    /// The service refused to start a task, for this reason (e.g. the arguments did
    /// not decode as the function's argument types).
    Refused(String),
    /// The service did not answer within the timeout — it may have been closed since
    /// it was found, or its node may have gone (a node does not answer for tasks that
    /// no longer exist).
    Timeout,
}

impl fmt::Display for RpsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RpsError::AlreadyPublished(name) => write!(f, "service {name:?} is already published"),
            RpsError::NotFound(name) => write!(f, "service {name:?} not found"),
            RpsError::Unreachable(why) => write!(f, "service unreachable: {why}"),
            RpsError::Refused(why) => write!(f, "service refused: {why}"),
            RpsError::Timeout => f.write_str("the service did not answer in time"),
        }
    }
}

impl std::error::Error for RpsError {}

/// A published service (the serving side). Dropping it does not close the service;
/// [`close`](Rps::close) does.
#[derive(Clone, Debug)]
pub struct Rps {
    name: String,
    server: TaskRef,
}

impl Rps {
    /// Publishes `task_fn` on the caller's runtime (the default runtime outside a
    /// task) under its remote name.
    ///
    /// # Errors
    /// [`RpsError::AlreadyPublished`] when a service of that name exists here.
    pub fn publish<T: RemoteTaskFn>(task_fn: fn() -> T) -> Result<Rps, RpsError> {
        Rps::publish_on(&crate::task::current_or_default(), task_fn)
    }

    /// Publishes `task_fn` on the runtime of `handle`.
    ///
    /// # Errors
    /// [`RpsError::AlreadyPublished`] when a service of that name exists there.
    pub fn publish_on<T: RemoteTaskFn>(
        handle: &Handle,
        task_fn: fn() -> T,
    ) -> Result<Rps, RpsError> {
        let _ = task_fn;
        let name = T::NAME.to_string();
        let served = name.clone();
        let server = crate::task::Builder::new()
            .name(service_task_name(&name))
            .daemon(true)
            .spawn_on(handle, move |task| serve(task, served));
        match server.register(&service_task_name(&name)) {
            Ok(()) => {}
            Err(RegisterError::Taken { .. }) => {
                server.terminate();
                return Err(RpsError::AlreadyPublished(name));
            }
            Err(error) => {
                server.terminate();
                return Err(RpsError::Unreachable(error.to_string()));
            }
        }
        tracing::debug!(service = %name, "service published");
        Ok(Rps { name, server })
    }

    /// The service's name (the function's remote name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stops serving: new calls find nothing; tasks already started go on.
    pub fn close(&self) {
        self.server.terminate();
    }
}

/// The service task: starts one task per request.
async fn serve(task: TaskRef, name: String) {
    let handle = task
        .runtime()
        .unwrap_or_else(crate::task::current_or_default);
    while let Ok(request) = task.receive_type::<Request<RunRequest>>().await {
        let (RunRequest { args }, reply_to) = request.into_parts();
        let answer = match crate::task::spawn_by_name(&handle, &name, &args) {
            Ok(started) => Ok(started),
            Err(error) => {
                tracing::warn!(service = %name, %error, "service call refused");
                Err(error.to_string())
            }
        };
        if reply_to.send(RunReply(answer)).is_err() {
            tracing::debug!(service = %name, "the caller stopped waiting for its task");
        }
    }
}

/// The calling side of a service for the `#[task(remote)]` fn `T`: runs it where it is
/// published.
pub struct RpsClient<T> {
    server: TaskRef,
    monitor: Option<TaskRef>,
    timeout: Duration,
    _fn: PhantomData<fn() -> T>,
}

impl<T> Clone for RpsClient<T> {
    fn clone(&self) -> Self {
        RpsClient {
            server: self.server.clone(),
            monitor: self.monitor.clone(),
            timeout: self.timeout,
            _fn: PhantomData,
        }
    }
}

impl<T> fmt::Debug for RpsClient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpsClient")
            .field("server", &self.server)
            .field("monitor", &self.monitor)
            .finish()
    }
}

impl<T: RemoteTaskFn> RpsClient<T> {
    /// Finds the service for `task_fn` here or on any peer, waiting up to `timeout`
    /// for it to be published.
    ///
    /// # Errors
    /// [`RpsError::NotFound`] when no node publishes it within the timeout.
    pub async fn locate(task_fn: fn() -> T, timeout: Duration) -> Result<Self, RpsError> {
        let _ = task_fn;
        let found = TaskRef::locate(&service_task_name(T::NAME), timeout).await;
        Self::found(found, timeout)
    }

    /// Finds the service for `task_fn` on the node at `location`.
    ///
    /// # Errors
    /// [`RpsError::NotFound`] when that node does not publish it within the timeout.
    pub async fn locate_at(
        location: Location,
        task_fn: fn() -> T,
        timeout: Duration,
    ) -> Result<Self, RpsError> {
        let _ = task_fn;
        let found = TaskRef::locate_at(location, &service_task_name(T::NAME), timeout).await;
        Self::found(found, timeout)
    }

    fn found(found: Result<TaskRef, LocateError>, timeout: Duration) -> Result<Self, RpsError> {
        match found {
            Ok(server) => Ok(RpsClient {
                server,
                monitor: None,
                timeout,
                _fn: PhantomData,
            }),
            Err(_) => Err(RpsError::NotFound(T::NAME.to_string())),
        }
    }

    /// The same service, with `monitor` made a monitor of every task started through it
    /// from now on: it receives a `MonitorStatus` for each, whichever way it ends
    /// (including [`Exit::NodeLost`](crate::Exit::NodeLost)).
    #[must_use]
    pub fn monitor_with(mut self, monitor: &TaskRef) -> Self {
        self.monitor = Some(monitor.clone());
        self
    }

    /// How long [`run`](Self::run) waits for the service to answer (by default, the
    /// timeout given to `locate`).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Where the service runs (`None` on this runtime).
    pub fn location(&self) -> Option<Location> {
        self.server.location()
    }

    /// Starts the function with `args` where the service is published and returns the
    /// new task (pycos: `rtask = yield rps(args)`).
    ///
    /// # Errors
    /// [`RpsError::Refused`] when the service could not start it (arguments that do not
    /// decode there), [`RpsError::Unreachable`] or [`RpsError::Timeout`] when the
    /// service cannot be asked.
    pub async fn run(&self, args: T::Args) -> Result<TaskRef, RpsError> {
        let args = crate::message::encode(&args).map_err(|e| RpsError::Refused(e.to_string()))?;
        match self
            .server
            .call::<_, RunReply>(RunRequest { args }, self.timeout)
            .await
        {
            Ok(RunReply(Ok(task))) => {
                if let Some(monitor) = &self.monitor {
                    if let Err(error) = monitor.monitor(&task) {
                        tracing::warn!(%error, task = %task, "the service's task is not monitored");
                    }
                }
                Ok(task)
            }
            Ok(RunReply(Err(why))) => Err(RpsError::Refused(why)),
            Err(CallError::Timeout) => Err(RpsError::Timeout),
            Err(error) => Err(RpsError::Unreachable(error.to_string())),
        }
    }
}
