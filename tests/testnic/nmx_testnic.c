// SPDX-License-Identifier: GPL-2.0
/*
 * nmx_testnic: a software NIC pair that drives netmem like hardware would.
 *
 * Two linked Ethernet ports, nmxt0 and nmxt1: a frame transmitted on one is
 * received on the other. The "device" is the CPU: transmit puts the frame on
 * a per-RX-queue "wire" of the peer and schedules that queue's NAPI, and the
 * NAPI poll plays the device DMA (a copy into the next posted RX buffer)
 * before doing exactly what a hardware driver does on an RX completion. Every
 * RX buffer comes from and goes back to netmem through its call-site helpers,
 * so a queue bound to a dma-buf receives into devmem chunks and every other
 * queue receives into page_pool pages.
 *
 * Each RX queue gives netmem a restart hook (module parameter restart=1, the
 * default): a bind or unbind then swaps every posted buffer before it returns,
 * the way a driver with queue management ops does. With restart=0 the switch
 * is lazy: the next NAPI poll flushes the ring.
 *
 * debugfs (/sys/kernel/debug/nmx_testnic/) injects the faults a real NIC only
 * shows under load: stalled completions, RX buffer allocation failures.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/dma-mapping.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/if_vlan.h>
#include <linux/ip.h>
#include <linux/kstrtox.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/platform_device.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/u64_stats_sync.h>
#include <linux/udp.h>
#include <net/ip.h>
#include <net/page_pool/helpers.h>
#include <nmx/helpers.h>
#include <nmx/testing.h>

#include "nmx_testnic.h"

MODULE_IMPORT_NS(NMX_TESTING);

#define NMXT_PORTS		2
#define NMXT_MAX_QUEUES		16
#define NMXT_MAX_RING		4096

/* Page buffers keep NET_SKB_PAD headroom and room for the skb_shared_info. */
#define NMXT_PAGE_MAX_FRAME	(PAGE_SIZE - NET_SKB_PAD - \
				 SKB_DATA_ALIGN(sizeof(struct skb_shared_info)))
/* The MTU is sized for a 4 KiB buffer whatever PAGE_SIZE is, VLAN tag included. */
#define NMXT_MAX_FRAME		(SZ_4K - NET_SKB_PAD - \
				 SKB_DATA_ALIGN(sizeof(struct skb_shared_info)))
#define NMXT_MAX_MTU		(NMXT_MAX_FRAME - VLAN_ETH_HLEN)

static unsigned int num_queues = 4;
module_param(num_queues, uint, 0444);
MODULE_PARM_DESC(num_queues, "TX and RX queues per port (1-16, default 4)");

static unsigned int ring_size = 256;
module_param(ring_size, uint, 0444);
MODULE_PARM_DESC(ring_size,
		 "RX descriptors per queue (power of two, 2-4096, default 256)");

static bool restart = true;
module_param(restart, bool, 0444);
MODULE_PARM_DESC(restart,
		 "Give netmem a queue restart hook: (un)bind swaps posted buffers at once (default Y; N: at the next poll)");

static unsigned int steer_udp_base = 9000;
module_param(steer_udp_base, uint, 0444);
MODULE_PARM_DESC(steer_udp_base,
		 "Initial UDP port steered to RX queue 0 (runtime: debugfs)");

/* Counters only the queue's NAPI (or ndo_open/stop with NAPI off) writes. */
struct nmxt_rx_stats {
	u64_stats_t page_frames;
	u64_stats_t page_bytes;
	u64_stats_t devmem_frames;
	u64_stats_t devmem_bytes;
	u64_stats_t no_buf;
	u64_stats_t drops;
	u64_stats_t alloc_fail;
	u64_stats_t switches;
	u64_stats_t pages_polls;	/* polls run in pure-page mode */
	u64_stats_t mixed_polls;	/* polls that tested each buffer */
	struct u64_stats_sync syncp;
};

struct nmxt_rx_snap {
	u64 page_frames;
	u64 page_bytes;
	u64 devmem_frames;
	u64 devmem_bytes;
	u64 no_buf;
	u64 drops;
	u64 alloc_fail;
	u64 switches;
	u64 pages_polls;
	u64 mixed_polls;
	u64 wire_drops;
};

/* Written under the TX queue's xmit lock only. */
struct nmxt_tx_stats {
	u64_stats_t packets;
	u64_stats_t bytes;
	u64_stats_t dropped;
	struct u64_stats_sync syncp;
};

struct nmxt_port;

/**
 * struct nmxt_rxq - one RX queue: the ring the "device" owns and its wire
 * @napi: the queue's NAPI; page_pool recycles directly when it runs here
 * @port: owning port
 * @nrxq: netmem's handle for this queue
 * @pp: page_pool feeding @nrxq while no dma-buf is bound
 * @ring: posted buffers, owned by the "device" until it writes a frame
 * @head: next posted buffer the device fills (free running)
 * @tail: next free slot the driver posts into (free running)
 * @posted_devmem: how many of the posted buffers are devmem chunks
 * @devmem: kind of buffer the ring was last filled for (lazy switch)
 * @index: queue number
 * @up: frames may be queued on @wire; written under RTNL and @wire.lock
 * @wire: frames in flight from the peer, bounded to 4 * ring_size
 * @wire_drops: frames the peer sent while @wire was full
 * @stats: NAPI-side counters
 */
