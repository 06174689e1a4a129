//! The type-erased message a task receives.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;

use super::Message;

mod run;

pub(crate) use run::{Run, Span as RunSpan};

/// How deep CBOR nesting may go when a message from another node is decoded.
///
/// Deep enough for any sensible message, shallow enough that decoding never runs a
/// worker thread's stack out (ciborium needs about 3 KiB of stack per level in a debug
/// build).
pub(crate) const DECODE_DEPTH_LIMIT: usize = 64;

pub(crate) use super::Encoded;

/// What travels with every message besides its value.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// The `tracing` span that was current where the message was sent, if any (boxed:
    /// most messages have none, and a span is 40 bytes).
    pub(crate) span: Option<Box<tracing::Span>>,
    /// Runtime signals (monitor statuses and the like) do not count against a bounded
    /// mailbox's capacity and are never dropped by its overflow policy.
    pub(crate) system: bool,
}

impl Header {
    #[inline]
    fn here() -> Header {
        Header {
            span: current_span(),
            system: false,
        }
    }
}

/// The current span, if `tracing` could have one: with no subscriber installed (the
/// maximum level is `OFF`) this costs one atomic load instead of a dispatcher lookup.
#[inline]
pub(crate) fn current_span() -> Option<Box<tracing::Span>> {
    if tracing::level_filters::LevelFilter::current() == tracing::level_filters::LevelFilter::OFF {
        return None;
    }
    let span = tracing::Span::current();
    (!span.is_none()).then(|| Box::new(span))
}

static NO_SPAN: std::sync::LazyLock<tracing::Span> = std::sync::LazyLock::new(tracing::Span::none);

/// The boxed value inside an [`Envelope`]; one allocation per message.
trait Payload: Send + 'static {
    fn header(&self) -> &Header;
    fn header_mut(&mut self) -> &mut Header;
    fn value_type_id(&self) -> TypeId;
    fn type_name(&self) -> &str;
    fn value_ref(&self) -> &dyn Any;
    /// Moves the value into `out`, which must be an `&mut Option<T>` of the value's type;
    /// hands the payload back if it is not.
    fn take_into(self: Box<Self>, out: &mut dyn Any) -> Result<(), Box<dyn Payload>>;
    fn encoded(&self) -> Option<&Encoded> {
        None
    }
    fn encode(&self) -> Option<Result<Encoded, String>> {
        None
    }
    fn try_clone(&self) -> Option<Box<dyn Payload>> {
        None
    }
    /// A [`Run`] holding the message, if it is an ordinary message (not a runtime
    /// signal, nor a shared, local-only or encoded value); the payload back otherwise.
    fn into_run(self: Box<Self>) -> Result<Box<dyn run::RunQueue>, Box<dyn Payload>>;
}

/// A payload shared by reference count between several envelopes.
trait SharedPayload: Send + Sync + 'static {
    fn as_payload(&self) -> &dyn Payload;
    /// Moves the value (or, if other envelopes still share it, a copy of it) into `out`,
    /// which must be an `&mut Option<T>` of the value's type.
    fn take_shared(self: Arc<Self>, out: &mut dyn Any) -> Result<(), Arc<dyn SharedPayload>>;
}

/// A message that can also be encoded for another node.
struct MessageBox<M> {
    header: Header,
    value: M,
}

/// A message shared by several receivers (a channel's fan-out): one allocation for all
/// of them; each receiver moves it out if it holds the last reference, and copies it
/// otherwise.
struct SharedBox<M> {
    header: Header,
    value: M,
}

/// A value that can only be passed between tasks of one program.
struct LocalBox<T> {
    header: Header,
    value: T,
}

/// An encoded message from another node.
struct EncodedBox {
    header: Header,
    value: Encoded,
}

macro_rules! payload_common {
    () => {
        #[inline]
        fn header(&self) -> &Header {
            &self.header
        }
        #[inline]
        fn header_mut(&mut self) -> &mut Header {
            &mut self.header
        }
    };
}

fn take_value<T: Any>(value: T, out: &mut dyn Any) -> Result<(), T> {
    match out.downcast_mut::<Option<T>>() {
        Some(slot) => {
            *slot = Some(value);
            Ok(())
        }
        None => Err(value),
    }
}

