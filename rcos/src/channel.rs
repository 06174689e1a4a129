//! Channels: named broadcast points that tasks (and other channels) subscribe to
//! (pycos's `Channel`).
//!
//! A message sent to a channel goes, through the channel's optional transform, to every
//! subscriber: into each subscribed task's mailbox, where it is received like any other
//! message, in the order it was sent; and on to each subscribed channel, which fans it
//! out to its own subscribers. Channels subscribed to channels make hierarchies; a
//! subscription that would make a cycle is refused (pycos recursed until its stack ran
//! out).
//!
//! A subscriber that falls behind does not slow the sender or the other subscribers,
//! nor grow without bound: once its mailbox holds the channel's
//! [capacity](Channel::set_capacity) (default [`DEFAULT_CAPACITY`]), the channel's
//! messages to it are dropped for it, and it gets a [`Lagged`] notice, with the number
//! it missed, where the gap is in its mailbox.
//!
//! ```
//! use std::time::Duration;
//! use rcos::channel::Channel;
//!
//! # rcos::Runtime::new().unwrap().block_on(async {
//! let news = Channel::new("news").unwrap();
//! let reader = rcos::spawn(|task| async move {
//!     let mut got = Vec::new();
//!     while let Ok(msg) = task.receive().await {
//!         match msg.downcast::<String>() {
//!             Ok(text) if text == "bye" => break,
//!             Ok(text) => got.push(text),
//!             Err(_) => {}
//!         }
//!     }
//!     got
//! });
//! news.subscribe(&reader).await.unwrap();
//! news.send("hello".to_string()).unwrap();
//! // `deliver` waits for at least one subscriber and counts the tasks it reached.
//! assert_eq!(news.deliver("bye".to_string(), Duration::from_secs(1), 1).await.unwrap(), 1);
//! assert_eq!(reader.finish().await.value().unwrap().take::<Vec<String>>(), Some(vec!["hello".to_string()]));
//! # });
//! ```

mod registry;
#[cfg(test)]
mod tests;
mod wire;

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::TaskRef;
use crate::error::{LocateError, SendErrorKind};
use crate::message::{Envelope, Message};
use crate::runtime::{Handle, NodeId, Shared};
use crate::util::{Mutex, panic_message};

pub(crate) use registry::ChannelRegistry;

/// How deep channels may nest when a message is fanned out (a guard against cycles
/// made by concurrent subscriptions; single subscriptions that would close a cycle are
/// refused up front).
const MAX_DEPTH: usize = 64;

/// The default [capacity](Channel::set_capacity) of a channel: how many messages a
/// subscribed task's mailbox may hold before the channel holds back what it sends
/// that task (and tells it with a [`Lagged`] notice). Large, so that only a subscriber
/// that has fallen far behind is affected; a publisher that may outrun a subscriber
/// sets a bound of its own.
pub const DEFAULT_CAPACITY: usize = 1 << 20;

/// A broadcast channel; see the [module docs](self). Cheap to clone (clones are the
/// same channel), comparable, printable as `name@runtime`, and serializable: sent to
/// another node it arrives as a reference to this channel.
#[derive(Clone)]
pub struct Channel {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Local(Arc<ChannelCore>),
    /// A channel that does not resolve here (closed, or on a runtime this one cannot
    /// reach).
    Detached(Arc<(NodeId, String)>),
    /// A channel on another node, reached through this runtime's node.
    Remote(Arc<RemoteChannel>),
}

/// A channel on another node.
pub(crate) struct RemoteChannel {
    pub(crate) node: NodeId,
    pub(crate) location: Option<crate::net::Location>,
    pub(crate) name: String,
    pub(crate) via: std::sync::Weak<Shared>,
}

impl RemoteChannel {
    fn net(&self) -> Result<Arc<crate::net::Node>, ChannelError> {
        self.via
            .upgrade()
            .and_then(|v| v.net.get().cloned())
            .ok_or(ChannelError::Unreachable)
    }

    fn push(&self, frame: crate::net::frame::Frame) -> Result<(), ChannelError> {
        self.net()?
            .send_to(self.node.incarnation, self.location, frame)
            .map_err(|_| ChannelError::Unreachable)
    }

    async fn request(
        &self,
        timeout: Duration,
        make: impl FnOnce(u64) -> crate::net::frame::Frame,
    ) -> Result<crate::net::frame::Answer, ChannelError> {
        let net = self.net()?;
        let peer = net
            .clock()
            .timeout(timeout, net.peer_for(self.node.incarnation, self.location))
            .await
            .ok()
            .flatten()
            .ok_or(ChannelError::Unreachable)?;
        net.request(&peer, timeout, make)
            .await
            .map_err(|_| ChannelError::Unreachable)
    }

