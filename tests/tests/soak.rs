//! F1, the soak: three nodes with mixed traffic and a fault every so often, checking
//! the invariants of C1/C3/C7/D1 all along and the resources at the end.
//!
//! ```text
//! cargo test -p rcos-tests --all-features --release --test soak -- --duration 10m
//! cargo test -p rcos-tests --all-features --test soak -- --duration 2m --fault-every 20s
//! ```
//!
//! Without `--duration` it prints `soak: skipped: ...` and passes (so that `cargo test
//! --workspace` does not run it).
//!
//! The nodes: A, this process, and B and C, child processes (this binary started
//! again, see `rcos_tests::netns`), each reachable only through its own fault proxy
//! (A too), so that a partition is a stall of the proxies. The three proxies run in a
//! fourth process (this binary with `--proxy-host 3`), so that A's memory is the node's
//! and the harness's, not the proxies' threads and buffers. The traffic:
//!
//! * B and C each stream numbered messages to a sink on A with plain `send`, 2,000 a
//!   second — at A: never a duplicate, never out of order, and no more gaps in a
//!   stream than faults it lived through;
//! * A delivers (acknowledged, with a timeout) to a sink on each child: every delivery
//!   returns (done or an error) within its timeout;
//! * A broadcasts numbers on a registered channel the children subscribe to — they
//!   report any number that goes back;
//! * A monitors 100 idle tasks on each child: after each fault every one of them is
//!   told, within the heartbeat bound.
//!
//! The faults, one every `--fault-every` (default 60 s), at random: `kill -9` of B or
//! C, then a restart on the same address (a new incarnation); or a partition of A from
//! both for a few heartbeat timeouts. At the end: A's RSS slope after warm-up (MiB a
//! minute), its open files and threads against their level after warm-up.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcos::channel::Channel;
use rcos::net::NodeConfig;
use rcos::task::MonitorStatus;
use rcos::{Interrupt, Runtime, TaskRef};
use rcos_tests::fault_proxy::{Dir, FaultProxy};
use rcos_tests::netns::{self, Child, ChildConfig};
use rcos_tests::programs::Running;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

// Counts the heap in use, so that a growing RSS can be told apart: live allocations
// that grow are kept memory (a leak, or a table that grows); a flat heap under a growing
// RSS is the allocator's arenas and fragmentation.
#[global_allocator]
static HEAP: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Bytes of heap in use now.
fn heap_in_use() -> u64 {
    // (A realloc's growth or shrinkage is counted in these two as well.)
    let s = HEAP.stats();
    s.bytes_allocated.saturating_sub(s.bytes_deallocated) as u64
}

const BEAT: Duration = Duration::from_millis(200);
const MISSES: u32 = 4;
const WATCHED: usize = 100;

fn parse_duration(s: &str) -> Option<Duration> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n.parse().ok()?;
    match unit {
        "" | "s" => Some(Duration::from_secs(n)),
        "m" | "min" => Some(Duration::from_secs(60 * n)),
        "h" => Some(Duration::from_secs(3600 * n)),
        _ => None,
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| {
            args.iter()
                .find_map(|a| a.strip_prefix(&format!("{name}=")).map(String::from))
        })
}

fn main() {
    if std::env::var(netns::CHILD_ENV).is_ok() {
        netns::child_main();
        return;
    }
    rcos_tests::log_if_asked();
    let args: Vec<String> = std::env::args().collect();
    if let Some(n) = arg(&args, "--proxy-host").and_then(|n| n.parse().ok()) {
        proxy_host(n);
        return;
    }
    let Some(duration) = arg(&args, "--duration").and_then(|d| parse_duration(&d)) else {
        println!(
            "soak: skipped: no --duration given (e.g. `cargo test -p rcos-tests --all-features --test soak -- --duration 2m`)"
        );
        return;
    };
    let every = arg(&args, "--fault-every")
        .and_then(|d| parse_duration(&d))
        .unwrap_or(Duration::from_secs(60));
    let seed = arg(&args, "--seed")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(netns::wall_us);
    println!("soak: {duration:?}, a fault every {every:?}, seed {seed}");
    let mut report = Soak::new(seed).run(duration, every);
    // The plan's bounds (RELIABILITY.md F1, F2) are for runs of 10 minutes or more (1 MiB
    // a minute) and of an hour or more (1 MiB an hour); a short
    // run's slope still carries the allocator's warm-up after faults, so it gets a
    // looser bound that only catches a real leak.
    report.rss_limit_mib_min = if duration >= Duration::from_secs(3600) {
        1.0 / 60.0 // F2: under 1 MiB an hour
    } else if duration >= Duration::from_secs(600) {
        1.0
    } else {
        8.0
    };
    println!("{report}");
    if !report.ok() {
        eprintln!("soak: FAILED");
        std::process::exit(1);
    }
}

