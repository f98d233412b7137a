// SPDX-License-Identifier: GPL-2.0
//! Multi-threaded stress of the devmem pool.
//!
//! Two "NAPI" threads own a queue cache each and allocate, recycle directly, complete, or hand
//! chunks to putter threads; a reader thread reads records and hands tokens to releaser
//! threads. Afterwards the accounting must balance exactly; with an unbind racing the traffic,
//! `drained` must fire exactly once.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use devmem_core::pool::{Pool, QueueCache, ReleaseError, Return};

const NQUEUES: u16 = 2;

/// xorshift64: deterministic, dependency-free randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

struct Shared<'a> {
    pool: &'a Pool,
    /// Set by the test (unbind scenario) to tell the NAPI threads to wind down.
    stop: AtomicBool,
    napis_done: AtomicUsize,
    drained: AtomicUsize,
    ops: AtomicUsize,
}

impl Shared<'_> {
    fn note(&self, r: Return) {
        if r.drained {
            self.drained.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// One NAPI context: returns its cache when done, having given back every chunk it held.
fn napi(
    sh: &Shared<'_>,
    mut cache: QueueCache,
    seed: u64,
    ops: usize,
    to_put: mpsc::Sender<u32>,
) -> QueueCache {
    let p = sh.pool;
    let mut rng = Rng(seed);
    // Chunks "on the device ring", posted and not yet received.
    let mut posted = Vec::new();
    let mut i = 0;
    while i < ops && !sh.stop.load(Ordering::Relaxed) {
        i += 1;
        if posted.len() < 96 {
            match p.alloc(&mut cache) {
                Some(idx) => posted.push(idx),
                None => std::thread::yield_now(),
            }
        }
        if posted.is_empty() || rng.next() % 4 == 0 {
            continue;
        }
        let k = (rng.next() % posted.len() as u64) as usize;
        let idx = posted.swap_remove(k);
        give_back(sh, &mut cache, &mut rng, &to_put, idx);
        sh.ops.fetch_add(1, Ordering::Relaxed);
    }
    for idx in std::mem::take(&mut posted) {
        give_back(sh, &mut cache, &mut rng, &to_put, idx);
    }
    sh.napis_done.fetch_add(1, Ordering::SeqCst);
    cache
}

fn give_back(
    sh: &Shared<'_>,
    cache: &mut QueueCache,
    rng: &mut Rng,
    to_put: &mpsc::Sender<u32>,
    idx: u32,
) {
    let p = sh.pool;
    match rng.next() % 10 {
        0..=3 => sh.note(p.recycle_direct(cache, idx).unwrap()),
        4..=5 => to_put.send(idx).unwrap(),
        _ => {
            let len = (rng.next() % 4096) as u32;
            sh.note(p.complete(idx, 0, len).unwrap());
        }
    }
}

/// Runs the whole thread set; `unbind_after` unbinds the pool mid-way. Returns the caches.
fn run(
    p: &Pool,
    ops: usize,
    seed: u64,
    unbind_after: Option<Duration>,
) -> (Vec<QueueCache>, usize) {
    let sh = Shared {
        pool: p,
        stop: AtomicBool::new(false),
        napis_done: AtomicUsize::new(0),
        drained: AtomicUsize::new(0),
        ops: AtomicUsize::new(0),
    };
    let (put_tx, put_rx) = mpsc::channel::<u32>();
    let put_rx = std::sync::Mutex::new(put_rx);
    let (rel_tx, rel_rx) = mpsc::channel::<u32>();
    let rel_rx = std::sync::Mutex::new(rel_rx);
    let caches = std::thread::scope(|s| {
        let sh = &sh;

        let napis: Vec<_> = (0..NQUEUES)
            .map(|q| {
                let cache = p.new_cache(q).unwrap();
                let tx = put_tx.clone();
                s.spawn(move || napi(sh, cache, seed + u64::from(q) * 7919, ops, tx))
            })
            .collect();
        drop(put_tx);

        // Putters and releasers share their channels; each thread serves both, so they run
        // until both channels are closed and empty.
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (put_rx, rel_rx) = (&put_rx, &rel_rx);
                s.spawn(move || {
                    let (mut put_open, mut rel_open) = (true, true);
                    while put_open || rel_open {
                        let mut idle = true;
                        if put_open {
                            match put_rx.lock().unwrap().try_recv() {
                                Ok(idx) => {
                                    sh.note(p.put(idx).unwrap());
                                    idle = false;
                                }
                                Err(mpsc::TryRecvError::Disconnected) => put_open = false,
                                Err(mpsc::TryRecvError::Empty) => {}
                            }
                        }
                        if rel_open {
                            match rel_rx.lock().unwrap().try_recv() {
                                Ok(tok) => {
                                    match p.release(tok) {
                                        Ok(r) => sh.note(r),
                                        Err(ReleaseError::Unbound) => assert!(p.is_unbound()),
                                        Err(e) => panic!("release {tok}: {e:?}"),
                                    }
                                    idle = false;
                                }
                                Err(mpsc::TryRecvError::Disconnected) => rel_open = false,
                                Err(mpsc::TryRecvError::Empty) => {}
                            }
                        }
                        if idle {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();

        s.spawn(move || {
            // Completions made before the NAPIs finished are visible once they say so.
            loop {
                let done = sh.napis_done.load(Ordering::SeqCst) == usize::from(NQUEUES);
                let out = p.read_records(32, |r| rel_tx.send(r.token).unwrap());
                if out.drained {
                    sh.drained.fetch_add(1, Ordering::SeqCst);
                }
                if out.records == 0 {
                    if done {
                        break;
                    }
                    std::thread::yield_now();
                }
            }
            drop(rel_tx);
        });

        if let Some(after) = unbind_after {
            let t = Instant::now();
            while t.elapsed() < after && sh.napis_done.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
            if p.unbind() {
                sh.drained.fetch_add(1, Ordering::SeqCst);
            }
            sh.stop.store(true, Ordering::Relaxed);
        }

        let caches: Vec<QueueCache> = napis.into_iter().map(|h| h.join().unwrap()).collect();
        for w in workers {
            w.join().unwrap();
        }
        caches
    });
    (caches, sh.drained.load(Ordering::SeqCst))
}

fn refs(caches: &[QueueCache]) -> Vec<&QueueCache> {
    caches.iter().collect()
}

#[test]
fn steady_state_accounting() {
    let p = Pool::new((0..4096u32).map(|i| u64::from(i) << 12), 12, NQUEUES).unwrap();
    let (mut caches, drained) = run(&p, 150_000, 0x9e37_79b9_7f4a_7c15, None);
    assert_eq!(drained, 0);
    let c = p.audit(&refs(&caches)).unwrap();
    assert_eq!((c.free, c.posted, c.held()), (4096, 0, 0), "{c:?}");
    let s = p.stats();
    assert_eq!((s.bad_put, s.bad_release, s.dropped_records), (0, 0, 0));
    assert!(s.queues.alloc_fast > s.queues.alloc_slow, "{s:?}");
    assert!(s.queues.recycle_ring > 0, "{s:?}");
    // Tear down: exactly one report.
    let mut d = usize::from(p.unbind());
    for c in &mut caches {
        d += usize::from(p.detach_queue(c).drained);
    }
    assert_eq!(d, 1);
    p.audit(&[]).unwrap();
}

#[test]
fn small_pool_contention() {
    // Fewer chunks than the NAPIs want: allocation failures, ring and free-list refills.
    let p = Pool::new((0..160u32).map(|i| u64::from(i) << 16), 16, NQUEUES).unwrap();
    let (caches, drained) = run(&p, 60_000, 12345, None);
    assert_eq!(drained, 0);
    let c = p.audit(&refs(&caches)).unwrap();
    assert_eq!(c.free, 160);
    assert!(p.stats().queues.empty > 0);
}

#[test]
fn unbind_races_traffic_drained_once() {
    for round in 0..12u64 {
        let p = Pool::new((0..1024u32).map(|i| u64::from(i) << 12), 12, NQUEUES).unwrap();
        let after = Duration::from_micros(200 + 400 * round);
        let (mut caches, mut drained) = run(&p, 40_000, 0xabcd + round, Some(after));
        assert!(p.is_unbound());
        let c = p.audit(&refs(&caches)).unwrap();
        assert_eq!((c.posted, c.held()), (0, 0), "round {round}: {c:?}");
        for c in &mut caches {
            drained += usize::from(p.detach_queue(c).drained);
        }
        assert_eq!(drained, 1, "round {round}");
        let c = p.audit(&[]).unwrap();
        assert_eq!(c.free, 1024);
        assert!(!p.unbind());
    }
}

#[test]
fn detach_races_remote_returns() {
    // Remote returns racing `detach_queue` must never strand a chunk in the detached ring:
    // after everything is back, unbind alone has to find the pool home.
    for round in 0..150u32 {
        let p = Pool::new((0..2048u32).map(|i| u64::from(i) << 12), 12, 1).unwrap();
        let mut c = p.new_cache(0).unwrap();
        let all: Vec<u32> = std::iter::from_fn(|| p.alloc(&mut c)).collect();
        assert_eq!(all.len(), 2048);
        std::thread::scope(|s| {
            for half in all.chunks(1024) {
                let p = &p;
                s.spawn(move || {
                    for &i in half {
                        assert!(!p.put(i).unwrap().drained);
                    }
                });
            }
            for _ in 0..(round % 30) * 20 {
                std::hint::spin_loop();
            }
            assert!(!p.detach_queue(&mut c).drained);
        });
        assert!(p.unbind(), "round {round}: chunks stranded after detach");
        let counts = p.audit(&[&c]).unwrap();
        assert_eq!(counts.free, 2048);
    }
}
