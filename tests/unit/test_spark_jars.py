"""The Kafka/Avro/Delta jars K2 adds must not duplicate anything pyspark already ships (an older copy
of scala, hadoop, jackson... on the classpath breaks Spark in subtle ways)."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import pyspark
import pytest

from spark_jobs.spark_session import spark_jars_dir

pytestmark = pytest.mark.unit

POM_PROPERTIES = re.compile(r"^META-INF/maven/([^/]+)/([^/]+)/pom\.properties$")
#: The version: one or more "-<digits/letters/dots>" tokens before .jar (underscores are part of names).
LAST_VERSION = re.compile(r"(?:-\d[0-9A-Za-z.]*)+\.jar$")


def artifacts(jar: Path) -> set[str]:
    """The jar's file name without the version, plus groupId:artifactId from its own Maven metadata
    (jars also embed metadata of shaded dependencies, e.g. Spark's org.spark-project.spark:unused:
    only the entry naming this jar's artifact counts)."""
    name = LAST_VERSION.sub("", jar.name)
    with zipfile.ZipFile(jar) as archive:
        own = {f"{m[1]}:{m[2]}" for m in map(POM_PROPERTIES.match, archive.namelist()) if m and m[2] == name}
    return {name, *own}


def test_artifact_names_drop_only_the_version():
    for name, expected in [
        ("spark-sql-kafka-0-10_2.13-4.2.0.jar", "spark-sql-kafka-0-10_2.13"),
        ("delta-spark_4.2_2.13-4.4.0.jar", "delta-spark_4.2_2.13"),
        ("jackson-datatype-jdk8-2.21.2.jar", "jackson-datatype-jdk8"),
        ("zstd-jni-1.5.7-2.jar", "zstd-jni"),
        ("commons-pool2-2.13.1.jar", "commons-pool2"),
    ]:
        assert LAST_VERSION.sub("", name) == expected


PYSPARK_JARS = sorted((Path(pyspark.__file__).parent / "jars").glob("*.jar"))


def duplicates(jars: list[Path]) -> dict[str, list[str]]:
    shipped = set().union(*(artifacts(j) for j in PYSPARK_JARS))
    return {j.name: sorted(artifacts(j) & shipped) for j in jars if artifacts(j) & shipped}


def test_no_k2_jar_duplicates_a_pyspark_jar():
    k2_jars = sorted(spark_jars_dir().glob("*.jar"))
    assert k2_jars and len(PYSPARK_JARS) > 100
    assert duplicates(k2_jars) == {}
    assert any(j.name.startswith("delta-spark_") for j in k2_jars)
    assert any(j.name.startswith("spark-avro_") for j in k2_jars)


def test_an_older_copy_of_a_pyspark_jar_is_caught(tmp_path):
    """The check can fail: pyspark's jackson-core under an older version's name is a duplicate."""
    original = next(j for j in PYSPARK_JARS if j.name.startswith("jackson-core-"))
    older = tmp_path / "jackson-core-2.15.0.jar"
    shutil.copy(original, older)
    assert duplicates([older]) == {older.name: ["com.fasterxml.jackson.core:jackson-core", "jackson-core"]}