struct nmxt_rxq {
	struct napi_struct napi;
	struct nmxt_port *port;
	struct nmx_rxq *nrxq;
	struct page_pool *pp;
	struct nmx_buf **ring;
	u32 head;
	u32 tail;
	u32 posted_devmem;
	bool devmem;
	u16 index;
	bool up;
	struct sk_buff_head wire;
	atomic64_t wire_drops;
	struct nmxt_rx_stats stats;
};

struct nmxt_port {
	struct net_device *netdev;
	struct nmxt_port *peer;
	unsigned int nr_rxq;
	struct nmxt_rxq rxq[NMXT_MAX_QUEUES];
	struct nmxt_tx_stats txs[NMXT_MAX_QUEUES];
};

static struct platform_device *nmxt_pdev;
static struct nmxt_port *nmxt_ports[NMXT_PORTS];
static struct dentry *nmxt_dir;
static u32 nmxt_ring_mask;
static u32 nmxt_wire_limit;

/* debugfs knobs, read locklessly on the data path. */
static bool nmxt_stall;
static atomic_t nmxt_fail_alloc = ATOMIC_INIT(0);
static u32 nmxt_steer_base;

static void nmxt_rx_add(struct nmxt_rxq *rq, u64_stats_t *ctr, u64 val)
{
	u64_stats_update_begin(&rq->stats.syncp);
	u64_stats_add(ctr, val);
	u64_stats_update_end(&rq->stats.syncp);
}

static void nmxt_rx_snapshot(struct nmxt_rxq *rq, struct nmxt_rx_snap *s)
{
	const struct nmxt_rx_stats *st = &rq->stats;
	unsigned int start;

	do {
		start = u64_stats_fetch_begin(&st->syncp);
		s->page_frames = u64_stats_read(&st->page_frames);
		s->page_bytes = u64_stats_read(&st->page_bytes);
		s->devmem_frames = u64_stats_read(&st->devmem_frames);
		s->devmem_bytes = u64_stats_read(&st->devmem_bytes);
		s->no_buf = u64_stats_read(&st->no_buf);
		s->drops = u64_stats_read(&st->drops);
		s->alloc_fail = u64_stats_read(&st->alloc_fail);
		s->switches = u64_stats_read(&st->switches);
		s->pages_polls = u64_stats_read(&st->pages_polls);
		s->mixed_polls = u64_stats_read(&st->mixed_polls);
	} while (u64_stats_fetch_retry(&st->syncp, start));
	s->wire_drops = atomic64_read(&rq->wire_drops);
}

/*
 * Consume one injected allocation failure if any are pending. The count is
 * a u32 kept in an atomic_t, so it must not go below zero as an int would.
 */
static bool nmxt_inject_alloc_fail(void)
{
	int old = atomic_read(&nmxt_fail_alloc);

	do {
		if (!old)
			return false;
	} while (!atomic_try_cmpxchg(&nmxt_fail_alloc, &old,
				     (int)((u32)old - 1)));
	return true;
}

/*
 * Post buffers into every empty slot. NAPI context, or BH-disabled with NAPI
 * off. A failure (real or injected) stops the pass and leaves the remaining
 * slots empty, as a hardware driver does; the next refill retries.
 */
static __always_inline void nmxt_refill(struct nmxt_rxq *rq, const bool pages)
{
	while (rq->tail - rq->head < ring_size) {
		struct nmx_buf *buf = NULL;

		if (!nmxt_inject_alloc_fail())
			buf = nmx_poll_alloc(rq->nrxq, pages);
		if (unlikely(!buf)) {
			nmxt_rx_add(rq, &rq->stats.alloc_fail, 1);
			return;
		}
		rq->ring[rq->tail & nmxt_ring_mask] = buf;
		if (nmx_buf_is_devmem(buf))
			WRITE_ONCE(rq->posted_devmem, rq->posted_devmem + 1);
		WRITE_ONCE(rq->tail, rq->tail + 1);
	}
}

/* Take the oldest posted buffer from the ring, as the device would. */
static struct nmx_buf *nmxt_ring_take(struct nmxt_rxq *rq)
{
	struct nmx_buf *buf;

	if (rq->head == rq->tail)
		return NULL;
	buf = rq->ring[rq->head & nmxt_ring_mask];
	rq->ring[rq->head & nmxt_ring_mask] = NULL;
	if (nmx_buf_is_devmem(buf))
		WRITE_ONCE(rq->posted_devmem, rq->posted_devmem - 1);
	WRITE_ONCE(rq->head, rq->head + 1);
	return buf;
}

