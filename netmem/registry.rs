// SPDX-License-Identifier: GPL-2.0

//! The registry of RX queues and bindings, behind one mutex (process context only: bind,
//! unbind, registration, device and socket events).

use crate::devmem::binding::{fail, BindParams, Binding, Fail, Owner};
use crate::ffi::{self, eopnotsupp, NetDevPtr, RegistryLock};
use crate::rxq::{Rxq, RXQ_F_CPU_COPY};
use core::cell::UnsafeCell;
use kernel::prelude::*;

/// Most RX queues one binding may feed (`NMX_MAX_QUEUES_PER_BINDING`).
pub(crate) const MAX_QUEUES: usize = 16;

struct Registry {
    rxqs: KVec<*mut Rxq>,
    /// Every binding not yet freed: live ones and unbound ones waiting for their chunks.
    bindings: KVec<*mut Binding>,
    next_id: u32,
}

struct Global(UnsafeCell<Registry>);

/// Removes element `i` (order is not kept). The 6.12 `KVec` has no `swap_remove`.
fn swap_remove<T: Copy>(v: &mut KVec<T>, i: usize) {
    let last = v.len() - 1;
    v[i] = v[last];
    // SAFETY: `last < len`, and `T: Copy` has nothing to drop in the cut-off slot.
    unsafe { v.set_len(last) };
}

// SAFETY: The registry is only reached through `with`, which requires the registry mutex.
unsafe impl Sync for Global {}

static REGISTRY: Global = Global(UnsafeCell::new(Registry {
    rxqs: KVec::new(),
    bindings: KVec::new(),
    next_id: 1,
}));

fn with<R>(_lock: &RegistryLock, f: impl FnOnce(&mut Registry) -> R) -> R {
    // SAFETY: The caller holds the registry mutex (the guard proves it) and `f` cannot
    // re-enter `with` with the same guard borrowed mutably elsewhere: one guard per task.
    f(unsafe { &mut *REGISTRY.0.get() })
}

/// Registers a driver's RX queue.
pub(crate) fn register_rxq(rxq: KBox<Rxq>) -> Result<*mut Rxq> {
    let lock = RegistryLock::lock();
    with(&lock, |r| {
        let dup = r.rxqs.iter().any(|&x| {
            // SAFETY: Registered rxqs are alive while in the list (registry lock held).
            let x = unsafe { &*x };
            x.netdev.0 == rxq.netdev.0 && x.queue_id() == rxq.queue_id()
        });
        if dup {
            return Err(EEXIST);
        }
        r.rxqs.reserve(1, GFP_KERNEL)?;
        let p = KBox::into_raw(rxq);
        r.rxqs.push(p, GFP_KERNEL)?;
        Ok(p)
    })
}

/// Unregisters a driver's RX queue: a binding on it detaches (and unmaps: the device is
/// going), then the queue is freed.
pub(crate) fn unregister_rxq(rxq: *mut Rxq) {
    let lock = RegistryLock::lock();
    with(&lock, |r| {
        let Some(pos) = r.rxqs.iter().position(|&x| x == rxq) else {
            pr_warn!("netmem: unregister of an unknown rxq\n");
            return;
        };
        for &b in r.bindings.iter() {
            // SAFETY: Bindings in the list are alive (freed only after leaving it).
            unsafe { (*b).detach_rxq(rxq) };
        }
        swap_remove(&mut r.rxqs, pos);
        // SAFETY: Registered by `register_rxq` from a KBox; now out of the list.
        drop(unsafe { KBox::from_raw(rxq) });
    });
}

/// The device is unregistering: every binding on it releases the device now.
pub(crate) fn netdev_unregister(dev: *mut ffi::NetDevice) {
    let lock = RegistryLock::lock();
    with(&lock, |r| {
        for &b in r.bindings.iter() {
            // SAFETY: As in `unregister_rxq`.
            let b = unsafe { &*b };
            if b.netdev() == dev {
                b.device_gone();
            }
        }
    });
}

