//! Unix domain stream sockets, with pycos's `send_msg` / `recv_msg`.

use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use async_io::Async;

use super::frame::{DEFAULT_MAX_MESSAGE, FrameReader};

/// A Unix domain socket that accepts connections, bound to a path in the file system.
///
/// The socket file stays after the listener is dropped (as with the standard library);
/// remove it when done, and before binding the same path again.
///
/// ```
/// use rcos::io::{UnixListener, UnixStream};
///
/// # rcos::Runtime::new().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("rcos-doc-unix-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("server.sock");
/// # let _ = std::fs::remove_file(&path);
///
/// let listener = UnixListener::bind(&path)?;
/// let mut client = UnixStream::connect(&path).await?;
/// let (mut server, _) = listener.accept().await?;
/// client.send_msg(b"over a unix socket").await?;
/// assert_eq!(server.recv_msg().await?.unwrap(), b"over a unix socket");
///
/// std::fs::remove_dir_all(&dir)?;
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub struct UnixListener {
    inner: Async<std::os::unix::net::UnixListener>,
    max_message: usize,
}

impl UnixListener {
    /// Binds to `path` and listens.
    ///
    /// # Errors
    /// When the path exists already (`AddrInUse`) or cannot be created.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let inner = Async::<std::os::unix::net::UnixListener>::bind(path.as_ref())?;
        tracing::debug!(path = %path.as_ref().display(), "Unix listener bound");
        Ok(UnixListener {
            inner,
            max_message: DEFAULT_MAX_MESSAGE,
        })
    }

    /// Wraps a listener made with the standard library (it is switched to non-blocking
    /// mode).
    ///
    /// # Errors
    /// When the socket cannot be registered with the reactor.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            inner: Async::new(listener)?,
            max_message: DEFAULT_MAX_MESSAGE,
        })
    }

    /// Waits for the next connection: the stream and the peer's (usually unnamed)
    /// address.
    ///
    /// # Errors
    /// The system's; the listener itself keeps working.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, peer) = self.inner.accept().await?;
        Ok((UnixStream::from_async(stream, self.max_message), peer))
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    /// The system's.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The largest message that `recv_msg` on accepted streams accepts, in bytes.
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// Sets the largest message that `recv_msg` accepts on streams accepted from now on
    /// (default [`DEFAULT_MAX_MESSAGE`]).
    pub fn set_max_message(&mut self, max: usize) {
        self.max_message = max;
    }
}

impl std::fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnixListener")
            .field("local", &self.inner.get_ref().local_addr().ok())
            .field("max_message", &self.max_message)
            .finish()
    }
}

impl std::os::fd::AsFd for UnixListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self.inner.get_ref())
    }
}

/// A Unix domain stream connection, with the same methods as
/// [`TcpStream`](crate::io::TcpStream): bytes, `send_msg` / `recv_msg`, and the
/// `futures-io` traits.
///
/// ```
/// # rcos::Runtime::new().unwrap().block_on(async {
/// let (mut a, mut b) = rcos::io::UnixStream::pair()?;
/// a.send_msg(b"ping").await?;
/// assert_eq!(b.recv_msg().await?.unwrap(), b"ping");
/// drop(a);
/// assert_eq!(b.recv_msg().await?, None);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub struct UnixStream {
    inner: Arc<Async<std::os::unix::net::UnixStream>>,
    frames: FrameReader,
    max_message: usize,
}

super::stream_common!(UnixStream, std::os::unix::net::UnixStream, SocketAddr);

impl UnixStream {
    /// Connects to the socket bound at `path`.
    ///
    /// # Errors
    /// When nothing listens there (`NotFound`, `ConnectionRefused`), and the system's.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let inner = Async::<std::os::unix::net::UnixStream>::connect(path.as_ref()).await?;
        Ok(UnixStream::from_async(inner, DEFAULT_MAX_MESSAGE))
    }

    /// A pair of connected sockets, with no file in the file system.
    ///
    /// # Errors
    /// The system's.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = Async::<std::os::unix::net::UnixStream>::pair()?;
        Ok((
            UnixStream::from_async(a, DEFAULT_MAX_MESSAGE),
            UnixStream::from_async(b, DEFAULT_MAX_MESSAGE),
        ))
    }

    /// Wraps a stream made with the standard library (it is switched to non-blocking
    /// mode).
    ///
    /// # Errors
    /// When the socket cannot be registered with the reactor.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream::from_async(
            Async::new(stream)?,
            DEFAULT_MAX_MESSAGE,
        ))
    }
}
