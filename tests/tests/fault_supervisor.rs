//! Supervisors: restart strategies, restart intensity, names across restarts, trees,
//! and orderly shutdown.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcos::supervisor::{ChildSpec, Restart, Strategy, Supervisor};
use rcos::task::MonitorStatus;
use rcos::{Exit, Interrupt, TaskRef, task};
use rcos_tests::{det, run};

/// Records "start <id>" when started and "stop <id>" when dropped, in one shared log.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, entry: String) {
        self.0.lock().unwrap().push(entry);
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

struct OnDrop(Log, String);
impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.push(format!("stop {}", self.1));
    }
}

/// A worker that panics on a "poison" message and returns on "done"; logs when it
/// stops (its drop).
#[task]
async fn worker(task: TaskRef, id: String, log: Log) -> Result<(), Interrupt> {
    let _guard = OnDrop(log.clone(), id.clone());
    loop {
        let msg = task.receive().await?;
        match msg.downcast::<String>().as_deref() {
            Ok("poison") => panic!("{id} poisoned"),
            Ok("done") => return Ok(()),
            _ => {}
        }
    }
}

/// A child running `worker`, logging "start <id>" each time the supervisor starts it
/// (the spawn order; tasks first run in the runtime's seeded order).
fn spec(id: &'static str, log: &Log) -> ChildSpec {
    let log = log.clone();
    ChildSpec::from_fn(id, move || {
        log.push(format!("start {id}"));
        worker::spawn(id.to_string(), log.clone())
    })
    .register(id)
}

/// Lets every task run until it waits: virtual time moves only when all are idle.
async fn settle() {
    rcos::time::sleep(Duration::from_secs(1)).await;
}

