"""`k2 local`'s triggers: Bronze on a longer interval than Silver and Gold by default (the five queries
share local[2]); --trigger still sets every job, --bronze-trigger only Bronze."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from spark_jobs.local.cli import add_arguments
from spark_jobs.local.pipeline import LocalSettings

pytestmark = pytest.mark.unit


def settings_from(*argv: str) -> LocalSettings:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(list(argv))
    settings = LocalSettings(data_dir=Path("unused"), source="synthetic", rate=1)
    return settings.with_triggers(args.trigger, args.bronze_trigger)


@pytest.mark.parametrize(
    ("argv", "bronze", "silver_and_gold"),
    [
        ((), "10 seconds", "2 seconds"),
        (("--trigger", "5 seconds"), "5 seconds", "5 seconds"),
        (("--bronze-trigger", "30 seconds"), "30 seconds", "2 seconds"),
        (("--trigger", "1 second", "--bronze-trigger", "4 seconds"), "4 seconds", "1 second"),
    ],
)
def test_each_layer_gets_its_trigger(argv, bronze, silver_and_gold):
    settings = settings_from(*argv)
    assert settings.trigger_for("bronze") == bronze
    assert settings.trigger_for("silver") == settings.trigger_for("gold") == silver_and_gold
