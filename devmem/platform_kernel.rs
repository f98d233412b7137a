// SPDX-License-Identifier: GPL-2.0

//! Kernel services for the devmem core (the host build uses `core/src/platform_std.rs`):
//! storage from vmalloc and a BH-disabling spinlock, with the same names and signatures.

use crate::ffi::BhGuard;
use core::pin::Pin;
use kernel::new_spinlock;
use kernel::prelude::*;
use kernel::sync::SpinLock;

/// Backing storage of descriptor arrays, rings and the free set: vmalloc, whose areas are
/// whole pages. kvmalloc would round a large array up to a power of two of pages (kmalloc)
/// or to 2 MiB (its huge vmap): up to twice the metadata of a binding.
pub(crate) type Storage<T> = VVec<T>;

/// A failed allocation is the bind's ENOMEM with an extack message: no allocation-failure
/// report with a stack dump in the kernel log besides.
fn storage_gfp() -> kernel::alloc::Flags {
    GFP_KERNEL | kernel::alloc::flags::__GFP_NOWARN
}

/// Allocation failure.
#[derive(Debug)]
pub(crate) struct AllocError;

/// Allocates `n` elements made by `f(index)`.
pub(crate) fn new_storage<T>(
    n: usize,
    mut f: impl FnMut(usize) -> T,
) -> Result<Storage<T>, AllocError> {
    let mut v = VVec::with_capacity(n, storage_gfp()).map_err(|_| AllocError)?;
    // Written in place rather than pushed: `push` checks the capacity for every element,
    // which is most of the cost of building a large binding's descriptors.
    let spare = v.spare_capacity_mut().get_mut(..n).ok_or(AllocError)?;
    for (i, slot) in spare.iter_mut().enumerate() {
        slot.write(f(i));
    }
    // SAFETY: The loop initialised the first `n` spare slots, which exist (`get_mut` above).
    unsafe { v.set_len(n) };
    // Counted toward the bind in progress on this task, if any (the bind profile).
    super::meter::account_vec(&v, false);
    Ok(v)
}

/// [`new_storage`] with a fallible `f`: the first error is returned. For short arrays of
/// large elements (one per queue).
pub(crate) fn try_new_storage<T>(
    n: usize,
    mut f: impl FnMut(usize) -> Result<T, AllocError>,
) -> Result<Storage<T>, AllocError> {
    let mut v = VVec::with_capacity(n, storage_gfp()).map_err(|_| AllocError)?;
    for i in 0..n {
        // Within the capacity reserved above: no reallocation.
        v.push(f(i)?, storage_gfp()).map_err(|_| AllocError)?;
    }
    super::meter::account_vec(&v, false);
    Ok(v)
}

/// Data shared by NAPI (softirq) and process context: the kernel crate's `SpinLock`, taken
/// with softirqs disabled (the crate has no `spin_lock_bh` flavour in 6.12, so the BH part
/// is hand-rolled: [`BhGuard`]). Boxed and pinned, so the owner may move.
pub(crate) struct Lock<T> {
    inner: Pin<KBox<SpinLock<T>>>,
}

impl<T> Lock<T> {
    /// Wraps `v` in a new lock.
    pub(crate) fn new(v: T) -> Result<Self, AllocError> {
        let inner = KBox::pin_init(new_spinlock!(v, "nmx_pool_free"), GFP_KERNEL)
            .map_err(|_| AllocError)?;
        let p: *const SpinLock<T> = &*inner;
        // SAFETY: `p` is the start of the live `KBox` allocation (kmalloc) of the lock.
        unsafe { super::meter::account("lock", p, 1, core::mem::size_of::<SpinLock<T>>(), false) };
        Ok(Lock { inner })
    }

    /// Runs `f` with the lock held and softirqs disabled.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let _bh = BhGuard::new();
        // Declared after `_bh`: unlocked before softirqs are enabled again.
        let mut guard = self.inner.lock();
        f(&mut guard)
    }
}

/// Microseconds a returner spins in [`return_window`]: 0 except in tests that widen the
/// window (`nmx_testing_set_return_delay()`). Testing builds only (`--cfg nmx_testing`,
/// the test and race flavours): elsewhere the hook costs a remote put nothing.
#[cfg(nmx_testing)]
pub(crate) static RETURN_DELAY_US: core::sync::atomic::AtomicU32 =
    core::sync::atomic::AtomicU32::new(0);

/// A returner is still in pool code after its chunk became visible to others: the window a
/// binding's release must wait out (an RCU grace period). Tests widen it.
#[inline]
pub(crate) fn return_window() {
    #[cfg(nmx_testing)]
    {
        let us = RETURN_DELAY_US.load(core::sync::atomic::Ordering::Relaxed);
        if us != 0 {
            crate::ffi::udelay(us);
        }
    }
}
