//! A FIFO queue of waiting futures, for primitives that hand a resource over in order.
//!
//! A waiter is queued with a payload (who it is, how much it wants) and its waker. The
//! primitive grants waiters from the front; a granted waiter's future collects its grant
//! on its next poll. A future dropped while queued leaves the queue; one dropped after
//! being granted must give the grant back (the primitive does that in its `Drop`).

use std::collections::VecDeque;
use std::task::Waker;

#[derive(Debug)]
pub(crate) struct Waiters<T> {
    next_id: u64,
    queue: VecDeque<Entry<T>>,
    /// Ids granted but not yet collected by their futures.
    granted: Vec<u64>,
}

#[derive(Debug)]
struct Entry<T> {
    id: u64,
    payload: T,
    waker: Waker,
}

impl<T> Default for Waiters<T> {
    fn default() -> Self {
        Waiters {
            next_id: 0,
            queue: VecDeque::new(),
            granted: Vec::new(),
        }
    }
}

impl<T> Waiters<T> {
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Queues a waiter; returns its id.
    pub(crate) fn push(&mut self, payload: T, waker: &Waker) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.queue.push_back(Entry {
            id,
            payload,
            waker: waker.clone(),
        });
        id
    }

    /// Refreshes a queued waiter's waker.
    pub(crate) fn update(&mut self, id: u64, waker: &Waker) {
        if let Some(entry) = self.queue.iter_mut().find(|e| e.id == id) {
            if !entry.waker.will_wake(waker) {
                entry.waker = waker.clone();
            }
        }
    }

    /// Removes a queued waiter (its future was dropped); returns whether it was queued.
    pub(crate) fn remove(&mut self, id: u64) -> bool {
        match self.queue.iter().position(|e| e.id == id) {
            Some(pos) => {
                self.queue.remove(pos);
                true
            }
            None => false,
        }
    }

    /// The front waiter's payload.
    pub(crate) fn front(&self) -> Option<&T> {
        self.queue.front().map(|e| &e.payload)
    }

    /// Grants the front waiter: returns its payload and the waker to wake (outside
    /// the primitive's lock).
    pub(crate) fn grant_front(&mut self) -> Option<(T, Waker)> {
        let entry = self.queue.pop_front()?;
        self.granted.push(entry.id);
        Some((entry.payload, entry.waker))
    }

    /// Collects a grant; true if `id` was granted.
    pub(crate) fn take_grant(&mut self, id: u64) -> bool {
        match self.granted.iter().position(|g| *g == id) {
            Some(pos) => {
                self.granted.swap_remove(pos);
                true
            }
            None => false,
        }
    }
}
