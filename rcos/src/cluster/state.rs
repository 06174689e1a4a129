//! What a cluster client knows of its nodes and jobs, and the scheduling decisions made
//! on it. Every change goes through [`State`] under the client's lock and yields
//! [`Effects`] (status messages, requests to nodes) that the caller carries out.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use super::allocate::{NodeAllocation, allocate};
use super::protocol::NodeOp;
use super::{
    ClusterStatus, JobError, JobId, JobInfo, JobState, JobView, NodeAvail, NodeInfo, NodeState,
    NodeView, Target, outcome,
};
use crate::TaskRef;
use crate::net::Location;
use crate::task::Exit;

/// A task function and its encoded arguments, for a setup hook.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    pub(crate) function: &'static str,
    pub(crate) args: Vec<u8>,
}

/// What a job is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    User,
    NodeSetup,
    ServerSetup(u32),
}

pub(crate) struct JobEntry {
    pub(crate) id: JobId,
    pub(crate) task: String,
    args: Vec<u8>,
    cpu: bool,
    target: Target,
    pub(crate) kind: Kind,
    pub(crate) state: JobState,
    pub(crate) node: Option<Location>,
    slot: Option<u32>,
    pub(crate) task_ref: Option<TaskRef>,
    started: Option<Instant>,
    ended: Option<Instant>,
    terminate: bool,
    pub(crate) result: Option<Result<Exit, JobError>>,
    outcome: Option<String>,
}

impl JobEntry {
    fn info(&self) -> JobInfo {
        JobInfo {
            id: self.id,
            task: self.task.clone(),
            node: self.node,
            slot: self.slot,
            task_ref: self.task_ref.clone(),
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        matches!(self.state, JobState::Waiting | JobState::Running)
    }
}

struct Slot {
    ready: bool,
    job: Option<JobId>,
    jobs: u64,
}

pub(crate) struct NodeEntry {
    pub(crate) location: Location,
    pub(crate) info: NodeInfo,
    pub(crate) service: Option<TaskRef>,
    pub(crate) state: NodeState,
    welcomed: bool,
    slots: Vec<Slot>,
    running: BTreeSet<JobId>,
    done: u64,
    pub(crate) epoch: u64,
}

impl NodeEntry {
    fn new(location: Location) -> NodeEntry {
        NodeEntry {
            location,
            info: NodeInfo {
                name: location.to_string(),
                location,
                cpus: 0,
                slots: 0,
                platform: String::new(),
                avail: NodeAvail::default(),
            },
            service: None,
            state: NodeState::Discovered,
            welcomed: false,
            slots: Vec::new(),
            running: BTreeSet::new(),
            done: 0,
            epoch: 0,
        }
    }

    fn takes_jobs(&self) -> bool {
        self.state == NodeState::Initialised
    }

    fn busy(&self) -> u32 {
        self.slots.iter().filter(|s| s.job.is_some()).count() as u32
    }

    fn ready_slots(&self) -> u32 {
        self.slots.iter().filter(|s| s.ready).count() as u32
    }

    fn free_slot(&self) -> Option<u32> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.ready && s.job.is_none())
            .min_by_key(|(n, s)| (s.jobs, *n))
            .map(|(n, _)| n as u32)
    }

    /// Takes every slot that takes jobs out of use, each reported
    /// [`ClusterStatus::ServerClosed`]: a slot reported initialised is reported closed
    /// exactly once, whatever ends it.
    fn close_slots(&mut self, fx: &mut Effects) {
        for (n, slot) in self.slots.iter_mut().enumerate() {
            if std::mem::replace(&mut slot.ready, false) {
                fx.status.push(ClusterStatus::ServerClosed {
                    node: self.location,
                    slot: n as u32,
                });
            }
        }
    }

    fn matches(&self, target: &Target) -> bool {
        match target {
            Target::Any => true,
            Target::Node(at) => *at == self.location,
            Target::Host(ip) => self.location.addr().ip() == *ip,
        }
    }
}

/// What a change asks to be done once the state is updated.
#[derive(Default)]
pub(crate) struct Effects {
    pub(crate) status: Vec<ClusterStatus>,
    pub(crate) sends: Vec<(TaskRef, NodeOp)>,
    /// Nodes that went silent: (where, epoch) to check after the zombie period.
    pub(crate) zombies: Vec<(Location, u64)>,
}

