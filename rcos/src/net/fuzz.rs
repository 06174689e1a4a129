//! Entry points into the wire decoders and the handshake for fuzzers and property tests
//! (feature `fuzzing`; hidden from the docs, **not** a stable API).
//!
//! The decoders the node runs on bytes from the network are crate-private; these
//! functions drive exactly those decoders (the record layer, the frame decoder with its
//! `Send` fast path, the payload depth check, the handshake) from plain bytes, so that
//! `fuzz/` (cargo-fuzz) and `tests/tests/wire_props.rs` (proptest) test the real code.
//! They are never used by rcos itself.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::codec::{self, PREAUTH_MAX, RecordReader, RecordWriter};
use super::config::MAX_FRAME_LIMIT;
use super::discovery::{Beacon, BeaconKey};
use super::frame::{self, Frame};
use super::handshake::scripted;
use crate::message::DECODE_DEPTH_LIMIT;

/// The secret the scripted handshake and the beacon helpers use.
pub const SECRET: &[u8] = b"rcos fuzzing secret, not a real one";

static FRAMES_DECODED: AtomicU64 = AtomicU64::new(0);

std::thread_local! {
    static FRAMES_DECODED_HERE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts one attempt of the post-authentication frame decoder (the only decoder that
/// reads frames that carry user payloads).
pub(crate) fn note_frame_decoded() {
    FRAMES_DECODED.fetch_add(1, Ordering::Relaxed);
    FRAMES_DECODED_HERE.with(|c| c.set(c.get() + 1));
}

/// Frames the post-authentication decoder has tried to decode in this process (every
/// node, every thread).
pub fn frames_decoded() -> u64 {
    FRAMES_DECODED.load(Ordering::Relaxed)
}

/// Frames the post-authentication decoder has tried to decode on the calling thread.
pub fn frames_decoded_on_this_thread() -> u64 {
    FRAMES_DECODED_HERE.with(std::cell::Cell::get)
}

/// How [`decode_stream`] reads.
#[derive(Clone, Copy, Debug)]
pub struct StreamOptions {
    /// Read (and check) the 8-byte preamble first.
    pub preamble: bool,
    /// The record size limit (capped at [`MAX_FRAME_LIMIT`](crate::net::MAX_FRAME_LIMIT)).
    pub max_frame: usize,
    /// Records carry a MAC under this key.
    pub mac_key: Option<[u8; 32]>,
    /// The nesting limit for frames and payloads.
    pub depth: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            preamble: true,
            max_frame: 1 << 20,
            mac_key: None,
            depth: DECODE_DEPTH_LIMIT,
        }
    }
}

/// What a decode saw before the stream ended or failed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeReport {
    /// The preamble was read and accepted.
    pub preamble_ok: bool,
    /// Records read whole (and, with a key, whose MAC verified).
    pub records: usize,
    /// Frames decoded.
    pub frames: usize,
    /// Of them, frames that carry a message.
    pub messages: usize,
    /// Of those, messages whose payload passed the depth check (and were then decoded
    /// into a few receiver types, as a receiving task would).
    pub payloads_within_depth: usize,
    /// Why the stream ended (`None` never happens: a finite input ends somehow).
    pub error: Option<String>,
}

/// Reads `input` as a node's reader task reads a connection: the preamble, then records
/// (length checked before allocation, MAC verified), each decoded into frames (fast path
/// first), with every message payload checked against the depth limit.
pub fn decode_stream(input: &[u8], options: StreamOptions) -> DecodeReport {
    let mut report = DecodeReport::default();
    let mut input = input;
    futures_lite::future::block_on(async {
        if options.preamble {
            match codec::read_preamble(&mut input).await {
                Ok(_) => report.preamble_ok = true,
                Err(e) => {
                    report.error = Some(e.to_string());
                    return;
                }
            }
        }
        let mut reader = RecordReader::new(input, options.max_frame.min(MAX_FRAME_LIMIT));
        reader.set_mac(options.mac_key.as_ref());
        loop {
            let body = match reader.read_record().await {
                Ok(body) => body,
                Err(e) => {
                    report.error = Some(e.to_string());
                    return;
                }
            };
            report.records += 1;
            for decoded in frame::decode_frames(body, options.depth) {
                match decoded {
                    Ok(frame) => {
                        report.frames += 1;
                        if let Some(msg) = frame.message() {
                            report.messages += 1;
                            if frame::fast::within_depth(msg.bytes(), options.depth) {
                                report.payloads_within_depth += 1;
                                probe_payload(msg.bytes());
                            }
                        }
                    }
                    Err(e) => {
                        report.error = Some(e.to_string());
                        return;
                    }
                }
            }
        }
    });
    report
}

