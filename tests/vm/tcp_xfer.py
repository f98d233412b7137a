#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""TCP transfer from netns a to netns b over the test NIC, checksummed.

Usage: tcp_xfer.py DST_IP [BYTES]. The server socket is created in netns b and the
client in netns a from one process (setns switches the calling thread; sockets keep the
netns they were created in), so only one Python starts under the slow VM."""
import ctypes, hashlib, os, socket, sys, threading

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


def enter(ns):
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), f"setns {ns}")
    os.close(fd)


def main():
    dst = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 1 << 20
    data = os.urandom(size)
    enter("b")
    srv = socket.create_server((dst, 5201))
    got = hashlib.sha256()
    n = [0]

    def serve():
        c, _ = srv.accept()
        while True:
            b = c.recv(65536)
            if not b:
                break
            got.update(b)
            n[0] += len(b)
        c.close()

    t = threading.Thread(target=serve)
    t.start()
    enter("a")
    cli = socket.create_connection((dst, 5201), timeout=60)
    cli.sendall(data)
    cli.close()
    t.join(120)
    ok = n[0] == size and got.digest() == hashlib.sha256(data).digest()
    print(f"{n[0]} of {size} bytes, sha256 {'matches' if ok else 'DIFFERS'}")
    sys.exit(0 if ok else 1)


main()
