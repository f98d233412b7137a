// SPDX-License-Identifier: GPL-2.0

//! nmx_bench: netmem's microbenchmark harness.
//!
//! Jesper Brouer's page_pool01/02/03 run directly on page_pool and through netmem's call-site
//! helpers (static key off, then on), next to the devmem_pool equivalents on a real udmabuf
//! binding, reference loops and a cross-CPU return test, all in one run, on one CPU, in
//! interleaved rounds: round `r` runs every test once, then round `r + 1` starts. Round 0
//! is a warm-up and is discarded; each test reports the median, p10 and p90 of its per-op
//! cost over the measured rounds.
//!
//! This crate is the harness only (rounds, statistics, output). The call sites, the
//! fixture and the timed region are C (`sites.c`), so that page_pool and the netmem helpers
//! are compiled exactly as in a C driver; the debugfs `run` file calls [`nmxb_rs_run`] in
//! the writer's context.
//!
//! Output, one line each, to `/sys/kernel/debug/nmx_bench/results` and the kernel log:
//! - Jesper-compatible: `Type:<test> Per elem: <n> cycles(tsc) <ns> ns (step:0) - ...`, for
//!   the median round;
//! - `NMXBENCH\t<test>\t<median>\t<p10>\t<p90>\t<loops>\t<unit>`, values with three decimals;
//! - `NMXMETA\t<key>\t<value>`, `NMXINFO\t<test>\t<counters>`, `NMXSKIP\t<test>\t<why>`.
//!
//! Under QEMU TCG with `-icount shift=0` the TSC counts guest instructions, so the unit is
//! instructions per operation (the `unit` module parameter labels it).

use core::ffi::{c_char, c_int, CStr};
use core::fmt::{self, Write};
use kernel::prelude::*;

module! {
    type: NmxBench,
    name: "nmx_bench",
    author: "netmem developers",
    description: "netmem microbenchmark: page_pool direct vs netmem helpers vs devmem_pool",
    license: "GPL",
}

/// `struct nmxb_sample` of `sites.c`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Sample {
    tsc: u64,
    ns: u64,
    ops: u64,
    aux: u64,
    cpu: u32,
    pad: u32,
}

/// `struct nmxb_bind_info` of `sites.c`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct BindInfo {
    dmabuf_size: u64,
    chunks: u32,
    chunk_size: u32,
    desc_size: u32,
    pad: u32,
}

// `struct nmx_testing_bind_profile`: netmem's own definition (devmem/bind_profile.rs).
#[path = "../devmem/bind_profile.rs"]
#[allow(dead_code)]
mod bind_profile;
use bind_profile::BindProfile;

extern "C" {
    fn nmxb_c_bind_profile(p: *mut BindProfile) -> c_int;
    fn nmxb_c_init() -> c_int;
    fn nmxb_c_exit();
    fn nmxb_c_prepare() -> c_int;
    fn nmxb_c_finish();
    fn nmxb_c_run(test: u32, n: u64, s: *mut Sample) -> c_int;
    fn nmxb_c_bind(s: *mut Sample, info: *mut BindInfo) -> c_int;
    fn nmxb_c_unbind(s: *mut Sample) -> c_int;
    fn nmxb_c_key_off_wait() -> c_int;
    fn nmxb_c_binding_stats(out: *mut u64, n: u32) -> c_int;
    fn nmxb_emit(line: *const u8, len: usize);
    fn nmxb_c_progress(round: u32, rounds: u32);
}

// Test groups (the `tests` module parameter is a mask of these).
const G_REF: u64 = 1;
const G_PP: u64 = 2;
const G_NMX_OFF: u64 = 4;
const G_NMX_ON: u64 = 8;
const G_DEVMEM: u64 = 16;
const G_XCPU: u64 = 32;
const G_BIND: u64 = 64;
const G_ALL: u64 = G_REF | G_PP | G_NMX_OFF | G_NMX_ON | G_DEVMEM | G_XCPU | G_BIND;

