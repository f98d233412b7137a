// SPDX-License-Identifier: GPL-2.0
//! nlfuzz: structure-aware fuzzer of the netmem `bind-dmabuf` generic netlink family.
//!
//! Several netlink sockets, some owning live bindings on a test NIC whose queues receive
//! traffic the fuzzer itself sends (from another netns), send batches of requests: valid
//! operations whose outcome a model of the bindings predicts exactly (bind real udmabufs,
//! rx-read, rx-release with duplicate, out-of-range and other bindings' tokens, get, dump,
//! unbind, other sockets' bindings, fds that are not dma-bufs), policy violations with
//! their exact errno and offending attribute, generic netlink core cases (unknown ops and
//! families, bad flags and headers, lying lengths) and random attribute soup.
//!
//! Every reply must be an error carrying an extack message (or a missing-attribute report,
//! or one of the core's message-less errors predicted from the request header), an ACK,
//! or an answer that parses against the spec and agrees with the model. Anything else
//! fails the run with both messages hex-dumped. The pools are audited (nmx_testing_audit
//! through the test NIC's debugfs) during and after the run, and once every socket is
//! closed no binding may be left.
//!
//! `--seed N` replays the same decisions; values the kernel hands out (ids, tokens) and
//! the traffic's timing still come from the kernel.

mod rng;
mod sock;
mod wire;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use netmemctl::dmabuf::DmaBuf;
use netmemctl::ids::{self, binding as ab, cmd, queue as aq};

use rng::Rng;
use sock::NlSock;
use wire::*;

#[derive(Parser, Debug)]
#[command(about = "Structure-aware fuzzer of the bind-dmabuf netlink family")]
struct Args {
    /// Seed of every decision (default: from the clock; printed at start).
    #[arg(long)]
    seed: Option<u64>,
    /// Messages to send.
    #[arg(long, default_value_t = 100_000)]
    count: u64,
    /// Device whose queues are bound.
    #[arg(long, default_value = "nmxt1")]
    ifname: String,
    /// Queues the fuzzer binds (queue 0 stays unbound for ARP).
    #[arg(long, default_value = "1,2,3", value_delimiter = ',')]
    queues: Vec<u32>,
    /// Netlink sockets (all but the last start with a binding of their own).
    #[arg(long, default_value_t = 4)]
    sockets: usize,
    /// Largest number of messages in one datagram.
    #[arg(long, default_value_t = 48)]
    batch: usize,
    /// Netns to send UDP traffic from (to --dst, ports --port-base + queue).
    #[arg(long)]
    traffic_netns: Option<String>,
    #[arg(long)]
    dst: Option<Ipv4Addr>,
    #[arg(long, default_value_t = 9000)]
    port_base: u16,
    /// The test NIC's debugfs audit file (write a binding id: audits it). `ip netns exec`
    /// hides debugfs: pass an inherited fd as /proc/self/fd/N.
    #[arg(long)]
    audit: Option<PathBuf>,
    /// Audit rounds of every live binding during the run.
    #[arg(long, default_value_t = 8)]
    audits: u64,
}

const EINVAL: i32 = libc::EINVAL;
const ERANGE: i32 = libc::ERANGE;

fn errname(e: i32) -> String {
    let n = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EBADF => "EBADF",
        libc::ENOMEM => "ENOMEM",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ERANGE => "ERANGE",
        libc::E2BIG => "E2BIG",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::ENOBUFS => "ENOBUFS",
        _ => return format!("errno {e}"),
    };
    n.to_string()
}

/// What the netlink core does with a message before any handler of ours, from its header
/// alone (net/netlink/af_netlink.c netlink_rcv_skb, genetlink.c genl_family_rcv_msg).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Core {
    /// Not a request or a control type: skipped, ACKed (0) if asked.
    Skipped { ack: bool },
    /// A core error the kernel gives no extack message for.
    NoMsg(i32, &'static str),
    /// genl_header_check: EINVAL with a message.
    HeaderCheck,
    /// Reaches the family: a dump, or a do of an op that exists.
    Family { dump: bool },
}

fn core_of(h: &Header, fam: u16, true_len: usize) -> Core {
    let len = h.len.map_or(true_len, |l| l as usize);
    debug_assert!(len >= NLMSG_HDRLEN && len <= true_len);
    if h.flags & NLM_F_REQUEST == 0 || h.ty < NLMSG_MIN_TYPE {
        return Core::Skipped {
            ack: h.flags & NLM_F_ACK != 0,
        };
    }
    if h.ty != fam {
        return Core::NoMsg(libc::ENOENT, "no such family");
    }
    if len < NLMSG_HDRLEN + GENL_HDRLEN {
        return Core::NoMsg(EINVAL, "no room for the genl header");
    }
    let dump = h.flags & NLM_F_DUMP == NLM_F_DUMP;
    let f = if dump { h.flags & !NLM_F_DUMP } else { h.flags };
    if h.reserved != 0 || f & !(NLM_F_REQUEST | NLM_F_ACK | NLM_F_ECHO) != 0 {
        return Core::HeaderCheck;
    }
    if dump && h.cmd != cmd::BINDING_GET || !dump && !(1..=5).contains(&h.cmd) {
        return Core::NoMsg(libc::EOPNOTSUPP, "no such op");
    }
    Core::Family { dump }
}

/// An operation whose outcome the model predicts when its reply is judged.
#[derive(Debug)]
enum Op {
    Bind {
        queues: Vec<u32>,
        ifindex: u32,
        fd: FdKind,
        chunk: Option<u32>,
    },
    Unbind(u32),
    Get(u32),
    Dump,
    Read(u32, Option<u32>),
    Release(u32, Vec<u32>),
}

#[derive(Debug)]
enum FdKind {
    /// A new udmabuf made for this request (kept if the bind succeeds).
    Fresh(u64),
    /// The dma-buf of a live binding.
    Bound(u32),
    /// Not a dma-buf (a file, a socket, a closed number...).
    NotDmabuf(&'static str),
}

#[derive(Debug)]
enum Exp {
    /// Anything the kernel may legitimately answer.
    Generic,
    /// Dropped by the core for its nlmsg_len: no reply at all.
    Dropped,
    /// Must fail with this errno and an extack message (or, with `miss`, a missing
    /// attribute report naming it); `offs` is the offending attribute's offset.
    Reject {
        errno: i32,
        offs: Option<usize>,
        miss: Option<u16>,
    },
    Oracle(Op),
}

struct Gen {
    h: Header,
    body: Vec<u8>,
    exp: Exp,
    kind: &'static str,
    fresh: Option<DmaBuf>,
}

struct BindingM {
    id: u32,
    owner: usize,
    queues: Vec<u32>,
    chunk: u32,
    total: u32,
    size: u64,
    held: BTreeSet<u32>,
    live: bool,
    buf: Option<DmaBuf>,
}

/// Descriptors that are not dma-bufs, each with what it is.
struct NotDmabufs {
    fds: Vec<(i32, &'static str)>,
    _keep: Vec<OwnedFd>,
    _udp: UdpSocket,
}

impl NotDmabufs {
    fn new(nl_fd: i32) -> Result<Self> {
        let mut keep: Vec<OwnedFd> = Vec::new();
        let mut fds = Vec::new();
        for (path, what) in [
            ("/proc/self/status", "a regular (proc) file"),
            ("/dev/null", "a character device"),
            ("/dev/udmabuf", "the udmabuf device itself"),
            ("/", "a directory"),
        ] {
            let f = File::open(path).with_context(|| format!("open {path}"))?;
            let fd: OwnedFd = f.into();
            fds.push((fd.as_raw_fd(), what));
            keep.push(fd);
        }
        let memfd = nix_memfd()?;
        fds.push((memfd.as_raw_fd(), "a memfd"));
        keep.push(memfd);
        let udp = UdpSocket::bind("127.0.0.1:0").context("udp socket")?;
        fds.push((udp.as_raw_fd(), "a UDP socket"));
        fds.push((nl_fd, "a netlink socket"));
        fds.push((1_000_000, "a closed fd number"));
        fds.push((0x7fff_fff0, "an fd far beyond the table"));
        Ok(NotDmabufs {
            fds,
            _keep: keep,
            _udp: udp,
        })
    }
}

fn nix_memfd() -> Result<OwnedFd> {
    // SAFETY: memfd_create with a static NUL-terminated name; the result is checked.
    let fd = unsafe { libc::memfd_create(c"nlfuzz".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        bail!("memfd_create: {}", std::io::Error::last_os_error());
    }
    // SAFETY: a new fd nobody else owns.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: `fd` is open; ftruncate has no memory-safety preconditions.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), 65536) } < 0 {
        bail!("ftruncate: {}", std::io::Error::last_os_error());
    }
    Ok(fd)
}

struct Fuzz {
    rng: Rng,
    fam: u16,
    ifindex: u32,
    queues: Vec<u32>,
    nqueues: u32,
    socks: Vec<NlSock>,
    bindings: Vec<BindingM>,
    bad_fds: NotDmabufs,
    seq: u32,
    tally: BTreeMap<String, u64>,
    kinds: BTreeMap<&'static str, u64>,
    sent: u64,
    datagrams: u64,
    traffic: Option<(UdpSocket, Ipv4Addr, u16)>,
    frames: u64,
    audit: Option<File>,
    audits_done: u64,
    rbufs: Vec<Vec<u8>>,
    /// A udmabuf for binds the kernel refuses before it claims the dma-buf.
    spare: DmaBuf,
    /// Seconds spent generating, in send (the kernel handling the batch), receiving,
    /// judging, auditing.
    times: [f64; 5],
}

/// What the kernel answered one request, once its replies have the right shape.
#[derive(Debug)]
enum Out {
    Nothing,
    Ack,
    Err(i32, Ext),
    Data(Answer, bool),
    Dump(Vec<BindingInfo>),
}

fn count(t: &mut BTreeMap<String, u64>, k: String) {
    *t.entry(k).or_insert(0) += 1;
}

impl Fuzz {
    fn tally(&mut self, k: String) {
        count(&mut self.tally, k);
    }

