//! Nodes over mutual TLS (`NodeConfig::tls`), with certificates made in the test by a
//! certificate authority of its own: TLS nodes talk; a node without TLS, a node with a
//! certificate from another authority and a node with another secret are refused at
//! once, with a clear error, in both directions.
#![cfg(feature = "tls")]

use std::time::{Duration, Instant};

use rcos::net::{self, Location, NetError, NodeConfig};
use rcos::{Interrupt, Request, Runtime, TaskRef};
use rcos_tests::{SECRET, node_with, run};
use tls_support::Ca;

mod tls_support;

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

/// From `rt`, connects to `at`, locates `name` there and calls it.
fn call_at(rt: &Runtime, at: Location, name: &str) -> String {
    let name = name.to_string();
    run(rt, async move {
        net::peer(at).await.unwrap();
        assert_eq!(net::peers(), [at]);
        let task = TaskRef::locate_at(at, &name, Duration::from_secs(10))
            .await
            .unwrap();
        task.call("over tls".to_string(), Duration::from_secs(10))
            .await
            .unwrap()
    })
}

/// From `rt`, tries to connect to `at`: the error, and how long it took.
fn refused(rt: &Runtime, at: Location) -> (NetError, Duration) {
    run(rt, async move {
        let start = Instant::now();
        let error = net::peer(at).await.expect_err("the connection is refused");
        let took = start.elapsed();
        // It does not keep trying either.
        net::close_peer(at).await.unwrap();
        assert!(net::peers().is_empty());
        (error, took)
    })
}

/// A refusal that came quickly, with a reason (not a timeout).
fn assert_refused_at_once(error: &NetError, took: Duration) {
    assert!(!matches!(error, NetError::Timeout), "{error}");
    assert!(took < Duration::from_secs(10), "took {took:?}: {error}");
}

#[test]
fn two_tls_nodes_talk() {
    let ca = Ca::new("rcos test CA");
    let a = node_with("tls-a", ca.node_config(SECRET));
    let b = node_with("tls-b", ca.node_config(SECRET));
    let _server = serve_upper(&a, "tls-upper");
    let at = a.location().unwrap();
    assert_eq!(call_at(&b, at, "tls-upper"), "OVER TLS");
    // And the other way, on the same connection.
    let _server = serve_upper(&b, "tls-upper-b");
    let bt = b.location().unwrap();
    assert_eq!(call_at(&a, bt, "tls-upper-b"), "OVER TLS");
}

#[test]
fn a_node_without_tls_and_a_node_with_tls_refuse_each_other_at_once() {
    let ca = Ca::new("rcos test CA");
    let tls = node_with("tlsp-tls", ca.node_config(SECRET));
    let plain = node_with(
        "tlsp-plain",
        NodeConfig::new()
            .secret(SECRET)
            .handshake_timeout(Duration::from_secs(20)),
    );
    let (error, took) = refused(&plain, tls.location().unwrap());
    assert_refused_at_once(&error, took);
    assert!(error.to_string().contains("TLS"), "{error}");

    let (error, took) = refused(&tls, plain.location().unwrap());
    assert_refused_at_once(&error, took);
    assert!(error.to_string().contains("TLS"), "{error}");
}

#[test]
fn a_certificate_from_another_authority_is_refused_both_ways() {
    let ours = Ca::new("rcos test CA");
    let theirs = Ca::new("another CA");
    let a = node_with("tlsc-a", ours.node_config(SECRET));
    let x = node_with("tlsc-x", theirs.node_config(SECRET));
    let (error, took) = refused(&a, x.location().unwrap());
    assert_refused_at_once(&error, took);
    let (error, took) = refused(&x, a.location().unwrap());
    assert_refused_at_once(&error, took);
}

#[test]
fn the_secret_is_still_checked_under_tls() {
    let ca = Ca::new("rcos test CA");
    let a = node_with("tlss-a", ca.node_config(SECRET));
    let x = node_with("tlss-x", ca.node_config(b"another secret, long enough too"));
    let (error, took) = refused(&x, a.location().unwrap());
    assert_refused_at_once(&error, took);
    assert!(error.to_string().contains("secret"), "{error}");
}

#[test]
fn one_server_name_for_all_nodes_and_pem_files() {
    // Certificates valid for a name only, not for the address dialed.
    let ca = Ca::new("rcos test CA");
    let dir = std::env::temp_dir().join(format!("rcos-net-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = ca.issue(&["rcos-node"]);
    let paths = ["cert.pem", "key.pem", "ca.pem"].map(|f| dir.join(f));
    for (path, pem) in paths.iter().zip([&cert, &key, &ca.pem()]) {
        std::fs::write(path, pem).unwrap();
    }
    let from_files = NodeConfig::new()
        .secret(SECRET)
        .tls_files(&paths[0], &paths[1], &paths[2])
        .unwrap();
    let a = node_with("tlsn-a", from_files.clone().tls_server_name("rcos-node"));
    let b = node_with("tlsn-b", from_files.clone().tls_server_name("rcos-node"));
    let _server = serve_upper(&a, "tlsn-upper");
    assert_eq!(call_at(&b, a.location().unwrap(), "tlsn-upper"), "OVER TLS");

    // Without the name, the certificate does not match the address dialed.
    let c = node_with("tlsn-c", from_files);
    let (error, took) = refused(&c, a.location().unwrap());
    assert_refused_at_once(&error, took);
    let _ = std::fs::remove_dir_all(&dir);

    // A missing file is reported when configuring.
    let missing = NodeConfig::new().tls_files(dir.join("nope"), &paths[1], &paths[2]);
    assert!(missing.is_err());
}
