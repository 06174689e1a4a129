//! Broadcast channels: fan-out order, hierarchies, transforms, deliver(n) (counting
//! live end points, ended by a close), cycles, ended subscribers.

use std::time::Duration;

use rcos::channel::{Channel, ChannelError};
use rcos::{Interrupt, TaskRef};
use rcos_tests::{det, rt2, run};

/// A task that collects u32 messages until it gets 0, then returns them.
/// A task that subscribes `sub` to `ch` after `after` (on the runtime's clock).
fn subscribes_after(ch: &Channel, sub: &TaskRef, after: Duration) -> TaskRef {
    let (ch, sub) = (ch.clone(), sub.clone());
    rcos::spawn(move |_| async move {
        rcos::time::sleep(after).await;
        ch.subscribe(&sub).await.unwrap();
    })
}

fn collector() -> TaskRef {
    rcos::spawn(|task| async move {
        let mut got = Vec::new();
        loop {
            let msg = task.receive().await?;
            match msg.downcast::<u32>() {
                Ok(0) => return Ok::<_, Interrupt>(got),
                Ok(n) => got.push(n),
                Err(other) => panic!("unexpected {}", other.type_name()),
            }
        }
    })
}

async fn collected(task: &TaskRef) -> Vec<u32> {
    task.finish()
        .await
        .value()
        .unwrap()
        .take::<Result<Vec<u32>, Interrupt>>()
        .unwrap()
        .unwrap()
}

#[test]
fn every_subscriber_gets_every_message_in_order() {
    let rt = rt2();
    run(&rt, async {
        let ch = Channel::new("fanout").unwrap();
        let subs: Vec<TaskRef> = (0..10).map(|_| collector()).collect();
        for s in &subs {
            ch.subscribe(s).await.unwrap();
        }
        // Several senders at once: each sender's messages stay in its order.
        let senders: Vec<TaskRef> = (0..3u32)
            .map(|k| {
                let ch = ch.clone();
                rcos::spawn(move |_| async move {
                    for i in 0..1_000u32 {
                        ch.send(k * 10_000 + i + 1).unwrap();
                    }
                })
            })
            .collect();
        for s in senders {
            s.finish().await;
        }
        ch.send(0u32).unwrap();
        for s in &subs {
            let got = collected(s).await;
            assert_eq!(got.len(), 3_000);
            for k in 0..3u32 {
                let mine: Vec<u32> = got.iter().copied().filter(|n| n / 10_000 == k).collect();
                assert_eq!(
                    mine,
                    (1..=1_000).map(|i| k * 10_000 + i).collect::<Vec<_>>()
                );
            }
        }
    });
}

#[test]
fn channel_and_direct_messages_share_one_mailbox_in_temporal_order() {
    let rt = det(70);
    run(&rt, async {
        let ch = Channel::new("mixed").unwrap();
        let sub = collector();
        ch.subscribe(&sub).await.unwrap();
        ch.send(1u32).unwrap();
        sub.send(2u32).unwrap();
        ch.send(3u32).unwrap();
        sub.send(0u32).unwrap();
        assert_eq!(collected(&sub).await, [1, 2, 3]);
    });
}

#[test]
fn nested_channels_deliver_and_count_end_points() {
    let rt = det(71);
    run(&rt, async {
        let top = Channel::new("top").unwrap();
        let mid = Channel::new("mid").unwrap();
        let leaf = Channel::new("leaf").unwrap();
        let (a, b, c, d) = (collector(), collector(), collector(), collector());
        top.subscribe(&a).await.unwrap();
        top.subscribe(&mid).await.unwrap();
        mid.subscribe(&b).await.unwrap();
        mid.subscribe(&leaf).await.unwrap();
        leaf.subscribe(&c).await.unwrap();
        leaf.subscribe(&d).await.unwrap();
        assert_eq!(
            top.deliver(7u32, Duration::from_secs(1), 0).await.unwrap(),
            4
        );
        assert_eq!(
            mid.deliver(8u32, Duration::from_secs(1), 0).await.unwrap(),
            3
        );
        // Messages flow down the hierarchy, not up.
        assert_eq!(
            leaf.deliver(9u32, Duration::from_secs(1), 0).await.unwrap(),
            2
        );
        top.send(0u32).unwrap();
        assert_eq!(collected(&a).await, [7]);
        assert_eq!(collected(&b).await, [7, 8]);
        assert_eq!(collected(&c).await, [7, 8, 9]);
        assert_eq!(collected(&d).await, [7, 8, 9]);
    });
}

