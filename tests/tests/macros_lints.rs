//! The macros' expansions are clean under strict user lints: this file denies them
//! around documented uses of `#[task]`, `#[derive(Message)]` and `#[rcos::main]`, and
//! `cargo clippy -p rcos-tests --all-targets -- -D warnings` checks it.

#![deny(
    warnings,
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    unused_qualifications,
    unused_import_braces,
    unused_lifetimes,
    single_use_lifetimes,
    trivial_casts,
    trivial_numeric_casts,
    elided_lifetimes_in_paths,
    rust_2018_idioms,
    let_underscore_drop,
    non_ascii_idents,
    unit_bindings,
    clippy::all,
    clippy::pedantic,
    clippy::allow_attributes_without_reason,
    clippy::allow_attributes,
    clippy::use_self,
    clippy::missing_const_for_fn,
    clippy::must_use_candidate,
    clippy::unwrap_used
)]

use serde::{Deserialize, Serialize};

/// Tasks of every shape, public.
pub mod tasks {
    use rcos::{Message, TaskRef, task};
    use serde::{Deserialize, Serialize};

    /// A greeting to send.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Message)]
    pub struct Greeting {
        /// Who to greet.
        pub to: String,
    }

    /// A wrapper, generic over its message.
    #[derive(Debug, Clone, Serialize, Deserialize, Message)]
    #[message(name = "lints.Envelope")]
    pub struct Boxed<T> {
        /// The message.
        pub inner: T,
    }

    /// A command.
    #[derive(Debug, Clone, Copy, Serialize, Deserialize, Message)]
    pub enum Command {
        /// Go.
        Go,
        /// Stop.
        Stop,
    }

    /// Greets everyone it is sent, and counts them.
    #[task(name = "lints.greeter", mailbox = 8, overflow = "wait")]
    pub async fn greeter(task: TaskRef, prefix: String) -> usize {
        let mut count = 0;
        while let Ok(greeting) = task.receive_type::<Greeting>().await {
            if greeting.to.is_empty() {
                break;
            }
            tracing::debug!("{prefix}, {}", greeting.to);
            count += 1;
        }
        count
    }

    /// Remote, with message arguments in every position.
    #[task(remote, daemon)]
    pub async fn remote_sum((a, b): (u32, u32), task: TaskRef, boxed: Boxed<u64>) -> u64 {
        drop(task);
        u64::from(a) + u64::from(b) + boxed.inner
    }

    /// No arguments, no output.
    #[task]
    pub async fn idle(_task: TaskRef) {}

    /// Many arguments, with the `TaskRef` last.
    #[task]
    #[expect(clippy::too_many_arguments, reason = "a test of long argument lists")]
    pub async fn many(
        one: u8,
        two: u8,
        three: u8,
        four: u8,
        five: u8,
        six: u8,
        seven: u8,
        task: TaskRef,
    ) -> u8 {
        drop(task);
        one + two + three + four + five + six + seven
    }

    /// Returns something that is not a message.
    #[task]
    pub async fn local(task: TaskRef, n: u8) -> std::sync::Arc<u8> {
        drop(task);
        std::sync::Arc::new(n)
    }

    /// Ignores one of its arguments (and its `TaskRef`).
    #[task]
    pub async fn ignores(_task: TaskRef, _ignored: u8, kept: u8) -> u8 {
        kept
    }

    /// A crate-private task.
    #[task]
    pub(crate) async fn private(task: TaskRef) -> Result<(), String> {
        drop(task);
        Ok(())
    }
}

mod private {
    use rcos::{TaskRef, task};

    /// A task that is private to its module.
    #[task]
    async fn hidden(task: TaskRef, n: u8) -> u8 {
        drop(task);
        n
    }

    /// Spawns the private task.
    pub(crate) fn run(rt: &rcos::Runtime) -> Option<u8> {
        hidden::spawn_on(rt, 1).value().get::<u8>()
    }
}

/// Runs on its own default runtime.
#[rcos::main(workers = 1)]
pub async fn entry() -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    let greeter = tasks::greeter::spawn("Hello".to_owned());
    greeter.send(tasks::Greeting {
        to: "rcos".to_owned(),
    })?;
    greeter.send(tasks::Greeting { to: String::new() })?;
    Ok(greeter.finish().await.get::<usize>().unwrap_or_default())
}

/// A message at the crate root.
#[derive(Debug, Serialize, Deserialize, rcos::Message)]
pub struct Root(pub u8);

#[test]
fn lint_clean_expansions_work() {
    use rcos::Message as _;

    let rt = rcos::Runtime::new().expect("runtime");
    let boxed = tasks::Boxed { inner: 3 };
    let sum = tasks::remote_sum::spawn_on(&rt, (1, 2), boxed).value();
    assert_eq!(sum.get::<u64>(), Some(6));
    assert!(tasks::idle::spawn_on(&rt).value().is_returned());
    assert_eq!(
        tasks::many::spawn_on(&rt, 1, 1, 1, 1, 1, 1, 1)
            .value()
            .get::<u8>(),
        Some(7)
    );
    assert!(tasks::local::spawn_on(&rt, 1).value().is_returned());
    assert!(tasks::private::spawn_on(&rt).value().is_returned());
    assert_eq!(
        tasks::ignores::spawn_on(&rt, 1, 2).value().get::<u8>(),
        Some(2)
    );
    assert_eq!(private::run(&rt), Some(1));
    assert_eq!(<tasks::Boxed<Root>>::wire_name(), "lints.Envelope<Root>");
    assert_eq!(tasks::Command::wire_name(), "Command");
    let _ = (tasks::Command::Go, tasks::Command::Stop);
    rt.terminate();
    assert_eq!(entry().expect("main ran"), 1);
}
