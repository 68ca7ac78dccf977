"""The typed StreamingPipeline spec against its single source, crds/streamingpipelines.k2.dev.yaml:
same defaults, same Spark conf denylist, the example CR parses; plus the model's own behaviour."""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from k2_operator.pipeline_spec import (
    SPARK_CONF_DENIED_PREFIXES,
    SPARK_CONF_DENYLIST,
    PipelineSpec,
    PipelineSpecError,
    spark_conf_refusal,
)

from spark_jobs.contracts import JOB_NAMES, raw_topic
from spark_jobs.job_config import DEFAULT_MAX_TRADE_AGE, REPLAY_MAX_TRADE_AGE, JobConfig

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]
CRD = yaml.safe_load((REPO_ROOT / "crds" / "streamingpipelines.k2.dev.yaml").read_text())
EXAMPLE = yaml.safe_load((REPO_ROOT / "examples" / "streamingpipeline.yaml").read_text())
SPEC_SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]

MINIMAL_SPEC: dict[str, Any] = {
    "image": "k2/streaming:test",
    "kafka": {"bootstrapServers": "kafka:9092"},
    "schemaRegistry": {"url": "http://registry:8080/apis/ccompat/v7"},
    "storage": {
        "tablesUri": "file:///data/tables",
        "checkpointsUri": "file:///data/checkpoints",
        "volume": {"claimName": "k2-data", "mountPath": "/data"},
    },
    "exchanges": [{"name": "binance", "symbols": ["BTCUSDT"]}, {"name": "kraken", "symbols": ["BTC/USD"]}],
}
#: MINIMAL_SPEC plus every optional object with only its required fields: the defaults inside such an
#: object apply only when it is present.
MINIMAL_WITH_OPTIONAL_OBJECTS: dict[str, Any] = copy.deepcopy(MINIMAL_SPEC)
MINIMAL_WITH_OPTIONAL_OBJECTS["kafka"]["credentialsSecretRef"] = {"name": "kafka-auth"}
MINIMAL_WITH_OPTIONAL_OBJECTS["schemaRegistry"]["credentialsSecretRef"] = {"name": "registry-auth"}


