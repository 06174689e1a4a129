//! A simulated TCP connection: two byte pipes, one each way, with the faults a real
//! one can have (reset, a direction whose packets are dropped for a while).

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_lite::{AsyncRead, AsyncWrite};

use crate::util::Mutex;

/// Bytes a direction holds before its writer waits (a socket's buffers).
const BUFFER: usize = 256 * 1024;

/// One direction of a connection.
#[derive(Default)]
struct Pipe {
    buf: VecDeque<u8>,
    /// The writer shut its side (a FIN, behind the data).
    fin: bool,
    /// The connection was reset: both sides' reads and writes fail.
    reset: bool,
    /// Packets this way are dropped (a partition): the reader sees nothing new until
    /// it heals; what was written waits, as TCP retransmits it.
    blocked: bool,
    /// The reader shut its side or went away: writes fail.
    reader_gone: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl Pipe {
    fn wake(&mut self) {
        if let Some(w) = self.reader.take() {
            w.wake();
        }
        if let Some(w) = self.writer.take() {
            w.wake();
        }
    }
}

/// Both directions of one connection, and the nodes at its ends.
pub(crate) struct Conn {
    /// `dirs[i]` carries what side `i` writes.
    dirs: [Mutex<Pipe>; 2],
    /// The listening addresses of the nodes at each side (side 0 dialed).
    pub(crate) ends: [SocketAddr; 2],
}

impl Conn {
    pub(crate) fn new(dialer: SocketAddr, listener: SocketAddr) -> Arc<Conn> {
        Arc::new(Conn {
            dirs: [Mutex::new(Pipe::default()), Mutex::new(Pipe::default())],
            ends: [dialer, listener],
        })
    }

    /// Resets the connection (an RST each way).
    pub(crate) fn reset(&self) {
        for dir in &self.dirs {
            let mut pipe = dir.lock();
            pipe.reset = true;
            pipe.buf.clear();
            pipe.wake();
        }
    }

    /// Blocks or unblocks what the node at `from` sends on it.
    pub(crate) fn set_blocked(&self, from: SocketAddr, blocked: bool) {
        for (side, dir) in self.dirs.iter().enumerate() {
            if self.ends[side] == from {
                let mut pipe = dir.lock();
                pipe.blocked = blocked;
                if !blocked {
                    pipe.wake();
                }
            }
        }
    }

    pub(crate) fn is_reset(&self) -> bool {
        self.dirs[0].lock().reset
    }
}

/// One end of a simulated connection.
pub(crate) struct Stream {
    conn: Arc<Conn>,
    side: usize,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("local", &self.conn.ends[self.side])
            .field("peer", &self.conn.ends[1 - self.side])
            .finish()
    }
}

impl Stream {
    /// The two ends of a new connection: the dialer's, then the listener's.
    pub(crate) fn pair(conn: &Arc<Conn>) -> (Stream, Stream) {
        (
            Stream {
                conn: conn.clone(),
                side: 0,
            },
            Stream {
                conn: conn.clone(),
                side: 1,
            },
        )
    }

    fn incoming(&self) -> &Mutex<Pipe> {
        &self.conn.dirs[1 - self.side]
    }

    fn outgoing(&self) -> &Mutex<Pipe> {
        &self.conn.dirs[self.side]
    }

    /// A closer for this end that does not keep it open.
    pub(crate) fn closer(&self) -> impl Fn() + Send + Sync + 'static {
        let (conn, side) = (Arc::downgrade(&self.conn), self.side);
        move || {
            if let Some(conn) = conn.upgrade() {
                shutdown(&conn, side);
            }
        }
    }
}

fn shutdown(conn: &Conn, side: usize) {
    {
        let mut out = conn.dirs[side].lock();
        out.fin = true;
        out.wake();
    }
    let mut inc = conn.dirs[1 - side].lock();
    inc.reader_gone = true;
    inc.buf.clear();
    inc.wake();
}

fn reset_error() -> io::Error {
    io::Error::from(io::ErrorKind::ConnectionReset)
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut pipe = self.incoming().lock();
        if pipe.reset {
            return Poll::Ready(Err(reset_error()));
        }
        if pipe.reader_gone {
            return Poll::Ready(Ok(0));
        }
        if !pipe.blocked {
            if !pipe.buf.is_empty() {
                let n = buf.len().min(pipe.buf.len());
                for (slot, byte) in buf.iter_mut().zip(pipe.buf.drain(..n)) {
                    *slot = byte;
                }
                if let Some(w) = pipe.writer.take() {
                    w.wake();
                }
                return Poll::Ready(Ok(n));
            }
            if pipe.fin {
                return Poll::Ready(Ok(0));
            }
        }
        pipe.reader = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut pipe = self.outgoing().lock();
        if pipe.reset {
            return Poll::Ready(Err(reset_error()));
        }
        if pipe.fin || pipe.reader_gone {
            return Poll::Ready(Err(io::Error::from(io::ErrorKind::BrokenPipe)));
        }
        let room = BUFFER.saturating_sub(pipe.buf.len());
        if room == 0 {
            pipe.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(buf.len());
        pipe.buf.extend(&buf[..n]);
        if !pipe.blocked {
            if let Some(w) = pipe.reader.take() {
                w.wake();
            }
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut pipe = self.outgoing().lock();
        pipe.fin = true;
        pipe.wake();
        Poll::Ready(Ok(()))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        shutdown(&self.conn, self.side);
    }
}
