//! Discovery by authenticated UDP beacons: nodes of one process find each other over
//! loopback multicast and broadcast; a node with another secret, and forged, garbage
//! and replayed beacons, are never acted on; nodes with TLS find each other and not
//! nodes without; nodes in network namespaces made by the test find each other over a
//! veth link (IPv4 multicast and broadcast, IPv6 multicast), or the test says why it
//! cannot make them and passes.
//!
//! Each test uses a discovery port of its own (below the ephemeral range, away from the
//! default 9705), so tests running at once do not hear each other.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rcos::net::{self, DiscoveryGroup, DiscoveryStats, Location, NodeConfig, PeerStatus};
use rcos::{Interrupt, Request, Runtime, TaskRef};
use rcos_tests::{PATIENCE, SECRET, node_with, run};

const PORT_THREE: u16 = 0;
const PORT_BROADCAST: u16 = 1;
const PORT_SECRET: u16 = 2;
const PORT_FORGED: u16 = 3;
const PORT_NETNS_V4: u16 = 4;
const PORT_NETNS_BROADCAST: u16 = 5;
const PORT_NETNS_V6: u16 = 6;
const PORT_TLS: u16 = 7;

/// The discovery port of test number `n` (one of the `PORT_` constants): in 20000 to
/// 29999, below the ephemeral range, and different for each process, so that two runs
/// of these tests at once do not hear each other either.
fn port(n: u16) -> u16 {
    20_000 + (std::process::id() % 1250) as u16 * 8 + n
}

/// A node on loopback with discovery on `port` (the default group: pycos's IPv4 group on
/// the loopback interface), beaconing every 300 ms.
fn discovering(name: &str, port: u16) -> Runtime {
    discovering_with(name, NodeConfig::new().secret(SECRET), port)
}

fn discovering_with(name: &str, config: NodeConfig, port: u16) -> Runtime {
    node_with(
        name,
        config
            .discovery(true)
            .discovery_port(port)
            .discovery_interval(Duration::from_millis(300)),
    )
}

/// Blocks until the node `rt` has every one of `want` online (told by `peer_status`).
fn await_peers(rt: &Runtime, want: Vec<Location>) {
    run(rt, async move {
        let me = TaskRef::current().unwrap();
        net::peer_status(&me).unwrap();
        let mut online = HashSet::new();
        while !want.iter().all(|l| online.contains(l)) {
            let status = me.receive_type::<PeerStatus>().await.unwrap();
            if status.online {
                online.insert(status.location);
            } else {
                online.remove(&status.location);
            }
        }
    });
}

fn peers_of(rt: &Runtime) -> Vec<Location> {
    run(rt, async { net::peers() })
}

fn stats(rt: &Runtime) -> DiscoveryStats {
    rt.discovery_stats().expect("discovery is on")
}

/// Polls `cond` (counters have no notification) until it holds, for at most
/// [`PATIENCE`].
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Registers, on `rt`, a task named `name` that upper-cases `Request<String>`s.
fn serve_upper(rt: &Runtime, name: &str) -> TaskRef {
    let task = rt.spawn(|task| async move {
        loop {
            let msg = task.receive().await?;
            if let Ok(req) = msg.downcast::<Request<String>>() {
                let text = req.body().to_uppercase();
                let _ = req.reply(text);
            }
        }
        #[allow(unreachable_code)]
        Ok::<(), Interrupt>(())
    });
    task.set_daemon(true);
    task.register(name).unwrap();
    task
}

/// From `rt`, finds `name` on whichever peer has it and calls it.
fn locate_and_call(rt: &Runtime, name: &str) -> (String, Option<Location>) {
    let name = name.to_string();
    run(rt, async move {
        let task = TaskRef::locate(&name, Duration::from_secs(10))
            .await
            .unwrap();
        let reply: String = task
            .call("hello".to_string(), Duration::from_secs(10))
            .await
            .unwrap();
        (reply, task.location())
    })
}

