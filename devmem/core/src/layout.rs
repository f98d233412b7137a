// SPDX-License-Identifier: GPL-2.0
//! Carving a DMA-mapped scatter-gather table into equal chunks.
//!
//! Segments come in dma-buf order, so chunk `i` covers dma-buf bytes
//! `i * chunk_size .. (i + 1) * chunk_size`. A chunk must be DMA-contiguous, hence every
//! segment's address and length must be multiples of the chunk size: a chunk never straddles
//! two segments and never starts mid-way into one.
//!
//! Zero-length segments are skipped (address unchecked): some IOMMU mappings merge entries and
//! leave empty ones behind, and they contribute no bytes to the dma-buf.

// Also enforced when the kernel module includes this file on its own.
#![forbid(unsafe_code)]

/// One DMA-mapped piece of the dma-buf. Layout shared with C (`struct nmx_shim_segment`):
/// the kernel's scatterlist walk writes these directly.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Device address of the segment.
    pub dma: u64,
    /// Length in bytes.
    pub len: u64,
}

/// Smallest chunk size (one page).
pub const MIN_CHUNK_SIZE: u64 = 4096;
/// Largest chunk size.
pub const MAX_CHUNK_SIZE: u64 = 65536;
const _: () = assert!(core::mem::size_of::<Segment>() == 16);
const _: () = assert!(core::mem::offset_of!(Segment, len) == 8);
// `NMX_MIN_CHUNK_SIZE` and `NMX_MAX_CHUNK_SIZE` in `<nmx/types.h>`.
const _: () = assert!(MIN_CHUNK_SIZE == 4096 && MAX_CHUNK_SIZE == 65536);

/// Why a layout was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutError {
    /// The chunk size is not a power of two between 4 KiB and 64 KiB.
    ChunkSize,
    /// The table has no bytes.
    Empty,
    /// A segment's address or length is not a multiple of the chunk size.
    SegmentNotMultiple {
        /// Position of the segment in the table.
        index: usize,
    },
    /// A segment runs past the end of the 64-bit DMA space.
    SegmentWraps {
        /// Position of the segment in the table.
        index: usize,
    },
    /// More chunks than indices can number, or than the caller allows.
    TooManyChunks,
}

impl LayoutError {
    /// A short explanation, suitable for a netlink extended ack (kept by pointer: static).
    pub fn message(&self) -> &'static core::ffi::CStr {
        match self {
            Self::ChunkSize => c"chunk size must be a power of two from 4096 to 65536",
            Self::Empty => c"dma-buf has no bytes",
            Self::SegmentNotMultiple { .. } => {
                c"dma-buf segment address or length is not a multiple of the chunk size"
            }
            Self::SegmentWraps { .. } => c"dma-buf segment wraps the DMA address space",
            Self::TooManyChunks => c"dma-buf holds too many chunks",
        }
    }
}

impl core::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::SegmentNotMultiple { index } | Self::SegmentWraps { index } => {
                write!(
                    f,
                    "{} (segment {})",
                    self.message().to_str().unwrap_or("?"),
                    index
                )
            }
            _ => f.write_str(self.message().to_str().unwrap_or("?")),
        }
    }
}

/// log2 of a valid chunk size.
pub fn chunk_shift(chunk_size: u64) -> Result<u32, LayoutError> {
    if !chunk_size.is_power_of_two() || !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
        return Err(LayoutError::ChunkSize);
    }
    Ok(chunk_size.trailing_zeros())
}

/// Validates `segs` and counts its chunks, allowing at most `limit`.
pub fn count_chunks_limited(
    segs: &[Segment],
    chunk_size: u64,
    limit: u32,
) -> Result<u32, LayoutError> {
    let shift = chunk_shift(chunk_size)?;
    let mask = chunk_size - 1;
    let mut total: u64 = 0;
    for (index, s) in segs.iter().enumerate() {
        if s.len == 0 {
            continue;
        }
        if s.len & mask != 0 || s.dma & mask != 0 {
            return Err(LayoutError::SegmentNotMultiple { index });
        }
        if s.dma.checked_add(s.len - 1).is_none() {
            return Err(LayoutError::SegmentWraps { index });
        }
        // Checked per segment so the sum cannot overflow before the limit trips.
        total += s.len >> shift;
        if total > u64::from(limit) {
            return Err(LayoutError::TooManyChunks);
        }
    }
    if total == 0 {
        return Err(LayoutError::Empty);
    }
    // `total <= limit <= u32::MAX` here.
    u32::try_from(total).map_err(|_| LayoutError::TooManyChunks)
}