/// The client's configuration that scheduling needs.
pub(crate) struct Rules {
    pub(crate) node_setup: Option<Setup>,
    pub(crate) server_setup: Option<Setup>,
    pub(crate) allocations: Vec<NodeAllocation>,
    pub(crate) grace_ms: u64,
}

pub(crate) struct State {
    pub(crate) rules: Rules,
    pub(crate) nodes: Vec<NodeEntry>,
    pub(crate) jobs: BTreeMap<JobId, JobEntry>,
    waiting: VecDeque<JobId>,
    next_job: JobId,
    pub(crate) closing: bool,
    pub(crate) closed: bool,
    pub(crate) finding: BTreeSet<Location>,
}

impl State {
    pub(crate) fn new(rules: Rules) -> State {
        State {
            rules,
            nodes: Vec::new(),
            jobs: BTreeMap::new(),
            waiting: VecDeque::new(),
            next_job: 1,
            closing: false,
            closed: false,
            finding: BTreeSet::new(),
        }
    }

    pub(crate) fn node(&self, at: Location) -> Option<&NodeEntry> {
        self.nodes.iter().find(|n| n.location == at)
    }

    fn node_mut(&mut self, at: Location) -> Option<&mut NodeEntry> {
        self.nodes.iter_mut().find(|n| n.location == at)
    }

    /// The node named `key` (its name or its location).
    pub(crate) fn find_node(&self, key: &str) -> Option<Location> {
        self.nodes
            .iter()
            .find(|n| n.info.name == key || n.location.to_string() == key)
            .map(|n| n.location)
    }

    /// Queues a user job; it starts when a slot is free. A job for a node that takes no
    /// more jobs (ignored, closed or abandoned) fails at once.
    pub(crate) fn submit(
        &mut self,
        fx: &mut Effects,
        task: &str,
        args: Vec<u8>,
        cpu: bool,
        target: Target,
        now: Instant,
    ) -> JobId {
        let id = self.new_job(task, args, cpu, target, Kind::User);
        // A job for a node that will take no more jobs would wait for ever: it fails.
        let gone = match target {
            Target::Node(at) => self.node(at).and_then(|n| match n.state {
                NodeState::Failed => Some("it was ignored"),
                NodeState::Closed => Some("it closed"),
                NodeState::Abandoned => Some("it was abandoned"),
                _ => None,
            }),
            _ => None,
        };
        match (gone, target) {
            (Some(why), Target::Node(at)) => self.fail_unstarted(fx, id, at, why, now),
            _ => {
                self.waiting.push_back(id);
                self.dispatch(fx);
            }
        }
        id
    }

    fn new_job(
        &mut self,
        task: &str,
        args: Vec<u8>,
        cpu: bool,
        target: Target,
        kind: Kind,
    ) -> JobId {
        let id = self.next_job;
        self.next_job += 1;
        self.jobs.insert(
            id,
            JobEntry {
                id,
                task: task.to_string(),
                args,
                cpu,
                target,
                kind,
                state: JobState::Waiting,
                node: None,
                slot: None,
                task_ref: None,
                started: None,
                ended: None,
                terminate: false,
                result: None,
                outcome: None,
            },
        );
        id
    }

    /// Starts every waiting job that has somewhere to go, oldest first; a job that
    /// cannot start yet does not hold up the ones behind it.
    pub(crate) fn dispatch(&mut self, fx: &mut Effects) {
        let mut still = VecDeque::new();
        while let Some(id) = self.waiting.pop_front() {
            let Some(job) = self.jobs.get(&id) else {
                continue;
            };
            let (cpu, target) = (job.cpu, job.target);
            match self.place(cpu, &target) {
                Some((node, slot)) => self.start(fx, id, node, slot),
                None => still.push_back(id),
            }
        }
        self.waiting = still;
    }

