//! The node server (pycos's dispycosnode): a service task on a node runtime that runs
//! jobs for one cluster client at a time.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use super::protocol::{FromNode, NodeEvent, NodeOp, SERVICE_NAME, ToNode};
use super::sysinfo::{self, CpuSampler};
use super::{ClusterError, JobId, NodeAvail, NodeInfo};
use crate::error::SpawnError;
use crate::net::Location;
use crate::task::{Builder, MonitorStatus};
use crate::{Handle, TaskRef};

/// What a node server offers and for how long: pycos's `dispycosnode` options that are
/// not the network's (those are the runtime's [`NodeConfig`](crate::net::NodeConfig)).
///
/// ```no_run
/// use rcos::cluster::NodeServer;
/// use rcos::net::NodeConfig;
///
/// let rt = rcos::Runtime::builder()
///     .node(NodeConfig::new().secret(b"a secret of 16+ bytes".to_vec()))
///     .build()
///     .unwrap();
/// let service = NodeServer::new().cpus(-1).serve(rt.handle()).unwrap();
/// rt.block_on(async move { service.finish().await });
/// ```
#[derive(Debug, Clone)]
pub struct NodeServer {
    cpus: i32,
    clients: Option<u64>,
    pulse: Duration,
    dest: Option<PathBuf>,
}

impl Default for NodeServer {
    fn default() -> Self {
        NodeServer::new()
    }
}

impl NodeServer {
    /// One slot per core, serving clients for ever, a pulse every 2 seconds.
    pub fn new() -> NodeServer {
        NodeServer {
            cpus: 0,
            clients: None,
            pulse: Duration::from_secs(2),
            dest: None,
        }
    }

    /// Worker slots: `n > 0` offers `n`; `n < 0` leaves `-n` cores free (at least one
    /// slot); 0 (the default) offers one per core.
    pub fn cpus(mut self, n: i32) -> Self {
        self.cpus = n;
        self
    }

    /// Serves `n` clients, one after another, then ends (pycos's `--serve N`).
    pub fn clients(mut self, n: u64) -> Self {
        self.clients = Some(n);
        self
    }

    /// How often the node tells its client its CPU and memory availability.
    pub fn pulse_interval(mut self, interval: Duration) -> Self {
        self.pulse = interval.max(Duration::from_millis(10));
        self
    }

    /// The folder whose free space is reported (the node's destination folder for
    /// files; the working folder if not set).
    pub fn dest_path(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dest = Some(dir.into());
        self
    }

    /// The number of slots these options give on this machine.
    pub fn slots(&self) -> u32 {
        let cores = sysinfo::cores();
        match self.cpus {
            n if n > 0 => n.unsigned_abs(),
            0 => cores,
            n => cores.saturating_sub(n.unsigned_abs()).max(1),
        }
    }

    /// Starts the node's service task on `handle` (which must be a node) and registers
    /// it, so that clients find it. The task ends after serving the number of clients
    /// set with [`clients`](Self::clients), returning how many it served (a `u64`).
    ///
    /// # Errors
    /// [`ClusterError::NotANode`], or [`ClusterError::AlreadyServing`] if the runtime
    /// runs a node server already.
    pub fn serve(self, handle: &Handle) -> Result<TaskRef, ClusterError> {
        let node = handle.node().ok_or(ClusterError::NotANode)?;
        let (location, name) = (node.location(), node.me_name());
        let handle2 = handle.clone();
        let service = Builder::new()
            .name("rcos-cluster-node")
            .spawn_on(handle, move |task| {
                service(task, handle2, self, location, name)
            });
        if service.register(SERVICE_NAME).is_err() {
            service.terminate();
            return Err(ClusterError::AlreadyServing);
        }
        Ok(service)
    }
}

/// Starts a node server with `options` on `handle`; see [`NodeServer::serve`].
///
/// # Errors
/// As [`NodeServer::serve`].
pub fn serve(handle: &Handle, options: NodeServer) -> Result<TaskRef, ClusterError> {
    options.serve(handle)
}

/// A job this node runs for its current client.
struct RunningJob {
    job: JobId,
    task: TaskRef,
}

