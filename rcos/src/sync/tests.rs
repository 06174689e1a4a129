//! Unit tests of the sync primitives and of the task mailbox they sit beside, small
//! enough for Miri (RELIABILITY.md A7: `cargo +nightly miri test -p rcos --lib sync::`).
//!
//! They need no runtime: futures are polled by a little `block_on` on plain threads
//! (outside tasks, a lock's owner is the calling thread), and the mailbox is a bare
//! `TaskCore` of a runtime's shared state with no workers started — the same real code
//! the loom models of `util::loom_models` check, here under Miri's eyes for undefined
//! behaviour, data races and leaks. Each test ends every task it makes, so that Miri's
//! leak check sees everything freed.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use super::{Condition, Event, Lock, RLock, Semaphore, SyncError};
use crate::error::SendErrorKind;
use crate::message::Envelope;
use crate::runtime::Shared;
use crate::task::bare::{receive, task};
use crate::task::core::Pushed;
use crate::task::{Exit, MonitorStatus, Overflow, TaskRef};

/// Wakes a parked thread.
struct Unpark(thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `f` on this thread until it is ready, parking in between.
fn block_on<F: Future>(f: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}

/// Polls `f` once with a waker that does nothing.
fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(Waker::noop()))
}

fn runtime() -> Arc<Shared> {
    crate::task::bare::runtime("miri")
}

/// The mailbox, on a bare `TaskCore`. Run under Miri without `-Zmiri-strict-provenance`:
/// the runtime's shared state holds the scheduler's crossbeam-deque queues, whose
/// crossbeam-epoch does integer-to-pointer casts that strict provenance rejects.
mod mailbox {
    use super::*;

    /// Two sender threads and the receiving one: every message arrives once, each
    /// sender's in order; the receiver parks and is woken.
    #[test]
    fn mailbox_keeps_each_senders_order_across_threads() {
        let shared = runtime();
        let core = task(&shared, "receiver", None);
        let counts = [3u32, 2];
        let senders: Vec<_> = counts
            .into_iter()
            .enumerate()
            .map(|(from, count)| {
                let core = core.clone();
                thread::spawn(move || {
                    for n in 0..count {
                        assert!(matches!(
                            core.push(Envelope::new((from as u32, n))),
                            Ok(Pushed::Queued)
                        ));
                    }
                })
            })
            .collect();
        let got = block_on(async {
            let mut got = Vec::new();
            while got.len() < 5 {
                got.push(receive(&core).await.downcast::<(u32, u32)>().unwrap());
            }
            got
        });
        for sender in senders {
            sender.join().unwrap();
        }
        for (from, count) in counts.into_iter().enumerate() {
            let mine: Vec<u32> = got
                .iter()
                .filter(|m| m.0 == from as u32)
                .map(|m| m.1)
                .collect();
            assert_eq!(mine, (0..count).collect::<Vec<_>>(), "{got:?}");
        }
        assert!(core.pop_own(None).is_none());
        assert!(core.finalize(Exit::Terminated));
    }

    /// Several messages queued at once are taken as a batch: still in order, the count
    /// right, and what is left at the end freed with the mailbox.
    #[test]
    fn mailbox_batches_keep_order_and_free_the_rest() {
        let shared = runtime();
        let core = task(&shared, "batch", None);
        for n in 0..6u32 {
            core.push(Envelope::new(n)).unwrap();
        }
        assert_eq!(core.mailbox_len(), 6);
        for n in 0..3u32 {
            assert_eq!(core.pop_own(None).unwrap().downcast::<u32>().unwrap(), n);
        }
        core.push(Envelope::new(6u32)).unwrap();
        assert_eq!(core.mailbox_len(), 4);
        assert_eq!(core.pop_own(None).unwrap().downcast::<u32>().unwrap(), 3);
        // Ends with messages still queued (batched and not): they are dropped with it.
        assert!(core.finalize(Exit::Terminated));
        assert!(core.pop_own(None).is_none());
    }

