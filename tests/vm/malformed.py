#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Malformed bind-dmabuf requests, hand-built (ynl and netmemctl cannot send them):
each must be refused with an error, and nothing may splat (ci/vm.sh watches the log)."""
import os, socket, struct, sys

NETLINK_GENERIC = 16
NLM_F_REQUEST, NLM_F_ACK = 1, 4
GENL_ID_CTRL, CTRL_CMD_GETFAMILY = 0x10, 3
CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 1, 2
# Ids from shim/include/uapi/linux/bind-dmabuf.h (the CLI's tests check the same ids).
CMD_BIND, CMD_UNBIND, CMD_GET, CMD_READ, CMD_RELEASE = 1, 2, 3, 4, 5
A_ID, A_IFINDEX, A_QUEUES, A_FD, A_CHUNK = 1, 2, 3, 4, 5
A_MAX_RECORDS, A_TOKENS = 32, 34
Q_ID, Q_TYPE = 1, 2


def attr(t, payload):
    n = 4 + len(payload)
    return struct.pack("HH", n, t) + payload + b"\0" * ((4 - n % 4) % 4)


def u32(t, v):
    return attr(t, struct.pack("I", v))


s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
s.bind((0, 0))
seq = [0]


def request(family, cmd, body, raw_len=None):
    seq[0] += 1
    payload = struct.pack("BBH", cmd, 1, 0) + body
    n = 16 + len(payload) if raw_len is None else raw_len
    s.send(struct.pack("IHHII", n, family, NLM_F_REQUEST | NLM_F_ACK, seq[0], 0) + payload)
    while True:
        data = s.recv(65536)
        off = 0
        while off < len(data):
            ln, typ, _, sq, _ = struct.unpack_from("IHHII", data, off)
            if typ == 2 and sq == seq[0]:
                return -struct.unpack_from("i", data, off + 16)[0], data[off:off + ln]
            off += (ln + 3) & ~3


def family_id(name):
    """CTRL_CMD_GETFAMILY: the reply carries CTRL_ATTR_FAMILY_ID."""
    seq[0] += 1
    payload = struct.pack("BBH", CTRL_CMD_GETFAMILY, 1, 0) + attr(CTRL_ATTR_FAMILY_NAME, name + b"\0")
    s.send(struct.pack("IHHII", 16 + len(payload), GENL_ID_CTRL, NLM_F_REQUEST, seq[0], 0) + payload)
    data = s.recv(65536)
    ln, typ = struct.unpack_from("IH", data, 0)
    off = 20
    while typ == GENL_ID_CTRL and off + 4 <= ln:
        alen, t = struct.unpack_from("HH", data, off)
        if t == CTRL_ATTR_FAMILY_ID:
            return struct.unpack_from("H", data, off + 4)[0]
        off += (alen + 3) & ~3
    return None


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
