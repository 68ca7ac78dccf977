"""The dead-letter queue contract: its fixed error types and its row shape (from dlq_record.avsc)."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pyspark.sql import types as T

from spark_jobs.avro_schemas import spark_schema


class DlqErrorType(StrEnum):
    """Why Silver rejected a record. The first check that fails names the error (in this order)."""

    #: the feed could not parse the exchange's message (or one trade of it): the record is the
    #: rejected-frame envelope (spark_jobs.rejected_frames) with the raw text and the feed's reason
    UNPARSEABLE_FRAME = "unparseable_frame"
    BAD_MAGIC_BYTE = "bad_magic_byte"  # null value, shorter than the 5-byte header, or first byte not 0
    UNKNOWN_SCHEMA_ID = "unknown_schema_id"  # no writer schema for the header's id
    AVRO_DECODE_ERROR = "avro_decode_error"  # body does not decode with the writer schema (or bad UTF-8)
    MISSING_FIELD = "missing_field"  # a field the trade needs is null
    EMPTY_SYMBOL = "empty_symbol"  # the symbol is the empty string
    INVALID_SYMBOL_SYNTAX = "invalid_symbol_syntax"  # a character no exchange sends (lower case, space, ...)
    UNKNOWN_SYMBOL_FORMAT = "unknown_symbol_format"  # no known quote asset / not BASE/QUOTE
    INVALID_TRADE_ID = "invalid_trade_id"  # outside 0 .. 2^53 - 1
    INVALID_DECIMAL = "invalid_decimal"  # price/quantity not ASCII decimal text that fits the V2 type exactly
    NON_POSITIVE_PRICE = "non_positive_price"
    NON_POSITIVE_QUANTITY = "non_positive_quantity"
    INVALID_SIDE = "invalid_side"
    INVALID_TIMESTAMP = "invalid_timestamp"  # trade or ingestion time not parseable or not in 2009..2099
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"  # > 60 s in the future or older than max age
    UNSUPPORTED_QUOTE_CURRENCY = "unsupported_quote_currency"  # not USD or USD-pegged: no USD value
    INCOMPLETE_RECORD = "incomplete_record"  # a V2 field came out null: never dropped silently


DLQ_ERROR_TYPES: Final[tuple[str, ...]] = tuple(e.value for e in DlqErrorType)

#: The DLQ Delta table's columns (one table for both exchanges), derived from dlq_record.avsc.
DLQ_SCHEMA: Final[T.StructType] = spark_schema("dlq_record")
DLQ_COLUMNS: Final[tuple[str, ...]] = tuple(DLQ_SCHEMA.fieldNames())
DLQ_PARTITION_COLUMN: Final = "error_date"
