//! Failure detection, partitions and chaos (RELIABILITY.md §5.D): a peer process killed
//! (D1) or stopped and resumed (D2); symmetric and asymmetric partitions (D3, D4), a
//! flapping link (D5) and a slow link (D6: `tc … tbf` plus the fault proxy's delay)
//! between network namespaces the tests make themselves.
//!
//! The peers are child processes: this test binary started again as a node (see
//! `rcos_tests::netns`). The namespace tests need root and `ip netns`; where they are
//! not available they print `skipped: <why>` and pass. Each test prints the figure its
//! row names; only generous bounds are asserted.
//!
//! D8 (C3 and D1–D4 again, in a deterministic simulation over many seeds) is in
//! `net_simulation.rs`, on `rcos::sim`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcos::net::{self, NodeConfig, PeerStatus};
use rcos::task::MonitorStatus;
use rcos::{Exit, Interrupt, Runtime, TaskRef};
use rcos_tests::netns::{self, Child, ChildConfig, Cut, Pair};
use rcos_tests::{PATIENCE, SECRET};

/// The helper test a child node process runs; nothing when run by hand.
#[test]
#[ignore = "runs only as a child node started by the other tests"]
fn child_node() {
    netns::child_main();
}

/// The heartbeat of these tests: 200 ms, 4 missed, so down within about 0.8–1 s.
const BEAT: Duration = Duration::from_millis(200);
const MISSES: u32 = 4;

fn test_node(name: &str) -> Runtime {
    rcos_tests::log_if_asked();
    Runtime::builder()
        .workers(2)
        .name(name.to_string())
        .node(
            NodeConfig::new()
                .secret(SECRET)
                .heartbeat(BEAT, MISSES)
                .reconnect_grace(Duration::from_millis(500)),
        )
        .build()
        .expect("node starts")
}

fn child_config(name: &str) -> ChildConfig {
    let mut c = ChildConfig::new(name);
    c.heartbeat = BEAT;
    c.misses = MISSES;
    c
}

