#!/usr/bin/env bash
# promtool and prometheus from Debian's `prometheus` package, unpacked (never installed: no service
# starts) into ~/.cache/k2/prometheus/<version>/bin. Prints that folder. The monitoring tests use
# promtool to check and unit-test the alert rules, and run prometheus on 127.0.0.1 to scrape jobs.
set -euo pipefail
# The version Debian offers (bookworm: 2.42.0+ds-5+deb12u1), or K2_PROMETHEUS_DEB_VERSION.
candidate() { apt-cache policy prometheus 2>/dev/null | sed -n 's/^ *Candidate: //p'; }
version="${K2_PROMETHEUS_DEB_VERSION:-$(candidate)}"
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
  apt-get update -qq >&2  # no package lists yet (a fresh machine)
  version="$(candidate)"
fi
[ -n "$version" ] && [ "$version" != "(none)" ] || { echo "no prometheus package in apt's sources" >&2; exit 1; }
dest="${XDG_CACHE_HOME:-$HOME/.cache}/k2/prometheus/${version}"
if [ -x "$dest/bin/promtool" ] && [ -x "$dest/bin/prometheus" ]; then
  echo "$dest/bin"
  exit 0
fi
echo "fetching Debian's prometheus ${version} into $dest" >&2
tmp="$dest.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp/deb" "$tmp/root"
trap 'rm -rf "$tmp"' EXIT
if ! apt-cache show "prometheus=${version}" >/dev/null 2>&1; then
  apt-get update -qq >&2  # a pinned version the current lists do not know yet
fi
(cd "$tmp/deb" && apt-get download -qq "prometheus=${version}" >&2)
dpkg-deb -x "$tmp"/deb/prometheus_*.deb "$tmp/root"
mkdir -p "$tmp/bin"
cp "$tmp/root/usr/bin/prometheus" "$tmp/root/usr/bin/promtool" "$tmp/bin/"
rm -rf "$dest" && mkdir -p "$dest" && mv "$tmp/bin" "$dest/bin"
echo "$dest/bin"
