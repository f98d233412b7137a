// SPDX-License-Identifier: GPL-2.0

//! Thin wrappers over the C side: the shim (shim/netmem_shim.c) and the exported kernel
//! functions the `kernel` crate of 6.12 has no abstraction for (dma-buf, RCU, netdev refs).
//!
//! Every `unsafe` block of netmem.ko that talks to C lives here or next to the exported
//! `extern "C"` entry points; the pool logic above it is safe Rust.
//!
//! C headers: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h),
//! [`shim/netmem_shim.h`](../shim/netmem_shim.h).

use crate::devmem::layout::Segment;
use core::ffi::{c_char, c_int, c_void, CStr};
use core::ptr::NonNull;
use kernel::error::{from_err_ptr, to_result};
use kernel::prelude::*;

macro_rules! opaque {
    ($($(#[$m:meta])* $name:ident;)*) => {$(
        $(#[$m])*
        #[repr(C)]
        pub(crate) struct $name {
            _p: [u8; 0],
        }
    )*};
}

opaque! {
    /// `struct device`.
    Device;
    /// `struct net_device`.
    NetDevice;
    /// `struct net`.
    Net;
    /// `struct dma_buf`.
    DmaBufRaw;
    /// `struct dma_buf_attachment`.
    AttachmentRaw;
    /// `struct sg_table`.
    SgTable;
    /// `struct nmx_sock_priv`: genetlink's per-socket data of the bind-dmabuf family.
    SockPriv;
    /// `struct genl_info`.
    GenlInfo;
    /// `struct netlink_callback`.
    NetlinkCallback;
    /// `struct netlink_ext_ack`.
    ExtAck;
    /// `struct nlattr`.
    Nlattr;
    /// `struct sk_buff`.
    SkBuff;
}

/// `EOPNOTSUPP`, which the 6.12 `kernel` crate does not name.
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-95)
}

/// `EMSGSIZE`, which the 6.12 `kernel` crate does not name.
pub(crate) fn emsgsize() -> Error {
    Error::from_errno(-90)
}

/// `DMA_FROM_DEVICE` of `enum dma_data_direction`.
const DMA_FROM_DEVICE: c_int = 2;

