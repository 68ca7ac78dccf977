#!/bin/sh
# Single-node KRaft broker. Environment (not KAFKA_PORT: a Service named kafka injects that as
# tcp://IP:PORT into every pod of its namespace unless enableServiceLinks is false):
#   KAFKA_ADVERTISED_HOST  the name clients use (a Service's DNS name); required
#   KAFKA_CLIENT_PORT      client port (9092)          KAFKA_DATA_DIR  log dirs (/var/lib/kafka/data)
#   KAFKA_HEAP             -Xmx/-Xms (256m)            KAFKA_PARTITIONS default partitions (3)
#   KAFKA_AUTO_CREATE_TOPICS  true: topics appear on first use (false)
set -eu
: "${KAFKA_ADVERTISED_HOST:?set KAFKA_ADVERTISED_HOST to the broker's Service name}"
port="${KAFKA_CLIENT_PORT:-9092}"
data="${KAFKA_DATA_DIR:-/var/lib/kafka/data}"
heap="${KAFKA_HEAP:-256m}"
cp='/opt/kafka/libs/*'
config=/tmp/server.properties
cat >"$config" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:9093
listeners=PLAINTEXT://0.0.0.0:${port},CONTROLLER://127.0.0.1:9093
advertised.listeners=PLAINTEXT://${KAFKA_ADVERTISED_HOST}:${port},CONTROLLER://127.0.0.1:9093
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${data}
num.partitions=${KAFKA_PARTITIONS:-3}
auto.create.topics.enable=${KAFKA_AUTO_CREATE_TOPICS:-false}
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
jvm="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k"
if [ ! -f "$data/meta.properties" ]; then
  cluster_id="$(java -Xmx128m $jvm -cp "$cp" kafka.tools.StorageTool random-uuid)"
  java -Xmx128m $jvm -cp "$cp" kafka.tools.StorageTool format --standalone --cluster-id "$cluster_id" --config "$config"
fi
exec java "-Xms$heap" "-Xmx$heap" $jvm -cp "$cp" kafka.Kafka "$config"
