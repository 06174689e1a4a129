//! Each runtime's table of channels by name.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::{ChannelCore, ChannelError};
use crate::error::LocateError;
use crate::runtime::Shared;
use crate::util::Mutex;

/// The live channels of a runtime. Holds them weakly: a channel lives as long as some
/// `Channel` handle does (or until it is closed).
pub(crate) struct ChannelRegistry {
    by_name: Mutex<HashMap<Arc<str>, Weak<ChannelCore>>>,
    /// Notified when a channel is created.
    created: event_listener::Event,
    /// Held while a channel-to-channel subscription is checked for cycles and added.
    pub(crate) topology: Mutex<()>,
}

impl ChannelRegistry {
    pub(crate) fn new() -> ChannelRegistry {
        ChannelRegistry {
            by_name: Mutex::new(HashMap::new()),
            created: event_listener::Event::new(),
            topology: Mutex::new(()),
        }
    }

    pub(crate) fn insert(
        &self,
        name: &Arc<str>,
        core: &Arc<ChannelCore>,
    ) -> Result<(), ChannelError> {
        {
            let mut by_name = self.by_name.lock();
            if by_name.get(name).and_then(Weak::upgrade).is_some() {
                return Err(ChannelError::NameTaken(name.to_string()));
            }
            by_name.insert(name.clone(), Arc::downgrade(core));
        }
        crate::util::notify(&self.created, usize::MAX);
        Ok(())
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<ChannelCore>> {
        let core = self.by_name.lock().get(name).and_then(Weak::upgrade)?;
        let closed = core.state.lock().closed;
        (!closed).then_some(core)
    }

    /// Removes `name` if it is `core`'s.
    pub(crate) fn remove(&self, name: &str, core: &Arc<ChannelCore>) {
        let mut by_name = self.by_name.lock();
        if by_name
            .get(name)
            .is_some_and(|w| w.as_ptr() == Arc::as_ptr(core))
        {
            by_name.remove(name);
        }
    }

    /// Removes `name` if its channel is gone (called as a channel is dropped).
    pub(crate) fn forget(&self, name: &str) {
        let mut by_name = self.by_name.lock();
        if by_name.get(name).is_some_and(|w| w.strong_count() == 0) {
            by_name.remove(name);
        }
    }

    pub(crate) async fn locate(
        &self,
        shared: &Arc<Shared>,
        name: &str,
        timeout: Duration,
    ) -> Result<Arc<ChannelCore>, LocateError> {
        let wait = async {
            loop {
                if let Some(core) = self.get(name) {
                    return core;
                }
                let listener = self.created.listen();
                if let Some(core) = self.get(name) {
                    return core;
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
