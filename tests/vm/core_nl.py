# SPDX-License-Identifier: GPL-2.0
"""Netlink checks of the core's delivery and table guarantees, run in netns b (nmxt1,
10.0.0.2; the peer nmxt0 is 10.0.0.1 in netns a). Prints one line per check; exit 1 on
any failure.

1. rx-read never loses a token: a binding's owner pipelines reads into a socket whose
   receive buffer cannot hold the replies. Every record must end up either delivered (its
   token in a reply the owner received) or still queued for the next read; before core v2,
   records moved to the user before the reply was queued, and a dropped reply left them
   "held by the user" with no token anyone knew.
2. the dump walks the binding table in id order: after an unbind in the middle, every live
   binding appears exactly once, ascending.
"""
import errno
import socket
import struct
import subprocess
import sys
import time

import genlraw as g

CLI = "target/release/netmemctl"
A_STATE, A_TOTAL, A_FREE, A_POSTED, A_COMPLETED, A_USER = 8, 16, 17, 18, 19, 20
A_RECORDS, A_RELEASED = 33, 35
R_TOKEN = 3
QUEUE = 1
PORT = 9000 + QUEUE
FRAMES = 200


class Genl:
    """A bind-dmabuf socket of its own (bindings belong to their socket)."""

    def __init__(self, fam):
        self.fam = fam
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, g.NETLINK_GENERIC)
        self.s.bind((0, 0))
        self.s.setsockopt(g.SOL_NETLINK, g.NETLINK_EXT_ACK, 1)
        self.s.setsockopt(g.SOL_NETLINK, g.NETLINK_CAP_ACK, 1)
        self.seq = 0

    def send(self, cmd, body):
        self.seq += 1
        payload = struct.pack("BBH", cmd, 1, 0) + body
        self.s.send(struct.pack("IHHII", 16 + len(payload), self.fam,
                                g.NLM_F_REQUEST | g.NLM_F_ACK, self.seq, 0) + payload)
        return self.seq

    def messages(self, timeout):
        """Every message that arrives within `timeout` s of quiet: (seq, type, bytes), and
        how many overruns (ENOBUFS) the socket reported."""
        out, overruns = [], 0
        self.s.settimeout(timeout)
        while True:
            try:
                data = self.s.recv(1 << 20)
            except TimeoutError:
                return out, overruns
            except OSError as e:
                if e.errno != errno.ENOBUFS:
                    raise
                overruns += 1
                continue
            off = 0
            while off < len(data):
                ln, typ, _, sq, _ = struct.unpack_from("IHHII", data, off)
                out.append((sq, typ, data[off:off + ln]))
                off += (ln + 3) & ~3

    def request(self, cmd, body, timeout=30):
        """(errno, reply or None) of one request."""
        sq = self.send(cmd, body)
        reply = None
        self.s.settimeout(timeout)
        while True:
            data = self.s.recv(1 << 20)
            off = 0
            while off < len(data):
                ln, typ, _, s, _ = struct.unpack_from("IHHII", data, off)
                if s == sq and typ == g.NLMSG_ERROR:
                    return -struct.unpack_from("i", data, off + 16)[0], reply
                if s == sq and typ == self.fam:
                    reply = data[off:off + ln]
                off += (ln + 3) & ~3


def tokens_of(msg):
    """Tokens of the records in an rx-read reply."""
    out, off = [], 20
    while off + 4 <= len(msg):
        ln, t = struct.unpack_from("HH", msg, off)
        if ln < 4:
            break
        if t & 0x3FFF == A_RECORDS:
            out.append(struct.unpack("I", g.attrs(msg[off + 4:off + ln])[R_TOKEN])[0])
        off += (ln + 3) & ~3
    return out


def counts(sock, bid):
    err, rep = sock.request(g.CMD_GET, g.u32(g.A_ID, bid))
    if err:
        raise OSError(err, f"binding-get {bid}")
    a = g.reply_attrs(rep)
    val = lambda t: struct.unpack("I", a[t])[0]
    return {k: val(t) for k, t in (("state", A_STATE), ("total", A_TOTAL), ("free", A_FREE),
                                    ("posted", A_POSTED), ("completed", A_COMPLETED),
                                    ("user", A_USER))}


