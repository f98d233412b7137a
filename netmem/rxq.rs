// SPDX-License-Identifier: GPL-2.0

//! RX queues registered by drivers: what allocation multiplexes on.

use crate::devmem::binding::BoundQueue;
use crate::ffi::{Device, NetDevPtr};
use core::ffi::{c_int, c_void};
use core::mem::offset_of;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};
use kernel::prelude::*;

/// `struct nmx_rxq_ops`.
#[repr(C)]
pub(crate) struct RxqOps {
    restart: Option<unsafe extern "C" fn(rxq: *mut Rxq, priv_: *mut c_void) -> c_int>,
}

/// A registered RX queue. Starts with the fields of C's `struct nmx_rxq` (`pp`, `devmem`),
/// which the inline call-site helpers read; the rest is private.
#[repr(C)]
pub(crate) struct Rxq {
    /// `struct nmx_rxq.pp`: the queue's page_pool.
    pp: AtomicPtr<c_void>,
    /// `struct nmx_rxq.devmem`: the bound queue while a dma-buf feeds this queue.
    devmem: AtomicPtr<BoundQueue>,
    /// `struct nmx_rxq.devmem_refs`: bindings that may have chunks posted on this queue
    /// (attached, or detached while the driver may still hold their chunks). Zero: a poll
    /// may run the bare page_pool calls for every buffer (`nmx_rxq_pages_only()`).
    devmem_refs: AtomicU32,
    /// A binding was attached once: unregistration waits for the releasers that may still
    /// drop a reference ([`Rxq::put_devmem_ref`]).
    ever_bound: AtomicBool,
    pub(crate) netdev: NetDevPtr,
    queue: u32,
    pub(crate) dma_dev: *mut Device,
    ops: *const RxqOps,
    priv_: *mut c_void,
    /// Test devices only (`nmx_testing_rxq_cpu_copy`): the "device" is the CPU.
    cpu_copy: AtomicBool,
}

// `struct nmx_rxq`: the same literals as the `static_assert`s in `<nmx/types.h>`.
const _: () = assert!(offset_of!(Rxq, pp) == 0);
const _: () = assert!(offset_of!(Rxq, devmem) == 8);
const _: () = assert!(offset_of!(Rxq, devmem_refs) == 16);

impl Rxq {
    /// # Safety
    ///
    /// `ops` must be null or point to a `struct nmx_rxq_ops` that, like `priv_`, outlives
    /// the registration; its `restart` must follow `<nmx/types.h>`'s contract.
    pub(crate) unsafe fn new(
        netdev: NetDevPtr,
        queue: u32,
        pp: *mut c_void,
        dma_dev: *mut Device,
        ops: *const RxqOps,
        priv_: *mut c_void,
    ) -> Self {
        Rxq {
            pp: AtomicPtr::new(pp),
            devmem: AtomicPtr::new(core::ptr::null_mut()),
            devmem_refs: AtomicU32::new(0),
            ever_bound: AtomicBool::new(false),
            netdev,
            queue,
            dma_dev,
            ops,
            priv_,
            cpu_copy: AtomicBool::new(false),
        }
    }

    pub(crate) fn queue_id(&self) -> u32 {
        self.queue
    }

    pub(crate) fn is_bound(&self) -> bool {
        !self.devmem.load(Ordering::Relaxed).is_null()
    }

    /// The bound queue, as the data path sees it.
    pub(crate) fn devmem(&self) -> *mut BoundQueue {
        self.devmem.load(Ordering::Acquire)
    }

    pub(crate) fn cpu_copy(&self) -> bool {
        self.cpu_copy.load(Ordering::Relaxed)
    }

    /// Test devices: the CPU plays the device. Refused once the queue is bound.
    pub(crate) fn set_cpu_copy(&self) -> Result {
        if self.is_bound() {
            return Err(EBUSY);
        }
        self.cpu_copy.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// A driver recreated the queue's page_pool.
    pub(crate) fn set_pp(&self, pp: *mut c_void) {
        self.pp.store(pp, Ordering::Release);
    }

    /// The queue's page_pool.
    pub(crate) fn pp(&self) -> *mut c_void {
        self.pp.load(Ordering::Acquire)
    }

    /// Publishes the bound queue: the next `nmx_alloc()` allocates devmem. Takes a devmem
    /// reference first, so that no poll that can see `devmem` runs in pages-only mode.
    pub(crate) fn bind(&self, q: *mut BoundQueue) {
        self.ever_bound.store(true, Ordering::Relaxed);
        self.devmem_refs.fetch_add(1, Ordering::Relaxed);
        // Release: NAPI readers see the queue fully initialised (and the reference).
        self.devmem.store(q, Ordering::Release);
    }

    /// A binding's chunks can no longer be posted on this queue (a restart gave them back,
    /// or the binding is drained): drop the reference [`Rxq::bind`] took.
    pub(crate) fn put_devmem_ref(&self) {
        let old = self.devmem_refs.fetch_sub(1, Ordering::Release);
        debug_assert!(old > 0);
    }

    pub(crate) fn ever_bound(&self) -> bool {
        self.ever_bound.load(Ordering::Acquire)
    }

    /// Back to pages; the caller waits an RCU grace period before reusing the queue's cache.
    pub(crate) fn unbind(&self) {
        self.devmem.store(core::ptr::null_mut(), Ordering::Release);
    }

    /// Runs the driver's restart hook, if it has one: whether it ran. RTNL held by the
    /// caller.
    pub(crate) fn restart(&self) -> Result<bool> {
        if self.ops.is_null() {
            return Ok(false);
        }
        // SAFETY: Non-null `ops` outlive the registration (`new`'s safety requirement).
        let Some(f) = (unsafe { (*self.ops).restart }) else {
            return Ok(false);
        };
        let me = self as *const Rxq as *mut Rxq;
        // SAFETY: The driver's hook, called (through the shim, which only calls it) as
        // `<nmx/types.h>` documents: process context, RTNL held (our caller's contract), with
        // the queue and the driver's `priv`.
        kernel::error::to_result(unsafe {
            crate::ffi::nmx_shim_rxq_restart(f as *const c_void, me.cast(), self.priv_)
        })
        .map(|()| true)
    }
}
