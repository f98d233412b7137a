// SPDX-License-Identifier: GPL-2.0
//! The chunk descriptor shared with C drivers, and its state machine.
//!
//! C drivers see a [`Chunk`] through a C struct of the same layout (`struct nmx_chunk`) and
//! read only `dma` and `magic`. `magic` sits at offset 8, where `struct page` keeps
//! `pp_magic`, so code that peeks at a netmem's magic finds [`DEVMEM_MAGIC`] and never
//! mistakes a chunk for a page_pool page.
//!
//! Every state transition is made here, in Rust: the C call-site helpers call netmem.ko for
//! anything that touches a chunk, so these methods are the single definition of the state
//! machine, and the one the host tests and loom models test.
//!
//! `Free -> Posted` is made by the allocating queue, which owns the free chunk (a relaxed
//! load and store). Every move of a chunk the driver hands back (`Posted -> Free`,
//! `Posted -> Completed`), and every move that can race another party (userspace releasing
//! a token, unbind reclaiming), is a compare-exchange, so a buggy driver's double return or
//! a lost race is detected atomically instead of putting one chunk in two places.

// Also enforced when the kernel module includes this file on its own.
#![forbid(unsafe_code)]

use core::sync::atomic::{AtomicU32, Ordering};

/// `magic` of every devmem chunk.
pub const DEVMEM_MAGIC: u64 = 0xdead_0000_0000_00d0;
/// The value page_pool stores in `pp_magic` (the poison base plus 0x40).
pub const PP_SIGNATURE: u64 = 0xdead_0000_0000_0040;
/// Bits of `pp_magic` page_pool compares with [`PP_SIGNATURE`]; the holes are its low flag
/// bits 0..=1 and the DMA index it keeps in bits 7..=38.
pub const PP_MAGIC_MASK: u64 = 0xffff_ff80_0000_007c;

/// Bit 4 is set in [`DEVMEM_MAGIC`] but lies neither in [`PP_SIGNATURE`], nor in the DMA
/// index field (bits 7..=38), nor in the low bits 0..=3 (flags): no page_pool `pp_magic`
/// value, whatever index and flags it carries, can equal [`DEVMEM_MAGIC`].
const DEVMEM_ONLY_BIT: u64 = 1 << 4;

const _: () = assert!(DEVMEM_MAGIC & PP_MAGIC_MASK != PP_SIGNATURE);
const _: () = assert!(DEVMEM_MAGIC & DEVMEM_ONLY_BIT != 0);
const _: () = assert!(PP_SIGNATURE & DEVMEM_ONLY_BIT == 0);
const _: () = assert!(PP_MAGIC_MASK & DEVMEM_ONLY_BIT != 0);
// Index field bits 7..=38 and low bits 0..=3 avoid bit 4.
const _: () = assert!(((u32::MAX as u64) << 7) & DEVMEM_ONLY_BIT == 0);
const _: () = assert!(0xf & DEVMEM_ONLY_BIT == 0);

/// Where a chunk is in its life.
#[repr(u16)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkState {
    /// In a queue cache, a remote-return ring or the free list.
    Free = 0,
    /// Allocated: owned by the driver or the device.
    Posted = 1,
    /// Received; its record is queued for userspace but not read yet.
    Completed = 2,
    /// Its record was read by userspace; the token is outstanding.
    User = 3,
}

impl ChunkState {
    fn from_raw(v: u32) -> Self {
        // Only values written from a `ChunkState` are ever stored.
        match v {
            0 => Self::Free,
            1 => Self::Posted,
            2 => Self::Completed,
            _ => Self::User,
        }
    }

    /// Whether userspace holds the chunk (its record is queued or its token outstanding).
    pub fn held_by_user(self) -> bool {
        matches!(self, Self::Completed | Self::User)
    }
}

/// `magic` of a pool's header descriptor, which is not a chunk (see [`Chunk::header`]).
pub const HEADER_MAGIC: u64 = 0;

/// State bits of the header descriptor: no transition starts from them.
const HEADER_STATE: u32 = 0xffff;

