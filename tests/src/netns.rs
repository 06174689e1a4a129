//! Network namespaces the fault tests make for themselves (a veth pair between two of
//! them, blackhole routes for partitions, the link set down and up for flapping), and
//! nodes run as child processes — in a namespace or not — that a test can kill,
//! stop, and talk to line by line.
//!
//! A child node is the test binary itself, started again to run only its helper test
//! (see [`child_main`]) with its role in the `RCOS_TEST_CHILD` variable: no separate
//! program to build. Everything made here is removed when its guard drops, also when
//! the test fails.

use std::io::BufRead;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rcos::net::{self, PeerStatus};
use rcos::task::MonitorStatus;
use rcos::{Interrupt, Runtime, TaskRef};

use crate::programs::Running;

/// The variable that makes a test binary a child node (its value: the configuration).
pub const CHILD_ENV: &str = "RCOS_TEST_CHILD";

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("`ip` cannot run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

static SERIAL: AtomicU32 = AtomicU32::new(0);

/// A short name unique to this process and call (interface names are at most 15
/// bytes).
fn unique(prefix: &str) -> String {
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}x{n}", std::process::id() % 100_000)
}

/// Whether this process may make network namespaces: `Err(why)` if not (not root, no
/// `ip`, or the kernel refuses).
pub fn usable() -> Result<(), String> {
    let probe = Netns::new()?;
    drop(probe);
    Ok(())
}

