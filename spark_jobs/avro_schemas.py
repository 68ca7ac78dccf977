"""The Avro schemas in spark_jobs/schemas/*.avsc are the single source of truth for record shapes.

Everything else derives from them here: parsed dicts for fastavro, JSON for `from_avro` and the
registry, and Spark StructTypes for DataFrames and Delta tables. Nothing restates a schema by hand.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

from pyspark.sql import types as T

SCHEMAS_DIR: Final = Path(__file__).resolve().parent / "schemas"

SchemaName = Literal["binance_raw_trade", "kraken_raw_trade", "trade_v2", "dlq_record"]
SCHEMA_NAMES: Final[tuple[SchemaName, ...]] = (
    "binance_raw_trade",
    "kraken_raw_trade",
    "trade_v2",
    "dlq_record",
)

#: exchange -> the raw schema its feed produces (and Silver reads with).
RAW_SCHEMA_BY_EXCHANGE: Final[dict[str, SchemaName]] = {
    "binance": "binance_raw_trade",
    "kraken": "kraken_raw_trade",
}


@cache
def _load_cached(name: str) -> dict[str, Any]:
    path = SCHEMAS_DIR / f"{name}.avsc"
    if name not in SCHEMA_NAMES or not path.is_file():
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def load_schema(name: str) -> dict[str, Any]:
    """The schema as a JSON dict (a fresh copy: callers may modify it, e.g. to build a new version)."""
    return copy.deepcopy(_load_cached(name))


def schema_json(name: str) -> str:
    """The schema as compact JSON text (what `from_avro` and the schema registry take)."""
    return json.dumps(_load_cached(name), separators=(",", ":"))


def raw_schema_name(exchange: str) -> SchemaName:
    try:
        return RAW_SCHEMA_BY_EXCHANGE[exchange]
    except KeyError:
        raise KeyError(f"unknown exchange {exchange!r}") from None


# --- Avro -> Spark types ---------------------------------------------------------------------------


def _non_null_branch(avro_type: Any) -> tuple[Any, bool]:
    """(the type, nullable) for a field type; a union must be [null, X] (the only kind K2 uses)."""
    if isinstance(avro_type, list):
        branches = [b for b in avro_type if b != "null"]
        if len(branches) != 1:
            raise ValueError(f"only [null, X] unions are supported, got {avro_type}")
        return branches[0], len(branches) < len(avro_type)
    return avro_type, False


_PRIMITIVES: Final[dict[str, T.DataType]] = {
    "string": T.StringType(),
    "bytes": T.BinaryType(),
    "boolean": T.BooleanType(),
    "int": T.IntegerType(),
    "long": T.LongType(),
    "float": T.FloatType(),
    "double": T.DoubleType(),
}


def avro_to_spark_type(avro_type: Any) -> T.DataType:
    """The Spark type `from_avro` produces for an Avro type (checked against Spark in the tests)."""
    if isinstance(avro_type, str):
        return _PRIMITIVES[avro_type]
    if isinstance(avro_type, list):
        return avro_to_spark_type(_non_null_branch(avro_type)[0])
    logical = avro_type.get("logicalType")
    kind = avro_type["type"]
    if logical == "decimal":
        return T.DecimalType(avro_type["precision"], avro_type.get("scale", 0))
    if logical in ("timestamp-micros", "timestamp-millis"):
        return T.TimestampType()
    if logical == "date":
        return T.DateType()
    if kind == "record":
        return record_struct_type(avro_type)
    if kind == "enum":
        return T.StringType()
    if kind == "array":
        return T.ArrayType(avro_to_spark_type(avro_type["items"]))
    return avro_to_spark_type(kind)


def record_struct_type(record: dict[str, Any]) -> T.StructType:
    fields = []
    for field in record["fields"]:
        inner, nullable = _non_null_branch(field["type"])
        fields.append(T.StructField(field["name"], avro_to_spark_type(inner), nullable))
    return T.StructType(fields)


def spark_schema(name: str) -> T.StructType:
    """The StructType of a named schema; a field is nullable exactly when its Avro type is [null, X]."""
    return record_struct_type(_load_cached(name))


def required_fields(name: str) -> tuple[str, ...]:
    """Fields whose Avro type is not nullable: a record that decoded has all of them set."""
    return tuple(
        field["name"] for field in _load_cached(name)["fields"] if not _non_null_branch(field["type"])[1]
    )


def field_names(name: str) -> tuple[str, ...]:
    return tuple(field["name"] for field in _load_cached(name)["fields"])


def decimal_type(name: str, field: str) -> T.DecimalType:
    """The DecimalType of a decimal field, e.g. decimal_type("trade_v2", "price")."""
    data_type = spark_schema(name)[field].dataType
    if not isinstance(data_type, T.DecimalType):
        raise TypeError(f"{name}.{field} is {data_type}, not a decimal")
    return data_type
