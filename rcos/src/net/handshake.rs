//! Mutual authentication on the shared secret, before any application frame.
//!
//! ```text
//! client                                   server
//!   preamble  ─────────────────────────────▶  (magic and version checked first)
//!             ◀─────────────────────────────  preamble
//!   Hello{name, incarnation, listen, Nc} ──▶
//!             ◀──  Hello{name, incarnation, listen, Ns}, Auth{HMAC(K, "server" ‖ T)}
//!   Auth{HMAC(K, "client" ‖ T)}  ──────────▶
//! ```
//!
//! `K` is derived from the shared secret with HKDF; `T`, the transcript, is the exact
//! bytes of both hellos, so both nonces, names, incarnations and addresses are bound.
//! Nonces are 32 fresh random bytes on each side, so a recorded exchange never
//! authenticates again. MACs are compared in constant time. Only these frames are
//! accepted before authentication, at most 4 KiB each; nothing the application sends
//! is decoded before both sides have proved they know the secret. The session then
//! derives one MAC key per direction from `K` and both nonces.

use std::net::SocketAddr;

use futures_lite::{AsyncRead, AsyncWrite};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::codec::{self, PREAUTH_MAX, RecordReader, RecordWriter, WireError};

type HmacSha256 = Hmac<Sha256>;

/// The authentication key derived from a node's shared secret.
#[derive(Clone)]
pub(crate) struct AuthKey([u8; 32]);

impl AuthKey {
    pub(crate) fn derive(secret: &[u8]) -> AuthKey {
        let hk = Hkdf::<Sha256>::new(Some(b"rcos secret v1"), secret);
        let mut key = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit: this cannot fail.
        hk.expand(b"rcos auth key", &mut key)
            .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF output length"));
        AuthKey(key)
    }

    fn mac(&self, label: &[u8], transcript: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(label);
        mac.update(transcript);
        mac
    }
}

impl std::fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.write_str("AuthKey(..)")
    }
}

/// Who a node is on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) name: String,
    pub(crate) incarnation: u64,
    /// The address it accepts connections on, if it listens.
    pub(crate) listen: Option<SocketAddr>,
}

/// An authenticated session.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) peer: Identity,
    /// The protocol's minor version both sides speak (the lower of the two).
    pub(crate) minor: u16,
    /// Per-direction MAC keys (`send`, `receive`), unless TLS protects the stream.
    pub(crate) keys: Option<([u8; 32], [u8; 32])>,
}

