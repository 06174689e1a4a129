//! TLS over TCP (feature `tls`): pycos's `AsyncSocket(..., certfile=, keyfile=)`.
//!
//! A server wraps each accepted [`TcpStream`] with a [`TlsAcceptor`]; a client wraps its
//! connected stream with a [`TlsConnector`]. Both give a [`TlsStream`], which has the
//! same methods as a `TcpStream` (`send_msg` / `recv_msg`, bytes, the `futures-io`
//! traits). rcos uses rustls with the *ring* crypto provider, and TLS 1.3 only.
//!
//! # Certificates
//!
//! The server needs a certificate chain and its private key, in PEM files. The client
//! needs the certificates it trusts to vouch for servers. pycos's model, a single
//! self-signed certificate that the server presents and the clients trust, works
//! as is, and is the simplest for a private cluster:
//!
//! ```text
//! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
//!     -keyout key.pem -out cert.pem -subj /CN=myserver \
//!     -addext subjectAltName=DNS:myserver,DNS:localhost,IP:127.0.0.1
//! ```
//!
//! - The *subject alternative names* must include the name the clients pass to
//!   [`TlsConnector::connect`] (a DNS name, or an IP address written as one). The common
//!   name (`CN`) is not checked.
//! - The server loads `cert.pem` and `key.pem`: [`TlsAcceptor::from_pem_files`]. The
//!   key may be PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
//! - Clients load `cert.pem` only: [`TlsConnector::from_pem_file`]. Keep `key.pem`
//!   secret: whoever has it can impersonate the server.
//! - With a certificate authority of your own instead, the server's `cert.pem` holds its
//!   certificate then the intermediate ones, and clients trust the CA's certificate.
//! - To have clients prove who they are too (mutual TLS), give the server
//!   [`TlsAcceptor::from_pem_with_client_auth`] and the clients
//!   [`TlsConnector::from_pem_with_client_cert`].
//!
//! In tests, generate the certificate in code (the `rcgen` crate does it in a line), as
//! the example below does.
//!
//! # Failed handshakes
//!
//! A handshake that fails (a client that speaks plain text, a certificate that does not
//! verify) or stalls longer than the handshake timeout (10 s by default) is an error for
//! that connection only. Run each `accept` in its own task, so a slow client does not
//! hold up the next one.
//!
//! ```
//! use rcos::io::TcpListener;
//! use rcos::io::tls::{TlsAcceptor, TlsConnector};
//!
//! # rcos::Runtime::new().unwrap().block_on(async {
//! // A self-signed certificate, as pycos uses it: the server's, trusted by the client.
//! let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
//! let (cert_pem, key_pem) = (cert.cert.pem(), cert.key_pair.serialize_pem());
//!
//! let acceptor = TlsAcceptor::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?;
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let server = rcos::spawn(move |_| async move {
//!     let (tcp, _) = listener.accept().await?;
//!     let mut tls = acceptor.accept(tcp).await?;
//!     while let Some(msg) = tls.recv_msg().await? {
//!         tls.send_msg(&msg).await?;
//!     }
//!     std::io::Result::Ok(())
//! });
//!
//! let connector = TlsConnector::from_pem(cert_pem.as_bytes())?;
//! let tcp = rcos::io::TcpStream::connect(addr).await?;
//! let mut tls = connector.connect("localhost", tcp).await?;
//! tls.send_msg(b"secret").await?;
//! assert_eq!(tls.recv_msg().await?.unwrap(), b"secret");
//! tls.close().await?;
//! assert!(server.finish().await.is_returned());
//! # std::io::Result::Ok(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::io::{self, ErrorKind, IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use super::TcpStream;
use super::frame::FrameReader;

/// How long a handshake may take unless set otherwise.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(ErrorKind::InvalidInput, e)
}

fn read_pem_file(path: &Path) -> io::Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display())))
}

fn certs_from_pem(pem: &[u8], what: &str) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| io::Error::new(ErrorKind::InvalidData, format!("bad {what} PEM: {e}")))?;
    if certs.is_empty() {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            format!("no certificate in the {what} PEM"),
        ));
    }
    Ok(certs)
}

