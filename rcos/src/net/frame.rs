//! The frames of the wire protocol after authentication.
//!
//! Every field has a fixed type; a message's payload is an opaque byte string named by
//! its wire name, decoded only when the receiving task downcasts it to that type.

use serde::{Deserialize, Serialize};

use crate::TaskRef;
use crate::channel::{Channel, Subscriber};
use crate::message::{Encoded, Envelope, Message};
use crate::task::Exit;

/// A message in transit: its wire name, its CBOR encoding and, when the sender was
/// inside a `tracing` span, that span's identity.
///
/// On the wire a map `{"name": text, "bytes": bytes, "span"?: WireSpan}`; serialized by
/// hand (byte for byte what `#[derive(Serialize)]` wrote, which tests check) so that
/// name and encoding stay in one [`Encoded`], inline when small.
#[derive(Debug)]
pub(crate) struct WireMsg {
    pub(crate) encoded: Encoded,
    /// Absent when the sender had no span (and from nodes that do not send it).
    pub(crate) span: Option<WireSpan>,
}

impl Serialize for WireMsg {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st =
            serializer.serialize_struct("WireMsg", 2 + usize::from(self.span.is_some()))?;
        st.serialize_field("name", self.encoded.name())?;
        st.serialize_field("bytes", serde_bytes::Bytes::new(self.encoded.bytes()))?;
        if let Some(span) = &self.span {
            st.serialize_field("span", span)?;
        }
        st.end()
    }
}

impl<'de> Deserialize<'de> for WireMsg {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // What the derive read (maps and sequences alike), then one copy into an
        // `Encoded`: the hot frames take the fast path and never come here.
        #[derive(Deserialize)]
        #[serde(rename = "WireMsg")]
        struct Wire {
            name: String,
            #[serde(with = "serde_bytes")]
            bytes: Vec<u8>,
            #[serde(default)]
            span: Option<WireSpan>,
        }
        let wire = Wire::deserialize(deserializer)?;
        Ok(WireMsg {
            encoded: Encoded::new(&wire.name, &wire.bytes),
            span: wire.span,
        })
    }
}

/// The sender's span, as the receiving node records it: the span it opens for the
/// message names the sender's node, span and span id, so that logs of both nodes can
/// be joined.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct WireSpan {
    /// The span's name at the sender (for a message that already crossed nodes, the
    /// name of the span it started in).
    pub(crate) name: String,
    /// The span's id at the sender's subscriber.
    pub(crate) id: u64,
    /// The node the span was opened on.
    pub(crate) node: String,
}

impl WireSpan {
    /// The wire form of `span`, if a subscriber records it.
    fn of(span: &tracing::Span) -> Option<WireSpan> {
        let id = span.id()?;
        let name = span.metadata()?.name();
        if name == REMOTE_SPAN {
            // Crossing again: pass the origin on rather than the local stand-in.
            let origin = remote_origins().lock().get(&id.into_u64()).cloned();
            if let Some(origin) = origin {
                return Some(origin);
            }
        }
        let node = crate::runtime::context::current_shared()
            .map(|shared| shared.node.name.to_string())
            .unwrap_or_default();
        Some(WireSpan {
            name: name.to_string(),
            id: id.into_u64(),
            node,
        })
    }

    /// The span the receiving node opens for a message from the sender's span.
    fn open(&self) -> tracing::Span {
        let span = tracing::info_span!(
            "rcos.remote",
            remote.node = %self.node,
            remote.span = %self.name,
            remote.span_id = self.id,
        );
        if let Some(id) = span.id() {
            let mut origins = remote_origins().lock();
            if origins.len() >= 1024 {
                origins.clear();
            }
            origins.insert(id.into_u64(), self.clone());
        }
        span
    }
}

/// The name of the span a node opens for a message from another node.
const REMOTE_SPAN: &str = "rcos.remote";

/// The origins of recent `rcos.remote` spans (by span id), so that a message sent on
/// from inside one names the first sender's span, not the stand-in. Bounded: cleared
/// when it grows past 1,024 entries.
fn remote_origins() -> &'static crate::util::Mutex<std::collections::HashMap<u64, WireSpan>> {
    static ORIGINS: std::sync::OnceLock<
        crate::util::Mutex<std::collections::HashMap<u64, WireSpan>>,
    > = std::sync::OnceLock::new();
    ORIGINS.get_or_init(|| crate::util::Mutex::new(std::collections::HashMap::new()))
}

