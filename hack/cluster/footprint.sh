#!/usr/bin/env bash
# Prints what a cluster could leave on the machine, normalized so two runs compare with diff:
# network namespaces, links, addresses, routes, iptables (nft and legacy) and nft rules,
# mounts, top-level cgroup directories, and processes of the cluster's binaries.
# hack/test.sh takes it before up.sh and after down.sh and fails on any difference.
set -uo pipefail
section() { printf '## %s\n' "$1"; }
section netns; ip netns list 2>/dev/null
section links; ip -o link | sed 's/^[0-9]*: //; s/ link\/.*//'
section addresses; ip -o addr | sed 's/^[0-9]*: //; s/valid_lft.*//'
section routes; ip route
section iptables; iptables-save 2>/dev/null | { grep -v '^#' || true; } | sed 's/\[[0-9]*:[0-9]*\]//'
section iptables-legacy; iptables-legacy-save 2>/dev/null | { grep -v '^#' || true; } | sed 's/\[[0-9]*:[0-9]*\]//'
section nft; nft list ruleset 2>/dev/null
section mounts; sed 's/^[0-9]* [0-9]* [0-9]*:[0-9]* //' /proc/self/mountinfo | sort
section cgroups; ls -d /sys/fs/cgroup/*/*/ 2>/dev/null
section processes
# (grep finds nothing on a clean machine: that is the expected answer, not a failure.)
ps -eo comm= | { grep -E '^(containerd|containerd-shim|kubelet|kube-|etcd|runc|socat)' || true; } | sort | uniq -c
exit 0