#[test]
fn three_nodes_of_one_process_find_each_other_by_loopback_multicast() {
    let a = discovering("disc3-a", port(PORT_THREE));
    let b = discovering("disc3-b", port(PORT_THREE));
    let c = discovering("disc3-c", port(PORT_THREE));
    let (la, lb, lc) = (
        a.location().unwrap(),
        b.location().unwrap(),
        c.location().unwrap(),
    );
    await_peers(&a, vec![lb, lc]);
    await_peers(&b, vec![la, lc]);
    await_peers(&c, vec![la, lb]);
    let sorted = |mut v: Vec<Location>| {
        v.sort();
        v
    };
    assert_eq!(peers_of(&a), sorted(vec![lb, lc]));
    assert_eq!(peers_of(&b), sorted(vec![la, lc]));
    assert_eq!(peers_of(&c), sorted(vec![la, lb]));

    let _server = serve_upper(&c, "disc3-upper");
    let (reply, at) = locate_and_call(&a, "disc3-upper");
    assert_eq!(reply, "HELLO");
    assert_eq!(at, Some(lc));

    for rt in [&a, &b, &c] {
        let s = stats(rt);
        assert!(s.sent >= 1, "{s:?}");
        assert_eq!(s.bad_tag + s.malformed + s.stale, 0, "{s:?}");
    }
    // Each of the three connections was made by a node that accepted a beacon and
    // dialed (a node may be dialed before it accepts any beacon itself).
    let all = [&a, &b, &c].map(stats);
    assert!(all.iter().map(|s| s.accepted).sum::<u64>() >= 3, "{all:?}");
    assert!(all.iter().map(|s| s.dials).sum::<u64>() >= 3, "{all:?}");
}

#[test]
fn two_nodes_find_each_other_by_loopback_broadcast() {
    let group = DiscoveryGroup::Broadcast(Ipv4Addr::new(127, 255, 255, 255));
    let config = || NodeConfig::new().secret(SECRET).discovery_group(group);
    let a = discovering_with("discb-a", config(), port(PORT_BROADCAST));
    let b = discovering_with("discb-b", config(), port(PORT_BROADCAST));
    let (la, lb) = (a.location().unwrap(), b.location().unwrap());
    await_peers(&a, vec![lb]);
    await_peers(&b, vec![la]);
    let _server = serve_upper(&a, "discb-upper");
    assert_eq!(
        locate_and_call(&b, "discb-upper"),
        ("HELLO".to_string(), Some(la))
    );
}

#[test]
fn a_node_with_another_secret_is_never_connected() {
    let a = discovering("discs-a", port(PORT_SECRET));
    let b = discovering("discs-b", port(PORT_SECRET));
    let stranger = discovering_with(
        "discs-stranger",
        NodeConfig::new().secret(b"another secret, also long enough".to_vec()),
        port(PORT_SECRET),
    );
    let (la, lb) = (a.location().unwrap(), b.location().unwrap());
    await_peers(&a, vec![lb]);
    await_peers(&b, vec![la]);
    // Several of the stranger's beacons reach each of the others and are rejected (and
    // it rejects theirs).
    wait_until("the beacons across secrets are rejected", || {
        stats(&a).bad_tag >= 3 && stats(&b).bad_tag >= 3 && stats(&stranger).bad_tag >= 3
    });
    assert_eq!(peers_of(&a), [lb]);
    assert_eq!(peers_of(&b), [la]);
    assert_eq!(peers_of(&stranger), []);
    let s = stats(&stranger);
    assert_eq!((s.accepted, s.dials), (0, 0), "{s:?}");
    // The others connected to each other only (at most one dial each, both may race).
    assert!(stats(&a).dials + stats(&b).dials <= 2);
}

#[cfg(feature = "tls")]
#[test]
fn tls_nodes_discover_each_other_and_ignore_nodes_without_tls() {
    // pycos's model: one self-signed certificate that every node presents and trusts.
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let (cert, key) = (ck.cert.pem(), ck.key_pair.serialize_pem());
    let tls = || {
        NodeConfig::new()
            .secret(SECRET)
            .tls(cert.as_bytes(), key.as_bytes(), cert.as_bytes())
            .unwrap()
    };
    let a = discovering_with("disct-a", tls(), port(PORT_TLS));
    let b = discovering_with("disct-b", tls(), port(PORT_TLS));
    let plain = discovering("disct-plain", port(PORT_TLS));
    let (la, lb) = (a.location().unwrap(), b.location().unwrap());
    await_peers(&a, vec![lb]);
    await_peers(&b, vec![la]);
    wait_until("the beacons across transports are rejected", || {
        stats(&a).incompatible >= 2 && stats(&plain).incompatible >= 2
    });
    assert_eq!(peers_of(&a), [lb]);
    assert_eq!(peers_of(&plain), []);
    assert_eq!(stats(&plain).dials, 0);
    let _server = serve_upper(&b, "disct-upper");
    assert_eq!(
        locate_and_call(&a, "disct-upper"),
        ("HELLO".to_string(), Some(lb))
    );
}

