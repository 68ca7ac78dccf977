"""The quality process's report to its StreamingPipeline: a small JSON summary of each check's last
run, written to a ConfigMap the operator created for it (the operator copies it into the
pipeline's ``status.quality``, so the pipeline's status has one writer)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from spark_jobs.quality.checks import CheckResult, Status, worst

log = logging.getLogger("k2.quality")

#: The ConfigMap key holding the summary (JSON).
SUMMARY_KEY: Final = "summary.json"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def summarize(last_results: Mapping[str, Sequence[CheckResult]]) -> dict[str, Any]:
    """{lastRun, worstStatus, checks: {check: {status, lastRun, scopes, notOk}}} of the last runs."""
    checks: dict[str, Any] = {}
    for name, results in sorted(last_results.items()):
        if not results:
            continue
        checks[name] = {
            "status": worst(results).label,
            "lastRun": _rfc3339(max(r.checked_at for r in results)),
            "scopes": len(results),
            "notOk": sorted(r.scope for r in results if r.status is not Status.OK)[:10],
        }
    statuses = [Status[c["status"].upper()] for c in checks.values()]
    return {
        "lastRun": max((c["lastRun"] for c in checks.values()), default=None),
        "worstStatus": max(statuses, default=Status.OK).label if checks else None,
        "checks": checks,
    }


class ConfigMapReporter:
    """After each run, replaces the summary in ConfigMap ``name`` (in-cluster credentials of the
    quality pod's ServiceAccount, allowed to get and update that one ConfigMap)."""

    def __init__(self, name: str, namespace: str | None = None, api: Any = None) -> None:
        self.name = name
        self.namespace = namespace or _own_namespace()
        if api is None:
            from kubernetes import client, config

            config.load_incluster_config()
            api = client.CoreV1Api()
        self.api = api
        self.last: dict[str, list[CheckResult]] = {}

    def __call__(self, check: str, results: list[CheckResult]) -> None:
        self.last[check] = results
        try:
            # Read, change the data, write back: labels and the owner reference stay the operator's.
            config_map = self.api.read_namespaced_config_map(self.name, self.namespace)
            config_map.data = {SUMMARY_KEY: json.dumps(summarize(self.last), sort_keys=True)}
            self.api.replace_namespaced_config_map(self.name, self.namespace, config_map)
        except Exception:  # reporting must never stop the checks; the next run retries
            log.exception("could not write the quality summary to ConfigMap %s", self.name)


def _own_namespace() -> str:
    path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    if os.path.exists(path):
        with open(path) as f:
            return f.read().strip()
    return os.environ.get("K2_NAMESPACE", "default")
