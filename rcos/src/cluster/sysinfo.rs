//! What a node knows of its machine: platform, cores, CPU and memory availability (from
//! `/proc` on Linux), free disk space (from `df`). Anything it cannot learn it reports
//! as unknown rather than failing.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// A node's availability at one moment (pycos's `DispycosNodeAvailInfo`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeAvail {
    /// Idle CPU, as a percentage of all the machine's cores (100.0 = all idle), over the
    /// last pulse interval; `None` where unknown.
    pub cpu_available: Option<f32>,
    /// Available memory in bytes, where known.
    pub memory_available: Option<u64>,
    /// Total memory in bytes, where known.
    pub memory_total: Option<u64>,
    /// Free space in bytes in the node's destination folder (or its working folder),
    /// where known.
    pub disk_available: Option<u64>,
}

/// The platform, as `os arch` (e.g. `linux x86_64`).
pub(crate) fn platform() -> String {
    format!("{} {}", std::env::consts::OS, std::env::consts::ARCH)
}

/// The number of cores the process may use (1 if unknown).
pub(crate) fn cores() -> u32 {
    std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1)
}

/// Measures idle CPU between two calls of [`sample`](Self::sample).
#[derive(Debug, Default)]
pub(crate) struct CpuSampler {
    last: Option<(u64, u64)>,
}

impl CpuSampler {
    /// The idle percentage since the previous call (`None` on the first call, or where
    /// `/proc/stat` cannot be read).
    pub(crate) fn sample(&mut self) -> Option<f32> {
        let now = read_cpu_times()?;
        let previous = self.last.replace(now);
        let (idle0, total0) = previous?;
        let (idle, total) = (now.0.saturating_sub(idle0), now.1.saturating_sub(total0));
        if total == 0 {
            return None;
        }
        Some((idle as f64 * 100.0 / total as f64) as f32)
    }
}

/// (idle + iowait, total) jiffies of all cores, from `/proc/stat`.
fn read_cpu_times() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    parse_cpu_line(text.lines().next()?)
}

fn parse_cpu_line(line: &str) -> Option<(u64, u64)> {
    let mut fields = line.split_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let values: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
    if values.len() < 4 {
        return None;
    }
    let idle = values[3] + values.get(4).copied().unwrap_or(0);
    Some((idle, values.iter().sum()))
}

/// (available, total) memory in bytes, from `/proc/meminfo`.
pub(crate) fn memory() -> (Option<u64>, Option<u64>) {
    let Ok(text) = std::fs::read_to_string("/proc/meminfo") else {
        return (None, None);
    };
    parse_meminfo(&text)
}

fn parse_meminfo(text: &str) -> (Option<u64>, Option<u64>) {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kb| kb * 1024)
    };
    (field("MemAvailable:"), field("MemTotal:"))
}

/// Free bytes on the file system of `path`, from `df -Pk` (blocking: run it off the
/// scheduler).
pub(crate) fn disk_available(path: &Path) -> Option<u64> {
    let out = std::process::Command::new("df")
        .arg("-Pk")
        .arg(path)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().nth(1)?;
    let kb: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_parse() {
        assert_eq!(
            parse_cpu_line("cpu  10 0 10 70 10 0 0 0 0 0"),
            Some((80, 100))
        );
        assert_eq!(parse_cpu_line("intr 1 2 3"), None);
        let (avail, total) =
            parse_meminfo("MemTotal: 2048 kB\nMemFree: 10 kB\nMemAvailable: 1024 kB\n");
        assert_eq!((avail, total), (Some(1 << 20), Some(2 << 20)));
        assert!(!platform().is_empty());
        assert!(cores() >= 1);
    }
}