    /// [`request`](Self::request) for a request that is harmless to repeat: asked again
    /// (within `timeout`) when the connection it went out on ended before the answer.
    async fn request_again(
        &self,
        timeout: Duration,
        make: impl Fn(u64) -> crate::net::frame::Frame,
    ) -> Result<crate::net::frame::Answer, ChannelError> {
        let net = self.net()?;
        let deadline = net.clock().now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(net.clock().now());
            let peer = net
                .clock()
                .timeout(left, net.peer_for(self.node.incarnation, self.location))
                .await
                .ok()
                .flatten()
                .ok_or(ChannelError::Unreachable)?;
            match net.request(&peer, left, &make).await {
                Ok(answer) => return Ok(answer),
                Err(crate::net::NetError::ConnectionLost(_)) if net.clock().now() < deadline => {}
                Err(_) => return Err(ChannelError::Unreachable),
            }
        }
    }

    fn default_timeout(&self) -> Duration {
        self.net()
            .map_or(Duration::from_secs(10), |n| n.config().request_timeout)
    }
}

/// A message transform: `Ok(Some(_))` passes the (possibly changed) message on,
/// `Ok(None)` drops it, `Err(_)` hands back a message the transform does not handle,
/// which passes on unchanged.
type Transform = dyn Fn(&str, Envelope) -> Result<Option<Envelope>, Envelope> + Send + Sync;

pub(crate) struct ChannelCore {
    name: Arc<str>,
    rt: Arc<Shared>,
    state: Mutex<State>,
    /// Notified when a subscriber joins (for `deliver`'s wait for `n` subscribers).
    joined: event_listener::Event,
}

struct State {
    /// Copy-on-write, so that sending never holds the lock while it delivers.
    subscribers: Arc<Vec<Sub>>,
    transform: Option<Arc<Transform>>,
    closed: bool,
    registered: bool,
    /// The bound on a subscribed task's mailbox (see [`Channel::set_capacity`]).
    capacity: usize,
}

/// A subscriber, with what the channel keeps to bound it.
#[derive(Clone)]
struct Sub {
    who: Subscriber,
    /// Shared by the copies of the list (it is copy-on-write).
    flow: Arc<Flow>,
}

impl Sub {
    fn new(who: Subscriber) -> Sub {
        Sub {
            who,
            flow: Arc::default(),
        }
    }
}

/// The flow control of one subscribed task: how much more may be queued for it
/// without looking at its mailbox again, and the gap it is in, if any.
#[derive(Default)]
struct Flow {
    /// Messages that may still be queued before the mailbox is measured again. Its
    /// length is measured (two locks) only when this runs out, so a subscriber that
    /// keeps up costs one atomic decrement per message.
    headroom: AtomicUsize,
    /// Whether `gap` holds an open gap (read without its lock on every delivery).
    lagging: AtomicBool,
    gap: Mutex<Option<Arc<Gap>>>,
}

impl Flow {
    /// Whether a message may be queued for `task` now: its mailbox holds fewer than
    /// `capacity` messages. Tasks on other nodes always have room here (their
    /// messages go to the connection).
    fn room(&self, task: &TaskRef, capacity: usize) -> bool {
        if !task.is_local() {
            return true;
        }
        let mut headroom = self.headroom.load(Ordering::Relaxed);
        while headroom > 0 {
            match self.headroom.compare_exchange_weak(
                headroom,
                headroom - 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => headroom = now,
            }
        }
        let len = task.mailbox_len();
        if len >= capacity {
            return false;
        }
        self.headroom.store(capacity - len - 1, Ordering::Relaxed);
        true
    }

    /// Counts a message `task` missed: the first of a gap queues a [`Lagged`] notice
    /// for it at once (as a runtime signal, past any bound), later ones add to that
    /// notice's count until the gap closes.
    fn miss(&self, task: &TaskRef, channel: &str) {
        self.headroom.store(0, Ordering::Relaxed);
        let mut gap = self.gap.lock();
        match &*gap {
            Some(open) => {
                open.missed.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                let open = Arc::new(Gap {
                    missed: AtomicU64::new(1),
                });
                self.lagging.store(true, Ordering::Release);
                let _ = task.send_system(Lagged {
                    channel: channel.to_string(),
                    gap: open.clone(),
                });
                *gap = Some(open);
            }
        }
    }

    /// Closes the open gap, if any, and returns it: its notice's count is final.
    /// Called before a message is queued, so the count is final before the message is
    /// in the mailbox; if the mailbox then refuses the message after all, the gap is
    /// [reopened](Self::reopen).
    fn close_gap(&self) -> Option<Arc<Gap>> {
        if !self.lagging.load(Ordering::Acquire) {
            return None;
        }
        let mut gap = self.gap.lock();
        self.lagging.store(false, Ordering::Release);
        gap.take()
    }

