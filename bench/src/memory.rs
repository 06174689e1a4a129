//! Resident memory per idle task, measured in a fresh child process so that memory
//! freed by the other workloads does not hide growth.

use std::process::Command;

use crate::{Figure, Unit};

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Runs in the child: spawns the idle tasks and prints resident bytes per task.
#[allow(clippy::print_stdout)]
pub(crate) fn child(imp: Option<&str>, spec: Option<&str>) {
    let (threads, n) = spec
        .and_then(|s| s.split_once('x'))
        .and_then(|(t, n)| Some((t.parse().ok()?, n.parse().ok()?)))
        .unwrap_or((1, 100_000));
    let before = resident_bytes();
    let per_task = match imp {
        Some("rcos") => {
            let kept = crate::rcos_impl::idle_tasks(threads, n);
            let after = resident_bytes();
            drop(kept);
            (after.saturating_sub(before)) as f64 / n as f64
        }
        _ => {
            let kept = crate::floor::idle_tasks(threads, n);
            let after = resident_bytes();
            drop(kept);
            (after.saturating_sub(before)) as f64 / n as f64
        }
    };
    println!("{per_task:.1}");
}

/// Runs the child for `imp` and reads its figure.
pub(crate) fn measure(imp: &str, threads: usize, n: usize) -> Figure {
    let exe = std::env::current_exe().expect("the bench knows where it is");
    let out = Command::new(exe)
        .args(["--memory-child", imp, &format!("{threads}x{n}")])
        .output()
        .expect("the bench can run itself");
    let text = String::from_utf8_lossy(&out.stdout);
    let value = text
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(f64::NAN);
    Figure {
        value,
        unit: Unit::BytesPerTask,
    }
}
