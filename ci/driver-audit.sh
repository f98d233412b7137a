#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Source audit of the netmem-patched RX paths of gve and mlx5.
#
#   ci/driver-audit.sh [--root DRIVER=DIR]... [--verbose]
#   ci/driver-audit.sh --selftest
#
# Applies each driver's series to a fresh copy (ci/drivers-mlx5-gve.sh --src-only; or uses
# --root DRIVER=DIR), strips comments and strings, and lists every call of a raw page API
# (page_pool_*, alloc_page*, dev_alloc_page*, __dev_alloc_page*, put_page, __free_page*,
# free_page*, get_page, page_ref_*, page_frag_*, napi_alloc_frag, netdev_alloc_frag, and a
# driver's own wrappers around them: gve_alloc_page/gve_free_page) in the RX-path files with
# the function it sits in. Every such call site must be in the
# allow-list drivers/audit-allow.txt (DRIVER FILE FUNCTION CALL -- reason); anything else
# is a call site that bypasses netmem, and the audit fails. Allow-list entries that match
# nothing are reported as stale (and fail too: the list must describe the code).
#
# --selftest plants one unpatched call (a page_pool_dev_alloc_pages() in gve's DQO refill)
# into a copy and checks that the audit fails on it, naming the site.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
allow=$repo/drivers/audit-allow.txt

declare -A roots=()
verbose=0 selftest=0
while [ $# -gt 0 ]; do
	case "$1" in
	--root) roots[${2%%=*}]=${2#*=}; shift 2 ;;
	--verbose) verbose=1; shift ;;
	--selftest) selftest=1; shift ;;
	*) echo "usage: ci/driver-audit.sh [--root DRIVER=DIR]... [--verbose] | --selftest" >&2; exit 2 ;;
	esac
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nmx-audit.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for drv in gve mlx5; do
	if [ -z "${roots[$drv]:-}" ]; then
		root=$("$here/drivers-mlx5-gve.sh" --src-only "$drv" 2>/dev/null)
		mv "$root" "$tmp/$drv"
		roots[$drv]=$tmp/$drv
	fi
done

if [ "$selftest" = 1 ]; then
	f=${roots[gve]}/gve_rx_dqo.c
	cp -r "${roots[gve]}" "$tmp/gve-planted"
	f=$tmp/gve-planted/gve_rx_dqo.c
	# A refill that takes a page straight from a page_pool, bypassing netmem.
	python3 - "$f" <<-'EOF'
	import sys
	p = sys.argv[1]
	s = open(p).read()
	anchor = "\tnum_avail_slots = min_t(u32, num_avail_slots, complq->num_free_slots);\n"
	assert anchor in s
	s = s.replace(anchor, anchor + "\tif (!rx->dqo.qpl && !num_avail_slots)\n"
		      "\t\tpage_pool_dev_alloc_pages(rx->dqo.page_pool);\n", 1)
	open(p, "w").write(s)
	EOF
	echo "[audit selftest] planted page_pool_dev_alloc_pages() in gve_rx_post_buffers_dqo()" >&2
	if out=$("$0" --root gve="$tmp/gve-planted" --root mlx5="${roots[mlx5]}" 2>&1); then
		echo "$out" >&2
		echo "[audit selftest] FAIL: the audit passed a planted unpatched call site" >&2
		exit 1
	fi
	echo "$out" | grep -E 'UNPATCHED' >&2 || true
	if echo "$out" | grep -q 'UNPATCHED gve gve_rx_dqo.c gve_rx_post_buffers_dqo page_pool_dev_alloc_pages'; then
		echo "[audit selftest] PASS: the audit failed on the planted call site" >&2
		exit 0
	fi
	echo "$out" >&2
	echo "[audit selftest] FAIL: the audit failed, but not on the planted site" >&2
	exit 1
fi

# RX-path files per driver, relative to the copy's root, and the driver's own wrappers
# around the page allocator, which count as raw calls too (gve_alloc_page() is
# alloc_page() + dma_map_page(): a call site hidden behind it is no better).
files_gve="gve_rx_dqo.c gve_utils.c gve_main.c gve.h gve_dqo.h gve_utils.h"
wrap_gve="gve_alloc_page gve_free_page"
files_mlx5="mlx5/core/en_rx.c mlx5/core/en_main.c mlx5/core/en/xdp.c mlx5/core/en/xdp.h
	mlx5/core/en_stats.c mlx5/core/en.h mlx5/core/en/txrx.h mlx5/core/en/params.c"
wrap_mlx5=""

python3 - "$allow" "$verbose" \
	gve "${roots[gve]}" "$files_gve" "$wrap_gve" \
	mlx5 "${roots[mlx5]}" "$files_mlx5" "$wrap_mlx5" <<'EOF'
