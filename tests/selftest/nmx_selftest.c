// SPDX-License-Identifier: GPL-2.0
/*
 * nmx_selftest: in-kernel KTAP tests of the netmem core (the buffer layer and
 * the devmem_pool) through its driver-facing API.
 *
 * The module builds a fake device of its own: a platform device that DMAs
 * anywhere, a netdev with four RX queues (one page_pool each, no NAPI, no
 * restart hook: netmem switches them lazily) registered with netmem, a second
 * netdev without any, and a third whose two queues sit behind two different
 * DMA devices. The tests play the driver: every NAPI-context call runs with
 * BHs disabled. A small dma-buf exporter of its own provides dma-bufs besides
 * the one userspace gives. When nmx_testnic is loaded, the cases on queue
 * restart use its ports through the hooks of tests/testnic/nmx_testnic.h.
 *
 * After every case, each binding of the run that still exists (bound or
 * draining) must pass netmem's independent accounting audit
 * (nmx_testing_audit()).
 *
 * Userspace writes the number of a dma-buf descriptor (a 4 MiB udmabuf) to
 * /sys/kernel/debug/nmx_selftest/run. The suite runs in the writer's context,
 * so the descriptor resolves there, prints KTAP to the kernel log and keeps it
 * in /sys/kernel/debug/nmx_selftest/results. The write returns -EIO if any
 * case failed.
 */

#include <linux/bitmap.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/etherdevice.h>
#include <linux/fdtable.h>
#include <linux/iosys-map.h>
#include <linux/jump_label.h>
#include <linux/kthread.h>
#include <linux/kstrtox.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/netlink.h>
#include <linux/platform_device.h>
#include <linux/rtnetlink.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <net/page_pool/helpers.h>
#include <nmx/helpers.h>
#include <nmx/testing.h>

#include "../testnic/nmx_testnic.h"

MODULE_IMPORT_NS(DMA_BUF);
MODULE_IMPORT_NS(NMX_TESTING);

#define NMXS_NQUEUES		4
#define NMXS_CHUNK		4096
#define NMXS_POOL_SIZE		256
#define NMXS_MIN_CHUNKS		128
#define NMXS_OUT_SIZE		(64 * 1024)
/* Failure diagnostics printed per case; the rest are only counted. */
#define NMXS_MAX_DIAGS		16
#define NMXS_MAX_LIVE		8
#define NMXS_KEY_WAIT_MS	2000
#define NMXS_PATTERN_LEN	1000
#define NMXS_REMOTE		64
#define NMXS_BATCH		64
#define NMXS_CYCLES		100000
#define NMXS_RX_CYCLES		10000
/* Pages of the dma-bufs this module exports itself (4 KiB chunks each). */
#define NMXS_XBUF_PAGES		128
#define NMXS_RACE_XBUF_PAGES	16
#define NMXS_RACE_ROUNDS	2000
#define NMXS_RACE_SECS		60
/* How long a binding whose last chunk came home may take to disappear. */
#define NMXS_GONE_WAIT_MS	1000

/* One RX queue of the fake device. */
struct nmxs_queue {
	struct page_pool *pp;
	struct nmx_rxq *rxq;
};

static struct platform_device *nmxs_pdev;
static struct net_device *nmxs_netdev;
/* A device whose driver registered no queue with netmem. */
static struct net_device *nmxs_bare;
static struct nmxs_queue nmxs_q[NMXS_NQUEUES];
static struct dentry *nmxs_dir;
/*
 * A device whose queue 0 DMAs through nmxs_pdev and queue 1 through
 * nmxs_pdev2, if netmem lets it register them (NULL queues otherwise).
 */
static struct platform_device *nmxs_pdev2;
static struct net_device *nmxs_mixed;
static struct nmxs_queue nmxs_mixed_q[2];

static char *only;
module_param(only, charp, 0444);
MODULE_PARM_DESC(only,
		 "Run only the case of this name (the others are skipped), e.g. to check one case against a planted defect");

/* Serialises runs, and readers of the results against a run. */
static DEFINE_MUTEX(nmxs_mutex);
static char *nmxs_out;
static size_t nmxs_out_len;

/**
 * struct nmxs_run - state of one run of the suite
 * @fd: the dma-buf descriptor userspace gave
 * @dmabuf: our own reference on it
 * @fd2: descriptor of a dma-buf this module exported (NMXS_XBUF_PAGES pages)
 * @nchunks: number of 4 KiB chunks in it
 * @bufs: buffers in our hands, @nchunks + 1 slots
 * @bind1: binding made by bind_and_carve (queue 1), 0 if none
 * @live: ids of the bindings that should be alive
 * @nlive: entries in @live
 * @stale: ids of bindings a failed case left behind (reported once)
 * @nstale: entries in @stale
 * @min_id: lowest binding id this run got (0: none yet)
 * @max_id: highest binding id this run got
 * @key_stuck: nmx_devmem_live references that failed cases left behind
 * @name: name of the running case
 * @failures: failed checks in the running case
 * @skip: reason to skip the running case, or NULL
 * @pass: cases passed
 * @fail: cases failed
 * @skipped: cases skipped
 */
struct nmxs_run {
	int fd;
	struct dma_buf *dmabuf;
	int fd2;
	u32 nchunks;
	struct nmx_buf **bufs;
	u32 bind1;
	u32 live[NMXS_MAX_LIVE];
	unsigned int nlive;
	u32 stale[NMXS_MAX_LIVE];
	unsigned int nstale;
	u32 min_id;
	u32 max_id;
	int key_stuck;
	const char *name;
	unsigned int failures;
	const char *skip;
	unsigned int pass;
	unsigned int fail;
	unsigned int skipped;
};

/*
 * A minimal dma-buf exporter: @npages pages allocated one by one, mapped as
 * one scatterlist entry each (4 KiB segments, whatever their addresses), and
 * into the kernel on request (vmap).
 */
struct nmxs_xbuf {
	unsigned int npages;
	struct page *pages[] __counted_by(npages);
};

static struct sg_table *nmxs_xbuf_map(struct dma_buf_attachment *att,
				      enum dma_data_direction dir)
{
	struct nmxs_xbuf *x = att->dmabuf->priv;
	struct scatterlist *sg;
	struct sg_table *sgt;
	unsigned int i;
	int err;

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	err = sg_alloc_table(sgt, x->npages, GFP_KERNEL);
	if (err)
		goto err_free;
	for_each_sgtable_sg(sgt, sg, i)
		sg_set_page(sg, x->pages[i], PAGE_SIZE, 0);
	err = dma_map_sgtable(att->dev, sgt, dir, 0);
	if (err)
		goto err_table;
	return sgt;

err_table:
	sg_free_table(sgt);
err_free:
	kfree(sgt);
	return ERR_PTR(err);
}

static void nmxs_xbuf_unmap(struct dma_buf_attachment *att,
			    struct sg_table *sgt, enum dma_data_direction dir)
{
	dma_unmap_sgtable(att->dev, sgt, dir, 0);
	sg_free_table(sgt);
	kfree(sgt);
}

/* CPU-copy queues (nmx_testing_rxq_cpu_copy()) write through a kernel mapping. */
static int nmxs_xbuf_vmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	struct nmxs_xbuf *x = dmabuf->priv;
	void *vaddr;

	vaddr = vmap(x->pages, x->npages, VM_MAP, PAGE_KERNEL);
	if (!vaddr)
		return -ENOMEM;
	iosys_map_set_vaddr(map, vaddr);
	return 0;
}

static void nmxs_xbuf_vunmap(struct dma_buf *dmabuf, struct iosys_map *map)
{
	vunmap(map->vaddr);
}

static void nmxs_xbuf_free(struct nmxs_xbuf *x)
{
	unsigned int i;

	for (i = 0; i < x->npages; i++)
		if (x->pages[i])
			__free_page(x->pages[i]);
	kfree(x);
}

static void nmxs_xbuf_release(struct dma_buf *dmabuf)
{
	nmxs_xbuf_free(dmabuf->priv);
}

static const struct dma_buf_ops nmxs_xbuf_ops = {
	.map_dma_buf	= nmxs_xbuf_map,
	.unmap_dma_buf	= nmxs_xbuf_unmap,
	.release	= nmxs_xbuf_release,
	.vmap		= nmxs_xbuf_vmap,
	.vunmap		= nmxs_xbuf_vunmap,
};

/*
 * Exports a dma-buf of @npages pages and installs it as a descriptor of the
 * current task (the writer of the run file), as nmx_bind_dmabuf() wants one.
 * Returns the descriptor or a negative errno. Close it with close_fd().
 */
static int nmxs_xbuf_fd(unsigned int npages)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp);
	struct dma_buf *dmabuf;
	struct nmxs_xbuf *x;
	unsigned int i;
	int fd;

	x = kzalloc(struct_size(x, pages, npages), GFP_KERNEL);
	if (!x)
		return -ENOMEM;
	x->npages = npages;
	for (i = 0; i < npages; i++) {
		x->pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!x->pages[i]) {
			nmxs_xbuf_free(x);
			return -ENOMEM;
		}
	}
	exp.ops = &nmxs_xbuf_ops;
	exp.size = (size_t)npages * PAGE_SIZE;
	exp.flags = O_RDWR;
	exp.priv = x;
	dmabuf = dma_buf_export(&exp);
	if (IS_ERR(dmabuf)) {
		nmxs_xbuf_free(x);
		return PTR_ERR(dmabuf);
	}
	/* From here on the dma-buf owns @x. */
	fd = dma_buf_fd(dmabuf, O_CLOEXEC);
	if (fd < 0)
		dma_buf_put(dmabuf);
	return fd;
}

/* Output: one KTAP line to the kernel log and to the results buffer. */
static __printf(1, 2) void nmxs_line(const char *fmt, ...)
{
	char line[320];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = vscnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pr_info("%s\n", line);
	if (nmxs_out_len + n + 1 < NMXS_OUT_SIZE) {
		memcpy(nmxs_out + nmxs_out_len, line, n);
		nmxs_out_len += n;
		nmxs_out[nmxs_out_len++] = '\n';
	}
}

/* A failed check of the running case, as a KTAP diagnostic. */
static __printf(3, 4) void nmxs_failf(struct nmxs_run *t, int line,
				      const char *fmt, ...)
{
	struct va_format vaf;
	va_list ap;

	if (++t->failures > NMXS_MAX_DIAGS)
		return;
	va_start(ap, fmt);
	vaf.fmt = fmt;
	vaf.va = &ap;
	nmxs_line("# %s: line %d: %pV", t->name, line, &vaf);
	va_end(ap);
}

#define NMXS_FAIL(t, fmt, ...) nmxs_failf(t, __LINE__, fmt, ##__VA_ARGS__)

static bool nmxs_check(struct nmxs_run *t, bool ok, int line,
		       const char *expr)
{
	if (!ok)
		nmxs_failf(t, line, "expected %s", expr);
	return ok;
}

#define NMXS_CHECK(t, cond) nmxs_check(t, !!(cond), __LINE__, #cond)

static bool nmxs_check_eq(struct nmxs_run *t, int line, const char *a,
			  const char *b, s64 va, s64 vb)
{
	if (va == vb)
		return true;
	nmxs_failf(t, line, "expected %s == %s, got %lld (%#llx) vs %lld (%#llx)",
		   a, b, va, (u64)va, vb, (u64)vb);
	return false;
}

