// SPDX-License-Identifier: GPL-2.0
//! Single-threaded and small multi-threaded behaviour of the devmem pool.
#![cfg(not(loom))]

use devmem_core::chunk::{ChunkState, DEVMEM_MAGIC};
use devmem_core::layout::{self, Segment};
use devmem_core::pool::{
    Counts, Dest, Pool, PoolError, QueueCache, Record, ReleaseError, StateError, CACHE_CAPACITY,
    REMOTE_RING_CAPACITY,
};

const BASE: u64 = 0x1_0000_0000;

fn pool(n: u32, nqueues: u16) -> Pool {
    Pool::new((0..n).map(|i| BASE + (u64::from(i) << 12)), 12, nqueues).unwrap()
}

/// The accounting invariant every test ends with.
fn check(p: &Pool, caches: &[&QueueCache]) -> Counts {
    let c = p.audit(caches).expect("audit");
    assert_eq!(c.free + c.posted + c.held(), c.total);
    let s = p.stats();
    assert_eq!(s.inflight, u64::from(c.posted + c.held()));
    assert_eq!(s.held_by_user, u64::from(c.held()));
    c
}

fn read_all(p: &Pool) -> Vec<Record> {
    let mut v = Vec::new();
    let out = p.read_records(usize::MAX, |r| v.push(r));
    assert_eq!(out.records, v.len());
    assert!(!out.drained);
    v
}

/// An iterator that announces more items than it yields.
struct Liar(u64);

impl Iterator for Liar {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        self.0 = self.0.checked_sub(1)?;
        Some(self.0 << 12)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (10, Some(10))
    }
}
impl ExactSizeIterator for Liar {}

#[test]
fn construction_errors() {
    let d = [0u64, 4096];
    assert_eq!(Pool::new(d, 11, 1).err(), Some(PoolError::ChunkShift));
    assert_eq!(Pool::new(d, 17, 1).err(), Some(PoolError::ChunkShift));
    assert_eq!(Pool::new(d, 12, 0).err(), Some(PoolError::NoQueues));
    assert_eq!(Pool::new([0u64; 0], 12, 1).err(), Some(PoolError::Empty));
    assert_eq!(Pool::new(Liar(5), 12, 1).err(), Some(PoolError::DmaCount));
    for e in [PoolError::Alloc, PoolError::SlotTaken] {
        assert!(!e.message().is_empty());
    }
    let p = pool(4, 2);
    assert_eq!(p.new_cache(2).err(), Some(PoolError::BadSlot));
    let _c0 = p.new_cache(0).unwrap();
    assert_eq!(p.new_cache(0).err(), Some(PoolError::SlotTaken));
    assert_eq!((p.nchunks(), p.nqueues(), p.chunk_size()), (4, 2, 4096));
}

#[test]
fn from_layout() {
    let segs = [
        Segment {
            dma: 0x10_0000,
            len: 0x3_0000,
        },
        Segment { dma: 0, len: 0 },
        Segment {
            dma: 0x80_0000,
            len: 0x1_0000,
        },
    ];
    let it = layout::chunks(&segs, 0x1_0000).unwrap();
    let p = Pool::new(it, 16, 1).unwrap();
    let dmas: Vec<u64> = p.chunks().iter().map(|c| c.dma).collect();
    assert_eq!(dmas, [0x10_0000, 0x11_0000, 0x12_0000, 0x80_0000]);
    for (i, c) in p.chunks().iter().enumerate() {
        assert_eq!((c.index as usize, c.magic), (i, DEVMEM_MAGIC));
        assert_eq!(c.state(), ChunkState::Free);
    }
    check(&p, &[]);
}

