//! Distribution: a runtime becomes a **node** that talks to other nodes over TCP, and
//! the same task API works across them (pycos's netpycos).
//!
//! ```
//! use std::time::Duration;
//! use rcos::net::NodeConfig;
//! use rcos::{Runtime, TaskRef};
//!
//! let secret = b"a secret both nodes share, 16+ bytes".to_vec();
//! let a = Runtime::builder().name("a").node(NodeConfig::new().secret(secret.clone())).build().unwrap();
//! let b = Runtime::builder().name("b").node(NodeConfig::new().secret(secret)).build().unwrap();
//!
//! // A task on `a`, registered by name.
//! let echo = a.spawn(|task| async move {
//!     while let Ok(msg) = task.receive().await {
//!         if let Ok((from, text)) = msg.downcast::<(TaskRef, String)>() {
//!             let _ = from.send(text.to_uppercase());
//!         }
//!     }
//! });
//! echo.register("echo").unwrap();
//!
//! // From `b`: connect, find it, talk to it like a local task.
//! let location = a.location().unwrap();
//! let reply = b.block_on(async move {
//!     rcos::net::peer(location).await.unwrap();
//!     let echo = TaskRef::locate("echo", Duration::from_secs(5)).await.unwrap();
//!     let me = TaskRef::current().unwrap();
//!     echo.send((me.clone(), "hello".to_string())).unwrap();
//!     me.receive().await.unwrap().downcast::<String>().unwrap()
//! });
//! assert_eq!(reply, "HELLO");
//! # echo.terminate();
//! ```
//!
//! What travels and how: one persistent TCP stream per pair of nodes; length-prefixed
//! records of CBOR frames, with the record size checked before anything is allocated
//! and the CBOR nesting depth bounded; a handshake that checks the protocol version
//! and then both sides' knowledge of the shared secret (HMAC-SHA256 challenge and
//! response with fresh nonces) before a single application frame is decoded; then a
//! MAC with a sequence number on every record (or TLS, with feature `tls`).
//! Heartbeats detect a peer that stops answering; monitors of its tasks are told
//! [`Exit::NodeLost`](crate::Exit::NodeLost). The protocol is described frame by
//! frame in the book's "Wire protocol" chapter.
//!
//! Security by default: networking is off until a runtime is given a [`NodeConfig`];
//! a node listens on `127.0.0.1` unless told otherwise; a node that listens on any
//! other address refuses to start without a strong secret.

/// Entry points into the wire decoders and the handshake for fuzzers and property
/// tests (feature `fuzzing`); not a stable API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "net/fuzz.rs"]
pub mod __fuzz;
pub(crate) mod codec;
mod config;
mod discovery;
mod files;
pub(crate) mod frame;
pub(crate) mod handshake;
mod node;
mod peer;
mod remote;
mod transport;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use codec::WireError;
pub use config::{
    DEFAULT_BEACON_INTERVAL, DEFAULT_DISCOVERY_PORT, DiscoveryGroup, MAX_FRAME_LIMIT,
    MIN_SECRET_LEN, NodeConfig,
};
pub use discovery::{DiscoveryStats, discovery_stats};
pub use files::{FileError, SendFileOptions, del_file, send_file};
pub(crate) use node::Node;
pub(crate) use remote::{RemoteError, RemoteTask};

use crate::error::LocateError;
use crate::{Handle, Message, TaskRef};

/// Where a node accepts connections: an IP address and a TCP port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location(SocketAddr);

impl Location {
    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.0
    }
}

impl From<SocketAddr> for Location {
    fn from(addr: SocketAddr) -> Self {
        Location(addr)
    }
}

impl FromStr for Location {
    type Err = std::net::AddrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Location)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Message for Location {
    fn wire_name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("rcos::Location")
    }
}

/// A peer came online or went offline: the message tasks subscribed with
/// [`peer_status`] receive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStatus {
    /// Where the peer listens.
    pub location: Location,
    /// The peer node's name.
    pub name: String,
    /// Online (connected and authenticated) or offline (lost or closed).
    pub online: bool,
}

impl Message for PeerStatus {
    fn wire_name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("rcos::PeerStatus")
    }
}

