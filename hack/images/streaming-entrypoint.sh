#!/bin/bash
# Entrypoint of the K2 job image.
#
# Spark's Kubernetes scheduler starts each executor pod from this image with the single argument
# `executor` and describes the executor in SPARK_* environment variables; this turns them into the
# executor JVM's command line. Anything else (spark-submit in a driver pod, `k2 feed`, a shell) runs
# as given.
set -euo pipefail

if [ "${1:-}" != executor ]; then
  exec "$@"
fi

# The driver passes executor JVM options one per variable, SPARK_JAVA_OPT_<n>, to be used in n order.
java_options=()
while IFS= read -r assignment; do
  java_options+=("${assignment#*=}")
done < <(env | grep '^SPARK_JAVA_OPT_' | sort -t_ -k4 -n)

# K2's jars live in pyspark's own jars folder, so this one classpath holds Spark, Delta, Kafka, Avro.
classpath="${SPARK_CLASSPATH:+$SPARK_CLASSPATH:}$SPARK_HOME/jars/*"

exec "$JAVA_HOME/bin/java" "${java_options[@]}" \
  -Xms"$SPARK_EXECUTOR_MEMORY" -Xmx"$SPARK_EXECUTOR_MEMORY" \
  -cp "$classpath" org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
  --driver-url "$SPARK_DRIVER_URL" \
  --executor-id "$SPARK_EXECUTOR_ID" \
  --cores "$SPARK_EXECUTOR_CORES" \
  --app-id "$SPARK_APPLICATION_ID" \
  --hostname "$SPARK_EXECUTOR_POD_IP" \
  --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" \
  --podName "$SPARK_EXECUTOR_POD_NAME"
