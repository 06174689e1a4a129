//! The cluster client (pycos's dispycos `Client` with its scheduler): finds nodes, sets
//! them up, and runs jobs on their slots.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use event_listener::Event;

use super::protocol::{FromNode, NodeEvent, SERVICE_NAME, ToNode};
use super::state::{Effects, Rules, Setup, State};
use super::{
    ClusterError, ClusterSnapshot, ClusterStatus, DashboardSource, JobError, JobId, JobState,
    NodeAllocation, NodeInfo, NodeState,
};
use crate::net::{Location, PeerStatus};
use crate::task::{Builder, Exit, MonitorStatus, RemoteTaskFn};
use crate::util::Mutex;
use crate::{Handle, TaskRef};

/// Where a job may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// On any node (the least loaded).
    Any,
    /// On the node at this location.
    Node(Location),
    /// On any node of the machine with this IP address.
    Host(IpAddr),
}

impl From<Location> for Target {
    fn from(at: Location) -> Self {
        Target::Node(at)
    }
}

impl From<SocketAddr> for Target {
    fn from(at: SocketAddr) -> Self {
        Target::Node(at.into())
    }
}

impl From<IpAddr> for Target {
    fn from(ip: IpAddr) -> Self {
        Target::Host(ip)
    }
}

/// Builds a [`Cluster`] client: the nodes to use, the status task, setup hooks and
/// allocation rules.
#[derive(Debug)]
pub struct ClusterBuilder {
    nodes: Vec<Location>,
    discover: bool,
    status: Option<TaskRef>,
    node_setup: Option<Setup>,
    server_setup: Option<Setup>,
    allocations: Vec<NodeAllocation>,
    zombie_period: Duration,
    grace: Duration,
    name: String,
    error: Option<ClusterError>,
}

impl ClusterBuilder {
    fn new() -> ClusterBuilder {
        ClusterBuilder {
            nodes: Vec::new(),
            discover: false,
            status: None,
            node_setup: None,
            server_setup: None,
            allocations: Vec::new(),
            zombie_period: Duration::from_secs(10),
            grace: Duration::from_secs(5),
            name: "rcos-cluster-client".to_string(),
            error: None,
        }
    }

    /// Uses the node at `at` (connecting to it).
    pub fn node(mut self, at: impl Into<Location>) -> Self {
        self.nodes.push(at.into());
        self
    }

    /// Uses the nodes at these locations.
    pub fn nodes<L: Into<Location>>(mut self, nodes: impl IntoIterator<Item = L>) -> Self {
        self.nodes.extend(nodes.into_iter().map(Into::into));
        self
    }

    /// Also uses the nodes this runtime discovers (its node must have discovery on) and
    /// any peer it connects to that runs a node server.
    pub fn discover(mut self, on: bool) -> Self {
        self.discover = on;
        self
    }

    /// Sends [`ClusterStatus`] messages to `task` (pycos's `status_task`).
    pub fn status_task(mut self, task: TaskRef) -> Self {
        self.status = Some(task);
        self
    }

    /// Runs `task_fn(args)` on each node before it takes jobs (pycos's `node_setup`),
    /// e.g. to load data into the node's memory. It must return `Ok(())`; a node where it
    /// fails, panics or is unknown takes no jobs (status [`ClusterStatus::NodeIgnored`]).
    pub fn node_setup<T>(mut self, task_fn: fn() -> T, args: T::Args) -> Self
    where
        T: RemoteTaskFn<Output = Result<(), String>>,
    {
        self.node_setup = self.setup(task_fn, &args);
        self
    }

    /// Runs `task_fn(args)` on a node once for each of its slots, after its node setup,
    /// before that slot takes jobs (pycos's `server_setup`). It must return `Ok(())`.
    pub fn server_setup<T>(mut self, task_fn: fn() -> T, args: T::Args) -> Self
    where
        T: RemoteTaskFn<Output = Result<(), String>>,
    {
        self.server_setup = self.setup(task_fn, &args);
        self
    }

    fn setup<T: RemoteTaskFn>(&mut self, task_fn: fn() -> T, args: &T::Args) -> Option<Setup> {
        let _ = task_fn;
        match crate::message::encode(args) {
            Ok(args) => Some(Setup {
                function: T::NAME,
                args,
            }),
            Err(error) => {
                self.error = Some(ClusterError::BadArguments(error.to_string()));
                None
            }
        }
    }