    fn live_of(&self, s: usize) -> Vec<u32> {
        self.bindings
            .iter()
            .filter(|b| b.live && b.owner == s)
            .map(|b| b.id)
            .collect()
    }

    fn model(&self, id: u32) -> Option<&BindingM> {
        self.bindings.iter().find(|b| b.id == id)
    }

    /// The errno an unbind or token release of binding `id` from socket `s` must get before
    /// anything else: ENOENT for an unknown or dead binding, EPERM for another socket's.
    fn refusal(&self, id: u32, s: usize) -> Option<i32> {
        match self.model(id) {
            Some(b) if b.live && b.owner == s => None,
            Some(b) if b.live => Some(libc::EPERM),
            _ => Some(libc::ENOENT),
        }
    }

    fn model_mut(&mut self, id: u32) -> Option<&mut BindingM> {
        self.bindings.iter_mut().find(|b| b.id == id)
    }

    /// A binding id: mostly one the model knows, sometimes garbage.
    fn some_id(&mut self) -> u32 {
        let n = self.bindings.len();
        let i = self.rng.below_usize(n);
        let live: Vec<u32> = self
            .bindings
            .iter()
            .filter(|b| b.live)
            .map(|b| b.id)
            .collect();
        let j = self.rng.below_usize(live.len());
        let r = self.rng.u32();
        match self.rng.below(10) {
            0 => r,
            1 => 1 + r % 64,
            2..=4 if n > 0 => self.bindings[i].id,
            _ if !live.is_empty() => live[j],
            _ => 1 + r % 64,
        }
    }

    /// One of socket `s`'s live bindings if it has one, else any known id.
    fn own_id(&mut self, s: usize) -> u32 {
        let own = self.live_of(s);
        let i = self.rng.below_usize(own.len());
        let other = self.some_id();
        own.get(i).copied().unwrap_or(other)
    }

    fn random_held(&mut self, id: u32) -> Option<u32> {
        let b = self.model(id)?;
        let n = b.held.len();
        let i = self.rng.below_usize(n);
        self.model(id)?.held.iter().nth(i).copied()
    }

    // --- generators ---

    fn gen(&mut self, s: usize) -> Result<Gen> {
        let fam = self.fam;
        let base = |c: u8| Header::new(fam, c, NLM_F_REQUEST | NLM_F_ACK);
        let roll = self.rng.below(1000);
        // A socket whose bindings are gone binds again now and then, so most requests
        // meet live bindings.
        let rebind = self.live_of(s).is_empty() && self.rng.chance(80);
        let roll = if rebind { 570 } else { roll };
        let mut g = match roll {
            570 if rebind => self.gen_bind(true)?,
            0..=279 => {
                let id = self.own_id(s);
                // Large max-records cost the kernel a large reply buffer: rarer.
                let max = match self.rng.below(20) {
                    0..=7 => None,
                    8..=16 => Some(1 + self.rng.below(8) as u32),
                    17 => Some(ids::RECORDS_MAX),
                    _ => Some(1 + self.rng.below(ids::RECORDS_MAX as u64) as u32),
                };
                let mut body = Vec::new();
                nla_u32(&mut body, ab::ID, id);
                if let Some(m) = max {
                    nla_u32(&mut body, ab::MAX_RECORDS, m);
                }
                self.oracle(base(cmd::RX_READ), body, Op::Read(id, max), "rx-read")
            }
            280..=449 => {
                let id = self.own_id(s);
                let mut tokens = self.tokens_for(id);
                if self.rng.chance(10) {
                    let n = ids::TOKENS_MAX as u64 + 1 + self.rng.below(100);
                    tokens = (0..n).map(|_| self.rng.below(256) as u32).collect();
                }
                let mut body = Vec::new();
                nla_u32(&mut body, ab::ID, id);
                for &t in &tokens {
                    nla_u32(&mut body, ab::TOKENS, t);
                }
                self.oracle(
                    base(cmd::RX_RELEASE),
                    body,
                    Op::Release(id, tokens),
                    "rx-release",
                )
            }
            450..=509 => {
                let id = self.some_id();
                let mut body = Vec::new();
                nla_u32(&mut body, ab::ID, id);
                self.oracle(base(cmd::BINDING_GET), body, Op::Get(id), "binding-get")
            }
            510..=524 => {
                let mut h = base(cmd::BINDING_GET);
                h.flags |= NLM_F_DUMP;
                self.oracle(h, Vec::new(), Op::Dump, "dump")
            }
            525..=564 => self.gen_foreign(s),
            565..=569 => {
                let own = self.live_of(s);
                let i = self.rng.below_usize(own.len());
                let id = own.get(i).copied().unwrap_or(0x7fff_0000);
                let mut body = Vec::new();
                nla_u32(&mut body, ab::ID, id);
                self.oracle(base(cmd::UNBIND), body, Op::Unbind(id), "unbind")
            }
            570..=599 => self.gen_bind(false)?,
            600..=799 => self.gen_policy(s),
            800..=899 => self.gen_core(s),
            _ => self.gen_garbage(s),
        };
        // Now and then a valid op without NLM_F_ACK: a success then answers with its
        // reply alone (unbind with nothing), an error still with an error.
        if matches!(g.exp, Exp::Oracle(_)) && self.rng.chance(50) {
            g.h.flags &= !NLM_F_ACK;
        }
        Ok(g)
    }

    fn oracle(&mut self, h: Header, body: Vec<u8>, op: Op, kind: &'static str) -> Gen {
        Gen {
            h,
            body,
            exp: Exp::Oracle(op),
            kind,
            fresh: None,
        }
    }

    fn tokens_for(&mut self, id: u32) -> Vec<u32> {
        let held = self.model(id).map_or(0, |b| b.held.len());
        let total = self.model(id).map_or(64, |b| b.total);
        let k = 1 + self.rng.below(held.min(48) as u64) as usize;
        let mut t = Vec::new();
        for _ in 0..k {
            if let Some(x) = self.random_held(id) {
                t.push(x);
            }
        }
        if t.is_empty() || self.rng.chance(300) {
            // Tokens not held: out of range, never read, another binding's.
            match self.rng.below(4) {
                0 => t.push(total + self.rng.below(4096) as u32),
                1 => t.push(u32::MAX - self.rng.below(4) as u32),
                2 => t.push(self.rng.below(total as u64) as u32),
                _ => {
                    let other = self.some_id();
                    let x = self.random_held(other).unwrap_or(0);
                    t.push(x);
                }
            }
        }
        if self.rng.chance(200) {
            let i = self.rng.below_usize(t.len());
            t.push(t[i]);
        }
        t
    }

    /// rx-read, rx-release or unbind on another socket's binding.
    fn gen_foreign(&mut self, s: usize) -> Gen {
        let others: Vec<u32> = self
            .bindings
            .iter()
            .filter(|b| b.owner != s)
            .map(|b| b.id)
            .collect();
        let i = self.rng.below_usize(others.len());
        let id = others.get(i).copied().unwrap_or(1);
        let mut body = Vec::new();
        nla_u32(&mut body, ab::ID, id);
        let fam = self.fam;
        match self.rng.below(3) {
            0 => self.oracle(
                Header::new(fam, cmd::RX_READ, NLM_F_REQUEST | NLM_F_ACK),
                body,
                Op::Read(id, None),
                "foreign rx-read",
            ),
            1 => {
                let x = self.random_held(id).unwrap_or(0);
                nla_u32(&mut body, ab::TOKENS, x);
                self.oracle(
                    Header::new(fam, cmd::RX_RELEASE, NLM_F_REQUEST | NLM_F_ACK),
                    body,
                    Op::Release(id, vec![x]),
                    "foreign rx-release",
                )
            }
            _ => self.oracle(
                Header::new(fam, cmd::UNBIND, NLM_F_REQUEST | NLM_F_ACK),
                body,
                Op::Unbind(id),
                "foreign unbind",
            ),
        }
    }

