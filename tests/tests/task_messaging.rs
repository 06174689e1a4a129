//! Messages between tasks: ordering, types, selective receive, request/reply, bounded
//! mailboxes.

use std::time::Duration;

use rcos::task::{Builder, Overflow};
use rcos::{CallError, Envelope, Request, SendErrorKind, TaskRef};
use rcos_tests::{PATIENCE, det, rt2, run};

#[test]
fn per_pair_order_with_eight_concurrent_senders() {
    const SENDERS: u64 = 8;
    const EACH: u64 = 10_000;
    let rt = rt2();
    let receiver = rt.spawn(|task| async move {
        let mut next = vec![0u64; SENDERS as usize];
        for _ in 0..SENDERS * EACH {
            let (sender, seq) = task
                .receive()
                .await?
                .downcast::<(u64, u64)>()
                .expect("a (sender, seq) pair");
            assert_eq!(seq, next[sender as usize], "sender {sender} out of order");
            next[sender as usize] += 1;
        }
        Ok::<_, rcos::Interrupt>(next)
    });
    for s in 0..SENDERS {
        let to = receiver.clone();
        rt.spawn(move |_| async move {
            for seq in 0..EACH {
                to.send((s, seq)).expect("receiver alive");
                if seq % 97 == 0 {
                    rcos::task::yield_now().await;
                }
            }
        });
    }
    let exit = receiver.value_timeout(PATIENCE).expect("receiver finished");
    let counts = exit
        .value()
        .and_then(|v| v.take::<Result<Vec<u64>, rcos::Interrupt>>());
    assert_eq!(
        counts.map(Result::unwrap),
        Some(vec![EACH; SENDERS as usize]),
        "{exit}"
    );
}

#[test]
fn a_message_of_an_unexpected_type_is_handed_back() {
    let env = Envelope::new("not a number".to_string());
    let env = env.downcast::<u64>().expect_err("a String is not a u64");
    assert_eq!(env.type_name(), "alloc::string::String");
    assert_eq!(env.downcast::<String>().unwrap(), "not a number");

    let rt = det(1);
    let kinds = run(&rt, async {
        let task = rcos::spawn(|task| async move {
            let mut seen = Vec::new();
            for _ in 0..3 {
                let msg = task.receive().await?;
                seen.push(
                    msg.matcher()
                        .on(|n: u64| format!("u64 {n}"))
                        .on(|s: String| format!("string {s}"))
                        .otherwise(|other| format!("other {}", other.type_name())),
                );
            }
            Ok::<_, rcos::Interrupt>(seen)
        });
        task.send(5u64).unwrap();
        task.send(true).unwrap();
        task.send("x".to_string()).unwrap();
        task.finish().await
    });
    let seen = kinds
        .value()
        .unwrap()
        .take::<Result<Vec<String>, rcos::Interrupt>>()
        .unwrap()
        .unwrap();
    assert_eq!(seen, ["u64 5", "other bool", "string x"]);
}

#[test]
fn selective_receive_leaves_the_others_queued_in_order() {
    let rt = det(2);
    let order = run(&rt, async {
        let task = rcos::spawn(|task| async move {
            // Wait for the u8 first, then the String whose text is "b", then the rest.
            let first = task.receive_type::<u8>().await?;
            let b = task.receive_where(|s: &String| s == "b").await?;
            let mut rest = Vec::new();
            while let Some(env) = task.try_receive()? {
                rest.push(
                    env.matcher()
                        .on(|s: String| s)
                        .on(|n: u32| n.to_string())
                        .otherwise(|_| "?".into()),
                );
            }
            Ok::<_, rcos::Interrupt>((first, b, rest))
        });
        for s in ["a", "b", "c"] {
            task.send(s.to_string()).unwrap();
        }
        task.send(1u32).unwrap();
        rcos::time::sleep(Duration::from_millis(1)).await;
        task.send(9u8).unwrap();
        task.send(2u32).unwrap();
        task.finish().await
    });
    let (first, b, rest) = order
        .value()
        .unwrap()
        .take::<Result<(u8, String, Vec<String>), rcos::Interrupt>>()
        .unwrap()
        .unwrap();
    assert_eq!(first, 9);
    assert_eq!(b, "b");
    assert_eq!(rest, ["a", "c", "1", "2"]);
}

