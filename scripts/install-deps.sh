#!/usr/bin/env bash
# Installs every build and test dependency of Bulkhead with apt-get.
# Idempotent: when every package is already installed it only checks and returns.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang llvm clang-format clang-tidy
  # fuzzing (scripts/fuzz.sh): libFuzzer and clang's sanitizer runtimes
  libclang-rt-dev
  # control plane <-> agent
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # datapath
  libbpf-dev bpftool libelf-dev zlib1g-dev linux-libc-dev
  # budgets
  libcgroup-dev
  # common
  libssl-dev libspdlog-dev libfmt-dev libcli11-dev libyaml-cpp-dev nlohmann-json3-dev
  libsqlite3-dev libboost1.81-dev libboost-json1.81-dev
  # tests
  libgtest-dev libgmock-dev libbenchmark-dev iproute2 iptables iperf3
  # certificates with hand-made subjects in tests; run.sh's renewal check
  openssl
  # agent metrics e2e: a real Prometheus scraping the agent
  prometheus
  # control plane e2e: the official Python client
  python3-kubernetes curl
  # the node (bulkhead-node): containerd with its CRI plugin, runc, the CNI
  # bridge and host-local plugins, and busybox for the offline image
  containerd runc containernetworking-plugins busybox-static
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages (${missing[*]}); run as root so apt-get can install them" >&2
  exit 1
fi

echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
