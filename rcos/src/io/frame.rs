//! Length-framed messages on any byte stream: pycos's `send_msg` / `recv_msg`.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes. Written once here,
//! generic over `futures-io`'s `AsyncRead` / `AsyncWrite`, and used by every stream type.

use std::fmt;
use std::io::{self, ErrorKind, IoSlice};

use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

/// The largest message `recv_msg` accepts unless told otherwise: 16 MiB.
pub const DEFAULT_MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// How much of a message body is read (and allocated) at a time.
const CHUNK: usize = 64 * 1024;

/// Sends `msg` on `writer` as one frame: its length as 4 bytes, big-endian, then its
/// bytes; then flushes `writer` (so that a TLS stream sends it at once).
///
/// This is pycos's `AsyncSocket.send_msg`, for any `futures-io` writer. The socket types
/// have it as a method.
///
/// ```
/// # futures_lite::future::block_on(async {
/// let mut wire = Vec::new();
/// rcos::io::send_msg(&mut wire, b"hi").await?;
/// assert_eq!(wire, [0, 0, 0, 2, b'h', b'i']);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
///
/// # Errors
/// The writer's errors; [`ErrorKind::InvalidInput`] for a message of 4 GiB or more,
/// which the length prefix cannot express (nothing is written then).
pub async fn send_msg<W>(writer: &mut W, msg: &[u8]) -> io::Result<()>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    let len = u32::try_from(msg.len()).map_err(|_| {
        io::Error::new(
            ErrorKind::InvalidInput,
            MessageTooLarge {
                size: msg.len() as u64,
                limit: u32::MAX as usize,
            },
        )
    })?;
    let header = len.to_be_bytes();
    // Header and body in one vectored write where the stream supports it: one system
    // call (or one TLS record) for a small message instead of two.
    let (mut head_done, mut body_done) = (0, 0);
    while head_done < header.len() || body_done < msg.len() {
        let bufs = [
            IoSlice::new(&header[head_done..]),
            IoSlice::new(&msg[body_done..]),
        ];
        let n = match writer.write_vectored(&bufs).await {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let to_head = n.min(header.len() - head_done);
        head_done += to_head;
        body_done += n - to_head;
    }
    writer.flush().await
}

/// Receives one frame sent with [`send_msg`] from `reader`, accepting at most `max`
/// bytes of body.
///
/// This is pycos's `AsyncSocket.recv_msg`, for any `futures-io` reader:
///
/// - `Ok(Some(msg))`: a whole message;
/// - `Ok(None)`: the stream ended, before a message or in the middle of one (the partial
///   message is dropped, never returned); a read error of kind `UnexpectedEof`, which
///   is how TLS reports a peer that closed without its close notification, counts as
///   the end too;
/// - `Err` of kind [`ErrorKind::InvalidData`], carrying a [`MessageTooLarge`], when the
///   prefix announces more than `max` bytes. Nothing is allocated for it, and nothing
///   more is read: the stream is out of step from then on and should be closed.
///
/// The body is read and allocated in chunks as it arrives, so memory grows with what
/// the peer actually sends, never with what it announces.
///
/// This function keeps no state between calls, so dropping its future part way loses
/// the bytes read so far; the socket types' `recv_msg` methods do not have that problem.
///
/// ```
/// # futures_lite::future::block_on(async {
/// let mut wire: &[u8] = &[0, 0, 0, 2, b'h', b'i', 0, 0, 0, 9, b'c', b'u', b't'];
/// let max = rcos::io::DEFAULT_MAX_MESSAGE;
/// assert_eq!(rcos::io::recv_msg(&mut wire, max).await?, Some(b"hi".to_vec()));
/// assert_eq!(rcos::io::recv_msg(&mut wire, max).await?, None); // cut short: none
///
/// let mut hostile: &[u8] = &[0xFF, 0xFF, 0xFF, 0xFF];
/// let err = rcos::io::recv_msg(&mut hostile, max).await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
///
/// # Errors
/// The reader's errors, and [`ErrorKind::InvalidData`] for a message over `max`.
pub async fn recv_msg<R>(reader: &mut R, max: usize) -> io::Result<Option<Vec<u8>>>
where
    R: AsyncRead + Unpin + ?Sized,
{
    FrameReader::default().read(reader, max).await
}

