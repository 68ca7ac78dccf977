"""`python -m k2_operator`: the operator with K2's defaults (no peering, JSON logs, kopf's liveness
endpoint), watching all namespaces, or only those named in K2_OPERATOR_WATCH_NAMESPACES (comma-separated;
the Helm chart's `watchNamespaces`, which then grants Roles in those namespaces only). Extra arguments go
to `kopf run` (e.g. `--namespace k2`)."""

from __future__ import annotations

import os
import sys

from kopf.cli import main as kopf_main

LIVENESS = os.environ.get("K2_OPERATOR_LIVENESS", "http://0.0.0.0:8081/healthz")
WATCH_NAMESPACES_ENV = "K2_OPERATOR_WATCH_NAMESPACES"


def watch_namespaces(environ: dict[str, str] | os._Environ[str] = os.environ) -> list[str]:
    """The namespaces named in K2_OPERATOR_WATCH_NAMESPACES; empty means all namespaces."""
    return [name.strip() for name in environ.get(WATCH_NAMESPACES_ENV, "").split(",") if name.strip()]


def kopf_arguments(extra: list[str], namespaces: list[str]) -> list[str]:
    if any(arg.startswith(("-n", "--namespace", "-A", "--all-namespaces")) for arg in extra):
        scope: list[str] = []
    elif namespaces:
        scope = [f"--namespace={name}" for name in namespaces]
    else:
        scope = ["--all-namespaces"]
    return [
        "kopf",
        "run",
        "--standalone",
        "--log-format=json",
        f"--liveness={LIVENESS}",
        *scope,
        *extra,
        "-m",
        "k2_operator.handlers",
    ]


def main() -> None:
    sys.argv = kopf_arguments(sys.argv[1:], watch_namespaces())
    kopf_main()


if __name__ == "__main__":
    main()
