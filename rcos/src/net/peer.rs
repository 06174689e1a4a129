//! One peer: its identity, the frames waiting to go to it, its connection's reader and
//! writer tasks, and what depends on it (monitors of its tasks, requests to it).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use event_listener::Event;
use futures_lite::{AsyncRead, AsyncWrite};

use super::Location;
use super::codec::{RecordReader, RecordWriter, WireError};
use super::frame::Frame;
use super::handshake::{Identity, Session};
use super::node::Node;
use crate::TaskRef;
use crate::error::SendErrorKind;
use crate::task::{Exit, MonitorStatus};
use crate::util::Mutex;

/// The bit that marks a ping as a fence (see [`Peer::connection_ended`]): the heartbeat's
/// own pings count up from 1 and never reach it.
const FENCE: u64 = 1 << 63;

/// Encoded frames in one byte buffer, each ending where `ends` says: one buffer for
/// the whole queue instead of an allocation per frame. The writer swaps the queue's
/// buffers with its own emptied ones, so once both have grown no frame allocates.
#[derive(Default)]
pub(crate) struct Frames {
    bytes: Vec<u8>,
    ends: VecDeque<usize>,
}

impl Frames {
    /// Appends one encoded frame.
    pub(crate) fn push(&mut self, frame: &[u8]) {
        self.bytes.extend_from_slice(frame);
        self.ends.push_back(self.bytes.len());
    }

    /// The bytes of all frames.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The frames, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let frame = self.bytes.get(start..end).unwrap_or_default();
            start = end;
            frame
        })
    }

    /// Empties the queue, keeping its buffers unless a burst made them large.
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        if self.bytes.capacity() > super::codec::RECORD_TARGET * 2 {
            self.bytes = Vec::new();
        }
        if self.ends.capacity() > 4096 {
            self.ends = VecDeque::new();
        }
    }
}

/// Frames waiting to be written.
#[derive(Default)]
struct Outbound {
    frames: Frames,
    closed: bool,
}

pub(crate) struct Peer {
    pub(crate) identity: Identity,
    pub(crate) location: Option<Location>,
    out: Mutex<Outbound>,
    out_ready: Event,
    /// When the last record arrived, in milliseconds since the node started.
    pub(crate) last_heard: AtomicU64,
    /// Which connection is current; a reader or writer of an older one stops.
    pub(crate) epoch: AtomicU64,
    pub(crate) connected: AtomicBool,
    /// One more than the epoch of the connection on which a goodbye was sent or read
    /// (0: none): that connection ends on purpose, and is not got back.
    parting: AtomicU64,
    /// Set by `close_peer`: the session ends for good, whatever the connection does.
    closed: AtomicBool,
    /// Set while the writer holds frames it took from the queue and has not flushed.
    writing: AtomicBool,
    /// Monitors that local tasks hold on this peer's tasks: (monitor, target).
    pub(crate) watched: Mutex<Vec<(TaskRef, TaskRef)>>,
    /// Requests sent to this peer and not answered yet.
    pub(crate) requests: Mutex<Vec<u64>>,
    /// Monitors told that this peer was lost when a connection to it ended, whose
    /// targets' node may still send a status for them: (monitor, target's id, the
    /// fence after whose pong it will not). Such a status is dropped: one notice per
    /// monitor. (The target's id is enough: the status comes from the target's node.)
    told: Mutex<Vec<(TaskRef, u64, u64)>>,
    /// Fences sent so far.
    fences: AtomicU64,
    /// Held while the frames of one record are handled, so that an old connection's
    /// reader and a new one's never interleave (per-pair order).
    handling: Mutex<()>,
    /// Shuts the current connection's socket down.
    closer: Mutex<Option<super::node::Closer>>,
    limit: usize,
    /// The largest frame this node writes (and, by default, peers accept).
    max_frame: usize,
}