/*
 * Without a restart hook (restart=0) netmem switches a queue lazily: buffers
 * already posted stay valid after a bind or unbind. Tests want the first frame
 * after a (un)bind to land in the new kind of memory, so flush the ring when
 * the queue's source no longer matches what is posted. With the hook, the
 * restart already did this and the check never fires.
 */
static void nmxt_switch_kind(struct nmxt_rxq *rq)
{
	bool devmem = !!READ_ONCE(rq->nrxq->devmem);
	struct nmx_buf *buf;

	if (likely(devmem == rq->devmem))
		return;
	while ((buf = nmxt_ring_take(rq)))
		nmx_recycle_direct(rq->nrxq, buf);
	rq->devmem = devmem;
	nmxt_rx_add(rq, &rq->stats.switches, 1);
}

/*
 * The emulated device DMA: write @frame into @buf and report where the data
 * starts, as a completion descriptor would. Frames larger than the posted
 * buffer are dropped by the "device".
 */
static int nmxt_dev_write(struct nmx_buf *buf, const struct sk_buff *frame,
			  u32 *offset)
{
	if (nmx_buf_is_devmem(buf)) {
		const struct nmx_chunk *chunk = nmx_buf_chunk(buf);
		int ret;

		if (frame->len > nmx_devmem_chunk_size(chunk))
			return -EMSGSIZE;
		ret = nmx_testing_cpu_write(chunk, 0, frame->data, frame->len);
		if (ret < 0)
			return ret;
		*offset = 0;
		return 0;
	}
	if (frame->len > NMXT_PAGE_MAX_FRAME)
		return -EMSGSIZE;
	memcpy(page_address(nmx_buf_page(buf)) + NET_SKB_PAD, frame->data,
	       frame->len);
	*offset = NET_SKB_PAD;
	return 0;
}

/* Receive one frame from the wire into the next posted buffer. */
static __always_inline void nmxt_rx_frame(struct nmxt_rxq *rq, const struct sk_buff *frame,
					  const bool pages)
{
	u32 len = frame->len;
	struct nmx_buf *buf;
	struct sk_buff *skb;
	u32 offset;

	buf = nmxt_ring_take(rq);
	if (unlikely(!buf)) {
		nmxt_rx_add(rq, &rq->stats.no_buf, 1);
		return;
	}
	if (unlikely(nmxt_dev_write(buf, frame, &offset)))
		goto drop;

	/* From here on: what a hardware driver does on an RX completion. */
	nmx_poll_dma_sync_for_cpu(rq->nrxq, buf, offset, len, pages);
	if (nmx_poll_rx_devmem(buf, offset, len, pages)) {
		u64_stats_update_begin(&rq->stats.syncp);
		u64_stats_inc(&rq->stats.devmem_frames);
		u64_stats_add(&rq->stats.devmem_bytes, len);
		u64_stats_update_end(&rq->stats.syncp);
		return;
	}

	skb = napi_build_skb(page_address(nmx_buf_page(buf)), PAGE_SIZE);
	if (unlikely(!skb))
		goto drop;
	skb_reserve(skb, offset);
	skb_put(skb, len);
	nmx_skb_mark_for_recycle(skb);
	skb->protocol = eth_type_trans(skb, rq->port->netdev);
	skb_record_rx_queue(skb, rq->index);

	u64_stats_update_begin(&rq->stats.syncp);
	u64_stats_inc(&rq->stats.page_frames);
	u64_stats_add(&rq->stats.page_bytes, len);
	u64_stats_update_end(&rq->stats.syncp);

	napi_gro_receive(&rq->napi, skb);
	return;

drop:
	nmx_poll_recycle_direct(rq->nrxq, buf, pages);
	nmxt_rx_add(rq, &rq->stats.drops, 1);
}

/*
 * The RX work of one poll, compiled once per mode (NMX_POLL()): on a pure-page
 * queue every buffer call is the bare page_pool call.
 */
static __always_inline int nmxt_poll_rx(struct nmxt_rxq *rq, int budget, const bool pages)
{
	struct sk_buff *frame;
	int work = 0;

	nmxt_rx_add(rq, pages ? &rq->stats.pages_polls : &rq->stats.mixed_polls, 1);
	/* Retry slots a failed allocation left empty. */
	nmxt_refill(rq, pages);

	while (work < budget) {
		spin_lock(&rq->wire.lock);
		frame = __skb_dequeue(&rq->wire);
		spin_unlock(&rq->wire.lock);
		if (!frame)
			break;
		nmxt_rx_frame(rq, frame, pages);
		/* The "TX completion": the sender's skb is done with. */
		napi_consume_skb(frame, budget);
		work++;
		nmxt_refill(rq, pages);
	}
	return work;
}

