//! Messages: the [`Message`] trait, the type-erased [`Envelope`] a task receives, and
//! request/reply with [`Request`] and [`ReplyTo`].
//!
//! Any type that is `Serialize + DeserializeOwned + Send + 'static` and implements
//! [`Message`] can be sent to any [`TaskRef`](crate::TaskRef), local or (once the runtime is
//! a node) remote: the bound is the same everywhere and never changes with cargo
//! features. `#[derive(Message)]` gives a type its stable wire name; integers, floats,
//! `bool`, `char`, `String`, `()`, tuples, `Vec`, `VecDeque`, `Option`, `Result`, `Box`,
//! `HashMap`, `BTreeMap`, `HashSet`, `BTreeSet`, `Duration` and [`TaskRef`](crate::TaskRef)
//! are messages already.
//!
//! Local delivery never serializes: the value is moved into the receiver's mailbox.
//! A message from another node arrives encoded and is decoded on the receiver's first
//! [`downcast`](Envelope::downcast), into the type the receiver asks for.
//!
//! Values that cannot be serialized (a socket, an `Arc`, a reply channel) can still be
//! passed between local tasks with [`TaskRef::send_local`](crate::TaskRef::send_local); the
//! receiver takes them out with [`Envelope::downcast_any`].

mod encoded;
mod envelope;
mod impls;
mod matcher;
mod request;

use std::borrow::Cow;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::error::ReplyError;
pub use envelope::Envelope;
pub use matcher::Match;
pub use request::{ReplyTo, Request};

pub(crate) use encoded::{Encoded, with_scratch};
pub(crate) use envelope::{DECODE_DEPTH_LIMIT, Run, RunSpan, current_span};
pub(crate) use request::{Reply, ReplySink, ReplySlot};

/// A value that can be sent to a task anywhere: in this program or on another node.
///
/// Implement it with `#[derive(Message)]` (re-exported from `rcos-macros`), which uses the
/// type's name as its wire name; `#[message(name = "...")]` overrides it. The wire name
/// is what a receiver on another node matches when it decodes the message, so two
/// programs that exchange a type must agree on its name (a shared crate, or the same
/// override in both).
///
/// ```
/// use rcos::Message;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Serialize, Deserialize, Message)]
/// struct Greeting {
///     text: String,
/// }
///
/// #[derive(Serialize, Deserialize, Message)]
/// #[message(name = "inventory.v2.Restock")]
/// struct Restock(u32);
///
/// assert_eq!(Greeting::wire_name(), "Greeting");
/// assert_eq!(Restock::wire_name(), "inventory.v2.Restock");
/// assert_eq!(<Vec<Option<u8>>>::wire_name(), "Vec<Option<u8>>");
/// ```
pub trait Message: Serialize + DeserializeOwned + Send + 'static {
    /// The stable name this type travels under between nodes.
    fn wire_name() -> Cow<'static, str>;
}

/// The wire name of a generic message type `T`, made by `make` the first time it is
/// asked for and kept for the rest of the program: one string per type (a bounded
/// number, so it is leaked), found afterwards through a per-thread table without
/// allocating or locking.
pub(crate) fn cached_name<T: 'static>(make: impl FnOnce() -> String) -> Cow<'static, str> {
    use std::any::TypeId;
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::sync::OnceLock;

    type Names = HashMap<TypeId, &'static str>;
    static ALL: OnceLock<crate::util::Mutex<Names>> = OnceLock::new();
    thread_local! {
        static HERE: RefCell<Names> = RefCell::new(HashMap::new());
    }
    let id = TypeId::of::<T>();
    let here = HERE
        .try_with(|here| here.try_borrow().ok().and_then(|h| h.get(&id).copied()))
        .ok()
        .flatten();
    if let Some(name) = here {
        return Cow::Borrowed(name);
    }
    let all = ALL.get_or_init(|| crate::util::Mutex::new(HashMap::new()));
    let known = all.lock().get(&id).copied();
    let name = match known {
        Some(name) => name,
        None => {
            // Made outside the lock: `make` asks for the names of the type's parameters,
            // which may come here too.
            let made = make();
            *all.lock()
                .entry(id)
                .or_insert_with(|| Box::leak(made.into_boxed_str()))
        }
    };
    let _ = HERE.try_with(|here| {
        if let Ok(mut here) = here.try_borrow_mut() {
            here.insert(id, name);
        }
    });
    Cow::Borrowed(name)
}

/// Encodes a message into its CBOR form (the wire form used between nodes).
pub(crate) fn encode<M: Message>(msg: &M) -> Result<Vec<u8>, ciborium::ser::Error<std::io::Error>> {
    let mut out = Vec::new();
    ciborium::into_writer(msg, &mut out)?;
    Ok(out)
}

/// The wire form of a message: its wire name and CBOR encoding, encoded in this
/// thread's scratch buffer and kept inline when small (no allocation).
pub(crate) fn encode_wire<M: Message>(
    msg: &M,
) -> Result<Encoded, ciborium::ser::Error<std::io::Error>> {
    with_scratch(|buf| {
        ciborium::into_writer(msg, &mut *buf)?;
        Ok(Encoded::new(&M::wire_name(), buf))
    })
}

/// Decodes a message from its CBOR form, with the nesting depth bounded.
///
/// ciborium's decoders with a depth limit zero a 4 KiB scratch buffer on the stack for
/// every call, which for a small message costs far more than decoding it. A message of
/// at most [`SMALL_DECODE`] bytes is decoded with a scratch buffer of its own size
/// instead (no string in it can be longer than the message, so the decoder behaves the
/// same), once its nesting is known to be within the limit: a message no longer than
/// the limit cannot nest deeper (each level takes a byte), a longer one is walked over
/// its heads first.
pub(crate) fn decode<M: Message>(bytes: &[u8]) -> Result<M, ciborium::de::Error<std::io::Error>> {
    let mut scratch = [0u8; SMALL_DECODE];
    if let Some(scratch) = scratch.get_mut(..bytes.len()) {
        if bytes.len() <= DECODE_DEPTH_LIMIT
            || crate::net::frame::fast::item_end(bytes, DECODE_DEPTH_LIMIT).is_some()
        {
            return ciborium::de::from_reader_with_buffer(bytes, scratch);
        }
    }
    ciborium::de::from_reader_with_recursion_limit(bytes, DECODE_DEPTH_LIMIT)
}

/// The largest message [`decode`] decodes with a scratch buffer of its own size.
const SMALL_DECODE: usize = 256;
