//! The record layer of the wire protocol: a preamble, then length-prefixed records,
//! each holding one or more CBOR frames and (without TLS) a MAC.
//!
//! ```text
//! preamble := "RCOS" major:u16be minor:u16be          (each side sends one first)
//! record   := len:u32be body[len] mac[32]?             (mac present once authenticated, without TLS)
//! body     := cbor-item+                               (frames, self-delimiting)
//! mac      := HMAC-SHA256(direction key, seq:u64be || body)
//! ```
//!
//! A record's length is checked against the limit before anything is allocated, and
//! the body is read in chunks, so a hostile length costs nothing. CBOR is decoded with
//! a nesting limit. Sequence numbers make a record impossible to replay, reorder or
//! drop without the MAC failing.

use std::io;

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

use crate::message::DECODE_DEPTH_LIMIT;

/// The protocol's magic bytes.
pub(crate) const MAGIC: [u8; 4] = *b"RCOS";
/// Peers with the same major version interoperate.
pub(crate) const PROTOCOL_MAJOR: u16 = 1;
/// Minor versions add frames a peer may not know; both sides use the lower one.
pub(crate) const PROTOCOL_MINOR: u16 = 0;
/// Records before authentication are at most this long.
pub(crate) const PREAUTH_MAX: usize = 4096;
/// The MAC's length.
pub(crate) const MAC_LEN: usize = 32;
/// Bodies are read in chunks of this size, so memory follows the data that arrives.
const READ_CHUNK: usize = 64 * 1024;
/// The writer gathers frames into records of about this size: enough to make each write
/// worth its system call, and small enough that a backlog (after a stall or a partition)
/// goes out as many records, not one the size of the backlog.
pub(crate) const RECORD_TARGET: usize = 64 * 1024;
/// A reader's or writer's buffer that grew past this (for one large frame) is given back
/// rather than kept for the rest of the connection.
const BUFFER_KEPT: usize = 2 * RECORD_TARGET;

type HmacSha256 = Hmac<Sha256>;

/// The room a record of the target size takes in a writer's buffer: its length, its
/// body and its MAC.
const RECORD_ROOM: usize = LEN_PREFIX + RECORD_TARGET + MAC_LEN;

/// Makes room in `buf` for `additional` more bytes, doubling as a `Vec` does, except
/// that a buffer which holds records of the target size stops at that size rather
/// than at twice it (the next power of two), which would also put it past the
/// allocator's threshold for memory of its own. A larger record grows it as usual.
fn reserve_capped(buf: &mut Vec<u8>, additional: usize) {
    let need = buf.len() + additional;
    if need > buf.capacity() {
        let doubled = buf.capacity() * 2;
        let room = if need <= RECORD_ROOM {
            doubled.min(RECORD_ROOM).max(need)
        } else {
            doubled.max(need)
        };
        buf.reserve_exact(room - buf.len());
    }
}

/// Why a connection's stream was refused or closed.
#[derive(Debug)]
#[non_exhaustive]
pub enum WireError {
    /// The connection failed.
    Io(io::Error),
    /// The peer closed the connection.
    Closed,
    /// The first bytes were not rcos's preamble (another protocol, or garbage).
    BadMagic([u8; 4]),
    /// The peer speaks an incompatible protocol version.
    Version {
        /// The peer's major version.
        major: u16,
        /// The peer's minor version.
        minor: u16,
    },
    /// A record longer than the limit.
    TooLarge {
        /// The declared length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A record failed its MAC check (tampered, replayed or out of order).
    BadMac,
    /// A frame did not decode.
    Decode(String),
    /// The peer broke the protocol (an unexpected frame, a failed authentication).
    Protocol(String),
    /// The peer did not finish in time.
    Timeout,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Io(e) => write!(f, "connection error: {e}"),
            WireError::Closed => f.write_str("connection closed by the peer"),
            WireError::BadMagic(bytes) => write!(f, "not an rcos peer (first bytes {bytes:02x?})"),
            WireError::Version { major, minor } => {
                write!(
                    f,
                    "incompatible protocol version {major}.{minor} (this is {PROTOCOL_MAJOR}.{PROTOCOL_MINOR})"
                )
            }
            WireError::TooLarge { len, max } => {
                write!(f, "record of {len} bytes exceeds the limit of {max}")
            }
            WireError::BadMac => f.write_str("record failed its integrity check"),
            WireError::Decode(e) => write!(f, "undecodable frame: {e}"),
            WireError::Protocol(e) => write!(f, "protocol violation: {e}"),
            WireError::Timeout => f.write_str("the peer did not answer in time"),
        }
    }
}

