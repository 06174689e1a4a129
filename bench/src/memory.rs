//! Resident memory per idle task, measured in a fresh child process so that memory
//! freed by the other workloads does not hide growth: resident set before and after
//! spawning `n` tasks (or actors) that each wait on their mailbox.

use std::any::Any;
use std::process::Command;

use crate::{Figure, Unit};

pub(crate) fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Spawns `n` idle tasks of `imp`; what is returned keeps them (and their runtime) alive.
fn idle(imp: &str, n: usize) -> Box<dyn Any> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    match imp {
        "rcos" => Box::new(crate::rcos_impl::idle_tasks(workers, n)),
        "rcos-1t" => Box::new(crate::rcos_impl::idle_tasks(1, n)),
        "floor" => Box::new(crate::floor::idle_tasks(workers, n)),
        "floor-1t" => Box::new(crate::floor::idle_tasks(1, n)),
        "tokio" => crate::peers::tokio::idle_tasks(workers, n),
        "tokio-1t" => crate::peers::tokio::idle_tasks(1, n),
        "ractor" => crate::peers::ractor::idle_tasks(workers, n),
        "kameo" => crate::peers::kameo::idle_tasks(workers, n),
        "actix" => crate::peers::actix::idle_tasks(n),
        other => panic!("unknown implementation {other}"),
    }
}

/// Runs in the child: spawns the idle tasks and prints resident bytes per task.
#[allow(clippy::print_stdout)]
pub(crate) fn child(imp: Option<&str>, n: Option<&str>) {
    let n = n.and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let before = resident_bytes();
    let kept = idle(imp.unwrap_or("rcos"), n);
    let after = resident_bytes();
    let per_task = after.saturating_sub(before) as f64 / n as f64;
    println!("{per_task:.1},B/task");
    // The resident set is read; leave without the (long) teardown of a million tasks.
    std::mem::forget(kept);
    std::process::exit(0);
}

/// Runs the child for `imp` with `n` idle tasks and reads its figure.
pub(crate) fn measure(imp: &str, n: usize) -> Figure {
    let exe = std::env::current_exe().expect("the bench knows where it is");
    let out = Command::new(exe)
        .args(["--memory-child", imp, &n.to_string()])
        .output()
        .expect("the bench can run itself");
    let text = String::from_utf8_lossy(&out.stdout);
    let value = text
        .lines()
        .last()
        .and_then(|l| l.split(',').next())
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(f64::NAN);
    Figure {
        value,
        unit: Unit::BytesPerTask,
    }
}
