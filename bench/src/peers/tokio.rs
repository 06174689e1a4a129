//! The workloads on tokio: tasks and `tokio::sync` channels.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::runtime::{Builder, Runtime};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::{Figure, Implementation, per_op, throughput};

pub(crate) struct Tokio {
    rt: Runtime,
}

pub(crate) fn runtime(workers: usize) -> Runtime {
    if workers == 1 {
        Builder::new_current_thread().enable_all().build()
    } else {
        Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    }
    .expect("tokio starts")
}

impl Tokio {
    pub(crate) fn new(workers: usize) -> Tokio {
        Tokio {
            rt: runtime(workers),
        }
    }

    /// Runs `f` as a task of the runtime (on a worker, as the other tasks are).
    fn run<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> T {
        let task = self.rt.spawn(f);
        self.rt.block_on(task).expect("the bench task ends")
    }
}

type Req = (u64, oneshot::Sender<u64>);

impl Implementation for Tokio {
    fn spawn_complete(&self, n: usize) -> Figure {
        self.run(async move {
            let (done, mut all_done) = mpsc::unbounded_channel::<()>();
            let left = Arc::new(AtomicUsize::new(n));
            let start = Instant::now();
            for _ in 0..n {
                let left = left.clone();
                let done = done.clone();
                tokio::spawn(async move {
                    if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                        let _ = done.send(());
                    }
                });
            }
            let _ = all_done.recv().await;
            per_op(start.elapsed(), n)
        })
    }

    fn pingpong(&self, n: usize) -> Figure {
        self.run(async move {
            let (to_pong, mut pong_rx) = mpsc::unbounded_channel::<u64>();
            let (to_ping, mut ping_rx) = mpsc::unbounded_channel::<u64>();
            tokio::spawn(async move {
                while let Some(i) = pong_rx.recv().await {
                    if to_ping.send(i).is_err() {
                        return;
                    }
                }
            });
            let start = Instant::now();
            for i in 0..n as u64 {
                to_pong.send(i).expect("pong alive");
                ping_rx.recv().await.expect("pong answers");
            }
            per_op(start.elapsed(), n)
        })
    }

    fn calls(&self, n: usize) -> Figure {
        self.run(async move {
            let (requests, mut incoming) = mpsc::unbounded_channel::<Req>();
            tokio::spawn(async move {
                while let Some((n, reply)) = incoming.recv().await {
                    let _ = reply.send(n + 1);
                }
            });
            let start = Instant::now();
            for i in 0..n as u64 {
                let (reply, answer) = oneshot::channel();
                requests.send((i, reply)).expect("server alive");
                let r = answer.await.expect("server answers");
                debug_assert_eq!(r, i + 1);
            }
            per_op(start.elapsed(), n)
        })
    }

    fn chain(&self, n: usize) -> Figure {
        self.run(async move {
            let (to_c, mut c_rx) = mpsc::unbounded_channel::<Req>();
            tokio::spawn(async move {
                while let Some((n, reply)) = c_rx.recv().await {
                    let _ = reply.send(n + 1);
                }
            });
            let relay = |next: mpsc::UnboundedSender<Req>| {
                let (tx, mut rx) = mpsc::unbounded_channel::<Req>();
                tokio::spawn(async move {
                    while let Some((n, reply)) = rx.recv().await {
                        let (back, answer) = oneshot::channel();
                        if next.send((n, back)).is_err() {
                            return;
                        }
                        let Ok(r) = answer.await else { return };
                        let _ = reply.send(r);
                    }
                });
                tx
            };
            let to_b = relay(to_c);
            let to_a = relay(to_b);
            let start = Instant::now();
            for i in 0..n as u64 {
                let (reply, answer) = oneshot::channel();
                to_a.send((i, reply)).expect("chain alive");
                let r = answer.await.expect("the chain answers");
                debug_assert_eq!(r, i + 1);
            }
            per_op(start.elapsed(), n)
        })
    }

    fn fanin(&self, senders: usize, each: usize) -> Figure {
        self.run(async move {
            let total = senders * each;
            let (to_sink, mut sink_rx) = mpsc::unbounded_channel::<u64>();
            let sink = tokio::spawn(async move {
                let mut got = 0;
                while got < total {
                    if sink_rx.recv().await.is_none() {
                        break;
                    }
                    got += 1;
                }
                got
            });
            let start = Instant::now();
            for _ in 0..senders {
                let to_sink = to_sink.clone();
                tokio::spawn(async move {
                    for i in 0..each as u64 {
                        let _ = to_sink.send(i);
                    }
                });
            }
            let got = sink.await.unwrap_or(0);
            assert_eq!(got, total);
            throughput(start.elapsed(), total)
        })
    }

    fn broadcast(&self, subscribers: usize, n: usize) -> Figure {
        self.run(async move {
            // Room for every message: tokio's broadcast drops the oldest for a
            // subscriber that lags behind a full buffer.
            let (tx, _) = broadcast::channel::<u64>(n.max(2));
            let (done, mut finished) = mpsc::unbounded_channel::<()>();
            for _ in 0..subscribers {
                let mut rx = tx.subscribe();
                let done = done.clone();
                tokio::spawn(async move {
                    for _ in 0..n {
                        if rx.recv().await.is_err() {
                            break;
                        }
                    }
                    let _ = done.send(());
                });
            }
            let start = Instant::now();
            for i in 0..n as u64 {
                let _ = tx.send(i);
            }
            for _ in 0..subscribers {
                let _ = finished.recv().await;
            }
            throughput(start.elapsed(), n * subscribers)
        })
    }

    fn pingpong_pairs(&self, pairs: usize, each: usize) -> Option<Figure> {
        Some(self.run(async move {
            let (done, mut finished) = mpsc::unbounded_channel::<()>();
            let start = Instant::now();
            for _ in 0..pairs {
                let (to_pong, mut pong_rx) = mpsc::unbounded_channel::<u64>();
                let (to_ping, mut ping_rx) = mpsc::unbounded_channel::<u64>();
                tokio::spawn(async move {
                    while let Some(i) = pong_rx.recv().await {
                        if to_ping.send(i).is_err() {
                            return;
                        }
                    }
                });
                let done = done.clone();
                tokio::spawn(async move {
                    for i in 0..each as u64 {
                        if to_pong.send(i).is_err() || ping_rx.recv().await.is_none() {
                            break;
                        }
                    }
                    let _ = done.send(());
                });
            }
            for _ in 0..pairs {
                let _ = finished.recv().await;
            }
            per_op(start.elapsed(), pairs * each)
        }))
    }
}

/// Spawns `n` tasks each waiting on its own unbounded channel.
pub(crate) fn idle_tasks(workers: usize, n: usize) -> Box<dyn Any> {
    let rt = runtime(workers);
    let parked = Arc::new(AtomicUsize::new(0));
    let senders: Vec<mpsc::UnboundedSender<u64>> = (0..n)
        .map(|_| {
            let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
            let parked = parked.clone();
            rt.spawn(async move {
                parked.fetch_add(1, Ordering::Release);
                let _ = rx.recv().await;
            });
            tx
        })
        .collect();
    if workers == 1 {
        // A current-thread runtime runs its tasks only inside block_on.
        let parked = parked.clone();
        rt.block_on(async move {
            while parked.load(Ordering::Acquire) < n {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });
    }
    while parked.load(Ordering::Acquire) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(50));
    Box::new((rt, senders))
}
