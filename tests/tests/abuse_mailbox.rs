//! RELIABILITY.md E3: a bounded mailbox (1,000 slots) with a slow consumer and 10^6
//! sends under each overflow policy: RSS stays flat (its growth is printed against
//! cap x message size), the sender sees the policy (`Full` with the message handed
//! back, or a counted drop, or `deliver` waiting for room), and a monitor status, a
//! throw, `terminate` and a hot-swap request all get through while the user queue is
//! full. Its own test binary, so the RSS figures are not another test's.

use std::time::{Duration, Instant};

use rcos::task::{Builder as TaskBuilder, MonitorStatus, Overflow};
use rcos::{Interrupt, TaskRef, task};
use rcos_tests::memory::{mib, rss, scaled, serial};
use rcos_tests::{PATIENCE, rt2, run};

const E3_CAP: usize = 1_000;
const E3_PAYLOAD: usize = 1024;
/// Marks the end of the stream.
const END: u64 = u64::MAX;

/// The consumer before the swap: holds its mailbox closed (suspended) so that it fills;
/// reports throws to `boss`; accepts a hot swap.
#[task]
async fn e3_gated(task: TaskRef, boss: TaskRef) -> Result<(), Interrupt> {
    task.hot_swappable(true)?;
    boss.send("gated".to_string()).unwrap();
    loop {
        match task.suspend(None).await {
            Ok(_) => {}
            Err(Interrupt::Thrown(thrown)) => {
                boss.send(format!("thrown: {}", thrown.message())).unwrap();
            }
            Err(other) => return Err(other),
        }
    }
}

/// The consumer after the swap: slow (it reads every byte of every payload), checks
/// the order, counts monitor statuses, ends at `END`.
#[task]
async fn e3_drain(task: TaskRef) -> (u64, u64, bool, u64) {
    let (mut received, mut statuses, mut in_order, mut last) = (0u64, 0u64, true, None);
    let mut checksum = 0u64;
    loop {
        let Ok(env) = task.receive().await else { break };
        match env.downcast::<(u64, Vec<u8>)>() {
            Ok((END, _)) => break,
            Ok((seq, bytes)) => {
                received += 1;
                in_order &= last.is_none_or(|l| seq > l);
                last = Some(seq);
                checksum = bytes.iter().fold(checksum, |c, b| {
                    c.wrapping_mul(31).wrapping_add(u64::from(*b))
                });
            }
            Err(env) => statuses += u64::from(env.downcast::<MonitorStatus>().is_ok()),
        }
    }
    std::hint::black_box(checksum);
    (received, statuses, in_order, last.unwrap_or(0))
}

fn payload(seq: u64) -> (u64, Vec<u8>) {
    (seq, vec![seq as u8; E3_PAYLOAD])
}

struct E3 {
    sent: usize,
    accepted: u64,
    refused: u64,
    dropped: u64,
    received: u64,
    peak_growth: u64,
    /// RSS growth between a tenth of the sends and the end: flat means ~0.
    late_growth: u64,
    secs: f64,
}

fn e3(policy: Overflow, sends: usize) -> E3 {
    let rt = rt2();
    let started = Instant::now();
    run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let consumer = TaskBuilder::new()
            .mailbox(E3_CAP, policy)
            .spawn_fn(e3_gated, (me.clone(),));
        me.monitor(&consumer).unwrap();
        assert_eq!(me.receive_type::<String>().await.unwrap(), "gated");
        let base = rss();
        let mut peak = base;
        let mut at_a_tenth = None;
        let (mut seq, mut accepted, mut refused) = (0u64, 0u64, 0u64);
        // Fill the user queue.
        for _ in 0..E3_CAP {
            consumer.send(payload(seq)).unwrap();
            seq += 1;
            accepted += 1;
        }
        // Full: the sender sees the policy.
        match policy {
            Overflow::DropNewest => {
                consumer.send(payload(seq)).unwrap();
                accepted += 1;
                assert_eq!(consumer.dropped_messages(), 1);
            }
            _ => {
                let err = consumer.send(payload(seq)).unwrap_err();
                assert!(err.is_full());
                assert_eq!(err.into_inner().0, seq, "the message is handed back");
                refused += 1;
                let err = consumer
                    .deliver(payload(seq), Duration::from_millis(20))
                    .await
                    .unwrap_err();
                if policy == Overflow::Wait {
                    assert_eq!(err.kind(), rcos::SendErrorKind::Timeout);
                } else {
                    assert!(err.is_full());
                }
            }
        }
        seq += 1;
        assert_eq!(consumer.mailbox_len(), E3_CAP);
        // While full: a monitor status gets in (system message, not counted)...
        let brief = rcos::spawn(|_| async { 7u8 });
        consumer.monitor(&brief).unwrap();
        brief.finish().await;
        let mut spins = 0;
        while consumer.mailbox_len() < E3_CAP + 1 {
            rcos::task::yield_now().await;
            spins += 1;
            assert!(spins < 1_000_000, "the monitor status never got in");
        }
        // ...a throw gets through...
        assert!(consumer.throw(std::io::Error::other("E3 throw while full")));
        assert_eq!(
            me.receive_type::<String>().await.unwrap(),
            "thrown: E3 throw while full"
        );
        // ...terminate gets through to another full task, and its monitor is told...
        let other = TaskBuilder::new()
            .mailbox(E3_CAP, policy)
            .spawn(|task| async move { task.suspend(None).await.map(|_| ()) });
        me.monitor(&other).unwrap();
        for i in 0..E3_CAP as u64 {
            other.send((i, Vec::<u8>::new())).unwrap();
        }
        assert!(other.terminate());
        let status = me.receive_type::<MonitorStatus>().await.unwrap();
        assert_eq!(status.task, other);
        assert!(status.exit.is_terminated(), "{}", status.exit);
        // ...and so does a hot-swap request: the slow consumer takes over.
        consumer
            .hot_swap(e3_drain, (), PATIENCE)
            .await
            .expect("hot swap while the mailbox is full");
        // The stream.
        for n in (E3_CAP + 1)..sends {
            let msg = payload(seq);
            seq += 1;
            match policy {
                Overflow::Wait => {
                    consumer.deliver(msg, PATIENCE).await.unwrap();
                    accepted += 1;
                }
                Overflow::Fail => match consumer.send(msg) {
                    Ok(()) => accepted += 1,
                    Err(err) => {
                        assert!(err.is_full());
                        refused += 1;
                        // The producer outruns the consumer by far: let it catch up.
                        if refused % 64 == 0 {
                            rcos::task::yield_now().await;
                        }
                    }
                },
                _ => {
                    consumer.send(msg).unwrap();
                    accepted += 1;
                    if n % 64 == 0 {
                        rcos::task::yield_now().await;
                    }
                }
            }
            if n % 10_000 == 0 {
                let now = rss();
                peak = peak.max(now);
                if n >= sends / 10 && at_a_tenth.is_none() {
                    at_a_tenth = Some(now);
                }
            }
        }
        // Once the queue is empty the end marker cannot be refused or dropped.
        while consumer.mailbox_len() > 0 {
            rcos::task::yield_now().await;
        }
        consumer.send((END, Vec::<u8>::new())).unwrap();
        peak = peak.max(rss());
        let status = me.receive_type::<MonitorStatus>().await.unwrap();
        let (received, statuses, in_order, _last) = status
            .exit
            .value()
            .unwrap()
            .take::<(u64, u64, bool, u64)>()
            .unwrap();
        let dropped = consumer.dropped_messages();
        assert!(in_order, "order lost");
        assert_eq!(
            statuses, 1,
            "the monitor status queued while full arrived once"
        );
        assert_eq!(received + dropped, accepted, "lost messages");
        assert_eq!(seq as usize, sends);
        E3 {
            sent: sends,
            accepted,
            refused,
            dropped,
            received,
            peak_growth: peak.saturating_sub(base),
            late_growth: peak.saturating_sub(at_a_tenth.unwrap_or(base)),
            secs: 0.0,
        }
    })
    .with_secs(started.elapsed().as_secs_f64())
}

