"""`python -m k2_operator`: the operator with K2's defaults (all namespaces, no peering, JSON logs,
kopf's liveness endpoint). Extra arguments go to `kopf run` (e.g. `--namespace k2`)."""

from __future__ import annotations

import os
import sys

from kopf.cli import main as kopf_main

LIVENESS = os.environ.get("K2_OPERATOR_LIVENESS", "http://0.0.0.0:8081/healthz")


def main() -> None:
    extra = sys.argv[1:]
    scope = [] if any(arg.startswith(("-n", "--namespace")) for arg in extra) else ["--all-namespaces"]
    sys.argv = [
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
    kopf_main()


if __name__ == "__main__":
    main()
