//! A node's configuration, and the secret policy.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How a runtime becomes a network node; give it to
/// [`runtime::Builder::node`](crate::runtime::Builder::node).
///
/// Everything has a safe default: listen on `127.0.0.1` on any free port, no
/// discovery, frames of at most 1 MiB, a heartbeat every second with four missed ones
/// meaning the peer is down, no TLS.
///
/// # Discovery
///
/// With [`discovery(true)`](Self::discovery) a node finds the other nodes of its
/// network by itself (pycos's discovery): it sends a small UDP **beacon** when it starts
/// and every [`discovery_interval`](Self::discovery_interval) (5 s by default), to a
/// multicast group or a broadcast address ([`DiscoveryGroup`]) on the
/// [`discovery_port`](Self::discovery_port) ([`DEFAULT_DISCOVERY_PORT`], 9705, pycos's
/// port). A beacon carries the protocol version, the node's name, incarnation and TCP
/// location, a timestamp and a random nonce, and an HMAC-SHA256 tag under a key derived
/// from the shared secret (a key used for nothing else). A node acts on a beacon (it
/// connects to the sender, as [`peer`](crate::net::peer) does) only when its tag
/// verifies, it is fresh (its timestamp within 30 s of this machine's clock, and not
/// seen before), it is not its own, and its sender has not sent too many; connection
/// attempts are limited to 10 a second. Anything else is dropped and counted
/// ([`DiscoveryStats`](crate::net::DiscoveryStats)). A beacon only *hints* where a node
/// is: the connection still authenticates on the secret, as any other does.
///
/// Of two nodes that hear each other, the one with the lower incarnation connects; the
/// other answers a beacon from a node it does not know yet with a beacon of its own, so
/// discovery takes one round trip rather than one interval.
///
/// Several nodes of one machine (or one process) can share the discovery port: the
/// socket is bound with `SO_REUSEADDR` (and `SO_REUSEPORT` on Unix), and beacons go to a
/// group or broadcast address, which the system delivers to every socket bound to the
/// port. A node on loopback (the default) uses the group [`DiscoveryGroup::IPV4_GROUP`]
/// on the loopback interface: this machine only. Beacons on any other network need a
/// secret of at least [`MIN_SECRET_LEN`] bytes.
///
/// # TLS
///
/// With feature `tls`, `NodeConfig::tls` makes every connection of the node mutual TLS
/// 1.3 (each node presents its certificate and checks the other's against the trusted
/// certificates); the secret's handshake then runs inside TLS, as it does without. A
/// node with TLS and one without cannot talk: each refuses the other at once.
///
/// The secret: nodes that share it can talk; others are refused before anything they
/// send is decoded. A node listening on a non-loopback address must have one of at
/// least 16 bytes: given with [`secret`](Self::secret) or [`secret_file`](Self::secret_file),
/// or, when neither is given, read from (or generated into) `$XDG_CONFIG_HOME/rcos/secret`
/// (`~/.config/rcos/secret`), a file that must not be readable by group or others. On
/// loopback a node without a secret runs in development mode (with a warning in the
/// log): any process of this machine that also runs without one can connect.
#[derive(Clone)]
pub struct NodeConfig {
    pub(crate) bind: SocketAddr,
    pub(crate) external: Option<SocketAddr>,
    pub(crate) name: Option<String>,
    pub(crate) secret: SecretSource,
    pub(crate) max_frame: usize,
    pub(crate) max_decode_depth: usize,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_misses: u32,
    pub(crate) handshake_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) reconnect_grace: Duration,
    pub(crate) max_preauth: usize,
    pub(crate) outbound_limit: usize,
    pub(crate) dest_path: Option<PathBuf>,
    pub(crate) max_file_size: u64,
    pub(crate) discovery: bool,
    pub(crate) discovery_port: u16,
    pub(crate) discovery_group: Option<DiscoveryGroup>,
    pub(crate) beacon_interval: Duration,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<NodeTls>,
    #[cfg(feature = "tls")]
    pub(crate) tls_server_name: Option<String>,
    /// The simulated network the node lives in, instead of sockets.
    #[cfg(feature = "test-util")]
    pub(crate) sim: Option<std::sync::Arc<crate::sim::SimNet>>,
}

