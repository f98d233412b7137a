// SPDX-License-Identifier: GPL-2.0

//! Registered RX queues and the binding table.
//!
//! - RX queues: a list behind the registry mutex, taken only by queue registration and by
//!   `bind` (process context, rare). Never on the data path, never for a device or socket
//!   that has no netmem state.
//! - Bindings: an id table (an allocating XArray in the shim: 6.12's kernel crate has no
//!   XArray) that readers walk under RCU. Ids are allocated cyclically and unique while
//!   their binding is in the table; dumps walk it in id order. The table holds one
//!   reference on each binding from publication to release; lookups take their own.
//!   Each binding has its own locks ([`Binding`]).

use crate::devmem::binding::{fail, BindParams, Binding, Fail, Owner};
use crate::ffi::{
    self, eopnotsupp, DmaBuf, DmaBufClaim, NetDevPtr, RcuReadGuard, RegistryLock, Rtnl,
};
use crate::rxq::Rxq;
use core::ops::{Deref, DerefMut};
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};

/// Most RX queues one binding may feed (`NMX_MAX_QUEUES_PER_BINDING`).
pub(crate) const MAX_QUEUES: usize = 16;

pub(crate) struct Registry {
    rxqs: KVec<*mut Rxq>,
}

struct Global(core::cell::UnsafeCell<Registry>);

// SAFETY: The registry is only reached through `RegistryGuard`, which holds the registry
// mutex for as long as it gives access.
unsafe impl Sync for Global {}

static REGISTRY: Global = Global(core::cell::UnsafeCell::new(Registry { rxqs: KVec::new() }));

/// The registry, locked. At most one exists at a time (a second `lock` would block on the
/// mutex), so the `&mut Registry` it hands out is unique.
pub(crate) struct RegistryGuard {
    _lock: RegistryLock,
}

fn lock() -> RegistryGuard {
    RegistryGuard {
        _lock: RegistryLock::lock(),
    }
}

impl Deref for RegistryGuard {
    type Target = Registry;

    fn deref(&self) -> &Registry {
        // SAFETY: The guard holds the registry mutex (see the type documentation).
        unsafe { &*REGISTRY.0.get() }
    }
}

impl DerefMut for RegistryGuard {
    fn deref_mut(&mut self) -> &mut Registry {
        // SAFETY: As in `deref`, and `&mut self` makes this borrow unique.
        unsafe { &mut *REGISTRY.0.get() }
    }
}

/// Removes element `i` (order is not kept). The 6.12 `KVec` has no `swap_remove`.
fn swap_remove<T: Copy>(v: &mut KVec<T>, i: usize) {
    let last = v.len() - 1;
    v[i] = v[last];
    // SAFETY: `last < len`, and `T: Copy` has nothing to drop in the cut-off slot.
    unsafe { v.set_len(last) };
}

impl Registry {
    fn rxq(&self, i: usize) -> &Rxq {
        // SAFETY: Listed rxqs are alive: they leave the list before they are freed, and
        // `&self` borrows the locked registry.
        unsafe { &*self.rxqs[i] }
    }

    fn find(&self, netdev: NetDevPtr, queue: u32) -> Option<&Rxq> {
        (0..self.rxqs.len())
            .map(|i| self.rxq(i))
            .find(|r| r.netdev == netdev && r.queue_id() == queue)
    }
}

/// Registers a driver's RX queue.
pub(crate) fn register_rxq(rxq: KBox<Rxq>) -> Result<*mut Rxq> {
    let mut r = lock();
    if r.find(rxq.netdev, rxq.queue_id()).is_some() {
        return Err(EEXIST);
    }
    r.rxqs.reserve(1, GFP_KERNEL)?;
    let p = KBox::into_raw(rxq);
    r.rxqs.push(p, GFP_KERNEL)?;
    Ok(p)
}

/// Unregisters a driver's RX queue: a binding on it detaches (and unmaps once its last
/// queue is gone: the device is going), then the queue is freed.
pub(crate) fn unregister_rxq(rxq: *mut Rxq) {
    {
        let mut r = lock();
        let Some(pos) = r.rxqs.iter().position(|&x| x == rxq) else {
            pr_warn!("netmem: unregister of an unknown rxq\n");
            return;
        };
        swap_remove(&mut r.rxqs, pos);
    }
    // Out of the list: no new binding can take it. Detach it from the ones that have it
    // (their `ctl` locks are taken outside the registry mutex: a driver's restart hook,
    // which runs under a binding's unbind, may register queues).
    for_each_binding(0, |b| {
        b.detach_rxq(rxq);
        b.forget_rxq(rxq);
        true
    });
    // SAFETY: Still allocated (freed below).
    if unsafe { (*rxq).ever_bound() } {
        // A release may have dropped its devmem reference on the rxq just before we forgot
        // it, inside an RCU read-side section: wait it out.
        ffi::synchronize_rcu();
    }
    // SAFETY: Registered by `register_rxq` from a KBox; now out of the list, detached from
    // every binding and forgotten by them.
    drop(unsafe { KBox::from_raw(rxq) });
}