#[test]
fn alloc_every_chunk_then_exhaustion() {
    let p = pool(300, 2);
    let mut c0 = p.new_cache(0).unwrap();
    let mut got = Vec::new();
    while let Some(i) = p.alloc(&mut c0) {
        let ch = p.chunk(i).unwrap();
        assert_eq!((ch.state(), ch.queue()), (ChunkState::Posted, 0));
        assert_eq!(ch.dma, BASE + (u64::from(i) << 12));
        got.push(i);
    }
    got.sort_unstable();
    assert_eq!(got, (0..300).collect::<Vec<_>>());
    assert_eq!(p.alloc(&mut c0), None);
    let q = p.queue_stats(0).unwrap();
    assert_eq!(q.alloc_fast + q.alloc_slow, 300);
    assert!(q.alloc_fast > q.alloc_slow, "{q:?}");
    assert_eq!(q.empty, 2);
    let c = check(&p, &[&c0]);
    assert_eq!((c.posted, c.free), (300, 0));
    // Another queue finds nothing either, cleanly.
    let mut c1 = p.new_cache(1).unwrap();
    assert_eq!(p.alloc(&mut c1), None);
    assert_eq!(p.stats().queues.empty, 3);
}

#[test]
fn recycle_direct_cache_and_spill() {
    let p = pool(400, 1);
    let mut c = p.new_cache(0).unwrap();
    let a = p.alloc(&mut c).unwrap();
    assert_eq!(p.recycle_direct(&mut c, a).unwrap().dest, Dest::Cache);
    // LIFO: the same chunk comes straight back.
    assert_eq!(p.alloc(&mut c), Some(a));
    assert_eq!(p.recycle_direct(&mut c, a).unwrap().dest, Dest::Cache);
    assert_eq!(
        p.recycle_direct(&mut c, a),
        Err(StateError::WrongState(ChunkState::Free))
    );
    assert_eq!(p.recycle_direct(&mut c, 400), Err(StateError::OutOfRange));
    assert_eq!(p.stats().bad_put, 2);

    let all: Vec<u32> = std::iter::from_fn(|| p.alloc(&mut c)).collect();
    assert_eq!(all.len(), 400);
    for &i in &all {
        let r = p.recycle_direct(&mut c, i).unwrap();
        assert_eq!(r.dest, Dest::Cache);
        assert!(!r.drained);
        assert!(c.len() <= CACHE_CAPACITY);
    }
    let counts = check(&p, &[&c]);
    assert_eq!(counts.free, 400);
    assert_eq!(p.queue_stats(0).unwrap().recycle_cached, 402);
}

#[test]
fn put_from_another_thread_goes_to_ring() {
    let p = pool(256, 1);
    let mut c = p.new_cache(0).unwrap();
    let all: Vec<u32> = std::iter::from_fn(|| p.alloc(&mut c)).collect();
    assert_eq!(all.len(), 256);
    std::thread::scope(|s| {
        s.spawn(|| {
            for &i in &all[..10] {
                let r = p.put(i).unwrap();
                assert_eq!(
                    r,
                    devmem_core::pool::Return {
                        dest: Dest::Ring,
                        drained: false
                    }
                );
            }
            assert_eq!(p.put(all[0]), Err(StateError::WrongState(ChunkState::Free)));
            assert_eq!(p.put(9999), Err(StateError::OutOfRange));
        });
    });
    check(&p, &[&c]);
    let back: Vec<u32> = std::iter::from_fn(|| p.alloc(&mut c)).collect();
    assert_eq!(back.len(), 10);
    assert_eq!(p.queue_stats(0).unwrap().recycle_ring, 10);
    check(&p, &[&c]);
}

#[test]
fn put_routes_to_allocating_queue() {
    let p = pool(256, 2);
    let mut c0 = p.new_cache(0).unwrap();
    let mut c1 = p.new_cache(1).unwrap();
    let i = p.alloc(&mut c1).unwrap();
    assert_eq!(p.chunk(i).unwrap().queue(), 1);
    assert_eq!(p.put(i).unwrap().dest, Dest::Ring);
    check(&p, &[&c0, &c1]);
    // Queue 0 has the free list: it leaves queue 1's ring alone.
    let _ = p.alloc(&mut c0);
    assert_eq!(p.queue_stats(0).unwrap().recycle_ring, 0);
    while !c1.is_empty() {
        p.alloc(&mut c1).unwrap();
    }
    p.alloc(&mut c1).unwrap();
    assert_eq!(p.queue_stats(1).unwrap().recycle_ring, 1);
    check(&p, &[&c0, &c1]);
}

