// SPDX-License-Identifier: GPL-2.0
/*
 * netmem C glue: the parts of netmem.ko that only C can express.
 *
 * - MODULE_IMPORT_NS(DMA_BUF) and EXPORT_SYMBOL_GPL for the Rust-implemented API
 *   (module! has no key for either in 6.12);
 * - the nmx_devmem_live static key;
 * - wrappers for static inline kernel APIs and for struct fields whose layout
 *   depends on the config (like rust/helpers/ does for the kernel crate);
 * - notifier blocks and the generated genetlink family registration;
 * - fault points on the bind's fallible steps, for tests/vm/rel-faults.sh
 *   (debug kernels only: CONFIG_FAULT_INJECTION_DEBUG_FS).
 *
 * No policy lives here: every decision is made by the Rust side.
 */
#include <linux/dma-buf.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/debugfs.h>
#include <linux/fault-inject.h>
#include <linux/iosys-map.h>
#include <linux/kmemleak.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/netlink.h>
#include <linux/rcupdate.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/netlink.h>
#include <net/sock.h>

#include <nmx/helpers.h>
#include <nmx/testing.h>
#include "netmem_shim.h"
#include "gen/bind-dmabuf-nl.h"

MODULE_IMPORT_NS(DMA_BUF);

DEFINE_STATIC_KEY_FALSE(nmx_devmem_live);
EXPORT_SYMBOL_GPL(nmx_devmem_live);

/*
 * The driver-facing API, implemented in Rust (netmem/, devmem/): defined in
 * another object of this module, so the export cannot follow a definition.
 */
#define NMX_EXPORT_RUST(sym) EXPORT_SYMBOL_GPL(sym)
NMX_EXPORT_RUST(nmx_rxq_register);
NMX_EXPORT_RUST(nmx_rxq_unregister);
NMX_EXPORT_RUST(nmx_rxq_set_page_pool);
NMX_EXPORT_RUST(nmx_devmem_alloc);
NMX_EXPORT_RUST(nmx_devmem_recycle_direct);
NMX_EXPORT_RUST(nmx_devmem_alloc_bulk);
NMX_EXPORT_RUST(nmx_devmem_recycle_bulk);
NMX_EXPORT_RUST(nmx_devmem_put);
NMX_EXPORT_RUST(nmx_devmem_rx_complete);
NMX_EXPORT_RUST(nmx_devmem_chunk_size);
NMX_EXPORT_RUST(nmx_bind_dmabuf);
NMX_EXPORT_RUST(nmx_unbind);
NMX_EXPORT_RUST(nmx_binding_info);
NMX_EXPORT_RUST(nmx_binding_read);
NMX_EXPORT_RUST(nmx_binding_release);
/* Test devices only: a hardware driver has to import NMX_TESTING to reach these. */
#define NMX_EXPORT_RUST_TESTING(sym) EXPORT_SYMBOL_NS_GPL(sym, NMX_TESTING)
NMX_EXPORT_RUST_TESTING(nmx_testing_rxq_cpu_copy);
NMX_EXPORT_RUST_TESTING(nmx_testing_cpu_write);
NMX_EXPORT_RUST_TESTING(nmx_testing_audit);
NMX_EXPORT_RUST_TESTING(nmx_testing_set_return_delay);
NMX_EXPORT_RUST_TESTING(nmx_testing_bind_profile);
/* The Rust mirror (devmem/meter.rs) asserts the same sizes. */
static_assert(sizeof(struct nmx_testing_bind_alloc) == 64);
static_assert(sizeof(struct nmx_testing_bind_profile) ==
	      88 + 64 * NMX_TESTING_BIND_ALLOCS);

/*
 * Bind profile: the bytes the allocator really gave for the allocation that
 * starts at @p (@requested bytes asked for). kmalloc: ksize(). vmalloc: the
 * mapped size, found by walking from the page-rounded request to the area's
 * unmapped guard page; a huge mapping (kvmalloc asks for one) is rounded up
 * to PMD_SIZE and shows up as mapped pages past the request.
 */
size_t nmx_shim_alloc_bytes(const void *p, size_t requested, bool *vmalloc)
{
	size_t n;

	*vmalloc = is_vmalloc_addr(p);
	if (!*vmalloc)
		return ksize(p);
	for (n = PAGE_ALIGN(requested); vmalloc_to_page(p + n); n += PAGE_SIZE)
		;
	return n;
}

/* Bind profile cross-check: the kernel's unreclaimable-slab bytes (kmalloc). */
u64 nmx_shim_slab_bytes(void)
{
	return (u64)global_node_page_state_pages(NR_SLAB_UNRECLAIMABLE_B) << PAGE_SHIFT;
}