#define NMXS_EQ(t, a, b) \
	nmxs_check_eq(t, __LINE__, #a, #b, (s64)(a), (s64)(b))

static bool nmxs_key_on(void)
{
	return static_key_enabled(&nmx_devmem_live.key);
}

/*
 * Every binding, live or waiting for its chunks, holds one reference on the
 * key. Releases run on netmem's workqueue: give them time to drop the key to
 * what cases that already failed left behind (@t->key_stuck).
 */
static bool nmxs_wait_key_settled(struct nmxs_run *t)
{
	unsigned int waited;

	for (waited = 0; waited < NMXS_KEY_WAIT_MS; waited += 20) {
		if (static_key_count(&nmx_devmem_live.key) <= t->key_stuck)
			return true;
		msleep(20);
	}
	return static_key_count(&nmx_devmem_live.key) <= t->key_stuck;
}

/* Polls (finely) until the key's count is down to @count; false after 2 s. */
static bool nmxs_wait_key_count(int count)
{
	unsigned int i;

	for (i = 0; i < 2000; i++) {
		if (static_key_count(&nmx_devmem_live.key) <= count)
			return true;
		usleep_range(500, 1000);
	}
	return static_key_count(&nmx_devmem_live.key) <= count;
}

/* A failed case left bindings behind: later cases start from there. */
static void nmxs_key_stuck(struct nmxs_run *t)
{
	t->key_stuck = static_key_count(&nmx_devmem_live.key);
}

/*
 * Binding @id had every chunk come home (and is unbound): it must stop
 * resolving, at once or after a short wait for a deferred release.
 */
static bool nmxs_wait_gone(u32 id)
{
	struct nmx_binding_info info;
	unsigned int waited;

	for (waited = 0; waited < NMXS_GONE_WAIT_MS; waited += 20) {
		if (nmx_binding_info(id, &info) == -ENOENT)
			return true;
		msleep(20);
	}
	return nmx_binding_info(id, &info) == -ENOENT;
}

/* Binding @id was unbound and all its chunks are home: it must go. */
static void nmxs_expect_released(struct nmxs_run *t, u32 id, int line)
{
	if (!nmxs_wait_gone(id))
		nmxs_failf(t, line,
			   "binding %u: unbound, every chunk home, still resolves after %d ms",
			   id, NMXS_GONE_WAIT_MS);
	if (nmxs_wait_key_settled(t))
		return;
	nmxs_failf(t, line,
		   "binding %u: unbound, every chunk home, but not released: nmx_devmem_live count %d after %d ms",
		   id, static_key_count(&nmx_devmem_live.key),
		   NMXS_KEY_WAIT_MS);
	nmxs_key_stuck(t);
}

/*
 * Registers a CPU-copy queue without restart hook: netmem switches it lazily,
 * and what it posted stays ours to return.
 */
static struct nmx_rxq *nmxs_rxq_register(struct net_device *dev, u32 q,
					 struct page_pool *pp,
					 struct device *dma_dev)
{
	struct nmx_rxq *rxq;
	int err;

	rxq = nmx_rxq_register(dev, q, pp, dma_dev, NULL, NULL);
	if (IS_ERR(rxq))
		return rxq;
	err = nmx_testing_rxq_cpu_copy(rxq);
	if (err) {
		nmx_rxq_unregister(rxq);
		return ERR_PTR(err);
	}
	return rxq;
}

/* (Re-)registers queue @q of the test device with netmem. */
static int nmxs_queue_register(unsigned int q)
{
	struct nmx_rxq *rxq;

	rxq = nmxs_rxq_register(nmxs_netdev, q, nmxs_q[q].pp, &nmxs_pdev->dev);
	if (IS_ERR(rxq))
		return PTR_ERR(rxq);
	nmxs_q[q].rxq = rxq;
	return 0;
}

/* Whether queue @q of the test device feeds from a dma-buf. */
static bool nmxs_bound(unsigned int q)
{
	return nmxs_q[q].rxq && READ_ONCE(nmxs_q[q].rxq->devmem);
}

static void nmxs_diag_info(struct nmxs_run *t, const char *when,
			   const struct nmx_binding_info *i)
{
	nmxs_line("# %s: %s: binding %u: total %u free %u posted %u completed %u user %u",
		  t->name, when, i->id, i->chunks_total, i->chunks_free,
		  i->chunks_posted, i->chunks_completed, i->chunks_user);
	nmxs_line("# %s: %s: alloc_fast %llu alloc_slow %llu recycle_cached %llu recycle_ring %llu",
		  t->name, when, i->alloc_fast, i->alloc_slow,
		  i->recycle_cached, i->recycle_ring);
	nmxs_line("# %s: %s: ring_full %llu empty %llu inflight %llu held %llu bad_put %llu",
		  t->name, when, i->ring_full, i->empty, i->inflight,
		  i->held_by_user, i->bad_put);
}

static int nmxs_info(struct nmxs_run *t, int line, u32 id,
		     struct nmx_binding_info *info)
{
	int ret;

	memset(info, 0, sizeof(*info));
	ret = nmx_binding_info(id, info);
	if (ret)
		nmxs_failf(t, line, "nmx_binding_info(%u) = %d", id, ret);
	return ret;
}

#define NMXS_INFO(t, id, info) nmxs_info(t, __LINE__, id, info)

static bool nmxs_in(const u32 *ids, unsigned int n, u32 id)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static bool nmxs_tracked(const struct nmxs_run *t, u32 id)
{
	return nmxs_in(t->live, t->nlive, id);
}

static void nmxs_untrack(struct nmxs_run *t, u32 id)
{
	unsigned int i;

	for (i = 0; i < t->nlive; i++) {
		if (t->live[i] == id) {
			t->live[i] = t->live[--t->nlive];
			return;
		}
	}
}

/* nmx_bind_dmabuf() that remembers what it created. */
static int nmxs_bind(struct nmxs_run *t, struct net_device *dev,
		     const u32 *queues, u32 nqueues, int fd, u32 chunk_size,
		     struct netlink_ext_ack *extack)
{
	int id = nmx_bind_dmabuf(dev, queues, nqueues, fd, chunk_size, extack);

	if (id <= 0)
		return id;
	if (t->nlive < NMXS_MAX_LIVE)
		t->live[t->nlive++] = id;
	if (!t->min_id || id < t->min_id)
		t->min_id = id;
	t->max_id = max_t(u32, t->max_id, id);
	return id;
}

static int nmxs_unbind(struct nmxs_run *t, u32 id)
{
	int ret = nmx_unbind(id);

	if (!ret)
		nmxs_untrack(t, id);
	return ret;
}

/* Binds queue @queue of the test device with 4 KiB chunks; 0 on failure. */
static u32 nmxs_bind_queue(struct nmxs_run *t, u32 queue)
{
	struct netlink_ext_ack extack = {};
	int id;

	id = nmxs_bind(t, nmxs_netdev, &queue, 1, t->fd, NMXS_CHUNK, &extack);
	if (id <= 0) {
		NMXS_FAIL(t, "nmx_bind_dmabuf(queue %u, chunk %u) = %d (%s)",
			  queue, NMXS_CHUNK, id,
			  extack._msg ? extack._msg : "no extack message");
		return 0;
	}
	return id;
}

/* Allocates up to @n buffers in one NAPI-like section; returns how many. */
static u32 nmxs_alloc_n(struct nmx_rxq *rxq, struct nmx_buf **bufs, u32 n)
{
	u32 i;

	local_bh_disable();
	for (i = 0; i < n; i++) {
		bufs[i] = nmx_alloc(rxq);
		if (!bufs[i])
			break;
	}
	local_bh_enable();
	return i;
}

/* Recycles the non-NULL entries of @bufs from a NAPI-like section. */
static void nmxs_recycle_n(struct nmx_rxq *rxq, struct nmx_buf **bufs, u32 n)
{
	u32 i;

	local_bh_disable();
	for (i = 0; i < n; i++) {
		if (bufs[i]) {
			nmx_recycle_direct(rxq, bufs[i]);
			bufs[i] = NULL;
		}
	}
	local_bh_enable();
}

/* Checks that @n buffers are devmem chunks; returns how many are not. */
static u32 nmxs_count_pages(struct nmxs_run *t, struct nmx_buf **bufs, u32 n)
{
	u32 i, pages = 0;

	for (i = 0; i < n; i++) {
		if (!nmx_buf_is_devmem(bufs[i])) {
			NMXS_FAIL(t, "buffer %u is not devmem (magic %#lx)", i,
				  nmx_buf_chunk(bufs[i])->magic);
			pages++;
		}
	}
	return pages;
}

/* How many of @n buffers are devmem chunks. */
static u32 nmxs_count_devmem(struct nmx_buf **bufs, u32 n)
{
	u32 i, dm = 0;

	for (i = 0; i < n; i++)
		dm += nmx_buf_is_devmem(bufs[i]);
	return dm;
}

/*
 * The starting point of the teardown cases: queue @qi bound and @n devmem chunks
 * allocated into t->bufs. Returns the binding id, or 0 with everything undone.
 */
static u32 nmxs_bind_and_alloc(struct nmxs_run *t, u32 qi, u32 n)
{
	struct nmx_rxq *rxq = nmxs_q[qi].rxq;
	u32 id, got;

	id = nmxs_bind_queue(t, qi);
	if (!id)
		return 0;
	got = nmxs_alloc_n(rxq, t->bufs, n);
	if (!NMXS_EQ(t, got, n) || nmxs_count_pages(t, t->bufs, got)) {
		nmxs_recycle_n(rxq, t->bufs, got);
		nmxs_unbind(t, id);
		return 0;
	}
	return id;
}

/* One buffer from @rxq must be a page_pool page; it goes back at once. */
static void nmxs_expect_page(struct nmxs_run *t, struct nmxs_queue *q,
			     const char *why)
{
	dma_addr_t dma, pp_dma;
	struct nmx_buf *buf;
	struct page *page;

	if (!q->rxq || nmxs_alloc_n(q->rxq, &buf, 1) != 1) {
		NMXS_FAIL(t, "%s: nmx_alloc returned NULL", why);
		return;
	}
	page = nmx_buf_page(buf);
	if (nmx_buf_is_devmem(buf) || !page_pool_page_is_pp(page)) {
		NMXS_FAIL(t, "%s: not a page_pool page (devmem %d, pp_magic %#lx)",
			  why, nmx_buf_is_devmem(buf), page->pp_magic);
	} else {
		dma = nmx_buf_dma_addr(buf);
		pp_dma = page_pool_get_dma_addr(page);
		if (dma != pp_dma)
			NMXS_FAIL(t, "%s: nmx_buf_dma_addr %pad != page_pool's %pad",
				  why, &dma, &pp_dma);
	}
	nmxs_recycle_n(q->rxq, &buf, 1);
}

/*
 * netmem's own audit of binding @id: every chunk in exactly one place, in the
 * state that place implies, and the live counters agreeing. The audit walks
 * netmem's structures, not the counters binding-get reports, so it is a check
 * of the accounting, not a restatement of it.
 */
static void nmxs_audit(struct nmxs_run *t, u32 id, const char *what)
{
	int ret = nmx_testing_audit(id);

	if (ret)
		NMXS_FAIL(t, "%s binding %u: nmx_testing_audit = %d (reason in dmesg)",
			  what, id, ret);
}

/*
 * After every case: each binding that should be alive is, and passes the
 * audit; every other binding id of this run either is gone or, if it is still
 * draining, passes the audit and fails the case (a case returns every chunk it
 * took); the static key is on exactly while a binding exists.
 */
static void nmxs_check_bindings(struct nmxs_run *t)
{
	struct nmx_binding_info info;
	unsigned int i;
	u32 id;
	int ret;

	for (i = 0; i < t->nlive; i++) {
		if (NMXS_INFO(t, t->live[i], &info))
			continue;
		if (info.state != NMX_BINDING_BOUND)
			NMXS_FAIL(t, "binding %u: state %u, expected bound",
				  t->live[i], info.state);
		nmxs_audit(t, t->live[i], "live");
	}
	for (id = t->min_id; t->min_id && id <= t->max_id + 1; id++) {
		if (nmxs_tracked(t, id) || nmxs_in(t->stale, t->nstale, id))
			continue;
		ret = nmx_binding_info(id, &info);
		if (ret == -ENOENT)
			continue;
		/* Fails the case that left it, not every later one. */
		if (t->nstale < NMXS_MAX_LIVE)
			t->stale[t->nstale++] = id;
		NMXS_FAIL(t,
			  "binding %u left behind: nmx_binding_info = %d, state %u, posted %u, completed %u, user %u",
			  id, ret, info.state, info.chunks_posted,
			  info.chunks_completed, info.chunks_user);
		if (!ret)
			nmxs_audit(t, id, "left-behind");
	}
	if (t->nlive) {
		if (!nmxs_key_on())
			NMXS_FAIL(t, "nmx_devmem_live is off while binding %u is alive",
				  t->live[0]);
	} else if (!nmxs_wait_key_settled(t)) {
		NMXS_FAIL(t,
			  "nmx_devmem_live count %d, expected %d, %d ms after the last binding went away",
			  static_key_count(&nmx_devmem_live.key), t->key_stuck,
			  NMXS_KEY_WAIT_MS);
		nmxs_key_stuck(t);
	}
}

/* a. An unbound queue hands out page_pool pages. */
static void nmxs_page_signature(struct nmxs_run *t)
{
	struct nmxs_queue *q = &nmxs_q[0];
	struct nmx_buf *buf;
	struct page *page;

	NMXS_CHECK(t, !nmxs_key_on());
	NMXS_CHECK(t, !nmxs_bound(2));
	if (nmxs_alloc_n(q->rxq, &buf, 1) != 1) {
		NMXS_FAIL(t, "nmx_alloc on unbound queue 0 returned NULL");
		return;
	}
	page = nmx_buf_page(buf);
	NMXS_CHECK(t, !nmx_buf_is_devmem(buf));
	NMXS_CHECK(t, nmx_buf_chunk(buf)->magic != NMX_DEVMEM_MAGIC);
	NMXS_CHECK(t, page_pool_page_is_pp(page));
	NMXS_EQ(t, nmx_buf_dma_addr(buf), page_pool_get_dma_addr(page));
	NMXS_CHECK(t, page_pool_get_dma_addr(page) != 0);
	nmxs_recycle_n(q->rxq, &buf, 1);
}

/* b. Bind queue 1: the dma-buf is carved into 4 KiB chunks, all free. */
static void nmxs_bind_and_carve(struct nmxs_run *t)
{
	struct nmx_binding_info info;
	u32 queue = 1;
	unsigned int q;
	int id;

	id = nmxs_bind(t, nmxs_netdev, &queue, 1, t->fd, NMXS_CHUNK, NULL);
	if (id <= 0) {
		NMXS_FAIL(t, "nmx_bind_dmabuf(queue 1, chunk 4096) = %d", id);
		return;
	}
	t->bind1 = id;
	nmxs_line("# %s: binding %d over %zu bytes", t->name, id,
		  t->dmabuf->size);
	if (NMXS_INFO(t, id, &info))
		return;
	NMXS_EQ(t, info.id, id);
	NMXS_EQ(t, info.dmabuf_size, t->dmabuf->size);
	NMXS_EQ(t, info.chunks_total, t->dmabuf->size / NMXS_CHUNK);
	NMXS_EQ(t, info.chunk_size, NMXS_CHUNK);
	NMXS_EQ(t, info.nqueues, 1);
	NMXS_EQ(t, info.queues[0], 1);
	NMXS_EQ(t, info.chunks_free, info.chunks_total);
	NMXS_EQ(t, info.chunks_posted, 0);
	NMXS_EQ(t, info.chunks_completed, 0);
	NMXS_EQ(t, info.chunks_user, 0);
	NMXS_EQ(t, info.inflight, 0);
	NMXS_EQ(t, info.ifindex, nmxs_netdev->ifindex);
	NMXS_CHECK(t, nmxs_key_on());
	for (q = 0; q < NMXS_NQUEUES; q++) {
		bool want = q == 1;

		if (nmxs_bound(q) != want)
			NMXS_FAIL(t, "queue %u: bound %d after binding queue 1",
				  q, nmxs_bound(q));
	}
}

/* Expected DMA address of every chunk, from an attachment of our own. */
static int nmxs_expected_dma(struct nmxs_run *t, struct sg_table *sgt,
			     dma_addr_t *expect)
{
	struct scatterlist *sg;
	u32 idx = 0, off;
	int i;

	for_each_sgtable_dma_sg(sgt, sg, i) {
		if (!IS_ALIGNED(sg_dma_len(sg), NMXS_CHUNK)) {
			NMXS_FAIL(t, "own mapping: segment %d length %u is not a multiple of %u",
				  i, sg_dma_len(sg), NMXS_CHUNK);
			return -EINVAL;
		}
		for (off = 0; off < sg_dma_len(sg); off += NMXS_CHUNK) {
			if (idx == t->nchunks)
				break;
			expect[idx++] = sg_dma_address(sg) + off;
		}
	}
	if (!NMXS_EQ(t, idx, t->nchunks))
		return -EINVAL;
	return 0;
}

/* c. Every chunk can be allocated once, at the address of its offset. */
static void nmxs_alloc_all(struct nmxs_run *t)
{
	struct nmxs_queue *q = &nmxs_q[1];
	struct nmx_binding_info before, info;
	struct dma_buf_attachment *att;
	unsigned long *seen = NULL;
	dma_addr_t *expect = NULL;
	struct dma_buf *dmabuf;
	struct sg_table *sgt;
	u32 n, i, devmem = 0;

	if (!t->bind1) {
		NMXS_FAIL(t, "no binding from bind_and_carve");
		return;
	}
	expect = kvcalloc(t->nchunks, sizeof(*expect), GFP_KERNEL);
	seen = bitmap_zalloc(t->nchunks, GFP_KERNEL);
	if (!expect || !seen) {
		NMXS_FAIL(t, "out of memory");
		goto out_free;
	}
	/* Our own attachment, as the NIC's DMA device sees the buffer. */
	dmabuf = dma_buf_get(t->fd);
	if (IS_ERR(dmabuf)) {
		NMXS_FAIL(t, "dma_buf_get(%d) = %ld", t->fd, PTR_ERR(dmabuf));
		goto out_free;
	}
	att = dma_buf_attach(dmabuf, &nmxs_pdev->dev);
	if (IS_ERR(att)) {
		NMXS_FAIL(t, "dma_buf_attach = %ld", PTR_ERR(att));
		goto out_put;
	}
	sgt = dma_buf_map_attachment_unlocked(att, DMA_FROM_DEVICE);
	if (IS_ERR(sgt)) {
		NMXS_FAIL(t, "dma_buf_map_attachment_unlocked = %ld",
			  PTR_ERR(sgt));
		goto out_detach;
	}
	if (nmxs_expected_dma(t, sgt, expect))
		goto out_unmap;
	if (NMXS_INFO(t, t->bind1, &before))
		goto out_unmap;

	n = nmxs_alloc_n(q->rxq, t->bufs, t->nchunks);
	local_bh_disable();
	t->bufs[n] = nmx_alloc(q->rxq);
	local_bh_enable();
	NMXS_EQ(t, n, t->nchunks);
	if (t->bufs[n]) {
		NMXS_FAIL(t,
			  "nmx_alloc after %u allocations returned a buffer (devmem %d): expected NULL",
			  n, nmx_buf_is_devmem(t->bufs[n]));
		n++;
	}

	for (i = 0; i < n; i++) {
		struct nmx_chunk *c = nmx_buf_chunk(t->bufs[i]);

		if (!nmx_buf_is_devmem(t->bufs[i])) {
			NMXS_FAIL(t, "buffer %u is not devmem (magic %#lx)",
				  i, c->magic);
			continue;
		}
		devmem++;
		if (c->magic != NMX_DEVMEM_MAGIC ||
		    page_pool_page_is_pp((struct page *)c))
			NMXS_FAIL(t, "buffer %u: magic %#lx passes for a page_pool page",
				  i, c->magic);
		if (nmx_devmem_chunk_size(c) != NMXS_CHUNK)
			NMXS_FAIL(t, "buffer %u: chunk size %u", i,
				  nmx_devmem_chunk_size(c));
	}
	NMXS_EQ(t, devmem, t->nchunks);

	if (!NMXS_INFO(t, t->bind1, &info)) {
		NMXS_EQ(t, info.chunks_posted, info.chunks_total);
		NMXS_EQ(t, info.chunks_free, 0);
		NMXS_EQ(t, info.inflight, info.chunks_total);
		if (!NMXS_CHECK(t, info.empty > before.empty))
			nmxs_diag_info(t, "exhausted", &info);
		NMXS_EQ(t, (info.alloc_fast + info.alloc_slow) -
			   (before.alloc_fast + before.alloc_slow), devmem);
	}
	nmxs_audit(t, t->bind1, "all allocated:");

	/*
	 * Which chunk is which: a one-byte completion of each makes netmem
	 * report its dma-buf offset. Its device address must be the one our
	 * own mapping has at that offset, and no offset may come twice.
	 */
	for (i = 0; i < n; i++) {
		struct nmx_buf *buf = t->bufs[i];
		struct nmx_record rec;
		dma_addr_t dma;
		bool consumed;
		u32 idx;
		int ret;

		if (!nmx_buf_is_devmem(buf))
			continue;
		dma = nmx_buf_dma_addr(buf);
		local_bh_disable();
		consumed = nmx_rx_devmem(buf, 0, 1);
		local_bh_enable();
		t->bufs[i] = NULL;
		ret = nmx_binding_read(t->bind1, &rec, 1);
		if (!consumed || ret != 1) {
			NMXS_FAIL(t, "buffer %u: consumed %d, nmx_binding_read = %d",
				  i, consumed, ret);
			break;
		}
		idx = div_u64(rec.offset, NMXS_CHUNK);
		if (rec.offset % NMXS_CHUNK || idx >= t->nchunks ||
		    rec.len != 1 || rec.queue != 1)
			NMXS_FAIL(t,
				  "buffer %u: record {%llu, %u, queue %u}, expected {k * %u < %zu, 1, queue 1}",
				  i, rec.offset, rec.len, rec.queue, NMXS_CHUNK,
				  t->dmabuf->size);
		else if (__test_and_set_bit(idx, seen))
			NMXS_FAIL(t, "chunk at offset %llu handed out twice",
				  rec.offset);
		else if (dma != expect[idx])
			NMXS_FAIL(t, "chunk at offset %llu: dma %pad, expected %pad",
				  rec.offset, &dma, &expect[idx]);
		ret = nmx_binding_release(t->bind1, &rec.token, 1);
		if (ret != 1) {
			NMXS_FAIL(t, "buffer %u: nmx_binding_release(%u) = %d",
				  i, rec.token, ret);
			break;
		}
	}
	NMXS_EQ(t, bitmap_weight(seen, t->nchunks), devmem);

	/* Whatever an early stop left in our hands goes back. */
	nmxs_recycle_n(q->rxq, t->bufs, n);
	if (!NMXS_INFO(t, t->bind1, &info)) {
		NMXS_EQ(t, info.chunks_free, info.chunks_total);
		NMXS_EQ(t, info.chunks_posted, 0);
		NMXS_EQ(t, info.chunks_completed, 0);
		NMXS_EQ(t, info.chunks_user, 0);
	}
out_unmap:
	dma_buf_unmap_attachment_unlocked(att, sgt, DMA_FROM_DEVICE);
out_detach:
	dma_buf_detach(dmabuf, att);
out_put:
	dma_buf_put(dmabuf);
out_free:
	bitmap_free(seen);
	kvfree(expect);
}

/* Returns buffers with nmx_put() from a work item on another CPU. */
struct nmxs_put_work {
	struct work_struct work;
	struct nmx_rxq *rxq;
	struct nmx_buf **bufs;
	u32 n;
	int cpu;
};

static void nmxs_put_fn(struct work_struct *work)
{
	struct nmxs_put_work *w = container_of(work, struct nmxs_put_work, work);
	u32 i;

	w->cpu = raw_smp_processor_id();
	for (i = 0; i < w->n; i++) {
		nmx_put(w->rxq, w->bufs[i], false);
		w->bufs[i] = NULL;
	}
}

/* d. Remote returns land in the queue's ring and are allocated again. */
static void nmxs_remote_return(struct nmxs_run *t)
{
	struct nmxs_queue *q = &nmxs_q[1];
	struct nmx_binding_info before, info;
	struct nmxs_put_work w = {
		.rxq = q->rxq,
		.bufs = t->bufs,
		.n = NMXS_REMOTE,
		.cpu = -1,
	};
	int self, cpu;
	u32 n;

	if (num_online_cpus() < 2) {
		t->skip = "needs two online CPUs";
		return;
	}
	if (!t->bind1) {
		NMXS_FAIL(t, "no binding from bind_and_carve");
		return;
	}
	if (NMXS_INFO(t, t->bind1, &before))
		return;
	n = nmxs_alloc_n(q->rxq, t->bufs, NMXS_REMOTE);
	if (!NMXS_EQ(t, n, NMXS_REMOTE) || nmxs_count_pages(t, t->bufs, n)) {
		nmxs_recycle_n(q->rxq, t->bufs, n);
		return;
	}

	self = get_cpu();
	cpu = cpumask_any_but(cpu_online_mask, self);
	put_cpu();
	INIT_WORK_ONSTACK(&w.work, nmxs_put_fn);
	queue_work_on(cpu, system_wq, &w.work);
	flush_work(&w.work);
	destroy_work_on_stack(&w.work);
	nmxs_line("# %s: %u chunks allocated on CPU %d, put on CPU %d",
		  t->name, n, self, w.cpu);
	NMXS_EQ(t, w.cpu, cpu);

	if (!NMXS_INFO(t, t->bind1, &info)) {
		NMXS_EQ(t, info.chunks_free, info.chunks_total);
		NMXS_EQ(t, info.ring_full, before.ring_full);
	}

	/* Drain the cache and then the ring: allocate everything. */
	n = nmxs_alloc_n(q->rxq, t->bufs, t->nchunks + 1);
	NMXS_EQ(t, n, t->nchunks);
	nmxs_count_pages(t, t->bufs, n);
	if (!NMXS_INFO(t, t->bind1, &info)) {
		if (info.recycle_ring - before.recycle_ring < NMXS_REMOTE) {
			NMXS_FAIL(t, "recycle_ring grew by %llu, expected >= %u",
				  info.recycle_ring - before.recycle_ring,
				  NMXS_REMOTE);
			nmxs_diag_info(t, "before", &before);
			nmxs_diag_info(t, "after", &info);
		}
		NMXS_EQ(t, info.chunks_posted, info.chunks_total);
	}
	nmxs_recycle_n(q->rxq, t->bufs, n);
	if (!NMXS_INFO(t, t->bind1, &info))
		NMXS_EQ(t, info.chunks_free, info.chunks_total);
}

/* The bytes at @offset of the dma-buf, read through a vmap of our own. */
static void nmxs_verify_bytes(struct nmxs_run *t, u64 offset, const u8 *want,
			      u32 len)
{
	struct iosys_map map;
	const u8 *got;
	int ret;
	u32 i;

	ret = dma_buf_vmap_unlocked(t->dmabuf, &map);
	if (ret) {
		NMXS_FAIL(t, "dma_buf_vmap_unlocked = %d", ret);
		return;
	}
	if (map.is_iomem) {
		NMXS_FAIL(t, "dma-buf vmap is I/O memory");
		goto out;
	}
	if (offset + len > t->dmabuf->size) {
		NMXS_FAIL(t, "record [%llu, +%u) past the dma-buf end", offset,
			  len);
		goto out;
	}
	got = (const u8 *)map.vaddr + offset;
	for (i = 0; i < len; i++) {
		if (got[i] != want[i]) {
			NMXS_FAIL(t, "dma-buf offset %llu: byte %u is %#x, wrote %#x",
				  offset, i, got[i], want[i]);
			break;
		}
	}
out:
	dma_buf_vunmap_unlocked(t->dmabuf, &map);
}

/* e. A received chunk: record, bytes in the dma-buf, token release. */
static void nmxs_rx_complete(struct nmxs_run *t)
{
	struct nmxs_queue *q = &nmxs_q[1];
	struct nmx_record recs[16], rec;
	struct nmx_binding_info info;
	struct nmx_chunk *c;
	struct nmx_buf *buf;
	u32 token, bogus;
	bool consumed;
	u8 *pattern;
	int ret, i;

	if (!t->bind1) {
		NMXS_FAIL(t, "no binding from bind_and_carve");
		return;
	}
	pattern = kmalloc(NMXS_PATTERN_LEN, GFP_KERNEL);
	if (!pattern) {
		NMXS_FAIL(t, "out of memory");
		return;
	}
	for (i = 0; i < NMXS_PATTERN_LEN; i++)
		pattern[i] = (u8)(i * 7 + 0x5a);

	if (nmxs_alloc_n(q->rxq, &buf, 1) != 1) {
		NMXS_FAIL(t, "nmx_alloc returned NULL");
		goto out;
	}
	if (nmxs_count_pages(t, &buf, 1)) {
		nmxs_recycle_n(q->rxq, &buf, 1);
		goto out;
	}
	c = nmx_buf_chunk(buf);
	local_bh_disable();
	ret = nmx_testing_cpu_write(c, 0, pattern, NMXS_PATTERN_LEN);
	consumed = nmx_rx_devmem(buf, 0, NMXS_PATTERN_LEN);
	local_bh_enable();
	NMXS_EQ(t, ret, 0);
	NMXS_CHECK(t, consumed);

	if (!NMXS_INFO(t, t->bind1, &info)) {
		NMXS_EQ(t, info.chunks_completed, 1);
		NMXS_EQ(t, info.chunks_user, 0);
		NMXS_EQ(t, info.chunks_posted, 0);
		NMXS_EQ(t, info.held_by_user, 1);
	}
	memset(recs, 0xff, sizeof(recs));
	ret = nmx_binding_read(t->bind1, recs, ARRAY_SIZE(recs));
	if (!NMXS_EQ(t, ret, 1))
		goto out;
	nmxs_line("# %s: record offset %llu len %u token %u queue %u",
		  t->name, recs[0].offset, recs[0].len, recs[0].token,
		  recs[0].queue);
	rec = recs[0];
	/* The chunk's place in the dma-buf is what the record says. */
	NMXS_EQ(t, rec.offset % NMXS_CHUNK, 0);
	if (!NMXS_CHECK(t, rec.offset < t->dmabuf->size))
		goto out;
	NMXS_EQ(t, rec.len, NMXS_PATTERN_LEN);
	NMXS_EQ(t, rec.queue, 1);
	token = rec.token;
	NMXS_EQ(t, nmx_binding_read(t->bind1, recs, ARRAY_SIZE(recs)), 0);
	if (!NMXS_INFO(t, t->bind1, &info)) {
		NMXS_EQ(t, info.chunks_completed, 0);
		NMXS_EQ(t, info.chunks_user, 1);
		NMXS_EQ(t, info.held_by_user, 1);
		NMXS_EQ(t, info.inflight, 1);
	}
	nmxs_verify_bytes(t, rec.offset, pattern, min(rec.len, NMXS_PATTERN_LEN));

	NMXS_EQ(t, nmx_binding_release(t->bind1, &token, 1), 1);
	NMXS_EQ(t, nmx_binding_release(t->bind1, &token, 1), -EINVAL);
	/* Never handed out: a free chunk, and past the last chunk. */
	bogus = (token + 1) % t->nchunks;
	NMXS_EQ(t, nmx_binding_release(t->bind1, &bogus, 1), -EINVAL);
	bogus = t->nchunks;
	NMXS_EQ(t, nmx_binding_release(t->bind1, &bogus, 1), -EINVAL);
	bogus = U32_MAX;
	NMXS_EQ(t, nmx_binding_release(t->bind1, &bogus, 1), -EINVAL);
	NMXS_EQ(t, nmx_binding_read(t->max_id + 1, recs, 1), -ENOENT);
	NMXS_EQ(t, nmx_binding_release(t->max_id + 1, &token, 1), -ENOENT);

	/* A completion past the chunk's end is refused; the chunk goes home. */
	if (nmxs_alloc_n(q->rxq, &buf, 1) != 1) {
		NMXS_FAIL(t, "nmx_alloc returned NULL");
		goto out;
	}
	if (nmxs_count_pages(t, &buf, 1)) {
		nmxs_recycle_n(q->rxq, &buf, 1);
		goto out;
	}
	local_bh_disable();
	ret = nmx_devmem_rx_complete(nmx_buf_chunk(buf), NMXS_CHUNK - 100, 200);
	local_bh_enable();
	NMXS_EQ(t, ret, -EINVAL);
	NMXS_EQ(t, nmx_binding_read(t->bind1, recs, ARRAY_SIZE(recs)), 0);

	if (!NMXS_INFO(t, t->bind1, &info)) {
		NMXS_EQ(t, info.chunks_free, info.chunks_total);
		NMXS_EQ(t, info.chunks_user, 0);
		NMXS_EQ(t, info.chunks_completed, 0);
	}
out:
	kfree(pattern);
}

/* Which dma-buf a request names. */
enum nmxs_fd {
	NMXS_FD_OWN,	/* t->fd2: a dma-buf nobody bound */
	NMXS_FD_USER,	/* t->fd: bound by bind_and_carve */
	NMXS_FD_BAD,	/* -1 */
};

/**
 * struct nmxs_bad_bind - a bind request that must fail
 * @what: description
 * @bare: on the device without netmem queues
 * @fd: the dma-buf to name (a free one, unless the case is about the fd)
 * @queues: queue ids
 * @nqueues: entries in @queues
 * @chunk: chunk size
 * @err: expected errno
 */
struct nmxs_bad_bind {
	const char *what;
	bool bare;
	enum nmxs_fd fd;
	u32 queues[2];
	u32 nqueues;
	u32 chunk;
	int err;
};

static const struct nmxs_bad_bind nmxs_bad_binds[] = {
	{ "chunk size 3000", false, NMXS_FD_OWN, { 2 }, 1, 3000, -EINVAL },
	{ "chunk size 131072", false, NMXS_FD_OWN, { 2 }, 1, 131072, -EINVAL },
	{ "chunk size 65536 over 4 KiB segments", false, NMXS_FD_OWN, { 2 }, 1,
	  65536, -EINVAL },
	{ "queue 99", false, NMXS_FD_OWN, { 99 }, 1, NMXS_CHUNK, -ERANGE },
	{ "queue 1 bound already", false, NMXS_FD_OWN, { 1 }, 1, NMXS_CHUNK,
	  -EEXIST },
	{ "fd -1", false, NMXS_FD_BAD, { 2 }, 1, NMXS_CHUNK, -EBADF },
	{ "device without netmem queues", true, NMXS_FD_OWN, { 1 }, 1,
	  NMXS_CHUNK, -EOPNOTSUPP },
	{ "queues {2, 2}", false, NMXS_FD_OWN, { 2, 2 }, 2, NMXS_CHUNK,
	  -EINVAL },
	{ "dma-buf bound already (to queue 1), on free queue 2", false,
	  NMXS_FD_USER, { 2 }, 1, NMXS_CHUNK, -EBUSY },
};

static int nmxs_pick_fd(const struct nmxs_run *t, enum nmxs_fd fd)
{
	switch (fd) {
	case NMXS_FD_OWN:
		return t->fd2;
	case NMXS_FD_USER:
		return t->fd;
	default:
		return -1;
	}
}

/* f. Bad requests fail with the right errno and leave nothing behind. */
static void nmxs_errors_and_rollback(struct nmxs_run *t)
{
	struct nmx_binding_info info;
	unsigned int i, q;
	int ret;

	if (!t->bind1)
		NMXS_FAIL(t, "no binding from bind_and_carve: the EEXIST case cannot hold");

	for (i = 0; i < ARRAY_SIZE(nmxs_bad_binds); i++) {
		const struct nmxs_bad_bind *b = &nmxs_bad_binds[i];
		struct netlink_ext_ack extack = {};

		ret = nmxs_bind(t, b->bare ? nmxs_bare : nmxs_netdev,
				b->queues, b->nqueues, nmxs_pick_fd(t, b->fd),
				b->chunk, &extack);
		nmxs_line("# %s: %s: %d (%s)", t->name, b->what, ret,
			  extack._msg ? extack._msg : "no extack message");
		if (ret != b->err)
			NMXS_FAIL(t, "%s: nmx_bind_dmabuf = %d, expected %d",
				  b->what, ret, b->err);
		else if (!extack._msg)
			NMXS_FAIL(t, "%s: no extack message", b->what);
		if (ret > 0 && nmxs_unbind(t, ret))
			NMXS_FAIL(t, "%s: cannot unbind %d", b->what, ret);
	}

	/* No id was consumed: the next one does not resolve. */
	NMXS_EQ(t, nmx_binding_info(t->max_id + 1, &info), -ENOENT);
	if (t->bind1 && !NMXS_INFO(t, t->bind1, &info)) {
		NMXS_EQ(t, info.nqueues, 1);
		NMXS_EQ(t, info.queues[0], 1);
		NMXS_EQ(t, info.chunks_free, info.chunks_total);
	}
	for (q = 0; q < NMXS_NQUEUES; q++)
		if (q != 1 && nmxs_bound(q))
			NMXS_FAIL(t, "queue %u bound after failed requests", q);
	nmxs_expect_page(t, &nmxs_q[2], "queue 2");
}

/* An idle binding goes away at once, and so does the static key. */
static void nmxs_unbind_idle(struct nmxs_run *t)
{
	struct nmx_binding_info info;
	struct nmx_record rec;
	u32 id = t->bind1;

	if (!id) {
		NMXS_FAIL(t, "no binding from bind_and_carve");
		return;
	}
	t->bind1 = 0;
	NMXS_EQ(t, nmxs_unbind(t, id), 0);
	NMXS_EQ(t, nmx_unbind(id), -ENOENT);
	NMXS_EQ(t, nmx_binding_info(id, &info), -ENOENT);
	NMXS_EQ(t, nmx_binding_read(id, &rec, 1), -ENOENT);
	NMXS_CHECK(t, !nmxs_bound(1));
	nmxs_expect_page(t, &nmxs_q[1], "queue 1 after unbind");
}

/*
 * g. Unbind with chunks posted and held by the user, on a queue without
 * restart hook (the lazy path): the binding stays, draining, until the driver
 * returns what it posted; its user's handle (records, tokens) goes at once.
 */
static void nmxs_unbind_with_inflight(struct nmxs_run *t)
{
	struct nmxs_queue *q = &nmxs_q[2];
	struct nmx_binding_info info;
	struct nmx_record recs[4];
	u32 id, n, i;
	int ret;

	id = nmxs_bind_and_alloc(t, 2, 8);
	if (!id)
		return;
	n = 8;
	local_bh_disable();
	for (i = 0; i < 2; i++) {
		if (nmx_rx_devmem(t->bufs[i], 0, 64))
			t->bufs[i] = NULL;
	}
	local_bh_enable();
	if (t->bufs[0] || t->bufs[1])
		NMXS_FAIL(t, "nmx_rx_devmem did not consume a devmem chunk");
	ret = nmx_binding_read(id, recs, ARRAY_SIZE(recs));
	NMXS_EQ(t, ret, 2);
	if (!NMXS_INFO(t, id, &info)) {
		NMXS_EQ(t, info.chunks_posted, 6);
		NMXS_EQ(t, info.chunks_user, 2);
		NMXS_EQ(t, info.inflight, 8);
	}

	NMXS_EQ(t, nmxs_unbind(t, id), 0);
	/* Draining: still reported, with the driver's six chunks out. */
	if (!NMXS_INFO(t, id, &info)) {
		NMXS_EQ(t, info.state, NMX_BINDING_DRAINING);
		NMXS_EQ(t, info.chunks_posted, 6);
	}
	nmxs_audit(t, id, "draining");
	if (ret > 0)
		NMXS_EQ(t, nmx_binding_release(id, &recs[0].token, 1), -ENOENT);
	NMXS_EQ(t, nmx_binding_read(id, recs, 1), -ENOENT);
	NMXS_EQ(t, nmx_unbind(id), -ENOENT);
	NMXS_CHECK(t, !nmxs_bound(2));
	nmxs_expect_page(t, q, "queue 2 after unbind");
	/* The binding waits for its posted chunks: the key stays on. */
	NMXS_CHECK(t, nmxs_key_on());

	/* All but the last: still draining. */
	for (i = 0; i + 1 < n; i++) {
		if (t->bufs[i]) {
			nmx_put(q->rxq, t->bufs[i], false);
			t->bufs[i] = NULL;
		}
	}
	if (!NMXS_INFO(t, id, &info)) {
		NMXS_EQ(t, info.state, NMX_BINDING_DRAINING);
		NMXS_EQ(t, info.chunks_posted, 1);
	}
	nmxs_audit(t, id, "draining, one chunk out");
	nmx_put(q->rxq, t->bufs[n - 1], false);
	t->bufs[n - 1] = NULL;
	nmxs_expect_released(t, id, __LINE__);
}

/*
 * The per-poll mode: a queue is pure-page until a binding attaches, stays
 * mixed while the driver may hold that binding's chunks (lazy switch, no
 * restart hook here), and is pure-page again once the binding is drained; a
 * sibling queue of the same device stays pure-page throughout. Also the
 * batched entry points: one poll's worth allocated and recycled in one call
 * each, and a mixed array (pages and chunks) recycled after the switch back.
 */
static void nmxs_pages_only_mode(struct nmxs_run *t)
{
	struct nmxs_queue *q = &nmxs_q[2], *sib = &nmxs_q[3];
	struct nmx_buf **b = t->bufs;
	struct nmx_binding_info info;
	struct nmx_record recs[2];
	u32 id, got, i, tok[2];
	int ret;

	NMXS_CHECK(t, nmx_rxq_pages_only(q->rxq));
	id = nmxs_bind_queue(t, 2);
	if (!id)
		return;
	NMXS_EQ(t, READ_ONCE(q->rxq->devmem_refs), 1);
	NMXS_CHECK(t, !nmx_rxq_pages_only(q->rxq));
	NMXS_CHECK(t, nmx_rxq_pages_only(sib->rxq));

	local_bh_disable();
	got = nmx_poll_alloc_bulk(q->rxq, b, 64, false);
	local_bh_enable();
	NMXS_EQ(t, got, 64);
	if (got != 64 || nmxs_count_pages(t, b, got)) {
		local_bh_disable();
		nmx_poll_recycle_bulk(q->rxq, b, got, false);
		local_bh_enable();
		nmxs_unbind(t, id);
		return;
	}
	/* Half back in one call; two received; 30 stay posted. */
	local_bh_disable();
	nmx_poll_recycle_bulk(q->rxq, b + 34, 30, false);
	nmx_poll_recycle_bulk(q->rxq, b + 32, 2, false);
	for (i = 0; i < 2; i++)
		NMXS_CHECK(t, nmx_rx_devmem(b[i], 0, 64));
	local_bh_enable();
	if (!NMXS_INFO(t, id, &info)) {
		NMXS_EQ(t, info.chunks_posted, 30);
		NMXS_EQ(t, info.chunks_completed, 2);
		NMXS_EQ(t, info.recycle_cached, 32);
	}
	nmxs_audit(t, id, "bulk poll");
	ret = nmx_binding_read(id, recs, 2);
	NMXS_EQ(t, ret, 2);
	for (i = 0; i < 2 && i < ret; i++)
		tok[i] = recs[i].token;

	/* Lazy unbind: back to pages for new buffers, but 30 chunks are posted. */
	NMXS_EQ(t, nmxs_unbind(t, id), 0);
	NMXS_CHECK(t, !READ_ONCE(q->rxq->devmem));
	NMXS_CHECK(t, !nmx_rxq_pages_only(q->rxq));

	/* A mixed poll: two fresh pages and the 30 chunks in one array. */
	local_bh_disable();
	got = nmx_poll_alloc_bulk(q->rxq, b, 2, false);
	local_bh_enable();
	NMXS_EQ(t, got, 2);
	NMXS_EQ(t, nmxs_count_devmem(b, 2), 0);
	local_bh_disable();
	nmx_poll_recycle_bulk(q->rxq, b, 32, false);
	local_bh_enable();
	/* Unbind took the read chunks back: their tokens are dead. */
	if (ret == 2)
		NMXS_EQ(t, nmx_binding_release(id, tok, 2), -ENOENT);
	/* Every chunk home: drained, released, pure-page again. */
	nmxs_expect_released(t, id, __LINE__);
	NMXS_EQ(t, READ_ONCE(q->rxq->devmem_refs), 0);
	NMXS_CHECK(t, nmx_rxq_pages_only(q->rxq));
	memset(b, 0, 64 * sizeof(*b));
}

/* h. The device goes away with chunks posted; they come home later. */
static void nmxs_device_gone(struct nmxs_run *t)
{
	struct nmxs_queue *q = &nmxs_q[3];
	struct nmx_binding_info info;
	u8 byte = 0x42;
	u32 id, n, i;
	int ret;

	id = nmxs_bind_and_alloc(t, 3, 4);
	if (!id)
		return;
	n = 4;
	if (!NMXS_INFO(t, id, &info))
		NMXS_EQ(t, info.chunks_posted, 4);

	nmx_rxq_unregister(q->rxq);
	q->rxq = NULL;
	/* Still owned by us, so still reported; but no device I/O any more. */
	if (!NMXS_INFO(t, id, &info)) {
		NMXS_EQ(t, info.chunks_posted, 4);
		NMXS_EQ(t, info.nqueues, 1);
	}
	NMXS_EQ(t, nmx_testing_cpu_write(nmx_buf_chunk(t->bufs[0]), 0, &byte, 1),
		-ENODEV);

	/* The driver's queue is gone: the devmem branch does not need it. */
	for (i = 0; i < n; i++) {
		nmx_put(NULL, t->bufs[i], false);
		t->bufs[i] = NULL;
	}
	if (!NMXS_INFO(t, id, &info)) {
		NMXS_EQ(t, info.chunks_free, info.chunks_total);
		NMXS_EQ(t, info.chunks_posted, 0);
	}
	NMXS_EQ(t, nmxs_unbind(t, id), 0);
	nmxs_expect_released(t, id, __LINE__);

	ret = nmxs_queue_register(3);
	if (ret) {
		NMXS_FAIL(t, "registering queue 3 again: %d", ret);
		return;
	}
	nmxs_expect_page(t, q, "queue 3 registered again");
}

/* i. Many alloc/recycle and receive/read/release cycles. */
static void nmxs_many_cycles(struct nmxs_run *t)
{
	struct nmxs_queue *q = &nmxs_q[1];
	struct nmx_binding_info before, info;
	struct nmx_record rec;
	u32 id, done, got, i, batch, pages = 0;
	int ret;

	id = nmxs_bind_queue(t, 1);
	if (!id)
		return;
	if (NMXS_INFO(t, id, &before))
		goto out;

	for (done = 0; done < NMXS_CYCLES; done += got) {
		batch = min_t(u32, NMXS_BATCH, NMXS_CYCLES - done);
		local_bh_disable();
		for (got = 0; got < batch; got++) {
			t->bufs[got] = nmx_alloc(q->rxq);
			if (!t->bufs[got])
				break;
		}
		for (i = 0; i < got; i++) {
			pages += !nmx_buf_is_devmem(t->bufs[i]);
			nmx_recycle_direct(q->rxq, t->bufs[i]);
			t->bufs[i] = NULL;
		}
		local_bh_enable();
		if (got < batch) {
			NMXS_FAIL(t, "nmx_alloc returned NULL at cycle %u",
				  done + got);
			break;
		}
		cond_resched();
	}
	NMXS_EQ(t, pages, 0);
	if (!NMXS_INFO(t, id, &info)) {
		NMXS_EQ(t, info.chunks_free, info.chunks_total);
		NMXS_CHECK(t, info.alloc_fast + info.alloc_slow -
			      before.alloc_fast - before.alloc_slow >= done);
		nmxs_diag_info(t, "after alloc/recycle", &info);
	}

	for (i = 0; i < NMXS_RX_CYCLES; i++) {
		u32 off = (i % 8) * 512, len = 64 + i % 448;
		struct nmx_buf *buf;
		bool consumed = false;

		local_bh_disable();
		buf = nmx_alloc(q->rxq);
		if (buf && nmx_buf_is_devmem(buf))
			consumed = nmx_rx_devmem(buf, off, len);
		if (buf && !consumed)
			nmx_recycle_direct(q->rxq, buf);
		local_bh_enable();
		if (!consumed) {
			NMXS_FAIL(t, "cycle %u: no devmem chunk (%p)", i, buf);
			break;
		}
		ret = nmx_binding_read(id, &rec, 1);
		if (ret != 1) {
			NMXS_FAIL(t, "cycle %u: nmx_binding_read = %d", i, ret);
			break;
		}
		/* At @off of some chunk, inside the dma-buf. */
		if (rec.offset % NMXS_CHUNK != off ||
		    rec.offset >= t->dmabuf->size || rec.len != len ||
		    rec.queue != 1)
			NMXS_FAIL(t,
				  "cycle %u: record {%llu, %u, queue %u}, expected {k * %u + %u < %zu, %u, queue 1}",
				  i, rec.offset, rec.len, rec.queue, NMXS_CHUNK,
				  off, t->dmabuf->size, len);
		ret = nmx_binding_release(id, &rec.token, 1);
		if (ret != 1) {
			NMXS_FAIL(t, "cycle %u: nmx_binding_release(%u) = %d",
				  i, rec.token, ret);
			break;
		}
		if (!(i % 256))
			cond_resched();
	}
	if (!NMXS_INFO(t, id, &info)) {
		NMXS_EQ(t, info.chunks_free, info.chunks_total);
		NMXS_EQ(t, info.chunks_completed, 0);
		NMXS_EQ(t, info.chunks_user, 0);
		nmxs_diag_info(t, "after rx cycles", &info);
	}
out:
	NMXS_EQ(t, nmxs_unbind(t, id), 0);
}

/*
 * j. One dma-buf, one binding: a dma-buf bound anywhere is refused (-EBUSY)
 * until its binding is gone, and can be bound again afterwards.
 */
static void nmxs_dmabuf_bound_once(struct nmxs_run *t)
{
	struct netlink_ext_ack extack = {};
	u32 q2 = 2, q3 = 3;
	int id, ret;

	id = nmxs_bind(t, nmxs_netdev, &q2, 1, t->fd2, NMXS_CHUNK, NULL);
	if (id <= 0) {
		NMXS_FAIL(t, "nmx_bind_dmabuf(own dma-buf, queue 2) = %d", id);
		return;
	}
	ret = nmxs_bind(t, nmxs_netdev, &q3, 1, t->fd2, NMXS_CHUNK, &extack);
	nmxs_line("# %s: same dma-buf on queue 3: %d (%s)", t->name, ret,
		  extack._msg ? extack._msg : "no extack message");
	if (NMXS_EQ(t, ret, -EBUSY))
		NMXS_CHECK(t, extack._msg);
	if (ret > 0)
		nmxs_unbind(t, ret);
	if (nmxs_mixed_q[0].rxq) {
		u32 q0 = 0;

		ret = nmxs_bind(t, nmxs_mixed, &q0, 1, t->fd2, NMXS_CHUNK,
				NULL);
		NMXS_EQ(t, ret, -EBUSY);
		if (ret > 0)
			nmxs_unbind(t, ret);
	}
	NMXS_CHECK(t, !nmxs_bound(3));
	NMXS_EQ(t, nmxs_unbind(t, id), 0);
	if (!nmxs_wait_gone(id))
		NMXS_FAIL(t, "idle binding %d still resolves after unbind", id);

	/* Its binding gone, the dma-buf is free again. */
	id = nmxs_bind(t, nmxs_netdev, &q3, 1, t->fd2, NMXS_CHUNK, NULL);
	if (!NMXS_CHECK(t, id > 0))
		return;
	NMXS_EQ(t, nmxs_unbind(t, id), 0);
}

/*
 * k. The queues of one binding must share a DMA device: the chunks carry one
 * device address each. Needs a device whose queues netmem registered with two
 * different DMA devices; netmem may refuse that at registration already.
 */
static int nmxs_mixed_err;

static void nmxs_mixed_dma_devices(struct nmxs_run *t)
{
	struct netlink_ext_ack extack = {};
	u32 queues[2] = { 0, 1 };
	int ret;

	if (!nmxs_mixed_q[0].rxq || !nmxs_mixed_q[1].rxq) {
		nmxs_line("# %s: registering queue 1 behind a second DMA device: %d",
			  t->name, nmxs_mixed_err);
		t->skip = "netmem refused a second DMA device at registration";
		return;
	}
	ret = nmxs_bind(t, nmxs_mixed, queues, 2, t->fd2, NMXS_CHUNK, &extack);
	nmxs_line("# %s: queues {0, 1} on two DMA devices: %d (%s)", t->name,
		  ret, extack._msg ? extack._msg : "no extack message");
	if (NMXS_EQ(t, ret, -EINVAL))
		NMXS_CHECK(t, extack._msg);
	if (ret > 0)
		nmxs_unbind(t, ret);
	NMXS_CHECK(t, !READ_ONCE(nmxs_mixed_q[0].rxq->devmem));
	NMXS_CHECK(t, !READ_ONCE(nmxs_mixed_q[1].rxq->devmem));

	/* Each queue alone is fine. */
	ret = nmxs_bind(t, nmxs_mixed, &queues[1], 1, t->fd2, NMXS_CHUNK, NULL);
	if (NMXS_CHECK(t, ret > 0))
		NMXS_EQ(t, nmxs_unbind(t, ret), 0);
}

/*
 * l. Chunks stranded in an idle queue's return ring: a binding over queues 2
 * (A) and 3 (B). A takes every chunk and gets all of them back through
 * nmx_put() from process context, which lands them in A's return ring. A
 * then stays idle. B, whose cache, ring and the free list are empty, must
 * still get every chunk: the pool takes from its sibling's ring.
 */
static void nmxs_stranded_chunks(struct nmxs_run *t)
{
	struct nmx_rxq *a = nmxs_q[2].rxq, *b = nmxs_q[3].rxq;
	struct netlink_ext_ack extack = {};
	struct nmx_binding_info before, info;
	u32 queues[2] = { 2, 3 };
	u32 n, i, got;
	int id;

	id = nmxs_bind(t, nmxs_netdev, queues, 2, t->fd, NMXS_CHUNK, &extack);
	if (id <= 0) {
		NMXS_FAIL(t, "nmx_bind_dmabuf(queues {2, 3}) = %d (%s)", id,
			  extack._msg ? extack._msg : "no extack message");
		return;
	}
	n = nmxs_alloc_n(a, t->bufs, t->nchunks);
	if (!NMXS_EQ(t, n, t->nchunks) || nmxs_count_pages(t, t->bufs, n)) {
		nmxs_recycle_n(a, t->bufs, n);
		goto out;
	}
	if (NMXS_INFO(t, id, &before))
		goto out;
	for (i = 0; i < n; i++) {
		nmx_put(a, t->bufs[i], false);
		t->bufs[i] = NULL;
	}
	if (!NMXS_INFO(t, id, &info)) {
		NMXS_EQ(t, info.chunks_free, info.chunks_total);
		NMXS_EQ(t, info.ring_full, before.ring_full);
	}
	nmxs_audit(t, id, "returned to queue 2:");

	got = nmxs_alloc_n(b, t->bufs, t->nchunks + 1);
	if (got != t->nchunks) {
		NMXS_FAIL(t,
			  "queue 3 got %u of %u free chunks (fair share %u): the rest stayed stranded in queue 2's ring",
			  got, t->nchunks, t->nchunks / 2);
		if (!NMXS_INFO(t, id, &info))
			nmxs_diag_info(t, "stranded", &info);
	}
	nmxs_count_pages(t, t->bufs, got);
	if (!NMXS_INFO(t, id, &info)) {
		NMXS_EQ(t, info.chunks_posted, got);
		/* Every one of them came out of a return ring. */
		NMXS_EQ(t, info.recycle_ring - before.recycle_ring, got);
	}
	nmxs_recycle_n(b, t->bufs, got);
	if (!NMXS_INFO(t, id, &info))
		NMXS_EQ(t, info.chunks_free, info.chunks_total);
out:
	NMXS_EQ(t, nmxs_unbind(t, id), 0);
}

/* What the test NIC has posted on one RX queue, by kind. */
struct nmxs_testnic {
	struct net_device *dev;
	int (*posted)(struct net_device *dev, u32 queue, u32 *pages,
		      u32 *devmem);
};

static void nmxs_expect_posted(struct nmxs_run *t, const struct nmxs_testnic *n,
			       u32 queue, u32 pages, u32 devmem,
			       const char *when, int line)
{
	u32 p = U32_MAX, d = U32_MAX;
	int ret;

	ret = n->posted(n->dev, queue, &p, &d);
	if (ret || p != pages || d != devmem)
		nmxs_failf(t, line,
			   "%s: %s queue %u: %d, posted %u pages + %u devmem, expected %u + %u",
			   when, n->dev->name, queue, ret, p, d, pages, devmem);
}

#define NMXS_POSTED(t, n, q, p, d, when) \
	nmxs_expect_posted(t, n, q, p, d, when, __LINE__)

static int nmxs_testnic_updown(struct net_device *dev, bool up)
{
	int ret = 0;

	rtnl_lock();
	if (up)
		ret = dev_open(dev, NULL);
	else
		dev_close(dev);
	rtnl_unlock();
	return ret;
}

/*
 * m. Queue restart on the test NIC's port 1, queue 1: with its restart hook,
 * a bind swaps every posted buffer for a chunk before nmx_bind_dmabuf()
 * returns, and an unbind swaps them back and frees the binding before
 * nmx_unbind() returns; on a port that is down the hook has nothing to do and
 * ndo_open fills the ring from the new source. Without the hook
 * (nmx_testnic restart=0), the posted buffers stay until the next poll and an
 * unbound binding drains until the driver returns its chunks (here:
 * ndo_stop). The peer port stays down: no traffic.
 */
static void nmxs_restart_testnic(struct nmxs_run *t)
{
	struct net_device *(*port)(unsigned int port);
	bool (*has_restart)(void);
	struct nmx_binding_info info;
	struct nmxs_testnic n = {};
	u32 p0 = 0, d0 = 0, ring, q1 = 1;
	bool eager, opened = false;
	int id, ret;

	port = symbol_get(nmxt_test_port);
	has_restart = symbol_get(nmxt_test_has_restart);
	n.posted = symbol_get(nmxt_test_posted);
	if (!port || !has_restart || !n.posted) {
		t->skip = "nmx_testnic is not loaded";
		goto out_put;
	}
	eager = has_restart();
	n.dev = port(1);
	if (netif_running(n.dev)) {
		t->skip = "test NIC port 1 is up already";
		goto out_put;
	}
	nmxs_line("# %s: %s queue 1, restart hook %s", t->name, n.dev->name,
		  eager ? "on" : "off (lazy)");

	/* Down: the restart has nothing posted to swap. */
	id = nmxs_bind(t, n.dev, &q1, 1, t->fd, NMXS_CHUNK, NULL);
	if (id <= 0) {
		NMXS_FAIL(t, "bind while down: nmx_bind_dmabuf = %d", id);
		goto out_put;
	}
	NMXS_POSTED(t, &n, 1, 0, 0, "bound while down");
	ret = nmxs_testnic_updown(n.dev, true);
	if (!NMXS_EQ(t, ret, 0))
		goto out_unbind;
	opened = true;
	/* ndo_open fills queue 1 from the dma-buf, queue 0 from pages. */
	if (n.posted(n.dev, 0, &p0, &d0) || !NMXS_CHECK(t, p0 > 0 && !d0))
		goto out_unbind;
	ring = min(p0, t->nchunks);
	NMXS_POSTED(t, &n, 1, 0, ring, "opened while bound");
	if (!NMXS_INFO(t, id, &info))
		NMXS_EQ(t, info.chunks_posted, ring);
	nmxs_audit(t, id, "opened:");

	NMXS_EQ(t, nmxs_unbind(t, id), 0);
	if (eager) {
		/* Swapped back and freed before nmx_unbind() returned. */
		NMXS_EQ(t, nmx_binding_info(id, &info), -ENOENT);
		NMXS_POSTED(t, &n, 1, p0, 0, "right after unbind");
	} else {
		if (!NMXS_INFO(t, id, &info)) {
			NMXS_EQ(t, info.state, NMX_BINDING_DRAINING);
			NMXS_EQ(t, info.chunks_posted, ring);
		}
		NMXS_POSTED(t, &n, 1, 0, ring, "right after lazy unbind");
		/* ndo_stop gives the chunks back; reopen on pages. */
		nmxs_testnic_updown(n.dev, false);
		nmxs_expect_released(t, id, __LINE__);
		ret = nmxs_testnic_updown(n.dev, true);
		if (!NMXS_EQ(t, ret, 0)) {
			opened = false;
			goto out_put;
		}
		NMXS_POSTED(t, &n, 1, p0, 0, "reopened after unbind");
	}

	/* Up: the bind itself swaps the ring. */
	id = nmxs_bind(t, n.dev, &q1, 1, t->fd, NMXS_CHUNK, NULL);
	if (id <= 0) {
		NMXS_FAIL(t, "bind while up: nmx_bind_dmabuf = %d", id);
		goto out_put;
	}
	if (eager) {
		NMXS_POSTED(t, &n, 1, 0, ring, "right after bind");
		if (!NMXS_INFO(t, id, &info)) {
			NMXS_EQ(t, info.state, NMX_BINDING_BOUND);
			NMXS_EQ(t, info.chunks_posted, ring);
		}
	} else {
		NMXS_POSTED(t, &n, 1, p0, 0, "right after lazy bind");
	}
	NMXS_POSTED(t, &n, 0, p0, 0, "neighbour queue 0");
	NMXS_POSTED(t, &n, 2, p0, 0, "neighbour queue 2");
	nmxs_audit(t, id, "bound while up:");

out_unbind:
	NMXS_EQ(t, nmxs_unbind(t, id), 0);
	if (eager || !opened) {
		NMXS_EQ(t, nmx_binding_info(id, &info), -ENOENT);
		if (opened)
			NMXS_POSTED(t, &n, 1, p0, 0, "right after unbind");
	}
out_put:
	if (opened)
		nmxs_testnic_updown(n.dev, false);
	if (port)
		symbol_put(nmxt_test_port);
	if (has_restart)
		symbol_put(nmxt_test_has_restart);
	if (n.posted)
		symbol_put(nmxt_test_posted);
}

/**
 * struct nmxs_race - unbind against the return of the last posted chunk
 * @rxq: queue the chunk was allocated on
 * @buf: the chunk, posted
 * @id: binding to unbind
 * @put_delay: ns the put waits after the common start, this round
 * @gen: round number the workers run (release, by the coordinator)
 * @ready: rendezvous of the two workers
 * @running: workers still busy in this round
 * @start: when the round started (set by the unbind worker after rendezvous)
 * @end: when each worker finished its call (unbind 0, put 1)
 * @unbind_ret: what nmx_unbind() returned
 * @wq: workers wait here for the next round
 * @done: completed by the worker that finishes a round last
 * @task: the unbind worker (0) and the put worker (1)
 */
struct nmxs_race {
	struct nmx_rxq *rxq;
	struct nmx_buf *buf;
	u32 id;
	u64 put_delay;
	unsigned long gen;
	atomic_t ready;
	atomic_t running;
	u64 start;
	u64 end[2];
	int unbind_ret;
	wait_queue_head_t wq;
	struct completion done;
	struct task_struct *task[2];
};

struct nmxs_race_worker {
	struct nmxs_race *r;
	int role;
};

static struct nmxs_race_worker nmxs_race_workers[2];

static int nmxs_race_fn(void *arg)
{
	struct nmxs_race_worker *w = arg;
	struct nmxs_race *r = w->r;
	unsigned long seen = 0;
	u64 t0;

	for (;;) {
		/* Pairs with the coordinator's release: the round is set up. */
		wait_event(r->wq, smp_load_acquire(&r->gen) != seen ||
			   kthread_should_stop());
		if (kthread_should_stop())
			break;
		/* As above. */
		seen = smp_load_acquire(&r->gen);
		/* Both on their CPUs before either starts. */
		atomic_inc(&r->ready);
		while (atomic_read(&r->ready) < 2 && !kthread_should_stop())
			cpu_relax();
		if (kthread_should_stop())
			break;
		t0 = ktime_get_ns();
		if (w->role) {
			/* Preemptible busy wait: lands the put anywhere in the unbind. */
			while (ktime_get_ns() - t0 < r->put_delay)
				cpu_relax();
			nmx_put(r->rxq, r->buf, false);
		} else {
			r->start = t0;
			r->unbind_ret = nmx_unbind(r->id);
		}
		r->end[w->role] = ktime_get_ns();
		if (atomic_dec_and_test(&r->running))
			complete(&r->done);
	}
	return 0;
}

/*
 * n. Race: nmx_unbind() on one CPU against nmx_put() of the binding's last
 * posted chunk from process context on another, both preemptible, for up to
 * NMXS_RACE_ROUNDS rounds or NMXS_RACE_SECS. The put starts at a delay swept
 * across the unbind's measured duration, so that it lands before, inside and
 * after the unbind's switch and drain. Whichever side returns the binding's
 * last reference frees it; neither may touch it afterwards (KASAN reports a
 * use-after-free), and exactly one must free it: afterwards the binding no
 * longer resolves, and the static key goes back to off
 * (nmxs_check_bindings).
 */
static void nmxs_race_unbind_last_put(struct nmxs_run *t)
{
	struct nmx_binding_info info;
	unsigned long deadline;
	u32 queue = 0, round, put_last = 0;
	u64 unbind_ns = 0, max_delay = 0;
	struct nmxs_race *r;
	int fd, cpu[2], i, baseline;

	if (num_online_cpus() < 2) {
		t->skip = "needs two online CPUs";
		return;
	}
	fd = nmxs_xbuf_fd(NMXS_RACE_XBUF_PAGES);
	if (fd < 0) {
		NMXS_FAIL(t, "exporting a dma-buf: %d", fd);
		return;
	}
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r) {
		NMXS_FAIL(t, "out of memory");
		goto out_fd;
	}
	r->rxq = nmxs_q[queue].rxq;
	init_waitqueue_head(&r->wq);
	init_completion(&r->done);
	cpu[0] = cpumask_first(cpu_online_mask);
	cpu[1] = cpumask_next(cpu[0], cpu_online_mask);
	for (i = 0; i < 2; i++) {
		nmxs_race_workers[i].r = r;
		nmxs_race_workers[i].role = i;
		r->task[i] = kthread_create(nmxs_race_fn, &nmxs_race_workers[i],
					    "nmxs_race/%d", i);
		if (IS_ERR(r->task[i])) {
			NMXS_FAIL(t, "kthread_create: %ld", PTR_ERR(r->task[i]));
			r->task[i] = NULL;
			goto out_stop;
		}
		kthread_bind(r->task[i], cpu[i]);
		wake_up_process(r->task[i]);
	}

	baseline = static_key_count(&nmx_devmem_live.key);
	deadline = jiffies + NMXS_RACE_SECS * HZ;
	for (round = 0; round < NMXS_RACE_ROUNDS; round++) {
		int id;

		if (time_after(jiffies, deadline))
			break;
		id = nmxs_bind(t, nmxs_netdev, &queue, 1, fd, NMXS_CHUNK, NULL);
		if (id <= 0) {
			NMXS_FAIL(t, "round %u: nmx_bind_dmabuf = %d", round, id);
			break;
		}
		if (nmxs_alloc_n(r->rxq, &r->buf, 1) != 1 ||
		    nmxs_count_pages(t, &r->buf, 1)) {
			NMXS_FAIL(t, "round %u: no devmem chunk", round);
			if (r->buf)
				nmxs_recycle_n(r->rxq, &r->buf, 1);
			nmxs_unbind(t, id);
			break;
		}
		r->id = id;
		/* 0 to 1.25 times the unbind's duration, in 32 steps. */
		r->put_delay = div_u64(unbind_ns * 5 * (round % 32), 4 * 32);
		max_delay = max(max_delay, r->put_delay);
		atomic_set(&r->ready, 0);
		atomic_set(&r->running, 2);
		reinit_completion(&r->done);
		/* Publishes the round's fields to the workers. */
		smp_store_release(&r->gen, round + 1);
		wake_up_all(&r->wq);
		if (!wait_for_completion_timeout(&r->done, 30 * HZ)) {
			NMXS_FAIL(t, "round %u: workers stuck for 30 s", round);
			break;
		}
		if (!NMXS_EQ(t, r->unbind_ret, 0))
			break;
		nmxs_untrack(t, id);
		/* Running average of the unbind's duration. */
		unbind_ns = unbind_ns ? (3 * unbind_ns + r->end[0] - r->start) / 4 :
			    r->end[0] - r->start;
		put_last += r->end[1] > r->end[0];
		if (!nmxs_wait_gone(id)) {
			memset(&info, 0, sizeof(info));
			nmx_binding_info(id, &info);
			NMXS_FAIL(t,
				  "round %u: binding %d still resolves %d ms after unbind and its last put (state %u, posted %u, free %u of %u)",
				  round, id, NMXS_GONE_WAIT_MS, info.state,
				  info.chunks_posted, info.chunks_free,
				  info.chunks_total);
			break;
		}
		/*
		 * Out of the id table is not yet released: the mapping and the
		 * key reference go an RCU grace period later. Wait for that,
		 * or the next round maps the same pages once more.
		 */
		if (!nmxs_wait_key_count(baseline)) {
			NMXS_FAIL(t,
				  "round %u: binding %d gone from the table but never released: nmx_devmem_live count %d, expected %d",
				  round, id,
				  static_key_count(&nmx_devmem_live.key),
				  baseline);
			break;
		}
	}
	nmxs_line("# %s: %u rounds, unbind ~%llu us, put delay <= %llu us, put last in %u",
		  t->name, round, div_u64(unbind_ns, 1000),
		  div_u64(max_delay, 1000), put_last);
out_stop:
	for (i = 0; i < 2; i++)
		if (r->task[i])
			kthread_stop(r->task[i]);
	kfree(r);
out_fd:
	close_fd(fd);
}

