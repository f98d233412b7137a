// SPDX-License-Identifier: GPL-2.0

//! The C API of netmem.ko (`netmem/include/nmx/types.h`), exported by the shim with
//! `EXPORT_SYMBOL_GPL`: queue registration, the devmem side of the call-site helpers,
//! and the in-kernel control calls that the netlink family also uses.

use crate::devmem::binding::{self, BoundQueue, Owner};
use crate::devmem::chunk::Chunk;
use crate::ffi::{self, Device, ExtAck, Net, NetDevPtr, NetDevice};
use crate::registry;
use crate::rxq::Rxq;
use core::ffi::{c_int, c_void};
use kernel::prelude::*;

/// `struct nmx_binding_info`.
#[repr(C)]
#[derive(Default)]
pub(crate) struct BindingInfo {
    pub(crate) id: u32,
    pub(crate) ifindex: u32,
    pub(crate) chunk_size: u32,
    pub(crate) nqueues: u32,
    pub(crate) queues: [u32; registry::MAX_QUEUES],
    pub(crate) dmabuf_size: u64,
    pub(crate) chunks_total: u32,
    pub(crate) chunks_free: u32,
    pub(crate) chunks_posted: u32,
    pub(crate) chunks_completed: u32,
    pub(crate) chunks_user: u32,
    pub(crate) alloc_fast: u64,
    pub(crate) alloc_slow: u64,
    pub(crate) recycle_cached: u64,
    pub(crate) recycle_ring: u64,
    pub(crate) ring_full: u64,
    pub(crate) empty: u64,
    pub(crate) inflight: u64,
    pub(crate) held_by_user: u64,
    pub(crate) bad_put: u64,
}

/// `struct nmx_record`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Record {
    pub(crate) offset: u64,
    pub(crate) len: u32,
    pub(crate) token: u32,
    pub(crate) queue: u32,
}

/// The owner of bindings made through the in-kernel API.
pub(crate) const KERNEL_OWNER: Owner = Owner { net: 0, portid: 0 };

fn err_ptr<T>(e: Error) -> *mut T {
    e.to_errno() as isize as *mut T
}

/// `nmx_rxq_register()`: registers a driver RX queue. Returns the queue or an ERR_PTR.
///
/// # Safety
///
/// `netdev`, `pp` and `dma_dev` must stay valid until `nmx_rxq_unregister()`.
#[no_mangle]
pub unsafe extern "C" fn nmx_rxq_register(
    netdev: *mut NetDevice,
    queue: u32,
    pp: *mut c_void,
    dma_dev: *mut Device,
    flags: u32,
) -> *mut Rxq {
    if netdev.is_null() || pp.is_null() || dma_dev.is_null() {
        return err_ptr(EINVAL);
    }
    let rxq = match KBox::new(
        Rxq::new(NetDevPtr(netdev), queue, pp, dma_dev, flags),
        GFP_KERNEL,
    ) {
        Ok(r) => r,
        Err(_) => return err_ptr(ENOMEM),
    };
    registry::register_rxq(rxq).unwrap_or_else(err_ptr)
}

/// `nmx_rxq_unregister()`: the driver tears the queue down. A dma-buf bound to it is
/// detached and unmapped now (the device is going); chunks still out come home later.
///
/// # Safety
///
/// `rxq` must come from `nmx_rxq_register()` and not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn nmx_rxq_unregister(rxq: *mut Rxq) {
    registry::unregister_rxq(rxq)
}

/// `nmx_devmem_alloc()`: a chunk for a bound queue, or NULL when the pool is empty.
///
/// The slow path of the inline `nmx_alloc()`, which serves cache hits itself: refills the
/// queue's cache (remote returns, then the free list) and takes a chunk from it.
///
/// # Safety
///
/// `q` must be `rxq->devmem` of a registered queue, read and used in its NAPI context.
#[no_mangle]
pub unsafe extern "C" fn nmx_devmem_alloc(q: *mut BoundQueue) -> *mut Chunk {
    // SAFETY: By the function's safety requirement.
    let (q, b) = unsafe { binding::queue_binding(q) };
    b.alloc(q)
}