/// Most measured rounds kept.
const MAX_ROUNDS: u32 = 101;

/// When a test runs within a round.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No dma-buf bound anywhere: the `nmx_devmem_live` static key is off.
    Unbound,
    /// The run's dma-buf is bound to queue 1: the key is on.
    Bound,
}

/// One test; `id` is `enum nmxb_test` of `sites.c`.
struct Test {
    id: u32,
    name: &'static str,
    group: u64,
    phase: Phase,
    /// Cross-CPU: `Sample::aux` is the returner's busy time.
    xcpu: bool,
    /// devmem_pool counters are reported for it.
    devmem: bool,
}

const fn t(id: u32, name: &'static str, group: u64, phase: Phase) -> Test {
    Test {
        id,
        name,
        group,
        phase,
        xcpu: group == G_XCPU,
        devmem: matches!(id, 15..=17 | 19),
    }
}

const TESTS: [Test; 20] = [
    t(0, "empty_loop", G_REF, Phase::Unbound),
    t(1, "array_pushpop", G_REF, Phase::Unbound),
    t(2, "array_pushpop_call", G_REF, Phase::Unbound),
    t(3, "atomic_inc", G_REF, Phase::Unbound),
    t(4, "spin_lock", G_REF, Phase::Unbound),
    t(5, "pp01_fast_direct", G_PP, Phase::Unbound),
    t(6, "pp02_ring_direct", G_PP, Phase::Unbound),
    t(7, "pp03_slow_direct", G_PP, Phase::Unbound),
    t(8, "pp04_batch256_direct", G_PP, Phase::Unbound),
    t(9, "pp01_fast_nmx_keyoff", G_NMX_OFF, Phase::Unbound),
    t(10, "pp02_ring_nmx_keyoff", G_NMX_OFF, Phase::Unbound),
    t(11, "pp03_slow_nmx_keyoff", G_NMX_OFF, Phase::Unbound),
    t(12, "pp01_fast_nmx_keyon", G_NMX_ON, Phase::Bound),
    t(13, "pp02_ring_nmx_keyon", G_NMX_ON, Phase::Bound),
    t(14, "pp03_slow_nmx_keyon", G_NMX_ON, Phase::Bound),
    t(15, "devmem_fast", G_DEVMEM, Phase::Bound),
    t(16, "devmem_ring", G_DEVMEM, Phase::Bound),
    t(17, "devmem_refill_batch256", G_DEVMEM, Phase::Bound),
    t(18, "pp_xcpu", G_XCPU, Phase::Unbound),
    t(19, "devmem_xcpu", G_XCPU, Phase::Bound),
];

/// Names of the devmem_pool counters `nmxb_c_binding_stats()` returns.
const COUNTERS: [&str; 8] = [
    "alloc_fast",
    "alloc_slow",
    "recycle_cached",
    "recycle_ring",
    "ring_full",
    "empty",
    "bad_put",
    "inflight",
];

