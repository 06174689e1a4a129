//! Authentication and exposure (plan rows B1-B4, B6, B8-B10; B5, slow and flooding
//! unauthenticated connections, is in `net_preauth.rs`), measured: a raw client that
//! speaks the handshake byte for byte (its MACs made here with `hmac`/`hkdf` from the
//! protocol's description, not by rcos) tries every way in without the secret; a
//! recorded handshake is replayed 10,000 times; the secret policy refuses weak and
//! readable secrets off loopback; MACs are compared in constant time; a default node
//! listens on loopback only; remote spawn refuses unknown names; file
//! transfer refuses paths through symlinks; forged discovery beacons (B7), on loopback
//! and from another network namespace, start no connection.
//!
//! The tests of this file take turns (one lock): they count the frames every node of
//! the process decodes and list the process's sockets.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ciborium::Value;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rcos::net::__fuzz;
use rcos::net::{self, NodeConfig};
use rcos::{Runtime, TaskRef};
use rcos_tests::{PATIENCE, SECRET, node, node_with, run};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

// ---------------------------------------------------------------------------------
// A raw client.

fn cbor(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

fn cbor_of<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn map(fields: Vec<(&str, Value)>) -> Value {
    Value::Map(fields.into_iter().map(|(k, v)| (text(k), v)).collect())
}

fn hello(name: &str, incarnation: u64, nonce: &[u8]) -> Vec<u8> {
    cbor(&map(vec![
        ("name", text(name)),
        ("incarnation", Value::Integer(incarnation.into())),
        ("listen", Value::Null),
        ("nonce", Value::Bytes(nonce.to_vec())),
    ]))
}

fn auth(mac: &[u8]) -> Vec<u8> {
    cbor(&map(vec![("mac", Value::Bytes(mac.to_vec()))]))
}

/// `{"Send": {"to": to, "msg": {"name": "u32", "bytes": 42}}}`.
fn send_u32(to: u64) -> Vec<u8> {
    cbor(&map(vec![(
        "Send",
        map(vec![
            ("to", Value::Integer(to.into())),
            (
                "msg",
                map(vec![
                    ("name", text("u32")),
                    ("bytes", Value::Bytes(vec![0x18, 0x2a])),
                ]),
            ),
        ]),
    )]))
}

/// The handshake's key: HKDF-SHA256(salt "rcos secret v1", secret), "rcos auth key".
fn auth_key(secret: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(Some(b"rcos secret v1"), secret)
        .expand(b"rcos auth key", &mut key)
        .unwrap();
    key
}

/// `"RCOS" major:u16 len:u32 client_hello len:u32 server_hello`.
fn transcript(client_hello: &[u8], server_hello: &[u8]) -> Vec<u8> {
    let mut t = b"RCOS".to_vec();
    t.extend_from_slice(&1u16.to_be_bytes());
    for part in [client_hello, server_hello] {
        t.extend_from_slice(&(part.len() as u32).to_be_bytes());
        t.extend_from_slice(part);
    }
    t
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).unwrap();
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

struct Raw {
    s: TcpStream,
    /// Everything this client wrote.
    sent: Vec<u8>,
}

impl Raw {
    fn connect(at: SocketAddr) -> Raw {
        let s = TcpStream::connect(at).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        Raw {
            s,
            sent: Vec::new(),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> bool {
        self.sent.extend_from_slice(bytes);
        self.s.write_all(bytes).is_ok()
    }

    fn record(&mut self, body: &[u8]) -> bool {
        self.write(&__fuzz::record(body))
    }

    fn read_exact(&mut self, n: usize) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; n];
        self.s.read_exact(&mut buf).ok()?;
        Some(buf)
    }

    fn read_record(&mut self) -> Option<Vec<u8>> {
        let len = u32::from_be_bytes(self.read_exact(4)?.try_into().ok()?) as usize;
        self.read_exact(len)
    }

    /// Waits (bounded) until the node closes: how long it took, or `None` if it did not.
    fn closed_within(&mut self, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        self.s.set_read_timeout(Some(limit)).unwrap();
        let mut buf = [0u8; 1024];
        loop {
            match self.s.read(&mut buf) {
                Ok(0) => return Some(start.elapsed()),
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None;
                }
                Err(_) => return Some(start.elapsed()),
            }
        }
    }
}

/// The client's side of a handshake up to the server's `Auth`: the client's hello and
/// nonce, and the server's hello.
fn start_handshake(raw: &mut Raw, nonce: [u8; 32]) -> Option<(Vec<u8>, Vec<u8>)> {
    raw.write(&__fuzz::preamble());
    let pre = raw.read_exact(8)?;
    assert_eq!(&pre[..4], b"RCOS");
    let client_hello = hello("raw-client", 0xdead_beef, &nonce);
    raw.record(&client_hello);
    let server_hello = raw.read_record()?;
    let _server_auth = raw.read_record()?;
    Some((client_hello, server_hello))
}

/// An authenticated raw session: the client-to-server MAC key and sequence number.
struct Session {
    raw: Raw,
    key: [u8; 32],
    seq: u64,
}

