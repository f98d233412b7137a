// SPDX-License-Identifier: GPL-2.0
/*
 * nmx_bench: the C half of the netmem microbenchmark.
 *
 * The call sites live here, in C, so that the direct page_pool calls and the
 * netmem helpers (<nmx/helpers.h>) are compiled exactly as a C driver would
 * compile them. Each timed loop is its own noinline function named
 * nmxb_loop_*(), easy to find in `objdump -d sites.o` (ci/objdump.sh); the
 * same netmem loop serves a page queue and a devmem-bound queue, as the same
 * driver code would.
 *
 * Also here: the module parameters, the test fixture (a platform device as
 * DMA device, an unregistered netdev with four RX queues registered with
 * netmem, page_pools), the timed region (BH disabled, rdtsc + ktime), the
 * cross-CPU returner kthread, the dma-buf bind/unbind calls and the debugfs
 * files: userspace writes a udmabuf fd to .../nmx_bench/run, which runs the
 * whole benchmark in the writer's context (so the fd resolves), and reads the
 * output from .../nmx_bench/results. The harness (rounds, statistics,
 * formatting) is Rust: nmx_bench_rs.rs. There is no module_init here: the
 * Rust module! calls nmxb_c_init() and nmxb_c_exit().
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/etherdevice.h>
#include <linux/fs.h>
#include <linux/kstrtox.h>
#include <linux/kthread.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/platform_device.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <net/page_pool/helpers.h>
#include <nmx/helpers.h>
#include <nmx/testing.h>

#include "nmx_bench.h"
#ifdef CONFIG_X86
#include <asm/msr.h>
#endif

static unsigned long loops = 1000000;
module_param(loops, ulong, 0644);
MODULE_PARM_DESC(loops, "Operations per timed loop (default 1000000)");

static unsigned int rounds = 11;
module_param(rounds, uint, 0644);
MODULE_PARM_DESC(rounds, "Measured rounds after one warm-up round (default 11)");

static unsigned long tests = 0x7f;
module_param(tests, ulong, 0644);
MODULE_PARM_DESC(tests,
		 "Test groups: 1 references, 2 page_pool direct, 4 netmem key off, 8 netmem key on, 16 devmem, 32 cross-CPU, 64 bind/unbind (default 0x7f)");

static char *unit = "tsc/op";
module_param(unit, charp, 0444);
MODULE_PARM_DESC(unit, "Unit label of the TSC per op (insn/op under QEMU icount)");

static unsigned int chunk_size = PAGE_SIZE;
module_param(chunk_size, uint, 0444);
MODULE_PARM_DESC(chunk_size, "devmem chunk size in bytes (default PAGE_SIZE)");

#define NMXB_QUEUES		4
#define NMXB_Q_PAGES		0	/* never bound */
#define NMXB_Q_DEVMEM		1	/* bound while a binding is live */
#define NMXB_POOL_SIZE		1024
#define NMXB_PREFILL		64
#define NMXB_STACK_SIZE		64
#define NMXB_BATCH		256
#define NMXB_SPSC_SIZE		256	/* power of two */
#define NMXB_OUT_SIZE		(64 * 1024)

/* The "physical limit": a LIFO of pointers, what an alloc cache does. */
struct nmxb_stack {
	unsigned int count;
	void *slot[NMXB_STACK_SIZE];
};

/* Single-producer single-consumer ring from the allocating CPU to the returner. */
struct nmxb_spsc {
	unsigned int head ____cacheline_aligned;	/* producer */
	unsigned int tail ____cacheline_aligned;	/* consumer */
	void *slot[NMXB_SPSC_SIZE] ____cacheline_aligned;
};

enum nmxb_xcpu_mode {
	NMXB_XCPU_PP,
	NMXB_XCPU_NMX,
};

/* The cross-CPU returner: a kthread bound to CPU 1. */
struct nmxb_xcpu {
	struct task_struct *task;
	wait_queue_head_t wq;
	struct nmxb_spsc ring;
	struct page_pool *pp;
	struct nmx_rxq *rxq;
	enum nmxb_xcpu_mode mode;
	bool armed;		/* set by the producer, cleared by the returner when done */
	bool done;		/* the producer pushed its last buffer */
	u64 returned;
	u64 busy;		/* returner's TSC ticks with work in hand */
};

static struct nmxb {
	struct platform_device *pdev;
	struct net_device *netdev;
	struct page_pool *pp_direct;
	struct page_pool *pp[NMXB_QUEUES];
	struct nmx_rxq *rxq[NMXB_QUEUES];
	struct dentry *dir;
	struct mutex run_lock;	/* one run at a time; guards the fields below */
	int fd;
	int binding;
	struct nmxb_stack stack;
	spinlock_t lock;	/* the uncontended spin_lock reference */
	atomic_t atomic;
	struct nmx_buf *bufs[NMXB_BATCH];
	struct page *pages[NMXB_BATCH];
	struct nmxb_xcpu *xcpu;
	char *out;
	size_t out_len;
} nmxb;

