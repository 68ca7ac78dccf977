"""Silver: Bronze rows -> (V2 trades, DLQ rows). Every Bronze row lands in exactly one of the two.

Steps, all column expressions (no I/O): read the Confluent header (magic byte 0, 4-byte big-endian
schema id), decode the body with `from_avro` in PERMISSIVE mode against the writer schema of that id
(resolved to the current reader schema, so several writer versions decode to one shape), normalize
to the V2 trade and validate. A body must also be exactly the Avro encoding of what it decodes to
(canonical_col), or it is a decode error. The first failing check names the DLQ error; a row whose checks are
all NULL still has its V2 fields checked last, so nothing can slip through as neither valid nor bad.

PERMISSIVE `from_avro` returns a non-null struct with every field null for corrupt bytes, so decode
failure is detected from the reader schema's required (non-union) fields, which a decoded record
always has.
"""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.avro.functions import from_avro, to_avro

from spark_jobs import normalization as N
from spark_jobs.avro_schemas import (
    raw_schema_name,
    record_struct_type,
    required_fields,
    schema_json,
    spark_schema,
)
from spark_jobs.contracts import REJECTED_TOPIC_SUFFIX, bronze_table
from spark_jobs.rejected_frames import REASON_FIELD
from spark_jobs.transforms.dlq import DLQ_SCHEMA, DlqErrorType

V2_SCHEMA: Final = spark_schema("trade_v2")
V2_COLUMNS: Final = tuple(V2_SCHEMA.fieldNames())

DEFAULT_MAX_AGE: Final = "7 days"
#: A trade more than this far after its Kafka timestamp (clock skew) goes to the DLQ.
FUTURE_TOLERANCE: Final = timedelta(seconds=60)
#: The Bronze column the age and future checks measure from: when Kafka received the record.
KAFKA_TIME_COLUMN: Final = "kafka_timestamp"
HEADER_LENGTH: Final = 5
#: Bronze columns a DLQ row carries (with the raw value), kept through classification.
CLASSIFIED_BRONZE_COLUMNS: Final = ("value", "topic", "partition", "offset")

_DURATION = re.compile(r"^\s*(\d+)\s*(second|minute|hour|day|week)s?\s*$", re.IGNORECASE)


