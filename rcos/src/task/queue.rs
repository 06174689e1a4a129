//! A task's queue of messages.
//!
//! Messages wait in arrival order. A message sent with [`TaskRef::send`] that arrives
//! behind one of its own type joins it in a [`Run`]: same-typed messages queued one
//! after another share one growing buffer and are boxed into envelopes only as they
//! are taken out (see `message::envelope::run`). Only small messages do (at most
//! [`RUN_MAX_BYTES`], with the span). Runtime signals, channel messages, messages from
//! other nodes still encoded and local-only values wait in the envelopes they came in;
//! an envelope holding an ordinary message (one forwarded, say) may start a run with
//! the same-typed message sent after it.
//!
//! [`TaskRef::send`]: crate::TaskRef::send

use std::collections::VecDeque;

use crate::message::{Envelope, Message, Run, RunSpan};

/// Room for messages (a queue's capacity) that an emptied queue keeps; a larger one,
/// grown by a burst, is freed, so that a burst does not hold memory for the rest of the
/// task's life.
pub(crate) const QUEUE_KEPT: usize = 1024;

/// The largest message (with its span) that joins a run. A larger one is copied into
/// the run's buffer and again into its envelope, which costs more than the allocation
/// a run saves; it waits in its own envelope.
pub(crate) const RUN_MAX_BYTES: usize = 128;

/// A message taken out of a queue as the type its taker wanted (see
/// [`Queue::pop_front_as`]).
pub(crate) enum Taken<M> {
    /// Out of its envelope (from a run, never boxed; or decoded from another node's
    /// bytes): never a runtime signal.
    Value(M, RunSpan),
    /// A message that waited on its own, as its envelope.
    Env(Envelope),
}

/// Where [`Queue::remove_first_as`] found its message.
enum Found<M> {
    /// In a run (and whether that emptied it).
    InRun(M, RunSpan, bool),
    /// In an envelope from another node, decoded.
    Decoded(M),
    /// In an envelope holding a local `M`.
    Local,
}

/// One place in the queue: a message, or a run of same-typed messages.
enum Entry {
    One(Envelope),
    Run(Run),
}

#[derive(Default)]
struct Entries {
    list: VecDeque<Entry>,
    /// Messages in `list` (a run holds many).
    len: usize,
}

impl Entries {
    /// Counts a message out; a list that a burst made large gives its memory back once
    /// it is empty again (see [`QUEUE_KEPT`]).
    #[inline]
    fn took_one(&mut self) {
        self.len -= 1;
        if self.len == 0 {
            if self.list.capacity() > QUEUE_KEPT {
                self.list = VecDeque::new();
            } else {
                // Nothing but emptied runs is left (see `Queue::pop_front`).
                self.list.clear();
            }
        }
    }
}

/// A task's queue of messages, allocated at its first message.
///
/// Most tasks never queue one (they end, or wait, with an empty mailbox): for them the
/// queue is a null pointer, so the task's state stays small, and its drop costs next
/// to nothing (a `VecDeque`'s own drop walks its two halves even when both are empty).
///
/// The box is deliberate: it keeps the empty queue one word, at the price of one small
/// allocation the first time a message arrives.
#[derive(Default)]
pub(crate) struct Queue(Option<Box<Entries>>);