    /// A bind: with `valid`, of a new udmabuf to free queues (if any); otherwise one of
    /// the refused variants half of the time.
    fn gen_bind(&mut self, valid: bool) -> Result<Gen> {
        let busy: BTreeSet<u32> = self
            .bindings
            .iter()
            .filter(|b| b.live)
            .flat_map(|b| b.queues.iter().copied())
            .collect();
        let free: Vec<u32> = self
            .queues
            .iter()
            .copied()
            .filter(|q| !busy.contains(q))
            .collect();
        let i = self.rng.below_usize(free.len());
        let j = self.rng.below_usize(self.queues.len());
        let mut queues = vec![free.get(i).copied().unwrap_or(self.queues[j])];
        if self.rng.chance(150) {
            let k = self.rng.below_usize(free.len());
            if let Some(&q) = free.get(k) {
                if q != queues[0] {
                    queues.push(q);
                }
            }
        }
        let mut ifindex = self.ifindex;
        let mut chunk = None;
        let mut kind = "bind";
        let sizes = [64u64 << 10, 64 << 10, 128 << 10, 256 << 10];
        let size = sizes[self.rng.below_usize(sizes.len())];
        let mut fresh = None;
        let variant = self.rng.below(if valid { 1 } else { 12 });
        let fd: (i32, FdKind) = match if valid { 11 } else { variant } {
            0 => {
                let bound: Vec<u32> = self
                    .bindings
                    .iter()
                    .filter(|b| b.live && b.buf.is_some())
                    .map(|b| b.id)
                    .collect();
                let k = self.rng.below_usize(bound.len());
                match bound.get(k) {
                    Some(&id) => {
                        kind = "bind: dma-buf already bound";
                        let fd = self.model(id).unwrap().buf.as_ref().unwrap().fd.as_raw_fd();
                        (fd, FdKind::Bound(id))
                    }
                    None => (1_000_000, FdKind::NotDmabuf("a closed fd number")),
                }
            }
            1..=3 => {
                let k = self.rng.below_usize(self.bad_fds.fds.len());
                let (fd, what) = self.bad_fds.fds[k];
                kind = "bind: fd not a dma-buf";
                (fd, FdKind::NotDmabuf(what))
            }
            r => {
                // Requests refused before the dma-buf is claimed use the spare one;
                // a bind that may succeed or claims it first gets a new udmabuf.
                let fd = if matches!(r, 4..=7 | 9) {
                    self.spare.fd.as_raw_fd()
                } else {
                    let b = DmaBuf::udmabuf(size).context("udmabuf")?;
                    let fd = b.fd.as_raw_fd();
                    fresh = Some(b);
                    fd
                };
                let size = if fresh.is_some() {
                    size
                } else {
                    self.spare.size
                };
                match r {
                    4 => {
                        kind = "bind: queue out of range";
                        queues = vec![self.nqueues + self.rng.below(100) as u32];
                    }
                    5 => {
                        kind = "bind: queue twice";
                        queues = vec![queues[0], queues[0]];
                    }
                    6 => {
                        kind = "bind: unknown ifindex";
                        ifindex = 100_000 + self.rng.below(1000) as u32;
                    }
                    7 => {
                        kind = "bind: chunk not a power of two";
                        chunk = Some(ids::CHUNK_SIZE_MIN + 1 + self.rng.below(60000) as u32);
                    }
                    8 => {
                        kind = "bind: chunk larger than the segments";
                        chunk = Some(8192 << self.rng.below(4));
                    }
                    9 => {
                        kind = "bind: ifindex of lo";
                        ifindex = 1;
                    }
                    _ => {
                        if self.rng.chance(500) {
                            chunk = Some(ids::CHUNK_SIZE_MIN);
                        }
                    }
                }
                (fd, FdKind::Fresh(size))
            }
        };
        let mut body = Vec::new();
        nla_u32(&mut body, ab::IFINDEX, ifindex);
        for &q in &queues {
            queue_nest(&mut body, q, ids::queue_type::RX);
        }
        nla_u32(&mut body, ab::FD, fd.0 as u32);
        if let Some(c) = chunk {
            nla_u32(&mut body, ab::CHUNK_SIZE, c);
        }
        let mut g = self.oracle(
            Header::new(self.fam, cmd::BIND_DMABUF, NLM_F_REQUEST | NLM_F_ACK),
            body,
            Op::Bind {
                queues,
                ifindex,
                fd: fd.1,
                chunk,
            },
            kind,
        );
        g.fresh = fresh;
        Ok(g)
    }

