//! Names: each runtime's table of registered tasks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use event_listener::Event;

use crate::TaskRef;
use crate::error::{LocateError, RegisterError};
use crate::runtime::Shared;
use crate::util::Mutex;

/// A runtime's registered names. A name belongs to one live task at a time and is
/// released when that task ends.
pub(crate) struct Registry {
    names: Mutex<HashMap<Arc<str>, TaskRef>>,
    /// Notified whenever a name is registered.
    changed: Event,
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry {
            names: Mutex::new(HashMap::new()),
            changed: Event::new(),
        }
    }

    /// Registers `name` for `task` (which the caller has checked is alive and local).
    pub(crate) fn register(&self, name: &str, task: &TaskRef) -> Result<Arc<str>, RegisterError> {
        let key: Arc<str> = Arc::from(name);
        {
            let mut names = self.names.lock();
            match names.get(name) {
                Some(holder) if holder == task => return Ok(key),
                Some(holder) if holder.is_alive() => {
                    return Err(RegisterError::Taken {
                        name: name.to_string(),
                        holder: holder.clone(),
                    });
                }
                _ => {
                    names.insert(key.clone(), task.clone());
                }
            }
        }
        crate::util::notify(&self.changed, usize::MAX);
        Ok(key)
    }

    /// Releases `name` if `task` holds it; returns whether it did.
    pub(crate) fn release(&self, name: &str, task: &TaskRef) -> bool {
        let removed = {
            let mut names = self.names.lock();
            match names.get(name) {
                Some(holder) if holder == task => names.remove(name),
                _ => None,
            }
        };
        removed.is_some()
    }

    pub(crate) fn get(&self, name: &str) -> Option<TaskRef> {
        self.names
            .lock()
            .get(name)
            .filter(|t| t.is_alive())
            .cloned()
    }

    /// Waits up to `timeout` (on the runtime's clock) for `name` to be registered.
    pub(crate) async fn locate(
        &self,
        shared: &Arc<Shared>,
        name: &str,
        timeout: Duration,
    ) -> Result<TaskRef, LocateError> {
        let wait = async {
            loop {
                if let Some(task) = self.get(name) {
                    return task;
                }
                let listener = self.changed.listen();
                if let Some(task) = self.get(name) {
                    return task;
                }
                listener.await;
            }
        };
        shared
            .clock
            .timeout(timeout, wait)
            .await
            .map_err(|_| LocateError::NotFound {
                name: name.to_string(),
            })
    }
}
