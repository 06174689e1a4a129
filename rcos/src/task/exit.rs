//! How a task ended, and the value it returned.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::message::{Envelope, Message};
use crate::util::Mutex;

/// How a task ended.
///
/// [`TaskRef::finish`](crate::TaskRef::finish) and [`TaskRef::value`](crate::TaskRef::value)
/// return it, and monitors receive it. Unlike pycos, which reports a terminated task as
/// if it had finished normally, every way of ending is distinguishable.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Exit {
    /// The task's function returned this value.
    Returned(Value),
    /// The task panicked with this message. The runtime and the other tasks carry on.
    Panicked(String),
    /// The task was terminated (by [`TaskRef::terminate`](crate::TaskRef::terminate), or
    /// because its runtime was dropped or terminated).
    Terminated,
    /// The task ended by propagating an error thrown into it with
    /// [`TaskRef::throw`](crate::TaskRef::throw) instead of handling it; this is the
    /// error's message.
    Thrown(String),
    /// No task with this reference is known: it ended before the reference was resolved
    /// here, and how it ended has been forgotten.
    NotFound,
    /// The connection to the task's node broke, or the node stopped answering
    /// heartbeats. Told at once, even if the connection comes back within its grace
    /// period (as Erlang's `noconnection`): messages in flight when it broke may be
    /// lost, and this notice comes before any such gap. The task may still be running
    /// there; monitor it again to keep watching it.
    NodeLost,
}

impl Exit {
    /// The returned value, if the task returned.
    pub fn value(&self) -> Option<&Value> {
        match self {
            Exit::Returned(value) => Some(value),
            _ => None,
        }
    }

    /// Whether the task returned normally (whatever the value).
    pub fn is_returned(&self) -> bool {
        matches!(self, Exit::Returned(_))
    }

    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, Exit::Panicked(_))
    }

    /// Whether the task ended any other way than returning.
    pub fn is_failure(&self) -> bool {
        !self.is_returned()
    }

    /// Whether the task was terminated.
    pub fn is_terminated(&self) -> bool {
        matches!(self, Exit::Terminated)
    }

    /// The returned value as an `M`, or `None` if the task did not return one.
    pub fn get<M: Message + Clone>(&self) -> Option<M> {
        self.value().and_then(Value::get)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Returned(value) => write!(f, "returned a {}", value.type_name()),
            Exit::Panicked(msg) => write!(f, "panicked: {msg}"),
            Exit::Terminated => f.write_str("terminated"),
            Exit::Thrown(msg) => write!(f, "ended by a thrown error: {msg}"),
            Exit::NotFound => f.write_str("no such task"),
            Exit::NodeLost => f.write_str("its node was lost"),
        }
    }
}

/// The value a task returned, shared by everyone who asks for it (every caller of
/// `finish`, every monitor).
///
/// Copy it out with [`get`](Self::get) (for messages, which can also come from another
/// node) or move it out once with [`take`](Self::take) (for any type).
///
/// ```
/// # let rt = rcos::Runtime::new().unwrap();
/// let task = rt.spawn(|_| async { vec![1u8, 2, 3] });
/// let exit = task.value();
/// let value = exit.value().unwrap();
/// assert!(value.is::<Vec<u8>>());
/// assert_eq!(value.get::<Vec<u8>>(), Some(vec![1, 2, 3]));
/// ```
#[derive(Clone)]
pub struct Value {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// `()`, by far the most common output, stored without allocating.
    Unit,
    Boxed(Arc<Mutex<Option<Envelope>>>),
    /// A value from another node that could not be sent (it is not a message): only
    /// its type name is known here.
    Opaque(Arc<str>),
}

fn is_unit<T: 'static>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<()>()
}

