//! Timeouts and sleeps on real time, kept off the reactor.
//!
//! Most timeouts never fire: a `call` is answered, a `receive` gets its message. An
//! async-io timer wakes the thread blocked on the reactor each time one is set (a
//! system call, and a thread switch when a worker is waiting there), so a `call` on a
//! busy runtime paid for that every time. Here a timeout is an entry in one
//! process-wide table, and one thread (`rcos-timeouts`, started on first use, like
//! async-io's own) sleeps until the earliest entry it saw. Setting a timeout later than
//! that costs a lock and a push, cancelling one a lock and a store, and neither wakes
//! the thread; it wakes when the instant it slept for passes (whether or not that entry
//! is still there) and fires what is due.
//!
//! The table is a slab of live entries and a binary heap of (deadline, slot,
//! generation) in deadline order. Cancelling frees the slot and leaves the heap's
//! record behind, stale (its generation no longer matches): the thread skips stale
//! records as it meets them, and once they outnumber the live ones the heap is rebuilt
//! without them, so it stays within a constant factor of the live entries. A `call`
//! sets and cancels one timeout each time: about 270 instructions with the heap
//! (locks and the waker included), where an ordered map took about 500.
//!
//! Sleeps are entries here too (they do fire, but an async-io timer would cost every
//! turn of the reactor an allocation for as long as it is pending).
//!
//! If the thread cannot be started, timeouts and sleeps fall back to async-io's timers.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// Stale heap records are purged once there are more than this many and they
/// outnumber the live entries.
const PURGE_AT: usize = 64;

/// The live timeouts and their order.
#[derive(Default)]
struct Entries {
    /// Live entries by slot; a vacant slot has no waker.
    slots: Vec<Entry>,
    /// Vacant slots, for reuse.
    free: Vec<usize>,
    /// (deadline, slot, generation), earliest first. A record whose slot is vacant or
    /// holds another generation is stale.
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    /// How many records in `heap` are stale.
    stale: usize,
    /// The generation the next entry gets: slot and generation name one entry.
    next_generation: u64,
    /// The instant the thread sleeps until (`None`: no entry when it last looked).
    armed: Option<Instant>,
}

struct Entry {
    generation: u64,
    waker: Option<Waker>,
}

impl Entries {
    /// The entry's waker, if the entry is still there (not fired, not cancelled).
    fn live(&mut self, (slot, generation): (usize, u64)) -> Option<&mut Waker> {
        let entry = self.slots.get_mut(slot)?;
        if entry.generation == generation {
            entry.waker.as_mut()
        } else {
            None
        }
    }

    fn insert(&mut self, at: Instant, waker: Waker) -> (usize, u64) {
        let generation = self.next_generation;
        self.next_generation += 1;
        let entry = Entry {
            generation,
            waker: Some(waker),
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = entry;
                slot
            }
            None => {
                let slot = self.slots.len();
                self.slots.push(entry);
                slot
            }
        };
        self.heap.push(Reverse((at, slot, generation)));
        (slot, generation)
    }

    /// Vacates the entry's slot (its heap record becomes stale); its waker, if it was
    /// still there.
    fn remove(&mut self, key: (usize, u64)) -> Option<Waker> {
        self.live(key)?;
        let waker = self.slots[key.0].waker.take();
        self.free.push(key.0);
        self.stale += 1;
        if self.stale > PURGE_AT && self.stale > self.heap.len() / 2 {
            let Entries { slots, heap, .. } = self;
            heap.retain(|Reverse((_, slot, generation))| {
                let entry = &slots[*slot];
                entry.generation == *generation && entry.waker.is_some()
            });
            self.stale = 0;
        }
        waker
    }

    /// Takes out the entries due at `now` (their wakers into `due`), drops the stale
    /// records met on the way, and returns the earliest deadline left.
    fn fire_due(&mut self, now: Instant, due: &mut Vec<Waker>) -> Option<Instant> {
        while let Some(Reverse((at, slot, generation))) = self.heap.peek().copied() {
            let entry = &mut self.slots[slot];
            if entry.generation != generation || entry.waker.is_none() {
                self.heap.pop();
                self.stale = self.stale.saturating_sub(1);
                continue;
            }
            if at > now {
                return Some(at);
            }
            self.heap.pop();
            if let Some(waker) = entry.waker.take() {
                due.push(waker);
            }
            self.free.push(slot);
        }
        None
    }
}

