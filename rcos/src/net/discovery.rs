//! Discovery: nodes find each other with authenticated UDP beacons (pycos's discovery,
//! made safe to run on a shared network).
//!
//! ```text
//! beacon := "RCDB" major:u16be minor:u16be flags:u8 incarnation:u64be timestamp:u64be
//!           nonce[16] family:u8 ip[4|16] port:u16be name_len:u8 name[name_len] tag[32]
//! flags  := bit 0: the node uses TLS
//! tag    := HMAC-SHA256(K_beacon, every byte before the tag)
//! K_beacon := HKDF-SHA256(salt "rcos secret v1", secret), expanded with the label
//!             "rcos discovery beacon key v1"
//! ```
//!
//! `timestamp` is milliseconds since the Unix epoch on the sender's clock, increasing
//! with each beacon; `nonce` is 16 fresh random bytes. `ip` may be unspecified (a node
//! listening on `0.0.0.0`): the receiver then uses the datagram's source address.
//!
//! The key is derived from the secret as the handshake's key is, with another label: a
//! beacon's tag proves nothing on a TCP connection and the reverse. A received datagram
//! is checked in this order, each failure dropping it with a counted and logged reason:
//! its size (at most [`MAX_BEACON`] bytes, at least the fixed part, before anything is
//! read), the magic, the protocol's major version, the tag (constant-time), its layout,
//! whether it is this node's own, its freshness (within [`FRESHNESS`] of this machine's
//! clock), whether it was seen before (a replay cache of `(incarnation, nonce)` kept
//! for as long as the beacon would be fresh), the transport (TLS or not, as this node),
//! the address it gives, and the sender's rate (a token bucket per sender). Only then
//! does the node act: connect to the sender (at most [`DIALS_PER_SEC`] a second in
//! all), or answer it with a beacon of its own.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_io::Async;
use event_listener::Event;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::codec::{PROTOCOL_MAJOR, PROTOCOL_MINOR};
use super::config::{DiscoveryGroup, MIN_SECRET_LEN};
use super::{Location, Node};
use crate::util::Mutex;

type HmacSha256 = Hmac<Sha256>;

/// The largest datagram read as a beacon; anything longer is dropped unread.
pub(crate) const MAX_BEACON: usize = 512;
/// How far a beacon's timestamp may be from this machine's clock (either way).
pub(crate) const FRESHNESS: Duration = Duration::from_secs(30);
/// Connection attempts that beacons may start, per second, in all.
pub(crate) const DIALS_PER_SEC: f64 = 10.0;

const MAGIC: [u8; 4] = *b"RCDB";
const TAG_LEN: usize = 32;
const NONCE_LEN: usize = 16;
/// magic, version, flags, incarnation, timestamp, nonce, family.
const HEAD_LEN: usize = 4 + 4 + 1 + 8 + 8 + NONCE_LEN + 1;
/// The shortest well-formed beacon: an IPv4 address and an empty name.
const MIN_BEACON: usize = HEAD_LEN + 4 + 2 + 1 + TAG_LEN;
const MAX_NAME: usize = 255;
const FLAG_TLS: u8 = 1;
/// Entries the replay cache keeps at most.
const REPLAY_CAPACITY: usize = 4096;
/// Senders whose rates are tracked at most.
const SENDER_CAPACITY: usize = 1024;
/// A sender may have this many beacons acted on in a burst, then this many a second.
const SENDER_BURST: f64 = 5.0;
const SENDER_RATE: f64 = 5.0;
/// Answers sent at most, per second.
const ANSWER_GAP: Duration = Duration::from_millis(100);
/// Beacons heard from a node that does not connect before this node connects itself.
const UNANSWERED_BEFORE_DIAL: u32 = 2;
/// How often the same kind of bad beacon is reported at `warn` level at most.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// What discovery has done since the node started: what
/// [`discovery_stats`](crate::net::discovery_stats) returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiscoveryStats {
    /// Beacons sent (periodic ones and answers).
    pub sent: u64,
    /// Of them, answers to a beacon from a node not connected yet.
    pub answers: u64,
    /// Beacons that could not be sent (no route to the group, ...).
    pub send_failed: u64,
    /// Datagrams received on the discovery port, whatever they held.
    pub received: u64,
    /// Valid beacons from other nodes.
    pub accepted: u64,
    /// Connections started because of a beacon.
    pub dials: u64,
    /// This node's own beacons, heard back.
    pub own: u64,
    /// Datagrams of the wrong size or layout, or without the magic.
    pub malformed: u64,
    /// Beacons of another protocol version, or from a node with TLS when this one has
    /// none (or the reverse).
    pub incompatible: u64,
    /// Beacons whose tag did not verify: forged, damaged, or from a node with another
    /// secret.
    pub bad_tag: u64,
    /// Beacons whose timestamp is too far from this machine's clock (old ones, or
    /// clocks out of step).
    pub stale: u64,
    /// Beacons received before (replayed, or duplicated by the network).
    pub replayed: u64,
    /// Beacons giving an address nobody here can connect to (a loopback address from
    /// another machine, port 0, this node's own address).
    pub bad_address: u64,
    /// Beacons dropped because their sender sent too many, or because too many
    /// connections were being started.
    pub rate_limited: u64,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    answers: AtomicU64,
    send_failed: AtomicU64,
    received: AtomicU64,
    accepted: AtomicU64,
    dials: AtomicU64,
    own: AtomicU64,
    malformed: AtomicU64,
    incompatible: AtomicU64,
    bad_tag: AtomicU64,
    stale: AtomicU64,
    replayed: AtomicU64,
    bad_address: AtomicU64,
    rate_limited: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    fn snapshot(&self) -> DiscoveryStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        DiscoveryStats {
            sent: get(&self.sent),
            answers: get(&self.answers),
            send_failed: get(&self.send_failed),
            received: get(&self.received),
            accepted: get(&self.accepted),
            dials: get(&self.dials),
            own: get(&self.own),
            malformed: get(&self.malformed),
            incompatible: get(&self.incompatible),
            bad_tag: get(&self.bad_tag),
            stale: get(&self.stale),
            replayed: get(&self.replayed),
            bad_address: get(&self.bad_address),
            rate_limited: get(&self.rate_limited),
        }
    }

    fn of(&self, reject: &Reject) -> &AtomicU64 {
        match reject {
            Reject::Malformed(_) => &self.malformed,
            Reject::Incompatible(_) => &self.incompatible,
            Reject::BadTag => &self.bad_tag,
            Reject::Own => &self.own,
            Reject::Stale { .. } => &self.stale,
            Reject::Replayed => &self.replayed,
            Reject::BadAddress(_) => &self.bad_address,
            Reject::RateLimited => &self.rate_limited,
        }
    }
}

