// SPDX-License-Identifier: GPL-2.0
//! Host implementation of the platform services the shared modules use.
//!
//! The kernel build replaces this file with one offering the same names: a kernel vector for
//! [`Storage`], a BH-disabling spinlock for [`Lock`]. Nothing beyond these names may be
//! required of a platform.

// Bound locally so that a `no_std` build (no `std` feature) still has it here, while the
// shared modules keep seeing only `core`.
#[cfg(not(any(test, feature = "std")))]
extern crate std;

/// Fixed-size storage allocated once; dereferences (mutably) to a slice.
pub type Storage<T> = std::vec::Vec<T>;

/// Memory allocation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocError;

/// Allocates storage for `n` elements, element `i` initialised to `f(i)`.
///
/// Fallible like the kernel's allocators: a failed reservation is an error, not an abort.
pub fn new_storage<T>(n: usize, mut f: impl FnMut(usize) -> T) -> Result<Storage<T>, AllocError> {
    let mut v = std::vec::Vec::new();
    v.try_reserve_exact(n).map_err(|_| AllocError)?;
    for i in 0..n {
        v.push(f(i));
    }
    Ok(v)
}

/// [`new_storage`] with a fallible `f`: the first error is returned.
pub fn try_new_storage<T>(
    n: usize,
    mut f: impl FnMut(usize) -> Result<T, AllocError>,
) -> Result<Storage<T>, AllocError> {
    let mut v = std::vec::Vec::new();
    v.try_reserve_exact(n).map_err(|_| AllocError)?;
    for i in 0..n {
        v.push(f(i)?);
    }
    Ok(v)
}

/// A mutual-exclusion lock for slow paths; a BH-disabling spinlock in the kernel.
pub struct Lock<T> {
    inner: std::sync::Mutex<T>,
}

impl<T> Lock<T> {
    /// Creates a lock protecting `v`.
    pub fn new(v: T) -> Result<Self, AllocError> {
        Ok(Self {
            inner: std::sync::Mutex::new(v),
        })
    }

    /// Runs `f` with exclusive access to the protected value.
    ///
    /// `f` must not block: the kernel version runs it with bottom halves disabled.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // A panic inside `f` (tests only) must not wedge every later caller.
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}

/// Called by a returner that is still inside pool code after its chunk became visible to
/// others (the window a binding's release must wait out). The kernel can widen it for tests
/// (`nmx_testing_set_return_delay()`); on the host it is a no-op.
#[inline]
pub fn return_window() {}
