// SPDX-License-Identifier: GPL-2.0

//! A dma-buf bound to RX queues: attach and map it for the NIC's DMA device, carve the
//! mapping into chunks, serve the queues' NAPI fast path, and tear down safely.
//!
//! Lifetime rules:
//! - A binding lives while its owner holds it or any chunk is in flight. Unbind stops new
//!   allocations (the queues are detached after an RCU grace period) and reclaims what the
//!   user held; the memory and the dma-buf go when the pool reports `drained`, from
//!   netmem's workqueue.
//! - When the device goes away first, the mapping is torn down then, while the device still
//!   exists; chunks that come home later only do bookkeeping.

use super::chunk::{Chunk, ChunkState};
use super::layout::{self, Segment};
use super::pool::{Pool, QueueCache, Return, StateError, CACHE_CAPACITY};
use crate::ffi::{
    self, emsgsize, eopnotsupp, DeviceRef, DmaBuf, Mapping, Net, NetDevPtr, Vmap, Work,
};
use crate::registry::MAX_QUEUES;
use crate::rxq::Rxq;
use core::cell::UnsafeCell;
use core::ffi::{c_void, CStr};
use core::mem::{offset_of, size_of};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use kernel::prelude::*;

/// An error with the message a netlink user reads (extack).
pub(crate) struct Fail {
    pub(crate) err: Error,
    pub(crate) msg: &'static CStr,
}

pub(crate) fn fail(err: Error, msg: &'static CStr) -> Fail {
    Fail { err, msg }
}

/// Who holds a binding: a netlink socket, or the kernel (portid 0, in-kernel users).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Owner {
    pub(crate) net: usize,
    pub(crate) portid: u32,
}

/// One RX queue fed by a binding.
///
/// Starts with `struct nmx_devmem_queue` (`<nmx/types.h>`): the fields up to `cache` are
/// what the inline call-site helpers use for the NAPI fast path of `nmx_alloc()` and
/// `nmx_recycle_direct()`, in C. The layout is checked below against the same literals as
/// the C `static_assert`s.
#[repr(C)]
pub(crate) struct BoundQueue {
    /// `chunks`: the pool's descriptors (stable for the binding's life). C writes only the
    /// `state` and `queue` of chunks it pops from or pushes to `cache`.
    chunks: *const Chunk,
    /// `alloc_fast`: written by C in the NAPI context only (plain increments); read here.
    alloc_fast: AtomicU64,
    /// `recycle_cached`: as `alloc_fast`.
    recycle_cached: AtomicU64,
    /// `recycle_limit`: the inline recycle pushes into `cache` only below this fill level:
    /// [`CACHE_CAPACITY`] while attached, 0 once the queue is being detached (stored with
    /// the pool's `mark_detached`, before the RCU grace period that precedes draining
    /// `cache`). So 0 means detached, for the Rust slow path too.
    recycle_limit: AtomicU32,
    /// `slot`: the queue slot in the binding and its pool.
    slot: u16,
    _pad: u16,
    /// `cache`: the NAPI-local chunk cache (`struct nmx_devmem_cache`), touched only from the
    /// queue's NAPI context (BH disabled), in C or here, or by the detacher after an RCU
    /// grace period.
    cache: UnsafeCell<QueueCache>,
    // Private to Rust from here on.
    binding: AtomicPtr<Binding>,
    pub(crate) queue_id: u32,
    /// The driver's queue while attached; cleared on detach (registry lock).
    rxq: AtomicPtr<Rxq>,
}

// SAFETY: Everything but `chunks` and `cache` is atomic; `chunks` points to the pool's
// descriptors (`Sync`: immutable but for atomic fields), is set before the queue is
// published and never changes; `cache` follows the NAPI-exclusive rule above, which
// serialises its users.
unsafe impl Sync for BoundQueue {}
// SAFETY: As above.
unsafe impl Send for BoundQueue {}