import re, sys

allow_path, verbose = sys.argv[1], sys.argv[2] == "1"
args = sys.argv[3:]
CALL = re.compile(r'\b(page_pool_[A-Za-z0-9_]+|alloc_pages?(?:_node)?|__alloc_pages\w*|'
                  r'dev_alloc_pages?|__dev_alloc_pages?|put_page|__free_pages?|free_pages?|'
                  r'get_page|page_ref_[a-z_]+|page_frag_[a-z_]+|napi_alloc_frag\w*|'
                  r'netdev_alloc_frag\w*)\s*\(')
KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "do", "else"}

def strip(src):
    """Blank out comments, strings and char literals; keep newlines and offsets."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("/*", i):
            j = src.find("*/", i + 2); j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", src[i:j])); i = j
        elif src.startswith("//", i):
            j = src.find("\n", i); j = n if j < 0 else j
            out.append(" " * (j - i)); i = j
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(c + re.sub(r"[^\n]", " ", src[i + 1:j]) + c); i = j + 1
        else:
            out.append(c); i += 1
    return "".join(out)

def sites(path, CALL):
    """(function, call, line) for every matched call; function '<file scope>' outside bodies
    (macros and inline helpers in headers count by their own name)."""
    src = strip(open(path).read())
    # drop preprocessor lines' continuation handling: a #define body is its own "function"
    res, depth, func, pending = [], 0, "<file scope>", None
    lines = src.split("\n")
    for ln, line in enumerate(lines, 1):
        m = re.match(r"\s*#\s*define\s+(\w+)", line)
        if m and depth == 0:
            name = m.group(1)
            body = line
            k = ln
            while body.endswith("\\") and k < len(lines):
                body = lines[k]; k += 1
                for cm in CALL.finditer(body):
                    res.append((name, next(g for g in cm.groups() if g), k))
            for cm in CALL.finditer(line):
                res.append((name, next(g for g in cm.groups() if g), ln))
            continue
        if line.lstrip().startswith("#"):
            continue
        for tok in re.finditer(r"[{}]|\b\w+\s*\(", line):
            t = tok.group(0)
            if t == "{":
                if depth == 0 and pending:
                    func = pending
                depth += 1
            elif t == "}":
                depth = max(0, depth - 1)
                if depth == 0:
                    func, pending = "<file scope>", None
            else:
                name = t.rstrip("( \t")
                if depth == 0 and name not in KEYWORDS:
                    pending = name
                if depth > 0:
                    cm = CALL.match(t)
                    if cm:
                        res.append((func, next(g for g in cm.groups() if g), ln))
    return res

allow = {}
for i, raw in enumerate(open(allow_path), 1):
    line = raw.strip()
    if not line or line.startswith("#"):
        continue
    head, sep, reason = line.partition("--")
    f = head.split()
    if len(f) != 4 or not sep or not reason.strip():
        sys.exit(f"{allow_path}:{i}: want 'DRIVER FILE FUNCTION CALL -- reason'")
    allow[tuple(f)] = [reason.strip(), 0]

bad = 0
total = 0
nmx = {}
for k in range(0, len(args), 4):
    drv, root, files, wraps = args[k], args[k + 1], args[k + 2].split(), args[k + 3].split()
    call_re = CALL
    if wraps:
        call_re = re.compile(r'\b(' + '|'.join(wraps) + r')\s*\(|' + CALL.pattern)
    for rel in files:
        path = f"{root}/{rel}"
        short = rel.split("/core/")[-1] if drv == "mlx5" else rel
        text = open(path).read()
        nmx[(drv, short)] = len(re.findall(r"\bnmx_\w+\s*\(", strip(text)))
        for func, call, ln in sites(path, call_re):
            total += 1
            key = (drv, short, func, call)
            if key in allow:
                allow[key][1] += 1
                if verbose:
                    print(f"allowed   {drv} {short}:{ln} {func} {call} -- {allow[key][0]}")
            else:
                bad += 1
                print(f"UNPATCHED {drv} {short} {func} {call} (line {ln}): raw page API on "
                      f"the RX path, not in drivers/audit-allow.txt")

stale = [k for k, v in allow.items() if v[1] == 0]
for k in stale:
    print(f"STALE     {' '.join(k)}: allow-list entry matches no call site")
for (drv, short), n in sorted(nmx.items()):
    if n:
        print(f"netmem    {drv} {short}: {n} nmx_ call sites")
print(f"audit: {total} raw page API call sites, {total - bad} allow-listed, {bad} unpatched, "
      f"{len(stale)} stale allow-list entries")
sys.exit(1 if bad or stale else 0)
EOF