/// A network namespace, deleted (with its interfaces) when dropped.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Makes a namespace with a fresh name and its loopback up.
    pub fn new() -> Result<Netns, String> {
        let name = unique("rcos");
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME args…`.
    pub fn ip(&self, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        ip(&all)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.name]) {
            eprintln!("netns {}: not deleted: {e}", self.name);
        }
    }
}

/// Which way a partition cuts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Packets from A to B are dropped (B to A still flow).
    AToB,
    /// Packets from B to A are dropped.
    BToA,
    /// Both ways.
    Both,
}

/// Two namespaces, A and B, joined by a veth pair on a /24 of their own.
#[derive(Debug)]
pub struct Pair {
    dev_a: String,
    /// Namespace A.
    pub a: Netns,
    /// Namespace B.
    pub b: Netns,
    /// A's address on the link.
    pub addr_a: Ipv4Addr,
    /// B's address on the link.
    pub addr_b: Ipv4Addr,
}

impl Pair {
    /// Makes the two namespaces and the link between them, up.
    pub fn new() -> Result<Pair, String> {
        let (a, b) = (Netns::new()?, Netns::new()?);
        let n = SERIAL.fetch_add(1, Ordering::Relaxed);
        let subnet = (std::process::id() % 200 + n * 7) % 250 + 1;
        let addr_a = Ipv4Addr::new(10, 213, subnet as u8, 1);
        let addr_b = Ipv4Addr::new(10, 213, subnet as u8, 2);
        let (dev_a, dev_b) = (unique("va"), unique("vb"));
        ip(&[
            "link",
            "add",
            &dev_a,
            "netns",
            a.name(),
            "type",
            "veth",
            "peer",
            "name",
            &dev_b,
            "netns",
            b.name(),
        ])?;
        a.ip(&["addr", "add", &format!("{addr_a}/24"), "dev", &dev_a])?;
        b.ip(&["addr", "add", &format!("{addr_b}/24"), "dev", &dev_b])?;
        a.ip(&["link", "set", &dev_a, "up"])?;
        b.ip(&["link", "set", &dev_b, "up"])?;
        Ok(Pair {
            dev_a,
            a,
            b,
            addr_a,
            addr_b,
        })
    }

    /// Starts (`on`) or ends a partition: blackhole routes in the sending namespace(s).
    pub fn partition(&self, cut: Cut, on: bool) -> Result<(), String> {
        let verb = if on { "add" } else { "del" };
        if matches!(cut, Cut::AToB | Cut::Both) {
            self.a
                .ip(&["route", verb, "blackhole", &format!("{}/32", self.addr_b)])?;
        }
        if matches!(cut, Cut::BToA | Cut::Both) {
            self.b
                .ip(&["route", verb, "blackhole", &format!("{}/32", self.addr_a)])?;
        }
        Ok(())
    }

    /// Sets A's end of the link down or up (both ends lose carrier).
    pub fn link(&self, up: bool) -> Result<(), String> {
        self.a
            .ip(&["link", "set", &self.dev_a, if up { "up" } else { "down" }])
    }
}

/// A namespace joined to this process's own namespace by a veth pair on a /24 of
/// their own (10.214.x.0/24): a node of the test process (on the host side) and child
/// nodes in the namespace reach each other across it, and it can be shaped with `tc`.
#[derive(Debug)]
pub struct Link {
    dev_host: String,
    dev_ns: String,
    /// The namespace (deleted after the link, when dropped).
    pub ns: Netns,
    /// The host side's address.
    pub addr_host: Ipv4Addr,
    /// The namespace side's address.
    pub addr_ns: Ipv4Addr,
}

impl Link {
    /// Makes the namespace and the link to it, up.
    pub fn new() -> Result<Link, String> {
        let ns = Netns::new()?;
        let n = SERIAL.fetch_add(1, Ordering::Relaxed);
        let subnet = (std::process::id() % 200 + n * 7) % 250 + 1;
        let addr_host = Ipv4Addr::new(10, 214, subnet as u8, 1);
        let addr_ns = Ipv4Addr::new(10, 214, subnet as u8, 2);
        let (dev_host, dev_ns) = (unique("vh"), unique("vn"));
        ip(&[
            "link",
            "add",
            &dev_host,
            "type",
            "veth",
            "peer",
            "name",
            &dev_ns,
            "netns",
            ns.name(),
        ])?;
        // From here on, dropping the link deletes the pair.
        let link = Link {
            dev_host,
            dev_ns,
            ns,
            addr_host,
            addr_ns,
        };
        ip(&[
            "addr",
            "add",
            &format!("{addr_host}/24"),
            "dev",
            &link.dev_host,
        ])?;
        link.ns
            .ip(&["addr", "add", &format!("{addr_ns}/24"), "dev", &link.dev_ns])?;
        ip(&["link", "set", &link.dev_host, "up"])?;
        link.ns.ip(&["link", "set", &link.dev_ns, "up"])?;
        Ok(link)
    }

    /// Limits both directions of the link to `rate` (a `tc` rate: `"1mbit"`) with a
    /// token bucket filter (`tc qdisc … tbf`, 32 kbit burst, 400 ms queue).
    pub fn shape(&self, rate: &str) -> Result<(), String> {
        let tbf = [
            "root", "tbf", "rate", rate, "burst", "32kbit", "latency", "400ms",
        ];
        let mut host = vec!["qdisc", "add", "dev", &self.dev_host];
        host.extend_from_slice(&tbf);
        tc(&host)?;
        let mut ns = vec!["-n", self.ns.name(), "qdisc", "add", "dev", &self.dev_ns];
        ns.extend_from_slice(&tbf);
        tc(&ns)
    }

    /// The host side's interface name.
    pub fn dev_host(&self) -> &str {
        &self.dev_host
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Deleting one end deletes the pair (and its qdiscs); the namespace goes next.
        let _ = ip(&["link", "del", &self.dev_host]);
    }
}

fn tc(args: &[&str]) -> Result<(), String> {
    let out = Command::new(which("tc"))
        .args(args)
        .output()
        .map_err(|e| format!("`tc` cannot run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`tc {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// How a child node is configured (passed to it in [`CHILD_ENV`]).
#[derive(Clone, Debug)]
pub struct ChildConfig {
    /// The node's name.
    pub name: String,
    /// Where it listens (port 0: any).
    pub bind: SocketAddr,
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// Heartbeats missed before a peer is down.
    pub misses: u32,
    /// How long a broken connection may take to come back.
    pub grace: Duration,
    /// The address it announces, when not the bound one (behind a proxy).
    pub external: Option<SocketAddr>,
}

impl ChildConfig {
    /// A child on loopback with the test nodes' quick heartbeats (100 ms, 4 missed).
    pub fn new(name: &str) -> ChildConfig {
        ChildConfig {
            name: name.to_string(),
            bind: "127.0.0.1:0".parse().expect("an address"),
            heartbeat: Duration::from_millis(100),
            misses: 4,
            grace: Duration::from_millis(500),
            external: None,
        }
    }

    fn encode(&self) -> String {
        format!(
            "{};{};{};{};{};{}",
            self.name,
            self.bind,
            self.heartbeat.as_millis(),
            self.misses,
            self.grace.as_millis(),
            self.external
                .map(|a| a.to_string())
                .unwrap_or_else(|| "-".into())
        )
    }

    fn decode(s: &str) -> Option<ChildConfig> {
        let mut it = s.split(';');
        Some(ChildConfig {
            name: it.next()?.to_string(),
            bind: it.next()?.parse().ok()?,
            heartbeat: Duration::from_millis(it.next()?.parse().ok()?),
            misses: it.next()?.parse().ok()?,
            grace: Duration::from_millis(it.next()?.parse().ok()?),
            external: it.next().and_then(|a| a.parse().ok()),
        })
    }

    /// The node configuration this describes.
    pub fn node_config(&self) -> rcos::net::NodeConfig {
        let config = rcos::net::NodeConfig::new()
            .secret(crate::SECRET)
            .name(self.name.clone())
            .bind(self.bind)
            .heartbeat(self.heartbeat, self.misses)
            .reconnect_grace(self.grace);
        match self.external {
            Some(at) => config.external_address(at),
            None => config,
        }
    }
}

/// A child node process.
#[derive(Debug)]
pub struct Child {
    /// Its output, line by line, and its input.
    pub running: Running,
    /// Its process id.
    pub pid: u32,
    /// Where it listens.
    pub location: SocketAddr,
}

impl Child {
    /// Starts the test binary again as a child node running its helper test `helper`
    /// (which must call [`child_main`]), inside `ns` if given, and waits until it
    /// listens.
    pub fn spawn(helper: &str, ns: Option<&Netns>, config: &ChildConfig) -> Child {
        let exe: PathBuf = std::env::current_exe().expect("the test binary's path");
        let exe = exe.to_string_lossy().into_owned();
        let role = format!("{CHILD_ENV}={}", config.encode());
        let mut args: Vec<String> = Vec::new();
        if let Some(ns) = ns {
            args.extend(["netns", "exec", ns.name(), "env"].map(String::from));
        }
        args.extend([
            role,
            exe,
            helper.to_string(),
            "--exact".into(),
            "--ignored".into(),
            "--nocapture".into(),
            "--test-threads=1".into(),
        ]);
        let launcher = if ns.is_some() { "ip" } else { "env" };
        let launcher = which(launcher);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut running = Running::spawn(&config.name, launcher, &args, None);
        let pid = after(&running.expect("child-pid "), "child-pid ")
            .parse()
            .expect("a pid");
        let location = after(&running.expect("child-listening "), "child-listening ")
            .parse()
            .expect("an address");
        Child {
            running,
            pid,
            location,
        }
    }

    /// Sends the child a signal (`"STOP"`, `"CONT"`, `"KILL"`…) with `kill`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} {} failed", self.pid);
    }

    /// Types a command line to the child.
    pub fn say(&mut self, line: &str) {
        self.running.type_line(line);
    }

    /// Waits for the child's next line containing `needle`.
    pub fn expect(&mut self, needle: &str) -> String {
        self.running.expect(needle)
    }
}

fn which(program: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = PathBuf::from(dir).join(program);
        if p.exists() {
            return p;
        }
    }
    PathBuf::from(program)
}

