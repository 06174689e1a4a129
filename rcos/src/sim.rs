//! Deterministic simulation of several nodes (feature `test-util`): their runtimes run
//! as one deterministic schedule on one virtual clock, and their connections are
//! simulated byte pipes that the test can reset, partition, or take away with a
//! node, so a scenario with faults runs the same way each time for a given seed, in
//! virtual time (a 30-second partition takes no real time at all).
//!
//! ```
//! use std::time::Duration;
//! use rcos::net::{self, NodeConfig};
//! use rcos::sim::Sim;
//!
//! let sim = Sim::new(7);
//! let config = || NodeConfig::new().secret("a secret for this example only");
//! let a = sim.node("a", config()).unwrap();
//! let b = sim.node("b", config()).unwrap();
//! let (a_at, b_at) = (a.location().unwrap(), b.location().unwrap());
//! let control = sim.clone();
//! let lost = b.block_on(async move {
//!     let me = rcos::TaskRef::current().unwrap();
//!     net::peer_status(&me).unwrap();
//!     net::peer(a_at).await.unwrap();
//!     me.receive_type::<net::PeerStatus>().await.unwrap(); // a is online
//!     let start = rcos::time::now();
//!     control.partition(b_at, a_at); // nothing b sends reaches a from now on
//!     me.receive_type::<net::PeerStatus>().await.unwrap(); // a is offline
//!     rcos::time::now() - start
//! });
//! // The heartbeat found the silence within its bound, in virtual time.
//! assert!(lost <= Duration::from_secs(10));
//! ```
//!
//! What is simulated: connection set-up (refused where nothing listens, held while a
//! partition is in the way), byte streams with finite buffers, resets, one-way
//! partitions that hold packets back until they heal (as TCP retransmits them), a
//! paused process (`SIGSTOP`: its tasks do not run, its peers' bytes wait), and a
//! killed one (`kill -9`: its tasks never run again, its connections are reset, its
//! address refuses). Not simulated: TLS, discovery beacons, and real I/O a task does
//! itself (which would make the run depend on the machine again).
//!
//! The simulation runs only while a thread waits on one of its nodes (in
//! [`block_on`](crate::Handle::block_on), [`join`](crate::Handle::join), a task's
//! [`value`](crate::TaskRef::value), or a node's shutdown). `block_on` stops it the
//! moment its future finishes, inside the simulation; the other waits stop it when the
//! waiting thread wakes, so after them how far it went can depend on timing: wait with
//! `block_on` where a run must replay. What a thread does between those waits
//! (spawning tasks, registering names, sending) is queued in program order, so the run
//! depends on the seed alone. Determinism holds while every change comes
//! from the test thread between waits or from inside the simulation (tasks of its
//! nodes, including calls to the fault methods here); another thread that acts while a
//! wait is under way adds an order the seed does not decide.

mod pipe;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Weak};
use std::task::{Poll, Waker};
use std::time::Instant;

use event_listener::Event;

use pipe::Conn;
pub(crate) use pipe::Stream;

use crate::Runtime;
use crate::net::{Location, NodeConfig};
use crate::runtime::det::DetWorld;
use crate::util::Mutex;

/// The port every simulated node listens on (each has an address of its own).
const PORT: u16 = 7000;

/// A simulation: nodes that run as one deterministic schedule, and the network between
/// them. Cloning gives another handle to the same simulation.
#[derive(Clone, Debug)]
pub struct Sim {
    seed: u64,
    world: Arc<DetWorld>,
    net: Arc<SimNet>,
}

impl Sim {
    /// A new simulation whose schedule is drawn from `seed`.
    pub fn new(seed: u64) -> Sim {
        Sim {
            seed,
            world: DetWorld::new_sim(seed),
            net: Arc::new(SimNet::default()),
        }
    }