/// Descriptor of one chunk of device memory. Layout shared with C: do not reorder.
///
/// 24 bytes. There is no back pointer to the binding in each descriptor: a pool's
/// descriptors are one array whose element 0 is a header holding it (the owner), and chunk
/// `i` is element `i + 1`, so the owner is at a fixed distance from every chunk.
#[repr(C)]
pub struct Chunk {
    /// DMA address of the chunk, as mapped for the device; in the header: the owner.
    pub dma: u64,
    /// Always [`DEVMEM_MAGIC`]; at the offset of `struct page`'s `pp_magic`. In the header:
    /// [`HEADER_MAGIC`], so that it never passes for a chunk.
    pub magic: u64,
    /// Index in the pool; chunk `i` starts at dma-buf offset `i << chunk_shift`.
    pub index: u32,
    /// A [`ChunkState`] in bits 0..16 and the queue slot that last allocated the chunk
    /// (where a remote return sends it) in bits 16..32: one word, so that one
    /// compare-exchange checks both who returns a chunk and its state.
    word: AtomicU32,
}

const STATE_MASK: u32 = 0xffff;
const QUEUE_SHIFT: u32 = 16;

#[inline]
fn word(state: ChunkState, queue: u16) -> u32 {
    state as u32 | u32::from(queue) << QUEUE_SHIFT
}

// `struct nmx_chunk`: offsets and size (C reads only `dma` and `magic`; the rest is `priv`),
// `NMX_CHUNK_POSTED`), checked against the same literals as the C `static_assert`s.
const _: () = assert!(core::mem::size_of::<Chunk>() == 24);
const _: () = assert!(core::mem::align_of::<Chunk>() == 8);
const _: () = assert!(core::mem::offset_of!(Chunk, dma) == 0);
const _: () = assert!(core::mem::offset_of!(Chunk, magic) == 8);
const _: () = assert!(core::mem::offset_of!(Chunk, index) == 16);
const _: () = assert!(core::mem::offset_of!(Chunk, word) == 20);
const _: () = assert!(HEADER_MAGIC != DEVMEM_MAGIC);

impl Chunk {
    /// A free chunk with the given index and DMA address.
    pub fn new(index: u32, dma: u64) -> Self {
        Self {
            dma,
            magic: DEVMEM_MAGIC,
            index,
            word: AtomicU32::new(word(ChunkState::Free, 0)),
        }
    }

    /// The header of a pool's descriptor array, carrying `owner` (opaque to the pool) in
    /// `dma`. Its magic is not [`DEVMEM_MAGIC`] and its state bits match no state, so every
    /// check and transition refuses it.
    pub fn header(owner: u64) -> Self {
        Self {
            dma: owner,
            magic: HEADER_MAGIC,
            index: u32::MAX,
            word: AtomicU32::new(HEADER_STATE),
        }
    }

    /// Current state (a snapshot).
    #[inline]
    pub fn state(&self) -> ChunkState {
        ChunkState::from_raw(self.word.load(Ordering::Relaxed) & STATE_MASK)
    }

    /// Queue slot that last allocated the chunk.
    #[inline]
    pub fn queue(&self) -> u16 {
        (self.word.load(Ordering::Relaxed) >> QUEUE_SHIFT) as u16
    }

    /// Single-owner transition: a relaxed load and store, no read-modify-write. Only correct
    /// when nobody else can change the state concurrently. Keeps the queue.
    #[cfg(test)]
    #[inline]
    fn move_owned(&self, from: ChunkState, to: ChunkState) -> Result<(), ChunkState> {
        let cur = self.word.load(Ordering::Relaxed);
        if cur & STATE_MASK != from as u32 {
            return Err(ChunkState::from_raw(cur & STATE_MASK));
        }
        self.word
            .store(cur & !STATE_MASK | to as u32, Ordering::Relaxed);
        Ok(())
    }