impl std::error::Error for WireError {}

impl WireError {
    /// A copy of this error for another waiter (an I/O error keeps its kind and text).
    pub(crate) fn duplicate(&self) -> WireError {
        match self {
            WireError::Io(e) => WireError::Io(io::Error::new(e.kind(), e.to_string())),
            WireError::Closed => WireError::Closed,
            WireError::BadMagic(bytes) => WireError::BadMagic(*bytes),
            WireError::Version { major, minor } => WireError::Version {
                major: *major,
                minor: *minor,
            },
            WireError::TooLarge { len, max } => WireError::TooLarge {
                len: *len,
                max: *max,
            },
            WireError::BadMac => WireError::BadMac,
            WireError::Decode(why) => WireError::Decode(why.clone()),
            WireError::Protocol(why) => WireError::Protocol(why.clone()),
            WireError::Timeout => WireError::Timeout,
        }
    }
}

impl From<io::Error> for WireError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            WireError::Closed
        } else {
            WireError::Io(e)
        }
    }
}

/// A direction's MAC key, with the sequence number of the next record.
pub(crate) struct MacState {
    keyed: HmacSha256,
    seq: u64,
}

impl MacState {
    pub(crate) fn new(key: &[u8; 32]) -> MacState {
        MacState {
            // HMAC takes keys of any length: this cannot fail.
            keyed: HmacSha256::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC accepts any key length")),
            seq: 0,
        }
    }

    fn tag(&mut self, body: &[u8]) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(&self.seq.to_be_bytes());
        mac.update(body);
        self.seq += 1;
        mac
    }
}

/// Writes the preamble.
pub(crate) async fn write_preamble<W: AsyncWrite + Unpin>(w: &mut W) -> Result<(), WireError> {
    let mut pre = [0u8; 8];
    pre[..4].copy_from_slice(&MAGIC);
    pre[4..6].copy_from_slice(&PROTOCOL_MAJOR.to_be_bytes());
    pre[6..].copy_from_slice(&PROTOCOL_MINOR.to_be_bytes());
    w.write_all(&pre).await?;
    w.flush().await?;
    Ok(())
}

/// Reads and checks the peer's preamble; returns the minor version both will use.
///
/// The magic is checked on the first four bytes, before anything else is read: TLS,
/// HTTP or garbage on the port is refused at once.
pub(crate) async fn read_preamble<R: AsyncRead + Unpin>(r: &mut R) -> Result<u16, WireError> {
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic).await?;
    if magic != MAGIC {
        return Err(WireError::BadMagic(magic));
    }
    let mut version = [0u8; 4];
    r.read_exact(&mut version).await?;
    let major = u16::from_be_bytes([version[0], version[1]]);
    let minor = u16::from_be_bytes([version[2], version[3]]);
    if major != PROTOCOL_MAJOR {
        return Err(WireError::Version { major, minor });
    }
    // Version 1.0 has no lower minor to meet a peer at yet; the rule stands for later ones.
    #[allow(clippy::unnecessary_min_or_max)]
    Ok(minor.min(PROTOCOL_MINOR))
}

