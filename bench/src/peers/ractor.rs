//! The workloads on ractor: actors with `cast` (fire and forget) and `call` (request
//! and reply through an `RpcReplyPort`), on the multi-thread tokio runtime.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ractor::rpc::CallResult;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

use crate::{Figure, Implementation, per_op, throughput};

pub(crate) struct Ractor {
    rt: Runtime,
}

impl Ractor {
    pub(crate) fn new(workers: usize) -> Ractor {
        Ractor {
            rt: super::tokio::runtime(workers),
        }
    }

    fn run<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> T {
        let task = self.rt.spawn(f);
        self.rt.block_on(task).expect("the bench task ends")
    }
}

type Done = mpsc::UnboundedSender<()>;

/// Starts and stops at once; tells `done` when the last of its kind has stopped.
struct Quick;

impl Actor for Quick {
    type Msg = ();
    type State = (Arc<AtomicUsize>, Done);
    type Arguments = (Arc<AtomicUsize>, Done);

    async fn pre_start(
        &self,
        _: ActorRef<()>,
        args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(args)
    }

    async fn post_start(
        &self,
        myself: ActorRef<()>,
        _: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        myself.stop(None);
        Ok(())
    }

    async fn post_stop(
        &self,
        _: ActorRef<()>,
        (left, done): &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if left.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _ = done.send(());
        }
        Ok(())
    }
}

enum PongMsg {
    Hello(ActorRef<u64>),
    Ball(u64),
}

/// Sends every ball back to whoever said hello.
struct Pong;

impl Actor for Pong {
    type Msg = PongMsg;
    type State = Option<ActorRef<u64>>;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<PongMsg>,
        _: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(None)
    }

    async fn handle(
        &self,
        _: ActorRef<PongMsg>,
        msg: PongMsg,
        ping: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            PongMsg::Hello(from) => *ping = Some(from),
            PongMsg::Ball(i) => {
                if let Some(ping) = ping {
                    ping.cast(i)?;
                }
            }
        }
        Ok(())
    }
}

/// Plays `n` round trips with a [`Pong`], then reports the time they took.
struct Ping;

struct PingState {
    pong: ActorRef<PongMsg>,
    n: u64,
    start: Instant,
    done: Option<oneshot::Sender<Duration>>,
}

impl Actor for Ping {
    type Msg = u64;
    type State = PingState;
    type Arguments = (ActorRef<PongMsg>, u64, oneshot::Sender<Duration>);

