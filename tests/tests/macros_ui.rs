//! Compile-time behaviour of the macros (trybuild): every misuse fails with an error at
//! the offending token (`ui/fail/*.rs`, each with its expected `.stderr`), and every
//! supported form compiles and runs (`ui/pass/*.rs`).
//!
//! The `.stderr` files hold compiler output, whose wording changes between Rust
//! releases: they are written for rustc 1.95 (the toolchain CI runs). On another
//! compiler the failure cases are skipped with a printed reason and only the pass cases
//! run. After a deliberate change, regenerate them with
//! `TRYBUILD=overwrite cargo test -p rcos-tests --test macros_ui` and read every diff.

/// The compiler the `.stderr` snapshots were written with.
const SNAPSHOT_RUSTC: &str = "rustc 1.95.";

fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default()
}

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    let version = rustc_version();
    if version.starts_with(SNAPSHOT_RUSTC) {
        t.compile_fail("ui/fail/*.rs");
    } else {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "skipped: the compile-fail snapshots are for {SNAPSHOT_RUSTC}x, this is {}",
                version.trim()
            );
        }
    }
    t.pass("ui/pass/*.rs");
}