/// Decodes a payload into a few types a receiver might expect (errors are fine).
fn probe_payload(bytes: &[u8]) {
    fn try_as<T: DeserializeOwned>(bytes: &[u8]) {
        let _ = ciborium::de::from_reader_with_recursion_limit::<T, _>(bytes, DECODE_DEPTH_LIMIT);
    }
    try_as::<String>(bytes);
    try_as::<Vec<u64>>(bytes);
    try_as::<(u32, String, Option<Vec<i64>>)>(bytes);
    try_as::<std::collections::BTreeMap<String, Vec<u8>>>(bytes);
    try_as::<ciborium::Value>(bytes);
}

/// The `frame_decoder` fuzz target: the first byte picks the options (bit 0: preamble,
/// bit 1: MAC key, bit 2: the pre-authentication size limit, bits 3-4: the depth limit),
/// the rest is the stream. Each record body is also decoded as the handshake's `Hello`
/// and `Auth`.
pub fn frame_decoder(data: &[u8]) -> DecodeReport {
    let Some((&flags, stream)) = data.split_first() else {
        return DecodeReport::default();
    };
    let options = StreamOptions {
        preamble: flags & 1 != 0,
        mac_key: (flags & 2 != 0).then_some([7u8; 32]),
        max_frame: if flags & 4 != 0 { PREAUTH_MAX } else { 1 << 20 },
        depth: [DECODE_DEPTH_LIMIT, 4, 8, 16][usize::from((flags >> 3) & 3)],
    };
    // The same bytes as handshake records.
    let mut rest = stream;
    while rest.len() >= 4 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let Some(body) = rest.get(4..4 + len.min(PREAUTH_MAX)) else {
            break;
        };
        scripted::decode_preauth(body);
        rest = &rest[4 + body.len()..];
    }
    decode_stream(stream, options)
}

/// Whether `bytes` is one CBOR item nested at most `depth` deep: the check every message
/// payload passes on arrival.
pub fn payload_within_depth(bytes: &[u8], depth: usize) -> bool {
    frame::fast::within_depth(bytes, depth)
}

/// Decodes a payload as a receiving task does ([`Envelope::downcast`](crate::Envelope::downcast)
/// of a message from another node).
pub fn decode_message<M: crate::Message>(bytes: &[u8]) -> Result<M, String> {
    crate::message::decode(bytes).map_err(|e| e.to_string())
}

/// One thing the other side of a scripted handshake sends.
#[derive(Clone, Debug)]
pub enum Step {
    /// These bytes, as they are.
    Raw(Vec<u8>),
    /// A record with this body (its length prefix added; after authentication, its MAC
    /// too).
    Record(Vec<u8>),
    /// A valid preamble.
    Preamble,
    /// An honest peer's `Hello`.
    Hello,
    /// An honest peer's `Auth`, proving the secret over the exchange so far: the only
    /// way to authenticate.
    Auth,
}

/// How a scripted handshake went.
#[derive(Clone, Debug, Default)]
pub struct HandshakeReport {
    /// The node's side was the accepting one.
    pub server: bool,
    /// The node authenticated the other side.
    pub authenticated: bool,
    /// The script's valid `Auth` was sent.
    pub sent_valid_auth: bool,
    /// Why the handshake failed.
    pub error: Option<String>,
    /// Frames the post-authentication decoder was asked to decode during the handshake
    /// (must be 0: nothing a peer sends before authenticating reaches it).
    pub frames_decoded_pre_auth: u64,
    /// After authentication: the rest of the script, read as the connection's reader.
    pub after: Option<DecodeReport>,
}

