// SPDX-License-Identifier: GPL-2.0
//! The pool's free list: a set of chunk indices below a fixed bound, kept as a bitmap.
//!
//! One bit per chunk instead of a 4-byte stack slot: the free list is the one structure
//! sized by the pool, and its order does not matter (device memory has no CPU cache to keep
//! warm). Not synchronised: the pool keeps it behind its lock. [`IndexSet::take`] scans from
//! where the last take found a member, so refilling a cache costs one word per 64 chunks
//! while the set is dense; a sparse set costs at most one pass over the words (4 KiB per
//! 32 Ki chunks), and an empty one nothing (the count says so first).
//!
//! A set cannot hold an index twice, so a pool bug that frees one chunk twice cannot make
//! the list look complete too early: [`IndexSet::insert`] refuses it and the pool counts it.

// Also enforced when the kernel module includes this file on its own.
#![forbid(unsafe_code)]

use super::platform::{new_storage, AllocError, Storage};

/// Set of `u32` below a bound fixed at creation.
pub struct IndexSet {
    words: Storage<u64>,
    /// Members; kept with every insert and take, checked against the bits by
    /// [`IndexSet::count_bits`].
    len: usize,
    /// Word where the next [`IndexSet::take`] starts looking.
    cursor: usize,
    bound: u32,
}

impl IndexSet {
    /// A set holding every index below `bound`.
    pub fn full(bound: u32) -> Result<Self, AllocError> {
        let n = bound as usize;
        let words = new_storage(n.div_ceil(64), |w| {
            let left = n - w * 64;
            if left >= 64 {
                u64::MAX
            } else {
                (1u64 << left) - 1
            }
        })?;
        Ok(Self {
            words,
            len: n,
            cursor: 0,
            bound,
        })
    }

    /// Adds `i`; gives it back as `Err(i)` when it is out of range or already a member.
    #[inline]
    pub fn insert(&mut self, i: u32) -> Result<(), u32> {
        if i >= self.bound {
            return Err(i);
        }
        let Some(w) = self.words.get_mut(i as usize / 64) else {
            return Err(i);
        };
        let bit = 1u64 << (i % 64);
        if *w & bit != 0 {
            return Err(i);
        }
        *w |= bit;
        self.len += 1;
        Ok(())
    }

    /// Removes and returns a member: the lowest one in the first non-empty word at or after
    /// the cursor (wrapping around).
    pub fn take(&mut self) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let nwords = self.words.len();
        for k in 0..nwords {
            let at = (self.cursor + k) % nwords;
            let Some(w) = self.words.get_mut(at) else {
                break;
            };
            if *w != 0 {
                let bit = w.trailing_zeros();
                *w &= *w - 1;
                self.len -= 1;
                self.cursor = at;
                // `at * 64 + bit < bound <= u32::MAX`: only bits below `bound` are ever set.
                return Some((at * 64) as u32 + bit);
            }
        }
        None
    }

    /// Number of members.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no members.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of set bits, counted from the bitmap (not from `len`).
    pub fn count_bits(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Calls `f` on every member, in increasing order.
    pub fn for_each(&self, mut f: impl FnMut(u32)) {
        for (at, &w) in self.words.iter().enumerate() {
            let mut w = w;
            while w != 0 {
                f((at * 64) as u32 + w.trailing_zeros());
                w &= w - 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::IndexSet;
    use std::vec::Vec;

    fn members(s: &IndexSet) -> Vec<u32> {
        let mut v = Vec::new();
        s.for_each(|i| v.push(i));
        v
    }

    #[test]
    fn full_then_take_all_then_refill() {
        for bound in [0u32, 1, 63, 64, 65, 200] {
            let mut s = IndexSet::full(bound).unwrap();
            assert_eq!((s.len(), s.count_bits()), (bound as usize, bound as usize));
            assert_eq!(members(&s), (0..bound).collect::<Vec<_>>());
            let mut got: Vec<u32> = core::iter::from_fn(|| s.take()).collect();
            assert!(s.is_empty() && s.count_bits() == 0);
            got.sort_unstable();
            assert_eq!(got, (0..bound).collect::<Vec<_>>());
            for i in 0..bound {
                s.insert(i).unwrap();
            }
            assert_eq!(s.len(), bound as usize);
            assert_eq!(s.insert(bound), Err(bound), "out of range");
        }
    }

    #[test]
    fn refuses_duplicates() {
        let mut s = IndexSet::full(100).unwrap();
        assert_eq!(s.insert(5), Err(5));
        assert_eq!(s.take(), Some(0));
        s.insert(0).unwrap();
        assert_eq!(s.insert(0), Err(0));
        assert_eq!((s.len(), s.count_bits()), (100, 100));
    }

    #[test]
    fn take_continues_at_the_cursor_and_wraps() {
        let mut s = IndexSet::full(256).unwrap();
        while s.take().is_some() {}
        // Draining left the cursor at the last word (192..256).
        for i in [3, 130, 200, 255] {
            s.insert(i).unwrap();
        }
        assert_eq!(s.take(), Some(200));
        assert_eq!(s.take(), Some(255));
        s.insert(250).unwrap();
        assert_eq!(s.take(), Some(250));
        // Then around to the first word.
        assert_eq!(s.take(), Some(3));
        s.insert(1).unwrap();
        assert_eq!(s.take(), Some(1));
        assert_eq!(s.take(), Some(130));
        assert_eq!(s.take(), None);
    }
}