// `struct nmx_devmem_queue`, `struct nmx_devmem_cache`, `struct nmx_devmem_binding` and the
// chunk states: the same literals as the `static_assert`s in `<nmx/types.h>`.
const _: () = assert!(offset_of!(BoundQueue, chunks) == 0);
const _: () = assert!(offset_of!(BoundQueue, alloc_fast) == 8);
const _: () = assert!(offset_of!(BoundQueue, recycle_cached) == 16);
const _: () = assert!(offset_of!(BoundQueue, recycle_limit) == 24);
const _: () = assert!(offset_of!(BoundQueue, slot) == 28);
const _: () = assert!(offset_of!(BoundQueue, cache) == 32);
const _: () = assert!(size_of::<UnsafeCell<QueueCache>>() == 520);
const _: () = assert!(offset_of!(BoundQueue, binding) >= 552);
const _: () = assert!(CACHE_CAPACITY == 128);
const _: () = assert!(MAX_QUEUES == 16);
const _: () = assert!(offset_of!(Binding, queue_ptrs) == 0);
const _: () = assert!(size_of::<[AtomicPtr<BoundQueue>; MAX_QUEUES]>() == 128);
const _: () = assert!(ChunkState::Free as u16 == 0);
const _: () = assert!(ChunkState::Posted as u16 == 1);
const _: () = assert!(size_of::<Chunk>() == 32);

/// What a binding needs the device for; dropped (unmap, detach) when the device goes.
struct DeviceIo {
    // Field order is drop order: vunmap, unmap + detach, then the device reference.
    vmap: Option<Vmap>,
    _mapping: Mapping,
    _dev: DeviceRef,
}

/// A dma-buf bound to one or more RX queues of a device.
///
/// Starts with `struct nmx_devmem_binding` (`<nmx/types.h>`), which chunks' `owner` points
/// at: the inline recycle finds a chunk's queue as `queue_ptrs[chunk.queue]`.
#[repr(C)]
pub(crate) struct Binding {
    /// `queues`: `&queues[slot]` for each slot, null past the last; set before any chunk is
    /// handed out, constant afterwards.
    queue_ptrs: [AtomicPtr<BoundQueue>; MAX_QUEUES],
    pub(crate) id: u32,
    pub(crate) owner: Owner,
    pub(crate) net: usize,
    /// 0 once the device left.
    ifindex: AtomicU32,
    netdev: AtomicPtr<ffi::NetDevice>,
    chunk_size: u32,
    dmabuf_size: u64,
    /// Set by unbind (owner gone); the binding only waits for its chunks then.
    unbound: AtomicBool,
    pool: Pool,
    queues: KVVec<BoundQueue>,
    // Field order is drop order: device I/O before the dma-buf reference it uses.
    io: super::platform::Lock<Option<DeviceIo>>,
    _dmabuf: DmaBuf,
    _live: LiveKey,
    release: Option<Work>,
}

/// One reference on the `nmx_devmem_live` static key, held by each binding.
struct LiveKey;

impl LiveKey {
    fn get() -> Self {
        ffi::devmem_live_inc();
        LiveKey
    }
}

impl Drop for LiveKey {
    fn drop(&mut self) {
        ffi::devmem_live_dec();
    }
}

/// Everything needed to create a binding, checked by the caller under the registry lock.
pub(crate) struct BindParams<'a> {
    pub(crate) id: u32,
    pub(crate) owner: Owner,
    pub(crate) netdev: NetDevPtr,
    pub(crate) rxqs: &'a [*mut Rxq],
    pub(crate) dma_dev: *mut ffi::Device,
    pub(crate) cpu_copy: bool,
    pub(crate) fd: i32,
    pub(crate) chunk_size: u32,
}