    /// Adds a node allocation rule (see [`NodeAllocation`]).
    pub fn allocate(mut self, rule: NodeAllocation) -> Self {
        self.allocations.push(rule);
        self
    }

    /// How long a node that stopped answering may take to come back before it is
    /// reported abandoned (default 10 s). Its running jobs are reported abandoned at once.
    pub fn zombie_period(mut self, period: Duration) -> Self {
        self.zombie_period = period;
        self
    }

    /// How long a job told to terminate has, after the throw, before it is terminated
    /// (default 5 s).
    pub fn terminate_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The client's name, for nodes' logs.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Starts the client on the caller's runtime (or the default one).
    ///
    /// # Errors
    /// [`ClusterError::NotANode`] if the runtime is not a node;
    /// [`ClusterError::BadArguments`] if setup arguments did not encode.
    pub fn start(self) -> Result<Cluster, ClusterError> {
        self.start_on(&crate::task::current_or_default())
    }

    /// Starts the client on `handle`.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn start_on(self, handle: &Handle) -> Result<Cluster, ClusterError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        handle.location().ok_or(ClusterError::NotANode)?;
        let rules = Rules {
            node_setup: self.node_setup,
            server_setup: self.server_setup,
            allocations: self.allocations,
            grace_ms: self.grace.as_millis() as u64,
        };
        let inner = Arc::new(Inner {
            handle: handle.clone(),
            t0: handle.now(),
            state: Mutex::new(State::new(rules)),
            changed: Event::new(),
            status: self.status,
            scheduler: OnceLock::new(),
            discover: self.discover,
            zombie_period: self.zombie_period,
            grace: self.grace,
        });
        let for_task = inner.clone();
        let scheduler = Builder::new()
            .name(self.name)
            .daemon(true)
            .spawn_on(handle, move |me| scheduler(me, for_task));
        let _ = inner.scheduler.set(scheduler.clone());
        if let Some(node) = handle.node() {
            node.subscribe_status(scheduler.clone());
        }
        inner.apply(|_, fx| fx.status.push(ClusterStatus::ClientScheduled));
        for at in self.nodes {
            inner.find(at);
        }
        Ok(Cluster { inner })
    }
}

/// A cluster client (pycos's dispycos `Client`): it finds node servers, sets them up,
/// and runs jobs — registered `#[task(remote)]` functions compiled into both programs —
/// on their slots, least-loaded first.
///
/// A CPU-bound job ([`run`](Self::run)) holds one slot while it runs, so a node never
/// runs more of them than it has slots; an I/O-bound job ([`run_io`](Self::run_io))
/// holds none. When nothing is free a job waits for a slot; it never fails for that.
///
/// ```no_run
/// # use rcos::{task, TaskRef};
/// # use rcos::cluster::Cluster;
/// #[task(remote)]
/// async fn square(_task: TaskRef, n: u64) -> u64 {
///     n * n
/// }
///
/// # async fn example(node: rcos::net::Location) {
/// let cluster = Cluster::builder().node(node).start().unwrap();
/// let job = cluster.run(square, (12,)).await.unwrap();
/// assert_eq!(job.finish().await.unwrap().get::<u64>(), Some(144));
/// cluster.close(false).await;
/// # }
/// ```
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").finish_non_exhaustive()
    }
}

struct Inner {
    handle: Handle,
    t0: Instant,
    state: Mutex<State>,
    /// Notified after every change of the state.
    changed: Event,
    status: Option<TaskRef>,
    scheduler: OnceLock<TaskRef>,
    discover: bool,
    zombie_period: Duration,
    grace: Duration,
}

/// Messages of the client to its own scheduler task.
enum Internal {
    Found(Location, TaskRef),
    Ignored(Location, String),
    Zombie(Location, u64),
    Stop,
}

impl Inner {
    fn me(&self) -> Option<&TaskRef> {
        self.scheduler.get()
    }

    /// Changes the state and carries out what the change asks for, in order.
    fn apply<R>(&self, f: impl FnOnce(&mut State, &mut Effects) -> R) -> R {
        let mut fx = Effects::default();
        let out = {
            let mut st = self.state.lock();
            let out = f(&mut st, &mut fx);
            // Sent under the lock, so status messages keep the order of the changes.
            self.carry_out(fx);
            out
        };
        crate::util::notify(&self.changed, usize::MAX);
        out
    }