impl Queue {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Messages waiting.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |q| q.len)
    }

    /// Whether a message ever arrived (the queue holds an allocation, maybe empty).
    #[inline]
    pub(crate) fn is_allocated(&self) -> bool {
        self.0.is_some()
    }

    /// Queues an envelope as it is.
    #[inline]
    pub(crate) fn push_back(&mut self, env: Envelope) {
        let q = self.0.get_or_insert_with(Box::default);
        q.list.push_back(Entry::One(env));
        q.len += 1;
    }

    /// Queues a message sent as an `M` (what `Envelope::new` would wrap, with the
    /// sender's span already looked up): behind a run of `M`s it joins the run; behind
    /// a lone `M` it starts one with it; otherwise it is boxed into an envelope.
    #[inline]
    pub(crate) fn push_message<M: Message>(&mut self, msg: M, span: RunSpan) {
        let q = self.0.get_or_insert_with(Box::default);
        q.len += 1;
        if size_of::<(M, RunSpan)>() > RUN_MAX_BYTES {
            q.list.push_back(Entry::One(Envelope::with_span(msg, span)));
            return;
        }
        let (msg, span) = match q.list.back_mut() {
            Some(Entry::Run(run)) => match run.push(msg, span) {
                Ok(()) => return,
                Err(back) => back,
            },
            Some(Entry::One(env)) if env.is_any::<M>() => {
                let Some(Entry::One(env)) = q.list.pop_back() else {
                    unreachable!("the back was just seen to be one message");
                };
                match Run::start(env, msg, span) {
                    Ok(run) => q.list.push_back(Entry::Run(run)),
                    Err((env, msg, span)) => {
                        q.list.push_back(Entry::One(env));
                        q.list.push_back(Entry::One(Envelope::with_span(msg, span)));
                    }
                }
                return;
            }
            _ => (msg, span),
        };
        q.list.push_back(Entry::One(Envelope::with_span(msg, span)));
    }

    /// The oldest message. A queue that a burst made large gives its memory back once
    /// it is empty again (see [`QUEUE_KEPT`]); a run gives back its buffer as soon as
    /// it is empty, and leaves the queue at the next take (or when the queue empties).
    ///
    /// Inlined, with no call between taking the message and returning it: a message
    /// kept on the stack across a call is written there a word at a time and read back
    /// in one piece, which stalls the processor (about a fifth of one-worker fan-in's
    /// time).
    #[inline(always)]
    pub(crate) fn pop_front(&mut self) -> Option<Envelope> {
        let q = self.0.as_mut()?;
        let env = loop {
            match q.list.front_mut()? {
                Entry::Run(run) => match run.pop() {
                    Some(env) => break env,
                    // Emptied by the last take: it goes now.
                    None => drop(q.list.pop_front()),
                },
                Entry::One(_) => match q.list.pop_front()? {
                    Entry::One(env) => break env,
                    // The front was just seen to be one message.
                    Entry::Run(run) => {
                        q.list.push_front(Entry::Run(run));
                        return None;
                    }
                },
            }
        };
        q.took_one();
        Some(env)
    }

    /// The oldest message if it is a local `M` (one from another node, still encoded,
    /// is not): a message in a run comes out unboxed. `None` if the oldest message is
    /// something else, or there is none.
    #[inline(always)]
    pub(crate) fn pop_front_as<M: Message>(&mut self) -> Option<Taken<M>> {
        let q = self.0.as_mut()?;
        let taken = loop {
            match q.list.front_mut()? {
                Entry::Run(run) => match run.pop_as::<M>() {
                    Some((value, span)) => break Taken::Value(value, span),
                    // Emptied by the last take (see `pop_front`): it goes now.
                    None if run.len() == 0 => drop(q.list.pop_front()),
                    None => return None,
                },
                Entry::One(env) if env.is_any::<M>() => match q.list.pop_front()? {
                    Entry::One(env) => break Taken::Env(env),
                    // The front was just seen to be one message.
                    Entry::Run(run) => {
                        q.list.push_front(Entry::Run(run));
                        return None;
                    }
                },
                Entry::One(_) => return None,
            }
        };
        q.took_one();
        Some(taken)
    }

    /// Takes out the oldest message that is an `M` accepted by `pred` (decoding one from
    /// another node that is named as an `M`), leaving the others in their order; the
    /// first `skip` messages are not looked at (the predicate has seen them). Messages
    /// of other types are passed over by type, a run of them at once, so the cost grows
    /// with the number of places in the queue, not of messages.
    pub(crate) fn remove_first_as<M: Message>(
        &mut self,
        skip: usize,
        pred: &mut impl FnMut(&M) -> bool,
    ) -> Option<Taken<M>> {
        let q = self.0.as_mut()?;
        let mut hit = None;
        // Messages before the current place.
        let mut before = 0;
        for (at, entry) in q.list.iter_mut().enumerate() {
            match entry {
                Entry::Run(run) => {
                    let len = run.len();
                    if before + len > skip {
                        let from = skip.saturating_sub(before);
                        if let Some((value, span)) = run.remove_first_as(from, pred) {
                            hit = Some((at, Found::InRun(value, span, run.len() == 0)));
                            break;
                        }
                    }
                    before += len;
                }
                Entry::One(env) => {
                    if before >= skip {
                        let mut decoded = None;
                        if env.select::<M>(pred, &mut decoded) {
                            hit = Some((at, decoded.map_or(Found::Local, Found::Decoded)));
                            break;
                        }
                    }
                    before += 1;
                }
            }
        }
        let (at, found) = hit?;
        let taken = match found {
            Found::InRun(value, span, emptied) => {
                if emptied {
                    q.list.remove(at);
                }
                Taken::Value(value, span)
            }
            // Decoded from another node's bytes: the envelope goes.
            Found::Decoded(value) => {
                q.list.remove(at);
                Taken::Value(value, None)
            }
            Found::Local => match q.list.remove(at)? {
                Entry::One(env) => Taken::Env(env),
                // The place was just seen to hold one message.
                Entry::Run(run) => {
                    q.list.insert(at, Entry::Run(run));
                    return None;
                }
            },
        };
        q.took_one();
        Some(taken)
    }

    /// Moves every message of `other` behind this queue's, keeping runs as they are.
    pub(crate) fn append(&mut self, other: &mut Queue) {
        let Some(theirs) = other.0.as_mut() else {
            return;
        };
        if theirs.len == 0 {
            return;
        }
        let q = self.0.get_or_insert_with(Box::default);
        q.len += theirs.len;
        q.list.append(&mut theirs.list);
        theirs.len = 0;
        trim(&mut theirs.list);
    }

    /// Puts a message back in front of all the others (one just taken out and not
    /// wanted after all).
    pub(crate) fn push_front(&mut self, env: Envelope) {
        let q = self.0.get_or_insert_with(Box::default);
        q.list.push_front(Entry::One(env));
        q.len += 1;
    }

    /// Moves every message to the back of `to`, oldest first.
    pub(crate) fn append_to(&mut self, to: &mut VecDeque<Envelope>) {
        if let Some(q) = &mut self.0 {
            to.reserve(q.len);
            for entry in q.list.drain(..) {
                match entry {
                    Entry::One(env) => to.push_back(env),
                    Entry::Run(run) => run.drain_into(to),
                }
            }
            q.len = 0;
            trim(&mut q.list);
        }
    }

    /// Takes every message out, keeping the allocation for the next ones.
    pub(crate) fn take_all(&mut self) -> VecDeque<Envelope> {
        let mut all = VecDeque::new();
        if let Some(q) = &mut self.0 {
            all.reserve_exact(q.len);
            for entry in q.list.drain(..) {
                match entry {
                    Entry::One(env) => all.push_back(env),
                    Entry::Run(run) => run.drain_into(&mut all),
                }
            }
            q.len = 0;
        }
        all
    }

    /// Replaces the messages with `queue`, reusing the allocation if there is one.
    pub(crate) fn set(&mut self, queue: VecDeque<Envelope>) {
        if queue.is_empty() && self.0.is_none() {
            return;
        }
        let q = self.0.get_or_insert_with(Box::default);
        q.list.clear();
        q.len = queue.len();
        q.list.extend(queue.into_iter().map(Entry::One));
        trim(&mut q.list);
    }

    /// The room of the queue's own list (not counting runs' buffers), for tests.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.0.as_ref().map_or(0, |q| q.list.capacity())
    }

    /// How many places the queue's messages take: runs count once (for tests).
    #[cfg(test)]
    fn entries(&self) -> usize {
        self.0.as_ref().map_or(0, |q| q.list.len())
    }
}

