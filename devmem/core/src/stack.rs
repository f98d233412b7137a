// SPDX-License-Identifier: GPL-2.0
//! Fixed-capacity LIFO of `u32` indices.
//!
//! Not synchronised: it is either owned by one NAPI context (the per-queue cache) or kept
//! behind the pool's lock (the shared free list). LIFO keeps recently used entries close,
//! and push/pop are a bounds check and a move.

// Also enforced when the kernel module includes this file on its own.
#![forbid(unsafe_code)]

use super::platform::{new_storage, AllocError, Storage};

/// Fixed-capacity stack of `u32`, allocated once.
pub struct IndexStack {
    slots: Storage<u32>,
    len: usize,
}

impl IndexStack {
    /// Creates an empty stack able to hold `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Result<Self, AllocError> {
        Ok(Self {
            slots: new_storage(capacity, |_| 0)?,
            len: 0,
        })
    }

    /// Pushes `v`; gives it back as `Err(v)` when full.
    #[inline]
    pub fn push(&mut self, v: u32) -> Result<(), u32> {
        match self.slots.get_mut(self.len) {
            Some(slot) => {
                *slot = v;
                self.len += 1;
                Ok(())
            }
            None => Err(v),
        }
    }

    /// Pops the most recently pushed entry.
    #[inline]
    pub fn pop(&mut self) -> Option<u32> {
        let n = self.len.checked_sub(1)?;
        self.len = n;
        self.slots.get(n).copied()
    }

    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no entries.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether no further entry fits.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len >= self.slots.len()
    }

    /// Maximum number of entries.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Room left.
    #[inline]
    pub fn room(&self) -> usize {
        self.capacity() - self.len
    }

    /// The entries, oldest first.
    pub fn as_slice(&self) -> &[u32] {
        self.slots.get(..self.len).unwrap_or(&[])
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::IndexStack;

    #[test]
    fn lifo_and_bounds() {
        let mut s = IndexStack::with_capacity(3).unwrap();
        assert!(s.is_empty() && !s.is_full());
        assert_eq!(s.capacity(), 3);
        assert_eq!(s.pop(), None);
        s.push(1).unwrap();
        s.push(2).unwrap();
        s.push(3).unwrap();
        assert!(s.is_full());
        assert_eq!(s.room(), 0);
        assert_eq!(s.push(4), Err(4));
        assert_eq!(s.as_slice(), &[1, 2, 3]);
        assert_eq!(s.pop(), Some(3));
        assert_eq!(s.len(), 2);
        s.push(5).unwrap();
        assert_eq!(s.pop(), Some(5));
        assert_eq!(s.pop(), Some(2));
        assert_eq!(s.pop(), Some(1));
        assert_eq!(s.pop(), None);
        assert!(s.is_empty());
        s.push(7).unwrap();
        s.clear();
        assert!(s.is_empty());
    }

    #[test]
    fn zero_capacity() {
        let mut s = IndexStack::with_capacity(0).unwrap();
        assert!(s.is_full() && s.is_empty());
        assert_eq!(s.push(1), Err(1));
        assert_eq!(s.pop(), None);
    }
}
