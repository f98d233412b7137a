// SPDX-License-Identifier: GPL-2.0

//! RX queues registered by drivers: what allocation multiplexes on.

use crate::devmem::binding::BoundQueue;
use crate::ffi::{Device, NetDevPtr};
use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, Ordering};

/// A registered RX queue. Starts with the fields of C's `struct nmx_rxq` (`pp`, `devmem`),
/// which the inline call-site helpers read; the rest is private.
#[repr(C)]
pub(crate) struct Rxq {
    /// `struct nmx_rxq.pp`: the queue's page_pool.
    pp: *mut c_void,
    /// `struct nmx_rxq.devmem`: the bound queue while a dma-buf feeds this queue.
    devmem: AtomicPtr<BoundQueue>,
    pub(crate) netdev: NetDevPtr,
    queue: u32,
    pub(crate) dma_dev: *mut Device,
    pub(crate) flags: u32,
}

/// `NMX_RXQ_F_CPU_COPY`: the "device" is the CPU (test NIC), writes go through a vmap.
pub(crate) const RXQ_F_CPU_COPY: u32 = 1;

impl Rxq {
    pub(crate) fn new(
        netdev: NetDevPtr,
        queue: u32,
        pp: *mut c_void,
        dma_dev: *mut Device,
        flags: u32,
    ) -> Self {
        Rxq {
            pp,
            devmem: AtomicPtr::new(core::ptr::null_mut()),
            netdev,
            queue,
            dma_dev,
            flags,
        }
    }

    pub(crate) fn queue_id(&self) -> u32 {
        self.queue
    }

    pub(crate) fn is_bound(&self) -> bool {
        !self.devmem.load(Ordering::Relaxed).is_null()
    }

    /// Publishes the bound queue: the next `nmx_alloc()` in NAPI allocates devmem.
    pub(crate) fn bind(&self, q: *mut BoundQueue) {
        // Release: NAPI readers see the queue fully initialised.
        self.devmem.store(q, Ordering::Release);
    }

    /// Back to pages; the caller waits an RCU grace period before reusing the queue's cache.
    pub(crate) fn unbind(&self) {
        self.devmem.store(core::ptr::null_mut(), Ordering::Relaxed);
    }
}
