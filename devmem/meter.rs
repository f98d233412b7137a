// SPDX-License-Identifier: GPL-2.0

//! Bind profile: what one bind costs, measured, for tests and the benchmark
//! (`nmx_testing_bind_profile()`, namespace NMX_TESTING).
//!
//! - Time: the whole bind call, the dma-buf attach + map (the floor any importer pays) and
//!   the walk of the mapping's scatterlist, from `ktime_get()` (a handful of reads per bind).
//! - Memory: every allocation netmem makes for the binding while it binds, as the allocator
//!   really served it: `ksize()` of a slab or page-allocator object, the mapped size of a
//!   vmalloc area (page-rounded, or huge-page rounded when kvmalloc got a huge mapping),
//!   each with its element type; steady state (held when bind returns) and peak (most held
//!   at once, temporaries included). As a cross-check independent of this bookkeeping, the
//!   growth of the kernel's own unreclaimable-slab counter (every kmalloc, large ones
//!   included) from the end of the map to the end of the bind.
//!
//! The profile is a single record of the most recent bind (with its binding id), not a
//! per-binding one: nothing is added to a binding for it. It is written only by the task
//! binding, which holds RTNL for the whole bind; readers take RTNL. Allocations are metered
//! only on that task while its bind is in progress: [`account`] is a load and a compare
//! otherwise, and no data-path code calls it (storage is allocated at bind time only).

use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use kernel::prelude::*;
use kernel::time::Ktime;

pub(crate) use super::bind_profile::BindProfile;

struct Global(UnsafeCell<BindProfile>);

// SAFETY: Written only by the task in `OWNER` (which holds RTNL for as long as it is
// there), read only with RTNL held: never two accessors at once.
unsafe impl Sync for Global {}

static PROFILE: Global = Global(UnsafeCell::new(BindProfile::ZERO));

/// The task binding (its `task_struct` address), or 0.
static OWNER: AtomicUsize = AtomicUsize::new(0);

/// When the owner last accounted an allocation or ended a part (ktime ns; owner only).
static MARK: AtomicI64 = AtomicI64::new(0);

/// The kernel's unreclaimable-slab bytes when the map was done (owner only).
static SLAB_AFTER_MAP: AtomicU64 = AtomicU64::new(0);

extern "C" {
    fn nmx_shim_alloc_bytes(p: *const c_void, requested: usize, vmalloc: *mut bool) -> usize;
    fn nmx_shim_slab_bytes() -> u64;
}

fn slab_bytes() -> u64 {
    // SAFETY: Reads a global counter; no requirement.
    unsafe { nmx_shim_slab_bytes() }
}

fn current() -> usize {
    // SAFETY: Reads the current task pointer; no requirement.
    unsafe { kernel::bindings::get_current() as usize }
}

/// Runs `f` on the profile if the current task is the one binding.
fn with<R>(f: impl FnOnce(&mut BindProfile) -> R) -> Option<R> {
    if OWNER.load(Ordering::Relaxed) != current() {
        return None;
    }
    // SAFETY: Only the owner task gets here, and it holds RTNL, which readers take: no other
    // reference to the profile exists during `f` (no caller re-enters).
    Some(f(unsafe { &mut *PROFILE.0.get() }))
}

/// The profile of one bind, recorded while it lives: from [`Scope::begin`] (RTNL held) to
/// [`Scope::done`] or its drop (a failed bind leaves no profile).
pub(crate) struct Scope {
    t0: Ktime,
}

impl Scope {
    /// Starts metering the current task's allocations. `t0`: when the bind call started.
    /// The caller holds RTNL until the scope is dropped.
    pub(crate) fn begin(t0: Ktime) -> Self {
        // SAFETY: RTNL is held (caller contract) and no owner is set (the previous scope
        // cleared it), so nobody else accesses the profile.
        unsafe { *PROFILE.0.get() = BindProfile::ZERO };
        MARK.store(t0.to_ns(), Ordering::Relaxed);
        OWNER.store(current(), Ordering::Relaxed);
        Scope { t0 }
    }

    /// The bind succeeded as binding `id`: the profile is complete.
    pub(crate) fn done(self, id: u32) {
        let ns = elapsed(self.t0);
        let growth = slab_bytes().saturating_sub(SLAB_AFTER_MAP.load(Ordering::Relaxed));
        with(|p| {
            p.total_ns = ns;
            p.slab_growth_bytes = growth;
            p.id = id;
        });
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        OWNER.store(0, Ordering::Relaxed);
    }
}

/// Nanoseconds since `t0`.
pub(crate) fn elapsed(t0: Ktime) -> u64 {
    (Ktime::ktime_get() - t0).to_ns().max(0) as u64
}

/// A timed part of the bind (see `struct nmx_testing_bind_profile`).
#[derive(Clone, Copy)]
pub(crate) enum Part {
    /// `dma_buf_attach()` + `dma_buf_map_attachment()`.
    AttachMap,
    /// Reading the mapping's DMA segments from its sg_table.
    SgWalk,
    /// Copying the segments into netmem's segment list.
    Copy,
    /// Layout check and the pool (descriptors, records, free list, rings).
    Pool,
    /// Queues and the binding itself.
    Finish,
}

