// SPDX-License-Identifier: GPL-2.0
//! The devmem pool of one dma-buf binding.
//!
//! A binding's dma-buf is cut into `nchunks` equal chunks (see `layout`) and may feed several
//! RX queues; each bound queue has a slot number `0..nqueues`.
//!
//! Where a free chunk can be, and who touches it:
//! - a [`QueueCache`]: owned by the queue's NAPI only (the kernel keeps it in an `UnsafeCell`
//!   and hands out `&mut` in NAPI context); alloc and direct recycle use it without any atomic
//!   read-modify-write or lock. Its layout is shared with C: in the kernel, the inline
//!   call-site helpers run the fast paths of [`Pool::alloc`] and [`Pool::recycle_direct`]
//!   on it themselves and call into Rust only when it is empty or full (or the queue is
//!   detached, or the chunk is not Posted);
//! - the queue's remote-return ring: any context returns chunks there (`put`, `release`); the
//!   NAPI drains it into its cache when the cache runs dry;
//! - the shared free list, under a lock: refills caches in batches, and takes everything once
//!   a queue is detached or the pool unbound.
//!
//! A chunk is "home" when it is in the free list. After [`Pool::unbind`], once every chunk is
//! home, exactly one call across all threads reports `drained`: from then on the kernel may
//! tear the dma-buf mapping down. Chunks in a queue's cache or ring are not home until
//! [`Pool::detach_queue`] moves them, so the kernel must detach every queue it attached.
//!
//! Races with unbind are closed by pairing fences (store-buffering pattern): every move of a
//! chunk into `Completed` or `User` is followed by a full fence and a look at `unbound`, and
//! unbind sets `unbound`, fences, then scans; so either the scan sees the chunk held, or the
//! mover sees `unbound` and takes the chunk back itself (a compare-exchange decides who). The
//! same pattern closes remote returns racing with `detach_queue`.

// Also enforced when the kernel module includes this file on its own.
#![forbid(unsafe_code)]

use core::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};

use super::chunk::{Chunk, ChunkState};
use super::freeset::IndexSet;
use super::layout::{MAX_CHUNK_SIZE, MIN_CHUNK_SIZE};
use super::platform::{new_storage, try_new_storage, AllocError, Lock, Storage};
use super::ring::{IndexRing, SeqRing};

/// Entries in a NAPI-local cache: two NAPI budgets of 64, so one poll can both consume and
/// recycle a full budget without touching shared state.
pub const CACHE_CAPACITY: usize = 128;

/// Chunks moved between a cache and the free list per lock round.
pub const REFILL_BATCH: usize = 64;

/// Entries in a queue's remote-return ring (or the chunk count, if smaller). The NAPI drains
/// its ring every time its cache runs dry, at least once per 128 allocations, so 1024 entries
/// absorb eight refill periods of returns (or one large userspace release burst) before an
/// overflow falls back to the free list, which stays correct, only slower. 16 KiB per queue,
/// where a ring sized for the whole pool could take megabytes per queue.
pub const REMOTE_RING_CAPACITY: usize = 1024;

/// Indices moved per lock round on slow paths; bounds stack buffers and lock hold times.
const BATCH: usize = 64;

/// Why a pool or cache could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolError {
    /// Out of memory.
    Alloc,
    /// No chunks.
    Empty,
    /// More chunks than a `u32` index can number.
    TooManyChunks,
    /// Chunk shift outside 12..=16.
    ChunkShift,
    /// Zero queues.
    NoQueues,
    /// The DMA address iterator yielded a different count than it announced.
    DmaCount,
    /// Queue slot out of range.
    BadSlot,
    /// The slot already has a cache, or was detached.
    SlotTaken,
}

impl PoolError {
    /// A short explanation, suitable for a netlink extended ack (kept by pointer: static).
    pub fn message(&self) -> &'static core::ffi::CStr {
        match self {
            Self::Alloc => c"out of memory",
            Self::Empty => c"dma-buf has no chunks",
            Self::TooManyChunks => c"dma-buf holds too many chunks",
            Self::ChunkShift => c"chunk size must be a power of two from 4096 to 65536",
            Self::NoQueues => c"no RX queue to bind",
            Self::DmaCount => c"chunk address count mismatch",
            Self::BadSlot => c"queue slot out of range",
            Self::SlotTaken => c"queue slot already in use or detached",
        }
    }
}

impl From<AllocError> for PoolError {
    fn from(_: AllocError) -> Self {
        Self::Alloc
    }
}

/// A driver-side return (`recycle_direct`, `put`, `complete`) broke the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateError {
    /// No chunk has this index.
    OutOfRange,
    /// The chunk was not posted (double free, or never allocated); its actual state.
    WrongState(ChunkState),
    /// `offset + len` exceeds the chunk size.
    BadExtent,
}

/// A userspace token release was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseError {
    /// The binding is gone; its tokens died with it.
    Unbound,
    /// No chunk has this token.
    Unknown,
    /// The chunk is not held by userspace: released twice, or never delivered.
    NotHeld,
}

impl ReleaseError {
    /// A short explanation.
    pub fn message(&self) -> &'static core::ffi::CStr {
        match self {
            Self::Unbound => c"binding is gone",
            Self::Unknown => c"unknown token",
            Self::NotHeld => c"token not held",
        }
    }
}

/// Where a returned chunk went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// The caller's NAPI-local cache.
    Cache,
    /// Its queue's remote-return ring.
    Ring,
    /// The shared free list.
    FreeList,
    /// Queued for userspace (`complete`).
    Completions,
}

/// Outcome of giving a chunk back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "`drained` must be acted on"]
pub struct Return {
    /// Where the chunk went.
    pub dest: Dest,
    /// This call found the unbound pool completely home: release the dma-buf mapping now.
    /// True for exactly one call per pool.
    pub drained: bool,
}

impl Return {
    fn new(dest: Dest) -> Self {
        Self {
            dest,
            drained: false,
        }
    }
}

/// Outcome of [`Pool::detach_queue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "`drained` must be acted on"]
pub struct Detached {
    /// Chunks moved from the cache and the ring to the free list.
    pub moved: u32,
    /// See [`Return::drained`].
    pub drained: bool,
}

/// Outcome of [`Pool::read_records`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "`drained` must be acted on"]
pub struct ReadOutcome {
    /// Records handed to the callback.
    pub records: usize,
    /// See [`Return::drained`] (possible when racing with unbind).
    pub drained: bool,
}

/// A received chunk, as reported to userspace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Record {
    /// Offset of the data in the dma-buf: `index << chunk_shift` plus the offset in the chunk.
    pub offset: u64,
    /// Bytes received.
    pub len: u32,
    /// Token to release the chunk with (its index).
    pub token: u32,
    /// Queue slot it was received on.
    pub queue: u16,
}

/// Chunks per state, from a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// All chunks.
    pub total: u32,
    /// In a cache, ring or the free list.
    pub free: u32,
    /// Owned by the driver or device.
    pub posted: u32,
    /// Record queued for userspace.
    pub completed: u32,
    /// Token outstanding in userspace.
    pub user: u32,
}

impl Counts {
    /// Held by userspace: completed plus user.
    pub fn held(&self) -> u32 {
        self.completed + self.user
    }
}

/// Counters of one queue slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Allocations served from the cache.
    pub alloc_fast: u64,
    /// Allocations served after a refill.
    pub alloc_slow: u64,
    /// Direct recycles into the cache.
    pub recycle_cached: u64,
    /// Chunks taken from the remote-return ring.
    pub recycle_ring: u64,
    /// Failed allocations.
    pub empty: u64,
}

/// Pool-wide statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Sum over all queue slots.
    pub queues: QueueStats,
    /// Remote returns that found the ring full and went to the free list.
    pub ring_full: u64,
    /// Driver-side returns refused ([`StateError`]).
    pub bad_put: u64,
    /// Userspace releases refused other than for unbind.
    pub bad_release: u64,
    /// Chunks taken back from userspace by unbind.
    pub reclaimed: u64,
    /// Completions dropped because the completion ring was full (see [`Pool::complete`]).
    pub dropped_records: u64,
    /// Posted + completed + user.
    pub inflight: u64,
    /// Completed + user.
    pub held_by_user: u64,
}

