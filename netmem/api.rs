// SPDX-License-Identifier: GPL-2.0

//! The C API of netmem.ko (`netmem/include/nmx/types.h`), exported by the shim with
//! `EXPORT_SYMBOL_GPL`: queue registration, the devmem side of the call-site helpers,
//! and the in-kernel control calls that the netlink family also uses.

use crate::devmem::binding::{self, Owner};
use crate::devmem::chunk::Chunk;
use crate::devmem::meter;
use crate::devmem::pool::Record as PoolRecord;
use crate::ffi::{self, Device, ExtAck, NetDevPtr, NetDevice, RcuReadGuard, SockPriv};
use crate::registry;
use crate::rxq::{Rxq, RxqOps};
use core::ffi::{c_int, c_void};
use kernel::prelude::*;

/// `struct nmx_binding_info`.
#[repr(C)]
#[derive(Default)]
pub(crate) struct BindingInfo {
    pub(crate) id: u32,
    pub(crate) state: u32,
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
pub(crate) const KERNEL_OWNER: Owner = Owner::Kernel;

fn err_ptr<T>(e: Error) -> *mut T {
    e.to_errno() as isize as *mut T
}

/// A slice from a C pointer and length; a NULL pointer is an empty slice only when `n` is 0.
///
/// # Safety
///
/// A non-null `p` must point to `n` readable `T`s that stay valid and unmodified for `'a`.
unsafe fn c_slice<'a, T>(p: *const T, n: u32) -> Result<&'a [T]> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(EINVAL);
    }
    // SAFETY: Non-null, `n` elements (the function's safety requirement).
    Ok(unsafe { core::slice::from_raw_parts(p, n as usize) })
}

/// `nmx_rxq_register()`: registers a driver RX queue. Returns the queue or an ERR_PTR.
///
/// # Safety
///
/// `netdev`, `pp`, `dma_dev`, `ops` (may be NULL) and `priv_` must stay valid until
/// `nmx_rxq_unregister()`.
#[no_mangle]
pub unsafe extern "C" fn nmx_rxq_register(
    netdev: *mut NetDevice,
    queue: u32,
    pp: *mut c_void,
    dma_dev: *mut Device,
    ops: *const RxqOps,
    priv_: *mut c_void,
) -> *mut Rxq {
    if netdev.is_null() || pp.is_null() || dma_dev.is_null() {
        return err_ptr(EINVAL);
    }
    // SAFETY: The driver keeps `netdev` alive while its queue is registered.
    let netdev = unsafe { NetDevPtr::new(netdev) };
    // SAFETY: By the function's safety requirement.
    let rxq = unsafe { Rxq::new(netdev, queue, pp, dma_dev, ops, priv_) };
    let rxq = match KBox::new(rxq, GFP_KERNEL) {
        Ok(r) => r,
        Err(_) => return err_ptr(ENOMEM),
    };
    registry::register_rxq(rxq).unwrap_or_else(err_ptr)
}

/// `nmx_rxq_unregister()`: the driver tears the queue down. A dma-buf bound to it is
/// detached now (and unmapped with its device's last queue); chunks still out come home
/// later.
///
/// # Safety
///
/// `rxq` must come from `nmx_rxq_register()` and not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn nmx_rxq_unregister(rxq: *mut Rxq) {
    registry::unregister_rxq(rxq)
}

/// `nmx_rxq_set_page_pool()`: the driver recreated the queue's page_pool.
///
/// # Safety
///
/// `rxq` must be registered and `pp` valid until unregistration or the next call.
#[no_mangle]
pub unsafe extern "C" fn nmx_rxq_set_page_pool(rxq: *mut Rxq, pp: *mut c_void) {
    // SAFETY: Registered, by the function's safety requirement.
    registry::set_page_pool(unsafe { &*rxq }, pp)
}

/// `nmx_devmem_alloc()`: a chunk for a bound queue, or NULL when the pool is empty or the
/// queue went back to pages.
///
/// # Safety
///
/// `rxq` must be registered; NAPI context of the queue, or its NAPI disabled.
#[no_mangle]
pub unsafe extern "C" fn nmx_devmem_alloc(rxq: *mut Rxq) -> *mut Chunk {
    let rcu = RcuReadGuard::new();
    // SAFETY: Registered (the function's safety requirement).
    let q = unsafe { (*rxq).devmem() };
    if q.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: Read from a registered rxq inside `rcu`.
    let (q, b) = unsafe { binding::queue_binding(q, &rcu) };
    b.alloc(q, &rcu)
}