impl HandshakeReport {
    /// The invariants of the handshake: no way in without the valid `Auth`; nothing
    /// decoded as a frame before authentication; the authenticated peer is the honest
    /// one. The reason when one is broken.
    pub fn check(&self) -> Result<(), String> {
        if self.authenticated && !self.sent_valid_auth {
            return Err("authenticated without a valid Auth".into());
        }
        if self.frames_decoded_pre_auth != 0 {
            return Err(format!(
                "{} frames decoded before authentication",
                self.frames_decoded_pre_auth
            ));
        }
        Ok(())
    }
}

/// Runs the node's side of the handshake (`server` or client) against `steps` (what the
/// other side sends, in order), then, if it authenticated, reads the rest of the steps
/// as post-authentication records (each `Record` with a valid MAC).
pub fn handshake(server: bool, steps: Vec<Step>) -> HandshakeReport {
    let steps = steps
        .into_iter()
        .map(|s| match s {
            Step::Raw(b) => scripted::Step::Raw(b),
            Step::Record(b) => scripted::Step::Record(b),
            Step::Preamble => scripted::Step::Preamble,
            Step::Hello => scripted::Step::Hello,
            Step::Auth => scripted::Step::Auth,
        })
        .collect();
    let before = frames_decoded_on_this_thread();
    let outcome = scripted::run(server, SECRET, steps);
    let mut report = HandshakeReport {
        server,
        sent_valid_auth: outcome.sent_auth,
        frames_decoded_pre_auth: frames_decoded_on_this_thread() - before,
        ..HandshakeReport::default()
    };
    let session = match outcome.result {
        Ok(session) => session,
        Err(e) => {
            report.error = Some(e.to_string());
            return report;
        }
    };
    report.authenticated = true;
    if session.peer.name != "fuzz-peer" || session.peer.incarnation != 2 {
        report.error = Some(format!("authenticated the wrong peer: {:?}", session.peer));
        report.authenticated = false;
        return report;
    }
    let Some((_, recv)) = session.keys else {
        report.error = Some("no session keys".into());
        return report;
    };
    report.after = Some(decode_stream(
        &post_auth_bytes(outcome.leftover, outcome.rest, &recv),
        StreamOptions {
            preamble: false,
            mac_key: Some(recv),
            ..StreamOptions::default()
        },
    ));
    report
}

/// The bytes the other side sends after authenticating: records with MACs under `key`
/// (the receiver's key), raw bytes as they are.
fn post_auth_bytes(leftover: Vec<u8>, rest: VecDeque<scripted::Step>, key: &[u8; 32]) -> Vec<u8> {
    let mut writer = RecordWriter::new(leftover, 1 << 20);
    writer.set_mac(Some(key));
    futures_lite::future::block_on(async {
        for step in rest {
            let body = match step {
                scripted::Step::Raw(bytes) => {
                    writer.inner_mut().extend_from_slice(&bytes);
                    continue;
                }
                scripted::Step::Record(body) => body,
                // After authentication these are just more frames: a ping.
                _ => {
                    let mut ping = Vec::new();
                    let _ = codec::encode_frame(&Frame::Ping(1), &mut ping);
                    ping
                }
            };
            if writer.push_encoded(&body).await.is_ok() {
                let _ = writer.flush().await;
            }
        }
    });
    std::mem::take(writer.inner_mut())
}

/// The `handshake` fuzz target: byte 0 bit 0 picks the side (1: accepting), bit 1 starts
/// the script with a valid preamble; then steps, each a tag byte (`% 8`: 0 raw, 1-2
/// record, 3 preamble, 4-5 hello, 6-7 auth), raw and record followed by a u16 length
/// and that many bytes.
pub fn handshake_from_bytes(data: &[u8]) -> HandshakeReport {
    let Some((&flags, mut rest)) = data.split_first() else {
        return HandshakeReport::default();
    };
    let mut steps = Vec::new();
    if flags & 2 != 0 {
        steps.push(Step::Preamble);
    }
    while let Some((&tag, after)) = rest.split_first() {
        rest = after;
        let mut bytes = || {
            let len = match rest {
                [a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])),
                _ => 0,
            };
            rest = rest.get(2..).unwrap_or_default();
            let (taken, left) = rest.split_at(len.min(rest.len()));
            rest = left;
            taken.to_vec()
        };
        steps.push(match tag % 8 {
            0 => Step::Raw(bytes()),
            1 | 2 => Step::Record(bytes()),
            3 => Step::Preamble,
            4 | 5 => Step::Hello,
            _ => Step::Auth,
        });
    }
    handshake(flags & 1 != 0, steps)
}

