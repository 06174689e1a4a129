//! Timeouts on real time, kept off the reactor.
//!
//! Most timeouts never fire: a `call` is answered, a `receive` gets its message. An
//! async-io timer wakes the thread blocked on the reactor each time one is set (a
//! system call, and a thread switch when a worker is waiting there), so a `call` on a
//! busy runtime paid for that every time. Here a timeout is an entry in one
//! process-wide ordered map, and one thread (`rcos-timeouts`, started on first use, like
//! async-io's own) sleeps until the earliest entry it saw. Setting a timeout later than
//! that costs a lock and an insert, cancelling one a lock and a remove, and neither
//! wakes the thread; it wakes when the instant it slept for passes (whether or not that
//! entry is still there) and fires what is due.
//!
//! If the thread cannot be started, timeouts fall back to async-io's timers.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// The entries, by (deadline, id): the ids keep equal deadlines apart.
#[derive(Default)]
struct Entries {
    map: BTreeMap<(Instant, u64), Waker>,
    /// The instant the thread sleeps until (`None`: no entry when it last looked).
    armed: Option<Instant>,
}

/// The process-wide timeouts.
pub(crate) struct Deadlines {
    entries: Mutex<Entries>,
    /// Wakes the thread when an entry earlier than `armed` comes in.
    earlier: Condvar,
    next_id: AtomicU64,
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
                next_id: AtomicU64::new(0),
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
            while let Some(entry) = entries.map.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                due.push(entry.remove());
            }
            entries.armed = entries.map.first_key_value().map(|(key, _)| key.0);
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
    id: u64,
    /// Whether an entry may be in the map (it is removed on drop).
    registered: bool,
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
            id: deadlines.next_id.fetch_add(1, Ordering::Relaxed),
            registered: false,
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
        let key = (self.at, self.id);
        let mut entries = self.deadlines.lock();
        self.registered = true;
        match entries.map.get_mut(&key) {
            Some(waker) => {
                if !waker.will_wake(cx.waker()) {
                    waker.clone_from(cx.waker());
                }
            }
            None => {
                // (Also when the thread fired it an instant ago: then it fires again.)
                entries.map.insert(key, cx.waker().clone());
                if entries.armed.is_none_or(|armed| self.at < armed) {
                    entries.armed = Some(self.at);
                    drop(entries);
                    self.deadlines.earlier.notify_one();
                }
            }
        }
        Poll::Pending
    }

    fn cancel(&mut self) {
        if std::mem::take(&mut self.registered) {
            self.deadlines.lock().map.remove(&(self.at, self.id));
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