/// What the soak saw.
#[derive(Debug, Default)]
struct Report {
    faults: Vec<String>,
    streams: usize,
    received: u64,
    duplicates: u64,
    reordered: u64,
    gaps: u64,
    /// Streams with more gaps than faults they lived through.
    silent: Vec<String>,
    delivered: u64,
    deliver_errors: u64,
    deliver_hangs: u64,
    broadcasts: u64,
    broadcast_disorder: usize,
    monitors_told: usize,
    monitors_due: usize,
    detection_ms: Detections,
    rss_slope_mib_min: f64,
    /// The bound on that slope for this run's length.
    rss_limit_mib_min: f64,
    /// The slope of the heap in use after warm-up (MiB a minute), and its level at the
    /// first and the last sample (MiB).
    heap_slope_mib_min: f64,
    heap: (f64, f64),
    /// The same for the RSS, and for its anonymous part.
    rss: (f64, f64),
    anon_slope_mib_min: f64,
    anon: (f64, f64),
    /// The slopes of the RSS, its anonymous part and the heap in use over the second
    /// half of the run, in MiB an hour (reported, not judged).
    late_slopes_mib_h: [f64; 3],
    /// A's tasks at the first and the last sample after warm-up.
    tasks: (usize, usize),
    fds: (usize, usize),
    threads: (usize, usize),
    problems: Vec<String>,
}

impl Report {
    fn ok(&self) -> bool {
        self.duplicates == 0
            && self.reordered == 0
            && self.silent.is_empty()
            && self.deliver_hangs == 0
            && self.broadcast_disorder == 0
            && self.monitors_told == self.monitors_due
            && self.rss_slope_mib_min < self.rss_limit_mib_min
            && self.fds.1 <= self.fds.0 + 8
            && self.threads.1 <= self.threads.0 + 4
            && self.problems.is_empty()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = |q: f64| self.detection_ms.quantile(q);
        writeln!(
            f,
            "F1 soak: faults {}: {}",
            self.faults.len(),
            self.faults.join(", ")
        )?;
        writeln!(
            f,
            "F1 send: {} streams, {} received, duplicated {}, reordered {}, gaps {} (streams with a gap not matched by a fault: {:?})",
            self.streams, self.received, self.duplicates, self.reordered, self.gaps, self.silent
        )?;
        writeln!(
            f,
            "F1 deliver: {} acknowledged, {} errors, {} hung past their timeout",
            self.delivered, self.deliver_errors, self.deliver_hangs
        )?;
        writeln!(
            f,
            "F1 broadcast: {} published, out of order at a subscriber {}",
            self.broadcasts, self.broadcast_disorder
        )?;
        writeln!(
            f,
            "F1 monitors: told {}/{}, detection p50 {} ms p99 {} ms max {} ms",
            self.monitors_told,
            self.monitors_due,
            p(0.5),
            p(0.99),
            p(1.0)
        )?;
        writeln!(
            f,
            "F1 resources (node A): RSS slope after warm-up {:.3} MiB/min (bound {:.3} MiB/min); fds {} -> {}; threads {} -> {}",
            self.rss_slope_mib_min,
            self.rss_limit_mib_min,
            self.fds.0,
            self.fds.1,
            self.threads.0,
            self.threads.1
        )?;
        writeln!(
            f,
            "F1 memory (node A) after warm-up: RSS {:.2} -> {:.2} MiB; anonymous {:.2} -> {:.2} MiB, slope {:.4} MiB/min; heap in use {:.2} -> {:.2} MiB, slope {:.4} MiB/min; tasks {} -> {}",
            self.rss.0,
            self.rss.1,
            self.anon.0,
            self.anon.1,
            self.anon_slope_mib_min,
            self.heap.0,
            self.heap.1,
            self.heap_slope_mib_min,
            self.tasks.0,
            self.tasks.1
        )?;
        let [rss, anon, heap] = self.late_slopes_mib_h;
        writeln!(
            f,
            "F1 memory (node A) over the second half: slopes RSS {rss:.2} MiB/h, anonymous {anon:.2} MiB/h, heap in use {heap:.2} MiB/h"
        )?;
        if !self.problems.is_empty() {
            writeln!(f, "F1 problems: {:?}", self.problems)?;
        }
        write!(f, "F1 {}", if self.ok() { "passed" } else { "FAILED" })
    }
}