/// The wire types with a CBOR encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireType {
    /// A frame after authentication (encoded as a node writes it: `Send` by the fast
    /// path when it can be).
    Frame,
    /// A request's answer.
    Answer,
    /// A message in transit (wire name, opaque payload, span).
    WireMsg,
    /// The handshake's `Hello`.
    Hello,
    /// The handshake's `Auth`.
    Auth,
}

/// Decodes `bytes` as one `ty` (all of them, nothing after), encodes it (`e1`), decodes
/// that and encodes it again (`e2`): a round trip holds when `e1 == e2`.
pub fn round_trip(ty: WireType, bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    match ty {
        WireType::Frame => {
            let once = encode_frame_as_peer(&decode_one_frame(bytes)?)?;
            let twice = encode_frame_as_peer(&decode_one_frame(&once)?)?;
            Ok((once, twice))
        }
        WireType::Answer => round_trip_as::<frame::Answer>(bytes),
        WireType::WireMsg => round_trip_as::<frame::WireMsg>(bytes),
        WireType::Hello => scripted::round_trip_hello(bytes),
        WireType::Auth => scripted::round_trip_auth(bytes),
    }
}

fn decode_one_frame(bytes: &[u8]) -> Result<Frame, String> {
    let mut frames = frame::decode_frames(bytes, DECODE_DEPTH_LIMIT);
    let frame = frames
        .next()
        .ok_or("no frame")?
        .map_err(|e| e.to_string())?;
    if frames.next().is_some() {
        return Err("bytes after the frame".into());
    }
    Ok(frame)
}

/// A frame's bytes as a peer writes them.
fn encode_frame_as_peer(f: &Frame) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    if let Frame::Send { to, msg } = f {
        if frame::fast::encode_send(*to, msg, &mut out) {
            return Ok(out);
        }
    }
    codec::encode_frame(f, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// [`round_trip`] for one CBOR-encoded type.
pub(crate) fn round_trip_as<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), String> {
    fn decode<T: DeserializeOwned>(mut bytes: &[u8]) -> Result<T, String> {
        let value =
            codec::decode_one::<T>(&mut bytes, DECODE_DEPTH_LIMIT).map_err(|e| e.to_string())?;
        if !bytes.is_empty() {
            return Err("bytes after the item".into());
        }
        Ok(value)
    }
    fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        codec::encode_frame(value, &mut out).map_err(|e| e.to_string())?;
        Ok(out)
    }
    let once = encode(&decode::<T>(bytes)?)?;
    let twice = encode(&decode::<T>(&once)?)?;
    Ok((once, twice))
}

/// A discovery beacon's contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BeaconFields {
    /// The sender's protocol minor version.
    pub minor: u16,
    /// The sender uses TLS.
    pub tls: bool,
    /// The sender's incarnation.
    pub incarnation: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// The beacon's nonce.
    pub nonce: [u8; 16],
    /// Where the sender listens.
    pub listen: SocketAddr,
    /// The sender's name (cut to 255 bytes on the wire).
    pub name: String,
}

/// A beacon with these contents, tagged under [`SECRET`].
pub fn encode_beacon(fields: &BeaconFields) -> Vec<u8> {
    Beacon {
        minor: fields.minor,
        tls: fields.tls,
        incarnation: fields.incarnation,
        timestamp_ms: fields.timestamp_ms,
        nonce: fields.nonce,
        listen: fields.listen,
        name: fields.name.clone(),
    }
    .encode(&BeaconKey::derive(SECRET))
}

/// Decodes a beacon tagged under [`SECRET`] (the reason when it is refused).
pub fn decode_beacon(bytes: &[u8]) -> Result<BeaconFields, String> {
    let b = Beacon::decode(bytes, &BeaconKey::derive(SECRET)).map_err(|e| e.to_string())?;
    Ok(BeaconFields {
        minor: b.minor,
        tls: b.tls,
        incarnation: b.incarnation,
        timestamp_ms: b.timestamp_ms,
        nonce: b.nonce,
        listen: b.listen,
        name: b.name,
    })
}

