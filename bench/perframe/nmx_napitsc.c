// SPDX-License-Identifier: GPL-2.0
/*
 * nmx_napitsc: the TSC around every NAPI poll of chosen net devices (measurement tooling
 * for bench/vmxnet3-perframe.sh; not part of netmem).
 *
 * Under QEMU with `-icount shift=0,sleep=off` and ONE vCPU the TSC advances by one per
 * guest instruction executed, and the virtual clock warps only while the CPU is halted,
 * which it never is inside a poll: so the TSC delta around `napi->poll()` is exactly the
 * number of instructions the poll executed (interrupts taken during it included), whatever
 * the driver. Each net device's NAPI instances get the same wrapper, which looks its slot
 * up BEFORE the first TSC read; inside the window it adds one indirect call and the second
 * `rdtsc_ordered()`, the same for every driver.
 *
 * debugfs, /sys/kernel/debug/nmx_napitsc/:
 *   ctl      write "attach IFNAME" (init_net; every NAPI of it) or "detach IFNAME"
 *   stats    per slot: "ifname polls frames tsc samples"
 *   samples  per poll, in order: "ifname tsc frames" (frames: what poll() returned, for
 *            vmxnet3 the packets it completed), up to NMX_NT_SAMPLES per slot
 *   calib    reading it times, IRQs off, a loop of N `dec; jnz` pairs (2N instructions)
 *            for N = 0 and N = 100000 through the wrapper's own TSC reads:
 *            "calib N0 TSC0 N1 TSC1"; (TSC1 - TSC0) / (N1 - N0) is 2 when a TSC tick is
 *            an instruction
 * A device unregistered while attached is detached by a netdevice notifier first.
 */
#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <asm/msr.h>

#define NMX_NT_SLOTS 8
#define NMX_NT_SAMPLES BIT(18)

struct nmx_nt_sample {
	u32 tsc;
	u32 frames;
};

struct nmx_nt_slot {
	struct napi_struct *napi; /* NULL: free slot */
	int (*poll)(struct napi_struct *napi, int budget);
	struct net_device *dev;
	char ifname[IFNAMSIZ];
	u64 polls, frames, tsc;
	u32 n; /* samples stored (single writer: NAPI runs one poll at a time) */
	struct nmx_nt_sample *s;
};

static struct nmx_nt_slot nmx_nt_slots[NMX_NT_SLOTS];
static struct dentry *nmx_nt_dir;

static int nmx_nt_poll(struct napi_struct *napi, int budget)
{
	struct nmx_nt_slot *sl = NULL;
	u64 t0, t1;
	int i, work;

	for (i = 0; i < NMX_NT_SLOTS; i++) {
		if (READ_ONCE(nmx_nt_slots[i].napi) == napi) {
			sl = &nmx_nt_slots[i];
			break;
		}
	}
	if (WARN_ON_ONCE(!sl))
		return 0;
	t0 = rdtsc_ordered();
	work = sl->poll(napi, budget);
	t1 = rdtsc_ordered();

	sl->polls++;
	sl->frames += work;
	sl->tsc += t1 - t0;
	if (sl->n < NMX_NT_SAMPLES) {
		sl->s[sl->n].tsc = (u32)min_t(u64, t1 - t0, U32_MAX);
		sl->s[sl->n].frames = work;
		/* Pairs with the readers' acquire: the sample is written before it counts. */
		smp_store_release(&sl->n, sl->n + 1);
	}
	return work;
}

/* RTNL held. */
static void nmx_nt_detach_dev(struct net_device *dev)
{
	int i;

	for (i = 0; i < NMX_NT_SLOTS; i++) {
		struct nmx_nt_slot *sl = &nmx_nt_slots[i];

		if (!sl->napi || sl->dev != dev)
			continue;
		WRITE_ONCE(sl->napi->poll, sl->poll);
		/* A poll that already read our pointer still runs under RCU (softirq). */
		synchronize_net();
		WRITE_ONCE(sl->napi, NULL);
		sl->dev = NULL;
	}
}

/* RTNL held. */
static int nmx_nt_attach_dev(struct net_device *dev)
{
	struct napi_struct *napi;
	int i, n = 0;

	list_for_each_entry(napi, &dev->napi_list, dev_list) {
		struct nmx_nt_slot *sl = NULL;

		if (napi->poll == nmx_nt_poll)
			continue;
		for (i = 0; i < NMX_NT_SLOTS; i++) {
			if (!nmx_nt_slots[i].napi) {
				sl = &nmx_nt_slots[i];
				break;
			}
		}
		if (!sl)
			return -ENOSPC;
		sl->poll = napi->poll;
		sl->dev = dev;
		strscpy(sl->ifname, dev->name, IFNAMSIZ);
		sl->polls = 0;
		sl->frames = 0;
		sl->tsc = 0;
		sl->n = 0;
		/* The slot must be complete before the wrapper can find it. */
		smp_store_release(&sl->napi, napi);
		WRITE_ONCE(napi->poll, nmx_nt_poll);
		n++;
	}
	return n ? 0 : -ENOENT;
}