static inline u64 nmxb_tsc(void)
{
#ifdef CONFIG_X86
	return rdtsc_ordered();
#else
	return get_cycles();
#endif
}

/* ---- Reference loops ---- */

static noinline u64 nmxb_loop_empty(u64 n)
{
	u64 i;

	for (i = 0; i < n; i++)
		barrier();
	return i;
}

/* Pop then push one pointer: an alloc-cache hit followed by a direct recycle. */
static noinline u64 nmxb_loop_array(struct nmxb_stack *s, u64 n)
{
	u64 i;

	for (i = 0; i < n; i++) {
		void *p;

		if (unlikely(!s->count))
			break;
		p = s->slot[--s->count];
		OPTIMIZER_HIDE_VAR(p);
		if (unlikely(s->count >= NMXB_STACK_SIZE))
			break;
		s->slot[s->count++] = p;
		barrier();
	}
	return i;
}

static noinline void *nmxb_array_pop(struct nmxb_stack *s)
{
	if (unlikely(!s->count))
		return NULL;
	return s->slot[--s->count];
}

static noinline void nmxb_array_push(struct nmxb_stack *s, void *p)
{
	if (likely(s->count < NMXB_STACK_SIZE))
		s->slot[s->count++] = p;
}

/* The same through two out-of-line calls, as alloc and recycle are. */
static noinline u64 nmxb_loop_array_call(struct nmxb_stack *s, u64 n)
{
	u64 i;

	for (i = 0; i < n; i++) {
		void *p = nmxb_array_pop(s);

		if (unlikely(!p))
			break;
		barrier();
		nmxb_array_push(s, p);
	}
	return i;
}

static noinline u64 nmxb_loop_atomic(atomic_t *a, u64 n)
{
	u64 i;

	for (i = 0; i < n; i++)
		atomic_inc(a);
	return i;
}

static noinline u64 nmxb_loop_lock(spinlock_t *lock, u64 n)
{
	u64 i;

	for (i = 0; i < n; i++) {
		spin_lock(lock);
		barrier();
		spin_unlock(lock);
	}
	return i;
}

/*
 * ---- The driver's RX buffer work, one NAPI poll at a time ----
 *
 * Each timed loop runs polls of up to NMXB_POLL (a NAPI budget) buffers: a
 * refill, then the returns. The direct loops call page_pool as an unpatched
 * driver does; the netmem loops take the decision a patched driver takes once
 * per poll (NMX_POLL(): pure-page queue or not) and run the same body with
 * the helpers. Direct and netmem bodies are written alike and compiled alike.
 */
#define NMXB_POLL	64

/* pp01 (Jesper's page_pool01): alloc-cache hits, recycled into the alloc cache. */
static __always_inline u32 nmxb_pp_fast_poll(struct page_pool *pp, struct page **pages, u32 n)
{
	u32 i, j;

	for (i = 0; i < n; i++) {
		pages[i] = page_pool_dev_alloc_pages(pp);
		if (unlikely(!pages[i]))
			break;
	}
	barrier();
	for (j = 0; j < i; j++)
		page_pool_recycle_direct(pp, pages[j]);
	return i;
}

/* pp02: returned through the ptr_ring; the alloc cache refills from it. */
static __always_inline u32 nmxb_pp_ring_poll(struct page_pool *pp, struct page **pages, u32 n)
{
	u32 i, j;

	for (i = 0; i < n; i++) {
		pages[i] = page_pool_dev_alloc_pages(pp);
		if (unlikely(!pages[i]))
			break;
	}
	barrier();
	for (j = 0; j < i; j++)
		page_pool_put_page(pp, pages[j], -1, false);
	return i;
}

/* pp03: an elevated refcount makes the pool release the page to the buddy allocator. */
static __always_inline u32 nmxb_pp_slow_poll(struct page_pool *pp, struct page **pages, u32 n)
{
	u32 i, j;

	for (i = 0; i < n; i++) {
		pages[i] = page_pool_dev_alloc_pages(pp);
		if (unlikely(!pages[i]))
			break;
	}
	barrier();
	for (j = 0; j < i; j++) {
		get_page(pages[j]);
		page_pool_put_page(pp, pages[j], -1, false);
		put_page(pages[j]);
	}
	return i;
}