static int nmxt_poll(struct napi_struct *napi, int budget)
{
	struct nmxt_rxq *rq = container_of(napi, struct nmxt_rxq, napi);
	int work;

	/* Netpoll asks for TX cleanup only; there is none. */
	if (unlikely(!budget))
		return 0;

	/*
	 * Stalled completions: frames stay on the wire until the knob is
	 * cleared, which reschedules us. Rescheduling here would spin.
	 */
	if (READ_ONCE(nmxt_stall)) {
		napi_complete_done(napi, 0);
		return 0;
	}

	nmxt_switch_kind(rq);
	work = NMX_POLL(rq->nrxq, nmxt_poll_rx, rq, budget);

	if (work < budget && napi_complete_done(napi, work) &&
	    !skb_queue_empty_lockless(&rq->wire))
		napi_schedule(napi);
	return work;
}

/* Clearing the stall knob must restart the queues that have frames waiting. */
static void nmxt_kick_all(void)
{
	unsigned int p, q;

	local_bh_disable();
	for (p = 0; p < NMXT_PORTS; p++) {
		for (q = 0; q < nmxt_ports[p]->nr_rxq; q++) {
			struct nmxt_rxq *rq = &nmxt_ports[p]->rxq[q];

			if (!skb_queue_empty_lockless(&rq->wire))
				napi_schedule(&rq->napi);
		}
	}
	local_bh_enable();
}

/* RX queue on the peer: UDP/IPv4 to [base, base + num_queues) steers. */
static u32 nmxt_steer(const struct sk_buff *skb)
{
	const struct ethhdr *eth = (const struct ethhdr *)skb->data;
	const struct iphdr *iph;
	const struct udphdr *uh;
	unsigned int ihl;
	u32 q;

	if (skb->len < ETH_HLEN + sizeof(*iph) ||
	    eth->h_proto != htons(ETH_P_IP))
		return 0;
	iph = (const struct iphdr *)(skb->data + ETH_HLEN);
	ihl = iph->ihl * 4;
	if (iph->version != 4 || ihl < sizeof(*iph) ||
	    iph->protocol != IPPROTO_UDP)
		return 0;
	/* Only the first fragment carries the UDP header. */
	if (iph->frag_off & htons(IP_OFFSET))
		return 0;
	if (skb->len < ETH_HLEN + ihl + sizeof(*uh))
		return 0;
	uh = (const struct udphdr *)(skb->data + ETH_HLEN + ihl);
	q = (u32)ntohs(uh->dest) - READ_ONCE(nmxt_steer_base);
	return q < num_queues ? q : 0;
}

static netdev_tx_t nmxt_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct nmxt_port *port = netdev_priv(dev);
	struct nmxt_tx_stats *ts = &port->txs[skb_get_queue_mapping(skb)];
	struct nmxt_rxq *rq;
	bool sent = false;
	enum skb_drop_reason reason;
	bool queued = false;
	unsigned int len;

	/* The "device" DMA reads the frame from one contiguous buffer. */
	reason = SKB_DROP_REASON_NOMEM;
	if (skb_linearize(skb))
		goto drop;
	reason = SKB_DROP_REASON_PKT_TOO_SMALL;
	if (skb->len < ETH_HLEN)
		goto drop;

	skb_tx_timestamp(skb);
	/*
	 * A stalled peer can hold the frame indefinitely: let go of the socket
	 * (so the sender is not throttled by frames we may drop) and routing.
	 */
	skb_orphan(skb);
	skb_dst_drop(skb);
	nf_reset_ct(skb);

	len = skb->len;
	rq = &port->peer->rxq[nmxt_steer(skb)];
	spin_lock(&rq->wire.lock);
	if (rq->up) {
		sent = true;
		if (skb_queue_len(&rq->wire) < nmxt_wire_limit) {
			__skb_queue_tail(&rq->wire, skb);
			queued = true;
		}
	}
	spin_unlock(&rq->wire.lock);

	reason = SKB_DROP_REASON_DEV_READY;
	if (!sent)
		goto drop;

	u64_stats_update_begin(&ts->syncp);
	u64_stats_inc(&ts->packets);
	u64_stats_add(&ts->bytes, len);
	u64_stats_update_end(&ts->syncp);

	if (queued) {
		napi_schedule(&rq->napi);
	} else {
		/* On the wire but the receiver lost it: its drop. */
		atomic64_inc(&rq->wire_drops);
		kfree_skb_reason(skb, SKB_DROP_REASON_FULL_RING);
	}
	return NETDEV_TX_OK;

drop:
	u64_stats_update_begin(&ts->syncp);
	u64_stats_inc(&ts->dropped);
	u64_stats_update_end(&ts->syncp);
	kfree_skb_reason(skb, reason);
	return NETDEV_TX_OK;
}

/*
 * Fill the ring for the queue's current source and start its NAPI. Process
 * context, NAPI disabled: nothing else touches the ring or the queue's caches.
 */
