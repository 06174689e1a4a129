//! A node: the listener, the peers, the requests waiting for answers, and the handling
//! of every frame that arrives.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use event_listener::Event;

use super::codec::WireError;
use super::config::NodeConfig;
use super::frame::{Answer, Frame, WireMsg};
use super::handshake::{self, AuthKey, Identity, Session};
use super::peer::{self, Peer};
pub(crate) use super::transport::Closer;
use super::transport::{Listener, Stream};
use super::{Location, NetError, PeerStatus};
use crate::TaskRef;
use crate::channel::Channel;
use crate::runtime::Shared;
use crate::task::{Exit, MonitorStatus};
use crate::time::Clock;
use crate::util::{Mutex, Slot, SlotFiller};

/// How long a stopping node waits for frames already queued to be written.
const STOP_FLUSH: Duration = Duration::from_millis(500);

pub(crate) struct Node {
    shared: Weak<Shared>,
    config: NodeConfig,
    me: Identity,
    key: AuthKey,
    location: Location,
    /// The address the listener is bound to (differs from `location` with an external
    /// address).
    bound: std::net::SocketAddr,
    clock: Clock,
    start: Instant,
    /// The clock `start` and `now_ms` are on: a simulated node's runtime clock, real
    /// time for any other node (as its peers' is, even on a deterministic runtime).
    beat_clock: Clock,
    state: Mutex<NodeState>,
    /// Notified when a peer connects or is lost.
    changed: Event,
    pending: Mutex<HashMap<u64, SlotFiller<Answer>>>,
    next_req: AtomicU64,
    /// Connections still authenticating, oldest first.
    preauth: Mutex<PreAuth>,
    /// Files being received.
    pub(crate) files: super::files::Files,
    /// Discovery by beacons, when configured (see `discovery.rs`).
    pub(crate) discovery: std::sync::OnceLock<Arc<super::discovery::Discovery>>,
}

/// The connections still authenticating: each with when it came and how to close it.
#[derive(Default)]
struct PreAuth {
    next: u64,
    open: std::collections::VecDeque<(u64, Instant, Closer)>,
}

/// How long, at most, a node waits for a peer of lower incarnation to dial back after a
/// connection between them ended, before dialing itself (see [`Node::connect`]).
const YIELD_TO_LOWER: Duration = Duration::from_millis(100);

/// How a dial ended, for every caller that waited for it: the peer's incarnation.
type DialResult = Result<u64, Arc<NetError>>;

#[derive(Default)]
struct NodeState {
    /// Connected peers (and peers in their grace period), by incarnation.
    peers: HashMap<u64, Arc<Peer>>,
    by_location: HashMap<Location, u64>,
    /// Peers to keep connected to (added with `peer`).
    wanted: HashSet<Location>,
    /// Dials under way: callers wait on the same one.
    dialing: HashMap<Location, Arc<Slot<DialResult>>>,
    /// Frames for nodes being connected to, with the incarnation they are meant for,
    /// in the order they were sent.
    waiting: HashMap<Location, Vec<(u64, Frame)>>,
    /// Monitors of tasks on nodes being connected to: (incarnation, monitor, target).
    /// At the connection they become the peer's (before the frames that waited with
    /// them go out, so that a connection that ends at once tells them).
    monitors_waiting: HashMap<Location, Vec<(u64, TaskRef, TaskRef)>>,
    status: Vec<TaskRef>,
    stopped: bool,
    /// Monitors (monitor's id, target's id) told that a peer was lost, by the peer's
    /// incarnation, oldest first, at most [`LOST_TOLD_KEPT`] in all: if that incarnation
    /// comes back (it was declared lost, but it was not gone), those whose monitor is
    /// still alive are fenced off on its new session, so that no status for them from
    /// it gets through after their notice.
    lost_told: std::collections::VecDeque<(u64, Vec<(u64, u64)>)>,
}

/// How many monitors told of lost peers are remembered in case a peer comes back (see
/// `NodeState::lost_told`); the oldest peers' are forgotten first.
const LOST_TOLD_KEPT: usize = 4096;

impl NodeState {
    /// Remembers the monitors told that peer `inc` was lost; forgets those of monitors
    /// that have ended since (`alive` says which are not), and the oldest beyond
    /// [`LOST_TOLD_KEPT`].
    fn remember_told(&mut self, inc: u64, told: Vec<(u64, u64)>, alive: impl Fn(u64) -> bool) {
        for (_, kept) in &mut self.lost_told {
            kept.retain(|(monitor, _)| alive(*monitor));
        }
        self.lost_told.retain(|(_, kept)| !kept.is_empty());
        if !told.is_empty() {
            self.lost_told.push_back((inc, told));
        }
        let mut total: usize = self.lost_told.iter().map(|(_, t)| t.len()).sum();
        while total > LOST_TOLD_KEPT {
            let Some((_, oldest)) = self.lost_told.pop_front() else {
                break;
            };
            total -= oldest.len();
        }
    }

    /// Takes one monitor waiting for a connection to `location`; whether it was there.
    fn take_waiting_monitor(
        &mut self,
        location: Location,
        inc: u64,
        monitor: &TaskRef,
        target: &TaskRef,
    ) -> bool {
        let Some(monitors) = self.monitors_waiting.get_mut(&location) else {
            return false;
        };
        let found = monitors
            .iter()
            .position(|(n, m, t)| *n == inc && m == monitor && t == target)
            .map(|i| monitors.swap_remove(i))
            .is_some();
        if monitors.is_empty() {
            self.monitors_waiting.remove(&location);
        }
        found
    }

    fn take_lost_told(&mut self, inc: u64) -> Option<Vec<(u64, u64)>> {
        let i = self.lost_told.iter().position(|(n, _)| *n == inc)?;
        self.lost_told.remove(i).map(|(_, told)| told)
    }
}

impl Node {
    /// Binds the listener and starts accepting; called while the runtime is built.
    pub(crate) fn start(shared: &Arc<Shared>, config: NodeConfig) -> std::io::Result<Arc<Node>> {
        let secret = config.resolve_secret()?;
        let (listener, bound) = Listener::bind(&config)?;
        let location = Location(config.external.unwrap_or(bound));
        let me = Identity {
            name: config
                .name
                .clone()
                .unwrap_or_else(|| shared.node.name.to_string()),
            incarnation: shared.node.incarnation,
            listen: Some(location.0),
        };
        #[cfg(feature = "test-util")]
        let beat_clock = match config.sim {
            Some(_) => shared.clock.clone(),
            None => Clock::Real,
        };
        #[cfg(not(feature = "test-util"))]
        let beat_clock = Clock::Real;
        let node = Arc::new(Node {
            shared: Arc::downgrade(shared),
            key: AuthKey::derive(&secret),
            me,
            location,
            bound,
            clock: shared.clock.clone(),
            start: beat_clock.now(),
            beat_clock,
            state: Mutex::new(NodeState::default()),
            changed: Event::new(),
            pending: Mutex::new(HashMap::new()),
            next_req: AtomicU64::new(1),
            preauth: Mutex::new(PreAuth::default()),
            files: super::files::Files::default(),
            discovery: std::sync::OnceLock::new(),
            config,
        });
        let handle = crate::Handle {
            shared: shared.clone(),
        };
        let accepting = node.clone();
        crate::task::Builder::new()
            .name("rcos-net-listener")
            .daemon(true)
            .spawn_on(&handle, move |_| async move {
                accepting.accept_loop(listener).await
            });
        let watching = node.clone();
        crate::task::Builder::new()
            .name("rcos-net-heartbeat")
            .daemon(true)
            .spawn_on(&handle, move |_| async move { watching.watch_loop().await });
        super::discovery::start(&node, &secret)?;
        tracing::info!(node = %node.me.name, %location, "node listening");
        Ok(node)
    }

