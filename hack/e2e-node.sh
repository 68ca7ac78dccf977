#!/usr/bin/env bash
# A real single-node Kubernetes cluster (kubelet, containerd, kube-proxy, CoreDNS and the control plane
# built from source) inside a network namespace it creates; see hack/k2_dev/kube_node.py.
#   hack/e2e-node.sh up|down|env [--state-dir DIR]
# Then: eval "$(hack/e2e-node.sh env)"; nsenter --net=/run/netns/$K2_E2E_NETNS kubectl get nodes
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
exec "$root/.venv/bin/python" -m k2_dev.kube_node "$@"