struct nmxs_case {
	const char *name;
	void (*run)(struct nmxs_run *t);
};

/*
 * race_return_window: a remote returner that pushed its chunk into its
 * queue's return ring is still inside pool code (netmem's test hook makes it
 * linger there for NMXS_WINDOW_US) while the binding is unbound and its last
 * chunk comes home. The pool must outlive that returner: unbind waits an RCU
 * grace period after switching the queue, and the release another before it
 * drops the table's reference. Without both, the binding is freed under the
 * returner and KASAN reports its reads of the freed pool.
 */
#define NMXS_WINDOW_US		20000
#define NMXS_WINDOW_ROUNDS	16

struct nmxs_window {
	struct nmx_rxq *rxq;
	struct nmx_buf *buf;
	struct completion started;
	struct completion done;
};

static int nmxs_window_fn(void *arg)
{
	struct nmxs_window *w = arg;

	complete(&w->started);
	/* Process context, not the queue's NAPI: the ring path. */
	nmx_put(w->rxq, w->buf, false);
	complete(&w->done);
	return 0;
}

static void nmxs_race_return_window(struct nmxs_run *t)
{
	struct nmx_rxq *rxq = nmxs_q[0].rxq;
	struct nmx_buf *bufs[2] = {};
	struct task_struct *task;
	struct nmxs_window w;
	u32 queue = 0, round;
	int fd, id, cpu, baseline;

	if (num_online_cpus() < 2) {
		t->skip = "needs two online CPUs";
		return;
	}
	fd = nmxs_xbuf_fd(NMXS_RACE_XBUF_PAGES);
	if (fd < 0) {
		NMXS_FAIL(t, "exporting a dma-buf: %d", fd);
		return;
	}
	baseline = static_key_count(&nmx_devmem_live.key);
	if (nmx_testing_set_return_delay(NMXS_WINDOW_US)) {
		NMXS_FAIL(t, "netmem.ko is not a testing build (no return window)");
		close_fd(fd);
		return;
	}
	for (round = 0; round < NMXS_WINDOW_ROUNDS; round++) {
		id = nmxs_bind(t, nmxs_netdev, &queue, 1, fd, NMXS_CHUNK, NULL);
		if (id <= 0) {
			NMXS_FAIL(t, "round %u: nmx_bind_dmabuf = %d", round, id);
			break;
		}
		if (nmxs_alloc_n(rxq, bufs, 2) != 2 || nmxs_count_pages(t, bufs, 2)) {
			NMXS_FAIL(t, "round %u: two devmem chunks", round);
			nmxs_recycle_n(rxq, bufs, 2);
			nmxs_unbind(t, id);
			break;
		}
		w.rxq = rxq;
		w.buf = bufs[0];
		init_completion(&w.started);
		init_completion(&w.done);
		task = kthread_create(nmxs_window_fn, &w, "nmxs_window");
		if (IS_ERR(task)) {
			NMXS_FAIL(t, "kthread_create: %ld", PTR_ERR(task));
			nmxs_recycle_n(rxq, bufs, 2);
			nmxs_unbind(t, id);
			break;
		}
		cpu = get_cpu();
		put_cpu();
		kthread_bind(task, cpumask_any_but(cpu_online_mask, cpu));
		wake_up_process(task);
		wait_for_completion(&w.started);
		/* The returner is now inside its window, its chunk in the ring. */
		usleep_range(NMXS_WINDOW_US / 4, NMXS_WINDOW_US / 2);
		if (!NMXS_EQ(t, nmxs_unbind(t, id), 0))
			break;
		/* The last chunk home: drained, and the release begins. */
		nmx_put(rxq, bufs[1], false);
		bufs[0] = NULL;
		bufs[1] = NULL;
		wait_for_completion(&w.done);
		if (!nmxs_wait_gone(id) || !nmxs_wait_key_count(baseline)) {
			NMXS_FAIL(t, "round %u: binding %d not released", round, id);
			break;
		}
	}
	nmx_testing_set_return_delay(0);
	nmxs_line("# %s: %u rounds, returner window %u us", t->name, round,
		  NMXS_WINDOW_US);
	close_fd(fd);
}