fn percentiles(ms: &mut [f64]) -> String {
    if ms.is_empty() {
        return "none".into();
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    format!(
        "min {:.0} ms, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        at(0.0),
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

/// Monitor notices: which task, how it ended, when the notice came.
type Notices = Arc<Mutex<Vec<(TaskRef, Exit, Instant)>>>;

/// Monitors `n` idle tasks spawned on the node at `at`, from `watchers` tasks; each
/// notice is recorded with when it arrived. Returns once all are monitored.
fn watch_many(rt: &Runtime, at: SocketAddr, n: usize, watchers: usize) -> (Vec<TaskRef>, Notices) {
    let notices: Notices = Arc::default();
    let mut tasks = Vec::new();
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..watchers {
        let (notices, tx) = (notices.clone(), tx.clone());
        let share = n / watchers;
        tasks.push(rt.spawn(move |me| async move {
            let handle = rcos::Handle::current().expect("in a runtime");
            for _ in 0..share {
                let t = handle
                    .spawn_at(at.into(), netns::idle, ())
                    .await
                    .expect("spawned there");
                me.monitor(&t).unwrap();
            }
            let _ = tx.send(());
            for _ in 0..share {
                let s = me.receive_type::<MonitorStatus>().await?;
                notices
                    .lock()
                    .unwrap()
                    .push((s.task, s.exit, Instant::now()));
            }
            Ok::<(), Interrupt>(())
        }));
    }
    for _ in 0..watchers {
        rx.recv_timeout(Duration::from_secs(120))
            .expect("the monitors are set up");
    }
    (tasks, notices)
}

/// Peer-status events at `rt`, as they happen: (online, when).
fn status_events(rt: &Runtime) -> Receiver<(bool, Instant)> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    rt.spawn(move |me| async move {
        net::peer_status(&me).unwrap();
        let _ = ready_tx.send(());
        loop {
            let s = me.receive_type::<PeerStatus>().await?;
            if tx.send((s.online, Instant::now())).is_err() {
                return Ok::<(), Interrupt>(());
            }
        }
    });
    ready_rx.recv_timeout(PATIENCE).expect("subscribed");
    rx
}

/// Waits for the next status event that is `online` (or offline), keeping every event
/// seen in `seen`.
fn next_status(
    rx: &Receiver<(bool, Instant)>,
    online: bool,
    seen: &mut Vec<(bool, Instant)>,
) -> Instant {
    loop {
        let (on, at) = rx.recv_timeout(PATIENCE).unwrap_or_else(|_| {
            panic!(
                "no peer {} within {PATIENCE:?}",
                if online { "online" } else { "offline" }
            )
        });
        seen.push((on, at));
        if on == online {
            return at;
        }
    }
}

/// D1: kill -9 of a peer process with 1,000 remote monitors on it, under a stream of
/// messages: every monitor told, fast (the RST/FIN path, not the heartbeat).
#[test]
fn d1_kill_9_tells_every_monitor_within_the_bound() {
    let a = test_node("d1-a");
    let child = Child::spawn("child_node", None, &child_config("d1-b"));
    let at = child.location;
    let n = 1000;
    // Connected first: concurrent first connections to one place fail but one (the
    // dial's result reaches only one of its waiters — a known bug, see the report).
    let target = rcos_tests::run(&a, async move {
        let h = rcos::Handle::current().unwrap();
        h.spawn_at(at.into(), netns::idle, ()).await.unwrap()
    });
    let (watchers, notices) = watch_many(&a, at, n, 10);
    // 10,000 msg/s to a task there while it dies.
    let stream = netns::stream_to(&a, 1, target, 10_000);
    let killed = Instant::now();
    child.running.kill();
    for w in &watchers {
        assert!(
            w.value_timeout(PATIENCE).is_some_and(|e| e.is_returned()),
            "a watcher did not hear of all its tasks"
        );
    }
    stream.send(()).unwrap();
    let notices = notices.lock().unwrap();
    let mut ms: Vec<f64> = notices
        .iter()
        .map(|(_, _, t)| t.duration_since(killed).as_secs_f64() * 1e3)
        .collect();
    let lost = notices
        .iter()
        .filter(|(_, e, _)| matches!(e, Exit::NodeLost))
        .count();
    let mut per_task: HashMap<String, u32> = HashMap::new();
    for (t, _, _) in notices.iter() {
        *per_task.entry(format!("{t:?}")).or_default() += 1;
    }
    let twice = per_task.values().filter(|c| **c > 1).count();
    let worst = ms.iter().copied().fold(0.0, f64::max);
    println!(
        "D1: kill -9 with {n} remote monitors under 10k msg/s: {} told ({lost} node lost, {twice} twice); detection {}",
        notices.len(),
        percentiles(&mut ms)
    );
    assert_eq!(notices.len(), n);
    assert_eq!(per_task.len(), n, "every monitor told");
    assert_eq!(twice, 0);
    // The plan's bound is 1 s; a loaded two-core machine gets a generous 10 s.
    assert!(worst < 10_000.0, "D1: a monitor waited {worst:.0} ms");
}

/// D2: SIGSTOP a peer (a hung process: its connection stays open) for a few heartbeat
/// timeouts, then SIGCONT: down within the heartbeat bound; afterwards a fresh session
/// (new "online"), and nothing it sent before it was declared down arrives after.
#[test]
fn d2_a_stopped_peer_is_declared_down_and_comes_back_fresh() {
    let a = test_node("d2-a");
    let status = status_events(&a);
    let mut child = Child::spawn("child_node", None, &child_config("d2-b"));
    let at = child.location;
    // A sink here that records when each message arrived and when it was sent.
    let got: Arc<Mutex<Vec<(u64, u64, Instant)>>> = Arc::default();
    let got2 = got.clone();
    let sink = a.spawn(move |me| async move {
        loop {
            let (_, seq, sent) = me.receive_type::<netns::StreamMsg>().await?;
            got2.lock().unwrap().push((seq, sent, Instant::now()));
        }
        #[allow(unreachable_code)]
        Ok::<(), Interrupt>(())
    });
    sink.register("d2-sink").unwrap();
    let here = a.location().unwrap().addr();
    let (watchers, notices) = watch_many(&a, at, 100, 1);
    rcos_tests::run(&a, async move { net::peer(at).await.unwrap() });
    let mut seen = Vec::new();
    next_status(&status, true, &mut seen);
    // The child streams to the sink, 2,000 messages a second.
    child.say(&format!("stream {here} d2-sink 2000"));
    child.expect("streaming");
    let stop_wall = netns::wall_us();
    let stopped = Instant::now();
    child.signal("STOP");
    let (w, n) = (&watchers[0], 100);
    assert!(
        w.value_timeout(PATIENCE).is_some_and(|e| e.is_returned()),
        "the monitors were not told"
    );
    let detect = notices
        .lock()
        .unwrap()
        .iter()
        .map(|(_, _, t)| t.duration_since(stopped))
        .max()
        .unwrap_or_default();
    // Stay stopped a few heartbeat timeouts in all (the plan: 30 s; scaled down).
    let stall = BEAT * MISSES * 4;
    let left = stall.saturating_sub(stopped.elapsed());
    let (_tx, rx) = std::sync::mpsc::channel::<()>();
    let _ = rx.recv_timeout(left); // the stall itself, not a synchronisation
    child.signal("CONT");
    let resumed = Instant::now();
    // It went down (while stopped), and comes back: a new "online" after it.
    // The first down after the stop (a flap before it, on a loaded machine, is not it).
    let down_at = loop {
        let at = next_status(&status, false, &mut seen);
        if at >= stopped {
            break at;
        }
    };
    next_status(&status, true, &mut seen);
    let back = resumed.elapsed();
    // Wait for a message on the new session, then count (status events meanwhile are
    // kept: a second "online" would show in them).
    let settle = Instant::now();
    while got
        .lock()
        .unwrap()
        .last()
        .is_none_or(|(_, _, t)| *t < settle)
    {
        assert!(settle.elapsed() < PATIENCE, "no message on the new session");
        if let Ok(e) = status.recv_timeout(Duration::from_millis(20)) {
            seen.push(e);
        }
    }
    // Statuses of one peer strictly alternate (RELIABILITY.md, D5): two "online"s in a
    // row would be two sessions at once. A second down and up after the resume (a
    // heartbeat missed on a stalled machine) is a new session, told as such.
    let sequence: Vec<String> = seen
        .iter()
        .map(|(on, t)| {
            let ms = if *t >= stopped {
                t.duration_since(stopped).as_millis() as i128
            } else {
                -(stopped.duration_since(*t).as_millis() as i128)
            };
            format!("{}@{ms}ms", if *on { "up" } else { "down" })
        })
        .collect();
    assert!(
        seen.windows(2).all(|w| w[0].0 != w[1].0),
        "D2: statuses do not alternate (relative to the stop): {sequence:?}"
    );
    let ups_after = seen.iter().filter(|(on, t)| *on && *t > down_at).count();
    let downs_after = seen.iter().filter(|(on, t)| !*on && *t > down_at).count();
    // Messages sent before the stop that arrived after the node was declared down.
    let stale = got
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, sent, arrived)| *sent < stop_wall && *arrived > down_at)
        .count();
    let told = notices.lock().unwrap().len();
    println!(
        "D2: SIGSTOP for {:?}: {told}/{n} monitors told, detection {detect:?} (bound {:?}); back online {back:?} after SIGCONT ({ups_after} fresh session); pre-down messages after down: {stale}; statuses {sequence:?}",
        stall,
        BEAT * (MISSES + 1)
    );
    assert_eq!(told, n);
    assert!(
        detect < BEAT * (MISSES + 1) + Duration::from_secs(5),
        "D2: detection took {detect:?}"
    );
    assert!(
        ups_after >= 1 && ups_after >= downs_after,
        "D2: a fresh session after resume: {sequence:?}"
    );
    assert_eq!(
        stale, 0,
        "D2: a message from before the stop arrived after down"
    );
    child.say("quit");
}