    async fn pre_start(
        &self,
        _: ActorRef<u64>,
        (pong, n, done): Self::Arguments,
    ) -> Result<PingState, ActorProcessingErr> {
        Ok(PingState {
            pong,
            n,
            start: Instant::now(),
            done: Some(done),
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<u64>,
        s: &mut PingState,
    ) -> Result<(), ActorProcessingErr> {
        s.pong.cast(PongMsg::Hello(myself))?;
        s.start = Instant::now();
        s.pong.cast(PongMsg::Ball(0))?;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<u64>,
        i: u64,
        s: &mut PingState,
    ) -> Result<(), ActorProcessingErr> {
        if i + 1 < s.n {
            s.pong.cast(PongMsg::Ball(i + 1))?;
        } else if let Some(done) = s.done.take() {
            let _ = done.send(s.start.elapsed());
            myself.stop(None);
        }
        Ok(())
    }
}

/// Request and reply; the ask and service workloads.
struct Ask(u64, RpcReplyPort<u64>);

/// Answers n + 1 itself (`next` is `None`), or asks `next` and passes its answer back.
struct Server;

impl Actor for Server {
    type Msg = Ask;
    type State = Option<ActorRef<Ask>>;
    type Arguments = Option<ActorRef<Ask>>;

    async fn pre_start(
        &self,
        _: ActorRef<Ask>,
        next: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(next)
    }

    async fn handle(
        &self,
        _: ActorRef<Ask>,
        Ask(n, reply): Ask,
        next: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let answer = match next {
            None => n + 1,
            Some(next) => match next.call(|port| Ask(n, port), None).await? {
                CallResult::Success(r) => r,
                _ => return Err("the next server did not answer".into()),
            },
        };
        let _ = reply.send(answer);
        Ok(())
    }
}

async fn ask(server: &ActorRef<Ask>, i: u64) -> u64 {
    match server.call(|port| Ask(i, port), None).await {
        Ok(CallResult::Success(r)) => r,
        _ => panic!("the server did not answer"),
    }
}

/// Counts `total` messages, then tells `done`; the fan-in sink and broadcast subscribers.
struct Counter;

impl Actor for Counter {
    type Msg = u64;
    type State = (usize, usize, Done);
    type Arguments = (usize, Done);

    async fn pre_start(
        &self,
        _: ActorRef<u64>,
        (total, done): Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok((0, total, done))
    }

    async fn handle(
        &self,
        myself: ActorRef<u64>,
        _: u64,
        (got, total, done): &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        *got += 1;
        if *got == *total {
            let _ = done.send(());
            myself.stop(None);
        }
        Ok(())
    }
}

impl Implementation for Ractor {
    fn spawn_complete(&self, n: usize) -> Figure {
        self.run(async move {
            let (done, mut all_done) = mpsc::unbounded_channel();
            let left = Arc::new(AtomicUsize::new(n));
            let start = Instant::now();
            for _ in 0..n {
                Actor::spawn(None, Quick, (left.clone(), done.clone()))
                    .await
                    .expect("spawns");
            }
            let _ = all_done.recv().await;
            per_op(start.elapsed(), n)
        })
    }

    fn pingpong(&self, n: usize) -> Figure {
        self.run(async move {
            let (pong, _) = Actor::spawn(None, Pong, ()).await.expect("spawns");
            let (done, took) = oneshot::channel();
            Actor::spawn(None, Ping, (pong.clone(), n as u64, done))
                .await
                .expect("spawns");
            let took = took.await.expect("ping reports");
            pong.stop(None);
            per_op(took, n)
        })
    }

    fn calls(&self, n: usize) -> Figure {
        self.run(async move {
            let (server, _) = Actor::spawn(None, Server, None).await.expect("spawns");
            let start = Instant::now();
            for i in 0..n as u64 {
                let r = ask(&server, i).await;
                debug_assert_eq!(r, i + 1);
            }
            let fig = per_op(start.elapsed(), n);
            server.stop(None);
            fig
        })
    }

    fn chain(&self, n: usize) -> Figure {
        self.run(async move {
            let (c, _) = Actor::spawn(None, Server, None).await.expect("spawns");
            let (b, _) = Actor::spawn(None, Server, Some(c.clone()))
                .await
                .expect("spawns");
            let (a, _) = Actor::spawn(None, Server, Some(b.clone()))
                .await
                .expect("spawns");
            let start = Instant::now();
            for i in 0..n as u64 {
                let r = ask(&a, i).await;
                debug_assert_eq!(r, i + 1);
            }
            let fig = per_op(start.elapsed(), n);
            for s in [a, b, c] {
                s.stop(None);
            }
            fig
        })
    }

    fn fanin(&self, senders: usize, each: usize) -> Figure {
        self.run(async move {
            let total = senders * each;
            let (done, mut finished) = mpsc::unbounded_channel();
            let (sink, _) = Actor::spawn(None, Counter, (total, done))
                .await
                .expect("spawns");
            let start = Instant::now();
            for _ in 0..senders {
                let sink = sink.clone();
                tokio::spawn(async move {
                    for i in 0..each as u64 {
                        let _ = sink.cast(i);
                    }
                });
            }
            finished.recv().await.expect("the sink counts them all");
            throughput(start.elapsed(), total)
        })
    }

    fn broadcast(&self, subscribers: usize, n: usize) -> Figure {
        self.run(async move {
            let (done, mut finished) = mpsc::unbounded_channel();
            let mut subs = Vec::with_capacity(subscribers);
            for _ in 0..subscribers {
                let (sub, _) = Actor::spawn(None, Counter, (n, done.clone()))
                    .await
                    .expect("spawns");
                subs.push(sub);
            }
            let start = Instant::now();
            for i in 0..n as u64 {
                for sub in &subs {
                    let _ = sub.cast(i);
                }
            }
            for _ in 0..subscribers {
                let _ = finished.recv().await;
            }
            throughput(start.elapsed(), n * subscribers)
        })
    }
}

/// Does nothing with its messages: the idle actor.
struct Idle;

impl Actor for Idle {
    type Msg = u64;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<u64>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

/// Spawns `n` idle actors (each has started when `spawn` returns).
pub(crate) fn idle_tasks(workers: usize, n: usize) -> Box<dyn Any> {
    let rt = super::tokio::runtime(workers);
    let actors = rt.block_on(async move {
        let mut actors = Vec::with_capacity(n);
        for _ in 0..n {
            actors.push(Actor::spawn(None, Idle, ()).await.expect("spawns"));
        }
        actors
    });
    std::thread::sleep(Duration::from_millis(50));
    Box::new((rt, actors))
}