    /// A well-formed request of a random op with one policy violation planted.
    fn gen_policy(&mut self, s: usize) -> Gen {
        let fam = self.fam;
        let c = self.rng.pick(&[
            cmd::BIND_DMABUF,
            cmd::UNBIND,
            cmd::BINDING_GET,
            cmd::RX_READ,
            cmd::RX_RELEASE,
        ]);
        let id = self.own_id(s);
        // The op's attributes: (type, value), all valid.
        let mut at: Vec<(u16, u32)> = match c {
            cmd::BIND_DMABUF => vec![
                (ab::IFINDEX, self.ifindex),
                (ab::QUEUES, 0),
                (ab::FD, 0),
                (ab::CHUNK_SIZE, 4096),
            ],
            cmd::RX_READ => vec![
                (ab::ID, id),
                (ab::MAX_RECORDS, 1 + self.rng.below(16) as u32),
            ],
            cmd::RX_RELEASE => vec![(ab::ID, id), (ab::TOKENS, 0)],
            _ => vec![(ab::ID, id)],
        };
        let maxattr = match c {
            cmd::BIND_DMABUF => ab::CHUNK_SIZE,
            cmd::RX_READ => ab::MAX_RECORDS,
            cmd::RX_RELEASE => ab::TOKENS,
            _ => ab::ID,
        };
        let victim = self.rng.below_usize(at.len());
        let what = self.rng.below(12);
        let h = Header::new(fam, c, NLM_F_REQUEST | NLM_F_ACK);
        let mut body = Vec::new();
        let mut exp = Exp::Reject {
            errno: EINVAL,
            offs: None,
            miss: None,
        };
        let mut kind = "policy";
        // Missing a required attribute: drop it (bind: ifindex, fd, queues; others: id;
        // release also tokens). chunk-size and max-records are optional: pick another.
        if what == 0 {
            let required: &[u16] = match c {
                cmd::BIND_DMABUF => &[ab::IFINDEX, ab::FD, ab::QUEUES],
                cmd::RX_RELEASE => &[ab::ID, ab::TOKENS],
                _ => &[ab::ID],
            };
            let drop = self.rng.pick(required);
            at.retain(|a| a.0 != drop);
            // The handler checks in this order; the first missing one is reported.
            let order: &[u16] = match c {
                cmd::BIND_DMABUF => &[ab::IFINDEX, ab::FD, ab::QUEUES],
                cmd::RX_RELEASE => &[ab::ID, ab::TOKENS],
                _ => &[ab::ID],
            };
            let first = order
                .iter()
                .copied()
                .find(|t| !at.iter().any(|a| a.0 == *t))
                .unwrap();
            exp = Exp::Reject {
                errno: EINVAL,
                offs: None,
                miss: Some(first),
            };
            kind = "policy: missing attribute";
        }
        let mut planted = what == 0;
        for (i, &(t, v)) in at.iter().enumerate() {
            let here = NLMSG_HDRLEN + GENL_HDRLEN + body.len();
            if i != victim || planted {
                self.put_valid(&mut body, c, t, v);
                continue;
            }
            planted = true;
            let reject = |errno, offs| Exp::Reject {
                errno,
                offs: Some(offs),
                miss: None,
            };
            match what {
                1..=3 if t != ab::QUEUES => {
                    // Out of the policy's range.
                    let bad = match t {
                        ab::ID | ab::IFINDEX => Some(0),
                        ab::FD => Some(0x8000_0000 + self.rng.below(0x7fff_ffff) as u32),
                        ab::CHUNK_SIZE => Some(if self.rng.chance(500) {
                            self.rng.below(ids::CHUNK_SIZE_MIN as u64) as u32
                        } else {
                            ids::CHUNK_SIZE_MAX + 1 + self.rng.below(1 << 30) as u32
                        }),
                        ab::MAX_RECORDS => Some(if self.rng.chance(300) {
                            0
                        } else {
                            ids::RECORDS_MAX + 1 + self.rng.below(1 << 30) as u32
                        }),
                        _ => None, // tokens: plain u32, any value is in range
                    };
                    match bad {
                        Some(b) => {
                            nla_u32(&mut body, t, b);
                            exp = reject(ERANGE, here);
                            kind = "policy: out of range";
                        }
                        None => {
                            let n = [0usize, 1, 2, 3, 5, 6, 8][self.rng.below_usize(7)];
                            let v = self.rng.bytes(n);
                            nla(&mut body, t, &v);
                            exp = reject(EINVAL, here);
                            kind = "policy: wrong-typed attribute";
                        }
                    }
                }
                1..=3 => {
                    // Queue nest with an out-of-range type (max tx) or a bad inner width.
                    let mut inner = Vec::new();
                    let inner_at = here + 4;
                    nla_u32(&mut inner, aq::ID, 1);
                    let toff = inner_at + inner.len();
                    if self.rng.chance(500) {
                        nla_u32(&mut inner, aq::TYPE, 2 + self.rng.below(1000) as u32);
                        exp = reject(ERANGE, toff);
                        kind = "policy: queue type out of range";
                    } else {
                        nla(&mut inner, aq::TYPE, &[0, 0]);
                        exp = reject(EINVAL, toff);
                        kind = "policy: wrong-typed attribute in a nest";
                    }
                    nla(&mut body, ab::QUEUES | NLA_F_NESTED, &inner);
                }
                4 | 5 => {
                    // Wrong width (oversized included) for a u32; a queue nest without
                    // NLA_F_NESTED instead for queues.
                    if t == ab::QUEUES {
                        let mut inner = Vec::new();
                        nla_u32(&mut inner, aq::ID, 1);
                        nla_u32(&mut inner, aq::TYPE, 0);
                        nla(&mut body, ab::QUEUES, &inner);
                        kind = "policy: nest without NLA_F_NESTED";
                    } else {
                        let n =
                            [0usize, 1, 2, 3, 5, 7, 8, 16, 1000, 4000][self.rng.below_usize(10)];
                        let v = self.rng.bytes(n);
                        nla(&mut body, t, &v);
                        kind = "policy: wrong-typed attribute";
                    }
                    exp = reject(EINVAL, here);
                }
                6 => {
                    // A scalar flagged nested.
                    if t == ab::QUEUES {
                        nla_u32(&mut body, ab::QUEUES, 1);
                    } else {
                        nla_u32(&mut body, t | NLA_F_NESTED, v);
                    }
                    exp = reject(EINVAL, here);
                    kind = "policy: NLA_F_NESTED on a scalar";
                }
                7 => {
                    // Unknown attribute type: 0 or beyond the op's maxattr.
                    self.put_valid(&mut body, c, t, v);
                    let here = NLMSG_HDRLEN + GENL_HDRLEN + body.len();
                    let ty = if self.rng.chance(300) {
                        0
                    } else {
                        maxattr + 1 + self.rng.below((NLA_TYPE_MASK - maxattr) as u64) as u16
                    };
                    let v = self.rng.bytes(4);
                    nla(&mut body, ty, &v);
                    exp = reject(EINVAL, here);
                    kind = "policy: unknown attribute type";
                }
                8 => {
                    // A type inside the op's maxattr that its policy does not accept.
                    self.put_valid(&mut body, c, t, v);
                    let here = NLMSG_HDRLEN + GENL_HDRLEN + body.len();
                    let allowed: &[u16] = match c {
                        cmd::BIND_DMABUF => &[ab::IFINDEX, ab::QUEUES, ab::FD, ab::CHUNK_SIZE],
                        cmd::RX_READ => &[ab::ID, ab::MAX_RECORDS],
                        cmd::RX_RELEASE => &[ab::ID, ab::TOKENS],
                        _ => &[ab::ID],
                    };
                    let cand: Vec<u16> = (1..=maxattr).filter(|x| !allowed.contains(x)).collect();
                    let k = self.rng.below_usize(cand.len());
                    match cand.get(k) {
                        Some(&ty) => {
                            nla_u32(&mut body, ty, 1);
                            exp = reject(EINVAL, here);
                            kind = "policy: attribute not in the op's policy";
                        }
                        None => {
                            // unbind/get: only the id; duplicate it instead (legal, the
                            // handler takes the first).
                            nla_u32(&mut body, ab::ID, v);
                            let op = if c == cmd::UNBIND {
                                Op::Unbind(v)
                            } else {
                                Op::Get(v)
                            };
                            exp = Exp::Oracle(op);
                            kind = "duplicated attribute";
                        }
                    }
                }
                9 => {
                    // Truncated: the attribute claims more bytes than the message has.
                    nla_raw(
                        &mut body,
                        8 + self.rng.below(64) as u16,
                        t,
                        &v.to_ne_bytes()[..2],
                    );
                    body.truncate(body.len() - 2);
                    exp = Exp::Reject {
                        errno: EINVAL,
                        offs: None,
                        miss: None,
                    };
                    kind = "malformed: truncated attribute";
                    break;
                }
                10 => {
                    // nla_len below the attribute header.
                    let l = self.rng.below(4) as u16;
                    nla_raw(&mut body, l, t, &v.to_ne_bytes());
                    exp = Exp::Reject {
                        errno: EINVAL,
                        offs: None,
                        miss: None,
                    };
                    kind = "malformed: attribute length below 4";
                    break;
                }
                11 if c != cmd::BIND_DMABUF => {
                    // Trailing bytes instead (after the loop); this one stays valid.
                    self.put_valid(&mut body, c, t, v);
                }
                _ => {
                    // Bad nesting: a queue nest whose inner attribute overruns the nest.
                    let mut inner = Vec::new();
                    nla_raw(
                        &mut inner,
                        12 + self.rng.below(40) as u16,
                        aq::ID,
                        &1u32.to_ne_bytes(),
                    );
                    nla(&mut body, ab::QUEUES | NLA_F_NESTED, &inner);
                    exp = Exp::Reject {
                        errno: EINVAL,
                        offs: None,
                        miss: None,
                    };
                    kind = "malformed: bad nesting";
                }
            }
        }
        if what == 11 && c != cmd::BIND_DMABUF {
            // Only bind has a nest; elsewhere trailing bytes after the last attribute.
            let extra = 1 + self.rng.below(3) as usize;
            let v = self.rng.bytes(extra);
            body.extend_from_slice(&v);
            exp = Exp::Reject {
                errno: EINVAL,
                offs: None,
                miss: None,
            };
            kind = "malformed: trailing bytes";
        }
        Gen {
            h,
            body,
            exp,
            kind,
            fresh: None,
        }
    }

    fn put_valid(&mut self, body: &mut Vec<u8>, c: u8, t: u16, v: u32) {
        match t {
            ab::QUEUES => queue_nest(body, self.queues[0], ids::queue_type::RX),
            // A valid fd that is no dma-buf: the request is rejected later, by the handler,
            // but the planted violation comes first.
            ab::FD => nla_u32(body, ab::FD, self.bad_fds.fds[0].0 as u32),
            ab::TOKENS if c == cmd::RX_RELEASE => nla_u32(body, ab::TOKENS, u32::MAX),
            _ => nla_u32(body, t, v),
        }
    }

    /// Cases the netlink core decides from the header.
    fn gen_core(&mut self, s: usize) -> Gen {
        let fam = self.fam;
        let id = self.own_id(s);
        let mut body = Vec::new();
        nla_u32(&mut body, ab::ID, id);
        let mut h = Header::new(fam, cmd::BINDING_GET, NLM_F_REQUEST | NLM_F_ACK);
        let kind = match self.rng.below(9) {
            0 => {
                h.cmd = self.rng.pick(&[0u8, 6, 7, 100, 255]);
                "core: unknown op"
            }
            1 => {
                h.cmd = self.rng.pick(&[
                    cmd::BIND_DMABUF,
                    cmd::UNBIND,
                    cmd::RX_READ,
                    cmd::RX_RELEASE,
                    0,
                    9,
                ]);
                h.flags |= NLM_F_DUMP;
                "core: dump of a do-only op"
            }
            2 => {
                h.ty = 1024 + self.rng.below(0xffff - 1024) as u16;
                "core: unknown family"
            }
            3 => {
                h.ty = self.rng.below(NLMSG_MIN_TYPE as u64) as u16;
                if self.rng.chance(500) {
                    h.flags &= !NLM_F_ACK;
                }
                "core: control message type"
            }
            4 => {
                h.flags = self
                    .rng
                    .pick(&[0u16, NLM_F_ACK, NLM_F_ACK | NLM_F_ECHO, NLM_F_DUMP]);
                "core: not a request"
            }
            5 => {
                h.genl_bytes = self.rng.below(4) as usize;
                body.clear();
                "core: truncated genl header"
            }
            6 => {
                h.reserved = 1 + self.rng.below(0xfffe) as u16;
                "core: genl reserved field set"
            }
            7 => {
                let bad = self.rng.pick(&[
                    0x02u16, 0x10, 0x20, 0x100, 0x200, 0x400, 0x800, 0x1000, 0x8000,
                ]);
                h.flags |= bad;
                if h.flags & NLM_F_DUMP == NLM_F_DUMP {
                    h.flags &= !0x100;
                }
                "core: reserved nlmsg flag bits"
            }
            _ => {
                h.version = self.rng.below(256) as u8;
                return self.oracle(h, body, Op::Get(id), "core: any genl version");
            }
        };
        Gen {
            h,
            body,
            exp: Exp::Generic,
            kind,
            fresh: None,
        }
    }