static __always_inline u32 nmxb_nmx_fast_poll(struct nmx_rxq *rxq, struct nmx_buf **bufs,
					      u32 n, const bool pages)
{
	u32 i = nmx_poll_alloc_bulk(rxq, bufs, n, pages);

	barrier();
	nmx_poll_recycle_bulk(rxq, bufs, i, pages);
	return i;
}

static __always_inline u32 nmxb_nmx_ring_poll(struct nmx_rxq *rxq, struct nmx_buf **bufs,
					      u32 n, const bool pages)
{
	u32 i = nmx_poll_alloc_bulk(rxq, bufs, n, pages);
	u32 j;

	barrier();
	for (j = 0; j < i; j++)
		nmx_poll_put(rxq, bufs[j], false, pages);
	return i;
}

/* Page queues only: the extra reference is a page reference. */
static __always_inline u32 nmxb_nmx_slow_poll(struct nmx_rxq *rxq, struct nmx_buf **bufs,
					      u32 n, const bool pages)
{
	u32 i = nmx_poll_alloc_bulk(rxq, bufs, n, pages);
	u32 j;

	barrier();
	for (j = 0; j < i; j++) {
		get_page(nmx_buf_page(bufs[j]));
		nmx_poll_put(rxq, bufs[j], false, pages);
		put_page(nmx_buf_page(bufs[j]));
	}
	return i;
}

/* n operations in polls of @budget: one body per poll; stops at the first short poll. */
#define NMXB_POLLS(n, budget, got_expr)					\
({									\
	u64 __done = 0, __n = (n);					\
	while (__done < __n) {						\
		u32 want = min_t(u64, (budget), __n - __done);		\
		u32 got = (got_expr);					\
		__done += got;						\
		if (got < want)						\
			break;						\
	}								\
	__done;								\
})

static noinline u64 nmxb_loop_fast_direct(struct page_pool *pp, struct page **pages, u64 n)
{
	return NMXB_POLLS(n, NMXB_POLL, nmxb_pp_fast_poll(pp, pages, want));
}

static noinline u64 nmxb_loop_ring_direct(struct page_pool *pp, struct page **pages, u64 n)
{
	return NMXB_POLLS(n, NMXB_POLL, nmxb_pp_ring_poll(pp, pages, want));
}

static noinline u64 nmxb_loop_slow_direct(struct page_pool *pp, struct page **pages, u64 n)
{
	return NMXB_POLLS(n, NMXB_POLL, nmxb_pp_slow_poll(pp, pages, want));
}

/* Polls of 256: past the alloc cache (refills from and spills to the ring). */
static noinline u64 nmxb_loop_batch_direct(struct page_pool *pp, struct page **pages, u64 n)
{
	return NMXB_POLLS(n, NMXB_BATCH, nmxb_pp_fast_poll(pp, pages, want));
}

/* ---- The same polls through netmem's helpers: page queues and devmem queues ---- */

static noinline u64 nmxb_loop_fast_nmx(struct nmx_rxq *rxq, struct nmx_buf **bufs, u64 n)
{
	return NMXB_POLLS(n, NMXB_POLL, NMX_POLL(rxq, nmxb_nmx_fast_poll, rxq, bufs, want));
}

static noinline u64 nmxb_loop_ring_nmx(struct nmx_rxq *rxq, struct nmx_buf **bufs, u64 n)
{
	return NMXB_POLLS(n, NMXB_POLL, NMX_POLL(rxq, nmxb_nmx_ring_poll, rxq, bufs, want));
}

static noinline u64 nmxb_loop_slow_nmx(struct nmx_rxq *rxq, struct nmx_buf **bufs, u64 n)
{
	return NMXB_POLLS(n, NMXB_POLL, NMX_POLL(rxq, nmxb_nmx_slow_poll, rxq, bufs, want));
}

static noinline u64 nmxb_loop_batch_nmx(struct nmx_rxq *rxq, struct nmx_buf **bufs, u64 n)
{
	return NMXB_POLLS(n, NMXB_BATCH, NMX_POLL(rxq, nmxb_nmx_fast_poll, rxq, bufs, want));
}

/* ---- Cross-CPU: allocate here, return on the other CPU ---- */

static inline bool nmxb_spsc_push(struct nmxb_spsc *r, void *p)
{
	unsigned int head = r->head;

	/* Pairs with the consumer's release: its read of the slot is done. */
	if (head - smp_load_acquire(&r->tail) >= NMXB_SPSC_SIZE)
		return false;
	r->slot[head & (NMXB_SPSC_SIZE - 1)] = p;
	/* Publishes the slot to the consumer. */
	smp_store_release(&r->head, head + 1);
	return true;
}