/// Gives back most of a queue's room when a burst made it large and at most a quarter
/// of it is used (so that shrinking, which moves the messages, happens rarely).
fn trim(list: &mut VecDeque<Entry>) {
    if list.capacity() > QUEUE_KEPT && list.len() <= list.capacity() / 4 {
        list.shrink_to((2 * list.len()).max(QUEUE_KEPT / 4));
    }
}

#[cfg(test)]
mod tests {
    use super::{QUEUE_KEPT, Queue};
    use crate::message::Envelope;
    use std::collections::VecDeque;

    #[test]
    fn an_emptied_queue_gives_back_what_a_burst_grew() {
        let mut queue = Queue::default();
        for i in 0..(4 * QUEUE_KEPT) as u64 {
            queue.push_back(Envelope::new(i));
        }
        let big = queue.capacity();
        assert!(big >= 4 * QUEUE_KEPT);
        for i in 0..(4 * QUEUE_KEPT) as u64 {
            let env = queue.pop_front().expect("a message");
            assert_eq!(env.downcast::<u64>().ok(), Some(i), "in order");
            if i + 1 < (4 * QUEUE_KEPT) as u64 {
                // Not while messages wait.
                assert_eq!(queue.capacity(), big);
            }
        }
        assert!(queue.is_empty());
        assert!(queue.capacity() <= QUEUE_KEPT);
        // A small queue keeps its room.
        for i in 0..10u64 {
            queue.push_back(Envelope::new(i));
        }
        let small = queue.capacity();
        while queue.pop_front().is_some() {}
        assert_eq!(queue.capacity(), small);
    }