/// A socket on the discovery port next to the nodes' (`SO_REUSEADDR` and `SO_REUSEPORT`,
/// as theirs), joined to the group on loopback: it hears every beacon, and what it
/// sends to the group reaches every node.
fn eavesdropper(port: u16) -> UdpSocket {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket.set_reuse_port(true).unwrap();
    socket
        .bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())
        .unwrap();
    socket
        .join_multicast_v4(&DiscoveryGroup::IPV4_GROUP, &Ipv4Addr::LOCALHOST)
        .unwrap();
    socket.set_multicast_if_v4(&Ipv4Addr::LOCALHOST).unwrap();
    socket.set_multicast_loop_v4(true).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    socket.into()
}

/// Offset of the (IPv4) port in a beacon: magic 4, version 4, flags 1, incarnation 8,
/// timestamp 8, nonce 16, family 1, address 4.
const PORT_OFFSET: usize = 46;

#[test]
fn forged_garbage_and_replayed_beacons_are_ignored() {
    let spy = eavesdropper(port(PORT_FORGED));
    let group = SocketAddr::from((DiscoveryGroup::IPV4_GROUP, port(PORT_FORGED)));
    let a = discovering("discf-a", port(PORT_FORGED));
    let c = discovering("discf-c", port(PORT_FORGED));
    let (la, lc) = (a.location().unwrap(), c.location().unwrap());
    await_peers(&a, vec![lc]);
    await_peers(&c, vec![la]);

    // A beacon sent once both nodes were listening: each has seen it (as its own, or
    // as the other's).
    let mut buf = [0u8; 2048];
    spy.set_nonblocking(true).unwrap();
    while spy.recv_from(&mut buf).is_ok() {} // the older ones
    spy.set_nonblocking(false).unwrap();
    let (n, _) = spy.recv_from(&mut buf).expect("a beacon arrives");
    let captured = buf[..n].to_vec();
    assert_eq!(&captured[..4], b"RCDB");
    let before = (stats(&a), stats(&c));

    // A listener no node has heard of, and beacons forged to point at it: a wrong tag
    // on an otherwise perfect beacon, and a tag cut short.
    let decoy = TcpListener::bind("127.0.0.1:0").unwrap();
    decoy.set_nonblocking(true).unwrap();
    let mut forged = captured.clone();
    forged[PORT_OFFSET..PORT_OFFSET + 2]
        .copy_from_slice(&decoy.local_addr().unwrap().port().to_be_bytes());
    let mut cut = forged.clone();
    cut.pop();
    let mut bad_version = captured.clone();
    bad_version[5] ^= 0x10;
    let garbage: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0x00],
        b"RCDB".to_vec(),
        b"RCDB\x00\x01\x00\x00 and then not a beacon at all, just words".to_vec(),
        vec![0xab; 4096],
        vec![0x5a; 60_000],
    ];
    let forgeries = [forged, cut];
    const REPLAYS: u64 = 20;
    for datagram in garbage.iter().chain(&forgeries).chain([&bad_version]) {
        spy.send_to(datagram, group).unwrap();
    }
    for _ in 0..REPLAYS {
        spy.send_to(&captured, group).unwrap();
    }

    let sent_bad = garbage.len() as u64;
    wait_until("every node has dropped every datagram", || {
        let (sa, sc) = (stats(&a), stats(&c));
        sa.malformed >= before.0.malformed + sent_bad
            && sc.malformed >= before.1.malformed + sent_bad
            && sa.bad_tag >= before.0.bad_tag + 2
            && sc.bad_tag >= before.1.bad_tag + 2
            && sa.incompatible > before.0.incompatible
            && sc.incompatible > before.1.incompatible
            && sa.replayed + sa.own + sc.replayed + sc.own
                >= before.0.replayed + before.0.own + before.1.replayed + before.1.own + 2 * REPLAYS
    });
    let (sa, sc) = (stats(&a), stats(&c));
    // Each replay is one node's own beacon and a replay for the other.
    assert_eq!(
        sa.replayed + sc.replayed - before.0.replayed - before.1.replayed,
        REPLAYS,
        "{sa:?} {sc:?}"
    );
    assert_eq!(sa.dials, before.0.dials, "{sa:?}");
    assert_eq!(sc.dials, before.1.dials, "{sc:?}");

    // Nothing changed: the nodes still talk, to each other only, and nobody dialed the
    // address the forgeries gave.
    let _server = serve_upper(&c, "discf-upper");
    assert_eq!(
        locate_and_call(&a, "discf-upper"),
        ("HELLO".to_string(), Some(lc))
    );
    assert_eq!(peers_of(&a), [lc]);
    assert_eq!(peers_of(&c), [la]);
    assert!(
        matches!(decoy.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a forged beacon led to a connection"
    );
}