/// One output line, formatted on the stack.
struct Line {
    buf: [u8; 400],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let b = s.as_bytes();
        let n = b.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
        if n < b.len() {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

fn emit(args: fmt::Arguments<'_>) {
    let mut l = Line {
        buf: [0; 400],
        len: 0,
    };
    // A line too long is cut, never dropped.
    let _ = l.write_fmt(args);
    // SAFETY: `l.buf` holds `l.len` initialised bytes; C copies them before returning.
    unsafe { nmxb_emit(l.buf.as_ptr(), l.len) };
}

macro_rules! out {
    ($($arg:tt)*) => {
        emit(format_args!($($arg)*))
    };
}

/// A fixed-point value in thousandths, printed with three decimals.
#[derive(Clone, Copy)]
struct Fx(u64);

impl fmt::Display for Fx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

/// `x / ops` in thousandths.
fn per_op(x: u64, ops: u64) -> u64 {
    x.saturating_mul(1000).checked_div(ops).unwrap_or(0)
}

/// Median, p10 and p90 (nearest rank) of a set of values, and the round of the median.
struct Stat {
    median: u64,
    p10: u64,
    p90: u64,
    median_round: usize,
}

fn stat(vals: &mut [(u64, usize)]) -> Option<Stat> {
    let n = vals.len();
    if n == 0 {
        return None;
    }
    // Insertion sort: at most `MAX_ROUNDS` values (core's sort trips objtool).
    for i in 1..n {
        let mut j = i;
        while j > 0 && vals[j - 1] > vals[j] {
            vals.swap(j - 1, j);
            j -= 1;
        }
    }
    let rank = |p: usize| (p * n).div_ceil(100).clamp(1, n) - 1;
    let mid = vals[(n - 1) / 2];
    Some(Stat {
        median: mid.0,
        p10: vals[rank(10)].0,
        p90: vals[rank(90)].0,
        median_round: mid.1,
    })
}

/// Samples of every test, round by round.
struct Table {
    rounds: usize,
    samples: KVec<Sample>,
    ran: [bool; TESTS.len()],
}

impl Table {
    fn new(rounds: usize, slots: usize) -> Result<Self> {
        let mut samples = KVec::with_capacity(slots * rounds, GFP_KERNEL)?;
        for _ in 0..slots * rounds {
            samples.push(Sample::default(), GFP_KERNEL)?;
        }
        Ok(Table {
            rounds,
            samples,
            ran: [false; TESTS.len()],
        })
    }

    fn set(&mut self, slot: usize, round: usize, s: Sample) {
        if let Some(x) = self.samples.get_mut(slot * self.rounds + round) {
            *x = s;
        }
    }

    fn of(&self, slot: usize) -> &[Sample] {
        let start = slot * self.rounds;
        &self.samples[start..start + self.rounds]
    }

    /// Statistics of `f(sample)` over the rounds of `slot`.
    fn stat(&self, slot: usize, f: impl Fn(&Sample) -> u64) -> Result<Option<Stat>> {
        let mut v = KVec::with_capacity(self.rounds, GFP_KERNEL)?;
        for (r, s) in self.of(slot).iter().enumerate() {
            v.push((f(s), r), GFP_KERNEL)?;
        }
        Ok(stat(&mut v))
    }
}

// Extra slots after the tests: bind and unbind times, then the parts of a bind as netmem
// measured them (`Sample::ns` only): attach + map, the segment walk, netmem's own work
// (the rest), and the whole call seen from inside.
const SLOT_BIND: usize = TESTS.len();
const SLOT_UNBIND: usize = TESTS.len() + 1;
const SLOT_MAP: usize = TESTS.len() + 2;
const SLOT_SGWALK: usize = TESTS.len() + 3;
const SLOT_OWN: usize = TESTS.len() + 4;
const SLOT_INNER: usize = TESTS.len() + 5;
// netmem's own part, split: segment copy, pool, finish (queues, binding, owners), and the
// rest of the call (fd, RTNL, claim, id, publish, queue switch).
const SLOT_COPY: usize = TESTS.len() + 6;
const SLOT_POOL: usize = TESTS.len() + 7;
const SLOT_FINISH: usize = TESTS.len() + 8;
const SLOT_REST: usize = TESTS.len() + 9;
const SLOTS: usize = TESTS.len() + 10;

/// What a run is asked to do.
struct Run<'a> {
    fd: c_int,
    loops: u64,
    rounds: usize,
    groups: u64,
    unit: &'a str,
}

impl Run<'_> {
    fn selected(&self, t: &Test) -> bool {
        self.groups & t.group != 0 && (t.phase == Phase::Unbound || self.fd >= 0)
    }

    fn needs_binding(&self) -> bool {
        self.fd >= 0
            && (self.groups & G_BIND != 0
                || TESTS
                    .iter()
                    .any(|t| t.phase == Phase::Bound && self.selected(t)))
    }
}

fn to_result(err: c_int) -> Result {
    kernel::error::to_result(err)
}