/// A stream's tally at A's sink.
#[derive(Debug, Default)]
struct Stream {
    next: u64,
    received: u64,
    duplicates: u64,
    reordered: u64,
    gaps: u64,
    /// Faults it lived through (set by the driver).
    faults: u64,
}

type Streams = Arc<Mutex<BTreeMap<u64, Stream>>>;

/// A task monitoring a child's tasks, and when each notice came.
type Watcher = (TaskRef, Arc<Mutex<Vec<Instant>>>);

struct Soak {
    rng: u64,
    a: Runtime,
    /// The fault proxies of B, C and A ([`B`], [`C`], [`A`]), in a process of their own.
    proxies: Proxies,
    children: Vec<Option<Child>>,
    streams: Streams,
    report: Report,
    /// Per child: the monitor task of the current round.
    watchers: Vec<Option<Watcher>>,
}

impl Soak {
    fn new(seed: u64) -> Soak {
        let mut proxies = Proxies::start();
        let a = Runtime::builder()
            .workers(2)
            .name("soak-a")
            .node(
                NodeConfig::new()
                    .secret(rcos_tests::SECRET)
                    .external_address(proxies.addr(A))
                    .heartbeat(BEAT, MISSES)
                    .reconnect_grace(Duration::from_millis(500)),
            )
            .build()
            .expect("node A starts");
        proxies.forward(A, a.bound_address().unwrap());
        Soak {
            rng: seed | 1,
            a,
            proxies,
            children: vec![None, None],
            streams: Arc::default(),
            report: Report::default(),
            watchers: vec![None, None],
        }
    }

    fn rand(&mut self, n: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % n
    }

