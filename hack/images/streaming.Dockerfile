# The K2 job image: drivers, executors and feeds all run it.
# Java 17 JRE + Python 3.11 (bookworm's own), the project installed from its wheel with pyspark and
# delta-spark, and the pinned Kafka/Avro/Delta jars inside pyspark's jars folder, so they are on the
# JVM classpath from the start (spark-submit in client mode starts the driver JVM before any
# SparkSession setting could add them). Built by hack/build-images.sh; the context holds wheels/
# (a wheelhouse made on the host: nothing is downloaded or compiled from source here), jars/ and
# entrypoint.sh.
FROM debian:bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless python3 tini \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && ln -s "$(dirname "$(dirname "$(readlink -f /usr/bin/java)")")" /opt/java \
 && groupadd --gid 185 k2 \
 && useradd --uid 185 --gid 185 --home-dir /opt/k2/work --no-create-home --shell /usr/sbin/nologin k2 \
 && mkdir -p /opt/k2/work && chown 185:185 /opt/k2/work

ENV JAVA_HOME=/opt/java \
    SPARK_HOME=/opt/k2/venv/lib/python3.11/site-packages/pyspark \
    PYSPARK_PYTHON=/opt/k2/venv/bin/python \
    PATH=/opt/k2/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1

# pip runs from its own wheel (it is not installed); --no-index: only the wheelhouse is used.
# buildah's --layers cache keys a RUN by its text, not by what a bind mount holds: copying the
# wheelhouse's content key first makes a changed wheelhouse rebuild the install layer.
COPY wheels/.content-key /opt/k2/wheelhouse.content-key
RUN --mount=type=bind,source=wheels,target=/wheels \
    python3 -m venv --without-pip /opt/k2/venv \
 && set -- /wheels/pip-*.whl \
 && /opt/k2/venv/bin/python "$1/pip" install --no-cache-dir --no-index \
      --find-links /wheels -r /wheels/requirements.txt

COPY jars/*.jar ${SPARK_HOME}/jars/
COPY entrypoint.sh /opt/k2/entrypoint.sh

USER 185
WORKDIR /opt/k2/work
ENTRYPOINT ["/usr/bin/tini", "-s", "--", "/opt/k2/entrypoint.sh"]
CMD ["k2", "--help"]