extern "C" {
    fn dma_buf_get(fd: c_int) -> *mut DmaBufRaw;
    fn dma_buf_put(buf: *mut DmaBufRaw);
    fn dma_buf_detach(buf: *mut DmaBufRaw, att: *mut AttachmentRaw);
    fn dma_buf_unmap_attachment_unlocked(att: *mut AttachmentRaw, sgt: *mut SgTable, dir: c_int);
    #[link_name = "synchronize_rcu"]
    fn synchronize_rcu_raw();
    fn rtnl_lock();
    fn rtnl_unlock();
    fn get_device(dev: *mut Device) -> *mut Device;
    fn put_device(dev: *mut Device);
    #[cfg(nmx_testing)]
    fn nmx_shim_udelay(us: u32);
    fn nmx_shim_page_recycle_direct(pp: *mut c_void, page: *mut c_void);
    fn nmx_shim_rcu_read_lock();
    fn nmx_shim_rcu_read_unlock();
    fn nmx_shim_local_bh_disable();
    fn nmx_shim_local_bh_enable();
    fn nmx_shim_wq() -> *const kernel::bindings::workqueue_struct;
    fn nmx_shim_dmabuf_claim(buf: *const c_void) -> c_int;
    fn nmx_shim_dmabuf_unclaim(buf: *const c_void);
    fn nmx_shim_binding_reserve(id: *mut u32) -> c_int;
    fn nmx_shim_binding_publish(id: u32, b: *const c_void);
    fn nmx_shim_binding_erase_if(id: u32, b: *const c_void) -> *const c_void;
    fn nmx_shim_binding_load(id: u32) -> *const c_void;
    fn nmx_shim_binding_find(id: *mut u32) -> *const c_void;
    fn nmx_shim_sock_priv(skb: *mut SkBuff, create: bool) -> *mut SockPriv;
    fn nmx_shim_dmabuf_attach(buf: *mut DmaBufRaw, dev: *mut Device) -> *mut AttachmentRaw;
    fn nmx_shim_dmabuf_map(att: *mut AttachmentRaw) -> *mut SgTable;
    /// Calls `restart(rxq, priv_)`, a driver's queue restart hook (`Rxq::restart`), so that
    /// fail_function can fail it.
    pub(crate) fn nmx_shim_rxq_restart(
        restart: *const c_void,
        rxq: *mut c_void,
        priv_: *mut c_void,
    ) -> c_int;

    fn nmx_shim_devmem_live_inc();
    fn nmx_shim_devmem_live_dec();
    fn nmx_shim_registry_lock();
    fn nmx_shim_registry_unlock();
    fn nmx_shim_dmabuf_size(buf: *const DmaBufRaw) -> u64;
    fn nmx_shim_dev_has_dma_mask(dev: *const Device) -> bool;
    fn nmx_shim_sgt_dma_nents(sgt: *const SgTable) -> u32;
    fn nmx_shim_sgt_dma_segments(sgt: *mut SgTable, segs: *mut Segment, max: u32) -> u32;
    fn nmx_shim_dmabuf_vmap(buf: *mut DmaBufRaw) -> *mut c_void;
    fn nmx_shim_dmabuf_vunmap(buf: *mut DmaBufRaw, vaddr: *mut c_void);
    fn nmx_shim_dev_get_by_index(net: *mut Net, ifindex: u32) -> *mut NetDevice;
    fn nmx_shim_dev_put(dev: *mut NetDevice);
    fn nmx_shim_netdev_ifindex(dev: *const NetDevice) -> u32;
    fn nmx_shim_netdev_real_num_rx_queues(dev: *const NetDevice) -> u32;
    fn nmx_shim_netdev_net(dev: *const NetDevice) -> *mut Net;

    fn nmx_shim_check_magic() -> c_int;
    fn nmx_shim_wq_init() -> c_int;
    fn nmx_shim_wq_exit();
    fn nmx_shim_sources_init() -> c_int;
    fn nmx_shim_sources_exit();

    fn nmx_shim_req_attr_missing(info: *mut GenlInfo, ty: u32) -> bool;
    fn nmx_shim_nla_u32(nla: *const Nlattr) -> u32;
    fn nmx_shim_info_next(info: *const GenlInfo, ty: u32, prev: *const Nlattr) -> *const Nlattr;
    fn nmx_shim_parse_queue(
        nest: *const Nlattr,
        info: *mut GenlInfo,
        id: *mut u32,
        ty: *mut u32,
    ) -> c_int;
    fn nmx_shim_info_net(info: *const GenlInfo) -> *mut Net;
    fn nmx_shim_info_extack(info: *const GenlInfo) -> *mut ExtAck;
    fn nmx_shim_extack_msg(extack: *mut ExtAck, msg: *const c_char, bad: *const Nlattr);
    fn nmx_shim_genl_new(size: u32) -> *mut SkBuff;
    fn nmx_shim_genl_free(skb: *mut SkBuff);
    fn nmx_shim_genl_put_reply(skb: *mut SkBuff, info: *mut GenlInfo) -> *mut c_void;
    fn nmx_shim_genl_reply(skb: *mut SkBuff, hdr: *mut c_void, info: *mut GenlInfo) -> c_int;
    fn nmx_shim_genl_put_dump(skb: *mut SkBuff, cb: *mut NetlinkCallback) -> *mut c_void;
    fn nmx_shim_genl_end(skb: *mut SkBuff, hdr: *mut c_void);
    fn nmx_shim_genl_cancel(skb: *mut SkBuff, hdr: *mut c_void);
    fn nmx_shim_cb_cursor(cb: *mut NetlinkCallback) -> *mut i64;
    fn nmx_shim_cb_net(cb: *const NetlinkCallback) -> *mut Net;
    fn nmx_shim_put_u32(skb: *mut SkBuff, ty: u32, v: u32) -> c_int;
    fn nmx_shim_put_uint(skb: *mut SkBuff, ty: u32, v: u64) -> c_int;
    fn nmx_shim_nest_start(skb: *mut SkBuff, ty: u32) -> *mut Nlattr;
    fn nmx_shim_nest_end(skb: *mut SkBuff, nest: *mut Nlattr);
}

/// Waits until every CPU left its RCU read-side sections (and BH-disabled ones, hence
/// NAPI polls). Process context.
pub(crate) fn synchronize_rcu() {
    // SAFETY: Every caller runs in process context (they hold sleeping locks or none).
    unsafe { synchronize_rcu_raw() }
}

/// Returns a page_pool page from the NAPI context of its pool.
///
/// # Safety
///
/// `page` must be a page of `pp` that the caller owns, and the caller must run in the NAPI
/// context `pp` was created for (or with that NAPI disabled).
pub(crate) unsafe fn page_recycle_direct(pp: *mut c_void, page: *mut c_void) {
    // SAFETY: By the function's safety requirement.
    unsafe { nmx_shim_page_recycle_direct(pp, page) }
}

/// Busy-waits `us` microseconds (tests only: see `platform::return_window`).
#[cfg(nmx_testing)]
pub(crate) fn udelay(us: u32) {
    // SAFETY: `udelay` may be called in any context.
    unsafe { nmx_shim_udelay(us) }
}