impl WireMsg {
    pub(crate) fn of<M: Message>(msg: &M) -> Result<WireMsg, String> {
        Ok(WireMsg {
            encoded: crate::message::encode_wire(msg).map_err(|e| e.to_string())?,
            span: current_wire_span(),
        })
    }

    /// The wire form of an envelope, if it has one (local-only values do not).
    pub(crate) fn of_envelope(env: &Envelope) -> Result<WireMsg, String> {
        match env.encode() {
            Some(Ok(encoded)) => Ok(WireMsg {
                encoded,
                span: WireSpan::of(env.span()),
            }),
            Some(Err(e)) => Err(e),
            None => Err(format!(
                "a local-only {} cannot be sent to another node",
                env.type_name()
            )),
        }
    }

    /// The message's wire name.
    pub(crate) fn name(&self) -> &str {
        self.encoded.name()
    }

    /// The message's CBOR encoding.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.encoded.bytes()
    }

    pub(crate) fn into_envelope(self) -> Envelope {
        let span = self
            .span
            .as_ref()
            .map_or_else(tracing::Span::none, WireSpan::open);
        Envelope::from_encoded(self.encoded, span)
    }
}

/// The current span's wire form, if `tracing` has one (cheap when no subscriber is
/// installed).
fn current_wire_span() -> Option<WireSpan> {
    if !tracing::dispatcher::has_been_set() {
        return None;
    }
    WireSpan::of(&tracing::Span::current())
}

/// What a request's answer says.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Answer {
    /// Done (a delivery, a subscription, a hot swap).
    Done,
    /// A number (tasks reached by a channel delivery).
    Count(u64),
    Task(TaskRef),
    Channel(Channel),
    Exit(Exit),
    NotFound,
    /// The operation failed for this reason.
    Failed(String),
    /// A send was refused (the task ended, or its mailbox was full): the kind.
    SendFailed(u8),
    /// A hot swap failed: the error.
    SwapFailed(u8),
}

/// One frame.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Frame {
    Ping(u64),
    Pong(u64),
    /// A message for task `to`.
    Send {
        to: u64,
        msg: WireMsg,
    },
    /// A message for task `to`, answered once it is in the mailbox.
    Deliver {
        req: u64,
        to: u64,
        msg: WireMsg,
    },
    /// The reply to a `call`, for the reply slot `id` of the receiving node.
    Reply {
        id: u64,
        msg: WireMsg,
    },
    /// Makes `monitor` (a task of the sender) a monitor of task `target`.
    Monitor {
        target: u64,
        monitor: TaskRef,
    },
    Unmonitor {
        target: u64,
        monitor: TaskRef,
    },
    Terminate {
        target: u64,
    },
    Throw {
        target: u64,
        message: String,
    },
    HotSwap {
        req: u64,
        target: u64,
        function: String,
        #[serde(with = "serde_bytes")]
        args: Vec<u8>,
        timeout_ms: u64,
    },
    Finish {
        req: u64,
        target: u64,
    },
    /// Finds a task (or, with `channel`, a channel) registered under `name`.
    Locate {
        req: u64,
        name: String,
        channel: bool,
    },
    Spawn {
        req: u64,
        function: String,
        #[serde(with = "serde_bytes")]
        args: Vec<u8>,
    },
    ChannelSend {
        channel: String,
        msg: WireMsg,
    },
    ChannelDeliver {
        req: u64,
        channel: String,
        msg: WireMsg,
        n: u64,
        timeout_ms: u64,
    },
    Subscribe {
        req: u64,
        channel: String,
        subscriber: Subscriber,
    },
    Unsubscribe {
        req: u64,
        channel: String,
        subscriber: Subscriber,
    },
    /// Announces a file to be sent to `path` (relative to the destination folder);
    /// answered with `Done` when an identical file is already there, `Count(transfer)`
    /// to go on, or `Failed`.
    FileBegin {
        req: u64,
        path: String,
        size: u64,
        #[serde(with = "serde_bytes")]
        sha256: Vec<u8>,
        overwrite: bool,
    },
    /// The bytes of a transfer at `offset` (chunks come in order).
    FileChunk {
        req: u64,
        transfer: u64,
        offset: u64,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
    },
    /// The end of a transfer: the receiver checks size and hash and puts it in place.
    FileEnd {
        req: u64,
        transfer: u64,
    },
    /// Deletes the file at `path` (relative to the destination folder).
    FileDelete {
        req: u64,
        path: String,
    },
    /// The answer to request `req`.
    Answer {
        req: u64,
        answer: Answer,
    },
    /// The sender is closing the connection on purpose.
    Goodbye,
}

