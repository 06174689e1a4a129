//! Request/reply: [`TaskRef::call`](crate::TaskRef::call) sends a [`Request`], the receiver
//! answers through its [`ReplyTo`], and the answer goes straight to the waiting caller.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Envelope, Message};
use crate::error::{ReplyError, ReplyFailure};
use crate::runtime::{NodeId, Shared, context};
use crate::util::Mutex;

/// A request sent with [`TaskRef::call`](crate::TaskRef::call): the body, and where the
/// reply goes.
///
/// The receiver downcasts the envelope to `Request<M>`, reads the [`body`](Self::body),
/// and answers with [`reply`](Self::reply). Dropping a request without replying tells
/// the caller at once ([`CallError::NoReply`](crate::CallError::NoReply)).
#[derive(Serialize, Deserialize)]
pub struct Request<M> {
    body: M,
    reply_to: ReplyTo,
}

impl<M> Request<M> {
    pub(crate) fn new(body: M, reply_to: ReplyTo) -> Self {
        Request { body, reply_to }
    }

    /// The request's body.
    pub fn body(&self) -> &M {
        &self.body
    }

    /// Splits the request into its body and the handle to reply through.
    pub fn into_parts(self) -> (M, ReplyTo) {
        (self.body, self.reply_to)
    }

    /// Sends the reply to the caller.
    ///
    /// # Errors
    /// The reply is handed back if the caller is no longer waiting (it timed out) or
    /// cannot be reached.
    pub fn reply<R: Message>(self, reply: R) -> Result<(), ReplyError<R>> {
        self.reply_to.send(reply)
    }
}

impl<M: Message> Message for Request<M> {
    fn wire_name() -> Cow<'static, str> {
        super::cached_name::<Self>(|| format!("rcos::Request<{}>", M::wire_name()))
    }
}

impl<M: fmt::Debug> fmt::Debug for Request<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

/// Where the reply to a [`Request`] goes. Sending through it consumes it; dropping it
/// unused tells the caller that no reply will come.
pub struct ReplyTo {
    repr: ReplyRepr,
}

enum ReplyRepr {
    Local {
        slot: Arc<dyn ReplySink>,
        /// Dropping this copy must not close the slot: it was serialized for another
        /// node, which now holds the right to reply, or it has replied (the slot is
        /// closed already).
        released: std::sync::atomic::AtomicBool,
    },
    /// A caller on a runtime this one cannot reach.
    Detached { node: NodeId, id: u64 },
    /// A caller on another node, reached through this runtime's node.
    Remote {
        node: NodeId,
        location: Option<crate::net::Location>,
        id: u64,
        via: Weak<Shared>,
    },
}

/// The caller's side of a pending call, waiting for a reply of type `R`.
///
/// One lock holds everything: the reply, whether the slot is settled, the caller's
/// waker and the id under which the slot was exported. Only the caller ever waits, so
/// a single waker does instead of an event with a list of listeners (which allocated
/// its state and a listener for every call). A local reply of the type the caller
/// expects is stored as it is, without an envelope (one allocation fewer).
pub(crate) struct ReplySlot<R> {
    state: Mutex<ReplyState<R>>,
    /// The runtime through which replies from other nodes are routed.
    home: Option<Weak<Shared>>,
}

struct ReplyState<R> {
    reply: Option<Reply<R>>,
    /// Filled, or closed by either side: no reply can come in any more.
    closed: bool,
    /// The caller's waker, while it waits.
    waker: Option<Waker>,
    /// The id under which the slot is registered in `home`'s reply table, once exported.
    exported_id: Option<u64>,
}

/// A reply as the caller gets it.
pub(crate) enum Reply<R> {
    /// Sent locally, of the expected type.
    Value(R),
    /// From another node, or of another type than expected.
    Envelope(Envelope),
}

/// What a [`ReplyTo`] and the reply table see of a [`ReplySlot`], whatever its reply type.
pub(crate) trait ReplySink: Send + Sync + 'static {
    /// Takes a local reply out of `reply` (an `&mut Option<T>`) if the slot is open and
    /// `T` is the expected type. `Mismatch` leaves it there: send it as an envelope.
    fn fill_value(&self, reply: &mut dyn Any) -> Filled;
    /// Puts an envelope in, unless the slot was closed; hands it back then.
    fn fill_envelope(&self, env: Envelope) -> Result<(), Envelope>;
    /// Puts in a reply that came encoded from another node, decoded as the expected
    /// type (no envelope); hands it back if it is of another type or does not decode
    /// as it (send it in an envelope then). Dropped if the slot was closed.
    fn fill_encoded(&self, encoded: super::Encoded) -> Option<super::Encoded>;
    /// The caller stopped waiting, or the replier went away.
    fn close(&self);
    /// Whether the slot was filled or closed.
    fn is_closed(&self) -> bool;
    /// The slot's id in its home runtime's reply table, registering it there (as
    /// `me`) on first use; `None` if the caller's runtime is gone.
    fn export(&self, me: &Arc<dyn ReplySink>) -> Option<(Arc<Shared>, u64)>;
}

