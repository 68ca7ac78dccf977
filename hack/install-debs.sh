#!/usr/bin/env bash
# The Debian packages the test tiers need beyond the machine's toolchains, installed when missing (a
# fresh machine has none of them): jq (build-kube.sh), buildah + mmdebstrap + runc (build-images.sh),
# containerd + runc + the CNI plugins + iptables (the e2e node). apt's package lists are refreshed
# first, once, because a fresh machine's lists may be empty or old. No service is started.
set -euo pipefail
log() { printf '[install-debs] %s\n' "$*" >&2; }

#       probe (a command, or a path)   Debian package
wanted=(jq:jq buildah:buildah mmdebstrap:mmdebstrap runc:runc containerd:containerd
  /usr/lib/cni/bridge:containernetworking-plugins iptables:iptables)
missing=()
for entry in "${wanted[@]}"; do
  probe="${entry%%:*}" package="${entry#*:}"
  if [ "${probe:0:1}" = / ]; then [ -e "$probe" ] && continue
  else command -v "$probe" >/dev/null && continue; fi
  missing+=("$package")
done
[ "${#missing[@]}" -gt 0 ] || exit 0
[ "$(id -u)" = 0 ] || { log "need root to apt-get install ${missing[*]}"; exit 1; }
log "apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