fn run_test(t: &Test, loops: u64) -> Result<Sample> {
    let mut s = Sample::default();
    // SAFETY: Process context (the debugfs write, run lock held by C); `s` is writable.
    to_result(unsafe { nmxb_c_run(t.id, loops, &mut s) })?;
    Ok(s)
}

fn binding_stats() -> [u64; 8] {
    let mut v = [0u64; 8];
    // SAFETY: `v` has room for the 8 counters; on error it stays zero.
    let _ = unsafe { nmxb_c_binding_stats(v.as_mut_ptr(), v.len() as u32) };
    v
}

/// Runs the selected tests of phase `phase` for round `r` (0: warm-up, not kept).
fn run_phase(
    run: &Run<'_>,
    table: &mut Table,
    skip: &mut [bool],
    phase: Phase,
    r: usize,
) -> Result {
    let last = r == run.rounds;
    for (i, t) in TESTS.iter().enumerate() {
        if t.phase != phase || !run.selected(t) || skip[i] {
            continue;
        }
        let before = if last && t.devmem {
            binding_stats()
        } else {
            [0; 8]
        };
        match run_test(t, run.loops) {
            Ok(s) => {
                if r > 0 {
                    table.set(i, r - 1, s);
                    table.ran[i] = true;
                }
                if s.cpu != 0 {
                    out!("NMXWARN\t{}\tran on CPU {}", t.name, s.cpu);
                }
            }
            Err(e) if e == ENXIO => {
                out!("NMXSKIP\t{}\tno second CPU", t.name);
                skip[i] = true;
                continue;
            }
            Err(e) => {
                out!("NMXERR\t{}\tround {}\terror {}", t.name, r, e.to_errno());
                return Err(e);
            }
        }
        if last && t.devmem {
            let after = binding_stats();
            let mut l = Line {
                buf: [0; 400],
                len: 0,
            };
            let _ = write!(l, "NMXINFO\t{}", t.name);
            for (k, name) in COUNTERS.iter().enumerate() {
                let d = if k == 7 {
                    after[k]
                } else {
                    after[k].wrapping_sub(before[k])
                };
                let _ = write!(l, "\t{}={}", name, d);
            }
            // SAFETY: As in `emit`.
            unsafe { nmxb_emit(l.buf.as_ptr(), l.len) };
        }
    }
    Ok(())
}

/// Interleaved rounds: unbound phase, bind, bound phase, unbind, wait for the key to drop.
fn run_rounds(
    run: &Run<'_>,
    table: &mut Table,
    info: &mut BindInfo,
    prof: &mut BindProfile,
) -> Result {
    let mut skip = [false; TESTS.len()];
    for r in 0..=run.rounds {
        run_phase(run, table, &mut skip, Phase::Unbound, r)?;
        if run.needs_binding() {
            run_bound(run, table, &mut skip, info, prof, r)?;
        }
        // SAFETY: Plain printk.
        unsafe { nmxb_c_progress(r as u32, run.rounds as u32) };
    }
    Ok(())
}

/// The bound part of round `r`: bind (timed), the bound tests, unbind (timed), then wait
/// until the binding is freed and the static key is off again.
fn run_bound(
    run: &Run<'_>,
    table: &mut Table,
    skip: &mut [bool],
    info: &mut BindInfo,
    prof: &mut BindProfile,
    r: usize,
) -> Result {
    let mut s = Sample::default();
    // SAFETY: Process context, in the writer of the dma-buf fd; `s` and `info` are
    // writable.
    if let Err(e) = to_result(unsafe { nmxb_c_bind(&mut s, info) }) {
        out!("NMXERR\tbind\tround {}\terror {}", r, e.to_errno());
        return Err(e);
    }
    if r > 0 {
        table.set(SLOT_BIND, r - 1, s);
    }
    bind_profile(table, prof, r)?;
    let res = run_phase(run, table, skip, Phase::Bound, r);
    // SAFETY: Process context; `s` is writable.
    let unbound = to_result(unsafe { nmxb_c_unbind(&mut s) });
    res?;
    unbound?;
    if r > 0 {
        table.set(SLOT_UNBIND, r - 1, s);
    }
    // SAFETY: Process context.
    if let Err(e) = to_result(unsafe { nmxb_c_key_off_wait() }) {
        out!("NMXERR\tkey_off_wait\tround {}\terror {}", r, e.to_errno());
        return Err(e);
    }
    Ok(())
}

