//! The workloads on rcos.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rcos::{Request, Runtime, TaskRef};

use crate::{Figure, Implementation, per_op, throughput};

pub(crate) struct Rcos {
    rt: Runtime,
}

impl Rcos {
    pub(crate) fn new(workers: usize) -> Rcos {
        let rt = Runtime::builder()
            .workers(workers)
            .name("bench")
            .build()
            .expect("runtime starts");
        Rcos { rt }
    }
}

const LONG: Duration = Duration::from_secs(60);

impl Implementation for Rcos {
    fn spawn_complete(&self, n: usize) -> Figure {
        self.rt.block_on(async move {
            let me = TaskRef::current().expect("block_on runs a task");
            let left = Arc::new(AtomicUsize::new(n));
            let start = Instant::now();
            for _ in 0..n {
                let left = left.clone();
                let me = me.clone();
                rcos::spawn(move |_| async move {
                    if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                        let _ = me.send(());
                    }
                });
            }
            me.receive().await.expect("all done");
            per_op(start.elapsed(), n)
        })
    }

    fn pingpong(&self, n: usize) -> Figure {
        self.rt.block_on(async move {
            let pong = rcos::spawn(|task| async move {
                let Ok(first) = task.receive().await else {
                    return;
                };
                let Ok(ping) = first.downcast::<TaskRef>() else {
                    return;
                };
                while let Ok(msg) = task.receive().await {
                    if ping.forward(msg).is_err() {
                        return;
                    }
                }
            });
            let me = TaskRef::current().expect("block_on runs a task");
            pong.send(me.clone()).expect("pong alive");
            let start = Instant::now();
            for i in 0..n as u64 {
                pong.send(i).expect("pong alive");
                let _ = me.receive().await.expect("pong answers");
            }
            let fig = per_op(start.elapsed(), n);
            pong.terminate();
            fig
        })
    }

    fn calls(&self, n: usize) -> Figure {
        self.rt.block_on(async move {
            let server = rcos::spawn(|task| async move {
                while let Ok(msg) = task.receive().await {
                    if let Ok(req) = msg.downcast::<Request<u64>>() {
                        let n = *req.body();
                        let _ = req.reply(n + 1);
                    }
                }
            });
            let start = Instant::now();
            for i in 0..n as u64 {
                let r: u64 = server.call(i, LONG).await.expect("server answers");
                debug_assert_eq!(r, i + 1);
            }
            let fig = per_op(start.elapsed(), n);
            server.terminate();
            fig
        })
    }

    fn broadcast(&self, subscribers: usize, n: usize) -> Figure {
        self.broadcast_impl(subscribers, n)
    }

    fn chain(&self, n: usize) -> Figure {
        self.rt.block_on(async move {
            // C answers; B and A each `call` the next one and pass the answer back.
            let c = rcos::spawn(|task| async move {
                while let Ok(msg) = task.receive().await {
                    if let Ok(req) = msg.downcast::<Request<u64>>() {
                        let n = *req.body();
                        let _ = req.reply(n + 1);
                    }
                }
            });
            let relay = |next: TaskRef| {
                rcos::spawn(move |task| async move {
                    while let Ok(msg) = task.receive().await {
                        let Ok(req) = msg.downcast::<Request<u64>>() else {
                            continue;
                        };
                        let n = *req.body();
                        let Ok(r) = next.call::<u64, u64>(n, LONG).await else {
                            return;
                        };
                        let _ = req.reply(r);
                    }
                })
            };
            let b = relay(c.clone());
            let a = relay(b.clone());
            let start = Instant::now();
            for i in 0..n as u64 {
                let r: u64 = a.call(i, LONG).await.expect("the chain answers");
                debug_assert_eq!(r, i + 1);
            }
            let fig = per_op(start.elapsed(), n);
            for t in [a, b, c] {
                t.terminate();
            }
            fig
        })
    }

    fn pingpong_pairs(&self, pairs: usize, each: usize) -> Option<Figure> {
        Some(self.rt.block_on(async move {
            let me = TaskRef::current().expect("block_on runs a task");
            let start = Instant::now();
            for _ in 0..pairs {
                let pong = rcos::spawn(|task| async move {
                    let Ok(ping) = task.receive_type::<TaskRef>().await else {
                        return;
                    };
                    while let Ok(msg) = task.receive().await {
                        if ping.forward(msg).is_err() {
                            return;
                        }
                    }
                });
                let me = me.clone();
                rcos::spawn(move |task| async move {
                    let _ = pong.send(task.clone());
                    for i in 0..each as u64 {
                        let _ = pong.send(i);
                        if task.receive().await.is_err() {
                            break;
                        }
                    }
                    pong.terminate();
                    let _ = me.send(());
                });
            }
            for _ in 0..pairs {
                me.receive().await.expect("pairs report");
            }
            per_op(start.elapsed(), pairs * each)
        }))
    }

    fn fanin(&self, senders: usize, each: usize) -> Figure {
        self.rt.block_on(async move {
            let me = TaskRef::current().expect("block_on runs a task");
            let total = senders * each;
            let sink = rcos::spawn(move |task| async move {
                let mut got = 0;
                while got < total {
                    if task.receive().await.is_err() {
                        break;
                    }
                    got += 1;
                }
                let _ = me.send(got as u64);
            });
            let start = Instant::now();
            for _ in 0..senders {
                let sink = sink.clone();
                rcos::spawn(move |_| async move {
                    for i in 0..each as u64 {
                        let _ = sink.send(i);
                    }
                });
            }
            let me = TaskRef::current().expect("block_on runs a task");
            let got = me
                .receive()
                .await
                .expect("sink reports")
                .downcast::<u64>()
                .unwrap_or(0);
            assert_eq!(got as usize, total);
            throughput(start.elapsed(), total)
        })
    }
}

impl Rcos {
    fn broadcast_impl(&self, subscribers: usize, n: usize) -> Figure {
        self.rt.block_on(async move {
            let me = TaskRef::current().expect("block_on runs a task");
            let channel = rcos::channel::Channel::new("bench").expect("a fresh name");
            for _ in 0..subscribers {
                let me = me.clone();
                let sub = rcos::spawn(move |task| async move {
                    for _ in 0..n {
                        if task.receive().await.is_err() {
                            break;
                        }
                    }
                    let _ = me.send(());
                });
                channel.subscribe(&sub).await.expect("open channel");
            }
            let start = Instant::now();
            for i in 0..n as u64 {
                let _ = channel.send(i);
            }
            for _ in 0..subscribers {
                me.receive().await.expect("subscribers report");
            }
            let fig = throughput(start.elapsed(), n * subscribers);
            channel.close();
            fig
        })
    }
}

/// Spawns `n` tasks blocked on receive; returns them with their runtime once every one
/// has run and parked.
pub(crate) fn idle_tasks(workers: usize, n: usize) -> (Runtime, Vec<TaskRef>) {
    let rt = Runtime::builder()
        .workers(workers)
        .name("idle")
        .build()
        .expect("runtime starts");
    let parked = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<TaskRef> = (0..n)
        .map(|_| {
            let parked = parked.clone();
            rt.spawn(move |task| async move {
                parked.fetch_add(1, Ordering::Release);
                drop(task.receive().await)
            })
        })
        .collect();
    while parked.load(Ordering::Acquire) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
    // The counter moves just before the receive parks; give the last ones a moment.
    std::thread::sleep(Duration::from_millis(50));
    (rt, tasks)
}