/// Why [`Pool::audit`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditError {
    /// Out of memory for the scratch bitmap.
    Alloc,
    /// An index in a container is out of range.
    OutOfRange(u32),
    /// An index is in two places.
    Duplicate(u32),
    /// A container holds a chunk that is not free.
    NotFree(u32),
    /// Containers hold `listed` indices but `free` chunks are free.
    Missing {
        /// Indices found in caches, rings and the free list.
        listed: u32,
        /// Chunks in state Free.
        free: u32,
    },
    /// The completion ring does not match the completed chunks.
    Completions,
    /// The free list refused a chunk it held already, or its count disagrees with its bits.
    FreeList,
    /// The live per-state counters disagree with the walk.
    Counters {
        /// From the transition counters.
        live: Counts,
        /// From the walk and the chunk states.
        walk: Counts,
    },
}

/// Relaxed load + store: the counter has a single writer, so this is a plain increment that
/// other threads can still read without tearing.
#[inline]
fn bump(c: &AtomicU64) {
    add(c, 1);
}

#[inline]
fn add(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// Per-queue counters, written only by the queue's NAPI. Own cache line, away from the ring
/// other CPUs write to.
#[repr(align(64))]
#[derive(Default)]
struct QueueCounters {
    alloc_fast: AtomicU64,
    alloc_slow: AtomicU64,
    recycle_cached: AtomicU64,
    recycle_ring: AtomicU64,
    empty: AtomicU64,
    /// Posted -> Free by `recycle_direct` (into the cache or not).
    returned: AtomicU64,
}

/// State of one queue slot visible to every context.
struct QueueShared {
    /// Remote returns. `Some` in every constructed pool; an `Option` only because storage
    /// elements are built infallibly.
    ring: IndexRing,
    /// The queue is gone: returns bypass its cache and ring.
    detached: AtomicBool,
    /// A [`QueueCache`] was handed out for this slot.
    cache_taken: AtomicBool,
    counters: QueueCounters,
}

/// Where a completed chunk's data lies, packed into the completion ring entry next to its
/// index: the offset in the chunk in bits 0..16, `len - 1` in bits 16..32. Both fit since
/// `offset + len <= chunk size <= 64 KiB` and `len >= 1` (`complete` checks both).
#[inline]
fn pack_extent(offset: u32, len: u32) -> u32 {
    offset | (len - 1) << 16
}

/// (offset in the chunk, len) from [`pack_extent`].
#[inline]
fn unpack_extent(rec: u32) -> (u32, u32) {
    (rec & 0xffff, (rec >> 16) + 1)
}

const _: () = assert!(MAX_CHUNK_SIZE <= 1 << 16);

/// Shared slow-path counters (atomic read-modify-write is fine there).
///
/// Together with the per-queue allocation and return counters they count every state
/// transition once, so the chunks per state follow from them ([`Pool::counts`]) without a
/// scan. [`Pool::audit`] checks them against an independent walk.
#[derive(Default)]
struct SharedStats {
    ring_full: AtomicU64,
    bad_put: AtomicU64,
    bad_release: AtomicU64,
    reclaimed: AtomicU64,
    dropped_records: AtomicU64,
    /// Chunks the free list refused (held already: a pool bug; see `free_extend`).
    free_refused: AtomicU64,
    /// Posted -> Free by `put`.
    put: AtomicU64,
    /// Posted -> Completed.
    completed: AtomicU64,
    /// Completed -> User (`read_records`).
    delivered: AtomicU64,
    /// User -> Completed (`unread`: the reply carrying the record was not sent).
    undelivered: AtomicU64,
    /// Completed -> Free (record dropped, or reclaimed by unbind).
    dropped_completed: AtomicU64,
    /// User -> Free (token released, or reclaimed by unbind).
    released: AtomicU64,
}

#[inline]
fn count(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// The index of the descriptor at byte offset `off` of a descriptor array, or a number of
/// at least 2^59 (out of range for any pool) when `off` is not a multiple of the descriptor
/// size: `off` times the inverse of the size's odd factor, rotated right by its power of
/// two. A multiply and a rotate, where a division and a remainder check would take a
/// multiply, shifts and a compare more, per returned buffer.
#[inline]
fn desc_index(off: usize) -> usize {
    // Truncation: none, usize is 64 bits wide where netmem runs (asserted below).
    (off as u64).wrapping_mul(DESC_INV).rotate_right(DESC_TZ) as usize
}

const DESC_SIZE: u64 = core::mem::size_of::<Chunk>() as u64;
const DESC_TZ: u32 = DESC_SIZE.trailing_zeros();
/// Inverse of the odd factor of the descriptor size modulo 2^64 (Newton's iteration: each
/// step doubles the correct low bits, from 3 for any odd number).
const DESC_INV: u64 = {
    let odd = DESC_SIZE >> DESC_TZ;
    let mut x = odd;
    let mut i = 0;
    while i < 6 {
        x = x.wrapping_mul(2u64.wrapping_sub(odd.wrapping_mul(x)));
        i += 1;
    }
    x
};
const _: () = assert!((DESC_SIZE >> DESC_TZ).wrapping_mul(DESC_INV) == 1);
const _: () = assert!(core::mem::size_of::<usize>() == 8);

/// NAPI-local chunk cache of one queue slot: a LIFO of free chunk indices.
///
/// Exactly one exists per slot ([`Pool::new_cache`]); only the context running the queue's
/// NAPI may use it. It must be used with the pool that created it.
///
/// The layout is shared with C (`struct nmx_devmem_cache` in `<nmx/types.h>`): the kernel
/// embeds the cache in its per-queue structure and the inline call-site helpers pop and push
/// `stack[..len]` directly, with the same meaning as [`Pool::alloc`] and
/// [`Pool::recycle_direct`] on their fast path. Do not reorder; see the const asserts below
/// and the matching `static_assert`s in C.
#[repr(C)]
pub struct QueueCache {
    /// Entries in `stack`; at most [`CACHE_CAPACITY`] (anything larger reads as full).
    len: u32,
    slot: u16,
    _pad: u16,
    /// `stack[..len]` are free chunk indices, most recently pushed last.
    stack: [u32; CACHE_CAPACITY],
}

// `struct nmx_devmem_cache`: offsets and size checked against literals on both sides.
const _: () = assert!(CACHE_CAPACITY == 128);
const _: () = assert!(core::mem::offset_of!(QueueCache, len) == 0);
const _: () = assert!(core::mem::offset_of!(QueueCache, slot) == 4);
const _: () = assert!(core::mem::offset_of!(QueueCache, stack) == 8);
const _: () = assert!(core::mem::size_of::<QueueCache>() == 520);
const _: () = assert!(core::mem::align_of::<QueueCache>() == 4);

impl QueueCache {
    fn new(slot: u16) -> Self {
        Self {
            len: 0,
            slot,
            _pad: 0,
            stack: [0; CACHE_CAPACITY],
        }
    }

    /// The queue slot.
    pub fn slot(&self) -> u16 {
        self.slot
    }

    /// Chunks cached.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The cached indices, oldest first.
    pub fn as_slice(&self) -> &[u32] {
        self.stack.get(..self.len as usize).unwrap_or(&self.stack)
    }

    /// Pushes `idx`; gives it back as `Err(idx)` when full.
    #[inline]
    pub(crate) fn push(&mut self, idx: u32) -> Result<(), u32> {
        match self.stack.get_mut(self.len as usize) {
            Some(slot) => {
                *slot = idx;
                self.len += 1;
                Ok(())
            }
            None => Err(idx),
        }
    }

    /// Pops the most recently pushed index.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<u32> {
        let n = self.len.checked_sub(1)?;
        // A `len` beyond the capacity (only a C-side bug could store one) is clamped.
        let n = n.min(CACHE_CAPACITY as u32 - 1);
        self.len = n;
        self.stack.get(n as usize).copied()
    }

    /// Forgets every entry.
    fn clear(&mut self) {
        self.len = 0;
    }
}

/// NAPI-context operations on one queue, batched: see [`Pool::napi_batch`].
///
/// Holds the queue's cache exclusively, like the NAPI poll it serves.
pub struct NapiBatch<'p, 'c> {
    pool: &'p Pool,
    q: &'p QueueShared,
    cache: &'c mut QueueCache,
    /// The pool was not unbound when the batch opened: the cache serves allocations (until
    /// the queue is drained, also while it is being detached).
    serve: bool,
    /// Nor was the queue detached: returns may go into the cache. A batch that misses a
    /// detach or unbind racing with it is still correct: the kernel drains a queue only
    /// after an RCU grace period that covers every batch that saw it attached.
    keep: bool,
    alloc_fast: u64,
    returned: u64,
    recycle_cached: u64,
}

impl<'p> NapiBatch<'p, '_> {
    /// The queue slot of the batch.
    pub fn slot(&self) -> u16 {
        self.cache.slot
    }

    /// Allocates a chunk: Free -> Posted. Fast path: pop from the cache and a relaxed load
    /// and store of the chunk's state; no atomic read-modify-write, no lock.
    #[inline]
    pub fn alloc(&mut self) -> Option<&'p Chunk> {
        let pool = self.pool;
        if self.serve {
            if let Some(idx) = self.cache.pop() {
                if let Some(c) = pool.chunk(idx) {
                    if c.alloc_owned(self.cache.slot).is_ok() {
                        self.alloc_fast += 1;
                        return Some(c);
                    }
                }
                pool.corrupt_cache_entry();
            }
        }
        let idx = pool.alloc_slow(self.cache, self.q)?;
        pool.chunk(idx)
    }

    /// Fills `out` with up to `out.len()` chunks (each mapped by `f`); returns how many.
    /// [`NapiBatch::alloc`] for a whole refill: the fast path walks the cache's stack
    /// directly, each chunk with its own Free -> Posted check.
    #[inline]
    pub fn alloc_bulk<T>(&mut self, out: &mut [T], f: impl Fn(&'p Chunk) -> T) -> usize {
        let pool = self.pool;
        let slot = self.cache.slot;
        let chunks: &[Chunk] = pool.chunks();
        let mut n = 0;
        if self.serve {
            let have = self.cache.len();
            let take = have.min(out.len());
            // The top `take` entries, lowest first (the order within one refill is free).
            for (o, &idx) in out
                .iter_mut()
                .zip(self.cache.stack[have - take..have].iter())
            {
                match chunks.get(idx as usize) {
                    Some(c) if c.alloc_owned(slot).is_ok() => *o = f(c),
                    _ => break,
                }
                n += 1;
            }
            if n < take {
                // A corrupt entry: keep the ones above it, drop it and count it.
                self.cache
                    .stack
                    .copy_within(have - take + n + 1..have, have - take);
                self.cache.len = (have - n - 1) as u32;
                pool.corrupt_cache_entry();
            } else {
                // `n <= have <= CACHE_CAPACITY`.
                self.cache.len = (have - n) as u32;
            }
            self.alloc_fast += n as u64;
        }
        while let Some(o) = out.get_mut(n) {
            let Some(c) = self.alloc() else {
                break;
            };
            *o = f(c);
            n += 1;
        }
        n
    }

    /// Returns chunk `c`, posted to this queue, from the queue's NAPI context: Posted ->
    /// Free, into the cache. The only atomic read-modify-write is one compare-exchange of
    /// the chunk's state word, which checks that the chunk is Posted *and* was allocated
    /// by this queue: a driver's double return racing a remote `put` of the same chunk
    /// fails here instead of putting one chunk in two places. A chunk allocated by another
    /// queue goes back like [`Pool::put`] (towards its own queue); a full cache spills a
    /// batch to the free list; a detached queue or unbound pool sends the chunk to the
    /// free list.
    #[inline]
    pub fn recycle(&mut self, c: &Chunk) -> Result<Return, StateError> {
        let pool = self.pool;
        match c.free_by_queue(self.cache.slot) {
            Ok(()) => {}
            Err((ChunkState::Posted, _)) => return pool.put(c.index),
            Err((found, _)) => return Err(pool.bad_put(StateError::WrongState(found))),
        }
        self.returned += 1;
        if self.keep && self.cache.push(c.index).is_ok() {
            self.recycle_cached += 1;
            return Ok(Return::new(Dest::Cache));
        }
        Ok(pool.recycle_slow(self.cache, c.index))
    }

    /// Returns the chunks at the addresses `addr` maps `bufs` to, like
    /// [`NapiBatch::recycle`]; hands every buffer whose address is not one of this pool's
    /// descriptors to `other`. Returns whether a return reported `drained`.
    ///
    /// The fast loop (this queue's own Posted chunks into a cache with room) makes no call,
    /// so that it runs in registers; the first buffer it cannot take ends it, and the rest
    /// go one by one through the general path.
    #[inline]
    pub fn recycle_bulk<T>(
        &mut self,
        bufs: &[T],
        addr: impl Fn(&T) -> usize,
        mut other: impl FnMut(&T),
    ) -> bool {
        let pool = self.pool;
        let chunks: &[Chunk] = pool.chunks();
        let base = chunks.as_ptr() as usize;
        let at = |b: &T| {
            let idx = desc_index(addr(b).wrapping_sub(base));
            chunks.get(idx).map(|c| (c, idx))
        };
        let mut done = 0;
        if self.keep {
            let slot = self.cache.slot;
            let len = self.cache.len();
            // The free part of the stack bounds the loop: no per-buffer room check.
            let room = self.cache.stack.get_mut(len..).unwrap_or_default();
            for (b, top) in bufs.iter().zip(room.iter_mut()) {
                let Some((c, idx)) = at(b) else {
                    break;
                };
                if c.free_by_queue(slot).is_err() {
                    break;
                }
                // `idx < nchunks <= u32::MAX`.
                *top = idx as u32;
                done += 1;
            }
            // `len + done <= CACHE_CAPACITY`.
            self.cache.len = (len + done) as u32;
            self.returned += done as u64;
            self.recycle_cached += done as u64;
        }
        let mut drained = false;
        for b in bufs.get(done..).unwrap_or(&[]) {
            match at(b) {
                Some((c, _)) => {
                    if let Ok(r) = self.recycle(c) {
                        drained |= r.drained;
                    }
                }
                None => other(b),
            }
        }
        drained
    }
}

