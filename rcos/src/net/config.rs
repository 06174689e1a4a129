//! A node's configuration, and the secret policy.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How a runtime becomes a network node; give it to
/// [`runtime::Builder::node`](crate::runtime::Builder::node).
///
/// Everything has a safe default: listen on `127.0.0.1` on any free port, no
/// discovery, frames of at most 1 MiB, a heartbeat every second with four missed ones
/// meaning the peer is down.
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
    pub(crate) name: Option<String>,
    pub(crate) secret: SecretSource,
    pub(crate) max_frame: usize,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_misses: u32,
    pub(crate) handshake_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) reconnect_grace: Duration,
    pub(crate) max_preauth: usize,
    pub(crate) outbound_limit: usize,
    pub(crate) dest_path: Option<PathBuf>,
    pub(crate) max_file_size: u64,
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
            name: None,
            secret: SecretSource::Default,
            max_frame: 1 << 20,
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_misses: 4,
            handshake_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            reconnect_grace: Duration::from_secs(2),
            max_preauth: 64,
            outbound_limit: 64 << 20,
            dest_path: None,
            max_file_size: 1 << 30,
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

    /// How many connections may be authenticating at once (default 64); more are
    /// closed at once.
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
        let mode = std::fs::metadata(path)?.permissions().mode();
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
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("heartbeat_misses", &self.heartbeat_misses)
            .finish_non_exhaustive()
    }
}