struct Service {
    me: TaskRef,
    handle: Handle,
    location: Location,
    name: String,
    options: NodeServer,
    slots: u32,
    current: Option<TaskRef>,
    queue: VecDeque<TaskRef>,
    jobs: HashMap<u64, RunningJob>,
    served: u64,
    cpu: CpuSampler,
    disk: Option<u64>,
}

async fn service(
    me: TaskRef,
    handle: Handle,
    options: NodeServer,
    location: Location,
    name: String,
) -> u64 {
    let slots = options.slots();
    let mut cpu = CpuSampler::default();
    let _ = cpu.sample();
    let dest = options.dest.clone().unwrap_or_else(|| PathBuf::from("."));
    let disk = blocking::unblock(move || sysinfo::disk_available(&dest)).await;
    let mut svc = Service {
        me,
        handle,
        location,
        name,
        slots,
        current: None,
        queue: VecDeque::new(),
        jobs: HashMap::new(),
        served: 0,
        cpu,
        disk,
        options,
    };
    tracing::info!(node = %svc.name, at = %svc.location, slots, "cluster node serving");
    let mut next_pulse = crate::time::now() + svc.options.pulse;
    loop {
        if svc.options.clients.is_some_and(|n| svc.served >= n) {
            break;
        }
        let wait = next_pulse.saturating_duration_since(crate::time::now());
        let msg = match svc.me.receive_timeout(wait).await {
            Ok(msg) => msg,
            Err(error) => {
                tracing::info!(%error, "cluster node service interrupted");
                break;
            }
        };
        if crate::time::now() >= next_pulse {
            svc.pulse();
            next_pulse = crate::time::now() + svc.options.pulse;
        }
        let Some(msg) = msg else { continue };
        let msg = match msg.downcast::<ToNode>() {
            Ok(req) => {
                svc.request(req);
                continue;
            }
            Err(msg) => msg,
        };
        match msg.downcast::<MonitorStatus>() {
            Ok(status) => svc.ended(status),
            Err(other) => {
                tracing::warn!(kind = %other.type_name(), "cluster node ignores a message")
            }
        }
    }
    for waiting in std::mem::take(&mut svc.queue) {
        svc.me.unmonitor(&waiting);
    }
    tracing::info!(node = %svc.name, served = svc.served, "cluster node done");
    svc.served
}

impl Service {
    fn info(&mut self) -> NodeInfo {
        NodeInfo {
            name: self.name.clone(),
            location: self.location,
            cpus: self.slots,
            slots: self.slots,
            platform: sysinfo::platform(),
            avail: self.avail(),
        }
    }

    fn avail(&mut self) -> NodeAvail {
        let (memory_available, memory_total) = sysinfo::memory();
        NodeAvail {
            cpu_available: self.cpu.sample(),
            memory_available,
            memory_total,
            disk_available: self.disk,
        }
    }

    fn tell(&self, client: &TaskRef, event: NodeEvent) {
        let report = FromNode {
            node: self.location,
            event,
        };
        if let Err(error) = client.send(report) {
            tracing::debug!(%error, "cluster node cannot reach its client");
        }
    }

    fn pulse(&mut self) {
        if let Some(client) = self.current.clone() {
            let avail = self.avail();
            self.tell(&client, NodeEvent::Avail(avail));
        }
    }

    fn request(&mut self, req: ToNode) {
        let ToNode { from, op } = req;
        if let NodeOp::Hello { name } = op {
            return self.hello(from, name);
        }
        if self.current.as_ref() != Some(&from) {
            tracing::warn!(client = %from, "cluster node: a request from a client it does not serve");
            if let NodeOp::Run { job, .. } = op {
                let reason = "the node serves another client".to_string();
                self.tell(
                    &from,
                    NodeEvent::Failed {
                        job,
                        reason,
                        unknown_task: false,
                    },
                );
            }
            return;
        }
        match op {
            NodeOp::Hello { .. } => {}
            NodeOp::Run {
                job,
                function,
                args,
            } => self.run(&from, job, &function, &args),
            NodeOp::Terminate { job, grace_ms } => {
                if let Some(running) = self.jobs.values().find(|r| r.job == job) {
                    stop_job(&self.handle, &running.task, Duration::from_millis(grace_ms));
                }
            }
            NodeOp::Bye => self.client_left("said goodbye"),
        }
    }

