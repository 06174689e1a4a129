//! The rcos benchmark: each workload on rcos, on the floor of its stack (raw
//! async-executor + async-channel doing the same work) and on the peers a user would
//! pick instead (tokio mpsc, ractor, kameo, actix; pycos with `--pycos`), in one run,
//! with ratios.
//!
//! ```text
//! cargo run --release -p rcos-bench             # full run, median of 5
//! cargo run --release -p rcos-bench -- --quick  # smaller counts, median of 3
//! cargo run --release -p rcos-bench -- --pycos  # also pycos (bench/pycos/run.sh)
//! cargo run --release -p rcos-bench -- --only pingpong,call --impl rcos,tokio
//! cargo run --release -p rcos-bench -- --no-series   # skip the scaling series
//! ```
//!
//! Besides the table it prints one line per figure,
//! `RESULT,<implementation>,<workload>,<value>,<unit>`, and one per point of the
//! scaling series, `SERIES,<implementation>,<series>,<x>,<value>,<unit>`, for scripts,
//! the charts (`--bin charts`) and the book.

/// With `--features mimalloc`, every implementation allocates with mimalloc.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod floor;
mod memory;
mod peers;
mod pycos;
mod rcos_impl;
mod remote;
mod series;
mod sockets;

use std::time::Duration;

/// The sizes of one run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sizes {
    pub(crate) spawn: usize,
    pub(crate) pingpong: usize,
    pub(crate) calls: usize,
    pub(crate) chain: usize,
    pub(crate) fanin_each: usize,
    pub(crate) broadcast: usize,
    pub(crate) idle: usize,
    pub(crate) remote_oneway: usize,
    pub(crate) remote_rtt: usize,
    pub(crate) socket_rtt: usize,
    pub(crate) repeats: usize,
    /// Round trips shared out between the pairs of the `pingpong_pairs` series.
    pub(crate) series_roundtrips: usize,
    /// Deliveries shared out between the messages of the `broadcast_subscribers` series.
    pub(crate) series_deliveries: usize,
    /// Task counts of the `idle_tasks` series.
    pub(crate) series_idle: &'static [usize],
    pub(crate) series_repeats: usize,
}

const FULL: Sizes = Sizes {
    spawn: 100_000,
    pingpong: 1_000_000,
    calls: 1_000_000,
    chain: 200_000,
    fanin_each: 1_000_000,
    broadcast: 100_000,
    idle: 100_000,
    remote_oneway: 1_000_000,
    remote_rtt: 50_000,
    socket_rtt: 100_000,
    repeats: 5,
    series_roundtrips: 1_000_000,
    series_deliveries: 1_000_000,
    series_idle: &[1_000, 10_000, 100_000, 1_000_000],
    series_repeats: 3,
};

const QUICK: Sizes = Sizes {
    spawn: 50_000,
    pingpong: 100_000,
    calls: 100_000,
    chain: 20_000,
    fanin_each: 100_000,
    broadcast: 10_000,
    idle: 50_000,
    remote_oneway: 100_000,
    remote_rtt: 5_000,
    socket_rtt: 10_000,
    repeats: 3,
    series_roundtrips: 100_000,
    series_deliveries: 200_000,
    series_idle: &[1_000, 10_000, 100_000],
    series_repeats: 1,
};

/// The pairs and subscriber counts of the scaling series.
pub(crate) const SERIES_X: [usize; 5] = [1, 10, 100, 1_000, 10_000];

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
    pub(crate) fn label(self) -> &'static str {
        match self {
            Unit::NsPerOp => "ns/op",
            Unit::MMsgPerSec => "M msg/s",
            Unit::BytesPerTask => "B/task",
        }
    }

    pub(crate) fn parse(label: &str) -> Unit {
        match label {
            "M msg/s" => Unit::MMsgPerSec,
            "B/task" => Unit::BytesPerTask,
            _ => Unit::NsPerOp,
        }
    }

    fn lower_is_better(self) -> bool {
        matches!(self, Unit::NsPerOp | Unit::BytesPerTask)
    }
}

