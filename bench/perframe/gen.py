#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Host-side traffic generator for bench/vmxnet3-perframe.sh.

Sends raw Ethernet frames, one per UDP datagram, to QEMU's `-netdev socket,udp=...`
backend (QEMU's localaddr port), which puts each on a QEMU hub that copies it to both
vmxnet3 NICs: the same frames at the same moments to the unpatched and the patched driver.
Frames: unicast to --dst-mac, ethertype 0x88b5 (IEEE local experimental: no protocol
handler in the guest, so the stack drops it right after the driver hands it up, inside
the NAPI poll), --size bytes in all, a sequence number in the payload.

The guest controls it through a file (--ctl, on the 9p-shared repo): "run" sends at
--rate frames/s, anything else pauses, "stop" exits. It also listens on --sink (where
QEMU sends what the guest transmits) and counts those frames: the measurement wants 0.
At exit it prints one JSON line: frames sent, guest frames seen.
"""
import argparse
import json
import socket
import struct
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True, help="QEMU's localaddr UDP port")
    ap.add_argument("--sink", type=int, required=True, help="QEMU's udp= (destination) port")
    ap.add_argument("--ctl", required=True)
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--size", type=int, default=1414)
    ap.add_argument("--dst-mac", default="52:54:00:6e:6d:21")
    ap.add_argument("--max-seconds", type=float, default=3600.0)
    a = ap.parse_args()

    dst = bytes(int(x, 16) for x in a.dst_mac.split(":"))
    src = bytes([0x52, 0x54, 0x00, 0x6E, 0x6D, 0xFE])
    hdr = dst + src + struct.pack("!H", 0x88B5)
    body_len = max(a.size - len(hdr), 46)

    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", a.sink))
    rx.setblocking(False)

    sent = 0
    guest_frames = 0
    state = ""
    t_end = time.monotonic() + a.max_seconds
    next_check = 0.0
    period = 1.0 / a.rate
    next_send = time.monotonic()
    while time.monotonic() < t_end:
        now = time.monotonic()
        if now >= next_check:
            next_check = now + 0.05
            try:
                with open(a.ctl) as f:
                    new = f.read().strip()
            except OSError:
                new = ""
            if new == "stop":
                break
            if new == "run" and state != "run":
                next_send = now
            state = new
            while True:
                try:
                    rx.recv(65536)
                    guest_frames += 1
                except BlockingIOError:
                    break
        if state != "run":
            time.sleep(0.01)
            continue
        if now < next_send:
            time.sleep(min(next_send - now, 0.01))
            continue
        payload = struct.pack("!Q", sent) + bytes(body_len - 8)
        try:
            tx.sendto(hdr + payload, ("127.0.0.1", a.port))
            sent += 1
        except OSError:
            pass
        next_send += period
        # Never make up for a long stall with a burst larger than a few frames.
        if now - next_send > 4 * period:
            next_send = now
    print(json.dumps({"sent": sent, "guest_frames": guest_frames}), flush=True)


if __name__ == "__main__":
    main()