/// An RCU read-side critical section, held while the guard lives. Hand-rolled: the 6.12
/// kernel crate has no RCU abstraction. Not `Send`: it must end on the task that started it.
pub(crate) struct RcuReadGuard {
    _not_send: core::marker::PhantomData<*mut ()>,
}

impl RcuReadGuard {
    pub(crate) fn new() -> Self {
        // SAFETY: `rcu_read_lock` may be called in any context; paired in `drop`.
        unsafe { nmx_shim_rcu_read_lock() };
        RcuReadGuard {
            _not_send: core::marker::PhantomData,
        }
    }
}

impl Drop for RcuReadGuard {
    fn drop(&mut self) {
        // SAFETY: Paired with the lock in `new`, on the same task (the guard is not `Send`).
        unsafe { nmx_shim_rcu_read_unlock() };
    }
}

/// Softirqs disabled on this CPU while the guard lives. Hand-rolled: the 6.12 kernel crate
/// has no `spin_lock_bh` flavour of its `SpinLock`.
pub(crate) struct BhGuard {
    _not_send: core::marker::PhantomData<*mut ()>,
}

impl BhGuard {
    pub(crate) fn new() -> Self {
        // SAFETY: Paired in `drop`, on the same CPU (not `Send`).
        unsafe { nmx_shim_local_bh_disable() };
        BhGuard {
            _not_send: core::marker::PhantomData,
        }
    }
}

impl Drop for BhGuard {
    fn drop(&mut self) {
        // SAFETY: Paired with `new`.
        unsafe { nmx_shim_local_bh_enable() };
    }
}

/// RTNL, held while the guard lives.
pub(crate) struct Rtnl(());

impl Rtnl {
    /// Takes RTNL. Process context, and the caller must not hold it already (each caller's
    /// documented contract: netlink handlers, the in-kernel API, socket release).
    pub(crate) fn lock() -> Self {
        // SAFETY: A sleeping mutex, released in `drop`.
        unsafe { rtnl_lock() };
        Rtnl(())
    }
}

impl Drop for Rtnl {
    fn drop(&mut self) {
        // SAFETY: Taken in `lock` by this task.
        unsafe { rtnl_unlock() }
    }
}

/// Module-lifetime registrations, each undone by its `Drop`. The module struct holds them
/// in teardown order (see `netmem_rs.rs`).
pub(crate) mod reg {
    use super::*;

    /// The chunk signature C compares with is the one the pool writes (checked at load).
    pub(crate) fn check_magic() -> Result {
        // SAFETY: Compares two constants; no state.
        to_result(unsafe { nmx_shim_check_magic() })
    }

    /// netmem's workqueue; dropping it drains what is queued (binding releases).
    pub(crate) struct Workqueue(());

    impl Workqueue {
        pub(crate) fn new() -> Result<Self> {
            // SAFETY: Module init, once; undone by `drop`.
            to_result(unsafe { nmx_shim_wq_init() })?;
            Ok(Workqueue(()))
        }
    }

    impl Drop for Workqueue {
        fn drop(&mut self) {
            // SAFETY: Allocated in `new`; the fields dropped before this one stopped every
            // source of new work.
            unsafe { nmx_shim_wq_exit() }
        }
    }

    /// The netdev notifier and the bind-dmabuf family: where requests and events come from.
    pub(crate) struct Sources(());

    impl Sources {
        pub(crate) fn new() -> Result<Self> {
            // SAFETY: Module init, once, after the workqueue exists; undone by `drop`.
            to_result(unsafe { nmx_shim_sources_init() })?;
            Ok(Sources(()))
        }
    }

    impl Drop for Sources {
        fn drop(&mut self) {
            // SAFETY: Registered in `new`; unregistering waits for running handlers.
            unsafe { nmx_shim_sources_exit() }
        }
    }
}

/// netmem's workqueue (allocated by the shim at init, destroyed, after a drain, at exit).
pub(crate) fn netmem_wq() -> &'static kernel::workqueue::Queue {
    // SAFETY: The shim allocates the workqueue before anything can queue work and destroys
    // it only at module exit, after the last user.
    unsafe { kernel::workqueue::Queue::from_raw(nmx_shim_wq()) }
}

/// Makes the page/devmem compare live in every driver call site (one more binding).
pub(crate) fn devmem_live_inc() {
    // SAFETY: Process context; the key is defined in the shim.
    unsafe { nmx_shim_devmem_live_inc() }
}

/// Drops a reference taken by [`devmem_live_inc`].
pub(crate) fn devmem_live_dec() {
    // SAFETY: Process context; only called once per earlier `devmem_live_inc`.
    unsafe { nmx_shim_devmem_live_dec() }
}

