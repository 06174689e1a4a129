//! Every supported `#[task]` signature: the `TaskRef` first, in the middle or last;
//! patterns as parameters; no return type; a `Result` return type; no arguments;
//! other tasks' references as arguments.

use rcos::{Runtime, TaskRef, task};

/// `TaskRef` first.
#[task]
async fn first(task: TaskRef, a: u32, b: u32) -> u32 {
    let _ = task;
    a + b
}

/// `TaskRef` in the middle, a tuple pattern and a `mut` binding.
#[task]
async fn middle((a, b): (u32, u32), task: rcos::TaskRef, mut factor: u32) -> u32 {
    let _ = task;
    factor *= 2;
    (a + b) * factor
}

/// `TaskRef` last, with a `_` pattern; no return type.
#[task]
async fn last(text: String, _: TaskRef) {
    assert_eq!(text, "last");
}

/// A struct pattern.
struct Point {
    x: i32,
    y: i32,
}

/// Destructures a struct.
#[task]
async fn pattern(Point { x, y }: Point, task: ::rcos::TaskRef) -> i32 {
    let _ = task;
    x * y
}

/// A `Result` output, and no arguments.
#[task]
async fn fallible(task: TaskRef) -> Result<u8, String> {
    let msg = task.receive_type::<u8>().await.map_err(|e| e.to_string())?;
    Ok(msg + 1)
}

/// Any `Send + 'static` argument, such as an `Arc` or a channel.
#[task]
async fn local(task: TaskRef, shared: std::sync::Arc<Vec<u8>>) -> usize {
    let _ = task;
    shared.len()
}

/// Several `TaskRef` parameters: the one named `task` is its own, the others are
/// arguments.
#[task]
async fn client(server: TaskRef, task: TaskRef, reply_to: TaskRef) -> bool {
    let _ = task;
    server.send(1u8).is_ok() && reply_to.send(2u8).is_ok()
}

fn main() {
    let rt = Runtime::new().unwrap();
    let sink = rt.spawn(|task| async move { task.suspend(None).await.map(|_| ()) });
    assert_eq!(
        client::spawn_on(&rt, sink.clone(), sink.clone()).value().get::<bool>(),
        Some(true)
    );
    assert_eq!(sink.mailbox_len(), 2);
    sink.terminate();
    assert_eq!(first::spawn_on(&rt, 1, 2).value().get::<u32>(), Some(3));
    assert_eq!(
        middle::spawn_on(&rt, (1, 2), 1).value().get::<u32>(),
        Some(6)
    );
    assert!(last::spawn_on(&rt, "last".into()).value().is_returned());
    assert_eq!(
        pattern::spawn_on(&rt, Point { x: 3, y: 4 })
            .value()
            .get::<i32>(),
        Some(12)
    );
    let f = fallible::spawn_on(&rt);
    f.send(1u8).unwrap();
    assert_eq!(f.value().get::<Result<u8, String>>(), Some(Ok(2)));
    let shared = std::sync::Arc::new(vec![1, 2, 3]);
    assert_eq!(local::spawn_on(&rt, shared).value().get::<usize>(), Some(3));
    let _guard = rt.enter();
    assert_eq!(first::spawn(2, 2).value().get::<u32>(), Some(4));
}