/// A message that is larger than the limit: the error inside the [`io::Error`] that
/// `recv_msg` returns for an oversized length prefix (kind `InvalidData`) and that
/// `send_msg` returns for a message of 4 GiB or more (kind `InvalidInput`).
///
/// ```
/// # futures_lite::future::block_on(async {
/// use rcos::io::MessageTooLarge;
///
/// let mut wire: &[u8] = &[0, 0, 1, 0]; // announces 256 bytes
/// let err = rcos::io::recv_msg(&mut wire, 100).await.unwrap_err();
/// let too_large = err.get_ref().and_then(|e| e.downcast_ref::<MessageTooLarge>()).unwrap();
/// assert_eq!((too_large.size(), too_large.limit()), (256, 100));
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageTooLarge {
    size: u64,
    limit: usize,
}

impl MessageTooLarge {
    /// The size of the message, in bytes, as announced or given.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The limit it exceeds, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl fmt::Display for MessageTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "message of {} bytes exceeds the limit of {} bytes",
            self.size, self.limit
        )
    }
}

impl std::error::Error for MessageTooLarge {}

/// The state of one `recv_msg` in progress, kept by a socket between calls so that a
/// cancelled `recv_msg` loses nothing.
///
/// Cancel-safe because every `.await` is a single `read`, which either completes (and
/// its bytes are recorded in `self` before the next await) or consumes nothing.
#[derive(Default)]
pub(crate) struct FrameReader {
    header: [u8; 4],
    header_len: usize,
    /// The announced body length, once the header is complete.
    expect: Option<usize>,
    body: Vec<u8>,
    filled: usize,
    /// Set after an oversized prefix: the stream is out of step for good.
    failed: Option<MessageTooLarge>,
}