    /// Random attribute soup (random types, widths, nests, duplicates, oversized values)
    /// under a random op and flags.
    fn gen_garbage(&mut self, s: usize) -> Gen {
        let fam = self.fam;
        let c = self.rng.pick(&[1u8, 2, 3, 4, 5, 1, 2, 3, 4, 5, 0, 6, 255]);
        let mut flags = NLM_F_REQUEST | NLM_F_ACK;
        if self.rng.chance(200) {
            flags = NLM_F_REQUEST | (self.rng.u32() as u16 & !NLM_F_REQUEST & 0x0f0f);
        }
        let h = Header::new(fam, c, flags);
        let mut body = Vec::new();
        let kind = if self.rng.chance(100) {
            let n = self.rng.below(300) as usize;
            body = self.rng.bytes(n);
            "garbage: random bytes"
        } else {
            let n = self.rng.below(8);
            for _ in 0..n {
                self.soup_attr(&mut body, 0);
            }
            "garbage: random attributes"
        };
        self.defuse(s, c, &mut body);
        Gen {
            h,
            body,
            exp: Exp::Generic,
            kind,
            fresh: None,
        }
    }

    /// Random requests must not change what the model tracks (which binding exists, which
    /// tokens the user holds): in a request the family would accept, a top-level id of
    /// an unbind, rx-read or rx-release becomes one of another socket's bindings or one
    /// that never existed, and a bind's fd a closed number.
    fn defuse(&self, s: usize, c: u8, body: &mut [u8]) {
        let mut off = 0;
        while off + 4 <= body.len() {
            let len = u16::from_ne_bytes([body[off], body[off + 1]]) as usize;
            let ty = u16::from_ne_bytes([body[off + 2], body[off + 3]]) & NLA_TYPE_MASK;
            if len < 4 || off + len > body.len() {
                return; // the policy refuses the rest
            }
            if len == 8 {
                let v = u32::from_ne_bytes(body[off + 4..off + 8].try_into().unwrap());
                let foreign = self.model(v).is_some_and(|b| b.owner != s);
                let nv = match (c, ty) {
                    (cmd::UNBIND | cmd::RX_READ | cmd::RX_RELEASE, ab::ID)
                        if v != 0 && !foreign =>
                    {
                        Some(0x4000_0000 | (v & 0xffff))
                    }
                    (cmd::BIND_DMABUF, ab::FD) => Some(1_000_000),
                    _ => None,
                };
                if let Some(nv) = nv {
                    body[off + 4..off + 8].copy_from_slice(&nv.to_ne_bytes());
                }
            }
            off += align4(len);
        }
    }

    fn soup_attr(&mut self, body: &mut Vec<u8>, depth: u32) {
        let types = [
            ab::ID,
            ab::IFINDEX,
            ab::QUEUES,
            ab::FD,
            ab::CHUNK_SIZE,
            ab::MAX_RECORDS,
            ab::TOKENS,
            6,
            7,
            16,
            21,
            33,
            35,
        ];
        let mut ty = if self.rng.chance(850) {
            self.rng.pick(&types)
        } else {
            self.rng.below(0x4000) as u16
        };
        if self.rng.chance(200) {
            ty |= NLA_F_NESTED;
        }
        let known = self.bindings.len();
        let k = self.rng.below_usize(known);
        let idv = self.bindings.get(k).map_or(1, |b| b.id);
        match self.rng.below(10) {
            0..=4 => {
                let r = self.rng.u32();
                let v = self.rng.pick(&[
                    0u32,
                    1,
                    2,
                    3,
                    idv,
                    idv,
                    255,
                    4095,
                    4096,
                    65536,
                    1 << 31,
                    u32::MAX,
                    r,
                ]);
                nla_u32(body, ty, v);
            }
            5 | 6 if depth < 3 => {
                let mut inner = Vec::new();
                for _ in 0..self.rng.below(4) {
                    self.soup_attr(&mut inner, depth + 1);
                }
                nla(body, ty, &inner);
            }
            7 => {
                let n = self.rng.below(6000) as usize;
                let v = self.rng.bytes(n);
                nla(body, ty, &v);
            }
            _ => {
                let n = self.rng.pick(&[0usize, 1, 2, 3, 5, 8, 12, 64]);
                let v = self.rng.bytes(n);
                nla(body, ty, &v);
            }
        }
    }

    /// The last message of a batch whose nlmsg_len lies: beyond the datagram or below the
    /// netlink header (dropped), or cutting the message short.
    fn gen_lying_len(&mut self, s: usize) -> Gen {
        let mut g = self.gen_garbage(s);
        let true_len = NLMSG_HDRLEN + GENL_HDRLEN + g.body.len();
        match self.rng.below(3) {
            0 => {
                g.h.len = Some((true_len + 1 + self.rng.below(4096) as usize) as u32);
                g.exp = Exp::Dropped;
                g.kind = "dropped: nlmsg_len beyond the datagram";
            }
            1 => {
                g.h.len = Some(self.rng.below(NLMSG_HDRLEN as u64) as u32);
                g.exp = Exp::Dropped;
                g.kind = "dropped: nlmsg_len below the header";
            }
            _ => {
                // Shorter than the bytes sent: what follows is ignored when it cannot
                // hold a netlink header (kept below 16 bytes here).
                let cut = 1 + self.rng.below(12) as usize;
                if true_len >= NLMSG_HDRLEN + cut + 3 {
                    g.h.len = Some((true_len - cut) as u32);
                    g.kind = "malformed: nlmsg_len shorter than the message";
                }
            }
        }
        g
    }

    // --- sending and judging ---

    fn send_traffic(&mut self) {
        let Some((u, dst, base)) = &self.traffic else {
            return;
        };
        let n = self.rng.below(4);
        for _ in 0..n {
            let q = self.rng.below(4) as u16;
            let len = 18 + self.rng.below(1200) as usize;
            let buf = vec![0x5au8; len];
            if u.send_to(&buf, SocketAddrV4::new(*dst, base + q)).is_ok() {
                self.frames += 1;
            }
        }
    }

    /// Sends `gens` from socket `s` as one datagram and judges every reply.
    fn batch(&mut self, s: usize, gens: Vec<Gen>) -> Result<()> {
        let mut dgram = Vec::new();
        let mut reqs = Vec::new();
        for g in gens {
            self.seq = self.seq.wrapping_add(1);
            let m = message(&g.h, self.seq, &g.body);
            let true_len = m.len();
            dgram.resize(align4(dgram.len()), 0);
            dgram.extend_from_slice(&m);
            reqs.push((self.seq, g, m, true_len));
        }
        let t = Instant::now();
        self.socks[s]
            .send(&dgram)
            .with_context(|| format!("send of a {}-byte batch", dgram.len()))?;
        self.times[1] += t.elapsed().as_secs_f64();
        let t = Instant::now();
        self.datagrams += 1;
        self.sent += reqs.len() as u64;
        let mut replies: Vec<Reply> = Vec::new();
        let mut bufs = std::mem::take(&mut self.rbufs);
        loop {
            let lens = self.socks[s].recv_many(&mut bufs).context("netlink recv")?;
            if lens.is_empty() {
                break;
            }
            for (b, &n) in bufs.iter().zip(&lens) {
                replies.extend(
                    split(&b[..n]).map_err(|e| anyhow!("reply datagram: {e}{}", hex(&b[..n])))?,
                );
            }
        }
        self.rbufs = bufs;
        self.times[2] += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let port = self.socks[s].port;
        for r in &replies {
            if !reqs.iter().any(|q| q.0 == r.seq) || r.pid != port {
                bail!(
                    "reply with seq {} pid {} matches no request of this batch (port {port}):{}",
                    r.seq,
                    r.pid,
                    hex(&r.raw)
                );
            }
        }
        let first = self.sent - reqs.len() as u64;
        for (i, (seq, g, m, true_len)) in reqs.into_iter().enumerate() {
            let mine: Vec<&Reply> = replies.iter().filter(|r| r.seq == seq).collect();
            let kind = g.kind;
            *self.kinds.entry(kind).or_insert(0) += 1;
            if let Err(e) = self.judge(s, g, &m, true_len, &mine) {
                let mut dump = String::new();
                for r in &mine {
                    dump += &hex(&r.raw);
                    dump += "\n  ---";
                }
                bail!(
                    "message {} ({kind}, seq {seq}, socket {s}): {e}\n  request:{}\n  replies ({}):{}",
                    first + i as u64 + 1,
                    hex(&m),
                    mine.len(),
                    dump
                );
            }
        }
        self.times[3] += t.elapsed().as_secs_f64();
        Ok(())
    }

