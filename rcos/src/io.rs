//! Asynchronous I/O for tasks: sockets with length-framed messages, files and pipes.
//!
//! pycos turns blocking sockets, files and pipes into asynchronous ones (`AsyncSocket`,
//! `AsyncFile`, `AsyncPipe`) so that a task waiting for I/O lets the others run. The
//! types here do the same for rcos tasks. They are thin wrappers on the smol family of
//! crates (async-io's reactor, async-fs, async-process), which the rcos worker threads
//! drive, so an `.await` on a socket parks only the task that awaits.
//!
//! | pycos | rcos |
//! | --- | --- |
//! | `AsyncSocket(socket(AF_INET, SOCK_STREAM))`, `bind` + `listen` + `accept` | [`TcpListener::bind`], [`TcpListener::accept`] |
//! | `AsyncSocket.connect` | [`TcpStream::connect`] |
//! | `recv`, `send`, `sendall`, `recvall` | [`TcpStream::recv`], [`TcpStream::send`], [`TcpStream::send_all`], [`TcpStream::recv_exact`] |
//! | `send_msg(bytes)` / `recv_msg()` | [`TcpStream::send_msg`] / [`TcpStream::recv_msg`] (and the free [`send_msg`] / [`recv_msg`]) |
//! | `AsyncSocket(socket(AF_INET, SOCK_DGRAM))`, `sendto` / `recvfrom` | [`UdpSocket::send_to`] / [`UdpSocket::recv_from`] |
//! | `AsyncSocket(socket(AF_UNIX, ...))` | [`UnixListener`], [`UnixStream`] |
//! | `AsyncSocket(..., certfile=, keyfile=)` | `io::tls` (feature `tls`): `TlsAcceptor`, `TlsConnector`, `TlsStream` |
//! | `AsyncFile` | [`fs::File`] |
//! | `AsyncPipe(first, last)`, `communicate` | [`pipe::Pipe`], [`pipe::Pipe::communicate`] |
//!
//! # Messages on a stream
//!
//! A TCP, Unix or TLS stream carries bytes, not messages. [`send_msg`] frames a message
//! with a 4-byte big-endian length, as pycos's `send_msg` does (so rcos and pycos
//! programs can talk), and [`recv_msg`] reads one back:
//!
//! - `Ok(Some(bytes))`: a whole message (possibly empty);
//! - `Ok(None)`: the peer closed the connection, at a message boundary or in the middle
//!   of a message (pycos returns `b''` in both cases) — never a truncated message;
//! - `Err(e)` with [`ErrorKind::InvalidData`](std::io::ErrorKind::InvalidData): the length
//!   prefix announces more than the receiver's limit ([`DEFAULT_MAX_MESSAGE`], 16 MiB,
//!   unless set otherwise with `set_max_message`). The limit is checked before anything
//!   is allocated, and the body is read in chunks as it arrives, so a peer that
//!   announces a huge message and sends nothing costs no memory. The socket methods then
//!   shut that connection down: it is out of step and cannot be trusted further. Other
//!   connections are not affected.
//!
//! ```
//! use rcos::io::{TcpListener, TcpStream};
//!
//! # rcos::Runtime::new().unwrap().block_on(async {
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let server = rcos::spawn(move |_task| async move {
//!     let (mut conn, _peer) = listener.accept().await?;
//!     while let Some(msg) = conn.recv_msg().await? {
//!         conn.send_msg(&msg).await?; // echo each message back
//!     }
//!     std::io::Result::Ok(())
//! });
//!
//! let mut client = TcpStream::connect(addr).await?;
//! client.send_msg(b"hello").await?;
//! assert_eq!(client.recv_msg().await?.as_deref(), Some(&b"hello"[..]));
//! drop(client); // the server's recv_msg returns Ok(None) and the task ends
//! assert!(server.finish().await.is_returned());
//! # std::io::Result::Ok(())
//! # }).unwrap();
//! ```
//!
//! # Bytes
//!
//! Streams, files and pipes implement the `futures-io` traits `AsyncRead` and
//! `AsyncWrite` (files also `AsyncSeek`), so the extension traits of `futures-lite`
//! (`AsyncReadExt`, `AsyncWriteExt`, `AsyncBufReadExt`) or `futures` work on them. The
//! most common operations also exist as methods, so that small programs need no other
//! crate.
//!
//! # Cancellation
//!
//! `recv_msg` on a socket type is cancel-safe: if its future is dropped (for example by
//! a timeout) part way through a message, the bytes read so far stay with the socket
//! and the next `recv_msg` continues the same message. The free function [`recv_msg`]
//! keeps no such state. Writes (`send_msg`, `send_all`) are not cancel-safe: dropping
//! one part way leaves part of the message sent.

mod addr;
mod frame;
pub mod fs;
pub mod pipe;
mod tcp;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;
mod udp;
#[cfg(unix)]
mod unix;

pub use addr::ToSocketAddrs;
pub use frame::{DEFAULT_MAX_MESSAGE, MessageTooLarge, recv_msg, send_msg};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
#[cfg(unix)]
#[cfg_attr(docsrs, doc(cfg(unix)))]
pub use unix::{UnixListener, UnixStream};

/// The methods shared by the stream sockets (TCP and Unix): a shared `Async<T>` socket,
/// a frame reader for cancel-safe `recv_msg`, and a message size limit.
macro_rules! stream_common {
    ($Stream:ident, $std:ty, $Addr:ty) => {
        impl $Stream {
            pub(crate) fn from_async(inner: async_io::Async<$std>, max_message: usize) -> Self {
                $Stream {
                    inner: std::sync::Arc::new(inner),
                    frames: crate::io::frame::FrameReader::default(),
                    max_message,
                }
            }

            /// Sends one message: its length as 4 bytes, big-endian, then its bytes, as
            /// pycos's `send_msg` does; waits until all of it is written.
            ///
            /// # Errors
            /// The socket's errors; [`ErrorKind::InvalidInput`](std::io::ErrorKind::InvalidInput)
            /// for a message of 4 GiB or more, which the prefix cannot express.
            pub async fn send_msg(&mut self, msg: &[u8]) -> std::io::Result<()> {
                crate::io::frame::send_msg(self, msg).await
            }

            /// Receives one message sent with `send_msg`: `Ok(None)` when the peer closed
            /// the connection (also in the middle of a message).
            ///
            /// Cancel-safe: a message read part way when the future is dropped is
            /// continued by the next call.
            ///
            /// # Errors
            /// The socket's errors, and [`ErrorKind::InvalidData`](std::io::ErrorKind::InvalidData)
            /// (carrying a [`MessageTooLarge`](crate::io::MessageTooLarge)) when the peer
            /// announces a message longer than [`max_message`](Self::max_message); the
            /// connection is then shut down, and later calls fail the same way.
            pub async fn recv_msg(&mut self) -> std::io::Result<Option<Vec<u8>>> {
                let mut io: &async_io::Async<$std> = &self.inner;
                let result = self.frames.read(&mut io, self.max_message).await;
                if let Err(error) = &result {
                    if error.kind() == std::io::ErrorKind::InvalidData {
                        tracing::warn!(
                            peer = ?self.inner.get_ref().peer_addr().ok(),
                            %error,
                            "closing the connection after a bad message frame"
                        );
                        let _ = self.inner.get_ref().shutdown(std::net::Shutdown::Both);
                    }
                }
                result
            }

            /// The largest message [`recv_msg`](Self::recv_msg) accepts, in bytes.
            pub fn max_message(&self) -> usize {
                self.max_message
            }

            /// Sets the largest message [`recv_msg`](Self::recv_msg) accepts
            /// (default [`DEFAULT_MAX_MESSAGE`](crate::io::DEFAULT_MAX_MESSAGE)).
            pub fn set_max_message(&mut self, max: usize) {
                self.max_message = max;
            }

            /// Reads some bytes into `buf`, waiting until at least one is there; `Ok(0)`
            /// means the peer closed its side (pycos's `recv`).
            ///
            /// # Errors
            /// The socket's errors.
            pub async fn recv(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                futures_lite::AsyncReadExt::read(self, buf).await
            }

            /// Reads exactly `buf.len()` bytes (pycos's `recvall`).
            ///
            /// # Errors
            /// [`ErrorKind::UnexpectedEof`](std::io::ErrorKind::UnexpectedEof) if the peer
            /// closes first, and the socket's errors.
            pub async fn recv_exact(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
                futures_lite::AsyncReadExt::read_exact(self, buf).await
            }

            /// Writes some of `buf`, returning how many bytes were written (pycos's
            /// `send`).
            ///
            /// # Errors
            /// The socket's errors.
            pub async fn send(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                futures_lite::AsyncWriteExt::write(self, buf).await
            }

            /// Writes all of `buf` (pycos's `sendall`).
            ///
            /// # Errors
            /// The socket's errors.
            pub async fn send_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
                futures_lite::AsyncWriteExt::write_all(self, buf).await
            }

            /// Shuts down the read side, the write side or both; the peer sees the
            /// end of the stream once its buffered data is read. Every clone of this
            /// stream is affected.
            ///
            /// # Errors
            /// The operating system's, e.g. when the socket is not connected.
            pub fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
                self.inner.get_ref().shutdown(how)
            }

            /// The address of the peer.
            ///
            /// # Errors
            /// The operating system's, e.g. when the socket is not connected.
            pub fn peer_addr(&self) -> std::io::Result<$Addr> {
                self.inner.get_ref().peer_addr()
            }

            /// The local address of this socket.
            ///
            /// # Errors
            /// The operating system's.
            pub fn local_addr(&self) -> std::io::Result<$Addr> {
                self.inner.get_ref().local_addr()
            }
        }

        /// A clone is another handle to the same socket (no system call), for example
        /// for one task that reads while another writes. It has its own `recv_msg`
        /// state: two handles must not read at the same time.
        impl Clone for $Stream {
            fn clone(&self) -> Self {
                $Stream {
                    inner: self.inner.clone(),
                    frames: crate::io::frame::FrameReader::default(),
                    max_message: self.max_message,
                }
            }
        }

        impl std::fmt::Debug for $Stream {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($Stream))
                    .field("local", &self.inner.get_ref().local_addr().ok())
                    .field("peer", &self.inner.get_ref().peer_addr().ok())
                    .field("max_message", &self.max_message)
                    .finish_non_exhaustive()
            }
        }

        impl futures_io::AsyncRead for $Stream {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let mut io: &async_io::Async<$std> = &self.inner;
                std::pin::Pin::new(&mut io).poll_read(cx, buf)
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let mut io: &async_io::Async<$std> = &self.inner;
                std::pin::Pin::new(&mut io).poll_read_vectored(cx, bufs)
            }
        }

        impl futures_io::AsyncWrite for $Stream {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let mut io: &async_io::Async<$std> = &self.inner;
                std::pin::Pin::new(&mut io).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let mut io: &async_io::Async<$std> = &self.inner;
                std::pin::Pin::new(&mut io).poll_write_vectored(cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let mut io: &async_io::Async<$std> = &self.inner;
                std::pin::Pin::new(&mut io).poll_flush(cx)
            }

            /// Flushes, then shuts the write side down: the peer reads the end of the
            /// stream.
            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let mut io: &async_io::Async<$std> = &self.inner;
                std::task::ready!(std::pin::Pin::new(&mut io).poll_flush(cx))?;
                match self.inner.get_ref().shutdown(std::net::Shutdown::Write) {
                    // Already shut down, or the peer is gone: closed either way.
                    Err(e) if e.kind() == std::io::ErrorKind::NotConnected => {
                        std::task::Poll::Ready(Ok(()))
                    }
                    other => std::task::Poll::Ready(other),
                }
            }
        }

        #[cfg(unix)]
        impl std::os::fd::AsFd for $Stream {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(self.inner.get_ref())
            }
        }

        #[cfg(unix)]
        impl std::os::fd::AsRawFd for $Stream {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(self.inner.get_ref())
            }
        }
    };
}
pub(crate) use stream_common;