impl Peer {
    pub(crate) fn new(identity: Identity, limit: usize, max_frame: usize) -> Peer {
        let location = identity.listen.map(Location::from);
        Peer {
            identity,
            location,
            out: Mutex::new(Outbound::default()),
            out_ready: Event::new(),
            last_heard: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            connected: AtomicBool::new(false),
            parting: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            writing: AtomicBool::new(false),
            watched: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            told: Mutex::new(Vec::new()),
            fences: AtomicU64::new(0),
            handling: Mutex::new(()),
            closer: Mutex::new(None),
            limit,
            max_frame,
        }
    }

    /// Encodes and queues a frame; fails when the peer is gone or too far behind.
    pub(crate) fn push(&self, frame: &Frame) -> Result<(), SendErrorKind> {
        crate::message::with_scratch(|bytes| {
            let encoded = match frame {
                // The hot frames, when they have the fast path's shape.
                Frame::Send { to, msg } if super::frame::fast::encode_send(*to, msg, bytes) => {
                    Ok(())
                }
                Frame::Reply { id, msg } if super::frame::fast::encode_reply(*id, msg, bytes) => {
                    Ok(())
                }
                _ => super::codec::encode_frame(frame, bytes),
            };
            if let Err(error) = encoded {
                tracing::error!(%error, "a frame did not encode");
                return Err(SendErrorKind::Unreachable);
            }
            self.push_encoded(bytes)
        })
    }

    /// Queues an encoded frame.
    fn push_encoded(&self, bytes: &[u8]) -> Result<(), SendErrorKind> {
        if bytes.len() > self.max_frame {
            // The peer would refuse the record and drop the connection with it: refuse
            // this one frame here instead.
            tracing::warn!(
                peer = %self.identity.name,
                len = bytes.len(),
                max = self.max_frame,
                "frame too large: not sent"
            );
            return Err(SendErrorKind::TooLarge);
        }
        {
            let mut out = self.out.lock();
            if out.closed {
                return Err(SendErrorKind::Unreachable);
            }
            if out.frames.len() + bytes.len() > self.limit {
                return Err(SendErrorKind::Full);
            }
            out.frames.push(bytes);
        }
        crate::runtime::scheduler::wake_stealable(|| crate::util::notify(&self.out_ready, 1));
        Ok(())
    }

    /// Stops accepting frames and drops the queued ones.
    pub(crate) fn close_outbound(&self) {
        let dropped = {
            let mut out = self.out.lock();
            out.closed = true;
            std::mem::take(&mut out.frames)
        };
        drop(dropped);
        crate::util::notify(&self.out_ready, usize::MAX);
    }

