//! The workloads on actix: actors on one `actix_rt::System` thread, `do_send` (fire and
//! forget, past the mailbox's capacity as an unbounded mailbox would take it) and `send`
//! (request and reply).

use std::any::Any;
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_rt::SystemRunner;
use tokio::sync::{mpsc, oneshot};

use crate::{Figure, Implementation, per_op, throughput};

pub(crate) struct Actix {
    sys: SystemRunner,
}

impl Actix {
    pub(crate) fn new() -> Actix {
        Actix {
            sys: actix_rt::System::new(),
        }
    }
}

type Done = mpsc::UnboundedSender<()>;

/// Stops as soon as it has started; tells `done` when the last of its kind has stopped.
struct Quick {
    left: Rc<Cell<usize>>,
    done: Done,
}

impl Actor for Quick {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.left.set(self.left.get() - 1);
        if self.left.get() == 0 {
            let _ = self.done.send(());
        }
    }
}

struct Ball(u64);

impl Message for Ball {
    type Result = ();
}

struct Hello(Addr<Ping>);

impl Message for Hello {
    type Result = ();
}

/// Sends every ball back to whoever said hello.
struct Pong {
    ping: Option<Addr<Ping>>,
}

impl Actor for Pong {
    type Context = Context<Self>;
}

impl Handler<Hello> for Pong {
    type Result = ();

    fn handle(&mut self, Hello(ping): Hello, _: &mut Context<Self>) {
        self.ping = Some(ping);
    }
}

impl Handler<Ball> for Pong {
    type Result = ();

    fn handle(&mut self, ball: Ball, _: &mut Context<Self>) {
        if let Some(ping) = &self.ping {
            ping.do_send(ball);
        }
    }
}

/// Plays `n` round trips with a [`Pong`], then reports the time they took.
struct Ping {
    pong: Addr<Pong>,
    n: u64,
    start: Instant,
    done: Option<oneshot::Sender<Duration>>,
}

impl Actor for Ping {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.pong.do_send(Hello(ctx.address()));
        self.start = Instant::now();
        self.pong.do_send(Ball(0));
    }
}

impl Handler<Ball> for Ping {
    type Result = ();

    fn handle(&mut self, Ball(i): Ball, ctx: &mut Context<Self>) {
        if i + 1 < self.n {
            self.pong.do_send(Ball(i + 1));
        } else if let Some(done) = self.done.take() {
            let _ = done.send(self.start.elapsed());
            ctx.stop();
        }
    }
}

/// A request; the ask and service workloads.
struct Ask(u64);

impl Message for Ask {
    type Result = u64;
}

/// Answers n + 1.
struct Server;

impl Actor for Server {
    type Context = Context<Self>;
}

impl Handler<Ask> for Server {
    type Result = u64;

    fn handle(&mut self, Ask(n): Ask, _: &mut Context<Self>) -> u64 {
        n + 1
    }
}

/// Asks `next` and passes its answer back.
struct Relay {
    next: Recipient<Ask>,
}

impl Actor for Relay {
    type Context = Context<Self>;
}

impl Handler<Ask> for Relay {
    type Result = ResponseFuture<u64>;

    fn handle(&mut self, Ask(n): Ask, _: &mut Context<Self>) -> ResponseFuture<u64> {
        let next = self.next.clone();
        Box::pin(async move { next.send(Ask(n)).await.expect("the next server answers") })
    }
}

struct Num(u64);

impl Message for Num {
    type Result = ();
}

/// Counts `total` messages, then tells `done`; the fan-in sink and broadcast subscribers.
struct Counter {
    got: usize,
    total: usize,
    done: Done,
}

impl Actor for Counter {
    type Context = Context<Self>;
}

impl Handler<Num> for Counter {
    type Result = ();

    fn handle(&mut self, Num(n): Num, ctx: &mut Context<Self>) {
        std::hint::black_box(n);
        self.got += 1;
        if self.got == self.total {
            let _ = self.done.send(());
            ctx.stop();
        }
    }
}

