//! The scaling series: how a cost grows with the work — ping-pong pairs playing at once,
//! idle tasks held, subscribers of one broadcast. Each point runs in a fresh child
//! process; each prints `SERIES,<implementation>,<series>,<x>,<value>,<unit>`.

use crate::{Figure, SERIES_X, Sizes, child_figure, make, median, memory};

/// Which implementations draw each series (the peers' idle actors are too heavy to hold
/// a million of; the actor frameworks have no cheap task pairs to set up).
const SERIES: [(&str, &[&str]); 3] = [
    ("pingpong_pairs", &["rcos", "floor", "tokio"]),
    ("idle_tasks", &["rcos", "floor", "tokio"]),
    (
        "broadcast_subscribers",
        &["rcos", "floor", "tokio", "ractor", "kameo", "actix"],
    ),
];

#[allow(clippy::print_stdout)]
pub(crate) fn run_all(
    quick: bool,
    sizes: &Sizes,
    wanted_workload: &dyn Fn(&str) -> bool,
    wanted_impl: &dyn Fn(&str) -> bool,
) {
    for (series, impls) in SERIES {
        if !wanted_workload(series) {
            continue;
        }
        let xs: &[usize] = if series == "idle_tasks" {
            sizes.series_idle
        } else {
            &SERIES_X
        };
        for imp in impls.iter().filter(|i| wanted_impl(i)) {
            for &x in xs {
                let fig = if series == "idle_tasks" {
                    memory::measure(imp, x)
                } else {
                    child_figure(&["--series-child", series, imp, &x.to_string()], quick)
                };
                println!(
                    "SERIES,{imp},{series},{x},{:.3},{}",
                    fig.value,
                    fig.unit.label()
                );
            }
        }
    }
}

/// The child side: `--series-child SERIES IMPL X [--quick]`; prints `value,unit`.
#[allow(clippy::print_stdout)]
pub(crate) fn child(args: &[String], sizes: Sizes) {
    let series = args.first().map(String::as_str).unwrap_or_default();
    let imp = make(args.get(1).map(String::as_str).unwrap_or_default());
    let x: usize = args.get(2).and_then(|x| x.parse().ok()).unwrap_or(1);
    let run = || -> Figure {
        match series {
            "pingpong_pairs" => {
                let each = (sizes.series_roundtrips / x).max(1);
                imp.pingpong_pairs(x, each)
                    .expect("pingpong_pairs is written for this implementation")
            }
            "broadcast_subscribers" => {
                let n = (sizes.series_deliveries / x).max(1);
                imp.broadcast(x, n)
            }
            other => panic!("unknown series {other}"),
        }
    };
    let _ = run();
    let fig = median((0..sizes.series_repeats).map(|_| run()).collect());
    println!("{},{}", fig.value, fig.unit.label());
}