    fn carry_out(&self, fx: Effects) {
        if let Some(status) = &self.status {
            for msg in fx.status {
                tracing::debug!(status = %msg, "cluster status");
                if let Err(error) = status.send(msg) {
                    tracing::debug!(%error, "the cluster status task is gone");
                }
            }
        }
        if let Some(me) = self.me() {
            for (service, op) in fx.sends {
                let req = ToNode {
                    from: me.clone(),
                    op,
                };
                if let Err(error) = service.send(req) {
                    tracing::warn!(%error, node = ?service.location(), "cluster request not sent");
                }
            }
            for (at, epoch) in fx.zombies {
                let (me, period) = (me.clone(), self.zombie_period);
                Builder::new()
                    .name("rcos-cluster-zombie")
                    .daemon(true)
                    .spawn_on(&self.handle, move |_| async move {
                        crate::time::sleep(period).await;
                        let _ = me.send_local(Internal::Zombie(at, epoch));
                    });
            }
        }
    }

    /// Connects to `at` and looks for a node server there.
    fn find(&self, at: Location) {
        let Some(me) = self.me().cloned() else { return };
        if !self.state.lock().finding.insert(at) {
            return;
        }
        let timeout = self.grace.max(Duration::from_secs(10));
        Builder::new()
            .name("rcos-cluster-find")
            .daemon(true)
            .spawn_on(&self.handle, move |_| async move {
                if let Err(error) = crate::net::peer(at).await {
                    let _ = crate::net::close_peer(at).await;
                    let reason = format!("cannot connect: {error}");
                    let _ = me.send_local(Internal::Ignored(at, reason));
                    return;
                }
                match TaskRef::locate_at(at, SERVICE_NAME, timeout).await {
                    Ok(service) => {
                        let _ = me.send_local(Internal::Found(at, service));
                    }
                    Err(_) => {
                        let reason = "no cluster node server there".to_string();
                        let _ = me.send_local(Internal::Ignored(at, reason));
                    }
                }
            });
    }

    fn now(&self) -> Instant {
        self.handle.now()
    }

    /// Waits until `done` holds of the state, or `deadline` passes (then `None`).
    async fn wait_for<R>(
        &self,
        deadline: Option<Instant>,
        mut done: impl FnMut(&State) -> Option<R>,
    ) -> Option<R> {
        loop {
            let listener = self.changed.listen();
            if let Some(out) = done(&self.state.lock()) {
                return Some(out);
            }
            match deadline {
                None => listener.await,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(self.now());
                    if left.is_zero() {
                        return None;
                    }
                    let _ = crate::time::timeout(left, listener).await;
                }
            }
        }
    }
}

/// The client's scheduler task: takes in what nodes report.
async fn scheduler(me: TaskRef, inner: Arc<Inner>) {
    while let Ok(msg) = me.receive().await {
        let now = inner.now();
        let msg = match msg.downcast::<FromNode>() {
            Ok(FromNode { node, event }) => {
                inner.apply(|st, fx| match event {
                    NodeEvent::Welcome(info) => st.welcome(fx, node, info),
                    NodeEvent::Busy(info) => {
                        tracing::info!(%node, name = %info.name, "cluster node serves another client; waiting")
                    }
                    NodeEvent::Started { job, task } => st.started(fx, job, task, now),
                    NodeEvent::Failed {
                        job,
                        reason,
                        unknown_task,
                    } => st.failed(fx, job, reason, unknown_task, now),
                    NodeEvent::Ended { job, exit } => st.ended(fx, job, exit, now),
                    NodeEvent::Avail(avail) => st.avail(node, avail),
                });
                continue;
            }
            Err(msg) => msg,
        };
        let msg = match msg.downcast::<MonitorStatus>() {
            Ok(status) => {
                let lost = matches!(status.exit, Exit::NodeLost);
                inner.apply(|st, fx| st.service_ended(fx, &status.task, lost, now));
                continue;
            }
            Err(msg) => msg,
        };
        let msg = match msg.downcast::<PeerStatus>() {
            Ok(peer) => {
                if peer.online {
                    let st = inner.state.lock();
                    let again = match st.node(peer.location) {
                        Some(node) => {
                            matches!(node.state, NodeState::Disconnected | NodeState::Abandoned)
                        }
                        None => inner.discover,
                    };
                    drop(st);
                    if again {
                        inner.find(peer.location);
                    }
                }
                continue;
            }
            Err(msg) => msg,
        };
        match msg.downcast_any::<Internal>() {
            Ok(Internal::Found(at, service)) => {
                inner.apply(|st, fx| st.found(fx, at, service, &me));
            }
            Ok(Internal::Ignored(at, reason)) => inner.apply(|st, fx| st.ignored(fx, at, reason)),
            Ok(Internal::Zombie(at, epoch)) => inner.apply(|st, fx| st.zombie(fx, at, epoch, now)),
            Ok(Internal::Stop) => break,
            Err(other) => {
                tracing::debug!(kind = %other.type_name(), "cluster client ignores a message")
            }
        }
    }
}

