//! Channels across nodes (locate, remote subscribe/unsubscribe, send, deliver with n),
//! peer status notifications, `close_peer`, and a monitor told "node lost" when the
//! connection is cut and does not come back.

use std::time::Duration;

use rcos::channel::Channel;
use rcos::net::{self, PeerStatus};
use rcos::task::MonitorStatus;
use rcos::{Exit, Interrupt, TaskRef};
use rcos_tests::fault_proxy::FaultProxy;
use rcos_tests::{PATIENCE, node, run};

/// Collects `String`s until it has `n`, then returns them.
fn collector(rt: &rcos::Runtime, n: usize) -> TaskRef {
    rt.spawn(move |task| async move {
        let mut got = Vec::new();
        while got.len() < n {
            got.push(task.receive_type::<String>().await?);
        }
        Ok::<_, Interrupt>(got)
    })
}

fn collected(task: &TaskRef) -> Vec<String> {
    let exit = task.value_timeout(PATIENCE).expect("the collector ended");
    exit.value()
        .unwrap()
        .take::<Result<Vec<String>, Interrupt>>()
        .unwrap()
        .unwrap()
}

#[test]
fn a_channel_reaches_local_and_remote_subscribers() {
    let (a, b) = (node("ch-a"), node("ch-b"));
    let at = a.location().unwrap();
    let news = Channel::new_on(&a, "news").unwrap();
    news.register().unwrap();
    let local = collector(&a, 3);
    let remote = collector(&b, 2);
    run(&a, {
        let (news, local) = (news.clone(), local.clone());
        async move { news.subscribe(&local).await.unwrap() }
    });
    let remote2 = remote.clone();
    let reached = run(&b, async move {
        net::peer(at).await.unwrap();
        // Found among the peers, without naming the node.
        let news = Channel::locate("news", Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(news.name(), "news");
        news.subscribe(&remote2).await.unwrap();
        // Sent from `b`: both subscribers get it; deliver counts the tasks reached.
        let reached = news
            .deliver("one".to_string(), Duration::from_secs(10), 2)
            .await
            .unwrap();
        news.send("two".to_string()).unwrap();
        reached
    });
    assert_eq!(reached, 2);
    // Once the remote subscriber has both, it is unsubscribed; a later message reaches
    // only the local one.
    assert_eq!(collected(&remote), ["one", "two"]);
    let remote_ref = remote.clone();
    let after = run(&b, async move {
        let news = Channel::locate_at(at, "news", Duration::from_secs(10))
            .await
            .unwrap();
        // It has ended: the channel dropped it already, or unsubscribing finds nothing.
        let _ = news.unsubscribe(&remote_ref).await;
        news.deliver("three".to_string(), Duration::from_secs(10), 0)
            .await
            .unwrap()
    });
    assert_eq!(after, 1);
    assert_eq!(collected(&local), ["one", "two", "three"]);
}

#[test]
fn deliver_with_n_waits_for_a_remote_subscriber() {
    let (a, b) = (node("ch-c"), node("ch-d"));
    let at = a.location().unwrap();
    let chan = Channel::new_on(&a, "wait-for-two").unwrap();
    chan.register().unwrap();
    let local = collector(&a, 1);
    let remote = collector(&b, 1);
    run(&a, {
        let (chan, local) = (chan.clone(), local.clone());
        async move { chan.subscribe(&local).await.unwrap() }
    });
    // On `a`: wait for two subscribers (one is there).
    let waiting = a.spawn({
        let chan = chan.clone();
        move |_| async move {
            chan.deliver("both".to_string(), Duration::from_secs(30), 2)
                .await
                .map_err(|e| e.to_string())
        }
    });
    let remote2 = remote.clone();
    run(&b, async move {
        let chan = Channel::locate_at(at, "wait-for-two", Duration::from_secs(10))
            .await
            .unwrap();
        chan.subscribe(&remote2).await.unwrap();
    });
    let exit = waiting.value_timeout(PATIENCE).expect("deliver returned");
    let reached = exit
        .value()
        .unwrap()
        .take::<Result<usize, String>>()
        .unwrap()
        .unwrap();
    assert_eq!(reached, 2);
    assert_eq!(collected(&local), ["both"]);
    assert_eq!(collected(&remote), ["both"]);
}

#[test]
fn peer_status_replays_current_peers_and_reports_offline() {
    let (a, b) = (node("ps-a"), node("ps-b"));
    let at = a.location().unwrap();
    let b_at = b.location().unwrap();
    let a_name = "ps-a".to_string();
    // What `a` hears of its peers: `b` online, then `b` gone once `b` closes the
    // connection with a goodbye (it does not dial back: the close was on purpose).
    let a_hears = a.spawn(|task| async move {
        net::peer_status(&task).unwrap();
        let mut heard = Vec::new();
        while heard.len() < 2 {
            heard.push(task.receive_type::<PeerStatus>().await?);
        }
        Ok::<_, Interrupt>((heard, net::peers()))
    });
    a_hears.register("ps-a-hears").unwrap();
    let statuses = run(&b, async move {
        let me = TaskRef::current().unwrap();
        net::peer_status(&me).unwrap();
        net::peer(at).await.unwrap();
        let online = me.receive_type::<PeerStatus>().await.unwrap();
        // Only a task of this program subscribes here.
        let far = TaskRef::locate_at(at, "ps-a-hears", Duration::from_secs(10))
            .await
            .unwrap();
        assert!(matches!(
            net::peer_status(&far),
            Err(net::NetError::NotLocal)
        ));
        // A task that subscribes later hears of the current peers at once.
        let late = rcos::spawn(|task| async move {
            net::peer_status(&task).unwrap();
            task.receive_type::<PeerStatus>().await
        });
        let replayed = late.finish().await;
        net::close_peer(at).await.unwrap();
        let offline = me.receive_type::<PeerStatus>().await.unwrap();
        assert!(net::peers().is_empty());
        (online, replayed.is_returned(), offline)
    });
    let (online, replayed, offline) = statuses;
    assert_eq!(online.location, at);
    assert_eq!(online.name, a_name);
    assert!(online.online);
    assert!(replayed);
    assert_eq!(offline.location, at);
    assert!(!offline.online);
    let exit = a_hears
        .value_timeout(PATIENCE)
        .expect("`a` heard both statuses");
    let (heard, a_peers) = exit
        .value()
        .unwrap()
        .take::<Result<(Vec<PeerStatus>, Vec<rcos::net::Location>), Interrupt>>()
        .unwrap()
        .unwrap();
    let seen: Vec<_> = heard.iter().map(|s| (s.location, s.online)).collect();
    assert_eq!(seen, [(b_at, true), (b_at, false)]);
    assert!(
        a_peers.is_empty(),
        "`a` dialed back a closed peer: {a_peers:?}"
    );
    // Neither side got the connection back.
    assert!(run(&b, async { net::peers() }).is_empty());
}

#[test]
fn a_cut_connection_that_does_not_come_back_is_a_lost_node() {
    // Each node is reachable only through its own proxy: that is the address it
    // announces, so once both proxies cut (a partition), neither side can get back.
    let (proxy_a, proxy_b) = (FaultProxy::new(), FaultProxy::new());
    let via = proxy_a.addr();
    let behind = |name: &str, proxy: &FaultProxy| {
        let rt = rcos_tests::node_with(
            name,
            rcos::net::NodeConfig::new()
                .secret(rcos_tests::SECRET)
                .external_address(proxy.addr()),
        );
        proxy.forward_to(rt.bound_address().unwrap());
        assert_eq!(rt.location().unwrap().addr(), proxy.addr());
        rt
    };
    let a = behind("cut-a", &proxy_a);
    let b = behind("cut-b", &proxy_b);
    let target = a.spawn(|task| async move { task.suspend(None).await.map(|_| ()) });
    target.register("stays").unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let watcher = b.spawn(move |me| async move {
        net::peer(via).await.map_err(|e| e.to_string())?;
        let t = TaskRef::locate("stays", Duration::from_secs(10))
            .await
            .map_err(|e| e.to_string())?;
        me.monitor(&t).map_err(|e| e.to_string())?;
        // A round trip after the monitor request: it has reached `a`.
        assert!(t.is_alive());
        let _ = ready_tx.send(());
        let status = me
            .receive_type::<MonitorStatus>()
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(status.exit.to_string())
    });
    ready_rx
        .recv_timeout(PATIENCE)
        .expect("the watcher is monitoring");
    proxy_a.cut();
    proxy_b.cut();
    let exit = watcher.value_timeout(PATIENCE).expect("the watcher heard");
    let exit = exit
        .value()
        .unwrap()
        .take::<Result<String, String>>()
        .unwrap()
        .unwrap();
    assert_eq!(exit, Exit::NodeLost.to_string());
    // `a` itself is fine, and its task still runs.
    assert!(target.is_alive());
}

#[test]
fn only_registered_channels_are_found_from_another_node() {
    let (a, b) = (node("reg-a"), node("reg-b"));
    let at = a.location().unwrap();
    let private = Channel::new_on(&a, "private").unwrap();
    let found = run(&b, async move {
        Channel::locate_at(at, "private", Duration::from_millis(300))
            .await
            .is_ok()
    });
    assert!(
        !found,
        "an unregistered channel was found from another node"
    );
    private.register().unwrap();
    let found = run(&b, async move {
        Channel::locate_at(at, "private", Duration::from_secs(10))
            .await
            .is_ok()
    });
    assert!(found);
}

/// Counts the messages it gets until a `()`.
#[rcos::task]
async fn count_until_unit(task: TaskRef) -> u32 {
    let mut n = 0;
    while let Ok(msg) = task.receive().await {
        if msg.is::<()>() {
            break;
        }
        n += 1;
    }
    n
}

#[test]
fn a_message_too_large_for_a_frame_is_refused_and_the_connection_lives_on() {
    let (a, b) = (node("big-a"), node("big-b"));
    let at = a.location().unwrap();
    count_until_unit::spawn_on(&a).register("counter").unwrap();
    let counted = run(&b, async move {
        let t = TaskRef::locate_at(at, "counter", Duration::from_secs(10))
            .await
            .unwrap();
        t.send(vec![1u8; 10]).unwrap();
        // 2 MiB is over the default 1 MiB frame limit: refused here, with the message.
        let err = t.send(vec![7u8; 2 << 20]).unwrap_err();
        assert_eq!(err.kind(), rcos::SendErrorKind::TooLarge);
        assert_eq!(err.into_inner().len(), 2 << 20);
        let err = t
            .deliver(vec![7u8; 2 << 20], Duration::from_secs(10))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), rcos::SendErrorKind::TooLarge);
        // The connection is intact: what follows arrives.
        t.send(vec![2u8; 10]).unwrap();
        t.deliver((), Duration::from_secs(10)).await.unwrap();
        t.finish().await.get::<u32>()
    });
    assert_eq!(counted, Some(2));
}