    /// The least-loaded node (and its slot, for a CPU-bound job) that can take a job.
    fn place(&self, cpu: bool, target: &Target) -> Option<(Location, Option<u32>)> {
        let candidates = self
            .nodes
            .iter()
            .filter(|n| n.takes_jobs() && n.matches(target) && n.ready_slots() > 0);
        if cpu {
            // Lowest busy/slots (compared without division), then fewest running.
            let best = candidates
                .filter_map(|n| n.free_slot().map(|s| (n, s)))
                .min_by(|(a, _), (b, _)| {
                    let (la, lb) = (
                        u64::from(a.busy()) * u64::from(b.ready_slots()),
                        u64::from(b.busy()) * u64::from(a.ready_slots()),
                    );
                    la.cmp(&lb).then(a.running.len().cmp(&b.running.len()))
                })?;
            Some((best.0.location, Some(best.1)))
        } else {
            let best = candidates.min_by(|a, b| {
                let la = a.running.len() as u64 * u64::from(b.ready_slots());
                let lb = b.running.len() as u64 * u64::from(a.ready_slots());
                la.cmp(&lb)
            })?;
            Some((best.location, None))
        }
    }

    /// Sends job `id` to `node` (holding `slot`).
    fn start(&mut self, fx: &mut Effects, id: JobId, at: Location, slot: Option<u32>) {
        let Some(node) = self.nodes.iter_mut().find(|n| n.location == at) else {
            return;
        };
        let Some(service) = node.service.clone() else {
            return;
        };
        if let Some(s) = slot.and_then(|n| node.slots.get_mut(n as usize)) {
            s.job = Some(id);
            s.jobs += 1;
        }
        node.running.insert(id);
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        job.state = JobState::Running;
        job.node = Some(at);
        job.slot = slot;
        fx.sends.push((
            service.clone(),
            NodeOp::Run {
                job: id,
                function: job.task.clone(),
                args: job.args.clone(),
            },
        ));
        if job.terminate {
            fx.sends.push((
                service,
                NodeOp::Terminate {
                    job: id,
                    grace_ms: self.rules.grace_ms,
                },
            ));
        }
    }

    /// Frees the slot and node place of a job that has ended (or will never report).
    fn release(&mut self, id: JobId) {
        let Some(job) = self.jobs.get(&id) else {
            return;
        };
        let (at, slot) = (job.node, job.slot);
        if let Some(node) = at.and_then(|at| self.nodes.iter_mut().find(|n| n.location == at)) {
            node.running.remove(&id);
            if let Some(s) = slot.and_then(|n| node.slots.get_mut(n as usize)) {
                if s.job == Some(id) {
                    s.job = None;
                }
            }
        }
    }

    /// Ends job `id` with `state` and `result`.
    fn close_job(
        &mut self,
        id: JobId,
        state: JobState,
        result: Result<Exit, JobError>,
        now: Instant,
    ) {
        self.release(id);
        if let Some(job) = self.jobs.get_mut(&id) {
            job.outcome = Some(match &result {
                Ok(exit) => outcome::describe(exit),
                Err(error) => error.to_string(),
            });
            job.state = state;
            job.result = Some(result);
            job.ended = Some(now);
        }
    }

    /// A node's service was found at `at`: ask it to serve this client.
    pub(crate) fn found(&mut self, fx: &mut Effects, at: Location, service: TaskRef, me: &TaskRef) {
        self.finding.remove(&at);
        if self.closing {
            return;
        }
        if self.node(at).is_none() {
            self.nodes.push(NodeEntry::new(at));
        }
        let Some(node) = self.node_mut(at) else {
            return;
        };
        let active = matches!(
            node.state,
            NodeState::Discovered | NodeState::Initialised | NodeState::Suspended
        );
        if active && node.service.as_ref() == Some(&service) {
            return;
        }
        node.epoch += 1;
        node.state = NodeState::Discovered;
        node.welcomed = false;
        node.slots.clear();
        node.service = Some(service.clone());
        if let Err(error) = me.monitor(&service) {
            tracing::warn!(%at, %error, "cannot monitor a cluster node");
        }
        fx.sends.push((
            service,
            NodeOp::Hello {
                name: me.name().to_string(),
            },
        ));
    }

