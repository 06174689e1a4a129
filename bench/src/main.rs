//! The rcos benchmark: each workload on rcos and on the floor of its stack (raw
//! async-executor + async-channel doing the same work), in one run, with ratios.
//!
//! ```text
//! cargo run --release -p rcos-bench             # full run, median of 5
//! cargo run --release -p rcos-bench -- --quick  # smaller counts, median of 3
//! cargo run --release -p rcos-bench -- --pycos  # also pycos's netpycos, remote workloads
//! ```
//!
//! Besides the table it prints one line per figure,
//! `RESULT,<implementation>,<workload>,<value>,<unit>`, for scripts and the book.

mod floor;
mod memory;
mod rcos_impl;
mod remote;
mod sockets;

use std::time::Duration;

/// The sizes of one run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sizes {
    pub(crate) spawn: usize,
    pub(crate) pingpong: usize,
    pub(crate) calls: usize,
    pub(crate) fanin_each: usize,
    pub(crate) broadcast: usize,
    pub(crate) idle: usize,
    pub(crate) remote_oneway: usize,
    pub(crate) remote_rtt: usize,
    pub(crate) socket_rtt: usize,
    pub(crate) repeats: usize,
}

const FULL: Sizes = Sizes {
    spawn: 100_000,
    pingpong: 1_000_000,
    calls: 1_000_000,
    fanin_each: 1_000_000,
    broadcast: 100_000,
    idle: 100_000,
    remote_oneway: 1_000_000,
    remote_rtt: 100_000,
    socket_rtt: 100_000,
    repeats: 5,
};

const QUICK: Sizes = Sizes {
    spawn: 100_000,
    pingpong: 200_000,
    calls: 200_000,
    fanin_each: 250_000,
    broadcast: 20_000,
    idle: 100_000,
    remote_oneway: 200_000,
    remote_rtt: 20_000,
    socket_rtt: 20_000,
    repeats: 3,
};

/// A workload's figure: a value and the unit it is in.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Figure {
    value: f64,
    unit: Unit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Nanoseconds per operation (lower is better).
    NsPerOp,
    /// Million messages per second (higher is better).
    MMsgPerSec,
    /// Resident bytes per task (lower is better).
    BytesPerTask,
}

impl Unit {
    fn label(self) -> &'static str {
        match self {
            Unit::NsPerOp => "ns/op",
            Unit::MMsgPerSec => "M msg/s",
            Unit::BytesPerTask => "B/task",
        }
    }

    fn lower_is_better(self) -> bool {
        matches!(self, Unit::NsPerOp | Unit::BytesPerTask)
    }
}

pub(crate) fn per_op(elapsed: Duration, ops: usize) -> Figure {
    Figure {
        value: elapsed.as_nanos() as f64 / ops as f64,
        unit: Unit::NsPerOp,
    }
}

pub(crate) fn throughput(elapsed: Duration, msgs: usize) -> Figure {
    Figure {
        value: msgs as f64 / elapsed.as_secs_f64() / 1e6,
        unit: Unit::MMsgPerSec,
    }
}

/// One implementation of every workload.
pub(crate) trait Implementation {
    fn spawn_complete(&self, n: usize) -> Figure;
    fn pingpong(&self, n: usize) -> Figure;
    fn calls(&self, n: usize) -> Figure;
    fn fanin(&self, senders: usize, each: usize) -> Figure;
    /// `n` messages, each to `subscribers` receivers; throughput in deliveries.
    fn broadcast(&self, subscribers: usize, n: usize) -> Figure;
}