    /// Drops of the values it wraps.
    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A send racing the task's end: each message is queued (and dropped with the
    /// mailbox) or handed back as `Ended` — dropped exactly once either way.
    #[test]
    fn mailbox_send_racing_the_end_drops_each_message_once() {
        let shared = runtime();
        let core = task(&shared, "closing", None);
        let drops = Arc::new(AtomicUsize::new(0));
        let sender = {
            let (core, drops) = (core.clone(), drops.clone());
            thread::spawn(move || {
                for _ in 0..3 {
                    match core.push(Envelope::new_local(Counted(drops.clone()))) {
                        Ok(Pushed::Queued) => {}
                        Ok(Pushed::Dropped(_)) => panic!("an unbounded mailbox dropped a message"),
                        Err((env, kind)) => {
                            assert_eq!(kind, SendErrorKind::Ended);
                            drop(env);
                        }
                    }
                }
            })
        };
        assert!(core.finalize(Exit::Terminated));
        sender.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 3, "each message dropped once");
        assert!(matches!(
            core.push(Envelope::new(7u8)),
            Err((_, SendErrorKind::Ended))
        ));
        assert!(!core.finalize(Exit::Terminated), "ends once");
    }

    /// A bounded mailbox: `Fail` refuses past its capacity, runtime signals get in
    /// anyway, receiving makes room; `DropNewest` takes and drops, and counts.
    #[test]
    fn bounded_mailbox_refuses_or_drops_and_lets_signals_in() {
        let shared = runtime();
        let failing = task(&shared, "fail", Some((2, Overflow::Fail)));
        for n in 0..2u32 {
            failing.push(Envelope::new(n)).unwrap();
        }
        let Err((back, kind)) = failing.push(Envelope::new(2u32)) else {
            panic!("a full mailbox took a message");
        };
        assert_eq!(kind, SendErrorKind::Full);
        assert_eq!(back.downcast::<u32>().unwrap(), 2);
        assert!(matches!(
            failing.push(Envelope::system(9u64)),
            Ok(Pushed::Queued)
        ));
        assert_eq!(failing.mailbox_len(), 3);
        assert_eq!(failing.pop_own(None).unwrap().downcast::<u32>().unwrap(), 0);
        failing.push(Envelope::new(3u32)).unwrap();
        let rest: Vec<String> = std::iter::from_fn(|| failing.pop_own(None))
            .map(|e| e.type_name().to_string())
            .collect();
        assert_eq!(rest.len(), 3, "{rest:?}");

        let dropping = task(&shared, "drop", Some((1, Overflow::DropNewest)));
        dropping.push(Envelope::new(1u8)).unwrap();
        assert!(matches!(
            dropping.push(Envelope::new(2u8)),
            Ok(Pushed::Dropped(_))
        ));
        assert_eq!(TaskRef::from_core(dropping.clone()).dropped_messages(), 1);
        assert!(failing.finalize(Exit::Terminated));
        assert!(dropping.finalize(Exit::Terminated));
    }

    /// `monitor` racing the target's end on another thread: the watcher gets exactly one
    /// status, with the real exit.
    #[test]
    fn monitor_racing_the_end_tells_once() {
        let shared = runtime();
        let target = task(&shared, "target", None);
        let watcher = task(&shared, "watcher", None);
        let registering = {
            let target = TaskRef::from_core(target.clone());
            let watcher = TaskRef::from_core(watcher.clone());
            thread::spawn(move || watcher.monitor(&target).unwrap())
        };
        assert!(target.finalize(Exit::Terminated));
        registering.join().unwrap();
        let mut statuses = 0;
        while let Some(env) = watcher.pop_own(None) {
            let status = env.downcast::<MonitorStatus>().unwrap();
            assert!(status.exit.is_terminated(), "{}", status.exit);
            statuses += 1;
        }
        assert_eq!(statuses, 1, "exactly one status");
        assert!(watcher.finalize(Exit::Terminated));
    }
}

/// The sync primitives, owned by threads (no runtime at all): clean under
/// `-Zmiri-strict-provenance`.
mod primitives {
    use super::*;

