/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nmx_bench: the contract between the C call sites (sites.c) and the Rust
 * harness (nmx_bench_rs.rs), which mirrors these types and ids.
 */
#ifndef _NMX_BENCH_H
#define _NMX_BENCH_H

#include <linux/types.h>

/* Test ids: the `id`s of the TESTS table in nmx_bench_rs.rs. */
enum nmxb_test {
	NMXB_EMPTY,
	NMXB_ARRAY,
	NMXB_ARRAY_CALL,
	NMXB_ATOMIC,
	NMXB_LOCK,
	NMXB_PP_FAST,
	NMXB_PP_RING,
	NMXB_PP_SLOW,
	NMXB_PP_BATCH,
	NMXB_NMX_FAST_OFF,
	NMXB_NMX_RING_OFF,
	NMXB_NMX_SLOW_OFF,
	NMXB_NMX_FAST_ON,
	NMXB_NMX_RING_ON,
	NMXB_NMX_SLOW_ON,
	NMXB_DM_FAST,
	NMXB_DM_RING,
	NMXB_DM_BATCH,
	NMXB_PP_XCPU,
	NMXB_DM_XCPU,
	NMXB_NTESTS
};

/**
 * struct nmxb_sample - one timed loop, as the Rust harness reads it
 * @tsc: TSC ticks over the loop
 * @ns: ktime nanoseconds over the loop
 * @ops: operations completed
 * @aux: cross-CPU tests: TSC ticks the returner spent busy
 * @cpu: CPU the loop ran on
 * @pad: zero
 */
struct nmxb_sample {
	u64 tsc;
	u64 ns;
	u64 ops;
	u64 aux;
	u32 cpu;
	u32 pad;
};

/**
 * struct nmxb_bind_info - a binding as the harness reports it
 * @dmabuf_size: bytes of the bound dma-buf
 * @chunks: chunks of the binding
 * @chunk_size: bytes per chunk
 * @desc_size: sizeof(struct nmx_chunk)
 */
struct nmxb_bind_info {
	u64 dmabuf_size;
	u32 chunks;
	u32 chunk_size;
	u32 desc_size;
	u32 pad;
};

/* Implemented in Rust (nmx_bench_rs.rs). */
int nmxb_rs_run(int fd, u64 loops, u32 rounds, u64 tests, const char *unit);

/* Implemented in sites.c, called from Rust. */
int nmxb_c_init(void);
void nmxb_c_exit(void);
int nmxb_c_prepare(void);
void nmxb_c_finish(void);
int nmxb_c_run(u32 test, u64 n, struct nmxb_sample *s);
int nmxb_c_bind(struct nmxb_sample *s, struct nmxb_bind_info *info);
int nmxb_c_unbind(struct nmxb_sample *s);
struct nmx_testing_bind_profile;
int nmxb_c_bind_profile(struct nmx_testing_bind_profile *p);
int nmxb_c_key_off_wait(void);
int nmxb_c_binding_stats(u64 *out, u32 n);
void nmxb_emit(const char *line, size_t len);
void nmxb_c_progress(u32 round, u32 rounds);

#endif /* _NMX_BENCH_H */