impl Frame {
    /// The message this frame carries, if it carries one.
    pub(crate) fn message(&self) -> Option<&WireMsg> {
        match self {
            Frame::Send { msg, .. }
            | Frame::Deliver { msg, .. }
            | Frame::Reply { msg, .. }
            | Frame::ChannelSend { msg, .. }
            | Frame::ChannelDeliver { msg, .. } => Some(msg),
            _ => None,
        }
    }

    /// The request id of a frame that carries a message and expects an answer.
    pub(crate) fn message_request(&self) -> Option<u64> {
        match self {
            Frame::Deliver { req, .. } | Frame::ChannelDeliver { req, .. } => Some(*req),
            _ => None,
        }
    }
}

impl Serialize for Subscriber {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        enum Wire<'a> {
            Task(&'a TaskRef),
            Channel(&'a Channel),
        }
        match self {
            Subscriber::Task(t) => Wire::Task(t).serialize(serializer),
            Subscriber::Channel(c) => Wire::Channel(c).serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Subscriber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        enum Wire {
            Task(TaskRef),
            Channel(Channel),
        }
        Ok(match Wire::deserialize(deserializer)? {
            Wire::Task(t) => Subscriber::Task(t),
            Wire::Channel(c) => Subscriber::Channel(c),
        })
    }
}

/// Decodes the frames of a record body, in order: `Send` frames by the fast path when
/// they have its shape, everything else (and anything odd) by the generic decoder.
pub(crate) fn decode_frames(
    mut body: &[u8],
    depth: usize,
) -> impl Iterator<Item = Result<Frame, crate::net::WireError>> + '_ {
    std::iter::from_fn(move || {
        if body.is_empty() {
            return None;
        }
        #[cfg(feature = "fuzzing")]
        crate::net::__fuzz::note_frame_decoded();
        if let Some((frame, used)) = fast::decode_send(body) {
            body = &body[used..];
            return Some(Ok(frame));
        }
        // One item by the generic decoder; after a bad one, the rest of the record is
        // unreliable and is dropped. The item's extent and depth are checked first, over
        // its heads alone: the decoder then never walks anything malformed or nested
        // (tags included, which frames never use) deeper than the limit.
        let Some(end) = fast::item_end(body, depth.min(crate::message::DECODE_DEPTH_LIMIT)) else {
            body = &[];
            return Some(Err(crate::net::WireError::Decode(format!(
                "a frame that is malformed or nested deeper than {depth}"
            ))));
        };
        let mut item = &body[..end];
        body = &body[end..];
        let frame = match crate::net::codec::decode_one::<Frame>(&mut item, depth) {
            Ok(_) if !item.is_empty() => Err(crate::net::WireError::Decode(
                "a frame that ends before its CBOR item does".into(),
            )),
            frame => frame,
        };
        if frame.is_err() {
            body = &[];
        }
        Some(frame)
    })
}

/// A fast path for the hottest frame, `Send` without a span: written and read by hand,
/// byte for byte as the generic CBOR encoding of [`Frame::Send`] (tests check that), so
/// the protocol is the same; anything else goes through the generic decoder.
pub(crate) mod fast {
    use super::{Frame, WireMsg};

