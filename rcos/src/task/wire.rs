//! How a `TaskRef` travels inside a message.
//!
//! A reference is written as its runtime's identity (name and incarnation), the task's
//! id and its name. Read back on the task's own runtime it is the live task again; read
//! anywhere else it is a reference to that runtime's task, which reaches it once the
//! runtimes are connected as nodes.

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::TaskRef;
use crate::message::Message;
use crate::runtime::{NodeId, context};

#[derive(Serialize, Deserialize)]
struct WireTaskRef {
    node: String,
    incarnation: u64,
    id: u64,
    name: String,
    /// Where the task's node listens, if it is a node.
    #[serde(default)]
    location: Option<String>,
}

impl Serialize for TaskRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(core) = self.core() {
            // From now on messages may arrive for it by id.
            core.rt.tasks.export(core);
        }
        let node = self.node();
        WireTaskRef {
            node: node.name.to_string(),
            incarnation: node.incarnation,
            id: self.id().0,
            name: self.name().into_owned(),
            location: self.location().map(|l| l.to_string()),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TaskRef {
    /// Resolves against the runtime the deserializing code runs on (see
    /// [`Handle::enter`](crate::Handle::enter)).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireTaskRef::deserialize(deserializer)?;
        if let Some(shared) = context::current_shared() {
            if shared.node.incarnation == wire.incarnation {
                if let Some(core) = shared.tasks.get(wire.id) {
                    return Ok(TaskRef::from_core(core));
                }
                return Ok(TaskRef::detached(
                    shared.node.clone(),
                    wire.id,
                    wire.name,
                    true,
                ));
            }
        }
        let node = NodeId {
            name: Arc::from(wire.node),
            incarnation: wire.incarnation,
        };
        // On a node, a task of another node is reachable through it.
        if let Some(shared) = context::current_shared().filter(|s| s.net.get().is_some()) {
            let location = wire.location.as_deref().and_then(|l| l.parse().ok());
            return Ok(TaskRef::remote(crate::net::RemoteTask {
                node,
                location,
                id: wire.id,
                name: wire.name,
                via: Arc::downgrade(&shared),
            }));
        }
        Ok(TaskRef::detached(node, wire.id, wire.name, false))
    }
}

impl Message for TaskRef {
    fn wire_name() -> Cow<'static, str> {
        Cow::Borrowed("rcos::TaskRef")
    }
}
