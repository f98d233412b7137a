// SPDX-License-Identifier: GPL-2.0
//! netmemctl: bind dma-bufs to receive queues through the `bind-dmabuf`
//! generic netlink family, inspect bindings, and receive / send test traffic.

use std::io::Write;
use std::net::{IpAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{ArgGroup, Args, Parser, Subcommand};
use serde::Serialize;

use netmemctl::dmabuf::{parse_size, DmaBuf, Mapping};
use netmemctl::ids;
use netmemctl::msg::{self, Binding, Queue};
use netmemctl::nl::{GenlSocket, NlError};
use netmemctl::payload::{self, FrameCheck};

/// Control tool for netmem dma-buf receive bindings (generic netlink family
/// "bind-dmabuf").
#[derive(Parser, Debug)]
#[command(name = "netmemctl", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Bind a dma-buf to rx queues, print the binding id, hold the binding
    /// until SIGINT/SIGTERM (or --for), then unbind.
    Bind(BindCmd),
    /// Show one binding (--id) or all bindings of this network namespace.
    Show(ShowCmd),
    /// Unbind a binding. Only the socket that created a binding may unbind
    /// it, so from a new process this reports the kernel's refusal.
    Unbind(UnbindCmd),
    /// Bind, then read received frames (rx-read), optionally verify their
    /// payload, and release them (rx-release) until done.
    Recv(RecvCmd),
    /// Send UDP test datagrams that `recv --verify` can check.
    Send(SendCmd),
    /// Receive test datagrams on an ordinary UDP socket (the page path) and
    /// verify them: the baseline `recv` is compared with.
    Sink(SinkCmd),
}

#[derive(Args, Debug)]
struct SinkCmd {
    /// UDP port to listen on (all addresses).
    #[arg(long)]
    port: u16,
    /// Stop after this many datagrams.
    #[arg(long, default_value_t = 1000)]
    frames: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("dev").required(true).args(["ifname", "ifindex"])))]
#[command(group(ArgGroup::new("buf").required(true).args(["dmabuf_fd", "udmabuf"])))]
struct BindArgs {
    /// Network interface name.
    #[arg(long)]
    ifname: Option<String>,
    /// Network interface index.
    #[arg(long)]
    ifindex: Option<u32>,
    /// Queue to bind: an rx queue index, or TYPE:INDEX with TYPE rx or tx.
    /// Repeat for more queues.
    #[arg(long = "queue", required = true, value_name = "Q", value_parser = parse_queue)]
    queues: Vec<Queue>,
    /// Bind this already open dma-buf file descriptor.
    #[arg(long, value_name = "FD")]
    dmabuf_fd: Option<i32>,
    /// Create a udmabuf of SIZE bytes (suffix K, M, G) over a sealed memfd.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    udmabuf: Option<u64>,
    /// Chunk size in bytes (power of two, 4096..65536); the kernel's default
    /// (4096) when absent.
    #[arg(long, value_name = "N")]
    chunk_size: Option<u32>,
}

#[derive(Args, Debug)]
struct BindCmd {
    #[command(flatten)]
    bind: BindArgs,
    /// Hold the binding this many seconds instead of until a signal.
    #[arg(long = "for", value_name = "SECONDS")]
    for_secs: Option<f64>,
}

