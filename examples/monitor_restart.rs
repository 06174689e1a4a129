//! Fault tolerance the pycos way: a monitor task watches a worker with `monitor`,
//! receives a `MonitorStatus` message when it ends, and restarts it when it panicked,
//! giving up after too many failures.
//!
//! pycos documents this pattern ("fault-tolerant tasks with monitor"); rcos also
//! packages it as supervisors (see `cargo run --example supervisor`).
//!
//! Run it with `cargo run --example monitor_restart`.

use std::error::Error;

use rcos::task::MonitorStatus;
use rcos::{Exit, Interrupt, Message, TaskRef, task};
use serde::{Deserialize, Serialize};

/// What the worker and the keeper tell the boss.
#[derive(Debug, Serialize, Deserialize, Message)]
enum Report {
    /// A worker is up (first start or restart).
    Started(TaskRef),
    /// A job's result.
    Done { job: u64, result: u64 },
    /// The keeper stopped restarting the worker.
    GaveUp { failures: u32 },
}

// ANCHOR: worker
/// Divides 1000 by each job it gets; a job of 0 makes it panic.
#[task]
async fn worker(task: TaskRef, boss: TaskRef) -> Result<(), Interrupt> {
    loop {
        let job = task.receive_type::<u64>().await?;
        let result = 1000 / job; // panics on 0
        let _ = boss.send(Report::Done { job, result });
    }
}
// ANCHOR_END: worker

// ANCHOR: keeper
/// Starts a worker, monitors it, and restarts it each time it panics, up to
/// `max_failures` times.
#[task]
async fn keeper(task: TaskRef, boss: TaskRef, max_failures: u32) -> Result<u32, Interrupt> {
    let mut failures = 0;
    let mut current = worker::spawn(boss.clone());
    task.monitor(&current).expect("the keeper is alive");
    let _ = boss.send(Report::Started(current.clone()));
    loop {
        // Other messages stay queued; the keeper only waits for statuses.
        let status = task.receive_type::<MonitorStatus>().await?;
        if status.task != current {
            continue;
        }
        match status.exit {
            Exit::Panicked(why) if failures < max_failures => {
                failures += 1;
                println!(
                    "keeper: {} panicked ({why}); restart {failures}",
                    status.task
                );
                current = worker::spawn(boss.clone());
                task.monitor(&current).expect("the keeper is alive");
                let _ = boss.send(Report::Started(current.clone()));
            }
            Exit::Panicked(why) => {
                failures += 1;
                println!("keeper: {} panicked ({why}); giving up", status.task);
                let _ = boss.send(Report::GaveUp { failures });
                return Ok(failures);
            }
            other => {
                println!("keeper: {} ended: {other}", status.task);
                return Ok(failures);
            }
        }
    }
}
// ANCHOR_END: keeper

// ANCHOR: main
#[rcos::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    // The worker panics on purpose; rcos catches each panic and tells the monitor.
    // Keep Rust's report of each short: no backtrace, even with RUST_BACKTRACE set.
    std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
    let me = TaskRef::current().expect("main runs as a task");
    let _keeper = keeper::spawn(me.clone(), 2);
    let mut jobs = [10u64, 5, 0, 4, 0, 8, 0, 2].into_iter(); // u64: what the worker waits for
    let mut current: Option<TaskRef> = None;
    // One job at a time: send one when a worker is up or a result came back.
    loop {
        match me.receive_type::<Report>().await? {
            Report::Started(new) => {
                println!("main: worker {new} is up");
                current = Some(new);
            }
            Report::Done { job, result } => println!("main: 1000 / {job} = {result}"),
            Report::GaveUp { failures } => {
                println!("main: the keeper gave up after {failures} failures");
                break;
            }
        }
        let (Some(current), Some(job)) = (&current, jobs.next()) else {
            break;
        };
        current.send(job)?;
    }
    Ok(())
}
// ANCHOR_END: main