/// Selective receive takes the next message straight out when it is the one wanted
/// (unboxed, from a run of same-typed messages), puts it back in front when the
/// predicate refuses it, and falls back to scanning: every message still arrives once,
/// and the messages of other types stay queued in their order.
#[test]
fn selective_receive_takes_the_next_message_directly_and_keeps_order_when_it_refuses() {
    const N: u64 = 50_000;
    let rt = det(1);
    let out = run(&rt, async {
        let task = rcos::spawn(|task| async move {
            // Wait for the go, so that the whole burst is queued: runs of u64s broken
            // by a String after every 10,000.
            let _: bool = task.receive_type().await?;
            // The front is 0, refused: put back, then 1 is found by the scan.
            let odd = task.receive_where(|n: &u64| n % 2 == 1).await?;
            let mut got = vec![odd];
            while got.len() < N as usize {
                got.push(task.receive_type::<u64>().await?);
            }
            let rest: Vec<String> = std::iter::from_fn(|| task.try_receive().ok().flatten())
                .map(|env| {
                    env.downcast::<String>()
                        .unwrap_or_else(|env| format!("unexpected {}", env.type_name()))
                })
                .collect();
            Ok::<_, rcos::Interrupt>((got, rest))
        });
        for i in 0..N {
            task.send(i).unwrap();
            if (i + 1) % 10_000 == 0 {
                task.send(format!("after {i}")).unwrap();
            }
        }
        task.send(true).unwrap();
        task.finish().await
    });
    let (got, rest) = out
        .value()
        .unwrap()
        .take::<Result<(Vec<u64>, Vec<String>), rcos::Interrupt>>()
        .unwrap()
        .unwrap();
    let expected: Vec<u64> = std::iter::once(1)
        .chain((0..N).filter(|n| *n != 1))
        .collect();
    assert_eq!(got, expected);
    let texts: Vec<String> = (1..=5)
        .map(|k| format!("after {}", k * 10_000 - 1))
        .collect();
    assert_eq!(rest, texts);
}

/// A selective receive's predicate sees each queued message once, even when it refuses
/// the next message (looked at first, without a scan) and the scan goes on past it.
#[test]
fn a_selective_receive_predicate_sees_each_message_once() {
    let rt = det(1);
    let out = run(&rt, async {
        let task = rcos::spawn(|task| async move {
            let _: bool = task.receive_type().await?;
            let mut offered = Vec::new();
            let nine = task
                .receive_where(|n: &u64| {
                    offered.push(*n);
                    *n == 9
                })
                .await?;
            Ok::<_, rcos::Interrupt>((nine, offered))
        });
        task.send(true).unwrap();
        for i in 0..12u64 {
            task.send(i).unwrap();
        }
        task.finish().await
    });
    let (nine, offered) = out
        .value()
        .unwrap()
        .take::<Result<(u64, Vec<u64>), rcos::Interrupt>>()
        .unwrap()
        .unwrap();
    assert_eq!(nine, 9);
    assert_eq!(offered, (0..=9).collect::<Vec<_>>());
}

#[test]
fn receive_match_sees_messages_that_arrive_while_waiting() {
    let rt = rt2();
    let task = rt.spawn(|task| async move {
        task.receive_match(|env| env.peek::<u32>().is_some_and(|n| *n > 100))
            .await?
            .downcast::<u32>()
            .map_err(|_| rcos::Interrupt::WrongTask)
    });
    for n in [1u32, 50, 101] {
        task.send(n).unwrap();
    }
    assert_eq!(
        task.value_timeout(PATIENCE)
            .unwrap()
            .value()
            .unwrap()
            .take::<Result<u32, rcos::Interrupt>>()
            .unwrap()
            .unwrap(),
        101
    );
}

#[test]
fn receive_timeout_returns_the_alarm_value() {
    let rt = det(3);
    let (alarm, elapsed, none) = run(&rt, async {
        let me = TaskRef::current().unwrap();
        let start = rcos::time::now();
        let alarm = me
            .receive_or(Duration::from_secs(30), "alarm".to_string())
            .await
            .unwrap();
        let elapsed = rcos::time::now() - start;
        let none = me.receive_timeout(Duration::from_secs(5)).await.unwrap();
        (alarm.downcast::<String>().unwrap(), elapsed, none.is_none())
    });
    assert_eq!(alarm, "alarm");
    assert_eq!(elapsed, Duration::from_secs(30));
    assert!(none);
}

#[test]
fn receive_on_another_tasks_ref_is_refused() {
    let rt = det(4);
    let other = rt.spawn(|task| async move { task.suspend(None).await.map(|_| ()) });
    let refused = run(&rt, {
        let other = other.clone();
        async move { matches!(other.receive().await, Err(rcos::Interrupt::WrongTask)) }
    });
    assert!(refused);
    other.terminate();
}