impl Drop for NapiBatch<'_, '_> {
    fn drop(&mut self) {
        let c = &self.q.counters;
        add(&c.alloc_fast, self.alloc_fast);
        add(&c.returned, self.returned);
        add(&c.recycle_cached, self.recycle_cached);
    }
}

/// The devmem pool of one binding.
pub struct Pool {
    /// The header ([`Chunk::header`]), then the descriptor of chunk `i` at `i + 1`.
    descs: Storage<Chunk>,
    queues: Storage<QueueShared>,
    free: Lock<IndexSet>,
    /// Completed chunks in completion order, for userspace: `[index, packed extent]`.
    completions: SeqRing<2>,
    stats: SharedStats,
    chunk_shift: u32,
    total: u32,
    unbound: AtomicBool,
    drained_reported: AtomicBool,
}

impl Pool {
    /// Creates a pool of chunks of `1 << chunk_shift` bytes at the given DMA addresses (chunk
    /// `i` at the `i`-th address), feeding `nqueues` queue slots. All chunks start free.
    pub fn new<I>(dmas: I, chunk_shift: u32, nqueues: u16) -> Result<Self, PoolError>
    where
        I: IntoIterator<Item = u64>,
        I::IntoIter: ExactSizeIterator,
    {
        let shifts = MIN_CHUNK_SIZE.trailing_zeros()..=MAX_CHUNK_SIZE.trailing_zeros();
        if !shifts.contains(&chunk_shift) {
            return Err(PoolError::ChunkShift);
        }
        if nqueues == 0 {
            return Err(PoolError::NoQueues);
        }
        let mut it = dmas.into_iter();
        let n = it.len();
        if n == 0 {
            return Err(PoolError::Empty);
        }
        let total = u32::try_from(n).map_err(|_| PoolError::TooManyChunks)?;
        let mut short = false;
        let descs = new_storage(n + 1, |i| {
            let Some(i) = i.checked_sub(1) else {
                return Chunk::header(0);
            };
            let dma = match it.next() {
                Some(d) => d,
                None => {
                    short = true;
                    0
                }
            };
            // `i < n <= u32::MAX`.
            Chunk::new(i as u32, dma)
        })?;
        if short || it.next().is_some() {
            return Err(PoolError::DmaCount);
        }
        let ring_cap = n.min(REMOTE_RING_CAPACITY);
        let queues = try_new_storage(usize::from(nqueues), |_| {
            Ok(QueueShared {
                ring: IndexRing::new(ring_cap)?,
                detached: AtomicBool::new(false),
                cache_taken: AtomicBool::new(false),
                counters: QueueCounters::default(),
            })
        })?;
        let free = IndexSet::full(total)?;
        // Capacity >= nchunks: see `complete` for why the push then cannot fail.
        let completions = SeqRing::new(n)?;
        Ok(Self {
            descs,
            queues,
            free: Lock::new(free)?,
            completions,
            stats: SharedStats::default(),
            chunk_shift,
            total,
            unbound: AtomicBool::new(false),
            drained_reported: AtomicBool::new(false),
        })
    }

