// SPDX-License-Identifier: GPL-2.0
//! Bounded lock-free multi-producer multi-consumer queue of `u32` indices.
//!
//! Each slot carries a sequence number that says whose turn it is: a producer may fill slot
//! `pos % cap` when its sequence equals `pos`, a consumer may empty it when it equals
//! `pos + 1`, and emptying hands it to the producer of the next lap (`pos + cap`). Producers
//! and consumers claim positions with one compare-exchange on their own counter, so neither
//! side ever waits for the other. `push` fails instead of waiting when the ring is full; this
//! includes the short window in which the consumer of the slot one lap behind has claimed it
//! but not yet handed it on.
//!
//! Used for the per-queue remote-return rings (any CPU produces, the queue's NAPI consumes)
//! and for the pool's completion ring.

// Also enforced when the kernel module includes this file on its own.
#![forbid(unsafe_code)]

use super::platform::{new_storage, AllocError, Storage};

// The kernel build never sets `cfg(loom)`; the host model checker swaps in its atomics.
#[cfg(not(loom))]
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// One ring entry.
struct Slot {
    /// Turn marker, see the module docs.
    seq: AtomicUsize,
    /// The stored index; published by the release store of `seq`.
    val: AtomicU32,
}

/// Keeps the producer and consumer counters on separate cache lines so that the two sides do
/// not invalidate each other's line on every operation.
#[repr(align(64))]
struct CacheLine<T>(T);

/// Bounded lock-free MPMC queue of `u32`.
pub struct IndexRing {
    /// Next position to fill.
    enqueue: CacheLine<AtomicUsize>,
    /// Next position to empty.
    dequeue: CacheLine<AtomicUsize>,
    slots: Storage<Slot>,
    /// `capacity - 1`; the capacity is a power of two so positions wrap with a mask.
    mask: usize,
}

impl IndexRing {
    /// Creates a ring holding at least `capacity` entries (rounded up to a power of two, and
    /// to at least 2: with one slot a filled slot would look empty to the next producer).
    pub fn new(capacity: usize) -> Result<Self, AllocError> {
        let cap = capacity
            .max(2)
            .checked_next_power_of_two()
            .ok_or(AllocError)?;
        let slots = new_storage(cap, |i| Slot {
            seq: AtomicUsize::new(i),
            val: AtomicU32::new(0),
        })?;
        Ok(Self {
            enqueue: CacheLine(AtomicUsize::new(0)),
            dequeue: CacheLine(AtomicUsize::new(0)),
            slots,
            mask: cap - 1,
        })
    }

    /// Number of entries the ring can hold.
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Number of entries, exact only when nobody pushes or pops concurrently.
    pub fn len_approx(&self) -> usize {
        // Read the consumer side first so a concurrent pop cannot make the result negative
        // for long; clamp anyway since the two loads are not one snapshot.
        let tail = self.dequeue.0.load(Ordering::Relaxed);
        let head = self.enqueue.0.load(Ordering::Relaxed);
        (head.wrapping_sub(tail) as isize).clamp(0, self.capacity() as isize) as usize
    }