/// Where discovery beacons are sent, and listened for (see [`NodeConfig`]'s
/// "Discovery").
///
/// Beacons never leave the local network: multicast ones are sent with a TTL (hop
/// limit) of 1, and broadcasts are not routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiscoveryGroup {
    /// IPv4 broadcast to this address: `255.255.255.255` (the network of the interface
    /// the system chooses), a subnet's broadcast address (`192.168.1.255`), or
    /// `127.255.255.255` (this machine only).
    Broadcast(Ipv4Addr),
    /// An IPv4 multicast group, joined on (and sent to through) the interface that has
    /// the address `interface`; [`Ipv4Addr::UNSPECIFIED`] lets the system choose.
    MulticastV4 {
        /// The group (in `224.0.0.0/4`).
        group: Ipv4Addr,
        /// An address of the interface to use.
        interface: Ipv4Addr,
    },
    /// An IPv6 multicast group, joined on (and sent to through) the interface with index
    /// `interface` (as `ip link` numbers them); 0 lets the system choose, which may fail
    /// on a machine with several interfaces.
    MulticastV6 {
        /// The group (in `ff00::/8`).
        group: Ipv6Addr,
        /// The interface's index.
        interface: u32,
    },
}

impl DiscoveryGroup {
    /// pycos's IPv4 multicast group, `239.255.97.5` (administratively scoped).
    pub const IPV4_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 97, 5);
    /// pycos's IPv6 multicast group, `ff05::674f:48ba:b409:3171:9705` (site-local
    /// scope; beacons still go one hop only).
    pub const IPV6_GROUP: Ipv6Addr =
        Ipv6Addr::new(0xff05, 0, 0, 0x674f, 0x48ba, 0xb409, 0x3171, 0x9705);

    /// IPv4 broadcast on the network of the interface the system chooses
    /// (`255.255.255.255`), as pycos does by default.
    pub fn broadcast() -> DiscoveryGroup {
        DiscoveryGroup::Broadcast(Ipv4Addr::BROADCAST)
    }

    /// [`IPV4_GROUP`](Self::IPV4_GROUP) on the interface with the address `interface`.
    pub fn multicast_v4(interface: Ipv4Addr) -> DiscoveryGroup {
        DiscoveryGroup::MulticastV4 {
            group: Self::IPV4_GROUP,
            interface,
        }
    }

    /// [`IPV6_GROUP`](Self::IPV6_GROUP) on the interface with index `interface`.
    pub fn multicast_v6(interface: u32) -> DiscoveryGroup {
        DiscoveryGroup::MulticastV6 {
            group: Self::IPV6_GROUP,
            interface,
        }
    }

    /// The group a node listening on `bind` uses unless told otherwise: the IPv4 group
    /// on the interface of the bound address (the loopback interface for `127.0.0.1`,
    /// the system's choice for `0.0.0.0`); for IPv6, the IPv6 group on the interface the
    /// system chooses (but the IPv4 group on loopback for `::1`: IPv6 multicast does not
    /// run on the loopback interface).
    pub fn default_for(bind: IpAddr) -> DiscoveryGroup {
        match bind {
            IpAddr::V4(ip) => DiscoveryGroup::multicast_v4(ip),
            IpAddr::V6(ip) if ip.is_loopback() => DiscoveryGroup::multicast_v4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => DiscoveryGroup::multicast_v6(0),
        }
    }

    /// Whether beacons sent this way stay on this machine.
    pub fn is_loopback(&self) -> bool {
        match self {
            DiscoveryGroup::Broadcast(ip) => ip.is_loopback(),
            DiscoveryGroup::MulticastV4 { interface, .. } => interface.is_loopback(),
            DiscoveryGroup::MulticastV6 { .. } => false,
        }
    }
}

impl fmt::Display for DiscoveryGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoveryGroup::Broadcast(ip) => write!(f, "broadcast {ip}"),
            DiscoveryGroup::MulticastV4 { group, interface } => {
                write!(f, "multicast {group} on {interface}")
            }
            DiscoveryGroup::MulticastV6 { group, interface } => {
                write!(f, "multicast {group} on interface #{interface}")
            }
        }
    }
}