/*
 * A page_pool of NMXS_POOL_SIZE order-0 pages for an RX queue, DMA-mapped for
 * @dma_dev (NULL: the pool maps nothing).
 */
static struct page_pool *nmxs_pp_create(struct device *dma_dev)
{
	struct page_pool_params params = {
		.flags		= dma_dev ? PP_FLAG_DMA_MAP : 0,
		.order		= 0,
		.pool_size	= NMXS_POOL_SIZE,
		.nid		= NUMA_NO_NODE,
		.dev		= dma_dev,
		.dma_dir	= DMA_FROM_DEVICE,
	};

	return page_pool_create(&params);
}

/* The concurrency storm (case "storm"), in a file of its own. */
#include "nmx_storm.c"

static const struct nmxs_case nmxs_cases[] = {
	{ "page_signature", nmxs_page_signature },
	{ "bind_and_carve", nmxs_bind_and_carve },
	{ "alloc_all_dma_matches_sgt", nmxs_alloc_all },
	{ "remote_return", nmxs_remote_return },
	{ "rx_complete_read_release", nmxs_rx_complete },
	{ "errors_and_rollback", nmxs_errors_and_rollback },
	{ "unbind_idle", nmxs_unbind_idle },
	{ "unbind_with_inflight", nmxs_unbind_with_inflight },
	{ "pages_only_mode", nmxs_pages_only_mode },
	{ "device_gone", nmxs_device_gone },
	{ "many_cycles", nmxs_many_cycles },
	{ "dmabuf_bound_once", nmxs_dmabuf_bound_once },
	{ "mixed_dma_devices", nmxs_mixed_dma_devices },
	{ "stranded_chunks", nmxs_stranded_chunks },
	{ "restart_testnic", nmxs_restart_testnic },
	{ "race_unbind_last_put", nmxs_race_unbind_last_put },
	{ "race_return_window", nmxs_race_return_window },
	{ "storm", nmxs_storm },
};