    pub(crate) fn config(&self) -> &NodeConfig {
        &self.config
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    pub(crate) fn location(&self) -> Location {
        self.location
    }

    pub(crate) fn bound(&self) -> std::net::SocketAddr {
        self.bound
    }

    /// This node's incarnation.
    pub(crate) fn incarnation(&self) -> u64 {
        self.me.incarnation
    }

    /// This node's name.
    pub(crate) fn me_name(&self) -> String {
        self.me.name.clone()
    }

    /// Milliseconds since the node started (for heartbeats).
    pub(crate) fn now_ms(&self) -> u64 {
        self.beat_clock
            .now()
            .saturating_duration_since(self.start)
            .as_millis() as u64
    }

    fn handle_rt(&self) -> Option<crate::Handle> {
        self.shared.upgrade().map(|shared| crate::Handle { shared })
    }

    /// Spawns one of the node's own tasks on its runtime; `false` when the runtime has
    /// gone.
    pub(crate) fn spawn_system<F, Fut>(&self, name: &'static str, f: F) -> bool
    where
        F: FnOnce(TaskRef) -> Fut,
        Fut: std::future::Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        match self.handle_rt() {
            Some(handle) => {
                crate::task::Builder::new()
                    .name(name)
                    .daemon(true)
                    .spawn_on(&handle, f);
                true
            }
            None => false,
        }
    }

    async fn accept_loop(self: Arc<Self>, listener: Listener) {
        loop {
            let (stream, from) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    crate::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(ticket) = self.admit(from, &stream) else {
                continue;
            };
            let node = self.clone();
            let admitted = Admitted {
                node: self.clone(),
                ticket,
            };
            self.spawn_system("rcos-net-accept", move |_| async move {
                let _admitted = admitted;
                let timeout = node.config.handshake_timeout;
                let closer = stream.closer();
                #[cfg(feature = "tls")]
                if let Some(tls) = node.config.tls.clone() {
                    // TLS first, then the secret's handshake inside it.
                    let attempt = async {
                        let tcp = stream
                            .into_tcp()
                            .ok_or_else(|| WireError::Protocol("TLS runs over TCP only".into()))?;
                        let tcp =
                            crate::io::TcpStream::from_async(tcp, crate::io::DEFAULT_MAX_MESSAGE);
                        let mut stream = tls
                            .acceptor
                            .accept(tcp)
                            .await
                            .map_err(|e| tls_failed(None, &e))?;
                        let session =
                            handshake::server(&mut stream, &node.me, &node.key, true).await?;
                        Ok((stream, session))
                    };
                    let result = node.clock.timeout(timeout, attempt).await.ok();
                    node.accepted(ticket, from, result, closer);
                    return;
                }
                let attempt = async {
                    let mut stream = stream;
                    let session = handshake::server(&mut stream, &node.me, &node.key, true)
                        .await
                        .map_err(|e| speaks_tls(from, e))?;
                    Ok((stream, session))
                };
                let result = node.clock.timeout(timeout, attempt).await.ok();
                node.accepted(ticket, from, result, closer);
            });
        }
    }

    /// Lets a new connection start authenticating, and returns its ticket. When
    /// [`max_preauth`](NodeConfig::max_preauth) connections already are, the oldest is
    /// closed to make room if it has been at it for a quarter of the handshake timeout
    /// (500 ms at most: an honest handshake takes milliseconds), so idle connections
    /// cannot lock peers out; otherwise the new one is refused.
    fn admit(&self, from: std::net::SocketAddr, stream: &Stream) -> Option<u64> {
        if self.state.lock().stopped {
            return None;
        }
        let mut table = self.preauth.lock();
        if table.open.len() >= self.config.max_preauth {
            let patience = (self.config.handshake_timeout / 4).min(Duration::from_millis(500));
            let oldest_waited = table.open.front().map(|(_, since, _)| since.elapsed());
            match oldest_waited {
                Some(waited) if waited >= patience => {
                    if let Some((_, _, close)) = table.open.pop_front() {
                        close();
                    }
                    tracing::warn!(%from, "too many unauthenticated connections: the oldest closed to make room");
                }
                _ => {
                    tracing::warn!(%from, "too many unauthenticated connections: refused");
                    return None;
                }
            }
        }
        let ticket = table.next;
        table.next += 1;
        table
            .open
            .push_back((ticket, Instant::now(), stream.closer()));
        Some(ticket)
    }

    /// Takes an accepted connection whose handshake ended (`None`: timed out) into
    /// service, or logs why it was refused.
    fn accepted<S>(
        self: &Arc<Self>,
        ticket: u64,
        from: std::net::SocketAddr,
        result: Option<Result<(S, Session), WireError>>,
        closer: Closer,
    ) where
        S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + Send + 'static,
    {
        self.preauth.lock().open.retain(|(t, _, _)| *t != ticket);
        match result {
            Some(Ok((stream, session))) => self.attach(session, stream, closer, false),
            Some(Err(error)) => log_refusal(from, &error),
            None => log_refusal(from, &WireError::Timeout),
        }
    }

    /// Connects to `location` (or waits for a connection under way) and returns the
    /// peer's incarnation. With `keep`, the node reconnects whenever it is lost.
    pub(crate) async fn connect(
        self: &Arc<Self>,
        location: Location,
        keep: bool,
    ) -> Result<u64, NetError> {
        if location == self.location {
            return Err(NetError::Wire(WireError::Protocol(
                "a node cannot connect to itself".into(),
            )));
        }
        let (slot, dial, yield_to) = {
            let mut st = self.state.lock();
            if keep {
                st.wanted.insert(location);
            }
            let known = st.by_location.get(&location).copied();
            if let Some(inc) = known {
                if st.peers.get(&inc).is_some_and(|p| p.is_connected()) {
                    return Ok(inc);
                }
            }
            // A peer whose connection just ended (it is in its grace period) and whose
            // incarnation is lower than this node's dials back first: of two connections
            // dialed at once, the one it dials is kept and the other closed, with
            // whatever was in flight on it. So this node waits a moment for that.
            let yield_to =
                known.filter(|inc| *inc < self.me.incarnation && st.peers.contains_key(inc));
            match st.dialing.get(&location) {
                Some(slot) => (slot.clone(), false, None),
                None => {
                    let slot = Arc::new(Slot::new());
                    st.dialing.insert(location, slot.clone());
                    (slot, true, yield_to)
                }
            }
        };
        if dial {
            // The dial runs on a task of its own: a caller that stops waiting (its
            // timeout is shorter than the handshake's) must not leave the dial half done
            // and every later caller waiting for a result that never comes.
            // (Dropped unrun, as at shutdown, the filler closes the slot.)
            let (node, filler) = (self.clone(), SlotFiller(slot.clone()));
            let dialing = async move {
                if let Some(inc) = yield_to {
                    let wait = (node.config.reconnect_grace / 4).min(YIELD_TO_LOWER);
                    if node.comes_back(inc, wait).await {
                        node.state.lock().dialing.remove(&location);
                        let _ = filler.fill(Ok(inc));
                        return;
                    }
                }
                let result = node.dial(location).await;
                node.state.lock().dialing.remove(&location);
                let _ = filler.fill(result.map_err(Arc::new));
            };
            if !self.spawn_system("rcos-net-dial", move |_| dialing) {
                self.state.lock().dialing.remove(&location);
                slot.close();
            }
        }
        match slot.wait_shared().await {
            Some(Ok(inc)) => Ok(inc),
            Some(Err(e)) => Err(e.duplicate()),
            None => Err(NetError::NotConnected(location)),
        }
    }

    async fn dial(self: &Arc<Self>, location: Location) -> Result<u64, NetError> {
        let timeout = self.config.handshake_timeout;
        #[cfg(feature = "tls")]
        if let Some(tls) = self.config.tls.clone() {
            // TLS first, then the secret's handshake inside it.
            let server_name = self
                .config
                .tls_server_name
                .clone()
                .unwrap_or_else(|| location.addr().ip().to_string());
            let attempt = async {
                let stream = Stream::connect(&self.config, self.location, location)
                    .await
                    .map_err(WireError::from)?;
                let closer = stream.closer();
                let tcp = stream
                    .into_tcp()
                    .ok_or_else(|| WireError::Protocol("TLS runs over TCP only".into()))?;
                let tcp = crate::io::TcpStream::from_async(tcp, crate::io::DEFAULT_MAX_MESSAGE);
                let mut stream = tls
                    .connector
                    .connect(&server_name, tcp)
                    .await
                    .map_err(|e| tls_failed(Some(location), &e))?;
                // In TLS 1.3 a server that refuses the client's certificate says so
                // after the client has finished: on the first read, here.
                let session = handshake::client(&mut stream, &self.me, &self.key, true)
                    .await
                    .map_err(|e| match e {
                        WireError::Io(_) | WireError::Closed => WireError::Protocol(format!(
                            "{location} ended the connection after TLS ({e}): does it trust this node's certificate?"
                        )),
                        e => e,
                    })?;
                Ok((stream, session, closer))
            };
            let result = self.clock.timeout(timeout, attempt).await.ok();
            return self.dialed(location, result);
        }
        let attempt = async {
            let mut stream = Stream::connect(&self.config, self.location, location)
                .await
                .map_err(WireError::from)?;
            let closer = stream.closer();
            let session = handshake::client(&mut stream, &self.me, &self.key, true)
                .await
                .map_err(|e| speaks_tls(location, e))?;
            Ok((stream, session, closer))
        };
        let result = self.clock.timeout(timeout, attempt).await.ok();
        self.dialed(location, result)
    }

    /// Takes a dialed connection whose handshake ended (`None`: timed out) into
    /// service; returns the peer's incarnation.
    fn dialed<S>(
        self: &Arc<Self>,
        location: Location,
        result: Option<Result<(S, Session, Closer), WireError>>,
    ) -> Result<u64, NetError>
    where
        S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + Send + 'static,
    {
        match result {
            Some(Ok((stream, session, closer))) => {
                let inc = session.peer.incarnation;
                self.attach(session, stream, closer, true);
                Ok(inc)
            }
            Some(Err(error)) => {
                tracing::debug!(%location, %error, "connection failed");
                Err(NetError::Wire(error))
            }
            None => Err(NetError::Timeout),
        }
    }

    /// Takes an authenticated connection into service.
    fn attach<S>(self: &Arc<Self>, session: Session, stream: S, closer: Closer, dialed: bool)
    where
        S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin + Send + 'static,
    {
        let identity = session.peer.clone();
        let inc = identity.incarnation;
        let minor = session.minor;
        let (peer, epoch, fresh, gone) = {
            let mut st = self.state.lock();
            if st.stopped {
                closer();
                return;
            }
            let found = if let Some(existing) = st.peers.get(&inc).cloned() {
                if existing.is_connected() {
                    // Both dialed at once: keep the connection dialed by the node with
                    // the lower incarnation; both sides decide the same.
                    let dialer = if dialed { self.me.incarnation } else { inc };
                    let keep_new = dialer == self.me.incarnation.min(inc);
                    if !keep_new {
                        drop(st);
                        tracing::debug!(peer = %identity.name, "duplicate connection closed");
                        closer();
                        return;
                    }
                }
                let epoch = existing.epoch.fetch_add(1, Ordering::AcqRel) + 1;
                existing.replace_closer(closer);
                existing.connected.store(true, Ordering::Release);
                (existing, epoch, false)
            } else {
                let peer = Arc::new(Peer::new(
                    identity.clone(),
                    self.config.outbound_limit,
                    self.config.max_frame,
                ));
                peer.replace_closer(closer);
                peer.connected.store(true, Ordering::Release);
                if let Some(location) = peer.location {
                    st.by_location.insert(location, inc);
                }
                st.peers.insert(inc, peer.clone());
                if let Some(told) = st.take_lost_told(inc) {
                    // Declared lost earlier, it was not gone: its node may still hold
                    // monitors whose notice was given here. They go first. (A monitor
                    // that has ended hears of nothing anyway.)
                    let live: Vec<(TaskRef, u64)> = match self.shared.upgrade() {
                        Some(shared) => told
                            .iter()
                            .filter_map(|(monitor, target)| {
                                let core = shared.tasks.get(*monitor)?;
                                Some((TaskRef::from_core(core), *target))
                            })
                            .collect(),
                        None => Vec::new(),
                    };
                    tracing::info!(peer = %identity.name, monitors = live.len(), "a peer declared lost came back: the monitors told of it are fenced off");
                    peer.fence_off(&live);
                }
                Self::announce(&mut st, &peer, true);
                (peer, 0, true)
            };
            // The frames that waited for this connection are queued before the lock
            // lets a concurrent `send_to` find the peer and queue behind them.
            let gone = Self::release_waiting(&mut st, &found.0);
            (found.0, found.1, found.2, gone)
        };
        for (monitor, target) in gone {
            // Meant for an earlier incarnation of the node: that one has gone.
            let _ = monitor.send_system(MonitorStatus {
                task: target,
                exit: Exit::NodeLost,
            });
        }
        tracing::debug!(peer = %identity.name, dialed, epoch, fresh, "connection attached");
        peer.last_heard.store(self.now_ms(), Ordering::Release);
        peer.poke();
        let node = self.clone();
        let running = peer.clone();
        self.spawn_system("rcos-net-writer", move |_| async move {
            peer::run_connection(node, running, stream, session, epoch).await;
        });
        if fresh {
            tracing::info!(peer = %identity.name, location = ?peer.location, protocol = %format_args!("{}.{minor}", super::codec::PROTOCOL_MAJOR), "peer online");
        }
        crate::util::notify(&self.changed, usize::MAX);
    }

    /// Queues the frames that waited for this peer's connection, ahead of anything else,
    /// after making the monitors that waited with them the peer's. Returns the waiting
    /// monitors meant for another incarnation, to be told it is lost.
    fn release_waiting(st: &mut NodeState, peer: &Arc<Peer>) -> Vec<(TaskRef, TaskRef)> {
        let Some(location) = peer.location else {
            return Vec::new();
        };
        let inc = peer.identity.incarnation;
        let mut gone = Vec::new();
        if let Some(monitors) = st.monitors_waiting.remove(&location) {
            let mut watched = peer.watched.lock();
            for (meant_for, monitor, target) in monitors {
                if meant_for == inc {
                    watched.push((monitor, target));
                } else {
                    gone.push((monitor, target));
                }
            }
        }
        let waiting = st.waiting.remove(&location).unwrap_or_default();
        let mut stale = 0;
        for (meant_for, frame) in waiting {
            if meant_for == inc {
                let _ = peer.push(&frame);
            } else {
                stale += 1;
            }
        }
        if stale > 0 {
            tracing::warn!(peer = %peer.identity.name, stale, "frames for an earlier incarnation of a node dropped");
        }
        gone
    }

    /// Makes the local task `monitor` a monitor of `target`, on the node with
    /// incarnation `inc` at `location`. When that node is connected, or in its grace
    /// period, the monitor is in place at once ([`Peer::watch`]). Otherwise it waits
    /// with the frames for that node and becomes its peer's when the connection is made
    /// (covering every message sent from now on); if no connection comes within the
    /// request timeout, or the node cannot be reached, it is told `NodeLost`.
    pub(crate) fn monitor_remote(
        self: &Arc<Self>,
        inc: u64,
        location: Option<Location>,
        monitor: TaskRef,
        target: TaskRef,
    ) {
        let lost = |monitor: &TaskRef, target: TaskRef| {
            let _ = monitor.send_system(MonitorStatus {
                task: target,
                exit: Exit::NodeLost,
            });
        };
        let location = {
            let mut st = self.state.lock();
            if let Some(peer) = st.peers.get(&inc).cloned() {
                drop(st);
                peer.watch(monitor, target);
                return;
            }
            let reachable = location
                .filter(|l| !st.stopped && st.by_location.get(l).is_none_or(|known| *known == inc));
            let Some(location) = reachable else {
                drop(st);
                lost(&monitor, target);
                return;
            };
            st.monitors_waiting.entry(location).or_default().push((
                inc,
                monitor.clone(),
                target.clone(),
            ));
            let request = Frame::Monitor {
                target: target.id().as_u64(),
                monitor: monitor.clone(),
            };
            st.waiting.entry(location).or_default().push((inc, request));
            location
        };
        let node = self.clone();
        self.spawn_system("rcos-net-monitor", move |_| async move {
            let timeout = node.config.request_timeout;
            let connected = node.clock.timeout(timeout, node.connect(location, false)).await;
            if matches!(connected, Ok(Ok(_))) {
                return; // the connection took the monitor, or told it
            }
            // Still waiting (no connection took it): it is told here, once.
            let still_waiting =
                node.state
                    .lock()
                    .take_waiting_monitor(location, inc, &monitor, &target);
            if still_waiting {
                tracing::debug!(%location, "monitor of a task on a node not reached: told it is lost");
                lost(&monitor, target);
            }
        });
    }

    /// Sends a frame to the node with incarnation `inc`: queued on its connection, or,
    /// while it is being connected to at `location`, kept until it is.
    pub(crate) fn send_to(
        self: &Arc<Self>,
        inc: u64,
        location: Option<Location>,
        frame: Frame,
    ) -> Result<(), crate::SendErrorKind> {
        let dial = {
            let mut st = self.state.lock();
            if let Some(peer) = st.peers.get(&inc) {
                // Connected, or briefly disconnected: the next connection sends it.
                return peer.push(&frame);
            }
            let Some(location) = location else {
                return Err(crate::SendErrorKind::Unreachable);
            };
            if st.stopped {
                return Err(crate::SendErrorKind::Unreachable);
            }
            if st
                .by_location
                .get(&location)
                .is_some_and(|known| *known != inc)
            {
                // Another incarnation answers there now: this one has gone.
                return Err(crate::SendErrorKind::Ended);
            }
            let waiting = st.waiting.entry(location).or_default();
            if waiting.len() >= 65_536 {
                return Err(crate::SendErrorKind::Full);
            }
            waiting.push((inc, frame));
            (!st.dialing.contains_key(&location)).then_some(location)
        };
        if let Some(location) = dial {
            let node = self.clone();
            self.spawn_system("rcos-net-dial", move |_| async move {
                if node.connect(location, false).await.is_err() {
                    let dropped = node.state.lock().waiting.remove(&location).map_or(0, |w| w.len());
                    if dropped > 0 {
                        tracing::warn!(%location, dropped, "node unreachable: messages to it dropped");
                    }
                }
            });
        }
        Ok(())
    }

    /// A connection ended (the first of its reader and writer to notice calls this).
    pub(crate) fn connection_ended(
        self: &Arc<Self>,
        peer: &Arc<Peer>,
        epoch: u64,
        error: &WireError,
    ) {
        tracing::debug!(peer = %peer.identity.name, epoch, current = peer.epoch.load(Ordering::Acquire), %error, "connection ended");
        if peer
            .epoch
            .compare_exchange(epoch, epoch + 1, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return; // a newer connection took over, or the other half got here first
        }
        peer.connected.store(false, Ordering::Release);
        peer.close_connection();
        peer.poke();
        let stopped = self.state.lock().stopped;
        if stopped {
            return;
        }
        if peer.parted(epoch) {
            // A goodbye was said on it, by either side: closed on purpose, not got back.
            tracing::info!(peer = %peer.identity.name, "connection closed with a goodbye");
            self.lose(peer, "closed");
            return;
        }
        match error {
            WireError::Closed => tracing::info!(peer = %peer.identity.name, "connection closed"),
            error => tracing::warn!(peer = %peer.identity.name, %error, "connection lost"),
        }
        // Try to get it back at once: a peer that is gone refuses, and is declared lost
        // without waiting; one that answers keeps its session state.
        let node = self.clone();
        let peer = peer.clone();
        self.spawn_system("rcos-net-recover", move |_| async move {
            let back = match peer.location {
                Some(location) if !peer.closed_for_good() => {
                    let grace = node.config.reconnect_grace;
                    let back = matches!(node.clock.timeout(grace, node.connect(location, false)).await, Ok(Ok(inc)) if inc == peer.identity.incarnation);
                    tracing::debug!(peer = %peer.identity.name, back, "recovery dial ended");
                    if back && peer.closed_for_good() {
                        // `close_peer` ran while the dial was under way: what it closed
                        // stays closed.
                        node.close_peer(location).await;
                    }
                    back
                }
                _ => false,
            };
            if !back {
                node.lose(&peer, "did not come back");
            }
        });
    }

    /// Declares a peer lost: monitors of its tasks and requests to it learn of it.
    pub(crate) fn lose(self: &Arc<Self>, peer: &Arc<Peer>, why: &str) {
        let inc = peer.identity.incarnation;
        let (wanted, watched) = {
            let mut st = self.state.lock();
            if !st.peers.get(&inc).is_some_and(|p| Arc::ptr_eq(p, peer)) {
                tracing::debug!(peer = %peer.identity.name, why, "not declared lost: replaced or gone already");
                return;
            }
            if peer.is_connected() {
                tracing::debug!(peer = %peer.identity.name, why, "not declared lost: it came back meanwhile");
                return;
            }
            st.peers.remove(&inc);
            // Under the lock that `attach` takes: a new session of this incarnation
            // finds them.
            let watched = std::mem::take(&mut *peer.watched.lock());
            let mut told = peer.take_told();
            told.extend(
                watched
                    .iter()
                    .map(|(monitor, target)| (monitor.id().as_u64(), target.id().as_u64())),
            );
            let shared = self.shared.upgrade();
            st.remember_told(inc, told, |monitor| {
                shared
                    .as_ref()
                    .is_some_and(|s| s.tasks.get(monitor).is_some())
            });
            if let Some(location) = peer.location {
                if st.by_location.get(&location) == Some(&inc) {
                    st.by_location.remove(&location);
                }
            }
            Self::announce(&mut st, peer, false);
            let wanted = peer
                .location
                .filter(|l| st.wanted.contains(l) && !st.stopped);
            (wanted, watched)
        };
        tracing::warn!(peer = %peer.identity.name, why, "peer lost");
        peer.close_outbound();
        self.files.peer_gone(inc);
        self.fail_requests(peer);
        for (monitor, target) in watched {
            let _ = monitor.send_system(MonitorStatus {
                task: target,
                exit: Exit::NodeLost,
            });
        }
        crate::util::notify(&self.changed, usize::MAX);
        if let Some(location) = wanted {
            let node = self.clone();
            self.spawn_system("rcos-net-redial", move |_| async move {
                node.redial(location).await
            });
        }
    }

    /// Keeps trying to reconnect to a wanted peer, backing off up to 5 s.
    async fn redial(self: Arc<Self>, location: Location) {
        let mut delay = Duration::from_millis(100);
        loop {
            {
                let st = self.state.lock();
                if st.stopped || !st.wanted.contains(&location) {
                    return;
                }
            }
            if self.connect(location, false).await.is_ok() {
                return;
            }
            crate::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// Declares silent peers down: nothing heard for `misses` heartbeat intervals.
    async fn watch_loop(self: Arc<Self>) {
        let interval = self.config.heartbeat_interval;
        let limit = peer::silence_limit(interval, self.config.heartbeat_misses).as_millis() as u64;
        let tick = (interval / 2).as_millis() as u64;
        let (mut last_tick, mut baseline) = (self.now_ms(), 0u64);
        loop {
            crate::time::sleep(interval / 2).await;
            let now = self.now_ms();
            // This node itself ran late (its threads were busy or the machine was):
            // silence over that stretch says nothing about the peers, so it is not
            // counted against them.
            if now.saturating_sub(last_tick) > tick + limit / 2 {
                tracing::debug!(late_ms = now - last_tick - tick, "heartbeat check ran late");
                baseline = now;
            }
            last_tick = now;
            let silent: Vec<Arc<Peer>> = self
                .state
                .lock()
                .peers
                .values()
                .filter(|p| {
                    let heard = p.last_heard.load(Ordering::Acquire).max(baseline);
                    p.is_connected() && now.saturating_sub(heard) > limit
                })
                .cloned()
                .collect();
            for peer in silent {
                tracing::warn!(peer = %peer.identity.name, "no heartbeat: peer down");
                let epoch = peer.epoch.load(Ordering::Acquire);
                // Down by heartbeat: lost at once, no grace (its session is not reused).
                if peer
                    .epoch
                    .compare_exchange(epoch, epoch + 1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    peer.connected.store(false, Ordering::Release);
                    peer.close_connection();
                    peer.poke();
                    self.lose(&peer, "heartbeats missed");
                }
            }
        }
    }

    /// Tells the status subscribers (all local tasks) that `peer` came or went. Called
    /// with the state locked, in the same hold as the change it reports, so that a
    /// peer's statuses come in the order of its changes.
    fn announce(st: &mut NodeState, peer: &Peer, online: bool) {
        let Some(location) = peer.location else {
            return;
        };
        let status = PeerStatus {
            location,
            name: peer.identity.name.clone(),
            online,
        };
        st.status
            .retain(|task| task.send_system(status.clone()).is_ok());
    }

    pub(crate) fn subscribe_status(&self, task: TaskRef) {
        let mut st = self.state.lock();
        // Every peer not lost: one whose connection is being got back is still online
        // as far as statuses go (it is announced offline when it is lost).
        for peer in st.peers.values() {
            if let Some(location) = peer.location {
                let _ = task.send_system(PeerStatus {
                    location,
                    name: peer.identity.name.clone(),
                    online: true,
                });
            }
        }
        if !st.status.contains(&task) {
            st.status.push(task);
        }
    }

    pub(crate) fn peers(&self) -> Vec<Location> {
        let st = self.state.lock();
        let mut peers: Vec<Location> = st
            .peers
            .values()
            .filter(|p| p.is_connected())
            .filter_map(|p| p.location)
            .collect();
        peers.sort();
        peers
    }

    fn connected_peers(&self) -> Vec<Arc<Peer>> {
        self.state
            .lock()
            .peers
            .values()
            .filter(|p| p.is_connected())
            .cloned()
            .collect()
    }

    pub(crate) async fn close_peer(self: &Arc<Self>, location: Location) {
        let peer = {
            let mut st = self.state.lock();
            st.wanted.remove(&location);
            st.by_location
                .get(&location)
                .and_then(|inc| st.peers.get(inc))
                .cloned()
        };
        let Some(peer) = peer else { return };
        // Marked first: this side's reader may see the connection end (the peer read
        // the goodbye and let it go) before the cut below, and must not get it back.
        peer.close_for_good();
        peer.part(peer.epoch.load(Ordering::Acquire));
        let _ = peer.push(&Frame::Goodbye);
        // Give the goodbye time to leave, then cut: a peer that reads it first lets the
        // connection go, while one that only sees the cut tries to get it back.
        let _ = self.clock.timeout(STOP_FLUSH, self.flushed(&peer)).await;
        let epoch = peer.epoch.load(Ordering::Acquire);
        if peer
            .epoch
            .compare_exchange(epoch, epoch + 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            peer.connected.store(false, Ordering::Release);
            peer.close_connection();
            peer.poke();
        }
        self.lose(&peer, "closed");
    }

    async fn flushed(&self, peer: &Peer) {
        // Until the writer has written (not merely taken) what was queued.
        while peer.is_flushing() {
            crate::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Stops the node: closes every connection (on runtime shutdown).
    pub(crate) fn stop(&self) {
        if let Some(discovery) = self.discovery.get() {
            discovery.stop(); // first: no beacon starts a connection from now on
        }
        let peers: Vec<Arc<Peer>> = {
            let mut st = self.state.lock();
            st.stopped = true;
            st.wanted.clear();
            st.peers.drain().map(|(_, p)| p).collect()
        };
        // Connections still authenticating end too (their sockets are not left open).
        let preauth = std::mem::take(&mut self.preauth.lock().open);
        for (_, _, close) in preauth {
            close();
        }
        // Say goodbye, and give what is already queued (answers, replies, the last
        // messages) a moment to leave before the connections close; unless this is a
        // simulated node that was killed, whose tasks no longer run.
        #[cfg(feature = "test-util")]
        let killed = self
            .config
            .sim
            .as_ref()
            .is_some_and(|sim| sim.is_dead(self.location.addr()));
        #[cfg(not(feature = "test-util"))]
        let killed = false;
        for peer in peers.iter().filter(|_| !killed) {
            let _ = peer.push(&Frame::Goodbye);
        }
        let deadline = Instant::now() + if killed { Duration::ZERO } else { STOP_FLUSH };
        while peers.iter().any(|p| p.is_flushing()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        for peer in peers {
            peer.connected.store(false, Ordering::Release);
            peer.close_connection();
            peer.close_outbound();
        }
        self.pending.lock().clear();
    }

    /// Whether the peer with incarnation `inc` is connected within `wait`.
    async fn comes_back(&self, inc: u64, wait: Duration) -> bool {
        let deadline = self.clock.now() + wait;
        loop {
            let listener = self.changed.listen();
            if self.connected_peer(inc).is_some() {
                return true;
            }
            let left = deadline.saturating_duration_since(self.clock.now());
            if left.is_zero() || self.clock.timeout(left, listener).await.is_err() {
                return self.connected_peer(inc).is_some();
            }
        }
    }

    /// The peer with this incarnation, if connected, connecting to `location` first if
    /// needed.
    pub(crate) async fn peer_for(
        self: &Arc<Self>,
        incarnation: u64,
        location: Option<Location>,
    ) -> Option<Arc<Peer>> {
        if let Some(peer) = self.connected_peer(incarnation) {
            return Some(peer);
        }
        match self.connected_at(location?).await {
            Ok(peer) if peer.identity.incarnation == incarnation => Some(peer),
            _ => None,
        }
    }

    /// Connects to `location` and returns the peer there, connected. A connection can
    /// end as soon as it is made — one of two dialed at the same moment is closed in
    /// favour of the other, and the side that closes it may do so before this side has
    /// the other — so this asks again, a few times, before giving up.
    pub(crate) async fn connected_at(
        self: &Arc<Self>,
        location: Location,
    ) -> Result<Arc<Peer>, NetError> {
        let mut tries = 0u32;
        loop {
            let inc = self.connect(location, false).await?;
            if let Some(peer) = self.connected_peer(inc) {
                return Ok(peer);
            }
            tries += 1;
            if tries >= 5 {
                return Err(NetError::NotConnected(location));
            }
            tracing::debug!(%location, tries, "the connection ended as it was made: again");
            crate::time::sleep(Duration::from_millis(10 << tries)).await;
        }
    }

    /// A connection to `peer` ended: the requests waiting for answers on it may have
    /// been lost with it (or were never read by the other side), so each fails now with
    /// [`NetError::ConnectionLost`] rather than waiting out its timeout. Its requester
    /// may ask again, on the connection that replaces it.
    pub(crate) fn fail_requests(&self, peer: &Peer) {
        let requests = std::mem::take(&mut *peer.requests.lock());
        if requests.is_empty() {
            return;
        }
        let mut pending = self.pending.lock();
        for req in requests {
            // Dropping the filler closes the slot: the requester learns it is lost.
            drop(pending.remove(&req));
        }
    }

    pub(crate) fn connected_peer(&self, incarnation: u64) -> Option<Arc<Peer>> {
        self.state
            .lock()
            .peers
            .get(&incarnation)
            .filter(|p| p.is_connected())
            .cloned()
    }

    /// Sends a request frame made with a fresh request id and waits (up to `timeout`) for
    /// its answer.
    pub(crate) async fn request(
        &self,
        peer: &Arc<Peer>,
        timeout: Duration,
        make: impl FnOnce(u64) -> Frame,
    ) -> Result<Answer, NetError> {
        let req = self.next_req.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot::new());
        self.pending.lock().insert(req, SlotFiller(slot.clone()));
        peer.requests.lock().push(req);
        let _forget = crate::util::OnDrop(|| {
            self.pending.lock().remove(&req);
            peer.requests.lock().retain(|r| *r != req);
        });
        match peer.push(&make(req)) {
            Ok(()) => {}
            Err(crate::SendErrorKind::TooLarge) => return Err(NetError::TooLarge),
            Err(_) => {
                return Err(NetError::NotConnected(
                    peer.location.unwrap_or(self.location),
                ));
            }
        }
        match self.clock.timeout(timeout, slot.wait()).await {
            Ok(Some(answer)) => Ok(answer),
            Ok(None) => {
                let at = peer.location.unwrap_or(self.location);
                // The slot closes when the peer is lost, or when only the connection
                // the request went out on ended.
                let still_known = self
                    .state
                    .lock()
                    .peers
                    .get(&peer.identity.incarnation)
                    .is_some_and(|known| Arc::ptr_eq(known, peer));
                Err(if still_known {
                    NetError::ConnectionLost(at)
                } else {
                    NetError::NotConnected(at)
                })
            }
            Err(_) => Err(NetError::Timeout),
        }
    }

    fn answer(&self, peer: &Peer, req: u64, answer: Answer) {
        let _ = peer.push(&Frame::Answer { req, answer });
    }

    /// Handles a frame from `peer` (on the peer's reader task).
    pub(crate) fn handle(self: &Arc<Self>, peer: &Arc<Peer>, frame: Frame) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        if let Some(msg) = frame.message() {
            let depth = self.config.max_decode_depth;
            if !super::frame::fast::within_depth(msg.bytes(), depth) {
                tracing::warn!(
                    peer = %peer.identity.name,
                    message = %msg.name(),
                    depth,
                    "message nested too deeply (or malformed): dropped"
                );
                if let Some(req) = frame.message_request() {
                    self.answer(
                        peer,
                        req,
                        Answer::Failed(format!("message nested deeper than {depth}")),
                    );
                }
                return;
            }
        }
        match frame {
            Frame::Ping(n) => {
                let _ = peer.push(&Frame::Pong(n));
            }
            Frame::Pong(_) | Frame::Goodbye => {}
            Frame::Send { to, msg } => {
                if msg.name() == <MonitorStatus as crate::Message>::wire_name() {
                    self.status_arrived(peer, to, &msg);
                }
                if let Some(core) = shared.tasks.get(to) {
                    let _ = TaskRef::from_core(core).forward(msg.into_envelope());
                } else {
                    tracing::debug!(peer = %peer.identity.name, task = to, "message for a task that does not exist: dropped");
                }
            }
            Frame::Deliver { req, to, msg } => {
                let answer = match shared.tasks.get(to) {
                    Some(core) => match TaskRef::from_core(core).forward(msg.into_envelope()) {
                        Ok(()) => Answer::Done,
                        Err(e) => Answer::SendFailed(super::remote::kind_code(e.kind())),
                    },
                    None => {
                        Answer::SendFailed(super::remote::kind_code(crate::SendErrorKind::Ended))
                    }
                };
                self.answer(peer, req, answer);
            }
            Frame::Reply { id, msg } => {
                let slot = shared.replies.lock().get(&id).cloned();
                match slot {
                    // Without a span to open, a reply of the type the caller waits for
                    // goes in decoded, without an envelope.
                    Some(slot) if msg.span.is_none() => {
                        if let Some(other) = slot.fill_encoded(msg.encoded) {
                            slot.fill_from_remote(crate::Envelope::from_encoded(
                                other,
                                tracing::Span::none(),
                            ));
                        }
                    }
                    Some(slot) => slot.fill_from_remote(msg.into_envelope()),
                    None => tracing::debug!(
                        reply = id,
                        "reply for a caller that stopped waiting: dropped"
                    ),
                }
            }
            Frame::Monitor { target, monitor } => match shared.tasks.get_or_ended(target) {
                Some(core) => {
                    let target = TaskRef::from_core(core);
                    if let Err(error) = monitor.monitor_from_remote(&target) {
                        tracing::debug!(%error, "remote monitor refused");
                    }
                }
                None => {
                    // Unknown here: the task has ended (ids are never reused).
                    let _ = monitor.send_system(MonitorStatus {
                        task: TaskRef::detached(shared.node.clone(), target, String::new(), true),
                        exit: Exit::NotFound,
                    });
                }
            },
            Frame::Unmonitor { target, monitor } => {
                if let Some(core) = shared.tasks.get(target) {
                    monitor.unmonitor(&TaskRef::from_core(core));
                }
            }
            Frame::Terminate { target } => {
                if let Some(core) = shared.tasks.get(target) {
                    TaskRef::from_core(core).terminate();
                }
            }
            Frame::Throw { target, message } => {
                if let Some(core) = shared.tasks.get(target) {
                    TaskRef::from_core(core).throw(super::remote::RemoteError(message));
                }
            }
            Frame::Finish { req, target } => {
                let node = self.clone();
                let peer = peer.clone();
                let target = shared.tasks.get_or_ended(target).map(TaskRef::from_core);
                self.spawn_system("rcos-net-finish", move |_| async move {
                    let exit = match target {
                        Some(task) => task.finish().await,
                        None => Exit::NotFound,
                    };
                    node.answer(&peer, req, Answer::Exit(exit));
                });
            }
            Frame::HotSwap {
                req,
                target,
                function,
                args,
                timeout_ms,
            } => {
                let node = self.clone();
                let peer = peer.clone();
                let target = shared.tasks.get(target).map(TaskRef::from_core);
                self.spawn_system("rcos-net-hotswap", move |_| async move {
                    let answer = match target {
                        None => Answer::SwapFailed(super::remote::swap_code(
                            crate::task::HotSwapError::Ended,
                        )),
                        Some(task) => match task
                            .hot_swap_named(&function, &args, Duration::from_millis(timeout_ms))
                            .await
                        {
                            Ok(()) => Answer::Done,
                            Err(e) => Answer::SwapFailed(super::remote::swap_code(e)),
                        },
                    };
                    node.answer(&peer, req, answer);
                });
            }
            Frame::Locate { req, name, channel } => {
                let answer = if channel {
                    // Only channels published with `register` are found from afar.
                    match shared.channels.get(&name).map(Channel::from_core) {
                        Some(channel) if channel.is_registered() => Answer::Channel(channel),
                        _ => Answer::NotFound,
                    }
                } else {
                    match shared.names.get(&name) {
                        Some(task) => Answer::Task(task),
                        None => Answer::NotFound,
                    }
                };
                self.answer(peer, req, answer);
            }
            Frame::Spawn {
                req,
                function,
                args,
            } => {
                let handle = crate::Handle {
                    shared: shared.clone(),
                };
                let answer = match handle.spawn_named(&function, &args) {
                    Ok(task) => Answer::Task(task),
                    Err(e) => {
                        tracing::warn!(peer = %peer.identity.name, error = %e, "remote spawn refused");
                        Answer::Failed(e.to_string())
                    }
                };
                self.answer(peer, req, answer);
            }
            Frame::ChannelSend { channel, msg } => match shared.channels.get(&channel) {
                Some(core) => {
                    let _ = Channel::from_core(core).send_envelope(msg.into_envelope());
                }
                None => {
                    tracing::debug!(%channel, "message for a channel that does not exist: dropped")
                }
            },
            Frame::ChannelDeliver {
                req,
                channel,
                msg,
                n,
                timeout_ms,
            } => {
                let node = self.clone();
                let peer = peer.clone();
                let channel = shared.channels.get(&channel).map(Channel::from_core);
                self.spawn_system("rcos-net-deliver", move |_| async move {
                    let answer = match channel {
                        None => Answer::NotFound,
                        Some(ch) => match ch
                            .deliver_envelope(
                                msg.into_envelope(),
                                Duration::from_millis(timeout_ms),
                                n as usize,
                            )
                            .await
                        {
                            Ok(count) => Answer::Count(count as u64),
                            Err(e) => Answer::Failed(e.to_string()),
                        },
                    };
                    node.answer(&peer, req, answer);
                });
            }
            Frame::Subscribe {
                req,
                channel,
                subscriber,
            } => {
                let node = self.clone();
                let peer = peer.clone();
                let channel = shared.channels.get(&channel).map(Channel::from_core);
                self.spawn_system("rcos-net-subscribe", move |_| async move {
                    let answer = match channel {
                        None => Answer::NotFound,
                        Some(ch) => match ch.subscribe(subscriber).await {
                            Ok(()) => Answer::Done,
                            Err(e) => Answer::Failed(e.to_string()),
                        },
                    };
                    node.answer(&peer, req, answer);
                });
            }
            Frame::Unsubscribe {
                req,
                channel,
                subscriber,
            } => {
                let node = self.clone();
                let peer = peer.clone();
                let channel = shared.channels.get(&channel).map(Channel::from_core);
                self.spawn_system("rcos-net-unsubscribe", move |_| async move {
                    let answer = match channel {
                        None => Answer::NotFound,
                        Some(ch) => match ch.unsubscribe(subscriber).await {
                            Ok(true) => Answer::Done,
                            Ok(false) => Answer::NotFound,
                            Err(e) => Answer::Failed(e.to_string()),
                        },
                    };
                    node.answer(&peer, req, answer);
                });
            }
            Frame::FileBegin {
                req,
                path,
                size,
                sha256,
                overwrite,
            } => {
                let answer = self
                    .files
                    .begin(self, peer, &path, size, &sha256, overwrite);
                self.answer(peer, req, answer);
            }
            Frame::FileChunk {
                req,
                transfer,
                offset,
                bytes,
            } => {
                let answer = self.files.chunk(peer, transfer, offset, &bytes);
                self.answer(peer, req, answer);
            }
            Frame::FileEnd { req, transfer } => {
                let answer = self.files.end(peer, transfer);
                self.answer(peer, req, answer);
            }
            Frame::FileDelete { req, path } => {
                let answer = self.files.delete(self, peer, &path);
                self.answer(peer, req, answer);
            }
            Frame::Answer { req, answer } => {
                let filler = self.pending.lock().remove(&req);
                match filler {
                    Some(filler) => {
                        let _ = filler.fill(answer);
                    }
                    None => tracing::debug!(req, "answer to a request nobody waits for: dropped"),
                }
            }
        }
    }

    /// A monitor status from `peer` for local task `to`: that monitor no longer needs to
    /// be told of the peer's loss (exactly one status per monitor).
    fn status_arrived(&self, peer: &Peer, to: u64, msg: &WireMsg) {
        let Ok(status) = crate::message::decode::<MonitorStatus>(msg.bytes()) else {
            return;
        };
        tracing::debug!(peer = %peer.identity.name, monitor = to, exit = %status.exit, "monitor status arrived");
        peer.watched
            .lock()
            .retain(|(monitor, target)| !(monitor.id().as_u64() == to && *target == status.task));
    }

    /// Finds a task (or channel) named `name`: asks every connected peer and takes the
    /// first positive answer (a "not found" from one peer does not end the search),
    /// until `deadline`. Peers that connect meanwhile are asked too.
    pub(crate) async fn locate_anywhere(
        self: &Arc<Self>,
        name: &str,
        channel: bool,
        deadline: Instant,
    ) -> Option<Answer> {
        let mut asked: HashSet<u64> = HashSet::new();
        let found_tx: Arc<Slot<Answer>> = Arc::new(Slot::new());
        loop {
            let listener = self.changed.listen();
            for peer in self.connected_peers() {
                if !asked.insert(peer.identity.incarnation) {
                    continue;
                }
                let (node, name, found) = (self.clone(), name.to_string(), found_tx.clone());
                self.spawn_system("rcos-net-locate", move |_| async move {
                    // Ask again until the deadline: the name may be registered later.
                    loop {
                        let left = deadline.saturating_duration_since(node.clock.now());
                        if left.is_zero() || found.is_closed() {
                            return;
                        }
                        let step = left.min(Duration::from_millis(200));
                        let answer = node
                            .request(&peer, step.max(Duration::from_millis(50)), |req| {
                                Frame::Locate {
                                    req,
                                    name: name.clone(),
                                    channel,
                                }
                            })
                            .await;
                        match answer {
                            Ok(answer @ (Answer::Task(_) | Answer::Channel(_))) => {
                                let _ = found.fill(answer);
                                return;
                            }
                            Ok(_) => crate::time::sleep(step.min(Duration::from_millis(100))).await,
                            // Asked again: on the connection that replaces it.
                            Err(NetError::Timeout | NetError::ConnectionLost(_)) => {}
                            Err(_) => return,
                        }
                    }
                });
            }
            let left = deadline.saturating_duration_since(self.clock.now());
            if left.is_zero() {
                found_tx.close();
                return None;
            }
            let found = async { found_tx.wait().await };
            let changed = async {
                listener.await;
                None
            };
            match self
                .clock
                .timeout(left, futures_lite::future::or(found, changed))
                .await
            {
                Ok(Some(answer)) => {
                    found_tx.close();
                    return Some(answer);
                }
                Ok(None) => continue, // peers changed: ask the new ones
                Err(_) => {
                    found_tx.close();
                    return None;
                }
            }
        }
    }

    /// Finds a task registered as `name` on the node at `location`.
    pub(crate) async fn locate_at(
        self: &Arc<Self>,
        location: Location,
        name: &str,
        deadline: Instant,
    ) -> Option<TaskRef> {
        match self.locate_at_any(location, name, false, deadline).await {
            Some(Answer::Task(task)) => Some(task),
            _ => None,
        }
    }

    /// Finds a task (or channel) named `name` on the node at `location`, asking again
    /// until it appears or `deadline` passes.
    pub(crate) async fn locate_at_any(
        self: &Arc<Self>,
        location: Location,
        name: &str,
        channel: bool,
        deadline: Instant,
    ) -> Option<Answer> {
        loop {
            let left = deadline.saturating_duration_since(self.clock.now());
            if left.is_zero() {
                return None;
            }
            let peer = self
                .clock
                .timeout(left, self.connected_at(location))
                .await
                .ok()?
                .ok()?;
            let answer = self
                .request(&peer, left, |req| Frame::Locate {
                    req,
                    name: name.to_string(),
                    channel,
                })
                .await;
            match answer {
                Ok(found @ (Answer::Task(_) | Answer::Channel(_))) => return Some(found),
                Ok(_) => crate::time::sleep(left.min(Duration::from_millis(100))).await,
                // Asked again, on the connection that replaces it (a locate is harmless
                // to repeat).
                Err(NetError::ConnectionLost(_)) => {}
                Err(_) => return None,
            }
        }
    }
}

/// An accepted connection's place in the pre-authentication table, given up however
/// its handshake task ends — finished, or dropped without running when the runtime
/// stops — so that the table never keeps a socket open.
struct Admitted {
    node: Arc<Node>,
    ticket: u64,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let ticket = self.ticket;
        self.node
            .preauth
            .lock()
            .open
            .retain(|(t, _, _)| *t != ticket);
    }
}

fn log_refusal(from: std::net::SocketAddr, error: &WireError) {
    tracing::warn!(%from, %error, "connection refused");
}

/// A failed TLS handshake, as a wire error that says so.
#[cfg(feature = "tls")]
fn tls_failed(peer: Option<Location>, error: &std::io::Error) -> WireError {
    match peer {
        Some(at) => WireError::Protocol(format!(
            "TLS handshake with {at} failed: {error} (does it use TLS, with a certificate this node trusts?)"
        )),
        None => WireError::Protocol(format!("TLS handshake failed: {error}")),
    }
}

/// A node without TLS that meets a node with TLS reads a TLS record (an alert or a
/// handshake) where the preamble should be: says so, rather than "bad magic".
fn speaks_tls(peer: impl std::fmt::Display, error: WireError) -> WireError {
    match error {
        WireError::BadMagic([0x15 | 0x16, 0x03, _, _]) => WireError::Protocol(format!(
            "{peer} speaks TLS and this node does not (see NodeConfig::tls)"
        )),
        error => error,
    }
}