static inline void *nmxb_spsc_pop(struct nmxb_spsc *r)
{
	unsigned int tail = r->tail;
	void *p;

	/* Pairs with the producer's release: the slot is written. */
	if (tail == smp_load_acquire(&r->head))
		return NULL;
	p = r->slot[tail & (NMXB_SPSC_SIZE - 1)];
	/* Hands the slot back to the producer after reading it. */
	smp_store_release(&r->tail, tail + 1);
	return p;
}

/*
 * Returner side. cpu_relax() (PAUSE) also hands the vCPU over under QEMU's
 * round-robin TCG, so neither side burns its slice spinning.
 */
static __always_inline void nmxb_xcpu_consume(struct nmxb_xcpu *x, bool nmx)
{
	bool burst = false;
	u64 t0 = 0;

	for (;;) {
		/* Read before the pop: done and empty means all returned. */
		bool done = smp_load_acquire(&x->done);
		void *buf = nmxb_spsc_pop(&x->ring);

		if (buf) {
			if (!burst) {
				t0 = nmxb_tsc();
				burst = true;
			}
			if (nmx)
				nmx_put(x->rxq, buf, false);
			else
				page_pool_put_page(x->pp, buf, -1, false);
			x->returned++;
			continue;
		}
		if (burst) {
			x->busy += nmxb_tsc() - t0;
			burst = false;
		}
		if (done)
			break;
		cpu_relax();
	}
}

static noinline void nmxb_loop_xcpu_return_direct(struct nmxb_xcpu *x)
{
	nmxb_xcpu_consume(x, false);
}

static noinline void nmxb_loop_xcpu_return_nmx(struct nmxb_xcpu *x)
{
	nmxb_xcpu_consume(x, true);
}

static int nmxb_xcpu_thread(void *arg)
{
	struct nmxb_xcpu *x = arg;

	while (!kthread_should_stop()) {
		/* Acquire: pairs with the release in nmxb_setup(). */
		wait_event_interruptible(x->wq, smp_load_acquire(&x->armed) ||
					 kthread_should_stop());
		/* As above. */
		if (!smp_load_acquire(&x->armed))
			continue;
		if (x->mode == NMXB_XCPU_NMX)
			nmxb_loop_xcpu_return_nmx(x);
		else
			nmxb_loop_xcpu_return_direct(x);
		/* Our returns and counters are visible before the producer stops. */
		smp_store_release(&x->armed, false);
	}
	return 0;
}

/* Producer side: allocate on this CPU, hand each buffer to the returner. */
static __always_inline u64 nmxb_xcpu_produce(struct nmxb_xcpu *x, u64 n, bool nmx)
{
	u64 i;

	for (i = 0; i < n; i++) {
		void *buf;

		if (nmx)
			buf = nmx_alloc(x->rxq);
		else
			buf = page_pool_dev_alloc_pages(x->pp);
		if (unlikely(!buf))
			break;
		while (!nmxb_spsc_push(&x->ring, buf))
			cpu_relax();
	}
	/* Orders the last push before done (read by the returner). */
	smp_store_release(&x->done, true);
	/* Until the last buffer is back: end-to-end throughput. */
	/* Pairs with the returner's release: its counters are final. */
	while (smp_load_acquire(&x->armed))
		cpu_relax();
	return i;
}

static noinline u64 nmxb_loop_xcpu_alloc_direct(struct nmxb_xcpu *x, u64 n)
{
	return nmxb_xcpu_produce(x, n, false);
}

static noinline u64 nmxb_loop_xcpu_alloc_nmx(struct nmxb_xcpu *x, u64 n)
{
	return nmxb_xcpu_produce(x, n, true);
}

/* ---- Fixture and timed region ---- */

static bool nmxb_key_on(void)
{
	return static_key_enabled(&nmx_devmem_live);
}

/* Jesper's pp_fill_ptr_ring(): put pages in the ring before timing. BH off. */
static void nmxb_prefill(struct page_pool *pp)
{
	struct page *pages[NMXB_PREFILL];
	unsigned int i, n;

	for (n = 0; n < NMXB_PREFILL; n++) {
		pages[n] = page_pool_dev_alloc_pages(pp);
		if (!pages[n])
			break;
	}
	for (i = 0; i < n; i++)
		page_pool_put_page(pp, pages[i], -1, false);
}