/*
 * Fault points of a bind, one per fallible step, for tests/vm/rel-faults.sh:
 * debugfs nmx_fail/<step>/ holds a fault_attr each (probability, times,
 * space, interval, task-filter, verbose: Documentation/fault-injection/).
 * Not fail_function: its kprobe handler runs in int3 context, which x86
 * enters as an NMI, and should_fail() takes the RNG's locks there (a lockdep
 * splat). These run in the binding task. A step whose probability is 0 (the
 * default) costs one load and is not counted by a task's fail-nth; kernels
 * without CONFIG_FAULT_INJECTION_DEBUG_FS have none of it.
 */
enum nmx_fail_step {
	NMX_FAIL_SOCK_PRIV,	/* the socket's netmem state */
	NMX_FAIL_CLAIM,		/* the dma-buf claim */
	NMX_FAIL_ID,		/* the binding id */
	NMX_FAIL_ATTACH,	/* dma_buf_attach() */
	NMX_FAIL_MAP,		/* dma_buf_map_attachment() */
	NMX_FAIL_VMAP,		/* dma_buf_vmap() (CPU-copy devices) */
	NMX_FAIL_RESTART,	/* a driver's queue restart (the queue switch) */
	NMX_FAIL_REPLY,		/* a netlink reply */
	NMX_FAIL_STEPS
};

#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
static const char *const nmx_fail_names[NMX_FAIL_STEPS] = {
	"sock_priv", "claim", "id", "attach", "map", "vmap", "restart", "reply",
};

static struct fault_attr nmx_fail_attrs[NMX_FAIL_STEPS] = {
	[0 ... NMX_FAIL_STEPS - 1] = FAULT_ATTR_INITIALIZER,
};

static struct dentry *nmx_fail_dir;

static bool nmx_fail(enum nmx_fail_step step)
{
	struct fault_attr *attr = &nmx_fail_attrs[step];

	return READ_ONCE(attr->probability) && should_fail(attr, 1);
}

static void nmx_fail_init(void)
{
	int i;

	nmx_fail_dir = debugfs_create_dir("nmx_fail", NULL);
	for (i = 0; i < NMX_FAIL_STEPS; i++) {
		nmx_fail_attrs[i].verbose = 1;	/* 2 dumps the stack: a splat to ci/vm.sh */
		fault_create_debugfs_attr(nmx_fail_names[i], nmx_fail_dir, &nmx_fail_attrs[i]);
	}
}

static void nmx_fail_exit(void)
{
	debugfs_remove_recursive(nmx_fail_dir);
}
#else
static inline bool nmx_fail(enum nmx_fail_step step)
{
	return false;
}

static inline void nmx_fail_init(void) {}
static inline void nmx_fail_exit(void) {}
#endif

void nmx_shim_devmem_live_inc(void)
{
	static_branch_inc(&nmx_devmem_live);
}

void nmx_shim_devmem_live_dec(void)
{
	static_branch_dec(&nmx_devmem_live);
}

/* Registry lock (queue registrations); process context only. */
static DEFINE_MUTEX(nmx_registry_mutex);

void nmx_shim_registry_lock(void)
{
	mutex_lock(&nmx_registry_mutex);
}

void nmx_shim_registry_unlock(void)
{
	mutex_unlock(&nmx_registry_mutex);
}

void nmx_shim_udelay(u32 us)
{
	udelay(us);
}

/* page_pool_recycle_direct() is inline: the Rust bulk recycle reaches it here. */
void nmx_shim_page_recycle_direct(struct page_pool *pp, struct page *page)
{
	page_pool_recycle_direct(pp, page);
}

void nmx_shim_rcu_read_lock(void)
{
	rcu_read_lock();
}

void nmx_shim_rcu_read_unlock(void)
{
	rcu_read_unlock();
}

void nmx_shim_local_bh_disable(void)
{
	local_bh_disable();
}

void nmx_shim_local_bh_enable(void)
{
	local_bh_enable();
}

/*
 * Binding table: ids allocated cyclically, unique while in the table, looked
 * up and walked under RCU. The entries are Rust Arc pointers; Rust owns them.
 */
static DEFINE_XARRAY_ALLOC1(nmx_bindings);
static u32 nmx_binding_next;

int nmx_shim_binding_reserve(u32 *id)
{
	int err;

	if (nmx_fail(NMX_FAIL_ID))
		return -EBUSY;
	/* A NULL entry reserves the id: loads see nothing until it is published. */
	err = xa_alloc_cyclic(&nmx_bindings, id, NULL, XA_LIMIT(1, INT_MAX),
			      &nmx_binding_next, GFP_KERNEL);
	return err < 0 ? err : 0;
}