#[test]
fn dry_queue_steals_from_idle_siblings_ring() {
    // Queue 1 takes every chunk into its cache, then they all come back through puts to its
    // ring while it stays idle; queue 0 must still get every one of them.
    let n = 64;
    let p = pool(n, 2);
    let mut c0 = p.new_cache(0).unwrap();
    let mut c1 = p.new_cache(1).unwrap();
    let taken: Vec<u32> = (0..n).map(|_| p.alloc(&mut c1).unwrap()).collect();
    assert_eq!(p.alloc(&mut c0), None);
    for &i in &taken {
        assert_eq!(p.put(i).unwrap().dest, Dest::Ring);
    }
    check(&p, &[&c0, &c1]);
    let mut got = 0;
    while let Some(i) = p.alloc(&mut c0) {
        assert_eq!(p.chunk(i).unwrap().queue(), 0);
        got += 1;
    }
    assert_eq!(got, n);
    assert_eq!(p.queue_stats(0).unwrap().recycle_ring, u64::from(n));
    check(&p, &[&c0, &c1]);
}

#[test]
fn ring_full_falls_back_to_free_list() {
    let n = 2 * REMOTE_RING_CAPACITY as u32;
    let p = pool(n, 1);
    let mut c = p.new_cache(0).unwrap();
    let all: Vec<u32> = std::iter::from_fn(|| p.alloc(&mut c)).collect();
    assert_eq!(all.len(), n as usize);
    let mut ring = 0;
    let mut free = 0;
    for &i in &all {
        match p.put(i).unwrap().dest {
            Dest::Ring => ring += 1,
            Dest::FreeList => free += 1,
            d => panic!("{d:?}"),
        }
    }
    assert_eq!((ring, free), (REMOTE_RING_CAPACITY, REMOTE_RING_CAPACITY));
    assert_eq!(p.stats().ring_full, REMOTE_RING_CAPACITY as u64);
    assert_eq!(check(&p, &[&c]).free, n);
}

#[test]
fn detached_queue_returns_to_free_list() {
    let p = pool(64, 2);
    let mut c0 = p.new_cache(0).unwrap();
    let c1 = p.new_cache(1).unwrap();
    let a = p.alloc(&mut c0).unwrap();
    let b = p.alloc(&mut c0).unwrap();
    let d = p.alloc(&mut c0).unwrap();
    assert_eq!(p.put(a).unwrap().dest, Dest::Ring);
    let det = p.detach_queue(&mut c0);
    assert!(!det.drained);
    assert_eq!(det.moved as usize, 1 + 64 - 3); // ring + rest of the refill batch
    assert!(c0.is_empty() && p.is_detached(0) && !p.is_detached(1));
    assert_eq!(p.put(b).unwrap().dest, Dest::FreeList);
    assert_eq!(p.recycle_direct(&mut c0, d).unwrap().dest, Dest::FreeList);
    assert_eq!(p.alloc(&mut c0), None);
    assert!(c0.is_empty());
    assert_eq!(p.new_cache(0).err(), Some(PoolError::SlotTaken));
    assert_eq!(check(&p, &[&c0, &c1]).free, 64);
    // Idempotent.
    assert_eq!(p.detach_queue(&mut c0).moved, 0);
}

