//! File transfer between nodes (pycos's `send_file` / `del_file`): chunked and
//! acknowledged, into the receiving node's destination folder.
//!
//! The sender hashes the file (SHA-256), announces its relative path, size and hash,
//! then sends it in chunks, each acknowledged; the receiver writes into a temporary
//! file beside the target and renames it into place only once the size and hash match,
//! so a half-sent file is never seen under its name. A file already there with the
//! same content is not sent again. The receiver — not the sender — checks every path:
//! absolute paths, `..` and anything else that would leave the destination folder are
//! refused, as are files over its size limit.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_lite::AsyncReadExt;
use sha2::{Digest, Sha256};

use super::frame::{Answer, Frame};
use super::peer::Peer;
use super::{Location, NetError, Node};
use crate::util::Mutex;

/// The size of one chunk on the wire.
const CHUNK: usize = 256 << 10;

/// Options of [`send_file`].
#[derive(Clone, Debug)]
pub struct SendFileOptions {
    dir: Option<PathBuf>,
    overwrite: bool,
    timeout: Duration,
}

impl Default for SendFileOptions {
    fn default() -> Self {
        SendFileOptions {
            dir: None,
            overwrite: false,
            timeout: Duration::from_secs(30),
        }
    }
}

impl SendFileOptions {
    /// The defaults: into the destination folder itself, no overwriting of a different
    /// file, 30 s for each step.
    pub fn new() -> SendFileOptions {
        SendFileOptions::default()
    }

    /// A sub-folder of the receiver's destination folder (relative, without `..`).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Replace a different file of the same name (by default that is refused).
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// How long each step (announcement, chunk, completion) may wait for its
    /// acknowledgement.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Why a file was not sent or deleted.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileError {
    /// This runtime is not a node.
    NotANode,
    /// The path is not acceptable (absolute, `..`, or no file name).
    BadPath(String),
    /// The file is larger than the receiver accepts.
    TooLarge {
        /// The file's size.
        size: u64,
        /// The receiver's limit, when known.
        max: Option<u64>,
    },
    /// A different file of that name exists there and overwriting was not asked for.
    Exists(String),
    /// No such file there (for [`del_file`]).
    NotFound(String),
    /// Reading the local file failed.
    Io(io::Error),
    /// The receiver refused or failed, for this reason.
    Refused(String),
    /// The receiver could not be reached, or went away.
    Unreachable(String),
    /// A step was not acknowledged in time.
    Timeout,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::NotANode => f.write_str("this runtime is not a network node"),
            FileError::BadPath(why) => write!(f, "bad path: {why}"),
            FileError::TooLarge {
                size,
                max: Some(max),
            } => {
                write!(f, "file of {size} bytes is over the limit of {max}")
            }
            FileError::TooLarge { size, max: None } => {
                write!(f, "file of {size} bytes is too large")
            }
            FileError::Exists(path) => write!(f, "a different {path} exists there"),
            FileError::NotFound(path) => write!(f, "no file {path} there"),
            FileError::Io(e) => write!(f, "reading the file: {e}"),
            FileError::Refused(why) => write!(f, "refused: {why}"),
            FileError::Unreachable(why) => write!(f, "unreachable: {why}"),
            FileError::Timeout => f.write_str("not acknowledged in time"),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Answers the receiver gives in `Failed`, recognised by the sender.
const EXISTS: &str = "exists: ";
const TOO_LARGE: &str = "too large: ";
const BAD_PATH: &str = "bad path: ";

/// Checks a relative path and returns it as `/`-separated normal components.
pub(crate) fn clean_relative(path: &Path) -> Result<String, String> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => match part.to_str() {
                Some(part) if !part.is_empty() && !part.contains(['/', '\\']) => parts.push(part),
                _ => {
                    return Err(format!(
                        "{} has a component that is not plain",
                        path.display()
                    ));
                }
            },
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!("{} goes up with `..`", path.display()));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("{} is absolute", path.display()));
            }
        }
    }
    if parts.is_empty() {
        return Err(format!("{} names no file", path.display()));
    }
    Ok(parts.join("/"))
}

/// The place of a relative path under `root`, refusing anything that escapes it: `..`,
/// absolute paths, and paths through a symbolic link already inside the folder
/// (wherever it points, a peer does not write or delete through it).
fn place(root: &Path, relative: &str) -> Result<PathBuf, String> {
    let cleaned = clean_relative(Path::new(relative))?;
    let mut at = root.to_path_buf();
    let mut exists = true;
    for part in cleaned.split('/') {
        at.push(part);
        if exists {
            match std::fs::symlink_metadata(&at) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(format!("{relative} goes through a symbolic link"));
                }
                Ok(_) => {}
                // Nothing below a missing component exists either.
                Err(_) => exists = false,
            }
        }
    }
    Ok(at)
}