    /// The replies of one request as an outcome, checking their shape on the way.
    fn shape(&self, h: &Header, core: Core, replies: &[&Reply]) -> Result<Out, String> {
        let Some(first) = replies.first() else {
            return Ok(Out::Nothing);
        };
        let c = h.cmd;
        if first.ty == NLMSG_ERROR {
            if replies.len() != 1 {
                return Err("more messages after an error".into());
            }
            let (code, _, ext) = parse_error(first)?;
            return match code {
                0 => Ok(Out::Ack),
                c if c < 0 => Ok(Out::Err(-c, ext)),
                c => Err(format!("positive error code {c}")),
            };
        }
        let dump = matches!(core, Core::Family { dump: true });
        if dump {
            let mut entries = Vec::new();
            for (i, r) in replies.iter().enumerate() {
                if r.ty == NLMSG_DONE {
                    if i + 1 != replies.len() {
                        return Err("messages after NLMSG_DONE".into());
                    }
                    let (code, ext) = parse_done(r)?;
                    if code < 0 {
                        if !entries.is_empty() {
                            return Err(format!("dump failed with {code} after entries"));
                        }
                        return Ok(Out::Err(-code, ext));
                    }
                    if code != 0 {
                        return Err(format!("NLMSG_DONE code {code}"));
                    }
                    return Ok(Out::Dump(entries));
                }
                // genlmsg_iput() puts dump entries with flags 0, as netdev-genl's do;
                // NLM_F_MULTI is the only flag an entry may carry.
                if r.ty != self.fam || r.flags & !NLM_F_MULTI != 0 {
                    return Err(format!("dump part of type {} flags {:#x}", r.ty, r.flags));
                }
                let a = parse_answer(cmd::BINDING_GET, &r.payload)?;
                entries.push(a.binding.unwrap());
            }
            return Err("dump without NLMSG_DONE".into());
        }
        if first.ty != self.fam {
            return Err(format!("reply of type {}", first.ty));
        }
        if !matches!(core, Core::Family { dump: false }) {
            return Err("an answer to a request the core should not pass to the family".into());
        }
        if first.flags != 0 {
            return Err(format!("answer with flags {:#x}", first.flags));
        }
        let a = parse_answer(c, &first.payload)?;
        match replies.len() {
            1 => Ok(Out::Data(a, false)),
            2 => match parse_error(replies[1])? {
                (0, _, _) => Ok(Out::Data(a, true)),
                _ => Err("an answer followed by an error".into()),
            },
            n => Err(format!("{n} messages for one do request")),
        }
    }

    fn judge(
        &mut self,
        s: usize,
        g: Gen,
        m: &[u8],
        true_len: usize,
        replies: &[&Reply],
    ) -> Result<(), String> {
        if matches!(g.exp, Exp::Dropped) {
            if !replies.is_empty() {
                return Err("the kernel answered a message it must drop".into());
            }
            self.tally(format!("no reply: {}", g.kind));
            return Ok(());
        }
        let core = core_of(&g.h, self.fam, true_len);
        let out = self.shape(&g.h, core, replies)?;
        let acked = g.h.flags & NLM_F_ACK != 0;
        // Rules every request obeys, from the core's handling of its header.
        match (&out, core) {
            (Out::Nothing, Core::Skipped { ack: false }) => {
                self.tally("no reply: not a request / control message".into())
            }
            (Out::Ack, Core::Skipped { ack: true }) => {
                self.tally("ACK: not a request / control message".into())
            }
            (_, Core::Skipped { .. }) => {
                return Err(format!("{out:?} for a message the kernel skips"))
            }
            (Out::Err(e, x), Core::NoMsg(want, why)) => {
                if *e != want {
                    return Err(format!(
                        "{} where the core gives {} ({why})",
                        errname(*e),
                        errname(want)
                    ));
                }
                match &x.msg {
                    None => self.tally(format!(
                        "{}: no extack message (genl core: {why})",
                        errname(*e)
                    )),
                    Some(msg) => self.tally(format!("{}: {msg}", errname(*e))),
                }
            }
            (_, Core::NoMsg(want, why)) => {
                return Err(format!(
                    "{out:?} where the core gives {} ({why})",
                    errname(want)
                ))
            }
            (Out::Err(e, x), _) => {
                if core == Core::HeaderCheck && *e != EINVAL {
                    return Err(format!(
                        "{} for a header genl_header_check refuses with EINVAL",
                        errname(*e)
                    ));
                }
                if let Some(msg) = &x.msg {
                    self.tally(format!("{}: {msg}", errname(*e)));
                } else if let Some(t) = x.miss_type {
                    self.tally(format!(
                        "{}: missing attribute (miss-type {t}, no message)",
                        errname(*e)
                    ));
                } else {
                    return Err(format!("{} without an extack message", errname(*e)));
                }
                if let Some(o) = x.offs {
                    if o as usize >= m.len() || (o as usize) < NLMSG_HDRLEN + GENL_HDRLEN {
                        return Err(format!(
                            "extack offset {o} outside the request's attributes"
                        ));
                    }
                }
            }
            (_, Core::HeaderCheck) => {
                return Err(format!("{out:?} for a header genl_header_check refuses"))
            }
            (Out::Nothing, Core::Family { dump: false }) if !acked && g.h.cmd == cmd::UNBIND => {}
            (Out::Nothing, _) => return Err("no reply to a request the family handles".into()),
            (Out::Ack, Core::Family { dump: false }) => {
                if !acked {
                    return Err("ACK without NLM_F_ACK".into());
                }
                if g.h.cmd != cmd::UNBIND {
                    return Err(format!(
                        "bare ACK for {}, which answers with a reply",
                        ids::cmd_name(g.h.cmd)
                    ));
                }
            }
            (Out::Ack, _) => return Err("ACK for a dump".into()),
            (Out::Data(_, a), _) => {
                if *a != acked {
                    return Err(format!(
                        "answer {} an ACK, NLM_F_ACK {}",
                        if *a { "with" } else { "without" },
                        acked
                    ));
                }
                if g.h.cmd == cmd::UNBIND {
                    return Err("unbind answered with a message".into());
                }
            }
            (Out::Dump(_), _) => {}
        }
        if matches!(out, Out::Data(..) | Out::Dump(_) | Out::Ack) {
            self.tally(format!("ok: {}", g.kind));
        } else if matches!(out, Out::Nothing) && matches!(core, Core::Family { .. }) {
            self.tally(format!("ok, no ACK asked: {}", g.kind));
        }
        match g.exp {
            Exp::Generic | Exp::Dropped => Ok(()),
            Exp::Reject { errno, offs, miss } => {
                let Out::Err(e, x) = &out else {
                    return Err(format!("accepted ({out:?}); wanted {}", errname(errno)));
                };
                if *e != errno {
                    return Err(format!(
                        "{} (extack {:?}); wanted {}",
                        errname(*e),
                        x.msg,
                        errname(errno)
                    ));
                }
                if let Some(t) = miss {
                    if x.miss_type != Some(t.into()) {
                        return Err(format!(
                            "missing-attribute report {:?}, wanted {t}",
                            x.miss_type
                        ));
                    }
                } else if x.msg.is_none() {
                    return Err("rejected without an extack message".into());
                }
                if let Some(o) = offs {
                    if x.offs != Some(o as u32) {
                        return Err(format!(
                            "extack points at offset {:?}, the bad attribute is at {o}",
                            x.offs
                        ));
                    }
                }
                Ok(())
            }
            Exp::Oracle(op) => self.predict(s, op, g.fresh, out),
        }
    }

