#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Run the nmx_selftest KTAP suite (netmem core) on a 4 MiB udmabuf.

Runs as root inside the netmem VM, after `insmod nmx_selftest.ko`: makes a
sealed memfd, wraps it in a udmabuf, writes the dma-buf descriptor number to
/sys/kernel/debug/nmx_selftest/run (the suite runs during that write, in this
process, so the descriptor resolves) and prints the KTAP results. Exits 1 if
the write failed (a case failed, or the suite could not start).
"""

import fcntl
import os
import struct
import sys

SIZE = 4 << 20
DEBUGFS = "/sys/kernel/debug/nmx_selftest"

# <linux/udmabuf.h>: _IOW('u', 0x42, struct udmabuf_create) with
# struct udmabuf_create { __u32 memfd; __u32 flags; __u64 offset; __u64 size; }
UDMABUF_CREATE = 0x40187542
UDMABUF_FLAGS_CLOEXEC = 0x01
F_ADD_SEALS = getattr(fcntl, "F_ADD_SEALS", 1033)
F_SEAL_SHRINK = getattr(fcntl, "F_SEAL_SHRINK", 0x0002)


def make_udmabuf(size):
    """Returns (memfd, dmabuf fd) for a udmabuf of `size` bytes."""
    memfd = os.memfd_create("nmx_selftest", os.MFD_ALLOW_SEALING)
    os.ftruncate(memfd, size)
    fcntl.fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK)
    dev = os.open("/dev/udmabuf", os.O_RDWR | os.O_CLOEXEC)
    try:
        arg = bytearray(struct.pack("IIQQ", memfd, UDMABUF_FLAGS_CLOEXEC, 0, size))
        # A mutable buffer makes ioctl() return the call's result: the new fd.
        fd = fcntl.ioctl(dev, UDMABUF_CREATE, arg, True)
    finally:
        os.close(dev)
    return memfd, fd


def main():
    memfd, dmabuf = make_udmabuf(SIZE)
    print(f"selftest: udmabuf fd {dmabuf} ({SIZE} bytes)", flush=True)
    failed = None
    run = os.open(f"{DEBUGFS}/run", os.O_WRONLY)
    try:
        os.write(run, str(dmabuf).encode())
    except OSError as e:
        failed = e
    finally:
        os.close(run)
    with open(f"{DEBUGFS}/results") as f:
        sys.stdout.write(f.read())
    sys.stdout.flush()
    os.close(dmabuf)
    os.close(memfd)
    if failed is not None:
        print(f"selftest: run failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
