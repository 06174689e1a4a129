//! Producer and consumers around a bounded buffer, coordinated with a `Condition`: the
//! producer waits while the buffer is full, the consumers while it is empty.
//!
//! Twin of the `Condition` loop in pycos's documentation (`yield cv.acquire()`, then
//! `while not an_item_is_available(): yield cv.wait()`), which is Python's `threading`
//! producer/consumer example made asynchronous.
//!
//! Run it with `cargo run --example sync_condition`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rcos::sync::{Condition, SyncError};
use rcos::{TaskRef, task};

// ANCHOR: buffer
/// A buffer of at most `capacity` items; `None` tells a consumer to stop.
///
/// The condition's lock is what the producer and the consumers hold while they look at
/// and change the buffer. The `Mutex` is only there because Rust wants shared data
/// behind one; it is held for a single push or pop, never across an `.await`.
#[derive(Clone)]
struct Buffer {
    cond: Condition,
    items: Arc<Mutex<VecDeque<Option<u32>>>>,
    capacity: usize,
    /// The most items the buffer ever held.
    high_water: Arc<Mutex<usize>>,
}

impl Buffer {
    fn len(&self) -> usize {
        self.items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn push(&self, item: Option<u32>) {
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        items.push_back(item);
        let mut high = self
            .high_water
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *high = (*high).max(items.len());
    }

    fn pop(&self) -> Option<Option<u32>> {
        self.items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }
}
// ANCHOR_END: buffer

// ANCHOR: producer
/// Puts `count` items in the buffer, then one `None` per consumer.
#[task]
async fn producer(
    _task: TaskRef,
    buf: Buffer,
    count: u32,
    consumers: usize,
) -> Result<(), SyncError> {
    let items = (1..=count)
        .map(Some)
        .chain(std::iter::repeat_n(None, consumers));
    for item in items {
        let _held = buf.cond.acquire().await?;
        while buf.len() == buf.capacity {
            // Releases the lock while waiting, takes it back before returning.
            buf.cond.wait(None).await?;
        }
        buf.push(item);
        // Everyone: a consumer may wait for an item, or (after a pop) the producer.
        buf.cond.notify_all()?;
    }
    Ok(())
}
// ANCHOR_END: producer

// ANCHOR: consumer
/// Takes items until it takes a `None`; returns the items it took.
#[task]
async fn consumer(_task: TaskRef, name: &'static str, buf: Buffer) -> Result<Vec<u32>, SyncError> {
    let mut taken = Vec::new();
    loop {
        let held = buf.cond.acquire().await?;
        while buf.len() == 0 {
            // pycos's `wait(timeout)`: false when the time ran out without a notify.
            if !buf.cond.wait(Some(Duration::from_secs(5))).await? {
                println!("{name}: nothing for 5 s, giving up");
                return Ok(taken);
            }
        }
        let item = buf.pop().flatten();
        buf.cond.notify_all()?; // room for the producer
        drop(held); // work on the item outside the lock
        match item {
            Some(n) => {
                println!("{name} took {n}");
                taken.push(n);
                rcos::time::sleep(Duration::from_millis(1)).await;
            }
            None => return Ok(taken),
        }
    }
}
// ANCHOR_END: consumer

#[rcos::main]
async fn main() {
    // ANCHOR: main
    let buf = Buffer {
        cond: Condition::new(),
        items: Arc::default(),
        capacity: 3,
        high_water: Arc::default(),
    };
    let consumers = [
        consumer::spawn("a", buf.clone()),
        consumer::spawn("b", buf.clone()),
    ];
    let maker = producer::spawn(buf.clone(), 12, consumers.len());
    maker.finish().await;
    let mut all = Vec::new();
    for (name, c) in ["a", "b"].into_iter().zip(consumers) {
        let exit = c.finish().await;
        let taken = exit
            .value()
            .and_then(|v| v.take::<Result<Vec<u32>, SyncError>>())
            .and_then(Result::ok)
            .unwrap_or_default();
        println!("consumer {name} took {} items", taken.len());
        all.extend(taken);
    }
    all.sort_unstable();
    println!(
        "every item taken once: {}",
        all == (1..=12).collect::<Vec<_>>()
    );
    let high = *buf
        .high_water
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    println!(
        "the buffer held at most {high} items (capacity {})",
        buf.capacity
    );
    // ANCHOR_END: main
}
