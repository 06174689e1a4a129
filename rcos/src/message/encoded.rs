//! A message in its wire form: its wire name and its CBOR bytes, held in one buffer that
//! lives inline (no allocation) while both fit in [`INLINE`] bytes, as small messages
//! do, and in one exact-size heap buffer otherwise.

use std::cell::RefCell;
use std::fmt;

/// How many bytes of wire name and encoding together an [`Encoded`] holds without
/// allocating. With the buffer's length and the variant's tag this makes the buffer 48
/// bytes, twice a `Vec`'s header: room for a short name and a few numbers.
pub(crate) const INLINE: usize = 46;

/// The bytes of an [`Encoded`]: the wire name, then the encoding.
#[derive(Clone)]
enum Buf {
    Inline { len: u8, data: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Buf {
    fn from_parts(name: &[u8], bytes: &[u8]) -> Buf {
        let total = name.len() + bytes.len();
        if total <= INLINE {
            let mut data = [0u8; INLINE];
            data[..name.len()].copy_from_slice(name);
            data[name.len()..total].copy_from_slice(bytes);
            Buf::Inline {
                // `total` is at most INLINE, which fits in a byte.
                len: total as u8,
                data,
            }
        } else {
            let mut all = Vec::with_capacity(total);
            all.extend_from_slice(name);
            all.extend_from_slice(bytes);
            Buf::Heap(all.into_boxed_slice())
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Buf::Inline { len, data } => &data[..usize::from(*len)],
            Buf::Heap(all) => all,
        }
    }
}

/// A message in its wire form: a wire name and the CBOR encoding of the value.
#[derive(Clone)]
pub(crate) struct Encoded {
    buf: Buf,
    /// Where the name ends and the encoding begins in `buf`.
    name_len: usize,
}

impl Encoded {
    /// The wire form of a message named `name` encoded as `bytes` (copied: inline when
    /// both fit in [`INLINE`] bytes).
    pub(crate) fn new(name: &str, bytes: &[u8]) -> Encoded {
        Encoded {
            buf: Buf::from_parts(name.as_bytes(), bytes),
            name_len: name.len(),
        }
    }

    /// The wire name.
    pub(crate) fn name(&self) -> &str {
        // The name was a `str` when it was stored, so this always succeeds.
        std::str::from_utf8(self.buf.as_slice().get(..self.name_len).unwrap_or_default())
            .unwrap_or_default()
    }

    /// The CBOR encoding of the value.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.buf.as_slice().get(self.name_len..).unwrap_or_default()
    }

    /// Whether name and encoding are held inline (for tests of the boundary).
    #[cfg(test)]
    pub(crate) fn is_inline(&self) -> bool {
        matches!(self.buf, Buf::Inline { .. })
    }
}

impl fmt::Debug for Encoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoded")
            .field("name", &self.name())
            .field("len", &self.bytes().len())
            .finish()
    }
}