#[test]
fn complete_read_release_cycle() {
    let p = pool(256, 2);
    let mut c0 = p.new_cache(0).unwrap();
    let mut c1 = p.new_cache(1).unwrap();
    let a = p.alloc(&mut c0).unwrap();
    let b = p.alloc(&mut c1).unwrap();
    let d = p.alloc(&mut c0).unwrap();
    assert_eq!(p.complete(a, 100, 1400).unwrap().dest, Dest::Completions);
    assert_eq!(p.complete(b, 0, 4096).unwrap().dest, Dest::Completions);
    assert_eq!(p.complete(d, 4000, 97), Err(StateError::BadExtent));
    assert_eq!(p.complete(d, 0, u32::MAX), Err(StateError::BadExtent));
    assert_eq!(
        p.complete(a, 0, 1),
        Err(StateError::WrongState(ChunkState::Completed))
    );
    assert_eq!(p.complete(7777, 0, 1), Err(StateError::OutOfRange));
    assert!(!p.complete(d, 4000, 96).unwrap().drained);
    let c = check(&p, &[&c0, &c1]);
    assert_eq!((c.completed, c.user, c.posted), (3, 0, 0));

    let mut first = Vec::new();
    let out = p.read_records(1, |r| first.push(r));
    assert_eq!(out.records, 1);
    assert_eq!(
        first,
        [Record {
            offset: (u64::from(a) << 12) + 100,
            len: 1400,
            token: a,
            queue: 0
        }]
    );
    let rest = read_all(&p);
    assert_eq!(
        rest,
        [
            Record {
                offset: u64::from(b) << 12,
                len: 4096,
                token: b,
                queue: 1
            },
            Record {
                offset: (u64::from(d) << 12) + 4000,
                len: 96,
                token: d,
                queue: 0
            }
        ]
    );
    assert!(read_all(&p).is_empty());
    let c = check(&p, &[&c0, &c1]);
    assert_eq!((c.completed, c.user), (0, 3));
    assert_eq!(p.stats().held_by_user, 3);

    for t in [a, b, d] {
        assert_eq!(p.release(t).unwrap().dest, Dest::Ring);
    }
    let c = check(&p, &[&c0, &c1]);
    assert_eq!((c.free, c.held()), (256, 0));
}

#[test]
fn bad_releases() {
    let p = pool(8, 1);
    let mut c = p.new_cache(0).unwrap();
    let a = p.alloc(&mut c).unwrap();
    let b = p.alloc(&mut c).unwrap();
    // Posted, never completed: not held.
    assert_eq!(p.release(a), Err(ReleaseError::NotHeld));
    assert!(!p.complete(a, 0, 10).unwrap().drained);
    assert!(!p.complete(b, 0, 10).unwrap().drained);
    // Completed but not yet delivered: not held either.
    assert_eq!(p.release(a), Err(ReleaseError::NotHeld));
    let mut n = 0;
    let out = p.read_records(1, |_| n += 1);
    assert_eq!((out.records, n), (1, 1));
    assert!(!p.release(a).unwrap().drained);
    assert_eq!(p.release(a), Err(ReleaseError::NotHeld));
    assert_eq!(p.release(8), Err(ReleaseError::Unknown));
    assert_eq!(p.release(u32::MAX), Err(ReleaseError::Unknown));
    assert_eq!(p.stats().bad_release, 5);
    assert!(!ReleaseError::NotHeld.message().is_empty());
    check(&p, &[&c]);
}

#[test]
fn tokens_die_with_unbind() {
    let p = pool(8, 1);
    let mut c = p.new_cache(0).unwrap();
    let a = p.alloc(&mut c).unwrap();
    let b = p.alloc(&mut c).unwrap();
    assert!(!p.complete(a, 0, 1).unwrap().drained);
    assert!(!p.complete(b, 0, 1).unwrap().drained);
    let mut toks = Vec::new();
    let _ = p.read_records(1, |r| toks.push(r.token));
    assert_eq!(toks, [a]);
    assert!(!p.unbind());
    assert!(p.is_unbound());
    assert_eq!(p.release(a), Err(ReleaseError::Unbound));
    assert_eq!(p.release(b), Err(ReleaseError::Unbound));
    assert_eq!(p.release(99), Err(ReleaseError::Unbound));
    assert!(read_all(&p).is_empty());
    let cnt = check(&p, &[&c]);
    assert_eq!((cnt.free, cnt.held()), (8, 0));
    assert_eq!(p.stats().reclaimed, 2);
    assert_eq!(p.alloc(&mut c), None);
    // Second unbind does nothing.
    assert!(!p.unbind());
    // The cache still holds chunks: only detaching brings them home.
    let det = p.detach_queue(&mut c);
    assert!(det.drained);
    assert!(!p.detach_queue(&mut c).drained);
}