    #[test]
    fn selective_receive_paths_give_back_room_too() {
        // append_to empties a queue: its room goes if a burst made it large.
        let mut queue = Queue::default();
        for i in 0..(4 * QUEUE_KEPT) as u64 {
            queue.push_back(Envelope::new(i));
        }
        let mut all = VecDeque::new();
        queue.append_to(&mut all);
        assert_eq!(all.len(), 4 * QUEUE_KEPT);
        assert!(queue.capacity() <= QUEUE_KEPT);
        // set() with a few messages left in a large queue keeps them, in order, in less.
        let rest: VecDeque<Envelope> = all
            .drain(..)
            .skip(4 * QUEUE_KEPT - 5)
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        let mut big = VecDeque::with_capacity(8 * QUEUE_KEPT);
        big.extend(rest);
        let mut batch = Queue::default();
        batch.set(big);
        assert!(batch.capacity() <= QUEUE_KEPT);
        let left: Vec<u64> = std::iter::from_fn(|| batch.pop_front())
            .map(|env| env.downcast::<u64>().expect("a u64"))
            .collect();
        let n = (4 * QUEUE_KEPT) as u64;
        assert_eq!(left, (n - 5..n).collect::<Vec<_>>());
    }

    /// What a mailbox receives, in order: `(type, value)`.
    fn drain(queue: &mut Queue) -> Vec<(String, u64)> {
        std::iter::from_fn(|| queue.pop_front())
            .map(|env| match env.downcast::<u64>() {
                Ok(v) => ("u64".to_string(), v),
                Err(env) => match env.downcast::<u32>() {
                    Ok(v) => ("u32".to_string(), u64::from(v)),
                    Err(env) => match env.downcast::<String>() {
                        Ok(s) => ("String".to_string(), s.parse().expect("a number")),
                        Err(env) => panic!("unexpected {}", env.type_name()),
                    },
                },
            })
            .collect()
    }

    #[test]
    fn same_typed_messages_share_a_run_and_keep_their_order_among_others() {
        let mut queue = Queue::default();
        let mut sent = Vec::new();
        // Runs of several lengths, broken by other types, by envelopes queued as they
        // are, and by runtime signals of the same type.
        for (i, len) in [1u64, 2, 3, 50, 1, 7].into_iter().enumerate() {
            for k in 0..len {
                queue.push_message(k, None);
                sent.push(("u64".to_string(), k));
            }
            match i % 3 {
                0 => {
                    queue.push_message(i as u32, None);
                    sent.push(("u32".to_string(), i as u64));
                }
                1 => {
                    queue.push_back(Envelope::new(i.to_string()));
                    sent.push(("String".to_string(), i as u64));
                }
                _ => {
                    queue.push_back(Envelope::system(100 + i as u64));
                    sent.push(("u64".to_string(), 100 + i as u64));
                }
            }
        }
        assert_eq!(queue.len(), sent.len());
        // 50 u64s took one place, not 50.
        assert!(queue.entries() < 20, "{} places", queue.entries());
        assert_eq!(drain(&mut queue), sent);
        assert!(queue.is_empty());
    }