/// Writes `bodies` as records (one each, with a MAC under `key` if given) after a
/// preamble, and reads them back: the bodies read, or the error.
pub fn record_round_trip(
    bodies: &[Vec<u8>],
    key: Option<[u8; 32]>,
) -> Result<Vec<Vec<u8>>, String> {
    futures_lite::future::block_on(async {
        let mut wire = Vec::new();
        codec::write_preamble(&mut wire)
            .await
            .map_err(|e| e.to_string())?;
        let mut writer = RecordWriter::new(&mut wire, MAX_FRAME_LIMIT);
        writer.set_mac(key.as_ref());
        for body in bodies {
            writer.push_encoded(body).await.map_err(|e| e.to_string())?;
            writer.flush().await.map_err(|e| e.to_string())?;
        }
        let mut input = wire.as_slice();
        codec::read_preamble(&mut input)
            .await
            .map_err(|e| e.to_string())?;
        let mut reader = RecordReader::new(input, MAX_FRAME_LIMIT);
        reader.set_mac(key.as_ref());
        let mut back = Vec::new();
        for _ in bodies.iter().filter(|b| !b.is_empty()) {
            back.push(
                reader
                    .read_record()
                    .await
                    .map_err(|e| e.to_string())?
                    .to_vec(),
            );
        }
        match reader.read_record().await {
            Err(codec::WireError::Closed) => Ok(back),
            Ok(_) => Err("a record too many".into()),
            Err(e) => Err(e.to_string()),
        }
    })
}

