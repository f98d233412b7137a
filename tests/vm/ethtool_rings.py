#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`ethtool -g/-G` through the SIOCETHTOOL ioctl, for a guest without the ethtool binary
(and a kernel without ETHTOOL_NETLINK).

    ethtool_rings.py IFNAME                          print the ring sizes
    ethtool_rings.py IFNAME rx N [rx-jumbo N] ...     set them (rx, rx-mini, rx-jumbo, tx)

A refusal prints the errno name in brackets ("[EBUSY]"), like netmemctl.
"""
import ctypes
import errno
import fcntl
import socket
import struct
import sys

SIOCETHTOOL = 0x8946
ETHTOOL_GRINGPARAM = 0x10
ETHTOOL_SRINGPARAM = 0x11
# struct ethtool_ringparam: cmd, then the four maxima, then the four current sizes.
FIELDS = ("rx-max", "rx-mini-max", "rx-jumbo-max", "tx-max", "rx", "rx-mini", "rx-jumbo", "tx")


def ringparam(sock, ifname, cmd, values=None):
    buf = ctypes.create_string_buffer(struct.pack("9I", cmd, *(values or [0] * 8)))
    # struct ifreq: 16-byte name, then a union whose ifr_data points at the request.
    ifr = struct.pack("16sQ16x", ifname.encode(), ctypes.addressof(buf))
    fcntl.ioctl(sock, SIOCETHTOOL, ifr)
    return list(struct.unpack("9I", buf.raw[:36])[1:])


def main(argv):
    if len(argv) < 2 or len(argv) % 2:
        sys.exit(__doc__)
    ifname, pairs = argv[1], argv[2:]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        cur = ringparam(sock, ifname, ETHTOOL_GRINGPARAM)
        if pairs:
            for name, val in zip(pairs[::2], pairs[1::2]):
                if name not in FIELDS[4:]:
                    sys.exit(f"unknown ring {name!r}: one of {', '.join(FIELDS[4:])}")
                cur[FIELDS.index(name)] = int(val)
            ringparam(sock, ifname, ETHTOOL_SRINGPARAM, cur)
            cur = ringparam(sock, ifname, ETHTOOL_GRINGPARAM)
    except OSError as e:
        print(f"{ifname}: {'set' if pairs else 'get'} ring sizes: {e.strerror} "
              f"[{errno.errorcode.get(e.errno, e.errno)}]", file=sys.stderr)
        return 1
    print(" ".join(f"{k} {v}" for k, v in zip(FIELDS, cur)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
