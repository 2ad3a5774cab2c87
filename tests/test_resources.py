"""The memory check before a sample's chain (liverannot.resources; issue #33): sizes read without
the matrix, an estimate that holds for the measured runs, and a clear stop before any work or
output when a sample cannot fit."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.sparse as sp

from liverannot import resources
from liverannot.demo import write_10x
from liverannot.io import read_input, write_h5ad

ROOT = Path(__file__).resolve().parents[1]
LIVERANNOT = [sys.executable, "-m", "liverannot"]


@pytest.fixture(scope="module")
def small(human_sample):
    return human_sample[:300].copy()


def test_the_size_of_each_format_is_read_without_its_matrix(small, tmp_path):
    write_h5ad(small, tmp_path / "sparse.h5ad")
    dense = small.copy()
    dense.X = dense.X.toarray()
    write_h5ad(dense, tmp_path / "dense.h5ad")
    write_10x(small, tmp_path / "tenx", gz=True)
    X = sp.csc_matrix(small.X.T.astype(np.int32))  # 10x .h5: genes x cells
    with h5py.File(tmp_path / "f.h5", "w") as f:
        m = f.create_group("matrix")
        m["data"], m["indices"], m["indptr"], m["shape"] = X.data, X.indices, X.indptr, np.array(X.shape)
        m["barcodes"] = np.array(small.obs_names, dtype="S")
        feat = m.create_group("features")
        feat["id"] = feat["name"] = np.array(small.var_names, dtype="S")
        feat["feature_type"] = np.array(["Gene Expression"] * small.n_vars, dtype="S")
    nnz = small.X.nnz
    for name in ("sparse.h5ad", "tenx", "f.h5"):
        assert resources.peek_size(tmp_path / name) == (small.n_obs, nnz), name
        assert read_input(tmp_path / name).n_obs == small.n_obs
    small.to_df().to_csv(tmp_path / "t.csv")
    # checked once read, with the non-zero entries (a dense matrix's zeros are not stored counts)
    for name in ("t.csv", "dense.h5ad"):
        assert resources.peek_size(tmp_path / name) is None, name
        assert resources.stored_counts(read_input(tmp_path / name).X) == nnz, name
    (tmp_path / "broken.h5ad").write_bytes(b"not hdf5")
    assert resources.peek_size(tmp_path / "broken.h5ad") is None  # the reader reports it


def test_the_estimate_holds_for_the_measured_runs():
    """benchmarks/tables/run.csv: `liverannot run` peaks measured at 10x-like depth."""
    with open(ROOT / "benchmarks" / "tables" / "run.csv") as fh:
        rows = [r for r in csv.DictReader(line for line in fh if not line.startswith("#"))
                if r["status"] == "ok" and "excluded" in r["what"]]
    assert {int(r["cells"]) for r in rows} >= {10_000, 100_000}
    for r in rows:
        measured = float(r["peak_rss_mb_max"])
        estimate = resources.estimate_peak_mb(int(r["cells"]))
        # never refuses a run that fitted, and never far below what a run took
        assert measured <= estimate * resources.MARGIN and estimate <= measured * resources.MARGIN, (r["cells"], estimate)
    # more cells, more stored counts: more memory
    assert resources.estimate_peak_mb(200_000) > resources.estimate_peak_mb(100_000)
    assert resources.estimate_peak_mb(100_000, 300_000_000) > resources.estimate_peak_mb(100_000, 100_000_000)


def test_the_check_says_what_a_sample_needs_and_has(monkeypatch):
    monkeypatch.setenv(resources.MAX_MEMORY_ENV, "8000")
    assert resources.available_mb() <= 8000
    resources.check_memory(100_000, 150_000_000, "sample small")          # about 3 GB: fits
    with pytest.raises(resources.ResourceError) as err:
        resources.check_memory(1_000_000, 1_500_000_000, "sample atlas")
    msg = str(err.value)
    assert "sample atlas: 1,000,000 cells" in msg and "GB is available here" in msg and "split the sample" in msg
    monkeypatch.setenv(resources.NO_CHECK_ENV, "1")
    resources.check_memory(1_000_000, 1_500_000_000, "sample atlas")      # told to try anyway
    monkeypatch.setenv(resources.MAX_MEMORY_ENV, "lots")
    with pytest.raises(resources.ResourceError, match="in MB"):
        resources.available_mb()


def _cli(args, env_extra, cwd):
    env = {**os.environ, **env_extra}
    env.pop(resources.NO_CHECK_ENV, None)
    return subprocess.run(LIVERANNOT + args, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def test_run_stops_a_sample_that_cannot_fit_before_any_work(small, tmp_path):
    write_h5ad(small, tmp_path / "s.h5ad")
    (tmp_path / "sheet.csv").write_text("sample,input,species\ns,s.h5ad,human\n")
    # a cap below the chain's fixed part: no sample fits
    r = _cli(["run", "--input", "sheet.csv", "--outdir", "out", "--no-multiqc"], {resources.MAX_MEMORY_ENV: "300"},
             tmp_path)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "sample s: 300 cells" in r.stderr and "available here" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out" / "s").exists()


def test_sample_that_cannot_fit_exits_as_an_out_of_memory_kill_so_the_pipeline_retries_it(small, tmp_path):
    """`liverannot sample` (the pipeline's task) stops before any work with the same message, and exit
    137, the code conf/base.config retries with more memory (an out-of-memory kill's)."""
    write_h5ad(small, tmp_path / "s.h5ad")
    r = _cli(["sample", "-i", "s.h5ad", "--sample", "s", "--outdir", "out"], {resources.MAX_MEMORY_ENV: "300"}, tmp_path)
    assert r.returncode == 137, r.stderr[-2000:]
    assert "sample s: 300 cells" in r.stderr and "available here" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()
    # a configuration mistake is not retried: exit 2
    r = _cli(["sample", "-i", "s.h5ad", "--sample", "s", "--outdir", "out"], {resources.MAX_MEMORY_ENV: "lots"}, tmp_path)
    assert r.returncode == 2 and "in MB" in r.stderr
    base = (ROOT / "conf" / "base.config").read_text()
    assert "task.exitStatus in ((130..145) + 104)" in base   # 137 is in the retried range