impl Value {
    /// A value of any type (only this program can read it).
    pub fn new_local<T: Send + 'static>(value: T) -> Value {
        if is_unit::<T>() {
            return Value { repr: Repr::Unit };
        }
        Value::from_envelope(Envelope::new_local(value))
    }

    /// A message value (which could also be sent to another node).
    pub fn new<M: Message>(value: M) -> Value {
        if is_unit::<M>() {
            return Value { repr: Repr::Unit };
        }
        Value::from_envelope(Envelope::new(value))
    }

    pub(crate) fn from_envelope(env: Envelope) -> Value {
        Value {
            repr: Repr::Boxed(Arc::new(Mutex::new(Some(env)))),
        }
    }

    /// Whether the value is an `M`.
    pub fn is<M: Message>(&self) -> bool {
        match &self.repr {
            Repr::Unit => is_unit::<M>(),
            Repr::Boxed(inner) => inner.lock().as_ref().is_some_and(Envelope::is::<M>),
            Repr::Opaque(_) => false,
        }
    }

    /// Whether the value is a `T` of any (local) type.
    pub fn is_any<T: 'static>(&self) -> bool {
        match &self.repr {
            Repr::Unit => is_unit::<T>(),
            Repr::Boxed(inner) => inner.lock().as_ref().is_some_and(Envelope::is_any::<T>),
            Repr::Opaque(_) => false,
        }
    }

    /// A copy of the value if it is an `M` (decoded first if it came from another node).
    pub fn get<M: Message + Clone>(&self) -> Option<M> {
        match &self.repr {
            Repr::Unit => Envelope::new_local(()).downcast_any::<M>().ok(),
            Repr::Boxed(inner) => inner
                .lock()
                .as_mut()
                .and_then(|env| env.peek::<M>().cloned()),
            Repr::Opaque(_) => None,
        }
    }

    /// Moves the value out if it is a `T`; later calls (and other holders) then get `None`.
    pub fn take<T: Send + 'static>(&self) -> Option<T> {
        let inner = match &self.repr {
            Repr::Unit => return Envelope::new_local(()).downcast_any::<T>().ok(),
            Repr::Boxed(inner) => inner,
            Repr::Opaque(_) => return None,
        };
        let mut slot = inner.lock();
        let env = slot.take()?;
        match env.downcast_any::<T>() {
            Ok(value) => Some(value),
            Err(env) => {
                *slot = Some(env);
                None
            }
        }
    }

    /// The value's type name, or `"<taken>"` once it has been taken.
    pub fn type_name(&self) -> String {
        let inner = match &self.repr {
            Repr::Unit => return "()".to_string(),
            Repr::Boxed(inner) => inner,
            Repr::Opaque(name) => return name.to_string(),
        };
        inner
            .lock()
            .as_ref()
            .map_or_else(|| "<taken>".to_string(), |env| env.type_name().to_string())
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Value")
            .field("type", &self.type_name())
            .finish()
    }
}

/// Turns a task's output into a [`Value`]; messages stay encodable for other nodes.
///
/// `#[task]` picks the right conversion for its return type at compile time; closures
/// spawned with [`spawn`](crate::spawn) store their output as a local value.
pub(crate) fn output_value<T: Send + 'static>(out: T) -> Value {
    Value::new_local(out)
}

/// How a value travels to another node: its wire name and, if it is a message, its
/// encoding.
#[derive(Serialize, Deserialize)]
struct WireValue {
    name: String,
    bytes: Option<Vec<u8>>,
}

impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let wire = match &self.repr {
            Repr::Unit => WireValue {
                name: "()".to_string(),
                bytes: crate::message::encode(&()).ok(),
            },
            Repr::Opaque(name) => WireValue {
                name: name.to_string(),
                bytes: None,
            },
            Repr::Boxed(inner) => match inner.lock().as_ref() {
                None => WireValue {
                    name: "<taken>".to_string(),
                    bytes: None,
                },
                Some(env) => match env.encode() {
                    Some(Ok(enc)) => WireValue {
                        name: enc.name().to_string(),
                        bytes: Some(enc.bytes().to_vec()),
                    },
                    _ => WireValue {
                        name: env.type_name().to_string(),
                        bytes: None,
                    },
                },
            },
        };
        wire.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireValue::deserialize(deserializer)?;
        Ok(match wire.bytes {
            _ if wire.name == "()" => Value { repr: Repr::Unit },
            Some(bytes) => Value::from_envelope(Envelope::from_encoded(
                crate::message::Encoded::new(&wire.name, &bytes),
                tracing::Span::none(),
            )),
            None => Value {
                repr: Repr::Opaque(Arc::from(wire.name)),
            },
        })
    }
}