impl Figure {
    /// The figure as a cost: lower is better whatever the unit.
    fn cost(self) -> f64 {
        if self.unit.lower_is_better() {
            self.value
        } else {
            1.0 / self.value
        }
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
    /// The service workload: `n` sequential requests to A, which asks B, which asks C;
    /// the replies come back the same way. Figure: ns per end-to-end request.
    fn chain(&self, n: usize) -> Figure;
    /// `pairs` pairs of tasks playing ping-pong concurrently, `each` round trips each;
    /// figure: wall-clock ns per round trip. `None` where not written.
    fn pingpong_pairs(&self, pairs: usize, each: usize) -> Option<Figure> {
        let _ = (pairs, each);
        None
    }
}

/// Every implementation the bench knows, in table order.
const IMPLS: [&str; 9] = [
    "rcos", "floor", "rcos-1t", "floor-1t", "tokio", "tokio-1t", "ractor", "kameo", "actix",
];

/// The peers: what "best peer" is chosen from.
const PEERS: [&str; 5] = ["tokio", "tokio-1t", "ractor", "kameo", "actix"];

/// What a peer lacks and does instead, for the table's notes.
const NOTES: &[(&str, &str, &str)] = &[
    ("ractor", "broadcast_100", "loop of sends"),
    ("kameo", "broadcast_100", "loop of sends"),
    ("actix", "broadcast_100", "loop of sends"),
];

/// Builds the implementation `name` (one worker per core unless it ends in `-1t`).
fn make(name: &str) -> Box<dyn Implementation> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    match name {
        "rcos" => Box::new(rcos_impl::Rcos::new(workers)),
        "rcos-1t" => Box::new(rcos_impl::Rcos::new(1)),
        "floor" => Box::new(floor::Floor::new(workers)),
        "floor-1t" => Box::new(floor::Floor::new(1)),
        "tokio" => Box::new(peers::tokio::Tokio::new(workers)),
        "tokio-1t" => Box::new(peers::tokio::Tokio::new(1)),
        "ractor" => Box::new(peers::ractor::Ractor::new(workers)),
        "kameo" => Box::new(peers::kameo::Kameo::new(workers)),
        "actix" => Box::new(peers::actix::Actix::new()),
        other => panic!("unknown implementation {other}"),
    }
}

