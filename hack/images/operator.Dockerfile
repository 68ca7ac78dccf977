# The K2 operator image: Python 3.11 (bookworm's own), the kopf operator and only what it imports.
# No Java, no Spark: the operator only talks to the Kubernetes API. Built by hack/build-images.sh;
# the context holds wheels/ (a wheelhouse made on the host, installed offline).
FROM debian:bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 185 k2 \
 && useradd --uid 185 --gid 185 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin k2

ENV PATH=/opt/k2/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1

# pip runs from its own wheel (it is not installed); --no-index: only the wheelhouse is used. The
# wheelhouse's k2-operator wheel holds k2_operator and k2_shared only, and depends on pyproject's
# `operator` extra: neither pyspark nor any other part of the jobs is installed. The operator uses the
# Kubernetes client's synchronous API; its asyncio twin (kubernetes/aio, 68 MB of the image) goes.
# buildah's --layers cache keys a RUN by its text, not by what a bind mount holds: copying the
# wheelhouse's content key first makes a changed wheelhouse rebuild the install layer.
COPY wheels/.content-key /opt/k2/wheelhouse.content-key
RUN --mount=type=bind,source=wheels,target=/wheels \
    python3 -m venv --without-pip /opt/k2/venv \
 && set -- /wheels/pip-*.whl \
 && /opt/k2/venv/bin/python "$1/pip" install --no-cache-dir --no-index \
      --find-links /wheels -r /wheels/requirements.txt \
 && rm -rf /opt/k2/venv/lib/python3.11/site-packages/kubernetes/aio

USER 185
WORKDIR /tmp
# = kopf run --standalone -A --log-format=json -m k2_operator.handlers (see k2_operator/__main__.py)
ENTRYPOINT ["python", "-m", "k2_operator"]