    /// The model's verdict on a valid operation, and its update.
    fn predict(&mut self, s: usize, op: Op, fresh: Option<DmaBuf>, out: Out) -> Result<(), String> {
        let want_err = |out: &Out, allowed: &[i32]| -> Result<(), String> {
            match out {
                Out::Err(e, _) if allowed.contains(e) => Ok(()),
                _ => Err(format!(
                    "{out:?}; the model wants {}",
                    allowed
                        .iter()
                        .map(|e| errname(*e))
                        .collect::<Vec<_>>()
                        .join(" or ")
                )),
            }
        };
        match op {
            Op::Read(id, max) => {
                let Some(b) = self.model(id) else {
                    return want_err(&out, &[libc::ENOENT]);
                };
                if b.owner != s {
                    return want_err(
                        &out,
                        if b.live {
                            &[libc::EPERM]
                        } else {
                            &[libc::EPERM, libc::ENOENT]
                        },
                    );
                }
                if !b.live {
                    return want_err(&out, &[libc::ENOENT]);
                }
                let a = match out {
                    Out::Data(a, _) => a,
                    o => return Err(format!("{o:?}; the model wants records")),
                };
                if a.id != Some(id) {
                    return Err(format!("rx-read of {id} answered for {:?}", a.id));
                }
                let lim = max.unwrap_or(ids::RECORDS_DEFAULT) as usize;
                if a.records.len() > lim {
                    return Err(format!("{} records, max {lim}", a.records.len()));
                }
                let b = self.model_mut(id).unwrap();
                for r in &a.records {
                    let cs = u64::from(b.chunk);
                    let start = u64::from(r.token) * cs;
                    if r.token >= b.total
                        || !b.queues.contains(&r.queue)
                        || r.length == 0
                        || r.offset < start
                        || r.offset + u64::from(r.length) > start + cs
                    {
                        return Err(format!(
                            "record {r:?} outside binding {id} (chunks {} of {cs}, queues {:?})",
                            b.total, b.queues
                        ));
                    }
                    if !b.held.insert(r.token) {
                        return Err(format!(
                            "token {} handed out twice (already held by the user)",
                            r.token
                        ));
                    }
                }
                Ok(())
            }
            Op::Release(id, tokens) => {
                if tokens.len() > ids::TOKENS_MAX as usize {
                    return want_err(&out, &[libc::E2BIG]);
                }
                if let Some(e) = self.refusal(id, s) {
                    return want_err(&out, &[e]);
                }
                let b = self.model_mut(id).unwrap();
                let mut released = 0u32;
                let mut bad = false;
                for t in &tokens {
                    if b.held.remove(t) {
                        released += 1;
                    } else {
                        bad = true;
                    }
                }
                if bad {
                    return want_err(&out, &[EINVAL])
                        .map_err(|e| format!("{e} (tokens {tokens:?}: some not held)"));
                }
                match out {
                    Out::Data(a, _) if a.released == Some(released) => Ok(()),
                    o => Err(format!("{o:?}; the model wants released {released}")),
                }
            }
            Op::Get(id) => {
                let Some(b) = self.model(id) else {
                    return want_err(&out, &[libc::ENOENT]);
                };
                match out {
                    Out::Data(a, _) => self.check_info(a.binding.as_ref().unwrap(), b),
                    Out::Err(libc::ENOENT, _) if !b.live => Ok(()),
                    o => Err(format!("{o:?} for binding {id} (live {})", b.live)),
                }
            }
            Op::Dump => {
                let Out::Dump(list) = out else {
                    return Err(format!("{out:?}; the model wants a dump"));
                };
                let mut last = 0;
                for e in &list {
                    if e.id <= last {
                        return Err(format!("dump not in id order: {} after {last}", e.id));
                    }
                    last = e.id;
                    let b = self.model(e.id).ok_or_else(|| {
                        format!(
                            "dump lists binding {}, which no socket of this run made",
                            e.id
                        )
                    })?;
                    self.check_info(e, b)?;
                }
                for b in self.bindings.iter().filter(|b| b.live) {
                    if !list.iter().any(|e| e.id == b.id) {
                        return Err(format!("dump misses live binding {}", b.id));
                    }
                }
                Ok(())
            }
            Op::Unbind(id) => {
                if let Some(e) = self.refusal(id, s) {
                    return want_err(&out, &[e]);
                }
                match out {
                    Out::Ack | Out::Nothing => {
                        let b = self.model_mut(id).unwrap();
                        b.live = false;
                        b.held.clear();
                        b.buf = None;
                        Ok(())
                    }
                    o => Err(format!("{o:?}; the model wants the unbind to succeed")),
                }
            }
            Op::Bind {
                queues,
                ifindex,
                fd,
                chunk,
            } => {
                // The handler's and registry's order of checks.
                let cs = chunk.unwrap_or(ids::CHUNK_SIZE_DEFAULT);
                if !cs.is_power_of_two() {
                    return want_err(&out, &[EINVAL]);
                }
                if ifindex != self.ifindex && ifindex != 1 {
                    return want_err(&out, &[libc::ENODEV]);
                }
                if queues
                    .iter()
                    .enumerate()
                    .any(|(i, q)| queues[..i].contains(q))
                {
                    return want_err(&out, &[EINVAL]);
                }
                if let FdKind::NotDmabuf(what) = fd {
                    return want_err(&out, &[libc::EBADF]).map_err(|e| format!("{e} (fd: {what})"));
                }
                if ifindex == 1 {
                    return want_err(&out, &[libc::EOPNOTSUPP]);
                }
                if queues.iter().any(|&q| q >= self.nqueues) {
                    return want_err(&out, &[ERANGE]);
                }
                let live_q = |q: u32| {
                    self.bindings
                        .iter()
                        .any(|b| b.live && b.queues.contains(&q))
                };
                let drained_q = |q: u32| {
                    self.bindings
                        .iter()
                        .any(|b| !b.live && b.queues.contains(&q))
                };
                if queues.iter().any(|&q| live_q(q)) {
                    return want_err(&out, &[libc::EEXIST]);
                }
                let maybe_busy = queues.iter().any(|&q| drained_q(q));
                let mut size_of_other = None;
                if let FdKind::Bound(other) = fd {
                    let o = self.model(other).unwrap();
                    if o.live {
                        let want: &[i32] = if maybe_busy {
                            &[libc::EBUSY, libc::EEXIST]
                        } else {
                            &[libc::EBUSY]
                        };
                        return want_err(&out, want)
                            .map_err(|e| format!("{e} (the dma-buf of live binding {other})"));
                    }
                    // Unbound earlier in this batch: its claim lasts until its mapping
                    // is gone, so either answer is right.
                    if let Out::Err(libc::EBUSY, _) = out {
                        return Ok(());
                    }
                    size_of_other = Some(o.size);
                }
                if cs > 4096 {
                    // udmabuf segments are pages.
                    return want_err(
                        &out,
                        if maybe_busy {
                            &[EINVAL, libc::EEXIST]
                        } else {
                            &[EINVAL]
                        },
                    );
                }
                let size = match fd {
                    FdKind::Fresh(sz) => sz,
                    _ => size_of_other.unwrap(),
                };
                match out {
                    Out::Data(a, _) => {
                        let id = a.id.unwrap();
                        if id == 0 || self.model(id).is_some() {
                            return Err(format!("bind returned id {id}, already used in this run"));
                        }
                        self.bindings.push(BindingM {
                            id,
                            owner: s,
                            queues,
                            chunk: cs,
                            total: (size / u64::from(cs)) as u32,
                            size,
                            held: BTreeSet::new(),
                            live: true,
                            buf: fresh,
                        });
                        Ok(())
                    }
                    Out::Err(libc::EEXIST, _) if maybe_busy => Ok(()),
                    o => Err(format!("{o:?}; the model wants the bind to succeed")),
                }
            }
        }
    }

    /// A binding-get answer against the model.
    fn check_info(&self, e: &BindingInfo, b: &BindingM) -> Result<(), String> {
        if !b.live {
            if e.state != 1 {
                return Err(format!(
                    "unbound binding {} reported in state {}",
                    b.id, e.state
                ));
            }
            return Ok(());
        }
        let mut q = e.queues.clone();
        q.sort_unstable();
        let mut mq = b.queues.clone();
        mq.sort_unstable();
        if e.id != b.id
            || e.state != 0
            || e.ifindex != self.ifindex
            || q != mq
            || e.chunk_size != b.chunk
            || e.total != b.total
            || e.dmabuf_size != b.size
        {
            return Err(format!("binding-get {e:?} disagrees with the binding made (queues {:?}, chunk {}, total {}, size {})", b.queues, b.chunk, b.total, b.size));
        }
        if e.user as usize != b.held.len() {
            return Err(format!(
                "binding {}: chunks-user {}, but the user holds {} tokens",
                b.id,
                e.user,
                b.held.len()
            ));
        }
        // One snapshot: the gauges agree with the per-state counts next to them.
        let held = u64::from(e.completed) + u64::from(e.user);
        if e.held_by_user != held || e.inflight != held + u64::from(e.posted) {
            return Err(format!(
                "binding {}: stats held-by-user {} / inflight {} disagree with completed {} + user {} (+ posted {})",
                b.id, e.held_by_user, e.inflight, e.completed, e.user, e.posted
            ));
        }
        Ok(())
    }

    /// One request outside the fuzz stream (setup, audits, the end), judged like any other.
    fn one(&mut self, s: usize, g: Gen) -> Result<()> {
        self.batch(s, vec![g])
    }

    fn get_info(&mut self, s: usize, id: u32) -> Result<BindingInfo> {
        let mut body = Vec::new();
        nla_u32(&mut body, ab::ID, id);
        self.seq = self.seq.wrapping_add(1);
        let m = message(
            &Header::new(self.fam, cmd::BINDING_GET, NLM_F_REQUEST),
            self.seq,
            &body,
        );
        self.socks[s].send(&m)?;
        let mut buf = vec![0u8; 1 << 16];
        let n = self.socks[s]
            .recv(&mut buf)?
            .ok_or_else(|| anyhow!("no reply to binding-get {id}"))?;
        let r = split(&buf[..n]).map_err(|e| anyhow!("{e}"))?;
        let a = parse_answer(cmd::BINDING_GET, &r[0].payload)
            .map_err(|e| anyhow!("binding-get {id}: {e}{}", hex(&r[0].raw)))?;
        Ok(a.binding.unwrap())
    }

