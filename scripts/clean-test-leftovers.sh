#!/usr/bin/env bash
# Removes what a crashed or killed test run may have left: network
# namespaces named bh-*, bpffs pins under /sys/fs/bpf/bulkhead-test-* and
# bulkhead-bench-*, cgroups named bulkhead-test-* / bulkhead-check-* /
# bulkhead-node-test-* / bulkhead-cri-test-* / bulkhead-bench-* (processes
# inside are killed), and the private containerds of node tests (state
# under /tmp/bulkhead-containerd-*: torn down by bulkhead-node --uninstall
# when it is built, their processes killed otherwise). Tests clean up after
# themselves; this is for runs that were killed before they could. Touches
# nothing else.
set -uo pipefail
[[ $(id -u) -eq 0 ]] || exit 0
found=0

for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^bh-'); do
  ip netns delete "$ns" && found=1
done

for pin in /sys/fs/bpf/bulkhead-test-* /sys/fs/bpf/bulkhead-bench-*; do
  [[ -e $pin ]] || continue
  rm -rf "$pin" && found=1
done

# Node tests' containerds: the state directory names everything else
# (socket, bridge and CNI network in its config), so --uninstall finds it.
node_bin=build/ci/node/bulkhead-node
for state in /tmp/bulkhead-containerd-*; do
  [[ -d $state ]] || continue
  conflist=$(ls "$state"/cni/net.d/*.conflist 2>/dev/null | head -1)
  bridge=$( [[ -n $conflist ]] && grep -o '"bridge": *"[^"]*"' "$conflist" | sed 's/.*"\([^"]*\)"$/\1/')
  network=$( [[ -n $conflist ]] && grep -o '"name": *"[^"]*"' "$conflist" | head -1 | sed 's/.*"\([^"]*\)"$/\1/')
  if [[ -x $node_bin && -n $bridge && -n $network ]]; then
    "$node_bin" --uninstall --state-dir "$state" --bridge "$bridge" --network-name "$network" \
      --cgroup-root /bulkhead-leftover-none > /dev/null 2>&1
  fi
  pkill -9 -f -- "$state" 2>/dev/null
  for mnt in $(awk -v s="$state" 'index($2, s) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount -l "$mnt" 2>/dev/null
  done
  rm -rf "$state" && found=1
done
rm -f /tmp/bulkhead-containerd-*-node.log

remove_cgroup_tree() {
  local dir=$1
  local child
  for child in "$dir"/*/; do
    [[ -d $child ]] && remove_cgroup_tree "${child%/}"
  done
  if [[ -f $dir/cgroup.procs ]]; then
    local pid
    for _ in 1 2 3 4 5; do
      while read -r pid; do kill -9 "$pid" 2>/dev/null; done < "$dir/cgroup.procs"
      rmdir "$dir" 2>/dev/null && return 0
      sleep 0.1
    done
  fi
  rmdir "$dir" 2>/dev/null
}

for root in $(awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/mounts); do
  for dir in "$root"/bulkhead-test-* "$root"/bulkhead-check-* "$root"/bulkhead-node-test-* \
    "$root"/bulkhead-cri-test-* "$root"/bulkhead-bench-*; do
    [[ -d $dir ]] || continue
    remove_cgroup_tree "$dir" && found=1
  done
done

if ((found)); then
  echo "clean-test-leftovers: removed what an earlier, interrupted run left behind"
fi
exit 0