#[derive(Serialize, Deserialize)]
struct Hello {
    name: String,
    incarnation: u64,
    listen: Option<String>,
    #[serde(with = "serde_bytes")]
    nonce: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct Auth {
    #[serde(with = "serde_bytes")]
    mac: Vec<u8>,
}

const SERVER_LABEL: &[u8] = b"rcos v1 server auth";
const CLIENT_LABEL: &[u8] = b"rcos v1 client auth";

fn nonce() -> Result<[u8; 32], WireError> {
    let mut nonce = [0u8; 32];
    getrandom::fill(&mut nonce).map_err(|e| WireError::Io(std::io::Error::other(e.to_string())))?;
    Ok(nonce)
}

async fn send<S: AsyncWrite + Unpin, T: Serialize>(
    stream: &mut S,
    frame: &T,
) -> Result<Vec<u8>, WireError> {
    let mut bytes = Vec::new();
    codec::encode_frame(frame, &mut bytes)?;
    let mut w = RecordWriter::new(&mut *stream, PREAUTH_MAX);
    w.push_encoded(&bytes).await?;
    w.flush().await?;
    Ok(bytes)
}

/// Reads one pre-authentication frame; returns it and its exact bytes.
async fn receive<S: AsyncRead + Unpin, T: for<'de> Deserialize<'de>>(
    stream: &mut S,
) -> Result<(T, Vec<u8>), WireError> {
    let mut r = RecordReader::new(&mut *stream, PREAUTH_MAX);
    let body = r.read_record().await?.to_vec();
    let frame = {
        let mut frames = codec::decode_frames::<T>(&body);
        let frame = match frames.next() {
            Some(frame) => frame?,
            None => return Err(WireError::Protocol("empty handshake record".into())),
        };
        if frames.next().is_some() {
            return Err(WireError::Protocol(
                "extra data in a handshake record".into(),
            ));
        }
        frame
    };
    Ok((frame, body))
}

fn transcript(client_hello: &[u8], server_hello: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(16 + client_hello.len() + server_hello.len());
    t.extend_from_slice(&codec::MAGIC);
    t.extend_from_slice(&codec::PROTOCOL_MAJOR.to_be_bytes());
    for part in [client_hello, server_hello] {
        t.extend_from_slice(&(part.len() as u32).to_be_bytes());
        t.extend_from_slice(part);
    }
    t
}

fn check_hello(hello: &Hello, me: &Identity) -> Result<Identity, WireError> {
    if hello.nonce.len() != 32 {
        return Err(WireError::Protocol("a nonce must be 32 bytes".into()));
    }
    if hello.incarnation == me.incarnation {
        return Err(WireError::Protocol(
            "a node cannot connect to itself".into(),
        ));
    }
    let listen = match &hello.listen {
        None => None,
        Some(addr) => Some(
            addr.parse::<SocketAddr>()
                .map_err(|_| WireError::Protocol(format!("bad listen address {addr:?}")))?,
        ),
    };
    Ok(Identity {
        name: hello.name.clone(),
        incarnation: hello.incarnation,
        listen,
    })
}

fn session_keys(
    key: &AuthKey,
    client_nonce: &[u8],
    server_nonce: &[u8],
    client: bool,
) -> ([u8; 32], [u8; 32]) {
    let mut salt = Vec::with_capacity(64);
    salt.extend_from_slice(client_nonce);
    salt.extend_from_slice(server_nonce);
    let hk = Hkdf::<Sha256>::new(Some(&salt), &key.0);
    let mut c2s = [0u8; 32];
    let mut s2c = [0u8; 32];
    hk.expand(b"rcos v1 client to server", &mut c2s)
        .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF output length"));
    hk.expand(b"rcos v1 server to client", &mut s2c)
        .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF output length"));
    if client { (c2s, s2c) } else { (s2c, c2s) }
}

fn hello_for(me: &Identity, nonce: &[u8; 32]) -> Hello {
    Hello {
        name: me.name.clone(),
        incarnation: me.incarnation,
        listen: me.listen.map(|a| a.to_string()),
        nonce: nonce.to_vec(),
    }
}

/// The dialing side's handshake.
pub(crate) async fn client<S>(
    stream: &mut S,
    me: &Identity,
    key: &AuthKey,
    mac_frames: bool,
) -> Result<Session, WireError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    codec::write_preamble(stream).await?;
    let minor = codec::read_preamble(stream).await?;
    let my_nonce = nonce()?;
    let client_hello = send(stream, &hello_for(me, &my_nonce)).await?;
    let (server_hello, server_hello_bytes) = receive::<S, Hello>(stream).await?;
    let peer = check_hello(&server_hello, me)?;
    let (server_auth, _) = receive::<S, Auth>(stream).await?;
    let t = transcript(&client_hello, &server_hello_bytes);
    key.mac(SERVER_LABEL, &t)
        .verify_slice(&server_auth.mac)
        .map_err(|_| WireError::Protocol("the peer does not know the shared secret".into()))?;
    let mac = key.mac(CLIENT_LABEL, &t).finalize().into_bytes().to_vec();
    send(stream, &Auth { mac }).await?;
    Ok(Session {
        peer,
        minor,
        keys: mac_frames.then(|| session_keys(key, &my_nonce, &server_hello.nonce, true)),
    })
}

