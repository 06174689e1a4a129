//! Unit tests of a channel's bound on slow subscribers and its `Lagged` notices, on
//! bare task mailboxes of a runtime's shared state with no workers started: small
//! enough for Miri (`cargo +nightly miri test -p rcos --lib channel::tests`; without
//! `-Zmiri-strict-provenance`, for the crossbeam-epoch casts of the scheduler's queues).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread;

use super::{Channel, Lagged};
use crate::message::Envelope;
use crate::runtime::{Handle, Shared};
use crate::task::core::TaskCore;
use crate::task::{Exit, TaskRef};

fn runtime() -> Handle {
    Handle {
        shared: crate::task::bare::runtime("chan"),
    }
}

fn task(shared: &Arc<Shared>, name: &'static str) -> Arc<TaskCore> {
    crate::task::bare::task(shared, name, None)
}

/// Runs a future that completes without waiting (a local subscribe).
fn now<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a local channel operation waited"),
    }
}

/// What a mailbox holds, oldest first: `n` for a `u32`, `lagged n` for a notice.
fn drain(core: &Arc<TaskCore>) -> Vec<String> {
    std::iter::from_fn(|| core.pop_own(None))
        .map(|env: Envelope| match env.downcast::<Lagged>() {
            Ok(lagged) => format!("lagged {}", lagged.missed()),
            Err(env) => env.downcast::<u32>().unwrap().to_string(),
        })
        .collect()
}

/// The subscriber that reads keeps getting everything; the one that does not is held
/// to the capacity, gets one notice for its gap, whose count is final when the channel
/// reaches it again.
#[test]
fn a_slow_subscriber_is_held_to_the_capacity_and_told() {
    let handle = runtime();
    let (fast, slow) = (task(&handle.shared, "fast"), task(&handle.shared, "slow"));
    let channel = Channel::new_on(&handle, "ticks").unwrap();
    channel.set_capacity(3).unwrap();
    for t in [&fast, &slow] {
        now(channel.subscribe(TaskRef::from_core(t.clone()))).unwrap();
    }
    let mut fast_got = Vec::new();
    for n in 0..10u32 {
        channel.send(n).unwrap();
        fast_got.extend(drain(&fast));
    }
    assert_eq!(slow.mailbox_len(), 4, "three messages and the notice");
    assert_eq!(drain(&slow), ["0", "1", "2", "lagged 7"]);
    channel.send(10u32).unwrap();
    fast_got.extend(drain(&fast));
    assert_eq!(drain(&slow), ["10"]);
    assert_eq!(
        fast_got,
        (0..=10).map(|n: u32| n.to_string()).collect::<Vec<_>>()
    );
    channel.close();
    assert!(fast.finalize(Exit::Terminated));
    assert!(slow.finalize(Exit::Terminated));
}

/// Two threads send on one channel at once while a third drains one subscriber: every
/// message is either delivered or counted in a notice, for each subscriber.
#[test]
fn concurrent_senders_lose_nothing_uncounted() {
    let handle = runtime();
    let (reader, idle) = (task(&handle.shared, "reader"), task(&handle.shared, "idle"));
    let channel = Channel::new_on(&handle, "race").unwrap();
    channel.set_capacity(4).unwrap();
    for t in [&reader, &idle] {
        now(channel.subscribe(TaskRef::from_core(t.clone()))).unwrap();
    }
    let per_sender = 12u32;
    let senders: Vec<_> = (0..2u32)
        .map(|k| {
            let channel = channel.clone();
            thread::spawn(move || {
                for n in 0..per_sender {
                    channel.send(k * 100 + n).unwrap();
                }
            })
        })
        .collect();
    let draining = {
        let reader = reader.clone();
        thread::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..8 {
                got.extend(drain(&reader));
                thread::yield_now();
            }
            got
        })
    };
    for s in senders {
        s.join().unwrap();
    }
    let mut reader_got = draining.join().unwrap();
    reader_got.extend(drain(&reader));
    let idle_got = drain(&idle);
    for got in [&reader_got, &idle_got] {
        let delivered = got.iter().filter(|s| !s.starts_with("lagged")).count() as u64;
        let missed: u64 = got
            .iter()
            .filter_map(|s| s.strip_prefix("lagged "))
            .map(|n| n.parse::<u64>().unwrap())
            .sum();
        assert_eq!(delivered + missed, 2 * u64::from(per_sender), "{got:?}");
        // Each sender's messages in order.
        for k in 0..2u32 {
            let mine: Vec<u32> = got
                .iter()
                .filter_map(|s| s.parse::<u32>().ok())
                .filter(|n| n / 100 == k)
                .collect();
            assert!(mine.windows(2).all(|w| w[0] < w[1]), "{got:?}");
        }
    }
    // The idle one never read: at most the capacity (plus a notice per concurrent
    // sender's overshoot) was queued for it.
    assert!(idle_got.len() <= 4 + 2 + 2, "{idle_got:?}");
    channel.close();
    assert!(reader.finalize(Exit::Terminated));
    assert!(idle.finalize(Exit::Terminated));
}
