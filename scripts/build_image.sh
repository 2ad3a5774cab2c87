#!/usr/bin/env bash
# make image: build the liverannot image with podman and tag it as nextflow.config names it
# (ghcr.io/liverannot/liverannot:<version>), on a machine that reaches a package index and Debian's
# mirror but maybe no container registry.
#
#   BASE_IMAGE=local (default)  a Debian bookworm base made here by containers/base_image.sh
#                               (debootstrap + podman import); any other value is pulled as usual,
#                               e.g. BASE_IMAGE=python:3.11-slim-bookworm (the public build's base)
#   TORCH_INDEX_URL             where torch comes from (default: the host's pip index, as every
#                               other package; on PyPI that is the CUDA build, about 3 GB more)
#   IMAGE                       the tag (default: the one nextflow.config uses)
#
# The Python packages come from the host's package index through a wheelhouse made on the host
# (.cache/wheelhouse, `pip wheel` with the host's pip configuration and cache; sdists such as annoy
# are built here, so the image needs no compiler) and mounted into the build, which installs with
# --no-index from it. Prints the image's size and the build time; last line: the tag.
set -euo pipefail
cd "$(dirname "$0")/.."
PODMAN=${PODMAN:-podman}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/containers/containers.conf}
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
IMAGE=${IMAGE:-ghcr.io/liverannot/liverannot:$VERSION}
BASE_IMAGE=${BASE_IMAGE:-local}
PY=${PYTHON:-.venv/bin/python}
WHEELS=${WHEELHOUSE:-$PWD/.cache/wheelhouse}
t0=$(date +%s)
command -v "$PODMAN" >/dev/null || { echo "build_image.sh: $PODMAN not found (apt-get install podman)" >&2; exit 1; }
[ -x "$PY" ] || PY=python3
# Disk: from PyPI, torch is the CUDA build; its wheels take about 3.2 GB in the wheelhouse and the
# image's layers about 7 GB, where podman's layer cache has none of them (a rebuild of a tag that
# exists reuses them). Say so before pip or podman fail half-way with "No space left on device".
mkdir -p "$WHEELS"
# (podman's Go template for it would need doubled braces, which nf-core lint takes for Jinja)
storage=$($PODMAN info --format json 2>/dev/null | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["store"]["graphRoot"])' 2>/dev/null || echo /var/lib/containers)
while [ ! -d "$storage" ]; do storage=$(dirname "$storage"); done
wheels_mb=300; image_mb=1000
if [ -z "${TORCH_INDEX_URL:-}" ]; then
  ls "$WHEELS"/torch-2.13.0-*.whl >/dev/null 2>&1 || wheels_mb=3500
  $PODMAN image exists "$IMAGE" || image_mb=7500
fi
[ "$(stat -c %d "$WHEELS")" = "$(stat -c %d "$storage")" ] && wheels_mb=$((wheels_mb + image_mb)) && image_mb=0
for pair in "$WHEELS:$wheels_mb" "$storage:$image_mb"; do
  dir=${pair%:*}; need_mb=${pair##*:}
  free_mb=$(df -Pm "$dir" | awk 'NR == 2 {print $4}')
  if [ "$free_mb" -lt "$need_mb" ]; then
    echo "build_image.sh: $free_mb MB free on the disk of $dir; the build needs about $need_mb MB there" \
         "(PyTorch's CUDA wheels in the wheelhouse, the image's layers where podman has not built them" \
         "before). Free some space ('podman image prune' removes the images of older builds)." >&2
    exit 1
  fi
done
if [ "$BASE_IMAGE" = local ]; then
  BASE_IMAGE=localhost/liverannot-base:bookworm
  bash containers/base_image.sh "$BASE_IMAGE"
fi
# the wheelhouse must fit the image's Python (3.11 on Debian bookworm)
pyver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$pyver" != 3.11 ]; then
  echo "build_image.sh: $PY is Python $pyver; the wheelhouse needs Python 3.11 (set PYTHON=...)" >&2
  exit 1
fi
echo "== wheelhouse $WHEELS (host's pip index$( [ -n "${TORCH_INDEX_URL:-}" ] && echo ", torch from $TORCH_INDEX_URL"))"
"$PY" -m pip wheel -q -w "$WHEELS" --find-links "$WHEELS" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple} "torch==2.13.0"
"$PY" -m pip wheel -q -w "$WHEELS" --find-links "$WHEELS" -r containers/requirements.lock "setuptools>=77" wheel
echo "== $PODMAN build $IMAGE from $BASE_IMAGE"
$PODMAN build --network host -f containers/Dockerfile -t "$IMAGE" \
  --build-arg BASE_IMAGE="$BASE_IMAGE" \
  --build-arg PIP_OPTIONS="--no-index --find-links /wheels" \
  --build-arg APT_PACKAGES="procps" \
  --build-arg TORCH_INDEX_URL="https://unused.invalid/simple" \
  -v "$WHEELS:/wheels:ro" .
# the image this tag named before (and its layers) is now untagged: remove it, and any other
# untagged liverannot image, so that rebuilds do not fill the disk
$PODMAN image prune -f --filter label=org.opencontainers.image.title=liverannot >/dev/null
size=$($PODMAN image inspect "$IMAGE" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)[0]["Size"])')
echo "== built $IMAGE: $((size / 1000000)) MB in $(( $(date +%s) - t0 )) s"
echo "$IMAGE"