    /// A message was refused by the mailbox just after `closed` (the gap
    /// [`close_gap`](Self::close_gap) returned) was closed: the gap goes on, with this
    /// message counted in it.
    fn reopen(&self, closed: Option<Arc<Gap>>, task: &TaskRef, channel: &str) {
        if let Some(closed) = closed {
            let mut gap = self.gap.lock();
            if gap.is_none() {
                self.headroom.store(0, Ordering::Relaxed);
                closed.missed.fetch_add(1, Ordering::Relaxed);
                *gap = Some(closed);
                self.lagging.store(true, Ordering::Release);
                return;
            }
        }
        self.miss(task, channel);
    }
}

/// The count of a [`Lagged`] notice, shared with the channel while its gap is open.
#[derive(Debug)]
struct Gap {
    missed: AtomicU64,
}

/// The notice a subscribed task gets in place of channel messages it missed because
/// its mailbox was full: the channel's [capacity](Channel::set_capacity) or more
/// waiting in it, or a bounded mailbox ([`Builder::mailbox`](crate::task::Builder::mailbox))
/// that refused them. It is queued at once when the first message is held back — as
/// a runtime signal, so a full mailbox takes it too — and so sits in the mailbox just
/// where the gap is: every channel message before it came before the gap, every one
/// after it, after. [`missed`](Self::missed) counts the messages of the gap: it grows
/// while the gap lasts and is final from the moment the channel queues the task a
/// message again (which is before that message is in the mailbox). A subscriber that
/// keeps up never gets one.
///
/// ```
/// use std::time::Duration;
/// use rcos::channel::{Channel, Lagged};
///
/// # rcos::Runtime::new().unwrap().block_on(async {
/// let ticks = Channel::new("ticks").unwrap();
/// ticks.set_capacity(2).unwrap();
/// let busy = rcos::sync::Event::new();
/// let reader = rcos::spawn({
///     let busy = busy.clone();
///     move |task| async move {
///         busy.wait().await; // busy elsewhere while the ticks are sent
///         let mut seen = Vec::new();
///         while let Ok(Some(msg)) = task.receive_timeout(Duration::ZERO).await {
///             match msg.downcast::<Lagged>() {
///                 Ok(lagged) => seen.push(format!("missed {}", lagged.missed())),
///                 Err(msg) => seen.push(msg.downcast::<u32>().unwrap().to_string()),
///             }
///         }
///         seen
///     }
/// });
/// ticks.subscribe(&reader).await.unwrap();
/// for n in 0..5u32 {
///     ticks.send(n).unwrap();
/// }
/// busy.set();
/// let seen = reader.finish().await.value().unwrap().take::<Vec<String>>().unwrap();
/// // Two fit; the notice stands where the other three would have been.
/// assert_eq!(seen, ["0", "1", "missed 3"]);
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct Lagged {
    channel: String,
    gap: Arc<Gap>,
}

impl Lagged {
    /// The name of the channel the messages were missed on.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// How many messages were missed in this gap (see the [type's docs](Lagged)).
    pub fn missed(&self) -> u64 {
        self.gap.missed.load(Ordering::Relaxed)
    }
}

impl PartialEq for Lagged {
    fn eq(&self, other: &Lagged) -> bool {
        self.channel == other.channel && self.missed() == other.missed()
    }
}

impl Eq for Lagged {}

/// `Lagged` between nodes: its count as it stands.
#[derive(Serialize, Deserialize)]
struct LaggedWire {
    channel: String,
    missed: u64,
}

impl Serialize for Lagged {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        LaggedWire {
            channel: self.channel.clone(),
            missed: self.missed(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Lagged {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Lagged, D::Error> {
        let wire = LaggedWire::deserialize(deserializer)?;
        Ok(Lagged {
            channel: wire.channel,
            gap: Arc::new(Gap {
                missed: AtomicU64::new(wire.missed),
            }),
        })
    }
}

impl Message for Lagged {
    fn wire_name() -> Cow<'static, str> {
        Cow::Borrowed("rcos::channel::Lagged")
    }
}

/// Something that can subscribe to a channel: a task or another channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subscriber {
    /// A task: messages go to its mailbox.
    Task(TaskRef),
    /// A channel: messages are sent on through it.
    Channel(Channel),
}

impl From<TaskRef> for Subscriber {
    fn from(task: TaskRef) -> Self {
        Subscriber::Task(task)
    }
}

impl From<&TaskRef> for Subscriber {
    fn from(task: &TaskRef) -> Self {
        Subscriber::Task(task.clone())
    }
}

impl From<Channel> for Subscriber {
    fn from(channel: Channel) -> Self {
        Subscriber::Channel(channel)
    }
}

impl From<&Channel> for Subscriber {
    fn from(channel: &Channel) -> Self {
        Subscriber::Channel(channel.clone())
    }
}

/// Why a channel operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelError {
    /// Another live channel of this runtime has the name.
    NameTaken(String),
    /// The channel was closed.
    Closed,
    /// The subscription would make a cycle of channels.
    Cycle,
    /// The channel is on another node, which cannot be reached from here.
    Unreachable,
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::NameTaken(name) => write!(f, "a channel named {name:?} exists already"),
            ChannelError::Closed => f.write_str("the channel is closed"),
            ChannelError::Cycle => f.write_str("the subscription would make a cycle of channels"),
            ChannelError::Unreachable => f.write_str("the channel cannot be reached"),
        }
    }
}

