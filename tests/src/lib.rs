//! Shared helpers for the rcos integration tests.

pub mod fault_proxy;
pub mod memory;
pub mod netns;
pub mod programs;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rcos::Runtime;

/// A generous timeout for waits that should end quickly: long enough that a busy
/// two-core CI machine never trips it, short enough that a real hang fails the test.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A deterministic runtime: one worker, virtual clock, seeded ready order.
///
/// Set `RCOS_SEED_SALT` to run every deterministic test under other seeds (the tests
/// must hold for any seed; the salt is how to check that).
pub fn det(seed: u64) -> Runtime {
    let salt = std::env::var("RCOS_SEED_SALT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0);
    let seed = seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    Runtime::builder()
        .deterministic(seed)
        .name(format!("det{seed}"))
        .build()
        .expect("runtime starts")
}

/// How long a test body may run on a deterministic runtime's virtual clock: long, since
/// virtual time costs nothing, and a deadlocked test still fails at once.
pub const VIRTUAL_PATIENCE: Duration = Duration::from_secs(24 * 3600);

/// Runs `body` as a task on `rt` and returns its output, failing the test instead of
/// hanging if it does not finish in time: [`PATIENCE`] on a real clock,
/// [`VIRTUAL_PATIENCE`] on a deterministic runtime (made by [`det`]).
pub fn run<F>(rt: &Runtime, body: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let patience = if rt.name().starts_with("det") {
        VIRTUAL_PATIENCE
    } else {
        PATIENCE
    };
    match rt.block_on(async move { rcos::time::timeout(patience, body).await }) {
        Ok(out) => out,
        Err(_) => {
            panic!("the test body did not finish within {patience:?} of runtime time: deadlock")
        }
    }
}

/// A multi-threaded runtime with two workers.
pub fn rt2() -> Runtime {
    Runtime::builder()
        .workers(2)
        .build()
        .expect("runtime starts")
}

/// Counts how many of the values it made have been dropped.
#[derive(Clone, Debug, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

/// One value counted by a [`DropCounter`].
#[derive(Debug)]
pub struct Counted(Arc<AtomicUsize>);

impl DropCounter {
    /// A new value whose drop is counted.
    pub fn make(&self) -> Counted {
        Counted(self.0.clone())
    }

    /// How many values have been dropped so far.
    pub fn dropped(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The secret the test nodes share.
pub const SECRET: &[u8] = b"rcos test secret, long enough";

/// A runtime that is a node on loopback, with quick heartbeats (100 ms, 4 missed).
pub fn node(name: &str) -> Runtime {
    node_with(name, rcos::net::NodeConfig::new().secret(SECRET))
}

/// Logs to stderr when `RCOS_TEST_LOG` is set (an env-filter, e.g. `rcos=debug`).
pub fn log_if_asked() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("RCOS_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(std::io::stderr)
                .try_init();
        }
    });
}

/// Installs, once per test binary, a global `tracing` subscriber that writes into a
/// buffer, and returns the buffer: one line an event, each starting with the seconds
/// since it was installed (`   1.234567890s`). The first call's `filter` (an
/// `EnvFilter` directive such as `"rcos=warn"`) is the one used.
pub fn captured_log(filter: &str) -> &'static Arc<std::sync::Mutex<Vec<u8>>> {
    static LOG: std::sync::OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = buf.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_ansi(false)
            .with_timer(tracing_subscriber::fmt::time::Uptime::default())
            .with_writer(move || LogCapture(writer.clone()))
            .init();
        buf
    })
}

/// The writer behind [`captured_log`].
struct LogCapture(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A node runtime with a custom configuration, with quick heartbeats (a peer silent
/// for 400 ms is down) and a short reconnection grace, so that loss is seen fast.
pub fn node_with(name: &str, config: rcos::net::NodeConfig) -> Runtime {
    node_beating(
        name,
        config
            .heartbeat(Duration::from_millis(100), 4)
            .reconnect_grace(Duration::from_millis(500)),
    )
}

/// A node for a test whose subject is not failure detection, where a peer declared
/// lost by mistake would change what the test sees: the peer is down after 3 s of
/// silence (a busy 2-core CI machine can starve a node's threads for longer than
/// `node`'s 400 ms).
pub fn node_patient(name: &str) -> Runtime {
    node_beating(
        name,
        rcos::net::NodeConfig::new()
            .secret(SECRET)
            .heartbeat(Duration::from_millis(250), 12)
            .reconnect_grace(Duration::from_secs(2)),
    )
}

fn node_beating(name: &str, config: rcos::net::NodeConfig) -> Runtime {
    log_if_asked();
    Runtime::builder()
        .workers(2)
        .name(name.to_string())
        .node(config)
        .build()
        .expect("node starts")
}