/// Reads records.
pub(crate) struct RecordReader<R> {
    inner: R,
    max: usize,
    mac: Option<MacState>,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> RecordReader<R> {
    pub(crate) fn new(inner: R, max: usize) -> Self {
        RecordReader {
            inner,
            max,
            mac: None,
            buf: Vec::new(),
        }
    }

    /// From now on records carry a MAC under `key`.
    pub(crate) fn set_mac(&mut self, key: Option<&[u8; 32]>) {
        self.mac = key.map(MacState::new);
    }

    /// The next record's body; [`WireError::Closed`] at a clean end of stream.
    pub(crate) async fn read_record(&mut self) -> Result<&[u8], WireError> {
        if self.buf.capacity() > BUFFER_KEPT {
            // The last record was a large one: do not hold its size while waiting for
            // the next (a connection may stay quiet for a long time).
            self.buf = Vec::new();
        }
        let mut len = [0u8; 4];
        self.inner.read_exact(&mut len).await?;
        let len = u32::from_be_bytes(len) as usize;
        if len > self.max {
            return Err(WireError::TooLarge { len, max: self.max });
        }
        let total = len + if self.mac.is_some() { MAC_LEN } else { 0 };
        // The buffer keeps the length of the longest record read so far (up to
        // `BUFFER_KEPT`), so a record is read over the last one's bytes instead of into
        // memory zeroed for it first. It grows with the data that actually arrives, not
        // with the declared length.
        let mut filled = 0;
        while filled < total {
            let end = filled + (total - filled).min(READ_CHUNK);
            if self.buf.len() < end {
                let more = end - self.buf.len();
                reserve_capped(&mut self.buf, more);
                self.buf.resize(end, 0);
            }
            self.inner.read_exact(&mut self.buf[filled..end]).await?;
            filled = end;
        }
        if let Some(mac) = self.mac.as_mut() {
            let (body, tag) = self.buf[..total].split_at(len);
            // Constant-time comparison.
            mac.tag(body)
                .verify_slice(tag)
                .map_err(|_| WireError::BadMac)?;
        }
        Ok(&self.buf[..len])
    }
}

/// The length in front of a record's body.
const LEN_PREFIX: usize = 4;

/// Writes records, gathering several frames into one.
pub(crate) struct RecordWriter<W> {
    inner: W,
    max: usize,
    mac: Option<MacState>,
    /// The record being gathered: room for its length, then its frames (then, as it
    /// is written, its MAC), so that a record goes out in one write.
    body: Vec<u8>,
}

impl<W: AsyncWrite + Unpin> RecordWriter<W> {
    pub(crate) fn new(inner: W, max: usize) -> Self {
        RecordWriter {
            inner,
            max,
            mac: None,
            body: Vec::new(),
        }
    }

    pub(crate) fn set_mac(&mut self, key: Option<&[u8; 32]>) {
        self.mac = key.map(MacState::new);
    }

    /// The stream written to (for `net::__fuzz`, which writes raw bytes between records).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn inner_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The length of the frames gathered so far.
    fn gathered(&self) -> usize {
        self.body.len().saturating_sub(LEN_PREFIX)
    }

    /// Adds an encoded frame to the next record; writes the record first if the frame
    /// would take it past [`RECORD_TARGET`] (or the largest record). A frame larger than
    /// a whole record is refused; one larger than the target goes in a record of its own.
    pub(crate) async fn push_encoded(&mut self, frame: &[u8]) -> Result<(), WireError> {
        if frame.len() > self.max {
            return Err(WireError::TooLarge {
                len: frame.len(),
                max: self.max,
            });
        }
        if self.gathered() > 0 && self.gathered() + frame.len() > self.max.min(RECORD_TARGET) {
            self.write_record().await?;
        }
        if self.body.is_empty() {
            reserve_capped(&mut self.body, LEN_PREFIX + frame.len());
            self.body.extend_from_slice(&[0; LEN_PREFIX]);
        }
        reserve_capped(&mut self.body, frame.len());
        self.body.extend_from_slice(frame);
        Ok(())
    }

    /// Writes what was gathered as one record (if anything) and flushes.
    pub(crate) async fn flush(&mut self) -> Result<(), WireError> {
        if self.gathered() > 0 {
            self.write_record().await?;
        }
        self.inner.flush().await?;
        Ok(())
    }

