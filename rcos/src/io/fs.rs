//! Files, read and written without blocking a worker thread.
//!
//! Disk files cannot be waited on the way sockets can (pycos's `AsyncFile` refuses
//! them for that reason). rcos runs file operations on a background thread pool
//! instead, so a task reading a file waits like one reading a socket, and the other
//! tasks go on running. The pool is async-fs's (the `blocking` crate's), shared by the
//! process.
//!
//! ```
//! # rcos::Runtime::new().unwrap().block_on(async {
//! let path = std::env::temp_dir().join(format!("rcos-doc-fs-{}.txt", std::process::id()));
//! rcos::io::fs::write(&path, "line one\nline two\n").await?;
//! let text = rcos::io::fs::read_to_string(&path).await?;
//! assert_eq!(text.lines().count(), 2);
//! # std::fs::remove_file(&path)?;
//! # std::io::Result::Ok(())
//! # }).unwrap();
//! ```

use std::io::{self, IoSlice, IoSliceMut, SeekFrom};
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncSeek, AsyncWrite};
use futures_lite::AsyncWriteExt;

/// Reads the whole file at `path`.
///
/// # Errors
/// When the file cannot be opened or read.
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    async_fs::read(path.as_ref()).await
}

/// Reads the whole file at `path` as UTF-8 text.
///
/// # Errors
/// When the file cannot be opened or read, or is not UTF-8 (`InvalidData`).
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    async_fs::read_to_string(path.as_ref()).await
}

/// Writes `contents` to the file at `path`, creating it or replacing what it held.
///
/// # Errors
/// When the file cannot be created or written.
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    async_fs::write(path.as_ref(), contents.as_ref()).await
}

/// An open file: pycos's `AsyncFile`, for disk files too.
///
/// Besides its own [`read`](Self::read) and [`write_all`](Self::write_all), it implements
/// the `futures-io` traits `AsyncRead`, `AsyncWrite` and `AsyncSeek`; use them through
/// `futures-lite`'s `AsyncReadExt` / `AsyncWriteExt` / `AsyncSeekExt` (wrap the file in
/// `futures_lite::io::BufReader` to read lines).
///
/// Writes are buffered: call [`close`](Self::close) (or `flush`, or
/// [`sync_all`](Self::sync_all)) before dropping a file that was written to, or the
/// last data written may be lost, with no error reported.
///
/// ```
/// use futures_lite::AsyncReadExt; // for read_to_string
/// use rcos::io::fs::File;
///
/// # rcos::Runtime::new().unwrap().block_on(async {
/// let path = std::env::temp_dir().join(format!("rcos-doc-file-{}.txt", std::process::id()));
/// let mut file = File::create(&path).await?;
/// file.write_all(b"written by a task").await?;
/// file.close().await?;
///
/// let mut text = String::new();
/// File::open(&path).await?.read_to_string(&mut text).await?;
/// assert_eq!(text, "written by a task");
/// # std::fs::remove_file(&path)?;
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub struct File {
    inner: async_fs::File,
}

