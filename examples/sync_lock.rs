//! Locks between tasks: why a critical section that spans an `.await` needs one, what
//! owning a lock means (only the holder releases it; taking it twice is an error, not a
//! hang), and a re-entrant `RLock` for code that takes a lock it may already hold.
//!
//! pycos has no example of its `Lock` and `RLock` (its tasks switch only at a `yield`,
//! so it calls locks optional); this program shows when they are not.
//!
//! Run it with `cargo run --example sync_lock`.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rcos::TaskRef;
use rcos::sync::{Lock, RLock, SyncError};

// ANCHOR: deposit
/// Adds `amount` to `balance` in two steps with an await between them, as code that
/// asks another task or service something in the middle would.
async fn deposit(balance: &AtomicU64, amount: u64) {
    let read = balance.load(Ordering::SeqCst);
    rcos::task::yield_now().await; // e.g. `audit.call(...).await`
    balance.store(read + amount, Ordering::SeqCst);
}

/// Ten tasks make ten deposits of 1 each, holding `lock` (if any) around each deposit.
/// Returns the final balance: 100 if no deposit was lost.
async fn deposits(lock: Option<Lock>) -> u64 {
    let balance = Arc::new(AtomicU64::new(0));
    let tasks: Vec<TaskRef> = (0..10)
        .map(|_| {
            let (balance, lock) = (balance.clone(), lock.clone());
            rcos::spawn(move |_| async move {
                for _ in 0..10 {
                    let _held = match &lock {
                        Some(lock) => Some(lock.acquire().await?),
                        None => None,
                    };
                    deposit(&balance, 1).await;
                } // `_held` is dropped here: the lock is released
                Ok::<(), SyncError>(())
            })
        })
        .collect();
    for task in tasks {
        task.finish().await;
    }
    balance.load(Ordering::SeqCst)
}
// ANCHOR_END: deposit

// ANCHOR: rlock
/// Prints one line under the log's lock.
async fn log_line(log: &RLock, line: &str) -> Result<(), SyncError> {
    let _held = log.acquire().await?;
    rcos::task::yield_now().await; // other tasks run here, but cannot log
    println!("    {line} (lock depth {})", log.depth());
    Ok(())
}

/// Prints a report: a title and its lines, kept together by holding the log's lock
/// throughout. `log_line` takes the lock again: an `RLock` allows that to its holder.
async fn log_report(log: &RLock, title: &str, lines: &[&str]) -> Result<(), SyncError> {
    let _held = log.acquire().await?;
    println!("  report {title} (lock depth {})", log.depth());
    for line in lines {
        log_line(log, &format!("{title}: {line}")).await?;
    }
    Ok(())
}
// ANCHOR_END: rlock

#[rcos::main]
async fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    println!("== a critical section across an await");
    // ANCHOR: main_deposits
    let lost = deposits(None).await;
    println!("without a lock: balance {lost} (100 deposits made)");
    let kept = deposits(Some(Lock::new())).await;
    println!("with a lock:    balance {kept} (100 deposits made)");
    // ANCHOR_END: main_deposits

    println!("== ownership");
    // ANCHOR: ownership
    let lock = Lock::new();
    let guard = lock.acquire().await?;
    // Taking a `Lock` one already holds would wait forever: it is an error instead.
    println!("acquire again: {}", lock.acquire().await.unwrap_err());
    let other = rcos::spawn({
        let lock = lock.clone();
        move |_| async move {
            // Only the holder may release it ...
            println!("another task's release: {}", lock.release().unwrap_err());
            // ... and waiting for it can give up.
            match lock.acquire_timeout(Duration::from_millis(50)).await {
                Err(error) => println!("another task's acquire_timeout: {error}"),
                Ok(_) => unreachable!("the lock is held"),
            }
        }
    });
    other.finish().await;
    drop(guard); // released: the guard's work
    println!("after the guard is dropped: locked {}", lock.is_locked());

    // pycos style: release explicitly. The guard, dropped later, then does nothing.
    let _guard = lock.acquire().await?;
    lock.release()?;
    println!("after release(): locked {}", lock.is_locked());
    // ANCHOR_END: ownership

    println!("== a re-entrant lock keeps reports together");
    // ANCHOR: reports
    let log = RLock::new();
    let writers: Vec<TaskRef> = ["A", "B", "C"]
        .into_iter()
        .map(|title| {
            let log = log.clone();
            rcos::spawn(move |_| async move {
                log_report(&log, title, &["first line", "second line", "third line"]).await
            })
        })
        .collect();
    for writer in writers {
        writer.finish().await;
    }
    // With a plain `Lock`, the nested acquire in `log_line` is refused.
    let plain = Lock::new();
    let _outer = plain.acquire().await?;
    println!("a Lock taken twice: {}", plain.acquire().await.unwrap_err());
    // ANCHOR_END: reports
    Ok(())
}