    /// Creates the NAPI-local cache of queue slot `slot`; once per slot.
    pub fn new_cache(&self, slot: u16) -> Result<QueueCache, PoolError> {
        let q = self
            .queues
            .get(usize::from(slot))
            .ok_or(PoolError::BadSlot)?;
        if q.cache_taken.swap(true, Ordering::AcqRel) || q.detached.load(Ordering::Acquire) {
            return Err(PoolError::SlotTaken);
        }
        Ok(QueueCache::new(slot))
    }

    /// Number of chunks.
    pub fn nchunks(&self) -> u32 {
        self.total
    }

    /// Number of queue slots.
    pub fn nqueues(&self) -> u16 {
        // Built from a `u16`.
        self.queues.len() as u16
    }

    /// log2 of the chunk size.
    pub fn chunk_shift(&self) -> u32 {
        self.chunk_shift
    }

    /// Chunk size in bytes.
    pub fn chunk_size(&self) -> u64 {
        1 << self.chunk_shift
    }

    /// All chunk descriptors, by index. Their addresses are stable for the pool's life.
    #[inline]
    pub fn chunks(&self) -> &[Chunk] {
        self.descs.get(1..).unwrap_or(&[])
    }

    /// The descriptor of chunk `idx`.
    #[inline]
    pub fn chunk(&self, idx: u32) -> Option<&Chunk> {
        // Element `idx + 1` (after the header): one bounds check.
        self.descs.get(idx as usize + 1)
    }

    /// Sets the opaque value the header carries (the kernel: its binding), before the pool
    /// is shared.
    pub fn set_owner(&mut self, owner: u64) {
        if let Some(h) = self.descs.get_mut(0) {
            *h = Chunk::header(owner);
        }
    }

    /// The value given to [`Pool::set_owner`] (0 before).
    pub fn owner(&self) -> u64 {
        self.descs.first().map_or(0, |h| h.dma)
    }

    /// Whether [`Pool::unbind`] was called.
    pub fn is_unbound(&self) -> bool {
        self.unbound.load(Ordering::Acquire)
    }

    /// First half of detaching queue slot `slot`: from now on returns bypass its cache and
    /// ring. The kernel calls it, then waits an RCU grace period (so no NAPI still uses the
    /// cache), then calls [`Pool::detach_queue`] to empty them. Any context.
    pub fn mark_detached(&self, slot: u16) {
        if let Some(q) = self.queues.get(usize::from(slot)) {
            q.detached.store(true, Ordering::SeqCst);
            // Pairs with the fence in `return_remote`, like `detach_queue`.
            fence(Ordering::SeqCst);
        }
    }

    /// Whether some return already reported `drained` (the release is under way).
    pub fn drained_reported(&self) -> bool {
        self.drained_reported.load(Ordering::Acquire)
    }

    /// Whether queue slot `slot` was detached (false for an unknown slot).
    pub fn is_detached(&self, slot: u16) -> bool {
        self.queues
            .get(usize::from(slot))
            .is_some_and(|q| q.detached.load(Ordering::Acquire))
    }

    /// Allocates a chunk for the cache's queue: Free -> Posted. NAPI context.
    ///
    /// A batch of one ([`Pool::napi_batch`]). `None` when the pool is exhausted, the queue
    /// detached, or the pool unbound.
    #[inline]
    pub fn alloc(&self, cache: &mut QueueCache) -> Option<u32> {
        self.napi_batch(cache)?.alloc().map(|c| c.index)
    }

    /// Opens a batch of NAPI-context operations on the cache's queue: what one poll
    /// allocates and recycles. The queue's state (detached, pool unbound) is read once for
    /// the batch and its counters are written once, when the batch is dropped; each chunk
    /// still gets its own state check. `None` for a cache of an unknown slot.
    #[inline]
    pub fn napi_batch<'p, 'c>(&'p self, cache: &'c mut QueueCache) -> Option<NapiBatch<'p, 'c>> {
        let q = self.queues.get(usize::from(cache.slot))?;
        let unbound = self.unbound.load(Ordering::Relaxed);
        Some(NapiBatch {
            pool: self,
            q,
            cache,
            serve: !unbound,
            keep: !unbound && !q.detached.load(Ordering::Relaxed),
            alloc_fast: 0,
            returned: 0,
            recycle_cached: 0,
        })
    }

    /// The descriptor at address `addr`, if it is one of this pool's.
    #[inline]
    pub fn chunk_at(&self, addr: usize) -> Option<&Chunk> {
        let chunks = self.chunks();
        chunks.get(desc_index(addr.wrapping_sub(chunks.as_ptr() as usize)))
    }

    /// Free -> Posted for a chunk the caller holds exclusively.
    #[inline]
    fn take(&self, idx: u32, slot: u16) -> bool {
        self.chunk(idx).is_some_and(|c| c.alloc_owned(slot).is_ok())
    }

    /// A cache held a chunk that is not free: a bug elsewhere. The entry is dropped (someone
    /// else owns that chunk) and counted.
    #[cold]
    #[inline(never)]
    fn corrupt_cache_entry(&self) {
        self.stats.bad_put.fetch_add(1, Ordering::Relaxed);
    }

    #[cold]
    #[inline(never)]
    fn alloc_slow(&self, cache: &mut QueueCache, q: &QueueShared) -> Option<u32> {
        if !q.detached.load(Ordering::Acquire) && !self.unbound.load(Ordering::Acquire) {
            // Remote returns first: they are this queue's and cost no lock.
            let mut got = 0;
            while cache.len() < CACHE_CAPACITY {
                match q.ring.pop() {
                    Some(i) => {
                        let _ = cache.push(i);
                        got += 1;
                    }
                    None => break,
                }
            }
            add(&q.counters.recycle_ring, got);
            let have = cache.len();
            if have < REFILL_BATCH {
                self.free.with(|fl| {
                    // Checked under the lock: once `drained` was reported (decided under this
                    // lock), no chunk may leave the free list again.
                    if self.unbound.load(Ordering::Relaxed) {
                        return;
                    }
                    for _ in have..REFILL_BATCH {
                        match fl.take() {
                            Some(i) => {
                                let _ = cache.push(i);
                            }
                            None => break,
                        }
                    }
                });
            }
            if cache.is_empty() {
                add(&q.counters.recycle_ring, self.steal(cache));
            }
            while let Some(idx) = cache.pop() {
                if self.take(idx, cache.slot) {
                    bump(&q.counters.alloc_slow);
                    return Some(idx);
                }
                self.corrupt_cache_entry();
            }
        }
        bump(&q.counters.empty);
        None
    }

    /// Own ring and free list are dry: take a batch from the other queues' return rings, so
    /// that free chunks returned towards an idle queue are not stranded there while this one
    /// drops frames. The rings are multi-consumer; what is taken is Free and ours from then.
    #[cold]
    #[inline(never)]
    fn steal(&self, cache: &mut QueueCache) -> u64 {
        let mut got = 0;
        for (slot, q) in self.queues.iter().enumerate() {
            if slot == usize::from(cache.slot) {
                continue;
            }
            let ring = &q.ring;
            while cache.len() < REFILL_BATCH {
                match ring.pop() {
                    Some(i) => {
                        let _ = cache.push(i);
                        got += 1;
                    }
                    None => break,
                }
            }
            if cache.len() >= REFILL_BATCH {
                break;
            }
        }
        got
    }

