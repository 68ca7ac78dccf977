#!/usr/bin/env bash
# Build K2's container images from the Dockerfiles in hack/images/, here, with no image registry:
#
#   mmdebstrap (Debian bookworm, minbase)  ->  committed as docker.io/library/debian:bookworm-slim
#   buildah bud --pull=never (each Dockerfile starts FROM that base)  ->  an OCI archive per image
#
# The archives (~/.cache/k2/images/NAME-TAG.oci.tar, named docker.io/k2/NAME:TAG inside) load with
# `ctr -n k8s.io image import` and `kind load image-archive`. buildah keeps its layers in a private
# storage folder under ~/.cache/k2/containers, never the system one.
#
# Each image is cached by a content hash of everything it is built from (Dockerfile, build context,
# base image key): when nothing changed, a run takes seconds and prints the existing archive.
#
#   hack/build-images.sh [NAME...]     build the named images (default: all); prints "NAME ARCHIVE" lines
#   hack/build-images.sh base          only the Debian base (into the private storage)
#   hack/build-images.sh buildah ARGS  buildah on that private storage (e.g. `buildah images`)
#   K2_IMAGE_TAG=dev hack/build-images.sh    another tag (default: the project version)
#
# Adding an image = a Dockerfile in hack/images/ + one `image` line at the bottom of this file.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
log() { printf '[build-images] %s\n' "$*" >&2; }

cache="${XDG_CACHE_HOME:-$HOME/.cache}/k2"
images_dir="$cache/images"
python="${K2_BUILD_PYTHON:-$root/.venv/bin/python}"
tag="${K2_IMAGE_TAG:-$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)}"
mkdir -p "$images_dir"