    /// A node could not be used: the status says why.
    pub(crate) fn ignored(&mut self, fx: &mut Effects, at: Location, reason: String) {
        self.finding.remove(&at);
        tracing::warn!(node = %at, %reason, "cluster node ignored");
        if let Some(node) = self.node_mut(at) {
            node.state = NodeState::Failed;
        }
        fx.status.push(ClusterStatus::NodeIgnored {
            location: at,
            reason,
        });
    }

    /// The node at `at` serves this client and describes itself.
    pub(crate) fn welcome(&mut self, fx: &mut Effects, at: Location, mut info: NodeInfo) {
        let slots = match allocate(&self.rules.allocations, &info) {
            Ok(slots) => slots,
            Err(reason) => {
                let Some(node) = self.node_mut(at) else {
                    return;
                };
                node.info = info;
                if let Some(service) = node.service.clone() {
                    fx.sends.push((service, NodeOp::Bye));
                }
                return self.ignored(fx, at, format!("not allocated: {reason}"));
            }
        };
        info.slots = slots;
        let setup = self.rules.node_setup.clone();
        let Some(node) = self.node_mut(at) else {
            return;
        };
        if node.welcomed || node.state != NodeState::Discovered {
            return;
        }
        node.welcomed = true;
        node.info = info.clone();
        node.slots = (0..slots)
            .map(|_| Slot {
                ready: false,
                job: None,
                jobs: 0,
            })
            .collect();
        fx.status.push(ClusterStatus::NodeDiscovered(info));
        match setup {
            Some(setup) => self.run_setup(fx, at, setup, Kind::NodeSetup),
            None => self.node_initialised(fx, at),
        }
    }

    fn run_setup(&mut self, fx: &mut Effects, at: Location, setup: Setup, kind: Kind) {
        let id = self.new_job(setup.function, setup.args, false, Target::Node(at), kind);
        self.start(fx, id, at, None);
    }

    fn node_initialised(&mut self, fx: &mut Effects, at: Location) {
        let setup = self.rules.server_setup.clone();
        let Some(node) = self.node_mut(at) else {
            return;
        };
        node.state = NodeState::Initialised;
        fx.status
            .push(ClusterStatus::NodeInitialised(node.info.clone()));
        let slots = node.slots.len() as u32;
        for slot in 0..slots {
            match &setup {
                Some(setup) => self.run_setup(fx, at, setup.clone(), Kind::ServerSetup(slot)),
                None => self.slot_ready(fx, at, slot),
            }
        }
        self.dispatch(fx);
    }

    fn slot_ready(&mut self, fx: &mut Effects, at: Location, slot: u32) {
        if let Some(s) = self
            .node_mut(at)
            .and_then(|n| n.slots.get_mut(slot as usize))
        {
            s.ready = true;
            fx.status
                .push(ClusterStatus::ServerInitialised { node: at, slot });
        }
    }

    /// A setup job failed: the node takes no jobs.
    fn setup_failed(&mut self, fx: &mut Effects, at: Location, reason: String, now: Instant) {
        let Some(node) = self.node_mut(at) else {
            return;
        };
        if let Some(service) = node.service.clone() {
            fx.sends.push((service, NodeOp::Bye));
        }
        node.close_slots(fx);
        self.ignored(fx, at, reason);
        self.fail_targeted(fx, at, "its node_setup failed", now);
    }

    /// Fails the waiting jobs that only this node could run.
    fn fail_targeted(&mut self, fx: &mut Effects, at: Location, why: &str, now: Instant) {
        let stuck: Vec<JobId> = self
            .waiting
            .iter()
            .copied()
            .filter(|id| {
                self.jobs
                    .get(id)
                    .is_some_and(|j| j.target == Target::Node(at))
            })
            .collect();
        self.waiting.retain(|id| !stuck.contains(id));
        for id in stuck {
            self.fail_unstarted(fx, id, at, why, now);
        }
    }

    /// Fails job `id`, which never started, because node `at` takes no more jobs.
    fn fail_unstarted(
        &mut self,
        fx: &mut Effects,
        id: JobId,
        at: Location,
        why: &str,
        now: Instant,
    ) {
        let reason = format!("node {at} cannot take jobs: {why}");
        self.close_job(
            id,
            JobState::Failed,
            Err(JobError::NotStarted(reason.clone())),
            now,
        );
        if let Some(job) = self.jobs.get(&id) {
            fx.status.push(ClusterStatus::JobFailed {
                job: job.info(),
                reason,
            });
        }
    }