#[derive(Args, Debug)]
struct ShowCmd {
    /// Binding id (default: dump all bindings).
    #[arg(long)]
    id: Option<u32>,
    /// Print JSON (an object with --id, else an array).
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct UnbindCmd {
    /// Binding id.
    #[arg(long)]
    id: u32,
}

#[derive(Args, Debug)]
struct RecvCmd {
    #[command(flatten)]
    bind: BindArgs,
    /// Largest number of records per rx-read (1..1024).
    #[arg(long, default_value_t = ids::RECORDS_DEFAULT, value_name = "N")]
    max_records: u32,
    /// Check the payload of every frame (see `send`) through a CPU mapping
    /// of the dma-buf.
    #[arg(long)]
    verify: bool,
    /// With --verify: every IPv4/UDP frame to this port must verify, frames
    /// to other ports are foreign. Without it, UDP frames not starting with
    /// the payload magic are foreign.
    #[arg(long, value_name = "P")]
    port: Option<u16>,
    /// Stop after N frames (with --verify: N test frames, foreign ones not
    /// counted); fewer by the end is a failure.
    #[arg(long, value_name = "N")]
    frames: Option<u64>,
    /// Stop after SECONDS.
    #[arg(long = "for", value_name = "SECONDS")]
    for_secs: Option<f64>,
    /// Give up after SECONDS (a failure if --frames were not all received).
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// No per-second progress lines.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct SendCmd {
    /// Destination address.
    #[arg(long)]
    dst: IpAddr,
    /// Destination UDP port.
    #[arg(long)]
    port: u16,
    /// Number of datagrams.
    #[arg(long, default_value_t = 1000)]
    count: u64,
    /// UDP payload size in bytes (12..65507).
    #[arg(long, default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(payload::HEADER_LEN as i64..=payload::MAX_LEN as i64))]
    size: u32,
    /// Datagrams per second (0: as fast as possible).
    #[arg(long, default_value_t = 0.0, value_name = "PPS")]
    rate: f64,
    /// First sequence number.
    #[arg(long, default_value_t = 0)]
    seq_start: u32,
    /// Send through this interface (SO_BINDTODEVICE).
    #[arg(long, value_name = "IFNAME")]
    bind_dev: Option<String>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
}

fn parse_queue(s: &str) -> std::result::Result<Queue, String> {
    let (qtype, idx) = match s.split_once(':') {
        Some(("rx", i)) => (ids::queue_type::RX, i),
        Some(("tx", i)) => (ids::queue_type::TX, i),
        Some((t, _)) => return Err(format!("unknown queue type {t:?} (rx or tx)")),
        None => (ids::queue_type::RX, s),
    };
    let id = idx
        .parse::<u32>()
        .map_err(|_| format!("bad queue index {idx:?}"))?;
    Ok(Queue { id, qtype })
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() -> Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let act = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { sigaction(sig, &act) }.context("sigaction")?;
    }
    Ok(())
}

fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}

fn warn(msg: impl std::fmt::Display) {
    eprintln!("netmemctl: {msg}");
}

fn flush_warnings(sock: &mut GenlSocket) {
    for w in sock.warnings.drain(..) {
        warn(format_args!("warning: {w}"));
    }
}

fn ifindex_of(args: &BindArgs) -> Result<u32> {
    match (&args.ifname, args.ifindex) {
        (_, Some(i)) => Ok(i),
        (Some(name), None) => nix::net::if_::if_nametoindex(name.as_str())
            .with_context(|| format!("no interface {name:?}")),
        (None, None) => bail!("--ifname or --ifindex is required"),
    }
}