/// Points a registered queue at a new page_pool (a driver recreated it in a reset).
pub(crate) fn set_page_pool(rxq: &Rxq, pp: *mut core::ffi::c_void) {
    let _r = lock();
    rxq.set_pp(pp);
}

/// The device is unregistering (`removal`) or moving to another netns. Only bindings on
/// it are touched; a device without any takes no netmem lock. RTNL held.
pub(crate) fn netdev_unregister(dev: *mut ffi::NetDevice, removal: bool) {
    for_each_binding(0, |b| {
        if b.netdev() == dev {
            if removal {
                // Unmap while the device still exists.
                b.device_gone();
            } else {
                // The owner's netns lost the device: unbind. The mapping stays until the
                // driver gives its posted chunks back (the device may still DMA into them)
                // or unregisters the queue.
                b.unbind(false);
            }
        }
        true
    });
}

/// Binds the dma-buf `fd` to `queues` of `netdev`. Returns the binding id. Process
/// context; takes RTNL (the drivers' restart hooks run under it).
pub(crate) fn bind(
    netdev: NetDevPtr,
    queues: &[u32],
    fd: i32,
    chunk_size: u32,
    owner: Owner,
) -> Result<u32, Fail> {
    if queues.is_empty() {
        return Err(fail(EINVAL, c"no queue to bind"));
    }
    if queues.len() > MAX_QUEUES {
        return Err(fail(E2BIG, c"too many queues in one binding"));
    }
    for (i, q) in queues.iter().enumerate() {
        if queues[..i].contains(q) {
            return Err(fail(EINVAL, c"queue listed twice"));
        }
    }
    let t0 = kernel::time::Ktime::ktime_get();
    let dmabuf = DmaBuf::get(fd).map_err(|_| fail(EBADF, c"fd is not a dma-buf"))?;
    let _rtnl = Rtnl::lock();
    // Profiles this bind (`nmx_testing_bind_profile()`); dropped before RTNL.
    let profile = crate::devmem::meter::Scope::begin(t0);
    let (b, rxqs) = {
        let r = lock();
        if !(0..r.rxqs.len()).any(|i| r.rxq(i).netdev == netdev) {
            return Err(fail(eopnotsupp(), c"device driver has no netmem support"));
        }
        let mut rxqs: [Option<&Rxq>; MAX_QUEUES] = [None; MAX_QUEUES];
        for (slot, &qid) in queues.iter().enumerate() {
            if qid >= netdev.real_num_rx_queues() {
                return Err(fail(ERANGE, c"queue id out of range for the device"));
            }
            let Some(rxq) = r.find(netdev, qid) else {
                return Err(fail(
                    eopnotsupp(),
                    c"queue not registered with netmem by its driver",
                ));
            };
            if rxq.is_bound() {
                return Err(fail(EEXIST, c"queue already bound to a dma-buf"));
            }
            rxqs[slot] = Some(rxq);
        }
        let mut list: KVec<&Rxq> = KVec::with_capacity(queues.len(), GFP_KERNEL)
            .map_err(|_| fail(ENOMEM, c"out of memory"))?;
        let temp_list = crate::devmem::meter::account_vec(&list, true);
        for rxq in rxqs.iter().flatten() {
            list.push(*rxq, GFP_KERNEL)
                .map_err(|_| fail(ENOMEM, c"out of memory"))?;
        }
        let first = list[0];
        if list
            .iter()
            .any(|x| x.dma_dev != first.dma_dev || x.cpu_copy() != first.cpu_copy())
        {
            return Err(fail(
                EINVAL,
                c"queues of one binding must share one DMA device and mode",
            ));
        }
        let claim = DmaBufClaim::new(&dmabuf).map_err(|e| {
            if e == EBUSY {
                fail(
                    EBUSY,
                    c"dma-buf already bound: one dma-buf feeds one binding",
                )
            } else {
                fail(e, c"out of memory")
            }
        })?;
        let id = ffi::binding_id_reserve().map_err(|e| {
            if e == ENOMEM {
                fail(e, c"out of memory")
            } else {
                fail(e, c"no binding id left")
            }
        })?;
        let params = BindParams {
            id,
            owner,
            netdev,
            rxqs: &list,
            dma_dev: first.dma_dev,
            cpu_copy: first.cpu_copy(),
            dmabuf,
            claim,
            chunk_size,
        };
        let b = match Binding::create(params) {
            Ok(b) => b,
            Err(f) => {
                ffi::binding_id_erase(id);
                return Err(f);
            }
        };
        ffi::binding_publish(id, Arc::into_raw(b.clone()).cast());
        b.attach(&list);
        let mut ptrs = [core::ptr::null_mut::<Rxq>(); MAX_QUEUES];
        for (p, x) in ptrs.iter_mut().zip(list.iter()) {
            *p = *x as *const Rxq as *mut Rxq;
        }
        // `list` goes at the end of this block; nothing is allocated before.
        crate::devmem::meter::release(temp_list);
        (b, ptrs)
    };
    // Restart outside the registry mutex: a driver's restart may re-register its queues.
    for &rxq in rxqs.iter().filter(|r| !r.is_null()) {
        // SAFETY: RTNL is held; rxqs are unregistered under RTNL or after their device was
        // unregistered, which takes RTNL too.
        if let Err(e) = unsafe { (*rxq).restart() } {
            b.unbind(true);
            return Err(fail(
                e,
                c"the driver failed to restart the queue on the dma-buf",
            ));
        }
    }
    profile.done(b.id);
    Ok(b.id)
}

