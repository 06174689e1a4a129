//! RELIABILITY.md E4: burst and drain (the tokio#4321 pattern): 4 KiB messages queued
//! for a task that is not receiving, then drained; RSS before, at the peak, after the
//! drain and after idling, and a second equal burst to show that what is kept is
//! reused, not leaked. RSS must come back below 2 x baseline, or the limitation is
//! documented (rcos crate docs, "Memory after a burst") and the test reports instead of
//! failing. Its own test binary, so the RSS figures are not another test's.

use std::time::{Duration, Instant};

use rcos::{Interrupt, TaskRef};
use rcos_tests::memory::{mib, rss, scaled, serial};
use rcos_tests::run;

const E4_SIZE: usize = 4096;

/// Queues `messages` x 4 KiB for a suspended task, then lets it drain them; returns
/// RSS at the peak and right after the drain.
async fn burst(messages: usize) -> (u64, u64) {
    let me = TaskRef::current().unwrap();
    let consumer = rcos::spawn(move |task| async move {
        me.send(()).unwrap();
        task.suspend(None).await?;
        let mut n = 0usize;
        while n < messages {
            let bytes = task.receive().await?.downcast::<Vec<u8>>().unwrap();
            assert_eq!(bytes.len(), E4_SIZE);
            n += 1;
        }
        Ok::<_, Interrupt>(n)
    });
    TaskRef::current()
        .unwrap()
        .receive_type::<()>()
        .await
        .unwrap();
    for i in 0..messages {
        // Not zeroes: calloc'd pages would not be resident.
        consumer.send(vec![i as u8 | 1; E4_SIZE]).unwrap();
    }
    let peak = rss();
    consumer.resume(()).unwrap();
    let n = consumer
        .finish()
        .await
        .value()
        .unwrap()
        .take::<Result<usize, Interrupt>>()
        .unwrap()
        .unwrap();
    assert_eq!(n, messages);
    (peak, rss())
}

struct E4 {
    base: u64,
    peak: u64,
    drained: u64,
    settled: u64,
    second_peak: u64,
}

fn e4(messages: usize, settle: Duration) -> E4 {
    // One worker: the sender allocates and the consumer frees on the same thread. With
    // two, glibc gives each thread its own arena and a block freed by another thread
    // goes back to the arena that allocated it, so a second burst sent from the other
    // worker could not reuse the first one's memory however rcos behaved — and which
    // worker sends is chance. One thread measures what rcos keeps, not the arenas.
    let rt = rcos::Runtime::builder()
        .workers(1)
        .name("e4")
        .build()
        .expect("a runtime");
    let base = rss();
    let (peak, drained) = run(&rt, burst(messages));
    // Idle time, as in tokio#4321's report: does memory come back later?
    let quiet_until = Instant::now() + settle;
    while Instant::now() < quiet_until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let settled = rss();
    // A second burst of the same size: memory kept is reused, not leaked.
    let (second_peak, _) = run(&rt, burst(messages));
    drop(rt);
    E4 {
        base,
        peak,
        drained,
        settled,
        second_peak,
    }
}

fn e4_report(messages: usize, e: &E4) {
    let ratio = e.settled as f64 / e.base as f64;
    println!(
        "E4: burst of {messages} x {E4_SIZE} B ({:.0} MiB) queued then drained: RSS baseline \
         {:.1} MiB, peak {:.1} MiB, right after drain {:.1} MiB, after idling {:.1} MiB \
         ({ratio:.2} x baseline; target < 2 x); a second equal burst peaks at {:.1} MiB \
         (memory kept is reused, not leaked)",
        mib((messages * E4_SIZE) as u64),
        mib(e.base),
        mib(e.peak),
        mib(e.drained),
        mib(e.settled),
        mib(e.second_peak),
    );
    if ratio >= 2.0 {
        println!(
            "E4: REPORT ONLY, NOT A FAILURE: RSS did not come back below 2 x baseline. Known \
             limitation, documented in the rcos crate docs ('Memory after a burst'): the \
             allocator (glibc malloc here) keeps the freed memory in the process for reuse, \
             and a mailbox keeps the capacity of its largest backlog (24 B a message)."
        );
    }
    // No leak: the second burst reuses what the first left.
    let burst_bytes = (messages * E4_SIZE) as u64;
    assert!(
        e.second_peak <= e.peak + burst_bytes / 10 + 16 * 1024 * 1024,
        "the second burst grew RSS from {:.1} to {:.1} MiB: memory leaked",
        mib(e.peak),
        mib(e.second_peak)
    );
}

#[test]
fn e4_burst_and_drain_memory() {
    let _serial = serial();
    let messages = scaled(100_000);
    let figures = e4(messages, Duration::from_secs(1));
    e4_report(messages, &figures);
}

#[test]
#[ignore = "E4 at full scale: 10^6 x 4 KiB = 4 GiB resident at peak, 5 s idle; run with: \
            cargo test -p rcos-tests --all-features --release --test abuse_burst -- --ignored"]
fn e4_burst_and_drain_memory_full_scale() {
    let _serial = serial();
    let figures = e4(1_000_000, Duration::from_secs(5));
    e4_report(1_000_000, &figures);
}