    /// Every live binding: the books balance (quiet only: after traffic stopped), the
    /// user's count matches the model, and netmem's independent audit passes.
    fn audit_all(&mut self, quiet: bool) -> Result<()> {
        let live: Vec<(u32, usize)> = self
            .bindings
            .iter()
            .filter(|b| b.live)
            .map(|b| (b.id, b.owner))
            .collect();
        for (id, owner) in live {
            let e = self.get_info(owner, id)?;
            let b = self.model(id).unwrap();
            self.check_info(&e, b).map_err(|m| anyhow!("{m}"))?;
            if quiet && e.free + e.posted + e.completed + e.user != e.total {
                bail!(
                    "binding {id}: free {} + posted {} + completed {} + user {} != total {}",
                    e.free,
                    e.posted,
                    e.completed,
                    e.user,
                    e.total
                );
            }
            if let Some(f) = &mut self.audit {
                f.write_all(format!("{id}\n").as_bytes()).with_context(|| {
                    format!("nmx_testing_audit of binding {id} failed (reason in the kernel log)")
                })?;
                self.audits_done += 1;
            }
        }
        Ok(())
    }
}

fn traffic_socket(netns: &str) -> Result<UdpSocket> {
    let here = File::open("/proc/self/ns/net").context("/proc/self/ns/net")?;
    let there =
        File::open(format!("/run/netns/{netns}")).with_context(|| format!("netns {netns}"))?;
    // SAFETY: setns on an open netns fd; this process is single-threaded here.
    if unsafe { libc::setns(there.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
        bail!("setns {netns}: {}", std::io::Error::last_os_error());
    }
    let u = UdpSocket::bind("0.0.0.0:0");
    // SAFETY: as above, back to the netns we came from.
    if unsafe { libc::setns(here.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
        bail!("setns back: {}", std::io::Error::last_os_error());
    }
    let u = u.context("UDP socket in the traffic netns")?;
    u.set_nonblocking(true)?;
    Ok(u)
}

fn ifindex_of(name: &str) -> Result<u32> {
    let c = std::ffi::CString::new(name)?;
    // SAFETY: `c` is a valid NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        bail!("no interface {name}");
    }
    Ok(i)
}

fn nqueues_of(name: &str) -> Result<u32> {
    let d = format!("/sys/class/net/{name}/queues");
    let n = std::fs::read_dir(&d)
        .with_context(|| d.clone())?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
        .count();
    Ok(n as u32)
}

fn run(a: Args) -> Result<()> {
    let seed = a.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    println!(
        "nlfuzz: seed {seed} (reproduce with --seed {seed}), {} messages, {} sockets",
        a.count, a.sockets
    );
    if a.sockets < 2 || a.batch == 0 || a.queues.is_empty() {
        bail!("need at least 2 sockets, a batch of 1 and a queue");
    }
    let fam = netmemctl::nl::GenlSocket::open()
        .map_err(|e| anyhow!("{e}"))?
        .family_id();
    let socks = (0..a.sockets)
        .map(|_| NlSock::open())
        .collect::<std::io::Result<Vec<_>>>()?;
    let traffic = match (&a.traffic_netns, a.dst) {
        (Some(ns), Some(dst)) => Some((traffic_socket(ns)?, dst, a.port_base)),
        (None, None) => None,
        _ => bail!("--traffic-netns and --dst go together"),
    };
    let bad_fds = NotDmabufs::new(socks[0].raw_fd())?;
    let mut f = Fuzz {
        rng: Rng::new(seed),
        fam,
        ifindex: ifindex_of(&a.ifname)?,
        nqueues: nqueues_of(&a.ifname)?,
        queues: a.queues.clone(),
        socks,
        bindings: Vec::new(),
        bad_fds,
        seq: 0,
        tally: BTreeMap::new(),
        kinds: BTreeMap::new(),
        sent: 0,
        datagrams: 0,
        traffic,
        frames: 0,
        audit: match &a.audit {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(p)
                    .with_context(|| format!("open {}", p.display()))?,
            ),
            None => None,
        },
        audits_done: 0,
        // rx-read replies reach 64 KiB (1024 records).
        rbufs: (0..32).map(|_| vec![0u8; 128 << 10]).collect(),
        spare: DmaBuf::udmabuf(64 << 10).context("udmabuf")?,
        times: [0.0; 5],
    };
    // Setup: every socket but the last binds one queue of its own.
    for s in 0..(a.sockets - 1).min(a.queues.len()) {
        let buf = DmaBuf::udmabuf(256 << 10).context("udmabuf")?;
        let mut body = Vec::new();
        nla_u32(&mut body, ab::IFINDEX, f.ifindex);
        queue_nest(&mut body, a.queues[s], ids::queue_type::RX);
        nla_u32(&mut body, ab::FD, buf.fd.as_raw_fd() as u32);
        let mut g = f.oracle(
            Header::new(fam, cmd::BIND_DMABUF, NLM_F_REQUEST | NLM_F_ACK),
            body,
            Op::Bind {
                queues: vec![a.queues[s]],
                ifindex: f.ifindex,
                fd: FdKind::Fresh(256 << 10),
                chunk: None,
            },
            "setup bind",
        );
        g.fresh = Some(buf);
        f.one(s, g)?;
    }
    let t0 = Instant::now();
    let every = (a.count / (a.audits + 1)).max(1);
    let mut next_audit = every;
    while f.sent < a.count {
        let s = f.rng.below_usize(a.sockets);
        let left = (a.count - f.sent) as usize;
        let n = (1 + f.rng.below_usize(a.batch)).min(left);
        let tg = Instant::now();
        let mut gens = Vec::with_capacity(n);
        let mut dumps = 0;
        for i in 0..n {
            let g = if i + 1 == n && f.rng.chance(40) {
                f.gen_lying_len(s)
            } else {
                f.gen(s)?
            };
            // One dump at a time per socket: a second would meet EBUSY from the core.
            if matches!(g.exp, Exp::Oracle(Op::Dump)) || g.h.flags & NLM_F_DUMP == NLM_F_DUMP {
                dumps += 1;
                if dumps > 1 {
                    continue;
                }
            }
            gens.push(g);
        }
        f.send_traffic();
        f.times[0] += tg.elapsed().as_secs_f64();
        f.batch(s, gens)?;
        if f.sent >= next_audit {
            next_audit += every;
            let ta = Instant::now();
            f.audit_all(false)?;
            f.times[4] += ta.elapsed().as_secs_f64();
        }
    }
    let fuzz_s = t0.elapsed().as_secs_f64();
    // The end: traffic stops, the books must balance, then every token goes back.
    f.traffic = None;
    std::thread::sleep(Duration::from_millis(300));
    f.audit_all(true)?;
    let live: Vec<(u32, usize, Vec<u32>)> = f
        .bindings
        .iter()
        .filter(|b| b.live)
        .map(|b| (b.id, b.owner, b.held.iter().copied().collect()))
        .collect();
    for (id, owner, held) in &live {
        for part in held.chunks(ids::TOKENS_MAX as usize) {
            let mut body = Vec::new();
            nla_u32(&mut body, ab::ID, *id);
            for &t in part {
                nla_u32(&mut body, ab::TOKENS, t);
            }
            let g = f.oracle(
                Header::new(fam, cmd::RX_RELEASE, NLM_F_REQUEST | NLM_F_ACK),
                body,
                Op::Release(*id, part.to_vec()),
                "final rx-release",
            );
            f.one(*owner, g)?;
        }
    }
    f.audit_all(true)?;
    // Half the bindings are unbound explicitly, the rest by closing their sockets.
    for (i, (id, owner, _)) in live.iter().enumerate() {
        if i % 2 == 0 {
            let mut body = Vec::new();
            nla_u32(&mut body, ab::ID, *id);
            let g = f.oracle(
                Header::new(fam, cmd::UNBIND, NLM_F_REQUEST | NLM_F_ACK),
                body,
                Op::Unbind(*id),
                "final unbind",
            );
            f.one(*owner, g)?;
        }
    }
    println!(
        "nlfuzz: {} messages in {} datagrams from {} sockets in {fuzz_s:.1}s ({:.0}/s), {} bindings made, {} UDP frames sent, {} audits passed",
        f.sent,
        f.datagrams,
        a.sockets,
        f.sent as f64 / fuzz_s,
        f.bindings.len(),
        f.frames,
        f.audits_done
    );
    let t = f.times;
    println!(
        "nlfuzz: time: generate (udmabufs, traffic) {:.1}s, send (the kernel's handling) {:.1}s, receive {:.1}s, judge {:.1}s, audits {:.1}s",
        t[0], t[1], t[2], t[3], t[4]
    );
    println!("nlfuzz: outcomes (class: count)");
    for (k, v) in &f.tally {
        println!("  {v:>7}  {k}");
    }
    let ids_made: Vec<u32> = f.bindings.iter().map(|b| b.id).collect();
    drop(f);
    // Every socket closed: no binding may be left (draining ones must finish).
    let mut sock = netmemctl::nl::GenlSocket::open().map_err(|e| anyhow!("{e}"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = sock
            .dump(netmemctl::msg::BindDmabufMsg {
                cmd: cmd::BINDING_GET,
                attrs: vec![],
            })
            .map_err(|e| anyhow!("{e}"))?;
        if left.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            let ids: Vec<_> = left.iter().map(netmemctl::msg::reply_id).collect();
            bail!("bindings {ids:?} left 20 s after every socket closed (made: {ids_made:?})");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "nlfuzz: every socket closed, no binding left ({} made)",
        ids_made.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("nlfuzz: FAIL: {e:#}");
            ExitCode::FAILURE
        }
    }
}
