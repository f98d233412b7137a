// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	netmem/bind-dmabuf.yaml */
/* YNL-GEN kernel source */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "bind-dmabuf-nl.h"

#include <uapi/linux/bind-dmabuf.h>
#include <nmx/sock_priv.h>

/* Integer value ranges */
static const struct netlink_range_validation bind_dmabuf_a_binding_fd_range = {
	.max	= S32_MAX,
};

static const struct netlink_range_validation bind_dmabuf_a_binding_chunk_size_range = {
	.min	= BIND_DMABUF_CHUNK_SIZE_MIN,
	.max	= BIND_DMABUF_CHUNK_SIZE_MAX,
};

/* Common nested types */
const struct nla_policy bind_dmabuf_queue_nl_policy[BIND_DMABUF_A_QUEUE_TYPE + 1] = {
	[BIND_DMABUF_A_QUEUE_ID] = { .type = NLA_U32, },
	[BIND_DMABUF_A_QUEUE_TYPE] = NLA_POLICY_MAX(NLA_U32, 1),
};

/* BIND_DMABUF_CMD_BIND_DMABUF - do */
static const struct nla_policy bind_dmabuf_bind_dmabuf_nl_policy[BIND_DMABUF_A_BINDING_CHUNK_SIZE + 1] = {
	[BIND_DMABUF_A_BINDING_IFINDEX] = NLA_POLICY_MIN(NLA_U32, 1),
	[BIND_DMABUF_A_BINDING_QUEUES] = NLA_POLICY_NESTED(bind_dmabuf_queue_nl_policy),
	[BIND_DMABUF_A_BINDING_FD] = NLA_POLICY_FULL_RANGE(NLA_U32, &bind_dmabuf_a_binding_fd_range),
	[BIND_DMABUF_A_BINDING_CHUNK_SIZE] = NLA_POLICY_FULL_RANGE(NLA_U32, &bind_dmabuf_a_binding_chunk_size_range),
};

/* BIND_DMABUF_CMD_UNBIND - do */
static const struct nla_policy bind_dmabuf_unbind_nl_policy[BIND_DMABUF_A_BINDING_ID + 1] = {
	[BIND_DMABUF_A_BINDING_ID] = NLA_POLICY_MIN(NLA_U32, 1),
};

/* BIND_DMABUF_CMD_BINDING_GET - do */
static const struct nla_policy bind_dmabuf_binding_get_nl_policy[BIND_DMABUF_A_BINDING_ID + 1] = {
	[BIND_DMABUF_A_BINDING_ID] = NLA_POLICY_MIN(NLA_U32, 1),
};

/* BIND_DMABUF_CMD_RX_READ - do */
static const struct nla_policy bind_dmabuf_rx_read_nl_policy[BIND_DMABUF_A_BINDING_MAX_RECORDS + 1] = {
	[BIND_DMABUF_A_BINDING_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[BIND_DMABUF_A_BINDING_MAX_RECORDS] = NLA_POLICY_RANGE(NLA_U32, 1, BIND_DMABUF_RECORDS_MAX),
};

/* BIND_DMABUF_CMD_RX_RELEASE - do */
static const struct nla_policy bind_dmabuf_rx_release_nl_policy[BIND_DMABUF_A_BINDING_TOKENS + 1] = {
	[BIND_DMABUF_A_BINDING_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[BIND_DMABUF_A_BINDING_TOKENS] = { .type = NLA_U32, },
};

/* Ops table for bind_dmabuf */
static const struct genl_split_ops bind_dmabuf_nl_ops[] = {
	{
		.cmd		= BIND_DMABUF_CMD_BIND_DMABUF,
		.doit		= bind_dmabuf_nl_bind_dmabuf_doit,
		.policy		= bind_dmabuf_bind_dmabuf_nl_policy,
		.maxattr	= BIND_DMABUF_A_BINDING_CHUNK_SIZE,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= BIND_DMABUF_CMD_UNBIND,
		.doit		= bind_dmabuf_nl_unbind_doit,
		.policy		= bind_dmabuf_unbind_nl_policy,
		.maxattr	= BIND_DMABUF_A_BINDING_ID,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= BIND_DMABUF_CMD_BINDING_GET,
		.doit		= bind_dmabuf_nl_binding_get_doit,
		.policy		= bind_dmabuf_binding_get_nl_policy,
		.maxattr	= BIND_DMABUF_A_BINDING_ID,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= BIND_DMABUF_CMD_BINDING_GET,
		.dumpit	= bind_dmabuf_nl_binding_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= BIND_DMABUF_CMD_RX_READ,
		.doit		= bind_dmabuf_nl_rx_read_doit,
		.policy		= bind_dmabuf_rx_read_nl_policy,
		.maxattr	= BIND_DMABUF_A_BINDING_MAX_RECORDS,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= BIND_DMABUF_CMD_RX_RELEASE,
		.doit		= bind_dmabuf_nl_rx_release_doit,
		.policy		= bind_dmabuf_rx_release_nl_policy,
		.maxattr	= BIND_DMABUF_A_BINDING_TOKENS,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
};

static void __bind_dmabuf_nl_sock_priv_init(void *priv)
{
	bind_dmabuf_nl_sock_priv_init(priv);
}

static void __bind_dmabuf_nl_sock_priv_destroy(void *priv)
{
	bind_dmabuf_nl_sock_priv_destroy(priv);
}

struct genl_family bind_dmabuf_nl_family __ro_after_init = {
	.name		= BIND_DMABUF_FAMILY_NAME,
	.version	= BIND_DMABUF_FAMILY_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.split_ops	= bind_dmabuf_nl_ops,
	.n_split_ops	= ARRAY_SIZE(bind_dmabuf_nl_ops),
	.sock_priv_size	= sizeof(struct nmx_sock_priv),
	.sock_priv_init	= __bind_dmabuf_nl_sock_priv_init,
	.sock_priv_destroy = __bind_dmabuf_nl_sock_priv_destroy,
};
