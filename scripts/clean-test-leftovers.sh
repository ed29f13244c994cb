#!/usr/bin/env bash
# Removes what a crashed or killed test run may have left: network
# namespaces named bh-*, bpffs pins under /sys/fs/bpf/bulkhead-test-* and
# bulkhead-bench-*, and cgroups named bulkhead-test-* / bulkhead-check-*
# (processes inside are killed). Tests clean up after themselves; this is
# for runs that were killed before they could. Touches nothing else.
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

for root in /sys/fs/cgroup/unified /sys/fs/cgroup /sys/fs/cgroup/cpu /sys/fs/cgroup/cpuacct \
  /sys/fs/cgroup/memory /sys/fs/cgroup/pids /sys/fs/cgroup/cpuset; do
  for dir in "$root"/bulkhead-test-* "$root"/bulkhead-check-*; do
    [[ -d $dir ]] || continue
    remove_cgroup_tree "$dir" && found=1
  done
done

if ((found)); then
  echo "clean-test-leftovers: removed what an earlier, interrupted run left behind"
fi
exit 0
