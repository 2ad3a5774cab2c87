"""Memory for one sample's whole chain: how much a sample needs, how much there is, and a clear
error before the work when it cannot fit (issue #33: a 1M-cell sample end to end).

`liverannot run` holds the counts and the log values of every cell, then the neighbour graph and
the embedding (the peak: neighbours, Leiden and UMAP over every cell). The estimate is measured,
not derived: peak RSS of `liverannot run` on samples of distinct simulated cells at 10x-like depth
(`benchmarks/run.py --sections run`), as a fixed part plus a part per stored count. The check
compares it with what this process may use: the memory available on the machine, and the cgroup
limit of a SLURM job or container when there is one. The pipeline's per-step tasks are not
checked: a task killed for memory there is retried with more (conf/base.config), which a refusal
would prevent."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import LiverannotError

# `liverannot run` peak RSS (MB) = FIXED_MB + PER_NNZ_BYTES per stored count, never below FLOOR_MB.
# Measured (peak RSS, distinct simulated cells at 10x-like depth, 1,960 stored counts per cell):
# 10,000 cells 1,064 MB; 100,000 cells (196M counts) 3,204 MB; 200,000 cells (392M counts) 6,218 MB.
# The line through the two largest (the trend at scale: counts and log values of every cell, and
# the copies the steps make of them) gives FIXED_MB and PER_NNZ_BYTES; below about 50,000 cells the
# fixed cost of the libraries and models dominates (FLOOR_MB).
FIXED_MB = 181.0
PER_NNZ_BYTES = 16.17
FLOOR_MB = 1100.0
DEPTH_NNZ = 1960.0      # stored counts per cell of the measured runs, for a size given in cells only
# what the estimate may be short by before the check refuses (the measured points sit within it)
MARGIN = 1.15

NO_CHECK_ENV = "LIVERANNOT_NO_MEMORY_CHECK"
# a cap the user sets (MB), e.g. on a shared machine where the free memory is not all theirs
MAX_MEMORY_ENV = "LIVERANNOT_MAX_MEMORY_MB"


class ResourceError(LiverannotError):
    """The machine or job does not have the memory a step needs."""


class NotEnoughMemoryError(ResourceError):
    """A sample needs more memory than there is here. Exits 137, as an out-of-memory kill does, so that
    a pipeline task (whose memory limit is what the check saw) is retried with more memory
    (conf/base.config) instead of failing for good."""

    exit_code = 137


def estimate_peak_mb(n_cells: int, nnz: int | None = None) -> float:
    """Peak memory (MB) of the per-sample chain on `n_cells` cells holding `nnz` stored counts (at
    the measured runs' depth when not given)."""
    if nnz is None:
        nnz = int(n_cells * DEPTH_NNZ)
    return max(FLOOR_MB, FIXED_MB + nnz * PER_NNZ_BYTES / 2**20)


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_mb() -> float | None:
    """Memory this process may still use (MB): the machine's MemAvailable, or less when a cgroup
    (a SLURM job, a container) limits it or LIVERANNOT_MAX_MEMORY_MB caps it. None when none of
    these can be read."""
    options = []
    cap = os.environ.get(MAX_MEMORY_ENV)
    if cap:
        try:
            options.append(float(cap))
        except ValueError:
            raise ResourceError(f"{MAX_MEMORY_ENV}={cap!r}: give the memory liverannot may use in MB, e.g. 8000") from None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                options.append(int(line.split()[1]) / 1024)
    except OSError:
        pass
    # cgroup v2, then v1; a limit near 2**63 means none
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit = _read_int(limit_file)
        if limit is not None and limit < 2**60:
            used = _read_int(usage_file) or 0
            options.append((limit - used) / 2**20)
            break
    return min(options) if options else None


def peek_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(cells, stored counts) of an input without reading its matrix: .h5ad with a sparse X, 10x .h5
    and 10x folders; None for others (a dense X, .loom, tables: they are checked once read)."""
    from .io import detect_format

    p = Path(path)
    try:
        fmt = detect_format(p)
    except LiverannotError:
        return None
    try:
        if fmt == "h5ad":
            import h5py

            with h5py.File(p, "r") as f:
                X = f["X"]
                if isinstance(X, h5py.Dataset):
                    # dense: its zeros are not counts (it is made sparse once read); checked then
                    return None
                return int(X.attrs["shape"][0]), int(X["data"].shape[0])
        if fmt == "10x_h5":
            import h5py

            with h5py.File(p, "r") as f:
                g = f["matrix"] if "matrix" in f else f[next(iter(f.keys()))]
                return int(g["shape"][1]), int(g["data"].shape[0])
        if fmt == "10x_dir":
            import gzip

            mtx = next(q for q in sorted(p.iterdir()) if q.name.startswith("matrix.mtx"))
            with (gzip.open(mtx, "rt") if mtx.name.endswith(".gz") else open(mtx)) as fh:
                for line in fh:
                    if not line.startswith("%"):
                        _genes, cells, nnz = (int(x) for x in line.split()[:3])
                        return cells, nnz
    except Exception:  # an unreadable file is reported by the reader, with its own message
        return None
    return None


def stored_counts(X) -> int:
    """Stored (non-zero) entries of a sparse or dense matrix."""
    import numpy as np
    import scipy.sparse as sp

    return int(X.nnz) if sp.issparse(X) else int(np.count_nonzero(np.asarray(X)))


def check_memory(n_cells: int, nnz: int | None, what: str) -> None:
    """Raise ResourceError, before any work, when `what` (a sample) cannot fit in the memory there
    is. Skipped when LIVERANNOT_NO_MEMORY_CHECK is set (to try anyway)."""
    if os.environ.get(NO_CHECK_ENV):
        return
    have = available_mb()
    need = estimate_peak_mb(n_cells, nnz)
    if have is None or need <= have * MARGIN:
        return
    counts = f", {nnz:,} stored counts" if nnz is not None else ""
    raise NotEnoughMemoryError(
        f"{what}: {n_cells:,} cells{counts} need about {need / 1024:.1f} GB of memory at the peak of "
        f"the chain (clustering: neighbours, Leiden, UMAP), and {have / 1024:.1f} GB is available here. "
        f"Run it where there is more (a machine or SLURM job with at least {need * 1.1 / 1024:.0f} GB), or "
        f"split the sample (by donor, batch or lane) and run the parts as samples of one cohort. "
        f"{NO_CHECK_ENV}=1 tries anyway.")
