# SPDX-License-Identifier: GPL-2.0
"""Shared pieces of the in-VM security and exhaustion tests (rel_security.py,
rel_exhaust.py): a bind-dmabuf socket of its own, TAP output, capabilities and
namespaces through libc, the test NIC's counters and netmem's audit."""
import ctypes
import errno
import json
import os
import socket
import struct
import subprocess
import time

import genlraw as g

CLI = "target/release/netmemctl"
DBG = "/sys/kernel/debug/nmx_testnic"
BUFINFO = "/sys/kernel/debug/dma_buf/bufinfo"
HDR = 20  # nlmsghdr + genlmsghdr: extack offsets count from the request's start
A_STATE, A_TOTAL, A_FREE, A_POSTED, A_COMPLETED, A_USER, A_STATS = 8, 16, 17, 18, 19, 20, 21
A_RECORDS, A_RELEASED = 33, 35
R_OFFSET, R_LENGTH, R_TOKEN, R_QUEUE = 1, 2, 3, 4
S_EMPTY = 6
CAP_NET_ADMIN = 12
CLONE_NEWNET, CLONE_NEWUSER = 0x40000000, 0x10000000
libc = ctypes.CDLL(None, use_errno=True)
# `ip netns exec` gives the command a fresh /sys: mount debugfs there again (the audit
# file, the NIC counters) without spawning mount(8).
if not os.path.isdir(DBG) and os.path.isdir("/sys/kernel/debug"):
    libc.mount(b"debugfs", b"/sys/kernel/debug", b"debugfs", 0, None)


