//! Many tasks, each sleeping for a random time: the program takes about as long as the
//! longest sleep, not the sum of them, because a sleeping task holds no thread.
//!
//! Twin of pycos's `examples/tasks.py`.
//!
//! ```text
//! cargo run --example tasks                        # 10 tasks, sleeps of up to 1 s
//! cargo run --example tasks -- 20 500              # 20 tasks, sleeps of up to 500 ms
//! cargo run --release --example tasks -- 100000    # many more tasks
//! ```

use std::time::{Duration, Instant};

use rcos::{TaskRef, task};

// ANCHOR: task_proc
/// One task: sleeps for a random time of up to `max`, then returns how long it slept.
#[task]
async fn task_proc(task: TaskRef, n: usize, max: Duration, verbose: bool) -> Duration {
    let nap = max.mul_f64(fastrand::f64());
    if verbose {
        println!("task {n} sleeping for {:.3} s", nap.as_secs_f64());
    }
    // pycos's `yield task.sleep(s)`: the task is suspended and other tasks run. (A
    // `std::thread::sleep` here would block a whole worker thread instead.)
    let _ = task.sleep(nap).await; // nobody resumes or interrupts it here
    if verbose {
        println!("task {n} terminating");
    }
    nap
}
// ANCHOR_END: task_proc

// ANCHOR: main
#[rcos::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count: usize = args
        .first()
        .map_or(10, |a| a.parse().expect("N: a number of tasks"));
    let max_ms: u64 = args
        .get(1)
        .map_or(1000, |a| a.parse().expect("MAX_MS: milliseconds"));
    let max = Duration::from_millis(max_ms);
    let verbose = count <= 20;

    let start = Instant::now();
    let tasks: Vec<TaskRef> = (0..count)
        .map(|n| task_proc::spawn(n, max, verbose))
        .collect();
    let (mut longest, mut sum) = (Duration::ZERO, Duration::ZERO);
    for task in &tasks {
        let slept = task
            .finish()
            .await
            .get::<Duration>()
            .expect("a task returns its nap");
        longest = longest.max(slept);
        sum += slept;
    }
    let total = start.elapsed();

    println!(
        "{count} tasks: longest sleep {:.3} s, sum of sleeps {:.3} s",
        longest.as_secs_f64(),
        sum.as_secs_f64()
    );
    println!("total: {:.3} s", total.as_secs_f64());
}
// ANCHOR_END: main