impl File {
    /// Opens the file at `path` for reading.
    ///
    /// # Errors
    /// When it does not exist or cannot be read.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        Ok(File {
            inner: async_fs::File::open(path.as_ref()).await?,
        })
    }

    /// Opens the file at `path` for writing, creating it or emptying it.
    ///
    /// # Errors
    /// When it cannot be created or written.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        Ok(File {
            inner: async_fs::File::create(path.as_ref()).await?,
        })
    }

    /// Opens the file at `path` as `options` say (read, write, append, create, ...).
    ///
    /// ```
    /// use rcos::io::fs::{File, OpenOptions};
    ///
    /// # rcos::Runtime::new().unwrap().block_on(async {
    /// let path = std::env::temp_dir().join(format!("rcos-doc-append-{}.log", std::process::id()));
    /// for line in ["first\n", "second\n"] {
    ///     let mut log = File::open_with(&path, OpenOptions::new().append(true).create(true)).await?;
    ///     log.write_all(line.as_bytes()).await?;
    ///     log.close().await?;
    /// }
    /// assert_eq!(rcos::io::fs::read_to_string(&path).await?, "first\nsecond\n");
    /// # std::fs::remove_file(&path)?;
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// When the file cannot be opened that way.
    pub async fn open_with(path: impl AsRef<Path>, options: &OpenOptions) -> io::Result<File> {
        Ok(File {
            inner: options.to_async_fs().open(path.as_ref()).await?,
        })
    }

    /// Wraps a file opened with the standard library.
    pub fn from_std(file: std::fs::File) -> File {
        File {
            inner: async_fs::File::from(file),
        }
    }

    /// The file's metadata (size, permissions, times).
    ///
    /// # Errors
    /// The system's.
    pub async fn metadata(&self) -> io::Result<std::fs::Metadata> {
        self.inner.metadata().await
    }

    /// Truncates or extends the file to `size` bytes.
    ///
    /// # Errors
    /// When the file is not open for writing, and the system's.
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        self.inner.set_len(size).await
    }

    /// Writes buffered data and waits until the system has put data and metadata on
    /// disk.
    ///
    /// # Errors
    /// The system's, including errors of earlier buffered writes.
    pub async fn sync_all(&self) -> io::Result<()> {
        self.inner.sync_all().await
    }

    /// Like [`sync_all`](Self::sync_all), without waiting for metadata.
    ///
    /// # Errors
    /// The system's, including errors of earlier buffered writes.
    pub async fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data().await
    }

    /// Reads some bytes into `buf`; `Ok(0)` at the end of the file (pycos's
    /// `AsyncFile.read`).
    ///
    /// # Errors
    /// The system's.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        futures_lite::AsyncReadExt::read(&mut self.inner, buf).await
    }

    /// Writes all of `buf` (pycos's `AsyncFile.write(buf, full=True)`); buffered until
    /// [`close`](Self::close) or a flush.
    ///
    /// # Errors
    /// The system's, possibly from an earlier buffered write.
    pub async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf).await
    }

    /// Writes buffered data and closes the file, reporting any error (dropping a file
    /// ignores them).
    ///
    /// # Errors
    /// Errors of buffered writes.
    pub async fn close(mut self) -> io::Result<()> {
        self.inner.close().await
    }
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File").finish_non_exhaustive()
    }
}

impl AsyncRead for File {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }

    fn poll_read_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read_vectored(cx, bufs)
    }
}

impl AsyncWrite for File {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

impl AsyncSeek for File {
    fn poll_seek(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        Pin::new(&mut self.inner).poll_seek(cx, pos)
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for File {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.as_raw_fd()
    }
}

/// How to open a file with [`File::open_with`]; the same options as
/// [`std::fs::OpenOptions`]. All are off at first.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    #[cfg(unix)]
    mode: Option<u32>,
}

impl OpenOptions {
    /// Options with everything off.
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }

    /// Open for reading.
    pub fn read(&mut self, on: bool) -> &mut OpenOptions {
        self.read = on;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, on: bool) -> &mut OpenOptions {
        self.write = on;
        self
    }

    /// Open for appending: every write goes to the end (implies writing).
    pub fn append(&mut self, on: bool) -> &mut OpenOptions {
        self.append = on;
        self
    }

    /// Empty the file on opening (needs writing).
    pub fn truncate(&mut self, on: bool) -> &mut OpenOptions {
        self.truncate = on;
        self
    }

    /// Create the file if it does not exist (needs writing or appending).
    pub fn create(&mut self, on: bool) -> &mut OpenOptions {
        self.create = on;
        self
    }

    /// Create the file, failing if it exists.
    pub fn create_new(&mut self, on: bool) -> &mut OpenOptions {
        self.create_new = on;
        self
    }

    /// The permission bits of a file that gets created (Unix; default `0o666`, less the
    /// umask).
    #[cfg(unix)]
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.mode = Some(mode);
        self
    }

    fn to_async_fs(&self) -> async_fs::OpenOptions {
        let mut o = async_fs::OpenOptions::new();
        o.read(self.read)
            .write(self.write)
            .append(self.append)
            .truncate(self.truncate)
            .create(self.create)
            .create_new(self.create_new);
        #[cfg(unix)]
        if let Some(mode) = self.mode {
            use async_fs::unix::OpenOptionsExt;
            o.mode(mode);
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use futures_lite::{AsyncReadExt, AsyncSeekExt};

    use super::*;

    #[test]
    fn write_seek_read() {
        let path = std::env::temp_dir().join(format!("rcos-fs-unit-{}", std::process::id()));
        futures_lite::future::block_on(async {
            let mut f = File::open_with(
                &path,
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(true),
            )
            .await
            .unwrap();
            f.write_all(b"0123456789").await.unwrap();
            f.seek(SeekFrom::Start(4)).await.unwrap();
            let mut buf = [0u8; 3];
            f.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"456");
            assert_eq!(f.metadata().await.unwrap().len(), 10);
            f.close().await.unwrap();
        });
        std::fs::remove_file(&path).unwrap();
    }
}