/// The UDP port of discovery beacons unless set otherwise: 9705, pycos's.
pub const DEFAULT_DISCOVERY_PORT: u16 = 9705;
/// How often a node sends a discovery beacon unless set otherwise.
pub const DEFAULT_BEACON_INTERVAL: Duration = Duration::from_secs(5);

/// A node's TLS: an acceptor and a connector, both mutual.
#[cfg(feature = "tls")]
#[derive(Clone)]
pub(crate) struct NodeTls {
    pub(crate) acceptor: crate::io::tls::TlsAcceptor,
    pub(crate) connector: crate::io::tls::TlsConnector,
}

#[derive(Clone)]
pub(crate) enum SecretSource {
    Default,
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// The shortest secret accepted off loopback.
pub const MIN_SECRET_LEN: usize = 16;
/// The largest frame (record) a node accepts at most, whatever its configuration.
pub const MAX_FRAME_LIMIT: usize = 64 << 20;

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            external: None,
            name: None,
            secret: SecretSource::Default,
            max_frame: 1 << 20,
            max_decode_depth: crate::message::DECODE_DEPTH_LIMIT,
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_misses: 4,
            handshake_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            reconnect_grace: Duration::from_secs(2),
            max_preauth: 64,
            outbound_limit: 64 << 20,
            dest_path: None,
            max_file_size: 1 << 30,
            discovery: false,
            discovery_port: DEFAULT_DISCOVERY_PORT,
            discovery_group: None,
            beacon_interval: DEFAULT_BEACON_INTERVAL,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            tls_server_name: None,
            #[cfg(feature = "test-util")]
            sim: None,
        }
    }
}

impl NodeConfig {
    /// The defaults (see the type's docs).
    pub fn new() -> NodeConfig {
        NodeConfig::default()
    }

    /// The address and port to listen on (port 0: any free port). Default
    /// `127.0.0.1:0`.
    pub fn bind(mut self, addr: impl Into<SocketAddr>) -> Self {
        self.bind = addr.into();
        self
    }

    /// The address peers should use to reach this node, when it differs from the bound
    /// one (behind NAT or a forwarding proxy; pycos's `ext_host`). It becomes the
    /// node's [`location`](crate::Handle::location) and is what peers reconnect to.
    pub fn external_address(mut self, addr: impl Into<SocketAddr>) -> Self {
        self.external = Some(addr.into());
        self
    }