/// Reads netmem's profile of the bind just made (round `r`) and files its time split. The
/// memory must come out the same every round: the same bind allocates the same.
fn bind_profile(table: &mut Table, prof: &mut BindProfile, r: usize) -> Result {
    let steady = (prof.steady_bytes, prof.peak_bytes);
    // SAFETY: Process context; `prof` is writable and has the C layout (asserted above).
    if let Err(e) = to_result(unsafe { nmxb_c_bind_profile(prof) }) {
        out!("NMXERR\tbind_profile\tround {}\terror {}", r, e.to_errno());
        return Err(e);
    }
    check_profile(prof, r)?;
    if r > 0 && steady != (prof.steady_bytes, prof.peak_bytes) {
        out!(
            "NMXWARN\tbind_profile\tround {}: {} B steady, {} B peak; round before: {} B, {} B",
            r,
            prof.steady_bytes,
            prof.peak_bytes,
            steady.0,
            steady.1
        );
    }
    if r > 0 {
        let own = prof
            .total_ns
            .saturating_sub(prof.attach_map_ns + prof.sg_walk_ns);
        for (slot, ns) in [
            (SLOT_MAP, prof.attach_map_ns),
            (SLOT_SGWALK, prof.sg_walk_ns),
            (SLOT_OWN, own),
            (SLOT_INNER, prof.total_ns),
            (SLOT_COPY, prof.copy_ns),
            (SLOT_POOL, prof.pool_ns),
            (SLOT_FINISH, prof.finish_ns),
            (
                SLOT_REST,
                own.saturating_sub(prof.copy_ns + prof.pool_ns + prof.finish_ns),
            ),
        ] {
            let s = Sample {
                ns,
                ops: 1,
                ..Sample::default()
            };
            table.set(slot, r - 1, s);
        }
    }
    Ok(())
}

/// Checks a profile against itself and against the kernel's slab counter: the allocations
/// add up to the sums, the peak holds the steady state, and the growth of the kernel's
/// unreclaimable-slab bytes from the end of the map to the end of the bind matches the
/// kmalloc'd bytes held (within 1/16 + 1 MiB: per-CPU counter drift, partly used slab
/// pages, other tasks). A kmalloc'd allocation the bookkeeping misses, if large, shows up
/// as a gap; vmalloc'd ones have no such counter exported to modules.
fn check_profile(p: &BindProfile, r: usize) -> Result {
    let listed = p.allocs.iter().take(p.nallocs as usize);
    let kept: u64 = listed
        .clone()
        .filter(|a| a.temporary == 0)
        .map(|a| a.bytes)
        .sum();
    let kept_kmalloc: u64 = listed
        .clone()
        .filter(|a| a.temporary == 0 && a.vmalloc == 0)
        .map(|a| a.bytes)
        .sum();
    let all: u64 = listed.map(|a| a.bytes).sum();
    let gap = p.slab_growth_bytes.abs_diff(kept_kmalloc);
    let ok = (p.dropped != 0 || kept == p.steady_bytes)
        && p.peak_bytes >= p.steady_bytes
        && p.peak_bytes <= all
        && gap <= kept_kmalloc / 16 + (1 << 20);
    if !ok {
        out!(
            "NMXERR\tbind_profile\tround {}: inconsistent: steady={} kept(listed)={} peak={} all(listed)={} kept kmalloc={} slab counter growth={} (gap {})",
            r,
            p.steady_bytes,
            kept,
            p.peak_bytes,
            all,
            kept_kmalloc,
            p.slab_growth_bytes,
            gap
        );
        return Err(EINVAL);
    }
    Ok(())
}

