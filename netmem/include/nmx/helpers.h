/* SPDX-License-Identifier: GPL-2.0 */
/*
 * netmem call-site helpers for RX drivers.
 *
 * Allocation multiplexes on the queue (bound to a dma-buf or not); every other
 * helper multiplexes on the buffer's signature. Each page branch is the
 * page_pool call a driver would make anyway: while no dma-buf is bound
 * anywhere, the static key makes it the bare call; while one is bound
 * somewhere, it adds one predictable compare of page->pp_magic.
 *
 * Context rules follow page_pool: nmx_alloc() and nmx_recycle_direct() run in
 * the queue's NAPI context, or in process context while the queue's NAPI is
 * disabled (open, restart); nmx_put() and nmx_rx_devmem() run in any context
 * for a buffer the caller owns.
 *
 * Every devmem move is made out of line by netmem.ko's Rust devmem_pool, the
 * single definition of the chunk state machine: a driver cannot skip a check.
 *
 * Per-poll mode (optional, for the hot loop): a driver reads
 * nmx_rxq_pages_only() once per NAPI poll and runs a poll body compiled for
 * that mode (NMX_POLL()), using the nmx_poll_*() forms with the mode as a
 * constant. On a pure-page queue they are exactly the bare page_pool calls,
 * without a per-buffer test; on a queue fed by a dma-buf they are the helpers
 * above, plus batched devmem calls (one RCU section and queue lookup per
 * batch instead of per buffer).
 */
#ifndef _NMX_HELPERS_H
#define _NMX_HELPERS_H

#include <linux/jump_label.h>
#include <linux/skbuff.h>
#include <net/page_pool/helpers.h>
#include <nmx/types.h>

/*
 * Enabled while at least one dma-buf binding exists, and a binding exists
 * until its last chunk came home: a devmem chunk never meets a disabled key.
 */
DECLARE_STATIC_KEY_FALSE(nmx_devmem_live);

static __always_inline struct page *nmx_buf_page(struct nmx_buf *buf)
{
	return (struct page *)buf;
}

static __always_inline struct nmx_chunk *nmx_buf_chunk(struct nmx_buf *buf)
{
	return (struct nmx_chunk *)buf;
}

/**
 * nmx_buf_is_devmem() - is this handle a devmem chunk?
 * @buf: buffer handle
 *
 * Return: true for a devmem chunk, false for a page_pool page.
 */
static __always_inline bool nmx_buf_is_devmem(const struct nmx_buf *buf)
{
	return static_branch_unlikely(&nmx_devmem_live) &&
	       unlikely(((const struct nmx_chunk *)buf)->magic == NMX_DEVMEM_MAGIC);
}

/**
 * nmx_alloc() - allocate an RX buffer for a queue
 * @rxq: the queue
 *
 * Devmem chunk while a dma-buf is bound to @rxq, page_pool page otherwise.
 * NAPI context only.
 *
 * Return: the buffer, or NULL when the pool is empty.
 */
static __always_inline struct nmx_buf *nmx_alloc(struct nmx_rxq *rxq)
{
	if (static_branch_unlikely(&nmx_devmem_live)) {
		struct nmx_devmem_queue *q = READ_ONCE(rxq->devmem);

		if (q)
			return nmx_devmem_alloc(rxq);
	}
	return (struct nmx_buf *)page_pool_dev_alloc_pages(rxq->pp);
}

/**
 * nmx_buf_dma_addr() - device address of an RX buffer
 * @buf: buffer handle
 */
static __always_inline dma_addr_t nmx_buf_dma_addr(const struct nmx_buf *buf)
{
	if (nmx_buf_is_devmem(buf))
		return ((const struct nmx_chunk *)buf)->dma;
	return page_pool_get_dma_addr((const struct page *)buf);
}

/**
 * nmx_dma_sync_for_cpu() - make received bytes visible to the CPU
 * @rxq: the queue the buffer was allocated on
 * @buf: buffer handle
 * @offset: offset of the data in the buffer
 * @len: length of the data
 *
 * Devmem payload is never read by the kernel (userspace reaches it through
 * the dma-buf), so the devmem branch has nothing to do.
 */
