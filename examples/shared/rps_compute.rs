//! The service of `rps_monitor_server` and `rps_monitor_client`, compiled into both
//! programs (Rust cannot ship code: a remote service is a `#[task(remote)]` fn that
//! both sides have).

use std::time::Duration;

use rcos::{TaskRef, task};

// ANCHOR: service
/// Adds up `1..=n` slowly; fails on purpose (a panic) when `n` is a multiple of three,
/// so that the client sees both kinds of ending.
#[task(remote)]
pub(crate) async fn compute(_task: TaskRef, n: u64) -> u64 {
    rcos::time::sleep(Duration::from_millis(20 * n)).await;
    assert!(
        n % 3 != 0,
        "{n} is a multiple of three: refusing on purpose"
    );
    (1..=n).sum()
}
// ANCHOR_END: service