/// A node's discovery: its counters, and the switch that stops it.
pub(crate) struct Discovery {
    counters: Counters,
    stopped: AtomicBool,
    wake: Event,
    /// Connections under way because of beacons, and when a location that refused may
    /// be tried again.
    dials: Mutex<Dials>,
}

#[derive(Default)]
struct Dials {
    in_flight: HashSet<Location>,
    retry_at: HashMap<Location, Instant>,
}

impl Discovery {
    /// Stops sending and listening (the socket closes when the task ends).
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        crate::util::notify(&self.wake, usize::MAX);
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    pub(crate) fn stats(&self) -> DiscoveryStats {
        self.counters.snapshot()
    }
}

/// What discovery has done on the caller's runtime so far, or `None` when the runtime
/// is not a node or its discovery is off.
pub fn discovery_stats() -> Option<DiscoveryStats> {
    super::current_node()
        .ok()?
        .discovery
        .get()
        .map(|d| d.stats())
}

impl crate::Handle {
    /// What discovery has done on this runtime so far, or `None` when the runtime is not
    /// a node or its discovery is off (see [`NodeConfig`](crate::net::NodeConfig)'s
    /// "Discovery").
    pub fn discovery_stats(&self) -> Option<DiscoveryStats> {
        self.node()?.discovery.get().map(|d| d.stats())
    }
}

/// The key that tags beacons, derived from the shared secret.
#[derive(Clone)]
pub(crate) struct BeaconKey([u8; 32]);

impl BeaconKey {
    /// HKDF-SHA256 with the handshake's salt and a label of its own, so this key is
    /// independent of the handshake's.
    pub(crate) fn derive(secret: &[u8]) -> BeaconKey {
        let hk = Hkdf::<Sha256>::new(Some(b"rcos secret v1"), secret);
        let mut key = [0u8; 32];
        hk.expand(b"rcos discovery beacon key v1", &mut key)
            .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF output length"));
        BeaconKey(key)
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }
}

impl std::fmt::Debug for BeaconKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BeaconKey(..)")
    }
}

/// A beacon's contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Beacon {
    pub(crate) minor: u16,
    pub(crate) tls: bool,
    pub(crate) incarnation: u64,
    pub(crate) timestamp_ms: u64,
    pub(crate) nonce: [u8; NONCE_LEN],
    pub(crate) listen: SocketAddr,
    pub(crate) name: String,
}