/// A file being received.
struct Transfer {
    peer: u64,
    target: PathBuf,
    part: PathBuf,
    file: std::fs::File,
    size: u64,
    written: u64,
    hash: Sha256,
    expected: Vec<u8>,
}

/// The receiving side: transfers under way.
#[derive(Default)]
pub(crate) struct Files {
    transfers: Mutex<HashMap<u64, Transfer>>,
    next: std::sync::atomic::AtomicU64,
}

impl Files {
    fn root(node: &Node) -> PathBuf {
        node.config().dest_path_of(&node.me_name(), node.location())
    }

    /// A peer announces a file.
    pub(crate) fn begin(
        &self,
        node: &Node,
        peer: &Peer,
        path: &str,
        size: u64,
        sha256: &[u8],
        overwrite: bool,
    ) -> Answer {
        let max = node.config().max_file_size;
        if size > max {
            tracing::warn!(peer = %peer.identity.name, path, size, max, "file refused: too large");
            return Answer::Failed(format!("{TOO_LARGE}{max}"));
        }
        let root = Self::root(node);
        let target = match place(&root, path) {
            Ok(target) => target,
            Err(why) => {
                tracing::warn!(peer = %peer.identity.name, path, %why, "file refused");
                return Answer::Failed(format!("{BAD_PATH}{why}"));
            }
        };
        if let Ok(meta) = std::fs::symlink_metadata(&target) {
            if !meta.is_file() {
                return Answer::Failed(format!("{EXISTS}{path} (not a regular file)"));
            }
            if meta.len() == size && hash_file(&target).is_ok_and(|h| h[..] == *sha256) {
                tracing::debug!(path, "file already there");
                return Answer::Done;
            }
            if !overwrite {
                return Answer::Failed(format!("{EXISTS}{path}"));
            }
        }
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let part = target.with_file_name(format!(
            ".{}.rcos-part-{id}",
            target
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("file")
        ));
        let opened = target
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            // A new file, never through whatever may already be at that name.
            .and_then(|()| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&part)
            });
        let file = match opened {
            Ok(file) => file,
            Err(e) => {
                tracing::warn!(path, error = %e, "file not created");
                return Answer::Failed(format!("cannot create the file: {e}"));
            }
        };
        self.transfers.lock().insert(
            id,
            Transfer {
                peer: peer.identity.incarnation,
                target,
                part,
                file,
                size,
                written: 0,
                hash: Sha256::new(),
                expected: sha256.to_vec(),
            },
        );
        Answer::Count(id)
    }

    /// A chunk of transfer `id` at `offset`.
    pub(crate) fn chunk(&self, peer: &Peer, id: u64, offset: u64, bytes: &[u8]) -> Answer {
        let mut transfers = self.transfers.lock();
        let Some(t) = transfers
            .get_mut(&id)
            .filter(|t| t.peer == peer.identity.incarnation)
        else {
            return Answer::NotFound;
        };
        let end = offset.saturating_add(bytes.len() as u64);
        if offset != t.written || end > t.size {
            let why = format!("chunk at {offset} of {} bytes does not follow", bytes.len());
            if let Some(t) = transfers.remove(&id) {
                drop(transfers);
                t.abandon(&why);
            }
            return Answer::Failed(why);
        }
        if let Err(e) = t.file.write_all(bytes) {
            if let Some(t) = transfers.remove(&id) {
                drop(transfers);
                t.abandon(&e.to_string());
            }
            return Answer::Failed(format!("write failed: {e}"));
        }
        t.hash.update(bytes);
        t.written = end;
        Answer::Done
    }

    /// The end of transfer `id`: checks and renames into place.
    pub(crate) fn end(&self, peer: &Peer, id: u64) -> Answer {
        let t = {
            let mut transfers = self.transfers.lock();
            match transfers.get(&id) {
                Some(t) if t.peer == peer.identity.incarnation => transfers.remove(&id),
                _ => None,
            }
        };
        let Some(mut t) = t else {
            return Answer::NotFound;
        };
        if t.written != t.size {
            let why = format!("{} of {} bytes arrived", t.written, t.size);
            t.abandon(&why);
            return Answer::Failed(why);
        }
        let hash = std::mem::take(&mut t.hash).finalize();
        if hash[..] != t.expected[..] {
            t.abandon("content hash differs");
            return Answer::Failed("content hash differs".into());
        }
        let done = t
            .file
            .sync_all()
            .and_then(|()| std::fs::rename(&t.part, &t.target));
        match done {
            Ok(()) => {
                tracing::debug!(path = %t.target.display(), size = t.size, "file received");
                Answer::Done
            }
            Err(e) => {
                t.abandon(&e.to_string());
                Answer::Failed(format!("cannot put the file in place: {e}"))
            }
        }
    }

    /// A peer asks to delete a file.
    pub(crate) fn delete(&self, node: &Node, peer: &Peer, path: &str) -> Answer {
        let target = match place(&Self::root(node), path) {
            Ok(target) => target,
            Err(why) => {
                tracing::warn!(peer = %peer.identity.name, path, %why, "delete refused");
                return Answer::Failed(format!("{BAD_PATH}{why}"));
            }
        };
        match std::fs::symlink_metadata(&target) {
            Ok(meta) if meta.is_file() => match std::fs::remove_file(&target) {
                Ok(()) => Answer::Done,
                Err(e) => Answer::Failed(format!("cannot delete: {e}")),
            },
            Ok(_) => Answer::Failed(format!("{path} is not a regular file")),
            Err(_) => Answer::NotFound,
        }
    }

    /// Drops the transfers of a peer that went away (their partial files too).
    pub(crate) fn peer_gone(&self, incarnation: u64) {
        let gone: Vec<Transfer> = {
            let mut transfers = self.transfers.lock();
            let ids: Vec<u64> = transfers
                .iter()
                .filter(|(_, t)| t.peer == incarnation)
                .map(|(id, _)| *id)
                .collect();
            ids.iter().filter_map(|id| transfers.remove(id)).collect()
        };
        for t in gone {
            t.abandon("the sender went away");
        }
    }
}

