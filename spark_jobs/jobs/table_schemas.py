"""Schema and partitioning of every table the jobs write, taken from the transforms (never restated).
Jobs create the tables they read with these before starting, so the five can start in any order."""

from __future__ import annotations

from pyspark.sql import types as T

from spark_jobs.transforms.bronze import BRONZE_PARTITION_COLUMN, BRONZE_SCHEMA
from spark_jobs.transforms.dlq import DLQ_PARTITION_COLUMN, DLQ_SCHEMA
from spark_jobs.transforms.gold import GOLD_PARTITION_COLUMNS, GOLD_SCHEMA
from spark_jobs.transforms.silver import V2_SCHEMA

BRONZE_PARTITION_COLUMNS: tuple[str, ...] = (BRONZE_PARTITION_COLUMN,)
DLQ_PARTITION_COLUMNS: tuple[str, ...] = (DLQ_PARTITION_COLUMN,)
__all__ = ["GOLD_PARTITION_COLUMNS", "bronze_schema", "dlq_schema", "gold_schema", "silver_schema"]


def bronze_schema() -> T.StructType:
    return BRONZE_SCHEMA


def silver_schema() -> T.StructType:
    return V2_SCHEMA


def dlq_schema() -> T.StructType:
    return DLQ_SCHEMA


def gold_schema() -> T.StructType:
    return GOLD_SCHEMA