/// Binds the dma-buf `fd` to `queues` of `netdev`. Returns the binding id.
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
    let lock = RegistryLock::lock();
    with(&lock, |r| {
        let mut rxqs = [core::ptr::null_mut::<Rxq>(); MAX_QUEUES];
        let of_dev = |x: &*mut Rxq| {
            // SAFETY: Registered rxqs are alive while listed; the registry lock is held.
            unsafe { (**x).netdev.0 == netdev.0 }
        };
        if !r.rxqs.iter().any(of_dev) {
            return Err(fail(eopnotsupp(), c"device driver has no netmem support"));
        }
        for (slot, &qid) in queues.iter().enumerate() {
            if qid >= netdev.real_num_rx_queues() {
                return Err(fail(ERANGE, c"queue id out of range for the device"));
            }
            let found = r.rxqs.iter().copied().find(|x| {
                // SAFETY: As above.
                of_dev(x) && unsafe { (**x).queue_id() } == qid
            });
            let Some(rxq) = found else {
                return Err(fail(
                    eopnotsupp(),
                    c"queue not registered with netmem by its driver",
                ));
            };
            // SAFETY: As above.
            if unsafe { (*rxq).is_bound() } {
                return Err(fail(EEXIST, c"queue already bound to a dma-buf"));
            }
            rxqs[slot] = rxq;
        }
        let rxqs = &rxqs[..queues.len()];
        // SAFETY: As above; all queues of a device share its DMA device and flags.
        let (dma_dev, flags) = unsafe { ((*rxqs[0]).dma_dev, (*rxqs[0]).flags) };
        r.bindings
            .reserve(1, GFP_KERNEL)
            .map_err(|_| fail(ENOMEM, c"out of memory"))?;
        let id = r.next_id;
        let params = BindParams {
            id,
            owner,
            netdev,
            rxqs,
            dma_dev,
            cpu_copy: flags & RXQ_F_CPU_COPY != 0,
            fd,
            chunk_size,
        };
        let b = Binding::create(&params)?;
        r.next_id = r.next_id.wrapping_add(1).max(1);
        b.attach(rxqs);
        let p = KBox::into_raw(b);
        // Cannot fail: reserved above.
        let _ = r.bindings.push(p, GFP_KERNEL);
        Ok(id)
    })
}

/// Finds the live binding `id` and runs `f` on it, under the registry lock.
pub(crate) fn with_binding<R>(id: u32, f: impl FnOnce(&Binding) -> R) -> Option<R> {
    let lock = RegistryLock::lock();
    with(&lock, |r| {
        r.bindings
            .iter()
            .copied()
            .find_map(|b| {
                // SAFETY: Bindings in the list are alive.
                let b = unsafe { &*b };
                (b.id == id && !b.is_unbound()).then_some(b)
            })
            .map(f)
    })
}

/// Runs `f` on every live binding, in id order, under the registry lock.
pub(crate) fn for_each_binding(mut f: impl FnMut(&Binding) -> bool) {
    let lock = RegistryLock::lock();
    with(&lock, |r| {
        for &b in r.bindings.iter() {
            // SAFETY: Bindings in the list are alive.
            let b = unsafe { &*b };
            if !b.is_unbound() && !f(b) {
                break;
            }
        }
    })
}

/// Unbinds `id` if `owner` holds it. ENOENT: no such live binding; EPERM: not the owner.
pub(crate) fn unbind(id: u32, owner: Option<Owner>) -> Result {
    let lock = RegistryLock::lock();
    with(&lock, |r| {
        for &b in r.bindings.iter() {
            // SAFETY: Bindings in the list are alive.
            let b = unsafe { &*b };
            if b.id == id && !b.is_unbound() {
                if owner.is_some_and(|o| o != b.owner) {
                    return Err(EPERM);
                }
                b.unbind();
                return Ok(());
            }
        }
        Err(ENOENT)
    })
}

/// A netlink socket closed: unbind everything it owned.
pub(crate) fn owner_gone(owner: Owner) {
    let lock = RegistryLock::lock();
    with(&lock, |r| {
        for &b in r.bindings.iter() {
            // SAFETY: Bindings in the list are alive.
            let b = unsafe { &*b };
            if b.owner == owner && !b.is_unbound() {
                b.unbind();
            }
        }
    })
}

/// Drops a released binding from the list (its release work).
pub(crate) fn forget_binding(lock: &RegistryLock, b: *mut Binding) {
    with(lock, |r| {
        if let Some(pos) = r.bindings.iter().position(|&x| x == b) {
            swap_remove(&mut r.bindings, pos);
        }
    })
}

/// Module exit: unbind every binding, free the ones whose release is not queued, and
/// free stray rxqs. Notifiers and netlink are already gone; so are all drivers.
pub(crate) fn shutdown() {
    let lock = RegistryLock::lock();
    with(&lock, |r| {
        for &b in r.bindings.iter() {
            // SAFETY: Bindings in the list are alive.
            let b = unsafe { &*b };
            if !b.is_unbound() {
                b.unbind();
            }
        }
        let mut i = 0;
        while i < r.bindings.len() {
            let b = r.bindings[i];
            // SAFETY: As above.
            if unsafe { (*b).release_pending() } {
                // Its work is queued; it removes itself once we drop the lock.
                i += 1;
                continue;
            }
            swap_remove(&mut r.bindings, i);
            // SAFETY: Out of the list and its release work never queued.
            unsafe { crate::devmem::binding::destroy(b) };
        }
        while let Some(&rxq) = r.rxqs.last() {
            pr_warn!("netmem: an rxq was still registered at unload\n");
            let last = r.rxqs.len() - 1;
            swap_remove(&mut r.rxqs, last);
            // SAFETY: Registered from a KBox; the list no longer has it.
            drop(unsafe { KBox::from_raw(rxq) });
        }
    });
}

/// Module exit, last step (queued releases ran): the lists live in a static, so give their
/// memory back before the module goes.
pub(crate) fn free_lists() {
    let lock = RegistryLock::lock();
    with(&lock, |r| {
        r.rxqs = KVec::new();
        r.bindings = KVec::new();
    });
}