/// The outcome of [`ReplySink::fill_value`].
pub(crate) enum Filled {
    Done,
    Closed,
    Mismatch,
}

impl dyn ReplySink {
    /// A reply that came from another node.
    pub(crate) fn fill_from_remote(&self, env: Envelope) {
        if self.fill_envelope(env).is_err() {
            tracing::debug!("a reply from another node came after its caller stopped waiting");
        }
    }
}

impl<R: Message> ReplySlot<R> {
    pub(crate) fn new(home: Option<Weak<Shared>>) -> ReplySlot<R> {
        ReplySlot {
            state: Mutex::new(ReplyState {
                reply: None,
                closed: false,
                waker: None,
                exported_id: None,
            }),
            home,
        }
    }

    /// Waits until the slot is filled (`Some`) or closed (`None`). Only one caller
    /// waits on a slot.
    pub(crate) fn wait(&self) -> impl Future<Output = Option<Reply<R>>> + '_ {
        std::future::poll_fn(move |cx| self.poll_wait(cx))
    }

    fn poll_wait(&self, cx: &mut Context<'_>) -> Poll<Option<Reply<R>>> {
        let mut st = self.state.lock();
        if st.closed {
            return Poll::Ready(st.reply.take());
        }
        match &mut st.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            Some(waker) => waker.clone_from(cx.waker()),
            None => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Puts the reply in, unless the slot was closed; hands it back then.
    fn fill(&self, reply: Reply<R>) -> Result<(), Reply<R>> {
        let (waker, exported_id) = {
            let mut st = self.state.lock();
            if st.closed {
                return Err(reply);
            }
            st.reply = Some(reply);
            st.closed = true;
            (st.waker.take(), st.exported_id.take())
        };
        self.settled(waker, exported_id);
        Ok(())
    }

    /// After the slot closed (outside its lock): takes it out of the reply table if it
    /// was exported, and wakes the caller.
    fn settled(&self, waker: Option<Waker>, exported_id: Option<u64>) {
        if let Some(id) = exported_id {
            if let Some(home) = self.home.as_ref().and_then(Weak::upgrade) {
                let removed = home.replies.lock().remove(&id);
                drop(removed);
            }
        }
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<R: Message> ReplySink for ReplySlot<R> {
    fn fill_value(&self, reply: &mut dyn Any) -> Filled {
        let Some(value) = reply.downcast_mut::<Option<R>>() else {
            return Filled::Mismatch;
        };
        let Some(value) = value.take() else {
            return Filled::Mismatch;
        };
        match self.fill(Reply::Value(value)) {
            Ok(()) => Filled::Done,
            Err(back) => {
                if let (Reply::Value(back), Some(out)) = (back, reply.downcast_mut::<Option<R>>()) {
                    *out = Some(back);
                }
                Filled::Closed
            }
        }
    }

    fn fill_envelope(&self, env: Envelope) -> Result<(), Envelope> {
        self.fill(Reply::Envelope(env)).map_err(|back| match back {
            Reply::Envelope(env) => env,
            Reply::Value(value) => Envelope::new(value),
        })
    }

    fn fill_encoded(&self, encoded: super::Encoded) -> Option<super::Encoded> {
        if encoded.name() != R::wire_name() {
            return Some(encoded);
        }
        let Ok(value) = super::decode::<R>(encoded.bytes()) else {
            return Some(encoded);
        };
        if self.fill(Reply::Value(value)).is_err() {
            tracing::debug!("a reply from another node came after its caller stopped waiting");
        }
        None
    }

    fn close(&self) {
        let (waker, exported_id) = {
            let mut st = self.state.lock();
            if std::mem::replace(&mut st.closed, true) {
                // Filled or closed before: nothing waits and nothing is registered.
                return;
            }
            (st.waker.take(), st.exported_id.take())
        };
        self.settled(waker, exported_id);
    }

    fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    fn export(&self, me: &Arc<dyn ReplySink>) -> Option<(Arc<Shared>, u64)> {
        let home = self.home.as_ref().and_then(Weak::upgrade)?;
        let mut st = self.state.lock();
        let id = match st.exported_id {
            Some(id) => id,
            // Settled already: a reply under this id finds no slot and is dropped, and
            // nothing is left in the table for good.
            None if st.closed => home.next_reply_id(),
            None => {
                let id = home.next_reply_id();
                home.replies.lock().insert(id, me.clone());
                st.exported_id = Some(id);
                id
            }
        };
        drop(st);
        Some((home, id))
    }
}

impl ReplyTo {
    pub(crate) fn local(slot: Arc<dyn ReplySink>) -> ReplyTo {
        ReplyTo {
            repr: ReplyRepr::Local {
                slot,
                released: std::sync::atomic::AtomicBool::new(false),
            },
        }
    }

    /// Whether the caller still waits for the reply.
    pub fn is_waiting(&self) -> bool {
        match &self.repr {
            ReplyRepr::Local { slot, .. } => !slot.is_closed(),
            ReplyRepr::Detached { .. } => false,
            ReplyRepr::Remote { .. } => true,
        }
    }

    /// Sends the reply.
    ///
    /// # Errors
    /// The reply is handed back if the caller stopped waiting or cannot be reached.
    pub fn send<R: Message>(self, reply: R) -> Result<(), ReplyError<R>> {
        match &self.repr {
            ReplyRepr::Local { slot, released } => {
                // Filled or found closed, the slot is closed now: dropping this handle
                // has nothing left to do.
                released.store(true, std::sync::atomic::Ordering::Relaxed);
                let mut reply = Some(reply);
                let closed = match slot.fill_value(&mut reply) {
                    Filled::Done => return Ok(()),
                    Filled::Closed => true,
                    Filled::Mismatch => false,
                };
                let Some(reply) = reply else {
                    unreachable!("a reply the slot did not take is still here")
                };
                if closed {
                    return Err(ReplyError::new(reply, ReplyFailure::NotWaiting));
                }
                slot.fill_envelope(Envelope::new(reply)).map_err(|env| {
                    let reply = match env.downcast::<R>() {
                        Ok(reply) => reply,
                        Err(_) => unreachable!("an envelope changed type"),
                    };
                    ReplyError::new(reply, ReplyFailure::NotWaiting)
                })
            }
            ReplyRepr::Detached { .. } => Err(ReplyError::new(reply, ReplyFailure::Unreachable)),
            ReplyRepr::Remote {
                node,
                location,
                id,
                via,
            } => {
                let sent = match (
                    crate::net::frame::WireMsg::of(&reply),
                    via.upgrade().and_then(|v| v.net.get().cloned()),
                ) {
                    (Ok(msg), Some(net)) => net
                        .send_to(
                            node.incarnation,
                            *location,
                            crate::net::frame::Frame::Reply { id: *id, msg },
                        )
                        .is_ok(),
                    _ => false,
                };
                if sent {
                    Ok(())
                } else {
                    Err(ReplyError::new(reply, ReplyFailure::Unreachable))
                }
            }
        }
    }
}

impl Drop for ReplyTo {
    fn drop(&mut self) {
        if let ReplyRepr::Local { slot, released } = &self.repr {
            if !released.load(std::sync::atomic::Ordering::Acquire) {
                slot.close();
            }
        }
    }
}

impl fmt::Debug for ReplyTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyTo")
            .field("waiting", &self.is_waiting())
            .finish_non_exhaustive()
    }
}