/// The process-wide timeouts.
pub(crate) struct Deadlines {
    entries: Mutex<Entries>,
    /// Wakes the thread when an entry earlier than `armed` comes in.
    earlier: Condvar,
}

impl Deadlines {
    /// The timeouts, with their thread started; `None` if it could not be started.
    pub(crate) fn get() -> Option<&'static Deadlines> {
        static DEADLINES: OnceLock<Option<&'static Deadlines>> = OnceLock::new();
        *DEADLINES.get_or_init(|| {
            // Leaked on purpose: the thread and every timeout use it for the rest of
            // the process, as async-io's reactor is used.
            let deadlines: &'static Deadlines = Box::leak(Box::new(Deadlines {
                entries: Mutex::new(Entries::default()),
                earlier: Condvar::new(),
            }));
            match std::thread::Builder::new()
                .name("rcos-timeouts".into())
                .spawn(move || deadlines.run())
            {
                Ok(_) => Some(deadlines),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the timeout thread: timeouts use async-io's timers");
                    None
                }
            }
        })
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // No code that can panic runs under this lock (wakers are called outside it).
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The thread: fires what is due, then sleeps until the earliest entry.
    fn run(&self) {
        let mut due: Vec<Waker> = Vec::new();
        let mut entries = self.lock();
        loop {
            let now = Instant::now();
            entries.armed = entries.fire_due(now, &mut due);
            if !due.is_empty() {
                drop(entries);
                for waker in due.drain(..) {
                    waker.wake();
                }
                entries = self.lock();
                continue;
            }
            entries = match entries.armed {
                None => self
                    .earlier
                    .wait(entries)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(at) => {
                    self.earlier
                        .wait_timeout(entries, at.saturating_duration_since(now))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }
}

/// One timeout: ready once its deadline has passed.
pub(crate) struct DeadlineSleep {
    deadlines: &'static Deadlines,
    at: Instant,
    /// Its entry in the table (slot, generation), once registered; removed on drop.
    key: Option<(usize, u64)>,
    /// The next poll need not read the clock: the deadline was ahead when it was last
    /// read, an instant ago.
    ahead: bool,
}

impl std::fmt::Debug for DeadlineSleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadlineSleep")
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

impl DeadlineSleep {
    pub(crate) fn new(deadlines: &'static Deadlines, at: Instant) -> DeadlineSleep {
        DeadlineSleep {
            deadlines,
            at,
            key: None,
            ahead: false,
        }
    }

    /// Lets the first poll skip reading the clock: the caller just read it, saw the
    /// deadline ahead, and polls at once. Should the deadline pass in between, the
    /// entry the poll makes is due, and the thread fires it.
    pub(crate) fn skip_first_check(&mut self) {
        self.ahead = true;
    }

    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !std::mem::take(&mut self.ahead) && Instant::now() >= self.at {
            self.cancel();
            return Poll::Ready(());
        }
        let mut entries = self.deadlines.lock();
        if let Some(waker) = self.key.and_then(|key| entries.live(key)) {
            if !waker.will_wake(cx.waker()) {
                waker.clone_from(cx.waker());
            }
            return Poll::Pending;
        }
        // (Also when the thread fired it an instant ago: then it fires again.)
        self.key = Some(entries.insert(self.at, cx.waker().clone()));
        if entries.armed.is_none_or(|armed| self.at < armed) {
            entries.armed = Some(self.at);
            drop(entries);
            self.deadlines.earlier.notify_one();
        }
        Poll::Pending
    }

    fn cancel(&mut self) {
        if let Some(key) = self.key.take() {
            let waker = self.deadlines.lock().remove(key);
            // Dropped outside the lock.
            drop(waker);
        }
    }
}

impl Drop for DeadlineSleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::mpsc::{Sender, channel};
    use std::task::Wake;
    use std::time::Duration;

    use super::*;

    /// Records when it was woken.
    struct Record {
        index: usize,
        woken: Sender<(usize, Instant)>,
    }

    impl Wake for Record {
        fn wake(self: Arc<Self>) {
            let _ = self.woken.send((self.index, Instant::now()));
        }
    }

    #[test]
    fn cancelled_entries_leave_the_heap_bounded_and_never_fire() {
        let mut entries = Entries::default();
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let (tx, woken) = channel();
        let waker = |index: usize| {
            Waker::from(Arc::new(Record {
                index,
                woken: tx.clone(),
            }))
        };
        // One long-lived entry, then many set and cancelled, as calls do.
        let kept = entries.insert(at(10_000), waker(0));
        for i in 1..10_000u64 {
            let key = entries.insert(at(10_000 + i), waker(1));
            assert!(entries.remove(key).is_some());
            assert!(entries.remove(key).is_none(), "removed twice");
            assert!(
                entries.heap.len() <= 2 * (PURGE_AT + 1) + 2,
                "{} records for one live entry",
                entries.heap.len()
            );
        }
        assert!(entries.slots.len() <= 2, "slots are reused");
        // A slot reused by a newer entry is not the old entry.
        let old = entries.insert(at(5), waker(2));
        assert!(entries.remove(old).is_some());
        let newer = entries.insert(at(6), waker(3));
        assert_eq!(newer.0, old.0);
        assert!(entries.live(old).is_none());
        assert!(entries.live(newer).is_some());

        let mut due = Vec::new();
        assert_eq!(entries.fire_due(at(7), &mut due), Some(at(10_000)));
        assert_eq!(due.len(), 1, "only the newer entry was due");
        for w in due.drain(..) {
            w.wake();
        }
        assert_eq!(entries.fire_due(at(20_000), &mut due), None);
        assert_eq!(due.len(), 1, "the kept entry fires, no cancelled one");
        for w in due.drain(..) {
            w.wake();
        }
        assert!(entries.live(kept).is_none(), "a fired entry is gone");
        assert_eq!(entries.heap.len(), 0);
        assert_eq!(entries.stale, 0);
        let fired: Vec<usize> = woken.try_iter().map(|(index, _)| index).collect();
        assert_eq!(fired, [3, 0]);
    }

    #[test]
    fn a_deadline_that_passed_before_an_unchecked_first_poll_still_fires() {
        let deadlines = Deadlines::get().expect("the timeout thread starts");
        let (tx, woken) = channel();
        let at = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        let mut sleep = DeadlineSleep::new(deadlines, at);
        sleep.skip_first_check();
        let waker = Waker::from(Arc::new(Record {
            index: 0,
            woken: tx,
        }));
        // The first poll does not look at the clock: it registers the entry...
        assert!(sleep.poll(&mut Context::from_waker(&waker)).is_pending());
        // ...which is due, so the thread fires it.
        woken
            .recv_timeout(Duration::from_secs(30))
            .expect("the passed deadline fires");
        assert!(
            sleep
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_ready()
        );
    }

    #[test]
    fn each_timeout_fires_at_its_deadline_and_a_cancelled_one_never() {
        let deadlines = Deadlines::get().expect("the timeout thread starts");
        let (tx, woken) = channel();
        let start = Instant::now();
        // Longest first: each shorter one set later must wake the thread earlier.
        let after_ms = [400u64, 200, 50, 120, 10];
        let mut sleeps: Vec<DeadlineSleep> = Vec::new();
        for (index, ms) in after_ms.iter().enumerate() {
            let mut sleep = DeadlineSleep::new(deadlines, start + Duration::from_millis(*ms));
            let waker = Waker::from(Arc::new(Record {
                index,
                woken: tx.clone(),
            }));
            assert!(sleep.poll(&mut Context::from_waker(&waker)).is_pending());
            sleeps.push(sleep);
        }
        // One more, due at 30 ms, cancelled before then: it must never fire.
        let mut cancelled = DeadlineSleep::new(deadlines, start + Duration::from_millis(30));
        let waker = Waker::from(Arc::new(Record {
            index: 99,
            woken: tx.clone(),
        }));
        assert!(
            cancelled
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        drop(cancelled);

        let mut order = Vec::new();
        for _ in 0..after_ms.len() {
            let (index, at) = woken
                .recv_timeout(Duration::from_secs(30))
                .expect("every timeout fires");
            assert_ne!(index, 99, "a cancelled timeout fired");
            let due = start + Duration::from_millis(after_ms[index]);
            assert!(at >= due, "timeout {index} fired {:?} early", due - at);
            assert!(
                sleeps[index]
                    .poll(&mut Context::from_waker(Waker::noop()))
                    .is_ready()
            );
            order.push(after_ms[index]);
        }
        assert_eq!(
            order,
            [10, 50, 120, 200, 400],
            "fired in the order of their deadlines"
        );
        assert!(woken.try_recv().is_err(), "nothing else fired");
    }
}