    /// Three threads take a lock in turns: never two inside at once.
    #[test]
    fn lock_excludes_across_threads() {
        let lock = Lock::new();
        let inside = Arc::new(AtomicUsize::new(0));
        let entries = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (lock, inside, entries) = (lock.clone(), inside.clone(), entries.clone());
                thread::spawn(move || {
                    for _ in 0..3 {
                        let guard = block_on(lock.acquire()).unwrap();
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                        entries.fetch_add(1, Ordering::SeqCst);
                        thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(guard);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(entries.load(Ordering::SeqCst), 9);
        assert!(!lock.is_locked());
        assert_eq!(lock.waiting(), 0);
    }

    /// Only the holder releases; a second acquire by the holder is refused; a waiter
    /// whose future is dropped leaves the line; one dropped after the lock was handed to
    /// it gives the lock back.
    #[test]
    fn lock_ownership_and_dropped_waiters() {
        let lock = Lock::new();
        let guard = block_on(lock.acquire()).unwrap();
        assert_eq!(
            block_on(lock.acquire()).unwrap_err(),
            SyncError::WouldDeadlock
        );
        assert!(lock.try_acquire().is_none());
        let (to_main, from_other) = mpsc::channel::<&'static str>();
        let (to_other, from_main) = mpsc::channel::<()>();
        let other = {
            let lock = lock.clone();
            thread::spawn(move || {
                assert_eq!(lock.release().unwrap_err(), SyncError::NotOwner);
                // Queued, then dropped: gone from the line.
                let mut first = Box::pin(lock.acquire());
                assert!(poll_once(&mut first).is_pending());
                assert_eq!(lock.waiting(), 1);
                drop(first);
                assert_eq!(lock.waiting(), 0);
                // Queued, then handed the lock, then dropped without taking it.
                let mut second = Box::pin(lock.acquire());
                assert!(poll_once(&mut second).is_pending());
                to_main.send("queued").unwrap();
                from_main.recv().unwrap();
                drop(second);
                to_main.send("dropped").unwrap();
            })
        };
        assert_eq!(from_other.recv().unwrap(), "queued");
        drop(guard); // hands the lock to the queued waiter
        assert!(lock.is_locked());
        to_other.send(()).unwrap();
        assert_eq!(from_other.recv().unwrap(), "dropped");
        other.join().unwrap();
        assert!(!lock.is_locked(), "the dropped waiter gave the lock back");
        drop(lock.try_acquire().expect("free"));
    }

    /// A re-entrant lock counts its depth and is free after the last release.
    #[test]
    fn rlock_reenters_and_counts() {
        let lock = RLock::new();
        let outer = block_on(lock.acquire()).unwrap();
        let inner = lock.try_acquire().unwrap();
        assert_eq!(lock.depth(), 2);
        let (checked, was_checked) = mpsc::channel::<()>();
        let other = {
            let lock = lock.clone();
            thread::spawn(move || {
                assert!(lock.try_acquire().is_none());
                assert!(!lock.is_held_by_me());
                checked.send(()).unwrap();
                // Waits for both levels to go.
                let g = block_on(lock.acquire()).unwrap();
                assert_eq!(lock.depth(), 1);
                drop(g);
            })
        };
        was_checked.recv().unwrap();
        drop(inner);
        assert!(lock.is_locked());
        drop(outer);
        other.join().unwrap();
        assert!(!lock.is_locked());
    }

    /// Two permits, three threads: never more than two inside; permits all back after.
    #[test]
    fn semaphore_bounds_holders_across_threads() {
        let sem = Semaphore::new(2);
        let inside = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (sem, inside) = (sem.clone(), inside.clone());
                thread::spawn(move || {
                    for _ in 0..2 {
                        let permit = block_on(sem.acquire());
                        assert!(inside.fetch_add(1, Ordering::SeqCst) < 2, "three holders");
                        thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(permit);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(sem.available(), 2);
        assert_eq!(sem.waiting(), 0);
        // A queued acquire that is dropped leaves the line; a forgotten permit stays taken.
        let a = sem.try_acquire().unwrap();
        let b = sem.try_acquire().unwrap();
        let mut waiting = Box::pin(sem.acquire());
        assert!(poll_once(&mut waiting).is_pending());
        assert_eq!(sem.waiting(), 1);
        drop(waiting);
        assert_eq!(sem.waiting(), 0);
        a.forget();
        drop(b);
        assert_eq!(sem.available(), 1);
        sem.release();
        assert_eq!(sem.available(), 2);
    }

    /// An event wakes a thread waiting on it; clear makes later waits wait.
    #[test]
    fn event_wakes_waiters_on_other_threads() {
        let event = Event::new();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let event = event.clone();
                thread::spawn(move || block_on(event.wait()))
            })
            .collect();
        event.set();
        for w in waiters {
            w.join().unwrap();
        }
        assert!(event.is_set());
        event.clear();
        let mut wait = Box::pin(event.wait());
        assert!(poll_once(&mut wait).is_pending());
        event.set();
        assert!(poll_once(&mut wait).is_ready());
    }

    /// A condition: the waiter releases the lock while it waits, is notified by a thread
    /// that took the lock meanwhile, and holds the lock again (at its depth) after.
    #[test]
    fn condition_wait_and_notify_across_threads() {
        let cond = Condition::new();
        let (to_main, from_waiter) = mpsc::channel::<()>();
        let waiter = {
            let cond = cond.clone();
            thread::spawn(move || {
                block_on(async {
                    let outer = cond.acquire().await.unwrap();
                    let inner = cond.acquire().await.unwrap();
                    to_main.send(()).unwrap();
                    assert!(cond.wait(None).await.unwrap(), "notified");
                    drop(inner);
                    drop(outer);
                });
            })
        };
        from_waiter.recv().unwrap();
        assert_eq!(cond.notify(1).unwrap_err(), SyncError::NotOwner);
        // Taking the lock means the waiter released it in `wait` (it queued first).
        let guard = block_on(cond.acquire()).unwrap();
        assert_eq!(cond.waiting(), 1);
        cond.notify(1).unwrap();
        drop(guard);
        waiter.join().unwrap();
        assert_eq!(cond.waiting(), 0);
        assert!(block_on(cond.acquire()).is_ok());
    }
}