    fn start_child(&mut self, i: usize) {
        let name = ["soak-b", "soak-c"][i];
        let mut c = ChildConfig::new(name);
        c.heartbeat = BEAT;
        c.misses = MISSES;
        // A new port each time: peers know the node by its proxy's address, which stays
        // the same (C4 restarts on the very same port, without a proxy).
        c.bind = "127.0.0.1:0".parse().expect("an address");
        c.external = Some(self.proxies.addr(i));
        // The old process's connections may hold the port a moment after it died (the
        // proxy resets them): a few attempts.
        let mut attempt = 0;
        let mut child = loop {
            attempt += 1;
            let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Child::spawn("child", None, &c)
            }));
            match spawned {
                Ok(child) => break child,
                Err(e) if attempt < 10 => {
                    eprintln!("soak: {name} did not start (attempt {attempt}): {e:?}");
                    self.proxies.reset(i);
                    let (_tx, rx) = std::sync::mpsc::channel::<()>();
                    let _ = rx.recv_timeout(Duration::from_millis(500));
                }
                Err(e) => std::panic::resume_unwind(e),
            }
        };
        self.proxies.forward(i, child.location);
        let a = self.proxies.addr(A);
        for (command, answer) in [
            (format!("stream {a} soak-sink 2000"), "streaming"),
            (format!("subscribe {a} soak-news"), "subscribed"),
        ] {
            child.say(&command);
            let heard = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                child.expect(answer);
            }));
            if heard.is_err() {
                self.report.problems.push(format!(
                    "{name} (restart {}): no {answer:?} after {command:?}",
                    self.report.faults.len()
                ));
            }
        }
        self.children[i] = Some(child);
        self.watch(i);
    }

    /// Monitors WATCHED idle tasks on child `i` (spawned through its proxy).
    fn watch(&mut self, i: usize) {
        let at = self.proxies.addr(i);
        let told: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let out = told.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let watcher = self.a.spawn(move |me| async move {
            let handle = rcos::Handle::current().expect("a runtime");
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut n = 0;
            let mut failures = 0;
            while n < WATCHED && Instant::now() < deadline {
                match handle.spawn_at(at.into(), netns::idle, ()).await {
                    Ok(t) => {
                        me.monitor(&t).unwrap();
                        n += 1;
                    }
                    Err(e) => {
                        failures += 1;
                        if failures <= 3 {
                            println!("soak: spawn at {at} failed: {e}");
                        }
                        // Back off: the node may be coming back.
                        rcos::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            let _ = tx.send(n);
            for _ in 0..n {
                me.receive_type::<MonitorStatus>().await?;
                out.lock().unwrap().push(Instant::now());
            }
            Ok::<(), Interrupt>(())
        });
        match rx.recv_timeout(Duration::from_secs(90)) {
            Ok(n) if n == WATCHED => self.watchers[i] = Some((watcher, told)),
            other => self.report.problems.push(format!(
                "could not monitor {WATCHED} tasks on child {i}: {other:?}"
            )),
        }
    }

    /// Waits until every monitor on child `i` has been told (bounded); records.
    fn expect_told(&mut self, i: usize, since: Instant) {
        let Some((watcher, told)) = self.watchers[i].take() else {
            return;
        };
        self.report.monitors_due += WATCHED;
        let limit = BEAT * (MISSES + 1) + Duration::from_secs(10);
        let _ = watcher.value_timeout(limit);
        let told = told.lock().unwrap();
        self.report.monitors_told += told.len();
        for t in told.iter() {
            self.report
                .detection_ms
                .add(t.saturating_duration_since(since).as_millis() as u64);
        }
        if told.len() < WATCHED {
            self.report.problems.push(format!(
                "child {i}: only {}/{WATCHED} monitors told within {limit:?}",
                told.len()
            ));
            watcher.terminate();
        }
    }

    fn mark_faults(&self) {
        for s in self.streams.lock().unwrap().values_mut() {
            s.faults += 1;
        }
    }

    fn run(mut self, duration: Duration, every: Duration) -> Report {
        // The sink of the children's streams.
        let streams = self.streams.clone();
        let sink = self.a.spawn(move |me| async move {
            loop {
                let (id, seq, _) = me.receive_type::<netns::StreamMsg>().await?;
                let mut all = streams.lock().unwrap();
                let s = all.entry(id).or_default();
                s.received += 1;
                if seq == s.next {
                    s.next += 1;
                } else if seq > s.next {
                    s.gaps += 1;
                    s.next = seq + 1;
                } else if seq + 1 == s.next {
                    s.duplicates += 1; // the same one again
                } else {
                    s.reordered += 1; // went further back
                }
            }
            #[allow(unreachable_code)]
            Ok::<(), Interrupt>(())
        });
        sink.register("soak-sink").unwrap();
        // The broadcast channel.
        let news = Channel::new_on(&self.a, "soak-news").unwrap();
        news.register().unwrap();
        for i in 0..2 {
            self.start_child(i);
        }
        // A's deliveries to the children's sinks, and its broadcasts.
        let stats: Arc<Mutex<(u64, u64, u64, u64)>> = Arc::default();
        let (stats2, proxies): (_, Vec<SocketAddr>) =
            (stats.clone(), [B, C].map(|i| self.proxies.addr(i)).to_vec());
        let news2 = news.clone();
        let traffic = self.a.spawn(move |me| async move {
            let mut sinks: Vec<Option<TaskRef>> = vec![None, None];
            let mut n = 0u64;
            loop {
                if me.try_receive().ok().flatten().is_some() {
                    return;
                }
                n += 1;
                let _ = news2.send(n);
                stats2.lock().unwrap().3 += 1;
                for (i, at) in proxies.iter().enumerate() {
                    if sinks[i].is_none() {
                        sinks[i] =
                            TaskRef::locate_at((*at).into(), "child-sink", Duration::from_secs(2))
                                .await
                                .ok();
                    }
                    let Some(sink) = sinks[i].clone() else {
                        continue;
                    };
                    let timeout = Duration::from_secs(2);
                    let t0 = Instant::now();
                    let r = sink.deliver(n, timeout).await;
                    let mut s = stats2.lock().unwrap();
                    match r {
                        Ok(()) => s.0 += 1,
                        Err(_) => {
                            s.1 += 1;
                            sinks[i] = None; // locate it again (it may be a new process)
                        }
                    }
                    if t0.elapsed() > timeout + Duration::from_secs(5) {
                        s.2 += 1;
                    }
                }
                rcos::time::sleep(Duration::from_millis(5)).await;
            }
        });
        let start = Instant::now();
        // Kept as running sums, not as a list: the harness's own memory must not grow
        // with the run.
        let mut samples = Series::default();
        let mut heap_samples = Series::default();
        let mut anon_samples = Series::default();
        // The same over the second half of the run only (for information: what is left
        // of the growth once the allocator has settled).
        let mut late = [Series::default(), Series::default(), Series::default()];
        let mut tasks: Option<(usize, usize)> = None;
        let mut baseline: Option<(usize, usize)> = None;
        let mut last = (0, 0);
        let mut next_fault = start + every;
        let (_tx, idle) = std::sync::mpsc::channel::<()>();
        while start.elapsed() < duration {
            // Sample resources once a second (the soak's clock, not a synchronisation).
            let _ = idle.recv_timeout(Duration::from_secs(1));
            let (fds, threads, rss, anon) = resources();
            let heap = heap_in_use() / 1024;
            let t = start.elapsed().as_secs_f64() / 60.0;
            if start.elapsed() > every.min(Duration::from_secs(30)) {
                samples.add(t, rss);
                heap_samples.add(t, heap);
                anon_samples.add(t, anon);
                if start.elapsed() >= duration / 2 {
                    for (series, kib) in late.iter_mut().zip([rss, anon, heap]) {
                        series.add(t, kib);
                    }
                }
                baseline.get_or_insert((fds, threads));
                let n = self.a.task_count();
                tasks.get_or_insert((n, n)).1 = n;
            }
            last = (fds, threads);
            let secs = start.elapsed().as_secs();
            if secs % 10 == 0 || std::env::var("RCOS_SOAK_VERBOSE").is_ok() {
                let conns = self.proxies.connections();
                let watching: Vec<usize> = self
                    .watchers
                    .iter()
                    .map(|w| w.as_ref().map_or(0, |(t, _)| t.mailbox_len()))
                    .collect();
                println!(
                    "soak: {secs} s: fds {fds}, threads {threads}, RSS {rss} KiB (anonymous {anon}), heap {heap} KiB, tasks {}, queued at the sink {} and the watchers {watching:?}, connections made through the proxies {conns:?}",
                    self.a.task_count(),
                    sink.mailbox_len()
                );
            }
            if Instant::now() >= next_fault && start.elapsed() + every / 2 < duration {
                self.fault();
                next_fault = Instant::now() + every;
            }
        }
        traffic.send(()).unwrap();
        let _ = traffic.value_timeout(Duration::from_secs(30));
        // The children's reports of broadcast order.
        for c in self.children.iter_mut().flatten() {
            c.say("quit");
            let _ = c.running.expect_quietly_done();
        }
        let mut r = std::mem::take(&mut self.report);
        {
            let (ok, err, hung, published) = *stats.lock().unwrap();
            r.delivered = ok;
            r.deliver_errors = err;
            r.deliver_hangs = hung;
            r.broadcasts = published;
        }
        for (id, s) in self.streams.lock().unwrap().iter() {
            r.streams += 1;
            r.received += s.received;
            r.duplicates += s.duplicates;
            r.reordered += s.reordered;
            r.gaps += s.gaps;
            if s.gaps > s.faults {
                r.silent
                    .push(format!("{id}: {} gaps, {} faults", s.gaps, s.faults));
            }
        }
        r.broadcast_disorder += self
            .children
            .iter()
            .flatten()
            .map(|c| {
                c.running
                    .seen()
                    .iter()
                    .filter(|l| l.contains("broadcast-out-of-order"))
                    .count()
            })
            .sum::<usize>();
        r.rss_slope_mib_min = samples.slope() / 1024.0;
        r.heap_slope_mib_min = heap_samples.slope() / 1024.0;
        r.anon_slope_mib_min = anon_samples.slope() / 1024.0;
        r.rss = samples.ends_mib();
        r.anon = anon_samples.ends_mib();
        r.heap = heap_samples.ends_mib();
        r.late_slopes_mib_h = late.map(|s| s.slope() * 60.0 / 1024.0);
        r.tasks = tasks.unwrap_or_default();
        let base = baseline.unwrap_or(last);
        r.fds = (base.0, last.0);
        r.threads = (base.1, last.1);
        r
    }

    fn fault(&mut self) {
        match self.rand(3) {
            i @ (0 | 1) => {
                let name = ["B", "C"][i as usize];
                let i = i as usize;
                let since = Instant::now();
                if let Some(child) = self.children[i].take() {
                    // Its broadcast-order reports die with it: count them first.
                    self.report.broadcast_disorder += child
                        .running
                        .seen()
                        .iter()
                        .filter(|l| l.contains("broadcast-out-of-order"))
                        .count();
                    child.running.kill();
                }
                // Its connections through the proxy end (RST) with it.
                self.proxies.reset(i);
                self.mark_faults();
                self.expect_told(i, since);
                self.report.faults.push(format!("kill -9 {name}"));
                println!("soak: fault: kill -9 {name}");
                self.start_child(i);
            }
            _ => {
                let since = Instant::now();
                self.proxies.stall_all();
                self.mark_faults();
                for i in 0..2 {
                    self.expect_told(i, since);
                }
                // Held a few heartbeat timeouts in all (the fault's length).
                let hold = (BEAT * MISSES * 3).saturating_sub(since.elapsed());
                let (_tx, rx) = std::sync::mpsc::channel::<()>();
                let _ = rx.recv_timeout(hold);
                self.proxies.clear_all();
                self.report.faults.push("partition A|B,C".into());
                println!("soak: fault: partition A|B,C (healed)");
                for i in 0..2 {
                    self.watch(i);
                }
            }
        }
    }
}

trait QuietDone {
    fn expect_quietly_done(&mut self) -> Option<String>;
}

impl QuietDone for rcos_tests::programs::Running {
    /// Waits for the child's last line (it prints `child-done` as it ends).
    fn expect_quietly_done(&mut self) -> Option<String> {
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.expect("child-done")));
        result.ok()
    }
}