static void nmxt_fill_and_start(struct nmxt_rxq *rq)
{
	local_bh_disable();
	rq->devmem = !!READ_ONCE(rq->nrxq->devmem);
	NMX_POLL(rq->nrxq, nmxt_refill, rq);
	local_bh_enable();
	napi_enable(&rq->napi);
}

/* Frames that arrived while NAPI was off found it scheduled: poll for them. */
static void nmxt_kick(struct nmxt_rxq *rq)
{
	if (skb_queue_empty_lockless(&rq->wire))
		return;
	local_bh_disable();
	napi_schedule(&rq->napi);
	local_bh_enable();
}

/* Stop the queue's NAPI and take back every buffer the "device" owns. */
static void nmxt_quiesce(struct nmxt_rxq *rq)
{
	struct nmx_buf *buf;

	napi_disable(&rq->napi);
	while ((buf = nmxt_ring_take(rq)))
		nmx_put(rq->nrxq, buf, false);
}

/*
 * netmem's queue restart hook, called with RTNL held right after a bind or
 * unbind switched the queue's source: swap every posted buffer for one of the
 * new source. A queue that is down has nothing posted (ndo_stop took it all
 * back) and fills itself at ndo_open; RTNL keeps it down meanwhile.
 */
static int nmxt_restart(struct nmx_rxq *nrxq, void *priv)
{
	struct nmxt_rxq *rq = priv;

	ASSERT_RTNL();
	if (!rq->up)
		return 0;
	nmxt_quiesce(rq);
	nmxt_fill_and_start(rq);
	nmxt_rx_add(rq, &rq->stats.switches, 1);
	nmxt_kick(rq);
	return 0;
}

static const struct nmx_rxq_ops nmxt_rxq_ops = {
	.restart	= nmxt_restart,
};

static int nmxt_open(struct net_device *dev)
{
	struct nmxt_port *port = netdev_priv(dev);
	unsigned int q;

	for (q = 0; q < port->nr_rxq; q++) {
		struct nmxt_rxq *rq = &port->rxq[q];

		nmxt_fill_and_start(rq);
		netif_queue_set_napi(dev, q, NETDEV_QUEUE_TYPE_RX, &rq->napi);

		spin_lock_bh(&rq->wire.lock);
		rq->up = true;
		spin_unlock_bh(&rq->wire.lock);
	}
	netif_tx_start_all_queues(dev);

	/* The link is up when both ends are (rtnl serializes both ports). */
	if (netif_running(port->peer->netdev)) {
		netif_carrier_on(dev);
		netif_carrier_on(port->peer->netdev);
	}
	return 0;
}

static int nmxt_stop(struct net_device *dev)
{
	struct nmxt_port *port = netdev_priv(dev);
	unsigned int q;

	netif_carrier_off(dev);
	if (netif_running(port->peer->netdev))
		netif_carrier_off(port->peer->netdev);

	for (q = 0; q < port->nr_rxq; q++) {
		struct nmxt_rxq *rq = &port->rxq[q];

		/* No new frames from the peer; then wait out a running poll. */
		spin_lock_bh(&rq->wire.lock);
		rq->up = false;
		spin_unlock_bh(&rq->wire.lock);

		netif_queue_set_napi(dev, q, NETDEV_QUEUE_TYPE_RX, NULL);
		nmxt_quiesce(rq);
		skb_queue_purge(&rq->wire);
	}
	return 0;
}

static void nmxt_get_stats64(struct net_device *dev,
			     struct rtnl_link_stats64 *stats)
{
	struct nmxt_port *port = netdev_priv(dev);
	unsigned int q, start;

	for (q = 0; q < port->nr_rxq; q++) {
		struct nmxt_rx_snap s;

		nmxt_rx_snapshot(&port->rxq[q], &s);
		stats->rx_packets += s.page_frames + s.devmem_frames;
		stats->rx_bytes += s.page_bytes + s.devmem_bytes;
		stats->rx_dropped += s.drops + s.wire_drops;
		stats->rx_missed_errors += s.no_buf;
	}
	for (q = 0; q < dev->num_tx_queues; q++) {
		const struct nmxt_tx_stats *ts = &port->txs[q];
		u64 packets, bytes, dropped;

		do {
			start = u64_stats_fetch_begin(&ts->syncp);
			packets = u64_stats_read(&ts->packets);
			bytes = u64_stats_read(&ts->bytes);
			dropped = u64_stats_read(&ts->dropped);
		} while (u64_stats_fetch_retry(&ts->syncp, start));
		stats->tx_packets += packets;
		stats->tx_bytes += bytes;
		stats->tx_dropped += dropped;
	}
}

static const struct net_device_ops nmxt_netdev_ops = {
	.ndo_open		= nmxt_open,
	.ndo_stop		= nmxt_stop,
	.ndo_start_xmit		= nmxt_xmit,
	.ndo_get_stats64	= nmxt_get_stats64,
	.ndo_set_mac_address	= eth_mac_addr,
	.ndo_validate_addr	= eth_validate_addr,
};

