// SPDX-License-Identifier: GPL-2.0
//! Bounded lock-free multi-producer multi-consumer queue of fixed-size entries of `u32`
//! words (one word: a chunk index; two: an index and its completion record).
//!
//! Each slot carries a sequence number that says whose turn it is: a producer may fill slot
//! `pos % cap` when its sequence equals `pos`, a consumer may empty it when it equals
//! `pos + 1`, and emptying hands it to the producer of the next lap (`pos + cap`). Producers
//! and consumers claim positions with one compare-exchange on their own counter, so neither
//! side ever waits for the other.
//!
//! The counters are `usize`, the slot sequences only their low 32 bits (4 bytes per slot
//! instead of 8: metadata per chunk). A wrapped sequence cannot hand a slot to the wrong
//! lap: a slot is only ever one lap (`cap <= 2^31` positions) behind or ahead of a current
//! position, and a position is claimed by the compare-exchange on the full-width counter,
//! which fails for a stale one. A thread stalled for 2^31 operations may misread "full" or
//! "empty" once, which the callers treat as such: correct, only slower.
//!
//! `push` fails instead of waiting when the ring is full; this includes the short window in
//! which the consumer of the slot one lap behind has claimed it but not yet handed it on.
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
struct Slot<const W: usize> {
    /// Turn marker (low 32 bits of a position), see the module docs.
    seq: AtomicU32,
    /// The stored entry; published by the release store of `seq`.
    val: [AtomicU32; W],
}

/// `seq - pos` in the ring's 32-bit sequence space, as a signed distance.
#[inline]
fn lag(seq: u32, pos: usize) -> i32 {
    // Truncation intended: sequences are positions modulo 2^32.
    seq.wrapping_sub(pos as u32) as i32
}

/// Keeps the producer and consumer counters on separate cache lines so that the two sides do
/// not invalidate each other's line on every operation.
#[repr(align(64))]
struct CacheLine<T>(T);

/// Bounded lock-free MPMC queue of `[u32; W]` entries.
pub struct SeqRing<const W: usize> {
    /// Next position to fill.
    enqueue: CacheLine<AtomicUsize>,
    /// Next position to empty.
    dequeue: CacheLine<AtomicUsize>,
    slots: Storage<Slot<W>>,
    /// `capacity - 1`; the capacity is a power of two so positions wrap with a mask.
    mask: usize,
}

/// Ring of chunk indices (the per-queue remote-return rings).
pub type IndexRing = SeqRing<1>;

impl<const W: usize> SeqRing<W> {
    /// Creates a ring holding at least `capacity` entries (rounded up to a power of two, and
    /// to at least 2: with one slot a filled slot would look empty to the next producer).
    pub fn new(capacity: usize) -> Result<Self, AllocError> {
        Self::new_at(capacity, 0)
    }

    /// [`SeqRing::new`], as if `start` positions had been pushed and popped already (tests
    /// use it to cross the 32-bit sequence wrap).
    fn new_at(capacity: usize, start: usize) -> Result<Self, AllocError> {
        let cap = capacity
            .max(2)
            .checked_next_power_of_two()
            .ok_or(AllocError)?;
        if cap > 1 << 31 {
            return Err(AllocError);
        }
        let slots = new_storage(cap, |i| Slot {
            // The first position at or after `start` that maps to slot `i`; truncated like
            // every sequence.
            seq: AtomicU32::new(start.wrapping_add(i.wrapping_sub(start) & (cap - 1)) as u32),
            val: core::array::from_fn(|_| AtomicU32::new(0)),
        })?;
        Ok(Self {
            enqueue: CacheLine(AtomicUsize::new(start)),
            dequeue: CacheLine(AtomicUsize::new(start)),
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
    pub fn push_entry(&self, v: [u32; W]) -> Result<(), [u32; W]> {
        let mut pos = self.enqueue.0.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos & self.mask];
            // Acquire pairs with the consumer's release: its read of `val` from the previous
            // lap happens before we overwrite it.
            let dif = lag(slot.seq.load(Ordering::Acquire), pos);
            if dif == 0 {
                match self.enqueue.0.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        for (d, &w) in slot.val.iter().zip(v.iter()) {
                            d.store(w, Ordering::Relaxed);
                        }
                        // Truncation intended (module docs).
                        slot.seq
                            .store(pos.wrapping_add(1) as u32, Ordering::Release);
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
    pub fn pop_entry(&self) -> Option<[u32; W]> {
        let mut pos = self.dequeue.0.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos & self.mask];
            // Acquire pairs with the producer's release so `val` is the pushed value.
            let dif = lag(slot.seq.load(Ordering::Acquire), pos.wrapping_add(1));
            if dif == 0 {
                match self.dequeue.0.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let v = core::array::from_fn(|i| slot.val[i].load(Ordering::Relaxed));
                        // Truncation intended (module docs).
                        slot.seq
                            .store(pos.wrapping_add(self.mask + 1) as u32, Ordering::Release);
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
    pub fn for_each_entry_quiescent(&self, mut f: impl FnMut([u32; W])) {
        let mut pos = self.dequeue.0.load(Ordering::Acquire);
        let end = self.enqueue.0.load(Ordering::Acquire);
        let mut left = self.capacity();
        while pos != end && left > 0 {
            let slot = &self.slots[pos & self.mask];
            if lag(slot.seq.load(Ordering::Acquire), pos.wrapping_add(1)) == 0 {
                f(core::array::from_fn(|i| {
                    slot.val[i].load(Ordering::Relaxed)
                }));
            }
            pos = pos.wrapping_add(1);
            left -= 1;
        }
    }
}

impl IndexRing {
    /// Appends index `v`; gives it back as `Err(v)` when the ring is full.
    #[inline]
    pub fn push(&self, v: u32) -> Result<(), u32> {
        self.push_entry([v]).map_err(|[v]| v)
    }

    /// Removes the oldest index, or returns `None` when the ring is empty.
    #[inline]
    pub fn pop(&self) -> Option<u32> {
        self.pop_entry().map(|[v]| v)
    }

    /// Calls `f` on every index, oldest first, without removing any (see
    /// [`SeqRing::for_each_entry_quiescent`]).
    pub fn for_each_quiescent(&self, mut f: impl FnMut(u32)) {
        self.for_each_entry_quiescent(|[v]| f(v));
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
    fn sequences_wrap() {
        // Positions cross 2^32, where the 32-bit slot sequences wrap to 0.
        let r = super::SeqRing::<2>::new_at(4, (1 << 32) - 6).unwrap();
        for lap in 0..5u32 {
            for i in 0..4 {
                r.push_entry([lap, i]).unwrap();
            }
            assert_eq!(r.push_entry([9, 9]), Err([9, 9]));
            let mut seen = Vec::new();
            r.for_each_entry_quiescent(|e| seen.push(e));
            assert_eq!(seen, (0..4).map(|i| [lap, i]).collect::<Vec<_>>());
            for i in 0..3 {
                assert_eq!(r.pop_entry(), Some([lap, i]));
            }
            r.push_entry([lap, 7]).unwrap();
            assert_eq!(r.pop_entry(), Some([lap, 3]));
            assert_eq!(r.pop_entry(), Some([lap, 7]));
            assert_eq!(r.pop_entry(), None);
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