/// A record: the length prefix and `body`.
pub fn record(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// The preamble a node of this version writes.
pub fn preamble() -> Vec<u8> {
    let mut out = codec::MAGIC.to_vec();
    out.extend_from_slice(&codec::PROTOCOL_MAJOR.to_be_bytes());
    out.extend_from_slice(&codec::PROTOCOL_MINOR.to_be_bytes());
    out
}

/// Decodes `T` from a CBOR value (how the samples make task references and channels,
/// whose constructors are the runtime's).
fn from_value<T: DeserializeOwned>(value: ciborium::Value) -> Option<T> {
    value.deserialized().ok()
}

fn text(s: &str) -> ciborium::Value {
    ciborium::Value::Text(s.into())
}

fn wire_ref(node: &str, incarnation: u64, id: Option<u64>, name: &str) -> ciborium::Value {
    let mut fields = vec![
        (text("node"), text(node)),
        (
            text("incarnation"),
            ciborium::Value::Integer(incarnation.into()),
        ),
    ];
    if let Some(id) = id {
        fields.push((text("id"), ciborium::Value::Integer(id.into())));
    }
    fields.push((text("name"), text(name)));
    fields.push((text("location"), text("127.0.0.1:9705")));
    ciborium::Value::Map(fields)
}

/// Real frames of every kind, encoded as a node writes them: seeds for the fuzzers and
/// samples for the tests.
pub fn sample_frames() -> Vec<(String, Vec<u8>)> {
    use frame::{Answer, WireMsg, WireSpan};
    let msg = |name: &str, bytes: &[u8]| WireMsg {
        encoded: crate::message::Encoded::new(name, bytes),
        span: None,
    };
    let spanned = || WireMsg {
        encoded: crate::message::Encoded::new("String", &[0x65, b'h', b'e', b'l', b'l', b'o']),
        span: Some(WireSpan {
            name: "request".into(),
            id: 7,
            node: "a".into(),
        }),
    };
    let task = from_value::<crate::TaskRef>(wire_ref("b", 42, Some(9), "worker"));
    let channel = from_value::<crate::channel::Channel>(wire_ref("b", 42, None, "news"));
    let value = from_value::<crate::Value>(ciborium::Value::Map(vec![
        (text("name"), text("u32")),
        (
            text("bytes"),
            ciborium::Value::Array(vec![ciborium::Value::Integer(5.into())]),
        ),
    ]));
    let mut frames: Vec<(&str, Frame)> = vec![
        ("ping", Frame::Ping(1)),
        ("pong", Frame::Pong(u64::MAX)),
        (
            "send",
            Frame::Send {
                to: 3,
                msg: msg("u32", &[0x18, 0x2a]),
            },
        ),
        (
            "send-spanned",
            Frame::Send {
                to: 3,
                msg: spanned(),
            },
        ),
        (
            "deliver",
            Frame::Deliver {
                req: 1,
                to: 3,
                msg: msg("Vec<u8>", &[0x42, 1, 2]),
            },
        ),
        (
            "reply",
            Frame::Reply {
                id: 8,
                msg: spanned(),
            },
        ),
        ("terminate", Frame::Terminate { target: 3 }),
        (
            "throw",
            Frame::Throw {
                target: 3,
                message: "stop".into(),
            },
        ),
        (
            "hotswap",
            Frame::HotSwap {
                req: 2,
                target: 3,
                function: "app::v2".into(),
                args: vec![0x80],
                timeout_ms: 1000,
            },
        ),
        ("finish", Frame::Finish { req: 3, target: 3 }),
        (
            "locate",
            Frame::Locate {
                req: 4,
                name: "echo".into(),
                channel: false,
            },
        ),
        (
            "spawn",
            Frame::Spawn {
                req: 5,
                function: "app::square".into(),
                args: vec![0x81, 0x0c],
            },
        ),
        (
            "channel-send",
            Frame::ChannelSend {
                channel: "news".into(),
                msg: msg("String", &[0x61, b'x']),
            },
        ),
        (
            "channel-deliver",
            Frame::ChannelDeliver {
                req: 6,
                channel: "news".into(),
                msg: msg("String", &[0x60]),
                n: 2,
                timeout_ms: 500,
            },
        ),
        (
            "file-begin",
            Frame::FileBegin {
                req: 7,
                path: "dir/data.bin".into(),
                size: 3,
                sha256: vec![0xab; 32],
                overwrite: false,
            },
        ),
        (
            "file-chunk",
            Frame::FileChunk {
                req: 8,
                transfer: 1,
                offset: 0,
                bytes: vec![1, 2, 3],
            },
        ),
        (
            "file-end",
            Frame::FileEnd {
                req: 9,
                transfer: 1,
            },
        ),
        (
            "file-delete",
            Frame::FileDelete {
                req: 10,
                path: "dir/data.bin".into(),
            },
        ),
        (
            "answer-done",
            Frame::Answer {
                req: 1,
                answer: Answer::Done,
            },
        ),
        (
            "answer-count",
            Frame::Answer {
                req: 1,
                answer: Answer::Count(3),
            },
        ),
        (
            "answer-not-found",
            Frame::Answer {
                req: 1,
                answer: Answer::NotFound,
            },
        ),
        (
            "answer-failed",
            Frame::Answer {
                req: 1,
                answer: Answer::Failed("no".into()),
            },
        ),
        (
            "answer-send-failed",
            Frame::Answer {
                req: 1,
                answer: Answer::SendFailed(2),
            },
        ),
        (
            "answer-swap-failed",
            Frame::Answer {
                req: 1,
                answer: Answer::SwapFailed(3),
            },
        ),
        (
            "answer-exit-terminated",
            Frame::Answer {
                req: 1,
                answer: Answer::Exit(crate::Exit::Terminated),
            },
        ),
        (
            "answer-exit-panicked",
            Frame::Answer {
                req: 1,
                answer: Answer::Exit(crate::Exit::Panicked("boom".into())),
            },
        ),
        ("goodbye", Frame::Goodbye),
    ];
    if let Some(task) = task {
        frames.push((
            "answer-task",
            Frame::Answer {
                req: 2,
                answer: Answer::Task(task.clone()),
            },
        ));
        frames.push((
            "monitor",
            Frame::Monitor {
                target: 3,
                monitor: task.clone(),
            },
        ));
        frames.push((
            "unmonitor",
            Frame::Unmonitor {
                target: 3,
                monitor: task.clone(),
            },
        ));
        frames.push((
            "subscribe-task",
            Frame::Subscribe {
                req: 11,
                channel: "news".into(),
                subscriber: crate::channel::Subscriber::Task(task),
            },
        ));
    }
    if let Some(channel) = channel {
        frames.push((
            "answer-channel",
            Frame::Answer {
                req: 2,
                answer: Answer::Channel(channel.clone()),
            },
        ));
        frames.push((
            "unsubscribe-channel",
            Frame::Unsubscribe {
                req: 12,
                channel: "news".into(),
                subscriber: crate::channel::Subscriber::Channel(channel),
            },
        ));
    }
    if let Some(value) = value {
        frames.push((
            "answer-exit-returned",
            Frame::Answer {
                req: 3,
                answer: Answer::Exit(crate::Exit::Returned(value)),
            },
        ));
    }
    frames
        .into_iter()
        .filter_map(|(name, f)| Some((name.to_string(), encode_frame_as_peer(&f).ok()?)))
        .collect()
}

/// CBOR head of major type `major` with an 8-byte argument.
fn head8(major: u8, n: u64) -> Vec<u8> {
    let mut out = vec![(major << 5) | 27];
    out.extend_from_slice(&n.to_be_bytes());
    out
}

/// `{"Send": {"to": 1, "msg": {"name": NAME, "bytes": BYTES}}}` with NAME and BYTES given
/// as raw CBOR items.
fn send_with(name: &[u8], bytes: &[u8]) -> Vec<u8> {
    let mut out = b"\xa1\x64Send\xa2\x62to\x01\x63msg\xa2\x64name".to_vec();
    out.extend_from_slice(name);
    out.extend_from_slice(b"\x65bytes");
    out.extend_from_slice(bytes);
    out
}

/// Hostile stream contents (what follows the preamble), the plan's A3 corpus: each must
/// be refused quickly and without allocating much. `scale` is the nesting depth and tag
/// count of the deep inputs (the plan's is 1,000,000).
pub fn adversarial_streams(scale: usize) -> Vec<(String, Vec<u8>)> {
    let deep = [vec![0x81u8; scale], vec![0x00]].concat();
    let tags = [vec![0xc6u8; scale], vec![0x00]].concat();
    let mut ignored_deep =
        b"\xa1\x66Locate\xa4\x63req\x01\x64name\x61x\x67channel\xf4\x63zzz".to_vec();
    ignored_deep.extend_from_slice(&deep);
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("length-ffffffff".into(), vec![0xff, 0xff, 0xff, 0xff, 0xa1]),
        ("array-2pow64-items".into(), record(&head8(4, u64::MAX))),
        ("bytes-4GiB".into(), record(&[0x5a, 0xff, 0xff, 0xff, 0xff])),
        ("text-4GiB".into(), record(&[0x7a, 0xff, 0xff, 0xff, 0xff])),
        (
            "map-4G-entries".into(),
            record(&[0xba, 0xff, 0xff, 0xff, 0xff]),
        ),
        (
            "name-text-4GiB".into(),
            record(&send_with(&[0x7a, 0xff, 0xff, 0xff, 0xff], b"\x40")),
        ),
        (
            "payload-bytes-4GiB".into(),
            record(&send_with(b"\x61x", &[0x5a, 0xff, 0xff, 0xff, 0xff])),
        ),
        (
            "payload-bytes-2pow64".into(),
            record(&send_with(b"\x61x", &head8(2, u64::MAX))),
        ),
        (
            "payload-array-2pow64".into(),
            record(&send_with(b"\x61x", &head8(4, u64::MAX))),
        ),
        (format!("nesting-{scale}"), record(&deep)),
        (
            format!("nesting-{scale}-in-ignored-field"),
            record(&ignored_deep),
        ),
        (
            format!("payload-nesting-{scale}"),
            record(&send_with(b"\x61x", &deep)),
        ),
        (format!("tags-{scale}"), record(&tags)),
        (
            "truncated-record".into(),
            [100u32.to_be_bytes().to_vec(), vec![0xa1, 0x64]].concat(),
        ),
        (
            "truncated-frame".into(),
            record(&send_with(b"\x61x", b"\x45\x01")),
        ),
        (
            "invalid-utf8-name".into(),
            record(&send_with(b"\x62\xff\xfe", b"\x40")),
        ),
        (
            "duplicate-keys".into(),
            record(b"\xa1\x64Send\xa3\x62to\x01\x62to\x02\x63msg\xa2\x64name\x61x\x65bytes\x40"),
        ),
        ("unknown-variant".into(), record(b"\xa1\x67Explode\x01")),
        ("unknown-unit-variant".into(), record(b"\x67Explode")),
        (
            "trailing-bytes".into(),
            record(&[send_with(b"\x61x", b"\x40"), vec![0xff, 0x00]].concat()),
        ),
        (
            "indefinite-unterminated".into(),
            record(
                &[
                    vec![0xa1, 0x64, b'S', b'e', b'n', b'd', 0xbf],
                    vec![0x00; 1000],
                ]
                .concat(),
            ),
        ),
        (
            "indefinite-text-chunks".into(),
            record(&send_with(&[0x7f, 0x61, b'a', 0x61], b"\x40")),
        ),
        ("break-alone".into(), record(&[0xff])),
        ("reserved-info".into(), record(&[0x1c, 0x3d, 0x5e])),
    ];
    cases.shrink_to_fit();
    cases
}

