//! A task's life, step by step: spawning on the default runtime from a plain thread,
//! waiting for a result, daemons and `join`, suspend and resume, names, terminate, and
//! panics. The Tasks chapter of the book is built from it.
//!
//! Run it with `cargo run --example lifecycle`.

use std::error::Error;
use std::time::Duration;

use rcos::{Exit, Interrupt, Runtime, TaskRef, task};

// ANCHOR: greet
/// A task function: `#[task]` makes `greet::spawn(name)` and friends.
#[task]
async fn greet(_task: TaskRef, name: String) -> String {
    format!("hello, {name}")
}
// ANCHOR_END: greet

fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    // A task below panics on purpose; keep Rust's report of it short (no backtrace).
    std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
    // ANCHOR: default_runtime
    // The first spawn outside any runtime starts the default runtime, with one worker
    // thread per core (pycos's `Pycos()`, created on first use).
    let greeter = greet::spawn("pycos".to_string());
    // `value` blocks this plain thread until the task ends (pycos's `task.value()`).
    let exit = greeter.value();
    println!("{greeter} returned {:?}", exit.get::<String>());
    // ANCHOR_END: default_runtime

    // ANCHOR: daemon
    // A daemon task does not hold `join` open.
    let ticker = rcos::task::Builder::new()
        .name("ticker")
        .daemon(true)
        .spawn(|task| async move { while task.receive().await.is_ok() {} });
    let worker = rcos::spawn(|task| async move {
        let _ = task.sleep(Duration::from_millis(50)).await;
        "done"
    });
    rcos::join()?; // waits for `worker`, not for the daemon `ticker`
    println!(
        "after join: worker alive {}, ticker alive {}",
        worker.is_alive(),
        ticker.is_alive()
    );
    rcos::terminate(); // ends every task left (the ticker) and the default runtime
    println!("after terminate: ticker alive {}", ticker.is_alive());
    // ANCHOR_END: daemon

    // ANCHOR: runtime
    // An explicit runtime: its own workers, tasks, names and clock.
    let rt = Runtime::builder().workers(2).name("lab").build()?;
    let out = rt.block_on(async_part());
    // ANCHOR_END: runtime
    out
}

async fn async_part() -> Result<(), Box<dyn Error + Send + Sync>> {
    // ANCHOR: suspend_resume
    let sleeper = rcos::spawn(|task| async move {
        // Suspended until another task resumes it with a value, or 10 s pass.
        let woken = task.suspend(Some(Duration::from_secs(10))).await;
        woken
            .ok()
            .flatten()
            .and_then(|value| value.downcast::<String>().ok())
    });
    // `resume` wakes a task only while it is suspended: a value that comes too early is
    // handed back (pycos drops it silently). So retry until the sleeper is there.
    let mut value = "wake up".to_string();
    while let Err(early) = sleeper.resume(value) {
        assert!(!early.is_ended());
        value = early.into_inner();
        rcos::task::yield_now().await;
    }
    let woken = sleeper.finish().await.get::<Option<String>>().flatten();
    println!("{sleeper} was resumed with {woken:?}");
    // ANCHOR_END: suspend_resume

    // ANCHOR: names
    let server = rcos::spawn(|task| async move { while task.receive().await.is_ok() {} });
    server.register("server")?;
    // `locate` waits (up to its timeout) until some task takes the name.
    let found = TaskRef::locate("server", Duration::from_secs(1)).await?;
    println!("\"server\" names {found}: same task {}", found == server);
    // ANCHOR_END: names

    // ANCHOR: terminate
    // Terminated: dropped at its next await, and its name is released.
    server.terminate();
    let exit = server.finish().await;
    let located = TaskRef::locate("server", Duration::from_millis(10)).await;
    println!(
        "{server}: {exit}; locate now says: {}",
        located.unwrap_err()
    );
    // ANCHOR_END: terminate

    // ANCHOR: throw
    // `throw` makes the task's current wait (or its next one) return the error.
    let careful = rcos::spawn(|task| async move {
        match task.receive().await {
            // Handled: save what must be saved, then end normally.
            Err(Interrupt::Thrown(error)) => format!("saved my work, then stopped: {error}"),
            other => format!("unexpected: {other:?}"),
        }
    });
    let careless = rcos::spawn(|task| async move {
        let _job = task.receive().await?; // propagated: the task ends with the error
        Ok::<_, Interrupt>(())
    });
    for task in [&careful, &careless] {
        task.throw(std::io::Error::other("shutting down"));
    }
    println!("careful: {:?}", careful.finish().await.get::<String>());
    println!("careless: {}", careless.finish().await);
    // ANCHOR_END: throw

    // ANCHOR: panic
    // A panic ends only the task that panicked; it becomes its exit.
    let v: Vec<u32> = Vec::new();
    let bad = rcos::spawn(move |_task| async move { v[3] });
    match bad.finish().await {
        Exit::Panicked(message) => println!("{bad} panicked: {message}"),
        other => println!("{bad}: {other}"),
    }
    let fine = greet::spawn("again".to_string()).finish().await;
    println!("the runtime carries on: {:?}", fine.get::<String>());
    // ANCHOR_END: panic
    Ok(())
}
