//! `#[task]` functions as values: spawnable, nameable, and (with `remote`) spawnable by
//! name from serialized arguments.

use std::future::Future;

use super::{Builder, TaskRef, Value};
use crate::Message;
use crate::runtime::Handle;

/// A function made into a task by `#[task]`.
///
/// `#[task]` turns `async fn server(task: TaskRef, greeting: String) -> u64` into a unit
/// struct `server` that implements this trait, with `server::spawn(greeting)` and
/// `server::spawn_on(&handle, greeting)` to start it. The struct names the function
/// wherever a task function is expected: [`Handle::spawn_fn`], a hot-swap target, a
/// remote spawn.
///
/// Implementing it by hand is possible but rarely needed; the macro also checks the
/// signature and registers `remote` tasks.
pub trait TaskFn: Copy + Send + Sync + 'static {
    /// The arguments, as a tuple in declaration order (without the `TaskRef`).
    type Args: Send + 'static;
    /// What the function returns.
    type Output: Send + 'static;
    /// The task's name: the function's name unless `#[task(name = "...")]` says otherwise.
    const NAME: &'static str;

    /// Applies the function's options (`daemon`, `mailbox`, ...) to a builder.
    fn configure(builder: Builder) -> Builder {
        builder
    }

    /// Runs the function as the task `task`.
    fn call(
        self,
        task: TaskRef,
        args: Self::Args,
    ) -> impl Future<Output = Self::Output> + Send + 'static;

    /// Stores the function's output for `finish`, monitors and (for messages) other nodes.
    fn output_value(output: Self::Output) -> Value {
        Value::new_local(output)
    }
}

/// A `#[task(remote)]` function: its arguments and output are messages, so it can be
/// spawned by name with serialized arguments — by another node, a remote service or the
/// cluster scheduler.
pub trait RemoteTaskFn: TaskFn<Args: Message, Output: Message> + Default {}

/// An entry in the program's table of remotely spawnable task functions.
#[doc(hidden)]
pub struct RemoteTaskEntry {
    pub(crate) name: &'static str,
    pub(crate) spawn: fn(&Handle, &[u8]) -> Result<TaskRef, String>,
    pub(crate) factory: fn(&[u8]) -> Result<super::hotswap::Factory, String>,
}

impl RemoteTaskEntry {
    /// The entry for `T` (used by `#[task(remote)]`).
    pub const fn new<T: RemoteTaskFn>() -> RemoteTaskEntry {
        RemoteTaskEntry {
            name: T::NAME,
            spawn: spawn_encoded::<T>,
            factory: factory_encoded::<T>,
        }
    }
}

impl std::fmt::Debug for RemoteTaskEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteTaskEntry")
            .field("name", &self.name)
            .finish()
    }
}

inventory::collect!(RemoteTaskEntry);

fn spawn_encoded<T: RemoteTaskFn>(handle: &Handle, args: &[u8]) -> Result<TaskRef, String> {
    let args: T::Args = crate::message::decode(args)
        .map_err(|e| format!("arguments of task `{}` do not decode: {e}", T::NAME))?;
    Ok(Builder::new().spawn_task_fn_on(handle, T::default(), args))
}

fn factory_encoded<T: RemoteTaskFn>(args: &[u8]) -> Result<super::hotswap::Factory, String> {
    let args: T::Args = crate::message::decode(args)
        .map_err(|e| format!("arguments of task `{}` do not decode: {e}", T::NAME))?;
    Ok(super::hotswap::factory(T::default(), args))
}

/// The `#[task(remote)]` function registered as `name`.
pub(crate) fn remote_entry(
    name: &str,
) -> Result<&'static RemoteTaskEntry, crate::error::SpawnError> {
    use crate::error::SpawnError;
    let mut found = inventory::iter::<RemoteTaskEntry>
        .into_iter()
        .filter(|e| e.name == name);
    let entry = found
        .next()
        .ok_or_else(|| SpawnError::UnknownTask(name.to_string()))?;
    if found.next().is_some() {
        return Err(SpawnError::Ambiguous(name.to_string()));
    }
    Ok(entry)
}

/// The names of every `#[task(remote)]` function compiled into this program.
pub fn remote_task_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = inventory::iter::<RemoteTaskEntry>
        .into_iter()
        .map(|e| e.name)
        .collect();
    names.sort_unstable();
    names
}

/// Spawns the `#[task(remote)]` function registered as `name` with CBOR-encoded
/// arguments (a tuple in declaration order).
pub(crate) fn spawn_by_name(
    handle: &Handle,
    name: &str,
    args: &[u8],
) -> Result<TaskRef, crate::error::SpawnError> {
    use crate::error::SpawnError;
    let mut found = inventory::iter::<RemoteTaskEntry>
        .into_iter()
        .filter(|e| e.name == name);
    let entry = found
        .next()
        .ok_or_else(|| SpawnError::UnknownTask(name.to_string()))?;
    if found.next().is_some() {
        return Err(SpawnError::Ambiguous(name.to_string()));
    }
    (entry.spawn)(handle, args).map_err(SpawnError::BadArguments)
}
