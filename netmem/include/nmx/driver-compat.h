/* SPDX-License-Identifier: GPL-2.0 */
/*
 * netmem: small additions for drivers whose RX path splits page_pool pages or
 * keeps queues netmem does not know (the patched mlx5; see docs/mlx5.md).
 *
 * Additive only: nothing here changes <nmx/types.h> or <nmx/helpers.h>, and
 * every helper compiles, on the page side, to the page_pool call the driver
 * made before (plus the static-key nop of nmx_buf_is_devmem()).
 */
#ifndef _NMX_DRIVER_COMPAT_H
#define _NMX_DRIVER_COMPAT_H

#include <nmx/helpers.h>

/**
 * nmx_rxq_init_pages() - a page-only queue handle netmem.ko never sees
 * @rxq: caller-owned handle, typically embedded in the driver's RQ
 * @pp: the RQ's page_pool
 *
 * For RQs that are not RX queues of the netdev (a PTP or trap RQ), or whose
 * devmem side is served by a separate handler set (mlx5 swaps whole handler
 * sets per RQ, as for AF_XDP): the helpers take their page branch for it
 * (@rxq->devmem stays NULL), so the RQ's call sites go through the same
 * helpers as a registered queue without any call into netmem.ko. Never pass
 * it to nmx_rxq_set_page_pool(), nmx_rxq_unregister() or the nmx_devmem_*
 * entry points.
 */
static inline void nmx_rxq_init_pages(struct nmx_rxq *rxq, struct page_pool *pp)
{
	rxq->pp = pp;
	rxq->devmem = NULL;
}

/**
 * nmx_put_unrefed() - return a buffer whose fragment references are dropped
 * @rxq: the queue the buffer was allocated on
 * @buf: buffer handle
 * @allow_direct: caller is in the queue's NAPI context
 *
 * For drivers that split a page with page_pool_fragment_page(): once
 * page_pool_unref_page() dropped the last fragment reference, the page goes
 * back with this (page_pool_put_unrefed_page()). A devmem chunk is never
 * fragmented and goes back as with nmx_put().
 */
static __always_inline void nmx_put_unrefed(struct nmx_rxq *rxq,
					    struct nmx_buf *buf,
					    bool allow_direct)
{
	if (nmx_buf_is_devmem(buf)) {
		nmx_put(rxq, buf, allow_direct);
		return;
	}
	page_pool_put_unrefed_page(rxq->pp, nmx_buf_page(buf), -1,
				   allow_direct);
}

#endif /* _NMX_DRIVER_COMPAT_H */