/// Validates `segs` and counts its chunks (at most `u32::MAX`).
pub fn count_chunks(segs: &[Segment], chunk_size: u64) -> Result<u32, LayoutError> {
    count_chunks_limited(segs, chunk_size, u32::MAX)
}

/// Iterator over the DMA addresses of every chunk, in index order.
#[derive(Debug, Clone)]
pub struct Chunks<'a> {
    segs: &'a [Segment],
    seg: usize,
    off: u64,
    size: u64,
    left: u32,
}

impl Iterator for Chunks<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if self.left == 0 {
            return None;
        }
        loop {
            let s = self.segs.get(self.seg)?;
            if self.off < s.len {
                let dma = s.dma + self.off;
                self.off += self.size;
                self.left -= 1;
                return Some(dma);
            }
            self.seg += 1;
            self.off = 0;
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.left as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Chunks<'_> {}

/// Validates `segs` (at most `limit` chunks) and returns an iterator over the chunks' DMA
/// addresses; it yields exactly the counted number of chunks.
pub fn chunks_limited(
    segs: &[Segment],
    chunk_size: u64,
    limit: u32,
) -> Result<Chunks<'_>, LayoutError> {
    let left = count_chunks_limited(segs, chunk_size, limit)?;
    Ok(Chunks {
        segs,
        seg: 0,
        off: 0,
        size: chunk_size,
        left,
    })
}

/// [`chunks_limited`] with the largest possible limit.
pub fn chunks(segs: &[Segment], chunk_size: u64) -> Result<Chunks<'_>, LayoutError> {
    chunks_limited(segs, chunk_size, u32::MAX)
}