/// Why a datagram was not acted on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reject {
    Malformed(&'static str),
    Incompatible(String),
    BadTag,
    Own,
    Stale { skew_ms: i64 },
    Replayed,
    BadAddress(&'static str),
    RateLimited,
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reject::Malformed(why) => write!(f, "malformed: {why}"),
            Reject::Incompatible(why) => write!(f, "incompatible: {why}"),
            Reject::BadTag => f.write_str(
                "its tag does not verify (forged, damaged, or from a node with another secret)",
            ),
            Reject::Own => f.write_str("this node's own"),
            Reject::Stale { skew_ms } => write!(
                f,
                "stale: its timestamp is {skew_ms} ms from this machine's clock (replayed, or clocks out of step)"
            ),
            Reject::Replayed => f.write_str("seen before (replayed or duplicated)"),
            Reject::BadAddress(why) => write!(f, "unusable address: {why}"),
            Reject::RateLimited => f.write_str("its sender sends too many"),
        }
    }
}

impl Reject {
    fn kind(&self) -> &'static str {
        match self {
            Reject::Malformed(_) => "malformed",
            Reject::Incompatible(_) => "incompatible",
            Reject::BadTag => "bad tag",
            Reject::Own => "own",
            Reject::Stale { .. } => "stale",
            Reject::Replayed => "replayed",
            Reject::BadAddress(_) => "bad address",
            Reject::RateLimited => "rate limited",
        }
    }
}

impl Beacon {
    /// The beacon's bytes, tagged.
    pub(crate) fn encode(&self, key: &BeaconKey) -> Vec<u8> {
        let mut out = Vec::with_capacity(MIN_BEACON + 12 + self.name.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&PROTOCOL_MAJOR.to_be_bytes());
        out.extend_from_slice(&self.minor.to_be_bytes());
        out.push(if self.tls { FLAG_TLS } else { 0 });
        out.extend_from_slice(&self.incarnation.to_be_bytes());
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        match self.listen.ip() {
            IpAddr::V4(ip) => {
                out.push(4);
                out.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                out.push(6);
                out.extend_from_slice(&ip.octets());
            }
        }
        out.extend_from_slice(&self.listen.port().to_be_bytes());
        let name = truncated(&self.name, MAX_NAME);
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
        let mut mac = key.mac();
        mac.update(&out);
        out.extend_from_slice(&mac.finalize().into_bytes());
        out
    }

