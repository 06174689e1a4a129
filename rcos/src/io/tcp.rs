//! TCP: a listener and a stream, with pycos's `send_msg` / `recv_msg`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use async_io::Async;

use super::addr::{ToSocketAddrs, each_addr};
use super::frame::{DEFAULT_MAX_MESSAGE, FrameReader};

/// A TCP socket that accepts connections: pycos's `AsyncSocket` after `bind` and
/// `listen`.
///
/// Each accepted [`TcpStream`] starts with this listener's message limit
/// ([`set_max_message`](Self::set_max_message)).
///
/// The usual server gives each connection its own task, so that one slow or
/// misbehaving peer never holds up the others:
///
/// ```
/// use rcos::io::{TcpListener, TcpStream};
///
/// # rcos::Runtime::new().unwrap().block_on(async {
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let port = listener.local_addr()?.port();
/// let server = rcos::spawn(move |task| async move {
///     task.set_daemon(true);
///     loop {
///         let Ok((mut conn, peer)) = listener.accept().await else { continue };
///         rcos::spawn(move |_| async move {
///             while let Ok(Some(msg)) = conn.recv_msg().await {
///                 let reply = format!("{peer} said {} bytes", msg.len());
///                 if conn.send_msg(reply.as_bytes()).await.is_err() {
///                     break;
///                 }
///             }
///         });
///     }
/// });
///
/// let mut client = TcpStream::connect(("127.0.0.1", port)).await?;
/// client.send_msg(b"ping").await?;
/// let reply = client.recv_msg().await?.unwrap();
/// assert!(String::from_utf8(reply).unwrap().ends_with("said 4 bytes"));
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub struct TcpListener {
    inner: Async<std::net::TcpListener>,
    max_message: usize,
}

impl TcpListener {
    /// Binds to `addr` and listens; port 0 asks the system for a free port (see
    /// [`local_addr`](Self::local_addr)). When `addr` names several addresses, the first
    /// that binds is used.
    ///
    /// # Errors
    /// When the address does not resolve or cannot be bound (in use, not local, no
    /// permission).
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let inner = each_addr(
            addr,
            |a| async move { Async::<std::net::TcpListener>::bind(a) },
        )
        .await?;
        tracing::debug!(addr = ?inner.get_ref().local_addr().ok(), "TCP listener bound");
        Ok(TcpListener {
            inner,
            max_message: DEFAULT_MAX_MESSAGE,
        })
    }

    /// Wraps a listener made with the standard library (it is switched to non-blocking
    /// mode).
    ///
    /// # Errors
    /// When the socket cannot be registered with the reactor.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: Async::new(listener)?,
            max_message: DEFAULT_MAX_MESSAGE,
        })
    }

    /// Waits for the next connection: the stream and the peer's address.
    ///
    /// # Errors
    /// The system's, for example when the process is out of file descriptors; the
    /// listener itself keeps working, so a server usually logs the error and goes on.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = self.inner.accept().await?;
        tracing::trace!(%peer, "TCP connection accepted");
        Ok((TcpStream::from_async(stream, self.max_message), peer))
    }

    /// The address the listener is bound to (with the real port when bound to port 0).
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

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.inner.get_ref().local_addr().ok())
            .field("max_message", &self.max_message)
            .finish()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for TcpListener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self.inner.get_ref())
    }
}

/// A TCP connection: pycos's `AsyncSocket` on a connected stream socket.
///
/// It reads and writes bytes ([`recv`](Self::recv), [`send_all`](Self::send_all), or the
/// `futures-io` traits it implements) and whole messages
/// ([`send_msg`](Self::send_msg) / [`recv_msg`](Self::recv_msg)). A [`clone`](Clone)
/// is another handle on the same connection, so one task can read while another writes.
///
/// ```
/// use rcos::io::{TcpListener, TcpStream};
///
/// # rcos::Runtime::new().unwrap().block_on(async {
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let mut client = TcpStream::connect(listener.local_addr()?).await?;
/// let (mut server, _) = listener.accept().await?;
///
/// client.send_all(b"raw bytes/").await?;
/// let mut buf = [0u8; 10];
/// server.recv_exact(&mut buf).await?;
/// assert_eq!(&buf, b"raw bytes/");
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub struct TcpStream {
    inner: Arc<Async<std::net::TcpStream>>,
    frames: FrameReader,
    max_message: usize,
}

super::stream_common!(TcpStream, std::net::TcpStream, SocketAddr);

impl TcpStream {
    /// Connects to `addr`, trying each address it names in turn.
    ///
    /// There is no built-in timeout (the system gives up after a minute or more); wrap
    /// the call in [`rcos::time::timeout`](crate::time::timeout) for a shorter one.
    ///
    /// # Errors
    /// The last address's error (refused, unreachable, ...), or `InvalidInput` when
    /// `addr` names no address.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let inner = each_addr(addr, Async::<std::net::TcpStream>::connect).await?;
        Ok(TcpStream::from_async(inner, DEFAULT_MAX_MESSAGE))
    }

    /// Wraps a stream made with the standard library (it is switched to non-blocking
    /// mode).
    ///
    /// # Errors
    /// When the socket cannot be registered with the reactor.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream::from_async(
            Async::new(stream)?,
            DEFAULT_MAX_MESSAGE,
        ))
    }

    /// Turns Nagle's algorithm off (`true`) or on. `send_msg` writes each message in one
    /// go, so small request/reply exchanges rarely need this.
    ///
    /// # Errors
    /// The system's.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.get_ref().set_nodelay(nodelay)
    }

    /// Whether Nagle's algorithm is off.
    ///
    /// # Errors
    /// The system's.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.get_ref().nodelay()
    }
}
