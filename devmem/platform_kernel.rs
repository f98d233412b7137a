// SPDX-License-Identifier: GPL-2.0

//! Kernel services for the devmem core (the host build uses `core/src/platform_std.rs`):
//! storage from kvmalloc and a BH-disabling spinlock, with the same names and signatures.

use crate::ffi::BhSpinlock;
use core::cell::UnsafeCell;
use kernel::prelude::*;

/// Backing storage of rings, stacks and descriptor arrays.
pub(crate) type Storage<T> = KVVec<T>;

/// Allocation failure.
#[derive(Debug)]
pub(crate) struct AllocError;

/// Allocates `n` elements made by `f(index)`.
pub(crate) fn new_storage<T>(
    n: usize,
    mut f: impl FnMut(usize) -> T,
) -> Result<Storage<T>, AllocError> {
    let mut v = KVVec::with_capacity(n, GFP_KERNEL).map_err(|_| AllocError)?;
    for i in 0..n {
        v.push(f(i), GFP_KERNEL).map_err(|_| AllocError)?;
    }
    Ok(v)
}

/// Data shared by NAPI (softirq) and process context, behind a `spin_lock_bh` lock.
///
/// # Invariants
///
/// `data` is only accessed while `lock` is held.
pub(crate) struct Lock<T> {
    lock: BhSpinlock,
    data: UnsafeCell<T>,
}

// SAFETY: The lock serialises all access to `data`, so sending it along is fine if `T` is.
unsafe impl<T: Send> Send for Lock<T> {}
// SAFETY: As above: `&Lock<T>` only ever gives `&mut T` under the lock.
unsafe impl<T: Send> Sync for Lock<T> {}

impl<T> Lock<T> {
    /// Wraps `v` in a new lock.
    pub(crate) fn new(v: T) -> Result<Self, AllocError> {
        let lock = BhSpinlock::new().ok_or(AllocError)?;
        Ok(Lock {
            lock,
            data: UnsafeCell::new(v),
        })
    }

    /// Runs `f` with the lock held and BHs disabled.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.lock.lock();
        // SAFETY: The lock is held, so this is the only reference to `data` (invariant).
        let r = f(unsafe { &mut *self.data.get() });
        self.lock.unlock();
        r
    }
}
