//! Several nodes in a deterministic simulation (feature `test-util`): their runtimes
//! run as one seeded schedule on one virtual clock, and their connections are
//! simulated, so a test can partition, pause or kill a node and see what the others
//! make of it, in virtual time and the same way every run.
//!
//! Run it with `cargo run --example simulation`.

use std::time::{Duration, Instant};

use rcos::net::{self, Location, NodeConfig, PeerStatus};
use rcos::sim::Sim;
use rcos::task::MonitorStatus;
use rcos::{Exit, TaskRef};

/// What node `a` saw of node `b` in one run.
#[derive(Debug, PartialEq)]
struct Seen {
    /// From the partition to the monitor's notice.
    told_after: Duration,
    /// From the heal to `b` online again.
    back_after: Duration,
}

// ANCHOR: partition
/// Two nodes; `a` monitors a task on `b`, then a partition cuts them apart for 30 s.
fn partition(seed: u64) -> Seen {
    let sim = Sim::new(seed);
    let config = || {
        NodeConfig::new()
            .secret("a secret for this example only")
            .heartbeat(Duration::from_millis(500), 4)
    };
    let a = sim.node("a", config()).expect("node a starts");
    let b = sim.node("b", config()).expect("node b starts");
    let (a_at, b_at): (Location, Location) = (a.location().unwrap(), b.location().unwrap());
    b.spawn(|task| async move { task.suspend(None).await.map(|_| ()) })
        .register("worker")
        .unwrap();
    let control = sim.clone();
    // The simulation runs while this thread waits in `block_on`.
    a.block_on(async move {
        let me = TaskRef::current().unwrap();
        net::peer_status(&me).unwrap();
        net::peer(b_at).await.unwrap(); // keep connected to b
        let worker = TaskRef::locate_at(b_at, "worker", Duration::from_secs(10))
            .await
            .unwrap();
        me.monitor(&worker).unwrap();

        let cut = rcos::time::now();
        control.partition(a_at, b_at); // both ways: a blackhole route each way
        control.partition(b_at, a_at);
        let notice = me.receive_type::<MonitorStatus>().await.unwrap();
        assert!(matches!(notice.exit, Exit::NodeLost));
        let told_after = rcos::time::now() - cut;
        // Statuses come in order: b online (when `peer` connected), then offline.
        loop {
            let status = me.receive_type::<PeerStatus>().await.unwrap();
            if status.location == b_at && !status.online {
                break;
            }
        }

        rcos::time::sleep(Duration::from_secs(30)).await; // virtual: no real wait
        let healed = rcos::time::now();
        control.heal(a_at, b_at);
        control.heal(b_at, a_at);
        loop {
            let status = me.receive_type::<PeerStatus>().await.unwrap();
            if status.location == b_at && status.online {
                break;
            }
        }
        Seen {
            told_after,
            back_after: rcos::time::now() - healed,
        }
    })
}
// ANCHOR_END: partition

fn main() {
    // ANCHOR: main
    let real = Instant::now();
    let first = partition(7);
    println!(
        "seed 7: the monitor was told {:?} after the partition; b was back {:?} after the heal",
        first.told_after, first.back_after
    );
    println!("(a's redial waited on the cut link, and simulated links have no latency)");
    println!("(30 s of partition in {:?} of real time)", real.elapsed());
    assert_eq!(partition(7), first, "a seed runs the same way every time");
    println!("seed 7 again: the same, to the nanosecond");
    for seed in 8..11 {
        let seen = partition(seed);
        println!(
            "seed {seed}: told after {:?}, back after {:?}",
            seen.told_after, seen.back_after
        );
    }
    // ANCHOR_END: main
}