/// Validates `segs`, then calls `f(index, dma)` for every chunk in order; returns the count.
/// Nothing is called when the layout is invalid.
pub fn for_each_chunk(
    segs: &[Segment],
    chunk_size: u64,
    mut f: impl FnMut(u32, u64),
) -> Result<u32, LayoutError> {
    let it = chunks(segs, chunk_size)?;
    let n = it.len() as u32;
    for (i, dma) in (0..n).zip(it) {
        f(i, dma);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    const K4: u64 = 4096;
    const K64: u64 = 65536;

    fn seg(dma: u64, len: u64) -> Segment {
        Segment { dma, len }
    }

    fn collect(segs: &[Segment], size: u64) -> Result<Vec<(u32, u64)>, LayoutError> {
        let mut v = Vec::new();
        let n = for_each_chunk(segs, size, |i, d| v.push((i, d)))?;
        assert_eq!(n as usize, v.len());
        assert_eq!(chunks(segs, size)?.collect::<Vec<_>>().len(), v.len());
        Ok(v)
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(chunk_shift(4096), Ok(12));
        assert_eq!(chunk_shift(8192), Ok(13));
        assert_eq!(chunk_shift(65536), Ok(16));
        for bad in [0, 1, 2048, 4095, 4097, 12288, 131072, u64::MAX, 1 << 63] {
            assert_eq!(chunk_shift(bad), Err(LayoutError::ChunkSize), "{bad}");
        }
        assert_eq!(
            count_chunks(&[seg(0, K4)], 3000),
            Err(LayoutError::ChunkSize)
        );
    }

    #[test]
    fn one_big_segment() {
        let v = collect(&[seg(0x10_0000, 1 << 30)], K64).unwrap();
        assert_eq!(v.len(), (1 << 30) / K64 as usize);
        assert_eq!(v[0], (0, 0x10_0000));
        assert_eq!(v[1], (1, 0x10_0000 + K64));
        assert_eq!(*v.last().unwrap(), (16383, 0x10_0000 + (1 << 30) - K64));
    }

    #[test]
    fn many_small_segments() {
        // Reverse-ordered, scattered pages: chunk order follows the table, not addresses.
        let segs: Vec<_> = (0..100u64).map(|i| seg((1000 - i) * K4 * 3, K4)).collect();
        let v = collect(&segs, K4).unwrap();
        assert_eq!(v.len(), 100);
        for (i, &(idx, dma)) in v.iter().enumerate() {
            assert_eq!(idx as usize, i);
            assert_eq!(dma, segs[i].dma);
        }
    }

    #[test]
    fn mixed_sizes_and_empty_segments() {
        let segs = [
            seg(0x4000_0000, 3 * K4),
            seg(0xdead_0000, 0), // skipped, address not checked
            seg(0x1000, K4),
            seg(0x8000_0000, 5 * K4),
        ];
        let v = collect(&segs, K4).unwrap();
        let dmas: Vec<u64> = v.iter().map(|&(_, d)| d).collect();
        assert_eq!(
            dmas,
            [
                0x4000_0000,
                0x4000_1000,
                0x4000_2000,
                0x1000,
                0x8000_0000,
                0x8000_1000,
                0x8000_2000,
                0x8000_3000,
                0x8000_4000
            ]
        );
        assert_eq!(
            count_chunks(&segs, 8192),
            Err(LayoutError::SegmentNotMultiple { index: 0 })
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(count_chunks(&[], K4), Err(LayoutError::Empty));
        assert_eq!(
            count_chunks(&[seg(0, 0), seg(K4, 0)], K4),
            Err(LayoutError::Empty)
        );
        // A chunk would straddle segments 0 and 1.
        assert_eq!(
            count_chunks(&[seg(0, 6 * K4), seg(0x10_0000, 2 * K4)], 4 * K4),
            Err(LayoutError::SegmentNotMultiple { index: 0 })
        );
        // Length fine, address not chunk-aligned.
        assert_eq!(
            count_chunks(&[seg(0, K64), seg(K64 + K4, K64)], K64),
            Err(LayoutError::SegmentNotMultiple { index: 1 })
        );
        assert_eq!(
            count_chunks(&[seg(0x200, K4)], K4),
            Err(LayoutError::SegmentNotMultiple { index: 0 })
        );
        assert_eq!(
            count_chunks(&[seg(u64::MAX - K4 + 1, 2 * K4)], K4),
            Err(LayoutError::SegmentWraps { index: 0 })
        );
        // Ends exactly at the top of the address space: fine.
        assert_eq!(count_chunks(&[seg(u64::MAX - K4 + 1, K4)], K4), Ok(1));
        assert_eq!(
            count_chunks_limited(&[seg(0, 11 * K4)], K4, 10),
            Err(LayoutError::TooManyChunks)
        );
        assert_eq!(count_chunks_limited(&[seg(0, 10 * K4)], K4, 10), Ok(10));
        // 2^32 chunks of 4 KiB (16 TiB) cannot be numbered by a u32 index.
        assert_eq!(
            count_chunks(&[seg(0, 1 << 44)], K4),
            Err(LayoutError::TooManyChunks)
        );
        assert_eq!(count_chunks(&[seg(0, (1 << 44) - K4)], K4), Ok(u32::MAX));
        let mut called = false;
        assert!(for_each_chunk(&[seg(1, K4)], K4, |_, _| called = true).is_err());
        assert!(!called);
    }

    #[test]
    fn messages() {
        let all = [
            LayoutError::ChunkSize,
            LayoutError::Empty,
            LayoutError::SegmentNotMultiple { index: 3 },
            LayoutError::SegmentWraps { index: 3 },
            LayoutError::TooManyChunks,
        ];
        for e in all {
            assert!(!e.message().is_empty());
        }
        let s = std::format!("{}", LayoutError::SegmentNotMultiple { index: 3 });
        assert!(s.ends_with("(segment 3)"), "{s}");
    }
}