#[test]
fn unbind_when_already_home_drains_at_once() {
    let p = pool(32, 2);
    let mut c0 = p.new_cache(0).unwrap();
    let i = p.alloc(&mut c0).unwrap();
    assert!(!p.recycle_direct(&mut c0, i).unwrap().drained);
    assert!(!p.detach_queue(&mut c0).drained);
    assert!(p.unbind());
    assert!(!p.unbind());
    check(&p, &[]);
}

#[test]
fn unbind_with_everything_in_flight() {
    let p = pool(512, 2);
    let mut c0 = p.new_cache(0).unwrap();
    let mut c1 = p.new_cache(1).unwrap();
    let mut posted0: Vec<u32> = (0..40).map(|_| p.alloc(&mut c0).unwrap()).collect();
    let mut posted1: Vec<u32> = (0..40).map(|_| p.alloc(&mut c1).unwrap()).collect();
    // Completed (unread), user-held (read), in q0's ring, in caches, in the free list.
    for &i in &posted0[..10] {
        assert!(!p.complete(i, 0, 64).unwrap().drained);
    }
    for &i in &posted1[..10] {
        assert!(!p.complete(i, 0, 64).unwrap().drained);
    }
    let read = read_all(&p);
    assert_eq!(read.len(), 20);
    for &i in &posted0[10..20] {
        assert!(!p.complete(i, 8, 64).unwrap().drained);
    }
    for &i in &posted1[10..15] {
        assert_eq!(p.put(i).unwrap().dest, Dest::Ring);
    }
    posted0.drain(..20);
    posted1.drain(..15);
    let c = check(&p, &[&c0, &c1]);
    assert_eq!((c.posted, c.completed, c.user), (45, 10, 20));

    let mut drained = 0;
    if p.unbind() {
        drained += 1;
    }
    assert_eq!(drained, 0);
    let c = check(&p, &[&c0, &c1]);
    assert_eq!((c.posted, c.held()), (45, 0));
    assert_eq!(p.stats().reclaimed, 30);
    for r in &read {
        assert_eq!(p.release(r.token), Err(ReleaseError::Unbound));
    }
    assert_eq!(p.alloc(&mut c0), None);

    // The driver returns its buffers every way it can.
    let mut returns = Vec::new();
    for (k, &i) in posted0.iter().enumerate() {
        returns.push(match k % 3 {
            0 => p.recycle_direct(&mut c0, i).unwrap(),
            1 => p.put(i).unwrap(),
            _ => p.complete(i, 0, 1).unwrap(),
        });
    }
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            posted1
                .iter()
                .map(|&i| p.put(i).unwrap())
                .collect::<Vec<_>>()
        });
        returns.extend(h.join().unwrap());
    });
    for r in &returns {
        assert_eq!(r.dest, Dest::FreeList);
    }
    drained += returns.iter().filter(|r| r.drained).count();
    assert_eq!(drained, 0, "caches and q0's ring still hold chunks");
    check(&p, &[&c0, &c1]);

    let d0 = p.detach_queue(&mut c0);
    let d1 = p.detach_queue(&mut c1);
    drained += usize::from(d0.drained) + usize::from(d1.drained);
    assert_eq!(drained, 1);
    assert!(d1.drained);
    let c = check(&p, &[]);
    assert_eq!(c.free, 512);
    // Nothing can report again.
    assert!(!p.unbind());
    assert!(!p.detach_queue(&mut c0).drained);
}

#[test]
fn two_phase_detach() {
    // mark_detached, (RCU grace period: the NAPI may still run), then detach_queue.
    let p = pool(128, 1);
    let mut c = p.new_cache(0).unwrap();
    let a = p.alloc(&mut c).unwrap();
    let b = p.alloc(&mut c).unwrap();
    p.mark_detached(0);
    assert!(p.is_detached(0));
    // A NAPI still running in the grace period stays correct: returns bypass the cache.
    assert_eq!(p.recycle_direct(&mut c, a).unwrap().dest, Dest::FreeList);
    assert_eq!(p.put(b).unwrap().dest, Dest::FreeList);
    let left = c.len();
    let d = p
        .alloc(&mut c)
        .expect("the cache still serves until drained");
    check(&p, &[&c]);
    let det = p.detach_queue(&mut c);
    assert_eq!(det.moved as usize, left - 1);
    assert!(!det.drained && !p.drained_reported());
    assert!(!p.unbind(), "one chunk is still posted");
    assert!(p.put(d).unwrap().drained);
    assert!(p.drained_reported());
}