/// Runs `body` with a namespace pair, or prints why it is skipped.
fn with_pair(row: &str, body: impl FnOnce(&Pair)) {
    match Pair::new() {
        Ok(pair) => body(&pair),
        Err(why) => println!("{row}: skipped: {why}"),
    }
}

/// A child node in `ns` listening on `addr`.
fn child_in(ns: &netns::Netns, name: &str, addr: std::net::Ipv4Addr) -> Child {
    let mut c = child_config(name);
    c.bind = SocketAddr::new(addr.into(), 0);
    Child::spawn("child_node", Some(ns), &c)
}

/// Elapsed milliseconds between two wall-clock stamps printed by children.
fn stamp(line: &str) -> u64 {
    line.split_whitespace()
        .last()
        .and_then(|w| w.parse().ok())
        .unwrap_or(0)
}

/// A partition between two child nodes in their own namespaces: each monitors 50 tasks
/// on the other; after `cut`, both sides must hear within the bound; after healing,
/// they reconnect.
fn partition(row: &str, cut: Cut) {
    with_pair(row, |pair| {
        let mut x = child_in(&pair.a, &format!("{row}-x"), pair.addr_a);
        let mut y = child_in(&pair.b, &format!("{row}-y"), pair.addr_b);
        for c in [&mut x, &mut y] {
            c.say("status");
            c.expect("status-on");
        }
        x.say(&format!("peer {}", y.location));
        x.expect("peered");
        y.say(&format!("peer {}", x.location));
        y.expect("peered");
        for c in [&mut x, &mut y] {
            // "peer-up" may come just before "peered".
            if !c.running.seen().iter().any(|l| l.starts_with("peer-up")) {
                c.expect("peer-up");
            }
        }
        x.say(&format!("watch {} 50", y.location));
        y.say(&format!("watch {} 50", x.location));
        x.expect("watching 50");
        y.expect("watching 50");
        let start = netns::wall_us();
        pair.partition(cut, true).expect("the partition starts");
        x.expect("notices 50");
        y.expect("notices 50");
        // The time of each side's last notice (the line before "notices").
        let last = |c: &Child| {
            c.running
                .seen()
                .iter()
                .rev()
                .find(|l| l.starts_with("notice "))
                .map(|l| stamp(l))
                .unwrap_or(0)
        };
        let (dx, dy) = (
            last(&x).saturating_sub(start) / 1000,
            last(&y).saturating_sub(start) / 1000,
        );
        let held = Duration::from_secs(2);
        let (_tx, rx) = std::sync::mpsc::channel::<()>();
        let _ = rx.recv_timeout(held); // the partition lasts; not a synchronisation
        let healed = netns::wall_us();
        pair.partition(cut, false).expect("the partition ends");
        let up_after = |c: &mut Child| loop {
            let at = stamp(&c.expect("peer-up"));
            if at >= healed {
                break at;
            }
        };
        let (back_x, back_y) = (up_after(&mut x), up_after(&mut y));
        let back = back_x.max(back_y).saturating_sub(healed) / 1000;
        println!(
            "{row}: partition ({cut:?}): all 50 monitors told on both sides, x in {dx} ms, y in {dy} ms (bound {} ms); reconnected {back} ms after healing",
            (BEAT * (MISSES + 1)).as_millis()
        );
        let bound = (BEAT * (MISSES + 1) + Duration::from_secs(5)).as_millis() as u64;
        assert!(dx < bound && dy < bound, "{row}: detection {dx}/{dy} ms");
        assert!(back < 20_000, "{row}: reconnection took {back} ms");
        x.say("quit");
        y.say("quit");
    });
}

