# SPDX-License-Identifier: GPL-2.0
"""Raw generic netlink for the in-VM tests that must send what no well-behaved client
would (malformed.py, nlfuzz.py): hand-built messages, errno from the ack."""
import socket, struct

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
s.settimeout(30)
seq = [0]


last_reply = [None]


def request(family, cmd, body, raw_len=None, timeout=30):
    """Sends one request; returns (errno, reply message or None), or (None, None) when no
    ack came in time (the kernel drops a message whose nlmsg_len does not fit, unacked)."""
    s.settimeout(timeout)
    seq[0] += 1
    last_reply[0] = None
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
            ln, typ, _, sq, _ = struct.unpack_from("IHHII", data, off)
            if typ == 2 and sq == seq[0]:
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