impl Cluster {
    /// A builder for a client.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::new()
    }

    fn enqueue<T: RemoteTaskFn>(
        &self,
        target: Target,
        cpu: bool,
        args: &T::Args,
    ) -> Result<Job, JobError> {
        let args = crate::message::encode(args).map_err(|e| JobError::NotStarted(e.to_string()))?;
        let now = self.inner.now();
        let id = self.inner.apply(|st, fx| {
            if st.closing {
                return Err(JobError::Closed);
            }
            Ok(st.submit(fx, T::NAME, args, cpu, target, now))
        })?;
        Ok(Job {
            id,
            inner: self.inner.clone(),
        })
    }

    /// Queues a CPU-bound job on the least-loaded node with a free slot, without
    /// waiting for it to start.
    ///
    /// # Errors
    /// [`JobError::Closed`] if the client is closing; [`JobError::NotStarted`] if the
    /// arguments do not encode.
    pub fn submit<T: RemoteTaskFn>(
        &self,
        task_fn: fn() -> T,
        args: T::Args,
    ) -> Result<Job, JobError> {
        let _ = task_fn;
        self.enqueue::<T>(Target::Any, true, &args)
    }

    /// Queues a job to run at `target`: CPU-bound (`cpu`, holding a slot) or I/O-bound.
    /// A job for a node that takes no more jobs (ignored, closed or abandoned) does not
    /// wait: it ends at once with [`JobError::NotStarted`], saying why (and the status
    /// task gets [`ClusterStatus::JobFailed`]).
    ///
    /// # Errors
    /// As [`submit`](Self::submit).
    pub fn submit_at<T: RemoteTaskFn>(
        &self,
        target: impl Into<Target>,
        cpu: bool,
        task_fn: fn() -> T,
        args: T::Args,
    ) -> Result<Job, JobError> {
        let _ = task_fn;
        self.enqueue::<T>(target.into(), cpu, &args)
    }

    /// Runs a CPU-bound job (pycos's `rtask`/`run`): on the least-loaded node, on its
    /// slot with the fewest jobs so far, at most one per slot. Waits for a free slot if
    /// there is none, then for the job to start, and returns it.
    ///
    /// # Errors
    /// [`JobError`]: the node does not know the task, the client is closing, ...
    pub async fn run<T: RemoteTaskFn>(
        &self,
        task_fn: fn() -> T,
        args: T::Args,
    ) -> Result<Job, JobError> {
        self.run_at(Target::Any, task_fn, args).await
    }

    /// Runs a CPU-bound job at `target` (a node's [`Location`] or a host's IP address;
    /// pycos's `rtask_at`), waiting for a free slot there.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn run_at<T: RemoteTaskFn>(
        &self,
        target: impl Into<Target>,
        task_fn: fn() -> T,
        args: T::Args,
    ) -> Result<Job, JobError> {
        let job = self.submit_at(target, true, task_fn, args)?;
        job.started().await?;
        Ok(job)
    }

    /// Runs an I/O-bound job (pycos's `io_rtask`): on the least-loaded node, holding no
    /// slot, so any number run at once.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn run_io<T: RemoteTaskFn>(
        &self,
        task_fn: fn() -> T,
        args: T::Args,
    ) -> Result<Job, JobError> {
        self.run_io_at(Target::Any, task_fn, args).await
    }

    /// Runs an I/O-bound job at `target`.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn run_io_at<T: RemoteTaskFn>(
        &self,
        target: impl Into<Target>,
        task_fn: fn() -> T,
        args: T::Args,
    ) -> Result<Job, JobError> {
        let job = self.submit_at(target, false, task_fn, args)?;
        job.started().await?;
        Ok(job)
    }

    /// Runs one CPU-bound job on every node that takes jobs now, each waiting for a
    /// slot on its node; returns them in node order once started.
    pub async fn run_each<T>(&self, task_fn: fn() -> T, args: T::Args) -> Vec<Result<Job, JobError>>
    where
        T: RemoteTaskFn<Args: Clone>,
    {
        let nodes: Vec<Location> = self
            .inner
            .state
            .lock()
            .nodes
            .iter()
            .filter(|n| n.state == NodeState::Initialised)
            .map(|n| n.location)
            .collect();
        let jobs: Vec<Result<Job, JobError>> = nodes
            .into_iter()
            .map(|at| self.submit_at(at, true, task_fn, args.clone()))
            .collect();
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            out.push(match job {
                Ok(job) => job.started().await.map(|_| job),
                Err(error) => Err(error),
            });
        }
        out
    }

    /// Waits until at least `n` nodes take jobs (initialised, with a slot set up), for at
    /// most `timeout`.
    ///
    /// # Errors
    /// [`ClusterError::Timeout`].
    pub async fn wait_nodes(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<NodeInfo>, ClusterError> {
        let deadline = self.inner.now() + timeout;
        self.inner
            .wait_for(Some(deadline), |st| {
                let ready: Vec<NodeInfo> = st
                    .nodes
                    .iter()
                    .filter(|n| n.state == NodeState::Initialised)
                    .map(|n| n.info.clone())
                    .collect();
                (ready.len() >= n).then_some(ready)
            })
            .await
            .ok_or(ClusterError::Timeout)
    }

    /// The nodes that take jobs now (initialised and not suspended).
    pub fn nodes(&self) -> Vec<NodeInfo> {
        self.inner
            .state
            .lock()
            .nodes
            .iter()
            .filter(|n| n.state == NodeState::Initialised)
            .map(|n| n.info.clone())
            .collect()
    }

    /// The client's scheduler task (the task nodes talk to).
    pub fn task(&self) -> Option<TaskRef> {
        self.inner.me().cloned()
    }

    fn node_key(&self, node: &str) -> Result<Location, ClusterError> {
        self.inner
            .state
            .lock()
            .find_node(node)
            .ok_or_else(|| ClusterError::NoSuchNode(node.to_string()))
    }

    /// Stops placing new jobs on the node named `node` (its name or location); jobs
    /// running there go on (pycos's `suspend_node`).
    ///
    /// # Errors
    /// [`ClusterError::NoSuchNode`], or [`ClusterError::Refused`] if it is not initialised.
    pub fn suspend_node(&self, node: &str) -> Result<(), ClusterError> {
        let at = self.node_key(node)?;
        self.inner
            .apply(|st, fx| st.suspend(fx, at, true))
            .map_err(ClusterError::Refused)
    }

    /// Places jobs on a suspended node again (pycos's `resume_node`).
    ///
    /// # Errors
    /// As [`suspend_node`](Self::suspend_node).
    pub fn resume_node(&self, node: &str) -> Result<(), ClusterError> {
        let at = self.node_key(node)?;
        self.inner
            .apply(|st, fx| st.suspend(fx, at, false))
            .map_err(ClusterError::Refused)
    }

    /// Ends job `id`: a waiting job is dropped; a running job gets a throw (so it can
    /// save its state), and is terminated if it has not ended after the grace period.
    ///
    /// # Errors
    /// [`ClusterError::Refused`]: no such job, or it has ended.
    pub fn terminate_job(&self, id: JobId) -> Result<(), ClusterError> {
        let now = self.inner.now();
        self.inner
            .apply(|st, fx| st.terminate(fx, id, now))
            .map_err(ClusterError::Refused)
    }

    /// The state of the cluster now: nodes and jobs.
    pub fn snapshot(&self) -> ClusterSnapshot {
        let now = self.inner.now();
        let (nodes, jobs) = self.inner.state.lock().views(self.inner.t0);
        ClusterSnapshot {
            now_ms: now.saturating_duration_since(self.inner.t0).as_millis() as u64,
            nodes,
            jobs,
        }
    }

    /// Closes the client (pycos's `close`). With `terminate` false it waits for every
    /// job, waiting or running, to end; with `terminate` true, waiting jobs are dropped
    /// and running ones terminated (a throw first, then termination after the grace
    /// period). Then it says goodbye to the nodes; the status task gets
    /// [`ClusterStatus::ClientClosed`] last.
    pub async fn close(&self, terminate: bool) {
        let now = self.inner.now();
        let first = self.inner.apply(|st, fx| {
            if st.closing {
                return false;
            }
            st.closing = true;
            if terminate {
                let open: Vec<JobId> = st
                    .jobs
                    .values()
                    .filter(|j| j.kind == super::state::Kind::User && j.is_open())
                    .map(|j| j.id)
                    .collect();
                for id in open {
                    let _ = st.terminate(fx, id, now);
                }
            }
            true
        });
        if !first {
            self.inner
                .wait_for(None, |st| st.closed.then_some(()))
                .await;
            return;
        }
        let deadline =
            terminate.then(|| self.inner.now() + self.inner.grace + Duration::from_secs(10));
        let done = self
            .inner
            .wait_for(deadline, |st| (st.open_jobs() == 0).then_some(()))
            .await;
        let now = self.inner.now();
        self.inner.apply(|st, fx| {
            if done.is_none() {
                st.abandon_open(fx, now);
            }
            st.close_nodes(fx);
            fx.status.push(ClusterStatus::ClientClosed);
            st.closed = true;
        });
        if let Some(me) = self.inner.me() {
            let _ = me.send_local(Internal::Stop);
        }
    }
}

