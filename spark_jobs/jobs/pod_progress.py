"""A Kubernetes driver reports its query's progress on its own pod, as an annotation the operator reads
(``status.jobs[<job>].lastProgressTime``; a Running driver silent past ``progressTimeoutSeconds`` is
Stalled).

The operator sets, through the pod's environment: ``K2_POD_NAME`` / ``K2_POD_NAMESPACE`` (downward API),
``K2_PROGRESS_ANNOTATION`` (the annotation's name) and ``K2_PROGRESS_REPORT_SECONDS`` (how often at most).
Without them (locally, in tests) nothing is reported. The driver's Role allows ``patch`` on its
pipeline's driver pods by name and nothing more. The ServiceAccount token is read from its file at
every report: bound tokens are rotated by the kubelet, and a token read once at start expires.

Progress means a new trigger finished (Spark reports one for an idle stream too, every
``spark.sql.streaming.noDataProgressEventInterval``), so an idle but healthy query is not Stalled.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("k2.jobs.pod_progress")

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def rfc3339(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class PodProgressReporter:
    api_url: str
    namespace: str
    pod: str
    annotation: str
    interval_seconds: float
    token_path: Path = SERVICE_ACCOUNT_DIR / "token"
    ca_path: Path | None = SERVICE_ACCOUNT_DIR / "ca.crt"
    #: The last progress seen (its id) and when it was seen; what was last written and when.
    _last_seen: object = None
    _progress_at: float | None = None
    _written: float | None = None
    _written_at: float = field(default=float("-inf"))

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> PodProgressReporter | None:
        env = os.environ if environ is None else environ
        names = ("K2_POD_NAME", "K2_POD_NAMESPACE", "K2_PROGRESS_ANNOTATION", "KUBERNETES_SERVICE_HOST")
        if not all(env.get(name) for name in names):
            return None
        host, port = env["KUBERNETES_SERVICE_HOST"], env.get("KUBERNETES_SERVICE_PORT", "443")
        host = f"[{host}]" if ":" in host else host
        return cls(
            api_url=f"https://{host}:{port}",
            namespace=env["K2_POD_NAMESPACE"],
            pod=env["K2_POD_NAME"],
            annotation=env["K2_PROGRESS_ANNOTATION"],
            interval_seconds=float(env.get("K2_PROGRESS_REPORT_SECONDS", "30")),
        )

    def observe(self, progress: dict[str, object] | None, now: float | None = None) -> bool:
        """Called from the driver's main loop with ``query.lastProgress``; writes the annotation when the
        query progressed since the last write and the interval has passed. True when it wrote."""
        now = time.time() if now is None else now
        if progress:
            identity = (
                progress.get("id"),
                progress.get("runId"),
                progress.get("batchId"),
                progress.get("timestamp"),
            )
            if identity != self._last_seen:
                self._last_seen, self._progress_at = identity, now
        if self._progress_at is None or self._progress_at == self._written:
            return False
        if now - self._written_at < self.interval_seconds:
            return False
        try:
            self.write(self._progress_at)
        except OSError as error:  # the API server unreachable, or a refusal: retry next interval
            log.warning("could not report progress", extra={"pod": self.pod, "error": str(error)[:500]})
            self._written_at = now
            return False
        self._written, self._written_at = self._progress_at, now
        return True

    def write(self, progress_at: float) -> None:
        """One merge patch of the pod's annotation (raises OSError, urllib's HTTPError included)."""
        body = json.dumps({"metadata": {"annotations": {self.annotation: rfc3339(progress_at)}}}).encode()
        request = urllib.request.Request(
            f"{self.api_url}/api/v1/namespaces/{self.namespace}/pods/{self.pod}",
            data=body,
            method="PATCH",
            headers={
                "Content-Type": "application/merge-patch+json",
                # Read at every write: the kubelet rotates bound tokens.
                "Authorization": f"Bearer {self.token_path.read_text().strip()}",
            },
        )
        context = ssl.create_default_context(cafile=str(self.ca_path) if self.ca_path else None)
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            response.read()