    /// The node's name (default: the runtime's name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The shared secret, as bytes.
    pub fn secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.secret = SecretSource::Bytes(secret.into());
        self
    }

    /// The shared secret, read from a file when the node starts; the file must not be
    /// readable by group or others.
    pub fn secret_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.secret = SecretSource::File(path.into());
        self
    }

    /// The largest record accepted or sent, at most [`MAX_FRAME_LIMIT`] (default 1 MiB).
    /// A message that does not fit in one is refused when sent.
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes.clamp(4096, MAX_FRAME_LIMIT);
        self
    }

    /// How deeply nested the CBOR from peers may be — frames, and every message a peer
    /// sends, checked when it arrives, before it reaches a mailbox (default and maximum
    /// 64, which also bounds the stack a decode uses; at least 4). A message nested
    /// deeper is dropped with a warning; a frame nested deeper closes the connection.
    pub fn max_decode_depth(mut self, depth: usize) -> Self {
        self.max_decode_depth = depth.clamp(4, crate::message::DECODE_DEPTH_LIMIT);
        self
    }

    /// How often peers exchange heartbeats, and how many may be missed before a peer is
    /// declared down (default every second, four).
    pub fn heartbeat(mut self, interval: Duration, misses: u32) -> Self {
        self.heartbeat_interval = interval.max(Duration::from_millis(10));
        self.heartbeat_misses = misses.max(1);
        self
    }

    /// How long a new connection has to authenticate (default 5 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How long requests to a peer (locate, spawn, acknowledged delivery) wait for an
    /// answer at most, when the caller gives no timeout of its own (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long a broken connection may take to come back before the peer is declared
    /// lost (default 2 s).
    pub fn reconnect_grace(mut self, grace: Duration) -> Self {
        self.reconnect_grace = grace;
        self
    }

    /// How many connections may be authenticating at once (default 64). When all are
    /// taken, a new connection closes the oldest unauthenticated one if that one has
    /// been at it for a quarter of the handshake timeout (500 ms at most), since an
    /// honest handshake takes milliseconds; otherwise the new one is closed at once.
    pub fn max_preauth(mut self, connections: usize) -> Self {
        self.max_preauth = connections.max(1);
        self
    }

    /// How many bytes may wait to be sent to one peer (default 64 MiB); sends beyond it
    /// fail with [`SendErrorKind::Full`](crate::SendErrorKind::Full).
    pub fn outbound_limit(mut self, bytes: usize) -> Self {
        self.outbound_limit = bytes;
        self
    }

    /// The folder files sent by peers ([`send_file`](crate::net::send_file)) go into
    /// (by default `rcos/NAME-PORT` under the system's temporary folder). Peers can
    /// only write and delete regular files inside it.
    pub fn dest_path(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dest_path = Some(dir.into());
        self
    }

    /// The largest file peers may send here (default 1 GiB).
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// The destination folder of a node with this name and location.
    pub(crate) fn dest_path_of(&self, name: &str, location: super::Location) -> PathBuf {
        self.dest_path.clone().unwrap_or_else(|| {
            std::env::temp_dir()
                .join("rcos")
                .join(format!("{name}-{}", location.addr().port()))
        })
    }

    /// Turns discovery by UDP beacons on or off (default off; see the type's docs).
    pub fn discovery(mut self, on: bool) -> Self {
        self.discovery = on;
        self
    }

    /// The UDP port of discovery beacons (default [`DEFAULT_DISCOVERY_PORT`], 9705). The
    /// nodes that are to find each other must all use the same one; nodes of one machine
    /// share it.
    pub fn discovery_port(mut self, port: u16) -> Self {
        self.discovery_port = port;
        self
    }

    /// Where beacons go (default: [`DiscoveryGroup::default_for`] the bind address).
    pub fn discovery_group(mut self, group: DiscoveryGroup) -> Self {
        self.discovery_group = Some(group);
        self
    }

    /// How often a node sends a beacon (default [`DEFAULT_BEACON_INTERVAL`], 5 s; at
    /// least 50 ms). Each goes out within ±10 % of the interval, so nodes started
    /// together do not beacon in step. A node also answers at once a beacon from a node
    /// it does not know, so the interval matters mostly when beacons are lost.
    pub fn discovery_interval(mut self, interval: Duration) -> Self {
        self.beacon_interval = interval.max(Duration::from_millis(50));
        self
    }

    /// The discovery group in effect.
    pub(crate) fn effective_discovery_group(&self) -> DiscoveryGroup {
        self.discovery_group
            .unwrap_or_else(|| DiscoveryGroup::default_for(self.bind.ip()))
    }

    /// Mutual TLS for every connection of the node: it presents the certificate chain
    /// `cert_chain` (PEM: its certificate first, then any intermediate ones) with its
    /// private key `key` (PEM), and accepts only peers whose certificates are signed by
    /// (or equal to) one in `trusted` (PEM). TLS 1.3 only. The shared secret is still
    /// checked, inside TLS, and records still carry their MAC under it, so a stolen
    /// certificate alone lets no one in.
    ///
    /// A node connecting to another checks that the other's certificate is valid for
    /// the IP address it dials (a subject alternative name such as `IP:10.0.0.5`),
    /// unless [`tls_server_name`](Self::tls_server_name) gives one name for all peers. A
    /// single self-signed certificate that all the nodes present and trust (pycos's
    /// model) works: pass it as both `cert_chain` and `trusted`.
    ///
    /// # Errors
    /// `InvalidData` when a PEM holds no certificate or no key; `InvalidInput` when the
    /// key does not match the certificate or a trusted certificate is unusable.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, cert_chain: &[u8], key: &[u8], trusted: &[u8]) -> io::Result<Self> {
        use crate::io::tls::{TlsAcceptor, TlsConnector};
        let acceptor = TlsAcceptor::from_pem_with_client_auth(cert_chain, key, trusted)?;
        let connector = TlsConnector::from_pem_with_client_cert(trusted, cert_chain, key)?;
        self.tls = Some(NodeTls {
            acceptor,
            connector,
        });
        Ok(self)
    }

    /// Like [`tls`](Self::tls), reading the three PEM files (a small blocking read,
    /// meant for start-up).
    ///
    /// # Errors
    /// When a file cannot be read, and as [`tls`](Self::tls).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_files(
        self,
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
        trusted: impl AsRef<Path>,
    ) -> io::Result<Self> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
            })
        };
        let cert_chain = read(cert_chain.as_ref())?;
        let key = read(key.as_ref())?;
        let trusted = read(trusted.as_ref())?;
        self.tls(&cert_chain, &key, &trusted)
    }

    /// The name every peer's certificate must be valid for (a DNS name such as
    /// `"rcos-node"`, among its subject alternative names), instead of the IP address
    /// dialed: handy when the nodes' addresses are not known when their certificates
    /// are made.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_server_name(mut self, name: impl Into<String>) -> Self {
        self.tls_server_name = Some(name.into());
        self
    }

    /// This configuration for a node of a simulation: refused when it asks for what is
    /// not simulated.
    #[cfg(feature = "test-util")]
    pub(crate) fn simulated(
        mut self,
        net: std::sync::Arc<crate::sim::SimNet>,
    ) -> io::Result<NodeConfig> {
        if self.uses_tls() || self.discovery || self.external.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a simulated node has no TLS, no discovery and no external address (the simulation gives it its address)",
            ));
        }
        self.sim = Some(net);
        Ok(self)
    }

    /// Whether connections use TLS.
    pub(crate) fn uses_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        {
            self.tls.is_some()
        }
        #[cfg(not(feature = "tls"))]
        {
            false
        }
    }

    /// Resolves the secret according to the policy (see the type's docs).
    pub(crate) fn resolve_secret(&self) -> io::Result<Vec<u8>> {
        let loopback = self.bind.ip().is_loopback();
        let secret = match &self.secret {
            SecretSource::Bytes(bytes) => bytes.clone(),
            SecretSource::File(path) => read_secret_file(path)?,
            SecretSource::Default if loopback => {
                tracing::warn!(
                    bind = %self.bind,
                    "node without a secret: development mode, loopback only"
                );
                return Ok(Vec::new());
            }
            SecretSource::Default => default_secret()?,
        };
        if secret.len() < MIN_SECRET_LEN {
            if !loopback {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "a node listening on {} needs a secret of at least {MIN_SECRET_LEN} bytes (this one has {})",
                        self.bind,
                        secret.len()
                    ),
                ));
            }
            tracing::warn!(bind = %self.bind, "weak node secret (fewer than {MIN_SECRET_LEN} bytes): loopback only");
        }
        Ok(secret)
    }
}