static ssize_t nmx_nt_ctl_write(struct file *f, const char __user *ubuf, size_t len, loff_t *ppos)
{
	char buf[64], ifname[IFNAMSIZ];
	struct net_device *dev;
	bool attach;
	int ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = 0;
	if (sscanf(buf, "attach %15s", ifname) == 1)
		attach = true;
	else if (sscanf(buf, "detach %15s", ifname) == 1)
		attach = false;
	else
		return -EINVAL;

	rtnl_lock();
	dev = __dev_get_by_name(&init_net, ifname);
	if (!dev) {
		ret = -ENODEV;
	} else if (attach) {
		ret = nmx_nt_attach_dev(dev);
	} else {
		nmx_nt_detach_dev(dev);
		ret = 0;
	}
	rtnl_unlock();
	return ret ? ret : len;
}

static const struct file_operations nmx_nt_ctl_fops = {
	.owner = THIS_MODULE,
	.write = nmx_nt_ctl_write,
};

static int nmx_nt_stats_show(struct seq_file *m, void *v)
{
	int i;

	for (i = 0; i < NMX_NT_SLOTS; i++) {
		struct nmx_nt_slot *sl = &nmx_nt_slots[i];

		u32 n;

		if (!READ_ONCE(sl->napi))
			continue;
		/* Acquire: pairs with the poll's release of a sample. */
		n = smp_load_acquire(&sl->n);
		seq_printf(m, "%s %llu %llu %llu %u\n", sl->ifname, READ_ONCE(sl->polls),
			   READ_ONCE(sl->frames), READ_ONCE(sl->tsc), n);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(nmx_nt_stats);

static int nmx_nt_samples_show(struct seq_file *m, void *v)
{
	int i;
	u32 j, n;

	for (i = 0; i < NMX_NT_SLOTS; i++) {
		struct nmx_nt_slot *sl = &nmx_nt_slots[i];

		if (!READ_ONCE(sl->napi))
			continue;
		/* Acquire: every sample below n was written before n counted it. */
		n = smp_load_acquire(&sl->n);
		for (j = 0; j < n; j++)
			seq_printf(m, "%s %u %u\n", sl->ifname, sl->s[j].tsc, sl->s[j].frames);
	}
	return 0;
}

static int nmx_nt_samples_open(struct inode *inode, struct file *file)
{
	/* About 20 bytes a sample: size the buffer once instead of seq_file's retries. */
	return single_open_size(file, nmx_nt_samples_show, NULL,
				NMX_NT_SLOTS * 4 * PAGE_SIZE + 2 * 1024 * 1024);
}

static const struct file_operations nmx_nt_samples_fops = {
	.owner = THIS_MODULE,
	.open = nmx_nt_samples_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
};

static noinline u64 nmx_nt_loop(u64 n)
{
	u64 t0, t1;

	t0 = rdtsc_ordered();
	if (n)
		asm volatile("1: dec %0\n\tjnz 1b" : "+r"(n) : : "cc");
	t1 = rdtsc_ordered();
	return t1 - t0;
}

static int nmx_nt_calib_show(struct seq_file *m, void *v)
{
	unsigned long flags;
	u64 d0, d1;

	local_irq_save(flags);
	d0 = nmx_nt_loop(0);
	d1 = nmx_nt_loop(100000);
	local_irq_restore(flags);
	seq_printf(m, "calib 0 %llu 100000 %llu\n", d0, d1);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(nmx_nt_calib);

static int nmx_nt_netdev_event(struct notifier_block *nb, unsigned long event, void *ptr)
{
	if (event == NETDEV_UNREGISTER)
		nmx_nt_detach_dev(netdev_notifier_info_to_dev(ptr));
	return NOTIFY_DONE;
}

static struct notifier_block nmx_nt_nb = {
	.notifier_call = nmx_nt_netdev_event,
};

static void nmx_nt_free(void)
{
	int i;

	for (i = 0; i < NMX_NT_SLOTS; i++)
		vfree(nmx_nt_slots[i].s);
}

static int __init nmx_nt_init(void)
{
	int i, ret;

	for (i = 0; i < NMX_NT_SLOTS; i++) {
		nmx_nt_slots[i].s = vzalloc(array_size(NMX_NT_SAMPLES,
						       sizeof(struct nmx_nt_sample)));
		if (!nmx_nt_slots[i].s) {
			nmx_nt_free();
			return -ENOMEM;
		}
	}
	ret = register_netdevice_notifier(&nmx_nt_nb);
	if (ret) {
		nmx_nt_free();
		return ret;
	}
	nmx_nt_dir = debugfs_create_dir("nmx_napitsc", NULL);
	debugfs_create_file("ctl", 0200, nmx_nt_dir, NULL, &nmx_nt_ctl_fops);
	debugfs_create_file("stats", 0400, nmx_nt_dir, NULL, &nmx_nt_stats_fops);
	debugfs_create_file("samples", 0400, nmx_nt_dir, NULL, &nmx_nt_samples_fops);
	debugfs_create_file("calib", 0400, nmx_nt_dir, NULL, &nmx_nt_calib_fops);
	return 0;
}

static void __exit nmx_nt_exit(void)
{
	struct net_device *dev;
	int i;

	debugfs_remove_recursive(nmx_nt_dir);
	rtnl_lock();
	for (i = 0; i < NMX_NT_SLOTS; i++) {
		dev = nmx_nt_slots[i].dev;
		if (dev)
			nmx_nt_detach_dev(dev);
	}
	rtnl_unlock();
	unregister_netdevice_notifier(&nmx_nt_nb);
	nmx_nt_free();
}

module_init(nmx_nt_init);
module_exit(nmx_nt_exit);
MODULE_DESCRIPTION("TSC around NAPI polls (netmem's vmxnet3 per-frame measurement)");
MODULE_LICENSE("GPL");
