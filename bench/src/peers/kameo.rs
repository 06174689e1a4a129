//! The workloads on kameo: actors with unbounded mailboxes (as rcos's and the floor's
//! are), `tell` (fire and forget) and `ask` (request and reply), on the multi-thread
//! tokio runtime.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kameo::Actor;
use kameo::actor::{ActorRef, Spawn, WeakActorRef};
use kameo::error::{ActorStopReason, Infallible};
use kameo::mailbox;
use kameo::message::{Context, Message};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

use crate::{Figure, Implementation, per_op, throughput};

pub(crate) struct Kameo {
    rt: Runtime,
}

impl Kameo {
    pub(crate) fn new(workers: usize) -> Kameo {
        Kameo {
            rt: super::tokio::runtime(workers),
        }
    }

    fn run<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> T {
        let task = self.rt.spawn(f);
        self.rt.block_on(task).expect("the bench task ends")
    }
}

/// Spawns `args`'s actor with an unbounded mailbox.
fn spawn<A: Actor>(args: A::Args) -> ActorRef<A> {
    A::spawn_with_mailbox(args, mailbox::unbounded())
}

type Done = mpsc::UnboundedSender<()>;

/// Stops as soon as it has started; tells `done` when the last of its kind has stopped.
struct Quick {
    left: Arc<AtomicUsize>,
    done: Done,
}

impl Actor for Quick {
    type Args = Quick;
    type Error = Infallible;

    async fn on_start(args: Quick, me: ActorRef<Self>) -> Result<Quick, Infallible> {
        let _ = me.stop_gracefully().await;
        Ok(args)
    }

    async fn on_stop(
        &mut self,
        _: WeakActorRef<Self>,
        _: ActorStopReason,
    ) -> Result<(), Infallible> {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _ = self.done.send(());
        }
        Ok(())
    }
}

struct Ball(u64);
struct Hello(ActorRef<Ping>);

/// Sends every ball back to whoever said hello.
struct Pong {
    ping: Option<ActorRef<Ping>>,
}

impl Actor for Pong {
    type Args = Pong;
    type Error = Infallible;

    async fn on_start(args: Pong, _: ActorRef<Self>) -> Result<Pong, Infallible> {
        Ok(args)
    }
}

impl Message<Hello> for Pong {
    type Reply = ();

    async fn handle(&mut self, Hello(ping): Hello, _: &mut Context<Self, ()>) {
        self.ping = Some(ping);
    }
}

impl Message<Ball> for Pong {
    type Reply = ();

    async fn handle(&mut self, ball: Ball, _: &mut Context<Self, ()>) {
        if let Some(ping) = &self.ping {
            let _ = ping.tell(ball).try_send();
        }
    }
}

/// Plays `n` round trips with a [`Pong`], then reports the time they took.
struct Ping {
    pong: ActorRef<Pong>,
    n: u64,
    start: Instant,
    done: Option<oneshot::Sender<Duration>>,
}

impl Actor for Ping {
    type Args = Ping;
    type Error = Infallible;

    async fn on_start(mut args: Ping, me: ActorRef<Self>) -> Result<Ping, Infallible> {
        let _ = args.pong.tell(Hello(me)).try_send();
        args.start = Instant::now();
        let _ = args.pong.tell(Ball(0)).try_send();
        Ok(args)
    }
}

impl Message<Ball> for Ping {
    type Reply = ();

    async fn handle(&mut self, Ball(i): Ball, ctx: &mut Context<Self, ()>) {
        if i + 1 < self.n {
            let _ = self.pong.tell(Ball(i + 1)).try_send();
        } else if let Some(done) = self.done.take() {
            let _ = done.send(self.start.elapsed());
            ctx.stop();
        }
    }
}

/// A request; the ask and service workloads.
struct Ask(u64);

/// Answers n + 1 itself (`next` is `None`), or asks `next` and passes its answer back.
struct Server {
    next: Option<ActorRef<Server>>,
}

impl Actor for Server {
    type Args = Server;
    type Error = Infallible;

    async fn on_start(args: Server, _: ActorRef<Self>) -> Result<Server, Infallible> {
        Ok(args)
    }
}

impl Message<Ask> for Server {
    type Reply = u64;

    async fn handle(&mut self, Ask(n): Ask, _: &mut Context<Self, u64>) -> u64 {
        match &self.next {
            None => n + 1,
            Some(next) => next.ask(Ask(n)).await.expect("the next server answers"),
        }
    }
}