/// The registry mutex (queue registrations). Held while the guard lives. Hand-rolled: the
/// 6.12 kernel crate cannot define a static `Mutex`.
pub(crate) struct RegistryLock(());

impl RegistryLock {
    /// Takes the mutex. Process context only.
    pub(crate) fn lock() -> Self {
        // SAFETY: A plain mutex defined in the shim; released in `drop`.
        unsafe { nmx_shim_registry_lock() };
        RegistryLock(())
    }
}

impl Drop for RegistryLock {
    fn drop(&mut self) {
        // SAFETY: Taken in `lock`, by this task.
        unsafe { nmx_shim_registry_unlock() }
    }
}

// The binding id table: an allocating XArray in the shim (6.12's kernel crate has none).

/// Reserves a new binding id (cyclic, unique while in the table); its entry reads as empty
/// until [`binding_publish`].
pub(crate) fn binding_id_reserve() -> Result<u32> {
    let mut id = 0;
    // SAFETY: `id` is a local out parameter.
    to_result(unsafe { nmx_shim_binding_reserve(&mut id) })?;
    Ok(id)
}

/// Frees a reserved id that was never published.
pub(crate) fn binding_id_erase(id: u32) {
    // SAFETY: Erasing a reserved entry frees the id; it held no pointer.
    unsafe { nmx_shim_binding_erase_if(id, core::ptr::null()) };
}

/// Publishes `b` (an `Arc::into_raw` pointer) under its reserved id.
pub(crate) fn binding_publish(id: u32, b: *const c_void) {
    // SAFETY: The slot was reserved: storing into it allocates nothing and cannot fail.
    unsafe { nmx_shim_binding_publish(id, b) }
}

/// Removes the entry `id` if it holds `b`; returns it (NULL if it held something else).
pub(crate) fn binding_erase_if(id: u32, b: *const c_void) -> *const c_void {
    // SAFETY: The table's own lock serialises writers.
    unsafe { nmx_shim_binding_erase_if(id, b) }
}

/// The entry `id`, valid for the read-side section `_rcu`.
pub(crate) fn binding_load(id: u32, _rcu: &RcuReadGuard) -> *const c_void {
    // SAFETY: Inside an RCU read-side section, as `xa_load` requires for the result.
    unsafe { nmx_shim_binding_load(id) }
}

/// The first entry with an id of at least `from`: (its id, the entry), NULL if none.
pub(crate) fn binding_find(from: u32, _rcu: &RcuReadGuard) -> (u32, *const c_void) {
    let mut id = from;
    // SAFETY: Inside an RCU read-side section; `id` is a local in/out parameter.
    let p = unsafe { nmx_shim_binding_find(&mut id) };
    (id, p)
}

/// A reference on a `struct dma_buf` (from `dma_buf_get`).
///
/// # Invariants
///
/// `raw` is a valid dma-buf on which this object holds one reference.
pub(crate) struct DmaBuf {
    raw: NonNull<DmaBufRaw>,
}

// SAFETY: dma-buf references may be dropped from any process context.
unsafe impl Send for DmaBuf {}
// SAFETY: Only `&self` methods that are safe to call concurrently.
unsafe impl Sync for DmaBuf {}

impl DmaBuf {
    /// Takes a reference on the dma-buf behind a file descriptor of the current task.
    pub(crate) fn get(fd: i32) -> Result<Self> {
        // SAFETY: `dma_buf_get` validates the descriptor and returns ERR_PTR on failure.
        let raw = from_err_ptr(unsafe { dma_buf_get(fd) })?;
        // INVARIANT: A non-error pointer is a referenced dma-buf.
        Ok(DmaBuf {
            raw: NonNull::new(raw).ok_or(EBADF)?,
        })
    }

    pub(crate) fn size(&self) -> u64 {
        // SAFETY: By the type invariant the dma-buf is valid.
        unsafe { nmx_shim_dmabuf_size(self.raw.as_ptr()) }
    }

    /// Identity of the `struct dma_buf` (the same buffer through any fd gives the same key).
    pub(crate) fn key(&self) -> usize {
        self.raw.as_ptr() as usize
    }

    /// Attaches `dev` and maps the buffer for device writes (`DMA_FROM_DEVICE`).
    pub(crate) fn attach_map(&self, dev: &DeviceRef) -> Result<Mapping> {
        // SAFETY: Both objects are valid (type invariants); ERR_PTR on failure.
        let att =
            from_err_ptr(unsafe { nmx_shim_dmabuf_attach(self.raw.as_ptr(), dev.raw.as_ptr()) })?;
        // SAFETY: `att` was just attached; ERR_PTR on failure. Maps `DMA_FROM_DEVICE`.
        let sgt = unsafe { nmx_shim_dmabuf_map(att) };
        match from_err_ptr(sgt) {
            Ok(sgt) => Ok(Mapping {
                buf: self.raw,
                att,
                sgt,
            }),
            Err(e) => {
                // SAFETY: Attached above and not mapped.
                unsafe { dma_buf_detach(self.raw.as_ptr(), att) };
                Err(e)
            }
        }
    }