def bind(sock, ifindex, queue, size=4 << 20):
    _memfd, fd = g.make_udmabuf(size)
    q = g.attr(g.A_QUEUES | 0x8000, g.u32(g.Q_ID, queue) + g.u32(g.Q_TYPE, 0))
    err, rep = sock.request(g.CMD_BIND, g.u32(g.A_IFINDEX, ifindex) + q + g.u32(g.A_FD, fd))
    if err:
        raise OSError(err, f"bind queue {queue}: {g.last_ext[0]}")
    return struct.unpack("I", g.reply_attrs(rep)[g.A_ID])[0]


def wait(pred, secs=60):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.2)
    return False


def release(sock, bid, tokens):
    for i in range(0, len(tokens), 512):
        body = g.u32(g.A_ID, bid) + b"".join(g.u32(g.A_TOKENS, t) for t in tokens[i:i + 512])
        err, _ = sock.request(g.CMD_RELEASE, body)
        if err:
            raise OSError(err, f"rx-release: {g.last_ext[0]}")


failed = []


def check(name, cond, detail=""):
    print(("ok" if cond else "FAILED") + f": {name}" + (f" ({detail})" if detail else ""))
    if not cond:
        failed.append(name)


def main():
    fam = g.family_id(b"bind-dmabuf")
    ifindex = socket.if_nametoindex("nmxt1")
    owner, observer = Genl(fam), Genl(fam)

    # 1. rx-read into a socket that cannot take the replies.
    bid = bind(owner, ifindex, QUEUE)
    subprocess.run(["ip", "netns", "exec", "a", CLI, "send", "--dst", "10.0.0.2", "--port",
                    str(PORT), "--count", str(FRAMES), "--size", "300"],
                   check=True, stdout=subprocess.DEVNULL)
    check("frames completed into the binding",
          wait(lambda: counts(observer, bid)["completed"] >= FRAMES),
          str(counts(observer, bid)))
    owner.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
    for _ in range(16):
        owner.send(g.CMD_READ, g.u32(g.A_ID, bid) + g.u32(g.A_MAX_RECORDS, 64))
    msgs, overruns = owner.messages(3)
    got = [t for _, typ, m in msgs if typ == fam for t in tokens_of(m)]
    c = counts(observer, bid)
    check("replies were dropped (the socket overran)", overruns > 0, f"{overruns} overruns")
    check("every record handed out reached the owner",
          c["user"] == len(got) and len(set(got)) == len(got),
          f"{len(got)} tokens received, binding says user {c['user']}")
    check("the others are still queued", c["completed"] + c["user"] == FRAMES, str(c))
    owner.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    release(owner, bid, got)
    rest = []
    while True:
        err, rep = owner.request(g.CMD_READ, g.u32(g.A_ID, bid) + g.u32(g.A_MAX_RECORDS, 1024))
        t = tokens_of(rep) if not err and rep else []
        if not t:
            break
        rest += t
        release(owner, bid, t)
    c = counts(observer, bid)
    check("all records read and released, none lost",
          len(got) + len(rest) == FRAMES and c["completed"] == 0 and c["user"] == 0,
          f"{len(got)}+{len(rest)} of {FRAMES}; {c}")
    err, _ = owner.request(g.CMD_UNBIND, g.u32(g.A_ID, bid))
    check("unbind", err == 0, f"errno {err}")

    # 2. The dump walks the table in id order, each binding once.
    ids = [bind(owner, ifindex, q, 1 << 20) for q in (1, 2, 3)]
    err, _ = owner.request(g.CMD_UNBIND, g.u32(g.A_ID, ids[1]))
    live = [ids[0], ids[2]]
    dumped = [struct.unpack("I", g.reply_attrs(m)[g.A_ID])[0]
              for m in g.dump(fam, g.CMD_GET)]
    check("dump after an unbind: live bindings once each, in id order",
          dumped == sorted(set(dumped)) and set(live) <= set(dumped) and ids[1] not in dumped,
          f"bound {ids}, unbound {ids[1]}, dump {dumped}")
    for i in live:
        owner.request(g.CMD_UNBIND, g.u32(g.A_ID, i))
    check("nothing left in the dump", wait(lambda: not g.dump(fam, g.CMD_GET), 20))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