/// Part `part` of the bind took the time since `t0`; returns now, the next part's start.
pub(crate) fn part_done(part: Part, t0: Ktime) -> Ktime {
    let now = Ktime::ktime_get();
    let ns = (now - t0).to_ns().max(0) as u64;
    MARK.store(now.to_ns(), Ordering::Relaxed);
    if let Part::AttachMap = part {
        // The allocator's own view of what the rest of the bind takes (a cross-check).
        if OWNER.load(Ordering::Relaxed) == current() {
            SLAB_AFTER_MAP.store(slab_bytes(), Ordering::Relaxed);
        }
    }
    with(|p| match part {
        Part::AttachMap => p.attach_map_ns = ns,
        Part::SgWalk => p.sg_walk_ns = ns,
        Part::Copy => p.copy_ns = ns,
        Part::Pool => p.pool_ns = ns,
        Part::Finish => p.finish_ns = ns,
    });
    now
}

/// Accounts the allocation at `ptr` (its start) of `count` elements of type `T`
/// (`requested` bytes asked for) to the bind in progress on this task, if any. Returns the
/// bytes the allocator gave (0 when not metering), for [`release`] if `temporary`.
///
/// # Safety
///
/// Unless `requested` is 0, `ptr` must be the start of a live kmalloc'd, vmalloc'd or
/// kvmalloc'd allocation of at least `requested` bytes.
pub(crate) unsafe fn account<T>(
    what: &str,
    ptr: *const T,
    count: usize,
    requested: usize,
    temporary: bool,
) -> usize {
    if requested == 0 || OWNER.load(Ordering::Relaxed) != current() {
        return 0;
    }
    let mut vmalloc = false;
    // SAFETY: `ptr` is the start of a live allocation of at least `requested` bytes
    // (function's safety requirement).
    let bytes = unsafe { nmx_shim_alloc_bytes(ptr.cast(), requested, &mut vmalloc) };
    let now = Ktime::ktime_get().to_ns();
    let ns = (now - MARK.swap(now, Ordering::Relaxed)).max(0) as u64;
    with(|p| {
        p.steady_bytes += bytes as u64;
        p.peak_bytes = p.peak_bytes.max(p.steady_bytes);
        match p.allocs.get_mut(p.nallocs as usize) {
            Some(e) => {
                // The type's last path segment: "netmem_rs::devmem::chunk::Chunk" -> "Chunk".
                let base = what.split('<').next().unwrap_or(what);
                let short = base.rsplit("::").next().unwrap_or(base).as_bytes();
                // A reference type keeps its `&`.
                let amp = usize::from(base.starts_with('&') && !short.starts_with(b"&"));
                e.what[0] = b'&';
                let n = short.len().min(e.what.len() - 1 - amp);
                e.what[amp..amp + n].copy_from_slice(&short[..n]);
                e.count = count as u64;
                e.requested = requested as u64;
                e.bytes = bytes as u64;
                e.ns = ns;
                e.vmalloc = u32::from(vmalloc);
                e.temporary = u32::from(temporary);
                p.nallocs += 1;
            }
            None => p.dropped += 1,
        }
    });
    bytes
}

/// Accounts a vector's buffer (see [`account`]).
pub(crate) fn account_vec<T, A: kernel::alloc::Allocator>(
    v: &kernel::alloc::Vec<T, A>,
    temporary: bool,
) -> usize {
    let requested = v.capacity() * core::mem::size_of::<T>();
    let what = core::any::type_name::<T>();
    // SAFETY: A non-empty buffer of a `Vec` with a kernel allocator is the start of a live
    // kmalloc/vmalloc/kvmalloc allocation of `capacity * size_of::<T>()` bytes (and with
    // `requested == 0` nothing is read).
    unsafe { account(what, v.as_ptr(), v.capacity(), requested, temporary) }
}

/// Accounts the allocation of an `Arc<T>` (the refcount comes first, as in
/// `kernel::sync::Arc`'s own layout computation).
pub(crate) fn account_arc<T>(arc: &kernel::sync::Arc<T>) -> usize {
    let data: *const T = &**arc;
    let Ok((whole, offset)) =
        Layout::new::<kernel::bindings::refcount_t>().extend(Layout::new::<T>())
    else {
        return 0;
    };
    let start = data.cast::<u8>().wrapping_sub(offset);
    let what = core::any::type_name::<T>();
    // SAFETY: `start` is where `Arc` placed its `ArcInner` (the refcount, then `T` at
    // `offset`, `repr(C)`): the start of a live kmalloc'd allocation of `whole` bytes.
    unsafe { account(what, start, 1, whole.pad_to_align().size(), false) }
}

/// A temporary of `bytes` (from [`account`]) was freed.
pub(crate) fn release(bytes: usize) {
    with(|p| p.steady_bytes = p.steady_bytes.saturating_sub(bytes as u64));
}

/// Copies the profile of the most recent bind into `out` if it was binding `id`.
pub(crate) fn read(id: u32, out: &mut BindProfile) -> Result {
    let _rtnl = crate::ffi::Rtnl::lock();
    // SAFETY: RTNL held: no owner exists, so nobody writes the profile.
    let p = unsafe { &*PROFILE.0.get() };
    if id == 0 || p.id != id {
        return Err(ENOENT);
    }
    *out = *p;
    Ok(())
}
