//! Loom models of the mailbox and of monitors (RELIABILITY.md E5), on the real
//! `TaskCore` code: built only with `RUSTFLAGS="--cfg rcos_loom"`, where
//! [`util::Mutex`](super::Mutex) is loom's, and run by `.ci/loom`.
//!
//! What loom sees: every lock of a task's state and batch queues, and the wakers. What
//! it does not: the task's `signals` and `batch_len` atomics stay std's (in these
//! models only the receiving thread touches `batch_len`, and no signal is raised).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use loom::thread;

use crate::error::SendErrorKind;
use crate::message::Envelope;
use crate::runtime::Shared;
use crate::task::bare::receive;
use crate::task::core::{Pushed, TaskCore};
use crate::task::{Exit, MonitorStatus, TaskRef};

fn runtime() -> Arc<Shared> {
    crate::task::bare::runtime("loom")
}

fn task(shared: &Arc<Shared>, name: &'static str) -> Arc<TaskCore> {
    crate::task::bare::task(shared, name, None)
}

/// Two senders (two messages and one) and the receiving task: every message arrives
/// once, each sender's in order, and the receiver is never left parked with a
/// message queued (loom reports that as a deadlock).
#[test]
fn loom_mailbox_send_and_receive() {
    loom::model(|| {
        let shared = runtime();
        let core = task(&shared, "receiver");
        let senders: Vec<_> = [2u32, 1]
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
        let got = loom::future::block_on(async {
            let mut got = Vec::new();
            while got.len() < 3 {
                got.push(receive(&core).await.downcast::<(u32, u32)>().unwrap());
            }
            got
        });
        for sender in senders {
            sender.join().unwrap();
        }
        let from0: Vec<u32> = got.iter().filter(|m| m.0 == 0).map(|m| m.1).collect();
        assert_eq!(from0, [0, 1], "per-sender order: {got:?}");
        assert_eq!(got.iter().filter(|m| m.0 == 1).count(), 1);
        assert!(core.pop_own(None).is_none());
        core.finalize(Exit::Terminated);
    });
}

/// Counts drops of the values it wraps.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A send racing the task's end (close): the message is either queued (and then
/// dropped with the mailbox) or handed back as `Ended`, never both, never lost in
/// between; a send after the end is refused.
#[test]
fn loom_mailbox_send_races_close() {
    loom::model(|| {
        let shared = runtime();
        let core = task(&shared, "closing");
        let drops = Arc::new(AtomicUsize::new(0));
        let sender = {
            let (core, drops) = (core.clone(), drops.clone());
            thread::spawn(move || {
                for _ in 0..2 {
                    match core.push(Envelope::new_local(Counted(drops.clone()))) {
                        Ok(Pushed::Queued) => {}
                        Ok(Pushed::Dropped(_)) => panic!("unbounded mailbox dropped a message"),
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
        assert_eq!(drops.load(Ordering::SeqCst), 2, "each message dropped once");
        assert!(core.pop_own(None).is_none());
        let late = core.push(Envelope::new(7u8));
        assert!(matches!(late, Err((_, SendErrorKind::Ended))));
        assert!(!core.finalize(Exit::Terminated), "ends once");
    });
}

/// `monitor` racing the target's end: the watcher gets exactly one status, with the
/// real exit, whichever comes first.
#[test]
fn loom_monitor_registration_races_exit() {
    loom::model(|| {
        let shared = runtime();
        let target = task(&shared, "target");
        let watcher = task(&shared, "watcher");
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
        watcher.finalize(Exit::Terminated);
    });
}

/// Two watchers registering while the target ends: each told once.
#[test]
fn loom_two_monitors_race_exit() {
    loom::model(|| {
        let shared = runtime();
        let target = task(&shared, "target");
        let watchers = [task(&shared, "w1"), task(&shared, "w2")];
        let threads: Vec<_> = watchers
            .iter()
            .map(|w| {
                let target = TaskRef::from_core(target.clone());
                let w = TaskRef::from_core(w.clone());
                thread::spawn(move || w.monitor(&target).unwrap())
            })
            .collect();
        assert!(target.finalize(Exit::Terminated));
        for t in threads {
            t.join().unwrap();
        }
        for w in &watchers {
            let mut n = 0;
            while let Some(env) = w.pop_own(None) {
                assert!(env.downcast::<MonitorStatus>().is_ok());
                n += 1;
            }
            assert_eq!(n, 1);
            w.finalize(Exit::Terminated);
        }
    });
}