    /// Maps the whole buffer into kernel address space (the CPU-copy "device" of tests).
    pub(crate) fn vmap(&self) -> Result<Vmap> {
        // SAFETY: By the type invariant the dma-buf is valid; ERR_PTR on failure.
        let vaddr = from_err_ptr(unsafe { nmx_shim_dmabuf_vmap(self.raw.as_ptr()) })?;
        Ok(Vmap {
            buf: self.raw,
            vaddr: vaddr.cast(),
            len: self.size() as usize,
        })
    }
}

impl Drop for DmaBuf {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we hold one reference.
        unsafe { dma_buf_put(self.raw.as_ptr()) }
    }
}

/// netmem's claim on a dma-buf: at most one exists per dma-buf. A binding holds it until
/// its mapping is gone, so the same pages are never mapped twice.
///
/// # Invariants
///
/// `key` is in the shim's claim table, put there by this object.
pub(crate) struct DmaBufClaim {
    key: usize,
}

impl DmaBufClaim {
    /// Claims `buf`; EBUSY if another claim on it exists.
    pub(crate) fn new(buf: &DmaBuf) -> Result<Self> {
        let key = buf.key();
        // SAFETY: The address is only an index in the table.
        to_result(unsafe { nmx_shim_dmabuf_claim(key as *const c_void) }).map_err(|e| {
            if e == EEXIST {
                EBUSY
            } else {
                e
            }
        })?;
        // INVARIANT: Inserted just now.
        Ok(DmaBufClaim { key })
    }
}

impl Drop for DmaBufClaim {
    fn drop(&mut self) {
        // SAFETY: Our entry (type invariant).
        unsafe { nmx_shim_dmabuf_unclaim(self.key as *const c_void) }
    }
}

/// An attachment of a dma-buf to a device, mapped `DMA_FROM_DEVICE`.
///
/// # Invariants
///
/// `att` is attached to `buf` and mapped as `sgt`; the owner keeps the [`DmaBuf`] alive
/// for as long as this object (dropped first in field order).
pub(crate) struct Mapping {
    buf: NonNull<DmaBufRaw>,
    att: *mut AttachmentRaw,
    sgt: *mut SgTable,
}

// SAFETY: Unmap/detach may run from any process context.
unsafe impl Send for Mapping {}

impl Mapping {
    /// DMA segments of the mapping, in dma-buf order, and how many of the entries are used.
    pub(crate) fn segments(&self) -> Result<(KVVec<Segment>, usize)> {
        // SAFETY: By the type invariant `sgt` is a live mapping.
        let n = unsafe { nmx_shim_sgt_dma_nents(self.sgt) } as usize;
        let mut segs = KVVec::from_elem(Segment { dma: 0, len: 0 }, n, GFP_KERNEL)?;
        // SAFETY: `segs` holds `n` elements, the bound passed to the walker, and `Segment` is
        // `struct nmx_shim_segment` (repr(C), layout asserted in layout.rs).
        let got = unsafe { nmx_shim_sgt_dma_segments(self.sgt, segs.as_mut_ptr(), n as u32) };
        Ok((segs, (got as usize).min(n)))
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the attachment is mapped as `sgt` and attached to
        // `buf`, which is still referenced.
        unsafe {
            dma_buf_unmap_attachment_unlocked(self.att, self.sgt, DMA_FROM_DEVICE);
            dma_buf_detach(self.buf.as_ptr(), self.att);
        }
    }
}

/// A kernel mapping of a whole dma-buf.
///
/// # Invariants
///
/// `vaddr` maps `len` bytes of `buf`, which outlives this object.
pub(crate) struct Vmap {
    buf: NonNull<DmaBufRaw>,
    vaddr: *mut u8,
    len: usize,
}

// SAFETY: The mapping is plain kernel memory usable from any CPU.
unsafe impl Send for Vmap {}

impl Vmap {
    /// Copies `data` to byte `offset` of the dma-buf.
    pub(crate) fn write(&self, offset: usize, data: &[u8]) -> Result {
        let end = offset.checked_add(data.len()).ok_or(EINVAL)?;
        if end > self.len {
            return Err(EINVAL);
        }
        // SAFETY: `[offset, end)` lies inside the `len` mapped bytes (checked above), and
        // `data` is a distinct kernel buffer.
        unsafe {
            core::ptr::copy_nonoverlapping(data.as_ptr(), self.vaddr.add(offset), data.len())
        };
        Ok(())
    }
}

