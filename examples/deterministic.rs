//! The deterministic runtime for tests (feature `test-util`): one worker, a virtual
//! clock that jumps to the next timer whenever every task waits, and a ready order
//! drawn from a seeded generator. A test of a 30-second timeout runs in microseconds,
//! and a given seed replays the same interleaving every run.
//!
//! Run it with `cargo run --example deterministic`.

use std::time::{Duration, Instant};

use rcos::{CallError, Request, Runtime, TaskRef};

// ANCHOR: timeout
/// A server that takes a minute to answer and a caller that waits 30 s: on a
/// deterministic runtime no real time passes, and it ends the same way every run.
fn slow_server_times_out(seed: u64) -> Duration {
    let rt = Runtime::builder()
        .deterministic(seed)
        .build()
        .expect("the runtime starts");
    rt.block_on(async {
        let server = rcos::spawn(|task| async move {
            while let Ok(msg) = task.receive().await {
                if let Ok(request) = msg.downcast::<Request<u32>>() {
                    rcos::time::sleep(Duration::from_secs(60)).await;
                    let n = *request.body();
                    let _ = request.reply(n * 2);
                }
            }
        });
        let start = rcos::time::now(); // the runtime's clock: virtual here
        let answer = server.call::<u32, u32>(21, Duration::from_secs(30)).await;
        assert!(matches!(answer, Err(CallError::Timeout)));
        server.terminate();
        rcos::time::now() - start
    })
}
// ANCHOR_END: timeout

// ANCHOR: order
/// Five tasks race to send their number first: the winner depends on the seed alone.
fn race(seed: u64) -> Vec<u32> {
    let rt = Runtime::builder()
        .deterministic(seed)
        .build()
        .expect("the runtime starts");
    rt.block_on(async {
        let me = TaskRef::current().expect("block_on runs a task");
        for n in 0..5u32 {
            let me = me.clone();
            rcos::spawn(move |_task| async move { me.send(n) });
        }
        let mut order = Vec::new();
        for _ in 0..5 {
            order.push(me.receive_type::<u32>().await.expect("a number"));
        }
        order
    })
}
// ANCHOR_END: order

fn main() {
    // ANCHOR: main
    let real = Instant::now();
    let waited = slow_server_times_out(1);
    println!(
        "the call timed out after {waited:?} of virtual time, {:?} of real time",
        real.elapsed()
    );

    println!("seed 1: {:?}", race(1));
    println!("seed 1: {:?} (again: the same order)", race(1));
    println!("seed 2: {:?}", race(2));

    // A test can also move the clock by hand.
    let rt = Runtime::builder()
        .deterministic(3)
        .build()
        .expect("the runtime starts");
    let before = rt.now();
    rt.advance(Duration::from_secs(90));
    println!("advanced the clock by {:?}", rt.now() - before);
    // ANCHOR_END: main
}
