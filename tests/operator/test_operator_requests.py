"""Issue 16, item 8: a new pipeline's five driver pods wait only for the requests they need.

CR -> five driver pods is bound by the requests the first reconciliation sends before the fifth pod, one
after another. This test runs the real reconciler in-process against the real API server and records
every request its client sends (the requests go through unchanged: a recording wrapper, not a mock),
then checks the order: the drivers' identity, the four lists and each job's ConfigMap before its pod;
the drivers' Services and the quality process's identity only after the fifth pod.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from k2_operator import naming as n
from k2_operator.kube_io import KubeApi
from k2_operator.reconciler import Reconciler
from kubernetes import client

from spark_jobs.contracts import JOB_NAMES
from tests.fixtures.operator_fixtures import OperatorKit, OperatorProcess

pytestmark = pytest.mark.operator

#: 4 driver identity objects (ServiceAccount, RoleBinding, progress Role and RoleBinding), 4 lists
#: (pods, ConfigMaps, Deployments, Services), then per job its ConfigMap and its pod.
REQUESTS_UP_TO_THE_FIFTH_POD = 4 + 4 + 2 * len(JOB_NAMES)


def recording(api_client: client.ApiClient) -> list[tuple[str, str]]:
    """Every (method, resource path) ``api_client`` sends from now on, in order."""
    sent: list[tuple[str, str]] = []
    request: Callable[..., Any] = api_client.rest_client.request

    def record(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        sent.append((method, url.split("?")[0]))
        return request(method, url, *args, **kwargs)

    api_client.rest_client.request = record
    return sent


def kind_of(path: str) -> str:
    """The resource a request path names: .../namespaces/ns/pods/name -> pods."""
    parts = path.split("/")
    index = parts.index("namespaces") + 2
    return parts[index] if index < len(parts) else "namespaces"


def test_a_new_pipelines_five_drivers_come_before_its_services_and_quality_identity(
    k2_operator: OperatorProcess, op: OperatorKit
) -> None:
    ns = op.namespace()
    k2_operator.stop()  # only this reconciliation may act on the pipeline
    try:
        body = op.apply_pipeline(ns, "requests")
        api_client = client.ApiClient(op.cluster.api_client.configuration)
        sent = recording(api_client)
        Reconciler(KubeApi(api_client)).reconcile(body)
    finally:
        k2_operator.start()
    posts = [(number, kind_of(path)) for number, (method, path) in enumerate(sent, 1) if method == "POST"]
    pods = [number for number, kind in posts if kind == "pods"]
    assert len(pods) == len(JOB_NAMES)
    assert pods[-1] == REQUESTS_UP_TO_THE_FIFTH_POD, sent[: pods[-1]]
    services = [number for number, kind in posts if kind == "services"]
    assert len(services) == len(JOB_NAMES) and min(services) > pods[-1]
    accounts = [number for number, kind in posts if kind == "serviceaccounts"]
    assert len(accounts) == 2 and accounts[0] < pods[0] < pods[-1] < accounts[1]  # drivers', quality's
    # Nothing was left out: every child is there after the one reconciliation, and the status.
    children = op.children(ns, "requests")
    assert (len(children["pods"]), len(children["services"])) == (len(JOB_NAMES), len(JOB_NAMES))
    assert len(children["configmaps"]) == len(JOB_NAMES)
    report = op.core.read_namespaced_config_map(n.quality_report_name("requests"), ns)  # 404 if missing
    assert report.metadata.owner_references[0].uid == body["metadata"]["uid"]
    names = {item.metadata.name for item in op.core.list_namespaced_service_account(ns).items}
    assert len(names - {"default"}) == 2, names
    assert op.status(ns, "requests")["observedGeneration"] == body["metadata"]["generation"]
