//! What `#[task]`, `#[derive(Message)]` and `#[rcos::main]` generate, exercised through
//! the real runtime: arguments in every position, options, remote registration, output
//! values, wire names and the `crate = "..."` override.

use std::sync::Arc;
use std::time::Duration;

use rcos::task::{Builder, RemoteTaskFn};
use rcos::{Message, Runtime, TaskFn, TaskRef, task};
use rcos_tests::PATIENCE;
use serde::{Deserialize, Serialize};

fn rt() -> Runtime {
    Runtime::builder()
        .workers(2)
        .build()
        .expect("runtime starts")
}

/// Adds its arguments.
#[task]
async fn add(task: TaskRef, a: u32, b: u32) -> u32 {
    let _ = task;
    a + b
}

/// The `TaskRef` in the middle, and patterns as parameters.
#[task]
async fn middle((a, b): (u32, u32), task: TaskRef, mut scale: u32) -> u32 {
    let _ = task.id();
    scale += 1;
    (a + b) * scale
}

/// The `TaskRef` last, no return type.
#[task]
async fn last(label: String, _task: TaskRef) {
    assert_eq!(label, "last");
}

/// No arguments at all, and a `Result` output.
#[task]
async fn fallible(task: rcos::TaskRef) -> Result<u8, String> {
    let _ = task;
    Err("nope".to_string())
}

#[test]
fn spawns_with_arguments_and_returns_the_output() {
    let rt = rt();
    assert_eq!(add::spawn_on(&rt, 2, 3).value().get::<u32>(), Some(5));
    assert_eq!(
        middle::spawn_on(&rt, (1, 2), 1).value().get::<u32>(),
        Some(6)
    );
    let exit = last::spawn_on(&rt, "last".to_string()).value();
    assert!(exit.is_returned(), "{exit}");
    assert_eq!(exit.get::<()>(), Some(()));
    assert_eq!(
        fallible::spawn_on(&rt).value().get::<Result<u8, String>>(),
        Some(Err("nope".to_string()))
    );
}

#[test]
fn spawn_uses_the_current_runtime() {
    let rt = rt();
    let _guard = rt.enter();
    let t = add::spawn(40, 2);
    assert_eq!(
        t.runtime().map(|h| h.name().to_string()),
        Some(rt.name().to_string())
    );
    assert_eq!(t.value().get::<u32>(), Some(42));
}

fn takes_task_fn<T: TaskFn<Args = (u32, u32), Output = u32> + Default>(_: T) {
    let _ = T::default();
}

#[test]
fn the_struct_names_the_fn_wherever_a_task_fn_is_expected() {
    let rt = rt();
    assert_eq!(rt.spawn_fn(add, (1, 1)).value().get::<u32>(), Some(2));
    let named = Builder::new().name("adder").spawn_fn_on(&rt, add, (1, 2));
    assert_eq!(named.name(), "adder");
    assert_eq!(named.value().get::<u32>(), Some(3));
    // The struct is `Copy`, `Default` and `Debug`; the fn of the same name makes it.
    let f = add();
    let g = f;
    assert_eq!(format!("{f:?} {g:?}"), "add add");
    takes_task_fn(add());
    // The fn can be shadowed by a binding of the same name (a unit struct could not).
    let add = add::spawn_on(&rt, 2, 2);
    assert_eq!(add.value().get::<u32>(), Some(4));
}

/// A server with every option.
#[task(name = "srv", daemon, mailbox = 1, overflow = "fail")]
async fn server(task: TaskRef) {
    // Never receives: the mailbox fills up. Ended by `terminate`.
    let _ = task.suspend(None).await;
}

#[test]
fn name_and_options_are_applied() {
    assert_eq!(<server as TaskFn>::NAME, "srv");
    assert_eq!(<add as TaskFn>::NAME, "add");
    let rt = rt();
    let t = server::spawn_on(&rt);
    assert_eq!(t.name(), "srv");
    assert!(t.is_daemon());
    // `mailbox = 1, overflow = "fail"`: the second message does not fit.
    t.send(1u8).expect("the first message fits");
    let err = t.send(2u8).expect_err("the mailbox holds one message");
    assert!(err.is_full(), "{err}");
    assert_eq!(err.into_inner(), 2);
    // A daemon does not hold `join` open, although it never ends by itself.
    rt.join_timeout(PATIENCE).expect("join ignores the daemon");
    assert!(t.is_alive());
    assert!(t.terminate());
    assert!(t.value().is_terminated());
}

