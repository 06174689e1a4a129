//! RELIABILITY.md E1 and E7: the local runtime under abuse (E3 is in abuse_mailbox.rs,
//! E4 in abuse_burst.rs, each in its own process so that RSS figures are its own).
//!
//! - E1: 100,000 tasks that panic (in their body, in a request handler, in hot-swapped
//!   code): the runtime survives, every monitor gets `Exit::Panicked` with the message,
//!   the task count returns to its baseline. `panic = "abort"` is unsupported.
//! - E7: a hot swap in the middle of 100,000 queued messages: none lost, order kept,
//!   monitors told when the new code panics.
//!
//! Each test prints the figure its row names. The tests run one at a time, with a panic
//! hook that keeps the deliberate panics quiet.

use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

use rcos::task::MonitorStatus;
use rcos::{CallError, Exit, Interrupt, Request, TaskRef, task};
use rcos_tests::memory::scaled;
use rcos_tests::{PATIENCE, rt2, run};

/// Panics whose message starts with this are deliberate: not printed.
const DELIBERATE: &str = "abuse deliberate";

/// One test at a time (each uses both cores); installs the quiet panic hook.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !msg.starts_with(DELIBERATE) {
                default(info);
            }
        }));
    });
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------
// E1

#[task]
async fn e1_swappable(task: TaskRef) -> Result<(), Interrupt> {
    task.hot_swappable(true)?;
    loop {
        // A hot-swap request propagates out: accepted.
        task.receive().await?;
    }
}

#[task]
async fn e1_exploding(_task: TaskRef, n: u64) {
    panic!("{DELIBERATE}: hot-swapped code {n}");
}

/// Serves requests; panics in the handler of the first one.
async fn e1_handler(task: TaskRef) -> Result<(), Interrupt> {
    loop {
        let env = task.receive().await?;
        if let Ok(req) = env.downcast::<Request<u64>>() {
            panic!("{DELIBERATE}: handler {}", req.body());
        }
    }
}

/// Answers `Request<u32>` with n + 1: proves the runtime still serves.
async fn bystander(task: TaskRef) -> Result<(), Interrupt> {
    loop {
        let env = task.receive().await?;
        if let Ok(req) = env.downcast::<Request<u32>>() {
            let n = *req.body();
            let _ = req.reply(n + 1);
        }
    }
}