static __always_inline void nmx_dma_sync_for_cpu(const struct nmx_rxq *rxq,
						 const struct nmx_buf *buf,
						 u32 offset, u32 len)
{
	if (nmx_buf_is_devmem(buf))
		return;
	page_pool_dma_sync_for_cpu(rxq->pp, (const struct page *)buf, offset, len);
}

/**
 * nmx_recycle_direct() - return an unused RX buffer from NAPI context
 * @rxq: the queue the buffer was allocated on
 * @buf: buffer handle
 */
static __always_inline void nmx_recycle_direct(struct nmx_rxq *rxq,
					       struct nmx_buf *buf)
{
	if (nmx_buf_is_devmem(buf))
		nmx_devmem_recycle_direct(rxq, nmx_buf_chunk(buf));
	else
		page_pool_recycle_direct(rxq->pp, nmx_buf_page(buf));
}

/**
 * nmx_put() - return an RX buffer from any context
 * @rxq: the queue the buffer was allocated on
 * @buf: buffer handle
 * @allow_direct: caller is in the queue's NAPI context
 */
static __always_inline void nmx_put(struct nmx_rxq *rxq, struct nmx_buf *buf,
				    bool allow_direct)
{
	if (nmx_buf_is_devmem(buf)) {
		if (allow_direct)
			nmx_devmem_recycle_direct(rxq, nmx_buf_chunk(buf));
		else
			nmx_devmem_put(nmx_buf_chunk(buf));
	} else {
		page_pool_put_full_page(rxq->pp, nmx_buf_page(buf), allow_direct);
	}
}

/**
 * nmx_rx_devmem() - hand a received devmem buffer to its binding
 * @buf: buffer handle, filled by the device
 * @offset: offset of the data in the buffer
 * @len: length of the data
 *
 * Devmem buffers never enter an skb: the core skb free path only knows
 * page_pool. For a devmem buffer this records {offset, length, token, queue}
 * for the binding's owner and takes the buffer from the driver; a refused
 * completion (extent beyond the chunk) sends the chunk back to its pool and is
 * counted there (bad-put). For a page it does nothing, and the driver builds
 * its skb as usual and marks it with nmx_skb_mark_for_recycle().
 *
 * Return: true if @buf was devmem: the driver no longer owns it either way.
 */
static __always_inline bool nmx_rx_devmem(struct nmx_buf *buf, u32 offset, u32 len)
{
	if (!nmx_buf_is_devmem(buf))
		return false;
	nmx_devmem_rx_complete(nmx_buf_chunk(buf), offset, len);
	return true;
}

/**
 * nmx_skb_mark_for_recycle() - let the stack recycle an skb's page_pool pages
 * @skb: an skb built from page buffers only
 */
static __always_inline void nmx_skb_mark_for_recycle(struct sk_buff *skb)
{
	skb_mark_for_recycle(skb);
}

/**
 * nmx_rxq_pages_only() - may this NAPI poll treat every buffer of @rxq as a page?
 * @rxq: the queue
 *
 * Read once at the start of a poll (or refill). True while no dma-buf is bound
 * anywhere, or while no binding may have chunks posted on @rxq. A poll that
 * read true stays correct if a dma-buf gets bound meanwhile: only nmx_alloc()
 * and the non-page forms hand devmem out, so the queue switches at its next
 * poll (or at once, through the driver's restart hook, which stops NAPI).
 */
static __always_inline bool nmx_rxq_pages_only(const struct nmx_rxq *rxq)
{
	return !static_branch_unlikely(&nmx_devmem_live) || !READ_ONCE(rxq->devmem_refs);
}

/*
 * NMX_POLL(rxq, body, args...) - call body(args..., pages) with pages the
 * constant true on a pure-page queue and false otherwise: the driver's poll
 * body, inlined twice (make it __always_inline), decided once per poll.
 */
