// SPDX-License-Identifier: GPL-2.0
//! Generic netlink socket for the `bind-dmabuf` family: family id lookup via
//! nlctrl, request/reply, dumps, and kernel errors with their extended ACK.

use std::fmt;
use std::io;

use netlink_packet_core::{
    parse_string, parse_u32, NetlinkHeader, NetlinkMessage, NetlinkPayload, NlasIterator,
    NLA_TYPE_MASK, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::{GenlFamily, GenlMessage};
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};

use crate::ids;
use crate::msg::BindDmabufMsg;

/// `NLM_F_CAPPED`: the error message carries only the request's header.
const NLM_F_CAPPED: u16 = 0x100;
/// `NLM_F_ACK_TLVS`: extended ACK attributes follow.
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSG_HDRLEN: usize = 16;
const GENL_HDRLEN: usize = 4;

// enum nlmsgerr_attrs (include/uapi/linux/netlink.h)
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSGERR_ATTR_OFFS: u16 = 2;
const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;
const NLMSGERR_ATTR_MISS_NEST: u16 = 6;

/// Extended ACK of a kernel error (or warning).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtAck {
    /// NLMSGERR_ATTR_MSG
    pub msg: Option<String>,
    /// NLMSGERR_ATTR_OFFS: offset of the offending attribute in the request.
    pub offset: Option<u32>,
    /// NLMSGERR_ATTR_MISS_TYPE: type of a missing attribute.
    pub miss_type: Option<u32>,
    /// NLMSGERR_ATTR_MISS_NEST: offset of the nest missing it.
    pub miss_nest: Option<u32>,
}

impl ExtAck {
    /// Parse the attributes that follow a `struct nlmsgerr` (or the error
    /// code of an `NLMSG_DONE`).
    pub fn parse(tlvs: &[u8]) -> ExtAck {
        let mut ack = ExtAck::default();
        for nla in NlasIterator::new(tlvs).flatten() {
            let v = nla.value();
            match nla.kind() {
                NLMSGERR_ATTR_MSG => {
                    ack.msg = parse_string(v).ok().filter(|s| !s.is_empty());
                }
                NLMSGERR_ATTR_OFFS => ack.offset = parse_u32(v).ok(),
                NLMSGERR_ATTR_MISS_TYPE => ack.miss_type = parse_u32(v).ok(),
                NLMSGERR_ATTR_MISS_NEST => ack.miss_nest = parse_u32(v).ok(),
                _ => {}
            }
        }
        ack
    }

    /// Extended ACK of an `NLMSG_ERROR` message. `flags` is the header flags
    /// of that message, `body` what follows its error code.
    pub fn from_error(flags: u16, body: &[u8]) -> ExtAck {
        if flags & NLM_F_ACK_TLVS == 0 || body.len() < NLMSG_HDRLEN {
            return ExtAck::default();
        }
        let skip = if flags & NLM_F_CAPPED != 0 {
            NLMSG_HDRLEN
        } else {
            let len = u32::from_ne_bytes(body[0..4].try_into().unwrap()) as usize;
            (len + 3) & !3
        };
        body.get(skip..).map(ExtAck::parse).unwrap_or_default()
    }
}

/// An error the kernel answered a request with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelError {
    /// Operation name as in the spec.
    pub op: &'static str,
    /// Positive errno.
    pub errno: i32,
    pub ext: ExtAck,
    /// Name of the attribute NLMSGERR_ATTR_OFFS / _MISS_TYPE point at.
    pub attr: Option<String>,
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errno = nix::errno::Errno::from_raw(self.errno);
        write!(f, "{} failed: {}", self.op, errno.desc())?;
        if let Some(m) = &self.ext.msg {
            write!(f, ": {m}")?;
        }
        if self.ext.miss_type.is_some() {
            if let Some(a) = &self.attr {
                write!(f, ": missing attribute {a}")?;
            }
        } else if let Some(a) = &self.attr {
            write!(f, " (attribute {a})")?;
        }
        write!(f, " [{errno:?}]")
    }
}

impl std::error::Error for KernelError {}

/// Errors of this module.
#[derive(Debug)]
pub enum NlError {
    Io(&'static str, io::Error),
    Kernel(KernelError),
    /// The kernel has no `bind-dmabuf` family (module not loaded).
    NoFamily,
    Protocol(String),
}

impl fmt::Display for NlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NlError::Io(what, e) => write!(f, "{what}: {e}"),
            NlError::Kernel(k) => k.fmt(f),
            NlError::NoFamily => write!(
                f,
                "generic netlink family \"{}\" not found (is the netmem module loaded?)",
                ids::FAMILY_NAME
            ),
            NlError::Protocol(m) => write!(f, "netlink protocol error: {m}"),
        }
    }
}

