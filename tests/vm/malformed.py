#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Malformed bind-dmabuf requests, hand-built (ynl and netmemctl cannot send them):
each must be refused with an error, and nothing may splat (ci/vm.sh watches the log)."""
import os, struct, sys

from genlraw import *  # noqa: F401,F403 (ids, attr(), u32(), request(), family_id())

fam = family_id(b"bind-dmabuf")
if fam is None:
    print("bind-dmabuf family not found")
    sys.exit(1)

queue1 = attr(A_QUEUES | 0x8000, u32(Q_ID, 1) + u32(Q_TYPE, 0))
cases = [
    ("no attributes", CMD_BIND, b"", None),
    ("missing fd", CMD_BIND, u32(A_IFINDEX, 1) + queue1, None),
    ("missing queues", CMD_BIND, u32(A_IFINDEX, 1) + u32(A_FD, 0), None),
    ("ifindex 0 (policy min 1)", CMD_BIND, u32(A_IFINDEX, 0) + queue1 + u32(A_FD, 0), None),
    ("u16 where a u32 belongs", CMD_BIND, attr(A_IFINDEX, struct.pack("H", 1)) + queue1 + u32(A_FD, 0), None),
    ("u64 where a u32 belongs", CMD_GET, attr(A_ID, struct.pack("Q", 1)), None),
    ("duplicate ifindex, fd not a dma-buf", CMD_BIND, u32(A_IFINDEX, 1) + u32(A_IFINDEX, 1) + queue1 + u32(A_FD, 0), None),
    ("unknown attribute type", CMD_BIND, u32(A_IFINDEX, 1) + u32(200, 1) + queue1 + u32(A_FD, 0), None),
    ("queue nest without type", CMD_BIND, u32(A_IFINDEX, 1) + attr(A_QUEUES | 0x8000, u32(Q_ID, 1)) + u32(A_FD, 0), None),
    ("queues not a nest (u32)", CMD_BIND, u32(A_IFINDEX, 1) + u32(A_QUEUES, 1) + u32(A_FD, 0), None),
    ("attribute longer than the message", CMD_BIND, struct.pack("HH", 64, A_IFINDEX) + b"\1\0\0\0", None),
    ("truncated attribute header", CMD_BIND, b"\x08\x00", None),
    ("max-records 0 (policy 1..1024)", CMD_READ, u32(A_ID, 1) + u32(A_MAX_RECORDS, 0), None),
    ("1025 tokens", CMD_RELEASE, u32(A_ID, 1) + b"".join(u32(A_TOKENS, i) for i in range(1025)), None),
    ("unbind of id 0", CMD_UNBIND, u32(A_ID, 0), None),
    ("chunk size 1", CMD_BIND, u32(A_IFINDEX, 1) + queue1 + u32(A_FD, 0) + u32(A_CHUNK, 1), None),
]
bad = 0
for name, cmd, body, raw in cases:
    e, _ = request(fam, cmd, body, raw)
    verdict = "refused" if e else "ACCEPTED"
    print(f"{name}: {verdict} ({os.strerror(e) if e else 'no error'})")
    bad += e == 0
sys.exit(1 if bad else 0)
