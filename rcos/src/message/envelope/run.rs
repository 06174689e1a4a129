//! Messages of one type queued one after another, kept unboxed.
//!
//! A message sent with [`TaskRef::send`](crate::TaskRef::send) is boxed into an
//! [`Envelope`] when it is received, not when it is sent, if it queues behind a
//! message of its own type: a task's mailbox keeps such messages in a [`Run`], one
//! typed queue per stretch of same-typed messages. A burst of messages then costs one
//! growing buffer instead of one allocation per message that lives until the message
//! is received (a pattern the system allocator handles badly: it pays for every block
//! it holds), and each envelope is made just before the receiver takes the message
//! out, so its block is freed while it is still in the allocator's per-thread cache.

use std::any::{Any, TypeId};
use std::collections::VecDeque;

use super::{Envelope, Header, Inner, MessageBox, Payload};

use crate::message::Message;

/// The `tracing` span of a message in a run (see [`Header::span`]).
pub(crate) type Span = Option<Box<tracing::Span>>;

/// How many messages a new run has room for.
const RUN_START: usize = 8;

/// Same-typed messages in the order they were sent, each boxed only when taken out.
pub(crate) struct Run(Box<dyn RunQueue>);

/// A run's messages, whatever their type.
pub(super) trait RunQueue: Send + 'static {
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn len(&self) -> usize;
    /// The oldest message, boxed. (A box, not an envelope: at two words it comes back
    /// in registers; an envelope, at three, would come back through memory.)
    fn pop(&mut self) -> Option<Box<dyn Payload>>;
}

/// The messages of a run of `M`s with their spans.
struct RunOf<M>(VecDeque<(M, Span)>);

impl<M: Message> RunQueue for RunOf<M> {
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    #[inline]
    fn len(&self) -> usize {
        self.0.len()
    }

    #[inline]
    fn pop(&mut self) -> Option<Box<dyn Payload>> {
        let (value, span) = pop_freeing(&mut self.0)?;
        Some(Box::new(MessageBox {
            header: Header {
                span,
                system: false,
            },
            value,
        }))
    }
}

impl Run {
    /// Messages in the run.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The oldest message, boxed into an envelope as [`Envelope::new`] would have.
    #[inline(always)]
    pub(crate) fn pop(&mut self) -> Option<Envelope> {
        self.0.pop().map(|boxed| Envelope {
            inner: Inner::Boxed(boxed),
        })
    }

    /// The oldest message, unboxed, if the run holds `M`s.
    #[inline(always)]
    pub(crate) fn pop_as<M: Message>(&mut self) -> Option<(M, Span)> {
        pop_freeing(&mut self.0.as_any_mut().downcast_mut::<RunOf<M>>()?.0)
    }

    /// Takes out the first message after the first `skip` that `pred` accepts,
    /// unboxed, if the run holds `M`s (a run of another type is passed over without a
    /// look at its messages).
    pub(crate) fn remove_first_as<M: Message>(
        &mut self,
        skip: usize,
        pred: &mut impl FnMut(&M) -> bool,
    ) -> Option<(M, Span)> {
        let run = &mut self.0.as_any_mut().downcast_mut::<RunOf<M>>()?.0;
        let at = run.iter().skip(skip).position(|(value, _)| pred(value))?;
        run.remove(skip + at)
    }

    /// Appends `msg` if the run holds `M`s; hands it back if it holds another type.
    #[inline]
    pub(crate) fn push<M: Message>(&mut self, msg: M, span: Span) -> Result<(), (M, Span)> {
        match self.0.as_any_mut().downcast_mut::<RunOf<M>>() {
            Some(run) => {
                run.0.push_back((msg, span));
                Ok(())
            }
            None => Err((msg, span)),
        }
    }

    /// Starts a run with the message in `env` followed by `msg`, if `env` holds an `M`
    /// sent as an ordinary message (not a runtime signal, nor a shared, local-only or
    /// encoded value); hands both back otherwise.
    pub(crate) fn start<M: Message>(
        env: Envelope,
        msg: M,
        span: Span,
    ) -> Result<Run, (Envelope, M, Span)> {
        if env.inner.get().value_type_id() != TypeId::of::<M>() {
            return Err((env, msg, span));
        }
        let boxed = match env.inner {
            Inner::Boxed(boxed) => boxed,
            inner @ Inner::Shared(_) => return Err((Envelope { inner }, msg, span)),
        };
        match boxed.into_run() {
            Ok(queue) => {
                let mut run = Run(queue);
                match run.push(msg, span) {
                    Ok(()) => Ok(run),
                    // `into_run` made a run of the value's type, which is `M`.
                    Err((msg, span)) => {
                        tracing::error!("rcos: a run changed type");
                        Err((run.pop_envelope_or_lost(), msg, span))
                    }
                }
            }
            Err(boxed) => Err((
                Envelope {
                    inner: Inner::Boxed(boxed),
                },
                msg,
                span,
            )),
        }
    }

    /// The run's single message as an envelope (for the unreachable case above).
    fn pop_envelope_or_lost(mut self) -> Envelope {
        self.pop()
            .unwrap_or_else(|| Envelope::new_local("rcos: message lost in a run"))
    }

    /// Moves every message, boxed, to the back of `to`.
    pub(crate) fn drain_into(mut self, to: &mut VecDeque<Envelope>) {
        to.reserve(self.len());
        while let Some(env) = self.pop() {
            to.push_back(env);
        }
    }
}

impl Envelope {
    /// Wraps a message whose span the sender has already looked up.
    #[inline]
    pub(crate) fn with_span<M: Message>(msg: M, span: Span) -> Envelope {
        Envelope {
            inner: Inner::Boxed(Box::new(MessageBox {
                header: Header {
                    span,
                    system: false,
                },
                value: msg,
            })),
        }
    }
}

/// Takes the oldest message of a run's buffer; the buffer is freed once emptied (an
/// emptied run stays in its queue until the next take, but holds no room).
#[inline(always)]
fn pop_freeing<T>(queue: &mut VecDeque<T>) -> Option<T> {
    let value = queue.pop_front();
    if queue.is_empty() && queue.capacity() > 0 {
        *queue = VecDeque::new();
    }
    value
}

/// A run holding one message (see `Payload::into_run`).
pub(super) fn queue_of<M: Message>(value: M, span: Span) -> Box<dyn RunQueue> {
    let mut queue = VecDeque::with_capacity(RUN_START);
    queue.push_back((value, span));
    Box::new(RunOf(queue))
}