/// Runs one workload of one implementation in a child process and reads its figure.
#[allow(clippy::print_stderr)]
fn child_figure(workload: &str, imp: &str, quick: bool) -> Figure {
    let exe = std::env::current_exe().expect("the bench knows where it is");
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["--run-child", workload, imp]);
    if quick {
        cmd.arg("--quick");
    }
    let out = cmd.output().expect("the bench can run itself");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.lines().last().unwrap_or_default().split(',');
    let value = parts
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    let unit = match parts.next() {
        Some("M msg/s") => Unit::MMsgPerSec,
        Some("B/task") => Unit::BytesPerTask,
        _ => Unit::NsPerOp,
    };
    if !out.status.success() {
        eprintln!(
            "{workload} on {imp} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Figure { value, unit }
}

/// The child side of [`child_figure`]: `--run-child WORKLOAD IMPL [--quick]`.
#[allow(clippy::print_stdout)]
fn run_child(args: &[String]) {
    let workload = args.first().map(String::as_str).unwrap_or_default();
    let imp_name = args.get(1).map(String::as_str).unwrap_or_default();
    let sizes = if args.iter().any(|a| a == "--quick") {
        QUICK
    } else {
        FULL
    };
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    if workload == "socket_rtt" {
        let run = || match imp_name {
            "rcos" => sockets::rcos_roundtrip(sizes.socket_rtt, workers),
            "rcos-1t" => sockets::rcos_roundtrip(sizes.socket_rtt, 1),
            "floor" => sockets::floor_roundtrip(sizes.socket_rtt, workers),
            _ => sockets::floor_roundtrip(sizes.socket_rtt, 1),
        };
        let _ = run();
        let fig = median((0..sizes.repeats).map(|_| run()).collect());
        println!("{},{}", fig.value, fig.unit.label());
        return;
    }
    if let Some(remote) = workload.strip_prefix("remote_") {
        // Two nodes (one worker each) or two raw sockets: no thread-count variants.
        let run = || match (remote, imp_name) {
            ("oneway", "rcos") => remote::rcos_oneway(sizes.remote_oneway),
            ("oneway", _) => remote::floor_oneway(sizes.remote_oneway),
            (_, "rcos") => remote::rcos_roundtrip(sizes.remote_rtt),
            _ => remote::floor_roundtrip(sizes.remote_rtt),
        };
        let _ = run();
        let fig = median((0..sizes.repeats).map(|_| run()).collect());
        println!("{},{}", fig.value, fig.unit.label());
        return;
    }
    let imp: Box<dyn Implementation> = match imp_name {
        "rcos" => Box::new(rcos_impl::Rcos::new(workers)),
        "rcos-1t" => Box::new(rcos_impl::Rcos::new(1)),
        "floor" => Box::new(floor::Floor::new(workers)),
        _ => Box::new(floor::Floor::new(1)),
    };
    let run = |i: &dyn Implementation| match workload {
        "spawn_complete" => i.spawn_complete(sizes.spawn),
        "pingpong" => i.pingpong(sizes.pingpong),
        "call" => i.calls(sizes.calls),
        "broadcast_100" => i.broadcast(100, sizes.broadcast),
        _ => i.fanin(4, sizes.fanin_each),
    };
    // One untimed warm-up run, then the median of the timed ones.
    let _ = run(imp.as_ref());
    let figures: Vec<Figure> = (0..sizes.repeats).map(|_| run(imp.as_ref())).collect();
    let fig = median(figures);
    println!("{},{}", fig.value, fig.unit.label());
}

fn median(mut figures: Vec<Figure>) -> Figure {
    figures.sort_by(|a, b| a.value.total_cmp(&b.value));
    figures[figures.len() / 2]
}

#[allow(clippy::print_stdout)]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--run-child") {
        run_child(&args[pos + 1..]);
        return;
    }
    if let Some(pos) = args.iter().position(|a| a == "--memory-child") {
        memory::child(
            args.get(pos + 1).map(String::as_str),
            args.get(pos + 2).map(String::as_str),
        );
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    // `--only WORKLOAD` and `--impl NAME` narrow a run down (for profiling).
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|p| args.get(p + 1))
        .cloned();
    let only_impl = args
        .iter()
        .position(|a| a == "--impl")
        .and_then(|p| args.get(p + 1))
        .cloned();
    let sizes = if quick { QUICK } else { FULL };
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "rcos-bench: {} mode, {workers} cores, median of {} runs",
        if quick { "quick" } else { "full" },
        sizes.repeats
    );

    let chosen: Vec<&str> = ["rcos", "floor", "rcos-1t", "floor-1t"]
        .into_iter()
        .filter(|name| only_impl.as_deref().is_none_or(|o| o == *name))
        .collect();

    let workloads = [
        "spawn_complete",
        "pingpong",
        "call",
        "fanin_4x",
        "broadcast_100",
        "socket_rtt",
        "remote_oneway",
        "remote_rtt",
    ];

    let mut rows: Vec<(String, Vec<(String, Figure)>)> = Vec::new();
    for workload in workloads {
        if only.as_deref().is_some_and(|o| o != workload) {
            continue;
        }
        let mut row = Vec::new();
        let remote = workload.starts_with("remote_");
        for name in &chosen {
            if remote && name.ends_with("-1t") {
                continue;
            }
            // Each implementation runs each workload in a fresh process: no idle
            // threads, warm caches or allocator state of another one in the way.
            let fig = child_figure(workload, name, quick);
            println!(
                "RESULT,{name},{workload},{:.1},{}",
                fig.value,
                fig.unit.label()
            );
            row.push((name.to_string(), fig));
        }
        rows.push((workload.to_string(), row));
    }

    let mut row = Vec::new();
    for (imp, threads) in [("rcos", workers), ("floor", workers)] {
        if only.as_deref().is_some_and(|o| o != "idle_memory")
            || only_impl.as_deref().is_some_and(|o| o != imp)
        {
            continue;
        }
        let fig = memory::measure(imp, threads, sizes.idle);
        let name = format!("{imp}-{threads}t");
        println!(
            "RESULT,{name},idle_memory,{:.0},{}",
            fig.value,
            fig.unit.label()
        );
        row.push((name, fig));
    }
    rows.push(("idle_memory".to_string(), row));

    print_table(&rows);
    if args.iter().any(|a| a == "--pycos") {
        pycos_side_by_side(&rows, quick);
    }
}