static void nmxs_run_case(struct nmxs_run *t, unsigned int n,
			  const struct nmxs_case *c)
{
	t->name = c->name;
	t->failures = 0;
	t->skip = NULL;
	if (only && *only && strcmp(only, c->name)) {
		t->skip = "not selected (only=)";
	} else {
		c->run(t);
		nmxs_check_bindings(t);
	}
	if (t->failures > NMXS_MAX_DIAGS)
		nmxs_line("# %s: %u failed checks, %u not shown", c->name,
			  t->failures, t->failures - NMXS_MAX_DIAGS);
	if (t->failures) {
		nmxs_line("not ok %u %s", n, c->name);
		t->fail++;
	} else if (t->skip) {
		nmxs_line("ok %u %s # SKIP %s", n, c->name, t->skip);
		t->skipped++;
	} else {
		nmxs_line("ok %u %s", n, c->name);
		t->pass++;
	}
}

/* Runs the suite on dma-buf @fd of the current task. */
static int nmxs_run_suite(int fd)
{
	struct dma_buf *dmabuf;
	struct nmxs_run *t;
	unsigned int i;
	int ret;

	/* A failed device_gone of an earlier run may have left one out. */
	for (i = 0; i < NMXS_NQUEUES; i++) {
		if (nmxs_q[i].rxq)
			continue;
		ret = nmxs_queue_register(i);
		if (ret) {
			pr_err(KBUILD_MODNAME ": cannot register RX queue %u: %d\n",
			       i, ret);
			return ret;
		}
	}

	dmabuf = dma_buf_get(fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	if (!IS_ALIGNED(dmabuf->size, NMXS_CHUNK) ||
	    dmabuf->size / NMXS_CHUNK < NMXS_MIN_CHUNKS ||
	    dmabuf->size / NMXS_CHUNK > U32_MAX - 1) {
		pr_err(KBUILD_MODNAME ": dma-buf of %zu bytes: need a multiple of %u, %u chunks at least\n",
		       dmabuf->size, NMXS_CHUNK, NMXS_MIN_CHUNKS);
		ret = -EINVAL;
		goto out_put;
	}
	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t) {
		ret = -ENOMEM;
		goto out_put;
	}
	t->fd = fd;
	t->dmabuf = dmabuf;
	t->nchunks = dmabuf->size / NMXS_CHUNK;
	t->bufs = kvcalloc(t->nchunks + 1, sizeof(*t->bufs), GFP_KERNEL);
	if (!t->bufs) {
		ret = -ENOMEM;
		goto out_free;
	}
	t->fd2 = nmxs_xbuf_fd(NMXS_XBUF_PAGES);
	if (t->fd2 < 0) {
		ret = t->fd2;
		pr_err(KBUILD_MODNAME ": cannot export a dma-buf: %d\n", ret);
		goto out_bufs;
	}

	nmxs_out_len = 0;
	nmxs_line("KTAP version 1");
	nmxs_line("# nmx_selftest: netmem core, %zu-byte dma-buf (%u chunks), %u CPUs online",
		  dmabuf->size, t->nchunks, num_online_cpus());
	nmxs_line("1..%zu", ARRAY_SIZE(nmxs_cases));
	for (i = 0; i < ARRAY_SIZE(nmxs_cases); i++)
		nmxs_run_case(t, i + 1, &nmxs_cases[i]);

	/* Only after a failed case: do not leave a binding to the next run. */
	while (t->nlive) {
		u32 id = t->live[0];

		nmxs_line("# nmx_selftest: unbinding leftover binding %u: %d",
			  id, nmx_unbind(id));
		nmxs_untrack(t, id);
	}
	t->key_stuck = 0;
	if (!nmxs_wait_key_settled(t))
		nmxs_line("# nmx_selftest: nmx_devmem_live count %d at the end",
			  static_key_count(&nmx_devmem_live.key));
	nmxs_line("# nmx_selftest: pass:%u fail:%u skip:%u total:%zu",
		  t->pass, t->fail, t->skipped, ARRAY_SIZE(nmxs_cases));
	ret = t->fail ? -EIO : 0;
	close_fd(t->fd2);
out_bufs:
	kvfree(t->bufs);
out_free:
	kfree(t);
out_put:
	dma_buf_put(dmabuf);
	return ret;
}