void nmx_shim_binding_publish(u32 id, const void *b)
{
	/* The slot is reserved: nothing to allocate, so this cannot fail. */
	WARN_ON(xa_is_err(xa_store(&nmx_bindings, id, (void *)b, GFP_KERNEL)));
}

const void *nmx_shim_binding_erase_if(u32 id, const void *b)
{
	if (!b) {
		xa_erase(&nmx_bindings, id);
		return NULL;
	}
	return xa_cmpxchg(&nmx_bindings, id, (void *)b, NULL, GFP_KERNEL) == b ? b : NULL;
}

const void *nmx_shim_binding_load(u32 id)
{
	return xa_load(&nmx_bindings, id);
}

const void *nmx_shim_binding_find(u32 *id)
{
	unsigned long index = *id;
	void *entry;

	entry = xa_find(&nmx_bindings, &index, INT_MAX, XA_PRESENT);
	*id = index;
	return entry;
}

/* dma-buf and its DMA mapping. */
u64 nmx_shim_dmabuf_size(const struct dma_buf *buf)
{
	return buf->size;
}

bool nmx_shim_dev_has_dma_mask(const struct device *dev)
{
	return dev->dma_mask && *dev->dma_mask;
}

/* Attach and map: called from Rust through these so that each can be failed. */
struct dma_buf_attachment *nmx_shim_dmabuf_attach(struct dma_buf *buf, struct device *dev)
{
	if (nmx_fail(NMX_FAIL_ATTACH))
		return ERR_PTR(-ENOMEM);
	return dma_buf_attach(buf, dev);
}

struct sg_table *nmx_shim_dmabuf_map(struct dma_buf_attachment *att)
{
	if (nmx_fail(NMX_FAIL_MAP))
		return ERR_PTR(-ENOMEM);
	return dma_buf_map_attachment_unlocked(att, DMA_FROM_DEVICE);
}

u32 nmx_shim_sgt_dma_nents(const struct sg_table *sgt)
{
	return sgt->nents;
}

u32 nmx_shim_sgt_dma_segments(struct sg_table *sgt, struct nmx_shim_segment *segs, u32 max)
{
	struct scatterlist *sg;
	u32 n = 0;
	int i;

	for_each_sgtable_dma_sg(sgt, sg, i) {
		if (n == max)
			break;
		segs[n].dma = sg_dma_address(sg);
		segs[n].len = sg_dma_len(sg);
		n++;
	}
	return n;
}

void *nmx_shim_dmabuf_vmap(struct dma_buf *buf)
{
	struct iosys_map map;
	int err;

	if (nmx_fail(NMX_FAIL_VMAP))
		return ERR_PTR(-ENOMEM);
	err = dma_buf_vmap_unlocked(buf, &map);
	if (err)
		return ERR_PTR(err);
	if (map.is_iomem) {
		dma_buf_vunmap_unlocked(buf, &map);
		return ERR_PTR(-EOPNOTSUPP);
	}
	return map.vaddr;
}

void nmx_shim_dmabuf_vunmap(struct dma_buf *buf, void *vaddr)
{
	struct iosys_map map = IOSYS_MAP_INIT_VADDR(vaddr);

	dma_buf_vunmap_unlocked(buf, &map);
}

/*
 * dma-bufs netmem has attached and mapped, by address: one claim per binding,
 * given up only once its mapping is gone, so a dma-buf cannot be mapped twice
 * (not even while its previous binding is still being released).
 */
static DEFINE_XARRAY(nmx_dmabufs);

int nmx_shim_dmabuf_claim(const void *buf)
{
	if (nmx_fail(NMX_FAIL_CLAIM))
		return -ENOMEM;
	/* A NULL entry reserves the index: a second insert gets -EBUSY. */
	return xa_insert(&nmx_dmabufs, (unsigned long)buf, NULL, GFP_KERNEL);
}

void nmx_shim_dmabuf_unclaim(const void *buf)
{
	xa_erase(&nmx_dmabufs, (unsigned long)buf);
}

/* netmem's workqueue: binding releases reported on the data path run here. */
static struct workqueue_struct *nmx_wq;

struct workqueue_struct *nmx_shim_wq(void)
{
	return nmx_wq;
}

/* net_device fields and refs. */
struct net_device *nmx_shim_dev_get_by_index(struct net *net, u32 ifindex)
{
	return dev_get_by_index(net, ifindex);
}