// ---------------------------------------------------------------------------------
// Network namespaces: two nodes, each in a child process (this test binary, run again
// with `--exact netns_child`) inside a namespace of its own, joined by a veth pair.

/// Namespaces (and the veth pair between them) made by a test; deleted on drop.
struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

fn ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// One end of the link: its namespace, interface, address and interface index.
struct End {
    ns: String,
    addr: String,
    ifindex: u32,
}

/// Makes two namespaces joined by a veth pair, with the given addresses (`v6`: IPv6
/// ones, without duplicate address detection so they are usable at once).
fn make_link(tag: &str, addrs: [&str; 2], v6: bool) -> Result<(Namespaces, [End; 2]), String> {
    let id = std::process::id() % 100_000;
    let ns = [
        format!("rcos-disc-{tag}-{id}-a"),
        format!("rcos-disc-{tag}-{id}-b"),
    ];
    let ifs = [format!("rd{tag}{id}a"), format!("rd{tag}{id}b")];
    let mut made = Namespaces(Vec::new());
    for n in &ns {
        ip(&["netns", "add", n])?;
        made.0.push(n.clone());
    }
    ip(&[
        "link", "add", &ifs[0], "netns", &ns[0], "type", "veth", "peer", "name", &ifs[1], "netns",
        &ns[1],
    ])?;
    let mut ends = Vec::new();
    for i in 0..2 {
        ip(&["-n", &ns[i], "link", "set", "lo", "up"])?;
        ip(&["-n", &ns[i], "link", "set", &ifs[i], "up"])?;
        let prefix = if v6 { "/64" } else { "/24" };
        let cidr = format!("{}{prefix}", addrs[i]);
        let mut args = vec!["-n", &ns[i], "addr", "add", &cidr, "dev", &ifs[i]];
        if v6 {
            args.push("nodad");
        }
        ip(&args)?;
        let shown = ip(&["-n", &ns[i], "-o", "link", "show", "dev", &ifs[i]])?;
        let ifindex = shown
            .split(':')
            .next()
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| format!("no interface index in {shown:?}"))?;
        ends.push(End {
            ns: ns[i].clone(),
            addr: addrs[i].to_string(),
            ifindex,
        });
    }
    let ends: [End; 2] = ends.try_into().map_err(|_| "two ends".to_string())?;
    Ok((made, ends))
}

/// A child process running [`netns_child`] in a namespace.
struct ChildNode {
    child: Child,
    role: &'static str,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Drop for ChildNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_child(
    end: &End,
    role: &'static str,
    group: &str,
    port: u16,
    lines: mpsc::Sender<(&'static str, String)>,
) -> ChildNode {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &end.ns])
        .arg(exe)
        .args(["--exact", "netns_child", "--nocapture", "--test-threads=1"])
        .env("RCOS_DISC_CHILD", role)
        .env("RCOS_DISC_BIND", &end.addr)
        .env("RCOS_DISC_GROUP", group)
        .env("RCOS_DISC_PORT", port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test binary runs in the namespace");
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send((role, line)).is_err() {
                break;
            }
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    ChildNode {
        child,
        role,
        stderr: Some(stderr),
    }
}

/// Runs a node in each namespace, discovering with the group each is given (see
/// [`netns_child`] for the format); passes when each has found the other and located
/// its task.
fn discover_across(ends: &[End; 2], groups: [String; 2], port: u16) {
    let (tx, rx) = mpsc::channel();
    let mut children = vec![
        spawn_child(&ends[0], "a", &groups[0], port, tx.clone()),
        spawn_child(&ends[1], "b", &groups[1], port, tx),
    ];
    let deadline = Instant::now() + PATIENCE * 2;
    let mut found = HashSet::new();
    let mut transcript = Vec::new();
    while found.len() < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((role, line)) => {
                if line.contains("RCOS-DISC-OK") {
                    found.insert(role);
                }
                transcript.push(format!("{role}: {line}"));
            }
            Err(_) => break,
        }
    }
    if found.len() < 2 {
        let mut report = transcript.join("\n");
        for c in &mut children {
            let _ = c.child.kill();
            let status = c.child.wait();
            let stderr = c.stderr.take().map(|h| h.join().unwrap_or_default());
            report.push_str(&format!(
                "\n--- {} ({status:?}) stderr:\n{}",
                c.role,
                stderr.unwrap_or_default()
            ));
        }
        panic!("the nodes in the namespaces did not find each other:\n{report}");
    }
    // Both found each other: let them go (they end when their input closes).
    for c in &mut children {
        drop(c.child.stdin.take());
    }
    for c in &mut children {
        let end = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = c.child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > end {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            status.is_some_and(|s| s.success()),
            "child {} ended with {status:?}",
            c.role
        );
    }
    transcript.extend(rx.try_iter().map(|(role, line)| format!("{role}: {line}")));
    println!("{}", transcript.join("\n"));
}

