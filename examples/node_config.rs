//! Builds nodes with the options of `NodeConfig`: one with most of them set, over mutual
//! TLS, which a second node joins; one behind an external address; and one that is
//! refused because it would listen on every interface with a weak secret. Prints what
//! each did, then exits.
//!
//! ```text
//! cargo run --example node_config
//! ```
//!
//! The TLS certificate is made in code (with the `rcgen` crate), where real nodes would
//! read PEM files made with `openssl` (`NodeConfig::tls_files`). The secret is
//! `RCOS_SECRET`, or the demo secret of `rcos_examples::DEMO_SECRET`.

use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::Duration;

use rcos::Runtime;
use rcos::net::{self, NodeConfig};
use rcos_examples::secret;

/// One self-signed certificate that every node presents and trusts (pycos's model),
/// valid for the name `rcos-node`: its PEM and its key's PEM.
fn certificate() -> (String, String) {
    let made = rcgen::generate_simple_self_signed(vec!["rcos-node".to_string()])
        .expect("rcgen makes a certificate");
    (made.cert.pem(), made.key_pair.serialize_pem())
}

/// The configuration of the nodes `alpha` and `beta`.
fn configure(name: &str, cert: &str, key: &str) -> std::io::Result<NodeConfig> {
    // ANCHOR: config
    let config = NodeConfig::new()
        .name(name)
        .bind((Ipv4Addr::LOCALHOST, 0)) // port 0: any free port
        .secret(secret())
        .max_frame(4 << 20) // records of up to 4 MiB, on every node
        .heartbeat(Duration::from_millis(500), 6) // lost after 3 s of silence
        .handshake_timeout(Duration::from_secs(2))
        .request_timeout(Duration::from_secs(30))
        .reconnect_grace(Duration::from_secs(5))
        .max_preauth(16)
        .outbound_limit(16 << 20)
        .dest_path(std::env::temp_dir().join(format!("rcos-node-config-{name}")))
        .max_file_size(100 << 20)
        // Discovery stays off here; these only say how it would run.
        .discovery(false)
        .discovery_port(9705)
        .discovery_interval(Duration::from_secs(2));
    // ANCHOR_END: config
    // ANCHOR: tls
    // Mutual TLS: the node's certificate and key, and the certificates it trusts (here
    // the same one). Every peer's certificate must be valid for the name `rcos-node`.
    let config = config
        .tls(cert.as_bytes(), key.as_bytes(), cert.as_bytes())?
        .tls_server_name("rcos-node");
    // ANCHOR_END: tls
    Ok(config)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let (cert, key) = certificate();
    let config = configure("alpha", &cert, &key).expect("the PEMs are valid");
    // The Debug form shows the settings, never the secret.
    println!("{config:#?}");

    // ANCHOR: start
    let alpha = match Runtime::builder().name("alpha").node(config).build() {
        Ok(rt) => rt,
        Err(error) => {
            println!("alpha did not start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let at = alpha.location().expect("a node has a location");
    println!("alpha listening at {at}");
    // ANCHOR_END: start

    // A second node with the same secret and certificate connects to it.
    let beta = Runtime::builder()
        .name("beta")
        .node(configure("beta", &cert, &key).expect("the PEMs are valid"))
        .build()
        .expect("beta starts");
    let peers = beta.block_on(async move {
        net::peer(at).await?;
        Ok::<_, net::NetError>(net::peers())
    });
    match peers {
        Ok(peers) => {
            let peers: Vec<String> = peers.iter().map(ToString::to_string).collect();
            println!("beta's peers, over TLS: {}", peers.join(", "));
        }
        Err(error) => {
            println!("beta could not connect: {error}");
            return ExitCode::FAILURE;
        }
    }

    // ANCHOR: external
    // Behind NAT: peers reach this node at the external address, which becomes its
    // location; it still listens where it is bound.
    let config = NodeConfig::new()
        .secret(secret())
        .external_address((Ipv4Addr::new(203, 0, 113, 7), 9705));
    let gateway = Runtime::builder()
        .name("gateway")
        .node(config)
        .build()
        .expect("gateway starts");
    println!(
        "gateway: location {}, bound to {}",
        gateway.location().expect("a location"),
        gateway.bound_address().expect("a bound address")
    );
    // ANCHOR_END: external

    // ANCHOR: refused
    // Every interface, with a secret shorter than 16 bytes: refused before it listens.
    let config = NodeConfig::new()
        .bind((Ipv4Addr::UNSPECIFIED, 0))
        .secret("too short");
    match Runtime::builder().name("open").node(config).build() {
        Ok(_) => println!("open: started (it should not have)"),
        Err(error) => println!("open: refused: {error}"),
    }
    // ANCHOR_END: refused
    ExitCode::SUCCESS
}