/// The binding `id`, live or draining, with a reference of our own.
pub(crate) fn lookup(id: u32) -> Option<Arc<Binding>> {
    let rcu = RcuReadGuard::new();
    let p: *const Binding = ffi::binding_load(id, &rcu).cast();
    if p.is_null() {
        return None;
    }
    // SAFETY: Published pointers come from `Arc::into_raw`; the table's reference is
    // dropped only an RCU grace period after the entry left the table, and we saw the entry
    // inside a read-side section, so the count is nonzero now.
    Some(unsafe { ArcBorrow::from_raw(p) }.into())
}

/// Takes the binding out of the table (its release) and hands back the table's reference,
/// which the caller drops after an RCU grace period.
pub(crate) fn unpublish(id: u32, b: &Binding) -> Option<Arc<Binding>> {
    let p: *const Binding = ffi::binding_erase_if(id, (b as *const Binding).cast()).cast();
    if p.is_null() {
        return None;
    }
    // SAFETY: The entry was `Arc::into_raw` of this binding (checked by the erase); the
    // table no longer has it, so we own that reference now.
    Some(unsafe { Arc::from_raw(p) })
}

/// Runs `f` on every binding in the table (live and draining) from id `start` on, in id
/// order, until it returns false. `f` may sleep: each binding is held by a reference, not
/// by the RCU section that found it. Returns the id after the last one visited.
pub(crate) fn for_each_binding(start: u32, mut f: impl FnMut(&Arc<Binding>) -> bool) -> u32 {
    let mut next = start;
    loop {
        let b = {
            let rcu = RcuReadGuard::new();
            let (id, p) = ffi::binding_find(next, &rcu);
            if p.is_null() {
                return next;
            }
            next = id.wrapping_add(1);
            // SAFETY: As in `lookup`.
            let b: Arc<Binding> = unsafe { ArcBorrow::from_raw(p.cast::<Binding>()) }.into();
            b
        };
        if !f(&b) {
            return next;
        }
        if next == 0 {
            return 0;
        }
    }
}

/// Unbinds `id` if `owner` holds it. ENOENT: no such live binding; EPERM: not the owner.
/// Process context; takes RTNL.
pub(crate) fn unbind(id: u32, owner: Option<Owner>) -> Result {
    let b = lookup(id).ok_or(ENOENT)?;
    if b.is_unbound() {
        return Err(ENOENT);
    }
    if owner.is_some_and(|o| o != b.owner) {
        return Err(EPERM);
    }
    let _rtnl = Rtnl::lock();
    if b.unbind(true) {
        Ok(())
    } else {
        Err(ENOENT)
    }
}

/// A netlink socket that bound something closed: unbind everything it owned.
pub(crate) fn owner_gone(owner: Owner) {
    let _rtnl = Rtnl::lock();
    for_each_binding(0, |b| {
        if b.owner == owner {
            b.unbind(true);
        }
        true
    });
}

/// Owns the bindings' unbinding at module exit: dropped after netlink and the notifiers
/// (no new requests or events) and before the workqueue (which then runs the releases the
/// unbinds queued).
pub(crate) struct Bindings;

impl Drop for Bindings {
    fn drop(&mut self) {
        for_each_binding(0, |b| {
            b.unbind(false);
            true
        });
    }
}

/// Owns what is left at the very end of module exit: bindings whose chunks a (gone) driver
/// never returned, and stray rxqs.
pub(crate) struct Table;

impl Drop for Table {
    fn drop(&mut self) {
        shutdown_finish();
    }
}

/// Frees what is left, whatever its chunks say (no driver is left to return them: drivers
/// hold a reference on netmem.ko), and stray rxqs.
fn shutdown_finish() {
    for_each_binding(0, |b| {
        if let Some(table_ref) = unpublish(b.id, b) {
            ffi::synchronize_rcu();
            drop(table_ref);
        }
        true
    });
    let mut r = lock();
    while let Some(&rxq) = r.rxqs.last() {
        pr_warn!("netmem: an rxq was still registered at unload\n");
        let last = r.rxqs.len() - 1;
        swap_remove(&mut r.rxqs, last);
        // SAFETY: Registered from a KBox; the list no longer has it.
        drop(unsafe { KBox::from_raw(rxq) });
    }
    // The list lives in a static: give its memory back before the module goes.
    r.rxqs = KVec::new();
}
