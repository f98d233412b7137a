// SPDX-License-Identifier: GPL-2.0

//! A dma-buf bound to RX queues: attach and map it for the NIC's DMA device, carve the
//! mapping into chunks, serve the queues' NAPI paths, and tear down safely.
//!
//! Lifetime rules:
//! - A binding is an [`Arc`]. The registry's id table holds one reference from publication
//!   until the binding is released; control paths (netlink, the in-kernel API) take their
//!   own while they work. The data path holds none: chunks point at their binding by a raw
//!   pointer, and every data-path entry point runs inside an RCU read-side section.
//! - Unbind stops new allocations (the queues are switched back to pages and detached after
//!   an RCU grace period), restarts the queues whose driver can (so posted chunks come home
//!   at once), and reclaims what the user held.
//! - When the last chunk is home after unbind, the pool reports `drained` exactly once,
//!   under its free-list lock. The binding is then *released*: taken out of the id table,
//!   then, after an RCU grace period (every data-path context that returned a chunk has
//!   left pool code by then), the table's reference is dropped. The mapping, the dma-buf and
//!   the static key go with the last reference.
//! - When the device is removed first, the mapping is torn down then, while the device
//!   still exists; chunks that come home later only do bookkeeping. When the device only
//!   moves to another netns, the binding is unbound but keeps its mapping until its chunks
//!   are home (the driver may still have them posted).

use super::chunk::{Chunk, DEVMEM_MAGIC};
use super::layout;
use super::meter::{self, Part};
use super::pool::{Pool, QueueCache, Record, Return, StateError};
use crate::ffi::{
    self, eopnotsupp, BhGuard, DeviceRef, DmaBuf, DmaBufClaim, Mapping, Net, NetDevPtr, NetDevice,
    RcuReadGuard, Vmap,
};
use crate::registry::{self, MAX_QUEUES};
use crate::rxq::Rxq;
use core::cell::UnsafeCell;
use core::ffi::{c_void, CStr};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow, Mutex};
use kernel::time::Ktime;
use kernel::workqueue::{impl_has_work, new_work, Work, WorkItem};
use kernel::{new_mutex, new_spinlock};

/// An error with the message a netlink user reads (extack).
pub(crate) struct Fail {
    pub(crate) err: Error,
    pub(crate) msg: &'static CStr,
}

pub(crate) fn fail(err: Error, msg: &'static CStr) -> Fail {
    Fail { err, msg }
}

/// Who holds a binding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// An in-kernel user of `nmx_bind_dmabuf()`.
    Kernel,
    /// A generic netlink socket, by the address of its per-socket private data: genetlink
    /// frees that only after our destroy hook unbound every binding it owned, so no live
    /// binding can name a freed (and maybe reused) address.
    Socket(usize),
}

/// One RX queue fed by a binding.
pub(crate) struct BoundQueue {
    /// The NAPI-local chunk cache, touched only from the queue's NAPI context (or with its
    /// NAPI disabled), or by the detacher after an RCU grace period.
    cache: UnsafeCell<QueueCache>,
    /// The binding this queue belongs to (set once, before the queue is published).
    binding: AtomicPtr<Binding>,
    pub(crate) slot: u16,
    pub(crate) queue_id: u32,
    /// The driver's queue while attached; cleared on detach, before the grace period that
    /// precedes draining the cache (so null also means "the cache is not ours to use").
    rxq: AtomicPtr<Rxq>,
    /// The rxq holding a devmem reference for this queue ([`Rxq::bind`]) until it is
    /// dropped: by a restart after unbind, by the release (drained), or forgotten by the
    /// rxq's unregistration. Swapped to null by whichever comes first.
    home: AtomicPtr<Rxq>,
}

// SAFETY: Everything but `cache` is atomic or immutable; `cache` follows the NAPI-exclusive
// rule above, which serialises its users.
unsafe impl Sync for BoundQueue {}
// SAFETY: As above.
unsafe impl Send for BoundQueue {}

/// What a binding needs the device for; dropped (unmap, detach) when the device goes.
struct DeviceIo {
    // Field order is drop order: vunmap, unmap + detach, then the device reference.
    vmap: Option<Vmap>,
    _mapping: Mapping,
    _dev: DeviceRef,
}

/// Binding states, as binding-get reports them (`NMX_BINDING_*`).
pub(crate) const STATE_BOUND: u32 = 0;
pub(crate) const STATE_DRAINING: u32 = 1;

