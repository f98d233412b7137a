# SPDX-License-Identifier: GPL-2.0
"""Raw generic netlink for the in-VM tests that must send what no well-behaved client
would (malformed.py): hand-built messages, errno and extended ack from the ack."""
import fcntl, os, socket, struct

NETLINK_GENERIC = 16
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200
NLMSG_ERROR, NLMSG_DONE = 2, 3
SOL_NETLINK, NETLINK_CAP_ACK, NETLINK_EXT_ACK = 270, 10, 11
# <linux/netlink.h>: extended ack attributes, and the policy description inside ATTR_POLICY
EXT_MSG, EXT_OFFS, EXT_COOKIE, EXT_POLICY, EXT_MISS_TYPE, EXT_MISS_NEST = 1, 2, 3, 4, 5, 6
POL_MIN_U, POL_MAX_U = 4, 5
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
s.settimeout(30)
# Extended acks (message, bad-attribute offset, policy, missing attribute); capped acks
# (no copy of the request) keep the parsing simple.
s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
seq = [0]


last_reply = [None]
last_ext = [{}]


def _ext(data, off, ln, flags):
    """Extended ack TLVs of the NLMSG_ERROR message at data[off:off+ln], as a dict:
    msg (str), offs, miss_type, miss_nest (int), policy ({type: bytes})."""
    if not flags & NLM_F_ACK_TLVS:
        return {}
    start = off + 20 + 16
    if not flags & NLM_F_CAPPED:
        start = off + 20 + ((struct.unpack_from("I", data, off + 20)[0] + 3) & ~3)
    out = {}
    for t, v in attrs(data, start, off + ln).items():
        if t == EXT_MSG:
            out["msg"] = v.rstrip(b"\0").decode()
        elif t in (EXT_OFFS, EXT_MISS_TYPE, EXT_MISS_NEST):
            out[{EXT_OFFS: "offs", EXT_MISS_TYPE: "miss_type", EXT_MISS_NEST: "miss_nest"}[t]] = \
                struct.unpack("I", v)[0]
        elif t == EXT_POLICY:
            out["policy"] = attrs(v)
    return out


def request(family, cmd, body, raw_len=None, timeout=30):
    """Sends one request; returns (errno, reply message or None), or (None, None) when no
    ack came in time (the kernel drops a message whose nlmsg_len does not fit, unacked).
    The ack's extended attributes are left in last_ext[0] (see _ext)."""
    s.settimeout(timeout)
    seq[0] += 1
    last_reply[0] = None
    last_ext[0] = {}
    payload = struct.pack("BBH", cmd, 1, 0) + body
    n = 16 + len(payload) if raw_len is None else raw_len
    s.send(struct.pack("IHHII", n, family, NLM_F_REQUEST | NLM_F_ACK, seq[0], 0) + payload)
    while True:
        try:
            data = s.recv(65536)
        except TimeoutError:
            return None, None
        off = 0
        while off < len(data):
            ln, typ, flags, sq, _ = struct.unpack_from("IHHII", data, off)
            if typ == NLMSG_ERROR and sq == seq[0]:
                last_ext[0] = _ext(data, off, ln, flags)
                return -struct.unpack_from("i", data, off + 16)[0], last_reply[0]
            if typ == family and sq == seq[0]:
                last_reply[0] = data[off:off + ln]
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


def attrs(buf, off=0, end=None):
    """{type: payload} of the attributes in buf[off:end] (last one wins)."""
    out = {}
    end = len(buf) if end is None else end
    while off + 4 <= end:
        ln, t = struct.unpack_from("HH", buf, off)
        if ln < 4:
            break
        out[t & 0x3FFF] = buf[off + 4:off + ln]
        off += (ln + 3) & ~3
    return out


def reply_attrs(msg):
    """Top-level attributes of a generic netlink reply (after nlmsghdr + genlmsghdr)."""
    return attrs(msg, 20)


def dump(family, cmd, body=b""):
    """A dump request: the list of reply messages. Raises OSError if the dump fails."""
    seq[0] += 1
    payload = struct.pack("BBH", cmd, 1, 0) + body
    s.send(struct.pack("IHHII", 16 + len(payload), family, NLM_F_REQUEST | NLM_F_DUMP, seq[0], 0) + payload)
    out = []
    while True:
        data = s.recv(1 << 16)
        off = 0
        while off < len(data):
            ln, typ, _, sq, _ = struct.unpack_from("IHHII", data, off)
            if sq == seq[0]:
                if typ == NLMSG_DONE:
                    e = -struct.unpack_from("i", data, off + 16)[0]
                    if e:
                        raise OSError(e, os.strerror(e))
                    return out
                if typ == NLMSG_ERROR:
                    e = -struct.unpack_from("i", data, off + 16)[0]
                    if e:
                        raise OSError(e, os.strerror(e))
                elif typ == family:
                    out.append(data[off:off + ln])
            off += (ln + 3) & ~3


# <linux/udmabuf.h>: _IOW('u', 0x42, struct udmabuf_create {u32 memfd, flags; u64 offset, size})
UDMABUF_CREATE, UDMABUF_FLAGS_CLOEXEC = 0x40187542, 1


def make_udmabuf(size):
    """(memfd, dma-buf fd) of a udmabuf over a sealed memfd of `size` bytes."""
    memfd = os.memfd_create("nmx_test", os.MFD_ALLOW_SEALING)
    os.ftruncate(memfd, size)
    fcntl.fcntl(memfd, getattr(fcntl, "F_ADD_SEALS", 1033), getattr(fcntl, "F_SEAL_SHRINK", 2))
    dev = os.open("/dev/udmabuf", os.O_RDWR | os.O_CLOEXEC)
    try:
        arg = bytearray(struct.pack("IIQQ", memfd, UDMABUF_FLAGS_CLOEXEC, 0, size))
        return memfd, fcntl.ioctl(dev, UDMABUF_CREATE, arg, True)
    finally:
        os.close(dev)