    /// Racing transition: exactly one of several contenders succeeds. Keeps the queue.
    #[inline]
    fn move_shared(&self, from: ChunkState, to: ChunkState) -> Result<(), ChunkState> {
        let cur = self.word.load(Ordering::Relaxed);
        if cur & STATE_MASK != from as u32 {
            return Err(ChunkState::from_raw(cur & STATE_MASK));
        }
        self.word
            .compare_exchange(
                cur,
                cur & !STATE_MASK | to as u32,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .map(|_| ())
            .map_err(|w| ChunkState::from_raw(w & STATE_MASK))
    }

    /// Free -> Posted by the allocating queue, which owns the free chunk.
    #[inline]
    pub(crate) fn alloc_owned(&self, queue: u16) -> Result<(), ChunkState> {
        let cur = self.word.load(Ordering::Relaxed);
        if cur & STATE_MASK != ChunkState::Free as u32 {
            return Err(ChunkState::from_raw(cur & STATE_MASK));
        }
        self.word
            .store(word(ChunkState::Posted, queue), Ordering::Relaxed);
        Ok(())
    }

    /// Posted -> Free by queue `queue`, the one that allocated the chunk, in one
    /// compare-exchange; on failure the word found (another queue's chunk, or not Posted).
    #[inline]
    pub(crate) fn free_by_queue(&self, queue: u16) -> Result<(), (ChunkState, u16)> {
        self.word
            .compare_exchange(
                word(ChunkState::Posted, queue),
                word(ChunkState::Free, queue),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .map(|_| ())
            .map_err(|w| {
                (
                    ChunkState::from_raw(w & STATE_MASK),
                    (w >> QUEUE_SHIFT) as u16,
                )
            })
    }

    #[cfg(test)]
    /// Posted -> Free by the driver returning its own buffer in NAPI context.
    #[inline]
    pub(crate) fn free_owned(&self) -> Result<(), ChunkState> {
        self.move_owned(ChunkState::Posted, ChunkState::Free)
    }

    /// Posted -> Free from any context; a concurrent double put is caught. Returns the queue
    /// that allocated the chunk (read in the same compare-exchange).
    pub(crate) fn free_shared(&self) -> Result<u16, ChunkState> {
        let cur = self.word.load(Ordering::Relaxed);
        if cur & STATE_MASK != ChunkState::Posted as u32 {
            return Err(ChunkState::from_raw(cur & STATE_MASK));
        }
        self.word
            .compare_exchange(
                cur,
                cur & !STATE_MASK | ChunkState::Free as u32,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .map(|w| (w >> QUEUE_SHIFT) as u16)
            .map_err(|w| ChunkState::from_raw(w & STATE_MASK))
    }

    #[cfg(test)]
    /// Posted -> Completed by the driver that received into it.
    pub(crate) fn complete_owned(&self) -> Result<(), ChunkState> {
        self.move_owned(ChunkState::Posted, ChunkState::Completed)
    }

    /// Posted -> Completed from any context; a completion racing a return is caught.
    pub(crate) fn complete_shared(&self) -> Result<(), ChunkState> {
        self.move_shared(ChunkState::Posted, ChunkState::Completed)
    }

    /// User -> Completed: a delivery that did not reach the user is taken back.
    pub(crate) fn undeliver(&self) -> Result<(), ChunkState> {
        self.move_shared(ChunkState::User, ChunkState::Completed)
    }

    /// Completed -> User when userspace reads the record; races with unbind.
    pub(crate) fn deliver(&self) -> Result<(), ChunkState> {
        self.move_shared(ChunkState::Completed, ChunkState::User)
    }

    /// User -> Free when userspace releases the token; a double release fails here.
    pub(crate) fn release(&self) -> Result<(), ChunkState> {
        self.move_shared(ChunkState::User, ChunkState::Free)
    }

    /// Completed -> Free, dropping an undelivered record.
    pub(crate) fn drop_completed(&self) -> Result<(), ChunkState> {
        self.move_shared(ChunkState::Completed, ChunkState::Free)
    }

    /// Completed or User -> Free after unbind; the state it left if this caller made the
    /// move.
    pub(crate) fn reclaim(&self) -> Option<ChunkState> {
        if self.drop_completed().is_ok() {
            Some(ChunkState::Completed)
        } else if self.release().is_ok() {
            Some(ChunkState::User)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_c() {
        assert_eq!(core::mem::size_of::<Chunk>(), 24);
        assert_eq!(core::mem::align_of::<Chunk>(), 8);
        assert_eq!(core::mem::offset_of!(Chunk, dma), 0);
        assert_eq!(core::mem::offset_of!(Chunk, magic), 8);
        assert_eq!(core::mem::offset_of!(Chunk, index), 16);
        assert_eq!(core::mem::offset_of!(Chunk, word), 20);
    }

    #[test]
    fn magic_never_looks_like_page_pool() {
        assert_ne!(DEVMEM_MAGIC & PP_MAGIC_MASK, PP_SIGNATURE);
        // Sample the 32-bit index space (edges, every single bit, a stride) with every low
        // flag combination; the const asserts above cover the rest by the bit-4 argument.
        let mut samples = [0u64; 64 + 2];
        for (bit, s) in samples.iter_mut().take(32).enumerate() {
            *s = 1 << bit;
        }
        for (bit, s) in samples.iter_mut().skip(32).take(32).enumerate() {
            *s = u64::from(u32::MAX) ^ (1 << bit);
        }
        samples[64] = 0;
        samples[65] = u64::from(u32::MAX);
        let strided = (0..=u64::from(u32::MAX)).step_by(65_537);
        for i in samples.iter().copied().chain(strided) {
            for low in 0..=3u64 {
                let pp = PP_SIGNATURE | (i << 7) | low;
                assert_ne!(pp, DEVMEM_MAGIC, "index {i:#x} low {low:#x}");
                // Sanity: a genuine page_pool value passes page_pool's check, ours does not.
                assert_eq!(pp & PP_MAGIC_MASK, PP_SIGNATURE);
            }
        }
    }

    #[test]
    fn owned_transitions() {
        let c = Chunk::new(7, 0x1000);
        assert_eq!((c.index, c.dma, c.magic), (7, 0x1000, DEVMEM_MAGIC));
        assert_eq!(c.state(), ChunkState::Free);
        assert_eq!(c.free_owned(), Err(ChunkState::Free));
        c.alloc_owned(3).unwrap();
        assert_eq!((c.state(), c.queue()), (ChunkState::Posted, 3));
        assert_eq!(c.alloc_owned(4), Err(ChunkState::Posted));
        assert_eq!(c.queue(), 3);
        c.free_owned().unwrap();
        assert_eq!(c.free_shared(), Err(ChunkState::Free));
        c.alloc_owned(1).unwrap();
        assert_eq!(c.free_shared(), Ok(1));
        assert_eq!(c.state(), ChunkState::Free);
    }

    #[test]
    fn header_refuses_every_transition() {
        let h = Chunk::header(0xabc);
        assert_eq!((h.dma, h.magic), (0xabc, HEADER_MAGIC));
        assert!(h.alloc_owned(0).is_err());
        assert!(h.free_by_queue(0).is_err());
        assert!(h.free_shared().is_err());
        assert!(h.complete_shared().is_err());
        assert!(h.deliver().is_err() && h.undeliver().is_err());
        assert!(h.release().is_err() && h.drop_completed().is_err());
        assert_eq!(h.reclaim(), None);
    }

    #[test]
    fn user_transitions() {
        let c = Chunk::new(0, 0);
        assert_eq!(c.complete_owned(), Err(ChunkState::Free));
        c.alloc_owned(0).unwrap();
        c.complete_owned().unwrap();
        assert!(c.state().held_by_user());
        assert_eq!(c.release(), Err(ChunkState::Completed));
        c.deliver().unwrap();
        assert_eq!(c.deliver(), Err(ChunkState::User));
        c.release().unwrap();
        assert_eq!(c.release(), Err(ChunkState::Free));
        assert_eq!(c.reclaim(), None);
        c.alloc_owned(0).unwrap();
        assert_eq!(c.reclaim(), None);
        c.complete_owned().unwrap();
        assert_eq!(c.reclaim(), Some(ChunkState::Completed));
        assert_eq!(c.state(), ChunkState::Free);
    }
}