#[test]
fn unbind_marks_queues_detached() {
    // Returns after unbind bypass rings and caches even before the queues are detached.
    let p = pool(256, 2);
    let mut c0 = p.new_cache(0).unwrap();
    let mut c1 = p.new_cache(1).unwrap();
    let a = p.alloc(&mut c0).unwrap();
    let b = p.alloc(&mut c1).unwrap();
    let c = p.alloc(&mut c1).unwrap();
    assert!(!p.is_detached(0) && !p.is_detached(1));
    assert!(!p.unbind());
    assert!(p.is_detached(0) && p.is_detached(1));
    assert_eq!(p.put(a).unwrap().dest, Dest::FreeList);
    assert_eq!(p.recycle_direct(&mut c1, b).unwrap().dest, Dest::FreeList);
    check(&p, &[&c0, &c1]);
    assert!(!p.detach_queue(&mut c0).drained);
    let last = p.put(c).unwrap();
    assert_eq!(last.dest, Dest::FreeList);
    assert!(!last.drained, "c1's cache is not home yet");
    assert!(p.detach_queue(&mut c1).drained);
    assert_eq!(check(&p, &[]).free, 256);
}

#[test]
fn extents_round_trip_at_the_chunk_size_limits() {
    // 64 KiB chunks: the largest extent (offset 0, len 65536) and the last byte.
    let p = Pool::new((0..4u32).map(|i| u64::from(i) << 16), 16, 1).unwrap();
    let mut c = p.new_cache(0).unwrap();
    let a = p.alloc(&mut c).unwrap();
    let b = p.alloc(&mut c).unwrap();
    let z = p.alloc(&mut c).unwrap();
    let _ = p.complete(a, 0, 65536).unwrap();
    let _ = p.complete(b, 65535, 1).unwrap();
    assert_eq!(p.complete(z, 1, 65536), Err(StateError::BadExtent));
    // Zero bytes carry nothing for userspace: the chunk goes back like `put`.
    assert_ne!(p.complete(z, 7, 0).unwrap().dest, Dest::Completions);
    let got: Vec<(u64, u32)> = read_all(&p).iter().map(|r| (r.offset, r.len)).collect();
    assert_eq!(
        got,
        [
            (u64::from(a) << 16, 65536),
            ((u64::from(b) << 16) + 65535, 1)
        ]
    );
    assert_eq!(check(&p, &[&c]).user, 2);
}

#[test]
fn unread_puts_records_back_for_the_next_read() {
    let p = pool(16, 1);
    let mut c = p.new_cache(0).unwrap();
    let got: Vec<u32> = (0..4).map(|_| p.alloc(&mut c).unwrap()).collect();
    for (k, &i) in got.iter().enumerate() {
        assert_eq!(
            p.complete(i, 0, 100 + k as u32).unwrap().dest,
            Dest::Completions
        );
    }
    let first = read_all(&p);
    assert_eq!(first.len(), 4);
    assert_eq!(check(&p, &[&c]).user, 4);
    // The reply carrying them was never queued: nothing may be lost.
    let tokens: Vec<u32> = first.iter().map(|r| r.token).collect();
    assert!(!p.unread(&first));
    let counts = check(&p, &[&c]);
    assert_eq!((counts.completed, counts.user), (4, 0));
    // A token already put back is no longer held: releasing it is refused.
    assert_eq!(p.release(tokens[0]), Err(ReleaseError::NotHeld));
    // Read again: the same records, extents included.
    let mut again = read_all(&p);
    again.sort_unstable_by_key(|r| r.token);
    let mut want = first.clone();
    want.sort_unstable_by_key(|r| r.token);
    assert_eq!(again, want);
    for r in again {
        assert!(!p.release(r.token).unwrap().drained);
    }
    assert_eq!(check(&p, &[&c]).user, 0);
}