# --- tools: Debian packages, installed when missing (runc, not crun: crun fails on hybrid cgroups) ---
need=()
for tool in buildah:buildah mmdebstrap:mmdebstrap runc:runc; do
  command -v "${tool%%:*}" >/dev/null || need+=("${tool#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]} (apt-get)"
  sudo_cmd=(); [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${need[@]}" >&2
fi
[ "$(id -u)" = 0 ] || { log "needs root (buildah with a private storage folder, mmdebstrap)"; exit 1; }

store_opts=(--root "$cache/containers/storage" --runroot "$cache/containers/run" --storage-driver overlay)
bah() { buildah "${store_opts[@]}" "$@"; }

sha() { sha256sum | cut -c1-16; }

# Content key of a file or folder: a folder holding `.content-key` (written by the generators below
# for big caches such as wheelhouses) is keyed by that file; anything else by every file's bytes.
content_key() {
  local src="$1"
  if [ -f "$src/.content-key" ]; then cat "$src/.content-key"
  elif [ -d "$src" ]; then (cd "$src" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha
  else sha < "$src"
  fi
}

# --- the base: Debian bookworm minbase made by mmdebstrap, committed as debian:bookworm-slim --------
# No mirror argument: mmdebstrap's default, so no mirror host is written into this repo.
base_opts=(
  --variant=minbase --include=ca-certificates --format=tar
  # /usr merged by mmdebstrap's own hook: otherwise apt picks `usrmerge`, which pulls in all of perl.
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-include=/usr/share/locale/locale.alias'
  # openjdk's postinst registers man pages with update-alternatives and fails without these folders.
  --customize-hook='for i in 1 2 3 4 5 6 7 8; do mkdir -p "$1/usr/share/man/man$i"; done'
  # The build host's resolver and name must not end up in every image.
  --customize-hook='rm -f "$1/etc/resolv.conf" "$1/etc/hostname"'
)
base_name=docker.io/library/debian:bookworm-slim
base_key="$(printf '%s\n' bookworm "${base_opts[@]}" | sha)"

ensure_base() {
  local tarball="$images_dir/base/debian-bookworm-minbase-$base_key.tar" start
  if bah inspect --type image "localhost/k2-base:$base_key" >/dev/null 2>&1; then
    bah tag "localhost/k2-base:$base_key" "$base_name" >/dev/null
    return
  fi
  if [ ! -f "$tarball" ]; then
    start=$(date +%s)
    log "base: mmdebstrap bookworm minbase (about a minute)"
    mkdir -p "$(dirname "$tarball")"
    mmdebstrap "${base_opts[@]}" bookworm "$tarball.tmp" </dev/null >&2
    # Device nodes made by mmdebstrap are the runtime's business, not the image's.
    tar --delete -f "$tarball.tmp" --wildcards './dev/?*'
    mv "$tarball.tmp" "$tarball"
    log "base: built in $(( $(date +%s) - start )) s"
  fi
  local container
  container=$(bah from scratch)
  bah add "$container" "$tarball" / >/dev/null
  bah config --cmd /bin/bash "$container"
  bah commit --rm "$container" "localhost/k2-base:$base_key" >/dev/null
  bah tag "localhost/k2-base:$base_key" "$base_name" >/dev/null
}

# --- build-context generators: each prints a folder (cached under ~/.cache/k2/images/) -------------

# The project's own wheel, keyed by the sources it is built from.
project_wheel() {
  local key dest
  key=$( (find spark_jobs operator k2_shared -type f ! -name '*.pyc' -print0 2>/dev/null; printf '%s\0' pyproject.toml README.md) \
    | LC_ALL=C sort -z | xargs -0 sha256sum | sha)
  dest="$images_dir/wheels/project-$key"
  if [ ! -f "$dest/.content-key" ]; then
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
    local build="$dest.tmp/build"   # a copy, so the build leaves no build/ or egg-info in the repo
    mkdir -p "$build"
    cp -r pyproject.toml README.md spark_jobs operator "$build/"
    [ -d k2_shared ] && cp -r k2_shared "$build/"
    find "$build" -name '__pycache__' -prune -exec rm -rf {} +
    "$python" -m pip wheel -q --no-deps --no-build-isolation -w "$dest.tmp" "$build" >&2
    rm -rf "$build"
    echo "$key" > "$dest.tmp/.content-key"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
  fi
  echo "$dest"
}

# pip's own wheel: the images install with it run from the wheel, so pip itself is not installed.
pip_wheel_into() { "$python" -m pip download -q --no-deps --only-binary :all: -d "$1" pip >&2; }

# A wheelhouse for `pip install --no-index`: the project wheel and every dependency, built on this host
# (pip's cache makes pyspark's 450 MB sdist a quick rebuild), keyed by pyproject.toml and the sources.
job_wheelhouse() {
  local project key dest
  project=$(project_wheel)
  key=$( { content_key "$project"; sha256sum pyproject.toml; } | sha)
  dest="$images_dir/wheels/job-$key"
  if [ ! -f "$dest/.content-key" ]; then
    log "job wheelhouse: pip wheel (pyspark comes from pip's cache after the first time)"
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
    cp "$project"/*.whl "$dest.tmp/"
    "$python" -m pip wheel -q -w "$dest.tmp" "$project"/*.whl >&2
    pip_wheel_into "$dest.tmp"
    basename "$project"/*.whl | sed 's/-.*//; s/_/-/g' > "$dest.tmp/requirements.txt"
    echo "$key" > "$dest.tmp/.content-key"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
  fi
  echo "$dest"
}

# The operator's wheelhouse: a wheel of only k2_operator and k2_shared (the operator imports nothing
# else of the project), generated from pyproject.toml, whose `operator` extra gives its dependencies.
operator_wheelhouse() {
  local project key dest stage
  project=$(project_wheel)   # keyed by the same sources
  key=$( { content_key "$project"; echo operator-v1; } | sha)
  dest="$images_dir/wheels/operator-$key"
  if [ ! -f "$dest/.content-key" ]; then
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp/stage"
    stage="$dest.tmp/stage"
    cp -r operator/k2_operator k2_shared "$stage/"
    find "$stage" -name '__pycache__' -prune -exec rm -rf {} +
    "$python" - "$stage/pyproject.toml" <<'PY'
import json, sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))
meta, setuptools = project["project"], project["tool"]["setuptools"]
operator_data = setuptools["package-data"]["k2_operator"]
lines = [
    "[build-system]", 'requires = ["setuptools>=68"]', 'build-backend = "setuptools.build_meta"', "",
    "[project]", 'name = "k2-operator"', f'version = {json.dumps(meta["version"])}',
    f'requires-python = {json.dumps(meta["requires-python"])}',
    f'dependencies = {json.dumps(meta["optional-dependencies"]["operator"])}', "",
    "[tool.setuptools.packages.find]", 'include = ["k2_operator*", "k2_shared*"]', "",
    "[tool.setuptools.package-data]", f"k2_operator = {json.dumps(operator_data)}",
]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
    "$python" -m pip wheel -q --no-deps --no-build-isolation -w "$dest.tmp" "$stage" >&2
    rm -rf "$stage"
    "$python" -m pip wheel -q -w "$dest.tmp" "$dest.tmp"/k2_operator-*.whl >&2
    echo k2-operator > "$dest.tmp/requirements.txt"
    pip_wheel_into "$dest.tmp"
    echo "$key" > "$dest.tmp/.content-key"
    rm -rf "$dest" && mv "$dest.tmp" "$dest"
  fi
  echo "$dest"
}

# The Spark jars (Kafka source, Avro, Delta) pinned by hack/spark-jars-pom.xml.
spark_jars() { hack/fetch-spark-jars.sh; }

# --- images -----------------------------------------------------------------------------------------
declare -A image_dockerfile=() image_parts=()
image_names=()
# image NAME DOCKERFILE [DEST=SOURCE ...]: SOURCE is a path in the repo, or `!command` whose last line
# of output is a path (a generator above or a hack/ script). DEST is its name in the build context.
image() {
  local name="$1" dockerfile="$2"; shift 2
  image_names+=("$name")
  image_dockerfile[$name]="$dockerfile"
  image_parts[$name]="$*"
}

build_image() {
  local name="$1" dockerfile="${image_dockerfile[$1]}" part dest src key context archive start
  # Per run: two checkouts sharing this cache may build at once (their contexts must not mix).
  context="$images_dir/context/$name-$tag.$$"
  rm -rf "$context" && mkdir -p "$context"
  key=$( {
    echo "$name $tag $base_key"
    sha256sum < "$dockerfile"
    for part in ${image_parts[$name]}; do
      dest="${part%%=*}" src="${part#*=}"
      if [ "${src:0:1}" = "!" ]; then src=$(eval "${src:1}" | tail -1); fi
      [ -e "$src" ] || { log "$name: $dest: no such file or folder: $src"; exit 1; }
      # Hard links where possible: the context of the job image is ~0.5 GB of wheels.
      cp -al "$src" "$context/$dest" 2>/dev/null || cp -a "$src" "$context/$dest"
      echo "$dest $(content_key "$src")"
    done
  } | sha)
  archive="$images_dir/$name-$tag.oci.tar"
  if [ -f "$archive" ] && [ "$(cat "$archive.key" 2>/dev/null)" = "$key" ]; then
    log "$name: up to date ($key)"
    rm -rf "$context"
    echo "$name $archive"
    return
  fi
  ensure_base
  start=$(date +%s)
  log "$name: building $dockerfile ($key)"
  # --pull=never: the base exists only in this storage. The host's CA bundle lets apt in RUN steps reach
  # the network exactly like the host does. --layers: a changed wheelhouse reuses the apt/JRE layer.
  nice -n 10 buildah "${store_opts[@]}" bud --isolation chroot --network host --pull=never --layers \
    --volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
    --label "dev.k2.content-key=$key" -f "$root/$dockerfile" -t "localhost/$name:$tag" "$context" >&2
  # docker.io/k2/NAME:TAG inside the archive: the name a pod spec's `image: k2/NAME:TAG` resolves to.
  # Pushed beside the old archive, then renamed over it: a reader never finds the archive missing.
  bah push -q "localhost/$name:$tag" "oci-archive:$archive.tmp.$$:docker.io/k2/$name:$tag" >&2
  rm -f "$archive.key"
  mv "$archive.tmp.$$" "$archive"
  echo "$key" > "$archive.key"
  rm -rf "$context"
  log "$name: built in $(( $(date +%s) - start )) s, $(du -m "$archive" | cut -f1) MB archive"
  echo "$name $archive"
}

#     NAME       Dockerfile                       build context
image streaming  hack/images/streaming.Dockerfile wheels='!job_wheelhouse' jars='!spark_jars' entrypoint.sh=hack/images/streaming-entrypoint.sh
image operator   hack/images/operator.Dockerfile  wheels='!operator_wheelhouse'
# Kafka and the schema registry for the e2e tier: their generators and `image` lines.
source "$root/hack/images/e2e-images.sh"

# `hack/build-images.sh buildah ARGS...`: buildah on the private storage (tests, e2e, looking around).
if [ "${1:-}" = buildah ]; then shift; exec buildah "${store_opts[@]}" "$@"; fi

selected=("$@")
[ "${#selected[@]}" -gt 0 ] || selected=("${image_names[@]}")
for name in "${selected[@]}"; do
  if [ "$name" = base ]; then ensure_base; echo "base $base_name"; continue; fi
  [ -n "${image_dockerfile[$name]:-}" ] || { log "unknown image $name (known: ${image_names[*]})"; exit 1; }
  build_image "$name"
done