/// Counts `total` messages, then tells `done`; the fan-in sink and broadcast subscribers.
struct Counter {
    got: usize,
    total: usize,
    done: Done,
}

impl Actor for Counter {
    type Args = Counter;
    type Error = Infallible;

    async fn on_start(args: Counter, _: ActorRef<Self>) -> Result<Counter, Infallible> {
        Ok(args)
    }
}

impl Message<u64> for Counter {
    type Reply = ();

    async fn handle(&mut self, _: u64, ctx: &mut Context<Self, ()>) {
        self.got += 1;
        if self.got == self.total {
            let _ = self.done.send(());
            ctx.stop();
        }
    }
}

fn counter(total: usize, done: Done) -> ActorRef<Counter> {
    spawn::<Counter>(Counter {
        got: 0,
        total,
        done,
    })
}

impl Implementation for Kameo {
    fn spawn_complete(&self, n: usize) -> Figure {
        self.run(async move {
            let (done, mut all_done) = mpsc::unbounded_channel();
            let left = Arc::new(AtomicUsize::new(n));
            let start = Instant::now();
            for _ in 0..n {
                spawn::<Quick>(Quick {
                    left: left.clone(),
                    done: done.clone(),
                });
            }
            let _ = all_done.recv().await;
            per_op(start.elapsed(), n)
        })
    }

    fn pingpong(&self, n: usize) -> Figure {
        self.run(async move {
            let pong = spawn::<Pong>(Pong { ping: None });
            let (done, took) = oneshot::channel();
            spawn::<Ping>(Ping {
                pong: pong.clone(),
                n: n as u64,
                start: Instant::now(),
                done: Some(done),
            });
            let took = took.await.expect("ping reports");
            pong.kill();
            per_op(took, n)
        })
    }

    fn calls(&self, n: usize) -> Figure {
        self.run(async move {
            let server = spawn::<Server>(Server { next: None });
            let start = Instant::now();
            for i in 0..n as u64 {
                let r = server.ask(Ask(i)).await.expect("the server answers");
                debug_assert_eq!(r, i + 1);
            }
            let fig = per_op(start.elapsed(), n);
            server.kill();
            fig
        })
    }

    fn chain(&self, n: usize) -> Figure {
        self.run(async move {
            let c = spawn::<Server>(Server { next: None });
            let b = spawn::<Server>(Server {
                next: Some(c.clone()),
            });
            let a = spawn::<Server>(Server {
                next: Some(b.clone()),
            });
            let start = Instant::now();
            for i in 0..n as u64 {
                let r = a.ask(Ask(i)).await.expect("the chain answers");
                debug_assert_eq!(r, i + 1);
            }
            let fig = per_op(start.elapsed(), n);
            for s in [a, b, c] {
                s.kill();
            }
            fig
        })
    }

    fn fanin(&self, senders: usize, each: usize) -> Figure {
        self.run(async move {
            let total = senders * each;
            let (done, mut finished) = mpsc::unbounded_channel();
            let sink = counter(total, done);
            sink.wait_for_startup().await;
            let start = Instant::now();
            for _ in 0..senders {
                let sink = sink.clone();
                tokio::spawn(async move {
                    for i in 0..each as u64 {
                        let _ = sink.tell(i).try_send();
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
            let subs: Vec<ActorRef<Counter>> =
                (0..subscribers).map(|_| counter(n, done.clone())).collect();
            for sub in &subs {
                sub.wait_for_startup().await;
            }
            let start = Instant::now();
            for i in 0..n as u64 {
                for sub in &subs {
                    let _ = sub.tell(i).try_send();
                }
            }
            for _ in 0..subscribers {
                let _ = finished.recv().await;
            }
            throughput(start.elapsed(), n * subscribers)
        })
    }
}

/// Does nothing: the idle actor.
struct Idle;

impl Actor for Idle {
    type Args = Idle;
    type Error = Infallible;

    async fn on_start(args: Idle, _: ActorRef<Self>) -> Result<Idle, Infallible> {
        Ok(args)
    }
}

/// Spawns `n` idle actors and waits until every one has started.
pub(crate) fn idle_tasks(workers: usize, n: usize) -> Box<dyn Any> {
    let rt = super::tokio::runtime(workers);
    let actors = rt.block_on(async move {
        let actors: Vec<ActorRef<Idle>> = (0..n).map(|_| spawn::<Idle>(Idle)).collect();
        for a in &actors {
            a.wait_for_startup().await;
        }
        actors
    });
    std::thread::sleep(Duration::from_millis(50));
    Box::new((rt, actors))
}