    /// Returns a posted chunk from the cache's own NAPI context: Posted -> Free. A batch of
    /// one ([`NapiBatch::recycle`]).
    #[inline]
    pub fn recycle_direct(&self, cache: &mut QueueCache, idx: u32) -> Result<Return, StateError> {
        let Some(c) = self.chunk(idx) else {
            return Err(self.bad_put(StateError::OutOfRange));
        };
        match self.napi_batch(cache) {
            Some(mut b) => b.recycle(c),
            None => self.put(idx),
        }
    }

    #[cold]
    #[inline(never)]
    fn recycle_slow(&self, cache: &mut QueueCache, idx: u32) -> Return {
        let q = self.queues.get(usize::from(cache.slot));
        let open = q.is_some_and(|q| !q.detached.load(Ordering::Acquire))
            && !self.unbound.load(Ordering::Acquire);
        if let (true, Some(q)) = (open, q) {
            // Spill a batch in one lock round rather than taking the lock per chunk.
            let mut buf = [0u32; REFILL_BATCH];
            let mut n = 0;
            while n < REFILL_BATCH {
                match cache.pop() {
                    Some(i) => {
                        buf[n] = i;
                        n += 1;
                    }
                    None => break,
                }
            }
            let drained = self.free_extend(&buf[..n]);
            if cache.push(idx).is_ok() {
                bump(&q.counters.recycle_cached);
                return Return {
                    dest: Dest::Cache,
                    drained,
                };
            }
        }
        self.free_one(idx)
    }

    #[cold]
    #[inline(never)]
    fn bad_put(&self, e: StateError) -> StateError {
        self.stats.bad_put.fetch_add(1, Ordering::Relaxed);
        e
    }

    /// Returns a posted chunk from any context: Posted -> Free, then to the remote-return
    /// ring of the queue that allocated it (free list if that queue is detached, the pool
    /// unbound, or the ring full).
    #[inline]
    pub fn put(&self, idx: u32) -> Result<Return, StateError> {
        let Some(c) = self.chunk(idx) else {
            return Err(self.bad_put(StateError::OutOfRange));
        };
        let queue = match c.free_shared() {
            Ok(queue) => queue,
            Err(found) => return Err(self.bad_put(StateError::WrongState(found))),
        };
        count(&self.stats.put, 1);
        Ok(self.return_remote(idx, queue))
    }

    /// Sends a chunk that just became Free (owned by the caller) towards queue `slot`.
    ///
    /// No look at `detached` (or `unbound`: [`Pool::unbind`] marks every queue detached
    /// first) before the push: the one after the fence below decides, and a returner to a
    /// detached queue drains the ring itself (rare, and correct either way).
    #[inline]
    fn return_remote(&self, idx: u32, slot: u16) -> Return {
        let Some(q) = self.queues.get(usize::from(slot)) else {
            return self.free_one(idx);
        };
        let ring = &q.ring;
        if ring.push(idx).is_err() {
            self.stats.ring_full.fetch_add(1, Ordering::Relaxed);
            return self.free_one(idx);
        }
        // From here our chunk may be drained (and the pool released) by others, while we still
        // read the pool below: the window the kernel's RCU grace period covers.
        super::platform::return_window();
        // Pairs with the fence in `detach_queue`: either its drain finds our entry, or we see
        // `detached` and drain the ring ourselves (it is multi-consumer).
        fence(Ordering::SeqCst);
        if q.detached.load(Ordering::Relaxed) {
            let (_, drained) = self.drain_ring_to_free(ring);
            return Return {
                dest: Dest::FreeList,
                drained,
            };
        }
        Return::new(Dest::Ring)
    }

    /// Puts a Free chunk on the free list.
    fn free_one(&self, idx: u32) -> Return {
        Return {
            dest: Dest::FreeList,
            drained: self.free_extend(&[idx]),
        }
    }

    /// Pushes Free chunks onto the free list; true if this call reports `drained`.
    ///
    /// "Unbound and every chunk home" is decided, and reported, under the lock: unbind sets
    /// `unbound` before its own final call here, so the last chunk home and unbind cannot
    /// both miss it, and only one caller can see the report. Nothing of the pool is touched
    /// by this call after the unlock: the reporter owns what follows (the kernel frees the
    /// pool after an RCU grace period, which covers every returner still inside pool code).
    fn free_extend(&self, idxs: &[u32]) -> bool {
        self.free.with(|fl| {
            for &i in idxs {
                // Each index is in one place only: a second insert is a pool bug, refused
                // (so it cannot complete the list early) and counted for the audit.
                if fl.insert(i).is_err() {
                    self.stats.free_refused.fetch_add(1, Ordering::Relaxed);
                }
            }
            let home = self.unbound.load(Ordering::Relaxed) && fl.len() == self.total as usize;
            if home && !self.drained_reported.load(Ordering::Relaxed) {
                self.drained_reported.store(true, Ordering::Release);
                true
            } else {
                false
            }
        })
    }

    /// Moves everything in `ring` to the free list; (moved, drained).
    fn drain_ring_to_free(&self, ring: &IndexRing) -> (u32, bool) {
        let mut buf = [0u32; BATCH];
        let (mut moved, mut drained) = (0, false);
        loop {
            let mut n = 0;
            while n < BATCH {
                match ring.pop() {
                    Some(i) => {
                        buf[n] = i;
                        n += 1;
                    }
                    None => break,
                }
            }
            if n == 0 {
                break;
            }
            moved += n as u32;
            drained |= self.free_extend(&buf[..n]);
            if n < BATCH {
                break;
            }
        }
        (moved, drained)
    }

    /// The driver received `len` bytes at `offset` in posted chunk `idx`: Posted -> Completed
    /// and the record is queued for userspace (`dest == Completions`). On an unbound pool the
    /// chunk is returned like [`Pool::put`] instead.
    ///
    /// The completion ring holds at least `nchunks` entries, so the push cannot fail as long
    /// as `read_records` runs in one context at a time: a push fails only while the slot one
    /// lap back is still occupied, i.e. (one consumer, consuming in order) while every entry
    /// from that slot on is unconsumed or being consumed. Each such entry is a distinct
    /// chunk in state Completed (a chunk is pushed once per completion and stays Completed
    /// until its pop finished), and so is the chunk being pushed: `capacity + 1 > nchunks`
    /// completed chunks, impossible. Should it fail anyway (concurrent readers, one stalled a
    /// full lap), the record is dropped, counted, and the chunk returned like `put`.
    pub fn complete(&self, idx: u32, offset: u32, len: u32) -> Result<Return, StateError> {
        let Some(c) = self.chunk(idx) else {
            return Err(self.bad_put(StateError::OutOfRange));
        };
        if u64::from(offset) + u64::from(len) > self.chunk_size() {
            return Err(self.bad_put(StateError::BadExtent));
        }
        if self.unbound.load(Ordering::Acquire) || len == 0 {
            return self.put(idx);
        }
        if let Err(found) = c.complete_shared() {
            return Err(self.bad_put(StateError::WrongState(found)));
        }
        count(&self.stats.completed, 1);
        if self
            .completions
            .push_entry([idx, pack_extent(offset, len)])
            .is_err()
        {
            return Ok(self.drop_record(idx, c));
        }
        // Pairs with the fence in `unbind`: either its scan sees this chunk Completed, or we
        // see `unbound` here and take it back (our entry left in the ring is then stale and
        // skipped by readers).
        fence(Ordering::SeqCst);
        if self.unbound.load(Ordering::Relaxed) && c.drop_completed().is_ok() {
            count(&self.stats.reclaimed, 1);
            count(&self.stats.dropped_completed, 1);
            return Ok(self.free_one(idx));
        }
        Ok(Return::new(Dest::Completions))
    }

    #[cold]
    #[inline(never)]
    fn drop_record(&self, idx: u32, c: &Chunk) -> Return {
        self.stats.dropped_records.fetch_add(1, Ordering::Relaxed);
        if c.drop_completed().is_ok() {
            count(&self.stats.dropped_completed, 1);
            self.return_remote(idx, c.queue())
        } else {
            // Unbind took it back already.
            Return::new(Dest::FreeList)
        }
    }