/// Runs pycos's netpycos on the remote workloads (`bench/pycos/run.sh`, which installs
/// pycos into a virtual environment on first use) and prints its figures beside rcos's.
#[allow(clippy::print_stdout, clippy::print_stderr)]
fn pycos_side_by_side(rows: &[(String, Vec<(String, Figure)>)], quick: bool) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/pycos/run.sh");
    // pycos is slow: fewer messages keep its run under a minute.
    let (n, m) = if quick {
        ("20000", "1000")
    } else {
        ("100000", "5000")
    };
    let out = match std::process::Command::new("bash")
        .args([script, n, m])
        .output()
    {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            eprintln!(
                "pycos not measured: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return;
        }
        Err(error) => {
            eprintln!("pycos not measured: {error}");
            return;
        }
    };
    println!();
    println!(
        "{:<16} {:>16} {:>16} {:>10}",
        "workload", "rcos", "pycos 4.12", "pycos/rcos"
    );
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let parts: Vec<&str> = line.split(',').collect();
        let [_, _, workload, value, unit] = parts[..] else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        println!("{line}");
        let rcos = rows
            .iter()
            .find(|(w, _)| w == workload)
            .and_then(|(_, figs)| figs.first())
            .map(|(_, f)| *f);
        let ratio = rcos.map_or(String::new(), |r| {
            let times = if r.unit.lower_is_better() {
                value / r.value
            } else {
                r.value / value
            };
            format!("{times:.0}x")
        });
        println!(
            "{:<16} {:>16} {:>16} {:>10}",
            workload,
            rcos.map_or(String::new(), |r| format!(
                "{:.1} {}",
                r.value,
                r.unit.label()
            )),
            format!("{value:.4} {unit}"),
            ratio
        );
    }
}

#[allow(clippy::print_stdout)]
fn print_table(rows: &[(String, Vec<(String, Figure)>)]) {
    println!();
    println!(
        "{:<16} {:>14} {:>14} {:>8}   {:>14} {:>14} {:>8}",
        "workload", "rcos", "floor", "ratio", "rcos 1t", "floor 1t", "ratio"
    );
    for (workload, figs) in rows {
        let cell = |i: usize| {
            figs.get(i)
                .map(|(_, f)| format!("{:.1} {}", f.value, f.unit.label()))
        };
        let ratio = |a: usize, b: usize| match (figs.get(a), figs.get(b)) {
            (Some((_, x)), Some((_, y))) => {
                // Ratio as "how many times the floor's cost": > 1 means rcos is slower.
                let r = if x.unit.lower_is_better() {
                    x.value / y.value
                } else {
                    y.value / x.value
                };
                format!("{r:.2}x")
            }
            _ => String::new(),
        };
        println!(
            "{:<16} {:>14} {:>14} {:>8}   {:>14} {:>14} {:>8}",
            workload,
            cell(0).unwrap_or_default(),
            cell(1).unwrap_or_default(),
            ratio(0, 1),
            cell(2).unwrap_or_default(),
            cell(3).unwrap_or_default(),
            ratio(2, 3),
        );
    }
    println!("(ratio = rcos cost / floor cost: below 1.00x rcos is faster)");
}