    /// A run emptied by a take stays in the queue only until the next take; a queue
    /// with nothing left keeps no place, and a take by type passes the emptied run.
    #[test]
    fn an_emptied_run_leaves_at_the_next_take() {
        let mut queue = Queue::default();
        queue.push_message(1u32, None);
        queue.push_message(2u32, None);
        queue.push_back(Envelope::new("after".to_string()));
        for want in [1u32, 2] {
            let got = queue.pop_front().and_then(|e| e.downcast::<u32>().ok());
            assert_eq!(got, Some(want));
        }
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.entries(), 2, "the emptied run and the String");
        match queue.pop_front_as::<String>() {
            Some(super::Taken::Env(env)) => {
                assert_eq!(env.downcast::<String>().ok().as_deref(), Some("after"))
            }
            _ => panic!("the String comes next"),
        }
        assert!(queue.is_empty());
        assert_eq!(queue.entries(), 0);
        // Emptied by its last take: nothing is left in the queue.
        queue.push_message(3u64, None);
        queue.push_message(4u64, None);
        let taken: Vec<u64> = std::iter::from_fn(|| queue.pop_front())
            .filter_map(|e| e.downcast::<u64>().ok())
            .collect();
        assert_eq!(taken, [3, 4]);
        assert_eq!(queue.entries(), 0);
    }

    #[test]
    fn a_large_message_waits_in_its_own_envelope() {
        let mut queue = Queue::default();
        for i in 0..4u64 {
            queue.push_message(Large { words: [i; 32] }, None);
        }
        assert_eq!(queue.entries(), 4, "no run of large messages");
        for i in 0..4u64 {
            queue.push_message(i, None);
        }
        assert_eq!(queue.entries(), 5, "small ones share a run");
        let large: Vec<u64> = (0..4)
            .map(|_| queue.pop_front().and_then(|e| e.downcast::<Large>().ok()))
            .map(|m| m.expect("a large message").words[0])
            .collect();
        assert_eq!(large, [0, 1, 2, 3]);
        assert_eq!(drain(&mut queue).len(), 4);
    }

    /// A message larger than [`super::RUN_MAX_BYTES`].
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Large {
        words: [u64; 32],
    }

    impl crate::Message for Large {
        fn wire_name() -> std::borrow::Cow<'static, str> {
            "rcos::tests::Large".into()
        }
    }

    #[test]
    fn a_signal_does_not_join_a_run_nor_start_one() {
        let mut queue = Queue::default();
        queue.push_message(1u64, None);
        queue.push_back(Envelope::system(2u64));
        queue.push_message(3u64, None);
        queue.push_message(4u64, None);
        let first = queue.pop_front().expect("a message");
        assert!(!first.is_system());
        let second = queue.pop_front().expect("a message");
        assert!(second.is_system(), "the signal keeps its mark");
        assert_eq!(second.downcast::<u64>().ok(), Some(2));
        let rest: Vec<u64> = std::iter::from_fn(|| queue.pop_front())
            .map(|env| {
                assert!(!env.is_system());
                env.downcast::<u64>().expect("a u64")
            })
            .collect();
        assert_eq!(rest, [3, 4]);
    }

    #[test]
    fn runs_survive_the_selective_receive_paths() {
        let mut queue = Queue::default();
        for i in 0..10u64 {
            queue.push_message(i, None);
        }
        queue.push_message(7u32, None);
        let mut all = queue.take_all();
        assert_eq!(all.len(), 11);
        assert!(queue.is_empty());
        let hit = all
            .iter()
            .position(|env| env.is_any::<u32>())
            .and_then(|i| all.remove(i))
            .expect("the u32");
        assert_eq!(hit.downcast::<u32>().ok(), Some(7));
        queue.set(all);
        queue.push_message(10u64, None);
        let left: Vec<u64> = std::iter::from_fn(|| queue.pop_front())
            .map(|env| env.downcast::<u64>().expect("a u64"))
            .collect();
        assert_eq!(left, (0..=10).collect::<Vec<_>>());
    }

    #[test]
    fn remove_first_as_passes_over_other_types_and_decodes_messages_from_other_nodes() {
        use super::Taken;
        let mut queue = Queue::default();
        queue.push_message(String::from("0"), None);
        for i in 0..5u64 {
            queue.push_message(i, None);
        }
        let bytes = crate::message::encode(&7u32).expect("encodes");
        queue.push_back(Envelope::from_encoded(
            crate::message::Encoded::new("u32", &bytes),
            tracing::Span::none(),
        ));
        queue.push_back(Envelope::new(8u32));
        let mut other = Queue::default();
        other.push_message(9u32, None);
        other.push_message(10u32, None);
        queue.append(&mut other);
        assert!(other.is_empty());
        assert_eq!(queue.len(), 10);
        let value = |t: Taken<u64>| match t {
            Taken::Value(v, _) => v,
            Taken::Env(env) => env.downcast::<u64>().expect("a u64"),
        };
        // In a run, unboxed; the predicate picks the first odd one.
        let odd = queue.remove_first_as::<u64>(0, &mut |n| n % 2 == 1);
        assert_eq!(odd.map(value), Some(1));
        // The encoded u32 from another node is decoded; refused, it stays, decoded.
        assert!(queue.remove_first_as::<u32>(0, &mut |n| *n > 7).is_some());
        let u32s: Vec<u32> = std::iter::from_fn(|| queue.remove_first_as::<u32>(0, &mut |_| true))
            .map(|t| match t {
                Taken::Value(v, _) => v,
                Taken::Env(env) => env.downcast::<u32>().expect("a u32"),
            })
            .collect();
        assert_eq!(u32s, [7, 9, 10]);
        assert!(queue.remove_first_as::<bool>(0, &mut |_| true).is_none());
        assert_eq!(queue.len(), 5);
        let rest = drain(&mut queue);
        let expected: Vec<(String, u64)> = std::iter::once(("String".to_string(), 0))
            .chain([0, 2, 3, 4].into_iter().map(|n| ("u64".to_string(), n)))
            .collect();
        assert_eq!(rest, expected);
    }

    #[test]
    fn a_run_keeps_each_message_s_span() {
        use tracing::subscriber::with_default;
        let subscriber = tracing_subscriber::registry();
        with_default(subscriber, || {
            let mut queue = Queue::default();
            let spans: Vec<tracing::Span> =
                (0..3).map(|i| tracing::info_span!("send", i)).collect();
            for (i, span) in spans.iter().enumerate() {
                let _in = span.enter();
                queue.push_message(i as u64, crate::message::current_span());
            }
            for span in &spans {
                let env = queue.pop_front().expect("a message");
                assert_eq!(env.span().id(), span.id());
            }
        });
    }

    #[test]
    fn dropping_a_queue_with_runs_drops_every_message() {
        use std::sync::Arc;
        let counted = Arc::new(());
        let mut queue = Queue::default();
        for _ in 0..100 {
            queue.push_message(
                Counted {
                    _count: counted.clone(),
                },
                None,
            );
        }
        assert_eq!(Arc::strong_count(&counted), 101);
        drop(queue.pop_front());
        assert_eq!(Arc::strong_count(&counted), 100);
        drop(queue);
        assert_eq!(Arc::strong_count(&counted), 1);
    }

    /// A message that holds a reference count, to see it dropped.
    #[derive(Clone, serde::Serialize, serde::Deserialize)]
    struct Counted {
        #[serde(skip)]
        _count: std::sync::Arc<()>,
    }

    impl crate::Message for Counted {
        fn wire_name() -> std::borrow::Cow<'static, str> {
            "rcos::tests::Counted".into()
        }
    }
}
