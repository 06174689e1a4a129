//! pycos side by side: runs `bench/pycos/run.sh` (which makes `bench/pycos/.venv` with
//! pycos 4.12.1 from PyPI on first use) and reads its `RESULT,pycos,...` lines.

use std::path::Path;

use crate::{Figure, Unit};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/pycos");

/// Whether run.sh has made the virtual environment already.
pub(crate) fn venv_exists() -> bool {
    Path::new(DIR).join(".venv/bin/python").exists()
}

/// pycos's figures, workload by workload; none (with a note) if it could not run.
#[allow(clippy::print_stderr)]
pub(crate) fn run(quick: bool) -> Vec<(String, Figure)> {
    let script = Path::new(DIR).join("run.sh");
    let mode = if quick { "quick" } else { "full" };
    let out = match std::process::Command::new("bash")
        .arg(script)
        .arg(mode)
        .output()
    {
        Ok(out) => out,
        Err(error) => {
            eprintln!("pycos not measured: {error}");
            return Vec::new();
        }
    };
    if !out.status.success() {
        eprintln!(
            "pycos (partly) not measured: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let parts: Vec<&str> = line.split(',').collect();
            let ["RESULT", "pycos", workload, value, unit] = parts[..] else {
                return None;
            };
            let value = value.parse().ok()?;
            Some((
                workload.to_string(),
                Figure {
                    value,
                    unit: Unit::parse(unit),
                },
            ))
        })
        .collect()
}