static u64 nmxb_dispatch(u32 test, u64 n)
{
	struct nmx_rxq *pq = nmxb.rxq[NMXB_Q_PAGES];
	struct nmx_rxq *dq = nmxb.rxq[NMXB_Q_DEVMEM];

	switch (test) {
	case NMXB_EMPTY:
		return nmxb_loop_empty(n);
	case NMXB_ARRAY:
		return nmxb_loop_array(&nmxb.stack, n);
	case NMXB_ARRAY_CALL:
		return nmxb_loop_array_call(&nmxb.stack, n);
	case NMXB_ATOMIC:
		return nmxb_loop_atomic(&nmxb.atomic, n);
	case NMXB_LOCK:
		return nmxb_loop_lock(&nmxb.lock, n);
	case NMXB_PP_FAST:
		return nmxb_loop_fast_direct(nmxb.pp_direct, nmxb.pages, n);
	case NMXB_PP_RING:
		return nmxb_loop_ring_direct(nmxb.pp_direct, nmxb.pages, n);
	case NMXB_PP_SLOW:
		return nmxb_loop_slow_direct(nmxb.pp_direct, nmxb.pages, n);
	case NMXB_PP_BATCH:
		return nmxb_loop_batch_direct(nmxb.pp_direct, nmxb.pages, n);
	case NMXB_NMX_FAST_OFF:
	case NMXB_NMX_FAST_ON:
		return nmxb_loop_fast_nmx(pq, nmxb.bufs, n);
	case NMXB_NMX_RING_OFF:
	case NMXB_NMX_RING_ON:
		return nmxb_loop_ring_nmx(pq, nmxb.bufs, n);
	case NMXB_NMX_SLOW_OFF:
	case NMXB_NMX_SLOW_ON:
		return nmxb_loop_slow_nmx(pq, nmxb.bufs, n);
	case NMXB_DM_FAST:
		return nmxb_loop_fast_nmx(dq, nmxb.bufs, n);
	case NMXB_DM_RING:
		return nmxb_loop_ring_nmx(dq, nmxb.bufs, n);
	case NMXB_DM_BATCH:
		return nmxb_loop_batch_nmx(dq, nmxb.bufs, n);
	case NMXB_PP_XCPU:
		return nmxb_loop_xcpu_alloc_direct(nmxb.xcpu, n);
	case NMXB_DM_XCPU:
		return nmxb_loop_xcpu_alloc_nmx(nmxb.xcpu, n);
	}
	return 0;
}

/* Check the state a test needs and prepare it (untimed). Process context. */
static int nmxb_setup(u32 test)
{
	struct nmxb_xcpu *x = nmxb.xcpu;
	bool bound = READ_ONCE(nmxb.rxq[NMXB_Q_DEVMEM]->devmem);
	struct page_pool *fill = NULL;

	switch (test) {
	case NMXB_EMPTY:
	case NMXB_ARRAY:
	case NMXB_ARRAY_CALL:
	case NMXB_ATOMIC:
	case NMXB_LOCK:
		return 0;
	case NMXB_PP_FAST:
	case NMXB_PP_RING:
	case NMXB_PP_SLOW:
	case NMXB_PP_BATCH:
		fill = nmxb.pp_direct;
		break;
	case NMXB_NMX_FAST_OFF:
	case NMXB_NMX_RING_OFF:
	case NMXB_NMX_SLOW_OFF:
		if (nmxb_key_on())
			return -EBUSY;
		fill = nmxb.pp[NMXB_Q_PAGES];
		break;
	case NMXB_NMX_FAST_ON:
	case NMXB_NMX_RING_ON:
	case NMXB_NMX_SLOW_ON:
		if (!nmxb_key_on() || !bound)
			return -ENOLINK;
		fill = nmxb.pp[NMXB_Q_PAGES];
		break;
	case NMXB_DM_FAST:
	case NMXB_DM_RING:
	case NMXB_DM_BATCH:
		return bound ? 0 : -ENOLINK;
	case NMXB_PP_XCPU:
	case NMXB_DM_XCPU:
		if (!x)
			return -ENXIO;	/* no CPU 1 */
		if (test == NMXB_DM_XCPU && !bound)
			return -ENOLINK;
		if (test == NMXB_PP_XCPU)
			fill = nmxb.pp_direct;
		x->pp = nmxb.pp_direct;
		x->rxq = nmxb.rxq[NMXB_Q_DEVMEM];
		x->mode = test == NMXB_DM_XCPU ? NMXB_XCPU_NMX : NMXB_XCPU_PP;
		x->returned = 0;
		x->busy = 0;
		x->ring.head = 0;
		x->ring.tail = 0;
		WRITE_ONCE(x->done, false);
		break;
	default:
		return -EINVAL;
	}
	if (fill) {
		local_bh_disable();
		nmxb_prefill(fill);
		local_bh_enable();
	}
	if (test == NMXB_PP_XCPU || test == NMXB_DM_XCPU) {
		/* The returner sees the reset state above before armed. */
		smp_store_release(&x->armed, true);
		wake_up(&x->wq);
	}
	return 0;
}