    /// Appends `v`; gives it back as `Err(v)` when the ring is full.
    pub fn push(&self, v: u32) -> Result<(), u32> {
        let mut pos = self.enqueue.0.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos & self.mask];
            // Acquire pairs with the consumer's release: its read of `val` from the previous
            // lap happens before we overwrite it.
            let seq = slot.seq.load(Ordering::Acquire);
            let dif = seq.wrapping_sub(pos) as isize;
            if dif == 0 {
                match self.enqueue.0.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        slot.val.store(v, Ordering::Relaxed);
                        slot.seq.store(pos.wrapping_add(1), Ordering::Release);
                        return Ok(());
                    }
                    Err(cur) => pos = cur,
                }
            } else if dif < 0 {
                // The slot still holds last lap's entry (or its consumer is mid-pop).
                return Err(v);
            } else {
                // Another producer took `pos`; catch up.
                pos = self.enqueue.0.load(Ordering::Relaxed);
            }
        }
    }

    /// Removes the oldest entry, or returns `None` when the ring is empty.
    pub fn pop(&self) -> Option<u32> {
        let mut pos = self.dequeue.0.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos & self.mask];
            // Acquire pairs with the producer's release so `val` is the pushed value.
            let seq = slot.seq.load(Ordering::Acquire);
            let dif = seq.wrapping_sub(pos.wrapping_add(1)) as isize;
            if dif == 0 {
                match self.dequeue.0.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let v = slot.val.load(Ordering::Relaxed);
                        slot.seq
                            .store(pos.wrapping_add(self.mask + 1), Ordering::Release);
                        return Some(v);
                    }
                    Err(cur) => pos = cur,
                }
            } else if dif < 0 {
                // Not filled yet (or its producer is mid-push): empty from our view.
                return None;
            } else {
                // Another consumer took `pos`; catch up.
                pos = self.dequeue.0.load(Ordering::Relaxed);
            }
        }
    }

    /// Calls `f` on every entry, oldest first, without removing any.
    ///
    /// Only meaningful while nobody pushes or pops (audits, tests); concurrent use yields an
    /// arbitrary but memory-safe answer.
    pub fn for_each_quiescent(&self, mut f: impl FnMut(u32)) {
        let mut pos = self.dequeue.0.load(Ordering::Acquire);
        let end = self.enqueue.0.load(Ordering::Acquire);
        let mut left = self.capacity();
        while pos != end && left > 0 {
            let slot = &self.slots[pos & self.mask];
            if slot.seq.load(Ordering::Acquire) == pos.wrapping_add(1) {
                f(slot.val.load(Ordering::Relaxed));
            }
            pos = pos.wrapping_add(1);
            left -= 1;
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::IndexRing;
    use std::sync::Arc;
    use std::vec::Vec;

    #[test]
    fn capacity_rounds_up() {
        assert_eq!(IndexRing::new(0).unwrap().capacity(), 2);
        assert_eq!(IndexRing::new(1).unwrap().capacity(), 2);
        assert_eq!(IndexRing::new(3).unwrap().capacity(), 4);
        assert_eq!(IndexRing::new(1024).unwrap().capacity(), 1024);
        assert_eq!(IndexRing::new(1025).unwrap().capacity(), 2048);
        assert!(IndexRing::new(usize::MAX).is_err());
    }

    #[test]
    fn fifo_full_empty_and_wrap() {
        let r = IndexRing::new(4).unwrap();
        assert_eq!(r.pop(), None);
        for lap in 0..10u32 {
            for i in 0..4 {
                r.push(lap * 10 + i).unwrap();
            }
            assert_eq!(r.len_approx(), 4);
            assert_eq!(r.push(99), Err(99));
            let mut seen = Vec::new();
            r.for_each_quiescent(|v| seen.push(v));
            assert_eq!(seen, (0..4).map(|i| lap * 10 + i).collect::<Vec<_>>());
            for i in 0..4 {
                assert_eq!(r.pop(), Some(lap * 10 + i));
            }
            assert_eq!(r.pop(), None);
            assert_eq!(r.len_approx(), 0);
        }
    }

    #[test]
    fn interleaved() {
        let r = IndexRing::new(2).unwrap();
        r.push(1).unwrap();
        r.push(2).unwrap();
        assert_eq!(r.pop(), Some(1));
        r.push(3).unwrap();
        assert_eq!(r.push(4), Err(4));
        assert_eq!(r.pop(), Some(2));
        assert_eq!(r.pop(), Some(3));
        assert_eq!(r.pop(), None);
    }

    #[test]
    fn mpmc_threads_lose_nothing() {
        const PRODUCERS: u32 = 3;
        const PER: u32 = 20_000;
        let r = Arc::new(IndexRing::new(64).unwrap());
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let r = r.clone();
                std::thread::spawn(move || {
                    for i in 0..PER {
                        let mut v = p * PER + i;
                        while let Err(back) = r.push(v) {
                            v = back;
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let r = r.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    let mut last = [None::<u32>; PRODUCERS as usize];
                    while got.len() < (PRODUCERS * PER) as usize / 2 {
                        match r.pop() {
                            Some(v) => {
                                // A single consumer sees each producer's values in order.
                                let p = (v / PER) as usize;
                                assert!(last[p].map_or(true, |l| l < v));
                                last[p] = Some(v);
                                got.push(v);
                            }
                            None => std::thread::yield_now(),
                        }
                    }
                    got
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let mut all: Vec<u32> = consumers
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        assert_eq!(r.pop(), None);
        all.sort_unstable();
        assert_eq!(all, (0..PRODUCERS * PER).collect::<Vec<_>>());
    }
}