#define NMX_POLL(rxq, body, ...)					\
({									\
	typeof(body) *__nmx_body = (body);				\
	nmx_rxq_pages_only(rxq) ? __nmx_body(__VA_ARGS__, true) :	\
				  __nmx_body(__VA_ARGS__, false);	\
})

/* The helpers above, for a poll body of known mode (@pages from NMX_POLL()). */
static __always_inline struct nmx_buf *nmx_poll_alloc(struct nmx_rxq *rxq, const bool pages)
{
	if (pages)
		return (struct nmx_buf *)page_pool_dev_alloc_pages(rxq->pp);
	return nmx_alloc(rxq);
}

static __always_inline dma_addr_t nmx_poll_dma_addr(const struct nmx_buf *buf, const bool pages)
{
	if (pages)
		return page_pool_get_dma_addr((const struct page *)buf);
	return nmx_buf_dma_addr(buf);
}

static __always_inline void nmx_poll_dma_sync_for_cpu(const struct nmx_rxq *rxq,
						      const struct nmx_buf *buf,
						      u32 offset, u32 len, const bool pages)
{
	if (pages)
		page_pool_dma_sync_for_cpu(rxq->pp, (const struct page *)buf, offset, len);
	else
		nmx_dma_sync_for_cpu(rxq, buf, offset, len);
}

static __always_inline void nmx_poll_recycle_direct(struct nmx_rxq *rxq, struct nmx_buf *buf,
						    const bool pages)
{
	if (pages)
		page_pool_recycle_direct(rxq->pp, nmx_buf_page(buf));
	else
		nmx_recycle_direct(rxq, buf);
}

static __always_inline void nmx_poll_put(struct nmx_rxq *rxq, struct nmx_buf *buf,
					 bool allow_direct, const bool pages)
{
	if (pages)
		page_pool_put_full_page(rxq->pp, nmx_buf_page(buf), allow_direct);
	else
		nmx_put(rxq, buf, allow_direct);
}

static __always_inline bool nmx_poll_rx_devmem(struct nmx_buf *buf, u32 offset, u32 len,
					       const bool pages)
{
	return !pages && nmx_rx_devmem(buf, offset, len);
}

/**
 * nmx_poll_alloc_bulk() - allocate up to @n RX buffers for a queue
 * @rxq: the queue
 * @bufs: where to store them
 * @n: how many are wanted
 * @pages: the poll's mode (NMX_POLL())
 *
 * NAPI context only. Devmem chunks come in one call into netmem for the whole
 * batch.
 *
 * Return: how many were stored; fewer than @n when the pool ran dry.
 */
static __always_inline u32 nmx_poll_alloc_bulk(struct nmx_rxq *rxq, struct nmx_buf **bufs,
					       u32 n, const bool pages)
{
	struct page_pool *pp = rxq->pp;
	u32 i;

	if (!pages && READ_ONCE(rxq->devmem))
		return nmx_devmem_alloc_bulk(rxq, bufs, n);
	for (i = 0; i < n; i++) {
		bufs[i] = (struct nmx_buf *)page_pool_dev_alloc_pages(pp);
		if (unlikely(!bufs[i]))
			break;
	}
	return i;
}

/**
 * nmx_poll_recycle_bulk() - return unused RX buffers from NAPI context
 * @rxq: the queue they were allocated on
 * @bufs: the buffers
 * @n: how many
 * @pages: the poll's mode (NMX_POLL())
 */
static __always_inline void nmx_poll_recycle_bulk(struct nmx_rxq *rxq, struct nmx_buf **bufs,
						  u32 n, const bool pages)
{
	struct page_pool *pp = rxq->pp;
	u32 i;

	if (!pages) {
		nmx_devmem_recycle_bulk(rxq, bufs, n);
		return;
	}
	for (i = 0; i < n; i++)
		page_pool_recycle_direct(pp, nmx_buf_page(bufs[i]));
}

#endif /* _NMX_HELPERS_H */