static void nmxt_get_drvinfo(struct net_device *dev,
			     struct ethtool_drvinfo *info)
{
	strscpy(info->driver, KBUILD_MODNAME, sizeof(info->driver));
	strscpy(info->bus_info, dev_name(&nmxt_pdev->dev),
		sizeof(info->bus_info));
}

static void nmxt_get_ringparam(struct net_device *dev,
			       struct ethtool_ringparam *ring,
			       struct kernel_ethtool_ringparam *kring,
			       struct netlink_ext_ack *extack)
{
	ring->rx_max_pending = ring_size;
	ring->rx_pending = ring_size;
}

static void nmxt_get_channels(struct net_device *dev,
			      struct ethtool_channels *ch)
{
	ch->max_combined = num_queues;
	ch->combined_count = num_queues;
}

static const struct ethtool_ops nmxt_ethtool_ops = {
	.get_drvinfo	= nmxt_get_drvinfo,
	.get_link	= ethtool_op_get_link,
	.get_ringparam	= nmxt_get_ringparam,
	.get_channels	= nmxt_get_channels,
};

/* Undo nmxt_rxq_init() in the canonical order. NAPI must be disabled. */
static void nmxt_rxq_fini(struct nmxt_rxq *rq)
{
	nmx_rxq_unregister(rq->nrxq);
	page_pool_destroy(rq->pp);
	netif_napi_del(&rq->napi);
	kfree(rq->ring);
}

static int nmxt_rxq_init(struct nmxt_port *port, unsigned int q)
{
	struct nmxt_rxq *rq = &port->rxq[q];
	struct page_pool_params pp_params = {
		.flags		= PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV,
		.order		= 0,
		.pool_size	= ring_size,
		.nid		= NUMA_NO_NODE,
		.dev		= &nmxt_pdev->dev,
		.napi		= &rq->napi,
		.dma_dir	= DMA_FROM_DEVICE,
		.max_len	= PAGE_SIZE,
		.offset		= 0,
	};
	struct nmx_rxq *nrxq;
	struct page_pool *pp;
	int err;

	rq->port = port;
	rq->index = q;
	skb_queue_head_init(&rq->wire);
	u64_stats_init(&rq->stats.syncp);
	rq->ring = kcalloc(ring_size, sizeof(*rq->ring), GFP_KERNEL);
	if (!rq->ring)
		return -ENOMEM;

	/* Before the pool: page_pool records the NAPI id at creation. */
	netif_napi_add(port->netdev, &rq->napi, nmxt_poll);

	pp = page_pool_create(&pp_params);
	if (IS_ERR(pp)) {
		err = PTR_ERR(pp);
		goto err_napi;
	}

	nrxq = nmx_rxq_register(port->netdev, q, pp, &nmxt_pdev->dev,
				restart ? &nmxt_rxq_ops : NULL, rq);
	if (IS_ERR(nrxq)) {
		err = PTR_ERR(nrxq);
		goto err_pool;
	}
	/* The "device" DMA is a CPU copy into the dma-buf. Before any bind. */
	err = nmx_testing_rxq_cpu_copy(nrxq);
	if (err)
		goto err_rxq;
	rq->pp = pp;
	rq->nrxq = nrxq;
	return 0;

err_rxq:
	nmx_rxq_unregister(nrxq);
err_pool:
	page_pool_destroy(pp);
err_napi:
	netif_napi_del(&rq->napi);
	kfree(rq->ring);
	rq->ring = NULL;
	return err;
}

/* Free a port that is not (or no longer) registered. */
static void nmxt_port_free(struct nmxt_port *port)
{
	while (port->nr_rxq)
		nmxt_rxq_fini(&port->rxq[--port->nr_rxq]);
	free_netdev(port->netdev);
}

static struct nmxt_port *nmxt_port_create(unsigned int id)
{
	struct nmxt_port *port;
	struct net_device *dev;
	unsigned int q;
	int err;

	dev = alloc_etherdev_mqs(sizeof(*port), num_queues, num_queues);
	if (!dev)
		return ERR_PTR(-ENOMEM);
	snprintf(dev->name, IFNAMSIZ, "nmxt%u", id);
	dev->name_assign_type = NET_NAME_PREDICTABLE;

	port = netdev_priv(dev);
	port->netdev = dev;
	for (q = 0; q < num_queues; q++)
		u64_stats_init(&port->txs[q].syncp);

	SET_NETDEV_DEV(dev, &nmxt_pdev->dev);
	dev->netdev_ops = &nmxt_netdev_ops;
	dev->ethtool_ops = &nmxt_ethtool_ops;
	dev->max_mtu = NMXT_MAX_MTU;
	eth_hw_addr_random(dev);
	netif_carrier_off(dev);

	for (q = 0; q < num_queues; q++) {
		err = nmxt_rxq_init(port, q);
		if (err) {
			nmxt_port_free(port);
			return ERR_PTR(err);
		}
		port->nr_rxq++;
	}
	return port;
}