impl Drop for Vmap {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `vaddr` came from vmap of `buf`, still referenced.
        unsafe { nmx_shim_dmabuf_vunmap(self.buf.as_ptr(), self.vaddr.cast()) }
    }
}

/// A reference on a `struct device` (the NIC's DMA device).
///
/// # Invariants
///
/// `raw` is a device on which this object holds a reference.
pub(crate) struct DeviceRef {
    raw: NonNull<Device>,
}

// SAFETY: Device references may be dropped from any context that may sleep.
unsafe impl Send for DeviceRef {}
// SAFETY: Only read through `&self`.
unsafe impl Sync for DeviceRef {}

impl DeviceRef {
    /// Takes a reference on `dev`.
    ///
    /// # Safety
    ///
    /// `dev` must be a valid device (the caller holds a reference).
    pub(crate) unsafe fn get(dev: *mut Device) -> Option<Self> {
        // SAFETY: `dev` is valid by the function's safety requirement.
        let raw = NonNull::new(unsafe { get_device(dev) })?;
        // INVARIANT: `get_device` took a reference.
        Some(DeviceRef { raw })
    }

    pub(crate) fn has_dma_mask(&self) -> bool {
        // SAFETY: By the type invariant the device is valid.
        unsafe { nmx_shim_dev_has_dma_mask(self.raw.as_ptr()) }
    }
}

impl Drop for DeviceRef {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we hold one reference.
        unsafe { put_device(self.raw.as_ptr()) }
    }
}

/// A borrowed `struct net_device`.
///
/// # Invariants
///
/// The device stays valid while any copy is used: whoever made it holds a reference
/// ([`NetDeviceRef`]) or keeps the device registered with netmem (a driver's rxq).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct NetDevPtr(*mut NetDevice);

// SAFETY: Just an address; dereferenced only through the shim accessors under the
// invariant above, from any task.
unsafe impl Send for NetDevPtr {}

impl NetDevPtr {
    /// # Safety
    ///
    /// `dev` must stay valid while the result (or a copy) is used (the type invariant).
    pub(crate) unsafe fn new(dev: *mut NetDevice) -> Self {
        // INVARIANT: By the function's safety requirement.
        NetDevPtr(dev)
    }

    pub(crate) fn as_ptr(self) -> *mut NetDevice {
        self.0
    }

    pub(crate) fn ifindex(self) -> u32 {
        // SAFETY: Registered devices are alive (type documentation).
        unsafe { nmx_shim_netdev_ifindex(self.0) }
    }

    pub(crate) fn real_num_rx_queues(self) -> u32 {
        // SAFETY: As in `ifindex`.
        unsafe { nmx_shim_netdev_real_num_rx_queues(self.0) }
    }

    pub(crate) fn net(self) -> *mut Net {
        // SAFETY: As in `ifindex`.
        unsafe { nmx_shim_netdev_net(self.0) }
    }
}

/// A reference on a `struct net_device` found by ifindex.
pub(crate) struct NetDeviceRef(NetDevPtr);

impl NetDeviceRef {
    /// Looks `ifindex` up in `net`, taking a reference.
    pub(crate) fn by_index(net: *mut Net, ifindex: u32) -> Option<Self> {
        // SAFETY: `net` comes from a live netlink request (or is the caller's netns).
        let dev = unsafe { nmx_shim_dev_get_by_index(net, ifindex) };
        if dev.is_null() {
            None
        } else {
            // INVARIANT: `dev_get_by_index` took a reference, dropped with this object;
            // callers use `ptr` copies only during the request that holds it.
            Some(NetDeviceRef(NetDevPtr(dev)))
        }
    }

    pub(crate) fn ptr(&self) -> NetDevPtr {
        self.0
    }
}

impl Drop for NetDeviceRef {
    fn drop(&mut self) {
        // SAFETY: Taken in `by_index`.
        unsafe { nmx_shim_dev_put(self.0 .0) }
    }
}

/// A generic netlink request being handled (`struct genl_info`), valid for the handler.
#[derive(Clone, Copy)]
pub(crate) struct Request(*mut GenlInfo);

impl Request {
    /// # Safety
    ///
    /// `info` must be the `genl_info` of a request being handled, and the object must not
    /// outlive the handler.
    pub(crate) unsafe fn new(info: *mut GenlInfo) -> Self {
        Request(info)
    }

    /// The first top-level attribute of type `ty` (found by walking the validated message,
    /// so any `ty` is in bounds).
    pub(crate) fn attr(self, ty: u32) -> Option<Attr> {
        self.attrs(ty).next()
    }

