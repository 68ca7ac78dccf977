"""The GitHub Actions workflow is valid (actionlint, built from its Go module by hack/build-actionlint.sh)
and runs every test tier that `make test` runs here."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "ci.yaml"


@pytest.fixture(scope="module")
def actionlint() -> str:
    if not shutil.which("go"):
        pytest.skip("actionlint is built from its Go module: needs Go")
    out = subprocess.run(
        [str(REPO / "hack" / "build-actionlint.sh")], check=True, stdout=subprocess.PIPE, text=True
    )
    return out.stdout.strip().splitlines()[-1]


def lint(actionlint: str, path: Path) -> subprocess.CompletedProcess[str]:
    # -shellcheck= / -pyflakes=: lint the workflow itself, not with whatever linters this host has.
    return subprocess.run(
        [actionlint, "-no-color", "-shellcheck=", "-pyflakes=", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )


def test_workflow_passes_actionlint(actionlint):
    result = lint(actionlint, WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_rejects_a_broken_workflow(actionlint, tmp_path):
    """The check above can fail: an undefined matrix key in an expression is an error."""
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    broken = WORKFLOW.read_text().replace("${{ matrix.tier }}", "${{ matrix.no_such_key }}", 1)
    (workflows / "ci.yaml").write_text(broken)
    result = lint(actionlint, workflows / "ci.yaml")
    assert result.returncode != 0
    assert "no_such_key" in result.stdout


def test_workflow_runs_every_tier_and_the_kind_e2e():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    markers = " ".join(
        entry["markers"] for entry in workflow["jobs"]["tests"]["strategy"]["matrix"]["include"]
    )
    for tier in ("unit", "integration", "chaos", "operator"):
        assert tier in markers, f"the workflow runs no {tier} tests"
    e2e = workflow["jobs"]["e2e-kind"]
    assert e2e["env"]["K2_E2E_CLUSTER"] == "kind"
    assert any("-m e2e" in step.get("run", "") for step in e2e["steps"])
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads `on` as True
    assert {"push", "pull_request"} <= set(triggers)