impl Session {
    /// Authenticates with `secret`; `None` if the node closed.
    fn open(at: SocketAddr, secret: &[u8]) -> Option<Session> {
        let mut raw = Raw::connect(at);
        let nonce = [0x11u8; 32];
        let (client_hello, server_hello) = start_handshake(&mut raw, nonce)?;
        let k = auth_key(secret);
        let t = transcript(&client_hello, &server_hello);
        raw.record(&auth(&hmac(&k, &[b"rcos v1 client auth", &t])));
        let server_nonce = match ciborium::from_reader::<Value, _>(server_hello.as_slice()).ok()? {
            Value::Map(fields) => fields.into_iter().find_map(|(k, v)| match (k, v) {
                (Value::Text(k), Value::Bytes(b)) if k == "nonce" => Some(b),
                _ => None,
            })?,
            _ => return None,
        };
        let salt = [nonce.as_slice(), &server_nonce].concat();
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&salt), &k)
            .expand(b"rcos v1 client to server", &mut key)
            .unwrap();
        Some(Session { raw, key, seq: 0 })
    }

    fn send(&mut self, body: &[u8]) {
        let tag = hmac(&self.key, &[&self.seq.to_be_bytes(), body]);
        self.seq += 1;
        let mut out = __fuzz::record(body);
        out.extend_from_slice(&tag);
        self.raw.write(&out);
    }
}

/// A task that counts the `u32` messages it gets until it gets `()`.
fn counter(rt: &Runtime, name: &str) -> TaskRef {
    let t = rt.spawn(|task| async move {
        let mut n = 0u32;
        loop {
            let msg = task.receive().await?;
            if msg.is::<()>() {
                return Ok::<_, rcos::Interrupt>(n);
            }
            if msg.is::<u32>() {
                n += 1;
            }
        }
    });
    t.register(name).unwrap();
    t
}

fn count_of(t: &TaskRef) -> u32 {
    t.send(()).unwrap();
    let exit = t.value_timeout(PATIENCE).expect("the counter ended");
    exit.value()
        .and_then(|v| v.take::<Result<u32, rcos::Interrupt>>())
        .unwrap()
        .unwrap()
}

// ---------------------------------------------------------------------------------

#[test]
fn b1_no_way_in_without_the_secret_and_nothing_decoded_before() {
    let _turn = exclusive();
    let timeout = Duration::from_secs(2);
    let a = node_with(
        "b1",
        NodeConfig::new().secret(SECRET).handshake_timeout(timeout),
    );
    let at = a.location().unwrap().addr();
    let target = counter(&a, "b1-counter");
    let to = target.id().as_u64();
    // Messages reach a task by id once its reference has left the node (an id nobody
    // was given is not addressable at all): give it out, as a reply would.
    {
        let _in_rt = a.enter();
        let _ = cbor_of(&target);
    }
    let k = auth_key(SECRET);
    let before = __fuzz::frames_decoded();
    let mut cases: Vec<(&str, Option<Duration>)> = Vec::new();

    // (a) garbage
    let mut raw = Raw::connect(at);
    raw.write(b"\x00\x01 hello?\r\n");
    cases.push(("garbage", raw.closed_within(PATIENCE)));
    // (b) a valid hello, then a wrong MAC
    let mut raw = Raw::connect(at);
    start_handshake(&mut raw, [1; 32]).unwrap();
    raw.record(&auth(&[0u8; 32]));
    cases.push(("valid Hello + wrong MAC", raw.closed_within(PATIENCE)));
    // (c) a Send before authenticating: in place of the hello, and of the auth
    let mut raw = Raw::connect(at);
    raw.write(&__fuzz::preamble());
    raw.record(&send_u32(to));
    cases.push(("Send in place of Hello", raw.closed_within(PATIENCE)));
    let mut raw = Raw::connect(at);
    start_handshake(&mut raw, [2; 32]).unwrap();
    raw.record(&send_u32(to));
    cases.push(("Send in place of Auth", raw.closed_within(PATIENCE)));
    // (d) a 4 GiB length prefix, and one just over the pre-authentication limit
    let mut raw = Raw::connect(at);
    raw.write(&__fuzz::preamble());
    raw.write(&u32::MAX.to_be_bytes());
    cases.push(("4 GiB length prefix", raw.closed_within(PATIENCE)));
    let mut raw = Raw::connect(at);
    raw.write(&__fuzz::preamble());
    raw.write(&4097u32.to_be_bytes());
    cases.push(("4097-byte pre-auth record", raw.closed_within(PATIENCE)));
    // (e) a correct MAC over a transcript with another server nonce
    let mut raw = Raw::connect(at);
    let (client_hello, server_hello) = start_handshake(&mut raw, [3; 32]).unwrap();
    // The server's hello with its nonce (its last 32 bytes) changed.
    let mut other_nonce = server_hello.clone();
    let n = other_nonce.len();
    other_nonce[n - 32..].iter_mut().for_each(|b| *b ^= 0x55);
    let t = transcript(&client_hello, &other_nonce);
    raw.record(&auth(&hmac(&k, &[b"rcos v1 client auth", &t])));
    cases.push((
        "correct MAC for a different nonce",
        raw.closed_within(PATIENCE),
    ));
    // (f) silence: closed at the handshake timeout
    let mut raw = Raw::connect(at);
    raw.write(&__fuzz::preamble());
    cases.push(("silent after the preamble", raw.closed_within(PATIENCE)));

    let decoded = __fuzz::frames_decoded() - before;
    let mut max = Duration::ZERO;
    for (what, closed) in &cases {
        let took = closed.unwrap_or_else(|| panic!("{what}: not closed"));
        assert!(took <= timeout + Duration::from_secs(1), "{what}: {took:?}");
        println!("B1: {what}: closed in {:.1} ms", took.as_secs_f64() * 1e3);
        max = max.max(took);
    }
    assert_eq!(decoded, 0, "frames decoded for unauthenticated connections");
    run(&a, async { assert!(net::peers().is_empty()) });

    // The positive control: with the secret, the same raw client gets in and its Send
    // is delivered (so the refusals above were refusals).
    let mut s = Session::open(at, SECRET).expect("the honest raw client gets in");
    s.send(&send_u32(to));
    s.send(&cbor(&text("Goodbye")));
    assert!(s.raw.closed_within(PATIENCE).is_some());
    let delivered = count_of(&target);
    assert_eq!(delivered, 1, "the authenticated Send was not delivered");
    println!(
        "B1: {} unauthenticated attempts closed, max {:.1} ms (handshake timeout {timeout:?}); frames decoded before auth: {decoded}; mailbox deliveries: 0 (1 from the authenticated control)",
        cases.len(),
        max.as_secs_f64() * 1e3
    );
}