/// `nmx_devmem_recycle_direct()`: returns a chunk from the NAPI context of its queue.
///
/// The slow path of the inline `nmx_recycle_direct()`, which pushes into a queue's cache
/// itself: spills a full cache, sends the chunk of a detached queue to the free list, and
/// refuses (and counts) a chunk that is not posted.
///
/// # Safety
///
/// `chunk` must be a chunk from `nmx_alloc()` that the caller owns, and the caller must run
/// in the NAPI context of the queue that allocated it.
#[no_mangle]
pub unsafe extern "C" fn nmx_devmem_recycle_direct(chunk: *mut Chunk) {
    // SAFETY: By the function's safety requirement.
    let (c, b) = unsafe { binding::chunk_binding(chunk) };
    b.recycle_direct(c);
}

/// `nmx_devmem_put()`: returns a chunk from any context.
///
/// # Safety
///
/// `chunk` must be a chunk from `nmx_devmem_alloc()` that the caller owns.
#[no_mangle]
pub unsafe extern "C" fn nmx_devmem_put(chunk: *mut Chunk) {
    // SAFETY: By the function's safety requirement.
    let (c, b) = unsafe { binding::chunk_binding(chunk) };
    b.put(c.index);
}

/// `nmx_devmem_rx_complete()`: the device filled `len` bytes at `offset` of the chunk;
/// the binding's owner gets a record and the driver gives the chunk up.
///
/// # Safety
///
/// As for `nmx_devmem_put()`.
#[no_mangle]
pub unsafe extern "C" fn nmx_devmem_rx_complete(chunk: *mut Chunk, offset: u32, len: u32) -> c_int {
    // SAFETY: By the function's safety requirement.
    let (c, b) = unsafe { binding::chunk_binding(chunk) };
    match b.rx_complete(c.index, offset, len) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `nmx_devmem_cpu_write()`: the CPU-copy "DMA" of test devices.
///
/// # Safety
///
/// As for `nmx_devmem_put()`; `data` must point to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn nmx_devmem_cpu_write(
    chunk: *const Chunk,
    offset: u32,
    data: *const u8,
    len: u32,
) -> c_int {
    // SAFETY: By the function's safety requirement.
    let (c, b) = unsafe { binding::chunk_binding(chunk) };
    // SAFETY: `data` points to `len` bytes (function's safety requirement).
    let data = unsafe { core::slice::from_raw_parts(data, len as usize) };
    match b.cpu_write(c.index, offset, data) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `nmx_devmem_chunk_size()`.
///
/// # Safety
///
/// As for `nmx_devmem_put()`.
#[no_mangle]
pub unsafe extern "C" fn nmx_devmem_chunk_size(chunk: *const Chunk) -> u32 {
    // SAFETY: By the function's safety requirement.
    let (_, b) = unsafe { binding::chunk_binding(chunk) };
    b.chunk_size()
}

/// `nmx_bind_dmabuf()`: binds a dma-buf to RX queues of a device, owned by the kernel
/// caller until `nmx_unbind()`. Returns the binding id or a negative errno (with an extack
/// message when `extack` is given).
///
/// # Safety
///
/// `netdev` must be a live device, `queues` must point to `nqueues` ids, `extack` must be
/// NULL or valid; process context, and `fd` is a descriptor of the current task.
#[no_mangle]
pub unsafe extern "C" fn nmx_bind_dmabuf(
    netdev: *mut NetDevice,
    queues: *const u32,
    nqueues: u32,
    fd: c_int,
    chunk_size: u32,
    extack: *mut ExtAck,
) -> c_int {
    if netdev.is_null() || queues.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: By the function's safety requirement.
    let queues = unsafe { core::slice::from_raw_parts(queues, nqueues as usize) };
    match registry::bind(NetDevPtr(netdev), queues, fd, chunk_size, KERNEL_OWNER) {
        Ok(id) => id as c_int,
        Err(f) => {
            ffi::set_extack(extack, f.msg, None);
            f.err.to_errno()
        }
    }
}

/// `nmx_unbind()`: gives up a binding made with `nmx_bind_dmabuf()`.
#[no_mangle]
pub extern "C" fn nmx_unbind(id: u32) -> c_int {
    match registry::unbind(id, Some(KERNEL_OWNER)) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `nmx_binding_info()`.
///
/// # Safety
///
/// `info` must point to a writable `struct nmx_binding_info`.
#[no_mangle]
pub unsafe extern "C" fn nmx_binding_info(id: u32, info: *mut BindingInfo) -> c_int {
    let mut out = BindingInfo::default();
    if registry::with_binding(id, |b| b.info(&mut out)).is_none() {
        return ENOENT.to_errno();
    }
    // SAFETY: By the function's safety requirement.
    unsafe { info.write(out) };
    0
}

/// `nmx_binding_read()`: takes up to `max` records of a kernel-owned binding.
///
/// # Safety
///
/// `records` must point to `max` writable records.
#[no_mangle]
pub unsafe extern "C" fn nmx_binding_read(id: u32, records: *mut Record, max: u32) -> c_int {
    // SAFETY: By the function's safety requirement.
    let out = unsafe { core::slice::from_raw_parts_mut(records, max as usize) };
    match read_records(id, KERNEL_OWNER, out) {
        Ok(n) => n as c_int,
        Err(e) => e.to_errno(),
    }
}

/// `nmx_binding_release()`: gives tokens back. Returns how many were released, or a
/// negative errno: -ENOENT (no such binding: unbound), -EINVAL (a token was not held: a
/// double release or a foreign token; the valid ones are still released).
///
/// # Safety
///
/// `tokens` must point to `n` tokens.
#[no_mangle]
pub unsafe extern "C" fn nmx_binding_release(id: u32, tokens: *const u32, n: u32) -> c_int {
    // SAFETY: By the function's safety requirement.
    let tokens = unsafe { core::slice::from_raw_parts(tokens, n as usize) };
    match release_tokens(id, KERNEL_OWNER, tokens.iter().copied()) {
        Ok((released, None)) => released as c_int,
        Ok((_, Some(_))) => EINVAL.to_errno(),
        Err(e) => e.to_errno(),
    }
}

/// Takes records for `owner` into `out`. ENOENT: no live binding; EPERM: not the owner.
pub(crate) fn read_records(id: u32, owner: Owner, out: &mut [Record]) -> Result<usize> {
    registry::with_binding(id, |b| {
        if b.owner != owner {
            return Err(EPERM);
        }
        let mut n = 0;
        let max = out.len();
        b.read_records(max, |r| {
            out[n] = Record {
                offset: r.offset,
                len: r.len,
                token: r.token,
                queue: b.queue_id(r.queue),
            };
            n += 1;
        });
        Ok(n)
    })
    .unwrap_or(Err(ENOENT))
}

/// Releases tokens for `owner`. Returns the count released and the position of the first
/// token that was not held, if any.
pub(crate) fn release_tokens(
    id: u32,
    owner: Owner,
    tokens: impl Iterator<Item = u32>,
) -> Result<(u32, Option<usize>)> {
    registry::with_binding(id, |b| {
        if b.owner != owner {
            return Err(EPERM);
        }
        let mut released = 0;
        let mut first_bad = None;
        for (i, t) in tokens.enumerate() {
            if b.release(t) {
                released += 1;
            } else if first_bad.is_none() {
                first_bad = Some(i);
            }
        }
        Ok((released, first_bad))
    })
    .unwrap_or(Err(ENOENT))
}

/// Called by the shim's netdevice notifier on `NETDEV_UNREGISTER`.
///
/// # Safety
///
/// `dev` must be the device being unregistered (valid for the call).
#[no_mangle]
pub unsafe extern "C" fn nmx_rs_netdev_unregister(dev: *mut NetDevice) {
    registry::netdev_unregister(dev)
}

/// Called by the shim's netlink notifier on `NETLINK_URELEASE` of a generic netlink socket.
#[no_mangle]
pub extern "C" fn nmx_rs_netlink_release(net: *mut Net, portid: u32) {
    if portid != 0 {
        registry::owner_gone(Owner {
            net: net as usize,
            portid,
        });
    }
}