def crd_defaults(schema: dict[str, Any], path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every `default` under `schema`, keyed by its path of property names (objects only: no list
    item in this CRD has a default, which test_no_defaults_inside_lists checks)."""
    found: dict[tuple[str, ...], Any] = {}
    if "default" in schema and path:
        found[path] = schema["default"]
    for name, child in schema.get("properties", {}).items():
        found |= crd_defaults(child, (*path, name))
    return found


def lookup(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


def leaf_paths(data: Any, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    if isinstance(data, dict) and data:
        return set().union(*(leaf_paths(v, (*path, k)) for k, v in data.items()))
    return {path}


def test_every_crd_default_is_the_python_default() -> None:
    defaults = crd_defaults(SPEC_SCHEMA)
    assert len(defaults) >= 20, "the walk found too few defaults: is SPEC_SCHEMA the spec?"
    python = PipelineSpec.from_cr_spec(MINIMAL_WITH_OPTIONAL_OBJECTS).to_cr_spec()
    for path, default in defaults.items():
        if default == {}:  # an object defaulted to empty, then its own fields' defaults apply
            assert isinstance(lookup(python, path), dict), f"spec.{'.'.join(path)}"
        else:
            assert lookup(python, path) == default, f"spec.{'.'.join(path)}"


def test_every_python_default_is_a_crd_default() -> None:
    python = PipelineSpec.from_cr_spec(MINIMAL_WITH_OPTIONAL_OBJECTS).to_cr_spec()
    exchanges = python.pop("exchanges")
    added = leaf_paths(python) - leaf_paths(MINIMAL_WITH_OPTIONAL_OBJECTS)
    # Empty maps are "nothing set", not defaults.
    added = {p for p in added if lookup(python, p) != {}}
    defaults = crd_defaults(SPEC_SCHEMA)
    assert added - set(defaults) == set()
    # The one value the CRD cannot default (it depends on another field): the topic of each exchange.
    assert [e["topic"] for e in exchanges] == [raw_topic("binance"), raw_topic("kraken")]


def test_no_defaults_inside_lists() -> None:
    def walk(schema: dict[str, Any], in_list: bool) -> list[str]:
        bad = ["default"] if in_list and "default" in schema else []
        for child in schema.get("properties", {}).values():
            bad += walk(child, in_list)
        if "items" in schema:
            bad += walk(schema["items"], True)
        return bad

    assert walk(SPEC_SCHEMA, False) == []


def test_spark_conf_denylist_matches_the_crd_cel_rules() -> None:
    rules = SPEC_SCHEMA["properties"]["sparkConf"]["x-kubernetes-validations"]
    per_key = [re.fullmatch(r"!\('([^']+)' in self\)", rule["rule"]) for rule in rules]
    keys = [match.group(1) for match in per_key if match]
    assert keys == list(SPARK_CONF_DENYLIST)
    assert [rule["message"] for rule in rules[: len(keys)]] == [
        f"{key} is set by the operator" for key in keys
    ]
    prefix_rules = rules[len(keys) :]
    prefixes = [re.fullmatch(r"self\.all\(k, !k\.startsWith\('([^']+)'\)\)", r["rule"]) for r in prefix_rules]
    assert [match.group(1) for match in prefixes if match] == [p for p, _ in SPARK_CONF_DENIED_PREFIXES]
    assert [rule["message"] for rule in prefix_rules] == [
        spark_conf_refusal(prefix + "x") for prefix, _ in SPARK_CONF_DENIED_PREFIXES
    ]


def test_every_spark_setting_the_operator_makes_is_refused_in_spark_conf() -> None:
    # What the operator passes to spark-submit, minus the JVM options it appends to the user's own.
    from k2_operator.builders import spark_conf

    from k2_shared.jvm_options import JVM_OPTION_KEYS
    from tests.unit.operator.conftest import make_inputs

    owned = set(spark_conf(make_inputs())) - set(JVM_OPTION_KEYS) - {"spark.sql.shuffle.partitions"}
    assert {key for key in owned if spark_conf_refusal(key) is None} == set()
    for key in (
        "spark.kubernetes.driver.volumes.hostPath.host.mount.path",
        "spark.kubernetes.executor.volumes.hostPath.host.options.path",
        "spark.kubernetes.executor.secrets.aws",
        "spark.kubernetes.driver.secretKeyRef.TOKEN",
        "spark.kubernetes.authenticate.driver.serviceAccountName",
        "spark.kubernetes.executor.label.k2.dev/pipeline",
    ):
        assert spark_conf_refusal(key), key
        with pytest.raises(PipelineSpecError, match=r"spec\.sparkConf"):
            PipelineSpec.from_cr_spec({**MINIMAL_SPEC, "sparkConf": {key: "x"}})
    assert spark_conf_refusal("spark.sql.adaptive.enabled") is None
    assert spark_conf_refusal("spark.kubernetes.executor.label.team") is None


def test_a_pod_template_parses_and_is_checked_like_the_crd() -> None:
    template = {
        "labels": {"team": "data"},
        "driver": {"annotations": {"a": "1"}},
        "nodeSelector": {"pool": "spark"},
        "tolerations": [{"key": "spark", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {}},
        "priorityClassName": "streaming",
        "imagePullSecrets": [{"name": "regcred"}],
        "volumes": [{"name": "extra", "emptyDir": {}}],
        "volumeMounts": [{"name": "extra", "mountPath": "/extra"}],
    }
    spec = PipelineSpec.from_cr_spec({**MINIMAL_SPEC, "podTemplate": template})
    assert spec.pod_template is not None
    assert spec.pod_template.pod_labels("driver") == {"team": "data"}
    assert spec.pod_template.pod_annotations("driver") == {"a": "1"}
    assert spec.pod_template.pod_annotations("executor") == {}
    assert spec.to_cr_spec()["podTemplate"]["tolerations"] == template["tolerations"]
    bad = [
        ({"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}, "hostPath"),
        ({"volumes": [{"name": "s", "secret": {"secretName": "x"}}]}, "hostPath and Secret"),
        ({"volumes": [{"name": "tmp", "emptyDir": {}}]}, "operator"),
        ({"volumeMounts": [{"name": "nope", "mountPath": "/x"}]}, "must name a volume"),
        ({"labels": {"k2.dev/pipeline": "other"}}, "operator"),
        (
            {
                "volumes": [{"name": "v", "emptyDir": {}}],
                "volumeMounts": [{"name": "v", "mountPath": "/data"}],
            },
            "operator mounts",
        ),
    ]
    for template_patch, message in bad:
        with pytest.raises(PipelineSpecError, match=message):
            PipelineSpec.from_cr_spec({**MINIMAL_SPEC, "podTemplate": template_patch})


def test_trigger_and_kafka_defaults_match_job_config() -> None:
    spec = PipelineSpec.from_cr_spec(MINIMAL_SPEC)
    job_defaults = {f.name: f.default for f in dataclasses.fields(JobConfig)}
    for layer in ("bronze", "silver", "gold"):
        assert spec.triggers.interval(layer) == job_defaults["trigger_interval"]
    assert spec.triggers.gold_watermark == job_defaults["gold_watermark"]
    assert spec.kafka.max_offsets_per_trigger == job_defaults["max_offsets_per_trigger"]
    assert spec.kafka.starting_offsets == job_defaults["starting_offsets"]


def test_example_cr_parses_with_its_values() -> None:
    assert EXAMPLE["kind"] == "StreamingPipeline"
    spec = PipelineSpec.from_cr_spec(EXAMPLE["spec"])
    assert spec.resources.total_cores == 14
    assert spec.kafka.credentials_secret_ref is not None
    assert spec.kafka.credentials_secret_ref.name == "kafka-credentials"
    assert spec.storage.hadoop_conf["fs.s3a.endpoint"].startswith("http://")
    assert spec.exchange("kraken").symbols == ("BTC/USD", "ETH/USD")
    assert spec.job_names == JOB_NAMES
    # Round trip: the model writes back what it read (the example spells out every default).
    assert PipelineSpec.from_cr_spec(spec.to_cr_spec()) == spec


def test_job_config_of_each_job() -> None:
    spec = PipelineSpec.from_cr_spec(EXAMPLE["spec"])
    silver = spec.job_config("silver-kraken", metrics_port=8003)
    assert (silver.layer, silver.exchange, silver.job_name) == ("silver", "kraken", "silver-kraken")
    assert silver.kafka_bootstrap_servers == EXAMPLE["spec"]["kafka"]["bootstrapServers"]
    assert silver.checkpoint_uri == "s3a://k2-lake/checkpoints/silver-kraken"
    assert silver.spark_conf["spark.hadoop.fs.s3a.endpoint"] == "http://minio.k2.svc:9000"
    assert silver.spark_conf["spark.sql.shuffle.partitions"] == "8"
    gold = spec.job_config("gold")
    assert gold.exchange is None and gold.gold_watermark == "10 minutes"


def test_one_exchange_means_three_jobs() -> None:
    spec = PipelineSpec.from_cr_spec(MINIMAL_SPEC | {"exchanges": [{"name": "kraken", "symbols": ["X/Y"]}]})
    assert spec.job_names == ("bronze-kraken", "silver-kraken", "gold")
    with pytest.raises(KeyError):
        spec.job_config("bronze-binance")


def test_backoff_doubles_up_to_the_maximum() -> None:
    policy = PipelineSpec.from_cr_spec(MINIMAL_SPEC).restart_policy
    assert [policy.backoff_seconds(n) for n in range(7)] == [10, 20, 40, 80, 160, 300, 300]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"resources": {"totalCores": 11}}, "spec.resources.totalCores"),
        ({"resources": {"totalCores": 17}}, "spec.resources.totalCores"),
        ({"resources": {"totalCores": "14"}}, "spec.resources.totalCores"),
        ({"resources": {"cpuRequestRatio": 0}}, "spec.resources.cpuRequestRatio"),
        ({"imagePullPolicy": "Sometimes"}, "spec.imagePullPolicy"),
        ({"restartPolicy": {"type": "Maybe"}}, "spec.restartPolicy.type"),
        (
            {"restartPolicy": {"backoffInitialSeconds": 60, "backoffMaxSeconds": 30}},
            "spec.restartPolicy.backoffMaxSeconds",
        ),
        ({"sparkConf": {"spark.master": "local[*]"}}, "spec.sparkConf"),
        ({"kafka": {}}, "spec.kafka.bootstrapServers"),
        ({"exchanges": [{"name": "coinbase", "symbols": ["BTC-USD"]}]}, "spec.exchanges[0].name"),
        ({"exchanges": []}, "spec.exchanges"),
        ({"suspend": "yes"}, "spec.suspend"),
    ],
)
def test_invalid_specs_name_the_field(change: dict[str, Any], path: str) -> None:
    spec = copy.deepcopy(MINIMAL_SPEC) | change
    with pytest.raises(PipelineSpecError) as error:
        PipelineSpec.from_cr_spec(spec)
    assert error.value.path == path
    assert str(error.value).startswith(f"{path}: ")


def test_fields_of_a_newer_crd_are_ignored_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """An operator older than its CRD (helm rollback, or the upgrade's CRD before the new pod) still
    reconciles: the fields it does not know are skipped with a warning naming them."""
    newer = copy.deepcopy(MINIMAL_SPEC) | {"someFutureField": 3}
    newer["restartPolicy"] = {"type": "Always", "futureGraceSeconds": 9}
    with caplog.at_level("WARNING", logger="k2_operator.pipeline_spec"):
        spec = PipelineSpec.from_cr_spec(newer)
    assert spec == PipelineSpec.from_cr_spec(MINIMAL_SPEC | {"restartPolicy": {"type": "Always"}})
    skipped = {(r.__dict__["path"], tuple(r.__dict__["fields"])) for r in caplog.records}
    assert skipped == {("spec", ("someFutureField",)), ("spec.restartPolicy", ("futureGraceSeconds",))}


def test_the_model_is_frozen() -> None:
    spec = PipelineSpec.from_cr_spec(MINIMAL_SPEC)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.suspend = True  # type: ignore[misc]


def test_a_custom_exchange_topic_reaches_the_bronze_job_config():
    cr_spec = copy.deepcopy(EXAMPLE["spec"])
    for exchange in cr_spec["exchanges"]:
        if exchange["name"] == "kraken":
            exchange["topic"] = "team-a.kraken.trades"
    spec = PipelineSpec.from_cr_spec(cr_spec)
    assert spec.job_config("bronze-kraken").topic == "team-a.kraken.trades"
    assert spec.job_config("bronze-binance").topic == raw_topic("binance")
    assert spec.job_config("bronze-binance").kafka_topic is None


def test_a_replay_feed_lets_silver_accept_the_recordings_trade_times():
    """The recorded sample's trades are from 2024: Silver of a replayed exchange accepts their age (or
    every replayed trade would land in the DLQ as timestamp_out_of_range); other sources keep the limit."""
    cr_spec = copy.deepcopy(MINIMAL_SPEC)
    cr_spec["exchanges"][0]["feed"] = {"source": "replay"}
    cr_spec["exchanges"][1]["feed"] = {"source": "synthetic"}
    spec = PipelineSpec.from_cr_spec(cr_spec)
    assert spec.job_config("silver-binance").max_trade_age == REPLAY_MAX_TRADE_AGE != DEFAULT_MAX_TRADE_AGE
    assert spec.job_config("silver-kraken").max_trade_age == DEFAULT_MAX_TRADE_AGE
    no_feed = PipelineSpec.from_cr_spec(MINIMAL_SPEC)
    assert no_feed.job_config("silver-binance").max_trade_age == DEFAULT_MAX_TRADE_AGE