impl E3 {
    fn with_secs(mut self, secs: f64) -> E3 {
        self.secs = secs;
        self
    }
}

fn e3_report(policy: Overflow, r: &E3) {
    let budget = (E3_CAP * E3_PAYLOAD) as u64;
    println!(
        "E3 {policy:?}: {} sends to a {E3_CAP}-slot mailbox of {} B messages: {} queued, \
         {} refused (Full, handed back), {} dropped (counted), {} received in order; \
         peak RSS growth {:.2} MiB vs cap x size {:.2} MiB (+10 % = {:.2} MiB{}), growth \
         over the last 90 % of the sends {:.2} MiB; monitor status, throw, terminate and \
         hot swap got through while full; {:.1} s",
        r.sent,
        E3_PAYLOAD,
        r.accepted,
        r.refused,
        r.dropped,
        r.received,
        mib(r.peak_growth),
        mib(budget),
        mib(budget * 11 / 10),
        if r.peak_growth > budget * 11 / 10 {
            "; exceeded by allocator and runtime overhead, within the 4 MiB slack allowed"
        } else {
            ""
        },
        mib(r.late_growth),
        r.secs,
    );
    // The allocator keeps a few MiB of slack of its own; an unbounded queue would have
    // grown by about sends x size (here ~1 GiB).
    let slack = 4 * 1024 * 1024;
    assert!(
        r.peak_growth <= budget * 11 / 10 + slack,
        "RSS grew by {:.1} MiB",
        mib(r.peak_growth)
    );
    assert!(
        r.late_growth <= budget / 10 + 1024 * 1024,
        "RSS kept growing with the sends: {:.1} MiB over the last 90 %",
        mib(r.late_growth)
    );
}

#[test]
fn e3_bounded_mailbox_fail_policy_under_a_million_sends() {
    let _serial = serial();
    let r = e3(Overflow::Fail, scaled(1_000_000));
    e3_report(Overflow::Fail, &r);
    assert!(r.refused > 0);
}

#[test]
fn e3_bounded_mailbox_drop_newest_policy_under_a_million_sends() {
    let _serial = serial();
    let r = e3(Overflow::DropNewest, scaled(1_000_000));
    e3_report(Overflow::DropNewest, &r);
    assert!(r.dropped > 0);
}

/// `Wait`: every message gets through, at the consumer's pace.
#[test]
fn e3_bounded_mailbox_wait_policy() {
    let _serial = serial();
    let r = e3(Overflow::Wait, scaled(200_000));
    e3_report(Overflow::Wait, &r);
    assert_eq!(r.received as usize, r.sent - 1, "all but the refused probe");
}

#[test]
#[ignore = "E3 Wait at full scale (10^6 deliveries at the consumer's pace, ~1 min in debug); \
            run with: cargo test -p rcos-tests --all-features --release --test abuse_mailbox -- --ignored"]
fn e3_bounded_mailbox_wait_policy_full_scale() {
    let _serial = serial();
    let r = e3(Overflow::Wait, 1_000_000);
    e3_report(Overflow::Wait, &r);
}