impl Implementation for Actix {
    fn spawn_complete(&self, n: usize) -> Figure {
        self.sys.block_on(async move {
            let (done, mut all_done) = mpsc::unbounded_channel();
            let left = Rc::new(Cell::new(n));
            let start = Instant::now();
            for _ in 0..n {
                Quick {
                    left: left.clone(),
                    done: done.clone(),
                }
                .start();
            }
            let _ = all_done.recv().await;
            per_op(start.elapsed(), n)
        })
    }

    fn pingpong(&self, n: usize) -> Figure {
        self.sys.block_on(async move {
            let pong = Pong { ping: None }.start();
            let (done, took) = oneshot::channel();
            Ping {
                pong,
                n: n as u64,
                start: Instant::now(),
                done: Some(done),
            }
            .start();
            per_op(took.await.expect("ping reports"), n)
        })
    }

    fn calls(&self, n: usize) -> Figure {
        self.sys.block_on(async move {
            let server = Server.start();
            let start = Instant::now();
            for i in 0..n as u64 {
                let r = server.send(Ask(i)).await.expect("the server answers");
                debug_assert_eq!(r, i + 1);
            }
            per_op(start.elapsed(), n)
        })
    }

    fn chain(&self, n: usize) -> Figure {
        self.sys.block_on(async move {
            let c = Server.start();
            let b = Relay {
                next: c.recipient(),
            }
            .start();
            let a = Relay {
                next: b.recipient(),
            }
            .start();
            let start = Instant::now();
            for i in 0..n as u64 {
                let r = a.send(Ask(i)).await.expect("the chain answers");
                debug_assert_eq!(r, i + 1);
            }
            per_op(start.elapsed(), n)
        })
    }

    fn fanin(&self, senders: usize, each: usize) -> Figure {
        self.sys.block_on(async move {
            let total = senders * each;
            let (done, mut finished) = mpsc::unbounded_channel();
            let sink = Counter {
                got: 0,
                total,
                done,
            }
            .start();
            let start = Instant::now();
            for _ in 0..senders {
                let sink = sink.clone();
                actix_rt::spawn(async move {
                    for i in 0..each as u64 {
                        sink.do_send(Num(i));
                    }
                });
            }
            finished.recv().await.expect("the sink counts them all");
            throughput(start.elapsed(), total)
        })
    }

    fn broadcast(&self, subscribers: usize, n: usize) -> Figure {
        self.sys.block_on(async move {
            let (done, mut finished) = mpsc::unbounded_channel();
            let subs: Vec<Addr<Counter>> = (0..subscribers)
                .map(|_| {
                    Counter {
                        got: 0,
                        total: n,
                        done: done.clone(),
                    }
                    .start()
                })
                .collect();
            let start = Instant::now();
            for i in 0..n as u64 {
                for sub in &subs {
                    sub.do_send(Num(i));
                }
            }
            for _ in 0..subscribers {
                let _ = finished.recv().await;
            }
            throughput(start.elapsed(), n * subscribers)
        })
    }
}

/// Counts its start: the idle actor.
struct Idle(Rc<Cell<usize>>);

impl Actor for Idle {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Context<Self>) {
        self.0.set(self.0.get() + 1);
    }
}

impl Handler<Num> for Idle {
    type Result = ();

    fn handle(&mut self, _: Num, _: &mut Context<Self>) {}
}

/// Starts `n` idle actors and waits until every one has started.
pub(crate) fn idle_tasks(n: usize) -> Box<dyn Any> {
    let sys = actix_rt::System::new();
    let actors = sys.block_on(async move {
        let started = Rc::new(Cell::new(0));
        let actors: Vec<Addr<Idle>> = (0..n).map(|_| Idle(started.clone()).start()).collect();
        while started.get() < n {
            actix_rt::time::sleep(Duration::from_millis(1)).await;
        }
        actors
    });
    Box::new((sys, actors))
}