/**
 * nmxb_c_run() - run one timed loop of a test
 * @test: enum nmxb_test
 * @n: operations
 * @s: result
 *
 * Process context; the loop runs with BH disabled, like NAPI.
 *
 * Return: 0 or a negative errno (the state the test needs is missing).
 */
int nmxb_c_run(u32 test, u64 n, struct nmxb_sample *s)
{
	u64 tsc0, tsc1, ns0, ns1;
	int err;

	memset(s, 0, sizeof(*s));
	err = nmxb_setup(test);
	if (err)
		return err;
	if (test == NMXB_ARRAY || test == NMXB_ARRAY_CALL)
		nmxb.stack.count = NMXB_STACK_SIZE;

	local_bh_disable();
	ns0 = ktime_get_ns();
	tsc0 = nmxb_tsc();
	s->ops = nmxb_dispatch(test, n);
	tsc1 = nmxb_tsc();
	ns1 = ktime_get_ns();
	s->cpu = smp_processor_id();
	local_bh_enable();

	s->tsc = tsc1 - tsc0;
	s->ns = ns1 - ns0;
	if (test == NMXB_PP_XCPU || test == NMXB_DM_XCPU) {
		s->aux = nmxb.xcpu->busy;
		if (nmxb.xcpu->returned != s->ops)
			return -EIO;
	}
	if (s->ops != n)
		return -ENOMEM;
	cond_resched();
	return 0;
}

/**
 * nmxb_c_bind() - bind the run's dma-buf to the devmem queue, timed
 * @s: result: time of nmx_bind_dmabuf()
 * @info: what was bound
 *
 * Return: 0 or a negative errno.
 */
int nmxb_c_bind(struct nmxb_sample *s, struct nmxb_bind_info *info)
{
	struct nmx_binding_info bi;
	u32 queue = NMXB_Q_DEVMEM;
	u64 tsc0, ns0;
	int id, err;

	memset(s, 0, sizeof(*s));
	if (nmxb.fd < 0)
		return -EBADF;
	if (nmxb.binding)
		return -EEXIST;
	ns0 = ktime_get_ns();
	tsc0 = nmxb_tsc();
	id = nmx_bind_dmabuf(nmxb.netdev, &queue, 1, nmxb.fd, chunk_size, NULL);
	s->tsc = nmxb_tsc() - tsc0;
	s->ns = ktime_get_ns() - ns0;
	s->ops = 1;
	s->cpu = raw_smp_processor_id();
	if (id < 0)
		return id;
	nmxb.binding = id;
	err = nmx_binding_info(id, &bi);
	if (err)
		return err;
	info->dmabuf_size = bi.dmabuf_size;
	info->chunks = bi.chunks_total;
	info->chunk_size = bi.chunk_size;
	info->desc_size = sizeof(struct nmx_chunk);
	return 0;
}

/**
 * nmxb_c_bind_profile() - netmem's own profile of the bind just made
 * @p: result: time split and memory (NMX_TESTING)
 *
 * Return: 0 or a negative errno.
 */
int nmxb_c_bind_profile(struct nmx_testing_bind_profile *p)
{
	if (!nmxb.binding)
		return -ENOENT;
	return nmx_testing_bind_profile(nmxb.binding, p);
}
MODULE_IMPORT_NS(NMX_TESTING);

/**
 * nmxb_c_unbind() - unbind the run's binding, timed
 * @s: result: time of nmx_unbind()
 *
 * The binding is freed, and the static key dropped, from netmem's workqueue
 * once every chunk is home: see nmxb_c_key_off_wait().
 *
 * Return: 0 or a negative errno.
 */
int nmxb_c_unbind(struct nmxb_sample *s)
{
	u64 tsc0, ns0;
	int err;

	memset(s, 0, sizeof(*s));
	if (!nmxb.binding)
		return -ENOENT;
	ns0 = ktime_get_ns();
	tsc0 = nmxb_tsc();
	err = nmx_unbind(nmxb.binding);
	s->tsc = nmxb_tsc() - tsc0;
	s->ns = ktime_get_ns() - ns0;
	s->ops = 1;
	s->cpu = raw_smp_processor_id();
	nmxb.binding = 0;
	return err;
}

/**
 * nmxb_c_key_off_wait() - wait until no binding is left anywhere
 *
 * Return: 0, or -ETIMEDOUT after 10 s (another binding is live).
 */
int nmxb_c_key_off_wait(void)
{
	unsigned int i;

	for (i = 0; i < 10000; i++) {
		if (!nmxb_key_on())
			return 0;
		usleep_range(1000, 2000);
	}
	return -ETIMEDOUT;
}

/**
 * nmxb_c_binding_stats() - counters of the live binding
 * @out: alloc_fast, alloc_slow, recycle_cached, recycle_ring, ring_full,
 *	empty, bad_put, inflight
 * @n: entries of @out (at most 8 are written)
 *
 * Return: 0 or a negative errno.
 */