    /// Hands up to `max` queued records to `f`, oldest first; each chunk moves Completed ->
    /// User and its token becomes valid. Nothing once the pool is unbound.
    ///
    /// `f` runs outside any pool lock. For the completion ring's no-overflow guarantee, call
    /// from one context at a time per pool.
    pub fn read_records(&self, max: usize, mut f: impl FnMut(Record)) -> ReadOutcome {
        let mut out = ReadOutcome {
            records: 0,
            drained: false,
        };
        let mut buf = [[0u32; 2]; BATCH];
        while out.records < max && !self.unbound.load(Ordering::Acquire) {
            let want = (max - out.records).min(BATCH);
            let mut n = 0;
            while n < want {
                let Some(e) = self.completions.pop_entry() else {
                    break;
                };
                // An entry whose chunk unbind took back is stale: skip it.
                if self.chunk(e[0]).is_some_and(|c| c.deliver().is_ok()) {
                    count(&self.stats.delivered, 1);
                    buf[n] = e;
                    n += 1;
                }
            }
            if n == 0 {
                break;
            }
            // Pairs with the fence in `unbind`: either its scan sees these chunks in User, or
            // we see `unbound` and take them back before any token escapes.
            fence(Ordering::SeqCst);
            if self.unbound.load(Ordering::Relaxed) {
                let mut back = [0u32; BATCH];
                let mut m = 0;
                for &[i, _] in &buf[..n] {
                    if self.chunk(i).is_some_and(|c| c.release().is_ok()) {
                        back[m] = i;
                        m += 1;
                    }
                }
                count(&self.stats.reclaimed, m as u64);
                count(&self.stats.released, m as u64);
                out.drained |= self.free_extend(&back[..m]);
                break;
            }
            for &[idx, rec] in &buf[..n] {
                f(self.record(idx, rec));
            }
            out.records += n;
            if n < want {
                break;
            }
        }
        out
    }

    fn record(&self, idx: u32, rec: u32) -> Record {
        let (offset, len) = unpack_extent(rec);
        Record {
            offset: (u64::from(idx) << self.chunk_shift) + u64::from(offset),
            len,
            token: idx,
            queue: self.chunk(idx).map_or(0, |c| c.queue()),
        }
    }

    /// Userspace gives token `token` back: User -> Free, then like [`Pool::put`]. Any context.
    pub fn release(&self, token: u32) -> Result<Return, ReleaseError> {
        if self.unbound.load(Ordering::Acquire) {
            return Err(ReleaseError::Unbound);
        }
        let Some(c) = self.chunk(token) else {
            self.stats.bad_release.fetch_add(1, Ordering::Relaxed);
            return Err(ReleaseError::Unknown);
        };
        if c.release().is_err() {
            // Lost to unbind's reclaim: the token died with the binding.
            if self.unbound.load(Ordering::Acquire) {
                return Err(ReleaseError::Unbound);
            }
            self.stats.bad_release.fetch_add(1, Ordering::Relaxed);
            return Err(ReleaseError::NotHeld);
        }
        count(&self.stats.released, 1);
        Ok(self.return_remote(token, c.queue()))
    }

    /// Takes back records handed out by [`Pool::read_records`] whose delivery failed (the
    /// reply that carried them could not be queued): User -> Completed, queued again for
    /// the next read. A token released meanwhile (only a guess could do that) stays released,
    /// and so does a record that is not one `read_records` could have produced.
    /// Call from the single reader context, like `read_records`.
    pub fn unread(&self, records: &[Record]) -> bool {
        let mut drained = false;
        for r in records {
            let idx = r.token;
            let Some(c) = self.chunk(idx) else {
                continue;
            };
            let start = u64::from(idx) << self.chunk_shift;
            let Some(offset) = r.offset.checked_sub(start) else {
                continue;
            };
            if r.len == 0 || offset + u64::from(r.len) > self.chunk_size() {
                continue;
            }
            if c.undeliver().is_err() {
                continue;
            }
            count(&self.stats.undelivered, 1);
            // `offset + len <= chunk size`, checked above.
            let rec = pack_extent(offset as u32, r.len);
            if self.completions.push_entry([idx, rec]).is_err() {
                drained |= self.drop_record(idx, c).drained;
                continue;
            }
            // As in `complete`: either unbind's scan sees it Completed, or we take it back.
            fence(Ordering::SeqCst);
            if self.unbound.load(Ordering::Relaxed) && c.drop_completed().is_ok() {
                count(&self.stats.reclaimed, 1);
                count(&self.stats.dropped_completed, 1);
                drained |= self.free_one(idx).drained;
            }
        }
        drained
    }

    /// Detaches the cache's queue slot: later returns bypass it, and its cache and ring are
    /// emptied into the free list. Idempotent.
    ///
    /// The caller guarantees nobody uses the cache concurrently (the kernel calls this after
    /// an RCU grace period following the queue's unbinding). Any context.
    pub fn detach_queue(&self, cache: &mut QueueCache) -> Detached {
        let q = self.queues.get(usize::from(cache.slot));
        if let Some(q) = q {
            q.detached.store(true, Ordering::SeqCst);
            // Pairs with the fence in `return_remote`.
            fence(Ordering::SeqCst);
        }
        let mut out = Detached {
            moved: cache.len() as u32,
            drained: self.free_extend(cache.as_slice()),
        };
        cache.clear();
        if let Some(ring) = q.map(|q| &q.ring) {
            let (moved, drained) = self.drain_ring_to_free(ring);
            out.moved += moved;
            out.drained |= drained;
        }
        out
    }

    /// Unbinds the pool: allocation stops, every chunk held by userspace is taken back (its
    /// token dies: later releases get [`ReleaseError::Unbound`]) and queued records are
    /// dropped. Every queue is marked detached (as by [`Pool::mark_detached`]), so later
    /// returns go to the free list. Posted chunks come home when the driver returns them;
    /// cached ones (and any left in a ring) when their queue is detached.
    ///
    /// Returns true if this call reports `drained` (everything already home). Only the first
    /// call does anything. Any context.
    pub fn unbind(&self) -> bool {
        if self.unbound.swap(true, Ordering::SeqCst) {
            return false;
        }
        // What `return_remote` looks at instead of `unbound`; a return that misses it leaves
        // its chunk in the ring, which `detach_queue` empties (the fence below pairs with the
        // one in `return_remote`, as for `mark_detached`).
        for q in self.queues.iter() {
            q.detached.store(true, Ordering::SeqCst);
        }
        // Pairs with the fences in `complete` and `read_records`.
        fence(Ordering::SeqCst);
        let mut buf = [0u32; BATCH];
        let (mut n, mut drained, mut reclaimed) = (0, false, 0);
        for c in self.chunks().iter() {
            let from = c.reclaim();
            if let Some(from) = from {
                if from == ChunkState::User {
                    count(&self.stats.released, 1);
                } else {
                    count(&self.stats.dropped_completed, 1);
                }
                buf[n] = c.index;
                n += 1;
                reclaimed += 1;
                if n == BATCH {
                    drained |= self.free_extend(&buf);
                    n = 0;
                }
            }
        }
        count(&self.stats.reclaimed, reclaimed);
        while self.completions.pop_entry().is_some() {}
        // Also the final check when nothing was reclaimed.
        drained |= self.free_extend(&buf[..n]);
        drained
    }

    /// Chunks per state, from the transition counters (no scan: O(queues)). A snapshot of
    /// counters written concurrently; exact while the pool is quiet.
    pub fn counts(&self) -> Counts {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (mut allocs, mut returned) = (0u64, 0u64);
        for q in self.queues.iter() {
            allocs = allocs
                .wrapping_add(r(&q.counters.alloc_fast))
                .wrapping_add(r(&q.counters.alloc_slow));
            returned = returned.wrapping_add(r(&q.counters.returned));
        }
        let s = &self.stats;
        let total = u64::from(self.total);
        // Counters are read one by one: clamp what a racing snapshot could push out of range.
        let clamp = |v: u64| if v > total { 0 } else { v as u32 };
        let posted = clamp(
            allocs
                .wrapping_sub(returned)
                .wrapping_sub(r(&s.put))
                .wrapping_sub(r(&s.completed)),
        );
        let completed = clamp(
            r(&s.completed)
                .wrapping_add(r(&s.undelivered))
                .wrapping_sub(r(&s.delivered))
                .wrapping_sub(r(&s.dropped_completed)),
        );
        let user = clamp(
            r(&s.delivered)
                .wrapping_sub(r(&s.undelivered))
                .wrapping_sub(r(&s.released)),
        );
        let free = self
            .total
            .saturating_sub(posted)
            .saturating_sub(completed)
            .saturating_sub(user);
        Counts {
            total: self.total,
            free,
            posted,
            completed,
            user,
        }
    }

