"""monitoring/ as code: generated files current, rules checked and unit-tested by promtool, every
metric in rules and dashboards exported by K2's code or a documented kube-prometheus-stack series,
every expression parsed by promtool, dashboards templated, runbooks for every alert."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from monitoring import generate, promql, series
from monitoring.alerts import ALERT_NAMES, Thresholds, alert_rules
from monitoring.dashboards import dashboards, expressions
from monitoring.rule_tests import all_cases

pytestmark = pytest.mark.monitoring

ROOT = Path(__file__).resolve().parents[2]


def promtool(prometheus_bin: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(prometheus_bin / "promtool"), *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_generated_files_are_what_the_code_generates():
    assert generate.main(["--check"]) == 0, "run: python -m monitoring.generate"


def test_promtool_checks_the_rules(prometheus_bin):
    result = promtool(prometheus_bin, "check", "rules", str(generate.GENERATED / generate.RULES_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_unit_tests_every_alert(prometheus_bin):
    result = promtool(prometheus_bin, "test", "rules", generate.TESTS_FILE, cwd=generate.GENERATED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_a_healthy_and_a_just_under_case():
    cases = all_cases(Thresholds())
    for alert in ALERT_NAMES:
        mine = [c for c in cases if c.alert == alert]
        assert any(c.expected for c in mine), f"{alert}: no case fires it"
        silent = [c.name for c in mine if not c.expected]
        assert len(silent) >= 2, f"{alert}: needs a healthy and a just-under case, has {silent}"


def test_the_unit_tests_fail_against_a_rule_with_another_threshold(prometheus_bin, tmp_path):
    """The promtool tests can fail: rules built with a doubled DLQ threshold break the firing case."""
    from monitoring.alerts import rule_groups
    from monitoring.chart import to_yaml
    from monitoring.rule_tests import promtool_tests

    (tmp_path / "rules.yaml").write_text(to_yaml(rule_groups(Thresholds(dlq_ratio=0.2))))
    (tmp_path / "tests.yaml").write_text(to_yaml(promtool_tests(Thresholds(), "rules.yaml")))
    result = promtool(prometheus_bin, "test", "rules", "tests.yaml", cwd=tmp_path)
    assert result.returncode != 0
    assert "twice the DLQ ratio" in result.stdout + result.stderr


def all_expressions() -> dict[str, str]:
    found = {f"rule {r['alert']} ({r['labels']['severity']})": r["expr"] for r in alert_rules()}
    for name, dashboard in dashboards().items():
        for i, expr in enumerate(expressions(dashboard)):
            found[f"{name} #{i}"] = expr
    return found


def test_every_metric_is_exported_by_k2_or_a_documented_kube_prometheus_series():
    used: dict[str, set[str]] = {}
    for where, expr in all_expressions().items():
        for name in promql.metric_names(expr):
            used.setdefault(name, set()).add(where)
    unknown = {name: sorted(where) for name, where in used.items() if not series.is_known(name)}
    assert unknown == {}
    # The extraction finds what it should (it can fail: a rule with a typo is reported above).
    assert {"k2_records_processed_total", "container_memory_working_set_bytes"} <= set(used)


def test_every_expression_parses(prometheus_bin, tmp_path):
    """promtool parses each dashboard query (Grafana's variables substituted) as a recording rule."""
    rules = [
        {"record": f"k2:check:{i}", "expr": promql.substitute_grafana_variables(expr)}
        for i, expr in enumerate(all_expressions().values())
    ]
    path = tmp_path / "expressions.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "parse", "rules": rules}]}))
    result = promtool(prometheus_bin, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (a, b) (rate(x_total{l="v", m=~"a|b"}[5m])) / on (a) y', {"x_total", "y"}),
        ("histogram_quantile(0.99, sum by (le) (rate(h_bucket[10m]))) > 600", {"h_bucket"}),
        ('label_replace(increase(c[15m]), "namespace", "$1", "p", "(.*)") > 0', {"c"}),
        ("time() - max(g) and on (k) z == 0", {"g", "z"}),
    ],
)
def test_metric_names_are_extracted_from_promql(expr, names):
    assert promql.metric_names(expr) == names


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_dashboards_are_templated_by_datasource_namespace_and_pipeline(name):
    dashboard = dashboards()[name]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert set(variables) >= {"datasource", "namespace", "pipeline"}
    assert variables["datasource"]["type"] == "datasource"
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        for target in panel["targets"]:
            assert "$namespace" in target["expr"], (panel["title"], target["expr"])
            assert "$pipeline" in target["expr"], (panel["title"], target["expr"])


def test_every_alert_links_to_its_runbook_section():
    runbooks = (ROOT / "docs" / "runbooks.md").read_text()
    anchors = set(re.findall(r"^## (\S+)$", runbooks, flags=re.MULTILINE))
    for rule in alert_rules():
        url = rule["annotations"]["runbook_url"]
        assert url.split("#", 1)[1] in anchors, url
        assert f"**{rule['alert']}**" in runbooks
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
