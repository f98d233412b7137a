#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Fail each step of a bind once, in turn (tests/vm/rel-faults.sh).

    python3 tests/vm/faults.py slab      every slab allocation the bind syscall makes
    python3 tests/vm/faults.py func      netmem's own steps, by its fault points

A bind-dmabuf request binds a real udmabuf to queues 1 and 2 of the test NIC's nmxt1 (up,
in this netns, nmxt0 its peer). slab: for N = 1, 2, ... the request's own task makes its
N-th slab allocation fail (/proc/thread-self/fail-nth, written right before sendmsg), until
a bind succeeds without the fault firing. The failing allocation's kernel stack (the kmem
trace events' stacktrace trigger, filtered on a NULL result and this task) tells whether
netmem's code made it. func: each failable step of netmem's bind (the fault points in
shim/netmem_shim.c, debugfs nmx_fail/<step>/) fails once with an errno.

After every injected fault:
- a fault in netmem's code that fails the bind gives an errno and an extack message (a
  fault point gives its own errno); a fault in the netlink core (the request's skb,
  genetlink's attribute table) may fail it without one; a refused bind leaves no binding
  even while its socket is open;
- once the request's socket is closed nothing is left: no binding in the dump, the udmabuf
  has its start reference count and no attachment (dma-buf debugfs), both queues have no
  chunk posted and receive frames into pages (test NIC stats);
Then a plain bind succeeds, frames land in the dma-buf, and unbind leaves nothing again; the
udmabuf is gone once its fds are closed. Leaks: kmemleak, judged by rel-faults.sh.
Prints one line per fault and a summary ("faults: N ..."); exits 1 on any failure."""
import errno, os, re, socket, struct, sys, time

from genlraw import (A_CHUNK, A_FD, A_ID, A_IFINDEX, A_QUEUES, CMD_BIND, CMD_GET,
                     CMD_UNBIND, NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GENERIC, NLMSG_ERROR,
                     NLM_F_ACK, NLM_F_REQUEST, Q_ID, Q_TYPE, SOL_NETLINK, _ext, attr, dump,
                     family_id, make_udmabuf, reply_attrs, u32)

NESTED = 0x8000
IFACE, PEER = "nmxt1", "nmxt0"
QUEUES = (1, 2)
STEER_BASE = 9000  # nmx_testnic's default: UDP port 9000 + q lands on RX queue q
DMABUF_SIZE = 1 << 20
BUFINFO = "/sys/kernel/debug/dma_buf/bufinfo"
STATS = "/sys/kernel/debug/nmx_testnic/stats"
TRACE = "/sys/kernel/tracing"
FAULTS = "/sys/kernel/debug/nmx_fail"

fam = family_id(b"bind-dmabuf")
ifx = socket.if_nametoindex(IFACE)
failures = []


def fail(what):
    failures.append(what)
    print("FAIL: " + what)


def ename(e):
    return errno.errorcode.get(e, str(e)) if e else "0"


def wait(pred, secs=10.0):
    end = time.monotonic() + secs
    while True:
        if pred():
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.02)


# --- the request ---

def bind_body(fd):
    qs = b"".join(attr(A_QUEUES | NESTED, u32(Q_ID, q) + u32(Q_TYPE, 0)) for q in QUEUES)
    return u32(A_IFINDEX, ifx) + qs + u32(A_FD, fd) + u32(A_CHUNK, 4096)


def gensock():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    s.bind((0, 0))
    s.settimeout(30)
    s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
    return s


def genmsg(cmd, body, seq=1):
    payload = struct.pack("BBH", cmd, 1, 0) + body
    return struct.pack("IHHII", 16 + len(payload), fam, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + payload


class Outcome:
    """What one request did: send_err (sendmsg's errno), err (the ack's errno; None: no
    ack), msg (extack message), id (binding id from the reply), recv_err (recv's errno)."""
    send_err = 0
    err = None
    msg = None
    id = None
    recv_err = 0
    fired = None

    def ok(self):
        return self.id is not None and self.err == 0

    def __str__(self):
        if self.send_err:
            return f"sendmsg {ename(self.send_err)}"
        if self.ok():
            return f"bound (id {self.id})" + (f", then recv {ename(self.recv_err)}" if self.recv_err else "")
        if self.err is None:
            return f"no ack (recv {ename(self.recv_err)})" + (f", id {self.id}" if self.id else "")
        return f"{ename(self.err)} {self.msg!r}"


def request(s, msg, nth_fd=None, nth=0):
    """Sends msg on s, the nth-th slab allocation of this task failing (nth_fd)."""
    o = Outcome()
    if nth_fd is not None:
        os.write(nth_fd, b"%d" % nth)
    try:
        s.send(msg)
    except OSError as e:
        o.send_err = e.errno
    if nth_fd is not None:
        o.fired = int(os.pread(nth_fd, 16, 0)) == 0
        os.write(nth_fd, b"0")
    if o.send_err:
        return o
    while o.err is None:
        try:
            data = s.recv(65536)
        except OSError as e:
            o.recv_err = e.errno or errno.ETIMEDOUT
            return o
        off = 0
        while off < len(data):
            ln, typ, flags, _, _ = struct.unpack_from("IHHII", data, off)
            if typ == NLMSG_ERROR:
                o.err = -struct.unpack_from("i", data, off + 16)[0]
                o.msg = _ext(data, off, ln, flags).get("msg")
            elif typ == fam:
                a = reply_attrs(data[off:off + ln])
                if A_ID in a:
                    o.id = struct.unpack("I", a[A_ID])[0]
            off += (ln + 3) & ~3
    return o


# --- the state a failed bind must leave ---

def bindings():
    return [struct.unpack("I", reply_attrs(m)[A_ID])[0] for m in dump(fam, CMD_GET)]


def bufinfo(ino):
    """(file count, attachments) of the dma-buf with inode ino; None if it is not listed."""
    lines = open(BUFINFO).read().splitlines()
    for i, ln in enumerate(lines):
        f = ln.split("\t")
        if len(f) >= 6 and f[4] == "udmabuf" and f[5].isdigit() and int(f[5]) == ino:
            for nxt in lines[i + 1:]:
                m = re.match(r"Total (\d+) devices attached", nxt)
                if m:
                    return int(f[3]), int(m.group(1))
            return int(f[3]), -1
    return None


def stats(q):
    """The test NIC's counters of nmxt1's RX queue q, as a dict of ints."""
    for ln in open(STATS):
        if ln.startswith(f"{IFACE} q{q} "):
            return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", ln)}
    raise RuntimeError(f"no {IFACE} q{q} in {STATS}")


def frame(q):
    """An Ethernet/IPv4/UDP frame from the peer that the test NIC steers to RX queue q."""
    mac = lambda d: bytes.fromhex(open(f"/sys/class/net/{d}/address").read().strip().replace(":", ""))  # noqa: E731
    data = b"nmx-faults" * 4
    udp = struct.pack("!HHHH", 40000, STEER_BASE + q, 8 + len(data), 0) + data
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                               bytes([10, 99, 0, 1]), bytes([10, 99, 0, 2])))
    c = sum(struct.unpack("!10H", ip))
    c = (c & 0xFFFF) + (c >> 16)
    struct.pack_into("!H", ip, 10, ~((c & 0xFFFF) + (c >> 16)) & 0xFFFF)
    return mac(IFACE) + mac(PEER) + b"\x08\x00" + bytes(ip) + udp