impl<M: Message> Payload for MessageBox<M> {
    payload_common!();
    #[inline]
    fn value_type_id(&self) -> TypeId {
        TypeId::of::<M>()
    }
    fn type_name(&self) -> &str {
        std::any::type_name::<M>()
    }
    fn value_ref(&self) -> &dyn Any {
        &self.value
    }
    #[inline]
    fn take_into(self: Box<Self>, out: &mut dyn Any) -> Result<(), Box<dyn Payload>> {
        let MessageBox { header, value } = *self;
        take_value(value, out)
            .map_err(|value| Box::new(MessageBox { header, value }) as Box<dyn Payload>)
    }
    fn encode(&self) -> Option<Result<Encoded, String>> {
        Some(super::encode_wire(&self.value).map_err(|e| e.to_string()))
    }
    #[inline]
    fn into_run(self: Box<Self>) -> Result<Box<dyn run::RunQueue>, Box<dyn Payload>> {
        if self.header.system {
            return Err(self);
        }
        let MessageBox { header, value } = *self;
        Ok(run::queue_of(value, header.span))
    }
}

impl<M: Message + Clone + Sync> Payload for SharedBox<M> {
    payload_common!();
    #[inline]
    fn value_type_id(&self) -> TypeId {
        TypeId::of::<M>()
    }
    fn type_name(&self) -> &str {
        std::any::type_name::<M>()
    }
    fn value_ref(&self) -> &dyn Any {
        &self.value
    }
    fn take_into(self: Box<Self>, out: &mut dyn Any) -> Result<(), Box<dyn Payload>> {
        let SharedBox { header, value } = *self;
        take_value(value, out)
            .map_err(|value| Box::new(SharedBox { header, value }) as Box<dyn Payload>)
    }
    fn encode(&self) -> Option<Result<Encoded, String>> {
        Some(super::encode_wire(&self.value).map_err(|e| e.to_string()))
    }
    fn into_run(self: Box<Self>) -> Result<Box<dyn run::RunQueue>, Box<dyn Payload>> {
        Err(self)
    }
}

impl<M: Message + Clone + Sync> SharedPayload for SharedBox<M> {
    fn as_payload(&self) -> &dyn Payload {
        self
    }
    fn take_shared(self: Arc<Self>, out: &mut dyn Any) -> Result<(), Arc<dyn SharedPayload>> {
        if !out.is::<Option<M>>() {
            return Err(self);
        }
        let value = match Arc::try_unwrap(self) {
            Ok(unique) => unique.value,
            Err(shared) => shared.value.clone(),
        };
        take_value(value, out).map_err(|_| unreachable!("the slot's type was checked"))
    }
}

impl<T: Send + 'static> Payload for LocalBox<T> {
    payload_common!();
    #[inline]
    fn value_type_id(&self) -> TypeId {
        TypeId::of::<T>()
    }
    fn type_name(&self) -> &str {
        std::any::type_name::<T>()
    }
    fn value_ref(&self) -> &dyn Any {
        &self.value
    }
    #[inline]
    fn take_into(self: Box<Self>, out: &mut dyn Any) -> Result<(), Box<dyn Payload>> {
        let LocalBox { header, value } = *self;
        take_value(value, out)
            .map_err(|value| Box::new(LocalBox { header, value }) as Box<dyn Payload>)
    }
    fn into_run(self: Box<Self>) -> Result<Box<dyn run::RunQueue>, Box<dyn Payload>> {
        Err(self)
    }
}

impl Payload for EncodedBox {
    payload_common!();
    fn value_type_id(&self) -> TypeId {
        TypeId::of::<Encoded>()
    }
    fn type_name(&self) -> &str {
        self.value.name()
    }
    fn value_ref(&self) -> &dyn Any {
        // An encoded message has no Rust value until it is decoded; `&()` makes every
        // local-only downcast miss, which is the right answer.
        &()
    }
    fn take_into(self: Box<Self>, _out: &mut dyn Any) -> Result<(), Box<dyn Payload>> {
        Err(self)
    }
    fn encoded(&self) -> Option<&Encoded> {
        Some(&self.value)
    }
    fn encode(&self) -> Option<Result<Encoded, String>> {
        Some(Ok(self.value.clone()))
    }
    fn try_clone(&self) -> Option<Box<dyn Payload>> {
        Some(Box::new(EncodedBox {
            header: self.header.clone(),
            value: self.value.clone(),
        }))
    }
    fn into_run(self: Box<Self>) -> Result<Box<dyn run::RunQueue>, Box<dyn Payload>> {
        Err(self)
    }
}

