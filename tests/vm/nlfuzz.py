#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Random bind-dmabuf requests (fixed seed, so a failure reproduces): every command id
(valid or not), random attribute types, lengths and payloads, nests inside nests,
plausible values mixed with garbage. Each must get an ack (error or not) and the family
must still answer a well-formed request at the end; ci/vm.sh fails the run on any splat.

Usage: nlfuzz.py [COUNT] [SEED]"""
import collections, os, random, struct, sys

from genlraw import *  # noqa: F401,F403

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 0x6e6d78)
fam = family_id(b"bind-dmabuf")
if fam is None:
    print("bind-dmabuf family not found")
    sys.exit(1)

TYPES = [A_ID, A_IFINDEX, A_QUEUES, A_FD, A_CHUNK, 6, 7, 16, 21, A_MAX_RECORDS, 33, A_TOKENS, 35]


def value():
    return rng.choice([0, 1, 2, 3, 4095, 4096, 65536, 1 << 31, 0xFFFFFFFF, rng.getrandbits(32)])


def payload(depth):
    r = rng.random()
    if r < 0.5:
        return struct.pack("I", value())
    if r < 0.65 and depth < 3:
        return b"".join(one(depth + 1) for _ in range(rng.randint(0, 4)))
    return os.urandom(rng.choice([0, 1, 2, 3, 5, 8, 12, 64]))


def one(depth=0):
    t = rng.choice(TYPES) if rng.random() < 0.85 else rng.randint(0, 0x3FFF)
    if rng.random() < 0.2:
        t |= 0x8000  # NLA_F_NESTED
    return attr(t, payload(depth))


outcomes = collections.Counter()
for i in range(n):
    cmd = rng.choice([1, 2, 3, 4, 5, 0, 6, 0xff])
    body = b"".join(one() for _ in range(rng.randint(0, 6)))
    raw = None
    if rng.random() < 0.05:
        raw = 16 + 4 + rng.randint(0, len(body) + 8)  # nlmsg_len lies about the size
    e, _ = request(fam, cmd, body, raw, timeout=30 if raw is None else 1)
    if e is None and raw is None:
        print(f"request {i} (cmd {cmd}, {len(body)} bytes) got no ack")
        sys.exit(1)
    outcomes["dropped (bad nlmsg_len)" if e is None else os.strerror(e) if e else "ok"] += 1

# The family is still alive and sane: a dump of bindings succeeds (an ack with no error).
e, _ = request(fam, CMD_GET, b"", None)  # do without id: refused, but answered
print(f"{n} random requests: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
print(f"after the fuzz, binding-get without id answers: {os.strerror(e) if e else 'ok'}")
sys.exit(0 if e else 1)