/// Proxy indices: B's, C's and A's.
const B: usize = 0;
const C: usize = 1;
const A: usize = 2;

/// The soak's fault proxies, run by this binary started again with `--proxy-host 3`, so
/// that their threads and buffers are not counted in node A's memory. Driven by lines on
/// its standard input; each command is answered by one line.
struct Proxies {
    host: Running,
    addrs: Vec<SocketAddr>,
}

impl Proxies {
    fn start() -> Proxies {
        let exe = std::env::current_exe().expect("the soak binary's path");
        let mut host = Running::spawn("proxy host", exe, &["--proxy-host", "3"], None);
        let line = host.expect("proxies ");
        let addrs = line
            .split_whitespace()
            .skip(1)
            .map(|a| a.parse().expect("a proxy's address"))
            .collect();
        Proxies { host, addrs }
    }

    fn addr(&self, i: usize) -> SocketAddr {
        self.addrs[i]
    }

    fn ask(&mut self, command: &str) -> String {
        self.host.type_line(command);
        self.host.expect("done ")
    }

    fn forward(&mut self, i: usize, to: SocketAddr) {
        self.ask(&format!("forward {i} {to}"));
    }

    fn reset(&mut self, i: usize) {
        self.ask(&format!("reset {i}"));
    }

    fn stall_all(&mut self) {
        self.ask("stall");
    }

