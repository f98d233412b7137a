#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Generate the bind-dmabuf netlink code from its YNL spec with the kernel tree's own generator.
#
#   ci/ynl-gen.sh           regenerate the files below in place
#   ci/ynl-gen.sh --check   regenerate into a temp dir; exit 1 (showing the diff) if the
#                           committed files differ from what the spec generates
#
#   netmem/bind-dmabuf.yaml  ->  shim/include/uapi/linux/bind-dmabuf.h  (uapi header)
#                                shim/gen/bind-dmabuf-nl.h              (kernel header)
#                                shim/gen/bind-dmabuf-nl.c              (kernel policies, ops, family)
#
# The kernel source tree comes from $KSRC (default /var/cache/netmem/src/linux-source-6.12;
# ci/kernel.sh unpacks it). Needs python3 with yaml and jsonschema (python3-yaml,
# python3-jsonschema).
#
# ynl-gen-c.py walks up from the spec's directory to a file named MAINTAINERS (the kernel root)
# and never stops if there is none, and validates the spec against genetlink.yaml two levels
# above the spec. So it runs on a copy of the spec in a scratch tree
#   $tmp/MAINTAINERS (empty)  $tmp/genetlink.yaml  $tmp/netmem/bind-dmabuf.yaml
# which also makes the generated banner name the repo-relative path netmem/bind-dmabuf.yaml.
set -euo pipefail

usage() { echo "usage: ci/ynl-gen.sh [--check]" >&2; exit 2; }

check=0
case "${1:-}" in
	"") ;;
	--check) check=1 ;;
	-h|--help) usage ;;
	*) usage ;;
esac
[ $# -le 1 ] || usage

root=$(cd "$(dirname "$0")/.." && pwd)
ksrc=${KSRC:-${NETMEM_CACHE:-/var/cache/netmem}/src/linux-source-6.12}
gen=$ksrc/tools/net/ynl/ynl-gen-c.py
schema=$ksrc/Documentation/netlink/genetlink.yaml
spec_rel=netmem/bind-dmabuf.yaml

for f in "$gen" "$schema"; do
	[ -f "$f" ] || { echo "ynl-gen: $f not found (set KSRC to a Linux 6.12 source tree)" >&2; exit 2; }
done
[ -f "$root/$spec_rel" ] || { echo "ynl-gen: $root/$spec_rel not found" >&2; exit 2; }

# output (repo-relative) | generator arguments
outputs=(
	"shim/include/uapi/linux/bind-dmabuf.h|--mode uapi --header"
	"shim/gen/bind-dmabuf-nl.h|--mode kernel --header"
	"shim/gen/bind-dmabuf-nl.c|--mode kernel --source"
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tree=$tmp/tree
out=$tmp/out
mkdir -p "$tree/netmem" "$out"
: > "$tree/MAINTAINERS"
cp "$schema" "$tree/genetlink.yaml"
cp "$root/$spec_rel" "$tree/$spec_rel"

for entry in "${outputs[@]}"; do
	rel=${entry%%|*}
	read -r -a args <<< "${entry#*|}"
	mkdir -p "$out/$(dirname "$rel")"
	# The basename of -o matters: the kernel source #includes "<basename>.h".
	if ! (cd "$tree" && timeout 120 python3 "$gen" "${args[@]}" \
		--spec "$tree/$spec_rel" -o "$out/$rel" >"$tmp/gen.log" 2>&1); then
		echo "ynl-gen: generating $rel failed:" >&2
		cat "$tmp/gen.log" >&2
		exit 1
	fi
	# Anything it printed on success (warnings) is passed on.
	[ ! -s "$tmp/gen.log" ] || sed "s|^|ynl-gen: $rel: |" "$tmp/gen.log" >&2
done

if [ "$check" = 1 ]; then
	bad=0
	for entry in "${outputs[@]}"; do
		rel=${entry%%|*}
		if [ ! -f "$root/$rel" ]; then
			echo "ynl-gen: $rel is missing (run ci/ynl-gen.sh)" >&2
			bad=1
		elif ! diff -u --label "a/$rel" --label "b/$rel (generated)" "$root/$rel" "$out/$rel"; then
			bad=1
		fi
	done
	if [ "$bad" = 1 ]; then
		echo "ynl-gen: generated files are stale; run ci/ynl-gen.sh and commit the result" >&2
		exit 1
	fi
	echo "ynl-gen: generated files are up to date"
	exit 0
fi

for entry in "${outputs[@]}"; do
	rel=${entry%%|*}
	mkdir -p "$root/$(dirname "$rel")"
	if cmp -s "$out/$rel" "$root/$rel"; then
		echo "	SAME	$rel"
	else
		cp "$out/$rel" "$root/$rel"
		echo "	GEN	$rel"
	fi
done