/// Why a network operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum NetError {
    /// This runtime is not a node (it was built without a [`NodeConfig`]).
    NotANode,
    /// The connection or its handshake failed.
    Wire(WireError),
    /// No answer in time.
    Timeout,
    /// The peer is not connected (or was lost).
    NotConnected(Location),
    /// The connection the request went out on ended before its answer came (it broke,
    /// or it was one of two connections dialed at once and closed in favour of the
    /// other): the request may or may not have been handled. The peer itself is not
    /// lost; asking again uses the connection that replaces it.
    ConnectionLost(Location),
    /// The request, encoded, is larger than one frame may be
    /// ([`NodeConfig::max_frame`]); it was not sent.
    TooLarge,
    /// The task is on another node, and only a task of this program may be given
    /// here (as [`peer_status`]'s subscriber).
    NotLocal,
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::NotANode => f.write_str("this runtime is not a network node"),
            NetError::Wire(e) => write!(f, "{e}"),
            NetError::Timeout => f.write_str("no answer in time"),
            NetError::NotConnected(at) => write!(f, "no connection to {at}"),
            NetError::ConnectionLost(at) => write!(
                f,
                "the connection to {at} ended before the answer came (the request may or may not have been handled)"
            ),
            NetError::TooLarge => f.write_str("the request is larger than one frame may be"),
            NetError::NotLocal => f.write_str("the task is not in this program"),
        }
    }
}

impl std::error::Error for NetError {}

impl NetError {
    /// A copy of this error for another waiter.
    pub(crate) fn duplicate(&self) -> NetError {
        match self {
            NetError::NotANode => NetError::NotANode,
            NetError::Wire(e) => NetError::Wire(e.duplicate()),
            NetError::Timeout => NetError::Timeout,
            NetError::NotConnected(at) => NetError::NotConnected(*at),
            NetError::ConnectionLost(at) => NetError::ConnectionLost(*at),
            NetError::TooLarge => NetError::TooLarge,
            NetError::NotLocal => NetError::NotLocal,
        }
    }
}

impl From<WireError> for NetError {
    fn from(e: WireError) -> Self {
        NetError::Wire(e)
    }
}

/// Waits for the first of two searches to find something (each gives `None` when it
/// gives up), for at most `timeout`.
pub(crate) async fn first_found<T>(
    clock: &crate::time::Clock,
    timeout: Duration,
    a: impl std::future::Future<Output = Option<T>>,
    b: impl std::future::Future<Output = Option<T>>,
) -> Option<T> {
    let or_wait = |f: Option<T>| async move {
        match f {
            Some(found) => found,
            None => std::future::pending().await,
        }
    };
    let a = async { or_wait(a.await).await };
    let b = async { or_wait(b.await).await };
    clock
        .timeout(timeout, futures_lite::future::or(a, b))
        .await
        .ok()
}

fn current_node() -> Result<std::sync::Arc<Node>, NetError> {
    crate::task::current_or_default()
        .node()
        .ok_or(NetError::NotANode)
}

/// Connects the caller's runtime to the node at `location` (pycos's `peer`) and waits
/// until the two are authenticated. Keeps reconnecting to it if the connection breaks,
/// until [`close_peer`].
///
/// # Errors
/// [`NetError`]: this runtime is not a node, or the connection or handshake failed.
pub async fn peer(location: impl Into<Location>) -> Result<(), NetError> {
    current_node()?
        .connect(location.into(), true)
        .await
        .map(|_| ())
}

/// The locations of the peers connected now.
pub fn peers() -> Vec<Location> {
    current_node().map(|node| node.peers()).unwrap_or_default()
}

/// Subscribes `task`, a task of this program, to [`PeerStatus`] messages; the peers
/// online now are reported to it at once. For each peer, its statuses come in the
/// order its connection came and went: online, then offline, then online again.
///
/// # Errors
/// [`NetError::NotANode`]; [`NetError::NotLocal`] when `task` is on another node (it
/// can subscribe on its own node).
pub fn peer_status(task: &TaskRef) -> Result<(), NetError> {
    let node = current_node()?;
    if !task.is_local() {
        return Err(NetError::NotLocal);
    }
    node.subscribe_status(task.clone());
    Ok(())
}

/// Disconnects from the peer at `location` (telling it so) and stops reconnecting to
/// it. Monitors of its tasks are told [`Exit::NodeLost`](crate::Exit::NodeLost).
///
/// # Errors
/// [`NetError::NotANode`].
pub async fn close_peer(location: impl Into<Location>) -> Result<(), NetError> {
    current_node()?.close_peer(location.into()).await;
    Ok(())
}

impl crate::channel::Channel {
    /// Finds the channel named `name` on the node at `location` (connecting to it first
    /// if needed), waiting up to `timeout` (pycos's `Channel.locate(name, location)`).
    ///
    /// # Errors
    /// [`LocateError::NotFound`] if it does not appear in time or the node cannot be
    /// reached.
    pub async fn locate_at(
        location: Location,
        name: &str,
        timeout: Duration,
    ) -> Result<crate::channel::Channel, LocateError> {
        let not_found = || LocateError::NotFound {
            name: name.to_string(),
        };
        let handle = crate::task::current_or_default();
        let node = handle.node().ok_or_else(not_found)?;
        let deadline = handle.shared.clock.deadline(timeout);
        match node.locate_at_any(location, name, true, deadline).await {
            Some(frame::Answer::Channel(channel)) => Ok(channel),
            _ => Err(not_found()),
        }
    }
}