fn e1(total: usize) {
    let rt = rt2();
    let started = Instant::now();
    let (counts, no_reply, baseline, after, answered) = run(&rt, async move {
        let by = rcos::spawn(bystander);
        let before: u32 = by.call(1u32, PATIENCE).await.unwrap();
        assert_eq!(before, 2);
        let baseline = rcos::Handle::current().unwrap().task_count();
        let collector = rcos::spawn(move |task| async move {
            // [body, handler, hot-swapped, anything else]
            let mut counts = [0usize; 4];
            for _ in 0..total {
                let env = task.receive().await?;
                let Ok(status) = env.downcast::<MonitorStatus>() else {
                    counts[3] += 1;
                    continue;
                };
                let kind = match &status.exit {
                    Exit::Panicked(msg) if msg.starts_with(&format!("{DELIBERATE}: body")) => 0,
                    Exit::Panicked(msg) if msg.starts_with(&format!("{DELIBERATE}: handler")) => 1,
                    Exit::Panicked(msg)
                        if msg.starts_with(&format!("{DELIBERATE}: hot-swapped code")) =>
                    {
                        2
                    }
                    _ => 3,
                };
                counts[kind] += 1;
            }
            Ok::<_, Interrupt>(counts)
        });
        const DRIVERS: usize = 8;
        let drivers: Vec<TaskRef> = (0..DRIVERS)
            .map(|d| {
                let collector = collector.clone();
                rcos::spawn(move |_| async move {
                    let mut no_reply = 0usize;
                    for i in (d..total).step_by(DRIVERS) {
                        let n = i as u64;
                        match i % 3 {
                            0 => {
                                let t = rcos::spawn(move |_| async move {
                                    panic!("{DELIBERATE}: body {n}");
                                });
                                collector.monitor(&t).unwrap();
                            }
                            1 => {
                                let t = rcos::spawn(e1_handler);
                                collector.monitor(&t).unwrap();
                                match t.call::<u64, u64>(n, PATIENCE).await {
                                    Err(CallError::NoReply) => no_reply += 1,
                                    other => panic!("call into a panicking handler: {other:?}"),
                                }
                            }
                            _ => {
                                let t = e1_swappable::spawn();
                                collector.monitor(&t).unwrap();
                                t.hot_swap(e1_exploding, (n,), PATIENCE).await.unwrap();
                            }
                        }
                    }
                    no_reply
                })
            })
            .collect();
        let mut no_reply = 0;
        for d in drivers {
            no_reply += d.finish().await.get::<usize>().unwrap();
        }
        let counts = collector
            .finish()
            .await
            .value()
            .unwrap()
            .take::<Result<[usize; 4], Interrupt>>()
            .unwrap()
            .unwrap();
        let after = rcos::Handle::current().unwrap().task_count();
        let answered: u32 = by.call(41u32, PATIENCE).await.unwrap();
        by.terminate();
        (counts, no_reply, baseline, after, answered)
    });
    let elapsed = started.elapsed();
    let told = counts[0] + counts[1] + counts[2];
    println!(
        "E1: {told}/{total} monitors told Panicked(msg) (body {}, handler {}, hot-swapped {}; \
         other {}), {no_reply} callers of a panicking handler got NoReply, tasks back to \
         {after} (baseline {baseline}), runtime still answers ({answered}), {:.1} s",
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        elapsed.as_secs_f64()
    );
    assert_eq!(told, total);
    assert_eq!(counts[3], 0);
    assert_eq!(no_reply, counts[1]);
    assert_eq!(after, baseline);
    assert_eq!(answered, 42);
    rt.join_timeout(PATIENCE).unwrap();
    assert_eq!(rt.task_count(), 0);
}

#[test]
fn e1_a_hundred_thousand_panicking_tasks() {
    let _serial = serial();
    e1(scaled(100_000));
}

/// rcos catches task panics by unwinding; with `panic = "abort"` any panic ends the
/// process. What can be checked from inside a test build: that this build unwinds
/// (so the guarantee above holds for it), that the crate docs say abort is unsupported,
/// and that a panicking task does not take the process down here.
#[test]
fn e1_panic_abort_is_documented_as_unsupported() {
    let _serial = serial();
    #[cfg(not(panic = "unwind"))]
    compile_error!("rcos's tests must be built with panic = \"unwind\": abort is unsupported");
    let docs = include_str!("../../rcos/src/lib.rs");
    assert!(
        docs.contains("`panic = \"abort\"` is not")
            && docs.contains("supported, as any panic would then end the whole process"),
        "rcos's crate docs must say that panic = \"abort\" is unsupported"
    );
    let rt = rt2();
    let t = rt.spawn(|_| async { panic!("{DELIBERATE}: unwinds") });
    assert!(matches!(t.value(), Exit::Panicked(m) if m.ends_with("unwinds")));
    println!(
        "E1: panic strategy of this build: unwind; panic = \"abort\" is documented as \
         unsupported (rcos docs, 'Panics in tasks') and a runtime built so logs a warning \
         at start"
    );
}

// ---------------------------------------------------------------------------------
// E7