/// A dma-buf bound to one or more RX queues of a device.
#[pin_data(PinnedDrop)]
pub(crate) struct Binding {
    pub(crate) id: u32,
    pub(crate) owner: Owner,
    net: usize,
    /// 0 once the device left.
    ifindex: AtomicU32,
    netdev: AtomicPtr<NetDevice>,
    chunk_size: u32,
    dmabuf_size: u64,
    /// Set by unbind (owner gone); the binding only waits for its chunks then.
    unbound: AtomicBool,
    /// Set by the one path that releases the binding.
    released: AtomicBool,
    pool: Pool,
    queues: KVVec<BoundQueue>,
    /// Serialises the control operations of this binding (record reads, unbind, device
    /// events); never taken on the data path.
    #[pin]
    ctl: Mutex<()>,
    /// Device I/O, taken away when the device is removed. A `SpinLock` of the kernel crate,
    /// always taken with softirqs disabled ([`BhGuard`]): the test NIC's CPU-copy "DMA"
    /// reaches it from NAPI.
    #[pin]
    io: kernel::sync::SpinLock<Option<DeviceIo>>,
    _dmabuf: DmaBuf,
    /// Given up after the mapping (`io`) and the dma-buf reference are gone.
    _claim: DmaBufClaim,
    _live: LiveKey,
    #[pin]
    release_work: Work<Binding>,
}

impl_has_work! {
    impl HasWork<Self> for Binding { self.release_work }
}

impl WorkItem for Binding {
    type Pointer = Arc<Binding>;

    fn run(this: Arc<Binding>) {
        this.release();
    }
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

/// Everything needed to create a binding, checked by the registry.
pub(crate) struct BindParams<'a> {
    pub(crate) id: u32,
    pub(crate) owner: Owner,
    pub(crate) netdev: NetDevPtr,
    pub(crate) rxqs: &'a [&'a Rxq],
    pub(crate) dma_dev: *mut ffi::Device,
    pub(crate) cpu_copy: bool,
    pub(crate) dmabuf: DmaBuf,
    pub(crate) claim: DmaBufClaim,
    pub(crate) chunk_size: u32,
}

impl Binding {
    /// Maps the dma-buf and builds the binding; the queues are not switched yet
    /// ([`Binding::attach`]).
    pub(crate) fn create(p: BindParams<'_>) -> Result<Arc<Binding>, Fail> {
        let chunk_shift =
            layout::chunk_shift(u64::from(p.chunk_size)).map_err(|e| fail(EINVAL, e.message()))?;
        // SAFETY: The registry holds the rxqs registered, and a registered DMA device
        // outlives its rxqs.
        let dev = unsafe { DeviceRef::get(p.dma_dev) }
            .ok_or_else(|| fail(eopnotsupp(), c"device has no DMA device"))?;
        if !dev.has_dma_mask() {
            return Err(fail(
                eopnotsupp(),
                c"device has no DMA mask: it cannot DMA into a dma-buf",
            ));
        }
        let dmabuf = p.dmabuf;
        let dmabuf_size = dmabuf.size();
        if dmabuf_size == 0 {
            return Err(fail(EINVAL, c"dma-buf is empty"));
        }
        // The bind profile (tests, benchmark): attach + map is what any importer pays; the
        // segment walk is the least any importer does with the mapping.
        let t = Ktime::ktime_get();
        let mapping = dmabuf
            .attach_map(&dev)
            .map_err(|e| fail(e, c"cannot attach and map the dma-buf for the device"))?;
        let t = meter::part_done(Part::AttachMap, t);
        // The walk writes netmem's segment list directly: nothing left to copy.
        let (segs, nsegs) = mapping.segments().map_err(|e| fail(e, c"out of memory"))?;
        let t = meter::part_done(Part::SgWalk, t);
        let temp_segs = meter::account_vec(&segs, true);
        let t = meter::part_done(Part::Copy, t);
        // Validates the layout once; yields every chunk's DMA address, straight into the pool.
        let chunks = layout::chunks(&segs[..nsegs], u64::from(p.chunk_size))
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
        drop(segs);
        meter::release(temp_segs);
        let t = meter::part_done(Part::Pool, t);
        let mut queues = KVVec::with_capacity(p.rxqs.len(), GFP_KERNEL).map_err(|_| nomem())?;
        meter::account_vec(&queues, false);
        for (slot, rxq) in p.rxqs.iter().enumerate() {
            let cache = pool.new_cache(slot as u16).map_err(|_| nomem())?;
            let q = BoundQueue {
                cache: UnsafeCell::new(cache),
                binding: AtomicPtr::new(core::ptr::null_mut()),
                slot: slot as u16,
                queue_id: rxq.queue_id(),
                rxq: AtomicPtr::new(core::ptr::null_mut()),
                home: AtomicPtr::new(core::ptr::null_mut()),
            };
            queues.push(q, GFP_KERNEL).map_err(|_| nomem())?;
        }
        let io = Some(DeviceIo {
            vmap,
            _mapping: mapping,
            _dev: dev,
        });
        let b = Arc::pin_init(
            pin_init!(&this in Binding {
                id: p.id,
                owner: p.owner,
                net: p.netdev.net() as usize,
                ifindex: AtomicU32::new(p.netdev.ifindex()),
                netdev: AtomicPtr::new(p.netdev.as_ptr()),
                chunk_size: p.chunk_size,
                dmabuf_size,
                unbound: AtomicBool::new(false),
                released: AtomicBool::new(false),
                // The pool's header points back here, for `chunk_binding`.
                pool: {
                    let mut pool = pool;
                    pool.set_owner(this.as_ptr() as u64);
                    pool
                },
                queues,
                ctl <- new_mutex!((), "nmx_binding_ctl"),
                io <- new_spinlock!(io, "nmx_binding_io"),
                _dmabuf: dmabuf,
                _claim: p.claim,
                _live: LiveKey::get(),
                release_work <- new_work!("nmx_binding_release"),
            }),
            GFP_KERNEL,
        )
        .map_err(|_| nomem())?;
        let me = &*b as *const Binding as *mut Binding;
        meter::account_arc(&b);
        for q in b.queues.iter() {
            q.binding.store(me, Ordering::Release);
        }
        meter::part_done(Part::Finish, t);
        Ok(b)
    }