impl DashboardSource for Cluster {
    fn snapshot(&self) -> ClusterSnapshot {
        Cluster::snapshot(self)
    }

    fn suspend_node(&self, node: &str) -> Result<(), String> {
        Cluster::suspend_node(self, node).map_err(|e| e.to_string())
    }

    fn resume_node(&self, node: &str) -> Result<(), String> {
        Cluster::resume_node(self, node).map_err(|e| e.to_string())
    }

    fn terminate_job(&self, job: JobId) -> Result<(), String> {
        Cluster::terminate_job(self, job).map_err(|e| e.to_string())
    }
}

/// A job submitted to a [`Cluster`]: wait for it to start or end, or terminate it.
#[derive(Clone)]
pub struct Job {
    id: JobId,
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Job {
    /// The job's number.
    pub fn id(&self) -> JobId {
        self.id
    }

    /// The job's state now.
    pub fn state(&self) -> JobState {
        self.inner
            .state
            .lock()
            .jobs
            .get(&self.id)
            .map_or(JobState::Abandoned, |j| j.state)
    }

    /// The node the job runs (or ran) on, once placed.
    pub fn node(&self) -> Option<Location> {
        self.inner
            .state
            .lock()
            .jobs
            .get(&self.id)
            .and_then(|j| j.node)
    }

    /// Waits until the job runs and returns its task on the node.
    ///
    /// # Errors
    /// [`JobError`] if it ended without starting.
    pub async fn started(&self) -> Result<TaskRef, JobError> {
        let id = self.id;
        self.inner
            .wait_for(None, |st| match st.jobs.get(&id) {
                None => Some(Err(JobError::Cancelled)),
                Some(job) => match (&job.task_ref, &job.result) {
                    (Some(task), _) => Some(Ok(task.clone())),
                    (None, Some(Err(error))) => Some(Err(error.clone())),
                    (None, Some(Ok(_))) => Some(Err(JobError::Cancelled)),
                    (None, None) => None,
                },
            })
            .await
            .unwrap_or(Err(JobError::Cancelled))
    }

    /// Waits for the job to end and returns how its task ended (pycos's
    /// `yield rtask()`): its value with [`Exit::get`], a panic, a thrown error, or
    /// [`Exit::Terminated`].
    ///
    /// # Errors
    /// [`JobError`] if there is no task ending to report: the job never started, or its
    /// node was lost.
    pub async fn finish(&self) -> Result<Exit, JobError> {
        let id = self.id;
        self.inner
            .wait_for(None, |st| match st.jobs.get(&id) {
                None => Some(Err(JobError::Cancelled)),
                Some(job) => job.result.clone(),
            })
            .await
            .unwrap_or(Err(JobError::Cancelled))
    }

    /// Asks the job to end; see [`Cluster::terminate_job`].
    ///
    /// # Errors
    /// As [`Cluster::terminate_job`].
    pub fn terminate(&self) -> Result<(), ClusterError> {
        let now = self.inner.now();
        let id = self.id;
        self.inner
            .apply(|st, fx| st.terminate(fx, id, now))
            .map_err(ClusterError::Refused)
    }
}