    /// Reports a missing attribute in extack (like `GENL_REQ_ATTR_CHECK`).
    pub(crate) fn require(self, ty: u32) -> Result<Attr> {
        // SAFETY: As in `attr`.
        if unsafe { nmx_shim_req_attr_missing(self.0, ty) } {
            return Err(EINVAL);
        }
        self.attr(ty).ok_or(EINVAL)
    }

    /// All top-level attributes of type `ty`, in message order (multi-attr).
    pub(crate) fn attrs(self, ty: u32) -> AttrIter {
        AttrIter {
            req: self,
            ty,
            prev: core::ptr::null(),
        }
    }

    /// Parses a `queue` nest into (id, type).
    pub(crate) fn parse_queue(self, nest: Attr) -> Result<(u32, u32)> {
        let (mut id, mut ty) = (0, 0);
        // SAFETY: `nest` belongs to this request; the out pointers are local.
        to_result(unsafe { nmx_shim_parse_queue(nest.0, self.0, &mut id, &mut ty) })?;
        Ok((id, ty))
    }

    /// The requesting socket's private data of our family; with `create`, allocated if the
    /// socket has none yet, otherwise NULL then.
    ///
    /// # Safety
    ///
    /// `skb` must be the skb of the request being handled.
    pub(crate) unsafe fn sock_priv(self, skb: *mut SkBuff, create: bool) -> Result<*mut SockPriv> {
        // SAFETY: By the function's safety requirement; ERR_PTR on failure.
        let p = kernel::error::from_err_ptr(unsafe { nmx_shim_sock_priv(skb, create) })?;
        if create && p.is_null() {
            return Err(ENOMEM);
        }
        Ok(p)
    }

    pub(crate) fn net(self) -> *mut Net {
        // SAFETY: Valid for the handler.
        unsafe { nmx_shim_info_net(self.0) }
    }

    pub(crate) fn extack(self) -> *mut ExtAck {
        // SAFETY: Valid for the handler.
        unsafe { nmx_shim_info_extack(self.0) }
    }

    /// Sets the extack message the user will read, optionally pointing at an attribute.
    pub(crate) fn error(self, msg: &'static CStr, bad: Option<Attr>) {
        // SAFETY: The request's own extack, valid for the handler.
        unsafe { set_extack(self.extack(), msg, bad) };
    }
}

/// Sets an extack message (kept by pointer, hence `'static`).
///
/// # Safety
///
/// `extack` must be NULL or a live extack; `bad`, if given, an attribute of its request.
pub(crate) unsafe fn set_extack(extack: *mut ExtAck, msg: &'static CStr, bad: Option<Attr>) {
    let bad = bad.map_or(core::ptr::null(), |a| a.0);
    // SAFETY: By the function's safety requirement; `msg` is static.
    unsafe { nmx_shim_extack_msg(extack, msg.as_ptr(), bad) }
}

/// A netlink attribute of the request being handled.
#[derive(Clone, Copy)]
pub(crate) struct Attr(*const Nlattr);

impl Attr {
    /// The attribute as u32 (its length was validated by the generated policy).
    pub(crate) fn u32(self) -> u32 {
        // SAFETY: The attribute is valid for the handler and policy-checked as NLA_U32.
        unsafe { nmx_shim_nla_u32(self.0) }
    }
}

/// Iterator over top-level attributes of one type.
pub(crate) struct AttrIter {
    req: Request,
    ty: u32,
    prev: *const Nlattr,
}

impl Iterator for AttrIter {
    type Item = Attr;

    fn next(&mut self) -> Option<Attr> {
        // SAFETY: The request is valid for the handler; `prev` is NULL or one of its attrs.
        let a = unsafe { nmx_shim_info_next(self.req.0, self.ty, self.prev) };
        if a.is_null() {
            None
        } else {
            self.prev = a;
            Some(Attr(a))
        }
    }
}

/// A netlink message under construction (reply or dump entry).
pub(crate) struct Msg {
    skb: *mut SkBuff,
    hdr: *mut c_void,
    owned: bool,
}

impl Msg {
    /// A new reply to `req` with `size` bytes of payload room.
    pub(crate) fn reply(req: Request, size: u32) -> Result<Self> {
        // SAFETY: Allocates an skb (NULL on failure).
        let skb = unsafe { nmx_shim_genl_new(size) };
        if skb.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `skb` is fresh and `req` valid for the handler.
        let hdr = unsafe { nmx_shim_genl_put_reply(skb, req.0) };
        let mut msg = Msg {
            skb,
            hdr,
            owned: true,
        };
        if hdr.is_null() {
            msg.hdr = core::ptr::null_mut();
            return Err(emsgsize());
        }
        Ok(msg)
    }

