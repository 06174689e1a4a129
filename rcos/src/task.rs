//! Tasks: lightweight actors that own their state and talk by messages.
//!
//! A task runs an async function on the runtime's worker threads. It receives messages
//! in its mailbox, in arrival order, through its own [`TaskRef`]; everyone else uses
//! the same kind of reference to send to it, wait for it, or end it.
//!
//! Make a function a task with `#[task]`:
//!
//! ```
//! use rcos::{task, TaskRef};
//!
//! /// Counts the numbers it is sent until it gets a zero.
//! #[task]
//! async fn counter(task: TaskRef, start: u64) -> u64 {
//!     let mut total = start;
//!     while let Ok(msg) = task.receive().await {
//!         match msg.downcast::<u64>() {
//!             Ok(0) => break,
//!             Ok(n) => total += n,
//!             Err(other) => tracing::warn!("unexpected {}", other.type_name()),
//!         }
//!     }
//!     total
//! }
//!
//! # let rt = rcos::Runtime::new().unwrap();
//! # let _guard = rt.enter();
//! let c = counter::spawn(100);
//! for n in [1, 2, 3, 0] {
//!     c.send(n as u64).unwrap();
//! }
//! assert_eq!(c.value().get::<u64>(), Some(106));
//! ```
//!
//! or spawn a closure with [`spawn`] / [`Builder`] for local, one-off tasks.

#[cfg(test)]
pub(crate) mod bare;
pub(crate) mod core;
mod exit;
pub mod hotswap;
mod lifecycle;
mod monitor;
pub(crate) mod queue;
mod receive;
mod send;
mod spawn;
pub(crate) mod task_fn;
mod taskref;
mod throw;
mod wire;

pub use exit::{Exit, Value};
pub use hotswap::{HotSwapError, SwapRequest};
pub use monitor::{MonitorError, MonitorStatus};
pub use spawn::{Builder, Overflow, spawn, yield_now};
pub use task_fn::{RemoteTaskEntry, RemoteTaskFn, TaskFn, remote_task_names};
pub use taskref::{TaskId, TaskRef};
pub use throw::Thrown;

pub(crate) use self::core::TaskTable;
pub(crate) use spawn::current_or_default;
pub(crate) use task_fn::spawn_by_name;
