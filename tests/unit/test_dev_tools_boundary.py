"""The dev tools (hack/k2_dev) stay outside the product: the operator and the jobs never import them,
so an image can be built without them. `spark_jobs/cli.py` is the one exception: it offers `k2 dev`
when k2_dev is installed, and skips it when not."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = (REPO / "operator" / "k2_operator", REPO / "spark_jobs")
CLI = REPO / "spark_jobs" / "cli.py"


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_product_packages_do_not_import_dev_tools():
    offenders = [
        f"{path.relative_to(REPO)}: {module}"
        for package in PRODUCT_PACKAGES
        for path in sorted(package.rglob("*.py"))
        if path != CLI
        for module in imported_modules(path)
        if module == "k2_dev" or module.startswith("k2_dev.")
    ]
    assert offenders == []


def test_cli_offers_dev_only_when_dev_tools_are_installed(monkeypatch):
    import importlib.util

    from spark_jobs import cli

    assert "dev" in cli.build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "k2_dev" else real_find_spec(name, *a)
    )
    assert "dev" not in cli.build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