static ssize_t nmxs_run_write(struct file *file, const char __user *ubuf,
			      size_t count, loff_t *ppos)
{
	int fd, ret;

	ret = kstrtoint_from_user(ubuf, count, 10, &fd);
	if (ret)
		return ret;
	mutex_lock(&nmxs_mutex);
	ret = nmxs_run_suite(fd);
	mutex_unlock(&nmxs_mutex);
	return ret ? ret : count;
}

static const struct file_operations nmxs_run_fops = {
	.owner	= THIS_MODULE,
	.open	= simple_open,
	.write	= nmxs_run_write,
	.llseek	= noop_llseek,
};

static ssize_t nmxs_results_read(struct file *file, char __user *ubuf,
				 size_t count, loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&nmxs_mutex);
	ret = simple_read_from_buffer(ubuf, count, ppos, nmxs_out, nmxs_out_len);
	mutex_unlock(&nmxs_mutex);
	return ret;
}

static const struct file_operations nmxs_results_fops = {
	.owner	= THIS_MODULE,
	.open	= simple_open,
	.read	= nmxs_results_read,
	.llseek	= default_llseek,
};

static int nmxs_queue_init(unsigned int q)
{
	struct page_pool *pp;
	int err;

	pp = nmxs_pp_create(&nmxs_pdev->dev);
	if (IS_ERR(pp))
		return PTR_ERR(pp);
	nmxs_q[q].pp = pp;
	err = nmxs_queue_register(q);
	if (err) {
		page_pool_destroy(pp);
		nmxs_q[q].pp = NULL;
	}
	return err;
}

