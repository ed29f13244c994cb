#!/usr/bin/env bash
# README command 1: installs what is needed, builds, and runs Bulkhead on
# this one machine (single-machine mode).
#
#   ./scripts/run.sh            install, build, check the kernel, then start (or keep)
#                               the host (a host-mode API and bulkhead-node with its
#                               containerd), a virtual cluster's control plane and
#                               the node agent
#   ./scripts/run.sh status     what runs, the host's nodes and the agent's view
#   ./scripts/run.sh stop       stop them; pods keep running in their containers and the
#                               agent's enforcement stays in the kernel
#   ./scripts/run.sh uninstall  stop them, remove every container, sandbox, netns, cgroup
#                               and mount of the node, and the agent's programs and maps
#
# State lives in $BULKHEAD_HOME (default /var/lib/bulkhead): the admin's
# PKI (pki/, with the platform CA key), the agent's own certificates
# (agent-certs/: ca.crt, agent.crt, agent.key, revoked.crl, never the CA
# key), the metrics token, the cluster's SQLite store and kubeconfig, the
# agent's endpoints and state files, logs and pid files. Running it again
# keeps that state and renews a certificate with less than 3 days left.
#
# The host: $BULKHEAD_HOME/host/kubeconfig is the host API's admin
# kubeconfig; bulkhead-node runs its pods through its own containerd under
# $BULKHEAD_HOME/node. What is not here yet: the syncer and `bulkhead
# create` (the virtual cluster's pods do not reach the host yet) and the
# agent's host API source: the agent enforces the tenants and pods of its
# endpoints file ($BULKHEAD_HOME/endpoints.yaml, re-read when it changes).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

home=${BULKHEAD_HOME:-/var/lib/bulkhead}
agent_api=${BULKHEAD_AGENT_LISTEN:-127.0.0.1:9443}
agent_metrics=${BULKHEAD_METRICS_LISTEN:-127.0.0.1:9444}
cluster_listen=${BULKHEAD_CLUSTER_LISTEN:-127.0.0.1:6443}
host_listen=${BULKHEAD_HOST_LISTEN:-127.0.0.1:6444}
bin=$repo/build/release
verb=${1:-start}

die() {
  echo "run.sh: $*" >&2
  exit 1
}

case "$verb" in
  start | status | stop | uninstall) ;;
  -h | --help)
    sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "run.sh: unknown command \"$verb\"; use start, status, stop or uninstall (--help says more)" >&2
    exit 2
    ;;
esac
[[ $(id -u) -eq 0 ]] || die "needs root (apt-get, BPF and cgroups); run it as root"

# True when the pid file names a live process of one of our binaries (a
# stale file after a reboot may name somebody else's process).
running() {
  local pid exe
  [[ -f $1 ]] || return 1
  pid=$(cat "$1")
  exe=$(readlink "/proc/$pid/exe" 2> /dev/null) || return 1
  [[ $exe == "$bin"/agent/bulkhead-agent || $exe == "$bin"/controlplane/bulkhead-controlplane ||
    $exe == "$bin"/node/bulkhead-node ]]
}

# The node's containerd (started by bulkhead-node, which leaves it running).
containerd_pid() {
  pgrep -f -- "--config $home/node/containerd/config.toml" | head -1
}

node_args() {
  echo --kubeconfig "$home/host/kubeconfig" --state-dir "$home/node"
}

stop_one() { # name pidfile
  if running "$2"; then
    kill -TERM "$(cat "$2")" 2> /dev/null || true
    for _ in $(seq 100); do
      running "$2" || break
      sleep 0.1
    done
    if running "$2"; then kill -KILL "$(cat "$2")" 2> /dev/null || true; fi
    echo "stopped $1"
  fi
  rm -f "$2"
}

admin_env() {
  export BULKHEAD_AGENT=$agent_api BULKHEAD_CA=$home/pki/ca.crt \
    BULKHEAD_CERT=$home/pki/admin.crt BULKHEAD_KEY=$home/pki/admin.key
}