fn read_secret_file(path: &Path) -> io::Result<Vec<u8>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot read the secret file {}: {e}", path.display()),
                )
            })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "the secret file {} is readable by group or others (mode {:o}); make it private (chmod 600)",
                    path.display(),
                    mode & 0o777
                ),
            ));
        }
    }
    let mut bytes = std::fs::read(path)?;
    while bytes.last().is_some_and(|b| b.is_ascii_whitespace()) {
        bytes.pop();
    }
    Ok(bytes)
}

/// The default secret file: read it, or create it with 32 random bytes.
fn default_secret() -> io::Result<Vec<u8>> {
    let dir = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "no XDG_CONFIG_HOME or HOME for the default secret file",
            )
        })?
        .join("rcos");
    let path = dir.join("secret");
    if path.exists() {
        return read_secret_file(&path);
    }
    std::fs::create_dir_all(&dir)?;
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| io::Error::other(e.to_string()))?;
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    options.open(&path)?.write_all(hex.as_bytes())?;
    tracing::info!(path = %path.display(), "generated a node secret; copy it to the other nodes");
    Ok(hex.into_bytes())
}

impl fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.debug_struct("NodeConfig")
            .field("bind", &self.bind)
            .field("name", &self.name)
            .field("max_frame", &self.max_frame)
            .field("max_decode_depth", &self.max_decode_depth)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("heartbeat_misses", &self.heartbeat_misses)
            .field("discovery", &self.discovery)
            .field("discovery_port", &self.discovery_port)
            .field("discovery_group", &self.effective_discovery_group())
            .field("beacon_interval", &self.beacon_interval)
            .field("tls", &self.uses_tls())
            .finish_non_exhaustive()
    }
}