    /// The seed the simulation was made with (print it with a failure: the same seed
    /// runs the same way again).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Starts a node in the simulation: a deterministic runtime named `name` on the
    /// simulation's schedule and clock, whose connections are simulated. Its address
    /// is made up (`10.x.y.z:7000`, numbered in the order nodes are started, so the
    /// same in every run; a location of one simulation means nothing to another);
    /// `config`'s bind address is not used.
    ///
    /// # Errors
    /// When `config` asks for what is not simulated (TLS, discovery, an external
    /// address), or its secret does not meet the policy.
    pub fn node(&self, name: &str, config: NodeConfig) -> io::Result<Runtime> {
        let config = config.simulated(self.net.clone())?;
        let rt = Runtime::builder()
            .name(name.to_string())
            .in_world(self.world.clone())
            .node(config)
            .build()?;
        if let (Some(location), Some((_, slot))) = (rt.location(), &rt.shared.sched.det) {
            self.net.state.lock().slots.insert(location.addr(), *slot);
        }
        Ok(rt)
    }

    /// The simulation's current (virtual) time.
    pub fn now(&self) -> Instant {
        self.world.clock.now()
    }

    /// Resets every connection between the nodes at `a` and `b` (each side sees a
    /// reset, as after an RST); new ones can be made at once.
    pub fn cut(&self, a: Location, b: Location) {
        if !distinct("cut", a, b) {
            return;
        }
        for conn in self.net.conns_between(a.addr(), b.addr()) {
            conn.reset();
        }
    }

    /// From now on, nothing the node at `from` sends to the node at `to` arrives (a
    /// one-way partition: a blackhole route). Bytes sent meanwhile wait, as TCP
    /// retransmits them, and arrive when it heals unless the connection ends first;
    /// a new connection between the two waits until it heals.
    pub fn partition(&self, from: Location, to: Location) {
        if !distinct("partition", from, to) {
            return;
        }
        self.net
            .state
            .lock()
            .blocked
            .insert((from.addr(), to.addr()));
        for conn in self.net.conns_between(from.addr(), to.addr()) {
            conn.set_blocked(from.addr(), true);
        }
    }

    /// Ends the partition from `from` to `to`.
    pub fn heal(&self, from: Location, to: Location) {
        if !distinct("heal", from, to) {
            return;
        }
        self.net
            .state
            .lock()
            .blocked
            .remove(&(from.addr(), to.addr()));
        for conn in self.net.conns_between(from.addr(), to.addr()) {
            conn.set_blocked(from.addr(), false);
        }
        crate::util::notify(&self.net.changed, usize::MAX);
    }

    /// Stops running the node at `location`'s tasks, as `SIGSTOP` does: its timers come
    /// due but nothing runs; bytes sent to it wait in its buffers.
    pub fn pause(&self, location: Location) {
        if let Some(slot) = self.net.slot(location.addr()) {
            self.world.set_frozen(slot, true);
        }
    }

    /// Lets a paused node run again (`SIGCONT`). A killed node stays dead.
    pub fn resume(&self, location: Location) {
        if self.net.is_dead(location.addr()) {
            tracing::warn!(%location, "resume of a killed node: it stays dead");
            return;
        }
        if let Some(slot) = self.net.slot(location.addr()) {
            self.world.set_frozen(slot, false);
        }
    }

    /// Kills the node at `location`, as `kill -9` does: its tasks never run again (not
    /// even to say goodbye), its connections are reset, and its address refuses new
    /// ones. Its runtime is still to be dropped, which frees what it holds.
    pub fn kill(&self, location: Location) {
        if let Some(slot) = self.net.slot(location.addr()) {
            self.world.set_frozen(slot, true);
        }
        let conns = {
            let mut st = self.net.state.lock();
            st.dead.insert(location.addr());
            st.listeners.remove(&location.addr());
            st.conns
                .iter()
                .filter_map(Weak::upgrade)
                .filter(|c| c.ends.contains(&location.addr()))
                .collect::<Vec<_>>()
        };
        for conn in conns {
            conn.reset();
        }
    }
}

/// Whether `a` and `b` are two nodes (a link from a node to itself is not simulated:
/// the call is refused with a warning).
fn distinct(what: &str, a: Location, b: Location) -> bool {
    if a == b {
        tracing::warn!(%a, "sim: {what} of a node with itself does nothing");
    }
    a != b
}

