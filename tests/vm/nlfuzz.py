#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Random bind-dmabuf requests (fixed seed, so a failure reproduces): every command id
(valid or not), random attribute types, lengths and payloads, nests inside nests,
plausible values mixed with garbage. Each must get an ack (error or not) and the family
must still answer a well-formed request at the end; ci/vm.sh fails the run on any splat.

Usage: nlfuzz.py [COUNT] [SEED]"""
import collections, os, random, socket, struct, sys

from genlraw import *  # noqa: F401,F403

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 0x6e6d78)
fam = family_id(b"bind-dmabuf")
if fam is None:
    print("bind-dmabuf family not found")
    sys.exit(1)

# A real binding owned by this socket (on nmxt1 queue 3, which carries no traffic here),
# so random ids, token releases and reads also reach a live pool.
from selftest import make_udmabuf  # noqa: E402

memfd, dmabuf = make_udmabuf(1 << 20)
queue3 = attr(A_QUEUES | 0x8000, u32(Q_ID, 3) + u32(Q_TYPE, 0))
e, rep = request(fam, CMD_BIND, u32(A_IFINDEX, socket.if_nametoindex("nmxt1")) + queue3 + u32(A_FD, dmabuf))
if e:
    print(f"setup bind failed: {os.strerror(e)}")
    sys.exit(1)
live = struct.unpack("I", reply_attrs(rep)[A_ID])[0]

TYPES = [A_ID, A_IFINDEX, A_QUEUES, A_FD, A_CHUNK, 6, 7, 16, 21, A_MAX_RECORDS, 33, A_TOKENS, 35]


def value():
    return rng.choice([0, 1, 2, 3, live, live, 255, 256, 4095, 4096, 65536, 1 << 31,
                       0xFFFFFFFF, rng.getrandbits(32)])


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
    # The kernel handles a request inside sendmsg(): its ack is queued before send returns.
    e, _ = request(fam, cmd, body, raw, timeout=30 if raw is None else 0.2)
    if e is None and raw is None:
        print(f"request {i} (cmd {cmd}, {len(body)} bytes) got no ack")
        sys.exit(1)
    outcomes["dropped (bad nlmsg_len)" if e is None else os.strerror(e) if e else "ok"] += 1

# The family still answers, and the live binding (if the fuzz did not unbind it) still
# accounts for every chunk: free + posted + completed + user == total.
print(f"{n} random requests: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
e, rep = request(fam, CMD_GET, u32(A_ID, live))
if e:
    print(f"binding {live} after the fuzz: {os.strerror(e)} (unbound by a fuzzed request)")
    sys.exit(0 if e == 2 else 1)
a = {k: struct.unpack("I", v)[0] for k, v in reply_attrs(rep).items() if 16 <= k <= 20}
total, parts = a[16], a[17] + a[18] + a[19] + a[20]
print(f"binding {live} after the fuzz: total {total}, free+posted+completed+user {parts}")
sys.exit(0 if total == parts == 256 else 1)