/// Records every u32 it receives; when it has seen `mark`, tells `boss` and waits
/// (suspended: messages go on queueing) for the hot swap, which it accepts, handing
/// over what it recorded. So the swap always comes with most of the stream still
/// queued, however the machine schedules the tasks (waiting on `receive` instead, a
/// busy machine could let it drain everything before the swap request came).
#[task]
async fn e7_v1(task: TaskRef, boss: TaskRef, mark: u32) -> Result<(), Interrupt> {
    task.hot_swappable(true)?;
    let mut seen: Vec<u32> = Vec::new();
    loop {
        let got = if seen.last() == Some(&mark) {
            task.suspend(None).await.map(|_| None)
        } else {
            task.receive().await.map(Some)
        };
        match got {
            Ok(Some(env)) => {
                let n = env.downcast::<u32>().unwrap();
                seen.push(n);
                if n == mark {
                    boss.send("mark".to_string()).unwrap();
                }
            }
            // Resumed: nobody does; go on receiving.
            Ok(None) => {}
            Err(Interrupt::HotSwap(req)) => {
                req.accept_with(seen).await;
                unreachable!("an accepted swap does not return");
            }
            Err(other) => return Err(other),
        }
    }
}

/// Goes on recording until `total` have been seen (or panics on `panic_at`); returns
/// everything recorded and where the swap happened.
#[task]
async fn e7_v2(task: TaskRef, total: u32, panic_at: Option<u32>) -> (Vec<u32>, usize, usize) {
    let mut seen: Vec<u32> = task.swap_state().expect("state handed over");
    let swapped_at = seen.len();
    let queued_at_swap = task.mailbox_len();
    while seen.len() < total as usize {
        let Ok(env) = task.receive().await else { break };
        let n = env.downcast::<u32>().unwrap();
        if Some(n) == panic_at {
            panic!("{DELIBERATE}: new code panics at {n}");
        }
        seen.push(n);
    }
    (seen, swapped_at, queued_at_swap)
}

fn e7(total: u32, panic_at: Option<u32>) -> (Exit, Duration) {
    let rt = rt2();
    let started = Instant::now();
    let exit = run(&rt, async move {
        let me = TaskRef::current().unwrap();
        let server = e7_v1::spawn(me.clone(), total / 10);
        me.monitor(&server).unwrap();
        // Queue the first half, wait until the server is a tenth of the way in, ask
        // for the swap and queue the rest while it is pending.
        for n in 0..total / 2 {
            server.send(n).unwrap();
        }
        assert_eq!(me.receive_type::<String>().await.unwrap(), "mark");
        let swap = {
            let server = server.clone();
            rcos::spawn(move |_| async move {
                server
                    .hot_swap(e7_v2, (total, panic_at), PATIENCE)
                    .await
                    .is_ok()
            })
        };
        for n in total / 2..total {
            server.send(n).unwrap();
        }
        assert_eq!(swap.finish().await.get::<bool>(), Some(true), "swap failed");
        me.receive_type::<MonitorStatus>().await.unwrap().exit
    });
    (exit, started.elapsed())
}

#[test]
fn e7_hot_swap_in_the_middle_of_a_hundred_thousand_queued_messages() {
    let _serial = serial();
    let total = scaled(100_000) as u32;
    let (exit, elapsed) = e7(total, None);
    let (seen, swapped_at, queued) = exit
        .value()
        .unwrap_or_else(|| panic!("the server did not return: {exit}"))
        .take::<(Vec<u32>, usize, usize)>()
        .unwrap();
    let lost = total as usize - seen.len();
    let in_order = seen.iter().copied().eq(0..total);
    println!(
        "E7: swap after message {swapped_at} of {total}, {queued} still queued at the swap: \
         {} received, {lost} lost, order kept across the swap: {in_order}; {:.1} s",
        seen.len(),
        elapsed.as_secs_f64()
    );
    assert_eq!(lost, 0);
    assert!(in_order);
    // The swap came right after the mark (a tenth of the way), with the rest to come.
    assert_eq!(swapped_at as u32, total / 10 + 1, "mid-stream");
}

#[test]
fn e7_monitors_are_told_when_the_swapped_in_code_panics() {
    let _serial = serial();
    let total = scaled(100_000) as u32;
    let at = total * 3 / 4;
    let (exit, _) = e7(total, Some(at));
    println!("E7: new code panicking at message {at} of {total}: the monitor got {exit}");
    assert!(
        matches!(&exit, Exit::Panicked(m) if *m == format!("{DELIBERATE}: new code panics at {at}")),
        "{exit}"
    );
}