    /// Chunks per state, from a scan of the chunk states (the audit's view).
    fn scan_states(&self) -> Counts {
        let mut c = Counts {
            total: self.total,
            ..Counts::default()
        };
        for ch in self.chunks().iter() {
            match ch.state() {
                ChunkState::Free => c.free += 1,
                ChunkState::Posted => c.posted += 1,
                ChunkState::Completed => c.completed += 1,
                ChunkState::User => c.user += 1,
            }
        }
        c
    }

    /// Counters of queue slot `slot`.
    pub fn queue_stats(&self, slot: u16) -> Option<QueueStats> {
        let q = &self.queues.get(usize::from(slot))?.counters;
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Some(QueueStats {
            alloc_fast: r(&q.alloc_fast),
            alloc_slow: r(&q.alloc_slow),
            recycle_cached: r(&q.recycle_cached),
            recycle_ring: r(&q.recycle_ring),
            empty: r(&q.empty),
        })
    }

    /// Pool-wide statistics (scans the chunks).
    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        for slot in 0..self.nqueues() {
            if let Some(q) = self.queue_stats(slot) {
                s.queues.alloc_fast += q.alloc_fast;
                s.queues.alloc_slow += q.alloc_slow;
                s.queues.recycle_cached += q.recycle_cached;
                s.queues.recycle_ring += q.recycle_ring;
                s.queues.empty += q.empty;
            }
        }
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        s.ring_full = r(&self.stats.ring_full);
        s.bad_put = r(&self.stats.bad_put);
        s.bad_release = r(&self.stats.bad_release);
        s.reclaimed = r(&self.stats.reclaimed);
        s.dropped_records = r(&self.stats.dropped_records);
        let c = self.counts();
        s.inflight = u64::from(c.posted + c.held());
        s.held_by_user = u64::from(c.held());
        s
    }

    /// Independent audit of where every chunk is; only valid while nothing runs
    /// concurrently.
    ///
    /// Walks every place a free or completed chunk can be: the free list, each queue's
    /// remote-return ring, the given `caches` (pass every live cache of this pool) and, while
    /// bound, the completion ring. Each chunk must be listed at most once, in a container
    /// that matches its state (Free in the free list, a ring or a cache; Completed in the
    /// completion ring), and every Free or Completed chunk must be listed; Posted and User
    /// chunks are in no container (the driver or the user holds them). The per-state tallies
    /// of that walk must then equal the live counters of [`Pool::counts`], which are kept by
    /// the transitions and never by a scan: the two are computed from different data.
    pub fn audit(&self, caches: &[&QueueCache]) -> Result<Counts, AuditError> {
        let live = self.counts();
        let states = self.scan_states();
        let seen = new_storage(self.total as usize, |_| false).map_err(|_| AuditError::Alloc)?;
        let mut m = Marker {
            pool: self,
            seen,
            listed: 0,
            err: None,
        };
        let (set_len, set_bits) = self.free.with(|fl| {
            fl.for_each(|i| m.mark(i, ChunkState::Free));
            (fl.len(), fl.count_bits())
        });
        if set_len != set_bits || self.stats.free_refused.load(Ordering::Relaxed) != 0 {
            return Err(AuditError::FreeList);
        }
        for q in self.queues.iter() {
            q.ring.for_each_quiescent(|i| m.mark(i, ChunkState::Free));
        }
        for c in caches {
            for &i in c.as_slice() {
                m.mark(i, ChunkState::Free);
            }
        }
        let free_listed = m.listed;
        let mut completed_listed = 0;
        if !self.is_unbound() {
            m.listed = 0;
            self.completions
                .for_each_entry_quiescent(|[i, _]| m.mark(i, ChunkState::Completed));
            completed_listed = m.listed;
        }
        if let Some(e) = m.err {
            return Err(e);
        }
        if free_listed != states.free {
            return Err(AuditError::Missing {
                listed: free_listed,
                free: states.free,
            });
        }
        if !self.is_unbound() && completed_listed != states.completed {
            return Err(AuditError::Completions);
        }
        if live != states {
            return Err(AuditError::Counters { live, walk: states });
        }
        Ok(states)
    }
}

/// Scratch state of [`Pool::audit`].
struct Marker<'a> {
    pool: &'a Pool,
    seen: Storage<bool>,
    listed: u32,
    err: Option<AuditError>,
}