fn key_from_pem(pem: &[u8]) -> io::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem)
        .map_err(|e| io::Error::new(ErrorKind::InvalidData, format!("bad private key PEM: {e}")))
}

fn roots_from_pem(pem: &[u8]) -> io::Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs_from_pem(pem, "trusted certificate")? {
        roots.add(cert).map_err(tls_error)?;
    }
    Ok(roots)
}

/// Runs a handshake with a deadline on real time: the peer is on the network, whatever
/// clock the runtime keeps.
async fn with_deadline<T>(
    timeout: Duration,
    handshake: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    handshake
        .or(async {
            async_io::Timer::after(timeout).await;
            Err(io::Error::new(
                ErrorKind::TimedOut,
                "the TLS handshake did not finish in time",
            ))
        })
        .await
}

/// The server side of TLS: turns accepted TCP connections into [`TlsStream`]s.
///
/// Cheap to clone (the configuration is shared), so each connection's task can have its
/// own.
#[derive(Clone)]
pub struct TlsAcceptor {
    inner: futures_rustls::TlsAcceptor,
    handshake_timeout: Duration,
}

impl TlsAcceptor {
    /// An acceptor that presents the certificate chain `cert_chain` (PEM: the server's
    /// certificate first, then any intermediate ones) with its private key `key` (PEM),
    /// and asks nothing of clients.
    ///
    /// # Errors
    /// `InvalidData` when the PEM holds no certificate or no key; `InvalidInput` when
    /// the key does not match the certificate or is of an unsupported kind.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> io::Result<TlsAcceptor> {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_error)?
            .with_no_client_auth()
            .with_single_cert(
                certs_from_pem(cert_chain, "certificate")?,
                key_from_pem(key)?,
            )
            .map_err(tls_error)?;
        Ok(TlsAcceptor::from_config(config))
    }

    /// Like [`from_pem`](Self::from_pem), reading the two PEM files (a small blocking
    /// read, meant for start-up).
    ///
    /// # Errors
    /// When a file cannot be read, and as [`from_pem`](Self::from_pem).
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> io::Result<TlsAcceptor> {
        TlsAcceptor::from_pem(
            &read_pem_file(cert_chain.as_ref())?,
            &read_pem_file(key.as_ref())?,
        )
    }

    /// Like [`from_pem`](Self::from_pem), and requires every client to present a
    /// certificate signed by (or equal to) one in `client_ca` (PEM): mutual TLS.
    ///
    /// # Errors
    /// As [`from_pem`](Self::from_pem), and when `client_ca` holds no usable
    /// certificate.
    pub fn from_pem_with_client_auth(
        cert_chain: &[u8],
        key: &[u8],
        client_ca: &[u8],
    ) -> io::Result<TlsAcceptor> {
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots_from_pem(client_ca)?),
            provider(),
        )
        .build()
        .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))?;
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_error)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                certs_from_pem(cert_chain, "certificate")?,
                key_from_pem(key)?,
            )
            .map_err(tls_error)?;
        Ok(TlsAcceptor::from_config(config))
    }

    fn from_config(config: rustls::ServerConfig) -> TlsAcceptor {
        TlsAcceptor {
            inner: futures_rustls::TlsAcceptor::from(Arc::new(config)),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Sets how long a handshake may take before [`accept`](Self::accept) gives up
    /// (default [`DEFAULT_HANDSHAKE_TIMEOUT`]); measured in real time.
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> TlsAcceptor {
        self.handshake_timeout = timeout;
        self
    }

    /// Runs the server side of the handshake on `stream`. The [`TlsStream`] keeps the
    /// stream's message limit.
    ///
    /// # Errors
    /// When the handshake fails (the client does not speak TLS 1.3, sends garbage, or
    /// has no acceptable certificate when one is required) or takes longer than the
    /// handshake timeout (`TimedOut`). The connection is dropped; the acceptor is
    /// unaffected.
    pub async fn accept(&self, stream: TcpStream) -> io::Result<TlsStream> {
        let peer = stream.peer_addr().ok();
        let max_message = stream.max_message();
        match with_deadline(self.handshake_timeout, self.inner.accept(stream)).await {
            Ok(inner) => {
                tracing::trace!(?peer, "TLS handshake done (server)");
                Ok(TlsStream::new(inner.into(), max_message))
            }
            Err(error) => {
                tracing::debug!(?peer, %error, "TLS handshake failed (server)");
                Err(error)
            }
        }
    }
}

impl fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// The client side of TLS: turns connected TCP streams into [`TlsStream`]s, checking the
/// server's certificate against the certificates it trusts.
///
/// Cheap to clone (the configuration is shared).
#[derive(Clone)]
pub struct TlsConnector {
    inner: futures_rustls::TlsConnector,
    handshake_timeout: Duration,
}

impl TlsConnector {
    /// A connector that trusts the certificates in `trusted` (PEM): certificate
    /// authorities, or a server's self-signed certificate (pycos's model).
    ///
    /// # Errors
    /// `InvalidData` when the PEM holds no certificate; `InvalidInput` when one is not
    /// usable as a trust anchor.
    pub fn from_pem(trusted: &[u8]) -> io::Result<TlsConnector> {
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_error)?
            .with_root_certificates(roots_from_pem(trusted)?)
            .with_no_client_auth();
        Ok(TlsConnector::from_config(config))
    }

    /// Like [`from_pem`](Self::from_pem), reading the PEM file (a small blocking read,
    /// meant for start-up).
    ///
    /// # Errors
    /// When the file cannot be read, and as [`from_pem`](Self::from_pem).
    pub fn from_pem_file(trusted: impl AsRef<Path>) -> io::Result<TlsConnector> {
        TlsConnector::from_pem(&read_pem_file(trusted.as_ref())?)
    }

    /// Like [`from_pem`](Self::from_pem), and presents the certificate chain
    /// `cert_chain` with its key `key` (both PEM) to servers that ask for one (mutual
    /// TLS).
    ///
    /// # Errors
    /// As [`from_pem`](Self::from_pem), and when the key does not match the certificate.
    pub fn from_pem_with_client_cert(
        trusted: &[u8],
        cert_chain: &[u8],
        key: &[u8],
    ) -> io::Result<TlsConnector> {
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_error)?
            .with_root_certificates(roots_from_pem(trusted)?)
            .with_client_auth_cert(
                certs_from_pem(cert_chain, "client certificate")?,
                key_from_pem(key)?,
            )
            .map_err(tls_error)?;
        Ok(TlsConnector::from_config(config))
    }

    fn from_config(config: rustls::ClientConfig) -> TlsConnector {
        TlsConnector {
            inner: futures_rustls::TlsConnector::from(Arc::new(config)),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Sets how long a handshake may take before [`connect`](Self::connect) gives up
    /// (default [`DEFAULT_HANDSHAKE_TIMEOUT`]); measured in real time.
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> TlsConnector {
        self.handshake_timeout = timeout;
        self
    }

    /// Runs the client side of the handshake on `stream`, checking that the server's
    /// certificate is valid for `server_name` (a DNS name, or an IP address such as
    /// `"127.0.0.1"`) and vouched for by a trusted certificate. The [`TlsStream`] keeps
    /// the stream's message limit.
    ///
    /// # Errors
    /// `InvalidInput` when `server_name` is neither a DNS name nor an IP address; when
    /// the handshake fails (`InvalidData`, for example a certificate that does not
    /// verify) or takes longer than the handshake timeout (`TimedOut`).
    pub async fn connect(&self, server_name: &str, stream: TcpStream) -> io::Result<TlsStream> {
        let name = ServerName::try_from(server_name.to_string()).map_err(|e| {
            io::Error::new(
                ErrorKind::InvalidInput,
                format!("{server_name:?} is not a server name: {e}"),
            )
        })?;
        let max_message = stream.max_message();
        match with_deadline(self.handshake_timeout, self.inner.connect(name, stream)).await {
            Ok(inner) => Ok(TlsStream::new(inner.into(), max_message)),
            Err(error) => {
                tracing::debug!(server = server_name, %error, "TLS handshake failed (client)");
                Err(error)
            }
        }
    }
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// A TLS connection over TCP, client or server side, with the methods of
/// [`TcpStream`]: `send_msg` / `recv_msg` (the framing is inside the encryption),
/// bytes, and the `futures-io` traits.
///
/// Unlike a `TcpStream` it cannot be cloned (the TLS state is one); to read and write
/// from two tasks, split it with `futures_lite::io::split` and use the free
/// [`send_msg`](crate::io::send_msg) / [`recv_msg`](crate::io::recv_msg) on the halves.
/// Call [`close`](Self::close) to end it cleanly (the peer then reads the end of the
/// stream rather than an abrupt cut).
pub struct TlsStream {
    inner: futures_rustls::TlsStream<TcpStream>,
    frames: FrameReader,
    max_message: usize,
}

impl TlsStream {
    fn new(inner: futures_rustls::TlsStream<TcpStream>, max_message: usize) -> TlsStream {
        TlsStream {
            inner,
            frames: FrameReader::default(),
            max_message,
        }
    }

    /// Sends one message, framed as [`TcpStream::send_msg`] frames it, encrypted.
    ///
    /// # Errors
    /// As [`TcpStream::send_msg`].
    pub async fn send_msg(&mut self, msg: &[u8]) -> io::Result<()> {
        super::frame::send_msg(self, msg).await
    }

    /// Receives one message; `Ok(None)` when the peer closed the connection. Cancel-safe.
    ///
    /// # Errors
    /// As [`TcpStream::recv_msg`]: an oversized message is `InvalidData`, and shuts the
    /// connection down.
    pub async fn recv_msg(&mut self) -> io::Result<Option<Vec<u8>>> {
        let result = self.frames.read(&mut self.inner, self.max_message).await;
        if let Err(error) = &result {
            if error.kind() == ErrorKind::InvalidData {
                tracing::warn!(peer = ?self.peer_addr().ok(), %error, "closing the TLS connection after a bad message");
                let _ = self.get_ref().shutdown(std::net::Shutdown::Both);
            }
        }
        result
    }

    /// The largest message [`recv_msg`](Self::recv_msg) accepts, in bytes.
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// Sets the largest message [`recv_msg`](Self::recv_msg) accepts.
    pub fn set_max_message(&mut self, max: usize) {
        self.max_message = max;
    }

    /// Reads some decrypted bytes into `buf`; `Ok(0)` at the end of the stream.
    ///
    /// # Errors
    /// The connection's.
    pub async fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read(buf).await
    }

    /// Reads exactly `buf.len()` bytes.
    ///
    /// # Errors
    /// `UnexpectedEof` if the stream ends first, and the connection's.
    pub async fn recv_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.read_exact(buf).await
    }

    /// Writes all of `buf` and flushes it onto the connection.
    ///
    /// # Errors
    /// The connection's.
    pub async fn send_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.write_all(buf).await?;
        self.flush().await
    }

    /// Ends the connection cleanly: sends TLS's close notification, then shuts the TCP
    /// write side down. The peer's reads then see the end of the stream.
    ///
    /// # Errors
    /// The connection's.
    pub async fn close(&mut self) -> io::Result<()> {
        AsyncWriteExt::close(self).await
    }

    /// The underlying TCP stream.
    pub fn get_ref(&self) -> &TcpStream {
        self.inner.get_ref().0
    }

    /// The address of the peer.
    ///
    /// # Errors
    /// The system's.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.get_ref().peer_addr()
    }

    /// The local address.
    ///
    /// # Errors
    /// The system's.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.get_ref().local_addr()
    }

    /// The certificates the peer presented (DER encoded, its own first); empty when it
    /// presented none (a client, unless the server asked).
    pub fn peer_certificates(&self) -> Vec<Vec<u8>> {
        self.inner
            .get_ref()
            .1
            .peer_certificates()
            .map(|certs| certs.iter().map(|c| c.as_ref().to_vec()).collect())
            .unwrap_or_default()
    }
}

impl fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = match &self.inner {
            futures_rustls::TlsStream::Client(_) => "client",
            futures_rustls::TlsStream::Server(_) => "server",
        };
        f.debug_struct("TlsStream")
            .field("side", &side)
            .field("tcp", self.get_ref())
            .field("max_message", &self.max_message)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for TlsStream {
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

impl AsyncWrite for TlsStream {
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

#[cfg(unix)]
impl std::os::fd::AsFd for TlsStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self.get_ref())
    }
}
