// SPDX-License-Identifier: GPL-2.0
//! dma-buf helpers: a udmabuf over a sealed memfd (as the kernel selftest
//! ncdevmem does), a read-only CPU view of the buffer, and CPU-access
//! bracketing with DMA_BUF_IOCTL_SYNC.

use std::ffi::c_void;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;

use anyhow::{bail, Context, Result};
use nix::fcntl::{fcntl, FcntlArg, OFlag, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};
use nix::sys::stat::Mode;
use nix::unistd::{ftruncate, lseek, Whence};

/// struct udmabuf_create (include/uapi/linux/udmabuf.h)
#[repr(C)]
#[derive(Debug, Default)]
pub struct UdmabufCreate {
    pub memfd: u32,
    pub flags: u32,
    pub offset: u64,
    pub size: u64,
}

/// UDMABUF_FLAGS_CLOEXEC
pub const UDMABUF_FLAGS_CLOEXEC: u32 = 0x01;

/// struct dma_buf_sync (include/uapi/linux/dma-buf.h)
#[repr(C)]
#[derive(Debug, Default)]
pub struct DmaBufSync {
    pub flags: u64,
}

pub const DMA_BUF_SYNC_READ: u64 = 1;
pub const DMA_BUF_SYNC_START: u64 = 0;
pub const DMA_BUF_SYNC_END: u64 = 1 << 2;

// UDMABUF_CREATE = _IOW('u', 0x42, struct udmabuf_create)
nix::ioctl_write_ptr!(udmabuf_create_ioctl, b'u', 0x42, UdmabufCreate);
// DMA_BUF_IOCTL_SYNC = _IOW('b', 0, struct dma_buf_sync)
nix::ioctl_write_ptr!(dma_buf_sync_ioctl, b'b', 0, DmaBufSync);

/// ioctl request number of UDMABUF_CREATE (for tests).
pub const UDMABUF_CREATE: u64 =
    nix::request_code_write!(b'u', 0x42, std::mem::size_of::<UdmabufCreate>()) as u64;

/// Parse a size like `4096`, `64K`, `16M`, `1G` (binary multiples).
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("bad size suffix in {s:?} (K, M or G)")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| format!("bad size {s:?}"))?;
    n.checked_mul(mult)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("bad size {s:?}"))
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if v > 0 {
        v as u64
    } else {
        4096
    }
}

/// A read-only shared mapping.
pub struct Mapping {
    ptr: NonNull<c_void>,
    len: usize,
}

