//! UDP: datagrams with `send_to` / `recv_from`.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use async_io::Async;

use super::addr::{ToSocketAddrs, each_addr, resolve};

/// A UDP socket: pycos's `AsyncSocket` on a datagram socket.
///
/// Each [`send_to`](Self::send_to) sends one datagram and each
/// [`recv_from`](Self::recv_from) receives one, whole or not at all; a datagram longer
/// than the buffer is cut to fit. UDP does not retransmit: on a real network datagrams
/// can be lost, duplicated or reordered (on loopback they are not, unless a buffer
/// overflows).
///
/// Every method takes `&self`, and a clone is another handle on the same socket (no
/// system call), so several tasks can send and receive on it at once.
///
/// ```
/// use rcos::io::UdpSocket;
///
/// # rcos::Runtime::new().unwrap().block_on(async {
/// let server = UdpSocket::bind("127.0.0.1:0").await?;
/// let client = UdpSocket::bind("127.0.0.1:0").await?;
/// client.send_to(b"hello", server.local_addr()?).await?;
///
/// let mut buf = [0u8; 1024];
/// let (n, from) = server.recv_from(&mut buf).await?;
/// assert_eq!(&buf[..n], b"hello");
/// assert_eq!(from, client.local_addr()?);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct UdpSocket {
    inner: Arc<Async<std::net::UdpSocket>>,
}

impl UdpSocket {
    /// Binds a socket to `addr`; port 0 asks the system for a free port.
    ///
    /// # Errors
    /// When the address does not resolve or cannot be bound.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let inner = each_addr(
            addr,
            |a| async move { Async::<std::net::UdpSocket>::bind(a) },
        )
        .await?;
        Ok(UdpSocket {
            inner: Arc::new(inner),
        })
    }

    /// Wraps a socket made with the standard library (it is switched to non-blocking
    /// mode).
    ///
    /// # Errors
    /// When the socket cannot be registered with the reactor.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: Arc::new(Async::new(socket)?),
        })
    }

    /// Sends one datagram to `addr` (its first address, when it names several);
    /// returns the number of bytes sent.
    ///
    /// # Errors
    /// When `addr` does not resolve, or the system refuses the datagram (too large,
    /// unreachable, ...).
    pub async fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let to = resolve(addr).await?.into_iter().next().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the address did not resolve to any socket address",
            )
        })?;
        self.inner.send_to(buf, to).await
    }

    /// Waits for one datagram: copies it into `buf` (cut to fit) and returns its
    /// length and sender.
    ///
    /// # Errors
    /// The system's.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.recv_from(buf).await
    }

    /// Like [`recv_from`](Self::recv_from), but leaves the datagram queued.
    ///
    /// # Errors
    /// The system's.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.peek_from(buf).await
    }

    /// Sets the default peer: [`send`](Self::send) then sends to it and
    /// [`recv`](Self::recv) receives only from it.
    ///
    /// # Errors
    /// When `addr` does not resolve or the system refuses it.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let socket = self.inner.clone();
        each_addr(addr, |a| {
            let socket = socket.clone();
            async move { socket.get_ref().connect(a) }
        })
        .await
    }

    /// Sends one datagram to the peer set with [`connect`](Self::connect).
    ///
    /// # Errors
    /// When the socket is not connected, and the system's.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.send(buf).await
    }

    /// Waits for one datagram from the peer set with [`connect`](Self::connect).
    ///
    /// # Errors
    /// When the socket is not connected, and the system's.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.recv(buf).await
    }

    /// The address this socket is bound to.
    ///
    /// # Errors
    /// The system's.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The peer set with [`connect`](Self::connect).
    ///
    /// # Errors
    /// When the socket is not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Allows (or forbids) sending to broadcast addresses.
    ///
    /// # Errors
    /// The system's.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.inner.get_ref().set_broadcast(on)
    }

    /// Whether sending to broadcast addresses is allowed.
    ///
    /// # Errors
    /// The system's.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.inner.get_ref().broadcast()
    }

    /// Sets the time-to-live of outgoing datagrams.
    ///
    /// # Errors
    /// The system's.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get_ref().set_ttl(ttl)
    }

    /// Joins an IPv4 multicast group on the interface with address `interface`
    /// (`0.0.0.0` lets the system choose).
    ///
    /// # Errors
    /// The system's.
    pub fn join_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.inner.get_ref().join_multicast_v4(&group, &interface)
    }

    /// Leaves an IPv4 multicast group.
    ///
    /// # Errors
    /// The system's.
    pub fn leave_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.inner.get_ref().leave_multicast_v4(&group, &interface)
    }

    /// Joins an IPv6 multicast group on the interface with index `interface` (0 lets the
    /// system choose).
    ///
    /// # Errors
    /// The system's.
    pub fn join_multicast_v6(&self, group: Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.get_ref().join_multicast_v6(&group, interface)
    }

    /// Leaves an IPv6 multicast group.
    ///
    /// # Errors
    /// The system's.
    pub fn leave_multicast_v6(&self, group: Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.get_ref().leave_multicast_v6(&group, interface)
    }

    /// Whether multicast datagrams this socket sends loop back to the local host (IPv4).
    ///
    /// # Errors
    /// The system's.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.inner.get_ref().set_multicast_loop_v4(on)
    }
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.inner.get_ref().local_addr().ok())
            .finish_non_exhaustive()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for UdpSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self.inner.get_ref())
    }
}