/// `nmx_devmem_alloc_bulk()`: up to `n` chunks for a bound queue; returns how many.
///
/// # Safety
///
/// `rxq` must be registered and `bufs` point to `n` writable slots; NAPI context of the
/// queue, or its NAPI disabled.
#[no_mangle]
pub unsafe extern "C" fn nmx_devmem_alloc_bulk(
    rxq: *mut Rxq,
    bufs: *mut *mut c_void,
    n: u32,
) -> u32 {
    if bufs.is_null() || n == 0 {
        return 0;
    }
    let rcu = RcuReadGuard::new();
    // SAFETY: Registered (the function's safety requirement).
    let q = unsafe { (*rxq).devmem() };
    if q.is_null() {
        return 0;
    }
    // SAFETY: Read from a registered rxq inside `rcu`.
    let (q, b) = unsafe { binding::queue_binding(q, &rcu) };
    // SAFETY: `n` writable slots (the function's safety requirement).
    let out = unsafe { core::slice::from_raw_parts_mut(bufs, n as usize) };
    // SAFETY: NAPI context of the queue (the function's safety requirement), `q` read
    // from it inside `rcu`. At most `n`.
    (unsafe { b.alloc_bulk(q, out, &rcu) }) as u32
}

/// `nmx_devmem_recycle_bulk()`: returns `n` buffers (chunks or pages) of a queue from its
/// NAPI context.
///
/// # Safety
///
/// `rxq` must be registered, `bufs` point to `n` buffers allocated on it (devmem chunks or
/// pages of its page_pool) that the caller owns, and the caller must run in the queue's
/// NAPI context (or with its NAPI disabled).
#[no_mangle]
pub unsafe extern "C" fn nmx_devmem_recycle_bulk(rxq: *mut Rxq, bufs: *const *mut c_void, n: u32) {
    if bufs.is_null() || n == 0 {
        return;
    }
    // SAFETY: `n` buffers (the function's safety requirement).
    let bufs = unsafe { core::slice::from_raw_parts(bufs, n as usize) };
    // SAFETY: Registered.
    let rxq = unsafe { &*rxq };
    let rcu = RcuReadGuard::new();
    let q = rxq.devmem();
    if !q.is_null() {
        // SAFETY: Read from a registered rxq inside `rcu`.
        let (q, b) = unsafe { binding::queue_binding(q, &rcu) };
        // SAFETY: NAPI context of the queue, `q` read from it inside `rcu`, buffers of it
        // that the caller owns (the function's safety requirement).
        unsafe { b.recycle_bulk(rxq, q, bufs, &rcu) };
        return;
    }
    // Back to pages meanwhile: one buffer at a time, as the single-buffer calls do.
    for &buf in bufs {
        // SAFETY: A page or a chunk (the function's safety requirement).
        if unsafe { binding::is_chunk(buf) } {
            // SAFETY: A chunk the caller owns, inside `rcu`.
            let (c, b) = unsafe { binding::chunk_binding(buf.cast(), &rcu) };
            b.recycle_direct(rxq, c.index, c.queue(), &rcu);
        } else {
            // SAFETY: A page of this queue's pool, owned by the caller, in its NAPI.
            unsafe { crate::ffi::page_recycle_direct(rxq.pp(), buf) };
        }
    }
}

/// `nmx_devmem_recycle_direct()`: returns a chunk from the NAPI context of its queue.
///
/// # Safety
///
/// `rxq` must be registered, `chunk` a chunk from `nmx_alloc()` on it that the caller owns,
/// and the caller must run in the queue's NAPI context (or with its NAPI disabled).
#[no_mangle]
pub unsafe extern "C" fn nmx_devmem_recycle_direct(rxq: *mut Rxq, chunk: *mut Chunk) {
    let rcu = RcuReadGuard::new();
    // SAFETY: By the function's safety requirement, inside `rcu`.
    let (c, b) = unsafe { binding::chunk_binding(chunk, &rcu) };
    // SAFETY: Registered.
    b.recycle_direct(unsafe { &*rxq }, c.index, c.queue(), &rcu);
}

