//! How a `Channel` travels inside a message: its runtime's identity and its name.

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Channel, Repr};
use crate::runtime::{NodeId, context};

#[derive(Serialize, Deserialize)]
struct WireChannel {
    node: String,
    incarnation: u64,
    name: String,
    #[serde(default)]
    location: Option<String>,
}

impl Serialize for Channel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let node = self.node();
        let location = match &self.repr {
            Repr::Local(core) => core.rt.net.get().map(|n| n.location().to_string()),
            Repr::Detached(_) => None,
            Repr::Remote(r) => r.location.map(|l| l.to_string()),
        };
        WireChannel {
            node: node.name.to_string(),
            incarnation: node.incarnation,
            name: self.name().to_string(),
            location,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Channel {
    /// Resolves against the runtime the deserializing code runs on.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireChannel::deserialize(deserializer)?;
        if let Some(shared) = context::current_shared() {
            if shared.node.incarnation == wire.incarnation {
                if let Some(core) = shared.channels.get(&wire.name) {
                    return Ok(Channel {
                        repr: Repr::Local(core),
                    });
                }
                return Ok(Channel {
                    repr: Repr::Detached(Arc::new((shared.node.clone(), wire.name))),
                });
            }
        }
        let node = NodeId {
            name: Arc::from(wire.node),
            incarnation: wire.incarnation,
        };
        if let Some(shared) = context::current_shared().filter(|s| s.net.get().is_some()) {
            return Ok(Channel {
                repr: Repr::Remote(Arc::new(super::RemoteChannel {
                    node,
                    location: wire.location.as_deref().and_then(|l| l.parse().ok()),
                    name: wire.name,
                    via: Arc::downgrade(&shared),
                })),
            });
        }
        Ok(Channel {
            repr: Repr::Detached(Arc::new((node, wire.name))),
        })
    }
}