    /// Checks a datagram's size, magic, version and tag, then reads it.
    pub(crate) fn decode(bytes: &[u8], key: &BeaconKey) -> Result<Beacon, Reject> {
        if bytes.len() > MAX_BEACON {
            return Err(Reject::Malformed("too long"));
        }
        if bytes.len() < MIN_BEACON {
            return Err(Reject::Malformed("too short"));
        }
        if bytes[..4] != MAGIC {
            return Err(Reject::Malformed("not a beacon (bad magic)"));
        }
        let major = u16::from_be_bytes([bytes[4], bytes[5]]);
        if major != PROTOCOL_MAJOR {
            return Err(Reject::Incompatible(format!(
                "protocol version {major} (this is {PROTOCOL_MAJOR})"
            )));
        }
        let (body, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        let mut mac = key.mac();
        mac.update(body);
        mac.verify_slice(tag).map_err(|_| Reject::BadTag)?;
        let mut r = Reader(&body[6..]);
        let minor = r.u16()?;
        let flags = r.u8()?;
        let incarnation = r.u64()?;
        let timestamp_ms = r.u64()?;
        let nonce: [u8; NONCE_LEN] = r
            .take(NONCE_LEN)?
            .try_into()
            .map_err(|_| Reject::Malformed("nonce"))?;
        let ip = match r.u8()? {
            4 => {
                let o: [u8; 4] = r.take(4)?.try_into().map_err(|_| Reject::Malformed("ip"))?;
                IpAddr::V4(Ipv4Addr::from(o))
            }
            6 => {
                let o: [u8; 16] = r
                    .take(16)?
                    .try_into()
                    .map_err(|_| Reject::Malformed("ip"))?;
                IpAddr::V6(Ipv6Addr::from(o))
            }
            _ => return Err(Reject::Malformed("unknown address family")),
        };
        let port = r.u16()?;
        let name_len = r.u8()? as usize;
        let name = std::str::from_utf8(r.take(name_len)?)
            .map_err(|_| Reject::Malformed("name is not UTF-8"))?
            .to_string();
        if !r.0.is_empty() {
            return Err(Reject::Malformed("trailing bytes"));
        }
        Ok(Beacon {
            minor,
            tls: flags & FLAG_TLS != 0,
            incarnation,
            timestamp_ms,
            nonce,
            listen: SocketAddr::new(ip, port),
            name,
        })
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncated(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Reject> {
        if self.0.len() < n {
            return Err(Reject::Malformed("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, Reject> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Reject> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u64(&mut self) -> Result<u64, Reject> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }
}

/// A token bucket.
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: burst,
            last: now,
        }
    }

    fn take(&mut self, burst: f64, rate: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

struct Sender {
    bucket: Bucket,
    last_seen: Instant,
    /// Beacons heard from it while it was not connected, since this node last did
    /// something about it.
    unanswered: u32,
}

/// A beacon that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Heard {
    pub(crate) incarnation: u64,
    pub(crate) location: Location,
    pub(crate) name: String,
}

/// The checks on received beacons, and what they remember: the replay cache and the
/// senders' rates. Apart from the node, so it can be tested alone.
pub(crate) struct Checker {
    key: BeaconKey,
    me: u64,
    my_location: Location,
    tls: bool,
    /// `(incarnation, nonce)` → until when (wall-clock ms) the beacon would be fresh.
    replay: HashMap<(u64, [u8; NONCE_LEN]), u64>,
    senders: HashMap<u64, Sender>,
}

impl Checker {
    pub(crate) fn new(key: BeaconKey, me: u64, my_location: Location, tls: bool) -> Checker {
        Checker {
            key,
            me,
            my_location,
            tls,
            replay: HashMap::new(),
            senders: HashMap::new(),
        }
    }

    /// Checks a datagram from `from`, received when the wall clock read `now_ms` and the
    /// runtime's clock `now`.
    pub(crate) fn check(
        &mut self,
        bytes: &[u8],
        from: SocketAddr,
        now_ms: u64,
        now: Instant,
    ) -> Result<Heard, Reject> {
        let beacon = Beacon::decode(bytes, &self.key)?;
        if beacon.incarnation == self.me {
            return Err(Reject::Own);
        }
        let skew_ms = beacon.timestamp_ms as i64 - now_ms as i64;
        if skew_ms.unsigned_abs() > FRESHNESS.as_millis() as u64 {
            return Err(Reject::Stale { skew_ms });
        }
        self.remember(&beacon, now_ms)?;
        if beacon.tls != self.tls {
            return Err(Reject::Incompatible(if beacon.tls {
                "the sender uses TLS and this node does not".into()
            } else {
                "this node uses TLS and the sender does not".into()
            }));
        }
        let location = self.location_of(&beacon, from)?;
        self.admit(beacon.incarnation, now)?;
        Ok(Heard {
            incarnation: beacon.incarnation,
            location,
            name: beacon.name,
        })
    }

    /// Records the beacon in the replay cache; fails if it is there already.
    fn remember(&mut self, beacon: &Beacon, now_ms: u64) -> Result<(), Reject> {
        let key = (beacon.incarnation, beacon.nonce);
        if self.replay.contains_key(&key) {
            return Err(Reject::Replayed);
        }
        if self.replay.len() >= REPLAY_CAPACITY {
            self.replay.retain(|_, fresh_until| *fresh_until >= now_ms);
        }
        if self.replay.len() >= REPLAY_CAPACITY {
            // Full of fresh beacons (only holders of the secret can make them): forget
            // the one that goes stale first; it is refused as stale soon anyway.
            if let Some(oldest) = self
                .replay
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(k, _)| *k)
            {
                self.replay.remove(&oldest);
            }
        }
        let fresh_until = beacon
            .timestamp_ms
            .saturating_add(FRESHNESS.as_millis() as u64);
        self.replay.insert(key, fresh_until);
        Ok(())
    }

    /// Where to connect to the beacon's sender.
    fn location_of(&self, beacon: &Beacon, from: SocketAddr) -> Result<Location, Reject> {
        let mut addr = beacon.listen;
        if addr.port() == 0 {
            return Err(Reject::BadAddress("port 0"));
        }
        if addr.ip().is_unspecified() {
            // It listens on every interface: reach it where the beacon came from.
            addr.set_ip(from.ip());
        }
        if addr.ip().is_multicast() || addr.ip().is_unspecified() {
            return Err(Reject::BadAddress("not a unicast address"));
        }
        if addr.ip().is_loopback() && !from.ip().is_loopback() {
            return Err(Reject::BadAddress(
                "a loopback address, from another machine",
            ));
        }
        if let (SocketAddr::V6(a), SocketAddr::V6(f)) = (&mut addr, from) {
            if a.scope_id() == 0 && (a.ip().segments()[0] & 0xffc0) == 0xfe80 {
                // A link-local address: on the interface the beacon came in on.
                *a = SocketAddrV6::new(*a.ip(), a.port(), 0, f.scope_id());
            }
        }
        let location = Location::from(addr);
        if location == self.my_location {
            return Err(Reject::BadAddress("this node's own address"));
        }
        Ok(location)
    }

    /// The sender's rate limit.
    fn admit(&mut self, incarnation: u64, now: Instant) -> Result<(), Reject> {
        if !self.senders.contains_key(&incarnation) && self.senders.len() >= SENDER_CAPACITY {
            let idle = FRESHNESS * 2;
            self.senders
                .retain(|_, s| now.saturating_duration_since(s.last_seen) < idle);
            if self.senders.len() >= SENDER_CAPACITY {
                return Err(Reject::RateLimited);
            }
        }
        let sender = self.senders.entry(incarnation).or_insert_with(|| Sender {
            bucket: Bucket::full(SENDER_BURST, now),
            last_seen: now,
            unanswered: 0,
        });
        sender.last_seen = now;
        if sender.bucket.take(SENDER_BURST, SENDER_RATE, now) {
            Ok(())
        } else {
            Err(Reject::RateLimited)
        }
    }

    /// Another beacon from a sender that is not connected: how many so far.
    fn unanswered(&mut self, incarnation: u64) -> u32 {
        self.senders.get_mut(&incarnation).map_or(0, |s| {
            s.unanswered += 1;
            s.unanswered
        })
    }

    /// The sender is connected, or this node is connecting to it.
    fn settled(&mut self, incarnation: u64) {
        if let Some(s) = self.senders.get_mut(&incarnation) {
            s.unanswered = 0;
        }
    }
}

/// Milliseconds since the Unix epoch on this machine's clock.
fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Opens the discovery socket: bound to the port on every address, shared with the
/// other nodes of this machine, joined to the group.
fn open_socket(group: DiscoveryGroup, port: u16) -> io::Result<(UdpSocket, SocketAddr)> {
    use socket2::{Domain, Protocol, Socket, Type};
    let (domain, bind, dest) = match group {
        DiscoveryGroup::Broadcast(ip) => (
            Domain::IPV4,
            SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port),
            SocketAddr::new(ip.into(), port),
        ),
        DiscoveryGroup::MulticastV4 { group, .. } => (
            Domain::IPV4,
            SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port),
            SocketAddr::new(group.into(), port),
        ),
        DiscoveryGroup::MulticastV6 { group, interface } => (
            Domain::IPV6,
            SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port),
            SocketAddr::V6(SocketAddrV6::new(group, port, 0, interface)),
        ),
    };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    #[cfg(all(
        unix,
        not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
    ))]
    socket.set_reuse_port(true)?;
    if domain == Domain::IPV6 {
        socket.set_only_v6(true)?;
    }
    socket.bind(&bind.into())?;
    match group {
        DiscoveryGroup::Broadcast(_) => {
            socket.set_broadcast(true)?;
            socket.set_ttl(1)?;
        }
        DiscoveryGroup::MulticastV4 { group, interface } => {
            socket.join_multicast_v4(&group, &interface)?;
            socket.set_multicast_if_v4(&interface)?;
            socket.set_multicast_loop_v4(true)?;
            socket.set_multicast_ttl_v4(1)?;
        }
        DiscoveryGroup::MulticastV6 { group, interface } => {
            socket.join_multicast_v6(&group, interface)?;
            socket.set_multicast_if_v6(interface)?;
            socket.set_multicast_loop_v6(true)?;
            socket.set_multicast_hops_v6(1)?;
        }
    }
    socket.set_nonblocking(true)?;
    Ok((socket.into(), dest))
}