/* debugfs: stall reads and writes like a debugfs bool, and kicks on clear. */
static ssize_t nmxt_stall_read(struct file *file, char __user *ubuf,
			       size_t count, loff_t *ppos)
{
	char buf[2] = { READ_ONCE(nmxt_stall) ? 'Y' : 'N', '\n' };

	return simple_read_from_buffer(ubuf, count, ppos, buf, sizeof(buf));
}

static ssize_t nmxt_stall_write(struct file *file, const char __user *ubuf,
				size_t count, loff_t *ppos)
{
	bool stall;
	int err;

	err = kstrtobool_from_user(ubuf, count, &stall);
	if (err)
		return err;
	WRITE_ONCE(nmxt_stall, stall);
	if (!stall)
		nmxt_kick_all();
	return count;
}

static const struct file_operations nmxt_stall_fops = {
	.owner	= THIS_MODULE,
	.open	= simple_open,
	.read	= nmxt_stall_read,
	.write	= nmxt_stall_write,
	.llseek	= default_llseek,
};

static int nmxt_fail_alloc_get(void *data, u64 *val)
{
	*val = (u32)atomic_read(&nmxt_fail_alloc);
	return 0;
}

static int nmxt_fail_alloc_set(void *data, u64 val)
{
	if (val > U32_MAX)
		return -EINVAL;
	atomic_set(&nmxt_fail_alloc, (int)(u32)val);
	return 0;
}

DEFINE_DEBUGFS_ATTRIBUTE(nmxt_fail_alloc_fops, nmxt_fail_alloc_get,
			 nmxt_fail_alloc_set, "%llu\n");

