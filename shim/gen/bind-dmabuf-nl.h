/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	netmem/bind-dmabuf.yaml */
/* YNL-GEN kernel header */

#ifndef _LINUX_BIND_DMABUF_GEN_H
#define _LINUX_BIND_DMABUF_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/bind-dmabuf.h>
#include <nmx/sock_priv.h>

/* Common nested types */
extern const struct nla_policy bind_dmabuf_queue_nl_policy[BIND_DMABUF_A_QUEUE_TYPE + 1];

int bind_dmabuf_nl_bind_dmabuf_doit(struct sk_buff *skb,
				    struct genl_info *info);
int bind_dmabuf_nl_unbind_doit(struct sk_buff *skb, struct genl_info *info);
int bind_dmabuf_nl_binding_get_doit(struct sk_buff *skb,
				    struct genl_info *info);
int bind_dmabuf_nl_binding_get_dumpit(struct sk_buff *skb,
				      struct netlink_callback *cb);
int bind_dmabuf_nl_rx_read_doit(struct sk_buff *skb, struct genl_info *info);
int bind_dmabuf_nl_rx_release_doit(struct sk_buff *skb, struct genl_info *info);

extern struct genl_family bind_dmabuf_nl_family;

void bind_dmabuf_nl_sock_priv_init(struct nmx_sock_priv *priv);
void bind_dmabuf_nl_sock_priv_destroy(struct nmx_sock_priv *priv);

#endif /* _LINUX_BIND_DMABUF_GEN_H */
