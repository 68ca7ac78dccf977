"""Where the fetched server files live. The hack/fetch-*.sh scripts are the one source of truth for
versions and cache folders: they are idempotent and print the folder, so asking them is cheap
(milliseconds once cached) and fetches on a fresh machine."""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@cache
def kafka_home() -> Path:
    """Folder with Kafka's jars under libs/ (K2_KAFKA_HOME overrides)."""
    return _fetched("K2_KAFKA_HOME", "fetch-kafka.sh")


@cache
def apicurio_home() -> Path:
    """Folder with Apicurio Registry's quarkus-run.jar (K2_APICURIO_HOME overrides)."""
    return _fetched("K2_APICURIO_HOME", "fetch-schema-registry.sh")


def _fetched(env_var: str, script: str) -> Path:
    override = os.environ.get(env_var)
    if override:
        return Path(override)
    result = subprocess.run(
        [str(REPO_ROOT / "hack" / script)], capture_output=True, text=True, check=False, timeout=900
    )
    if result.returncode != 0:
        raise RuntimeError(f"hack/{script} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return Path(result.stdout.strip().splitlines()[-1])
