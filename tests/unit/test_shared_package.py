"""k2_shared: what the jobs and the operator both import (names, JobConfig, JVM flags), in one place.

The operator reaches nothing else of the project, so its image carries no Spark; the job code keeps its
`spark_jobs.contracts` / `.job_config` / `.jvm_options` imports, which only re-export k2_shared."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import k2_shared.contracts
import k2_shared.job_config
import k2_shared.jvm_options
import spark_jobs.contracts
import spark_jobs.job_config
import spark_jobs.jvm_options

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SHARED_MODULES = ("contracts", "job_config", "jvm_options")


def test_the_operator_imports_no_job_code_and_no_spark():
    modules = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import json, sys, k2_operator.handlers; print(json.dumps(sorted(sys.modules)))",
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        ).stdout
    )
    assert "k2_shared.job_config" in modules
    assert [
        m for m in modules if m.split(".")[0] in {"spark_jobs", "pyspark", "delta", "py4j", "k2_dev"}
    ] == []


def test_the_job_modules_only_re_export_the_shared_ones():
    """Nothing is defined twice: each spark_jobs module is one star import of its k2_shared twin."""
    for name in SHARED_MODULES:
        tree = ast.parse((REPO / "spark_jobs" / f"{name}.py").read_text())
        body = [
            node
            for node in tree.body
            if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        ]
        assert len(body) == 1 and isinstance(body[0], ast.ImportFrom)
        assert (body[0].module, [alias.name for alias in body[0].names]) == (f"k2_shared.{name}", ["*"])
    assert spark_jobs.contracts.JOBS is k2_shared.contracts.JOBS
    assert spark_jobs.job_config.JobConfig is k2_shared.job_config.JobConfig
    assert spark_jobs.job_config.ENV_OVERRIDES is k2_shared.job_config.ENV_OVERRIDES
    assert spark_jobs.jvm_options.with_jvm_options is k2_shared.jvm_options.with_jvm_options


def test_k2_shared_needs_only_the_standard_library_and_pyyaml():
    allowed = set(sys.stdlib_module_names) | {"yaml", "k2_shared"}
    imported = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for path in (REPO / "k2_shared").glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
        if not isinstance(node, ast.ImportFrom) or node.module
    }
    assert imported - allowed == set()


def test_the_operator_extra_pins_what_the_project_pins():
    """The operator image installs pyproject's `operator` extra: the same versions the jobs and tests run."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert set(project["optional-dependencies"]["operator"]) <= set(project["dependencies"])
