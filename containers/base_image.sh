#!/usr/bin/env bash
# Build a Debian bookworm base image locally, for machines that reach Debian's package mirror but
# no container registry: debootstrap a minimal rootfs with Python 3.11 and import it into podman.
#   bash containers/base_image.sh [TAG]      (default tag: localhost/liverannot-base:bookworm)
# The image's Dockerfile then builds FROM it:  make image BASE_IMAGE=localhost/liverannot-base:bookworm
# Needs root, debootstrap and podman. Takes about 3 minutes; does nothing if the tag exists.
set -euo pipefail
TAG="${1:-localhost/liverannot-base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PODMAN="${PODMAN:-podman}"
if $PODMAN image exists "$TAG"; then
  echo "base image $TAG exists"
  exit 0
fi
for tool in debootstrap $PODMAN; do
  command -v "$tool" >/dev/null || { echo "base_image.sh: $tool not found (apt-get install debootstrap podman)" >&2; exit 1; }
done
work="$(mktemp -d "${TMPDIR:-/var/tmp}/liverannot-rootfs.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "== debootstrap bookworm from $MIRROR into $work"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,procps \
  bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
  tail -20 "$work/debootstrap.log" >&2; echo "base_image.sh: debootstrap failed" >&2; exit 1; }
# a slim base: no package lists, caches, docs or locales
rm -rf "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/cache/apt/*.bin "$work"/rootfs/usr/share/doc/* \
       "$work"/rootfs/usr/share/man/* "$work"/rootfs/usr/share/locale/*
echo "== podman import -> $TAG"
tar -C "$work/rootfs" -c . | $PODMAN import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$TAG" >/dev/null
$PODMAN image ls "$TAG"