#[test]
fn a_subscription_that_would_make_a_cycle_is_refused() {
    let rt = det(72);
    run(&rt, async {
        let a = Channel::new("a").unwrap();
        let b = Channel::new("b").unwrap();
        let c = Channel::new("c").unwrap();
        a.subscribe(&b).await.unwrap();
        b.subscribe(&c).await.unwrap();
        assert_eq!(c.subscribe(&a).await, Err(ChannelError::Cycle));
        assert_eq!(a.subscribe(&a).await, Err(ChannelError::Cycle));
        // Still working afterwards.
        let t = collector();
        c.subscribe(&t).await.unwrap();
        assert_eq!(a.deliver(5u32, Duration::from_secs(1), 0).await.unwrap(), 1);
        a.send(0u32).unwrap();
        assert_eq!(collected(&t).await, [5]);
    });
}

#[test]
fn transforms_change_drop_and_survive_panics() {
    let rt = det(73);
    run(&rt, async {
        let ch = Channel::new("tx").unwrap();
        ch.set_transform(|name: &str, n: u32| match n {
            13 => None,                  // dropped
            99 => panic!("{name}: bad"), // a panic drops that message only
            0 => Some(0),
            n => Some(n * 10),
        })
        .unwrap();
        let sub = collector();
        ch.subscribe(&sub).await.unwrap();
        for n in [1u32, 13, 99, 2] {
            ch.send(n).unwrap();
        }
        // A message of another type passes unchanged (the collector ignores... it
        // would panic, so send none here).
        ch.send(0u32).unwrap();
        assert_eq!(collected(&sub).await, [10, 20]);

        let names = Channel::new("names").unwrap();
        names
            .set_transform(|name: &str, s: String| Some(format!("{name}: {s}")))
            .unwrap();
        let me = TaskRef::current().unwrap();
        names.subscribe(&me).await.unwrap();
        names.send("hi".to_string()).unwrap();
        names.send(5u8).unwrap();
        assert_eq!(
            me.receive().await.unwrap().downcast::<String>().unwrap(),
            "names: hi"
        );
        assert_eq!(me.receive().await.unwrap().downcast::<u8>().unwrap(), 5);
    });
}

#[test]
fn deliver_waits_for_late_subscribers_and_times_out() {
    let rt = det(74);
    run(&rt, async {
        let ch = Channel::new("late").unwrap();
        let start = rcos::time::now();
        assert_eq!(
            ch.deliver(1u32, Duration::from_secs(2), 1).await.unwrap(),
            0
        );
        assert_eq!(rcos::time::now() - start, Duration::from_secs(2));

        let sub = collector();
        let joiner = subscribes_after(&ch, &sub, Duration::from_secs(3));
        let start = rcos::time::now();
        assert_eq!(
            ch.deliver(2u32, Duration::from_secs(10), 1).await.unwrap(),
            1
        );
        assert_eq!(rcos::time::now() - start, Duration::from_secs(3));
        joiner.finish().await;
        ch.send(0u32).unwrap();
        assert_eq!(collected(&sub).await, [2]);
    });
}

#[test]
fn ended_subscribers_are_dropped_and_closed_channels_refuse() {
    let rt = det(75);
    run(&rt, async {
        let ch = Channel::new("gone").unwrap();
        let quick = rcos::spawn(|_| async {});
        let stays = collector();
        ch.subscribe(&quick).await.unwrap();
        ch.subscribe(&stays).await.unwrap();
        quick.finish().await;
        assert_eq!(ch.subscribers(), 2);
        assert_eq!(
            ch.deliver(1u32, Duration::from_secs(1), 0).await.unwrap(),
            1
        );
        assert_eq!(ch.subscribers(), 1);
        assert!(ch.unsubscribe(&stays).await.unwrap());
        assert!(!ch.unsubscribe(&stays).await.unwrap());
        ch.close();
        assert!(ch.is_closed());
        assert_eq!(ch.send(1u32), Err(ChannelError::Closed));
        assert_eq!(ch.subscribe(&stays).await, Err(ChannelError::Closed));
        stays.send(0u32).unwrap();
        assert_eq!(collected(&stays).await, [1]);
    });
}

#[test]
fn names_are_unique_per_runtime_and_locatable() {
    let a = det(76);
    let b = det(77);
    let (in_a, in_b) = {
        let _a = a.enter();
        let ch = Channel::new("shared-name").unwrap();
        assert_eq!(
            Channel::new("shared-name").unwrap_err(),
            ChannelError::NameTaken("shared-name".into())
        );
        let _b = b.enter();
        (ch, Channel::new("shared-name").unwrap())
    };
    assert_ne!(in_a, in_b);
    let found = run(&a, async {
        Channel::locate("shared-name", Duration::from_secs(1))
            .await
            .unwrap()
    });
    assert_eq!(found, in_a);
    // A name is free again once its channel is closed (or dropped).
    in_a.close();
    let again = {
        let _a = a.enter();
        Channel::new("shared-name").unwrap()
    };
    drop(again);
    let _a = a.enter();
    Channel::new("shared-name").unwrap();
}

