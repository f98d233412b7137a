// SPDX-License-Identifier: GPL-2.0
//! A raw generic netlink socket (extended ACKs on, capped errors, large buffers) that
//! sends whole batches as one datagram and drains replies without blocking.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const SOL_NETLINK: libc::c_int = 270;
const NETLINK_EXT_ACK: libc::c_int = 11;
const NETLINK_CAP_ACK: libc::c_int = 10;

pub struct NlSock {
    fd: OwnedFd,
    /// The port id the kernel gave this socket.
    pub port: u32,
}

fn setopt(fd: &OwnedFd, level: libc::c_int, opt: libc::c_int, val: libc::c_int) -> io::Result<()> {
    // SAFETY: `fd` is an open socket; the option value is a live c_int of the given size.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            &val as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl NlSock {
    pub fn open() -> io::Result<Self> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_GENERIC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new fd nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_nl is plain old data; all-zero is a valid value.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        let sl = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: `sa` is a valid sockaddr_nl of length `sl`.
        if unsafe { libc::bind(fd.as_raw_fd(), &sa as *const _ as *const libc::sockaddr, sl) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut len = sl;
        // SAFETY: `sa` and `len` are live and large enough for a sockaddr_nl.
        if unsafe {
            libc::getsockname(
                fd.as_raw_fd(),
                &mut sa as *mut _ as *mut libc::sockaddr,
                &mut len,
            )
        } < 0
        {
            return Err(io::Error::last_os_error());
        }
        setopt(&fd, SOL_NETLINK, NETLINK_EXT_ACK, 1)?;
        setopt(&fd, SOL_NETLINK, NETLINK_CAP_ACK, 1)?;
        // Room for every reply of a batch (root only: the FORCE variants pass rmem_max).
        setopt(&fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 32 << 20)?;
        setopt(&fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, 8 << 20)?;
        Ok(NlSock {
            fd,
            port: sa.nl_pid,
        })
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Sends one datagram to the kernel; the kernel handles every message in it before
    /// this returns, so their replies are queued by then (a dump's later parts excepted).
    pub fn send(&self, buf: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: `buf` is valid for `buf.len()` bytes; the socket is connected to no
            // one, so the default destination (the kernel, port 0) applies.
            let n = unsafe { libc::send(self.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n as usize != buf.len() {
                return Err(io::Error::other(format!("short send {n} of {}", buf.len())));
            }
            return Ok(());
        }
    }

    /// Up to `bufs.len()` queued datagrams in one recvmmsg(2), without waiting; their
    /// lengths (none when nothing is queued). A datagram larger than its buffer is an
    /// error.
    pub fn recv_many(&self, bufs: &mut [Vec<u8>]) -> io::Result<Vec<usize>> {
        let mut iov: Vec<libc::iovec> = bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        let mut hdrs: Vec<libc::mmsghdr> = iov
            .iter_mut()
            .map(|v| {
                // SAFETY: mmsghdr is plain old data; all-zero is a valid value.
                let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
                h.msg_hdr.msg_iov = v;
                h.msg_hdr.msg_iovlen = 1;
                h
            })
            .collect();
        loop {
            // SAFETY: every header points at one live iovec over a live, writable buffer
            // of the stated length; `hdrs` outlives the call.
            let n = unsafe {
                libc::recvmmsg(
                    self.fd.as_raw_fd(),
                    hdrs.as_mut_ptr(),
                    hdrs.len() as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => return Ok(Vec::new()),
                    _ => return Err(e),
                }
            }
            let mut out = Vec::with_capacity(n as usize);
            for h in &hdrs[..n as usize] {
                if h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                    return Err(io::Error::other("a reply datagram was truncated"));
                }
                out.push(h.msg_len as usize);
            }
            return Ok(out);
        }
    }

    /// One queued datagram, or None when nothing is queued. A datagram larger than `buf`
    /// is an error (MSG_TRUNC reports the true size).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::Interrupted => continue,
                    io::ErrorKind::WouldBlock => return Ok(None),
                    _ => return Err(e),
                }
            }
            if n as usize > buf.len() {
                return Err(io::Error::other(format!("datagram of {n} bytes truncated")));
            }
            return Ok(Some(n as usize));
        }
    }
}