show_status() {
  if pid=$(containerd_pid) && [[ -n $pid ]]; then
    echo "containerd: running (pid $pid, log $home/node/containerd/containerd.log)"
  else
    echo "containerd: not running"
  fi
  for name in host node controlplane agent; do
    if running "$home/run/$name.pid"; then
      echo "$name: running (pid $(cat "$home/run/$name.pid"), log $home/logs/$name.log)"
    else
      echo "$name: not running"
    fi
  done
  if running "$home/run/agent.pid"; then
    admin_env
    echo "== bulkhead node status"
    "$bin/cli/bulkhead" node status || echo "(bulkhead node status failed; see $home/logs/agent.log)"
  fi
  if running "$home/run/host.pid"; then
    echo "== kubectl get nodes (the host, $home/host/kubeconfig)"
    kubectl --kubeconfig "$home/host/kubeconfig" --cache-dir "$home/kube-cache" get nodes -o wide ||
      echo "(kubectl failed; see $home/logs/host.log)"
  fi
  if running "$home/run/controlplane.pid" && command -v kubectl > /dev/null; then
    echo "== kubectl get namespaces (virtual cluster \"demo\")"
    kubectl --kubeconfig "$home/clusters/demo/kubeconfig" --cache-dir "$home/kube-cache" \
      get namespaces || echo "(kubectl failed; see $home/logs/controlplane.log)"
  fi
}

case "$verb" in
  status)
    [[ -x $bin/cli/bulkhead ]] || die "not built yet; run ./scripts/run.sh first"
    show_status
    exit 0
    ;;
  stop | uninstall)
    stop_one controlplane "$home/run/controlplane.pid"
    stop_one node "$home/run/node.pid"
    if [[ $verb == uninstall ]]; then
      # Every sandbox and container, containerd and its shims, the bridge,
      # CNI files, mounts, the node's state and its kubepods cgroups.
      [[ -x $bin/node/bulkhead-node ]] && "$bin/node/bulkhead-node" --uninstall $(node_args) &&
        echo "removed the node's containers, containerd, network and cgroups"
    elif pid=$(containerd_pid) && [[ -n $pid ]]; then
      kill -TERM "$pid" && echo "stopped containerd (pods keep running; start adopts them)"
    fi
    stop_one host "$home/run/host.pid"
    stop_one agent "$home/run/agent.pid"
    if [[ $verb == uninstall ]]; then
      [[ -x $bin/agent/bulkhead-agent ]] && "$bin/agent/bulkhead-agent" uninstall
      # The pods cgroup and the tenants' budget cgroups below it, in every
      # hierarchy, deepest first; a cgroup with processes stays.
      for top in $(awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/mounts); do
        [[ -d $top/bulkhead-pods ]] || continue
        find "$top/bulkhead-pods" -depth -type d -exec rmdir {} \; 2> /dev/null || true
        [[ -d $top/bulkhead-pods ]] &&
          echo "left $top/bulkhead-pods: processes still run below it (see its cgroup.procs)" >&2
      done
    else
      echo "the agent's enforcement stays in the kernel; './scripts/run.sh uninstall' removes it"
    fi
    exit 0
    ;;
esac

./scripts/install-deps.sh
echo "== build (release)"
mkdir -p build
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBULKHEAD_BUILD_TESTS=OFF \
  > build/release.configure.log 2>&1 || {
  cat build/release.configure.log
  exit 1
}
cmake --build build/release -j "$(nproc)"
"$bin/cli/bulkhead" version

echo "== bulkhead-agent check"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
"$bin/agent/bulkhead-agent" check || die "this node lacks what the agent needs (see above)"

mkdir -p "$home"/{pki,agent-certs,clusters,logs,run}
chmod 0700 "$home" "$home/pki" "$home/agent-certs"
if [[ ! -f $home/pki/ca.crt ]]; then
  echo "== certificates (platform CA, agent, admin) in $home/pki"
  "$bin/cli/bulkhead" certs init --dir "$home/pki"
fi
# Leaf certificates live 7 days: issue what is missing, renew what ends
# within 3 days (a running agent picks up its renewed files by itself).
for role in agent admin; do
  if [[ ! -f $home/pki/$role.crt ]]; then
    "$bin/cli/bulkhead" certs issue --role "$role" --dir "$home/pki" > /dev/null
  elif ! openssl x509 -noout -checkend $((3 * 86400)) -in "$home/pki/$role.crt" > /dev/null; then
    echo "== renewing the $role certificate"
    "$bin/cli/bulkhead" certs renew --name "$role" --dir "$home/pki" > /dev/null
  fi
