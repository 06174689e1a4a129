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