    fn clear_all(&mut self) {
        self.ask("clear");
    }

    /// Connections made through each proxy so far.
    fn connections(&mut self) -> Vec<u64> {
        self.ask("stats")
            .split_whitespace()
            .skip(1)
            .filter_map(|n| n.parse().ok())
            .collect()
    }
}

/// The proxy host's main: `n` proxies, then commands from standard input until it ends.
fn proxy_host(n: usize) {
    use std::io::BufRead;
    let proxies: Vec<FaultProxy> = (0..n).map(|_| FaultProxy::new()).collect();
    let addrs: Vec<String> = proxies.iter().map(|p| p.addr().to_string()).collect();
    println!("proxies {}", addrs.join(" "));
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let proxy = |i: &str| i.parse::<usize>().ok().and_then(|i| proxies.get(i));
        match words[..] {
            ["forward", i, to] => {
                if let (Some(p), Ok(to)) = (proxy(i), to.parse()) {
                    p.forward_to(to);
                }
            }
            ["reset", i] => {
                if let Some(p) = proxy(i) {
                    p.reset();
                }
            }
            ["stall"] => proxies.iter().for_each(|p| p.stall(Dir::Both, true)),
            ["clear"] => proxies.iter().for_each(FaultProxy::clear),
            ["stats"] => {
                let counts: Vec<String> = proxies
                    .iter()
                    .map(|p| p.stats().connections.to_string())
                    .collect();
                println!("done {}", counts.join(" "));
                continue;
            }
            _ => {
                println!("unknown command: {line}");
                continue;
            }
        }
        println!("done {line}");
    }
}