pkt = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
pkt.bind((PEER, 0))
FRAMES = {q: frame(q) for q in QUEUES}


def traffic(kind, queues=QUEUES):
    """Sends one frame to each of `queues`; each must be received into `kind` (page or
    devmem) within a few seconds. Returns a problem or None."""
    before = {q: stats(q) for q in queues}
    for q in queues:
        pkt.send(FRAMES[q])
    key = f"rx_{kind}_frames"
    if wait(lambda: all(stats(q)[key] > before[q][key] for q in queues), 10):
        return None
    return "frames not received into %s: %s" % (kind, {q: {k: stats(q)[k] for k in (
        "rx_page_frames", "rx_devmem_frames", "rx_no_buf", "posted_page", "posted_devmem")}
        for q in queues})


def clean(ino, start, frames=True):
    """Problems left by a bind that was undone (its socket closed), or []. frames: also
    check that both queues receive into pages."""
    out = []
    if not wait(lambda: not bindings()):
        out.append(f"bindings left: {bindings()}")
    if not wait(lambda: bufinfo(ino) == start):
        out.append(f"udmabuf (file count, attachments) {bufinfo(ino)}, at the start {start}")
    for q in QUEUES:
        st = stats(q)
        if st["posted_devmem"] or not st["posted_page"]:
            out.append(f"queue {q} posts {st['posted_devmem']} chunks, {st['posted_page']} pages")
    t = frames and traffic("page")
    if t:
        out.append(t)
    return out


# --- where a failed allocation came from ---

def tracefs(path, val):
    with open(f"{TRACE}/{path}", "w") as f:
        f.write(val)


EVENTS = ("kmem/kmalloc", "kmem/kmem_cache_alloc")