/// Reports the time split of the binds and the memory of the last one.
fn report_bind_profile(table: &Table, info: &BindInfo, prof: &BindProfile) -> Result {
    let med =
        |slot: usize| -> Result<u64> { Ok(table.stat(slot, |s| s.ns)?.map_or(0, |st| st.median)) };
    for (name, slot) in [
        ("bind_map_call", SLOT_MAP),
        ("bind_sgwalk_call", SLOT_SGWALK),
        ("bind_netmem_call", SLOT_OWN),
        ("bind_inner_call", SLOT_INNER),
        ("bind_netmem_copy_call", SLOT_COPY),
        ("bind_netmem_pool_call", SLOT_POOL),
        ("bind_netmem_finish_call", SLOT_FINISH),
        ("bind_netmem_rest_call", SLOT_REST),
    ] {
        if let Some(st) = table.stat(slot, |s| s.ns.saturating_mul(1000))? {
            row(name, "", &st, 1, "ns/call");
        }
    }
    let (map, sg, own) = (med(SLOT_MAP)?, med(SLOT_SGWALK)?, med(SLOT_OWN)?);
    out!(
        "NMXMETA\tbind_split_ns\tmap={}\tsgwalk={}\tnetmem={}\t(medians; map: dma_buf_attach + dma_buf_map_attachment; sgwalk: reading the DMA segments; netmem: the rest of the bind call)",
        map,
        sg,
        own
    );
    out!(
        "NMXMETA\tbind_netmem_split_ns\tcopy={}\tpool={}\tfinish={}\trest={}\t(medians; copy: segments into netmem's list; pool: layout + Pool::new; finish: queues, binding, chunk owners; rest: fd, RTNL, claim, id, publish, queue switch)",
        med(SLOT_COPY)?,
        med(SLOT_POOL)?,
        med(SLOT_FINISH)?,
        med(SLOT_REST)?
    );
    let verdict = |ok: bool| if ok { "ok" } else { "MISS" };
    out!(
        "NMXMETA\tbind_verdict\tnetmem part <= map part\t{}\tnetmem+sgwalk={} map={}",
        verdict(own + sg <= map),
        own + sg,
        map
    );
    let n = u64::from(info.chunks).max(1);
    out!(
        "NMXMETA\tmeta_measured_bytes\tsteady={}\tpeak={}\tallocations={}\tslab_counter_growth={}",
        prof.steady_bytes,
        prof.peak_bytes,
        prof.nallocs + prof.dropped,
        prof.slab_growth_bytes
    );
    let steady = per_op(prof.steady_bytes, n);
    out!(
        "NMXMETA\tmeta_bytes_per_chunk\t{}\t(measured: ksize/vmalloc size of every allocation of the bind, held when bind returned)",
        Fx(steady)
    );
    out!(
        "NMXMETA\tmeta_bytes_per_chunk_peak\t{}\t(most held at once during bind, temporaries included)",
        Fx(per_op(prof.peak_bytes, n))
    );
    out!(
        "NMXMETA\tmeta_verdict\tbytes per chunk <= 40\t{}\t{}",
        verdict(steady <= 40_000),
        Fx(steady)
    );
    for (i, a) in prof.allocs.iter().take(prof.nallocs as usize).enumerate() {
        let len = a.what.iter().position(|&b| b == 0).unwrap_or(a.what.len());
        let what = core::str::from_utf8(&a.what[..len]).unwrap_or("?");
        out!(
            "NMXMETA\tmeta_alloc\t{}\t{}\tcount={}\trequested={}\tbytes={}\tper_chunk={}\tns_since_previous={}\t{}\t{}",
            i,
            what,
            a.count,
            a.requested,
            a.bytes,
            Fx(per_op(a.bytes, n)),
            a.ns,
            if a.vmalloc != 0 { "vmalloc" } else { "kmalloc" },
            if a.temporary != 0 { "temporary" } else { "kept" }
        );
    }
    if prof.dropped != 0 {
        out!(
            "NMXMETA\tmeta_alloc_unlisted\t{}\t(in the sums, not listed)",
            prof.dropped
        );
    }
    Ok(())
}

