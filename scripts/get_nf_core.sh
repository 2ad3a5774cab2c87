#!/usr/bin/env bash
# nf-core tools, pinned, in a venv of its own (.cache/nf-core-venv: its dependencies must not mix
# with liverannot's), for `nf-core pipelines lint` (tests/test_nf_core_lint.py). The last line
# printed is the nf-core command's path.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.2.1
VENV=.cache/nf-core-venv
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/nf-core" ] || ! "$VENV/bin/nf-core" --version 2>/dev/null | grep -q "version $VERSION\$"; then
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  if ! "$VENV/bin/python" -m pip install -q "nf-core==$VERSION"; then
    echo "get_nf_core: could not install nf-core==$VERSION from PyPI" >&2
    exit 1
  fi
fi
echo "$(pwd)/$VENV/bin/nf-core"