/// D3: a symmetric partition (blackhole routes both ways), then healed.
#[test]
fn d3_symmetric_partition_is_detected_on_both_sides_and_heals() {
    partition("D3", Cut::Both);
}

/// D4: an asymmetric partition (only A→B dropped): both sides still declare down.
#[test]
fn d4_asymmetric_partition_is_detected_on_both_sides() {
    partition("D4", Cut::AToB);
}

/// D5: the link flaps (down/up every `period`): up and down strictly alternate for
/// each peer, and the node's open files and threads come back to their baseline.
#[test]
fn d5_flapping_link_alternates_and_returns_to_baseline() {
    with_pair("D5", |pair| {
        let mut x = child_in(&pair.a, "d5-x", pair.addr_a);
        let mut y = child_in(&pair.b, "d5-y", pair.addr_b);
        x.say("status");
        x.expect("status-on");
        x.say(&format!("peer {}", y.location));
        x.expect("peered");
        // "peer-up" may come just before "peered".
        if !x.running.seen().iter().any(|l| l.starts_with("peer-up")) {
            x.expect("peer-up");
        }
        let baseline = resources(x.pid);
        let flaps = 6;
        let period = BEAT * (MISSES + 2);
        let (_tx, rx) = std::sync::mpsc::channel::<()>();
        for _ in 0..flaps {
            pair.link(false).expect("link down");
            x.expect("peer-down");
            let _ = rx.recv_timeout(period / 2); // the flap's length, not a synchronisation
            pair.link(true).expect("link up");
            x.expect("peer-up");
        }
        // Strict alternation: the lines in order are up, down, up, down, …, up.
        let events: Vec<bool> = x
            .running
            .seen()
            .iter()
            .filter_map(|l| {
                if l.starts_with("peer-up") {
                    Some(true)
                } else if l.starts_with("peer-down") {
                    Some(false)
                } else {
                    None
                }
            })
            .collect();
        let alternate = events.windows(2).all(|w| w[0] != w[1]);
        let after = resources(x.pid);
        println!(
            "D5: {flaps} flaps of {period:?}: {} status changes, strictly alternating {alternate}; fds {} -> {}, threads {} -> {}, RSS {} -> {} KiB",
            events.len(),
            baseline.0,
            after.0,
            baseline.1,
            after.1,
            baseline.2,
            after.2
        );
        assert!(alternate, "D5: up/down did not alternate: {events:?}");
        assert_eq!(events.len(), 2 * flaps + 1);
        assert!(
            after.0 <= baseline.0 + 2,
            "D5: file descriptors grew {} -> {}",
            baseline.0,
            after.0
        );
        assert!(after.1 <= baseline.1 + 2, "D5: threads grew");
        let _ = &mut y;
        x.say("quit");
        y.say("quit");
    });
}

