"""Source and trigger settings shared by the jobs: Kafka client options (with SASL from the
environment when set), the trigger, and the names of the tables a job reads and writes."""

from __future__ import annotations

import os

from pyspark.sql.streaming import DataStreamWriter

from spark_jobs.contracts import feed_topics
from spark_jobs.job_config import JobConfig

#: trigger_interval values that mean "process what is there, then stop" (tests, backfills).
AVAILABLE_NOW = ("availablenow", "available-now", "available_now")


def apply_trigger(writer: DataStreamWriter, trigger_interval: str) -> DataStreamWriter:
    if trigger_interval.strip().lower() in AVAILABLE_NOW:
        return writer.trigger(availableNow=True)
    return writer.trigger(processingTime=trigger_interval)


def kafka_source_options(config: JobConfig) -> dict[str, str]:
    options = {
        "kafka.bootstrap.servers": config.kafka_bootstrap_servers,
        # The raw topic and its rejected-frames topic: what the feed could not parse reaches Bronze
        # too, and from there the DLQ. A rejected topic nobody created just yields no rows.
        "subscribe": ",".join(feed_topics(config.topic)) if config.topic else "",
        "startingOffsets": config.starting_offsets,
        "maxOffsetsPerTrigger": str(config.max_offsets_per_trigger),
        # Offsets that vanished (retention) must stop the job loudly rather than skip trades.
        "failOnDataLoss": "true",
    }
    user = os.environ.get("K2_KAFKA_SASL_USERNAME")
    if user:
        password = os.environ.get("K2_KAFKA_SASL_PASSWORD", "")
        options["kafka.security.protocol"] = os.environ.get("K2_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
        options["kafka.sasl.mechanism"] = os.environ.get("K2_KAFKA_SASL_MECHANISM", "PLAIN")
        options["kafka.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{user}" password="{password}";'
        )
    return options


def delta_source_options(config: JobConfig) -> dict[str, str]:
    if config.max_files_per_trigger is None:
        return {}
    return {"maxFilesPerTrigger": str(config.max_files_per_trigger)}