/// Runs one workload of one implementation in a child process and reads its figure.
#[allow(clippy::print_stderr)]
fn child_figure(args: &[&str], quick: bool) -> Figure {
    let exe = std::env::current_exe().expect("the bench knows where it is");
    let mut cmd = std::process::Command::new(exe);
    cmd.args(args);
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
    let unit = Unit::parse(parts.next().unwrap_or_default());
    if !out.status.success() {
        eprintln!(
            "{} failed: {}",
            args.join(" "),
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
    let sizes = sizes(args);
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
    let imp = make(imp_name);
    let run = |i: &dyn Implementation| match workload {
        "spawn_complete" => i.spawn_complete(sizes.spawn),
        "pingpong" => i.pingpong(sizes.pingpong),
        "call" => i.calls(sizes.calls),
        "call_chain_3" => i.chain(sizes.chain),
        "broadcast_100" => i.broadcast(100, sizes.broadcast),
        "fanin_4x" => i.fanin(4, sizes.fanin_each),
        other => panic!("unknown workload {other}"),
    };
    // One untimed warm-up run, then the median of the timed ones.
    let _ = run(imp.as_ref());
    let figures: Vec<Figure> = (0..sizes.repeats).map(|_| run(imp.as_ref())).collect();
    let fig = median(figures);
    println!("{},{}", fig.value, fig.unit.label());
}

fn sizes(args: &[String]) -> Sizes {
    if args.iter().any(|a| a == "--quick") {
        QUICK
    } else {
        FULL
    }
}

pub(crate) fn median(mut figures: Vec<Figure>) -> Figure {
    figures.sort_by(|a, b| a.value.total_cmp(&b.value));
    figures[figures.len() / 2]
}

/// The value after `flag`, split at commas.
fn list_arg(args: &[String], flags: &[&str]) -> Option<Vec<String>> {
    let pos = args.iter().position(|a| flags.contains(&a.as_str()))?;
    Some(
        args.get(pos + 1)?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
    )
}

/// One row of the table: a workload and each implementation's figure.
pub(crate) type Row = (String, Vec<(String, Figure)>);

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
    if let Some(pos) = args.iter().position(|a| a == "--series-child") {
        series::child(&args[pos + 1..], sizes(&args));
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    // `--only WORKLOAD,..` (or `--workload`) and `--impl NAME,..` narrow a run down.
    let only = list_arg(&args, &["--only", "--workload"]);
    let only_impl = list_arg(&args, &["--impl"]);
    let wanted_workload = |w: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == w));
    let wanted_impl = |i: &str| only_impl.as_ref().is_none_or(|o| o.iter().any(|x| x == i));
    let sizes = if quick { QUICK } else { FULL };
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "rcos-bench: {} mode, {workers} cores, median of {} runs after one warm-up",
        if quick { "quick" } else { "full" },
        sizes.repeats
    );
    println!(
        "counts: spawn {}, pingpong {}, call {}, call_chain_3 {}, fanin 4 x {}, broadcast {} x 100, idle {}, \
         socket_rtt {}, remote one-way {}, remote rtt {}",
        sizes.spawn,
        sizes.pingpong,
        sizes.calls,
        sizes.chain,
        sizes.fanin_each,
        sizes.broadcast,
        sizes.idle,
        sizes.socket_rtt,
        sizes.remote_oneway,
        sizes.remote_rtt,
    );
    let started = std::time::Instant::now();

    let local = [
        "spawn_complete",
        "pingpong",
        "call",
        "call_chain_3",
        "fanin_4x",
        "broadcast_100",
    ];
    let mut rows: Vec<Row> = Vec::new();
    for workload in local {
        if !wanted_workload(workload) {
            continue;
        }
        let mut row = Vec::new();
        for name in IMPLS.into_iter().filter(|n| wanted_impl(n)) {
            // Each implementation runs each workload in a fresh process: no idle
            // threads, warm caches or allocator state of another one in the way.
            let fig = child_figure(&["--run-child", workload, name], quick);
            print_result(name, workload, fig);
            row.push((name.to_string(), fig));
        }
        rows.push((workload.to_string(), row));
    }

    if wanted_workload("idle_memory") {
        let mut row = Vec::new();
        for name in ["rcos", "floor", "tokio", "ractor", "kameo", "actix"] {
            if !wanted_impl(name) {
                continue;
            }
            let fig = memory::measure(name, sizes.idle);
            print_result(name, "idle_memory", fig);
            row.push((name.to_string(), fig));
        }
        rows.push(("idle_memory".to_string(), row));
    }

    for workload in ["socket_rtt", "remote_oneway", "remote_rtt"] {
        if !wanted_workload(workload) {
            continue;
        }
        let mut row = Vec::new();
        let names: &[&str] = if workload == "socket_rtt" {
            &["rcos", "floor", "rcos-1t", "floor-1t"]
        } else {
            &["rcos", "floor"]
        };
        for name in names.iter().filter(|n| wanted_impl(n)) {
            let fig = child_figure(&["--run-child", workload, name], quick);
            print_result(name, workload, fig);
            row.push((name.to_string(), fig));
        }
        rows.push((workload.to_string(), row));
    }

    // pycos runs with `--pycos`, or whenever bench/pycos/.venv exists (run.sh made it).
    let want_pycos = args.iter().any(|a| a == "--pycos") || pycos::venv_exists();
    if want_pycos && wanted_impl("pycos") {
        for (workload, fig) in pycos::run(quick) {
            if !wanted_workload(&workload) {
                continue;
            }
            print_result("pycos", &workload, fig);
            match rows.iter_mut().find(|(w, _)| *w == workload) {
                Some((_, row)) => row.push(("pycos".to_string(), fig)),
                None => rows.push((workload, vec![("pycos".to_string(), fig)])),
            }
        }
    }

    if !args.iter().any(|a| a == "--no-series") {
        series::run_all(quick, &sizes, &wanted_workload, &wanted_impl);
    }

    print_table(&rows);
    println!(
        "(whole run: {:.0} s; {} mode)",
        started.elapsed().as_secs_f64(),
        if quick { "quick" } else { "full" }
    );
}

