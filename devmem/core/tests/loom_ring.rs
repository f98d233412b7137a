// SPDX-License-Identifier: GPL-2.0
//! Exhaustive interleaving checks of `IndexRing` under loom.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p devmem-core --release --test loom_ring`.
#![cfg(loom)]

use devmem_core::ring::IndexRing;
use loom::sync::Arc;
use loom::thread;

/// Each value pushed is either popped exactly once or handed back by a failed push, and a
/// consumer sees each producer's values in push order.
fn check(pushed_back: &[u32], popped: &[u32], all: &[u32]) {
    let mut seen: Vec<u32> = pushed_back.iter().chain(popped).copied().collect();
    seen.sort_unstable();
    assert_eq!(
        seen, all,
        "lost or duplicated: back {pushed_back:?} popped {popped:?}"
    );
    for p in 0..2 {
        let mine: Vec<u32> = popped.iter().copied().filter(|v| v / 10 == p).collect();
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "order {popped:?}");
    }
}

/// Two producers push two values each into a 2-slot ring while a consumer pops: the ring is
/// full in many interleavings.
#[test]
fn two_producers_one_consumer_full() {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(|| {
        let ring = Arc::new(IndexRing::new(2).unwrap());
        let producers: Vec<_> = (0..2u32)
            .map(|p| {
                let r = ring.clone();
                thread::spawn(move || {
                    let mut back = Vec::new();
                    for k in 0..2 {
                        if let Err(v) = r.push(p * 10 + k) {
                            back.push(v);
                        }
                    }
                    back
                })
            })
            .collect();
        let mut popped = Vec::new();
        for _ in 0..2 {
            if let Some(v) = ring.pop() {
                popped.push(v);
            }
        }
        let back: Vec<u32> = producers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        while let Some(v) = ring.pop() {
            popped.push(v);
        }
        check(&back, &popped, &[0, 1, 10, 11]);
        // How many pushes fit depends on the interleaving; drained, the ring is empty.
        assert_eq!(ring.len_approx(), 0);
    });
}

/// With room for everything, no push may fail, whatever the interleaving (no false "full").
#[test]
fn two_producers_one_consumer_roomy() {
    loom::model(|| {
        let ring = Arc::new(IndexRing::new(4).unwrap());
        let producers: Vec<_> = (0..2u32)
            .map(|p| {
                let r = ring.clone();
                thread::spawn(move || {
                    for k in 0..2 {
                        r.push(p * 10 + k).unwrap();
                    }
                })
            })
            .collect();
        let mut popped = Vec::new();
        if let Some(v) = ring.pop() {
            popped.push(v);
        }
        for h in producers {
            h.join().unwrap();
        }
        while let Some(v) = ring.pop() {
            popped.push(v);
        }
        check(&[], &popped, &[0, 1, 10, 11]);
    });
}

/// Two consumers racing for entries each get distinct ones, and a concurrent producer
/// wrapping the 2-slot ring never overwrites an entry not yet consumed.
#[test]
fn one_producer_two_consumers_wrap() {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(|| {
        let ring = Arc::new(IndexRing::new(2).unwrap());
        ring.push(0).unwrap();
        ring.push(1).unwrap();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let r = ring.clone();
                thread::spawn(move || r.pop())
            })
            .collect();
        let mut back = Vec::new();
        for v in [2, 3] {
            if let Err(v) = ring.push(v) {
                back.push(v);
            }
        }
        let mut popped: Vec<u32> = consumers
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect();
        while let Some(v) = ring.pop() {
            popped.push(v);
        }
        let mut all: Vec<u32> = popped.iter().chain(&back).copied().collect();
        all.sort_unstable();
        assert_eq!(all, [0, 1, 2, 3], "popped {popped:?} back {back:?}");
    });
}