/// The seed corpus of the fuzz targets: `(target, name, input)`.
pub fn seed_corpus() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    let frames = sample_frames();
    for (name, bytes) in &frames {
        // Flags 0x01: preamble, no MAC, 1 MiB, depth 64.
        let input = [vec![0x01], preamble(), record(bytes)].concat();
        out.push(("frame_decoder", format!("frame-{name}"), input));
    }
    let all: Vec<u8> = frames.iter().flat_map(|(_, b)| b.clone()).collect();
    out.push((
        "frame_decoder",
        "record-of-every-frame".into(),
        [vec![0x01], preamble(), record(&all)].concat(),
    ));
    for (name, stream) in adversarial_streams(10_000) {
        out.push((
            "frame_decoder",
            format!("a3-{name}"),
            [vec![0x01], preamble(), stream].concat(),
        ));
    }
    // The handshake: flags (bit 0 server side, bit 1 preamble first), then steps (tag:
    // 0 raw, 1 record, 3 preamble, 4 hello, 6 auth; raw and record with a u16 length).
    let step = |tag: u8, body: &[u8]| {
        let mut s = vec![tag];
        if tag % 8 <= 2 {
            s.extend_from_slice(&(body.len() as u16).to_be_bytes());
            s.extend_from_slice(body);
        }
        s
    };
    let posts: Vec<u8> = frames
        .iter()
        .take(12)
        .flat_map(|(_, b)| step(1, b))
        .collect();
    for server in [true, false] {
        let side = if server { "server" } else { "client" };
        let f = 2 | u8::from(server);
        out.push((
            "handshake",
            format!("{side}-valid-then-frames"),
            [vec![f], step(4, &[]), step(6, &[]), posts.clone()].concat(),
        ));
        out.push(("handshake", format!("{side}-valid-only"), vec![f, 4, 6]));
        out.push(("handshake", format!("{side}-empty"), vec![f]));
        out.push((
            "handshake",
            format!("{side}-no-preamble"),
            vec![u8::from(server), 4, 6],
        ));
        for (name, bytes) in frames.iter().take(6) {
            out.push((
                "handshake",
                format!("{side}-{name}-instead-of-hello"),
                [vec![f], step(1, bytes), step(6, &[])].concat(),
            ));
            out.push((
                "handshake",
                format!("{side}-{name}-instead-of-auth"),
                [vec![f], step(4, &[]), step(1, bytes)].concat(),
            ));
        }
        out.push((
            "handshake",
            format!("{side}-garbage-auth"),
            [vec![f], step(4, &[]), step(1, b"\xa1\x63mac\x58\x20")].concat(),
        ));
        out.push((
            "handshake",
            format!("{side}-tls-hello"),
            [
                vec![u8::from(server)],
                step(0, &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01]),
            ]
            .concat(),
        ));
        out.push((
            "handshake",
            format!("{side}-http"),
            [vec![u8::from(server)], step(0, b"GET / HTTP/1.1\r\n\r\n")].concat(),
        ));
    }
    out
}