    /// Writes a CBOR head: major type `major` with argument `n`, shortest form.
    fn head(out: &mut Vec<u8>, major: u8, n: u64) {
        let m = major << 5;
        if n < 24 {
            out.push(m | n as u8);
        } else if n <= u64::from(u8::MAX) {
            out.extend_from_slice(&[m | 24, n as u8]);
        } else if n <= u64::from(u16::MAX) {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= u64::from(u32::MAX) {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(m | 27);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }

    fn text(out: &mut Vec<u8>, s: &str) {
        head(out, 3, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }

    /// Encodes `Send { to, msg }` for a message without a span; false if it has one
    /// (the caller then uses the generic encoder).
    pub(crate) fn encode_send(to: u64, msg: &WireMsg, out: &mut Vec<u8>) -> bool {
        encode_carrier("Send", "to", to, msg, out)
    }

    /// Encodes `Reply { id, msg }` for a message without a span; false if it has one.
    pub(crate) fn encode_reply(id: u64, msg: &WireMsg, out: &mut Vec<u8>) -> bool {
        encode_carrier("Reply", "id", id, msg, out)
    }

    /// `{variant: {key: n, "msg": {"name": text, "bytes": bytes}}}`, as the derive
    /// writes a frame variant with a number and a message without a span.
    fn encode_carrier(variant: &str, key: &str, n: u64, msg: &WireMsg, out: &mut Vec<u8>) -> bool {
        if msg.span.is_some() {
            return false;
        }
        let (name, bytes) = (msg.name(), msg.bytes());
        out.reserve(32 + name.len() + bytes.len());
        head(out, 5, 1);
        text(out, variant);
        head(out, 5, 2);
        text(out, key);
        head(out, 0, n);
        text(out, "msg");
        head(out, 5, 2);
        text(out, "name");
        text(out, name);
        text(out, "bytes");
        head(out, 2, bytes.len() as u64);
        out.extend_from_slice(bytes);
        true
    }

    /// Whether `b` is exactly one well-formed CBOR item nested at most `max` deep
    /// (arrays, maps and tags each add a level). Checked without decoding or
    /// allocating, iteratively (no recursion, whatever the input).
    pub(crate) fn within_depth(b: &[u8], max: usize) -> bool {
        item_end(b, max) == Some(b.len())
    }

    /// Where the first CBOR item of `b` ends, if it is well formed and nested at most
    /// `max` deep (arrays, maps and tags each add a level): walked over its heads
    /// without decoding or allocating, iteratively, skipping the contents of byte and
    /// text strings. `max` is at most [`DECODE_DEPTH_LIMIT`].
    pub(crate) fn item_end(b: &[u8], max: usize) -> Option<usize> {
        // Items still to read at each open level; `None` for an indefinite length.
        let max = max.min(DECODE_DEPTH_LIMIT);
        let mut open = Levels {
            items: [None; DECODE_DEPTH_LIMIT],
            len: 0,
        };
        let mut at = 0usize;
        loop {
            // Close finished levels.
            while let Some(Some(0)) = open.last() {
                open.pop();
            }
            if open.is_empty() && at > 0 {
                return Some(at);
            }
            let &first = b.get(at)?;
            if let Some(last) = open.last_mut() {
                match last {
                    Some(n) => *n -= 1,
                    None if first == 0xff => {
                        // The end of an indefinite-length item (it was counted as an
                        // item of its parent when it began).
                        open.pop();
                        at += 1;
                        if open.is_empty() {
                            return Some(at);
                        }
                        continue;
                    }
                    None => {}
                }
            }
            let major = first >> 5;
            let info = first & 0x1f;
            if info == 31 {
                // Indefinite length: strings of chunks, arrays, maps.
                match major {
                    2..=5 => {
                        if open.len() >= max {
                            return None;
                        }
                        open.push(None);
                        at += 1;
                        continue;
                    }
                    _ => return None,
                }
            }
            let (n, next) = read_any_head(b, at)?;
            at = next;
            match major {
                0 | 1 | 7 => {}
                2 | 3 => match usize::try_from(n).ok().and_then(|n| at.checked_add(n)) {
                    Some(end) if end <= b.len() => at = end,
                    _ => return None,
                },
                4..=6 => {
                    if open.len() >= max {
                        return None;
                    }
                    let items = match major {
                        4 => Some(n),
                        5 => n.checked_mul(2),
                        _ => Some(1),
                    };
                    let items = items?;
                    if items > 0 {
                        open.push(Some(items));
                    }
                }
                _ => return None,
            }
            if open.is_empty() {
                return Some(at);
            }
        }
    }

    use crate::message::DECODE_DEPTH_LIMIT;

    /// The open levels of an item being walked, on the stack (no allocation per frame):
    /// at most [`DECODE_DEPTH_LIMIT`], the largest depth limit there is.
    struct Levels {
        items: [Option<u64>; DECODE_DEPTH_LIMIT],
        len: usize,
    }

    impl Levels {
        fn last(&self) -> Option<&Option<u64>> {
            self.items[..self.len].last()
        }

        fn last_mut(&mut self) -> Option<&mut Option<u64>> {
            self.items[..self.len].last_mut()
        }

        fn pop(&mut self) {
            self.len = self.len.saturating_sub(1);
        }

        /// Callers check `len() < max` first, and `max` is at most the capacity.
        fn push(&mut self, level: Option<u64>) {
            if let Some(slot) = self.items.get_mut(self.len) {
                *slot = level;
                self.len += 1;
            }
        }

        fn len(&self) -> usize {
            self.len
        }

        fn is_empty(&self) -> bool {
            self.len == 0
        }
    }

    /// Reads any CBOR head at `at` (not an indefinite length).
    fn read_any_head(b: &[u8], at: usize) -> Option<(u64, usize)> {
        let major = *b.get(at)? >> 5;
        read_head(b, at, major)
    }

    /// Reads a CBOR head of major type `major` at `at`; returns its argument and the
    /// position after it.
    fn read_head(b: &[u8], at: usize, major: u8) -> Option<(u64, usize)> {
        let first = *b.get(at)?;
        if first >> 5 != major {
            return None;
        }
        let info = first & 0x1f;
        let (n, len) = match info {
            0..=23 => (u64::from(info), 0),
            24 => (u64::from(*b.get(at + 1)?), 1),
            25 => (
                u64::from(u16::from_be_bytes(b.get(at + 1..at + 3)?.try_into().ok()?)),
                2,
            ),
            26 => (
                u64::from(u32::from_be_bytes(b.get(at + 1..at + 5)?.try_into().ok()?)),
                4,
            ),
            27 => (
                u64::from_be_bytes(b.get(at + 1..at + 9)?.try_into().ok()?),
                8,
            ),
            _ => return None,
        };
        Some((n, at + 1 + len))
    }

    fn expect(b: &[u8], at: usize, bytes: &[u8]) -> Option<usize> {
        (b.get(at..at + bytes.len())? == bytes).then_some(at + bytes.len())
    }

    fn read_bytes(b: &[u8], at: usize, major: u8) -> Option<(&[u8], usize)> {
        let (len, at) = read_head(b, at, major)?;
        let end = at.checked_add(usize::try_from(len).ok()?)?;
        Some((b.get(at..end)?, end))
    }

    /// Decodes a `Send` or `Reply` frame at the start of `b` written in exactly the
    /// shape above; returns it and the bytes it took, or `None` for anything else.
    pub(crate) fn decode_send(b: &[u8]) -> Option<(Frame, usize)> {
        // {"Send": {"to": u64, "msg": {"name": text, "bytes": bytes}}}
        // {"Reply": {"id": u64, "msg": {"name": text, "bytes": bytes}}}
        let (reply, at) = match expect(b, 0, b"\xa1\x64Send\xa2\x62to") {
            Some(at) => (false, at),
            None => (true, expect(b, 0, b"\xa1\x65Reply\xa2\x62id")?),
        };
        let (n, at) = read_head(b, at, 0)?;
        let at = expect(b, at, b"\x63msg\xa2\x64name")?;
        let (name, at) = read_bytes(b, at, 3)?;
        let name = std::str::from_utf8(name).ok()?;
        let at = expect(b, at, b"\x65bytes")?;
        let (bytes, at) = read_bytes(b, at, 2)?;
        let msg = WireMsg {
            encoded: crate::message::Encoded::new(name, bytes),
            span: None,
        };
        let frame = if reply {
            Frame::Reply { id: n, msg }
        } else {
            Frame::Send { to: n, msg }
        };
        Some((frame, at))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn wire(name: &str, bytes: &[u8]) -> WireMsg {
            WireMsg {
                encoded: crate::message::Encoded::new(name, bytes),
                span: None,
            }
        }

        #[test]
        fn the_fast_path_writes_and_reads_what_the_generic_codec_does() {
            for (to, name, len) in [
                (0u64, "u64", 1usize),
                (23, "String", 23),
                (24, "Vec<u8>", 24),
                (300, "a", 255),
                (70_000, "b", 256),
                (u64::from(u32::MAX) + 1, "rcos::MonitorStatus", 70_000),
            ] {
                let msg = wire(name, &vec![7; len]);
                let mut fast = Vec::new();
                assert!(encode_send(to, &msg, &mut fast));
                let mut generic = Vec::new();
                let frame = Frame::Send {
                    to,
                    msg: wire(name, &vec![7; len]),
                };
                ciborium::into_writer(&frame, &mut generic).unwrap();
                assert_eq!(fast, generic, "to={to} name={name} len={len}");
                let reference = super::super::tests::RefFrame::Send {
                    to,
                    msg: super::super::tests::RefWireMsg::new(name, &vec![7; len], None),
                };
                assert_eq!(fast, cbor(&reference), "the derive's bytes");
                let (decoded, used) = decode_send(&generic).unwrap();
                assert_eq!(used, generic.len());
                match decoded {
                    Frame::Send { to: t, msg: m } => {
                        assert_eq!((t, m.name(), m.bytes().len()), (to, name, len));
                    }
                    other => panic!("decoded {other:?}"),
                }
                // Replies the same way.
                let mut fast = Vec::new();
                assert!(encode_reply(to, &wire(name, &vec![7; len]), &mut fast));
                let reference = super::super::tests::RefFrame::Reply {
                    id: to,
                    msg: super::super::tests::RefWireMsg::new(name, &vec![7; len], None),
                };
                assert_eq!(fast, cbor(&reference), "the derive's bytes");
                let (decoded, used) = decode_send(&fast).unwrap();
                assert_eq!(used, fast.len());
                match decoded {
                    Frame::Reply { id, msg: m } => {
                        assert_eq!((id, m.name(), m.bytes().len()), (to, name, len));
                    }
                    other => panic!("decoded {other:?}"),
                }
            }
            let mut b = Vec::new();
            encode_reply(5, &wire("x", &[1, 2]), &mut b);
            for cut in 0..b.len() {
                assert!(decode_send(&b[..cut]).is_none(), "cut at {cut}");
            }
            // Truncated or other shapes: not taken by the fast path.
            let mut b = Vec::new();
            encode_send(5, &wire("x", &[1, 2]), &mut b);
            for cut in 0..b.len() {
                assert!(decode_send(&b[..cut]).is_none(), "cut at {cut}");
            }
            let mut ping = Vec::new();
            ciborium::into_writer(&Frame::Ping(3), &mut ping).unwrap();
            assert!(decode_send(&ping).is_none());
        }

        fn cbor<T: serde::Serialize>(v: &T) -> Vec<u8> {
            let mut out = Vec::new();
            ciborium::into_writer(v, &mut out).unwrap();
            out
        }

        #[test]
        fn nesting_depth_is_measured_without_decoding() {
            assert!(within_depth(&cbor(&5u64), 1));
            assert!(within_depth(&cbor(&"text"), 1));
            assert!(within_depth(&cbor(&vec![1u8, 2]), 1));
            assert!(within_depth(&cbor(&Vec::<u8>::new()), 1));
            assert!(within_depth(&cbor(&vec![vec![1u32]]), 2));
            assert!(!within_depth(&cbor(&vec![vec![1u32]]), 1));
            let map: std::collections::BTreeMap<String, Vec<u8>> =
                [("a".to_string(), vec![1]), ("b".to_string(), vec![])].into();
            assert!(within_depth(&cbor(&map), 2));
            assert!(!within_depth(&cbor(&map), 1));
            // 10,000 nested arrays: refused at the limit, with no recursion.
            let deep = [vec![0x81u8; 10_000], vec![0x00]].concat();
            assert!(!within_depth(&deep, 64));
            assert!(within_depth(&[vec![0x81u8; 64], vec![0x00]].concat(), 64));
            assert!(!within_depth(&[vec![0x81u8; 65], vec![0x00]].concat(), 64));
            // Indefinite-length array [_ 1, [2]] (depth 2), then a truncated one.
            assert!(within_depth(&[0x9f, 0x01, 0x81, 0x02, 0xff], 2));
            assert!(!within_depth(&[0x9f, 0x01, 0x81, 0x02, 0xff], 1));
            assert!(!within_depth(&[0x9f, 0x01], 4));
            // Truncated, trailing bytes, and garbage are not one good item.
            assert!(!within_depth(&[0x82, 0x01], 4));
            assert!(!within_depth(&[0x01, 0x02], 4));
            assert!(!within_depth(&[0x5a, 0xff, 0xff, 0xff, 0xff], 4));
            assert!(!within_depth(&[], 4));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `WireMsg` as `#[derive(Serialize, Deserialize)]` wrote and read it before it was
    /// serialized by hand: the reference the hand-written code must match byte for byte.
    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(rename = "WireMsg")]
    pub(super) struct RefWireMsg {
        name: String,
        #[serde(with = "serde_bytes")]
        bytes: Vec<u8>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        span: Option<RefSpan>,
    }

    #[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
    #[serde(rename = "WireSpan")]
    pub(super) struct RefSpan {
        name: String,
        id: u64,
        node: String,
    }

    impl RefWireMsg {
        pub(super) fn new(name: &str, bytes: &[u8], span: Option<RefSpan>) -> RefWireMsg {
            RefWireMsg {
                name: name.into(),
                bytes: bytes.to_vec(),
                span,
            }
        }
    }

    /// The message-carrying frames as the derive wrote them (variant names and field
    /// order as in [`Frame`]).
    #[derive(Serialize)]
    pub(super) enum RefFrame {
        Send { to: u64, msg: RefWireMsg },
        Reply { id: u64, msg: RefWireMsg },
    }

    fn cbor<T: Serialize>(v: &T) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(v, &mut out).unwrap();
        out
    }

    fn samples() -> Vec<(String, Vec<u8>, Option<RefSpan>)> {
        let span = RefSpan {
            name: "request".into(),
            id: 7,
            node: "node-a".into(),
        };
        vec![
            ("u64".into(), vec![0x18, 0x2a], None),
            ("".into(), vec![], None),
            (
                "String".into(),
                vec![0x65, b'h', b'e', b'l', b'l', b'o'],
                Some(span.clone()),
            ),
            ("rcos::Request<u64>".into(), vec![0xa2; 46], None),
            ("名前".into(), vec![1; 47], Some(span)),
            ("big".into(), vec![0x40; 70_000], None),
        ]
    }

    fn ours(name: &str, bytes: &[u8], span: &Option<RefSpan>) -> WireMsg {
        WireMsg {
            encoded: Encoded::new(name, bytes),
            span: span.as_ref().map(|s| WireSpan {
                name: s.name.clone(),
                id: s.id,
                node: s.node.clone(),
            }),
        }
    }

    #[test]
    fn the_hand_written_wire_msg_writes_and_reads_what_the_derive_did() {
        for (name, bytes, span) in samples() {
            let reference = RefWireMsg::new(&name, &bytes, span.clone());
            let msg = ours(&name, &bytes, &span);
            assert_eq!(cbor(&msg), cbor(&reference), "{name}");
            // Inside frames too.
            let frame = Frame::Reply { id: 300, msg };
            let expected = cbor(&RefFrame::Reply {
                id: 300,
                msg: RefWireMsg::new(&name, &bytes, span.clone()),
            });
            assert_eq!(cbor(&frame), expected, "{name}");
            // And what the derive wrote reads back the same.
            let back: WireMsg = ciborium::from_reader(&cbor(&reference)[..]).unwrap();
            assert_eq!((back.name(), back.bytes()), (name.as_str(), &bytes[..]));
            assert_eq!(
                back.span.map(|s| (s.name, s.id, s.node)),
                span.map(|s| (s.name, s.id, s.node))
            );
            let back: RefWireMsg =
                ciborium::from_reader(&cbor(&ours(&name, &bytes, &None))[..]).unwrap();
            assert_eq!(back, RefWireMsg::new(&name, &bytes, None));
        }
    }
}