/// Sets up a link, or explains why this machine cannot and returns `None` (the test
/// then passes, skipped).
fn link_or_skip(
    test: &str,
    tag: &str,
    addrs: [&str; 2],
    v6: bool,
) -> Option<(Namespaces, [End; 2])> {
    match make_link(tag, addrs, v6) {
        Ok(link) => Some(link),
        Err(why) => {
            println!(
                "SKIPPED {test}: cannot create network namespaces here (needs root and iproute2): {why}"
            );
            None
        }
    }
}

#[test]
fn nodes_in_two_network_namespaces_find_each_other_by_ipv4_multicast() {
    let Some((_ns, ends)) = link_or_skip(
        "ipv4 multicast across namespaces",
        "m",
        ["10.231.0.1", "10.231.0.2"],
        false,
    ) else {
        return;
    };
    let groups = [0, 1].map(|i| format!("multicast4:{}", ends[i].addr));
    discover_across(&ends, groups, port(PORT_NETNS_V4));
}

#[test]
fn nodes_in_two_network_namespaces_find_each_other_by_ipv4_broadcast() {
    let Some((_ns, ends)) = link_or_skip(
        "ipv4 broadcast across namespaces",
        "b",
        ["10.232.0.1", "10.232.0.2"],
        false,
    ) else {
        return;
    };
    let groups = [0, 1].map(|_| "broadcast:10.232.0.255".to_string());
    discover_across(&ends, groups, port(PORT_NETNS_BROADCAST));
}

#[test]
fn nodes_in_two_network_namespaces_find_each_other_by_ipv6_multicast() {
    let Some((_ns, ends)) = link_or_skip(
        "ipv6 multicast across namespaces",
        "6",
        ["fd77:231::1", "fd77:231::2"],
        true,
    ) else {
        return;
    };
    let groups = [0, 1].map(|i| format!("multicast6:{}", ends[i].ifindex));
    discover_across(&ends, groups, port(PORT_NETNS_V6));
}

/// Not a test of its own: the node of a child process started by the namespace tests
/// (it returns at once otherwise). `RCOS_DISC_CHILD` is its role (`a` or `b`),
/// `RCOS_DISC_BIND` its address, `RCOS_DISC_PORT` the discovery port and
/// `RCOS_DISC_GROUP` the group: `multicast4:IFADDR`, `broadcast:ADDR` or
/// `multicast6:IFINDEX`. It prints `RCOS-DISC-OK` once it has the other node as a peer
/// and has located the other's task, then waits for its input to close.
#[test]
fn netns_child() {
    let Ok(role) = std::env::var("RCOS_DISC_CHILD") else {
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is set"));
    let bind: std::net::IpAddr = var("RCOS_DISC_BIND").parse().unwrap();
    let port: u16 = var("RCOS_DISC_PORT").parse().unwrap();
    let group = var("RCOS_DISC_GROUP");
    let group = match group.split_once(':') {
        Some(("multicast4", ifaddr)) => DiscoveryGroup::multicast_v4(ifaddr.parse().unwrap()),
        Some(("broadcast", addr)) => DiscoveryGroup::Broadcast(addr.parse().unwrap()),
        Some(("multicast6", ifindex)) => DiscoveryGroup::multicast_v6(ifindex.parse().unwrap()),
        _ => panic!("bad RCOS_DISC_GROUP {group:?}"),
    };
    let rt = discovering_with(
        &format!("ns-{role}"),
        NodeConfig::new()
            .bind(SocketAddr::new(bind, 0))
            .secret(SECRET)
            .discovery_group(group),
        port,
    );
    let _server = serve_upper(&rt, &format!("ns-upper-{role}"));
    let other = if role == "a" { "b" } else { "a" };
    let peer = run(&rt, async move {
        let me = TaskRef::current().unwrap();
        net::peer_status(&me).unwrap();
        loop {
            let status = me.receive_type::<PeerStatus>().await.unwrap();
            if status.online {
                break status;
            }
        }
    });
    let (reply, at) = locate_and_call(&rt, &format!("ns-upper-{other}"));
    assert_eq!(reply, "HELLO");
    assert_eq!(at, Some(peer.location));
    println!(
        "RCOS-DISC-OK {role} found {} at {} ({group})",
        peer.name, peer.location
    );
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    println!("RCOS-DISC-STATS {role} {:?}", rt.discovery_stats());
}