impl Marker<'_> {
    /// Records that a container lists `i`, which should be in state `want`.
    fn mark(&mut self, i: u32, want: ChunkState) {
        if self.err.is_some() {
            return;
        }
        self.listed += 1;
        self.err = match (self.seen.get_mut(i as usize), self.pool.chunk(i)) {
            (Some(s), Some(c)) => {
                if *s {
                    Some(AuditError::Duplicate(i))
                } else if c.state() != want {
                    Some(AuditError::NotFree(i))
                } else {
                    *s = true;
                    None
                }
            }
            _ => Some(AuditError::OutOfRange(i)),
        };
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn pool(n: u32) -> Pool {
        Pool::new((0..n).map(|i| u64::from(i) << 12), 12, 1).unwrap()
    }

    #[test]
    fn desc_index_is_exact_division_or_out_of_range() {
        let size = core::mem::size_of::<Chunk>();
        for off in 0..size * 5000 {
            let got = desc_index(off);
            if off % size == 0 {
                assert_eq!(got, off / size);
            } else {
                assert!(got >= 1 << 59, "offset {off} -> {got}");
            }
        }
        // Addresses below the array wrap to huge offsets.
        for back in 1..size * 100 {
            assert!(desc_index(0usize.wrapping_sub(back)) >= 1 << 32, "-{back}");
        }
        let far = size * (u32::MAX as usize);
        assert_eq!(desc_index(far), u32::MAX as usize);
    }

    #[test]
    fn a_chunk_freed_twice_is_refused_and_fails_the_audit() {
        let p = pool(4);
        assert_eq!(p.audit(&[]).map(|c| c.free), Ok(4));
        // Chunk 2 is on the free list already: a second insert (a pool bug) is refused.
        assert!(!p.free_extend(&[2]));
        assert_eq!(p.free.with(|fl| fl.len()), 4);
        assert_eq!(p.audit(&[]), Err(AuditError::FreeList));
    }

    #[test]
    fn header_carries_the_owner_and_is_no_chunk() {
        let mut p = pool(4);
        assert_eq!(p.owner(), 0);
        p.set_owner(0xffff_8880_1234_5000);
        assert_eq!(p.owner(), 0xffff_8880_1234_5000);
        let first = p.chunks().as_ptr() as usize;
        let header = first - core::mem::size_of::<Chunk>();
        assert!(p.chunk_at(header).is_none());
        assert_eq!(p.chunk_at(first).map(|c| c.index), Some(0));
        assert_eq!((p.chunks().len(), p.chunks()[3].index), (4, 3));
    }

    #[test]
    fn layout_of_shared_parts() {
        // Per-queue counters never share a line with the ring other CPUs write.
        assert_eq!(core::mem::align_of::<QueueCounters>(), 64);
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Pool>();
        fn send<T: Send>() {}
        send::<QueueCache>();
        // `struct nmx_devmem_cache` (also const-asserted next to the type).
        assert_eq!(core::mem::size_of::<QueueCache>(), 8 + 4 * CACHE_CAPACITY);
        assert_eq!(core::mem::offset_of!(QueueCache, len), 0);
        assert_eq!(core::mem::offset_of!(QueueCache, slot), 4);
        assert_eq!(core::mem::offset_of!(QueueCache, stack), 8);
    }

    #[test]
    fn cache_stack_bounds() {
        let mut c = QueueCache::new(3);
        assert_eq!((c.slot(), c.len(), c.is_empty()), (3, 0, true));
        assert_eq!(c.pop(), None);
        for i in 0..CACHE_CAPACITY as u32 {
            c.push(i).unwrap();
        }
        assert_eq!(c.len(), CACHE_CAPACITY);
        assert_eq!(c.push(999), Err(999));
        assert_eq!(c.as_slice().len(), CACHE_CAPACITY);
        assert_eq!(c.pop(), Some(CACHE_CAPACITY as u32 - 1));
        assert_eq!(c.len(), CACHE_CAPACITY - 1);
        // A length only a C-side bug could store stays memory safe and reads as full.
        c.len = 1000;
        assert_eq!(c.len(), CACHE_CAPACITY);
        assert_eq!(c.len(), CACHE_CAPACITY);
        assert_eq!(c.push(5), Err(5));
        assert_eq!(c.pop(), Some(CACHE_CAPACITY as u32 - 1));
        assert_eq!(c.len(), CACHE_CAPACITY - 1);
        c.clear();
        assert!(c.is_empty() && c.as_slice().is_empty());
    }

    #[test]
    fn dropped_record_returns_chunk() {
        // The completion ring cannot overflow in correct use; exercise the fallback directly.
        let p = pool(8);
        let mut c = p.new_cache(0).unwrap();
        let i = p.alloc(&mut c).unwrap();
        let ch = p.chunk(i).unwrap();
        ch.complete_owned().unwrap();
        count(&p.stats.completed, 1);
        assert_eq!(p.drop_record(i, ch), Return::new(Dest::Ring));
        assert_eq!(ch.state(), ChunkState::Free);
        assert_eq!(p.stats().dropped_records, 1);
        p.audit(&[&c]).unwrap();
        // Already taken back (by unbind, say): nothing more to do.
        assert_eq!(p.drop_record(i, ch), Return::new(Dest::FreeList));
    }

    #[test]
    fn audit_is_independent_of_the_counters() {
        let p = pool(8);
        let mut c = p.new_cache(0).unwrap();
        let i = p.alloc(&mut c).unwrap();
        p.audit(&[&c]).unwrap();
        // A transition that skips its counter (what a second, hand-kept copy of the state
        // machine would do) is caught by the walk.
        p.chunk(i).unwrap().free_owned().unwrap();
        assert!(matches!(p.audit(&[&c]), Err(AuditError::Missing { .. })));
        let _ = c.push(i);
        assert!(matches!(p.audit(&[&c]), Err(AuditError::Counters { .. })));
        // A chunk listed in two places.
        let _ = c.push(i);
        assert_eq!(p.audit(&[&c]), Err(AuditError::Duplicate(i)));
    }

    #[test]
    fn corrupt_cache_entry_is_dropped_and_counted() {
        let p = pool(8);
        let mut c = p.new_cache(0).unwrap();
        let i = p.alloc(&mut c).unwrap();
        // A bug elsewhere puts a posted chunk into the cache.
        c.push(i).unwrap();
        let j = p.alloc(&mut c).unwrap();
        assert_ne!(i, j);
        assert_eq!(p.stats().bad_put, 1);
    }

    /// Addresses of chunks, as a driver holds them.
    fn addrs(cs: &[&Chunk]) -> Vec<usize> {
        cs.iter().map(|c| *c as *const Chunk as usize).collect()
    }

    #[test]
    fn bulk_poll_round_trip() {
        let p = pool(256);
        let mut c = p.new_cache(0).unwrap();
        for round in 0..4 {
            let mut out = [None; 64];
            let got = p.napi_batch(&mut c).unwrap().alloc_bulk(&mut out, Some);
            assert_eq!(got, 64, "round {round}");
            let cs: Vec<&Chunk> = out.iter().map(|c| c.unwrap()).collect();
            assert!(cs
                .iter()
                .all(|c| c.state() == ChunkState::Posted && c.queue() == 0));
            let mut seen: Vec<u32> = cs.iter().map(|c| c.index).collect();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), 64, "a chunk handed out twice");
            let mut others = 0;
            let drained =
                p.napi_batch(&mut c)
                    .unwrap()
                    .recycle_bulk(&addrs(&cs), |&a| a, |_| others += 1);
            assert!(!drained && others == 0);
            assert!(cs.iter().all(|c| c.state() == ChunkState::Free));
            assert_eq!(c.len(), 64);
        }
        let q = p.queue_stats(0).unwrap();
        assert_eq!((q.alloc_fast + q.alloc_slow, q.recycle_cached), (256, 256));
        p.audit(&[&c]).expect("audit");
    }

    #[test]
    fn bulk_recycle_checks_every_chunk() {
        let p = Pool::new((0..256u32).map(|i| u64::from(i) << 12), 12, 2).unwrap();
        let mut c0 = p.new_cache(0).unwrap();
        let mut c1 = p.new_cache(1).unwrap();
        let mut out = [None; 4];
        assert_eq!(p.napi_batch(&mut c0).unwrap().alloc_bulk(&mut out, Some), 4);
        let mine: Vec<&Chunk> = out.iter().map(|c| c.unwrap()).collect();
        let theirs = p.napi_batch(&mut c1).unwrap().alloc().unwrap();
        let free = p
            .chunks()
            .iter()
            .find(|c| c.state() == ChunkState::Free)
            .unwrap();
        let base = addrs(&mine[..1])[0];
        // Own chunk, another queue's, a free one (double return), a misaligned and a
        // foreign address, then own chunks again after the fast loop broke off.
        let list = [
            base,
            addrs(&[theirs])[0],
            addrs(&[free])[0],
            base + 8,
            0x1000,
            addrs(&mine[1..2])[0],
            addrs(&mine[2..3])[0],
        ];
        let mut others = Vec::new();
        let _ = p
            .napi_batch(&mut c0)
            .unwrap()
            .recycle_bulk(&list, |&a| a, |&a| others.push(a));
        assert_eq!(others, vec![base + 8, 0x1000]);
        assert_eq!(
            p.stats().bad_put,
            1,
            "the double return is refused and counted"
        );
        assert_eq!(
            theirs.state(),
            ChunkState::Free,
            "another queue's chunk goes home"
        );
        assert_eq!(mine[3].state(), ChunkState::Posted);
        assert!(mine[..3].iter().all(|c| c.state() == ChunkState::Free));
        assert!(!c0.as_slice().contains(&theirs.index), "not into our cache");
        p.audit(&[&c0, &c1]).expect("audit");
    }

    #[test]
    fn bulk_alloc_drops_a_corrupt_entry_and_keeps_the_rest() {
        let p = pool(16);
        let mut c = p.new_cache(0).unwrap();
        let mut out = [None; 8];
        assert_eq!(p.napi_batch(&mut c).unwrap().alloc_bulk(&mut out, Some), 8);
        let posted = out[0].unwrap().index;
        let back: Vec<usize> = out[1..]
            .iter()
            .map(|c| c.unwrap() as *const Chunk as usize)
            .collect();
        let _ = p
            .napi_batch(&mut c)
            .unwrap()
            .recycle_bulk(&back, |&a| a, |_| {});
        // A bug elsewhere puts a posted chunk into the middle of the cache.
        let n = c.len();
        c.stack.copy_within(n / 2..n, n / 2 + 1);
        c.stack[n / 2] = posted;
        c.len += 1;
        let mut out = [None; 16];
        let got = p.napi_batch(&mut c).unwrap().alloc_bulk(&mut out, Some);
        assert_eq!(got, 15, "every free chunk, the corrupt entry dropped");
        assert!(out[..got].iter().all(|c| c.unwrap().index != posted));
        assert_eq!(p.stats().bad_put, 1);
    }

    #[test]
    fn free_list_is_never_raided_after_drained() {
        let p = pool(4);
        let mut c = p.new_cache(0).unwrap();
        assert_eq!(p.detach_queue(&mut c).moved, 0);
        assert!(p.unbind());
        // Even a slow path that missed `detached` takes nothing once unbound.
        p.queues[0].detached.store(false, Ordering::Relaxed);
        assert_eq!(p.alloc_slow(&mut c, &p.queues[0]), None);
        assert_eq!(p.alloc(&mut c), None);
        assert_eq!(p.free.with(|fl| fl.len()), 4);
    }
}
