//! RELIABILITY.md E6: randomised schedules of the higher-level scenarios, with the
//! deterministic runtime's seeded ready order (one seed, one interleaving; the same
//! seed replays it). Each scenario runs under `RCOS_E6_SEEDS` seeds (10,000 by default)
//! and prints how many ran, failed, and how many distinct outcomes (swap points,
//! subscription windows, error pairs) they reached; a failure names its seed.
//!
//! - hot swap during receive, with two senders racing the swap: every message arrives
//!   once, in per-sender order, old code before new;
//! - channel subscribe/unsubscribe during a broadcast: each subscriber gets one
//!   contiguous run of the broadcast, in order, no duplicates;
//! - crossing `call`s A <-> B and a call to oneself: an error or a timeout with a
//!   diagnostic (`Timeout`, or `NoReply` once the other side has ended), never a
//!   hang; crossing calls between serving tasks succeed.

use std::time::{Duration, Instant};

use rcos::channel::Channel;
use rcos::{CallError, Interrupt, Request, TaskRef, task};
use rcos_tests::run;

fn seeds() -> u64 {
    std::env::var("RCOS_E6_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

/// A deterministic runtime for `seed` (not salted: the count of seeds is the point).
fn det(seed: u64) -> rcos::Runtime {
    rcos::Runtime::builder()
        .deterministic(seed)
        .name(format!("det-e6-{seed}"))
        .build()
        .expect("runtime starts")
}

/// Runs `scenario` under every seed; panics naming the seeds that failed.
/// Each scenario returns a summary of what happened, to count distinct outcomes.
fn for_seeds(name: &str, scenario: impl Fn(u64) -> u64 + std::panic::RefUnwindSafe) {
    let n = seeds();
    let started = Instant::now();
    let mut failed = Vec::new();
    let mut outcomes = std::collections::HashSet::new();
    for seed in 0..n {
        match std::panic::catch_unwind(|| scenario(seed)) {
            Ok(outcome) => {
                outcomes.insert(outcome);
            }
            Err(_) => {
                failed.push(seed);
                if failed.len() >= 5 {
                    break;
                }
            }
        }
    }
    println!(
        "E6 {name}: {n} seeds, {} failed, {} distinct outcomes, {:.1} s",
        failed.len(),
        outcomes.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failed.is_empty(), "E6 {name} failed for seeds {failed:?}");
}

/// Yields a number of times drawn from `rng`: where in the schedule a step happens.
async fn wander(rng: &mut fastrand_like::Rng, max: u32) {
    for _ in 0..rng.below(max) {
        rcos::task::yield_now().await;
    }
}

/// A tiny seeded generator, so the test does not need another dependency.
mod fastrand_like {
    pub(super) struct Rng(u64);
    impl Rng {
        pub(super) fn new(seed: u64) -> Rng {
            Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }
        pub(super) fn below(&mut self, n: u32) -> u32 {
            // xorshift64*
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            ((self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) % u64::from(n.max(1))) as u32
        }
    }
}

// ---------------------------------------------------------------------------------
// Hot swap during receive

const SWAP_MSGS: u32 = 20;
/// The sender id that ends the stream.
const STOP: u8 = 9;

#[task]
async fn swap_v1(task: TaskRef, sink: TaskRef) -> Result<(), Interrupt> {
    task.hot_swappable(true)?;
    loop {
        // A hot-swap request propagates: accepted.
        let (from, n) = task.receive().await?.downcast::<(u8, u32)>().unwrap();
        sink.send((1u8, from, n)).unwrap();
    }
}

#[task]
async fn swap_v2(task: TaskRef, sink: TaskRef) {
    loop {
        let (from, n) = task
            .receive()
            .await
            .unwrap()
            .downcast::<(u8, u32)>()
            .unwrap();
        if from == STOP {
            return;
        }
        sink.send((2u8, from, n)).unwrap();
    }
}

fn hot_swap_during_receive(seed: u64) -> u64 {
    let rt = det(seed);
    run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let server = swap_v1::spawn(me.clone());
        let senders: Vec<TaskRef> = (0..2u8)
            .map(|from| {
                let server = server.clone();
                rcos::spawn(move |_| async move {
                    let mut rng = fastrand_like::Rng::new(seed * 7 + u64::from(from));
                    for n in 0..SWAP_MSGS {
                        server.send((from, n)).unwrap();
                        wander(&mut rng, 3).await;
                    }
                })
            })
            .collect();
        let swapper = {
            let (server, me) = (server.clone(), me.clone());
            rcos::spawn(move |_| async move {
                let mut rng = fastrand_like::Rng::new(seed * 7 + 5);
                wander(&mut rng, 2 * SWAP_MSGS).await;
                server
                    .hot_swap(swap_v2, (me,), Duration::from_secs(5))
                    .await
            })
        };
        for s in senders {
            s.finish().await;
        }
        let swapped = swapper
            .finish()
            .await
            .value()
            .unwrap()
            .take::<Result<(), rcos::task::HotSwapError>>()
            .unwrap();
        assert_eq!(swapped, Ok(()), "seed {seed}");
        server.send((STOP, 0u32)).unwrap();
        let mut next = [0u32; 2];
        let mut version = 1u8;
        let mut by_old_code = 0u64;
        for _ in 0..2 * SWAP_MSGS {
            let (v, from, n) = me.receive_type::<(u8, u8, u32)>().await.unwrap();
            by_old_code += u64::from(v == 1);
            assert!(v >= version, "seed {seed}: old code after new");
            version = v;
            assert_eq!(n, next[usize::from(from)], "seed {seed}: lost or reordered");
            next[usize::from(from)] += 1;
        }
        assert!(server.finish().await.is_returned(), "seed {seed}");
        // Where the swap fell.
        by_old_code
    })
}