    /// Wakes the writer (a new connection, or shutdown).
    pub(crate) fn poke(&self) {
        crate::util::notify(&self.out_ready, usize::MAX);
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Marks connection `epoch` as ending on purpose (a goodbye was sent or read on it).
    pub(crate) fn part(&self, epoch: u64) {
        self.parting.store(epoch + 1, Ordering::Release);
    }

    /// Whether connection `epoch` ends on purpose.
    pub(crate) fn parted(&self, epoch: u64) -> bool {
        self.closed.load(Ordering::Acquire) || self.parting.load(Ordering::Acquire) == epoch + 1
    }

    /// Ends the session for good (`close_peer`): no connection of it is got back.
    pub(crate) fn close_for_good(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Whether `close_peer` ended the session.
    pub(crate) fn closed_for_good(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Installs the shutdown of a new connection, shutting the old one down.
    pub(crate) fn replace_closer(&self, closer: super::node::Closer) {
        let old = self.closer.lock().replace(closer);
        if let Some(old) = old {
            old();
        }
    }

    /// Shuts the current connection down (its reader and writer then end).
    pub(crate) fn close_connection(&self) {
        let closer = self.closer.lock().take();
        if let Some(closer) = closer {
            closer();
        }
    }

    /// Whether frames wait to be written.
    pub(crate) fn has_outbound(&self) -> bool {
        !self.out.lock().frames.is_empty()
    }

    /// A connection to this peer ended (broken, replaced, or closed). Frames in flight
    /// on it, either way, may be lost — messages to the peer's tasks, and statuses for
    /// the monitors here of the peer's tasks — and are not sent again: so every such
    /// monitor is told now that the peer was lost ([`Exit::NodeLost`]), whether a new
    /// connection comes back within the grace period or not. A message is never lost
    /// silently: a gap in what a task sent to a monitored task comes with a notice.
    ///
    /// The monitors have fired, so the peer is asked to forget them (an `Unmonitor`
    /// each, then a fence ping); a status it sends for one of them before its fence's
    /// pong is dropped here ([`Peer::stale`]).
    pub(crate) fn connection_ended(&self) {
        let watched = std::mem::take(&mut *self.watched.lock());
        // Monitors told earlier whose fence has not been answered: their `Unmonitor`
        // may have been in flight on this connection too. They are fenced off again,
        // with the new ones (a second `Unmonitor` is harmless).
        let mut fenced: Vec<(TaskRef, u64)> = std::mem::take(&mut *self.told.lock())
            .into_iter()
            .map(|(monitor, target, _)| (monitor, target))
            .collect();
        fenced.extend(
            watched
                .iter()
                .map(|(monitor, target)| (monitor.clone(), target.id().as_u64())),
        );
        tracing::debug!(peer = %self.identity.name, watched = watched.len(), fenced = fenced.len(), "monitors at the end of a connection");
        if fenced.is_empty() {
            return;
        }
        self.fence_off(&fenced);
        if watched.is_empty() {
            return;
        }
        tracing::info!(
            peer = %self.identity.name,
            monitors = watched.len(),
            "connection ended: monitors of the peer's tasks told it was lost"
        );
        for (monitor, target) in watched {
            let _ = monitor.send_system(MonitorStatus {
                task: target,
                exit: Exit::NodeLost,
            });
        }
    }

    /// Makes the local task `monitor` a monitor of the peer's task `target`: in place at
    /// once (a connection that ends from now on tells it), and its request goes out in
    /// order with what follows it.
    pub(crate) fn watch(&self, monitor: TaskRef, target: TaskRef) {
        self.watched.lock().push((monitor.clone(), target.clone()));
        let request = Frame::Monitor {
            target: target.id().as_u64(),
            monitor: monitor.clone(),
        };
        if self.push(&request).is_err() {
            // The peer is being lost: unless its loss took this monitor already (and
            // told it), it is told here. One notice either way.
            let mut watched = self.watched.lock();
            let before = watched.len();
            watched.retain(|(m, t)| !(*m == monitor && *t == target));
            let still_here = watched.len() != before;
            drop(watched);
            if still_here {
                let _ = monitor.send_system(MonitorStatus {
                    task: target,
                    exit: Exit::NodeLost,
                });
            }
        }
    }

    /// Asks the peer to forget `monitors` (monitor, target), which have been told that
    /// the peer was lost: an `Unmonitor` each, then a fence ping; until the fence's pong
    /// comes back, a status for one of them is dropped ([`Peer::stale`]).
    pub(crate) fn fence_off(&self, monitors: &[(TaskRef, u64)]) {
        let fence = FENCE | (self.fences.fetch_add(1, Ordering::AcqRel) + 1);
        self.told.lock().extend(
            monitors
                .iter()
                .map(|(monitor, target)| (monitor.clone(), *target, fence)),
        );
        for (monitor, target) in monitors {
            let _ = self.push(&Frame::Unmonitor {
                target: *target,
                monitor: monitor.clone(),
            });
        }
        let _ = self.push(&Frame::Ping(fence));
    }

    /// The monitors (monitor's id, target's id) told that the peer was lost when a
    /// connection to it ended, whose forgetting the peer has not confirmed yet (their
    /// fence's pong has not come). Taken when the peer is declared lost: should the
    /// same incarnation come back, they are fenced off on its new session
    /// ([`Peer::fence_off`]), so that none of them hears of its target again.
    pub(crate) fn take_told(&self) -> Vec<(u64, u64)> {
        std::mem::take(&mut *self.told.lock())
            .into_iter()
            .map(|(monitor, target, _)| (monitor.id().as_u64(), target))
            .collect()
    }

    /// Whether `frame`, from the peer, is a status for a monitor already told of a lost
    /// connection (then it is dropped). A fence's pong forgets the monitors told before
    /// it: the peer has dropped them by then.
    fn stale(&self, frame: &Frame) -> bool {
        match frame {
            Frame::Pong(n) if n & FENCE != 0 => {
                tracing::debug!(peer = %self.identity.name, fence = n & !FENCE, "fence answered");
                self.told.lock().retain(|(_, _, fence)| fence > n);
                false
            }
            Frame::Send { to, msg }
                if msg.name() == <MonitorStatus as crate::Message>::wire_name() =>
            {
                let mut told = self.told.lock();
                if told.is_empty() {
                    return false;
                }
                let Ok(status) = crate::message::decode::<MonitorStatus>(msg.bytes()) else {
                    return false;
                };
                match told.iter().position(|(monitor, target, _)| {
                    monitor.id().as_u64() == *to && *target == status.task.id().as_u64()
                }) {
                    Some(i) => {
                        told.swap_remove(i);
                        tracing::debug!(peer = %self.identity.name, "status for a monitor told already: dropped");
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        }
    }

    /// Whether frames wait to be written or are being written.
    pub(crate) fn is_flushing(&self) -> bool {
        self.is_connected() && (self.writing.load(Ordering::Acquire) || self.has_outbound())
    }
}

/// Bytes a connection's reader takes from the socket at a time (records larger than
/// this are read straight into the record's buffer).
const READ_BUFFER: usize = 8 * 1024;

/// Runs one connection: a writer loop here and a reader task, until either fails or
/// the connection is replaced. Then tells the node.
pub(crate) async fn run_connection<S>(
    node: Arc<Node>,
    peer: Arc<Peer>,
    stream: S,
    session: Session,
    epoch: u64,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (read_half, write_half) = futures_lite::io::split(stream);
    let (send_key, recv_key) = match &session.keys {
        Some((s, r)) => (Some(*s), Some(*r)),
        None => (None, None),
    };
    let max = node.config().max_frame;
    // Buffered: a record's length, body and MAC come in one read, and often the next
    // records with them, instead of a system call for each.
    let read_half = futures_lite::io::BufReader::with_capacity(READ_BUFFER, read_half);
    let mut reader = RecordReader::new(read_half, max);
    reader.set_mac(recv_key.as_ref());
    let mut writer = RecordWriter::new(write_half, max);
    writer.set_mac(send_key.as_ref());

    {
        let (node, peer) = (node.clone(), peer.clone());
        crate::task::Builder::new()
            .name("rcos-net-reader")
            .daemon(true)
            .spawn(move |_| async move {
                let error = read_loop(&node, &peer, &mut reader, epoch).await;
                node.connection_ended(&peer, epoch, &error);
            });
    }
    let result = write_loop(&node, &peer, &mut writer, epoch).await;
    // However it ended (the writer ends whenever its connection does), what was in
    // flight on it may be lost: the monitors here of the peer's tasks are told.
    peer.connection_ended();
    // And so may the requests waiting for answers on it: they fail now.
    node.fail_requests(&peer);
    if let Err(error) = result {
        node.connection_ended(&peer, epoch, &error);
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    node: &Arc<Node>,
    peer: &Arc<Peer>,
    reader: &mut RecordReader<R>,
    epoch: u64,
) -> WireError {
    loop {
        if peer.epoch.load(Ordering::Acquire) != epoch {
            return WireError::Closed;
        }
        let body = match reader.read_record().await {
            Ok(body) => body,
            Err(e) => return e,
        };
        peer.last_heard.store(node.now_ms(), Ordering::Release);
        // One connection's record at a time, and none from a connection that has been
        // replaced: its frames must not come after the new connection's.
        let _handling = peer.handling.lock();
        if peer.epoch.load(Ordering::Acquire) != epoch {
            return WireError::Closed;
        }
        for frame in super::frame::decode_frames(body, node.config().max_decode_depth) {
            match frame {
                Ok(Frame::Goodbye) => {
                    peer.part(epoch);
                    return WireError::Closed;
                }
                Ok(frame) if peer.stale(&frame) => {}
                Ok(frame) => node.handle(peer, frame),
                Err(e) => return e,
            }
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    node: &Arc<Node>,
    peer: &Arc<Peer>,
    writer: &mut RecordWriter<W>,
    epoch: u64,
) -> Result<(), WireError> {
    let interval = node.config().heartbeat_interval;
    let mut ping = 0u64;
    // The frames taken from the queue, swapped with it each round.
    let mut frames = Frames::default();
    loop {
        if peer.epoch.load(Ordering::Acquire) != epoch {
            return Ok(());
        }
        {
            let mut out = peer.out.lock();
            if out.closed {
                return Ok(());
            }
            peer.writing
                .store(!out.frames.is_empty(), Ordering::Release);
            // Take the queued frames, leaving the emptied buffers of the last round.
            std::mem::swap(&mut out.frames, &mut frames);
        }
        if frames.is_empty() {
            let listener = peer.out_ready.listen();
            let pending = !peer.out.lock().frames.is_empty();
            if !pending && node.clock().timeout(interval, listener).await.is_err() {
                // Nothing to say for a whole interval: a heartbeat, which the peer
                // answers, so both sides hear from each other regularly.
                ping += 1;
                let mut bytes = Vec::new();
                super::codec::encode_frame(&Frame::Ping(ping), &mut bytes)?;
                writer.push_encoded(&bytes).await?;
                writer.flush().await?;
            }
            continue;
        }
        let written = async {
            for frame in frames.iter() {
                writer.push_encoded(frame).await?;
            }
            writer.flush().await
        };
        let result = written.await;
        frames.clear();
        peer.writing.store(false, Ordering::Release);
        result?;
    }
}

/// How long a peer may stay silent before it is declared down.
pub(crate) fn silence_limit(interval: Duration, misses: u32) -> Duration {
    interval * misses
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_frames_keep_their_order_and_boundaries() {
        let mut frames = Frames::default();
        let mut expected: Vec<Vec<u8>> = Vec::new();
        // Many frames of many sizes, including empty ones, across two rounds with the
        // buffers reused in between.
        for round in 0..2u8 {
            for i in 0..5000usize {
                let frame: Vec<u8> = (0..(i * 7) % 300).map(|j| (i + j) as u8 ^ round).collect();
                frames.push(&frame);
                expected.push(frame);
            }
            assert_eq!(frames.len(), expected.iter().map(Vec::len).sum::<usize>());
            let got: Vec<&[u8]> = frames.iter().collect();
            assert_eq!(got.len(), expected.len());
            assert!(got.iter().zip(&expected).all(|(a, b)| *a == b.as_slice()));
            frames.clear();
            expected.clear();
            assert!(frames.is_empty() && frames.iter().next().is_none());
            assert_eq!(frames.len(), 0);
            // A burst's buffer is not kept.
            assert!(frames.bytes.capacity() <= super::super::codec::RECORD_TARGET * 2);
        }
        frames.push(b"a");
        frames.push(b"");
        frames.push(b"bc");
        assert_eq!(frames.iter().collect::<Vec<_>>(), [&b"a"[..], b"", b"bc"]);
        // Swapped with the writer's emptied buffers, as the write loop does.
        let mut taken = Frames::default();
        std::mem::swap(&mut frames, &mut taken);
        assert!(frames.is_empty());
        assert_eq!(taken.iter().count(), 3);
    }
}
