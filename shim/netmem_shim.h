/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prototypes of the netmem C glue (shim/netmem_shim.c) and of the Rust
 * callbacks it calls. The Rust side declares the same functions in
 * netmem/ffi.rs; keep the two in step.
 */
#ifndef _NMX_SHIM_H
#define _NMX_SHIM_H

#include <linux/types.h>

struct device;
struct dma_buf;
struct dma_buf_attachment;
struct genl_info;
struct net;
struct net_device;
struct netlink_callback;
struct netlink_ext_ack;
struct nmx_rxq;
struct nlattr;
struct sg_table;
struct sk_buff;
struct workqueue_struct;

/* Implemented in Rust. */
void nmx_rs_netdev_unregister(struct net_device *dev, bool removal);
u64 nmx_rs_devmem_magic(void);

int nmx_shim_check_magic(void);
int nmx_shim_wq_init(void);
void nmx_shim_wq_exit(void);
int nmx_shim_sources_init(void);
void nmx_shim_sources_exit(void);

void nmx_shim_devmem_live_inc(void);
void nmx_shim_devmem_live_dec(void);
void nmx_shim_registry_lock(void);
void nmx_shim_registry_unlock(void);
void nmx_shim_udelay(u32 us);
struct page;
struct page_pool;
void nmx_shim_page_recycle_direct(struct page_pool *pp, struct page *page);
size_t nmx_shim_alloc_bytes(const void *p, size_t requested, bool *vmalloc);
u64 nmx_shim_slab_bytes(void);
void nmx_shim_rcu_read_lock(void);
void nmx_shim_rcu_read_unlock(void);
void nmx_shim_local_bh_disable(void);
void nmx_shim_local_bh_enable(void);

int nmx_shim_binding_reserve(u32 *id);
void nmx_shim_binding_publish(u32 id, const void *b);
const void *nmx_shim_binding_erase_if(u32 id, const void *b);
const void *nmx_shim_binding_load(u32 id);
const void *nmx_shim_binding_find(u32 *id);
int nmx_shim_dmabuf_claim(const void *buf);
void nmx_shim_dmabuf_unclaim(const void *buf);
struct workqueue_struct *nmx_shim_wq(void);
void *nmx_shim_sock_priv(struct sk_buff *skb, bool create);
int nmx_shim_rxq_restart(int (*restart)(struct nmx_rxq *rxq, void *priv),
			 struct nmx_rxq *rxq, void *priv);

u64 nmx_shim_dmabuf_size(const struct dma_buf *buf);
bool nmx_shim_dev_has_dma_mask(const struct device *dev);
struct dma_buf_attachment *nmx_shim_dmabuf_attach(struct dma_buf *buf, struct device *dev);
struct sg_table *nmx_shim_dmabuf_map(struct dma_buf_attachment *att);
u32 nmx_shim_sgt_dma_nents(const struct sg_table *sgt);
/* devmem/core/src/layout.rs: Segment (repr(C), size and offsets asserted there). */
struct nmx_shim_segment {
	u64 dma;
	u64 len;
};

u32 nmx_shim_sgt_dma_segments(struct sg_table *sgt, struct nmx_shim_segment *segs, u32 max);
void *nmx_shim_dmabuf_vmap(struct dma_buf *buf);
void nmx_shim_dmabuf_vunmap(struct dma_buf *buf, void *vaddr);

struct net_device *nmx_shim_dev_get_by_index(struct net *net, u32 ifindex);
void nmx_shim_dev_put(struct net_device *dev);
u32 nmx_shim_netdev_ifindex(const struct net_device *dev);
u32 nmx_shim_netdev_real_num_rx_queues(const struct net_device *dev);
struct net *nmx_shim_netdev_net(const struct net_device *dev);

bool nmx_shim_req_attr_missing(struct genl_info *info, u32 type);
u32 nmx_shim_nla_u32(const struct nlattr *nla);
const struct nlattr *nmx_shim_info_next(const struct genl_info *info, u32 type,
					const struct nlattr *prev);
int nmx_shim_parse_queue(const struct nlattr *nest, struct genl_info *info,
			 u32 *id, u32 *type);
struct net *nmx_shim_info_net(const struct genl_info *info);
struct netlink_ext_ack *nmx_shim_info_extack(const struct genl_info *info);
void nmx_shim_extack_msg(struct netlink_ext_ack *extack, const char *msg,
			 const struct nlattr *bad);
struct sk_buff *nmx_shim_genl_new(u32 size);
void nmx_shim_genl_free(struct sk_buff *skb);
void *nmx_shim_genl_put_reply(struct sk_buff *skb, struct genl_info *info);
int nmx_shim_genl_reply(struct sk_buff *skb, void *hdr, struct genl_info *info);
void *nmx_shim_genl_put_dump(struct sk_buff *skb, struct netlink_callback *cb);
void nmx_shim_genl_end(struct sk_buff *skb, void *hdr);
void nmx_shim_genl_cancel(struct sk_buff *skb, void *hdr);
long *nmx_shim_cb_cursor(struct netlink_callback *cb);
struct net *nmx_shim_cb_net(const struct netlink_callback *cb);
int nmx_shim_put_u32(struct sk_buff *skb, u32 type, u32 value);
int nmx_shim_put_uint(struct sk_buff *skb, u32 type, u64 value);
int nmx_shim_put_u64(struct sk_buff *skb, u32 type, u64 value, u32 pad);
u32 nmx_shim_skb_len(const struct sk_buff *skb);
struct nlattr *nmx_shim_nest_start(struct sk_buff *skb, u32 type);
void nmx_shim_nest_end(struct sk_buff *skb, struct nlattr *nest);

#endif /* _NMX_SHIM_H */