int nmxb_c_binding_stats(u64 *out, u32 n)
{
	struct nmx_binding_info bi;
	u64 v[8];
	int err;

	if (!nmxb.binding)
		return -ENOENT;
	err = nmx_binding_info(nmxb.binding, &bi);
	if (err)
		return err;
	v[0] = bi.alloc_fast;
	v[1] = bi.alloc_slow;
	v[2] = bi.recycle_cached;
	v[3] = bi.recycle_ring;
	v[4] = bi.ring_full;
	v[5] = bi.empty;
	v[6] = bi.bad_put;
	v[7] = bi.inflight;
	memcpy(out, v, min_t(u32, n, ARRAY_SIZE(v)) * sizeof(u64));
	return 0;
}

/**
 * nmxb_emit() - one output line (no newline) to the results file and the log
 * @line: text
 * @len: bytes
 */
void nmxb_emit(const char *line, size_t len)
{
	if (nmxb.out && nmxb.out_len + len + 1 < NMXB_OUT_SIZE) {
		memcpy(nmxb.out + nmxb.out_len, line, len);
		nmxb.out_len += len;
		nmxb.out[nmxb.out_len++] = '\n';
		nmxb.out[nmxb.out_len] = '\0';
	}
	pr_info("%.*s\n", (int)len, line);
}

/**
 * nmxb_c_progress() - progress on the console (the results file has the data)
 * @round: round just finished, 0 is the warm-up
 * @rounds: measured rounds
 */
void nmxb_c_progress(u32 round, u32 rounds)
{
	pr_notice("round %u/%u done%s\n", round, rounds, round ? "" : " (warm-up)");
}

/**
 * nmxb_c_prepare() - start the cross-CPU returner on CPU 1
 *
 * Return: 0, also without a second CPU (cross-CPU tests then fail with
 * -ENXIO and are reported as skipped), or a negative errno.
 */
int nmxb_c_prepare(void)
{
	struct nmxb_xcpu *x;
	struct task_struct *t;

	if (nmxb.xcpu || !cpu_online(1))
		return 0;
	x = kzalloc(sizeof(*x), GFP_KERNEL);
	if (!x)
		return -ENOMEM;
	init_waitqueue_head(&x->wq);
	t = kthread_create(nmxb_xcpu_thread, x, "nmxb_return");
	if (IS_ERR(t)) {
		kfree(x);
		return PTR_ERR(t);
	}
	kthread_bind(t, 1);
	x->task = t;
	nmxb.xcpu = x;
	wake_up_process(t);
	return 0;
}

/** nmxb_c_finish() - stop the cross-CPU returner */
void nmxb_c_finish(void)
{
	if (!nmxb.xcpu)
		return;
	kthread_stop(nmxb.xcpu->task);
	kfree(nmxb.xcpu);
	nmxb.xcpu = NULL;
}

/* ---- debugfs: run and results ---- */

static ssize_t nmxb_run_write(struct file *file, const char __user *ubuf,
			      size_t count, loff_t *ppos)
{
	cpumask_var_t saved;
	int fd, err;

	err = kstrtoint_from_user(ubuf, count, 0, &fd);
	if (err)
		return err;
	if (!alloc_cpumask_var(&saved, GFP_KERNEL))
		return -ENOMEM;
	mutex_lock(&nmxb.run_lock);
	nmxb.fd = fd;
	nmxb.out_len = 0;
	nmxb.out[0] = '\0';
	/* Every timed loop allocates on CPU 0. */
	cpumask_copy(saved, current->cpus_ptr);
	err = set_cpus_allowed_ptr(current, cpumask_of(0));
	if (!err)
		err = nmxb_rs_run(fd, loops, rounds, tests, unit ? unit : "tsc/op");
	set_cpus_allowed_ptr(current, saved);
	nmxb_c_finish();
	if (nmxb.binding) {
		struct nmxb_sample s;

		nmxb_c_unbind(&s);
	}
	nmxb.fd = -1;
	mutex_unlock(&nmxb.run_lock);
	free_cpumask_var(saved);
	return err ? err : count;
}

static ssize_t nmxb_results_read(struct file *file, char __user *ubuf,
				 size_t count, loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&nmxb.run_lock);
	ret = simple_read_from_buffer(ubuf, count, ppos, nmxb.out, nmxb.out_len);
	mutex_unlock(&nmxb.run_lock);
	return ret;
}

static const struct file_operations nmxb_run_fops = {
	.owner = THIS_MODULE,
	.write = nmxb_run_write,
	.llseek = noop_llseek,
};