static int nmxt_stats_show(struct seq_file *m, void *v)
{
	unsigned int p, q;

	for (p = 0; p < NMXT_PORTS; p++) {
		struct nmxt_port *port = nmxt_ports[p];

		for (q = 0; q < port->nr_rxq; q++) {
			struct nmxt_rxq *rq = &port->rxq[q];
			struct nmxt_rx_snap s;
			u32 posted, devmem;

			nmxt_rx_snapshot(rq, &s);
			/* Racy against NAPI by design: a debug view. */
			devmem = READ_ONCE(rq->posted_devmem);
			posted = READ_ONCE(rq->tail) - READ_ONCE(rq->head);
			seq_printf(m, "%s q%u rx_frames=%llu rx_page_frames=%llu rx_devmem_frames=%llu rx_bytes=%llu",
				   port->netdev->name, q,
				   s.page_frames + s.devmem_frames,
				   s.page_frames, s.devmem_frames,
				   s.page_bytes + s.devmem_bytes);
			seq_printf(m, " rx_no_buf=%llu rx_drops=%llu alloc_fail=%llu posted_page=%u posted_devmem=%u",
				   s.no_buf, s.drops + s.wire_drops,
				   s.alloc_fail, posted - devmem, devmem);
			seq_printf(m, " rx_page_bytes=%llu rx_devmem_bytes=%llu wire_drops=%llu wire_len=%u switches=%llu",
				   s.page_bytes, s.devmem_bytes, s.wire_drops,
				   skb_queue_len_lockless(&rq->wire),
				   s.switches);
			seq_printf(m, " pages_polls=%llu mixed_polls=%llu\n",
				   s.pages_polls, s.mixed_polls);
		}
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(nmxt_stats);

struct net_device *nmxt_test_port(unsigned int port)
{
	return port < NMXT_PORTS ? nmxt_ports[port]->netdev : NULL;
}
EXPORT_SYMBOL_GPL(nmxt_test_port);

bool nmxt_test_has_restart(void)
{
	return restart;
}
EXPORT_SYMBOL_GPL(nmxt_test_has_restart);

int nmxt_test_posted(struct net_device *dev, u32 queue, u32 *pages,
		     u32 *devmem)
{
	struct nmxt_port *port = netdev_priv(dev);
	struct nmxt_rxq *rq;
	u32 i, n = 0;

	if (dev->netdev_ops != &nmxt_netdev_ops)
		return -ENODEV;
	if (queue >= port->nr_rxq)
		return -ERANGE;
	rq = &port->rxq[queue];
	*devmem = 0;
	rtnl_lock();
	/* RTNL keeps the queue up or down; a running one is stopped to count. */
	if (rq->up)
		napi_disable(&rq->napi);
	for (i = rq->head; i != rq->tail; i++, n++)
		*devmem += nmx_buf_is_devmem(rq->ring[i & nmxt_ring_mask]);
	if (rq->up) {
		napi_enable(&rq->napi);
		nmxt_kick(rq);
	}
	rtnl_unlock();
	*pages = n - *devmem;
	return 0;
}
EXPORT_SYMBOL_GPL(nmxt_test_posted);

/*
 * debugfs "audit": writing a binding id runs netmem's independent accounting
 * audit of it (nmx_testing_audit()) with every running RX queue of both ports
 * stopped (NAPI disabled under RTNL), so no poll touches a pool or a queue
 * cache meanwhile. The write fails with the audit's error (reason in dmesg).
 */
static ssize_t nmxt_audit_write(struct file *file, const char __user *ubuf,
				size_t count, loff_t *ppos)
{
	unsigned int p, q;
	u32 id;
	int err;

	err = kstrtou32_from_user(ubuf, count, 0, &id);
	if (err)
		return err;
	rtnl_lock();
	for (p = 0; p < NMXT_PORTS; p++)
		for (q = 0; q < nmxt_ports[p]->nr_rxq; q++)
			if (nmxt_ports[p]->rxq[q].up)
				napi_disable(&nmxt_ports[p]->rxq[q].napi);
	err = nmx_testing_audit(id);
	for (p = 0; p < NMXT_PORTS; p++)
		for (q = 0; q < nmxt_ports[p]->nr_rxq; q++)
			if (nmxt_ports[p]->rxq[q].up) {
				napi_enable(&nmxt_ports[p]->rxq[q].napi);
				nmxt_kick(&nmxt_ports[p]->rxq[q]);
			}
	rtnl_unlock();
	return err ? err : count;
}

static const struct file_operations nmxt_audit_fops = {
	.owner	= THIS_MODULE,
	.open	= simple_open,
	.write	= nmxt_audit_write,
	.llseek	= noop_llseek,
};

static void nmxt_debugfs_init(void)
{
	nmxt_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("stall", 0600, nmxt_dir, NULL, &nmxt_stall_fops);
	debugfs_create_file_unsafe("fail_alloc", 0600, nmxt_dir, NULL,
				   &nmxt_fail_alloc_fops);
	debugfs_create_u32("steer_udp_base", 0600, nmxt_dir, &nmxt_steer_base);
	debugfs_create_file("stats", 0400, nmxt_dir, NULL, &nmxt_stats_fops);
	debugfs_create_file("audit", 0200, nmxt_dir, NULL, &nmxt_audit_fops);
}

static int __init nmxt_init(void)
{
	unsigned int created = 0, registered = 0;
	int err;

	if (!num_queues || num_queues > NMXT_MAX_QUEUES) {
		pr_err("num_queues must be 1-%u\n", NMXT_MAX_QUEUES);
		return -EINVAL;
	}
	if (ring_size < 2 || ring_size > NMXT_MAX_RING ||
	    !is_power_of_2(ring_size)) {
		pr_err("ring_size must be a power of two, 2-%u\n",
		       NMXT_MAX_RING);
		return -EINVAL;
	}
	nmxt_ring_mask = ring_size - 1;
	nmxt_wire_limit = 4 * ring_size;
	nmxt_steer_base = steer_udp_base;

	nmxt_pdev = platform_device_register_simple(KBUILD_MODNAME,
						    PLATFORM_DEVID_NONE,
						    NULL, 0);
	if (IS_ERR(nmxt_pdev))
		return PTR_ERR(nmxt_pdev);
	/* The "device" DMA is a CPU copy: any address is reachable. */
	err = dma_coerce_mask_and_coherent(&nmxt_pdev->dev, DMA_BIT_MASK(64));
	if (err)
		goto err_pdev;

	for (; created < NMXT_PORTS; created++) {
		nmxt_ports[created] = nmxt_port_create(created);
		if (IS_ERR(nmxt_ports[created])) {
			err = PTR_ERR(nmxt_ports[created]);
			goto err_free;
		}
	}
	nmxt_ports[0]->peer = nmxt_ports[1];
	nmxt_ports[1]->peer = nmxt_ports[0];

	for (; registered < NMXT_PORTS; registered++) {
		err = register_netdev(nmxt_ports[registered]->netdev);
		if (err)
			goto err_unregister;
	}

	nmxt_debugfs_init();
	return 0;

err_unregister:
	while (registered)
		unregister_netdev(nmxt_ports[--registered]->netdev);
err_free:
	while (created)
		nmxt_port_free(nmxt_ports[--created]);
err_pdev:
	platform_device_unregister(nmxt_pdev);
	return err;
}

static void __exit nmxt_exit(void)
{
	unsigned int p;

	/* First: the knobs reach into both ports. Waits for open files. */
	debugfs_remove_recursive(nmxt_dir);
	/* Both down (rings drained, wires purged) before either is freed. */
	for (p = 0; p < NMXT_PORTS; p++)
		unregister_netdev(nmxt_ports[p]->netdev);
	for (p = 0; p < NMXT_PORTS; p++)
		nmxt_port_free(nmxt_ports[p]);
	platform_device_unregister(nmxt_pdev);
}

module_init(nmxt_init);
module_exit(nmxt_exit);

MODULE_DESCRIPTION("netmem test NIC: a linked pair of software Ethernet ports");
MODULE_LICENSE("GPL");
