//! Every `#[task]` option, in both spellings where there are two.

use rcos::task::Overflow;
use rcos::{Runtime, TaskFn, TaskRef, task};

/// Every option.
#[task(
    name = "srv",
    daemon,
    mailbox = 100,
    overflow = "fail",
    remote,
    crate = "::rcos"
)]
async fn server(task: TaskRef, greeting: String, count: u32) -> u64 {
    let _ = task;
    greeting.len() as u64 * u64::from(count)
}

/// Bare-word overflow policies, and flags set explicitly.
#[task(mailbox = 1, overflow = drop_newest, daemon = false, remote = false)]
async fn dropper(task: TaskRef) {
    let _ = task.suspend(None).await;
}

/// The default policy, `wait`.
#[task(mailbox = 2usize, overflow = wait)]
async fn waiter(task: TaskRef) {
    let _ = task;
}

fn main() {
    assert_eq!(server::NAME, "srv");
    assert_eq!(dropper::NAME, "dropper");
    let rt = Runtime::new().unwrap();
    let s = server::spawn_on(&rt, "hi".into(), 3);
    assert!(s.is_daemon());
    assert_eq!(s.name(), "srv");
    assert_eq!(s.value().get::<u64>(), Some(6));
    let d = dropper::spawn_on(&rt);
    assert!(!d.is_daemon());
    d.send(1u8).unwrap();
    d.send(2u8).unwrap(); // dropped, not an error
    assert_eq!(d.dropped_messages(), 1);
    d.terminate();
    waiter::spawn_on(&rt).value();
    let _ = Overflow::Wait;
}