    /// Switches the queues to this binding: new allocations come from devmem from now on.
    /// Registry lock held; `rxqs` are the ones given to [`Binding::create`], in slot order.
    pub(crate) fn attach(&self, rxqs: &[&Rxq]) {
        for (q, rxq) in self.queues.iter().zip(rxqs.iter()) {
            let p = *rxq as *const Rxq as *mut Rxq;
            q.rxq.store(p, Ordering::Relaxed);
            q.home.store(p, Ordering::Relaxed);
            rxq.bind(q as *const BoundQueue as *mut BoundQueue);
        }
    }

    /// Drops queue `q`'s devmem reference on its rxq, if nobody did yet: none of our chunks
    /// can be posted there any more.
    fn put_home(&self, q: &BoundQueue) {
        let _rcu = RcuReadGuard::new();
        let rxq = q.home.swap(core::ptr::null_mut(), Ordering::AcqRel);
        if !rxq.is_null() {
            // SAFETY: A non-null `home` is a registered rxq: unregistration swaps it to null
            // (`forget_rxq`) and waits an RCU grace period before freeing the rxq, and we
            // took it inside an RCU read-side section.
            unsafe { (*rxq).put_devmem_ref() };
        }
    }

    /// `rxq` is being unregistered: forget it (its driver holds no chunk any more).
    pub(crate) fn forget_rxq(&self, rxq: *mut Rxq) {
        for q in self.queues.iter() {
            let _ = q.home.compare_exchange(
                rxq,
                core::ptr::null_mut(),
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }

    pub(crate) fn is_unbound(&self) -> bool {
        self.unbound.load(Ordering::Acquire)
    }

    pub(crate) fn state(&self) -> u32 {
        if self.is_unbound() {
            STATE_DRAINING
        } else {
            STATE_BOUND
        }
    }

    pub(crate) fn netdev(&self) -> *mut NetDevice {
        self.netdev.load(Ordering::Relaxed)
    }

    /// First half of detaching the queues for which `which` holds: the rxqs go back to
    /// pages and the queues are marked detached. Returns the rxqs it switched, by slot. The
    /// caller waits an RCU grace period, then calls [`Binding::drain_detached`]. `ctl` held.
    fn switch_to_pages(&self, which: impl Fn(&BoundQueue) -> bool) -> [*mut Rxq; MAX_QUEUES] {
        let mut mine = [core::ptr::null_mut::<Rxq>(); MAX_QUEUES];
        for q in self.queues.iter().filter(|q| which(q)) {
            let rxq = q.rxq.swap(core::ptr::null_mut(), Ordering::AcqRel);
            if !rxq.is_null() {
                // SAFETY: A still attached rxq is registered: unregistration detaches it from
                // every binding (under `ctl`) before freeing it.
                unsafe { (*rxq).unbind() };
                self.pool.mark_detached(q.slot);
                mine[usize::from(q.slot)] = rxq;
            }
        }
        mine
    }

    /// Second half: after the grace period, empties the switched queues' caches and rings
    /// into the free list. `ctl` held.
    fn drain_detached(&self, mine: &[*mut Rxq; MAX_QUEUES]) {
        for q in self
            .queues
            .iter()
            .filter(|q| !mine[usize::from(q.slot)].is_null())
        {
            // SAFETY: The queue is detached and a grace period passed: NAPI contexts that
            // could hold the cache are over, and new ones see a null `rxq->devmem` and a
            // null `rxq` in the queue, so nothing else touches the cache.
            let cache = unsafe { &mut *q.cache.get() };
            let d = self.pool.detach_queue(cache);
            self.after_return_sleepable(d.drained);
        }
    }

    /// Detaches the queues for which `which` holds, without restarting them. `ctl` held.
    fn detach_queues(&self, which: impl Fn(&BoundQueue) -> bool) {
        let mine = self.switch_to_pages(which);
        if mine.iter().any(|r| !r.is_null()) {
            ffi::synchronize_rcu();
            self.drain_detached(&mine);
        }
    }

    /// Unbind: the owner gives the binding up. Process context. With `restart` the caller
    /// holds RTNL and the drivers' restart hooks run, outside `ctl` (a restart may
    /// unregister and register queues), so the chunks they had posted come home before this
    /// returns. Returns false if it was unbound already.
    pub(crate) fn unbind(&self, restart: bool) -> bool {
        let mine = {
            let _ctl = self.ctl.lock();
            if self.unbound.swap(true, Ordering::AcqRel) {
                return false;
            }
            self.switch_to_pages(|_| true)
        };
        if mine.iter().any(|r| !r.is_null()) {
            // No NAPI allocates from or recycles into these caches past this point.
            ffi::synchronize_rcu();
            if restart {
                for (q, &rxq) in self.queues.iter().zip(mine.iter()) {
                    if rxq.is_null() {
                        continue;
                    }
                    // SAFETY: RTNL is held (caller); rxqs are unregistered under RTNL or after
                    // their device was unregistered, which waits for RTNL too.
                    match unsafe { (*rxq).restart() } {
                        // Every chunk it had posted came back: a pure-page queue again.
                        Ok(true) => self.put_home(q),
                        // No hook: its chunks come home lazily.
                        Ok(false) => {}
                        Err(e) => pr_warn!(
                            "netmem: binding {}: queue restart after unbind failed ({:?}); its chunks come home lazily\n",
                            self.id,
                            e
                        ),
                    }
                }
            }
        }
        let _ctl = self.ctl.lock();
        self.drain_detached(&mine);
        let drained = self.pool.unbind();
        self.after_return_sleepable(drained);
        true
    }

    /// The device is removed: detach its queues and release the mapping now, while the
    /// device exists. Process context (RTNL held by the notifier).
    pub(crate) fn device_gone(&self) {
        let _ctl = self.ctl.lock();
        self.detach_queues(|_| true);
        self.ifindex.store(0, Ordering::Relaxed);
        self.netdev.store(core::ptr::null_mut(), Ordering::Relaxed);
        let io = {
            let _bh = BhGuard::new();
            let taken = self.io.lock().take();
            taken
        };
        // Unmapped and detached here, outside the lock: process context.
        drop(io);
    }

    /// Detaches one queue (its driver unregisters it). Process context.
    pub(crate) fn detach_rxq(&self, rxq: *mut Rxq) {
        let last = {
            let _ctl = self.ctl.lock();
            if !self
                .queues
                .iter()
                .any(|q| q.rxq.load(Ordering::Relaxed) == rxq)
            {
                return;
            }
            self.detach_queues(|q| q.rxq.load(Ordering::Relaxed) == rxq);
            self.queues
                .iter()
                .all(|q| q.rxq.load(Ordering::Relaxed).is_null())
        };
        if last {
            // The last queue of the device is gone: so is our use of the device.
            self.device_gone();
        }
    }

    /// A return reported `drained` in a context that may sleep: release now.
    fn after_return_sleepable(&self, drained: bool) {
        if drained {
            self.release();
        }
    }

    /// A return reported `drained` on the data path (any context): the release sleeps, so
    /// it runs on netmem's workqueue. Caller: inside an RCU read-side section.
    fn after_return(&self, drained: bool) {
        if drained {
            // SAFETY: `self` lives in an `Arc` whose id-table reference is dropped only by
            // `release`, which this report starts: the count is nonzero for this call.
            let me: Arc<Binding> = unsafe { ArcBorrow::from_raw(self as *const Binding) }.into();
            let _ = ffi::netmem_wq().enqueue(me);
        }
    }

    /// Takes the binding out of the id table and drops the table's reference after an RCU
    /// grace period. Once per binding; process context.
    fn release(&self) {
        if self.released.swap(true, Ordering::AcqRel) {
            return;
        }
        // Every chunk is home: none is posted on any queue.
        for q in self.queues.iter() {
            self.put_home(q);
        }
        if let Some(table_ref) = registry::unpublish(self.id, self) {
            // Every data-path context that returned a chunk of ours (and so may still be in
            // pool code) is inside an RCU read-side section: wait them out.
            ffi::synchronize_rcu();
            drop(table_ref);
        }
    }

    // Data-path entry points (any context; all inside an RCU read-side section).

    /// Allocates a chunk for queue `q`. Caller: the queue's NAPI context (or NAPI
    /// disabled), inside an RCU read-side section, `q` read from an attached rxq.
    pub(crate) fn alloc(&self, q: &BoundQueue, _rcu: &RcuReadGuard) -> *mut super::chunk::Chunk {
        // SAFETY: NAPI context of the queue (caller contract), the cache's only user while
        // the queue is attached; `q` was read from `rxq->devmem` inside `_rcu`, and the
        // detacher clears that pointer and waits an RCU grace period before it touches the
        // cache.
        let cache = unsafe { &mut *q.cache.get() };
        match self.pool.alloc(cache) {
            Some(i) => self.chunk_ptr(i),
            None => core::ptr::null_mut(),
        }
    }

    /// Allocates up to `out.len()` chunks for queue `q`, one NAPI poll's worth; returns how
    /// many.
    ///
    /// # Safety
    ///
    /// The caller runs in the NAPI context of the rxq `q` is attached to (or with its NAPI
    /// disabled), inside the RCU read-side section `_rcu` in which it read `q` from that
    /// rxq's `devmem`: nothing else uses `q`'s cache meanwhile.
    pub(crate) unsafe fn alloc_bulk(
        &self,
        q: &BoundQueue,
        out: &mut [*mut c_void],
        _rcu: &RcuReadGuard,
    ) -> usize {
        // SAFETY: The cache's only user (the function's safety requirement).
        let cache = unsafe { &mut *q.cache.get() };
        let Some(mut batch) = self.pool.napi_batch(cache) else {
            return 0;
        };
        // The descriptor's C type is mutable; C only reads `dma` and `magic`.
        batch.alloc_bulk(out, |c| (c as *const Chunk).cast_mut().cast())
    }

    /// Returns `bufs` (chunks or pages) of `rxq`, to which queue `q` of this binding is
    /// attached.
    ///
    /// # Safety
    ///
    /// As for [`Binding::alloc_bulk`], with `q` read from `rxq`; and every buffer is a page
    /// of `rxq`'s page_pool or a devmem chunk, owned by the caller.
    pub(crate) unsafe fn recycle_bulk(
        &self,
        rxq: &Rxq,
        q: &BoundQueue,
        bufs: &[*mut c_void],
        rcu: &RcuReadGuard,
    ) {
        // SAFETY: The cache's only user (the function's safety requirement).
        let cache = unsafe { &mut *q.cache.get() };
        let Some(mut batch) = self.pool.napi_batch(cache) else {
            return;
        };
        let drained = batch.recycle_bulk(
            bufs,
            |&b| b as usize,
            |&buf| {
                // SAFETY: A driver's buffer is a page or a chunk (`recycle_bulk`'s contract,
                // passed on by the caller).
                if unsafe { is_chunk(buf) } {
                    // Another binding's chunk (the queue was rebound meanwhile).
                    // SAFETY: A chunk the caller owns, inside `rcu`.
                    let (c, b) = unsafe { chunk_binding(buf.cast(), rcu) };
                    b.put(c.index, rcu);
                } else {
                    // SAFETY: A page of this queue's pool, owned by the caller, in its NAPI.
                    unsafe { ffi::page_recycle_direct(rxq.pp(), buf) };
                }
            },
        );
        drop(batch);
        self.after_return(drained);
    }

    /// Recycles chunk `index` from the NAPI context of `rxq`, its queue.
    pub(crate) fn recycle_direct(&self, rxq: &Rxq, index: u32, slot: u16, _rcu: &RcuReadGuard) {
        let q = self.queues.get(usize::from(slot));
        let ret = match q {
            Some(q) if core::ptr::eq(q.rxq.load(Ordering::Acquire), rxq) => {
                // SAFETY: As in `alloc`: the queue is still attached to the caller's rxq
                // (the detacher clears `rxq` before its grace period), whose NAPI context we
                // run in, and we are inside an RCU read-side section.
                let cache = unsafe { &mut *q.cache.get() };
                self.pool.recycle_direct(cache, index)
            }
            // Detached, or not this rxq's chunk: never touch a cache; the pool routes it.
            _ => self.pool.put(index),
        };
        self.finish(ret);
    }

    /// Returns a chunk from any context.
    #[inline]
    pub(crate) fn put(&self, index: u32, _rcu: &RcuReadGuard) {
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
    pub(crate) fn rx_complete(
        &self,
        index: u32,
        offset: u32,
        len: u32,
        rcu: &RcuReadGuard,
    ) -> Result {
        if offset
            .checked_add(len)
            .map_or(true, |end| end > self.chunk_size)
        {
            // A driver bug: keep the chunk safe, back to the pool.
            self.put(index, rcu);
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
            return Err(ffi::emsgsize());
        }
        let at = (index as usize) * (self.chunk_size as usize) + offset as usize;
        let _bh = BhGuard::new();
        let io = self.io.lock();
        match &*io {
            Some(DeviceIo { vmap: Some(v), .. }) => v.write(at, data),
            Some(_) => Err(eopnotsupp()),
            None => Err(ENODEV),
        }
    }

    #[inline]
    fn chunk_ptr(&self, index: u32) -> *mut super::chunk::Chunk {
        self.pool
            .chunk(index)
            // The descriptor's C type is mutable; C only reads `dma` and `magic`.
            .map_or(core::ptr::null_mut(), |c| {
                (c as *const super::chunk::Chunk).cast_mut()
            })
    }

    pub(crate) fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    // Control paths (process context).

    /// Hands up to `max` records to `f` (the owner reads them). Serialised per binding.
    pub(crate) fn read_records(&self, max: usize, f: impl FnMut(Record)) -> Result<usize> {
        let _ctl = self.ctl.lock();
        if self.is_unbound() {
            return Err(ENOENT);
        }
        let out = self.pool.read_records(max, f);
        self.after_return_sleepable(out.drained);
        Ok(out.records)
    }

    /// Takes back records whose reply could not be delivered.
    pub(crate) fn unread(&self, records: &[Record]) {
        let _ctl = self.ctl.lock();
        let drained = self.pool.unread(records);
        self.after_return_sleepable(drained);
    }

    /// Gives a user token back; false if it was not held (double release, foreign token).
    pub(crate) fn release_token(&self, token: u32) -> bool {
        // Lock-free; an RCU section covers the pool past a `drained` this may report.
        let _rcu = RcuReadGuard::new();
        match self.pool.release(token) {
            Ok(ret) => {
                self.after_return(ret.drained);
                true
            }
            Err(_) => false,
        }
    }

    /// Fills `info` for binding-get. O(queues): the chunk counts are live counters.
    pub(crate) fn info(&self, info: &mut crate::api::BindingInfo) {
        let counts = self.pool.counts();
        let s = self.pool.stats();
        info.id = self.id;
        info.state = self.state();
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
        info.alloc_fast = s.queues.alloc_fast;
        info.alloc_slow = s.queues.alloc_slow;
        info.recycle_cached = s.queues.recycle_cached;
        info.recycle_ring = s.queues.recycle_ring;
        info.ring_full = s.ring_full;
        info.empty = s.queues.empty;
        info.inflight = u64::from(counts.posted + counts.held());
        info.held_by_user = u64::from(counts.held());
        info.bad_put = s.bad_put;
    }

    /// The independent audit ([`Pool::audit`]). Only valid while nothing touches the
    /// binding (tests).
    pub(crate) fn audit(&self) -> Result {
        let _ctl = self.ctl.lock();
        let mut caches: KVec<&QueueCache> = KVec::new();
        for q in self.queues.iter() {
            // SAFETY: Test-only, documented as requiring a quiet binding: no NAPI runs on
            // these caches while the audit reads them.
            caches.push(unsafe { &*q.cache.get() }, GFP_KERNEL)?;
        }
        match self.pool.audit(&caches) {
            Ok(_) => Ok(()),
            Err(e) => {
                pr_err!("netmem: audit of binding {} failed: {:?}\n", self.id, e);
                Err(EIO)
            }
        }
    }

    /// Whether `net` may see this binding (dumps are per netns).
    pub(crate) fn visible_in(&self, net: *mut Net) -> bool {
        self.net == net as usize
    }

    /// The RX queue id of a queue slot (for records).
    pub(crate) fn queue_id(&self, slot: u16) -> u32 {
        self.queues
            .get(slot as usize)
            .map_or(u32::MAX, |q| q.queue_id)
    }
}

fn nomem() -> Fail {
    fail(ENOMEM, c"out of memory")
}

/// Whether a driver's buffer is a devmem chunk (else a page_pool page).
///
/// # Safety
///
/// `buf` must point to a `struct page` or a [`Chunk`]; both keep an initialised word at
/// offset 8 (`pp_magic`, `magic`), which is all this reads.
#[inline]
pub(crate) unsafe fn is_chunk(buf: *const c_void) -> bool {
    // SAFETY: By the function's safety requirement.
    let magic = unsafe { core::ptr::addr_of!((*buf.cast::<Chunk>()).magic).read() };
    magic == DEVMEM_MAGIC
}

/// Resolves a chunk handed back by a driver to its binding.
///
/// # Safety
///
/// `chunk` must be a chunk netmem handed out (it carries `DEVMEM_MAGIC`) that the caller
/// owns (posted to it and not returned yet), and the caller must be inside an RCU read-side
/// section (`_rcu`) for as long as it uses the result: the binding is freed only after a
/// grace period that follows the return of its last chunk.
#[inline]
pub(crate) unsafe fn chunk_binding<'a>(
    chunk: *const super::chunk::Chunk,
    _rcu: &'a RcuReadGuard,
) -> (&'a super::chunk::Chunk, &'a Binding) {
    // SAFETY: By the function's safety requirement.
    let c = unsafe { &*chunk };
    // SAFETY: A chunk netmem handed out is element `index + 1` of its pool's descriptor
    // array, whose element 0 is the header (`Pool::chunks`, `Chunk::header`): the pointer
    // stays inside that live allocation.
    let header = unsafe { chunk.sub(c.index as usize + 1) };
    // SAFETY: `header` points to the initialised header (above); its `dma` was set to the
    // binding before the binding was shared (`Pool::set_owner` in `Binding::create`), and
    // is never written again.
    let owner = unsafe { core::ptr::addr_of!((*header).dma).read() };
    // SAFETY: The binding is alive while the chunk is not home, and for a grace period
    // after (see above).
    let b = unsafe { &*(owner as usize as *const Binding) };
    (c, b)
}

/// Resolves `rxq->devmem` to its queue and binding.
///
/// # Safety
///
/// `q` must be a non-null `devmem` pointer of a registered rxq, read inside the RCU
/// read-side section `_rcu` (unbind clears it and waits a grace period before releasing).
#[inline]
pub(crate) unsafe fn queue_binding<'a>(
    q: *const BoundQueue,
    _rcu: &'a RcuReadGuard,
) -> (&'a BoundQueue, &'a Binding) {
    // SAFETY: Attached queues live inside their binding, alive while attached and for a
    // grace period after detach (by the function's safety requirement).
    let q = unsafe { &*q };
    // SAFETY: Set at creation, before the queue was published.
    let b = unsafe { &*q.binding.load(Ordering::Acquire) };
    (q, b)
}

#[pinned_drop]
impl PinnedDrop for Binding {
    fn drop(self: Pin<&mut Self>) {
        let c = self.pool.counts();
        if c.free != c.total {
            pr_warn!(
                "netmem: binding {} freed with {} chunks out\n",
                self.id,
                c.total - c.free
            );
        }
    }
}