void nmx_shim_dev_put(struct net_device *dev)
{
	dev_put(dev);
}

u32 nmx_shim_netdev_ifindex(const struct net_device *dev)
{
	return dev->ifindex;
}

u32 nmx_shim_netdev_real_num_rx_queues(const struct net_device *dev)
{
	return dev->real_num_rx_queues;
}

struct net *nmx_shim_netdev_net(const struct net_device *dev)
{
	return dev_net(dev);
}

/*
 * A device leaves its netns: for good (unregistration: reg_state is already
 * NETREG_UNREGISTERING), or to move to another one (still NETREG_REGISTERED).
 */
static int nmx_shim_netdev_event(struct notifier_block *nb, unsigned long event, void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);

	if (event == NETDEV_UNREGISTER)
		nmx_rs_netdev_unregister(dev, dev->reg_state == NETREG_UNREGISTERING);
	return NOTIFY_DONE;
}

static struct notifier_block nmx_shim_netdev_nb = {
	.notifier_call = nmx_shim_netdev_event,
};

/*
 * Per-socket state of the bind-dmabuf family: a binding belongs to the socket
 * that made it (its sock-priv, see the spec), and genetlink calls our destroy
 * hook when that socket closes. genl_sk_priv_get() is not exported in 6.12, so
 * this does its job on our own family's table, the way genetlink expects: a
 * kzalloc'ed object of sock_priv_size, stored by socket, freed by genetlink.
 */
void *nmx_shim_sock_priv(struct sk_buff *skb, bool create)
{
	struct genl_family *family = &bind_dmabuf_nl_family;
	unsigned long key = (unsigned long)NETLINK_CB(skb).sk;
	void *priv, *old;

	priv = xa_load(family->sock_privs, key);
	if (priv || !create)
		return priv;
	if (nmx_fail(NMX_FAIL_SOCK_PRIV))
		return ERR_PTR(-ENOMEM);
	priv = kzalloc(family->sock_priv_size, GFP_KERNEL);
	if (!priv)
		return ERR_PTR(-ENOMEM);
	family->sock_priv_init(priv);
	old = xa_cmpxchg(family->sock_privs, key, NULL, priv, GFP_KERNEL);
	if (old) {
		family->sock_priv_destroy(priv);
		kfree(priv);
		return xa_is_err(old) ? ERR_PTR(xa_err(old)) : old;
	}
	return priv;
}

/* A driver's queue restart hook (the queue switch of a bind), with its fault point. */
int nmx_shim_rxq_restart(int (*restart)(struct nmx_rxq *rxq, void *priv),
			 struct nmx_rxq *rxq, void *priv)
{
	if (nmx_fail(NMX_FAIL_RESTART))
		return -EIO;
	return restart(rxq, priv);
}

/* The signature drivers compare with must be the one the Rust pool writes. */
int nmx_shim_check_magic(void)
{
	if (nmx_rs_devmem_magic() != NMX_DEVMEM_MAGIC) {
		pr_err("netmem: NMX_DEVMEM_MAGIC %#lx differs from the pool's %#llx\n",
		       NMX_DEVMEM_MAGIC, nmx_rs_devmem_magic());
		return -EINVAL;
	}
	return 0;
}

int nmx_shim_wq_init(void)
{
	nmx_wq = alloc_workqueue("nmx", WQ_UNBOUND, 0);
	return nmx_wq ? 0 : -ENOMEM;
}

/* Drains what is queued (binding releases), then frees the workqueue. */
void nmx_shim_wq_exit(void)
{
	destroy_workqueue(nmx_wq);
}

/* Where requests and events come from: the netdev notifier and the family. */
int nmx_shim_sources_init(void)
{
	int err;

	nmx_fail_init();
	err = register_netdevice_notifier(&nmx_shim_netdev_nb);
	if (err)
		goto err_fail;
	err = genl_register_family(&bind_dmabuf_nl_family);
	if (err) {
		unregister_netdevice_notifier(&nmx_shim_netdev_nb);
		goto err_fail;
	}
	/*
	 * genetlink hangs the per-socket table off our family, which lives in
	 * the module's ro_after_init section: kmemleak scans only a module's
	 * writable data, so it would report the table as unreferenced.
	 */
	kmemleak_not_leak(bind_dmabuf_nl_family.sock_privs);
	return 0;

err_fail:
	nmx_fail_exit();
	return err;
}

void nmx_shim_sources_exit(void)
{
	genl_unregister_family(&bind_dmabuf_nl_family);
	unregister_netdevice_notifier(&nmx_shim_netdev_nb);
	nmx_fail_exit();
}

