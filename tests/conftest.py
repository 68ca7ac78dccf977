"""Shared pytest wiring: fixtures from tests/fixtures are available to every test."""

pytest_plugins = [
    "tests.fixtures.crypto_fixtures",
    "tests.fixtures.spark_fixtures",
    "tests.fixtures.kafka_fixtures",
    "tests.fixtures.kube_fixtures",
    "tests.fixtures.chart_fixtures",
    "tests.fixtures.operator_fixtures",
    "tests.fixtures.pipeline_fixtures",
    "tests.fixtures.monitoring_fixtures",
    "tests.fixtures.e2e_fixtures",
]

TIER_MARKERS = (
    "unit",
    "fuzz",
    "integration",
    "chaos",
    "operator",
    "chart",
    "monitoring",
    "images",
    "e2e",
    "slow",
)


def pytest_report_collectionfinish(config, start_path, items):
    """Print how many selected tests each tier has, so a run shows what it covered."""
    counts = {marker: sum(1 for item in items if item.get_closest_marker(marker)) for marker in TIER_MARKERS}
    return "tests per marker: " + ", ".join(f"{marker}={count}" for marker, count in counts.items())