/// `nmx_devmem_put()`: returns a chunk from any context.
///
/// # Safety
///
/// `chunk` must be a chunk from `nmx_alloc()` that the caller owns.
#[no_mangle]
pub unsafe extern "C" fn nmx_devmem_put(chunk: *mut Chunk) {
    let rcu = RcuReadGuard::new();
    // SAFETY: By the function's safety requirement, inside `rcu`.
    let (c, b) = unsafe { binding::chunk_binding(chunk, &rcu) };
    b.put(c.index, &rcu);
}

/// `nmx_devmem_rx_complete()`: the device filled `len` bytes at `offset` of the chunk;
/// the binding's owner gets a record and the driver gives the chunk up.
///
/// # Safety
///
/// As for `nmx_devmem_put()`.
#[no_mangle]
pub unsafe extern "C" fn nmx_devmem_rx_complete(chunk: *mut Chunk, offset: u32, len: u32) -> c_int {
    let rcu = RcuReadGuard::new();
    // SAFETY: By the function's safety requirement, inside `rcu`.
    let (c, b) = unsafe { binding::chunk_binding(chunk, &rcu) };
    match b.rx_complete(c.index, offset, len, &rcu) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `nmx_testing_rxq_cpu_copy()` (test devices only, namespace NMX_TESTING).
///
/// # Safety
///
/// `rxq` must be registered.
#[no_mangle]
pub unsafe extern "C" fn nmx_testing_rxq_cpu_copy(rxq: *mut Rxq) -> c_int {
    // SAFETY: Registered.
    match unsafe { &*rxq }.set_cpu_copy() {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `nmx_testing_cpu_write()`: the CPU-copy "DMA" of test devices (namespace NMX_TESTING).
///
/// # Safety
///
/// As for `nmx_devmem_put()`; `data` must point to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn nmx_testing_cpu_write(
    chunk: *const Chunk,
    offset: u32,
    data: *const u8,
    len: u32,
) -> c_int {
    let rcu = RcuReadGuard::new();
    // SAFETY: By the function's safety requirement, inside `rcu`.
    let (c, b) = unsafe { binding::chunk_binding(chunk, &rcu) };
    // SAFETY: `data` points to `len` bytes (function's safety requirement).
    let data = match unsafe { c_slice(data, len) } {
        Ok(d) => d,
        Err(e) => return e.to_errno(),
    };
    match b.cpu_write(c.index, offset, data) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `nmx_testing_audit()`: the independent accounting audit of binding `id` (namespace
/// NMX_TESTING).
#[no_mangle]
pub extern "C" fn nmx_testing_audit(id: u32) -> c_int {
    match registry::lookup(id).map(|b| b.audit()) {
        Some(Ok(())) => 0,
        Some(Err(e)) => e.to_errno(),
        None => ENOENT.to_errno(),
    }
}

/// `nmx_testing_bind_profile()`: time and memory of the most recent bind, if it made
/// binding `id` (namespace NMX_TESTING).
///
/// # Safety
///
/// `out` must point to a writable `struct nmx_testing_bind_profile`.
#[no_mangle]
pub unsafe extern "C" fn nmx_testing_bind_profile(id: u32, out: *mut meter::BindProfile) -> c_int {
    // SAFETY: Writable (function's safety requirement).
    match meter::read(id, unsafe { &mut *out }) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `nmx_testing_set_return_delay()` (namespace NMX_TESTING).
#[no_mangle]
pub extern "C" fn nmx_testing_set_return_delay(us: u32) -> c_int {
    if crate::devmem::platform_delay(us) {
        0
    } else {
        -(kernel::bindings::EOPNOTSUPP as c_int)
    }
}

/// `nmx_devmem_chunk_size()`.
///
/// # Safety
///
/// As for `nmx_devmem_put()`.
#[no_mangle]
pub unsafe extern "C" fn nmx_devmem_chunk_size(chunk: *const Chunk) -> u32 {
    let rcu = RcuReadGuard::new();
    // SAFETY: By the function's safety requirement, inside `rcu`.
    let (_, b) = unsafe { binding::chunk_binding(chunk, &rcu) };
    b.chunk_size()
}

/// `nmx_bind_dmabuf()`: binds a dma-buf to RX queues of a device, owned by the kernel
/// caller until `nmx_unbind()`. Returns the binding id or a negative errno (with an extack
/// message when `extack` is given).
///
/// # Safety
///
/// `netdev` must be a live device, `queues` must point to `nqueues` ids, `extack` must be
/// NULL or valid; process context without RTNL (netmem takes it), and `fd` is a
/// descriptor of the current task.
#[no_mangle]
pub unsafe extern "C" fn nmx_bind_dmabuf(
    netdev: *mut NetDevice,
    queues: *const u32,
    nqueues: u32,
    fd: c_int,
    chunk_size: u32,
    extack: *mut ExtAck,
) -> c_int {
    if netdev.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: By the function's safety requirement.
    let queues = match unsafe { c_slice(queues, nqueues) } {
        Ok(q) => q,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: The caller holds `netdev` live for the call.
    let netdev = unsafe { NetDevPtr::new(netdev) };
    match registry::bind(netdev, queues, fd, chunk_size, KERNEL_OWNER) {
        Ok(id) => id as c_int,
        Err(f) => {
            // SAFETY: `extack` is NULL or valid (the function's safety requirement).
            unsafe { ffi::set_extack(extack, f.msg, None) };
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
    let Some(b) = registry::lookup(id) else {
        return ENOENT.to_errno();
    };
    b.info(&mut out);
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
    if records.is_null() && max != 0 {
        return EINVAL.to_errno();
    }
    let out = if max == 0 {
        &mut []
    } else {
        // SAFETY: Non-null, `max` writable records (the function's safety requirement).
        unsafe { core::slice::from_raw_parts_mut(records, max as usize) }
    };
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
    let tokens = match unsafe { c_slice(tokens, n) } {
        Ok(t) => t,
        Err(e) => return e.to_errno(),
    };
    match release_tokens(id, KERNEL_OWNER, tokens.iter().copied()) {
        Ok((released, None)) => released as c_int,
        Ok((_, Some(_))) => EINVAL.to_errno(),
        Err(e) => e.to_errno(),
    }
}

/// Takes records for `owner` into `out`. ENOENT: no live binding; EPERM: not the owner.
pub(crate) fn read_records(id: u32, owner: Owner, out: &mut [Record]) -> Result<usize> {
    let b = registry::lookup(id).ok_or(ENOENT)?;
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
    })?;
    Ok(n)
}

/// Gives back records read by [`read_records`] whose delivery failed.
pub(crate) fn unread_records(id: u32, records: &[Record]) {
    let Some(b) = registry::lookup(id) else {
        return;
    };
    let mut back = [PoolRecord::default(); 64];
    for part in records.chunks(back.len()) {
        for (d, r) in back.iter_mut().zip(part.iter()) {
            *d = PoolRecord {
                offset: r.offset,
                len: r.len,
                token: r.token,
                queue: 0,
            };
        }
        b.unread(&back[..part.len()]);
    }
}

/// Releases tokens for `owner`. Returns the count released and the position of the first
/// token that was not held, if any.
pub(crate) fn release_tokens(
    id: u32,
    owner: Owner,
    tokens: impl Iterator<Item = u32>,
) -> Result<(u32, Option<usize>)> {
    let b = registry::lookup(id).ok_or(ENOENT)?;
    if b.is_unbound() {
        return Err(ENOENT);
    }
    if b.owner != owner {
        return Err(EPERM);
    }
    let mut released = 0;
    let mut first_bad = None;
    for (i, t) in tokens.enumerate() {
        if b.release_token(t) {
            released += 1;
        } else if first_bad.is_none() {
            first_bad = Some(i);
        }
    }
    Ok((released, first_bad))
}

/// Called by the shim's netdevice notifier on `NETDEV_UNREGISTER`, RTNL held: `removal`
/// when the device is going away, false when it moves to another netns.
///
/// # Safety
///
/// `dev` must be the device being unregistered (valid for the call).
#[no_mangle]
pub unsafe extern "C" fn nmx_rs_netdev_unregister(dev: *mut NetDevice, removal: bool) {
    registry::netdev_unregister(dev, removal)
}

/// Called by genetlink when a socket's private data of the bind-dmabuf family is created
/// (the socket's first `bind-dmabuf`).
#[no_mangle]
pub extern "C" fn bind_dmabuf_nl_sock_priv_init(_priv: *mut SockPriv) {}

/// Called by genetlink when such a socket closes: unbind everything it owned.
#[no_mangle]
pub extern "C" fn bind_dmabuf_nl_sock_priv_destroy(priv_: *mut SockPriv) {
    registry::owner_gone(Owner::Socket(priv_ as usize));
}