fn invalid(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why)
}

/// Starts discovery on a node that was configured with it (nothing otherwise): opens the
/// socket, and spawns the task that beacons and listens.
///
/// # Errors
/// A bad configuration (port 0, a group that is not multicast, a weak secret off this
/// machine), or the socket's.
pub(crate) fn start(node: &Arc<Node>, secret: &[u8]) -> io::Result<()> {
    let config = node.config();
    if !config.discovery {
        return Ok(());
    }
    let group = config.effective_discovery_group();
    let port = config.discovery_port;
    if port == 0 {
        return Err(invalid("the discovery port cannot be 0".into()));
    }
    match group {
        DiscoveryGroup::MulticastV4 { group, .. } if !group.is_multicast() => {
            return Err(invalid(format!("{group} is not an IPv4 multicast group")));
        }
        DiscoveryGroup::MulticastV6 { group, .. } if !group.is_multicast() => {
            return Err(invalid(format!("{group} is not an IPv6 multicast group")));
        }
        _ => {}
    }
    if secret.len() < MIN_SECRET_LEN && !group.is_loopback() {
        return Err(invalid(format!(
            "discovery by {group} reaches other machines: it needs a secret of at least {MIN_SECRET_LEN} bytes"
        )));
    }
    if node.location().addr().ip().is_loopback() && !group.is_loopback() {
        tracing::warn!(%group, location = %node.location(), "the node listens on loopback: other machines that hear its beacons cannot connect to it");
    }
    let (socket, dest) = open_socket(group, port).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot open the discovery socket ({group}, port {port}): {e}"),
        )
    })?;
    let socket = Async::new(socket)?;
    let discovery = Arc::new(Discovery {
        counters: Counters::default(),
        stopped: AtomicBool::new(false),
        wake: Event::new(),
        dials: Mutex::new(Dials::default()),
    });
    if node.discovery.set(discovery.clone()).is_err() {
        return Ok(()); // started already
    }
    let checker = Checker::new(
        BeaconKey::derive(secret),
        node.incarnation(),
        node.location(),
        config.uses_tls(),
    );
    let task = Beaconing {
        node: node.clone(),
        discovery,
        socket,
        dest,
        checker,
        last_ts: 0,
        last_answer: None,
        dial_bucket: Bucket::full(DIALS_PER_SEC, node.clock().now()),
        warned: HashMap::new(),
    };
    node.spawn_system("rcos-net-discovery", move |_| task.run());
    tracing::info!(node = %node.me_name(), %group, port, "discovery on");
    Ok(())
}