static const struct file_operations nmxb_results_fops = {
	.owner = THIS_MODULE,
	.read = nmxb_results_read,
	.llseek = default_llseek,
};

/* ---- Fixture setup and teardown, called by the Rust module ---- */

static struct page_pool *nmxb_pool_create(void)
{
	struct page_pool_params pp = {
		.order = 0,
		.flags = 0,	/* no DMA mapping, as in Jesper's benchmark */
		.pool_size = NMXB_POOL_SIZE,
		.nid = NUMA_NO_NODE,
		.dma_dir = DMA_FROM_DEVICE,
	};

	return page_pool_create(&pp);
}

static void nmxb_teardown(void)
{
	unsigned int q;

	for (q = 0; q < NMXB_QUEUES; q++) {
		if (!IS_ERR_OR_NULL(nmxb.rxq[q]))
			nmx_rxq_unregister(nmxb.rxq[q]);
		nmxb.rxq[q] = NULL;
		if (!IS_ERR_OR_NULL(nmxb.pp[q]))
			page_pool_destroy(nmxb.pp[q]);
		nmxb.pp[q] = NULL;
	}
	if (!IS_ERR_OR_NULL(nmxb.pp_direct))
		page_pool_destroy(nmxb.pp_direct);
	nmxb.pp_direct = NULL;
	if (nmxb.netdev)
		free_netdev(nmxb.netdev);
	nmxb.netdev = NULL;
	if (!IS_ERR_OR_NULL(nmxb.pdev))
		platform_device_unregister(nmxb.pdev);
	nmxb.pdev = NULL;
	kvfree(nmxb.out);
	nmxb.out = NULL;
}

/**
 * nmxb_c_init() - build the fixture and the debugfs files
 *
 * Return: 0 or a negative errno.
 */
int nmxb_c_init(void)
{
	unsigned int q, i;
	int err;

	mutex_init(&nmxb.run_lock);
	spin_lock_init(&nmxb.lock);
	atomic_set(&nmxb.atomic, 0);
	nmxb.fd = -1;
	for (i = 0; i < NMXB_STACK_SIZE; i++)
		nmxb.stack.slot[i] = &nmxb.stack.slot[i];
	nmxb.stack.count = NMXB_STACK_SIZE;

	nmxb.out = kvzalloc(NMXB_OUT_SIZE, GFP_KERNEL);
	if (!nmxb.out)
		return -ENOMEM;

	nmxb.pdev = platform_device_register_simple(KBUILD_MODNAME, -1, NULL, 0);
	if (IS_ERR(nmxb.pdev)) {
		err = PTR_ERR(nmxb.pdev);
		goto fail;
	}
	err = dma_coerce_mask_and_coherent(&nmxb.pdev->dev, DMA_BIT_MASK(64));
	if (err)
		goto fail;

	/* Never registered: netmem needs its queues, not a live interface. */
	nmxb.netdev = alloc_etherdev_mqs(0, NMXB_QUEUES, NMXB_QUEUES);
	if (!nmxb.netdev) {
		err = -ENOMEM;
		goto fail;
	}

	nmxb.pp_direct = nmxb_pool_create();
	if (IS_ERR(nmxb.pp_direct)) {
		err = PTR_ERR(nmxb.pp_direct);
		goto fail;
	}
	for (q = 0; q < NMXB_QUEUES; q++) {
		nmxb.pp[q] = nmxb_pool_create();
		if (IS_ERR(nmxb.pp[q])) {
			err = PTR_ERR(nmxb.pp[q]);
			goto fail;
		}
		nmxb.rxq[q] = nmx_rxq_register(nmxb.netdev, q, nmxb.pp[q],
					       &nmxb.pdev->dev, NULL, NULL);
		if (IS_ERR(nmxb.rxq[q])) {
			err = PTR_ERR(nmxb.rxq[q]);
			goto fail;
		}
	}

	nmxb.dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("run", 0200, nmxb.dir, NULL, &nmxb_run_fops);
	debugfs_create_file("results", 0400, nmxb.dir, NULL, &nmxb_results_fops);
	pr_info("ready: write a dma-buf fd (or -1) to /sys/kernel/debug/%s/run\n",
		KBUILD_MODNAME);
	return 0;

fail:
	nmxb_teardown();
	return err;
}

/** nmxb_c_exit() - remove the debugfs files and the fixture */
void nmxb_c_exit(void)
{
	debugfs_remove_recursive(nmxb.dir);
	mutex_lock(&nmxb.run_lock);
	nmxb_c_finish();
	if (nmxb.binding)
		nmx_unbind(nmxb.binding);
	nmxb.binding = 0;
	mutex_unlock(&nmxb.run_lock);
	nmxb_teardown();
}