/// The accepting side's handshake.
pub(crate) async fn server<S>(
    stream: &mut S,
    me: &Identity,
    key: &AuthKey,
    mac_frames: bool,
) -> Result<Session, WireError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let minor = codec::read_preamble(stream).await?;
    codec::write_preamble(stream).await?;
    let (client_hello, client_hello_bytes) = receive::<S, Hello>(stream).await?;
    let peer = check_hello(&client_hello, me)?;
    let my_nonce = nonce()?;
    let server_hello = send(stream, &hello_for(me, &my_nonce)).await?;
    let t = transcript(&client_hello_bytes, &server_hello);
    let mac = key.mac(SERVER_LABEL, &t).finalize().into_bytes().to_vec();
    send(stream, &Auth { mac }).await?;
    let (client_auth, _) = receive::<S, Auth>(stream).await?;
    key.mac(CLIENT_LABEL, &t)
        .verify_slice(&client_auth.mac)
        .map_err(|_| WireError::Protocol("the peer does not know the shared secret".into()))?;
    Ok(Session {
        peer,
        minor,
        keys: mac_frames.then(|| session_keys(key, &client_hello.nonce, &my_nonce, false)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str, incarnation: u64) -> Identity {
        Identity {
            name: name.into(),
            incarnation,
            listen: Some("127.0.0.1:1".parse().unwrap_or_else(|_| unreachable!())),
        }
    }

    /// Runs both sides over a loopback TCP pair.
    fn pair(
        client_secret: &[u8],
        server_secret: &[u8],
    ) -> (Result<Session, WireError>, Result<Session, WireError>) {
        futures_lite::future::block_on(async {
            let listener =
                async_io::Async::<std::net::TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
            let addr = listener.get_ref().local_addr().unwrap();
            let (ck, sk) = (
                AuthKey::derive(client_secret),
                AuthKey::derive(server_secret),
            );
            let server = async {
                let (mut s, _) = listener.accept().await.unwrap();
                server(&mut s, &id("server", 2), &sk, true).await
            };
            let client = async {
                let mut c = async_io::Async::<std::net::TcpStream>::connect(addr)
                    .await
                    .unwrap();
                client(&mut c, &id("client", 1), &ck, true).await
            };
            futures_lite::future::zip(client, server).await
        })
    }

    #[test]
    fn the_same_secret_authenticates_both_ways_with_matching_keys() {
        let (c, s) = pair(
            b"a shared secret of some length",
            b"a shared secret of some length",
        );
        let (c, s) = (c.unwrap(), s.unwrap());
        assert_eq!(c.peer.name, "server");
        assert_eq!(s.peer.name, "client");
        let (c_send, c_recv) = c.keys.unwrap();
        let (s_send, s_recv) = s.keys.unwrap();
        assert_eq!(c_send, s_recv);
        assert_eq!(c_recv, s_send);
        assert_ne!(c_send, c_recv);
    }

    #[test]
    fn a_wrong_secret_fails_on_both_sides() {
        let (c, s) = pair(b"one secret, sixteen+", b"another secret, 16+");
        assert!(matches!(c, Err(WireError::Protocol(_))), "{c:?}");
        assert!(s.is_err());
    }
}

/// The handshake driven by a script of what the other side sends, for fuzzers and
/// property tests (see `net::__fuzz`). The script's "valid" steps are made on the fly
/// from what this side wrote, as an honest peer would.
#[cfg(feature = "fuzzing")]
pub(crate) mod scripted {
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use futures_lite::{AsyncRead, AsyncWrite};

    use super::{AuthKey, CLIENT_LABEL, Identity, SERVER_LABEL, Session, codec, transcript};
    use crate::net::codec::WireError;

    /// One thing the other side sends.
    #[derive(Clone, Debug)]
    pub(crate) enum Step {
        /// These bytes, as they are.
        Raw(Vec<u8>),
        /// A record (length prefix added) with this body.
        Record(Vec<u8>),
        /// A valid preamble.
        Preamble,
        /// The honest peer's `Hello`.
        Hello,
        /// The honest peer's `Auth`, proving the secret over what was exchanged so far.
        Auth,
    }

    /// What this side writes goes into `written`; what it reads comes from the script.
    struct Stream {
        steps: VecDeque<Step>,
        pending: Vec<u8>,
        at: usize,
        written: Vec<u8>,
        key: AuthKey,
        peer: Identity,
        /// The bytes of the honest `Hello` sent, once sent.
        peer_hello: Option<Vec<u8>>,
        server_side: bool,
        /// Whether a valid `Auth` was sent (nothing else can authenticate).
        sent_auth: bool,
        /// Whether the other side's record layer is now in use (after the handshake).
        done: bool,
    }

    /// The body of the `n`th record this side wrote (after its preamble when it wrote
    /// one first).
    fn written_record(written: &[u8], skip: usize, n: usize) -> Option<Vec<u8>> {
        let mut at = skip;
        for i in 0.. {
            let len = u32::from_be_bytes(written.get(at..at + 4)?.try_into().ok()?) as usize;
            let body = written.get(at + 4..at + 4 + len)?;
            if i == n {
                return Some(body.to_vec());
            }
            at += 4 + len;
        }
        None
    }

    impl Stream {
        fn record(body: &[u8]) -> Vec<u8> {
            let mut out = (body.len() as u32).to_be_bytes().to_vec();
            out.extend_from_slice(body);
            out
        }

        fn materialize(&mut self, step: Step) -> Vec<u8> {
            match step {
                Step::Raw(bytes) => bytes,
                Step::Record(body) => Self::record(&body),
                Step::Preamble => {
                    let mut pre = Vec::with_capacity(8);
                    pre.extend_from_slice(&codec::MAGIC);
                    pre.extend_from_slice(&codec::PROTOCOL_MAJOR.to_be_bytes());
                    pre.extend_from_slice(&codec::PROTOCOL_MINOR.to_be_bytes());
                    pre
                }
                Step::Hello => {
                    let mut nonce = [0u8; 32];
                    nonce[0] = 0x5a;
                    let mut body = Vec::new();
                    let hello = super::hello_for(&self.peer, &nonce);
                    if codec::encode_frame(&hello, &mut body).is_err() {
                        return Vec::new();
                    }
                    self.peer_hello = Some(body.clone());
                    Self::record(&body)
                }
                Step::Auth => {
                    // This side's hello is its first record (after the preamble, which
                    // both sides write first).
                    let Some(mine) = written_record(&self.written, 8, 0) else {
                        return Vec::new();
                    };
                    let Some(theirs) = self.peer_hello.clone() else {
                        return Vec::new();
                    };
                    let (t, label) = if self.server_side {
                        (transcript(&theirs, &mine), CLIENT_LABEL)
                    } else {
                        (transcript(&mine, &theirs), SERVER_LABEL)
                    };
                    use hmac::Mac;
                    let mac = self.key.mac(label, &t).finalize().into_bytes().to_vec();
                    let mut body = Vec::new();
                    if codec::encode_frame(&super::Auth { mac }, &mut body).is_err() {
                        return Vec::new();
                    }
                    self.sent_auth = true;
                    Self::record(&body)
                }
            }
        }
    }

    impl AsyncRead for Stream {
        fn poll_read(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<std::io::Result<usize>> {
            let this = self.get_mut();
            while this.at >= this.pending.len() {
                if this.done {
                    return Poll::Ready(Ok(0));
                }
                let Some(step) = this.steps.pop_front() else {
                    return Poll::Ready(Ok(0)); // end of stream
                };
                this.pending = this.materialize(step);
                this.at = 0;
            }
            let n = buf.len().min(this.pending.len() - this.at);
            buf[..n].copy_from_slice(&this.pending[this.at..this.at + n]);
            this.at += n;
            Poll::Ready(Ok(n))
        }
    }

    impl AsyncWrite for Stream {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            let this = self.get_mut();
            // A handshake writes a few hundred bytes; more is a bug.
            if this.written.len() + buf.len() > 64 * 1024 {
                return Poll::Ready(Err(std::io::Error::other("handshake wrote too much")));
            }
            this.written.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// How a scripted handshake ended.
    pub(crate) struct Outcome {
        pub(crate) result: Result<Session, WireError>,
        /// Whether the script's valid `Auth` was read: the only way in.
        pub(crate) sent_auth: bool,
        /// The steps not consumed by the handshake, and the bytes of a step it read in
        /// part.
        pub(crate) rest: VecDeque<Step>,
        pub(crate) leftover: Vec<u8>,
    }

    /// Runs this node's side (`server` or client) of the handshake against `steps`.
    pub(crate) fn run(server: bool, secret: &[u8], steps: Vec<Step>) -> Outcome {
        let key = AuthKey::derive(secret);
        let me = Identity {
            name: "fuzz-me".into(),
            incarnation: 1,
            listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 1))),
        };
        let mut stream = Stream {
            steps: steps.into(),
            pending: Vec::new(),
            at: 0,
            written: Vec::new(),
            key: key.clone(),
            peer: Identity {
                name: "fuzz-peer".into(),
                incarnation: 2,
                listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 2))),
            },
            peer_hello: None,
            server_side: server,
            sent_auth: false,
            done: false,
        };
        let result = futures_lite::future::block_on(async {
            if server {
                super::server(&mut stream, &me, &key, true).await
            } else {
                super::client(&mut stream, &me, &key, true).await
            }
        });
        stream.done = true;
        let leftover = stream.pending.get(stream.at..).unwrap_or_default().to_vec();
        Outcome {
            result,
            sent_auth: stream.sent_auth,
            rest: stream.steps,
            leftover,
        }
    }

    /// Decodes a record body as each pre-authentication frame (errors are fine).
    pub(crate) fn decode_preauth(body: &[u8]) {
        let _ = codec::decode_frames::<super::Hello>(body).count();
        let _ = codec::decode_frames::<super::Auth>(body).count();
    }

    /// `net::__fuzz::round_trip` for `Hello`.
    pub(crate) fn round_trip_hello(bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
        crate::net::__fuzz::round_trip_as::<super::Hello>(bytes)
    }

    /// `net::__fuzz::round_trip` for `Auth`.
    pub(crate) fn round_trip_auth(bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
        crate::net::__fuzz::round_trip_as::<super::Auth>(bytes)
    }
}