def trace_on():
    tracefs("options/sym-offset", "1")  # frames with offset and [module]
    cond = f"ptr == 0 && common_pid == {os.getpid()}"
    for ev in EVENTS:
        tracefs(f"events/{ev}/filter", cond)
        tracefs(f"events/{ev}/trigger", f"stacktrace if {cond}")
        tracefs(f"events/{ev}/enable", "1")
    tracefs("trace", "\n")


def trace_off():
    for ev in EVENTS:
        tracefs(f"events/{ev}/enable", "0")
        tracefs(f"events/{ev}/trigger", "!stacktrace")
        tracefs(f"events/{ev}/filter", "0")
    tracefs("options/sym-offset", "0")
    tracefs("trace", "\n")


def rust_name(sym):
    """A readable name for a (v0-mangled) Rust symbol: its last two path identifiers."""
    if not sym.startswith("_R"):
        return sym
    s = re.sub(r"Cs[0-9A-Za-z]*_", "", sym)
    names, i = [], 0
    while i < len(s):
        m = re.match(r"(\d+)_?", s[i:])
        if m and (i == 0 or not s[i - 1].isdigit()):
            n = int(m.group(1))
            ident = s[i + m.end():i + m.end() + n]
            if n and re.fullmatch(r"[A-Za-z_]\w*", ident):
                names.append(ident)
                i += m.end() + n
                continue
        i += 1
    return "::".join(names[-2:]) or sym


def failed_alloc():
    """(stack frames of this task's failed slab allocation, as function names) from the
    trace; [] if none was traced."""
    frames = []
    for ln in open(f"{TRACE}/trace"):
        m = re.match(r"\s*=> (\S+?)(?:\+0x\w+/0x\w+)?(?: \[(\w+)\])?$", ln)
        if m:
            frames.append((rust_name(m.group(1)), m.group(2)))
        elif "<stack trace>" in ln and frames:
            break  # one fault per request: the first stack is it
    tracefs("trace", "\n")
    return frames


def where(frames):
    """(in netmem, short description): the allocator and the innermost netmem frame."""
    mine = [f for f, mod in frames if mod == "netmem"]
    alloc = next((f for f, mod in frames if not re.match(
        r"(__)?(kmem_cache_alloc|kmalloc|__kmalloc|k?v?realloc|kvmalloc|slab_|should_fail|trace_|__traceiter|"
        r"stack_trace|kmemleak|create_object|mem_pool|event_trigger|__trace_stack)", f)), "?")
    if mine:
        return True, f"{alloc} <- {mine[0]} [netmem]"
    return False, alloc


# --- the two modes ---

def check_fault(o, in_netmem, want_err=None):
    """The judgement of one injected fault; closes the request's socket first."""
    problems = []
    if o.ok() and not o.recv_err:
        # The fault was absorbed (a fallback): the binding must be real.
        if o.id not in bindings():
            problems.append(f"bind said id {o.id}, not in the dump")
    elif not o.send_err and o.err is None and o.recv_err != errno.ENOBUFS:
        problems.append("no ack")
    elif in_netmem and not o.ok() and o.err is not None:
        if not o.err:
            problems.append("failed bind acked with 0")
        if not o.msg:
            problems.append("no extack message")
        if want_err is not None and o.err != want_err:
            problems.append(f"errno {ename(o.err)}, wanted {ename(want_err)}")
    refused = o.send_err or (o.err is not None and o.err != 0)  # not a lost ack
    if refused and not wait(lambda: not bindings(), 5):
        # Undone by the failed bind itself, not by closing its socket.
        problems.append(f"bindings left while the request's socket is open: {bindings()}")
    return problems


def slab(ino, start):
    nth = os.open("/proc/thread-self/fail-nth", os.O_RDWR)
    trace_on()
    n = faults = netmem_faults = absorbed = 0
    try:
        while True:
            n += 1
            if n > 3000:
                fail("no fault-free bind after 3000 allocations")
                break
            s = gensock()
            msg = genmsg(CMD_BIND, bind_body(dmabuf))
            t = time.monotonic()
            o = request(s, msg, nth, n)
            frames = failed_alloc()
            if not o.fired:
                # No N-th allocation: the bind ran to completion unharmed.
                if not o.ok():
                    fail(f"fault-free bind (N={n}) failed: {o}")
                s.close()
                if not wait(lambda: not bindings()):
                    fail("fault-free bind not undone by closing its socket")
                print(f"N={n}: no fault: {o}")
                break
            faults += 1
            in_netmem, desc = where(frames) if frames else (False, "untraced allocation")
            netmem_faults += in_netmem
            absorbed += o.ok()
            problems = check_fault(o, in_netmem)
            s.close()
            # A fault absorbed by a fallback bound: its undoing is a plain unbind, whose
            # frames check final() makes once.
            problems += clean(ino, start, frames=not o.ok())
            print(f"N={n}: {desc}: {o} ({(time.monotonic() - t) * 1000:.0f} ms)"
                  + ("" if not problems else "  <-- " + "; ".join(problems)))
            for p in problems:
                fail(f"slab N={n} ({desc}): {p}")
    finally:
        trace_off()
        os.close(nth)
    print(f"slab faults: {faults} ({netmem_faults} in netmem's code, {absorbed} absorbed by a fallback)")
    return faults