impl Binding {
    /// Binds the dma-buf behind `p.fd`; the queues are not switched yet ([`Binding::attach`]).
    pub(crate) fn create(p: &BindParams<'_>) -> Result<KBox<Binding>, Fail> {
        let chunk_shift =
            layout::chunk_shift(u64::from(p.chunk_size)).map_err(|e| fail(EINVAL, e.message()))?;
        // SAFETY: The registered DMA device outlives its rxqs, which the caller holds under
        // the registry lock.
        let dev = unsafe { DeviceRef::get(p.dma_dev) }
            .ok_or_else(|| fail(eopnotsupp(), c"device has no DMA device"))?;
        if !dev.has_dma_mask() {
            return Err(fail(
                eopnotsupp(),
                c"device has no DMA mask: it cannot DMA into a dma-buf",
            ));
        }
        let dmabuf = DmaBuf::get(p.fd).map_err(|_| fail(EBADF, c"fd is not a dma-buf"))?;
        let dmabuf_size = dmabuf.size();
        if dmabuf_size == 0 {
            return Err(fail(EINVAL, c"dma-buf is empty"));
        }
        let mapping = dmabuf
            .attach_map(&dev)
            .map_err(|e| fail(e, c"cannot attach and map the dma-buf for the device"))?;
        let (dma, len, nsegs) = mapping.segments().map_err(|e| fail(e, c"out of memory"))?;
        let mut segs = KVVec::with_capacity(nsegs, GFP_KERNEL).map_err(|_| nomem())?;
        for (d, l) in dma[..nsegs].iter().zip(len[..nsegs].iter()) {
            segs.push(Segment { dma: *d, len: *l }, GFP_KERNEL)
                .map_err(|_| nomem())?;
        }
        // Validates the layout once; yields every chunk's DMA address, straight into the pool.
        let chunks = layout::chunks(&segs, u64::from(p.chunk_size))
            .map_err(|e| fail(EINVAL, e.message()))?;
        if (chunks.len() as u64) << chunk_shift != dmabuf_size {
            return Err(fail(
                EINVAL,
                c"dma-buf size is not a multiple of the chunk size",
            ));
        }
        let vmap = if p.cpu_copy {
            Some(
                dmabuf
                    .vmap()
                    .map_err(|e| fail(e, c"cannot vmap the dma-buf for CPU copy"))?,
            )
        } else {
            None
        };
        let nq = p.rxqs.len() as u16;
        let pool = Pool::new(chunks, chunk_shift, nq).map_err(|_| nomem())?;
        let mut queues = KVVec::with_capacity(p.rxqs.len(), GFP_KERNEL).map_err(|_| nomem())?;
        for (slot, rxq) in p.rxqs.iter().enumerate() {
            // SAFETY: The caller holds the registry lock, so registered rxqs stay alive.
            let queue_id = unsafe { (**rxq).queue_id() };
            let cache = pool.new_cache(slot as u16).map_err(|_| nomem())?;
            let q = BoundQueue {
                chunks: pool.chunks().as_ptr(),
                alloc_fast: AtomicU64::new(0),
                recycle_cached: AtomicU64::new(0),
                recycle_limit: AtomicU32::new(CACHE_CAPACITY as u32),
                slot: slot as u16,
                _pad: 0,
                cache: UnsafeCell::new(cache),
                binding: AtomicPtr::new(core::ptr::null_mut()),
                queue_id,
                rxq: AtomicPtr::new(core::ptr::null_mut()),
            };
            queues.push(q, GFP_KERNEL).map_err(|_| nomem())?;
        }
        let io = super::platform::Lock::new(Some(DeviceIo {
            vmap,
            _mapping: mapping,
            _dev: dev,
        }))
        .map_err(|_| nomem())?;
        let mut b = KBox::new(
            Binding {
                queue_ptrs: core::array::from_fn(|_| AtomicPtr::new(core::ptr::null_mut())),
                id: p.id,
                owner: p.owner,
                net: p.netdev.net() as usize,
                ifindex: AtomicU32::new(p.netdev.ifindex()),
                netdev: AtomicPtr::new(p.netdev.0),
                chunk_size: p.chunk_size,
                dmabuf_size,
                unbound: AtomicBool::new(false),
                pool,
                queues,
                io,
                _dmabuf: dmabuf,
                _live: LiveKey::get(),
                release: None,
            },
            GFP_KERNEL,
        )
        .map_err(|_| nomem())?;
        let me: *mut Binding = &mut *b;
        // SAFETY: `me` is the binding's final address; the work runs at most once, when the
        // pool reports drained, and frees it ([`release_work`]).
        b.release = Some(unsafe { Work::new(release_work, me.cast()) }.ok_or_else(nomem)?);
        for c in b.pool.chunks() {
            c.set_owner(me as usize);
        }
        for (q, ptr) in b.queues.iter().zip(b.queue_ptrs.iter()) {
            q.binding.store(me, Ordering::Relaxed);
            // `queues` is never resized: the element addresses are final.
            ptr.store(q as *const BoundQueue as *mut BoundQueue, Ordering::Relaxed);
        }
        Ok(b)
    }

