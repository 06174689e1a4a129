//! The floor: the same workloads written directly on async-executor and async-channel,
//! the crates rcos's stack starts from, with nothing of rcos in between.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_channel::{Sender, bounded, unbounded};
use async_executor::Executor;

use crate::{Figure, Implementation, per_op, throughput};

pub(crate) struct Floor {
    ex: Arc<Executor<'static>>,
    stop: Option<Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl Floor {
    pub(crate) fn new(threads: usize) -> Floor {
        let ex = Arc::new(Executor::new());
        let (stop, stopped) = unbounded::<()>();
        let threads = (0..threads)
            .map(|_| {
                let ex = ex.clone();
                let stopped = stopped.clone();
                std::thread::spawn(move || {
                    async_io::block_on(ex.run(async move {
                        let _ = stopped.recv().await;
                    }));
                })
            })
            .collect::<Vec<_>>();
        Floor {
            ex,
            stop: Some(stop),
            threads,
        }
    }

    pub(crate) fn run<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> T {
        let task = self.ex.spawn(f);
        async_io::block_on(task)
    }
}

impl Floor {
    /// The executor, for workloads that spawn more than one task.
    pub(crate) fn executor(&self) -> Arc<Executor<'static>> {
        self.ex.clone()
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        drop(self.stop.take());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Implementation for Floor {
    fn spawn_complete(&self, n: usize) -> Figure {
        let ex = self.ex.clone();
        self.run(async move {
            let (done, all_done) = bounded::<()>(1);
            let left = Arc::new(AtomicUsize::new(n));
            let start = Instant::now();
            for _ in 0..n {
                let left = left.clone();
                let done = done.clone();
                ex.spawn(async move {
                    if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                        let _ = done.send(()).await;
                    }
                })
                .detach();
            }
            let _ = all_done.recv().await;
            per_op(start.elapsed(), n)
        })
    }

    fn pingpong(&self, n: usize) -> Figure {
        let ex = self.ex.clone();
        self.run(async move {
            let (to_pong, pong_rx) = unbounded::<u64>();
            let (to_ping, ping_rx) = unbounded::<u64>();
            ex.spawn(async move {
                while let Ok(i) = pong_rx.recv().await {
                    if to_ping.send(i).await.is_err() {
                        return;
                    }
                }
            })
            .detach();
            let start = Instant::now();
            for i in 0..n as u64 {
                to_pong.send(i).await.expect("pong alive");
                ping_rx.recv().await.expect("pong answers");
            }
            per_op(start.elapsed(), n)
        })
    }

    fn calls(&self, n: usize) -> Figure {
        let ex = self.ex.clone();
        self.run(async move {
            let (requests, incoming) = unbounded::<(u64, Sender<u64>)>();
            ex.spawn(async move {
                while let Ok((n, reply)) = incoming.recv().await {
                    let _ = reply.send(n + 1).await;
                }
            })
            .detach();
            let start = Instant::now();
            for i in 0..n as u64 {
                let (reply, answer) = bounded(1);
                requests.send((i, reply)).await.expect("server alive");
                let r = answer.recv().await.expect("server answers");
                debug_assert_eq!(r, i + 1);
            }
            per_op(start.elapsed(), n)
        })
    }

    fn broadcast(&self, subscribers: usize, n: usize) -> Figure {
        let ex = self.ex.clone();
        self.run(async move {
            let (done, finished) = unbounded::<()>();
            let mut outs = Vec::with_capacity(subscribers);
            for _ in 0..subscribers {
                let (tx, rx) = unbounded::<u64>();
                let done = done.clone();
                ex.spawn(async move {
                    for _ in 0..n {
                        if rx.recv().await.is_err() {
                            break;
                        }
                    }
                    let _ = done.send(()).await;
                })
                .detach();
                outs.push(tx);
            }
            let start = Instant::now();
            for i in 0..n as u64 {
                for tx in &outs {
                    let _ = tx.try_send(i);
                }
            }
            for _ in 0..subscribers {
                let _ = finished.recv().await;
            }
            throughput(start.elapsed(), n * subscribers)
        })
    }

