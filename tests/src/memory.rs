//! Memory figures for the tests that measure it (plan rows A5, B5, E3, E4), and the
//! helpers those tests share.

use std::sync::{Mutex, MutexGuard};

/// Resident set size of this process in bytes (Linux's `VmRSS`); 0 where it cannot be
/// read.
pub fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Bytes as mebibytes, for printing.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// How many of something a test uses: the full figure unless the environment variable
/// `RCOS_ABUSE_SCALE` divides it (at least 1).
pub fn scaled(full: usize) -> usize {
    let div = std::env::var("RCOS_ABUSE_SCALE")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    (full / div).max(1)
}

/// Runs the tests of one binary one at a time while the guard lives: resident memory is
/// per process, so a measuring test must not share it with another.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