impl Transfer {
    fn abandon(self, why: &str) {
        tracing::warn!(path = %self.target.display(), why, "file transfer abandoned");
        drop(self.file);
        let _ = std::fs::remove_file(&self.part);
    }
}

fn hash_file(path: &Path) -> io::Result<[u8; 32]> {
    let mut file = std::fs::File::open(path)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0; 64 << 10];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hash.finalize().into());
        }
        hash.update(&buf[..n]);
    }
}

fn failed(why: String) -> FileError {
    if let Some(max) = why.strip_prefix(TOO_LARGE) {
        return FileError::TooLarge {
            size: 0,
            max: max.parse().ok(),
        };
    }
    if let Some(path) = why.strip_prefix(EXISTS) {
        return FileError::Exists(path.to_string());
    }
    if let Some(why) = why.strip_prefix(BAD_PATH) {
        return FileError::BadPath(why.to_string());
    }
    FileError::Refused(why)
}

async fn ask(
    node: &Arc<Node>,
    peer: &Arc<Peer>,
    timeout: Duration,
    make: impl FnOnce(u64) -> Frame,
) -> Result<Answer, FileError> {
    match node.request(peer, timeout, make).await {
        Ok(answer) => Ok(answer),
        Err(NetError::Timeout) => Err(FileError::Timeout),
        Err(e) => Err(FileError::Unreachable(e.to_string())),
    }
}

async fn connected(
    location: Location,
    timeout: Duration,
) -> Result<(Arc<Node>, Arc<Peer>), FileError> {
    let node = super::current_node().map_err(|_| FileError::NotANode)?;
    let inc = node
        .clock()
        .timeout(timeout, node.connect(location, false))
        .await
        .map_err(|_| FileError::Timeout)?
        .map_err(|e| FileError::Unreachable(e.to_string()))?;
    let peer = node
        .connected_peer(inc)
        .ok_or_else(|| FileError::Unreachable(format!("{location} went away")))?;
    Ok((node, peer))
}