fn ifname_of(ifindex: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buf has IF_NAMESIZE bytes as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(ifindex, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: on success buf holds a NUL-terminated name.
    let s = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Some(s.to_string_lossy().into_owned())
}

/// A live binding: the socket that owns it, its id and its dma-buf.
struct Bound {
    sock: GenlSocket,
    id: u32,
    buf: DmaBuf,
}

fn do_bind(args: &BindArgs) -> Result<Bound> {
    let ifindex = ifindex_of(args)?;
    let mut sock = GenlSocket::open()?;
    let buf = match (args.dmabuf_fd, args.udmabuf) {
        (Some(fd), _) => DmaBuf::from_fd(fd)?,
        (None, Some(size)) => DmaBuf::udmabuf(size)?,
        (None, None) => bail!("--dmabuf-fd or --udmabuf is required"),
    };
    let req = msg::bind_request(
        ifindex,
        &args.queues,
        buf.fd.as_raw_fd() as u32,
        args.chunk_size,
    );
    let reply = sock.request(req)?;
    flush_warnings(&mut sock);
    let id = reply
        .as_ref()
        .and_then(msg::reply_id)
        .context("bind-dmabuf reply carries no binding id")?;
    let qs: Vec<String> = args
        .queues
        .iter()
        .map(|q| match q.qtype {
            ids::queue_type::RX => format!("rx:{}", q.id),
            _ => format!("tx:{}", q.id),
        })
        .collect();
    warn(format_args!(
        "bound {} bytes ({}) to ifindex {ifindex} queues {}: binding id {id}",
        buf.size,
        if buf.memfd.is_some() {
            "udmabuf"
        } else {
            "dma-buf fd"
        },
        qs.join(",")
    ));
    Ok(Bound { sock, id, buf })
}

fn do_unbind(sock: &mut GenlSocket, id: u32) -> Result<()> {
    sock.request(msg::unbind_request(id))?;
    flush_warnings(sock);
    Ok(())
}

fn deadline(secs: Option<f64>) -> Result<Option<Instant>> {
    match secs {
        None => Ok(None),
        Some(s) if s.is_finite() && s >= 0.0 => {
            Ok(Some(Instant::now() + Duration::from_secs_f64(s)))
        }
        Some(s) => bail!("bad duration {s}"),
    }
}

fn cmd_bind(c: BindCmd) -> Result<ExitCode> {
    install_signal_handlers()?;
    let until = deadline(c.for_secs)?;
    let mut b = do_bind(&c.bind)?;
    println!("{}", b.id);
    std::io::stdout().flush().ok();
    if until.is_none() {
        warn(format_args!(
            "holding binding {} until SIGINT/SIGTERM (it dies with this process)",
            b.id
        ));
    }
    while !stopped() {
        let step = Duration::from_millis(100);
        match until {
            Some(t) => {
                let now = Instant::now();
                if now >= t {
                    break;
                }
                sleep(step.min(t - now));
            }
            None => sleep(step),
        }
    }
    do_unbind(&mut b.sock, b.id)?;
    warn(format_args!("unbound binding {}", b.id));
    Ok(ExitCode::SUCCESS)
}

fn human_size(n: u64) -> String {
    for (shift, suffix) in [(30, "G"), (20, "M"), (10, "K")] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{}{suffix}", n >> shift);
        }
    }
    n.to_string()
}

fn print_table(bindings: &[Binding]) {
    println!(
        "{:<6} {:<16} {:<14} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "ID", "IFACE", "QUEUES", "DMABUF", "CHUNK", "TOTAL", "FREE", "POSTED", "COMPLETED", "USER"
    );
    for b in bindings {
        let iface = match ifname_of(b.ifindex) {
            Some(n) => format!("{n}({})", b.ifindex),
            None => b.ifindex.to_string(),
        };
        let queues: Vec<String> = b
            .queues
            .iter()
            .map(|q| match q.qtype {
                ids::queue_type::RX => q.id.to_string(),
                _ => format!("tx:{}", q.id),
            })
            .collect();
        println!(
            "{:<6} {:<16} {:<14} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
            b.id,
            iface,
            queues.join(","),
            human_size(b.dmabuf_size),
            b.chunk_size,
            b.chunks_total,
            b.chunks_free,
            b.chunks_posted,
            b.chunks_completed,
            b.chunks_user
        );
        if let Some(s) = &b.stats {
            let fields: Vec<String> = s.fields().iter().map(|(k, v)| format!("{k} {v}")).collect();
            println!("       stats: {}", fields.join(", "));
        }
    }
}

fn cmd_show(c: ShowCmd) -> Result<ExitCode> {
    let mut sock = GenlSocket::open()?;
    match c.id {
        Some(id) => {
            let reply = sock
                .request(msg::get_request(Some(id)))?
                .context("binding-get returned no reply")?;
            let b = Binding::from_msg(&reply);
            if c.json {
                println!("{}", serde_json::to_string_pretty(&b)?);
            } else {
                print_table(std::slice::from_ref(&b));
            }
        }
        None => {
            let all: Vec<Binding> = sock
                .dump(msg::get_request(None))?
                .iter()
                .map(Binding::from_msg)
                .collect();
            if c.json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                println!("no bindings");
            } else {
                print_table(&all);
            }
        }
    }
    flush_warnings(&mut sock);
    Ok(ExitCode::SUCCESS)
}

