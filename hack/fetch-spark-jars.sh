#!/usr/bin/env bash
# Copy the Kafka/Avro/Delta jars Spark needs into ~/.cache/k2/jars/<versions>/ (idempotent).
# Prints the folder. spark_jobs.spark_session reads the same folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
pom="$here/spark-jars-pom.xml"
spark_v=$(sed -n 's:.*<spark.version>\(.*\)</spark.version>.*:\1:p' "$pom")
delta_v=$(sed -n 's:.*<delta.version>\(.*\)</delta.version>.*:\1:p' "$pom")
pom_hash=$(sha256sum "$pom" | cut -c1-8)
dest="${XDG_CACHE_HOME:-$HOME/.cache}/k2/jars/spark-${spark_v}_delta-${delta_v}_${pom_hash}"
if [ -f "$dest/.complete" ]; then
  echo "$dest"
  exit 0
fi
echo "fetching Spark jars into $dest" >&2
tmp="$dest.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp"
mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$tmp" >&2
rm -rf "$dest" && mv "$tmp" "$dest" && touch "$dest/.complete"
echo "$dest"