#[test]
fn e6_hot_swap_during_receive() {
    for_seeds("hot swap during receive", hot_swap_during_receive);
}

// ---------------------------------------------------------------------------------
// Channel subscribe/unsubscribe during broadcast

const BROADCASTS: u32 = 30;

fn subscribe_during_broadcast(seed: u64) -> u64 {
    let rt = det(seed);
    run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let ch = Channel::new(format!("e6-{seed}")).unwrap();
        let subscribers: Vec<TaskRef> = (0..3u64)
            .map(|i| {
                let (ch, me) = (ch.clone(), me.clone());
                rcos::spawn(move |task| async move {
                    let mut rng = fastrand_like::Rng::new(seed * 11 + i);
                    wander(&mut rng, BROADCASTS).await;
                    ch.subscribe(&task).await.unwrap();
                    wander(&mut rng, BROADCASTS).await;
                    assert!(ch.unsubscribe(&task).await.unwrap());
                    let mut got = Vec::new();
                    while let Some(env) = task.try_receive().unwrap() {
                        got.push(env.downcast::<u32>().unwrap());
                    }
                    me.send((i, got)).unwrap();
                })
            })
            .collect();
        let broadcaster = {
            let ch = ch.clone();
            rcos::spawn(move |_| async move {
                for n in 0..BROADCASTS {
                    ch.send(n).unwrap();
                    rcos::task::yield_now().await;
                }
            })
        };
        broadcaster.finish().await;
        let mut windows = 0u64;
        for _ in 0..subscribers.len() {
            let (i, got) = me.receive_type::<(u64, Vec<u32>)>().await.unwrap();
            windows = windows * 1_000
                + got
                    .first()
                    .map_or(999, |f| u64::from(*f) * 31 + got.len() as u64)
                    % 1_000;
            // One subscription: one contiguous run of the broadcast, in order.
            if let (Some(first), Some(last)) = (got.first(), got.last()) {
                assert!(
                    got.iter().copied().eq(*first..=*last),
                    "seed {seed}: subscriber {i} got {got:?}"
                );
            }
        }
        for s in subscribers {
            assert!(s.finish().await.is_returned(), "seed {seed}");
        }
        windows
    })
}

