//! Quick smoke tests of the runtime core (closures only, no macros).
use rcos::{Request, Runtime};
use std::time::Duration;

#[test]
fn spawn_send_receive_value() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let t = rt.spawn(|task| async move {
        let mut sum = 0u64;
        for _ in 0..3 {
            sum += task.receive().await.unwrap().downcast::<u64>().unwrap();
        }
        sum
    });
    for i in 1..=3u64 {
        t.send(i).unwrap();
    }
    assert_eq!(t.value().get::<u64>(), Some(6));
    rt.join().unwrap();
}

#[test]
fn call_and_panic() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let server = rt.spawn(|task| async move {
        while let Ok(m) = task.receive().await {
            let req = m.downcast::<Request<u32>>().unwrap();
            let v = *req.body();
            req.reply(v * 2).unwrap();
        }
    });
    let r: u32 = rt.block_on({
        let s = server.clone();
        async move { s.call(21u32, Duration::from_secs(5)).await.unwrap() }
    });
    assert_eq!(r, 42);
    let p = rt.spawn(|_| async {
        if true {
            panic!("boom")
        }
    });
    assert!(matches!(p.value(), rcos::Exit::Panicked(m) if m == "boom"));
    server.terminate();
    assert!(server.value().is_terminated());
    rt.join().unwrap();
}

#[test]
fn many_tasks() {
    let rt = Runtime::builder().workers(2).build().unwrap();
    let start = std::time::Instant::now();
    let tasks: Vec<_> = (0..100_000u64)
        .map(|i| rt.spawn(move |_| async move { i }))
        .collect();
    rt.join().unwrap();
    eprintln!("100k spawn+join: {:?}", start.elapsed());
    assert_eq!(tasks[99_999].value().get::<u64>(), Some(99_999));
}