/// The word after `marker` in `line` (the test harness may print before it).
pub fn after(line: &str, marker: &str) -> String {
    line.split_once(marker)
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or_default()
        .to_string()
}

/// Wall-clock microseconds (comparable between processes of this machine).
pub fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// A task that waits until it is terminated: what monitors watch.
#[rcos::task(remote)]
pub async fn idle(task: TaskRef) -> Result<(), Interrupt> {
    task.suspend(None).await.map(|_| ())
}

/// A task that ends when it gets any message (so a monitor tells whether one arrived).
#[rcos::task(remote)]
pub async fn until_message(task: TaskRef) -> Result<(), Interrupt> {
    task.receive().await.map(|_| ())
}

/// One message of a stream: who sent it, its number in the sender's stream, when
/// ([`wall_us`]).
pub type StreamMsg = (u64, u64, u64);

/// Sends [`StreamMsg`]s to `to` at about `rate` per second until the runtime ends,
/// counting sends that failed. Returns the sending task.
pub fn stream_to(rt: &Runtime, id: u64, to: TaskRef, rate: u64) -> TaskRef {
    rt.spawn(move |task| async move {
        let (mut seq, start) = (0u64, Instant::now());
        loop {
            // Catch up with the rate in bursts, then wait for the next millisecond.
            let due = start.elapsed().as_micros() as u64 * rate / 1_000_000;
            while seq < due {
                let _ = to.send((id, seq, wall_us()));
                seq += 1;
            }
            // Pacing, not synchronisation: a `()` ends the stream.
            match task.receive_timeout(Duration::from_millis(1)).await {
                Ok(Some(m)) if m.is::<()>() => return seq,
                Err(_) => return seq,
                _ => {}
            }
        }
    })
}