/// Scratch buffers larger than this after a use are given back rather than kept by the
/// thread (one large message must not pin its size for the thread's lifetime).
const SCRATCH_KEPT: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's cleared scratch buffer (a fresh one if it is in use
/// further up the stack, as when encoding re-enters itself), then keeps the buffer for
/// the next use unless it grew large.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut f = Some(f);
    let mut run = |buf: &mut Vec<u8>| f.take().map(|f| f(buf));
    let kept = SCRATCH
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                buf.clear();
                let out = run(&mut buf);
                if buf.capacity() > SCRATCH_KEPT {
                    *buf = Vec::new();
                }
                out
            }
            // In use further up the stack: a buffer of its own.
            Err(_) => run(&mut Vec::new()),
        })
        .ok()
        .flatten();
    match kept {
        Some(out) => out,
        // The thread is ending and its scratch is gone: a buffer of its own.
        None => match f.take() {
            Some(f) => f(&mut Vec::new()),
            None => unreachable!("`f` runs exactly once"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inline_boundary_round_trips_on_both_sides() {
        for total in [0, 1, INLINE - 1, INLINE, INLINE + 1, 1000] {
            for name in ["", "u64", "a name of twenty char"] {
                if name.len() > total {
                    continue;
                }
                let bytes: Vec<u8> = (0..total - name.len()).map(|i| i as u8).collect();
                let enc = Encoded::new(name, &bytes);
                assert_eq!(enc.name(), name);
                assert_eq!(enc.bytes(), &bytes[..]);
                assert_eq!(enc.is_inline(), total <= INLINE, "total {total}");
                let copy = enc.clone();
                assert_eq!((copy.name(), copy.bytes()), (name, &bytes[..]));
            }
        }
        // 46 and 47 bytes of payload with an empty name: the last inline one and the
        // first on the heap.
        let at = Encoded::new("", &[9; 46]);
        let past = Encoded::new("", &[9; 47]);
        assert!(at.is_inline() && !past.is_inline());
        assert_eq!(at.bytes(), &[9; 46][..]);
        assert_eq!(past.bytes(), &[9; 47][..]);
        // Multi-byte characters in the name survive.
        let enc = Encoded::new("名前", &[1, 2]);
        assert_eq!((enc.name(), enc.bytes()), ("名前", &[1u8, 2][..]));
    }

    #[test]
    fn scratch_is_reused_and_reentrant() {
        let outer = with_scratch(|buf| {
            buf.extend_from_slice(b"outer");
            let inner = with_scratch(|inner| {
                assert!(inner.is_empty());
                inner.extend_from_slice(b"inner");
                inner.clone()
            });
            assert_eq!(buf.as_slice(), b"outer");
            inner
        });
        assert_eq!(outer, b"inner");
        with_scratch(|buf| {
            assert!(buf.is_empty(), "cleared for each use");
            buf.resize(SCRATCH_KEPT + 1, 0);
        });
        with_scratch(|buf| assert!(buf.capacity() <= SCRATCH_KEPT));
    }

    #[test]
    fn small_messages_decode_alike_and_deep_ones_are_still_refused() {
        use crate::message::{DECODE_DEPTH_LIMIT, decode, encode};
        for len in [0usize, 1, 23, 63, 64, 200, 250, 255, 256, 5000] {
            let text = "x".repeat(len);
            let bytes = encode(&text).unwrap();
            assert_eq!(decode::<String>(&bytes).unwrap(), text);
            let raw = vec![3u8; len];
            let bytes = encode(&raw).unwrap();
            assert_eq!(decode::<Vec<u8>>(&bytes).unwrap(), raw);
        }
        assert_eq!(
            decode::<(u8, Vec<u16>)>(&encode(&(7u8, vec![1u16, 300])).unwrap()).unwrap(),
            (7, vec![1, 300])
        );
        // Nested exactly to the limit, and one deeper, in fewer than 256 bytes.
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Tree(Vec<Tree>);
        impl crate::Message for Tree {
            fn wire_name() -> std::borrow::Cow<'static, str> {
                "Tree".into()
            }
        }
        let nested = |depth: usize| [vec![0x81u8; depth - 1], vec![0x80]].concat();
        assert!(decode::<Tree>(&nested(DECODE_DEPTH_LIMIT)).is_ok());
        assert!(decode::<Tree>(&nested(DECODE_DEPTH_LIMIT + 1)).is_err());
        assert!(decode::<Tree>(&nested(200)).is_err());
        assert!(decode::<u64>(&[]).is_err());
        assert!(decode::<u64>(&[0x1b, 1]).is_err());
    }
}

#[cfg(test)]
mod name_tests {
    use crate::Message;

    #[test]
    fn generic_wire_names_are_made_once_and_nest() {
        let name = <crate::Request<Vec<Option<u64>>>>::wire_name();
        assert_eq!(name, "rcos::Request<Vec<Option<u64>>>");
        assert!(matches!(name, std::borrow::Cow::Borrowed(_)));
        let again = <crate::Request<Vec<Option<u64>>>>::wire_name();
        assert!(
            std::ptr::eq(name.as_ptr(), again.as_ptr()),
            "the same string"
        );
        // From another thread: the same, without a second string.
        let there = std::thread::spawn(|| {
            <crate::Request<Vec<Option<u64>>>>::wire_name().as_ptr() as usize
        })
        .join()
        .unwrap();
        assert_eq!(there, name.as_ptr() as usize);
        assert_eq!(<Vec<u8>>::wire_name(), "Vec<u8>");
        assert_eq!(<crate::Request<u64>>::wire_name(), "rcos::Request<u64>");
    }
}