#[allow(clippy::print_stdout)]
fn print_result(name: &str, workload: &str, fig: Figure) {
    // Throughputs in millions: enough decimals for pycos's thousands per second.
    let decimals = if fig.unit == Unit::MMsgPerSec { 6 } else { 1 };
    println!(
        "RESULT,{name},{workload},{:.*},{}",
        decimals,
        fig.value,
        fig.unit.label()
    );
}

fn fmt_value(fig: Figure) -> String {
    if fig.value.is_nan() {
        return "—".to_string();
    }
    match fig.unit {
        Unit::MMsgPerSec if fig.value < 0.1 => format!("{:.4}", fig.value),
        Unit::MMsgPerSec => format!("{:.2}", fig.value),
        _ if fig.value >= 100.0 => format!("{:.0}", fig.value),
        _ => format!("{:.1}", fig.value),
    }
}

/// rcos's cost over `other`'s: below 1.00x rcos is better.
fn ratio(rcos: Figure, other: Figure) -> f64 {
    rcos.cost() / other.cost()
}

#[allow(clippy::print_stdout)]
fn print_table(rows: &[Row]) {
    let present: Vec<&str> = IMPLS
        .into_iter()
        .chain(["pycos"])
        .filter(|i| rows.iter().any(|(_, r)| r.iter().any(|(n, _)| n == i)))
        .collect();
    println!();
    let mut header = format!("{:<15} {:>8}", "workload", "unit");
    for i in &present {
        header.push_str(&format!(" {i:>9}"));
    }
    header.push_str(&format!(
        " {:>10} {:>22} {:>10}",
        "rcos/floor", "best rcos/best peer", "x pycos"
    ));
    println!("{header}");
    for (workload, figs) in rows {
        let Some(unit) = figs.first().map(|(_, f)| f.unit) else {
            continue;
        };
        let get = |name: &str| {
            figs.iter()
                .find(|(n, f)| n == name && !f.value.is_nan())
                .map(|(_, f)| *f)
        };
        let mut line = format!("{workload:<15} {:>8}", unit.label());
        for i in &present {
            let cell = get(i).map_or(String::new(), fmt_value);
            let noted = NOTES.iter().any(|(n, w, _)| n == i && w == workload);
            line.push_str(&format!(
                " {:>9}",
                format!("{cell}{}", if noted { "*" } else { "" })
            ));
        }
        let vs_floor = match (get("rcos"), get("floor")) {
            (Some(r), Some(f)) => format!("{:.2}x", ratio(r, f)),
            _ => String::new(),
        };
        let best = |names: &[&'static str]| {
            names
                .iter()
                .filter_map(|n| get(n).map(|f| (*n, f)))
                .min_by(|a, b| a.1.cost().total_cmp(&b.1.cost()))
        };
        let vs_peer = match (best(&["rcos", "rcos-1t"]), best(&PEERS)) {
            (Some((rn, r)), Some((pn, p))) => format!("{:.2}x ({rn}/{pn})", ratio(r, p)),
            _ => String::new(),
        };
        let vs_pycos = match (best(&["rcos", "rcos-1t"]), get("pycos")) {
            (Some((_, r)), Some(p)) => format!("{:.0}x", 1.0 / ratio(r, p)),
            _ => String::new(),
        };
        println!("{line} {vs_floor:>10} {vs_peer:>22} {vs_pycos:>10}");
    }
    println!(
        "(ratios are rcos's cost over the other's: below 1.00x rcos is better; \"best rcos\" is the \
         better of rcos and rcos-1t, \"best peer\" the best of {}; \"x pycos\" is how many times \
         better the best rcos is than pycos)",
        PEERS.join(", ")
    );
    for (imp, workload, note) in NOTES {
        println!("* {imp}, {workload}: {note} (no broadcast primitive)");
    }
}