def parse_duration(value: str | timedelta) -> timedelta:
    """'7 days', '36 hours', '90 minutes' (the JobConfig format) or a timedelta."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"not a duration like '7 days': {value!r}")
    return timedelta(**{f"{match.group(2).lower()}s": int(match.group(1))})


# --- the Confluent header ------------------------------------------------------------------------


def header_is_valid_col(value: Column) -> Column:
    """True when the value has the 5-byte header and magic byte 0 (false, never null, otherwise)."""
    valid = value.isNotNull() & (F.length(value) >= HEADER_LENGTH) & (F.hex(F.substring(value, 1, 1)) == "00")
    return F.coalesce(valid, F.lit(False))


def schema_id_col(value: Column) -> Column:
    """The 4-byte big-endian schema id as an int (null without a valid header or above int range)."""
    digits = F.conv(F.hex(F.substring(value, 2, 4)), 16, 10)
    return F.when(header_is_valid_col(value), digits.try_cast(T.IntegerType()))


def schema_ids_in(bronze_df: DataFrame) -> list[int]:
    """Distinct writer schema ids in a (batch) Bronze DataFrame: the runner resolves these in the
    registry before calling to_silver_and_dlq."""
    ids = bronze_df.select(schema_id_col(F.col("value")).alias("schema_id")).where("schema_id IS NOT NULL")
    return sorted(row.schema_id for row in ids.distinct().collect())


def rows_and_schema_ids(bronze_df: DataFrame) -> tuple[int, list[int]]:
    """(rows, distinct writer schema ids) of a (batch) Bronze DataFrame in ONE Spark job: a batch's
    emptiness and the ids the runner resolves in the registry before classifying."""
    row = bronze_df.agg(
        F.count(F.lit(1)).alias("rows"),
        F.array_sort(F.collect_set(schema_id_col(F.col("value")))).alias("ids"),
    ).first()
    if row is None:
        return 0, []
    return int(row["rows"]), [int(i) for i in row["ids"] or []]


def _bad_header_reason(value: Column) -> Column:
    return (
        F.when(value.isNull(), F.lit("value is null"))
        .when(
            F.length(value) < HEADER_LENGTH,
            F.format_string("value has %d bytes, fewer than the 5-byte header", F.length(value)),
        )
        .otherwise(F.concat(F.lit("magic byte 0x"), F.hex(F.substring(value, 1, 1)), F.lit(" is not 0x00")))
    )


def decode_col(
    value: Column, schema_id: Column, writer_schemas: Mapping[int, str], reader_json: str
) -> Column:
    """from_avro of the body with the writer schema of its id, resolved to the reader schema."""
    body = value.substr(F.lit(HEADER_LENGTH + 1), F.length(value) - HEADER_LENGTH)
    decoded: Column | None = None
    for known_id, writer_json in sorted(writer_schemas.items()):
        options = {"mode": "PERMISSIVE", "avroSchema": reader_json}
        branch = from_avro(body, writer_json, options)
        decoded = (
            F.when(schema_id == known_id, branch)
            if decoded is None
            else decoded.when(schema_id == known_id, branch)
        )
    if decoded is None:
        return F.lit(None).cast(record_struct_type(json.loads(reader_json)))
    return decoded


def written_cols(value: Column, schema_id: Column, writer_schemas: Mapping[int, str]) -> dict[str, Column]:
    """Per writer schema id, the body decoded in the writer's own shape (for canonical_col): staged
    as columns of their own, so each from_avro runs once per row however often it is read."""
    body = value.substr(F.lit(HEADER_LENGTH + 1), F.length(value) - HEADER_LENGTH)
    return {
        f"_written_{known_id}": F.when(
            schema_id == known_id, from_avro(body, writer_json, {"mode": "PERMISSIVE"})
        )
        for known_id, writer_json in sorted(writer_schemas.items())
    }


def canonical_col(value: Column, schema_id: Column, writer_schemas: Mapping[int, str]) -> Column:
    """Whether the body is the Avro encoding of what it decodes to (written_cols' struct re-encoded
    with its writer schema, byte for byte). Java's decoder reads a boolean byte other than 0 or 1 as
    false (fastavro as true); the spec allows only 0 and 1, and a corrupt record must not become a
    trade with the wrong side. NULL when the body does not decode at all (the decode check says so)."""
    body = value.substr(F.lit(HEADER_LENGTH + 1), F.length(value) - HEADER_LENGTH)
    canonical: Column | None = None
    for known_id, writer_json in sorted(writer_schemas.items()):
        written = F.col(f"_written_{known_id}")
        required = [f["name"] for f in json.loads(writer_json)["fields"] if not isinstance(f["type"], list)]
        # to_avro refuses a null in a non-null field: only a record that decoded is re-encoded.
        decoded = functools.reduce(
            operator.and_, [written[name].isNotNull() for name in required], F.lit(True)
        )
        branch = F.when(decoded, to_avro(written, writer_json) == body)
        canonical = (
            F.when(schema_id == known_id, branch)
            if canonical is None
            else canonical.when(schema_id == known_id, branch)
        )
    return F.lit(None).cast(T.BooleanType()) if canonical is None else canonical


# --- per exchange: raw fields -> normalized parts ------------------------------------------------


@dataclass(frozen=True)
class Parts:
    """What Silver needs from one raw record, before validation."""

    symbol_text: Column  # the raw symbol (for the empty and syntax checks)
    base: Column  # code, null when the symbol cannot be split
    quote: Column
    price_text: Column
    quantity_text: Column
    micros: Column  # trade time, epoch µs, null when not parseable or not plausible
    time_text: Column  # the raw trade time, for the reason
    side: Column  # buy | sell | null
    trade_id: Column  # the exchange's id as sent (null: Kraken v1 sends none)
    is_market_maker: Column
    ingestion_timestamp: Column
    #: The exchange's trade identity, given the validated decimals and V2 symbol/side.
    trade_key: Callable[[Column, Column, Column, Column, Column], Column]
    #: Nullable raw fields a trade cannot do without.
    needed_fields: tuple[str, ...]


def binance_parts(raw: Column) -> Parts:
    base, quote = N.binance_pair_cols(raw["symbol"])
    return Parts(
        symbol_text=raw["symbol"],
        base=base,
        quote=quote,
        price_text=raw["price"],
        quantity_text=raw["quantity"],
        micros=N.plausible_time_micros_col(F.try_multiply(raw["trade_time_ms"], F.lit(1000))),
        time_text=raw["trade_time_ms"].cast(T.StringType()),
        side=N.binance_side_col(raw["is_buyer_maker"]),
        trade_id=raw["trade_id"],
        is_market_maker=raw["is_buyer_maker"],
        ingestion_timestamp=raw["ingestion_timestamp"],
        trade_key=lambda *_: raw["trade_id"].cast(T.StringType()),
        needed_fields=("price", "quantity"),
    )


def kraken_parts(raw: Column) -> Parts:
    base, quote = N.kraken_pair_cols(raw["symbol"])
    side = N.kraken_side_col(raw["side"])

    def trade_key(symbol: Column, micros: Column, price: Column, quantity: Column, side: Column) -> Column:
        hashed = N.kraken_hash_id_col(symbol, micros, price, quantity, side)
        return F.coalesce(raw["trade_id"].cast(T.StringType()), hashed)

    return Parts(
        symbol_text=raw["symbol"],
        base=base,
        quote=quote,
        price_text=raw["price"],
        quantity_text=raw["quantity"],
        micros=N.plausible_time_micros_col(N.kraken_time_micros_col(raw["trade_time_seconds"])),
        time_text=raw["trade_time_seconds"],
        side=side,
        trade_id=raw["trade_id"],
        is_market_maker=side == F.lit("sell"),
        ingestion_timestamp=raw["ingestion_timestamp"],
        trade_key=trade_key,
        needed_fields=("price", "quantity", "trade_time_seconds", "side"),
    )


EXCHANGE_PARTS: Final[dict[str, Callable[[Column], Parts]]] = {
    "binance": binance_parts,
    "kraken": kraken_parts,
}


# --- the transformation --------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    error: DlqErrorType
    failed: Column  # true when the row fails; NULL counts as "not this check" (the last check catches it)
    reason: Column


def _checks(exchange: str, known_ids: list[int], max_age: timedelta) -> list[Check]:
    """The checks in order, over the staged columns built in to_silver_and_dlq."""
    c = F.col
    raw = c("_raw")
    reader = raw_schema_name(exchange)
    needed = EXCHANGE_PARTS[exchange](raw).needed_fields
    # Relative to the row's own Kafka timestamp, never a clock: a re-run, or a replay of old Bronze,
    # judges a row exactly as its first run did.
    kafka_micros = F.unix_micros(c(KAFKA_TIME_COLUMN))
    earliest = kafka_micros - int(max_age.total_seconds() * N.MICROS_PER_SECOND)
    latest = kafka_micros + int(FUTURE_TOLERANCE.total_seconds() * N.MICROS_PER_SECOND)
    known = c("_schema_id").isin(*known_ids) if known_ids else F.lit(False)
    return [
        Check(
            DlqErrorType.UNPARSEABLE_FRAME, _is_rejected_frame(c("topic")), _rejected_frame_reason(c("value"))
        ),
        Check(DlqErrorType.BAD_MAGIC_BYTE, ~c("_header_ok"), _bad_header_reason(c("value"))),
        Check(
            DlqErrorType.UNKNOWN_SCHEMA_ID,
            ~F.coalesce(known, F.lit(False)),
            F.format_string("no writer schema for id %d", c("_schema_id")),
        ),
        Check(
            DlqErrorType.AVRO_DECODE_ERROR,
            raw.isNull() | _any_null(raw, required_fields(reader)) | _any_invalid_utf8(raw, reader),
            F.format_string(
                "body of %d bytes does not decode with writer schema %d",
                F.length("value") - HEADER_LENGTH,
                c("_schema_id"),
            ),
        ),
        Check(
            DlqErrorType.AVRO_DECODE_ERROR,
            ~F.coalesce(c("_canonical"), F.lit(True)),
            F.format_string(
                "body is not the Avro encoding of what it decodes to with writer schema %d"
                " (e.g. a boolean byte other than 0 or 1)",
                c("_schema_id"),
            ),
        ),
        Check(DlqErrorType.MISSING_FIELD, _any_null(raw, needed), _null_names(raw, needed, "missing: ")),
        Check(
            DlqErrorType.EMPTY_SYMBOL,
            c("_symbol_error") == DlqErrorType.EMPTY_SYMBOL.value,
            F.lit("symbol is empty"),
        ),
        Check(
            DlqErrorType.INVALID_SYMBOL_SYNTAX,
            c("_symbol_error") == DlqErrorType.INVALID_SYMBOL_SYNTAX.value,
            F.format_string(
                "symbol '%s' is not %s (upper-case ASCII letters and digits)",
                c("_symbol_text"),
                F.lit(N.SYMBOL_SYNTAX[exchange]),
            ),
        ),
        Check(
            DlqErrorType.UNKNOWN_SYMBOL_FORMAT,
            c("_symbol_error") == DlqErrorType.UNKNOWN_SYMBOL_FORMAT.value,
            F.format_string("cannot split symbol '%s' into base and quote", c("_symbol_text")),
        ),
        Check(
            DlqErrorType.INVALID_TRADE_ID,
            ~N.is_plausible_trade_id_col(c("_trade_id")),
            F.format_string("trade id %d is outside [%d, %d]", c("_trade_id"), *map(F.lit, N.TRADE_ID_RANGE)),
        ),
        Check(
            DlqErrorType.INVALID_DECIMAL,
            c("_price").isNull() | c("_quantity").isNull(),
            F.format_string(
                "price '%s' / quantity '%s' is not a decimal that fits %s / %s exactly",
                c("_price_text"),
                c("_quantity_text"),
                F.lit(N.PRICE_TYPE.simpleString()),
                F.lit(N.QUANTITY_TYPE.simpleString()),
            ),
        ),
        Check(DlqErrorType.NON_POSITIVE_PRICE, c("_price") <= 0, F.concat(F.lit("price "), c("_price_text"))),
        Check(
            DlqErrorType.NON_POSITIVE_QUANTITY,
            c("_quantity") <= 0,
            F.concat(F.lit("quantity "), c("_quantity_text")),
        ),
        Check(DlqErrorType.INVALID_SIDE, c("_side").isNull(), F.lit("side is not buy/sell/b/s")),
        Check(
            DlqErrorType.INVALID_TIMESTAMP,
            c("_micros").isNull() | N.plausible_time_micros_col(c("_ingestion_micros")).isNull(),
            F.when(
                c("_micros").isNull(),
                F.format_string("trade time '%s' %s", c("_time_text"), F.lit(_PLAUSIBLE_TIME_TEXT)),
            ).otherwise(
                F.format_string(
                    "ingestion time %d µs %s", c("_ingestion_micros"), F.lit(_PLAUSIBLE_TIME_TEXT)
                )
            ),
        ),
        Check(
            DlqErrorType.TIMESTAMP_OUT_OF_RANGE,
            # a record without a Kafka timestamp cannot be judged: out of range, not waved through
            F.coalesce((c("_micros") > latest) | (c("_micros") < earliest), F.lit(True)),
            F.format_string(
                "trade time %d µs is outside [Kafka time %s - %d s, + %d s]",
                c("_micros"),
                F.coalesce(kafka_micros.cast("string"), F.lit("(none)")),
                F.lit(int(max_age.total_seconds())),
                F.lit(int(FUTURE_TOLERANCE.total_seconds())),
            ),
        ),
        Check(
            DlqErrorType.UNSUPPORTED_QUOTE_CURRENCY,
            ~N.is_usd_pegged_col(c("_quote")),
            F.format_string("quote %s is not USD or USD-pegged: no USD value", c("_quote")),
        ),
        Check(
            DlqErrorType.INCOMPLETE_RECORD,
            _any_null(None, V2_COLUMNS),
            _null_names(None, V2_COLUMNS, "null V2 fields: "),
        ),
    ]


_PLAUSIBLE_TIME_TEXT: Final = "is not a time (epoch seconds or RFC3339 for Kraken) in [{}, {}) µs".format(
    *N.PLAUSIBLE_TIME_RANGE
)


def _any_invalid_utf8(raw: Column, reader: str) -> Column:
    """True when a string field holds bytes that are not UTF-8: Avro strings are UTF-8, and Spark's
    decoder (unlike Python's) does not check it."""
    strings = [f.name for f in spark_schema(reader).fields if isinstance(f.dataType, T.StringType)]
    invalid = [F.coalesce(~F.is_valid_utf8(raw[name]), F.lit(False)) for name in strings]
    return functools.reduce(operator.or_, invalid, F.lit(False))


def _is_rejected_frame(topic: Column) -> Column:
    """Rows from a rejected-frames topic (contracts.rejected_topic), which Bronze reads beside the raw one."""
    return F.coalesce(topic.endswith(REJECTED_TOPIC_SUFFIX), F.lit(False))


def _rejected_frame_reason(value: Column) -> Column:
    reason = F.get_json_object(value.cast(T.StringType()), f"$.{REASON_FIELD}")
    return F.concat(F.lit("the feed could not parse the message: "), F.coalesce(reason, F.lit("(no reason)")))


def _any_null(struct: Column | None, names: tuple[str, ...]) -> Column:
    """True when any of the fields (of `struct`, or top-level columns when None) is null."""
    nulls = [(struct[n] if struct is not None else F.col(n)).isNull() for n in names]
    return functools.reduce(operator.or_, nulls, F.lit(False))


def _null_names(struct: Column | None, names: tuple[str, ...], prefix: str) -> Column:
    fields = [F.when((struct[n] if struct is not None else F.col(n)).isNull(), F.lit(n)) for n in names]
    return F.concat(F.lit(prefix), F.concat_ws(", ", *fields))


def _first_failure(checks: list[Check]) -> Column:
    """struct(error_type, error_reason) of the first failing check; null when every check passes.
    One CASE, so each condition appears once in the plan."""
    failure: Column | None = None
    for check in checks:
        found = F.struct(F.lit(check.error.value).alias("error_type"), check.reason.alias("error_reason"))
        failure = F.when(check.failed, found) if failure is None else failure.when(check.failed, found)
    assert failure is not None
    return failure


def to_silver_and_dlq(
    bronze_df: DataFrame,
    exchange: str,
    writer_schemas: Mapping[int, str],
    *,
    max_age: str | timedelta = DEFAULT_MAX_AGE,
    validated_at: datetime | Column | None = None,
) -> tuple[DataFrame, DataFrame]:
    """(silver, dlq) of a Bronze DataFrame of one exchange. writer_schemas maps registry schema id ->
    writer schema JSON. The two share one plan; a batch job that writes both should persist
    `classify_bronze` and split that instead, or the decode and checks run once per output."""
    classified = classify_bronze(
        bronze_df, exchange, writer_schemas, max_age=max_age, validated_at=validated_at
    )
    return split_classified(classified, exchange)


def classify_bronze(
    bronze_df: DataFrame,
    exchange: str,
    writer_schemas: Mapping[int, str],
    *,
    max_age: str | timedelta = DEFAULT_MAX_AGE,
    validated_at: datetime | Column | None = None,
) -> DataFrame:
    """Bronze rows with their V2 columns and `_failure` (struct of error_type, error_reason; null for
    a valid trade): the decode, normalization and every check, in one pass.

    A pure function of the rows and the arguments: the age and future checks measure from each row's
    Kafka timestamp, and `validated_at` (a time or a column) only fills validation_timestamp and the
    DLQ's error time. A streaming DataFrame may leave it None: Spark then uses the micro-batch's
    timestamp, which its offset log records, so a re-run of the batch gets the same one. A batch
    DataFrame must pass it (it has no clock of its own)."""
    if validated_at is None:
        if not bronze_df.isStreaming:
            raise ValueError("classify_bronze of a batch DataFrame needs validated_at")
        validated_at = F.current_timestamp()
    now_col = validated_at if isinstance(validated_at, Column) else F.lit(validated_at)
    return classification(exchange, writer_schemas, max_age=max_age, validated_at=now_col).apply(bronze_df)


@dataclass(frozen=True)
class Classification:
    """classify_bronze's column expressions for one exchange, set of writer schemas, maximum age and
    validation time, built once and applied to any number of Bronze DataFrames. Building them takes
    thousands of calls from Python into the JVM (one to two seconds per micro-batch on two busy
    cores, measured by hack/bench-pipeline.sh); applying them takes five. The expressions name
    columns only, so the same ones classify every batch exactly as building them anew would."""

    stages: tuple[dict[str, Column], ...]
    output: tuple[Column | str, ...]

    def apply(self, bronze_df: DataFrame) -> DataFrame:
        staged = bronze_df
        for stage in self.stages:
            staged = staged.withColumns(stage)
        return staged.select(*self.output)


def classification(
    exchange: str,
    writer_schemas: Mapping[int, str],
    *,
    max_age: str | timedelta = DEFAULT_MAX_AGE,
    validated_at: Column,
) -> Classification:
    """The expressions of classify_bronze (see there), for reuse across micro-batches."""
    parts_of = EXCHANGE_PARTS[exchange]
    reader_json = schema_json(raw_schema_name(exchange))
    now_col = validated_at.cast(T.TimestampType())
    c = F.col

    header = {"_header_ok": header_is_valid_col(c("value")), "_schema_id": schema_id_col(c("value"))}
    decoded = {
        "_raw": decode_col(c("value"), c("_schema_id"), writer_schemas, reader_json),
        **written_cols(c("value"), c("_schema_id"), writer_schemas),
    }
    parts = parts_of(c("_raw"))
    normalized = {
        "_canonical": canonical_col(c("value"), c("_schema_id"), writer_schemas),
        "_symbol_text": parts.symbol_text,
        "_base": parts.base,
        "_quote": parts.quote,
        "_symbol_error": N.symbol_error_col(exchange, parts.symbol_text, parts.base, parts.quote),
        "_price_text": parts.price_text,
        "_quantity_text": parts.quantity_text,
        "_price": N.decimal_col(parts.price_text, N.PRICE_TYPE.precision, N.PRICE_TYPE.scale),
        "_quantity": N.decimal_col(parts.quantity_text, N.QUANTITY_TYPE.precision, N.QUANTITY_TYPE.scale),
        "_micros": parts.micros,
        "_time_text": parts.time_text,
        "_ingestion_micros": F.unix_micros(parts.ingestion_timestamp),
        "_side": parts.side,
        "_trade_id": parts.trade_id,
    }
    symbol = F.when(
        c("_base").isNotNull() & c("_quote").isNotNull(), F.concat_ws("/", c("_base"), c("_quote"))
    )
    # message_id and timestamp only for a sane time: year 1970..9999 keeps date arithmetic in range.
    sane_micros = F.when(c("_micros").between(0, 253_402_300_799_999_999), c("_micros"))
    trade_key = parts.trade_key(symbol, c("_micros"), c("_price"), c("_quantity"), c("_side"))
    v2 = {
        "message_id": N.message_id_col(exchange, symbol, sane_micros, trade_key),
        "exchange": F.lit(exchange),
        "symbol": symbol,
        "base_currency": N.currency_name_col(c("_base")),
        "quote_currency": N.currency_name_col(c("_quote")),
        "price": c("_price"),
        "quantity": c("_quantity"),
        "trade_value_usd": F.when(N.is_usd_pegged_col(c("_quote")), c("_price") * c("_quantity")),
        "timestamp": F.timestamp_micros(sane_micros),
        "side": c("_side"),
        "trade_id": trade_key,
        "is_market_maker": parts.is_market_maker,
        "ingestion_timestamp": parts.ingestion_timestamp,
        "validation_timestamp": now_col,
        "schema_id": c("_schema_id"),
    }
    # Replaces Bronze's own ingestion_timestamp: from here on it is the feed's (the V2 meaning).
    typed_v2 = {name: v2[name].cast(V2_SCHEMA[name].dataType) for name in V2_COLUMNS}
    known_ids = sorted(writer_schemas)
    failure = _first_failure(_checks(exchange, known_ids, parse_duration(max_age)))
    # The non-deterministic column keeps the optimizer from pushing split_classified's filters below
    # this projection: pushing would inline every staged expression (from_avro included, 127 times)
    # into the filter condition and overflow code generation ("Code grows beyond 64 KB").
    output: tuple[Column | str, ...] = (
        *CLASSIFIED_BRONZE_COLUMNS,
        "_schema_id",
        *V2_COLUMNS,
        failure.alias("_failure"),
        F.spark_partition_id().alias("_filter_barrier"),
    )
    return Classification((header, decoded, normalized, typed_v2), output)


def split_classified(classified: DataFrame, exchange: str) -> tuple[DataFrame, DataFrame]:
    """(silver, dlq) of `classify_bronze` output: every row lands in exactly one of the two."""
    c = F.col
    kept = c("_filter_barrier") >= 0  # always true; referencing it keeps the barrier in the plan
    silver = classified.where(c("_failure").isNull() & kept).select(*V2_COLUMNS)
    checked_at = c("validation_timestamp")
    dlq_columns = {
        "raw_value": c("value"),
        "error_type": c("_failure.error_type"),
        "error_reason": F.coalesce(c("_failure.error_reason"), F.lit("")),
        "exchange": F.lit(exchange),
        "source_table": F.lit(bronze_table(exchange)),
        "kafka_topic": c("topic"),
        "kafka_partition": c("partition"),
        "kafka_offset": c("offset"),
        "schema_id": c("_schema_id"),
        "error_timestamp": checked_at,
        "error_date": N.utc_date_col(F.unix_micros(checked_at)),
    }
    dlq = classified.where(c("_failure").isNotNull() & kept).select(
        *[dlq_columns[f.name].cast(f.dataType).alias(f.name) for f in DLQ_SCHEMA.fields]
    )
    return silver, dlq


__all__ = [
    "DEFAULT_MAX_AGE",
    "FUTURE_TOLERANCE",
    "KAFKA_TIME_COLUMN",
    "V2_COLUMNS",
    "V2_SCHEMA",
    "Classification",
    "classification",
    "classify_bronze",
    "parse_duration",
    "rows_and_schema_ids",
    "schema_ids_in",
    "split_classified",
    "to_silver_and_dlq",
]