/// The discovery task's state.
struct Beaconing {
    node: Arc<Node>,
    discovery: Arc<Discovery>,
    socket: Async<UdpSocket>,
    dest: SocketAddr,
    checker: Checker,
    last_ts: u64,
    last_answer: Option<Instant>,
    dial_bucket: Bucket,
    warned: HashMap<&'static str, Instant>,
}

/// What to do after a beacon.
enum Action {
    Nothing,
    Answer,
    Dial(Location),
}

impl Beaconing {
    async fn run(mut self) {
        let interval = self.node.config().beacon_interval;
        let clock = self.node.clock().clone();
        let mut next = clock.now();
        let mut buf = vec![0u8; MAX_BEACON + 1];
        loop {
            if self.discovery.is_stopped() {
                break;
            }
            let now = clock.now();
            if now >= next {
                self.send_beacon(false).await;
                next = now + jittered(interval);
            }
            let stop = self.discovery.wake.listen();
            if self.discovery.is_stopped() {
                break;
            }
            let socket = &self.socket;
            let received =
                futures_lite::future::or(async { Some(socket.recv_from(&mut buf).await) }, async {
                    futures_lite::future::or(clock.sleep_until(next), stop).await;
                    None
                })
                .await;
            match received {
                None => {}
                Some(Ok((n, from))) => {
                    bump(&self.discovery.counters.received);
                    match self.heard(&buf[..n], from) {
                        Action::Nothing => {}
                        Action::Answer => self.send_beacon(true).await,
                        Action::Dial(location) => self.dial(location),
                    }
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, "discovery socket error");
                    clock.sleep(Duration::from_millis(50)).await;
                }
            }
        }
        tracing::debug!(node = %self.node.me_name(), "discovery stopped");
    }

    /// Checks a datagram and decides what to do about it.
    fn heard(&mut self, bytes: &[u8], from: SocketAddr) -> Action {
        let now = self.node.clock().now();
        let heard = match self.checker.check(bytes, from, wall_ms(), now) {
            Ok(heard) => heard,
            Err(reject) => {
                bump(self.discovery.counters.of(&reject));
                self.report(&reject, from, now);
                return Action::Nothing;
            }
        };
        bump(&self.discovery.counters.accepted);
        if self.node.connected_peer(heard.incarnation).is_some() {
            self.checker.settled(heard.incarnation);
            return Action::Nothing;
        }
        tracing::debug!(peer = %heard.name, location = %heard.location, %from, "beacon from a node not connected");
        // The node with the lower incarnation connects; the other answers, so the first
        // learns of it at once. If the other does not connect all the same (its beacons
        // do not reach it, say), this one connects after a few beacons.
        let unanswered = self.checker.unanswered(heard.incarnation);
        if self.node.incarnation() < heard.incarnation || unanswered > UNANSWERED_BEFORE_DIAL {
            self.checker.settled(heard.incarnation);
            Action::Dial(heard.location)
        } else {
            Action::Answer
        }
    }

    /// Logs a rejected datagram: at `debug` always, at `warn` now and then for those
    /// that point at a misconfiguration.
    fn report(&mut self, reject: &Reject, from: SocketAddr, now: Instant) {
        match reject {
            Reject::Own => return,
            Reject::Malformed(_) | Reject::Replayed | Reject::RateLimited => {
                tracing::debug!(%from, reason = %reject, "beacon dropped");
                return;
            }
            _ => {}
        }
        let kind = reject.kind();
        let due = self
            .warned
            .get(kind)
            .is_none_or(|last| now.saturating_duration_since(*last) >= WARN_EVERY);
        if due {
            self.warned.insert(kind, now);
            tracing::warn!(%from, reason = %reject, "beacon dropped (more like it are logged at debug level for a while)");
        } else {
            tracing::debug!(%from, reason = %reject, "beacon dropped");
        }
    }

    /// Sends this node's beacon to the group.
    async fn send_beacon(&mut self, answer: bool) {
        let now = self.node.clock().now();
        if answer {
            if self
                .last_answer
                .is_some_and(|last| now.saturating_duration_since(last) < ANSWER_GAP)
            {
                bump(&self.discovery.counters.rate_limited);
                return;
            }
            self.last_answer = Some(now);
        }
        let mut nonce = [0u8; NONCE_LEN];
        if let Err(error) = getrandom::fill(&mut nonce) {
            tracing::warn!(%error, "no randomness for a beacon nonce: beacon not sent");
            return;
        }
        self.last_ts = wall_ms().max(self.last_ts + 1);
        let beacon = Beacon {
            minor: PROTOCOL_MINOR,
            tls: self.checker.tls,
            incarnation: self.node.incarnation(),
            timestamp_ms: self.last_ts,
            nonce,
            listen: self.node.location().addr(),
            name: self.node.me_name(),
        };
        let bytes = beacon.encode(&self.checker.key);
        match self.socket.send_to(&bytes, self.dest).await {
            Ok(_) => {
                bump(&self.discovery.counters.sent);
                if answer {
                    bump(&self.discovery.counters.answers);
                }
            }
            Err(error) => {
                bump(&self.discovery.counters.send_failed);
                let due = self
                    .warned
                    .get("send")
                    .is_none_or(|last| now.saturating_duration_since(*last) >= WARN_EVERY);
                if due {
                    self.warned.insert("send", now);
                    tracing::warn!(dest = %self.dest, %error, "cannot send a discovery beacon");
                }
            }
        }
    }

    /// Connects to a node a beacon told of, unless a connection to it is under way, it
    /// refused a moment ago, or too many connections are being started.
    fn dial(&mut self, location: Location) {
        let now = self.node.clock().now();
        {
            let mut dials = self.discovery.dials.lock();
            if dials.in_flight.contains(&location) {
                return;
            }
            if dials.retry_at.get(&location).is_some_and(|at| now < *at) {
                return;
            }
            if !self.dial_bucket.take(DIALS_PER_SEC, DIALS_PER_SEC, now) {
                drop(dials);
                bump(&self.discovery.counters.rate_limited);
                return;
            }
            dials.retry_at.remove(&location);
            dials.in_flight.insert(location);
        }
        bump(&self.discovery.counters.dials);
        let node = self.node.clone();
        let discovery = self.discovery.clone();
        let backoff = self
            .node
            .config()
            .beacon_interval
            .max(Duration::from_secs(1));
        self.node
            .spawn_system("rcos-net-discovery-dial", move |_| async move {
                let result = node.connect(location, true).await;
                let mut dials = discovery.dials.lock();
                dials.in_flight.remove(&location);
                if let Err(error) = result {
                    tracing::debug!(%location, %error, "connection to a discovered node failed");
                    if dials.retry_at.len() >= SENDER_CAPACITY {
                        let now = node.clock().now();
                        dials.retry_at.retain(|_, at| *at > now);
                    }
                    dials
                        .retry_at
                        .insert(location, node.clock().now() + backoff);
                }
            });
    }
}

