#!/usr/bin/env bash
# Copy Apache Kafka's jars (broker, KRaft, perf tools, an SLF4J binding) into
# ~/.cache/k2/kafka/<version>/libs (idempotent). Prints the folder.
# spark_jobs/local_infra/kafka_broker.py runs them with `java -cp libs/*`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pom="$here/kafka-pom.xml"
kafka_v=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
dest="${XDG_CACHE_HOME:-$HOME/.cache}/k2/kafka/${kafka_v}"
stamp="$dest/.complete-$(sha256sum "$pom" | cut -c1-8)"
if [ -f "$stamp" ]; then
  echo "$dest"
  exit 0
fi
echo "fetching Kafka ${kafka_v} jars into $dest" >&2
tmp="$dest.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp/libs"
mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DoutputDirectory="$tmp/libs" >&2
rm -rf "$dest" && mv "$tmp" "$dest" && touch "$stamp"
echo "$dest"
