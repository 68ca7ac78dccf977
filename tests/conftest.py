"""Shared pytest wiring: fixtures from tests/fixtures are available to every test."""

pytest_plugins = [
    "tests.fixtures.crypto_fixtures",
    "tests.fixtures.spark_fixtures",
    "tests.fixtures.kafka_fixtures",
    "tests.fixtures.kube_fixtures",
    "tests.fixtures.operator_fixtures",
    "tests.fixtures.pipeline_fixtures",
]