/// Sends the file at `path` to the node at `location`, into its destination folder
/// (or the sub-folder [`SendFileOptions::dir`]), under the same file name (pycos's
/// `send_file`). Returns the number of bytes the file has; a file already there with
/// the same content is not sent again.
///
/// # Errors
/// [`FileError`]: the file cannot be read, the path or size is refused, a different
/// file exists there (without [`overwrite`](SendFileOptions::overwrite)), or the peer
/// cannot be reached or does not acknowledge in time.
pub async fn send_file(
    location: impl Into<Location>,
    path: impl AsRef<Path>,
    options: SendFileOptions,
) -> Result<u64, FileError> {
    let location = location.into();
    let path = path.as_ref();
    let name = path
        .file_name()
        .ok_or_else(|| FileError::BadPath(format!("{} names no file", path.display())))?;
    let relative = match &options.dir {
        Some(dir) => dir.join(name),
        None => PathBuf::from(name),
    };
    let relative = clean_relative(&relative).map_err(FileError::BadPath)?;
    let owned = path.to_path_buf();
    let (size, sha256) = blocking::unblock(move || {
        let size = std::fs::metadata(&owned)?.len();
        hash_file(&owned).map(|h| (size, h))
    })
    .await
    .map_err(FileError::Io)?;
    let (node, peer) = connected(location, options.timeout).await?;
    let begin = ask(&node, &peer, options.timeout, |req| Frame::FileBegin {
        req,
        path: relative.clone(),
        size,
        sha256: sha256.to_vec(),
        overwrite: options.overwrite,
    })
    .await?;
    let id = match begin {
        Answer::Done => return Ok(size),
        Answer::Count(id) => id,
        Answer::Failed(why) => {
            return Err(match failed(why) {
                FileError::TooLarge { max, .. } => FileError::TooLarge { size, max },
                other => other,
            });
        }
        other => return Err(FileError::Refused(format!("unexpected answer {other:?}"))),
    };
    let mut file = async_fs::File::open(path).await.map_err(FileError::Io)?;
    // A chunk and its frame's few header bytes must fit in one frame.
    let chunk = CHUNK.min(node.config().max_frame.saturating_sub(256).max(1024));
    let mut buf = vec![0; chunk];
    let mut offset = 0u64;
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            let n = file.read(&mut buf[filled..]).await.map_err(FileError::Io)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        let bytes = buf[..filled].to_vec();
        match ask(&node, &peer, options.timeout, |req| Frame::FileChunk {
            req,
            transfer: id,
            offset,
            bytes,
        })
        .await?
        {
            Answer::Done => offset += filled as u64,
            Answer::Failed(why) => return Err(FileError::Refused(why)),
            other => return Err(FileError::Refused(format!("unexpected answer {other:?}"))),
        }
    }
    match ask(&node, &peer, options.timeout, |req| Frame::FileEnd {
        req,
        transfer: id,
    })
    .await?
    {
        Answer::Done => Ok(size),
        Answer::Failed(why) => Err(FileError::Refused(why)),
        other => Err(FileError::Refused(format!("unexpected answer {other:?}"))),
    }
}

/// Deletes the file `name` (a path relative to the destination folder) on the node at
/// `location` (pycos's `del_file`).
///
/// # Errors
/// [`FileError`]: the path is refused, there is no such file, or the peer cannot be
/// reached.
pub async fn del_file(
    location: impl Into<Location>,
    name: impl AsRef<Path>,
    timeout: Duration,
) -> Result<(), FileError> {
    let location = location.into();
    let relative = clean_relative(name.as_ref()).map_err(FileError::BadPath)?;
    let (node, peer) = connected(location, timeout).await?;
    match ask(&node, &peer, timeout, |req| Frame::FileDelete {
        req,
        path: relative.clone(),
    })
    .await?
    {
        Answer::Done => Ok(()),
        Answer::NotFound => Err(FileError::NotFound(relative)),
        Answer::Failed(why) => Err(failed(why)),
        other => Err(FileError::Refused(format!("unexpected answer {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_folder_are_refused() {
        for bad in ["/etc/passwd", "../x", "a/../../x", "a/..", "", "."] {
            assert!(clean_relative(Path::new(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(clean_relative(Path::new("a/./b.txt")).unwrap(), "a/b.txt");
        assert_eq!(clean_relative(Path::new("f")).unwrap(), "f");
        let root = Path::new("/tmp/root");
        assert_eq!(place(root, "a/b").unwrap(), root.join("a").join("b"));
        assert!(place(root, "../../etc/passwd").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn paths_through_a_symlink_are_refused() {
        let root = std::env::temp_dir().join(format!("rcos-place-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::os::unix::fs::symlink(std::env::temp_dir(), root.join("link")).unwrap();
        assert!(place(&root, "link/x").is_err());
        assert!(place(&root, "link").is_err());
        assert!(place(&root, "link/new/x").is_err());
        assert_eq!(place(&root, "real/x").unwrap(), root.join("real").join("x"));
        assert_eq!(place(&root, "new/x").unwrap(), root.join("new").join("x"));
        let _ = std::fs::remove_dir_all(&root);
    }
}