    pub(crate) fn started(&mut self, fx: &mut Effects, id: JobId, task: TaskRef, now: Instant) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        if job.state != JobState::Running {
            return;
        }
        job.task_ref = Some(task);
        job.started = Some(now);
        if job.kind == Kind::User {
            fx.status.push(ClusterStatus::JobStarted(job.info()));
        }
    }

    pub(crate) fn failed(
        &mut self,
        fx: &mut Effects,
        id: JobId,
        reason: String,
        unknown_task: bool,
        now: Instant,
    ) {
        let Some(job) = self.jobs.get(&id) else {
            return;
        };
        if job.state != JobState::Running {
            return;
        }
        let (kind, at, task) = (job.kind, job.node, job.task.clone());
        let error = if unknown_task {
            JobError::UnknownTask(task.clone())
        } else {
            JobError::NotStarted(reason.clone())
        };
        self.close_job(id, JobState::Failed, Err(error), now);
        match (kind, at) {
            (Kind::User, _) => {
                if let Some(job) = self.jobs.get(&id) {
                    let reason = if unknown_task {
                        format!("unknown task {task:?} on the node: {reason}")
                    } else {
                        reason
                    };
                    fx.status.push(ClusterStatus::JobFailed {
                        job: job.info(),
                        reason,
                    });
                }
            }
            (_, Some(at)) => {
                self.setup_failed(fx, at, format!("setup task {task:?}: {reason}"), now)
            }
            _ => {}
        }
        self.dispatch(fx);
    }

    pub(crate) fn ended(&mut self, fx: &mut Effects, id: JobId, exit: Exit, now: Instant) {
        let Some(job) = self.jobs.get(&id) else {
            return;
        };
        if job.state != JobState::Running {
            return;
        }
        let (kind, at, terminate, task) = (job.kind, job.node, job.terminate, job.task.clone());
        let state = if terminate {
            JobState::Terminated
        } else if exit.is_returned() {
            JobState::Finished
        } else {
            JobState::Failed
        };
        if let Some(node) = at.and_then(|at| self.node_mut(at)) {
            node.done += 1;
        }
        match kind {
            Kind::User => {
                self.close_job(id, state, Ok(exit.clone()), now);
                if let Some(job) = self.jobs.get(&id) {
                    let info = job.info();
                    fx.status.push(if terminate {
                        ClusterStatus::JobTerminated { job: info, exit }
                    } else {
                        ClusterStatus::JobFinished { job: info, exit }
                    });
                }
            }
            Kind::NodeSetup | Kind::ServerSetup(_) => {
                let verdict = match exit.get::<Result<(), String>>() {
                    Some(Ok(())) => Ok(()),
                    Some(Err(why)) => Err(why),
                    None => Err(outcome::describe(&exit)),
                };
                self.close_job(id, state, Ok(exit), now);
                let Some(at) = at else { return };
                let usable = self.node(at).is_some_and(|n| {
                    matches!(
                        n.state,
                        NodeState::Discovered | NodeState::Initialised | NodeState::Suspended
                    )
                });
                match (verdict, kind) {
                    (Ok(()), Kind::NodeSetup) if usable => self.node_initialised(fx, at),
                    (Ok(()), Kind::ServerSetup(slot)) if usable => self.slot_ready(fx, at, slot),
                    (Err(why), _) if usable => {
                        self.setup_failed(fx, at, format!("setup task {task:?} failed: {why}"), now)
                    }
                    _ => {}
                }
            }
        }
        self.dispatch(fx);
    }

    pub(crate) fn avail(&mut self, at: Location, avail: NodeAvail) {
        if let Some(node) = self.node_mut(at) {
            node.info.avail = avail;
        }
    }

    /// The node's service ended (`lost`: its node stopped answering): its running jobs
    /// are abandoned.
    pub(crate) fn service_ended(
        &mut self,
        fx: &mut Effects,
        service: &TaskRef,
        lost: bool,
        now: Instant,
    ) {
        let Some(node) = self
            .nodes
            .iter_mut()
            .find(|n| n.service.as_ref() == Some(service))
        else {
            return;
        };
        let at = node.location;
        node.service = None;
        let was = node.state;
        let info = node.info.clone();
        let running: Vec<JobId> = node.running.iter().copied().collect();
        node.close_slots(fx);
        if matches!(was, NodeState::Closed | NodeState::Abandoned) {
            return;
        }
        if lost && was != NodeState::Failed {
            node.state = NodeState::Disconnected;
            fx.status.push(ClusterStatus::NodeDisconnected(info));
            fx.zombies.push((at, node.epoch));
        } else if was != NodeState::Failed {
            node.state = NodeState::Closed;
            fx.status.push(ClusterStatus::NodeClosed(info));
        }
        tracing::warn!(node = %at, jobs = running.len(), lost, "cluster node gone");
        for id in running {
            let Some(job) = self.jobs.get(&id) else {
                continue;
            };
            let kind = job.kind;
            self.close_job(id, JobState::Abandoned, Err(JobError::Abandoned(at)), now);
            match self.jobs.get(&id) {
                Some(job) if kind == Kind::User => {
                    fx.status.push(ClusterStatus::JobAbandoned(job.info()));
                }
                _ => {}
            }
        }
        if !lost {
            self.fail_targeted(fx, at, "it closed", now);
        }
        self.dispatch(fx);
    }

    /// The zombie period of a disconnected node is over.
    pub(crate) fn zombie(&mut self, fx: &mut Effects, at: Location, epoch: u64, now: Instant) {
        let Some(node) = self.node_mut(at) else {
            return;
        };
        if node.epoch != epoch || node.state != NodeState::Disconnected {
            return;
        }
        node.state = NodeState::Abandoned;
        fx.status
            .push(ClusterStatus::NodeAbandoned(node.info.clone()));
        self.fail_targeted(fx, at, "it was abandoned", now);
    }

    /// Suspends (`on`) or resumes a node.
    pub(crate) fn suspend(
        &mut self,
        fx: &mut Effects,
        at: Location,
        on: bool,
    ) -> Result<(), String> {
        let Some(node) = self.node_mut(at) else {
            return Err(format!("no node {at}"));
        };
        match (node.state, on) {
            (NodeState::Initialised, true) => {
                node.state = NodeState::Suspended;
                fx.status
                    .push(ClusterStatus::NodeSuspended(node.info.clone()));
                Ok(())
            }
            (NodeState::Suspended, false) => {
                node.state = NodeState::Initialised;
                fx.status
                    .push(ClusterStatus::NodeResumed(node.info.clone()));
                self.dispatch(fx);
                Ok(())
            }
            (NodeState::Suspended, true) | (NodeState::Initialised, false) => Ok(()),
            (state, _) => Err(format!("node {at} is {state:?}, not initialised")),
        }
    }

    /// Asks job `id` to end: a waiting job is dropped; a running one gets a throw, then
    /// is terminated after the grace period.
    pub(crate) fn terminate(
        &mut self,
        fx: &mut Effects,
        id: JobId,
        now: Instant,
    ) -> Result<(), String> {
        let Some(job) = self.jobs.get_mut(&id) else {
            return Err(format!("no job {id}"));
        };
        if job.kind != Kind::User {
            return Err(format!("no job {id}"));
        }
        match job.state {
            JobState::Waiting => {
                self.waiting.retain(|j| *j != id);
                self.close_job(id, JobState::Terminated, Err(JobError::Cancelled), now);
                if let Some(job) = self.jobs.get(&id) {
                    fx.status.push(ClusterStatus::JobTerminated {
                        job: job.info(),
                        exit: Exit::Terminated,
                    });
                }
                Ok(())
            }
            JobState::Running => {
                job.terminate = true;
                let service = job
                    .node
                    .and_then(|at| self.nodes.iter().find(|n| n.location == at))
                    .and_then(|n| n.service.clone());
                if let Some(service) = service {
                    fx.sends.push((
                        service,
                        NodeOp::Terminate {
                            job: id,
                            grace_ms: self.rules.grace_ms,
                        },
                    ));
                }
                Ok(())
            }
            state => Err(format!("job {id} has ended ({state:?})")),
        }
    }

    /// Marks the user jobs still open abandoned (the client gives up waiting).
    pub(crate) fn abandon_open(&mut self, fx: &mut Effects, now: Instant) {
        let open: Vec<(JobId, Option<Location>)> = self
            .jobs
            .values()
            .filter(|j| j.kind == Kind::User && j.is_open())
            .map(|j| (j.id, j.node))
            .collect();
        self.waiting.clear();
        for (id, at) in open {
            let error = match at {
                Some(at) => JobError::Abandoned(at),
                None => JobError::Cancelled,
            };
            self.close_job(id, JobState::Abandoned, Err(error), now);
            if let Some(job) = self.jobs.get(&id) {
                fx.status.push(ClusterStatus::JobAbandoned(job.info()));
            }
        }
    }

    /// User jobs waiting or running.
    pub(crate) fn open_jobs(&self) -> usize {
        self.jobs
            .values()
            .filter(|j| j.kind == Kind::User && j.is_open())
            .count()
    }

    /// Says goodbye to every node still in use.
    pub(crate) fn close_nodes(&mut self, fx: &mut Effects) {
        for node in &mut self.nodes {
            if let Some(service) = node.service.take() {
                fx.sends.push((service, NodeOp::Bye));
            }
            node.close_slots(fx);
            if matches!(
                node.state,
                NodeState::Discovered | NodeState::Initialised | NodeState::Suspended
            ) {
                node.state = NodeState::Closed;
                fx.status.push(ClusterStatus::NodeClosed(node.info.clone()));
            }
        }
    }

    /// The state as the dashboard shows it.
    pub(crate) fn views(&self, t0: Instant) -> (Vec<NodeView>, Vec<JobView>) {
        let ms = |t: Instant| t.saturating_duration_since(t0).as_millis() as u64;
        let nodes = self
            .nodes
            .iter()
            .map(|n| NodeView {
                name: n.info.name.clone(),
                location: n.location.to_string(),
                state: n.state,
                slots: n.slots.len() as u32,
                busy: n.busy(),
                running: n.running.len() as u32,
                done: n.done,
                platform: n.info.platform.clone(),
                cpu_available: n.info.avail.cpu_available,
                memory_available: n.info.avail.memory_available,
            })
            .collect();
        let view = |j: &JobEntry| JobView {
            id: j.id,
            task: j.task.clone(),
            node: j.node.map(|n| n.to_string()).unwrap_or_default(),
            state: j.state,
            started_ms: j.started.map(ms),
            duration_ms: match (j.started, j.ended) {
                (Some(s), Some(e)) => Some(e.saturating_duration_since(s).as_millis() as u64),
                _ => None,
            },
            outcome: j.outcome.clone(),
        };
        let user = || self.jobs.values().filter(|j| j.kind == Kind::User);
        let mut jobs: Vec<JobView> = user().filter(|j| j.is_open()).map(view).collect();
        let mut done: Vec<&JobEntry> = user().filter(|j| !j.is_open()).collect();
        done.sort_by_key(|j| std::cmp::Reverse(j.ended));
        jobs.extend(done.into_iter().take(MAX_FINISHED_SHOWN).map(view));
        (nodes, jobs)
    }
}

/// How many finished jobs a snapshot lists at most.
const MAX_FINISHED_SHOWN: usize = 200;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_availability_is_shown_as_unknown_not_zero() {
        let mut st = State::new(Rules {
            node_setup: None,
            server_setup: None,
            allocations: Vec::new(),
            grace_ms: 0,
        });
        let at: Location = std::net::SocketAddr::from(([127, 0, 0, 1], 9)).into();
        st.nodes.push(NodeEntry::new(at));
        let t0 = Instant::now();
        let (nodes, _) = st.views(t0);
        assert_eq!(nodes[0].cpu_available, None);
        assert_eq!(nodes[0].memory_available, None);

        st.avail(
            at,
            NodeAvail {
                cpu_available: Some(0.0),
                memory_available: Some(1 << 20),
                ..NodeAvail::default()
            },
        );
        let (nodes, _) = st.views(t0);
        assert_eq!(nodes[0].cpu_available, Some(0.0), "a measured 0 stays 0");
        assert_eq!(nodes[0].memory_available, Some(1 << 20));
    }
}