    async fn write_record(&mut self) -> Result<(), WireError> {
        let gathered = self.gathered();
        let len = u32::try_from(gathered).map_err(|_| WireError::TooLarge {
            len: gathered,
            max: self.max,
        })?;
        if let Some(prefix) = self.body.get_mut(..LEN_PREFIX) {
            prefix.copy_from_slice(&len.to_be_bytes());
        }
        if let Some(mac) = self.mac.as_mut() {
            let tag = mac
                .tag(self.body.get(LEN_PREFIX..).unwrap_or_default())
                .finalize()
                .into_bytes();
            reserve_capped(&mut self.body, MAC_LEN);
            self.body.extend_from_slice(&tag);
        }
        // Length, body and MAC in one write (one system call, one segment).
        self.inner.write_all(&self.body).await?;
        self.body.clear();
        if self.body.capacity() > BUFFER_KEPT {
            self.body = Vec::new();
        }
        Ok(())
    }
}

/// Encodes one frame.
pub(crate) fn encode_frame<T: Serialize>(frame: &T, out: &mut Vec<u8>) -> Result<(), WireError> {
    ciborium::into_writer(frame, out).map_err(|e| WireError::Decode(e.to_string()))
}

/// Decodes one frame from the front of `body`, advancing it past the frame, with CBOR
/// nested at most `depth` deep.
pub(crate) fn decode_one<T: DeserializeOwned>(
    body: &mut &[u8],
    depth: usize,
) -> Result<T, WireError> {
    ciborium::de::from_reader_with_recursion_limit(body, depth.min(DECODE_DEPTH_LIMIT))
        .map_err(|e| WireError::Decode(e.to_string()))
}

/// Decodes the frames of a record body, in order.
pub(crate) fn decode_frames<T: DeserializeOwned>(
    mut body: &[u8],
) -> impl Iterator<Item = Result<T, WireError>> + '_ {
    std::iter::from_fn(move || {
        if body.is_empty() {
            return None;
        }
        let frame = ciborium::de::from_reader_with_recursion_limit(&mut body, DECODE_DEPTH_LIMIT)
            .map_err(|e| WireError::Decode(e.to_string()));
        if frame.is_err() {
            // Stop after the first bad frame: the rest of the record is unreliable.
            body = &[];
        }
        Some(frame)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        futures_lite::future::block_on(f)
    }

    #[test]
    fn records_round_trip_with_and_without_mac() {
        for key in [None, Some([7u8; 32])] {
            let mut wire = Vec::new();
            {
                let mut w = RecordWriter::new(&mut wire, 1024);
                w.set_mac(key.as_ref());
                let mut frame = Vec::new();
                encode_frame(&("hello", 1u32), &mut frame).unwrap();
                block_on(w.push_encoded(&frame)).unwrap();
                block_on(w.push_encoded(&frame)).unwrap();
                block_on(w.flush()).unwrap();
                block_on(w.push_encoded(&frame)).unwrap();
                block_on(w.flush()).unwrap();
            }
            let mut r = RecordReader::new(wire.as_slice(), 1024);
            r.set_mac(key.as_ref());
            let first: Vec<(String, u32)> = decode_frames(block_on(r.read_record()).unwrap())
                .map(Result::unwrap)
                .collect();
            assert_eq!(first.len(), 2);
            let second: Vec<(String, u32)> = decode_frames(block_on(r.read_record()).unwrap())
                .map(Result::unwrap)
                .collect();
            assert_eq!(second, [("hello".to_string(), 1)]);
            assert!(matches!(block_on(r.read_record()), Err(WireError::Closed)));
        }
    }

    #[test]
    fn a_backlog_goes_out_in_records_of_the_target_size_and_buffers_shrink_back() {
        let mut wire = Vec::new();
        let max = 16 << 20;
        let frame = vec![0x40u8; 1000];
        let big = vec![0x41u8; 3 * RECORD_TARGET];
        {
            let mut w = RecordWriter::new(&mut wire, max);
            // A backlog of 1 MB of small frames, then one large frame, then a small one.
            for _ in 0..1000 {
                block_on(w.push_encoded(&frame)).unwrap();
                // Records of the target size need no more room than that (not the
                // next power of two).
                assert!(w.body.capacity() <= RECORD_ROOM);
            }
            block_on(w.push_encoded(&big)).unwrap();
            block_on(w.push_encoded(&frame)).unwrap();
            assert!(
                w.body.capacity() <= BUFFER_KEPT,
                "the writer gave back the large record's buffer: {}",
                w.body.capacity()
            );
            block_on(w.flush()).unwrap();
        }
        let mut r = RecordReader::new(wire.as_slice(), max);
        let mut sizes = Vec::new();
        while let Ok(body) = block_on(r.read_record()) {
            sizes.push(body.len());
            if body.len() <= RECORD_TARGET {
                // Not held at the large record's size after it, nor doubled past the
                // target for records of the target size.
                assert!(r.buf.capacity() <= RECORD_ROOM, "{}", r.buf.capacity());
            }
        }
        assert_eq!(sizes.iter().sum::<usize>(), 1001 * 1000 + big.len());
        // Small frames fill records up to the target and no further; the large frame
        // travels alone.
        assert!(sizes.iter().all(|&n| n <= RECORD_TARGET || n == big.len()));
        assert!(sizes.len() >= 1_001_000 / RECORD_TARGET + 2, "{sizes:?}");
        assert_eq!(sizes.iter().filter(|&&n| n == big.len()).count(), 1);
    }

    /// Counts the writes made to it.
    #[derive(Default)]
    struct CountingWriter {
        writes: Vec<usize>,
        bytes: Vec<u8>,
    }

    impl futures_lite::AsyncWrite for CountingWriter {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            self.writes.push(buf.len());
            self.bytes.extend_from_slice(buf);
            std::task::Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn poll_close(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn a_record_is_its_length_its_frames_and_its_mac_in_one_write() {
        for key in [None, Some([3u8; 32])] {
            let mut w = RecordWriter::new(CountingWriter::default(), 1024);
            w.set_mac(key.as_ref());
            block_on(w.push_encoded(&[0x01, 0x02])).unwrap();
            block_on(w.push_encoded(&[])).unwrap();
            block_on(w.push_encoded(&[0x03])).unwrap();
            block_on(w.flush()).unwrap();
            // Nothing gathered: a flush writes no empty record.
            block_on(w.flush()).unwrap();
            block_on(w.push_encoded(&[0x04])).unwrap();
            block_on(w.flush()).unwrap();
            let mut expected = vec![0, 0, 0, 3, 0x01, 0x02, 0x03];
            let mut mac = key.as_ref().map(MacState::new);
            if let Some(mac) = mac.as_mut() {
                expected.extend_from_slice(&mac.tag(&[0x01, 0x02, 0x03]).finalize().into_bytes());
            }
            expected.extend_from_slice(&[0, 0, 0, 1, 0x04]);
            if let Some(mac) = mac.as_mut() {
                expected.extend_from_slice(&mac.tag(&[0x04]).finalize().into_bytes());
            }
            assert_eq!(w.inner.bytes, expected);
            // One write per record: length, body and MAC together.
            let mac_len = if key.is_some() { MAC_LEN } else { 0 };
            assert_eq!(
                w.inner.writes,
                [LEN_PREFIX + 3 + mac_len, LEN_PREFIX + 1 + mac_len]
            );
        }
    }

    #[test]
    fn a_tampered_or_replayed_record_fails_its_mac() {
        let key = [1u8; 32];
        let mut wire = Vec::new();
        {
            let mut w = RecordWriter::new(&mut wire, 1024);
            w.set_mac(Some(&key));
            block_on(w.push_encoded(&[0x01])).unwrap();
            block_on(w.flush()).unwrap();
        }
        let mut tampered = wire.clone();
        tampered[4] ^= 0xff;
        let mut r = RecordReader::new(tampered.as_slice(), 1024);
        r.set_mac(Some(&key));
        assert!(matches!(block_on(r.read_record()), Err(WireError::BadMac)));
        // The same record twice: the second has the wrong sequence number.
        let mut replayed = wire.clone();
        replayed.extend_from_slice(&wire);
        let mut r = RecordReader::new(replayed.as_slice(), 1024);
        r.set_mac(Some(&key));
        assert!(block_on(r.read_record()).is_ok());
        assert!(matches!(block_on(r.read_record()), Err(WireError::BadMac)));
    }

    #[test]
    fn a_huge_length_is_refused_before_reading_or_allocating() {
        let wire = [0xff, 0xff, 0xff, 0xff, 0, 0];
        let mut r = RecordReader::new(&wire[..], 1 << 20);
        assert!(matches!(
            block_on(r.read_record()),
            Err(WireError::TooLarge {
                len: 0xffff_ffff,
                ..
            })
        ));
        assert!(r.buf.capacity() < 4096);
    }

    #[test]
    fn a_foreign_protocol_is_refused_on_its_first_bytes() {
        let tls_hello = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01];
        assert!(matches!(
            block_on(read_preamble(&mut &tls_hello[..])),
            Err(WireError::BadMagic(_))
        ));
        assert!(matches!(
            block_on(read_preamble(&mut &b"GET / HTTP/1.1\r\n"[..])),
            Err(WireError::BadMagic(_))
        ));
        let mut future = Vec::new();
        future.extend_from_slice(b"RCOS");
        future.extend_from_slice(&2u16.to_be_bytes());
        future.extend_from_slice(&0u16.to_be_bytes());
        assert!(matches!(
            block_on(read_preamble(&mut future.as_slice())),
            Err(WireError::Version { major: 2, .. })
        ));
        let mut newer_minor = Vec::new();
        newer_minor.extend_from_slice(b"RCOS");
        newer_minor.extend_from_slice(&PROTOCOL_MAJOR.to_be_bytes());
        newer_minor.extend_from_slice(&9u16.to_be_bytes());
        assert_eq!(
            block_on(read_preamble(&mut newer_minor.as_slice())).unwrap(),
            PROTOCOL_MINOR
        );
    }

    #[test]
    fn deep_nesting_and_garbage_frames_are_errors() {
        let deep = vec![0x81u8; 10_000];
        let frames: Vec<Result<Vec<u8>, _>> = decode_frames(&deep).collect();
        assert!(frames.len() == 1 && frames[0].is_err());
        let garbage = [0xffu8, 0x00, 0x13];
        assert!(decode_frames::<u32>(&garbage).next().unwrap().is_err());
    }
}