fn row(name: &str, suffix: &str, st: &Stat, loops: u64, unit: &str) {
    out!(
        "NMXBENCH\t{}{}\t{}\t{}\t{}\t{}\t{}",
        name,
        suffix,
        Fx(st.median),
        Fx(st.p10),
        Fx(st.p90),
        loops,
        unit
    );
}

/// Jesper's `time_bench` line, for the median round's raw numbers.
fn jesper(name: &str, s: &Sample) {
    let ops = s.ops.max(1);
    let ns_x1000 = per_op(s.ns, ops);
    out!(
        "Type:{} Per elem: {} cycles(tsc) {} ns (step:0) - (measurement period time:{}.{:09} sec time_interval:{}) - (invoke count:{} tsc_interval:{})",
        name,
        s.tsc / ops,
        Fx(ns_x1000),
        s.ns / 1_000_000_000,
        s.ns % 1_000_000_000,
        s.ns,
        s.ops,
        s.tsc
    );
}

/// Time per GiB of dma-buf, from the time of one bind or unbind of `size` bytes.
fn per_gib(ns: u64, size: u64) -> u64 {
    let kib = (size >> 10).max(1);
    // ns * (1 GiB / size), in thousandths.
    (ns.saturating_mul(1 << 20) / kib).saturating_mul(1000)
}

fn report(run: &Run<'_>, table: &Table, info: &BindInfo, prof: &BindProfile) -> Result {
    for (i, t) in TESTS.iter().enumerate() {
        if !table.ran[i] {
            if run.groups & t.group != 0 && t.phase == Phase::Bound && run.fd < 0 {
                out!("NMXSKIP\t{}\tno dma-buf fd", t.name);
            }
            continue;
        }
        let Some(st) = table.stat(i, |s| per_op(s.tsc, s.ops))? else {
            continue;
        };
        let med = &table.of(i)[st.median_round];
        if t.xcpu {
            jesper(&format_name(t.name, "_e2e"), med);
            row(t.name, "_e2e", &st, run.loops, run.unit);
            if let Some(st) = table.stat(i, |s| per_op(s.aux, s.ops))? {
                row(t.name, "_return", &st, run.loops, run.unit);
            }
            let alloc = |s: &Sample| per_op(s.tsc.saturating_sub(s.aux), s.ops);
            if let Some(st) = table.stat(i, alloc)? {
                row(t.name, "_alloc", &st, run.loops, run.unit);
            }
        } else {
            jesper(t.name, med);
            row(t.name, "", &st, run.loops, run.unit);
        }
    }
    if run.needs_binding() && run.groups & G_BIND != 0 {
        let size = info.dmabuf_size;
        let bind = table.stat(SLOT_BIND, |s| per_gib(s.ns, size))?;
        let unbind = table.stat(SLOT_UNBIND, |s| per_gib(s.ns, size))?;
        let both = {
            let mut v = KVec::with_capacity(table.rounds, GFP_KERNEL)?;
            for (r, (b, u)) in table
                .of(SLOT_BIND)
                .iter()
                .zip(table.of(SLOT_UNBIND))
                .enumerate()
            {
                v.push((per_gib(b.ns + u.ns, size), r), GFP_KERNEL)?;
            }
            stat(&mut v)
        };
        for (name, st) in [("bind", bind), ("unbind", unbind), ("bind_unbind", both)] {
            if let Some(st) = st {
                row(name, "_per_gib", &st, 1, "ns/GiB");
            }
        }
        // Per call too: unbind is mostly a fixed RCU grace period, whatever the size.
        for (name, slot) in [("bind", SLOT_BIND), ("unbind", SLOT_UNBIND)] {
            if let Some(st) = table.stat(slot, |s| s.ns.saturating_mul(1000))? {
                row(name, "_call", &st, 1, "ns/call");
            }
        }
        out!("NMXMETA\tdmabuf_bytes\t{}", size);
        out!("NMXMETA\tchunks\t{}", info.chunks);
        out!("NMXMETA\tchunk_bytes\t{}", info.chunk_size);
        out!("NMXMETA\tchunk_desc_bytes\t{}", info.desc_size);
        report_bind_profile(table, info, prof)?;
    }
    Ok(())
}

