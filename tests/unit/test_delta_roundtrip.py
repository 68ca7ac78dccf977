"""The jars load: a Delta table written and read back through the one session factory."""

import pytest
from chispa import assert_df_equality

pytestmark = pytest.mark.unit


def test_delta_round_trip(spark, tmp_path):
    df = spark.createDataFrame([(1, "BTCUSDT"), (2, "ETHUSDT")], "id INT, symbol STRING")
    path = str(tmp_path / "roundtrip")
    df.write.format("delta").save(path)
    back = spark.read.format("delta").load(path)
    assert_df_equality(back, df, ignore_row_order=True)
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").collect()
    assert [r.operation for r in history] == ["WRITE"]