/// Waits until the task registered as `name` is a different one than `old`.
async fn restarted(name: &str, old: &TaskRef) -> TaskRef {
    loop {
        if let Ok(t) = TaskRef::locate(name, Duration::from_secs(1)).await {
            if &t != old {
                return t;
            }
        }
        rcos::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn one_for_one_restarts_only_the_failed_child_under_the_same_name() {
    let rt = det(50);
    let log = Log::default();
    let log2 = log.clone();
    run(&rt, async move {
        let log = log2;
        let sup = Supervisor::builder()
            .child(spec("a", &log))
            .child(spec("b", &log))
            .spawn();
        let a = TaskRef::locate("a", Duration::from_secs(1)).await.unwrap();
        let b = TaskRef::locate("b", Duration::from_secs(1)).await.unwrap();
        settle().await;
        assert_eq!(log.take(), ["start a", "start b"]);
        a.send("poison".to_string()).unwrap();
        let a2 = restarted("a", &a).await;
        assert!(a2.is_alive() && b.is_alive());
        assert_eq!(
            TaskRef::locate("b", Duration::from_secs(1)).await.unwrap(),
            b
        );
        assert_eq!(log.take(), ["stop a", "start a"]);
        rcos::supervisor::shutdown(&sup, Duration::from_secs(10))
            .await
            .unwrap();
        // Orderly shutdown: reverse start order.
        assert_eq!(log.take(), ["stop b", "stop a"]);
        assert!(sup.finish().await.is_returned());
    });
}

#[test]
fn one_for_all_restarts_every_child_in_order() {
    let rt = det(51);
    let log = Log::default();
    let log2 = log.clone();
    run(&rt, async move {
        let log = log2;
        let sup = Supervisor::builder()
            .strategy(Strategy::OneForAll)
            .child(spec("a", &log))
            .child(spec("b", &log))
            .child(spec("c", &log))
            .spawn();
        let b = TaskRef::locate("b", Duration::from_secs(1)).await.unwrap();
        let c = TaskRef::locate("c", Duration::from_secs(1)).await.unwrap();
        settle().await;
        log.take();
        b.send("poison".to_string()).unwrap();
        restarted("c", &c).await;
        assert_eq!(
            log.take(),
            [
                "stop b", "stop c", "stop a", "start a", "start b", "start c"
            ]
        );
        sup.terminate();
        sup.finish().await;
    });
}

#[test]
fn rest_for_one_restarts_the_child_and_those_after_it() {
    let rt = det(52);
    let log = Log::default();
    let log2 = log.clone();
    run(&rt, async move {
        let log = log2;
        let sup = Supervisor::builder()
            .strategy(Strategy::RestForOne)
            .child(spec("a", &log))
            .child(spec("b", &log))
            .child(spec("c", &log))
            .spawn();
        let b = TaskRef::locate("b", Duration::from_secs(1)).await.unwrap();
        let c = TaskRef::locate("c", Duration::from_secs(1)).await.unwrap();
        settle().await;
        log.take();
        b.send("poison".to_string()).unwrap();
        restarted("c", &c).await;
        assert_eq!(log.take(), ["stop b", "stop c", "start b", "start c"]);
        sup.terminate();
        sup.finish().await;
    });
}

#[test]
fn restart_policies() {
    let rt = det(53);
    let log = Log::default();
    let log2 = log.clone();
    run(&rt, async move {
        let log = log2;
        let sup = Supervisor::builder()
            .child(spec("perm", &log))
            .child(spec("trans", &log).restart(Restart::Transient))
            .child(spec("temp", &log).restart(Restart::Temporary))
            .spawn();
        let mut refs = Vec::new();
        for name in ["perm", "trans", "temp"] {
            refs.push(TaskRef::locate(name, Duration::from_secs(1)).await.unwrap());
        }
        log.take();
        // A normal return: permanent restarts, transient and temporary do not.
        for t in &refs {
            t.send("done".to_string()).unwrap();
        }
        let perm2 = restarted("perm", &refs[0]).await;
        rcos::time::sleep(Duration::from_secs(1)).await;
        assert!(
            TaskRef::locate("trans", Duration::from_millis(10))
                .await
                .is_err()
        );
        assert!(
            TaskRef::locate("temp", Duration::from_millis(10))
                .await
                .is_err()
        );
        let mut started: Vec<_> = log
            .take()
            .into_iter()
            .filter(|e| e.starts_with("start"))
            .collect();
        started.sort();
        assert_eq!(started, ["start perm"]);
        assert!(perm2.is_alive());
        sup.terminate();
        sup.finish().await;
    });

    // A failure: transient restarts too.
    let log = Log::default();
    let log2 = log.clone();
    run(&rt, async move {
        let log = log2;
        let sup = Supervisor::builder()
            .child(spec("trans", &log).restart(Restart::Transient))
            .spawn();
        let t = TaskRef::locate("trans", Duration::from_secs(1))
            .await
            .unwrap();
        t.send("poison".to_string()).unwrap();
        restarted("trans", &t).await;
        sup.terminate();
        sup.finish().await;
    });
}

#[test]
fn the_supervisor_gives_up_beyond_its_restart_intensity() {
    #[task]
    async fn crashes_at_start(_task: TaskRef) {
        panic!("cannot start");
    }

    let rt = det(54);
    let exit = run(&rt, async {
        let me = TaskRef::current().unwrap();
        let sup = Supervisor::builder()
            .intensity(3, Duration::from_secs(10))
            .child(ChildSpec::task("bad", crashes_at_start, || ()))
            .spawn();
        me.monitor(&sup).unwrap();
        let status = me.receive_type::<MonitorStatus>().await.unwrap();
        assert_eq!(status.task, sup);
        status.exit
    });
    match exit {
        Exit::Thrown(msg) => assert!(
            msg.contains("restart intensity exceeded: more than 3 restarts"),
            "{msg}"
        ),
        other => panic!("expected the supervisor to give up, got {other}"),
    }
}

#[test]
fn restarts_spread_over_time_stay_within_the_intensity() {
    let rt = det(55);
    let log = Log::default();
    let log2 = log.clone();
    run(&rt, async move {
        let log = log2;
        let sup = Supervisor::builder()
            .intensity(1, Duration::from_secs(5))
            .child(spec("w", &log))
            .spawn();
        let mut current = TaskRef::locate("w", Duration::from_secs(1)).await.unwrap();
        for _ in 0..5 {
            rcos::time::sleep(Duration::from_secs(6)).await;
            current.send("poison".to_string()).unwrap();
            current = restarted("w", &current).await;
        }
        assert!(sup.is_alive());
        sup.terminate();
        sup.finish().await;
    });
}

#[test]
fn supervisors_nest_into_trees() {
    let rt = det(56);
    let log = Log::default();
    let log2 = log.clone();
    run(&rt, async move {
        let log = log2;
        let inner = Supervisor::builder()
            .name("inner")
            .intensity(0, Duration::from_secs(1))
            .child(spec("leaf", &log));
        let root = Supervisor::builder()
            .name("root")
            .child(ChildSpec::supervisor("inner", inner).register("inner"))
            .spawn();
        let inner1 = TaskRef::locate("inner", Duration::from_secs(1))
            .await
            .unwrap();
        let leaf = TaskRef::locate("leaf", Duration::from_secs(1))
            .await
            .unwrap();
        // The inner supervisor allows no restart: it gives up, and the root restarts it
        // (and with it a fresh leaf).
        leaf.send("poison".to_string()).unwrap();
        let inner2 = restarted("inner", &inner1).await;
        let leaf2 = restarted("leaf", &leaf).await;
        assert!(inner2.is_alive() && leaf2.is_alive());
        // Terminating the root takes the whole tree down.
        root.terminate();
        root.finish().await;
        inner2.finish().await;
        assert!(leaf2.finish().await.is_terminated());
    });
}
