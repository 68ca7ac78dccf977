# Apache Kafka 4.4 in KRaft combined mode (broker + controller, one node) for the e2e cluster.
# Built by hack/build-images.sh; the context holds libs/ (the jars hack/fetch-kafka.sh fetched) and
# kafka-entrypoint.sh (writes server.properties from the environment, formats storage once).
FROM debian:bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 185 kafka \
 && useradd --uid 185 --gid 185 --home-dir /var/lib/kafka --no-create-home --shell /usr/sbin/nologin kafka \
 && mkdir -p /var/lib/kafka && chown 185:185 /var/lib/kafka

COPY libs/ /opt/kafka/libs/
COPY kafka-entrypoint.sh /opt/kafka/entrypoint.sh

USER 185
WORKDIR /var/lib/kafka
EXPOSE 9092
ENTRYPOINT ["/opt/kafka/entrypoint.sh"]