/// How a `ReplyTo` travels: the caller's runtime and the slot's id there. Read into
/// the types it ends up in (no intermediate `String`s).
#[derive(Deserialize)]
struct WireReplyTo {
    node: NodeName,
    incarnation: u64,
    id: u64,
    #[serde(default)]
    location: Option<WireLocation>,
}

/// [`WireReplyTo`] as it is written: the same fields, borrowed, the location as text
/// formatted on the stack.
#[derive(Serialize)]
#[serde(rename = "WireReplyTo")]
struct WireReplyToOut<'a> {
    node: &'a str,
    incarnation: u64,
    id: u64,
    location: Option<AsText<crate::net::Location>>,
}

/// A node's name, read straight into the `Arc<str>` a [`NodeId`] holds.
struct NodeName(Arc<str>);

impl<'de> Deserialize<'de> for NodeName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = NodeName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NodeName, E> {
                Ok(NodeName(Arc::from(v)))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// A location as text; one that does not parse is no location (as before: the reply
/// then goes through a connection the node already has).
struct WireLocation(Option<crate::net::Location>);

impl<'de> Deserialize<'de> for WireLocation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = WireLocation;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<WireLocation, E> {
                Ok(WireLocation(v.parse().ok()))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// A value written as its `Display` text, formatted in a buffer on the stack (on the
/// heap only if it is longer than that).
struct AsText<T>(T);

impl<T: fmt::Display> Serialize for AsText<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Stack {
            buf: [u8; 64],
            len: usize,
        }
        impl fmt::Write for Stack {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                let end = self.len + s.len();
                let room = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
                room.copy_from_slice(s.as_bytes());
                self.len = end;
                Ok(())
            }
        }
        let mut stack = Stack {
            buf: [0; 64],
            len: 0,
        };
        if fmt::write(&mut stack, format_args!("{}", self.0)).is_ok() {
            if let Ok(text) = std::str::from_utf8(stack.buf.get(..stack.len).unwrap_or_default()) {
                return serializer.serialize_str(text);
            }
        }
        serializer.serialize_str(&self.0.to_string())
    }
}

