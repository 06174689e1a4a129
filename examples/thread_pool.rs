//! Blocking work on an `AsyncThreadPool`: a task hands a blocking function to a pool
//! thread and awaits its result, while the other tasks go on running. Shows what a
//! blocking call does to a worker thread, a panic coming back as an error, a function
//! that outlives the task that queued it, and `join` and `terminate`.
//!
//! Twin of pycos's `AsyncThreadPool` as its documentation and `chat_client.py` use it
//! (`yield pool.async_task(sys.stdin.readline)`); `chat_client` is this one's twin too.
//!
//! Run it with `cargo run --example thread_pool`.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rcos::pool::AsyncThreadPool;
use rcos::{Runtime, TaskRef};

// ANCHOR: helpers
/// A blocking call: stands for a synchronous database query, a DNS lookup, a read of
/// the terminal, a long computation.
fn slow_query() -> &'static str {
    std::thread::sleep(Duration::from_millis(200));
    "42 rows"
}

/// A task that counts ticks of 10 ms until it is sent anything; returns the count.
fn ticker() -> TaskRef {
    rcos::spawn(|task| async move {
        let mut ticks = 0u32;
        while let Ok(None) = task.receive_timeout(Duration::from_millis(10)).await {
            ticks += 1;
        }
        ticks
    })
}

/// Stops a ticker and returns its count.
async fn stop(ticker: TaskRef) -> u32 {
    let _ = ticker.send(());
    ticker.finish().await.get::<u32>().unwrap_or(0)
}
// ANCHOR_END: helpers

/// The part that runs as a task.
async fn tasks_part(pool: AsyncThreadPool) -> Result<(), Box<dyn Error + Send + Sync>> {
    // ANCHOR: blocking
    // Wrong: the blocking call holds the runtime's only worker, so the ticker cannot
    // run until it returns.
    let t = ticker();
    let rows = slow_query();
    println!(
        "on the worker: {rows}; meanwhile the ticker ticked {} times",
        stop(t).await
    );

    // Right: the call runs on a pool thread; this task waits without holding the worker.
    let t = ticker();
    let rows = pool.run(slow_query).await?;
    println!(
        "on the pool:   {rows}; meanwhile the ticker ticked {} times",
        stop(t).await
    );
    // ANCHOR_END: blocking

    // ANCHOR: panic
    // A panic in the function comes back as an error; the pool thread survives it.
    match pool.run(|| -> u64 { panic!("the driver crashed") }).await {
        Err(error) => println!("a panicking function: {error}"),
        Ok(_) => unreachable!("it panicked"),
    }
    let factorial = pool.run(|| (1..=20u64).product::<u64>()).await?;
    println!("the pool goes on: 20! = {factorial}");
    // ANCHOR_END: panic
    Ok(())
}

fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    // A function below panics on purpose; keep Rust's report of it to one line.
    std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
    // ANCHOR: setup
    // One worker, as in pycos: a blocked worker is then a blocked program.
    let rt = Runtime::builder().workers(1).build()?;
    // Two threads: at most two blocking functions run at once; others wait their turn.
    let pool = AsyncThreadPool::new(2);
    rt.block_on(tasks_part(pool.clone()))?;
    // ANCHOR_END: setup

    // ANCHOR: outlive
    // The task stops waiting after 50 ms, but a function cannot be interrupted: it
    // runs to its end on the pool thread.
    let finished = Arc::new(AtomicBool::new(false));
    let waited = rt.block_on({
        let (pool, finished) = (pool.clone(), finished.clone());
        async move {
            let job = pool.run(move || {
                std::thread::sleep(Duration::from_millis(300));
                finished.store(true, Ordering::SeqCst);
            });
            rcos::time::timeout(Duration::from_millis(50), job).await
        }
    });
    println!("the task gave up waiting: {}", waited.is_err());
    println!("the function finished: {}", finished.load(Ordering::SeqCst));
    // `join` blocks this (plain) thread until every queued function has run.
    pool.join();
    println!(
        "after join, the function finished: {}",
        finished.load(Ordering::SeqCst)
    );
    // ANCHOR_END: outlive

    // ANCHOR: terminate
    // `terminate` waits for the queue too, then stops the threads for good.
    pool.terminate();
    let after = rt.block_on(async move { pool.run(|| 1).await });
    println!("run after terminate: {}", after.unwrap_err());
    // ANCHOR_END: terminate
    Ok(())
}