def set_mtu(ifindex, mtu):
    """RTM_NEWLINK with IFLA_MTU on rtnetlink (an RTNL op, no process spawn): errno."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    try:
        body = struct.pack("BBHiII", 0, 0, 0, ifindex, 0, 0) + g.u32(4, mtu)
        s.send(struct.pack("IHHII", 16 + len(body), 16, g.NLM_F_REQUEST | g.NLM_F_ACK, 1, 0) + body)
        s.settimeout(60)
        data = s.recv(4096)
        return -struct.unpack_from("i", data, 16)[0]
    finally:
        s.close()


class Genl:
    """A generic netlink socket of its own (bindings belong to the socket that made them).
    `fd` wraps an existing netlink socket (one passed by SCM_RIGHTS)."""

    def __init__(self, fam, fd=None):
        self.fam = fam
        if fd is None:
            self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, g.NETLINK_GENERIC)
            self.s.bind((0, 0))
        else:
            self.s = socket.socket(fileno=fd)
        self.s.setsockopt(g.SOL_NETLINK, g.NETLINK_EXT_ACK, 1)
        self.s.setsockopt(g.SOL_NETLINK, g.NETLINK_CAP_ACK, 1)
        self.seq = int.from_bytes(os.urandom(2), "little") << 8

    def send(self, cmd, body, flags=g.NLM_F_REQUEST | g.NLM_F_ACK):
        self.seq += 1
        payload = struct.pack("BBH", cmd, 1, 0) + body
        self.s.send(struct.pack("IHHII", 16 + len(payload), self.fam, flags, self.seq, 0) + payload)
        return self.seq

    def replies(self, sq, timeout):
        """(type, flags, message) of each message answering sequence number `sq`."""
        self.s.settimeout(timeout)
        while True:
            data = self.s.recv(1 << 20)
            off = 0
            while off < len(data):
                ln, typ, flags, s, _ = struct.unpack_from("IHHII", data, off)
                if s == sq:
                    yield typ, flags, data[off:off + ln]
                off += (ln + 3) & ~3

    def request(self, cmd, body=b"", timeout=60):
        """(errno, reply or None, extack dict) of one request."""
        reply = None
        for typ, flags, msg in self.replies(self.send(cmd, body), timeout):
            if typ == g.NLMSG_ERROR:
                return -struct.unpack_from("i", msg, 16)[0], reply, g._ext(msg, 0, len(msg), flags)
            if typ == self.fam:
                reply = msg

    def dump(self, cmd=g.CMD_GET, timeout=60):
        """(errno, [messages]) of a dump."""
        out = []
        for typ, _, msg in self.replies(self.send(cmd, b"", g.NLM_F_REQUEST | g.NLM_F_DUMP), timeout):
            if typ in (g.NLMSG_DONE, g.NLMSG_ERROR):
                return -struct.unpack_from("i", msg, 16)[0], out
            if typ == self.fam:
                out.append(msg)

    def ids(self):
        err, msgs = self.dump()
        if err:
            raise OSError(err, "binding-get dump")
        return [struct.unpack("I", g.reply_attrs(m)[g.A_ID])[0] for m in msgs]

    def counts(self, bid):
        err, rep, x = self.request(g.CMD_GET, g.u32(g.A_ID, bid))
        if err:
            raise OSError(err, f"binding-get {bid}: {x}")
        a = g.reply_attrs(rep)
        out = {k: struct.unpack("I", a[t])[0] for k, t in (
            ("total", A_TOTAL), ("free", A_FREE), ("posted", A_POSTED),
            ("completed", A_COMPLETED), ("user", A_USER))}
        st = g.attrs(a[A_STATS])
        out["empty"] = int.from_bytes(st[S_EMPTY], "little")
        return out

    def bind(self, ifindex, queue, size):
        """(binding id, memfd, dma-buf fd); raises on refusal."""
        memfd, fd = g.make_udmabuf(size)
        err, rep, x = self.request(g.CMD_BIND, bind_body(ifindex, queue, fd))
        if err:
            raise OSError(err, f"bind queue {queue}: {x}")
        return struct.unpack("I", g.reply_attrs(rep)[g.A_ID])[0], memfd, fd

    def read(self, bid, n=1024):
        """Records [(offset, length, token, queue)] of one rx-read; raises on refusal."""
        err, rep, x = self.request(g.CMD_READ, g.u32(g.A_ID, bid) + g.u32(g.A_MAX_RECORDS, n))
        if err:
            raise OSError(err, f"rx-read {bid}: {x}")
        return records_of(rep)

    def release(self, bid, tokens):
        """Releases `tokens` (all must be held); returns how many the kernel released."""
        done = 0
        for i in range(0, len(tokens), 512):
            err, rep, x = self.request(g.CMD_RELEASE, release_body(bid, tokens[i:i + 512]))
            if err:
                raise OSError(err, f"rx-release {bid}: {x}")
            done += struct.unpack("I", g.reply_attrs(rep)[A_RELEASED])[0]
        return done


def bind_body(ifindex, queue, fd):
    q = g.attr(g.A_QUEUES | 0x8000, g.u32(g.Q_ID, queue) + g.u32(g.Q_TYPE, 0))
    return g.u32(g.A_IFINDEX, ifindex) + q + g.u32(g.A_FD, fd)


def release_body(bid, tokens):
    return g.u32(g.A_ID, bid) + b"".join(g.u32(g.A_TOKENS, t) for t in tokens)


def records_of(msg):
    out, off = [], 20
    while msg is not None and off + 4 <= len(msg):
        ln, t = struct.unpack_from("HH", msg, off)
        if ln < 4:
            break
        if t & 0x3FFF == A_RECORDS:
            a = g.attrs(msg[off + 4:off + ln])
            out.append((struct.unpack("Q", a[R_OFFSET])[0], struct.unpack("I", a[R_LENGTH])[0],
                        struct.unpack("I", a[R_TOKEN])[0], struct.unpack("I", a[R_QUEUE])[0]))
        off += (ln + 3) & ~3
    return out


# --- TAP ---
_n = [0]
_failed = []


_t0 = time.time()


def tap(name, cond, detail=""):
    if os.environ.get("NMX_TAP_TIMES"):
        print(f"# at {time.time() - _t0:.1f} s", flush=True)
    _n[0] += 1
    line = f"ok {_n[0]} - {name}" if cond else f"not ok {_n[0]} - {name}"
    print(line + (f": {detail}" if detail and cond else ""), flush=True)
    if not cond:
        _failed.append(name)
        for d in str(detail).splitlines():
            print(f"# {d}", flush=True)
    return cond


def tap_done():
    print(f"1..{_n[0]}", flush=True)
    return 1 if _failed else 0


def ename(e):
    return "no ack" if e is None else ("0" if e == 0 else errno.errorcode.get(e, str(e)))


# --- capabilities, credentials, namespaces ---
class _CapHdr(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_cap(cap):
    """Removes `cap` from this task's effective, permitted and inheritable sets (uid kept)."""
    hdr = _CapHdr(0x20080522, 0)
    data = (_CapData * 2)()
    if libc.capget(ctypes.byref(hdr), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    word, bit = divmod(cap, 32)
    for f in ("effective", "permitted", "inheritable"):
        setattr(data[word], f, getattr(data[word], f) & ~(1 << bit))
    if libc.capset(ctypes.byref(hdr), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def cap_eff():
    """This task's effective capability set (from /proc/self/status)."""
    for line in open("/proc/self/status"):
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return None


def become_nobody():
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def setns_net(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


def unshare(flags):
    if libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), "unshare")


def socket_in_netns(fam, ns):
    """A Genl socket created in netns `ns` (a socket keeps the netns it was made in)."""
    here = f"/proc/self/task/{os.gettid() if hasattr(os, 'gettid') else os.getpid()}/ns/net"
    back = os.open(here, os.O_RDONLY)
    try:
        setns_net(f"/run/netns/{ns}")
        s = Genl(fam)
    finally:
        libc.setns(back, CLONE_NEWNET)
        os.close(back)
    return s


def in_child(fn, *args):
    """Runs fn(*args) in a forked child; returns what it returns (JSON-able), or
    {"error": ...} if it raised. The child never returns into the caller."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = fn(*args)
        except BaseException as e:  # report anything to the parent
            out = {"error": repr(e)}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data) if data else {"error": "child died"}


# --- test NIC and netmem state ---
def nic_stats(dev, q):
    """The test NIC's counters of RX queue q of dev (debugfs stats), as ints."""
    for line in open(f"{DBG}/stats"):
        f = line.split()
        if f[:2] == [dev, f"q{q}"]:
            return {k: int(v) for k, v in (x.split("=") for x in f[2:])}
    raise KeyError(f"{dev} q{q}")


def audit(bid):
    """netmem's independent audit of binding bid: (ok, detail)."""
    try:
        with open(f"{DBG}/audit", "w") as f:
            f.write(str(bid))
        return True, "audit ok"
    except OSError as e:
        return False, f"audit: {ename(e.errno)}"


def sh(cmd, timeout=120):
    return subprocess.run(cmd, shell=True, timeout=timeout, capture_output=True, text=True)


def wait(pred, secs=60, step=0.2):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()