static void nmxs_queue_fini(struct nmxs_queue *q)
{
	if (q->rxq)
		nmx_rxq_unregister(q->rxq);
	q->rxq = NULL;
	if (q->pp)
		page_pool_destroy(q->pp);
	q->pp = NULL;
}

/*
 * The device with a queue behind each of two DMA devices. Only a failure to
 * build it is an error; netmem refusing the second queue is recorded for the
 * mixed_dma_devices case.
 */
static int nmxs_mixed_init(void)
{
	struct device *dma_dev[2] = { &nmxs_pdev->dev, &nmxs_pdev2->dev };
	struct nmx_rxq *rxq;
	unsigned int q;

	nmxs_mixed = alloc_etherdev_mqs(0, 2, 2);
	if (!nmxs_mixed)
		return -ENOMEM;
	SET_NETDEV_DEV(nmxs_mixed, &nmxs_pdev->dev);
	for (q = 0; q < 2; q++) {
		struct page_pool *pp = nmxs_pp_create(NULL);

		if (IS_ERR(pp))
			return PTR_ERR(pp);
		nmxs_mixed_q[q].pp = pp;
		rxq = nmxs_rxq_register(nmxs_mixed, q, pp, dma_dev[q]);
		if (IS_ERR(rxq)) {
			nmxs_mixed_err = PTR_ERR(rxq);
			if (!q)
				return nmxs_mixed_err;
			continue;
		}
		nmxs_mixed_q[q].rxq = rxq;
	}
	return 0;
}