#[test]
fn e6_channel_subscribe_and_unsubscribe_during_broadcast() {
    for_seeds(
        "channel subscribe/unsubscribe during broadcast",
        subscribe_during_broadcast,
    );
}

// ---------------------------------------------------------------------------------
// Crossing calls

/// Answers `Request<u32>` with n + 1 until it gets a 0.
async fn serve(task: TaskRef) -> Result<(), Interrupt> {
    loop {
        let req = task.receive_type::<Request<u32>>().await?;
        let n = *req.body();
        let _ = req.reply(n + 1);
        if n == 0 {
            return Ok(());
        }
    }
}

fn crossing_calls(seed: u64) -> u64 {
    let rt = det(seed);
    run(&rt, async move {
        let patience = Duration::from_secs(2);
        // A and B call each other while neither serves its mailbox: each call ends with
        // a timeout, or with NoReply when the other side ended first (its mailbox, with
        // the request in it, went with it).
        let (tx_a, rx_a) = std::sync::mpsc::channel::<TaskRef>();
        let a = rcos::spawn(move |_| async move {
            let b = rx_a.recv().unwrap();
            let mut rng = fastrand_like::Rng::new(seed * 13);
            wander(&mut rng, 4).await;
            b.call::<u32, u32>(1, patience).await
        });
        let b = {
            let a = a.clone();
            rcos::spawn(move |_| async move {
                let mut rng = fastrand_like::Rng::new(seed * 13 + 1);
                wander(&mut rng, 4).await;
                a.call::<u32, u32>(2, patience).await
            })
        };
        tx_a.send(b.clone()).unwrap();
        let start = rcos::time::now();
        let mut kinds = 0u64;
        for t in [&a, &b] {
            let r = t
                .finish()
                .await
                .value()
                .unwrap()
                .take::<Result<u32, CallError>>()
                .unwrap();
            let err = r.expect_err("a crossing call cannot be answered");
            kinds = kinds * 2 + u64::from(matches!(err, CallError::NoReply));
            assert!(
                matches!(err, CallError::Timeout | CallError::NoReply),
                "seed {seed}: crossing call gave {err:?}"
            );
            assert!(
                [
                    "no reply in time",
                    "the request was dropped without a reply"
                ]
                .contains(&err.to_string().as_str()),
                "seed {seed}: diagnostic {err}"
            );
        }
        assert!(rcos::time::now() - start <= patience * 2, "seed {seed}");

        // A call to oneself: a timeout too, never a hang.
        let me_caller = rcos::spawn(move |task| async move {
            let mut rng = fastrand_like::Rng::new(seed * 13 + 2);
            wander(&mut rng, 3).await;
            task.call::<u32, u32>(3, patience).await
        });
        let r = me_caller
            .finish()
            .await
            .value()
            .unwrap()
            .take::<Result<u32, CallError>>()
            .unwrap();
        assert!(matches!(r, Err(CallError::Timeout)), "seed {seed}: {r:?}");

        // Serving tasks that call each other through helpers: both calls succeed.
        let sa = rcos::spawn(serve);
        let sb = rcos::spawn(serve);
        let helpers: Vec<TaskRef> = [(sa.clone(), 10u32), (sb.clone(), 20)]
            .into_iter()
            .enumerate()
            .map(|(i, (target, n))| {
                rcos::spawn(move |_| async move {
                    let mut rng = fastrand_like::Rng::new(seed * 13 + 3 + i as u64);
                    wander(&mut rng, 4).await;
                    target.call::<u32, u32>(n, patience).await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for h in helpers {
            answers.push(
                h.finish()
                    .await
                    .value()
                    .unwrap()
                    .take::<Result<u32, CallError>>()
                    .unwrap()
                    .unwrap(),
            );
        }
        assert_eq!(answers, [11, 21], "seed {seed}");
        for s in [&sa, &sb] {
            let _: u32 = s.call(0u32, patience).await.unwrap();
            s.finish().await;
        }
        kinds
    })
}

#[test]
fn e6_crossing_calls_and_calls_to_oneself() {
    for_seeds("crossing calls A<->B and call to self", crossing_calls);
}