#[test]
fn options_of_the_builder_come_first() {
    let rt = rt();
    let t = Builder::new().name("other").spawn_fn_on(&rt, server, ());
    assert_eq!(t.name(), "other");
    assert!(
        t.is_daemon(),
        "options the builder does not set still apply"
    );
    t.terminate();
}

/// A mailbox bound with the default overflow policy (`wait`).
#[task(mailbox = 2, daemon = false)]
async fn bounded(task: TaskRef) -> u32 {
    let mut total = 0;
    while let Ok(n) = task.receive_type::<u32>().await {
        if n == 0 {
            break;
        }
        total += n;
    }
    total
}

#[test]
fn bounded_mailbox_with_default_policy() {
    let rt = rt();
    let t = bounded::spawn_on(&rt);
    assert!(!t.is_daemon());
    let sum = rt.block_on({
        let t = t.clone();
        async move {
            for n in [1u32, 2, 3, 0] {
                t.deliver(n, PATIENCE).await.expect("delivered");
            }
            t.finish().await
        }
    });
    assert_eq!(sum.get::<u32>(), Some(6));
}

/// A request to the remote echo task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Message)]
struct Ping {
    text: String,
}

/// Spawnable by name on another node.
#[task(remote, name = "macros_expand.echo")]
async fn echo(task: TaskRef, ping: Ping, times: u64) -> u64 {
    let _ = task;
    ping.text.len() as u64 * times
}

#[test]
fn remote_tasks_are_registered() {
    fn is_remote<T: RemoteTaskFn>(_: fn() -> T) {}
    is_remote(echo);
    let names = rcos::task::remote_task_names();
    assert!(names.contains(&"macros_expand.echo"), "{names:?}");
    assert!(
        !names.contains(&"add"),
        "only `remote` tasks are registered"
    );
    let rt = rt();
    let exit = echo::spawn_on(&rt, Ping { text: "abc".into() }, 2).value();
    assert!(exit.value().is_some_and(rcos::Value::is::<u64>));
    assert_eq!(exit.get::<u64>(), Some(6));
}

/// Returns something that is not a message.
#[task]
async fn shared(task: TaskRef, n: u8) -> Arc<u8> {
    let _ = task;
    Arc::new(n)
}

#[test]
fn outputs_are_message_values_when_they_can_be() {
    let rt = rt();
    let exit = add::spawn_on(&rt, 1, 2).value();
    let value = exit.value().expect("returned");
    assert!(value.is::<u32>(), "a message output stays a message");
    let exit = shared::spawn_on(&rt, 7).value();
    let value = exit.value().expect("returned");
    assert!(value.is_any::<Arc<u8>>());
    assert_eq!(value.take::<Arc<u8>>().as_deref(), Some(&7));
}

/// Attributes after `#[task]` apply to what it generates: this task does not exist.
#[task(remote)]
#[cfg(not(test))]
async fn configured_out(task: TaskRef, not_a_message: std::rc::Rc<u8>) {}

/// This one does, and keeps its lint attributes.
#[task]
#[cfg(test)]
#[allow(clippy::needless_pass_by_value)]
async fn configured_in(task: TaskRef) -> u8 {
    let _ = task;
    1
}

#[test]
fn cfg_attributes_apply_to_every_generated_item() {
    let rt = rt();
    assert_eq!(configured_in::spawn_on(&rt).value().get::<u8>(), Some(1));
}

/// `tracing::instrument` and other attributes stay on the body.
#[task]
#[tracing::instrument(skip(task))]
async fn instrumented(task: TaskRef, n: u8) -> u8 {
    let _ = task;
    tracing::info!(n, "in the body");
    n
}

#[test]
fn other_attributes_stay_on_the_body() {
    let rt = rt();
    assert_eq!(instrumented::spawn_on(&rt, 3).value().get::<u8>(), Some(3));
}

/// A task named like the spawn functions still works.
#[task]
async fn spawn(task: TaskRef) -> u8 {
    let _ = task;
    9
}

#[test]
fn a_task_can_be_named_spawn() {
    let rt = rt();
    assert_eq!(spawn::spawn_on(&rt).value().get::<u8>(), Some(9));
}

/// Recursion goes through the task struct: a task may spawn itself.
#[task]
async fn countdown(task: TaskRef, n: u32) -> u32 {
    if n == 0 {
        return 0;
    }
    let child = countdown::spawn_on(&task.runtime().expect("local"), n - 1);
    child.finish().await.get::<u32>().unwrap_or(0) + 1
}