#[test]
fn b2_a_recorded_handshake_replayed_10_000_times_never_gets_in() {
    let _turn = exclusive();
    let a = node_with(
        "b2",
        NodeConfig::new()
            .secret(SECRET)
            .handshake_timeout(Duration::from_secs(5)),
    );
    let at = a.location().unwrap().addr();
    // A successful handshake, recorded.
    let s = Session::open(at, SECRET).expect("the recorded handshake succeeds");
    let recorded = s.raw.sent.clone();
    drop(s);
    let replays = 10_000usize;
    let threads = 4;
    let start = Instant::now();
    let successes: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let recorded = &recorded;
                scope.spawn(move || {
                    let mut ok = 0;
                    for _ in 0..replays / threads {
                        let mut raw = Raw::connect(at);
                        raw.write(recorded);
                        // Refused: closed right after the server's hello and auth. In: the
                        // connection stays open (heartbeats), and this times out.
                        if raw.closed_within(Duration::from_secs(10)).is_none() {
                            ok += 1;
                        }
                    }
                    ok
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(successes, 0);
    run(&a, async { assert!(net::peers().len() <= 1) });
    println!(
        "B2: {replays} replays of a recorded handshake, {successes} successes, {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// Builds a runtime that is a node with `config`: the error when it refuses to start.
fn start(config: NodeConfig) -> Result<Runtime, String> {
    Runtime::builder()
        .workers(1)
        .node(config)
        .build()
        .map_err(|e| e.to_string())
}

fn private_file(
    dir: &std::path::Path,
    name: &str,
    content: &[u8],
    mode: u32,
) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rcos-net-auth-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn b3_weak_or_readable_secrets_are_refused_off_loopback() {
    let _turn = exclusive();
    let dir = temp_dir("b3");
    let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
    let strong = b"0123456789abcdef0123456789abcdef";
    let refusals: Vec<(&str, NodeConfig)> = vec![
        (
            "empty secret",
            NodeConfig::new().bind(any).secret(Vec::new()),
        ),
        (
            "8-byte secret",
            NodeConfig::new().bind(any).secret(b"8 bytes!".to_vec()),
        ),
        (
            "15-byte secret",
            NodeConfig::new()
                .bind(any)
                .secret(b"fifteen bytes!!".to_vec()),
        ),
        (
            "world-readable secret file",
            NodeConfig::new()
                .bind(any)
                .secret_file(private_file(&dir, "world", strong, 0o644)),
        ),
        (
            "group-readable secret file",
            NodeConfig::new()
                .bind(any)
                .secret_file(private_file(&dir, "group", strong, 0o640)),
        ),
        (
            "private file with an 8-byte secret",
            NodeConfig::new().bind(any).secret_file(private_file(
                &dir,
                "short",
                b"8 bytes!\n",
                0o600,
            )),
        ),
        (
            "missing secret file",
            NodeConfig::new().bind(any).secret_file(dir.join("nope")),
        ),
    ];
    for (what, config) in refusals {
        let error = start(config)
            .err()
            .unwrap_or_else(|| panic!("{what}: the node started"));
        assert!(
            error.contains("secret") || error.contains("nope"),
            "{what}: {error}"
        );
        println!("B3: {what} on 0.0.0.0: refused: {error}");
    }
    // Accepted: a strong secret, from bytes or a private file, off loopback; anything
    // (even nothing) on loopback, the development mode.
    let accepted: Vec<(&str, NodeConfig)> = vec![
        (
            "16-byte secret on 0.0.0.0",
            NodeConfig::new()
                .bind(any)
                .secret(b"sixteen bytes!!!".to_vec()),
        ),
        (
            "private secret file on 0.0.0.0",
            NodeConfig::new()
                .bind(any)
                .secret_file(private_file(&dir, "ok", strong, 0o600)),
        ),
        ("no secret on loopback", NodeConfig::new()),
        (
            "8-byte secret on loopback",
            NodeConfig::new().secret(b"8 bytes!".to_vec()),
        ),
    ];
    for (what, config) in accepted {
        let rt = start(config).unwrap_or_else(|e| panic!("{what}: {e}"));
        drop(rt);
        println!("B3: {what}: starts");
    }
    // The default secret file ($XDG_CONFIG_HOME/rcos/secret), in a child process with
    // its own XDG_CONFIG_HOME: generated private, reused, refused once readable.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "b3_default_secret_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RCOS_B3_CHILD", "1")
        .env("XDG_CONFIG_HOME", &dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("B3 child: ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // (The harness may print "test ... " on the same line as the child's first one.)
    for line in stdout
        .lines()
        .filter_map(|l| l.find("B3:").map(|at| &l[at..]))
    {
        println!("{line}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Run by `b3_weak_or_readable_secrets_are_refused_off_loopback` in a child process;
/// does nothing otherwise.
#[test]
fn b3_default_secret_child() {
    if std::env::var_os("RCOS_B3_CHILD").is_none() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = std::path::PathBuf::from(std::env::var_os("XDG_CONFIG_HOME").unwrap());
    let path = dir.join("rcos/secret");
    assert!(!path.exists());
    let any: SocketAddr = "0.0.0.0:0".parse().unwrap();
    drop(start(NodeConfig::new().bind(any)).unwrap());
    let meta = std::fs::metadata(&path).unwrap();
    let secret = std::fs::read(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(secret.len(), 64, "32 random bytes, in hex");
    println!("B3: default secret generated at $XDG_CONFIG_HOME/rcos/secret, mode 600, 32 bytes");
    drop(start(NodeConfig::new().bind(any)).unwrap());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        secret,
        "the default secret was not reused"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let Err(error) = start(NodeConfig::new().bind(any)) else {
        panic!("a readable default secret was accepted");
    };
    println!("B3: default secret file made world-readable: refused: {error}");
    println!("B3 child: ok");
}

#[test]
fn b4_macs_are_compared_in_constant_time() {
    // A code check: every MAC of the protocol is verified with `verify_slice` (constant
    // time); no digest is compared with `==` or `!=`.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rcos/src/net");
    let mut verified = 0;
    let mut offending = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        if file == "fuzz.rs" {
            continue; // test entry points (feature `fuzzing`), no verification in them
        }
        for (n, line) in source.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            verified += code.matches(".verify_slice(").count();
            let digest = ["mac", "tag", "finalize()", "hmac"]
                .iter()
                .any(|w| code.to_lowercase().contains(w));
            if digest && (code.contains("==") || code.contains("!=")) {
                offending.push(format!("{file}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        offending.is_empty(),
        "digests compared with ==: {offending:#?}"
    );
    // The record MAC, both handshake MACs and the beacon tag.
    assert!(verified >= 4, "{verified} verify_slice calls");
    println!(
        "B4: {verified} MAC checks in rcos/src/net, all by verify_slice; 0 digests compared with =="
    );
}

/// Sockets of this process: `(protocol, local address, state)` from /proc/net/*.
fn my_sockets() -> Vec<(String, String, String)> {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().to_string();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut out = Vec::new();
    for proto in ["tcp", "tcp6", "udp", "udp6"] {
        let Ok(table) = std::fs::read_to_string(format!("/proc/net/{proto}")) else {
            continue;
        };
        for line in table.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && inodes.contains(f[9]) {
                out.push((proto.to_string(), decode_addr(f[1]), f[3].to_string()));
            }
        }
    }
    out
}

/// `0100007F:1F90` (little-endian words) as `127.0.0.1:8080`.
fn decode_addr(hex: &str) -> String {
    let (ip, port) = hex.split_once(':').unwrap();
    let port = u16::from_str_radix(port, 16).unwrap();
    let bytes: Vec<u8> = (0..ip.len() / 2)
        .map(|i| u8::from_str_radix(&ip[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let ip: std::net::IpAddr = if bytes.len() == 4 {
        std::net::Ipv4Addr::new(bytes[3], bytes[2], bytes[1], bytes[0]).into()
    } else {
        let mut o = [0u8; 16];
        for w in 0..4 {
            for b in 0..4 {
                o[w * 4 + b] = bytes[w * 4 + 3 - b];
            }
        }
        std::net::Ipv6Addr::from(o).into()
    };
    SocketAddr::new(ip, port).to_string()
}

#[test]
fn b8_a_default_node_listens_on_loopback_only_and_opens_no_udp_socket() {
    let _turn = exclusive();
    let before = my_sockets();
    // No node: no socket at all.
    let plain = Runtime::builder().build().unwrap();
    let added = |now: Vec<(String, String, String)>| -> Vec<(String, String, String)> {
        now.into_iter().filter(|s| !before.contains(s)).collect()
    };
    assert!(
        added(my_sockets()).is_empty(),
        "a runtime without a node opened sockets"
    );
    drop(plain);
    // A node with the default configuration.
    let a = Runtime::builder().node(NodeConfig::new()).build().unwrap();
    let mine = added(my_sockets());
    let listening: Vec<_> = mine
        .iter()
        .filter(|(p, _, st)| p.starts_with("tcp") && st == "0A")
        .collect();
    assert!(!listening.is_empty(), "no listener found: {mine:?}");
    for (proto, addr, _) in &listening {
        let ip: SocketAddr = addr.parse().unwrap();
        assert!(ip.ip().is_loopback(), "{proto} listener on {addr}");
    }
    let udp: Vec<_> = mine
        .iter()
        .filter(|(p, _, _)| p.starts_with("udp"))
        .collect();
    assert!(udp.is_empty(), "UDP sockets without discovery: {udp:?}");
    println!(
        "B8: default node: {} listener(s), all loopback ({}); 0 UDP sockets; a runtime without a node: 0 sockets",
        listening.len(),
        listening
            .iter()
            .map(|(_, a, _)| a.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    drop(a);
    // The control: with discovery on, a UDP socket appears.
    let d = Runtime::builder()
        .node(
            NodeConfig::new()
                .secret(SECRET)
                .discovery(true)
                .discovery_port(29_000 + (std::process::id() % 900) as u16),
        )
        .build()
        .unwrap();
    let udp = added(my_sockets())
        .into_iter()
        .filter(|(p, _, _)| p.starts_with("udp"))
        .count();
    assert!(
        udp >= 1,
        "discovery on, and no UDP socket found: the listing is broken"
    );
    drop(d);
}

#[test]
fn b9_remote_spawn_refuses_unknown_names_and_code_shaped_arguments() {
    let _turn = exclusive();
    let a = node_with("b9", NodeConfig::new().secret(SECRET));
    let at = a.location().unwrap().addr();
    let mut s = Session::open(at, SECRET).expect("authenticated");
    // A round trip first, so the connection's own tasks are running.
    s.send(&cbor(&map(vec![("Ping", Value::Integer(7.into()))])));
    loop {
        let len = u32::from_be_bytes(s.raw.read_exact(4).unwrap().try_into().unwrap()) as usize;
        let body = s.raw.read_exact(len + 32).unwrap();
        if format!(
            "{:?}",
            ciborium::from_reader::<Value, _>(&body[..len]).unwrap()
        )
        .contains("Pong")
        {
            break;
        }
    }
    let tasks_before = a.task_count();
    let spawn = |req: u64, function: &str, args: &[u8]| {
        cbor(&map(vec![(
            "Spawn",
            map(vec![
                ("req", Value::Integer(req.into())),
                ("function", text(function)),
                ("args", Value::Bytes(args.to_vec())),
            ]),
        )]))
    };
    // An unregistered name; a pickle-shaped payload for it; a shell command as a name.
    s.send(&spawn(
        1,
        "os::system",
        b"\x80\x04\x95\x1e\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94.",
    ));
    s.send(&spawn(2, "rm -rf /", b"\x80"));
    s.send(&spawn(3, "", b""));
    // Read the answers (records with a MAC: body then 32 bytes).
    let mut failed = 0;
    while failed < 3 {
        let Some(len) = s.raw.read_exact(4) else {
            break;
        };
        let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
        let body = s.raw.read_exact(len + 32).unwrap();
        let mut rest = &body[..len];
        while !rest.is_empty() {
            let v: Value = ciborium::from_reader(&mut rest).unwrap();
            let shown = format!("{v:?}");
            if shown.contains("Answer") {
                assert!(
                    shown.contains("Failed") && shown.contains("unknown task"),
                    "{shown}"
                );
                failed += 1;
            }
        }
    }
    assert_eq!(failed, 3);
    assert_eq!(a.task_count(), tasks_before, "a task was spawned");
    println!(
        "B9: 3 remote spawns of unregistered names (one with a pickle payload): 3 error answers, 0 tasks spawned (a warning logged for each)"
    );
}

#[test]
fn b10_files_are_never_written_or_deleted_through_a_symlink() {
    let _turn = exclusive();
    let root = temp_dir("b10");
    let dest = root.join("dest");
    let outside = root.join("outside");
    let sibling = root.join("dest-evil");
    for d in [&dest, &outside, &sibling] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::os::unix::fs::symlink(&outside, dest.join("link")).unwrap();
    std::fs::write(outside.join("victim"), b"keep me").unwrap();
    std::os::unix::fs::symlink(outside.join("victim"), dest.join("victim-link")).unwrap();
    let src = root.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), b"payload").unwrap();
    std::fs::write(src.join("victim-link"), b"payload").unwrap();

    let b = node_with("b10", NodeConfig::new().secret(SECRET).dest_path(&dest));
    let at = b.location().unwrap();
    let a = node("b10-sender");
    let t = Duration::from_secs(10);
    let outcomes = run(&a, async move {
        use rcos::net::{SendFileOptions, del_file, send_file};
        let f = src.join("f");
        vec![
            (
                "send into a symlinked folder",
                send_file(at, &f, SendFileOptions::new().dir("link"))
                    .await
                    .err()
                    .map(|e| e.to_string()),
            ),
            (
                "send into a folder under a symlinked one",
                send_file(at, &f, SendFileOptions::new().dir("link/new"))
                    .await
                    .err()
                    .map(|e| e.to_string()),
            ),
            (
                "overwrite through a symlinked file",
                send_file(
                    at,
                    src.join("victim-link"),
                    SendFileOptions::new().overwrite(true),
                )
                .await
                .err()
                .map(|e| e.to_string()),
            ),
            (
                "delete through a symlinked folder",
                del_file(at, "link/victim", t)
                    .await
                    .err()
                    .map(|e| e.to_string()),
            ),
            (
                "delete a symlink's target",
                del_file(at, "victim-link", t)
                    .await
                    .err()
                    .map(|e| e.to_string()),
            ),
            (
                "send to a sibling folder",
                send_file(at, &f, SendFileOptions::new().dir("../dest-evil"))
                    .await
                    .err()
                    .map(|e| e.to_string()),
            ),
        ]
    });
    for (what, error) in &outcomes {
        println!("B10: {what}: {}", error.as_deref().unwrap_or("ACCEPTED"));
    }
    // Nothing changed outside the destination folder.
    assert_eq!(std::fs::read(outside.join("victim")).unwrap(), b"keep me");
    let outside_entries: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside_entries.len(), 1, "{outside_entries:?}");
    assert_eq!(std::fs::read_dir(&sibling).unwrap().count(), 0);
    for (what, error) in &outcomes {
        assert!(error.is_some(), "{what}: accepted");
    }
    println!(
        "B10: {} attempts through symlinks or to a sibling folder: all refused, nothing written or deleted outside",
        outcomes.len()
    );
    let _ = std::fs::remove_dir_all(&root);
}

// ---------------------------------------------------------------------------------
// B6: mutual TLS, the cases net_tls.rs does not have (another CA, a wrong secret and
// the good case are there): no client certificate, an expired certificate, and TLS
// 1.3 only.

#[cfg(feature = "tls")]
mod b6 {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    };

    struct Ca {
        cert: rcgen::Certificate,
        key: KeyPair,
    }

    impl Ca {
        fn new() -> Ca {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params
                .distinguished_name
                .push(DnType::CommonName, "rcos B6 CA");
            let key = KeyPair::generate().unwrap();
            let cert = params.self_signed(&key).unwrap();
            Ca { cert, key }
        }

        /// A node certificate for 127.0.0.1; expired if `expired`.
        fn issue(&self, expired: bool) -> (String, String) {
            let mut params =
                CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                    .unwrap();
            params.distinguished_name.push(DnType::CommonName, "node");
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            if expired {
                params.not_before = rcgen::date_time_ymd(2000, 1, 1);
                params.not_after = rcgen::date_time_ymd(2001, 1, 1);
            }
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
            (cert.pem(), key.serialize_pem())
        }

        fn config(&self, expired: bool) -> NodeConfig {
            let (cert, key) = self.issue(expired);
            NodeConfig::new()
                .secret(SECRET)
                .handshake_timeout(Duration::from_secs(20))
                .tls(cert.as_bytes(), key.as_bytes(), self.cert.pem().as_bytes())
                .unwrap()
        }
    }

    #[test]
    fn b6_no_client_certificate_an_expired_one_and_tls_1_3_only() {
        let _turn = exclusive();
        let ca = Ca::new();
        let a = node_with("b6-a", ca.config(false));
        let at = a.location().unwrap();
        let frames_before = __fuzz::frames_decoded();

        // A TLS client that trusts the CA but presents no certificate.
        let client = rcos_tests::rt2();
        let pem = ca.cert.pem();
        let (no_cert, took) = run(&client, async move {
            let start = Instant::now();
            let connector = rcos::io::tls::TlsConnector::from_pem(pem.as_bytes()).unwrap();
            let tcp = rcos::io::TcpStream::connect(at.addr()).await.unwrap();
            // TLS 1.3: the server's refusal of the client comes on the first read.
            let refused = match connector.connect("127.0.0.1", tcp).await {
                Err(e) => format!("handshake failed: {e}"),
                Ok(mut tls) => {
                    let mut buf = [0u8; 64];
                    match tls.recv(&mut buf).await {
                        Ok(0) => "closed".to_string(),
                        Ok(n) => format!("read {n} bytes"),
                        Err(e) => format!("closed: {e}"),
                    }
                }
            };
            (refused, start.elapsed())
        });
        assert!(
            !no_cert.starts_with("read"),
            "no client certificate: {no_cert}"
        );
        println!(
            "B6: no client certificate: refused in the TLS handshake ({no_cert}), {:.1} ms",
            took.as_secs_f64() * 1e3
        );

        // An expired certificate from the right CA, both ways.
        let x = node_with("b6-expired", ca.config(true));
        let xt = x.location().unwrap();
        let from_expired = run(&x, async move { net::peer(at).await });
        let to_expired = run(&a, async move {
            let r = net::peer(xt).await;
            net::close_peer(xt).await.unwrap();
            r
        });
        let (e1, e2) = (
            from_expired.unwrap_err().to_string(),
            to_expired.unwrap_err().to_string(),
        );
        assert!(
            !e1.contains("no answer in time") && !e2.contains("no answer in time"),
            "{e1} / {e2}"
        );
        println!("B6: expired certificate: refused both ways ({e1} / {e2})");
        assert_eq!(
            __fuzz::frames_decoded(),
            frames_before,
            "frames decoded on refused TLS connections"
        );
        run(&a, async { assert!(net::peers().is_empty()) });

        // TLS 1.3 only: every rcos TLS configuration asks for TLS 1.3 alone, and rustls
        // is built without its `tls12` feature, so TLS 1.2 is not even compiled in.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let tls_rs = std::fs::read_to_string(root.join("rcos/src/io/tls.rs")).unwrap();
        let versions = tls_rs
            .matches("with_protocol_versions(&[&rustls::version::TLS13])")
            .count();
        assert!(versions >= 4 && !tls_rs.contains("TLS12"), "{versions}");
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let rustls = manifest.lines().find(|l| l.starts_with("rustls")).unwrap();
        assert!(
            rustls.contains("default-features = false") && !rustls.contains("tls12"),
            "{rustls}"
        );
        println!(
            "B6: TLS 1.3 only: {versions} rustls configurations, all TLS13; rustls built without tls12"
        );
    }
}

// ---------------------------------------------------------------------------------
// B7 on loopback (discovery across namespaces is in net_discovery.rs; forged beacons
// from another namespace are at the end of this file): a flood of forged beacons and
// of valid ones from many senders.

/// CPU time (user + system) of this process's threads whose name starts with `prefix`.
fn cpu_of_threads(prefix: &str) -> Duration {
    let tick = 100.0; // USER_HZ on Linux
    let mut total = 0u64;
    for entry in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if !comm.starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // Fields after the command (which ends with ')'): utime and stime are 14 and 15.
        let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        if f.len() > 12 {
            total += f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
        }
    }
    Duration::from_secs_f64(total as f64 / tick)
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn b7_a_beacon_flood_starts_no_connection_and_dials_are_rate_limited() {
    use rcos::net::DiscoveryGroup;
    let _turn = exclusive();
    let port = 30_000 + (std::process::id() % 2000) as u16;
    // The node shares the fuzzing secret, so that this test can make valid beacons too.
    let a = Runtime::builder()
        .workers(2)
        .name("b7")
        .node(
            NodeConfig::new()
                .secret(__fuzz::SECRET)
                .discovery(true)
                .discovery_port(port),
        )
        .build()
        .unwrap();
    let stats = || a.discovery_stats().unwrap();
    let decoy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    decoy.set_nonblocking(true).unwrap();
    let decoy_port = decoy.local_addr().unwrap().port();
    // A sender on the loopback interface, as the node's group is.
    let sender: std::net::UdpSocket = {
        use socket2::{Domain, Protocol, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        s.set_multicast_if_v4(&std::net::Ipv4Addr::LOCALHOST)
            .unwrap();
        s.set_multicast_loop_v4(true).unwrap();
        s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        s.into()
    };
    let group = SocketAddr::from((DiscoveryGroup::IPV4_GROUP, port));
    // Valid beacons come from incarnations above the node's, so the node is the one to
    // connect (the lower incarnation dials), each to an address of its own.
    let beacon = |i: u64, valid: bool, listen: SocketAddr| {
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&i.to_be_bytes());
        let mut b = __fuzz::encode_beacon(&__fuzz::BeaconFields {
            minor: 0,
            tls: false,
            incarnation: if valid { u64::MAX - i } else { 1_000_000 + i },
            timestamp_ms: wall_ms(),
            nonce,
            listen,
            name: format!("forged-{i}"),
        });
        if !valid {
            let n = b.len();
            b[n - 1] ^= 1;
        }
        b
    };
    let wait_received = |want: u64| {
        let deadline = Instant::now() + PATIENCE;
        // Counters have no notification: poll; UDP may drop some under load, so stop
        // once nothing more arrives for a while.
        let mut last = (stats().received, Instant::now());
        while stats().received < want {
            let now = stats().received;
            if now != last.0 {
                last = (now, Instant::now());
            } else if last.1.elapsed() > Duration::from_secs(2) || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };

    // 10,000 forged beacons (a wrong tag), sent within one second.
    let n = 10_000u64;
    let before = stats();
    let cpu_before = cpu_of_threads("b7-worker");
    let start = Instant::now();
    for i in 0..n {
        let _ = sender.send_to(
            &beacon(i, false, SocketAddr::from(([127, 0, 0, 1], decoy_port))),
            group,
        );
        if i % 1000 == 999 {
            // 1,000 every 100 ms: 10,000 a second.
            let due = Duration::from_millis(100 * (i + 1) / 1000);
            if let Some(left) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(left);
            }
        }
    }
    let sent_in = start.elapsed();
    wait_received(before.received + n);
    let cpu = cpu_of_threads("b7-worker").saturating_sub(cpu_before);
    let after = stats();
    let bad = after.bad_tag - before.bad_tag;
    assert!(bad > n / 2, "{after:?}");
    assert_eq!(
        after.dials, before.dials,
        "a forged beacon started a connection"
    );
    assert!(matches!(decoy.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock));
    let share = cpu.as_secs_f64() / sent_in.as_secs_f64().max(1.0);
    // The plan's 25 % is for a release build; debug code must at least keep up.
    assert!(
        share < if cfg!(debug_assertions) { 1.0 } else { 0.25 },
        "{share}"
    );
    println!(
        "B7: {n} forged beacons in {:.2} s: {bad} dropped for a bad tag ({} lost by UDP), 0 connection attempts; node CPU {:.0} ms = {:.0} % of a core at that rate ({} build; plan: < 25 %)",
        sent_in.as_secs_f64(),
        n - bad,
        cpu.as_secs_f64() * 1e3,
        share * 100.0,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );

    // 2,000 valid beacons from 2,000 "nodes", each at another address: connection attempts
    // stay within 10 a second (plus the burst of 10).
    let m = 2_000u64;
    let before = stats();
    let start = Instant::now();
    for i in 0..m {
        // 127.0.x.y: loopback addresses nothing listens on (the decoy is on 127.0.0.1).
        let ip = [127, 0, (i / 250) as u8 + 1, (i % 250) as u8 + 2];
        let _ = sender.send_to(&beacon(i, true, SocketAddr::from((ip, decoy_port))), group);
    }
    wait_received(before.received + m);
    let took = start.elapsed();
    let after = stats();
    let dials = after.dials - before.dials;
    let allowed = 10 + (10.0 * took.as_secs_f64()).ceil() as u64;
    assert!(dials <= allowed, "{dials} dials in {took:?}");
    println!(
        "B7: {m} valid beacons from {m} senders in {:.2} s: {} accepted, {dials} connection attempts (allowed {allowed}: a burst of 10, then 10/s), {} rate-limited",
        took.as_secs_f64(),
        after.accepted - before.accepted,
        after.rate_limited - before.rate_limited
    );
}

// ---------------------------------------------------------------------------------
// B7 from another network namespace: the forger is this test binary again, run inside
// a namespace joined to this one by a veth pair, sending over that link.

/// The forger's configuration variable: `PORT;COUNT;ADDR` (discovery port, forged
/// beacons to send, its address on the link).
const FORGER_ENV: &str = "RCOS_B7_FORGER";

/// Not a test of its own: the forger process of
/// [`b7_forged_beacons_from_another_namespace_start_no_connection`]. It listens on a
/// decoy TCP port (prints `forger-ready ADDR`), then answers commands on its input:
/// `forge` sends the forged beacons (wrong tag, all pointing at the decoy; prints
/// `forged N`), `check` tells whether anything connected to the decoy
/// (`decoy-untouched` / `decoy-connected`), `valid` sends one valid beacon pointing at
/// the decoy and prints `decoy-accepted` once something connects to it.
#[test]
#[ignore = "runs only as the forger process of the namespace B7 test"]
fn b7_forger_child() {
    use rcos::net::DiscoveryGroup;
    use std::io::BufRead;
    let Ok(spec) = std::env::var(FORGER_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split(';').collect();
    let port: u16 = parts[0].parse().unwrap();
    let n: u64 = parts[1].parse().unwrap();
    let addr: std::net::Ipv4Addr = parts[2].parse().unwrap();
    let decoy = std::net::TcpListener::bind((addr, 0)).unwrap();
    let decoy_at = decoy.local_addr().unwrap();
    let (accepted_tx, accepted) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Blocks until something connects (nothing should, until `valid`).
        while let Ok((conn, from)) = decoy.accept() {
            let _ = accepted_tx.send(from);
            drop(conn);
        }
    });
    let sender: std::net::UdpSocket = {
        use socket2::{Domain, Protocol, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        s.set_multicast_if_v4(&addr).unwrap();
        s.set_multicast_ttl_v4(1).unwrap();
        s.bind(&SocketAddr::from((addr, 0)).into()).unwrap();
        s.into()
    };
    let group = SocketAddr::from((DiscoveryGroup::IPV4_GROUP, port));
    let beacon = |i: u64, valid: bool| {
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&i.to_be_bytes());
        nonce[8] = 0xb7;
        let mut b = __fuzz::encode_beacon(&__fuzz::BeaconFields {
            minor: 0,
            tls: false,
            // Above any node's incarnation: the node is the side that would dial.
            incarnation: u64::MAX - i,
            timestamp_ms: wall_ms(),
            nonce,
            listen: decoy_at,
            name: format!("forged-ns-{i}"),
        });
        if !valid {
            let len = b.len();
            b[len - 1] ^= 1;
        }
        b
    };
    println!("forger-ready {decoy_at}");
    let mut connected = 0usize;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match line.trim() {
            "forge" => {
                let start = Instant::now();
                for i in 0..n {
                    let _ = sender.send_to(&beacon(i, false), group);
                    if i % 1000 == 999 {
                        // 1,000 every 100 ms: pacing the flood, not a synchronisation.
                        let due = Duration::from_millis(100 * (i + 1) / 1000);
                        if let Some(left) = due.checked_sub(start.elapsed()) {
                            std::thread::sleep(left);
                        }
                    }
                }
                println!("forged {n} in {} ms", start.elapsed().as_millis());
            }
            "check" => {
                connected += accepted.try_iter().count();
                if connected == 0 {
                    println!("decoy-untouched");
                } else {
                    println!("decoy-connected {connected}");
                }
            }
            "valid" => {
                let _ = sender.send_to(&beacon(n, true), group);
                match accepted.recv_timeout(PATIENCE) {
                    Ok(from) => println!("decoy-accepted from {from}"),
                    Err(_) => println!("decoy-not-accepted"),
                }
            }
            "quit" => break,
            other => println!("unknown command {other}"),
        }
    }
    std::process::exit(0);
}

/// B7 across namespaces: 10,000 forged beacons (a wrong tag) sent over a veth from
/// another network namespace reach the node — counted as bad tags — and start no
/// connection: the node makes 0 attempts and the decoy they point at is never
/// connected to. As a control, one valid beacon over the same path does make the node
/// connect to the decoy (so the forged ones were refused, not lost on the way).
#[test]
fn b7_forged_beacons_from_another_namespace_start_no_connection() {
    use rcos::net::DiscoveryGroup;
    use rcos_tests::netns::Link;
    use rcos_tests::programs::Running;
    let _turn = exclusive();
    let link = match Link::new() {
        Ok(link) => link,
        Err(why) => {
            println!("B7 (netns): skipped: {why}");
            return;
        }
    };
    let port = 32_000 + (std::process::id() % 2000) as u16;
    let a = Runtime::builder()
        .workers(2)
        .name("b7ns")
        .node(
            NodeConfig::new()
                .secret(__fuzz::SECRET)
                .bind(SocketAddr::new(link.addr_host.into(), 0))
                .discovery(true)
                .discovery_port(port)
                .discovery_group(DiscoveryGroup::multicast_v4(link.addr_host)),
        )
        .build()
        .unwrap();
    let stats = || a.discovery_stats().unwrap();
    let n = 10_000u64;
    let exe = std::env::current_exe().unwrap();
    let exe = exe.to_string_lossy().into_owned();
    let role = format!("{FORGER_ENV}={port};{n};{}", link.addr_ns);
    let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| "ip".into());
    let mut forger = Running::spawn(
        "b7-forger",
        ip,
        &[
            "netns",
            "exec",
            link.ns.name(),
            "env",
            &role,
            &exe,
            "b7_forger_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ],
        None,
    );
    let ready = forger.expect("forger-ready ");
    let before = stats();
    forger.type_line("forge");
    let forged = forger.expect("forged ");
    // Counters have no notification: poll until every datagram is counted, or nothing
    // more has arrived for a while (UDP may drop some).
    let deadline = Instant::now() + PATIENCE;
    let mut last = (stats().received, Instant::now());
    while stats().received < before.received + n && Instant::now() < deadline {
        let now = stats().received;
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(2) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let after = stats();
    let received = after.received - before.received;
    let bad = after.bad_tag - before.bad_tag;
    let dials = after.dials - before.dials;
    forger.type_line("check");
    let decoy = forger.expect("decoy-");
    // The control: one valid beacon over the same path makes the node connect.
    forger.type_line("valid");
    let control = forger.expect("decoy-");
    let control_dials = stats().dials - after.dials;
    forger.type_line("quit");
    let _ = forger.finish();
    println!(
        "B7 (netns): {n} forged beacons from namespace {} over a veth ({}; decoy {}): {received} received, {bad} dropped for a bad tag, \
         {dials} connection attempts, decoy: {decoy}; control: 1 valid beacon over the same path -> {control_dials} connection attempt, decoy: {control}",
        link.ns.name(),
        forged.trim(),
        rcos_tests::netns::after(&ready, "forger-ready "),
    );
    assert!(
        bad > n / 2,
        "the forged beacons did not reach the node: {after:?}"
    );
    assert_eq!(dials, 0, "a forged beacon started a connection");
    assert!(decoy.contains("decoy-untouched"), "{decoy}");
    assert!(
        control.contains("decoy-accepted"),
        "the valid control beacon did not make the node connect: {control}"
    );
}
