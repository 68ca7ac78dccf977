"""Per-job spec hash and render hash.

The spec hash is a digest of the job's slice of the spec, as the operator reads it (builders.JobInputs:
job config, this job's planned cores and memory, image, pull policy, the Secrets it references, Spark
conf, volume) plus :data:`RENDER_VERSION`. It is stored as the `k2.dev/spec-hash` annotation on each
child; a driver whose annotation differs from the desired hash is replaced, the other drivers keep
running. How the builders render those inputs into a Pod, Service and ConfigMap is NOT hashed: an
operator upgrade that only changes rendering details restarts no driver. Bump RENDER_VERSION when a
rendering change must reach running drivers (all of them restart, Bronze first, then Silver, then Gold).

The render hash (`k2.dev/render-hash`) is a digest of a rendered child: a ConfigMap or Service whose
render hash differs is rewritten in place (the next driver started reads the new one), which restarts
nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from k2_operator.naming import ANNOTATION_RENDER_HASH, ANNOTATION_SPEC_HASH

HASH_LENGTH = 16

#: Bump to roll a rendering change out to running drivers (see the module docstring).
RENDER_VERSION = 1


def inputs_hash(inputs: Any) -> str:
    """The spec hash of one job: its inputs (a dataclass) and the render version; the owner's uid is
    left out (a re-created pipeline's children are new objects anyway)."""
    data = dataclasses.asdict(inputs)
    data.get("pipeline", {}).pop("uid", None)
    canonical = json.dumps(
        {"render_version": RENDER_VERSION, "inputs": data}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]


def spec_hash(*objects: dict[str, Any]) -> str:
    """A digest of rendered objects (without their hash annotations): the render hash."""
    canonical = json.dumps([_without_hash(obj) for obj in objects], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]


render_hash = spec_hash


def stamp(obj: dict[str, Any], digest: str, *, rendered: bool = False) -> dict[str, Any]:
    """``obj`` carrying ``digest`` as its spec-hash annotation and, with ``rendered``, its own render
    hash. ``obj`` is left as it was; only its metadata and annotations are copied, everything below
    them is shared with it (the builders' objects are fresh; a deep copy of each of them, on every
    reconciliation, was a quarter of a reconciliation's CPU)."""
    annotations = {**(obj["metadata"].get("annotations") or {}), ANNOTATION_SPEC_HASH: digest}
    if rendered:
        annotations[ANNOTATION_RENDER_HASH] = render_hash(obj)
    return {**obj, "metadata": {**obj["metadata"], "annotations": annotations}}


def _annotation(obj: dict[str, Any] | None, key: str) -> str | None:
    if obj is None:
        return None
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(key)
    return str(value) if value is not None else None


def render_hash_of(obj: dict[str, Any] | None) -> str | None:
    """The render-hash annotation of an object read from the API (None if absent or no object)."""
    return _annotation(obj, ANNOTATION_RENDER_HASH)


def same_child(existing: dict[str, Any] | None, desired: dict[str, Any]) -> bool:
    """True when ``existing`` carries ``desired``'s spec hash and render hash (nothing to write)."""
    return (
        existing is not None
        and hash_of(existing) == hash_of(desired)
        and render_hash_of(existing) == render_hash_of(desired)
    )


def hash_of(obj: dict[str, Any] | None) -> str | None:
    """The spec-hash annotation of an object read from the API (None if absent or no object)."""
    return _annotation(obj, ANNOTATION_SPEC_HASH)


def _without_hash(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` without its hash annotations; copies only the dicts on the way to them (the rest is
    shared with ``obj``, which is only read: this is hashed, never written)."""
    if "metadata" not in obj:
        return obj
    metadata = dict(obj["metadata"])
    annotations = metadata.get("annotations")
    if annotations is not None:
        annotations = {
            key: value
            for key, value in annotations.items()
            if key not in (ANNOTATION_SPEC_HASH, ANNOTATION_RENDER_HASH)
        }
        if annotations:
            metadata["annotations"] = annotations
        else:
            del metadata["annotations"]
    return {**obj, "metadata": metadata}