/// Detection times in milliseconds, counted per millisecond up to the longest wait
/// for a notice (a longer one counts at that bound), so that the harness's own memory
/// does not grow with the run: its table is allocated once, before warm-up.
#[derive(Debug)]
struct Detections(Vec<u32>);

impl Default for Detections {
    fn default() -> Detections {
        let bound = (BEAT * (MISSES + 1) + Duration::from_secs(10)).as_millis() as usize;
        Detections(vec![0; bound + 1])
    }
}

impl Detections {
    fn add(&mut self, ms: u64) {
        let last = self.0.len() - 1;
        self.0[(ms as usize).min(last)] += 1;
    }

    /// The `q` quantile (0 to 1) in milliseconds; 0 when nothing was counted.
    fn quantile(&self, q: f64) -> u64 {
        let n: u64 = self.0.iter().map(|&c| u64::from(c)).sum();
        if n == 0 {
            return 0;
        }
        let rank = ((n - 1) as f64 * q).round() as u64;
        let mut seen = 0;
        for (ms, &c) in self.0.iter().enumerate() {
            seen += u64::from(c);
            if seen > rank {
                return ms as u64;
            }
        }
        (self.0.len() - 1) as u64
    }
}

/// Samples of (minutes, KiB), as the sums a least-squares slope needs.
#[derive(Debug, Default)]
struct Series {
    n: f64,
    sx: f64,
    sy: f64,
    sxy: f64,
    sxx: f64,
    first: Option<u64>,
    last: u64,
}

impl Series {
    fn add(&mut self, minutes: f64, kib: u64) {
        let y = kib as f64;
        self.n += 1.0;
        self.sx += minutes;
        self.sy += y;
        self.sxy += minutes * y;
        self.sxx += minutes * minutes;
        self.first.get_or_insert(kib);
        self.last = kib;
    }

    /// The least-squares slope: KiB a minute.
    fn slope(&self) -> f64 {
        let den = self.n * self.sxx - self.sx * self.sx;
        if self.n < 2.0 || den <= 0.0 {
            return 0.0;
        }
        (self.n * self.sxy - self.sx * self.sy) / den
    }

    /// The first and the last sample, in MiB.
    fn ends_mib(&self) -> (f64, f64) {
        let mib = |k: u64| k as f64 / 1024.0;
        (mib(self.first.unwrap_or(0)), mib(self.last))
    }
}

/// (open file descriptors, threads, RSS KiB, anonymous RSS KiB) of this process. The
/// rest of the RSS is file-backed: pages of the program and its libraries, read in as
/// code runs for the first time.
fn resources() -> (usize, usize, u64, u64) {
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (
        fds,
        field("Threads:") as usize,
        field("VmRSS:"),
        field("RssAnon:"),
    )
}