/// (open file descriptors, threads, RSS KiB) of a process.
fn resources(pid: u32) -> (usize, usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (fds, field("Threads:") as usize, field("VmRSS:"))
}

/// Echoes each `Request<Vec<u8>>` back (D6's far end).
#[rcos::task(remote)]
async fn echo(task: TaskRef) -> Result<(), Interrupt> {
    loop {
        let req = task.receive_type::<rcos::Request<Vec<u8>>>().await?;
        let body = req.body().clone();
        let _ = req.reply(body);
    }
}

/// D6: a slow link — 1 Mbit/s each way (`tc … tbf` on a veth to a namespace) plus
/// 50 ms ± 20 ms each way from the fault proxy — carrying request/reply traffic that
/// keeps it about full for 30 s, with the **default** heartbeat (1 s, 4 missed): no
/// NodeDown on either side and no monitor told the node was lost. Prints the
/// throughput and the latency percentiles.
#[test]
fn d6_a_slow_link_with_delay_and_jitter_gives_no_false_node_down() {
    use rcos_tests::fault_proxy::{Dir, FaultProxy};
    let link = match netns::Link::new() {
        Ok(link) => link,
        Err(why) => {
            println!("D6: skipped: {why}");
            return;
        }
    };
    if let Err(why) = link.shape("1mbit") {
        println!("D6: skipped: {why}");
        return;
    }
    // Every connection goes through a proxy that delays each way: this node dials the
    // child through `to_child`; the child would dial back through `to_here`.
    let to_child = FaultProxy::new();
    let to_here = FaultProxy::bind(SocketAddr::new(link.addr_host.into(), 0));
    for proxy in [&to_child, &to_here] {
        proxy.set(Dir::Both, |f| {
            f.delay = Duration::from_millis(50);
            f.jitter = Duration::from_millis(20);
        });
    }
    rcos_tests::log_if_asked();
    let defaults = NodeConfig::new();
    let a = Runtime::builder()
        .workers(2)
        .name("d6-a")
        .node(
            defaults
                .secret(SECRET)
                .bind(SocketAddr::new(link.addr_host.into(), 0))
                .external_address(to_here.addr()),
        )
        .build()
        .expect("node starts");
    to_here.forward_to(a.bound_address().unwrap());
    let mut config = ChildConfig::new("d6-b");
    config.bind = SocketAddr::new(link.addr_ns.into(), 0);
    // The defaults of NodeConfig::new(): a heartbeat a second, four missed, 2 s grace.
    config.heartbeat = Duration::from_secs(1);
    config.misses = 4;
    config.grace = Duration::from_secs(2);
    config.external = Some(to_child.addr());
    let mut child = Child::spawn("child_node", Some(&link.ns), &config);
    to_child.forward_to(child.location);
    child.say("status");
    child.expect("status-on");
    let status = status_events(&a);
    let there = to_child.addr();
    rcos_tests::run(&a, async move { net::peer(there).await.unwrap() });
    let mut seen = Vec::new();
    next_status(&status, true, &mut seen);

    // The far end, monitored: a notice would mean the node was declared lost.
    let notices: Notices = Arc::default();
    let (echo_task, watcher) = {
        let notices = notices.clone();
        rcos_tests::run(&a, async move {
            let h = rcos::Handle::current().unwrap();
            let echo_task = h.spawn_at(there.into(), echo, ()).await.unwrap();
            let target = echo_task.clone();
            let watcher = rcos::spawn(move |me| async move {
                me.monitor(&target).unwrap();
                let s = me.receive_type::<MonitorStatus>().await?;
                notices
                    .lock()
                    .unwrap()
                    .push((s.task, s.exit, Instant::now()));
                Ok::<(), Interrupt>(())
            });
            (echo_task, watcher)
        })
    };

    // 8 callers, 8 KiB each way per call: up to 64 KiB in flight each way, about half
    // a second of the link's queue.
    let (callers, size, run_for) = (8, 8 * 1024, Duration::from_secs(30));
    let start = Instant::now();
    let tasks: Vec<TaskRef> = (0..callers)
        .map(|_| {
            let echo_task = echo_task.clone();
            a.spawn(move |_| async move {
                let body = vec![7u8; size];
                let (mut ms, mut failed) = (Vec::new(), 0u32);
                while start.elapsed() < run_for {
                    let sent = Instant::now();
                    match echo_task
                        .call::<_, Vec<u8>>(body.clone(), Duration::from_secs(30))
                        .await
                    {
                        Ok(back) if back.len() == size => {
                            ms.push(sent.elapsed().as_secs_f64() * 1e3)
                        }
                        _ => failed += 1,
                    }
                }
                (ms, failed)
            })
        })
        .collect();
    let (mut ms, mut failed) = (Vec::new(), 0u32);
    for t in &tasks {
        let (m, f) = t
            .value_timeout(run_for + PATIENCE * 2)
            .expect("a caller finished")
            .value()
            .unwrap()
            .take::<(Vec<f64>, u32)>()
            .unwrap();
        ms.extend(m);
        failed += f;
    }
    let took = start.elapsed().as_secs_f64();
    let downs_here =
        seen.iter().filter(|(on, _)| !on).count() + status.try_iter().filter(|(on, _)| !on).count();
    let told = notices.lock().unwrap().len();
    watcher.terminate();
    let calls = ms.len();
    let bytes = calls as f64 * size as f64;
    let stats = to_child.stats();
    child.say("quit");
    let lines = child.running.finish();
    let downs_there = lines.iter().filter(|l| l.starts_with("peer-down")).count();
    println!(
        "D6: 1 Mbit/s tbf each way + 50 ms ± 20 ms proxy delay each way, default heartbeat (1 s x 4), {callers} callers x {} KiB each way for {took:.1} s: \
         {calls} calls ({failed} failed), {:.0} KiB/s each way ({:.0} % of 1 Mbit/s; proxy carried {} KiB up, {} KiB down); call latency {}; \
         NodeDown: {downs_here} here, {downs_there} there; monitors told the node was lost: {told}",
        size / 1024,
        bytes / took / 1024.0,
        bytes / took * 8.0 / 1e6 * 100.0,
        stats.bytes_up / 1024,
        stats.bytes_down / 1024,
        percentiles(&mut ms)
    );
    assert_eq!(downs_here, 0, "D6: a false NodeDown here");
    assert_eq!(downs_there, 0, "D6: a false NodeDown on the child");
    assert_eq!(told, 0, "D6: a monitor was told the node was lost");
    assert_eq!(failed, 0, "D6: calls failed");
    assert!(calls > 0);
}