impl Mapping {
    /// Map `len` bytes of `fd` read-only and shared.
    pub fn new(fd: BorrowedFd<'_>, len: usize) -> Result<Self> {
        let nz = NonZeroUsize::new(len).context("cannot map an empty buffer")?;
        // SAFETY: a fresh mapping chosen by the kernel; nothing else aliases it
        // from Rust's point of view and it is unmapped in Drop.
        let ptr = unsafe { mmap(None, nz, ProtFlags::PROT_READ, MapFlags::MAP_SHARED, fd, 0) }
            .context("mmap")?;
        Ok(Mapping { ptr, len })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes `offset..offset+len`, or None if out of range.
    ///
    /// The device may write the buffer concurrently in principle; the kernel
    /// only hands out records for chunks it no longer writes to, so the bytes
    /// of a record are stable until the record's token is released.
    pub fn get(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(len)?;
        if end > self.len {
            return None;
        }
        // SAFETY: in bounds of a live PROT_READ mapping of `self.len` bytes.
        Some(unsafe {
            std::slice::from_raw_parts((self.ptr.as_ptr() as *const u8).add(start), len)
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: mapped in new() with this length.
        let _ = unsafe { munmap(self.ptr, self.len) };
    }
}

/// A dma-buf to bind, with the CPU view used to verify received bytes.
pub struct DmaBuf {
    /// The dma-buf fd handed to the kernel.
    pub fd: OwnedFd,
    /// Backing memfd of a udmabuf (None for a dma-buf from elsewhere).
    pub memfd: Option<OwnedFd>,
    pub size: u64,
}

impl DmaBuf {
    /// memfd_create("netmem", MFD_ALLOW_SEALING), ftruncate, F_SEAL_SHRINK,
    /// then UDMABUF_CREATE on /dev/udmabuf. `size` is rounded up to pages.
    pub fn udmabuf(size: u64) -> Result<Self> {
        let page = page_size();
        let size = size
            .checked_next_multiple_of(page)
            .context("udmabuf size overflows")?;
        let memfd = memfd_create(
            "netmem",
            MFdFlags::MFD_ALLOW_SEALING | MFdFlags::MFD_CLOEXEC,
        )
        .context("memfd_create")?;
        ftruncate(&memfd, size as i64).context("ftruncate memfd")?;
        fcntl(&memfd, FcntlArg::F_ADD_SEALS(SealFlag::F_SEAL_SHRINK))
            .context("fcntl(F_ADD_SEALS, F_SEAL_SHRINK)")?;
        let dev = nix::fcntl::open(
            "/dev/udmabuf",
            OFlag::O_RDWR | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .context("open /dev/udmabuf (is CONFIG_UDMABUF enabled?)")?;
        let req = UdmabufCreate {
            memfd: memfd.as_raw_fd() as u32,
            flags: UDMABUF_FLAGS_CLOEXEC,
            offset: 0,
            size,
        };
        // SAFETY: `req` is a valid struct udmabuf_create for the ioctl's duration.
        let fd = unsafe { udmabuf_create_ioctl(dev.as_raw_fd(), &req) }
            .context("ioctl UDMABUF_CREATE")?;
        // SAFETY: on success the ioctl returns a new fd that we now own.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        Ok(DmaBuf {
            fd,
            memfd: Some(memfd),
            size,
        })
    }

    /// An existing dma-buf fd (inherited by this process). Its size is
    /// found by seeking to its end, which dma-bufs support.
    pub fn from_fd(fd: i32) -> Result<Self> {
        // Duplicate so that the original stays with whoever passed it.
        // SAFETY: the caller names an fd open in this process; it is only
        // borrowed to duplicate it.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let owned = borrowed
            .try_clone_to_owned()
            .with_context(|| format!("dma-buf fd {fd}"))?;
        let size = lseek(&owned, 0, Whence::SeekEnd)
            .with_context(|| format!("size of dma-buf fd {fd}"))?;
        let _ = lseek(&owned, 0, Whence::SeekSet);
        if size <= 0 {
            bail!("dma-buf fd {fd} has no size");
        }
        Ok(DmaBuf {
            fd: owned,
            memfd: None,
            size: size as u64,
        })
    }

    /// CPU view: the memfd of a udmabuf, else the dma-buf itself.
    pub fn map(&self) -> Result<Mapping> {
        let len = usize::try_from(self.size).context("dma-buf too large to map")?;
        match &self.memfd {
            Some(m) => Mapping::new(m.as_fd(), len).context("mmap of the udmabuf memfd"),
            None => Mapping::new(self.fd.as_fd(), len).context("mmap of the dma-buf"),
        }
    }

    /// DMA_BUF_IOCTL_SYNC: bracket CPU reads (`start` true before, false
    /// after).
    pub fn sync_read(&self, start: bool) -> nix::Result<()> {
        let s = DmaBufSync {
            flags: DMA_BUF_SYNC_READ
                | if start {
                    DMA_BUF_SYNC_START
                } else {
                    DMA_BUF_SYNC_END
                },
        };
        // SAFETY: valid struct dma_buf_sync for the ioctl's duration.
        unsafe { dma_buf_sync_ioctl(self.fd.as_raw_fd(), &s) }.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers() {
        // _IOW('u', 0x42, 24 bytes) and _IOW('b', 0, 8 bytes) on x86/arm
        assert_eq!(std::mem::size_of::<UdmabufCreate>(), 24);
        assert_eq!(UDMABUF_CREATE, 0x4018_7542);
        assert_eq!(
            nix::request_code_write!(b'b', 0, std::mem::size_of::<DmaBufSync>()) as u64,
            0x4008_6200
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("16m"), Ok(16 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12X").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn memfd_mapping_sees_writes() {
        use std::fs::File;
        use std::io::Write;
        let memfd = memfd_create("netmem-test", MFdFlags::MFD_CLOEXEC).unwrap();
        ftruncate(&memfd, 8192).unwrap();
        let mut f = File::from(memfd.try_clone().unwrap());
        let map = Mapping::new(memfd.as_fd(), 8192).unwrap();
        use std::io::{Seek, SeekFrom};
        f.seek(SeekFrom::Start(5000)).unwrap();
        f.write_all(b"NMX1").unwrap();
        assert_eq!(map.get(5000, 4), Some(&b"NMX1"[..]));
        assert_eq!(map.get(8190, 4), None);
        assert_eq!(map.get(u64::MAX, 1), None);
        assert_eq!(map.len(), 8192);
    }
}
