"""Per-job spec hash: a digest of exactly what one job's children contain.

It is computed over the rendered children themselves (ConfigMap data, Service and Pod), so anything that
changes a job's objects changes its hash, and a change to another job, or to the pipeline's status,
does not. The hash is stored as the `k2.dev/spec-hash` annotation on each child; a driver whose
annotation differs from the desired hash is replaced, the other drivers keep running.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from k2_operator.naming import ANNOTATION_SPEC_HASH

HASH_LENGTH = 16


def spec_hash(*objects: dict[str, Any]) -> str:
    canonical = json.dumps([_without_hash(obj) for obj in objects], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]


def stamp(obj: dict[str, Any], digest: str) -> dict[str, Any]:
    """A copy of ``obj`` carrying ``digest`` as its spec-hash annotation."""
    stamped = copy.deepcopy(obj)
    stamped["metadata"].setdefault("annotations", {})[ANNOTATION_SPEC_HASH] = digest
    return stamped


def hash_of(obj: dict[str, Any] | None) -> str | None:
    """The spec-hash annotation of an object read from the API (None if absent or no object)."""
    if obj is None:
        return None
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(ANNOTATION_SPEC_HASH)
    return str(value) if value is not None else None


def _without_hash(obj: dict[str, Any]) -> dict[str, Any]:
    clean = copy.deepcopy(obj)
    metadata = clean.get("metadata", {})
    annotations = metadata.get("annotations")
    if annotations is not None:
        annotations.pop(ANNOTATION_SPEC_HASH, None)
        if not annotations:
            del metadata["annotations"]
    return clean