#[test]
fn tasks_can_spawn_themselves() {
    let rt = rt();
    assert_eq!(countdown::spawn_on(&rt, 3).value().get::<u32>(), Some(3));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Message)]
struct Restock(u32);

#[derive(Serialize, Deserialize, Message)]
#[message(name = "inventory.v2.Restock")]
struct RestockV2(u32);

#[derive(Serialize, Deserialize, Message)]
enum Command {
    Start,
    Stop { now: bool },
}

#[derive(Serialize, Deserialize, Message)]
struct Unit;

#[derive(Serialize, Deserialize, Message)]
struct Wrapper<T> {
    inner: T,
}

#[derive(Serialize, Deserialize, Message)]
#[message(name = "pair")]
struct Pair<A, B = u8>
where
    A: Clone,
{
    a: A,
    b: B,
}

#[derive(Serialize, Deserialize, Message)]
#[message(name = "odd{name}")]
struct Braces<T>(T);

#[test]
fn derived_wire_names() {
    assert_eq!(Restock::wire_name(), "Restock");
    assert_eq!(RestockV2::wire_name(), "inventory.v2.Restock");
    assert_eq!(Command::wire_name(), "Command");
    assert_eq!(Unit::wire_name(), "Unit");
    assert_eq!(<Wrapper<u8>>::wire_name(), "Wrapper<u8>");
    assert_eq!(
        <Wrapper<Vec<Restock>>>::wire_name(),
        "Wrapper<Vec<Restock>>"
    );
    assert_eq!(<Pair<String>>::wire_name(), "pair<String, u8>");
    assert_eq!(
        <Pair<u8, Wrapper<bool>>>::wire_name(),
        "pair<u8, Wrapper<bool>>"
    );
    assert_eq!(<Braces<u8>>::wire_name(), "odd{name}<u8>");
    let _ = (Command::Start, Command::Stop { now: true });
}

#[test]
fn derived_messages_travel() {
    let rt = rt();
    let t = rt.spawn(|task| async move {
        task.receive_type::<Wrapper<Restock>>()
            .await
            .map(|w| w.inner)
    });
    t.send(Wrapper { inner: Restock(3) }).expect("sent");
    let exit = t.value();
    let value = exit.value().expect("returned");
    assert_eq!(
        value
            .take::<Result<Restock, rcos::Interrupt>>()
            .map(Result::ok),
        Some(Some(Restock(3)))
    );
}

/// A crate that re-exports rcos under another path.
mod reexport {
    pub(crate) use ::rcos;
}

mod renamed {
    use crate::reexport::rcos::TaskRef;

    /// Through the re-export.
    #[crate::reexport::rcos::task(crate = "crate::reexport::rcos", remote, mailbox = 3)]
    pub(crate) async fn via_reexport(task: TaskRef, n: u16) -> u16 {
        let _ = task;
        n * 2
    }

    /// Through the re-export.
    #[derive(serde::Serialize, serde::Deserialize, crate::reexport::rcos::Message)]
    #[message(crate = "crate::reexport::rcos")]
    pub(crate) struct Renamed<T>(pub(crate) T);

    /// Through the re-export.
    #[crate::reexport::rcos::main(crate = "crate::reexport::rcos", workers = 1)]
    pub(crate) async fn main_via_reexport() -> u16 {
        via_reexport::spawn(21)
            .finish()
            .await
            .get::<u16>()
            .unwrap_or(0)
    }
}

#[rcos::main]
async fn plain_main() -> u32 {
    add::spawn(1, 2).finish().await.get::<u32>().unwrap_or(0)
}

#[rcos::main(workers = 2)]
async fn fallible_main() -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    let t = add::spawn(20, 22);
    let out = t.finish().await.get::<u32>().ok_or("no value")?;
    rcos::time::sleep(Duration::from_millis(1)).await;
    Ok(out)
}

#[test]
fn crate_path_override() {
    let rt = rt();
    assert_eq!(
        renamed::via_reexport::spawn_on(&rt, 4).value().get::<u16>(),
        Some(8)
    );
    assert_eq!(<renamed::Renamed<u8>>::wire_name(), "Renamed<u8>");
    let _ = renamed::Renamed(1u8).0;
}

// `#[rcos::main]` installs and then ends the default runtime: one test runs them all, in
// turn, so that no other test of this file shares the default runtime with them.
#[test]
fn main_runs_on_a_fresh_default_runtime() {
    assert_eq!(plain_main(), 3);
    assert_eq!(fallible_main().expect("no error"), 42);
    assert_eq!(renamed::main_via_reexport(), 42);
}