    /// Switches the queues to this binding: new allocations come from devmem from now on.
    /// Registry lock held; `rxqs` are the ones given to [`Binding::create`].
    pub(crate) fn attach(&self, rxqs: &[*mut Rxq]) {
        for (q, rxq) in self.queues.iter().zip(rxqs.iter()) {
            q.rxq.store(*rxq, Ordering::Relaxed);
            // SAFETY: Registry lock held: the rxq is registered, hence alive.
            unsafe { (**rxq).bind(q as *const BoundQueue as *mut BoundQueue) };
        }
    }

    pub(crate) fn is_unbound(&self) -> bool {
        self.unbound.load(Ordering::Relaxed)
    }

    pub(crate) fn netdev(&self) -> *mut ffi::NetDevice {
        self.netdev.load(Ordering::Relaxed)
    }

    /// Detaches the queues for which `which` holds: the rxqs stop allocating from us after
    /// an RCU grace period, then their caches and return rings go to the free list.
    /// Registry lock held.
    pub(crate) fn detach_queues(&self, which: impl Fn(&BoundQueue) -> bool) {
        // The slots this call detaches: the `rxq` pointers it clears no longer tell.
        let mut mine = [false; crate::registry::MAX_QUEUES];
        for q in self.queues.iter().filter(|q| which(q)) {
            let rxq = q.rxq.swap(core::ptr::null_mut(), Ordering::Relaxed);
            if !rxq.is_null() {
                // SAFETY: Registry lock held: a still attached rxq is registered, so alive.
                unsafe { (*rxq).unbind() };
                // The inline recycle's view first, then the pool's (its fence orders both
                // before the grace period's start); NAPI contexts that still saw 0 are over
                // once `synchronize_rcu_bh` returns.
                q.recycle_limit.store(0, Ordering::Relaxed);
                self.pool.mark_detached(q.slot);
                mine[usize::from(q.slot)] = true;
            }
        }
        if !mine.contains(&true) {
            return;
        }
        // No NAPI runs an allocation or a direct recycle on these queues past this point.
        ffi::synchronize_rcu_bh();
        for q in self.queues.iter().filter(|q| mine[usize::from(q.slot)]) {
            // SAFETY: The queue is detached and a grace period passed: NAPI contexts (BH
            // sections) that could hold the cache are over, and new ones see a null
            // `rxq->devmem` and `recycle_limit` 0, so neither C nor Rust touches the cache.
            let cache = unsafe { &mut *q.cache.get() };
            let d = self.pool.detach_queue(cache);
            self.after_return(d.drained);
        }
    }

    /// Unbind: the owner gives the binding up. Registry lock held.
    pub(crate) fn unbind(&self) {
        self.unbound.store(true, Ordering::Relaxed);
        self.detach_queues(|_| true);
        let drained = self.pool.unbind();
        self.after_return(drained);
    }

    /// The device goes away: detach its queues and release the mapping now, while the
    /// device exists. Registry lock held.
    pub(crate) fn device_gone(&self) {
        self.detach_queues(|_| true);
        self.ifindex.store(0, Ordering::Relaxed);
        self.netdev.store(core::ptr::null_mut(), Ordering::Relaxed);
        let io = self.io.with(|io| io.take());
        drop(io);
    }

    /// Detaches one queue (its driver unregisters it). Registry lock held.
    pub(crate) fn detach_rxq(&self, rxq: *mut Rxq) {
        self.detach_queues(|q| q.rxq.load(Ordering::Relaxed) == rxq);
        if self
            .queues
            .iter()
            .all(|q| q.rxq.load(Ordering::Relaxed).is_null())
        {
            // The last queue of the device is gone: so is our use of the device.
            self.device_gone();
        }
    }

    /// Queues the release once the pool says every chunk is home after unbind.
    #[inline]
    fn after_return(&self, drained: bool) {
        if drained {
            if let Some(w) = &self.release {
                // After this call the work may free `self`: touch nothing afterwards.
                w.queue();
            }
        }
    }

    // NAPI slow paths, reached from the exported `nmx_devmem_*` entry points when the
    // inline C fast path (`<nmx/helpers.h>`) cannot serve the call.