impl std::error::Error for ChannelError {}

impl Channel {
    /// A new channel on the caller's runtime (or the default one).
    ///
    /// # Errors
    /// [`ChannelError::NameTaken`] if a live channel of that runtime has the name
    /// (names are unique per runtime; pycos silently left such a channel unregistered).
    pub fn new(name: impl Into<Cow<'static, str>>) -> Result<Channel, ChannelError> {
        Channel::new_on(&crate::task::current_or_default(), name)
    }

    /// A new channel on the given runtime.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn new_on(
        handle: &Handle,
        name: impl Into<Cow<'static, str>>,
    ) -> Result<Channel, ChannelError> {
        let name: Arc<str> = Arc::from(name.into().as_ref());
        let core = Arc::new(ChannelCore {
            name: name.clone(),
            rt: handle.shared.clone(),
            state: Mutex::new(State {
                subscribers: Arc::new(Vec::new()),
                transform: None,
                closed: false,
                registered: false,
                capacity: DEFAULT_CAPACITY,
            }),
            joined: event_listener::Event::new(),
        });
        handle.shared.channels.insert(&name, &core)?;
        Ok(Channel {
            repr: Repr::Local(core),
        })
    }

    /// Finds the channel named `name` on the caller's runtime (or the default one) or,
    /// if it is a node, on any of its peers, waiting up to `timeout` for it to be
    /// created. The first positive answer wins: a "not found" from one peer does not
    /// end the search.
    ///
    /// # Errors
    /// [`LocateError::NotFound`] if none appears in time.
    pub async fn locate(name: &str, timeout: Duration) -> Result<Channel, LocateError> {
        let handle = crate::task::current_or_default();
        let shared = &handle.shared;
        let local = async {
            shared
                .channels
                .locate(shared, name, timeout)
                .await
                .ok()
                .map(Channel::from_core)
        };
        let Some(net) = handle.node() else {
            return local.await.ok_or_else(|| LocateError::NotFound {
                name: name.to_string(),
            });
        };
        let deadline = shared.clock.deadline(timeout);
        let remote = async {
            match net.locate_anywhere(name, true, deadline).await {
                Some(crate::net::frame::Answer::Channel(channel)) => Some(channel),
                _ => None,
            }
        };
        crate::net::first_found(&shared.clock, timeout, local, remote)
            .await
            .ok_or_else(|| LocateError::NotFound {
                name: name.to_string(),
            })
    }

    pub(crate) fn from_core(core: Arc<ChannelCore>) -> Channel {
        Channel {
            repr: Repr::Local(core),
        }
    }

    fn core(&self) -> Result<&Arc<ChannelCore>, ChannelError> {
        match &self.repr {
            Repr::Local(core) => Ok(core),
            Repr::Detached(_) | Repr::Remote(_) => Err(ChannelError::Unreachable),
        }
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        match &self.repr {
            Repr::Local(core) => &core.name,
            Repr::Detached(d) => &d.1,
            Repr::Remote(r) => &r.name,
        }
    }

    fn node(&self) -> &NodeId {
        match &self.repr {
            Repr::Local(core) => &core.rt.node,
            Repr::Detached(d) => &d.0,
            Repr::Remote(r) => &r.node,
        }
    }

    /// Subscribes a task or a channel: messages sent to this channel from now on reach
    /// it. Subscribing twice is the same as once.
    ///
    /// # Errors
    /// [`ChannelError::Closed`], or [`ChannelError::Cycle`] if `subscriber` is a channel
    /// from which messages already reach this one (or is this channel itself).
    pub async fn subscribe(&self, subscriber: impl Into<Subscriber>) -> Result<(), ChannelError> {
        let subscriber = subscriber.into();
        if let Repr::Remote(remote) = &self.repr {
            // Subscribing twice is the same as once: asked again if the connection
            // ends before the answer.
            return match remote
                .request_again(remote.default_timeout(), |req| {
                    crate::net::frame::Frame::Subscribe {
                        req,
                        channel: remote.name.clone(),
                        subscriber: subscriber.clone(),
                    }
                })
                .await?
            {
                crate::net::frame::Answer::Done => Ok(()),
                crate::net::frame::Answer::NotFound => Err(ChannelError::Closed),
                crate::net::frame::Answer::Failed(why) if why.contains("cycle") => {
                    Err(ChannelError::Cycle)
                }
                _ => Err(ChannelError::Closed),
            };
        }
        let core = self.core()?;
        // Channel subscriptions change the graph: check for a cycle and add the edge
        // under one lock, so that two concurrent subscriptions cannot close a cycle.
        let _topology = match &subscriber {
            Subscriber::Channel(sub) => {
                let guard = core.rt.channels.topology.lock();
                if sub == self || sub.reaches(self) {
                    return Err(ChannelError::Cycle);
                }
                Some(guard)
            }
            Subscriber::Task(_) => None,
        };
        {
            let mut st = core.state.lock();
            if st.closed {
                return Err(ChannelError::Closed);
            }
            if !st.subscribers.iter().any(|s| s.who == subscriber) {
                Arc::make_mut(&mut st.subscribers).push(Sub::new(subscriber));
            }
        }
        crate::util::notify(&core.joined, usize::MAX);
        Ok(())
    }

    /// Unsubscribes a task or a channel; returns whether it was subscribed.
    ///
    /// # Errors
    /// [`ChannelError::Unreachable`] for a channel on another node that cannot be
    /// reached.
    pub async fn unsubscribe(
        &self,
        subscriber: impl Into<Subscriber>,
    ) -> Result<bool, ChannelError> {
        let subscriber = subscriber.into();
        if let Repr::Remote(remote) = &self.repr {
            let channel = remote.name.clone();
            return match remote
                .request(remote.default_timeout(), |req| {
                    crate::net::frame::Frame::Unsubscribe {
                        req,
                        channel,
                        subscriber,
                    }
                })
                .await?
            {
                crate::net::frame::Answer::Done => Ok(true),
                // Not subscribed, or the channel is gone (which unsubscribed everyone).
                crate::net::frame::Answer::NotFound => Ok(false),
                _ => Err(ChannelError::Unreachable),
            };
        }
        let core = self.core()?;
        let mut st = core.state.lock();
        let before = st.subscribers.len();
        Arc::make_mut(&mut st.subscribers).retain(|s| s.who != subscriber);
        Ok(st.subscribers.len() != before)
    }

    /// Whether this channel reaches `target` through its channel subscribers.
    fn reaches(&self, target: &Channel) -> bool {
        let mut stack = vec![self.clone()];
        let mut seen: Vec<Channel> = Vec::new();
        while let Some(channel) = stack.pop() {
            if seen.contains(&channel) {
                continue;
            }
            let Ok(core) = channel.core() else { continue };
            let subscribers = core.state.lock().subscribers.clone();
            for sub in subscribers.iter() {
                if let Subscriber::Channel(next) = &sub.who {
                    if next == target {
                        return true;
                    }
                    stack.push(next.clone());
                }
            }
            seen.push(channel);
        }
        false
    }

    /// The number of direct subscribers, tasks and channels, as they stand in the
    /// subscription list: a subscribed channel counts as one however many tasks it
    /// reaches, and a subscribed task counts whether or not it is alive — a task that
    /// has ended stays subscribed (and counted here) until a [`send`](Self::send) finds
    /// it gone, or a [`deliver`](Self::deliver) with `n > 0` counts live subscribers,
    /// either of which unsubscribes it. This is not the number `deliver` compares with
    /// its `n` (that one counts only live tasks, through nested channels). 0 for a
    /// closed channel and for a channel on another node.
    pub fn subscribers(&self) -> usize {
        self.core()
            .map_or(0, |core| core.state.lock().subscribers.len())
    }

    /// Bounds what the channel queues for each subscribed task: while a task's mailbox
    /// holds `capacity` messages or more (all its messages, from this channel or
    /// not), the channel's messages to it are held back — dropped for that task — and
    /// the task is told with one [`Lagged`] notice per gap, queued where the gap
    /// starts. So a subscriber that falls behind costs at most about `capacity`
    /// messages of memory, and never holds up the sender or the other subscribers;
    /// subscribers that keep up within `capacity` get every message, in order. The
    /// default is [`DEFAULT_CAPACITY`]; `capacity` is at least 1. It applies to the
    /// tasks of this program subscribed directly (a nested channel applies its own),
    /// from the next message sent. With several tasks sending at once, a mailbox may
    /// go over the bound by one message per concurrent sender.
    ///
    /// # Errors
    /// [`ChannelError::Unreachable`] for a channel on another node.
    pub fn set_capacity(&self, capacity: usize) -> Result<(), ChannelError> {
        let core = self.core()?;
        let mut st = core.state.lock();
        st.capacity = capacity.max(1);
        // Measure every mailbox again at the next message.
        for sub in st.subscribers.iter() {
            sub.flow.headroom.store(0, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The channel's [capacity](Self::set_capacity); 0 for a channel on another node.
    pub fn capacity(&self) -> usize {
        self.core().map_or(0, |core| core.state.lock().capacity)
    }

    /// Sends `msg` to every subscriber, through the transform, without waiting.
    ///
    /// Subscribers share one copy of the message; each takes it out as its own (the
    /// last one moves it, the others clone it — hence `Clone + Sync`). A subscribed task
    /// that has ended is unsubscribed. A subscribed task whose mailbox is full — it
    /// holds the channel's [capacity](Self::set_capacity) or more, or it is a bounded
    /// mailbox that refuses the message — misses it, and is told so with a [`Lagged`]
    /// notice: nothing is lost silently.
    ///
    /// # Errors
    /// [`ChannelError::Closed`] if the channel was closed.
    pub fn send<M: Message + Clone + Sync>(&self, msg: M) -> Result<(), ChannelError> {
        self.send_envelope(Envelope::new_shared(msg)).map(|_| ())
    }

    /// Sends `msg` once at least `n` live tasks would receive it, waiting up to
    /// `timeout` for them, and returns how many tasks it reached — pycos's `deliver`.
    ///
    /// - **Who counts toward `n`**: the live end points, that is the subscribed tasks
    ///   that are alive ([`TaskRef::is_alive`]: a task on another node counts while its
    ///   node is connected), direct ones and, summed, those of nested channels (a task
    ///   subscribed through two paths counts twice, as it gets the message twice). A
    ///   subscribed channel counts the live tasks it reaches, not itself: a closed one
    ///   counts none. Subscribed tasks of this runtime found ended while counting are
    ///   unsubscribed, here and in the nested channels, as a `send` would do.
    /// - **Waiting**: while fewer than `n` count, `deliver` waits, counting again
    ///   whenever a subscriber joins this channel or a channel nested in it. If `n`
    ///   have not come when `timeout` has passed, nothing is sent and it returns
    ///   `Ok(0)`. With `n == 0` it neither counts nor waits: it sends at once, like
    ///   [`send`](Self::send).
    /// - **The result**: the number of tasks the message was queued for, summed through
    ///   nested channels (as [`send_envelope`](Self::send_envelope) counts them). It
    ///   may be more than `n`, or fewer if, after the count, a task ended, a task's
    ///   mailbox was full (it then gets a [`Lagged`] notice), or a transform dropped
    ///   the message.
    ///
    /// For a channel on another node, the request goes to that node, which runs this
    /// same `deliver` there.
    ///
    /// # Errors
    /// [`ChannelError::Closed`] if the channel is closed, or is closed while `deliver`
    /// waits: [`close`](Self::close) ends a waiting `deliver` at once. For a channel on
    /// another node, [`ChannelError::Closed`] also if that node has no channel of that
    /// name, and [`ChannelError::Unreachable`] if the node cannot be reached.
    pub async fn deliver<M: Message + Clone + Sync>(
        &self,
        msg: M,
        timeout: Duration,
        n: usize,
    ) -> Result<usize, ChannelError> {
        self.deliver_envelope(Envelope::new_shared(msg), timeout, n)
            .await
    }

    /// [`deliver`](Self::deliver) for an envelope that can be copied.
    ///
    /// # Errors
    /// As `deliver`.
    pub async fn deliver_envelope(
        &self,
        env: Envelope,
        timeout: Duration,
        n: usize,
    ) -> Result<usize, ChannelError> {
        if let Repr::Remote(remote) = &self.repr {
            let msg = crate::net::frame::WireMsg::of_envelope(&env)
                .map_err(|_| ChannelError::Unreachable)?;
            let channel = remote.name.clone();
            let timeout_ms = timeout.as_millis() as u64;
            let answer = remote
                .request(timeout + remote.default_timeout(), |req| {
                    crate::net::frame::Frame::ChannelDeliver {
                        req,
                        channel,
                        msg,
                        n: n as u64,
                        timeout_ms,
                    }
                })
                .await?;
            return match answer {
                crate::net::frame::Answer::Count(count) => Ok(count as usize),
                crate::net::frame::Answer::NotFound => Err(ChannelError::Closed),
                // The owning node's `deliver` failed: closed there, before or while it
                // waited.
                crate::net::frame::Answer::Failed(why)
                    if why == ChannelError::Closed.to_string() =>
                {
                    Err(ChannelError::Closed)
                }
                _ => Err(ChannelError::Unreachable),
            };
        }
        let core = self.core()?;
        if n > 0 {
            let enough = async {
                loop {
                    // Listeners first (on this channel and every nested one), then the
                    // count and the closed flag: a join or a close after the count
                    // wakes one of them.
                    let mut listeners = Vec::new();
                    let live = core.live_end_points(0, &mut listeners);
                    if core.state.lock().closed {
                        return Err(ChannelError::Closed);
                    }
                    if live >= n {
                        return Ok(());
                    }
                    std::future::poll_fn(|cx| {
                        let woken = listeners
                            .iter_mut()
                            .any(|l| std::pin::Pin::new(l).poll(cx).is_ready());
                        if woken {
                            std::task::Poll::Ready(())
                        } else {
                            std::task::Poll::Pending
                        }
                    })
                    .await;
                }
            };
            match core.rt.clock.timeout(timeout, enough).await {
                Ok(Ok(())) => {}
                Ok(Err(closed)) => return Err(closed),
                Err(_) => return Ok(0),
            }
        }
        self.send_envelope(env)
    }

    /// Sends an envelope that can be copied (made with [`Envelope::new_shared`], or one
    /// received from a channel); returns the number of tasks reached.
    ///
    /// # Errors
    /// [`ChannelError::Closed`] if the channel was closed.
    pub fn send_envelope(&self, env: Envelope) -> Result<usize, ChannelError> {
        if let Repr::Remote(remote) = &self.repr {
            // The channel's node fans it out; how many it reached is not known here.
            let msg = crate::net::frame::WireMsg::of_envelope(&env)
                .map_err(|_| ChannelError::Unreachable)?;
            remote.push(crate::net::frame::Frame::ChannelSend {
                channel: remote.name.clone(),
                msg,
            })?;
            return Ok(0);
        }
        let core = self.core()?;
        if core.state.lock().closed {
            return Err(ChannelError::Closed);
        }
        Ok(core.fan_out(env, 0))
    }

    /// Sets the channel's transform, pycos style: `transform(channel name, message)`
    /// returns the message to pass on (possibly changed) or `None` to drop it. It sees
    /// messages of type `M`; messages of other types pass unchanged. A transform that
    /// panics drops that message, logs the panic and stays in place.
    ///
    /// ```
    /// use rcos::channel::Channel;
    ///
    /// # rcos::Runtime::new().unwrap().block_on(async {
    /// let chat = Channel::new("chat").unwrap();
    /// // No shouting; everything else gets the channel's name in front.
    /// chat.set_transform(|name: &str, line: String| {
    ///     (line.to_uppercase() != line).then(|| format!("[{name}] {line}"))
    /// })
    /// .unwrap();
    /// # });
    /// ```
    ///
    /// # Errors
    /// [`ChannelError::Unreachable`] for a channel on another node.
    pub fn set_transform<M, F>(&self, transform: F) -> Result<(), ChannelError>
    where
        M: Message + Clone + Sync,
        F: Fn(&str, M) -> Option<M> + Send + Sync + 'static,
    {
        let core = self.core()?;
        let erased: Arc<Transform> = Arc::new(move |name: &str, env: Envelope| {
            let msg = env.downcast::<M>()?;
            Ok(transform(name, msg).map(Envelope::new_shared))
        });
        core.state.lock().transform = Some(erased);
        Ok(())
    }

    /// Removes the transform.
    pub fn clear_transform(&self) {
        if let Ok(core) = self.core() {
            core.state.lock().transform = None;
        }
    }

    /// Closes the channel: it forgets its subscribers and its name; later sends,
    /// delivers and subscriptions fail with [`ChannelError::Closed`], and a
    /// [`deliver`](Self::deliver) waiting for subscribers on this channel returns
    /// `Err(ChannelError::Closed)` at once. A `deliver` waiting on a channel this one is
    /// subscribed to goes on waiting (for up to its timeout), since this channel now
    /// counts no live tasks. Messages already queued in subscribers' mailboxes stay
    /// there. Does nothing to a channel on another node.
    pub fn close(&self) {
        let Ok(core) = self.core() else { return };
        let subscribers = {
            let mut st = core.state.lock();
            st.closed = true;
            st.registered = false;
            std::mem::take(&mut st.subscribers)
        };
        drop(subscribers);
        core.rt.channels.remove(&core.name, core);
        crate::util::notify(&core.joined, usize::MAX);
    }

    /// Whether the channel was closed.
    pub fn is_closed(&self) -> bool {
        self.core().map_or(true, |core| core.state.lock().closed)
    }

    /// Publishes the channel for other nodes' [`locate`](Self::locate); channels are
    /// always locatable within their own runtime.
    ///
    /// # Errors
    /// [`ChannelError::Closed`] or [`ChannelError::Unreachable`].
    pub fn register(&self) -> Result<(), ChannelError> {
        let core = self.core()?;
        let mut st = core.state.lock();
        if st.closed {
            return Err(ChannelError::Closed);
        }
        st.registered = true;
        Ok(())
    }

    /// Withdraws the channel from other nodes' `locate`.
    pub fn unregister(&self) {
        if let Ok(core) = self.core() {
            core.state.lock().registered = false;
        }
    }

    /// Whether the channel is published for other nodes.
    pub fn is_registered(&self) -> bool {
        self.core().is_ok_and(|core| core.state.lock().registered)
    }
}

impl ChannelCore {
    /// The number of live tasks a message sent now would be queued for (without the
    /// transform's say): live task subscribers, plus, summed, those of the channel
    /// subscribers of this runtime (others, and closed ones, count none). Unsubscribes
    /// the subscribed tasks of this runtime that have ended, on the way. Registers a
    /// listener for joins (and the close) of each channel visited in `listeners`,
    /// before reading its subscribers.
    fn live_end_points(
        &self,
        depth: usize,
        listeners: &mut Vec<event_listener::EventListener>,
    ) -> usize {
        if depth > MAX_DEPTH {
            return 0;
        }
        listeners.push(self.joined.listen());
        let subscribers = {
            let st = self.state.lock();
            if st.closed {
                return 0;
            }
            st.subscribers.clone()
        };
        let mut live = 0;
        let mut ended = Vec::new();
        for sub in subscribers.iter() {
            match &sub.who {
                Subscriber::Task(task) if task.is_alive() => live += 1,
                // Ended for sure; a task elsewhere that is not connected may come back.
                Subscriber::Task(task) if task.is_local() => ended.push(sub.who.clone()),
                Subscriber::Task(_) => {}
                Subscriber::Channel(channel) => {
                    if let Ok(core) = channel.core() {
                        live += core.live_end_points(depth + 1, listeners);
                    }
                }
            }
        }
        if !ended.is_empty() {
            let mut st = self.state.lock();
            Arc::make_mut(&mut st.subscribers).retain(|s| !ended.contains(&s.who));
        }
        live
    }

    /// Applies the transform and delivers to every subscriber; returns the number of
    /// tasks reached.
    fn fan_out(&self, env: Envelope, depth: usize) -> usize {
        if depth > MAX_DEPTH {
            tracing::error!(channel = %self.name, "channels nested too deep (a cycle?): message dropped");
            return 0;
        }
        let (subscribers, transform, capacity) = {
            let st = self.state.lock();
            if st.closed {
                return 0;
            }
            (st.subscribers.clone(), st.transform.clone(), st.capacity)
        };
        let env = match transform {
            None => env,
            Some(transform) => {
                match catch_unwind(AssertUnwindSafe(|| transform(&self.name, env))) {
                    Ok(Ok(Some(env)) | Err(env)) => env,
                    Ok(Ok(None)) => return 0,
                    Err(panic) => {
                        tracing::error!(channel = %self.name, panic = %panic_message(&*panic), "channel transform panicked: message dropped");
                        return 0;
                    }
                }
            }
        };
        let mut reached = 0;
        let mut ended = Vec::new();
        let mut env = Some(env);
        let last = subscribers.len().saturating_sub(1);
        for (i, sub) in subscribers.iter().enumerate() {
            let subscriber = &sub.who;
            let copy = if i == last {
                env.take()
            } else {
                env.as_ref().and_then(Envelope::try_clone)
            };
            let Some(copy) = copy else {
                tracing::error!(channel = %self.name, "a channel message that cannot be copied reached only its first subscribers");
                break;
            };
            match subscriber {
                Subscriber::Task(task) => {
                    if !sub.flow.room(task, capacity) {
                        if task.is_alive() {
                            sub.flow.miss(task, &self.name);
                        } else {
                            ended.push(subscriber.clone());
                        }
                        continue;
                    }
                    let closed = sub.flow.close_gap();
                    match task.forward(copy) {
                        Ok(()) => reached += 1,
                        Err(e) if e.kind() == SendErrorKind::Ended => {
                            ended.push(subscriber.clone())
                        }
                        Err(e) if e.kind() == SendErrorKind::Full => {
                            sub.flow.reopen(closed, task, &self.name)
                        }
                        Err(e) => {
                            tracing::debug!(channel = %self.name, subscriber = %task, error = %e, "channel message not delivered")
                        }
                    }
                }
                Subscriber::Channel(channel) => match channel.core() {
                    Ok(core) => reached += core.fan_out(copy, depth + 1),
                    Err(_) => {
                        tracing::debug!(channel = %self.name, subscriber = %channel, "channel subscriber unreachable")
                    }
                },
            }
        }
        if !ended.is_empty() {
            let mut st = self.state.lock();
            Arc::make_mut(&mut st.subscribers).retain(|s| !ended.contains(&s.who));
        }
        reached
    }
}

impl Drop for ChannelCore {
    fn drop(&mut self) {
        self.rt.channels.forget(&self.name);
    }
}

impl PartialEq for Channel {
    fn eq(&self, other: &Channel) -> bool {
        match (&self.repr, &other.repr) {
            (Repr::Local(a), Repr::Local(b)) => Arc::ptr_eq(a, b),
            _ => self.name() == other.name() && self.node().incarnation == other.node().incarnation,
        }
    }
}

impl Eq for Channel {}

impl Hash for Channel {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.node().incarnation.hash(state);
        self.name().hash(state);
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name(), self.node())
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Channel({self})")
    }
}

impl Message for Channel {
    fn wire_name() -> Cow<'static, str> {
        Cow::Borrowed("rcos::Channel")
    }
}