/// A received message whose type is known only at run time.
///
/// A task's mailbox holds envelopes in arrival order; [`TaskRef::receive`](crate::TaskRef::receive)
/// hands out the next one. Ask it for a type with [`downcast`](Self::downcast) (which hands
/// the envelope back when the type is wrong, so nothing is lost), test it with
/// [`is`](Self::is), or dispatch on several types with [`matcher`](Self::matcher).
///
/// ```
/// use rcos::Envelope;
///
/// let env = Envelope::new(42u64);
/// assert!(env.is::<u64>());
/// let env = env.downcast::<String>().unwrap_err(); // wrong type: handed back
/// assert_eq!(env.downcast::<u64>().unwrap(), 42);
/// ```
pub struct Envelope {
    inner: Inner,
}

enum Inner {
    Boxed(Box<dyn Payload>),
    Shared(Arc<dyn SharedPayload>),
}

impl Inner {
    #[inline]
    fn get(&self) -> &dyn Payload {
        match self {
            Inner::Boxed(boxed) => &**boxed,
            Inner::Shared(shared) => shared.as_payload(),
        }
    }
}

impl Envelope {
    /// Wraps a message, recording the current `tracing` span as its origin.
    ///
    /// Useful for alarm values and for tests; sending a message wraps it for you.
    #[inline]
    pub fn new<M: Message>(msg: M) -> Envelope {
        Envelope {
            inner: Inner::Boxed(Box::new(MessageBox {
                header: Header::here(),
                value: msg,
            })),
        }
    }

    /// Wraps a message that can be shared by several receivers: copies of the envelope
    /// ([`try_clone`](Self::try_clone)) share one allocation, and each receiver moves the
    /// message out if it is the last to hold it, or copies it. This is how a
    /// [`Channel`](crate::channel::Channel) fans a message out.
    pub fn new_shared<M: Message + Clone + Sync>(msg: M) -> Envelope {
        Envelope {
            inner: Inner::Shared(Arc::new(SharedBox {
                header: Header::here(),
                value: msg,
            })),
        }
    }

    /// A copy of the envelope, if its message can be copied: made with
    /// [`new_shared`](Self::new_shared) (as channel messages are), or arrived from
    /// another node.
    pub fn try_clone(&self) -> Option<Envelope> {
        match &self.inner {
            Inner::Boxed(boxed) => boxed.try_clone().map(|inner| Envelope {
                inner: Inner::Boxed(inner),
            }),
            Inner::Shared(shared) => Some(Envelope {
                inner: Inner::Shared(shared.clone()),
            }),
        }
    }

