#!/usr/bin/env bash
# Create .venv and install liverannot with everything it needs (CPU PyTorch pinned FIRST: a bare
# `torch` requirement would pull a multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "torch==2.13.0"
"$VENV/bin/python" -m pip install -q -e ".[report,extras,test]"
"$VENV/bin/liverannot" --version
# compile the numba kernels of clustering, UMAP and classification now (about a minute), so that the
# first real run is as fast as the next ones (numba's disk cache; see `liverannot precompile --help`)
"$VENV/bin/liverannot" precompile -q