/// The simulated network: who listens where, the connections, the partitions.
#[derive(Default, Debug)]
pub(crate) struct SimNet {
    state: Mutex<NetState>,
    /// Partitions healed: connections waiting to be made look again.
    changed: Event,
}

#[derive(Default)]
struct NetState {
    hosts: u32,
    listeners: BTreeMap<SocketAddr, Arc<Listener>>,
    conns: Vec<Weak<Conn>>,
    /// One-way partitions: (from, to).
    blocked: BTreeSet<(SocketAddr, SocketAddr)>,
    /// Killed nodes.
    dead: BTreeSet<SocketAddr>,
    /// Each node's slot in the deterministic world.
    slots: BTreeMap<SocketAddr, usize>,
}

impl std::fmt::Debug for NetState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetState")
            .field("listeners", &self.listeners.len())
            .field("blocked", &self.blocked)
            .field("dead", &self.dead)
            .finish_non_exhaustive()
    }
}

impl SimNet {
    /// Gives a new node its address and listener.
    pub(crate) fn bind(&self) -> (SocketAddr, Arc<Listener>) {
        // Numbered per simulation (a run must not depend on what ran before it in the
        // process), so a location means nothing to another simulation.
        let mut st = self.state.lock();
        st.hosts += 1;
        let n = st.hosts;
        let ip = Ipv4Addr::new(10, (n >> 16) as u8, (n >> 8) as u8, n as u8);
        let addr = SocketAddr::from((ip, PORT));
        let listener = Arc::new(Listener::default());
        st.listeners.insert(addr, listener.clone());
        (addr, listener)
    }

    fn slot(&self, addr: SocketAddr) -> Option<usize> {
        self.state.lock().slots.get(&addr).copied()
    }

    /// Whether the node at `addr` was killed.
    pub(crate) fn is_dead(&self, addr: SocketAddr) -> bool {
        self.state.lock().dead.contains(&addr)
    }

    fn conns_between(&self, a: SocketAddr, b: SocketAddr) -> Vec<Arc<Conn>> {
        let mut st = self.state.lock();
        st.conns
            .retain(|c| c.upgrade().is_some_and(|c| !c.is_reset()));
        st.conns
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|c| c.ends.contains(&a) && c.ends.contains(&b))
            .collect()
    }

    /// Connects the node at `from` to the one at `to`: refused where nothing listens,
    /// held while a partition is in the way either way.
    pub(crate) async fn connect(&self, from: SocketAddr, to: SocketAddr) -> io::Result<Stream> {
        loop {
            let listening = self.changed.listen();
            {
                let mut st = self.state.lock();
                if st.dead.contains(&from) {
                    return Err(io::Error::from(io::ErrorKind::ConnectionAborted));
                }
                let blocked = st.blocked.contains(&(from, to)) || st.blocked.contains(&(to, from));
                if !blocked {
                    let Some(listener) = st.listeners.get(&to).cloned() else {
                        return Err(io::Error::from(io::ErrorKind::ConnectionRefused));
                    };
                    let conn = Conn::new(from, to);
                    st.conns.push(Arc::downgrade(&conn));
                    drop(st);
                    let (mine, theirs) = Stream::pair(&conn);
                    listener.push(theirs, from);
                    return Ok(mine);
                }
            }
            listening.await;
        }
    }
}

/// Where a simulated node's incoming connections wait to be accepted.
#[derive(Default)]
pub(crate) struct Listener {
    queue: Mutex<Backlog>,
}

/// Connections not accepted yet, and the accepting task's waker.
#[derive(Default)]
struct Backlog {
    waiting: VecDeque<(Stream, SocketAddr)>,
    acceptor: Option<Waker>,
}

impl Listener {
    fn push(&self, stream: Stream, from: SocketAddr) {
        let waker = {
            let mut q = self.queue.lock();
            q.waiting.push_back((stream, from));
            q.acceptor.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The next incoming connection and the address of the node that made it.
    pub(crate) async fn accept(&self) -> (Stream, SocketAddr) {
        std::future::poll_fn(|cx| {
            let mut q = self.queue.lock();
            match q.waiting.pop_front() {
                Some(next) => Poll::Ready(next),
                None => {
                    q.acceptor = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}