    /// Wraps a value that can only travel between tasks of this program (see
    /// [`TaskRef::send_local`](crate::TaskRef::send_local)).
    #[inline]
    pub fn new_local<T: Send + 'static>(value: T) -> Envelope {
        Envelope {
            inner: Inner::Boxed(Box::new(LocalBox {
                header: Header::here(),
                value,
            })),
        }
    }

    /// Wraps a runtime signal: it bypasses a bounded mailbox's capacity.
    pub(crate) fn system<M: Message>(msg: M) -> Envelope {
        Envelope {
            inner: Inner::Boxed(Box::new(MessageBox {
                header: Header {
                    span: current_span(),
                    system: true,
                },
                value: msg,
            })),
        }
    }

    /// Wraps a message that arrived encoded from another node.
    #[allow(dead_code)] // the network layer is its only user
    pub(crate) fn from_encoded(encoded: Encoded, span: tracing::Span) -> Envelope {
        Envelope {
            inner: Inner::Boxed(Box::new(EncodedBox {
                header: Header {
                    span: (!span.is_none()).then(|| Box::new(span)),
                    system: false,
                },
                value: encoded,
            })),
        }
    }

    /// Whether this is a runtime signal that bypasses mailbox capacity.
    #[inline]
    pub(crate) fn is_system(&self) -> bool {
        self.inner.get().header().system
    }

    /// Whether the message is an `M`.
    ///
    /// For a message from another node this compares wire names without decoding.
    pub fn is<M: Message>(&self) -> bool {
        if self.inner.get().value_type_id() == TypeId::of::<M>() {
            return true;
        }
        match self.inner.get().encoded() {
            Some(enc) => enc.name() == M::wire_name(),
            None => false,
        }
    }

    /// Takes the message out as an `M`, or hands the envelope back if it is something else.
    ///
    /// A message from another node is decoded here; if its bytes do not decode as an
    /// `M`, the failure is logged and the envelope handed back.
    pub fn downcast<M: Message>(self) -> Result<M, Envelope> {
        if self.inner.get().value_type_id() == TypeId::of::<M>() {
            return self.take::<M>();
        }
        match self.inner.get().encoded() {
            Some(enc) if enc.name() == M::wire_name() => match super::decode::<M>(enc.bytes()) {
                Ok(value) => Ok(value),
                Err(error) => {
                    tracing::warn!(
                        message_type = %enc.name(),
                        %error,
                        "a message from another node did not decode as its named type"
                    );
                    Err(self)
                }
            },
            _ => Err(self),
        }
    }

    /// Offers the message to `pred` as an `M` (decoding it if it came from another
    /// node) and reports whether `pred` accepted it. A message from another node that
    /// is accepted is moved into `taken` as it is decoded, so the caller can drop the
    /// envelope and keep the value without the envelope being boxed again; one that is
    /// refused is kept decoded in the envelope (as [`peek`](Self::peek) does), so it is
    /// not decoded again. A local `M` stays in the envelope (`taken` is left empty):
    /// take it out with [`downcast`](Self::downcast).
    pub(crate) fn select<M: Message>(
        &mut self,
        pred: &mut impl FnMut(&M) -> bool,
        taken: &mut Option<M>,
    ) -> bool {
        if self.inner.get().value_type_id() != TypeId::of::<M>() {
            let decoded = match self.inner.get().encoded() {
                Some(enc) if enc.name() == M::wire_name() => super::decode::<M>(enc.bytes()).ok(),
                _ => None,
            };
            let Some(value) = decoded else {
                return false;
            };
            if pred(&value) {
                *taken = Some(value);
                return true;
            }
            // Refused: keep it decoded for the next look.
            if let Inner::Boxed(boxed) = &mut self.inner {
                let header = std::mem::replace(
                    boxed.header_mut(),
                    Header {
                        span: None,
                        system: false,
                    },
                );
                *boxed = Box::new(MessageBox { header, value });
            }
            return false;
        }
        self.inner
            .get()
            .value_ref()
            .downcast_ref::<M>()
            .is_some_and(pred)
    }

    /// Takes out a value of any type, including one sent with
    /// [`send_local`](crate::TaskRef::send_local); hands the envelope back on a wrong type.
    ///
    /// Unlike [`downcast`](Self::downcast) this never decodes a message from another node.
    pub fn downcast_any<T: Send + 'static>(self) -> Result<T, Envelope> {
        if self.inner.get().value_type_id() == TypeId::of::<T>() {
            self.take::<T>()
        } else {
            Err(self)
        }
    }

    /// Whether the value is a `T` (local values only; see [`is`](Self::is) for messages).
    pub fn is_any<T: 'static>(&self) -> bool {
        self.inner.get().value_type_id() == TypeId::of::<T>()
    }

    /// A reference to the value if it is a local `T`; `None` for a wrong type or a
    /// message from another node that has not been decoded (see [`peek`](Self::peek)).
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        self.inner.get().value_ref().downcast_ref::<T>()
    }

    /// A reference to the message if it is an `M`, decoding it in place first if it came
    /// from another node.
    pub fn peek<M: Message>(&mut self) -> Option<&M> {
        if self.inner.get().value_type_id() != TypeId::of::<M>() {
            let Inner::Boxed(boxed) = &mut self.inner else {
                return None;
            };
            let decoded = match boxed.encoded() {
                Some(enc) if enc.name() == M::wire_name() => {
                    super::decode::<M>(enc.bytes()).ok()?
                }
                _ => return None,
            };
            let header = std::mem::replace(
                boxed.header_mut(),
                Header {
                    span: None,
                    system: false,
                },
            );
            *boxed = Box::new(MessageBox {
                header,
                value: decoded,
            });
        }
        self.inner.get().value_ref().downcast_ref::<M>()
    }

    /// The name of the value's type: the Rust type name for a local value, the wire name
    /// for a message from another node that has not been decoded yet.
    pub fn type_name(&self) -> &str {
        self.inner.get().type_name()
    }

    /// The `tracing` span that was current where the message was sent.
    ///
    /// Enter it (or make a child of it) while handling the message, and the messages
    /// the handler sends carry it on, so one request can be followed through many tasks:
    ///
    /// ```
    /// # let env = rcos::Envelope::new(1u8);
    /// let _guard = env.span().clone().entered();
    /// // ... handle the message; sends from here carry the same span ...
    /// ```
    pub fn span(&self) -> &tracing::Span {
        self.inner
            .get()
            .header()
            .span
            .as_deref()
            .unwrap_or(&NO_SPAN)
    }

    /// Starts dispatching on the message's type; see [`Match`](super::Match).
    pub fn matcher<R>(self) -> super::Match<R> {
        super::Match::new(self)
    }

    /// The message in its wire form, if it has one (local-only values do not).
    #[allow(dead_code)] // the network layer is its only user
    pub(crate) fn encode(&self) -> Option<Result<Encoded, String>> {
        self.inner.get().encode()
    }

    fn take<T: Send + 'static>(self) -> Result<T, Envelope> {
        let mut out: Option<T> = None;
        let back = match self.inner {
            Inner::Boxed(boxed) => boxed.take_into(&mut out).map_err(Inner::Boxed),
            Inner::Shared(shared) => shared.take_shared(&mut out).map_err(Inner::Shared),
        };
        match (back, out) {
            (Ok(()), Some(value)) => Ok(value),
            (Err(inner), _) => Err(Envelope { inner }),
            // take_into/take_shared fill `out` whenever they return Ok.
            (Ok(()), None) => Err(Envelope::new_local("rcos: message lost in downcast")),
        }
    }
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("type", &self.type_name())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downcast_right_and_wrong_type() {
        let env = Envelope::new(String::from("hi"));
        assert!(env.is::<String>());
        assert!(!env.is::<u32>());
        let env = env.downcast::<u32>().unwrap_err();
        assert_eq!(env.type_name(), "alloc::string::String");
        assert_eq!(env.downcast::<String>().unwrap(), "hi");
    }

    #[test]
    fn local_values_only_downcast_as_any() {
        let env = Envelope::new_local(std::rc::Rc::new(5).to_string() + "x");
        assert_eq!(env.downcast_ref::<String>().map(String::as_str), Some("5x"));
        let shared = std::sync::Arc::new(3u8);
        let env = Envelope::new_local(shared.clone());
        assert!(env.is_any::<std::sync::Arc<u8>>());
        assert_eq!(*env.downcast_any::<std::sync::Arc<u8>>().unwrap(), 3);
    }

    #[test]
    fn encoded_messages_decode_on_downcast() {
        let bytes = crate::message::encode(&vec![1u16, 2, 3]).unwrap();
        let mut env =
            Envelope::from_encoded(Encoded::new("Vec<u16>", &bytes), tracing::Span::none());
        assert!(env.is::<Vec<u16>>());
        assert!(!env.is::<Vec<u32>>());
        assert_eq!(env.type_name(), "Vec<u16>");
        assert_eq!(env.downcast_ref::<Vec<u16>>(), None);
        assert_eq!(env.peek::<Vec<u16>>(), Some(&vec![1, 2, 3]));
        assert_eq!(env.downcast::<Vec<u16>>().unwrap(), vec![1, 2, 3]);

        let env = Envelope::from_encoded(Encoded::new("Vec<u16>", &bytes), tracing::Span::none());
        let env = env.downcast::<String>().unwrap_err();
        assert_eq!(env.downcast::<Vec<u16>>().unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn malformed_encoded_message_is_handed_back() {
        let env = Envelope::from_encoded(
            Encoded::new("u64", &[0xff, 0x00, 0x13]),
            tracing::Span::none(),
        );
        let env = env.downcast::<u64>().unwrap_err();
        assert_eq!(env.type_name(), "u64");
        // Deep nesting is refused rather than overflowing the stack.
        let deep = vec![0x81u8; 100_000];
        let env = Envelope::from_encoded(Encoded::new("Vec<u8>", &deep), tracing::Span::none());
        assert!(env.downcast::<Vec<u8>>().is_err());
    }

    #[test]
    fn encode_round_trip() {
        let env = Envelope::new((7u8, String::from("x")));
        let enc = env.encode().unwrap().unwrap();
        assert_eq!(enc.name(), "(u8, String)");
        let back = Envelope::from_encoded(enc, tracing::Span::none());
        assert_eq!(
            back.downcast::<(u8, String)>().unwrap(),
            (7, "x".to_string())
        );
        assert!(Envelope::new_local(1u8).encode().is_none());
    }
}