done
# The agent's directory holds what a node may hold: the CA certificate, its
# own key and certificate and the revocation list; the CA key stays in pki/.
rm -f "$home/agent-certs/ca.key"
for file in agent.key agent.crt ca.crt revoked.crl; do
  [[ -f $home/pki/$file ]] || continue
  cmp -s "$home/pki/$file" "$home/agent-certs/$file" && continue
  install -m "$([[ $file == *.key ]] && echo 0600 || echo 0644)" "$home/pki/$file" \
    "$home/agent-certs/.$file.new"
  mv -f "$home/agent-certs/.$file.new" "$home/agent-certs/$file"
done
# The bearer token that unlocks the tenant series of the metrics.
if [[ ! -s $home/metrics.token ]]; then
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$home/metrics.token")
fi

if [[ ! -f $home/endpoints.yaml ]]; then
  cat > "$home/endpoints.yaml" << 'EOF'
# Tenants and pods the agent enforces on this machine (re-read when it changes).
# Shape (see docs/agent-api.md and docs/netpol.md):
#   node_address: 10.244.1.1
#   dns: [10.96.0.10]
#   pod_networks: [10.244.0.0/16]
#   endpoints:
#   - {tenant: team-a, pod: web-1, addresses: [10.244.1.11], cgroup: PODS/team-a/web-1}
# where PODS is the agent's pods cgroup on the cgroup v2 mount (run.sh: bulkhead-pods there).
# With a budget set, the agent makes bulkhead-pods/<tenant>/<pod> in every hierarchy;
# a pod's processes go in those cgroups.
endpoints: []
EOF
fi

# The agent's pods cgroup on the cgroup v2 mount, where its programs attach.
unified=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[[ -n $unified ]] || die "no cgroup v2 mount (see 'bulkhead-agent check')"
pods_cgroup=$unified/bulkhead-pods
mkdir -p "$pods_cgroup"

if running "$home/run/agent.pid"; then
  echo "== agent already running (pid $(cat "$home/run/agent.pid"))"
else
  echo "== starting the agent (API $agent_api, metrics http://$agent_metrics/metrics)"
  [[ -f $home/logs/agent.log ]] && mv "$home/logs/agent.log" "$home/logs/agent.log.1"
  setsid "$bin/agent/bulkhead-agent" --log-level info run \
    --endpoints-file "$home/endpoints.yaml" --pods-cgroup "$pods_cgroup" \
    --certs-dir "$home/agent-certs" --listen "$agent_api" --metrics-listen "$agent_metrics" \
    --metrics-token-file "$home/metrics.token" \
    --state-file "$home/agent-state.json" --budgets placed --budget-cgroup-root bulkhead-pods \
    >> "$home/logs/agent.log" 2>&1 < /dev/null &
  echo $! > "$home/run/agent.pid"
  for _ in $(seq 200); do
    grep -q "agent ready" "$home/logs/agent.log" && break
    running "$home/run/agent.pid" || {
      cat "$home/logs/agent.log" >&2
      die "the agent stopped (log above)"
    }
    sleep 0.1
  done
  grep -q "agent ready" "$home/logs/agent.log" || die "the agent is not ready after 20 s; see $home/logs/agent.log"
fi

# The host: a host-mode API and the node that runs its pods.
if running "$home/run/host.pid"; then
  echo "== host API already running (pid $(cat "$home/run/host.pid"))"
else
  echo "== starting the host API (https://$host_listen, $home/host/kubeconfig)"
  [[ -f $home/logs/host.log ]] && mv "$home/logs/host.log" "$home/logs/host.log.1"
  setsid "$bin/controlplane/bulkhead-controlplane" --host-mode --data-dir "$home/host" \
    --listen "$host_listen" --cluster-name host \
    >> "$home/logs/host.log" 2>&1 < /dev/null &
  echo $! > "$home/run/host.pid"
  for _ in $(seq 200); do
    [[ -f $home/host/kubeconfig ]] &&
      kubectl --kubeconfig "$home/host/kubeconfig" --cache-dir "$home/kube-cache" \
        get --raw /readyz > /dev/null 2>&1 && break
    running "$home/run/host.pid" || {
      cat "$home/logs/host.log" >&2
      die "the host API stopped (log above)"
    }
    sleep 0.1
  done