fn cmd_unbind(c: UnbindCmd) -> Result<ExitCode> {
    let mut sock = GenlSocket::open()?;
    do_unbind(&mut sock, c.id)?;
    warn(format_args!("unbound binding {}", c.id));
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Default, Serialize)]
struct RecvSummary {
    frames: u64,
    bytes: u64,
    verified: u64,
    bad: u64,
    foreign: u64,
    release_errors: u64,
    elapsed_s: f64,
    frames_per_s: f64,
    bytes_per_s: f64,
    /// First to last frame: the rate the path sustained while traffic flowed.
    active_s: f64,
    active_frames_per_s: f64,
    active_bytes_per_s: f64,
    binding_id: u32,
    /// The binding as binding-get reported it just before unbind (chunk counts, stats).
    #[serde(skip_serializing_if = "Option::is_none")]
    binding: Option<Binding>,
}

/// First/last arrival times, for rates over the time traffic actually flowed.
#[derive(Default)]
struct Window {
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Window {
    fn saw(&mut self, n: usize) {
        if n > 0 {
            let now = Instant::now();
            self.first.get_or_insert(now);
            self.last = Some(now);
        }
    }

    fn fill(&self, s: &mut RecvSummary) {
        if let (Some(a), Some(b)) = (self.first, self.last) {
            s.active_s = (b - a).as_secs_f64();
            if s.active_s > 0.0 && s.frames > 1 {
                // n frames span n - 1 gaps.
                s.active_frames_per_s = (s.frames - 1) as f64 / s.active_s;
                s.active_bytes_per_s =
                    s.bytes as f64 * (s.frames - 1) as f64 / s.frames as f64 / s.active_s;
            }
        }
    }
}

fn cmd_recv(c: RecvCmd) -> Result<ExitCode> {
    install_signal_handlers()?;
    if c.max_records == 0 || c.max_records > ids::RECORDS_MAX {
        bail!("--max-records must be 1..{}", ids::RECORDS_MAX);
    }
    let for_until = deadline(c.for_secs)?;
    let timeout_until = deadline(c.timeout)?;
    let mut b = do_bind(&c.bind)?;
    let map: Option<Mapping> = if c.verify { Some(b.buf.map()?) } else { None };
    let mut sync_ok = c.verify;

    let start = Instant::now();
    let mut window = Window::default();
    let mut s = RecvSummary {
        binding_id: b.id,
        ..Default::default()
    };
    let (mut last_t, mut last_frames, mut last_bytes) = (start, 0u64, 0u64);
    let mut reported_bad = 0;
    let mut idle = Duration::from_micros(50);
    let counted = |s: &RecvSummary| {
        if c.verify {
            s.verified + s.bad
        } else {
            s.frames
        }
    };

    let result: Result<()> = (|| loop {
        let now = Instant::now();
        if !c.quiet && now.duration_since(last_t) >= Duration::from_secs(1) {
            let dt = now.duration_since(last_t).as_secs_f64();
            eprintln!(
                    "netmemctl: {:>4.0}s records/s={:.0} bytes/s={:.0} verified={} errors={} foreign={} total={}",
                    now.duration_since(start).as_secs_f64(),
                    (s.frames - last_frames) as f64 / dt,
                    (s.bytes - last_bytes) as f64 / dt,
                    s.verified,
                    s.bad,
                    s.foreign,
                    s.frames
                );
            (last_t, last_frames, last_bytes) = (now, s.frames, s.bytes);
        }
        if stopped()
            || c.frames.is_some_and(|n| counted(&s) >= n)
            || for_until.is_some_and(|t| now >= t)
            || timeout_until.is_some_and(|t| now >= t)
        {
            return Ok(());
        }

        let reply = b
            .sock
            .request(msg::rx_read_request(b.id, Some(c.max_records)))?;
        let records = reply.as_ref().map(msg::reply_records).unwrap_or_default();
        if records.is_empty() {
            sleep(idle);
            idle = (idle * 2).min(Duration::from_millis(10));
            continue;
        }
        idle = Duration::from_micros(50);

        if let Some(map) = &map {
            if sync_ok {
                if let Err(e) = b.buf.sync_read(true) {
                    warn(format_args!("DMA_BUF_IOCTL_SYNC: {e}; reading without it"));
                    sync_ok = false;
                }
            }
            for r in &records {
                let check = match map.get(r.offset, r.length as usize) {
                    Some(frame) => payload::check_frame(frame, c.port),
                    None => {
                        s.bad += 1;
                        if reported_bad < 10 {
                            warn(format_args!(
                                "record offset {} length {} is outside the {}-byte dma-buf",
                                r.offset,
                                r.length,
                                map.len()
                            ));
                            reported_bad += 1;
                        }
                        continue;
                    }
                };
                match check {
                    FrameCheck::Ok(_) => s.verified += 1,
                    FrameCheck::Foreign => s.foreign += 1,
                    FrameCheck::Bad(e) => {
                        s.bad += 1;
                        if reported_bad < 10 {
                            warn(format_args!(
                                "bad frame (queue {} offset {} length {} token {}): {e}",
                                r.queue, r.offset, r.length, r.token
                            ));
                            reported_bad += 1;
                        }
                    }
                }
            }
            if sync_ok {
                let _ = b.buf.sync_read(false);
            }
        }
        s.frames += records.len() as u64;
        s.bytes += records.iter().map(|r| u64::from(r.length)).sum::<u64>();
        window.saw(records.len());

        let tokens: Vec<u32> = records.iter().map(|r| r.token).collect();
        for req in msg::rx_release_requests(b.id, &tokens) {
            let want = req.attrs.len() - 1;
            // A refused token is counted and reported, not fatal: the
            // kernel releases the others of the request.
            let rep = match b.sock.request(req) {
                Ok(rep) => rep,
                Err(NlError::Kernel(k)) => {
                    s.release_errors += 1;
                    if s.release_errors <= 10 {
                        warn(&k);
                    }
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let got = rep.as_ref().and_then(msg::reply_released);
            if got.is_some_and(|g| g as usize != want) {
                s.release_errors += 1;
                warn(format_args!(
                    "rx-release released {} of {want} tokens",
                    got.unwrap_or(0)
                ));
            }
        }
        flush_warnings(&mut b.sock);
    })();

    // The pool as it stands at the end of the run, for the summary.
    if let Ok(Some(reply)) = b.sock.request(msg::get_request(Some(b.id))) {
        s.binding = Some(Binding::from_msg(&reply));
    }
    let unbind = do_unbind(&mut b.sock, b.id);
    result?;
    unbind?;

    s.elapsed_s = start.elapsed().as_secs_f64();
    if s.elapsed_s > 0.0 {
        s.frames_per_s = s.frames as f64 / s.elapsed_s;
        s.bytes_per_s = s.bytes as f64 / s.elapsed_s;
    }
    window.fill(&mut s);
    let line = format!(
        "binding {}: {} frames, {} bytes in {:.3} s ({:.0} frames/s, {:.0} bytes/s), verified {}, bad {}, foreign {}",
        s.binding_id, s.frames, s.bytes, s.elapsed_s, s.frames_per_s, s.bytes_per_s, s.verified, s.bad, s.foreign
    );
    if c.json {
        eprintln!("netmemctl: {line}");
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!("{line}");
    }

    let mut ok = true;
    if s.bad > 0 {
        warn(format_args!("{} frames failed verification", s.bad));
        ok = false;
    }
    if s.release_errors > 0 {
        warn(format_args!(
            "{} rx-release requests failed",
            s.release_errors
        ));
        ok = false;
    }
    if let Some(n) = c.frames {
        if counted(&s) < n {
            warn(format_args!("only {} of {n} frames received", counted(&s)));
            ok = false;
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[derive(Debug, Serialize)]
struct SendSummary {
    sent: u64,
    bytes: u64,
    refused: u64,
    elapsed_s: f64,
}

fn cmd_send(c: SendCmd) -> Result<ExitCode> {
    install_signal_handlers()?;
    if !(c.rate.is_finite() && c.rate >= 0.0) {
        bail!("bad --rate {}", c.rate);
    }
    let local = match c.dst {
        IpAddr::V4(_) => "0.0.0.0:0",
        IpAddr::V6(_) => "[::]:0",
    };
    let sock = UdpSocket::bind(local).context("bind UDP socket")?;
    if let Some(dev) = &c.bind_dev {
        nix::sys::socket::setsockopt(
            &sock,
            nix::sys::socket::sockopt::BindToDevice,
            &std::ffi::OsString::from(dev),
        )
        .with_context(|| format!("SO_BINDTODEVICE {dev}"))?;
    }
    sock.connect((c.dst, c.port))
        .with_context(|| format!("connect to {}:{}", c.dst, c.port))?;

    let mut buf = vec![0u8; c.size as usize];
    let start = Instant::now();
    let mut s = SendSummary {
        sent: 0,
        bytes: 0,
        refused: 0,
        elapsed_s: 0.0,
    };
    for i in 0..c.count {
        if stopped() {
            break;
        }
        if c.rate > 0.0 {
            let due = start + Duration::from_secs_f64(i as f64 / c.rate);
            let now = Instant::now();
            if due > now {
                sleep(due - now);
            }
        }
        payload::fill(&mut buf, c.seq_start.wrapping_add(i as u32));
        // An ICMP port unreachable for an earlier datagram is reported by this send,
        // which then did not transmit: count it and send again (the error is consumed).
        let mut res = sock.send(&buf);
        if matches!(&res, Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused) {
            s.refused += 1;
            res = sock.send(&buf);
        }
        match res {
            Ok(n) => {
                s.sent += 1;
                s.bytes += n as u64;
            }
            Err(e) => return Err(e).context("send"),
        }
    }
    s.elapsed_s = start.elapsed().as_secs_f64();
    let line = format!(
        "sent {} datagrams ({} payload bytes) to {}:{} in {:.3} s",
        s.sent, s.bytes, c.dst, c.port, s.elapsed_s
    );
    if c.json {
        eprintln!("netmemctl: {line}");
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_sink(c: SinkCmd) -> Result<ExitCode> {
    let sock = UdpSocket::bind(("0.0.0.0", c.port)).context("bind UDP socket")?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    // A burst must not overflow the socket before we read it (recv's records wait in the
    // binding's completion ring, sized for every chunk): 64 MiB, forced when root.
    let rcvbuf: libc::c_int = 64 << 20;
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: `rcvbuf` outlives the call and its size is passed.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&rcvbuf as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            break;
        }
    }
    let until = Instant::now() + Duration::from_secs(c.timeout);
    let start = Instant::now();
    let mut window = Window::default();
    let mut s = RecvSummary::default();
    let mut buf = vec![0u8; 65536];
    while s.frames < c.frames && Instant::now() < until {
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => return Err(e).context("recv"),
        };
        window.saw(1);
        s.frames += 1;
        s.bytes += n as u64;
        match payload::verify(&buf[..n]) {
            Ok(_) => s.verified += 1,
            Err(_) => s.bad += 1,
        }
    }
    s.elapsed_s = start.elapsed().as_secs_f64();
    if s.elapsed_s > 0.0 {
        s.frames_per_s = s.frames as f64 / s.elapsed_s;
        s.bytes_per_s = s.bytes as f64 / s.elapsed_s;
    }
    window.fill(&mut s);
    if c.json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!(
            "sink: {} datagrams, {} bytes, verified {}, bad {}, {:.0} frames/s while active",
            s.frames, s.bytes, s.verified, s.bad, s.active_frames_per_s
        );
    }
    Ok(if s.bad == 0 && s.frames == c.frames {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Bind(c) => cmd_bind(c),
        Cmd::Show(c) => cmd_show(c),
        Cmd::Unbind(c) => cmd_unbind(c),
        Cmd::Recv(c) => cmd_recv(c),
        Cmd::Send(c) => cmd_send(c),
        Cmd::Sink(c) => cmd_sink(c),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            // Kernel errors print as "<op> failed: <strerror>: <extack>".
            match e.downcast_ref::<NlError>() {
                Some(nl) => eprintln!("netmemctl: {nl}"),
                None => eprintln!("netmemctl: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}