impl FrameReader {
    /// Reads the rest of the current frame.
    pub(crate) async fn read<R>(
        &mut self,
        reader: &mut R,
        max: usize,
    ) -> io::Result<Option<Vec<u8>>>
    where
        R: AsyncRead + Unpin + ?Sized,
    {
        if let Some(too_large) = self.failed {
            return Err(io::Error::new(ErrorKind::InvalidData, too_large));
        }
        let len = match self.expect {
            Some(len) => len,
            None => {
                while self.header_len < self.header.len() {
                    match read_or_eof(reader, &mut self.header[self.header_len..]).await {
                        Ok(0) => {
                            if self.header_len > 0 {
                                tracing::debug!(
                                    got = self.header_len,
                                    "stream ended inside a message's length prefix"
                                );
                            }
                            self.reset();
                            return Ok(None);
                        }
                        Ok(n) => self.header_len += n,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                let announced = u32::from_be_bytes(self.header);
                let len = match usize::try_from(announced) {
                    Ok(len) if len <= max => len,
                    _ => {
                        let too_large = MessageTooLarge {
                            size: u64::from(announced),
                            limit: max,
                        };
                        self.reset();
                        self.failed = Some(too_large);
                        return Err(io::Error::new(ErrorKind::InvalidData, too_large));
                    }
                };
                self.expect = Some(len);
                len
            }
        };
        while self.filled < len {
            let end = len.min(self.filled + CHUNK);
            if self.body.len() < end {
                self.body
                    .try_reserve(end - self.body.len())
                    .map_err(|e| io::Error::new(ErrorKind::OutOfMemory, e))?;
                self.body.resize(end, 0);
            }
            match read_or_eof(reader, &mut self.body[self.filled..end]).await {
                Ok(0) => {
                    tracing::debug!(
                        expected = len,
                        got = self.filled,
                        "stream ended in the middle of a message"
                    );
                    self.reset();
                    return Ok(None);
                }
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let mut body = std::mem::take(&mut self.body);
        body.truncate(len);
        self.reset();
        Ok(Some(body))
    }

    fn reset(&mut self) {
        self.header_len = 0;
        self.expect = None;
        self.body = Vec::new();
        self.filled = 0;
    }
}

/// One `read`, with an `UnexpectedEof` error taken as the end of the stream: TLS reports
/// a peer that closed without its close notification that way. The framing tells a
/// whole message from a cut one by itself, so the notification adds nothing here.
async fn read_or_eof<R>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize>
where
    R: AsyncRead + Unpin + ?Sized,
{
    match reader.read(buf).await {
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
            tracing::trace!(error = %e, "stream ended abruptly");
            Ok(0)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use futures_lite::future::block_on;

    use super::*;

    /// A reader that hands out its data a few bytes at a time and then reports
    /// `Pending` once (waking itself) before each chunk.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        step: usize,
        pending_next: bool,
        /// At the end of `data`: wait forever (a silent peer) instead of reporting EOF.
        hang_at_end: bool,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            if self.pos == self.data.len() && self.hang_at_end {
                return Poll::Pending;
            }
            if self.pending_next {
                self.pending_next = false;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.pending_next = true;
            let n = buf.len().min(self.step).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Poll::Ready(Ok(n))
        }
    }

    fn framed(msgs: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in msgs {
            out.extend_from_slice(&(m.len() as u32).to_be_bytes());
            out.extend_from_slice(m);
        }
        out
    }

    #[test]
    fn round_trip_in_small_pieces() {
        let big = vec![7u8; 3 * CHUNK + 5];
        let mut r = Trickle {
            data: framed(&[b"one", b"", &big]),
            pos: 0,
            step: 3,
            pending_next: false,
            hang_at_end: false,
        };
        let mut fr = FrameReader::default();
        block_on(async {
            assert_eq!(
                fr.read(&mut r, 1 << 20).await.unwrap(),
                Some(b"one".to_vec())
            );
            assert_eq!(fr.read(&mut r, 1 << 20).await.unwrap(), Some(Vec::new()));
            r.step = 10_000;
            assert_eq!(fr.read(&mut r, 1 << 20).await.unwrap(), Some(big.clone()));
            assert_eq!(fr.read(&mut r, 1 << 20).await.unwrap(), None);
        });
    }

    #[test]
    fn cancelled_read_resumes_where_it_stopped() {
        let mut r = Trickle {
            data: framed(&[b"hello world"]),
            pos: 0,
            step: 2,
            pending_next: false,
            hang_at_end: false,
        };
        let mut fr = FrameReader::default();
        // Poll once per future and drop it: each poll consumes at most one chunk.
        let mut polls = 0;
        let msg = loop {
            polls += 1;
            let fut = fr.read(&mut r, 100);
            let mut fut = std::pin::pin!(fut);
            let waker = std::task::Waker::noop();
            if let Poll::Ready(out) = fut.as_mut().poll(&mut Context::from_waker(waker)) {
                break out.unwrap();
            }
        };
        assert_eq!(msg, Some(b"hello world".to_vec()));
        assert!(polls > 5, "the message took {polls} polls");
    }

    #[test]
    fn memory_follows_the_data_not_the_prefix() {
        // Announces 16 MiB, sends 10 bytes.
        let mut data = (DEFAULT_MAX_MESSAGE as u32).to_be_bytes().to_vec();
        data.extend_from_slice(&[1; 10]);
        let mut r = Trickle {
            data,
            pos: 0,
            step: 100,
            pending_next: false,
            hang_at_end: true,
        };
        let mut fr = FrameReader::default();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        for _ in 0..6 {
            let fut = fr.read(&mut r, DEFAULT_MAX_MESSAGE);
            let mut fut = std::pin::pin!(fut);
            assert!(fut.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(fr.filled, 10);
        assert!(fr.body.capacity() <= 2 * CHUNK, "{}", fr.body.capacity());
    }

    #[test]
    fn oversized_prefix_is_an_error_and_sticks() {
        let mut r: &[u8] = &[0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3];
        let mut fr = FrameReader::default();
        block_on(async {
            let err = fr.read(&mut r, DEFAULT_MAX_MESSAGE).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidData);
            assert!(err.to_string().contains("4294967295"), "{err}");
            let again = fr.read(&mut r, DEFAULT_MAX_MESSAGE).await.unwrap_err();
            assert_eq!(again.kind(), ErrorKind::InvalidData);
        });
        assert_eq!(fr.body.capacity(), 0);
    }

    #[test]
    fn eof_inside_the_prefix_is_none() {
        let mut r: &[u8] = &[0, 0];
        assert_eq!(block_on(recv_msg(&mut r, 10)).unwrap(), None);
    }

    #[test]
    fn send_msg_writes_prefix_and_body() {
        let mut out = Vec::new();
        block_on(send_msg(&mut out, b"abc")).unwrap();
        assert_eq!(out, framed(&[b"abc"]));
    }
}