# netmem's fault points (shim/netmem_shim.c, debugfs nmx_fail/<step>/), the errno each
# makes the bind return, and how many of its calls to let through first (a bind restarts
# each of its queues).
STEPS = [
    ("sock_priv", errno.ENOMEM, 0),
    ("claim", errno.ENOMEM, 0),
    ("id", errno.EBUSY, 0),
    ("attach", errno.ENOMEM, 0),
    ("map", errno.ENOMEM, 0),
    ("vmap", errno.ENOMEM, 0),
    ("restart", errno.EIO, 0),
    ("restart", errno.EIO, 1),
    ("reply", errno.ENOMEM, 0),  # after the queues were switched: a full unbind
]


def ff(path, val):
    with open(f"{FAULTS}/{path}", "w") as f:
        f.write(val)


def func(ino, start):
    with open("/proc/thread-self/make-it-fail", "w") as f:
        f.write("1")
    faults = 0
    for step, err, skip in STEPS:
        # Only this task, once, after `skip` calls ("space" lets calls through while it
        # exceeds their size, 1 here).
        for k, v in (("task-filter", "Y"), ("interval", "1"), ("verbose", "1"),
                     ("space", str(skip + 1 if skip else 0)), ("times", "1"),
                     ("probability", "100")):
            ff(f"{step}/{k}", v)
        s = gensock()
        t = time.monotonic()
        o = request(s, genmsg(CMD_BIND, bind_body(dmabuf)))
        fired = open(f"{FAULTS}/{step}/times").read().strip() == "0"
        ff(f"{step}/probability", "0")
        label = step + (f" (call {skip + 1})" if skip else "")
        if not fired:
            problems = ["the bind never reached it"]
        else:
            faults += 1
            problems = check_fault(o, True, err)
            if o.ok():
                problems.append("bind succeeded")
        s.close()
        problems += clean(ino, start)
        print(f"{label}: {o} ({(time.monotonic() - t) * 1000:.0f} ms)"
              + ("" if not problems else "  <-- " + "; ".join(problems)))
        for p in problems:
            fail(f"{label}: {p}")
    print(f"function faults: {faults}")
    return faults


def final(ino, start):
    """A plain bind works after all that: frames land in the dma-buf; unbind undoes it."""
    s = gensock()
    o = request(s, genmsg(CMD_BIND, bind_body(dmabuf)))
    if not o.ok():
        fail(f"plain bind after the faults: {o}")
        return
    c, att = bufinfo(ino)
    if att != 1:
        fail(f"bound udmabuf has {att} attachments, wanted 1")
    # The chunks all went to queue 1's ring (as many as its descriptors).
    t = traffic("devmem", (1,))
    if t:
        fail(f"bound: {t}")
    u = request(s, genmsg(CMD_UNBIND, u32(A_ID, o.id), seq=2))
    if u.err != 0:
        fail(f"unbind: {u}")
    p = clean(ino, start)
    for x in p:
        fail(f"after unbind: {x}")
    s.close()
    print(f"plain bind {o.id} received into the dma-buf, unbind: {ename(u.err)}" + (f" {p}" if p else ""))


mode = sys.argv[1]
memfd, dmabuf = make_udmabuf(DMABUF_SIZE)
ino = os.fstat(dmabuf).st_ino
start = bufinfo(ino)
if start is None or start[1] != 0:
    print(f"FAIL: udmabuf inode {ino} in {BUFINFO}: {start}")
    sys.exit(1)
t0 = time.monotonic()
pre = clean(ino, start)
if pre:
    print("FAIL: not clean before any fault: " + "; ".join(pre))
    sys.exit(1)
n = slab(ino, start) if mode == "slab" else func(ino, start)
final(ino, start)
os.close(dmabuf)
os.close(memfd)
if not wait(lambda: bufinfo(ino) is None):
    fail(f"udmabuf still listed once its fds are closed: {bufinfo(ino)}")
print(f"faults: {n} {mode}, {len(failures)} failures, {time.monotonic() - t0:.1f} s")
sys.exit(1 if failures else 0)