/// A test name with a suffix, for the Jesper line.
fn format_name(name: &str, suffix: &str) -> Name {
    let mut n = Name {
        buf: [0; 64],
        len: 0,
    };
    for b in Iterator::chain(name.bytes(), suffix.bytes()) {
        if n.len < n.buf.len() {
            n.buf[n.len] = b;
            n.len += 1;
        }
    }
    n
}

/// A short string on the stack.
struct Name {
    buf: [u8; 64],
    len: usize,
}

impl core::ops::Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        // Built from whole `&str`s that fit (test names are short ASCII).
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }
}

fn run_all(run: &Run<'_>) -> Result {
    out!(
        "NMXMETA\trun\tloops={}\trounds={}\twarmup=1\ttests={:#x}\tunit={}\tdevmem={}",
        run.loops,
        run.rounds,
        run.groups,
        run.unit,
        run.fd >= 0
    );
    let mut table = Table::new(run.rounds, SLOTS)?;
    let mut info = BindInfo::default();
    // 2 KiB: not on the stack.
    let mut prof = KBox::new(BindProfile::ZERO, GFP_KERNEL)?;
    // SAFETY: Process context; C holds the run lock.
    to_result(unsafe { nmxb_c_prepare() })?;
    let res = run_rounds(run, &mut table, &mut info, &mut prof);
    // SAFETY: As above; the returner is idle between tests.
    unsafe { nmxb_c_finish() };
    res?;
    report(run, &table, &info, &prof)?;
    out!("NMXDONE");
    Ok(())
}

/// Runs the benchmark; called by the debugfs `run` file of `sites.c`, in the context of the
/// task that wrote the dma-buf descriptor `fd` (-1: no devmem tests), pinned to CPU 0.
///
/// # Safety
///
/// `unit` must be NULL or a NUL-terminated string valid for the call. Process context, one
/// call at a time.
#[no_mangle]
pub unsafe extern "C" fn nmxb_rs_run(
    fd: c_int,
    loops: u64,
    rounds: u32,
    tests: u64,
    unit: *const c_char,
) -> c_int {
    let unit = if unit.is_null() {
        "tsc/op"
    } else {
        // SAFETY: NUL-terminated and valid for the call (function's safety requirement).
        unsafe { CStr::from_ptr(unit) }.to_str().unwrap_or("tsc/op")
    };
    if loops == 0 || loops > u64::from(u32::MAX) {
        out!("NMXERR\tloops\tout of range (1..=U32_MAX)");
        return ERANGE.to_errno();
    }
    if rounds == 0 || rounds > MAX_ROUNDS {
        out!(
            "NMXERR\trounds\t{} out of range (1..={})",
            rounds,
            MAX_ROUNDS
        );
        return ERANGE.to_errno();
    }
    if tests == 0 || tests & !G_ALL != 0 {
        out!(
            "NMXERR\ttests\tmask {:#x}: no test selected or unknown bits (valid: {:#x})",
            tests,
            G_ALL
        );
        return EINVAL.to_errno();
    }
    let run = Run {
        fd,
        loops,
        rounds: rounds as usize,
        groups: tests,
        unit,
    };
    match run_all(&run) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

struct NmxBench;

impl kernel::Module for NmxBench {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: Module init, once, before the debugfs files exist.
        to_result(unsafe { nmxb_c_init() })?;
        Ok(NmxBench)
    }
}

impl Drop for NmxBench {
    fn drop(&mut self) {
        // SAFETY: Module exit; init succeeded. C removes the debugfs files first, so no run
        // can start, and waits for one in progress.
        unsafe { nmxb_c_exit() };
    }
}