fi
if running "$home/run/node.pid"; then
  echo "== node already running (pid $(cat "$home/run/node.pid"))"
else
  echo "== starting bulkhead-node (containerd under $home/node)"
  [[ -f $home/logs/node.log ]] && mv "$home/logs/node.log" "$home/logs/node.log.1"
  # shellcheck disable=SC2046 # node_args is words by design
  setsid "$bin/node/bulkhead-node" $(node_args) >> "$home/logs/node.log" 2>&1 < /dev/null &
  echo $! > "$home/run/node.pid"
  for _ in $(seq 300); do
    grep -q "registered (" "$home/logs/node.log" && break
    running "$home/run/node.pid" || {
      cat "$home/logs/node.log" >&2
      die "the node stopped (log above)"
    }
    sleep 0.1
  done
  grep -q "registered (" "$home/logs/node.log" || die "the node did not register in 30 s; see $home/logs/node.log"
fi

if running "$home/run/controlplane.pid"; then
  echo "== control plane already running (pid $(cat "$home/run/controlplane.pid"))"
else
  echo "== starting the control plane of virtual cluster \"demo\" (https://$cluster_listen)"
  [[ -f $home/logs/controlplane.log ]] &&
    mv "$home/logs/controlplane.log" "$home/logs/controlplane.log.1"
  setsid "$bin/controlplane/bulkhead-controlplane" --data-dir "$home/clusters/demo" \
    --listen "$cluster_listen" --cluster-name demo \
    >> "$home/logs/controlplane.log" 2>&1 < /dev/null &
  echo $! > "$home/run/controlplane.pid"
  for _ in $(seq 200); do
    [[ -f $home/clusters/demo/kubeconfig ]] &&
      kubectl --kubeconfig "$home/clusters/demo/kubeconfig" --cache-dir "$home/kube-cache" \
        get --raw /readyz > /dev/null 2>&1 && break
    running "$home/run/controlplane.pid" || {
      cat "$home/logs/controlplane.log" >&2
      die "the control plane stopped (log above)"
    }
    sleep 0.1
  done
  [[ -f $home/clusters/demo/kubeconfig ]] ||
    die "the control plane is not ready after 20 s; see $home/logs/controlplane.log"
fi

show_status
cat << EOF

Bulkhead runs on this machine. Next:
  # the host: a one-node Kubernetes host whose pods run in real containers
  export KUBECONFIG=$home/host/kubeconfig
  kubectl create deployment web --image=bulkhead.local/busybox:1.35 --replicas=2 -- httpd -f -p 8080
  kubectl rollout status deployment/web && kubectl get pods -o wide
  # the virtual cluster "demo"
  export KUBECONFIG=$home/clusters/demo/kubeconfig
  kubectl create namespace shop
  # the node agent, as the platform admin: status, cross-tenant flows, metrics
  export BULKHEAD_AGENT=$agent_api BULKHEAD_CA=$home/pki/ca.crt \\
         BULKHEAD_CERT=$home/pki/admin.crt BULKHEAD_KEY=$home/pki/admin.key
  $bin/cli/bulkhead node status
  $bin/cli/bulkhead flows --follow
  curl -s http://$agent_metrics/metrics          # node-level series only
  curl -s -H "Authorization: Bearer \$(cat $home/metrics.token)" http://$agent_metrics/metrics
  # revoke a certificate: sign the list, hand it to the agent (re-read within 5 s)
  $bin/cli/bulkhead certs revoke SERIAL-OR-CRT-FILE --dir $home/pki
  ./scripts/run.sh    # copies pki/revoked.crl to the agent and renews expiring certificates
  # tenants and pods the agent enforces (re-read when it changes)
  \$EDITOR $home/endpoints.yaml
  ./scripts/run.sh status | stop | uninstall
EOF