    fn hello(&mut self, client: TaskRef, name: String) {
        let info = self.info();
        if self.current.is_none() {
            tracing::info!(node = %self.name, %client, client_name = %name, "cluster node serves a client");
            let _ = self.me.monitor(&client);
            self.current = Some(client.clone());
            self.tell(&client, NodeEvent::Welcome(info));
        } else if self.current.as_ref() == Some(&client) {
            self.tell(&client, NodeEvent::Welcome(info));
        } else {
            tracing::info!(node = %self.name, %client, "cluster node busy: the client waits its turn");
            if !self.queue.contains(&client) {
                let _ = self.me.monitor(&client);
                self.queue.push_back(client.clone());
            }
            self.tell(&client, NodeEvent::Busy(info));
        }
    }

    fn run(&mut self, client: &TaskRef, job: JobId, function: &str, args: &[u8]) {
        match self.handle.spawn_named(function, args) {
            Ok(task) => {
                tracing::debug!(job, function, %task, "cluster job started");
                let _ = self.me.monitor(&task);
                self.jobs.insert(
                    task.id().as_u64(),
                    RunningJob {
                        job,
                        task: task.clone(),
                    },
                );
                self.tell(client, NodeEvent::Started { job, task });
            }
            Err(error) => {
                tracing::warn!(job, function, %error, "cluster job not started");
                let unknown_task = matches!(error, SpawnError::UnknownTask(_));
                self.tell(
                    client,
                    NodeEvent::Failed {
                        job,
                        reason: error.to_string(),
                        unknown_task,
                    },
                );
            }
        }
    }

    fn ended(&mut self, status: MonitorStatus) {
        let key = status.task.id().as_u64();
        let ours = self.jobs.get(&key).is_some_and(|r| r.task == status.task);
        if let Some(running) = ours.then(|| self.jobs.remove(&key)).flatten() {
            if let Some(client) = self.current.clone() {
                self.tell(
                    &client,
                    NodeEvent::Ended {
                        job: running.job,
                        exit: status.exit,
                    },
                );
            }
            return;
        }
        if self.current.as_ref() == Some(&status.task) {
            self.client_left("ended");
        } else {
            self.queue.retain(|c| c != &status.task);
        }
    }

    /// The current client is gone: its jobs are stopped, the next client is served.
    fn client_left(&mut self, how: &str) {
        let Some(client) = self.current.take() else {
            return;
        };
        self.me.unmonitor(&client);
        self.served += 1;
        tracing::info!(node = %self.name, %client, how, served = self.served, "cluster client left");
        for (_, running) in self.jobs.drain() {
            self.me.unmonitor(&running.task);
            stop_job(&self.handle, &running.task, Duration::from_secs(5));
        }
        if self.options.clients.is_some_and(|n| self.served >= n) {
            return;
        }
        if let Some(next) = self.queue.pop_front() {
            self.hello(next, String::new());
        }
    }
}

/// Throws into `task` so it can save its state, then terminates it after `grace` if it
/// still runs.
fn stop_job(handle: &Handle, task: &TaskRef, grace: Duration) {
    task.throw(std::io::Error::other("terminated by the cluster client"));
    let task = task.clone();
    Builder::new()
        .name("rcos-cluster-stop")
        .daemon(true)
        .spawn_on(handle, move |_| async move {
            if task.finish_timeout(grace).await.is_err() {
                task.terminate();
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_cpus_and_a_negative_count_leaves_cores_free() {
        let cores = sysinfo::cores();
        let slots = |n| NodeServer::new().cpus(n).slots();
        assert_eq!(slots(0), cores);
        assert_eq!(slots(3), 3);
        assert_eq!(slots(-1), cores.saturating_sub(1).max(1));
        assert_eq!(slots(-i32::MAX), 1, "at least one slot");
        assert_eq!(slots(i32::MIN), 1);
    }
}