#[test]
fn call_returns_the_reply_and_times_out_when_the_server_never_answers() {
    let rt = det(5);
    run(&rt, async {
        let doubler = rcos::spawn(|task| async move {
            while let Ok(env) = task.receive().await {
                if let Ok(req) = env.downcast::<Request<u64>>() {
                    let n = *req.body();
                    let _ = req.reply(n * 2);
                }
            }
        });
        let answer: u64 = doubler.call(21u64, Duration::from_secs(1)).await.unwrap();
        assert_eq!(answer, 42);

        // A server that keeps requests but never answers.
        let silent = rcos::spawn(|task| async move {
            let mut kept = Vec::new();
            while let Ok(env) = task.receive().await {
                kept.push(env);
            }
        });
        let start = rcos::time::now();
        let err = silent
            .call::<u64, u64>(1, Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::Timeout), "{err}");
        assert_eq!(rcos::time::now() - start, Duration::from_secs(10));

        // A server that drops requests: the caller hears at once, not at the timeout.
        let dropper = rcos::spawn(|task| async move { while task.receive().await.is_ok() {} });
        let start = rcos::time::now();
        let err = dropper
            .call::<u64, u64>(1, Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::NoReply), "{err}");
        assert_eq!(rcos::time::now(), start);

        // A reply of the wrong type is handed back.
        let wrong = rcos::spawn(|task| async move {
            if let Ok(env) = task.receive().await {
                let _ = env
                    .downcast::<Request<u64>>()
                    .unwrap()
                    .reply("text".to_string());
            }
        });
        match wrong.call::<u64, u64>(1, Duration::from_secs(1)).await {
            Err(CallError::WrongReply(reply)) => {
                assert_eq!(reply.into_envelope().downcast::<String>().unwrap(), "text")
            }
            other => panic!("expected a wrong reply, got {other:?}"),
        }
        for t in [doubler, silent, dropper] {
            t.terminate();
        }
    });
}

#[test]
fn a_reply_after_the_caller_gave_up_comes_back_to_the_replier() {
    let rt = det(7);
    run(&rt, async {
        let me = TaskRef::current().unwrap();
        let caller = me.clone();
        // Keeps the request until told to answer, then reports how the reply went.
        let late = rcos::spawn(move |task| async move {
            let req = task.receive().await.ok()?.downcast::<Request<u64>>().ok()?;
            task.receive().await.ok()?;
            let (n, reply_to) = req.into_parts();
            let waiting = reply_to.is_waiting();
            let err = reply_to.send(n * 2).err()?;
            let _ = me.send((waiting, err.is_not_waiting(), err.into_inner()));
            Some(())
        });
        let err = late
            .call::<u64, u64>(21, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::Timeout), "{err}");
        late.send(()).unwrap();
        let report = caller
            .receive_timeout(Duration::from_secs(1))
            .await
            .unwrap()
            .expect("the replier reports")
            .downcast::<(bool, bool, u64)>()
            .unwrap();
        assert_eq!(
            report,
            (false, true, 42),
            "the reply is handed back, unsent"
        );
    });
}

#[test]
fn call_times_out_on_real_time_and_answers_come_back_in_between() {
    let rt = rt2();
    run(&rt, async {
        let silent = rcos::spawn(|task| async move {
            let mut kept = Vec::new();
            while let Ok(env) = task.receive().await {
                kept.push(env);
            }
        });
        let echo = rcos::spawn(|task| async move {
            while let Ok(env) = task.receive().await {
                if let Ok(req) = env.downcast::<Request<u64>>() {
                    let n = *req.body();
                    let _ = req.reply(n);
                }
            }
        });
        for round in 0..3u64 {
            let start = std::time::Instant::now();
            let err = silent
                .call::<u64, u64>(round, Duration::from_millis(20))
                .await
                .unwrap_err();
            assert!(matches!(err, CallError::Timeout), "{err}");
            assert!(start.elapsed() >= Duration::from_millis(20));
            for n in 0..100u64 {
                let back: u64 = echo.call(n, Duration::from_secs(10)).await.unwrap();
                assert_eq!(back, n);
            }
        }
        // A zero limit has passed already: the call times out unless the reply is
        // there on the first poll, which it cannot be for a silent server.
        let err = silent
            .call::<u64, u64>(9, Duration::ZERO)
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::Timeout), "{err}");
        silent.terminate();
        echo.terminate();
    });
}

#[test]
fn sending_to_an_ended_task_reports_it() {
    let rt = det(6);
    run(&rt, async {
        let quick = rcos::spawn(|_| async {});
        quick.finish().await;
        let err = quick.send(1u8).unwrap_err();
        assert_eq!(err.kind(), SendErrorKind::Ended);
        assert_eq!(err.into_inner(), 1);
        let err = quick
            .deliver(2u8, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(err.is_ended());
        assert_eq!(err.into_inner(), 2);
        let err = quick
            .call::<u8, u8>(3, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::Send(SendErrorKind::Ended)));
    });
}