    /// Allocates a chunk for queue `q` (the inline path found its cache empty: refill).
    /// Caller: the queue's NAPI context.
    #[inline]
    pub(crate) fn alloc(&self, q: &BoundQueue) -> *mut Chunk {
        // SAFETY: NAPI context of the queue (caller contract), the cache's only user while
        // the queue is attached; `rxq->devmem` is cleared before detach and an RCU grace
        // period separates any NAPI still here from the detacher.
        let cache = unsafe { &mut *q.cache.get() };
        match self.pool.alloc(cache) {
            Some(i) => self.chunk_ptr(i),
            None => core::ptr::null_mut(),
        }
    }

    /// Recycles chunk `c` from the NAPI context of the queue that allocated it (the inline
    /// path found the cache full, the queue detached or the chunk not posted).
    #[inline]
    pub(crate) fn recycle_direct(&self, c: &Chunk) {
        let ret = match self.queues.get(usize::from(c.queue())) {
            Some(q) if q.recycle_limit.load(Ordering::Relaxed) != 0 => {
                // SAFETY: As in `alloc`: the queue is not detached (whoever detaches it
                // zeroes `recycle_limit` before the grace period that precedes draining the
                // cache, so a NAPI context that still reads nonzero started before the grace
                // period ended), and we run in its NAPI context.
                let cache = unsafe { &mut *q.cache.get() };
                self.pool.recycle_direct(cache, c.index)
            }
            // Detached: never touch the cache; the pool sends the chunk to its free list.
            _ => self.pool.put(c.index),
        };
        self.finish(ret);
    }

    /// Returns a chunk from any context.
    pub(crate) fn put(&self, index: u32) {
        let ret = self.pool.put(index);
        self.finish(ret);
    }

    #[inline]
    fn finish(&self, ret: core::result::Result<Return, StateError>) {
        // A state violation (double put) is refused and counted by the pool (bad-put).
        if let Ok(r) = ret {
            self.after_return(r.drained);
        }
    }

    /// A received chunk: record it for the owner.
    pub(crate) fn rx_complete(&self, index: u32, offset: u32, len: u32) -> Result {
        if offset
            .checked_add(len)
            .map_or(true, |end| end > self.chunk_size)
        {
            // A driver bug: keep the chunk safe, back to the pool.
            self.put(index);
            return Err(EINVAL);
        }
        match self.pool.complete(index, offset, len) {
            Ok(ret) => {
                self.after_return(ret.drained);
                Ok(())
            }
            Err(_) => Err(EINVAL),
        }
    }

    /// CPU copy into chunk `index` (the test NIC's "DMA").
    pub(crate) fn cpu_write(&self, index: u32, offset: u32, data: &[u8]) -> Result {
        let end = (offset as usize).checked_add(data.len()).ok_or(EINVAL)?;
        if end > self.chunk_size as usize {
            return Err(emsgsize());
        }
        let at = (index as usize) * (self.chunk_size as usize) + offset as usize;
        self.io.with(|io| match io {
            Some(DeviceIo { vmap: Some(v), .. }) => v.write(at, data),
            Some(_) => Err(eopnotsupp()),
            None => Err(ENODEV),
        })
    }

    #[inline]
    fn chunk_ptr(&self, index: u32) -> *mut Chunk {
        self.pool
            .chunk(index)
            // The descriptor's C type is mutable: C writes only its atomic `state` and
            // `queue` (the inline fast path), which `&Chunk` allows too.
            .map_or(core::ptr::null_mut(), |c| (c as *const Chunk).cast_mut())
    }

    pub(crate) fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Hands up to `max` records to `f` (the owner reads them).
    pub(crate) fn read_records(&self, max: usize, f: impl FnMut(super::pool::Record)) -> usize {
        let out = self.pool.read_records(max, f);
        self.after_return(out.drained);
        out.records
    }

