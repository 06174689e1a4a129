//! The sender's `tracing` span travels with each message, so one request can be
//! followed through many tasks. (Its own test binary: it installs a global subscriber.)

use std::time::Duration;

use rcos::TaskRef;
use rcos_tests::{det, run};

#[test]
fn the_senders_span_travels_through_a_chain_of_tasks() {
    tracing::subscriber::set_global_default(tracing_subscriber::registry())
        .expect("no other subscriber in this test binary");
    let rt = det(60);
    let (origin, seen_by_last) = run(&rt, async {
        let me = TaskRef::current().unwrap();
        // last: reports the span its message came with.
        let last = rcos::spawn(move |task| async move {
            let env = task.receive().await.unwrap();
            me.send_local(env.span().clone()).unwrap();
        });
        // middle: handles its message inside the message's span and sends on.
        let middle = rcos::spawn(move |task| async move {
            let env = task.receive().await.unwrap();
            let _in_request = env.span().clone().entered();
            last.send(env.downcast::<u32>().unwrap() + 1).unwrap();
        });
        let span = tracing::info_span!("request", id = 7);
        let origin = span.id();
        {
            let _in_request = span.enter();
            middle.send(1u32).unwrap();
        }
        let me = TaskRef::current().unwrap();
        let seen = me
            .receive_timeout(Duration::from_secs(5))
            .await
            .unwrap()
            .expect("reply");
        (origin, seen.downcast_any::<tracing::Span>().unwrap())
    });
    assert!(origin.is_some(), "the subscriber records spans");
    assert_eq!(seen_by_last.id(), origin);
    assert_eq!(seen_by_last.metadata().map(|m| m.name()), Some("request"));

    // Outside a request span, a message carries the sending task's own span (rcos
    // gives every task a `task` span at trace level).
    let name = run(&rt, async {
        let me = TaskRef::current().unwrap();
        me.send(1u8).unwrap();
        me.receive()
            .await
            .unwrap()
            .span()
            .metadata()
            .map(|m| m.name())
    });
    assert_eq!(name, Some("task"));
}