#[test]
fn bounded_mailboxes_apply_their_overflow_policy() {
    let rt = det(7);
    run(&rt, async {
        // The tasks suspend first, so nothing is received until they are resumed. On
        // one worker, `me` runs again only once a task is parked in `suspend`.
        let me = TaskRef::current().unwrap();
        let ready = || async {
            TaskRef::current()
                .unwrap()
                .receive_type::<()>()
                .await
                .unwrap()
        };
        let me2 = me.clone();
        let fail = Builder::new()
            .mailbox(2, Overflow::Fail)
            .spawn(move |task| async move {
                me2.send(()).unwrap();
                task.suspend(None).await?;
                let mut got = Vec::new();
                while let Some(env) = task.try_receive()? {
                    got.push(env.downcast::<u32>().unwrap());
                }
                Ok::<_, rcos::Interrupt>(got)
            });
        ready().await;
        fail.send(1u32).unwrap();
        fail.send(2u32).unwrap();
        let err = fail.send(3u32).unwrap_err();
        assert!(err.is_full());
        assert_eq!(err.into_inner(), 3);
        assert!(
            fail.deliver(3u32, Duration::from_secs(1))
                .await
                .unwrap_err()
                .is_full()
        );
        fail.resume(()).unwrap();
        let got = fail
            .finish()
            .await
            .value()
            .unwrap()
            .take::<Result<Vec<u32>, rcos::Interrupt>>()
            .unwrap()
            .unwrap();
        assert_eq!(got, [1, 2]);

        let me2 = me.clone();
        let drop_newest =
            Builder::new()
                .mailbox(1, Overflow::DropNewest)
                .spawn(move |task| async move {
                    me2.send(()).unwrap();
                    task.suspend(None).await?;
                    Ok::<_, rcos::Interrupt>(
                        task.try_receive()?.map(|e| e.downcast::<u32>().unwrap()),
                    )
                });
        ready().await;
        drop_newest.send(1u32).unwrap();
        drop_newest.send(2u32).unwrap();
        assert_eq!(drop_newest.dropped_messages(), 1);
        drop_newest.resume(()).unwrap();
        let first = drop_newest
            .finish()
            .await
            .value()
            .unwrap()
            .take::<Result<Option<u32>, rcos::Interrupt>>()
            .unwrap()
            .unwrap();
        assert_eq!(first, Some(1));

        // Wait: `deliver` waits for room and gets in once the task takes a message.
        let me2 = me.clone();
        let wait = Builder::new()
            .mailbox(1, Overflow::Wait)
            .spawn(move |task| async move {
                me2.send(()).unwrap();
                task.suspend(None).await?;
                let mut got = Vec::new();
                for _ in 0..2 {
                    got.push(task.receive().await?.downcast::<u32>().unwrap());
                }
                Ok::<_, rcos::Interrupt>(got)
            });
        ready().await;
        wait.send(1u32).unwrap();
        assert!(wait.send(2u32).unwrap_err().is_full());
        // Nobody makes room within a second: timeout, message handed back.
        let err = wait
            .deliver(2u32, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), SendErrorKind::Timeout);
        let resumer = {
            let wait = wait.clone();
            rcos::spawn(move |_| async move {
                rcos::time::sleep(Duration::from_secs(2)).await;
                wait.resume(()).unwrap();
            })
        };
        let start = rcos::time::now();
        wait.deliver(2u32, Duration::from_secs(60)).await.unwrap();
        assert_eq!(rcos::time::now() - start, Duration::from_secs(2));
        resumer.finish().await;
        let got = wait
            .finish()
            .await
            .value()
            .unwrap()
            .take::<Result<Vec<u32>, rcos::Interrupt>>()
            .unwrap()
            .unwrap();
        assert_eq!(got, [1, 2]);
    });
}

#[test]
fn local_only_values_travel_between_local_tasks() {
    let rt = det(8);
    run(&rt, async {
        let shared = std::sync::Arc::new(std::sync::Mutex::new(0));
        let task = rcos::spawn(|task| async move {
            let env = task.receive().await?;
            let counter = env
                .downcast_any::<std::sync::Arc<std::sync::Mutex<i32>>>()
                .unwrap();
            *counter.lock().unwrap() += 1;
            Ok::<_, rcos::Interrupt>(())
        });
        task.send_local(shared.clone()).unwrap();
        task.finish().await;
        assert_eq!(*shared.lock().unwrap(), 1);
    });
}