impl std::error::Error for NlError {}

impl NlError {
    /// errno of a kernel error.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NlError::Kernel(k) => Some(k.errno),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, NlError>;

/// Name of the request attribute at byte `offset` of `request` (a whole
/// netlink message), e.g. "chunk-size" or "queues.type".
pub fn attr_at_offset(request: &[u8], offset: u32) -> Option<String> {
    let start = NLMSG_HDRLEN + GENL_HDRLEN;
    let mut pos = start;
    let offset = offset as usize;
    while pos + 4 <= request.len() {
        let len = u16::from_ne_bytes([request[pos], request[pos + 1]]) as usize;
        let kind = u16::from_ne_bytes([request[pos + 2], request[pos + 3]]) & NLA_TYPE_MASK;
        if len < 4 {
            return None;
        }
        let end = pos + len;
        let name = ids::binding_attr_name(kind)
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{kind}"));
        if offset == pos {
            return Some(name);
        }
        if offset > pos && offset < end && kind == ids::binding::QUEUES {
            let mut p = pos + 4;
            while p + 4 <= end {
                let l = u16::from_ne_bytes([request[p], request[p + 1]]) as usize;
                let k = u16::from_ne_bytes([request[p + 2], request[p + 3]]) & NLA_TYPE_MASK;
                if l < 4 {
                    break;
                }
                if p == offset {
                    let sub = ids::queue_attr_name(k)
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("#{k}"));
                    return Some(format!("{name}.{sub}"));
                }
                p += (l + 3) & !3;
            }
            return Some(name);
        }
        pos += (len + 3) & !3;
    }
    None
}

fn missing_attr_name(ext: &ExtAck, request: &[u8]) -> Option<String> {
    let t = ext.miss_type? as u16;
    match ext.miss_nest {
        Some(nest) => {
            let outer = attr_at_offset(request, nest).unwrap_or_else(|| "nest".into());
            let inner = ids::queue_attr_name(t)
                .map(str::to_string)
                .unwrap_or_else(|| format!("#{t}"));
            Some(format!("{outer}.{inner}"))
        }
        None => Some(
            ids::binding_attr_name(t)
                .map(str::to_string)
                .unwrap_or_else(|| format!("#{t}")),
        ),
    }
}

/// Build the error of an NLMSG_ERROR / NLMSG_DONE with a negative code.
pub fn kernel_error(op: &'static str, code: i32, ext: ExtAck, request: &[u8]) -> KernelError {
    let attr = if ext.miss_type.is_some() {
        missing_attr_name(&ext, request)
    } else {
        ext.offset.and_then(|o| attr_at_offset(request, o))
    };
    KernelError {
        op,
        errno: code.abs(),
        ext,
        attr,
    }
}

/// A generic netlink socket talking to the `bind-dmabuf` family. Bindings
/// created through it die with it.
pub struct GenlSocket {
    sock: Socket,
    family_id: u16,
    seq: u32,
    /// Warnings (extack messages on successful ACKs) seen so far.
    pub warnings: Vec<String>,
}

type BdMsg = NetlinkMessage<GenlMessage<BindDmabufMsg>>;
type CtrlMsg = NetlinkMessage<GenlMessage<GenlCtrl>>;