    /// Fills `info` for binding-get.
    pub(crate) fn info(&self, info: &mut crate::api::BindingInfo) {
        let counts = self.pool.counts();
        let s = self.pool.stats();
        info.id = self.id;
        info.ifindex = self.ifindex.load(Ordering::Relaxed);
        info.chunk_size = self.chunk_size;
        info.nqueues = self.queues.len() as u32;
        for (dst, q) in info.queues.iter_mut().zip(self.queues.iter()) {
            *dst = q.queue_id;
        }
        info.dmabuf_size = self.dmabuf_size;
        info.chunks_total = counts.total;
        info.chunks_free = counts.free;
        info.chunks_posted = counts.posted;
        info.chunks_completed = counts.completed;
        info.chunks_user = counts.user;
        // The inline C fast path counts in the queue heads, the Rust paths in the pool.
        let (mut alloc_fast, mut recycle_cached) = (s.queues.alloc_fast, s.queues.recycle_cached);
        for q in self.queues.iter() {
            alloc_fast += q.alloc_fast.load(Ordering::Relaxed);
            recycle_cached += q.recycle_cached.load(Ordering::Relaxed);
        }
        info.alloc_fast = alloc_fast;
        info.alloc_slow = s.queues.alloc_slow;
        info.recycle_cached = recycle_cached;
        info.recycle_ring = s.queues.recycle_ring;
        info.ring_full = s.ring_full;
        info.empty = s.queues.empty;
        info.inflight = s.inflight;
        info.held_by_user = s.held_by_user;
        info.bad_put = s.bad_put;
    }

    /// Whether `net` may see this binding (dumps are per netns).
    pub(crate) fn visible_in(&self, net: *mut Net) -> bool {
        self.net == net as usize
    }
}

fn nomem() -> Fail {
    fail(ENOMEM, c"out of memory")
}

/// Resolves a chunk handed back by a driver to its binding.
///
/// # Safety
///
/// `chunk` must be a chunk netmem handed out (it carries `DEVMEM_MAGIC`) and not yet freed;
/// its binding outlives every chunk that is not home.
#[inline]
pub(crate) unsafe fn chunk_binding<'a>(chunk: *const Chunk) -> (&'a Chunk, &'a Binding) {
    // SAFETY: By the function's safety requirement.
    let c = unsafe { &*chunk };
    // SAFETY: `owner` was set to the binding at bind time; the binding is alive while the
    // chunk is not home (it is in the caller's hands).
    let b = unsafe { &*(c.owner() as *const Binding) };
    (c, b)
}

/// Resolves `rxq->devmem` to its queue and binding.
///
/// # Safety
///
/// `q` must be the `devmem` pointer of an attached rxq, read in its NAPI context.
#[inline]
pub(crate) unsafe fn queue_binding<'a>(q: *const BoundQueue) -> (&'a BoundQueue, &'a Binding) {
    // SAFETY: Attached queues live inside their binding, alive while attached.
    let q = unsafe { &*q };
    // SAFETY: Set at creation, before the queue was published.
    let b = unsafe { &*q.binding.load(Ordering::Relaxed) };
    (q, b)
}

/// Frees a binding whose chunks are all home after unbind (netmem's workqueue).
extern "C" fn release_work(arg: *mut c_void) {
    let b: *mut Binding = arg.cast();
    {
        let lock = ffi::RegistryLock::lock();
        crate::registry::forget_binding(&lock, b);
    }
    // SAFETY: `arg` is the KBox'ed binding set at creation; `drained` fired exactly once, so
    // this runs once, and no chunk (hence no other user) is left. The registry dropped it.
    drop(unsafe { KBox::from_raw(b) });
}

/// Frees a binding at module exit, whatever its chunks say (no driver is left to return
/// them: drivers hold a reference on netmem.ko).
///
/// # Safety
///
/// `b` must be a binding removed from the registry whose release work never got queued.
pub(crate) unsafe fn destroy(b: *mut Binding) {
    // SAFETY: By the function's safety requirement nobody else owns it.
    let b = unsafe { KBox::from_raw(b) };
    let c = b.pool.counts();
    if c.free != c.total {
        pr_warn!(
            "netmem: binding {} freed at unload with {} chunks out\n",
            b.id,
            c.total - c.free
        );
    }
    drop(b);
}

impl Binding {
    /// Whether the pool reported `drained` (its release work is queued or done).
    pub(crate) fn release_pending(&self) -> bool {
        self.pool.drained_reported()
    }
}

impl Binding {
    /// The RX queue id of a queue slot (for records).
    pub(crate) fn queue_id(&self, slot: u16) -> u32 {
        self.queues
            .get(slot as usize)
            .map_or(u32::MAX, |q| q.queue_id)
    }

    /// Gives a user token back; false if it was not held (double release, foreign token).
    pub(crate) fn release(&self, token: u32) -> bool {
        match self.pool.release(token) {
            Ok(ret) => {
                self.after_return(ret.drained);
                true
            }
            Err(_) => false,
        }
    }
}