/// `interval` ±10 %.
fn jittered(interval: Duration) -> Duration {
    let tenth = interval / 10;
    let spread = tenth.as_micros().min(u64::MAX as u128) as u64;
    interval - tenth + Duration::from_micros(fastrand::u64(0..=spread.saturating_mul(2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: u64 = 1_700_000_000_000;

    fn key() -> BeaconKey {
        BeaconKey::derive(b"a shared secret of some length")
    }

    fn beacon(incarnation: u64, nonce: u8) -> Beacon {
        Beacon {
            minor: PROTOCOL_MINOR,
            tls: false,
            incarnation,
            timestamp_ms: NOW_MS,
            nonce: [nonce; NONCE_LEN],
            listen: "127.0.0.1:4000".parse().unwrap(),
            name: "other".into(),
        }
    }

    fn checker() -> Checker {
        Checker::new(
            key(),
            1,
            "127.0.0.1:5000".parse::<Location>().unwrap(),
            false,
        )
    }

    fn from() -> SocketAddr {
        "127.0.0.1:9705".parse().unwrap()
    }

    #[test]
    fn beacons_round_trip_and_fit() {
        let mut b = beacon(7, 3);
        b.name = "é".repeat(200); // 400 bytes: cut to 255 at a character boundary
        let bytes = b.encode(&key());
        assert!(bytes.len() <= MAX_BEACON);
        let back = Beacon::decode(&bytes, &key()).unwrap();
        assert_eq!(back.name.len(), 254);
        assert_eq!(back.incarnation, 7);
        assert_eq!(back.listen, b.listen);
        let mut v6 = beacon(8, 4);
        v6.listen = "[fd00::1]:77".parse().unwrap();
        v6.tls = true;
        assert_eq!(Beacon::decode(&v6.encode(&key()), &key()).unwrap(), v6);
    }

    #[test]
    fn bad_datagrams_are_refused_with_their_reason() {
        let good = beacon(7, 3).encode(&key());
        let other_key = BeaconKey::derive(b"another secret, sixteen+");
        assert_eq!(Beacon::decode(&good, &other_key), Err(Reject::BadTag));
        for i in 0..good.len() {
            let mut flipped = good.clone();
            flipped[i] ^= 0x40;
            assert!(Beacon::decode(&flipped, &key()).is_err(), "byte {i}");
        }
        for len in 0..good.len() {
            assert!(
                Beacon::decode(&good[..len], &key()).is_err(),
                "length {len}"
            );
        }
        assert_eq!(
            Beacon::decode(&[0u8; MAX_BEACON + 1], &key()),
            Err(Reject::Malformed("too long"))
        );
        assert_eq!(
            Beacon::decode(&[0xffu8; 100], &key()),
            Err(Reject::Malformed("not a beacon (bad magic)"))
        );
        let mut v2 = good.clone();
        v2[5] = 2;
        assert!(matches!(
            Beacon::decode(&v2, &key()),
            Err(Reject::Incompatible(_))
        ));
    }

    #[test]
    fn stale_replayed_own_and_unusable_beacons_are_not_acted_on() {
        let now = Instant::now();
        let mut c = checker();
        let fresh = beacon(7, 1).encode(&key());
        let heard = c.check(&fresh, from(), NOW_MS, now).unwrap();
        assert_eq!(heard.location, "127.0.0.1:4000".parse().unwrap());
        assert_eq!(c.check(&fresh, from(), NOW_MS, now), Err(Reject::Replayed));

        let window = FRESHNESS.as_millis() as u64;
        let old = beacon(7, 2).encode(&key());
        assert!(matches!(
            c.check(&old, from(), NOW_MS + window + 1, now),
            Err(Reject::Stale { .. })
        ));
        assert!(matches!(
            c.check(&old, from(), NOW_MS - window - 1, now),
            Err(Reject::Stale { .. })
        ));

        assert_eq!(
            c.check(&beacon(1, 3).encode(&key()), from(), NOW_MS, now),
            Err(Reject::Own)
        );

        let mut loopback = beacon(8, 4);
        loopback.listen = "127.0.0.1:4001".parse().unwrap();
        let afar: SocketAddr = "192.0.2.9:9705".parse().unwrap();
        assert!(matches!(
            c.check(&loopback.encode(&key()), afar, NOW_MS, now),
            Err(Reject::BadAddress(_))
        ));

        let mut anywhere = beacon(9, 5);
        anywhere.listen = "0.0.0.0:4002".parse().unwrap();
        let heard = c
            .check(&anywhere.encode(&key()), afar, NOW_MS, now)
            .unwrap();
        assert_eq!(heard.location, "192.0.2.9:4002".parse().unwrap());

        let mut tls = beacon(10, 6);
        tls.tls = true;
        assert!(matches!(
            c.check(&tls.encode(&key()), from(), NOW_MS, now),
            Err(Reject::Incompatible(_))
        ));
    }

    #[test]
    fn a_sender_is_rate_limited() {
        let now = Instant::now();
        let mut c = checker();
        let results: Vec<bool> = (0..20u8)
            .map(|n| {
                c.check(&beacon(7, n).encode(&key()), from(), NOW_MS, now)
                    .is_ok()
            })
            .collect();
        assert_eq!(
            results.iter().filter(|ok| **ok).count(),
            SENDER_BURST as usize
        );
        // Another sender is not affected.
        assert!(
            c.check(&beacon(8, 99).encode(&key()), from(), NOW_MS, now)
                .is_ok()
        );
        // Tokens come back with time.
        let later = now + Duration::from_secs(1);
        assert!(
            c.check(&beacon(7, 100).encode(&key()), from(), NOW_MS, later)
                .is_ok()
        );
    }

    #[test]
    fn the_replay_cache_stays_bounded() {
        let mut c = checker();
        for n in 0..(REPLAY_CAPACITY as u64 + 100) {
            let mut b = beacon(1000 + n, 0);
            b.nonce[..8].copy_from_slice(&n.to_be_bytes());
            let _ = c.remember(&b, NOW_MS);
        }
        assert!(c.replay.len() <= REPLAY_CAPACITY);
    }

    #[test]
    fn the_beacon_key_is_not_the_handshake_key() {
        let secret = b"a shared secret of some length";
        let hs = format!("{:?}", super::super::handshake::AuthKey::derive(secret));
        assert_eq!(hs, "AuthKey(..)");
        // Same salt, another label: the outputs differ from a plain re-derivation with
        // the handshake's label.
        let hk = Hkdf::<Sha256>::new(Some(b"rcos secret v1"), secret);
        let mut auth = [0u8; 32];
        hk.expand(b"rcos auth key", &mut auth).unwrap();
        assert_ne!(BeaconKey::derive(secret).0, auth);
    }
}
