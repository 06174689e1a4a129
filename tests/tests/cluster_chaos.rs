//! D7 of the reliability plan: a dispycos-like scheduler under `kill -9`.
//!
//! Three `cluster_node` processes on loopback (two slots each) run short jobs for a
//! client in this process; five times during the run a node chosen at random is killed
//! with SIGKILL, and a fresh node process takes its place (the client reaches it with
//! `net::peer`, and `discover(true)` makes it a cluster node). The client acts as a
//! scheduler that retries what is lost: a job reported abandoned is submitted again.
//!
//! Checked: every job submission reaches exactly one terminal status (finished,
//! failed, terminated or abandoned), so nothing is silently lost and nothing is
//! reported twice; every logical job ends exactly once, done (possibly after retries)
//! or failed, with its own correct result; no result comes twice; and each kill is
//! detected (the node's `NodeDisconnected`) within the heartbeat bound of the client's
//! node (100 ms x 4 missed = 400 ms), plus [`SLACK`] for a busy machine's scheduling.
//!
//! Scale: the plan's full scale by default, [`DEFAULT_JOBS`] = 10,000 jobs, which take
//! about 8 s (about 25 s with starting and stopping the processes) in a debug build on
//! a two-core machine; `RCOS_D7_JOBS=N` runs another number. The kills' moments and
//! victims come from a seed, printed first; `RCOS_D7_SEED=N` replays them. The figures
//! measured are printed at the end (`D7: ...`, shown with `--nocapture`).
//!
//! ```text
//! RCOS_D7_JOBS=10000 CARGO_TARGET_DIR=... cargo test -p rcos-tests --all-features \
//!     --test cluster_chaos -- --nocapture
//! ```
#![cfg(unix)]

mod cluster_support;

#[path = "../../examples/shared/cluster_jobs.rs"]
mod cluster_jobs;

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cluster_jobs::compute;
use cluster_support::{NodeProcess, client_runtime, start_node};
use rcos::TaskRef;
use rcos::cluster::{Cluster, ClusterStatus, Job, JobId};
use rcos::net::Location;
use rcos_tests::PATIENCE;

/// Jobs run unless `RCOS_D7_JOBS` says otherwise.
const DEFAULT_JOBS: usize = 10_000;
/// Random kills in a run.
const KILLS: usize = 5;
/// Nodes at any time.
const NODES: usize = 3;
/// Jobs submitted and not yet ended at most: enough to keep every slot busy.
const WINDOW: usize = 24;
/// The client's heartbeat bound: [`rcos_tests::node_with`]'s 100 ms, 4 missed.
const HEARTBEAT_BOUND: Duration = Duration::from_millis(400);
/// Allowed on top of the heartbeat bound for the test process's own scheduling on a busy
/// two-core machine (the detection itself comes from the dead node's closed sockets).
const SLACK: Duration = Duration::from_secs(1);
/// The whole run's limit.
const LIMIT: Duration = Duration::from_secs(15 * 60);

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// xorshift64*: enough randomness for choosing victims and moments, and replayable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the controller thread (which starts and kills processes, blocking) tells the
/// test's task.
enum Control {
    /// Node `killed` was killed with SIGKILL at `when`; `new` runs in its place.
    Replaced {
        killed: Location,
        when: Instant,
        new: Location,
    },
}

/// Runs on its own thread: kills the node at position `n` of its list when told, and
/// starts another in its place.
fn controller(mut nodes: Vec<NodeProcess>, orders: mpsc::Receiver<usize>, to: TaskRef) {
    let mut spawned = nodes.len();
    while let Ok(n) = orders.recv() {
        let victim = nodes.remove(n);
        let killed = victim.at;
        let when = Instant::now();
        victim.process.kill();
        spawned += 1;
        let name = format!("d7-node-{spawned}");
        let fresh = start_node(&["--cpus", "2", "--name", &name, "--pulse-ms", "500"]);
        let new = fresh.at;
        nodes.insert(n, fresh);
        if to
            .send_local(Control::Replaced { killed, when, new })
            .is_err()
        {
            break;
        }
    }
}

/// One logical job of the scheduler and its attempts.
#[derive(Default)]
struct Logical {
    attempts: u32,
    /// How it ended: `Some(true)` done, `Some(false)` failed.
    ended: Option<bool>,
}

#[derive(Default)]
struct Tally {
    finished: usize,
    failed: usize,
    abandoned: usize,
    terminal: HashMap<JobId, u32>,
    detections: Vec<Duration>,
}