static void nmxs_mixed_fini(void)
{
	nmxs_queue_fini(&nmxs_mixed_q[1]);
	nmxs_queue_fini(&nmxs_mixed_q[0]);
	if (nmxs_mixed)
		free_netdev(nmxs_mixed);
	nmxs_mixed = NULL;
}

/* Unregisters from netmem before the page_pool goes. */
static void nmxs_queues_fini(void)
{
	unsigned int q;

	for (q = 0; q < NMXS_NQUEUES; q++)
		nmxs_queue_fini(&nmxs_q[q]);
}

static int __init nmxs_init(void)
{
	unsigned int q;
	int err;

	nmxs_out = kvzalloc(NMXS_OUT_SIZE, GFP_KERNEL);
	if (!nmxs_out)
		return -ENOMEM;
	nmxs_pdev = platform_device_register_simple(KBUILD_MODNAME,
						    PLATFORM_DEVID_NONE,
						    NULL, 0);
	if (IS_ERR(nmxs_pdev)) {
		err = PTR_ERR(nmxs_pdev);
		goto err_out;
	}
	err = dma_coerce_mask_and_coherent(&nmxs_pdev->dev, DMA_BIT_MASK(64));
	if (err)
		goto err_pdev;

	err = -ENOMEM;
	nmxs_netdev = alloc_etherdev_mqs(0, NMXS_NQUEUES, NMXS_NQUEUES);
	if (!nmxs_netdev)
		goto err_pdev;
	SET_NETDEV_DEV(nmxs_netdev, &nmxs_pdev->dev);
	nmxs_bare = alloc_etherdev_mqs(0, NMXS_NQUEUES, NMXS_NQUEUES);
	if (!nmxs_bare)
		goto err_netdev;
	SET_NETDEV_DEV(nmxs_bare, &nmxs_pdev->dev);

	for (q = 0; q < NMXS_NQUEUES; q++) {
		err = nmxs_queue_init(q);
		if (err) {
			pr_err(KBUILD_MODNAME ": RX queue %u: %d\n", q, err);
			goto err_queues;
		}
	}

	nmxs_pdev2 = platform_device_register_simple(KBUILD_MODNAME, 2, NULL, 0);
	if (IS_ERR(nmxs_pdev2)) {
		err = PTR_ERR(nmxs_pdev2);
		goto err_queues;
	}
	err = dma_coerce_mask_and_coherent(&nmxs_pdev2->dev, DMA_BIT_MASK(64));
	if (!err)
		err = nmxs_mixed_init();
	if (err) {
		pr_err(KBUILD_MODNAME ": device on two DMA devices: %d\n", err);
		goto err_mixed;
	}

	nmxs_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("run", 0200, nmxs_dir, NULL, &nmxs_run_fops);
	debugfs_create_file("results", 0400, nmxs_dir, NULL,
			    &nmxs_results_fops);
	return 0;

err_mixed:
	nmxs_mixed_fini();
	platform_device_unregister(nmxs_pdev2);
err_queues:
	nmxs_queues_fini();
	free_netdev(nmxs_bare);
err_netdev:
	free_netdev(nmxs_netdev);
err_pdev:
	platform_device_unregister(nmxs_pdev);
err_out:
	kvfree(nmxs_out);
	return err;
}

static void __exit nmxs_exit(void)
{
	/* Waits for a run in progress. */
	debugfs_remove_recursive(nmxs_dir);
	nmxs_mixed_fini();
	platform_device_unregister(nmxs_pdev2);
	nmxs_queues_fini();
	free_netdev(nmxs_bare);
	free_netdev(nmxs_netdev);
	platform_device_unregister(nmxs_pdev);
	kvfree(nmxs_out);
}

module_init(nmxs_init);
module_exit(nmxs_exit);

MODULE_DESCRIPTION("netmem core KTAP self-tests (layer and devmem_pool)");
MODULE_LICENSE("GPL");
