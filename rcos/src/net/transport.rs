//! What a node's connections run over: TCP sockets, or (feature `test-util`) the
//! simulated network of a [`Sim`](crate::sim::Sim).

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::task::{Context, Poll};

use async_io::Async;
use futures_lite::{AsyncRead, AsyncWrite};

use super::Location;

/// Shuts a connection down, ending its reader and writer.
pub(crate) type Closer = Box<dyn Fn() + Send + Sync>;

/// Where a node's connections come in.
pub(crate) enum Listener {
    Tcp(Async<TcpListener>),
    #[cfg(feature = "test-util")]
    Sim(std::sync::Arc<crate::sim::Listener>),
}

impl Listener {
    /// Binds where `config` says (or takes an address in its simulation); returns the
    /// listener and the address it listens on.
    pub(crate) fn bind(config: &super::NodeConfig) -> io::Result<(Listener, SocketAddr)> {
        #[cfg(feature = "test-util")]
        if let Some(sim) = &config.sim {
            let (addr, listener) = sim.bind();
            return Ok((Listener::Sim(listener), addr));
        }
        let listener = TcpListener::bind(config.bind)?;
        let bound = listener.local_addr()?;
        Ok((Listener::Tcp(Async::new(listener)?), bound))
    }

    /// The next connection, and where it comes from.
    pub(crate) async fn accept(&self) -> io::Result<(Stream, SocketAddr)> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, from) = listener.accept().await?;
                no_delay(&stream);
                Ok((Stream::Tcp(stream), from))
            }
            #[cfg(feature = "test-util")]
            Listener::Sim(listener) => {
                let (stream, from) = listener.accept().await;
                Ok((Stream::Sim(stream), from))
            }
        }
    }
}

/// One connection's byte stream.
pub(crate) enum Stream {
    Tcp(Async<TcpStream>),
    #[cfg(feature = "test-util")]
    Sim(crate::sim::Stream),
}

impl Stream {
    /// Connects the node `config` configures, listening at `me`, to `to`.
    pub(crate) async fn connect(
        config: &super::NodeConfig,
        me: Location,
        to: Location,
    ) -> io::Result<Stream> {
        #[cfg(feature = "test-util")]
        if let Some(sim) = &config.sim {
            return sim.connect(me.0, to.0).await.map(Stream::Sim);
        }
        let _ = (config, me);
        let stream = Async::<TcpStream>::connect(to.0).await?;
        no_delay(&stream);
        Ok(Stream::Tcp(stream))
    }

    /// A closer that shuts this connection down without keeping it open.
    pub(crate) fn closer(&self) -> Closer {
        match self {
            Stream::Tcp(stream) => match stream.get_ref().try_clone() {
                Ok(socket) => Box::new(move || {
                    let _ = socket.shutdown(std::net::Shutdown::Both);
                }),
                Err(_) => Box::new(|| {}),
            },
            #[cfg(feature = "test-util")]
            Stream::Sim(stream) => Box::new(stream.closer()),
        }
    }

    /// The TCP socket under it (for TLS, which only runs over TCP).
    #[cfg(feature = "tls")]
    pub(crate) fn into_tcp(self) -> Option<Async<TcpStream>> {
        match self {
            Stream::Tcp(stream) => Some(stream),
            #[cfg(feature = "test-util")]
            Stream::Sim(_) => None,
        }
    }
}

/// Turns Nagle's algorithm off: the writer already gathers frames into records, and a
/// request must not wait for the peer's delayed acknowledgement (40 ms on Linux).
fn no_delay(stream: &Async<TcpStream>) {
    if let Err(error) = stream.get_ref().set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY not set");
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "test-util")]
            Stream::Sim(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "test-util")]
            Stream::Sim(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            #[cfg(feature = "test-util")]
            Stream::Sim(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "test-util")]
            Stream::Sim(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_close(cx),
            #[cfg(feature = "test-util")]
            Stream::Sim(s) => Pin::new(s).poll_close(cx),
        }
    }
}