impl GenlSocket {
    /// Open a socket with extended ACKs enabled and resolve the family id.
    pub fn open() -> Result<Self> {
        let mut sock =
            Socket::new(NETLINK_GENERIC).map_err(|e| NlError::Io("netlink socket", e))?;
        sock.bind_auto()
            .map_err(|e| NlError::Io("netlink bind", e))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| NlError::Io("netlink connect", e))?;
        // Without NETLINK_EXT_ACK the kernel sends no error messages.
        sock.set_ext_ack(true)
            .map_err(|e| NlError::Io("setsockopt NETLINK_EXT_ACK", e))?;
        // Errors then carry only the request header, not the whole request.
        let _ = sock.set_cap_ack(true);
        let mut s = GenlSocket {
            sock,
            family_id: 0,
            seq: 0,
            warnings: Vec::new(),
        };
        s.family_id = s.resolve_family(ids::FAMILY_NAME)?;
        Ok(s)
    }

    pub fn family_id(&self) -> u16 {
        self.family_id
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn send_bytes(&self, buf: &[u8]) -> Result<()> {
        loop {
            match self.sock.send(buf, 0) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(NlError::Io("netlink send", e)),
            }
        }
    }

    fn recv_bytes(&self) -> Result<Vec<u8>> {
        loop {
            match self.sock.recv_from_full() {
                Ok((buf, _)) => return Ok(buf),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(NlError::Io("netlink recv", e)),
            }
        }
    }

    /// CTRL_CMD_GETFAMILY by name.
    fn resolve_family(&mut self, name: &str) -> Result<u16> {
        let mut genl = GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(name.to_string())],
        });
        genl.finalize();
        let seq = self.next_seq();
        let mut nl = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(genl));
        nl.header.flags = NLM_F_REQUEST | NLM_F_ACK;
        nl.header.sequence_number = seq;
        nl.finalize();
        let mut req = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut req);
        self.send_bytes(&req)?;

        let mut id = None;
        loop {
            let buf = self.recv_bytes()?;
            let mut off = 0;
            while off + NLMSG_HDRLEN <= buf.len() {
                let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
                if len < NLMSG_HDRLEN || off + len > buf.len() {
                    return Err(NlError::Protocol("truncated nlctrl reply".into()));
                }
                let one = &buf[off..off + len];
                off += (len + 3) & !3;
                let msg = CtrlMsg::deserialize(one)
                    .map_err(|e| NlError::Protocol(format!("nlctrl reply: {e}")))?;
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::InnerMessage(g) => {
                        for a in g.payload.nlas {
                            if let GenlCtrlAttrs::FamilyId(fid) = a {
                                id = Some(fid);
                            }
                        }
                    }
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => id.ok_or(NlError::NoFamily),
                            Some(c) if c.get() == -libc::ENOENT => Err(NlError::NoFamily),
                            Some(c) => {
                                let ext = ExtAck::from_error(msg.header.flags, &e.header);
                                Err(NlError::Kernel(kernel_error(
                                    "nlctrl getfamily",
                                    c.get(),
                                    ext,
                                    &req,
                                )))
                            }
                        };
                    }
                    _ => {}
                }
            }
        }
    }

    /// Serialize a request for this family.
    pub fn encode(&mut self, msg: BindDmabufMsg, flags: u16) -> (u32, Vec<u8>) {
        let seq = self.next_seq();
        (seq, encode_request(self.family_id, seq, msg, flags))
    }

    /// Send a `do` request and return its reply, if any.
    pub fn request(&mut self, msg: BindDmabufMsg) -> Result<Option<BindDmabufMsg>> {
        let op = ids::cmd_name(msg.cmd);
        let (seq, req) = self.encode(msg, NLM_F_REQUEST | NLM_F_ACK);
        self.send_bytes(&req)?;
        let mut replies = self.collect(op, seq, &req, false)?;
        Ok(replies.pop())
    }

    /// Send a dump request and return all replies.
    pub fn dump(&mut self, msg: BindDmabufMsg) -> Result<Vec<BindDmabufMsg>> {
        let op = ids::cmd_name(msg.cmd);
        let (seq, req) = self.encode(msg, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP);
        self.send_bytes(&req)?;
        self.collect(op, seq, &req, true)
    }

    fn collect(
        &mut self,
        op: &'static str,
        seq: u32,
        req: &[u8],
        dump: bool,
    ) -> Result<Vec<BindDmabufMsg>> {
        let mut out = Vec::new();
        loop {
            let buf = self.recv_bytes()?;
            let mut off = 0;
            while off + NLMSG_HDRLEN <= buf.len() {
                let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
                if len < NLMSG_HDRLEN || off + len > buf.len() {
                    return Err(NlError::Protocol(format!("{op}: truncated reply")));
                }
                let one = &buf[off..off + len];
                off += (len + 3) & !3;
                let msg = match BdMsg::deserialize(one) {
                    Ok(m) => m,
                    Err(e) => return Err(NlError::Protocol(format!("{op}: {e}"))),
                };
                if msg.header.sequence_number != seq {
                    continue; // stale reply of an interrupted request
                }
                match msg.payload {
                    NetlinkPayload::InnerMessage(g) => out.push(g.payload),
                    NetlinkPayload::Error(e) => {
                        let ext = ExtAck::from_error(msg.header.flags, &e.header);
                        match e.code {
                            Some(c) => {
                                return Err(NlError::Kernel(kernel_error(op, c.get(), ext, req)))
                            }
                            None => {
                                if let Some(w) = ext.msg {
                                    self.warnings.push(format!("{op}: {w}"));
                                }
                                if !dump {
                                    return Ok(out);
                                }
                            }
                        }
                    }
                    NetlinkPayload::Done(d) => {
                        let ext = if msg.header.flags & NLM_F_ACK_TLVS != 0 {
                            ExtAck::parse(&d.extended_ack)
                        } else {
                            ExtAck::default()
                        };
                        if d.code < 0 {
                            return Err(NlError::Kernel(kernel_error(op, d.code, ext, req)));
                        }
                        if dump {
                            return Ok(out);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// One netlink message carrying `msg` for family `family_id`.
pub fn encode_request(family_id: u16, seq: u32, msg: BindDmabufMsg, flags: u16) -> Vec<u8> {
    debug_assert_eq!(BindDmabufMsg::family_name(), ids::FAMILY_NAME);
    let mut genl = GenlMessage::from_payload(msg);
    genl.set_resolved_family_id(family_id);
    let mut nl = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(genl));
    nl.header.flags = flags;
    nl.header.sequence_number = seq;
    nl.finalize();
    let mut buf = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut buf);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{bind_request, Queue};

    fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(value);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Byte-identical to what the kernel tree's YNL Python library
    /// (tools/net/ynl) encodes from the spec for family id 30, seq 1.
    #[test]
    fn matches_ynl_python_encoding() {
        use crate::msg::rx_release_requests;
        let bind = encode_request(
            30,
            1,
            bind_request(7, &[Queue::rx(0), Queue::rx(3)], 5, Some(8192)),
            NLM_F_REQUEST | NLM_F_ACK,
        );
        assert_eq!(
            bind,
            hex(
                "540000001e00050001000000000000000101000008000200070000001400038008000100\
                 000000000800020000000000140003800800010003000000080002000000000008000400\
                 050000000800050000200000"
            )
        );
        let release = encode_request(
            30,
            1,
            rx_release_requests(3, &[1, 2]).remove(0),
            NLM_F_REQUEST | NLM_F_ACK,
        );
        assert_eq!(
            release,
            hex("2c0000001e000500010000000000000005010000080001000300000008002200010000000800220002000000")
        );
    }

    #[test]
    fn extack_message_and_offset() {
        let req = encode_request(
            30,
            1,
            bind_request(2, &[Queue::rx(0)], 4, Some(5000)),
            NLM_F_REQUEST | NLM_F_ACK,
        );
        // chunk-size is the last attribute: 16 + 4 + ifindex 8 + queues 20 + fd 8
        let chunk_off = 16 + 4 + 8 + 20 + 8;
        assert_eq!(
            attr_at_offset(&req, chunk_off).as_deref(),
            Some("chunk-size")
        );
        assert_eq!(
            attr_at_offset(&req, 20 + 8 + 12).as_deref(),
            Some("queues.type")
        );

        // CAPPED error: request header, then TLVs.
        let mut body = req[..16].to_vec();
        body.extend(nla(
            NLMSGERR_ATTR_MSG,
            b"chunk size must be a power of two between 4096 and 65536\0",
        ));
        body.extend(nla(NLMSGERR_ATTR_OFFS, &chunk_off.to_ne_bytes()));
        let ext = ExtAck::from_error(NLM_F_CAPPED | NLM_F_ACK_TLVS, &body);
        let err = kernel_error("bind-dmabuf", -libc::EINVAL, ext, &req);
        assert_eq!(
            err.to_string(),
            "bind-dmabuf failed: Invalid argument: chunk size must be a power of two \
             between 4096 and 65536 (attribute chunk-size) [EINVAL]"
        );
    }

    #[test]
    fn extack_uncapped_and_missing() {
        let req = encode_request(
            30,
            1,
            bind_request(2, &[Queue::rx(0)], 4, None),
            NLM_F_REQUEST | NLM_F_ACK,
        );
        // Not capped: the whole request is echoed before the TLVs.
        let mut body = req.clone();
        body.extend(nla(NLMSGERR_ATTR_MISS_TYPE, &1u32.to_ne_bytes()));
        let ext = ExtAck::from_error(NLM_F_ACK_TLVS, &body);
        assert_eq!(ext.miss_type, Some(1));
        let err = kernel_error("unbind", -libc::EINVAL, ext, &req);
        assert_eq!(
            err.to_string(),
            "unbind failed: Invalid argument: missing attribute id [EINVAL]"
        );
        // No TLVs flag: nothing parsed.
        assert_eq!(ExtAck::from_error(0, &body), ExtAck::default());
        let plain = kernel_error("unbind", -libc::ENOENT, ExtAck::default(), &req);
        assert_eq!(
            plain.to_string(),
            "unbind failed: No such file or directory [ENOENT]"
        );
    }
}
