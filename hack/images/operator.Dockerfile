# The K2 operator image: Python 3.11 (bookworm's own), the kopf operator and what it imports.
# No Java, no Spark: the operator only talks to the Kubernetes API. Built by hack/build-images.sh;
# the context holds wheels/ (a wheelhouse made on the host, installed offline).
FROM debian:bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 185 k2 \
 && useradd --uid 185 --gid 185 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin k2

ENV PATH=/opt/k2/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1

# pip runs from its own wheel (it is not installed); --no-index: only the wheelhouse is used. The
# project wheel goes in without its dependencies: requirements.txt holds the operator's own (pyproject's
# `operator` extra), so neither pyspark nor anything else of the jobs is installed.
RUN --mount=type=bind,source=wheels,target=/wheels \
    python3 -m venv --without-pip /opt/k2/venv \
 && /opt/k2/venv/bin/python /wheels/pip-*.whl/pip install --no-cache-dir --no-index \
      --find-links /wheels -r /wheels/requirements.txt \
 && /opt/k2/venv/bin/python /wheels/pip-*.whl/pip install --no-cache-dir --no-index --no-deps \
      /wheels/k2_streaming-*.whl

USER 185
WORKDIR /tmp
# = kopf run --standalone -A --log-format=json -m k2_operator.handlers (see k2_operator/__main__.py)
ENTRYPOINT ["python", "-m", "k2_operator"]