#[test]
fn locate_waits_for_a_channel_to_be_created() {
    let rt = det(78);
    run(&rt, async {
        let maker = rcos::spawn(|_| async {
            rcos::time::sleep(Duration::from_secs(2)).await;
            let ch = Channel::new("soon").unwrap();
            rcos::time::sleep(Duration::from_secs(60)).await;
            drop(ch);
        });
        let found = Channel::locate("soon", Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(found.name(), "soon");
        assert!(
            Channel::locate("never", Duration::from_secs(1))
                .await
                .is_err()
        );
        maker.terminate();
    });
}

#[test]
fn a_channel_survives_a_round_trip_through_serialization() {
    let rt = det(79);
    let ch = {
        let _in = rt.enter();
        Channel::new("wire").unwrap()
    };
    let mut bytes = Vec::new();
    ciborium::into_writer(&ch, &mut bytes).unwrap();
    let back: Channel = {
        let _in = rt.enter();
        ciborium::from_reader(bytes.as_slice()).unwrap()
    };
    assert_eq!(back, ch);
    assert_eq!(back.to_string(), ch.to_string());
    back.register().unwrap();
    assert!(ch.is_registered());
}

#[test]
fn closing_a_channel_ends_a_waiting_deliver_at_once() {
    let rt = det(80);
    run(&rt, async {
        let ch = Channel::new("closing").unwrap();
        // One live subscriber; deliver waits for two.
        let sub = collector();
        ch.subscribe(&sub).await.unwrap();
        let closer = {
            let ch = ch.clone();
            rcos::spawn(move |_| async move {
                rcos::time::sleep(Duration::from_secs(2)).await;
                ch.close();
            })
        };
        let start = rcos::time::now();
        // A timeout beyond the test's (virtual) patience: only the close can end it.
        assert_eq!(
            ch.deliver(1u32, Duration::from_secs(1_000_000), 2).await,
            Err(ChannelError::Closed)
        );
        assert_eq!(rcos::time::now() - start, Duration::from_secs(2));
        closer.finish().await;
        // On a channel closed already, a deliver that would wait fails at once too.
        let start = rcos::time::now();
        assert_eq!(
            ch.deliver(2u32, Duration::from_secs(10), 1).await,
            Err(ChannelError::Closed)
        );
        assert_eq!(rcos::time::now(), start);
        // Nothing was sent.
        sub.send(0u32).unwrap();
        assert_eq!(collected(&sub).await, Vec::<u32>::new());
    });
}

#[test]
fn closing_a_channel_ends_a_waiting_deliver_on_a_real_clock() {
    let rt = rt2();
    run(&rt, async {
        let ch = Channel::new("closing-real").unwrap();
        let waiter = {
            let ch = ch.clone();
            rcos::spawn(move |_| async move {
                let start = std::time::Instant::now();
                let result = ch.deliver(1u32, Duration::from_secs(3_600), 1).await;
                (result, start.elapsed())
            })
        };
        // Let it start waiting, then close.
        rcos::time::sleep(Duration::from_millis(50)).await;
        ch.close();
        let (result, waited) = waiter
            .finish()
            .await
            .value()
            .unwrap()
            .take::<(Result<usize, ChannelError>, Duration)>()
            .unwrap();
        assert_eq!(result, Err(ChannelError::Closed));
        assert!(waited < Duration::from_secs(20), "waited {waited:?}");
    });
}

#[test]
fn closing_a_remote_channel_ends_a_waiting_deliver_there() {
    let (a, b) = (rcos_tests::node("chc-a"), rcos_tests::node("chc-b"));
    let at = a.location().unwrap();
    let ch = Channel::new_on(&a, "closing-remote").unwrap();
    ch.register().unwrap();
    let waiter = b.spawn(move |_| async move {
        rcos::net::peer(at).await.unwrap();
        let ch = Channel::locate_at(at, "closing-remote", Duration::from_secs(10))
            .await
            .unwrap();
        let start = std::time::Instant::now();
        let result = ch.deliver(1u32, Duration::from_secs(3_600), 1).await;
        (result, start.elapsed())
    });
    // Close once the deliver waits on `a` (its request runs there as a system task).
    run(&a, async move {
        rcos::time::sleep(Duration::from_millis(300)).await;
        ch.close();
    });
    let exit = waiter
        .value_timeout(rcos_tests::PATIENCE)
        .expect("deliver returned");
    let (result, waited) = exit
        .value()
        .unwrap()
        .take::<(Result<usize, ChannelError>, Duration)>()
        .unwrap();
    assert_eq!(result, Err(ChannelError::Closed));
    assert!(waited < Duration::from_secs(20), "waited {waited:?}");
}

#[test]
fn an_ended_subscriber_does_not_count_toward_n() {
    let rt = det(81);
    run(&rt, async {
        let ch = Channel::new("dead-and-alive").unwrap();
        let dead = rcos::spawn(|_| async {});
        ch.subscribe(&dead).await.unwrap();
        dead.finish().await;
        // `subscribers()` lists it still: nothing has found it gone yet.
        assert_eq!(ch.subscribers(), 1);
        let live = collector();
        let joiner = {
            let (ch, live) = (ch.clone(), live.clone());
            rcos::spawn(move |_| async move {
                rcos::time::sleep(Duration::from_secs(3)).await;
                // The waiting deliver has unsubscribed the ended task.
                let before = ch.subscribers();
                ch.subscribe(&live).await.unwrap();
                before
            })
        };
        let start = rcos::time::now();
        assert_eq!(
            ch.deliver(1u32, Duration::from_secs(10), 1).await.unwrap(),
            1
        );
        assert_eq!(rcos::time::now() - start, Duration::from_secs(3));
        assert_eq!(joiner.finish().await.get::<usize>(), Some(0));
        assert_eq!(ch.subscribers(), 1);
        // And with nobody live coming, the wait times out: nothing sent, 0.
        let other = Channel::new("only-dead").unwrap();
        other.subscribe(&dead).await.unwrap();
        let start = rcos::time::now();
        assert_eq!(
            other
                .deliver(2u32, Duration::from_secs(2), 1)
                .await
                .unwrap(),
            0
        );
        assert_eq!(rcos::time::now() - start, Duration::from_secs(2));
        assert_eq!(other.subscribers(), 0);
        ch.send(0u32).unwrap();
        assert_eq!(collected(&live).await, [1]);
    });
}

#[test]
fn deliver_counts_live_end_points_through_nested_channels() {
    let rt = det(82);
    run(&rt, async {
        let top = Channel::new("n-top").unwrap();
        let mid = Channel::new("n-mid").unwrap();
        top.subscribe(&mid).await.unwrap();
        // A subscribed channel with no live task under it does not count.
        let start = rcos::time::now();
        assert_eq!(
            top.deliver(1u32, Duration::from_secs(2), 1).await.unwrap(),
            0
        );
        assert_eq!(rcos::time::now() - start, Duration::from_secs(2));

        // An ended task under the nested channel does not count either; a live task
        // joining the nested channel (not `top`) ends the wait.
        let dead = rcos::spawn(|_| async {});
        mid.subscribe(&dead).await.unwrap();
        dead.finish().await;
        let (b, c) = (collector(), collector());
        let joiner = subscribes_after(&mid, &b, Duration::from_secs(3));
        let start = rcos::time::now();
        assert_eq!(
            top.deliver(2u32, Duration::from_secs(10), 1).await.unwrap(),
            1
        );
        assert_eq!(rcos::time::now() - start, Duration::from_secs(3));
        joiner.finish().await;
        // The nested channel's ended subscriber was unsubscribed by the count.
        assert_eq!(mid.subscribers(), 1);

        // Two live tasks under one subscribed channel count two, at once.
        mid.subscribe(&c).await.unwrap();
        assert_eq!(top.subscribers(), 1);
        let start = rcos::time::now();
        assert_eq!(
            top.deliver(3u32, Duration::from_secs(10), 2).await.unwrap(),
            2
        );
        assert_eq!(rcos::time::now(), start);

        // A closed nested channel counts none: the wait for one more times out.
        let side = Channel::new("n-side").unwrap();
        let d = collector();
        side.subscribe(&d).await.unwrap();
        top.subscribe(&side).await.unwrap();
        side.close();
        let start = rcos::time::now();
        assert_eq!(
            top.deliver(4u32, Duration::from_secs(2), 3).await.unwrap(),
            0
        );
        assert_eq!(rcos::time::now() - start, Duration::from_secs(2));

        top.send(0u32).unwrap();
        assert_eq!(collected(&b).await, [2, 3]);
        assert_eq!(collected(&c).await, [3]);
        d.send(0u32).unwrap();
        assert_eq!(collected(&d).await, Vec::<u32>::new());
    });
}