    fn chain(&self, n: usize) -> Figure {
        let ex = self.ex.clone();
        self.run(async move {
            type Req = (u64, Sender<u64>);
            // C answers; B and A each ask the next one and pass the answer back.
            let (to_c, c_rx) = unbounded::<Req>();
            ex.spawn(async move {
                while let Ok((n, reply)) = c_rx.recv().await {
                    let _ = reply.send(n + 1).await;
                }
            })
            .detach();
            let relay = |next: Sender<Req>| {
                let (tx, rx) = unbounded::<Req>();
                ex.spawn(async move {
                    while let Ok((n, reply)) = rx.recv().await {
                        let (back, answer) = bounded(1);
                        if next.send((n, back)).await.is_err() {
                            return;
                        }
                        let Ok(r) = answer.recv().await else { return };
                        let _ = reply.send(r).await;
                    }
                })
                .detach();
                tx
            };
            let to_b = relay(to_c);
            let to_a = relay(to_b);
            let start = Instant::now();
            for i in 0..n as u64 {
                let (reply, answer) = bounded(1);
                to_a.send((i, reply)).await.expect("chain alive");
                let r = answer.recv().await.expect("the chain answers");
                debug_assert_eq!(r, i + 1);
            }
            per_op(start.elapsed(), n)
        })
    }

    fn pingpong_pairs(&self, pairs: usize, each: usize) -> Option<Figure> {
        let ex = self.ex.clone();
        Some(self.run(async move {
            let (done, finished) = unbounded::<()>();
            let start = Instant::now();
            for _ in 0..pairs {
                let (to_pong, pong_rx) = unbounded::<u64>();
                let (to_ping, ping_rx) = unbounded::<u64>();
                ex.spawn(async move {
                    while let Ok(i) = pong_rx.recv().await {
                        if to_ping.send(i).await.is_err() {
                            return;
                        }
                    }
                })
                .detach();
                let done = done.clone();
                ex.spawn(async move {
                    for i in 0..each as u64 {
                        if to_pong.send(i).await.is_err() || ping_rx.recv().await.is_err() {
                            break;
                        }
                    }
                    let _ = done.send(()).await;
                })
                .detach();
            }
            for _ in 0..pairs {
                let _ = finished.recv().await;
            }
            per_op(start.elapsed(), pairs * each)
        }))
    }

    fn fanin(&self, senders: usize, each: usize) -> Figure {
        let ex = self.ex.clone();
        self.run(async move {
            let total = senders * each;
            let (to_sink, sink_rx) = unbounded::<u64>();
            let (done, finished) = bounded::<usize>(1);
            ex.spawn(async move {
                let mut got = 0;
                while got < total {
                    if sink_rx.recv().await.is_err() {
                        break;
                    }
                    got += 1;
                }
                let _ = done.send(got).await;
            })
            .detach();
            let start = Instant::now();
            for _ in 0..senders {
                let to_sink = to_sink.clone();
                ex.spawn(async move {
                    for i in 0..each as u64 {
                        let _ = to_sink.try_send(i);
                    }
                })
                .detach();
            }
            let got = finished.recv().await.unwrap_or(0);
            assert_eq!(got, total);
            throughput(start.elapsed(), total)
        })
    }
}

/// Spawns `n` tasks each blocked on its own unbounded channel.
pub(crate) fn idle_tasks(threads: usize, n: usize) -> (Floor, Vec<Sender<u64>>) {
    let floor = Floor::new(threads);
    let parked = Arc::new(AtomicUsize::new(0));
    let senders = (0..n)
        .map(|_| {
            let (tx, rx) = unbounded::<u64>();
            let parked = parked.clone();
            floor
                .ex
                .spawn(async move {
                    parked.fetch_add(1, Ordering::Release);
                    let _ = rx.recv().await;
                })
                .detach();
            tx
        })
        .collect();
    while parked.load(Ordering::Acquire) < n {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(50));
    (floor, senders)
}
