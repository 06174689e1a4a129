//! A `Semaphore` limits how many tasks do something at once, and an `Event` lets many
//! tasks wait for one signal: six downloads wait for a start signal, then run at most
//! two at a time.
//!
//! pycos has these primitives (`Semaphore`, `Event`) but no example of them; its
//! `Semaphore.acquire` has no timeout, rcos's `acquire_timeout` is shown at the end.
//!
//! Run it with `cargo run --example sync_semaphore`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rcos::sync::{Event, Semaphore};
use rcos::{TaskRef, task};

// ANCHOR: shared
/// What the downloads share. Clones share the same primitives and counters.
#[derive(Clone)]
struct Downloads {
    /// Set once, to start every download at the same moment.
    start: Event,
    /// Two permits: at most two downloads run at once.
    slots: Semaphore,
    /// How many downloads run now, and the most that ever ran at once.
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}
// ANCHOR_END: shared

// ANCHOR: download
/// One download: waits for the start signal, then for a permit, then "transfers" for
/// a moment. The permit is given back when `_permit` is dropped.
#[task]
async fn download(_task: TaskRef, n: u32, shared: Downloads) -> u32 {
    shared.start.wait().await;
    let _permit = shared.slots.acquire().await;
    let now = shared.running.fetch_add(1, Ordering::SeqCst) + 1;
    shared.peak.fetch_max(now, Ordering::SeqCst);
    println!("download {n} started ({now} running)");
    rcos::time::sleep(Duration::from_millis(20)).await; // the transfer
    shared.running.fetch_sub(1, Ordering::SeqCst);
    n
}
// ANCHOR_END: download

#[rcos::main]
async fn main() {
    // ANCHOR: main
    let shared = Downloads {
        start: Event::new(),
        slots: Semaphore::new(2),
        running: Arc::default(),
        peak: Arc::default(),
    };
    let downloads: Vec<TaskRef> = (1..=6)
        .map(|n| download::spawn(n, shared.clone()))
        .collect();
    println!("6 downloads wait for the start signal");
    shared.start.set(); // wakes every waiting task; later waits pass at once
    for d in downloads {
        d.finish().await;
    }
    let peak = shared.peak.load(Ordering::SeqCst);
    println!("all done; at most {peak} ran at once with 2 permits");
    // ANCHOR_END: main

    // ANCHOR: timeouts
    let slots = &shared.slots;
    let (_a, _b) = (slots.acquire().await, slots.acquire().await);
    println!("free permits: {}", slots.available());
    match slots.acquire_timeout(Duration::from_millis(50)).await {
        Err(error) => println!("a third permit: {error}"),
        Ok(_) => unreachable!("both permits are taken"),
    }
    println!("try_acquire: {:?}", slots.try_acquire().map(|_| "a permit"));

    let ready = Event::new();
    println!(
        "wait_timeout on a clear event: {}",
        ready.wait_timeout(Duration::from_millis(50)).await
    );
    ready.set();
    println!(
        "wait_timeout on a set event: {}",
        ready.wait_timeout(Duration::from_millis(50)).await
    );
    // ANCHOR_END: timeouts
}
