//! C6 (RELIABILITY.md): a broadcast channel with subscribers that keep up and one that
//! does not. The fast ones get every message in order; the slow one is held to the
//! channel's capacity and told what it missed with a `Lagged` notice; the memory the
//! slow one pins stays within capacity × message size. Also: a subscriber whose bounded
//! mailbox refuses a message is told too (before, it missed it silently).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use rcos::channel::{Channel, Lagged};
use rcos::sync::Semaphore;
use rcos::task::Overflow;
use rcos::{Interrupt, Message, TaskRef};
use rcos_tests::{PATIENCE, rt2, run};
use serde::{Deserialize, Serialize};

/// Payloads alive now, and the most there ever were.
static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

/// Counts the payloads alive (made, cloned, not yet dropped). Made only by `default`.
#[derive(Debug)]
struct Alive(());

impl Default for Alive {
    fn default() -> Alive {
        let now = LIVE.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK.fetch_max(now, Ordering::SeqCst);
        Alive(())
    }
}

impl Clone for Alive {
    fn clone(&self) -> Alive {
        Alive::default()
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The size of a published message's body.
const BODY: usize = 512;

/// One published message: its number and a body.
#[derive(Clone, Debug, Serialize, Deserialize, Message)]
struct Tick {
    seq: u64,
    body: Vec<u8>,
    /// Held only for its count of live payloads.
    #[serde(skip)]
    _alive: Alive,
}

impl Tick {
    fn new(seq: u64) -> Tick {
        Tick {
            seq,
            body: vec![seq as u8; BODY],
            _alive: Alive::default(),
        }
    }
}

/// What a subscriber tells the publisher: `(subscriber, messages received)`.
type Ack = (u64, u64);

const N: u64 = 100_000;
/// The channel's capacity: a subscriber's mailbox holds at most this many.
const CAPACITY: usize = 256;
/// Fast subscribers acknowledge every `BATCH` messages; the publisher stays at most
/// `WINDOW` messages ahead of the slowest fast one (so they never reach the capacity).
const BATCH: u64 = 64;
const WINDOW: u64 = 2 * BATCH;
const FAST: u64 = 9;

/// A subscriber that keeps up: checks every message is the next one, acknowledges,
/// returns (messages, lag notices).
fn fast_subscriber(id: u64, publisher: TaskRef) -> TaskRef {
    rcos::spawn(move |task| async move {
        let (mut next, mut notices) = (0u64, 0u64);
        while next < N {
            let msg = task.receive().await?;
            let msg = match msg.downcast::<Lagged>() {
                Ok(_) => {
                    notices += 1;
                    continue;
                }
                Err(msg) => msg,
            };
            let tick = msg.downcast::<Tick>().expect("a tick");
            assert_eq!(
                tick.seq, next,
                "fast subscriber {id}: out of order or a gap"
            );
            assert_eq!(tick.body.len(), BODY);
            next += 1;
            if next % BATCH == 0 || next == N {
                let _ = publisher.send::<Ack>((id, next));
            }
        }
        Ok::<(u64, u64), Interrupt>((next, notices))
    })
}

/// What the slow subscriber saw, sent to the test when it has seen a notice and the
/// message after it.
#[derive(Clone, Debug, Serialize, Deserialize, Message)]
struct SlowReport {
    /// Messages received before the first notice (all in order, from 0).
    before: u64,
    /// The first notice's count.
    missed: u64,
    /// The number of the first message after the notice.
    after: u64,
    /// Every message it received was the one its notices accounted for.
    consistent: bool,
}

/// The slow subscriber: 10 ms a message for as long as it runs. It checks that each
/// message is the one expected from those before it plus the notices' counts, and
/// reports to `report` once it has seen a notice and the message after it.
fn slow_subscriber(report: TaskRef) -> TaskRef {
    rcos::spawn(move |task| async move {
        let mut expected = 0u64;
        let mut first: Option<(u64, u64)> = None;
        let mut consistent = true;
        let mut reported = false;
        loop {
            let msg = task.receive().await?;
            match msg.downcast::<Lagged>() {
                Ok(lagged) => {
                    assert_eq!(lagged.channel(), "c6");
                    if first.is_none() {
                        first = Some((expected, lagged.missed()));
                    }
                    expected += lagged.missed();
                }
                Err(msg) => {
                    let tick = msg.downcast::<Tick>().expect("a tick");
                    consistent &= tick.seq == expected;
                    expected = tick.seq + 1;
                    if let (Some((before, missed)), false) = (first, reported) {
                        let _ = report.send(SlowReport {
                            before,
                            missed,
                            after: tick.seq,
                            consistent,
                        });
                        reported = true;
                    }
                    // The slow consumer's work: 10 ms a message (what makes it slow,
                    // not a synchronisation).
                    rcos::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        #[allow(unreachable_code)]
        Ok::<(), Interrupt>(())
    })
}

#[test]
fn c6_a_slow_subscriber_is_bounded_and_told_while_fast_ones_get_everything() {
    let rt = rt2();
    let (tx, rx) = std::sync::mpsc::channel::<SlowReport>();
    let out = run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let channel = Channel::new("c6").unwrap();
        channel.set_capacity(CAPACITY).unwrap();
        assert_eq!(channel.capacity(), CAPACITY);
        let fast: Vec<TaskRef> = (0..FAST)
            .map(|id| fast_subscriber(id, me.clone()))
            .collect();
        // The slow one's report goes through a relay to the test thread.
        let relay = rcos::spawn(move |task| async move {
            let report = task.receive_type::<SlowReport>().await?;
            let _ = tx.send(report);
            Ok::<(), Interrupt>(())
        });
        let slow = slow_subscriber(relay);
        for f in &fast {
            channel.subscribe(f).await.unwrap();
        }
        channel.subscribe(&slow).await.unwrap();

        let start = Instant::now();
        let mut acked = vec![0u64; FAST as usize];
        let (mut slow_peak, mut waits) = (0usize, 0u64);
        for seq in 0..N {
            // Flow control with the fast subscribers: at most WINDOW ahead of them.
            while acked.iter().min().copied().unwrap_or(N) + WINDOW <= seq {
                let (id, upto) = me.receive_type::<Ack>().await.unwrap();
                acked[id as usize] = acked[id as usize].max(upto);
                waits += 1;
            }
            channel.send(Tick::new(seq)).unwrap();
            slow_peak = slow_peak.max(slow.mailbox_len());
        }
        let published_in = start.elapsed();
        let mut fast_got = Vec::new();
        for f in &fast {
            let (got, notices) = f
                .finish()
                .await
                .value()
                .unwrap()
                .take::<Result<(u64, u64), Interrupt>>()
                .unwrap()
                .unwrap();
            fast_got.push((got, notices));
        }
        let fast_done = start.elapsed();
        (slow, published_in, fast_done, fast_got, slow_peak, waits)
    });
    let (slow, published_in, fast_done, fast_got, slow_peak, waits) = out;
    // The test ends once the slow one has seen its notice and the message after it.
    let report = rx
        .recv_timeout(PATIENCE)
        .expect("the slow subscriber saw a lag notice and a message after it");
    let peak_live = PEAK.load(Ordering::SeqCst);
    slow.terminate();
    println!(
        "C6: {N} publishes to {FAST} fast + 1 slow (10 ms/msg) subscribers, capacity {CAPACITY}, {BODY}-byte messages: \
         published in {:.2} s ({:.0} msg/s; {waits} flow-control waits), fast ones done in {:.2} s, each got {:?} (received, lag notices); \
         slow one: {} in order, then Lagged({}), then #{} ({}); slow mailbox peak {slow_peak} messages = {} KiB of payload (bound {CAPACITY} x {BODY} B = {} KiB); \
         payloads alive at peak {peak_live} ({} KiB)",
        published_in.as_secs_f64(),
        N as f64 / published_in.as_secs_f64(),
        fast_done.as_secs_f64(),
        fast_got[0],
        report.before,
        report.missed,
        report.after,
        if report.consistent {
            "consistent"
        } else {
            "INCONSISTENT"
        },
        slow_peak * BODY / 1024,
        CAPACITY * BODY / 1024,
        peak_live as usize * BODY / 1024,
    );
    for (i, (got, notices)) in fast_got.iter().enumerate() {
        assert_eq!(*got, N, "fast subscriber {i}");
        assert_eq!(*notices, 0, "fast subscriber {i} was told it lagged");
    }
    // The slow one: its first CAPACITY (at least) in order, then an explicit notice
    // whose count accounts exactly for the gap.
    assert!(
        report.before >= CAPACITY as u64,
        "the slow one lagged before its mailbox was full: {report:?}"
    );
    assert!(report.missed > 0);
    assert_eq!(report.after, report.before + report.missed, "{report:?}");
    assert!(report.consistent, "{report:?}");
    // Memory: the slow subscriber's mailbox (what the channel pins for it) stays
    // within the capacity (+ its lag notices, which carry no payload).
    assert!(
        slow_peak <= CAPACITY + 2,
        "slow mailbox grew to {slow_peak} (capacity {CAPACITY})"
    );
    // Every payload alive at once: the slow one's ≤ capacity, the fast ones' window,
    // the copies being looked at.
    assert!(
        peak_live <= (CAPACITY as u64 + WINDOW + 2 * FAST + 16) as i64,
        "{peak_live} payloads alive at once"
    );
}

/// A subscriber with a bounded mailbox (`Overflow::Fail`) that is full misses channel
/// messages — and is now told so, with the count, at the place of the gap.
#[test]
fn a_full_bounded_mailbox_gets_a_lagged_notice_not_silence() {
    let rt = rt2();
    run(&rt, async {
        let channel = Channel::new("bounded").unwrap();
        let (go, drained) = (rcos::sync::Event::new(), rcos::sync::Event::new());
        let (go2, drained2) = (go.clone(), drained.clone());
        let reader =
            rcos::task::Builder::new()
                .mailbox(3, Overflow::Fail)
                .spawn(move |task| async move {
                    go2.wait().await;
                    let mut seen = Vec::new();
                    let note = |msg: rcos::Envelope, seen: &mut Vec<String>| match msg
                        .downcast::<Lagged>()
                    {
                        Ok(lagged) => seen.push(format!("lagged {}", lagged.missed())),
                        Err(msg) => match msg.downcast::<u32>() {
                            Ok(n) => seen.push(n.to_string()),
                            Err(other) => panic!("unexpected {}", other.type_name()),
                        },
                    };
                    while let Some(msg) = task.receive_timeout(Duration::ZERO).await? {
                        note(msg, &mut seen);
                    }
                    drained2.set();
                    note(task.receive().await?, &mut seen);
                    Ok::<_, Interrupt>(seen)
                });
        channel.subscribe(&reader).await.unwrap();
        // Three fit; the next four are refused by the mailbox.
        for n in 0..7u32 {
            channel.send(n).unwrap();
        }
        assert_eq!(reader.mailbox_len(), 4, "3 messages and the notice");
        go.set();
        drained.wait().await;
        assert_eq!(channel.deliver(99u32, PATIENCE, 1).await.ok(), Some(1));
        let seen = reader
            .finish()
            .await
            .value()
            .unwrap()
            .take::<Result<Vec<String>, Interrupt>>()
            .unwrap()
            .unwrap();
        println!("bounded mailbox subscriber saw {seen:?}");
        assert_eq!(seen, ["0", "1", "2", "lagged 4", "99"]);
    });
}

/// A subscriber that keeps up within the capacity never lags, however many messages
/// pass; a lagging one closes its gap and gets a second notice for a second gap.
#[test]
fn gaps_close_and_reopen_with_a_notice_each() {
    let rt = rt2();
    run(&rt, async {
        let channel = Channel::new("gaps").unwrap();
        channel.set_capacity(2).unwrap();
        // The reader drains its mailbox only when let (`go`), and says when it has.
        let (go, drained) = (Semaphore::new(0), Semaphore::new(0));
        let (go2, drained2) = (go.clone(), drained.clone());
        let reader = rcos::spawn(move |task| async move {
            let mut seen = Vec::new();
            loop {
                go2.acquire().await.forget();
                while let Some(msg) = task.receive_timeout(Duration::ZERO).await? {
                    match msg.downcast::<Lagged>() {
                        Ok(lagged) => seen.push(format!("lagged {}", lagged.missed())),
                        Err(msg) => match msg.downcast::<u32>() {
                            Ok(99) => return Ok::<_, Interrupt>(seen),
                            Ok(n) => seen.push(n.to_string()),
                            Err(other) => panic!("unexpected {}", other.type_name()),
                        },
                    }
                }
                drained2.release();
            }
        });
        channel.subscribe(&reader).await.unwrap();
        // 0 and 1 fit, 2–4 are missed: one notice, for 3.
        for n in 0..5u32 {
            channel.send(n).unwrap();
        }
        go.release();
        drained.acquire().await.forget();
        // 5 and 6 fit (and close the first gap), 7 and 8 open a second one.
        for n in 5..9u32 {
            channel.send(n).unwrap();
        }
        go.release();
        drained.acquire().await.forget();
        channel.send(99u32).unwrap();
        go.release();
        let seen = reader
            .finish()
            .await
            .value()
            .unwrap()
            .take::<Result<Vec<String>, Interrupt>>()
            .unwrap()
            .unwrap();
        println!("two gaps: {seen:?}");
        assert_eq!(seen, ["0", "1", "lagged 3", "5", "6", "lagged 2"]);
    });
}