/* Generic netlink requests and replies. */
bool nmx_shim_req_attr_missing(struct genl_info *info, u32 type)
{
	return GENL_REQ_ATTR_CHECK(info, type);
}

u32 nmx_shim_nla_u32(const struct nlattr *nla)
{
	return nla_get_u32(nla);
}

/*
 * Next top-level attribute of @type after @prev (NULL: the first). Resumes at @prev, so
 * walking a multi-attr list (up to tokens-max tokens) stays linear.
 */
const struct nlattr *nmx_shim_info_next(const struct genl_info *info, u32 type,
					const struct nlattr *prev)
{
	const struct nlattr *nla = genlmsg_data(info->genlhdr);
	int rem = genlmsg_len(info->genlhdr);

	if (prev) {
		rem -= (const char *)prev - (const char *)nla;
		nla = nla_next(prev, &rem);
	}
	for (; nla_ok(nla, rem); nla = nla_next(nla, &rem)) {
		if (nla_type(nla) == type)
			return nla;
	}
	return NULL;
}

int nmx_shim_parse_queue(const struct nlattr *nest, struct genl_info *info,
			 u32 *id, u32 *type)
{
	struct nlattr *tb[ARRAY_SIZE(bind_dmabuf_queue_nl_policy)];
	int err;

	err = nla_parse_nested(tb, ARRAY_SIZE(tb) - 1, nest, bind_dmabuf_queue_nl_policy,
			       info->extack);
	if (err)
		return err;
	if (NL_REQ_ATTR_CHECK(info->extack, nest, tb, BIND_DMABUF_A_QUEUE_ID) ||
	    NL_REQ_ATTR_CHECK(info->extack, nest, tb, BIND_DMABUF_A_QUEUE_TYPE))
		return -EINVAL;
	*id = nla_get_u32(tb[BIND_DMABUF_A_QUEUE_ID]);
	*type = nla_get_u32(tb[BIND_DMABUF_A_QUEUE_TYPE]);
	return 0;
}

struct net *nmx_shim_info_net(const struct genl_info *info)
{
	return genl_info_net(info);
}

struct netlink_ext_ack *nmx_shim_info_extack(const struct genl_info *info)
{
	return info->extack;
}

/* @msg must be static: extack keeps the pointer. */
void nmx_shim_extack_msg(struct netlink_ext_ack *extack, const char *msg,
			 const struct nlattr *bad)
{
	if (!extack)
		return;
	extack->_msg = msg;
	if (bad)
		extack->bad_attr = bad;
}

struct sk_buff *nmx_shim_genl_new(u32 size)
{
	if (nmx_fail(NMX_FAIL_REPLY))
		return NULL;
	return genlmsg_new(size, GFP_KERNEL);
}

void nmx_shim_genl_free(struct sk_buff *skb)
{
	nlmsg_free(skb);
}

void *nmx_shim_genl_put_reply(struct sk_buff *skb, struct genl_info *info)
{
	return genlmsg_iput(skb, info);
}

int nmx_shim_genl_reply(struct sk_buff *skb, void *hdr, struct genl_info *info)
{
	genlmsg_end(skb, hdr);
	return genlmsg_reply(skb, info);
}

void *nmx_shim_genl_put_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	return genlmsg_iput(skb, genl_info_dump(cb));
}

void nmx_shim_genl_end(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
}

void nmx_shim_genl_cancel(struct sk_buff *skb, void *hdr)
{
	genlmsg_cancel(skb, hdr);
}

long *nmx_shim_cb_cursor(struct netlink_callback *cb)
{
	return &cb->args[0];
}

struct net *nmx_shim_cb_net(const struct netlink_callback *cb)
{
	return sock_net(cb->skb->sk);
}

int nmx_shim_put_u32(struct sk_buff *skb, u32 type, u32 value)
{
	return nla_put_u32(skb, type, value);
}

int nmx_shim_put_uint(struct sk_buff *skb, u32 type, u64 value)
{
	return nla_put_uint(skb, type, value);
}

struct nlattr *nmx_shim_nest_start(struct sk_buff *skb, u32 type)
{
	return nla_nest_start(skb, type);
}

void nmx_shim_nest_end(struct sk_buff *skb, struct nlattr *nest)
{
	nla_nest_end(skb, nest);
}

int nmx_shim_put_u64(struct sk_buff *skb, u32 type, u64 value, u32 pad)
{
	return nla_put_u64_64bit(skb, type, value, pad);
}

u32 nmx_shim_skb_len(const struct sk_buff *skb)
{
	return skb->len;
}
