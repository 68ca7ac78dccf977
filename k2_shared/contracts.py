"""Names shared across K2: exchanges, topics, subjects, tables and jobs. The one source of truth.

Everything else (feeds, jobs, the operator, the chart, dashboards) imports these; nothing restates
them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

Exchange = Literal["binance", "kraken"]
EXCHANGES: Final[tuple[Exchange, ...]] = ("binance", "kraken")

Layer = Literal["bronze", "silver", "gold"]
LAYERS: Final[tuple[Layer, ...]] = ("bronze", "silver", "gold")


def raw_topic(exchange: str) -> str:
    """Kafka topic an exchange's feed handler produces to (key: symbol, value: Confluent Avro)."""
    return f"market.crypto.trades.{exchange}.raw"


def value_subject(topic: str) -> str:
    """Schema-registry subject of a topic's values (TopicNameStrategy)."""
    return f"{topic}-value"


RAW_TOPICS: Final[dict[str, str]] = {exchange: raw_topic(exchange) for exchange in EXCHANGES}

#: Appended to a raw topic's name to name its rejected-frames topic.
REJECTED_TOPIC_SUFFIX: Final = ".rejected"


def rejected_topic(topic: str) -> str:
    """Kafka topic beside the raw topic `topic` for what its feed could not turn into trades (a frame
    that is not JSON or not of a known shape, or one bad trade of a multi-trade message), as a JSON
    envelope (spark_jobs.rejected_frames). The Bronze job reads both; Silver sends these to the DLQ."""
    return f"{topic}{REJECTED_TOPIC_SUFFIX}"


def feed_topics(topic: str) -> tuple[str, str]:
    """The topics a feed writes and a Bronze job reads for one raw topic: (raw, rejected)."""
    return topic, rejected_topic(topic)


def with_rejected_topics(raw_topics: Iterable[str]) -> list[str]:
    """Every topic to create for these raw topics: each one and its rejected-frames topic."""
    return [name for topic in raw_topics for name in feed_topics(topic)]


REJECTED_TOPICS: Final[dict[str, str]] = {e: rejected_topic(t) for e, t in RAW_TOPICS.items()}


def bronze_table(exchange: str) -> str:
    return f"bronze_{exchange}_trades"


def silver_table(exchange: str) -> str:
    return f"silver_{exchange}_trades"


DLQ_TABLE: Final = "dlq_trades"
GOLD_TABLE: Final = "gold_trades"
#: Results of the data-quality checks (check, scope, value, threshold, status, checked_at, detail).
QUALITY_CHECKS_TABLE: Final = "quality_checks"


#: The five streaming jobs of one pipeline: (job name, layer, exchange or None for Gold).
JOBS: Final[tuple[tuple[str, Layer, str | None], ...]] = (
    ("bronze-binance", "bronze", "binance"),
    ("bronze-kraken", "bronze", "kraken"),
    ("silver-binance", "silver", "binance"),
    ("silver-kraken", "silver", "kraken"),
    ("gold", "gold", None),
)
JOB_NAMES: Final[tuple[str, ...]] = tuple(name for name, _, _ in JOBS)

#: Local metrics ports of the five jobs, in JOBS order (8000-8004).
LOCAL_METRICS_PORTS: Final[dict[str, int]] = {name: 8000 + i for i, name in enumerate(JOB_NAMES)}

#: Why a driver stopped, as the job writes it to its container's termination message (the first line
#: of /dev/termination-log) before exiting non-zero; the operator counts driver failures by these
#: (k2_operator_job_failures_total), so a failure stays visible after the driver is gone.
TERMINATION_CHECKPOINT_WRITE_FAILED: Final = "checkpoint_write_failed"
TERMINATION_BATCH_FAILED: Final = "batch_failed"
#: Every reason the operator reports a driver failure under: the job's own two, then what the pod shows.
DRIVER_FAILURE_REASONS: Final[tuple[str, ...]] = (
    TERMINATION_CHECKPOINT_WRITE_FAILED,
    TERMINATION_BATCH_FAILED,
    "oom_killed",  # a container terminated with reason OOMKilled
    "error",  # any other non-zero exit
    "exited",  # exit 0 under restartPolicy Always: streaming jobs run forever
    "deleted",  # the driver pod vanished
    "start_timeout",  # not Running within driverStartTimeoutSeconds
)

#: Local metrics port of the data-quality checks (k2_quality_check_*), next to the jobs'.
LOCAL_QUALITY_METRICS_PORT: Final = 8000 + len(JOB_NAMES)