impl Serialize for ReplyTo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.repr {
            ReplyRepr::Local { slot, released } => {
                let (home, id) = slot
                    .export(slot)
                    .ok_or_else(|| serde::ser::Error::custom("the caller's runtime is gone"))?;
                released.store(true, std::sync::atomic::Ordering::Release);
                WireReplyToOut {
                    node: &home.node.name,
                    incarnation: home.node.incarnation,
                    id,
                    location: home.net.get().map(|n| AsText(n.location())),
                }
                .serialize(serializer)
            }
            ReplyRepr::Detached { node, id } => WireReplyToOut {
                node: &node.name,
                incarnation: node.incarnation,
                id: *id,
                location: None,
            }
            .serialize(serializer),
            ReplyRepr::Remote {
                node, location, id, ..
            } => WireReplyToOut {
                node: &node.name,
                incarnation: node.incarnation,
                id: *id,
                location: location.map(AsText),
            }
            .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ReplyTo {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireReplyTo::deserialize(deserializer)?;
        if let Some(shared) = context::current_shared() {
            if shared.node.incarnation == wire.incarnation {
                let slot = shared.replies.lock().get(&wire.id).cloned();
                if let Some(slot) = slot {
                    return Ok(ReplyTo {
                        repr: ReplyRepr::Local {
                            slot,
                            released: std::sync::atomic::AtomicBool::new(false),
                        },
                    });
                }
            }
        }
        let node = NodeId {
            name: wire.node.0,
            incarnation: wire.incarnation,
        };
        if let Some(shared) = context::current_shared().filter(|s| s.net.get().is_some()) {
            return Ok(ReplyTo {
                repr: ReplyRepr::Remote {
                    node,
                    location: wire.location.and_then(|l| l.0),
                    id: wire.id,
                    via: Arc::downgrade(&shared),
                },
            });
        }
        Ok(ReplyTo {
            repr: ReplyRepr::Detached { node, id: wire.id },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `WireReplyTo` as the derive wrote it before it was split into borrowed writing
    /// and direct reading.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(rename = "WireReplyTo")]
    struct Reference {
        node: String,
        incarnation: u64,
        id: u64,
        #[serde(default)]
        location: Option<String>,
    }

    fn cbor<T: Serialize>(v: &T) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(v, &mut out).unwrap();
        out
    }

    #[test]
    fn reply_to_travels_as_the_derive_wrote_it() {
        let locations = [
            None,
            Some("127.0.0.1:9705"),
            Some("[2001:db8:85a3:8d3:1319:8a2e:370:7348]:65535"),
        ];
        for location in locations {
            for (node, incarnation, id) in [
                ("a", 1u64, 0u64),
                ("node-with-a-longer-name", u64::MAX, 300),
            ] {
                let reference = Reference {
                    node: node.into(),
                    incarnation,
                    id,
                    location: location.map(String::from),
                };
                let parsed: Option<crate::net::Location> = location.map(|l| l.parse().unwrap());
                let ours = WireReplyToOut {
                    node,
                    incarnation,
                    id,
                    location: parsed.map(AsText),
                };
                assert_eq!(cbor(&ours), cbor(&reference), "{node} {location:?}");
                let back: WireReplyTo = ciborium::from_reader(&cbor(&reference)[..]).unwrap();
                assert_eq!(&*back.node.0, node);
                assert_eq!((back.incarnation, back.id), (incarnation, id));
                assert_eq!(back.location.and_then(|l| l.0), parsed);
            }
        }
        // A location that does not parse is none; a missing one too.
        let odd = Reference {
            node: "a".into(),
            incarnation: 1,
            id: 2,
            location: Some("not an address".into()),
        };
        let back: WireReplyTo = ciborium::from_reader(&cbor(&odd)[..]).unwrap();
        assert!(back.location.and_then(|l| l.0).is_none());
        // A node name that is not text is refused, as before.
        let bad = ciborium::Value::Map(vec![
            (
                ciborium::Value::Text("node".into()),
                ciborium::Value::Integer(3.into()),
            ),
            (
                ciborium::Value::Text("incarnation".into()),
                ciborium::Value::Integer(1.into()),
            ),
            (
                ciborium::Value::Text("id".into()),
                ciborium::Value::Integer(1.into()),
            ),
        ]);
        assert!(ciborium::from_reader::<WireReplyTo, _>(&cbor(&bad)[..]).is_err());
        // Text longer than the stack buffer is still written whole.
        let long = "x".repeat(200);
        assert_eq!(cbor(&AsText(&long)), cbor(&long));
    }
}