    /// Sends a reply built by [`Msg::reply`].
    pub(crate) fn send(mut self, req: Request) -> Result {
        self.owned = false;
        // SAFETY: The skb carries a genl header for `req`; genlmsg_reply consumes the skb.
        to_result(unsafe { nmx_shim_genl_reply(self.skb, self.hdr, req.0) })
    }

    /// Starts one dump entry in `skb`.
    ///
    /// # Safety
    ///
    /// `skb` and `cb` must be the dump callback's arguments.
    pub(crate) unsafe fn dump_entry(skb: *mut SkBuff, cb: *mut NetlinkCallback) -> Result<Self> {
        // SAFETY: By the function's safety requirement.
        let hdr = unsafe { nmx_shim_genl_put_dump(skb, cb) };
        if hdr.is_null() {
            return Err(emsgsize());
        }
        Ok(Msg {
            skb,
            hdr,
            owned: false,
        })
    }

    /// Ends a dump entry.
    pub(crate) fn end(self) {
        // SAFETY: `hdr` was put into `skb` by `dump_entry`.
        unsafe { nmx_shim_genl_end(self.skb, self.hdr) }
    }

    /// Removes a partial dump entry (it did not fit).
    pub(crate) fn cancel(self) {
        // SAFETY: As in `end`.
        unsafe { nmx_shim_genl_cancel(self.skb, self.hdr) }
    }

    pub(crate) fn u32(&mut self, ty: u32, v: u32) -> Result {
        // SAFETY: `skb` is a message under construction.
        to_result(unsafe { nmx_shim_put_u32(self.skb, ty, v) }).map_err(|_| emsgsize())
    }

    pub(crate) fn uint(&mut self, ty: u32, v: u64) -> Result {
        // SAFETY: `skb` is a message under construction.
        to_result(unsafe { nmx_shim_put_uint(self.skb, ty, v) }).map_err(|_| emsgsize())
    }

    /// Runs `f` inside a nest of type `ty`.
    pub(crate) fn nest(&mut self, ty: u32, f: impl FnOnce(&mut Self) -> Result) -> Result {
        // SAFETY: `skb` is a message under construction.
        let nest = unsafe { nmx_shim_nest_start(self.skb, ty) };
        if nest.is_null() {
            return Err(emsgsize());
        }
        f(self)?;
        // SAFETY: `nest` was started in this skb and is the innermost open nest.
        unsafe { nmx_shim_nest_end(self.skb, nest) };
        Ok(())
    }
}

impl Drop for Msg {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: A reply skb we allocated and did not send.
            unsafe { nmx_shim_genl_free(self.skb) }
        }
    }
}

/// The dump cursor (`cb->args[0]`) and netns of a dump.
pub(crate) struct DumpCb(*mut NetlinkCallback);

impl DumpCb {
    /// # Safety
    ///
    /// `cb` must be the callback of a dump in progress, used only during that call.
    pub(crate) unsafe fn new(cb: *mut NetlinkCallback) -> Self {
        DumpCb(cb)
    }

    pub(crate) fn cursor(&self) -> i64 {
        // SAFETY: `cb` is valid for the call; args[0] is ours.
        unsafe { *nmx_shim_cb_cursor(self.0) }
    }

    pub(crate) fn set_cursor(&self, v: i64) {
        // SAFETY: As in `cursor`.
        unsafe { *nmx_shim_cb_cursor(self.0) = v }
    }

    pub(crate) fn net(&self) -> *mut Net {
        // SAFETY: As in `cursor`.
        unsafe { nmx_shim_cb_net(self.0) }
    }

    pub(crate) fn raw(&self) -> *mut NetlinkCallback {
        self.0
    }
}

extern "C" {
    fn nmx_shim_put_u64(skb: *mut SkBuff, ty: u32, v: u64, pad: u32) -> c_int;
    fn nmx_shim_skb_len(skb: *const SkBuff) -> u32;
}

impl Msg {
    pub(crate) fn u64(&mut self, ty: u32, v: u64, pad: u32) -> Result {
        // SAFETY: `skb` is a message under construction.
        to_result(unsafe { nmx_shim_put_u64(self.skb, ty, v, pad) }).map_err(|_| emsgsize())
    }
}

/// Bytes already in a dump skb.
///
/// # Safety
///
/// `skb` must be a valid skb (the dump's, during the dump callback).
pub(crate) unsafe fn skb_len(skb: *mut SkBuff) -> u32 {
    // SAFETY: By the function's safety requirement.
    unsafe { nmx_shim_skb_len(skb) }
}