#[test]
fn d7_every_job_ends_exactly_once_under_random_kills() {
    let jobs_n = env_u64("RCOS_D7_JOBS").map_or(DEFAULT_JOBS, |n| n as usize);
    let seed = env_u64("RCOS_D7_SEED").unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        (nanos ^ u64::from(std::process::id())) | 1
    });
    println!("D7: seed {seed} (RCOS_D7_SEED={seed} replays the kills), {jobs_n} jobs");
    let mut rng = Rng(seed | 1);
    // The kills: after which number of finished jobs, and which node (by position).
    let mut plan: Vec<(usize, usize)> = (1..=KILLS)
        .map(|k| {
            let spread = (jobs_n / (KILLS + 1)).max(1) as u64;
            let base = k * jobs_n / (KILLS + 1);
            let at = base + rng.below(spread / 2 + 1) as usize;
            (
                at.min(jobs_n.saturating_sub(1)),
                rng.below(NODES as u64) as usize,
            )
        })
        .collect();
    plan.sort();
    println!("D7: kills after {plan:?} (finished jobs, node position)");

    let nodes: Vec<NodeProcess> = (0..NODES)
        .map(|n| {
            let name = format!("d7-node-{n}");
            start_node(&["--cpus", "2", "--name", &name, "--pulse-ms", "500"])
        })
        .collect();
    let first: Vec<Location> = nodes.iter().map(|n| n.at).collect();
    let rt = client_runtime();
    let started = Instant::now();
    let body = async move {
        let me = TaskRef::current().unwrap();
        let (orders, control) = mpsc::channel();
        let to = me.clone();
        let control = std::thread::spawn(move || controller(nodes, control, to));
        let cluster = Cluster::builder()
            .nodes(first)
            .discover(true)
            .status_task(me.clone())
            .zombie_period(Duration::from_secs(2))
            .start()
            .unwrap();
        cluster.wait_nodes(NODES, PATIENCE).await.unwrap();

        let mut logical: Vec<Logical> = (0..jobs_n).map(|_| Logical::default()).collect();
        let mut of: HashMap<JobId, (usize, Job)> = HashMap::new();
        let mut tally = Tally::default();
        let mut disconnected: HashMap<Location, Instant> = HashMap::new();
        let mut kills: BTreeMap<Location, Instant> = BTreeMap::new();
        let mut plan = plan.into_iter().peekable();
        let (mut next, mut open, mut ended) = (0usize, 0usize, 0usize);
        let mut replacing = false;

        let submit =
            |n: usize, logical: &mut Vec<Logical>, of: &mut HashMap<JobId, (usize, Job)>| {
                // 0 to 4 ms of "work": jobs are running when a node dies.
                let ms = (n as u64 * 7) % 5;
                let job = cluster.submit(compute, (n as u64, ms)).unwrap();
                logical[n].attempts += 1;
                of.insert(job.id(), (n, job));
            };

        while ended < jobs_n || replacing {
            while open < WINDOW && next < jobs_n {
                submit(next, &mut logical, &mut of);
                next += 1;
                open += 1;
            }
            if !replacing && plan.peek().is_some_and(|(at, _)| ended >= *at) {
                let (_, victim) = plan.next().unwrap();
                orders.send(victim).unwrap();
                replacing = true;
            }
            let msg = match me.receive_timeout(PATIENCE).await {
                Ok(Some(msg)) => msg,
                _ => panic!(
                    "D7: nothing happened in {PATIENCE:?}: {ended} of {jobs_n} ended, {open} open"
                ),
            };
            let msg = match msg.downcast_any::<Control>() {
                Ok(Control::Replaced { killed, when, new }) => {
                    kills.insert(killed, when);
                    // Reaching the new node makes it a cluster node (discover(true)).
                    rcos::net::peer(new).await.unwrap();
                    replacing = false;
                    continue;
                }
                Err(msg) => msg,
            };
            let Ok(status) = msg.downcast::<ClusterStatus>() else {
                continue;
            };
            let id_of = |status: &ClusterStatus| match status {
                ClusterStatus::JobFinished { job, .. }
                | ClusterStatus::JobFailed { job, .. }
                | ClusterStatus::JobTerminated { job, .. }
                | ClusterStatus::JobAbandoned(job) => Some(job.id),
                _ => None,
            };
            if let Some(id) = id_of(&status) {
                *tally.terminal.entry(id).or_default() += 1;
            }
            match status {
                ClusterStatus::JobFinished { job, exit } => {
                    let (n, _) = of[&job.id];
                    let value = exit.get::<u64>();
                    assert_eq!(value, Some(n as u64 * n as u64), "job {n}: {exit}");
                    assert!(
                        logical[n].ended.is_none(),
                        "job {n} delivered a result twice"
                    );
                    logical[n].ended = Some(true);
                    tally.finished += 1;
                    ended += 1;
                    open -= 1;
                }
                ClusterStatus::JobFailed { job, reason } => {
                    let (n, _) = of[&job.id];
                    println!("D7: job {n} failed: {reason}");
                    assert!(logical[n].ended.is_none(), "job {n} ended twice");
                    logical[n].ended = Some(false);
                    tally.failed += 1;
                    ended += 1;
                    open -= 1;
                }
                ClusterStatus::JobAbandoned(job) => {
                    // Its node was lost: the scheduler runs it again.
                    let (n, _) = of[&job.id];
                    assert!(
                        logical[n].ended.is_none(),
                        "job {n} abandoned after it ended"
                    );
                    tally.abandoned += 1;
                    submit(n, &mut logical, &mut of);
                }
                ClusterStatus::JobTerminated { job, exit } => {
                    panic!("D7: job {} terminated, which nobody asked: {exit}", job.id)
                }
                ClusterStatus::NodeDisconnected(info) => {
                    disconnected.insert(info.location, Instant::now());
                }
                _ => {}
            }
        }
        // Every result is in: close, then look for anything reported late or twice.
        cluster.close(false).await;
        loop {
            let status = me
                .receive_type_timeout::<ClusterStatus>(PATIENCE)
                .await
                .unwrap()
                .expect("ClientClosed comes");
            if let ClusterStatus::NodeDisconnected(info) = &status {
                disconnected.insert(info.location, Instant::now());
            }
            match status {
                ClusterStatus::ClientClosed => break,
                ClusterStatus::JobFinished { job, .. }
                | ClusterStatus::JobFailed { job, .. }
                | ClusterStatus::JobTerminated { job, .. }
                | ClusterStatus::JobAbandoned(job) => {
                    panic!("D7: job {} reported again after every job ended", job.id)
                }
                _ => {}
            }
        }
        drop(orders);
        control.join().unwrap();

        // The client's own view agrees: each final attempt's result, once.
        for (id, (n, job)) in &of {
            let result = job.finish().await;
            match result {
                Ok(exit) => assert_eq!(exit.get::<u64>(), Some(*n as u64 * *n as u64)),
                Err(error) => assert!(
                    logical[*n].attempts > 1 || logical[*n].ended == Some(false),
                    "job {n} (submission {id}): {error}"
                ),
            }
        }
        for (killed, when) in &kills {
            let seen = disconnected
                .get(killed)
                .unwrap_or_else(|| panic!("D7: the kill of {killed} was never reported"));
            tally.detections.push(seen.saturating_duration_since(*when));
        }
        (tally, logical, of.len())
    };
    let (tally, logical, submissions) = rt
        .block_on(async move { rcos::time::timeout(LIMIT, body).await })
        .expect("D7 finishes within its limit");
    let took = started.elapsed();

    // Exactly one terminal status for every submission: none lost, none twice.
    assert_eq!(
        tally.terminal.len(),
        submissions,
        "a submission never ended"
    );
    let twice: Vec<_> = tally.terminal.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "submissions with several endings: {twice:?}"
    );
    assert_eq!(submissions, jobs_n + tally.abandoned);
    // Every logical job ended once: done (perhaps after retries) or failed.
    assert!(logical.iter().all(|l| l.ended.is_some()));
    assert_eq!(tally.finished + tally.failed, jobs_n);
    let retried_done = logical
        .iter()
        .filter(|l| l.attempts > 1 && l.ended == Some(true))
        .count();
    assert_eq!(tally.detections.len(), KILLS, "every kill was detected");
    let worst = tally.detections.iter().max().copied().unwrap_or_default();
    println!(
        "D7: {jobs_n} jobs, {KILLS} kills in {took:.1?}: {} done ({retried_done} after a retry), \
         {} failed, {} attempts abandoned and retried, 0 lost, 0 twice; detection after \
         kill -9: {:?} (worst {worst:?}, bound {HEARTBEAT_BOUND:?})",
        tally.finished, tally.failed, tally.abandoned, tally.detections
    );
    assert!(
        worst <= HEARTBEAT_BOUND + SLACK,
        "a kill took {worst:?} to detect: {:?}",
        tally.detections
    );
}