impl TaskRef {
    /// Finds the task registered as `name` on the node at `location` (connecting to it
    /// first if needed), waiting up to `timeout` (pycos's `Task.locate(name, location)`).
    ///
    /// # Errors
    /// [`LocateError::NotFound`] if it does not appear in time or the node cannot be
    /// reached.
    pub async fn locate_at(
        location: Location,
        name: &str,
        timeout: Duration,
    ) -> Result<TaskRef, LocateError> {
        crate::task::current_or_default()
            .locate_at(location, name, timeout)
            .await
    }
}

impl Handle {
    /// Spawns the `#[task(remote)]` function `task_fn` with `args` on the node at
    /// `location` (connecting to it first if needed) and returns the new task's
    /// reference. The other node must have the same function compiled in.
    ///
    /// ```no_run
    /// # use rcos::{task, TaskRef};
    /// #[task(remote)]
    /// async fn square(_task: TaskRef, n: u64) -> u64 {
    ///     n * n
    /// }
    ///
    /// # async fn example(rt: rcos::Handle, there: rcos::net::Location) {
    /// let job = rt.spawn_at(there, square, (12,)).await.unwrap();
    /// assert_eq!(job.finish().await.get::<u64>(), Some(144));
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`SpawnError`](crate::SpawnError): the node is unreachable, does not know the
    /// function, or could not decode the arguments.
    pub async fn spawn_at<T: crate::task::RemoteTaskFn>(
        &self,
        location: Location,
        task_fn: fn() -> T,
        args: T::Args,
    ) -> Result<TaskRef, crate::SpawnError> {
        let _ = task_fn;
        let unreachable = |why: String| crate::SpawnError::Unreachable(why);
        let node = self
            .node()
            .ok_or_else(|| unreachable("this runtime is not a node".into()))?;
        let args = crate::message::encode(&args)
            .map_err(|e| crate::SpawnError::BadArguments(e.to_string()))?;
        let timeout = node.config().request_timeout;
        let peer = node
            .clock()
            .timeout(timeout, node.connected_at(location))
            .await
            .map_err(|_| unreachable(format!("{location} did not answer")))?
            .map_err(|e| unreachable(e.to_string()))?;
        let function = T::NAME.to_string();
        match node
            .request(&peer, timeout, |req| frame::Frame::Spawn {
                req,
                function,
                args,
            })
            .await
        {
            Ok(frame::Answer::Task(task)) => Ok(task),
            Ok(frame::Answer::Failed(why)) if why.starts_with("unknown task") => {
                Err(crate::SpawnError::UnknownTask(T::NAME.to_string()))
            }
            Ok(frame::Answer::Failed(why)) => Err(crate::SpawnError::BadArguments(why)),
            Ok(_) => Err(unreachable("unexpected answer".into())),
            Err(e) => Err(unreachable(e.to_string())),
        }
    }

    /// Where peers reach this runtime, if it is a node: where it listens, or its
    /// [`external_address`](NodeConfig::external_address) when it has one.
    pub fn location(&self) -> Option<Location> {
        self.node().map(|node| node.location())
    }

    /// The address this node's listener is actually bound to (the same as its
    /// [`location`](Self::location) unless it has an external address).
    pub fn bound_address(&self) -> Option<SocketAddr> {
        self.node().map(|node| node.bound())
    }

    pub(crate) fn node(&self) -> Option<std::sync::Arc<Node>> {
        self.shared.net.get().cloned()
    }

    /// Finds the task registered as `name` on the node at `location` (connecting to it
    /// first if needed), waiting up to `timeout`.
    ///
    /// # Errors
    /// [`LocateError::NotFound`] if it does not appear in time (or the node cannot be
    /// reached).
    pub async fn locate_at(
        &self,
        location: Location,
        name: &str,
        timeout: Duration,
    ) -> Result<TaskRef, LocateError> {
        let not_found = || LocateError::NotFound {
            name: name.to_string(),
        };
        let node = self.node().ok_or_else(not_found)?;
        let deadline = self.shared.clock.deadline(timeout);
        node.locate_at(location, name, deadline)
            .await
            .ok_or_else(not_found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_print() {
        let loc: Location = "127.0.0.1:9705".parse().unwrap();
        assert_eq!(loc.to_string(), "127.0.0.1:9705");
        assert_eq!(loc.addr().port(), 9705);
        assert!("not an address".parse::<Location>().is_err());
    }
}