/// The body of a child node: call it first thing in the helper test, which returns at
/// once when not started as a child. It prints `child-pid N`, `child-listening ADDR`,
/// and answers commands, one a line on its input:
///
/// * `peer ADDR` — connect to a node and keep the connection (`peered ADDR`);
/// * `status` — print `peer-up NAME` / `peer-down NAME` as peers come and go;
/// * `watch ADDR N` — spawn N [`idle()`] tasks there and monitor them all
///   (`watching N`, then `notice I EXIT` for each status and `notices N` once all came);
/// * `stream ADDR NAME RATE` — send [`StreamMsg`]s to the task registered as NAME
///   there, RATE a second (`streaming`);
/// * `subscribe ADDR CHANNEL` — subscribe a task to the channel registered there; it
///   prints `broadcast-out-of-order` if the `u64`s it gets ever go back (`subscribed`);
/// * `quit` — end.
///
/// It also runs a task registered as `child-sink` that takes any message.
pub fn child_main() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let config = ChildConfig::decode(&role).expect("a child configuration");
    crate::log_if_asked();
    let rt = Runtime::builder()
        .workers(2)
        .name(config.name.clone())
        .node(config.node_config())
        .build()
        .expect("the child node starts");
    // A sink that takes anything (for acknowledged deliveries to this node).
    let sink = rt.spawn(|task| async move {
        loop {
            task.receive().await?;
        }
        #[allow(unreachable_code)]
        Ok::<(), Interrupt>(())
    });
    sink.register("child-sink").expect("registered");
    println!("child-pid {}", std::process::id());
    // Where it is bound (its location is its external address, when it has one).
    println!("child-listening {}", rt.bound_address().expect("a node"));
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["peer", addr] => {
                let addr: SocketAddr = addr.parse().expect("an address");
                let result = rt.block_on(async move { net::peer(addr).await });
                match result {
                    Ok(()) => println!("peered {addr}"),
                    Err(e) => println!("peer-failed {addr} {e}"),
                }
            }
            ["status"] => {
                rt.spawn(|me| async move {
                    net::peer_status(&me).expect("a node");
                    loop {
                        let s = me.receive_type::<PeerStatus>().await?;
                        let what = if s.online { "peer-up" } else { "peer-down" };
                        println!("{what} {} {}", s.name, wall_us());
                    }
                    #[allow(unreachable_code)]
                    Ok::<(), Interrupt>(())
                });
                println!("status-on");
            }
            ["watch", addr, n] => {
                let addr: SocketAddr = addr.parse().expect("an address");
                let n: usize = n.parse().expect("a count");
                rt.spawn(move |me| async move {
                    let handle = rcos::Handle::current().expect("inside a runtime");
                    for _ in 0..n {
                        match handle.spawn_at(addr.into(), idle, ()).await {
                            Ok(t) => {
                                let _ = me.monitor(&t);
                            }
                            Err(e) => {
                                println!("watch-failed {e}");
                                return Ok(());
                            }
                        }
                    }
                    println!("watching {n}");
                    for i in 0..n {
                        let s = me.receive_type::<MonitorStatus>().await?;
                        println!("notice {i} {} {}", s.exit, wall_us());
                    }
                    println!("notices {n}");
                    Ok::<(), Interrupt>(())
                });
            }
            ["stream", addr, name, rate] => {
                let addr: SocketAddr = addr.parse().expect("an address");
                let (name, rate) = (name.to_string(), rate.parse().expect("a rate"));
                let to = rt.block_on(async move {
                    TaskRef::locate_at(addr.into(), &name, Duration::from_secs(20)).await
                });
                match to {
                    Ok(to) => {
                        stream_to(&rt, std::process::id().into(), to, rate);
                        println!("streaming");
                    }
                    Err(e) => println!("stream-failed {e}"),
                }
            }
            ["subscribe", addr, channel] => {
                let addr: SocketAddr = addr.parse().expect("an address");
                let channel = channel.to_string();
                let reader = rt.spawn(|me| async move {
                    // Broadcast numbers must come in order; a gap is allowed (the
                    // subscription may be lost with a connection), going back is not.
                    let mut last: Option<u64> = None;
                    loop {
                        let n = me.receive_type::<u64>().await?;
                        if last.is_some_and(|l| n <= l) {
                            println!("broadcast-out-of-order {n} after {last:?}");
                        }
                        last = Some(n);
                    }
                    #[allow(unreachable_code)]
                    Ok::<(), Interrupt>(())
                });
                let done = rt.block_on(async move {
                    let ch = rcos::channel::Channel::locate_at(
                        addr.into(),
                        &channel,
                        Duration::from_secs(20),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                    ch.subscribe(&reader).await.map_err(|e| e.to_string())
                });
                match done {
                    Ok(()) => println!("subscribed"),
                    Err(e) => println!("subscribe-failed {e}"),
                }
            }
            ["quit"] => break,
            _ => println!("unknown command: {line}"),
        }
    }
    drop(rt);
    println!("child-done");
    std::process::exit(0);
}
