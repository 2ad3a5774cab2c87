"""`liverannot precompile` (make setup, the image build): after it, a real run compiles nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_h5ad

pytestmark = pytest.mark.slow
LIVERANNOT = str(Path(sys.executable).parent / "liverannot")


def cache_files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file of a numba cache folder (index .nbi, compiled .nbc) with its size and mtime."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


def test_after_precompile_the_run_and_the_pipeline_steps_compile_nothing(tmp_path):
    """precompile fills an empty NUMBA_CACHE_DIR with the kernels of liverannot, UMAP, pynndescent and
    scanpy; then `liverannot run` on other samples (mouse, human, more and fewer cells than highly
    variable genes) and the pipeline's separate
    cluster and classify steps on h5ad files add or rewrite no cache entry: every kernel they need
    was compiled, with their argument types, by precompile."""
    from liverannot.demo import simulate_sample

    cache = tmp_path / "numba"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    r = subprocess.run([LIVERANNOT, "precompile"], env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"numba cache: {cache}" in r.stdout
    before = cache_files(cache)
    assert sum(f.endswith(".nbc") for f in before) >= 20, sorted(before)
    libraries = {f.split("_")[0] for f in before}
    assert {"liverannot", "umap", "pynndescent"} <= libraries, libraries

    write_h5ad(simulate_sample("mouse", n_cells=3200, seed=8), tmp_path / "m.h5ad")
    write_h5ad(simulate_sample("human", n_cells=700, seed=9), tmp_path / "h.h5ad")  # fewer cells than HVGs
    (tmp_path / "sheet.csv").write_text("sample,input,species\nm,m.h5ad,mouse\nh,h.h5ad,human\n")
    steps = [["run", "--input", str(tmp_path / "sheet.csv"), "--outdir", str(tmp_path / "res"), "--no-multiqc"],
             ["normalize", "-i", str(tmp_path / "m.h5ad"), "-o", str(tmp_path / "m.norm.h5ad")],
             ["cluster", "-i", str(tmp_path / "m.norm.h5ad"), "-o", str(tmp_path / "m.cl.h5ad")],
             ["classify", "-i", str(tmp_path / "m.cl.h5ad"), "-o", str(tmp_path / "m.cls.h5ad")]]
    for step in steps:
        r = subprocess.run([LIVERANNOT, *step, "-q"], env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, (step[0], r.stderr[-3000:])
        after = cache_files(cache)
        assert after == before, (step[0], sorted(set(after.items()) ^ set(before.items())))
    assert (tmp_path / "res" / "m" / "m.annotated.h5ad").exists() and (tmp_path / "res" / "h" / "h.annotated.h5ad").exists()
    assert (tmp_path / "m.cls.h5ad").exists()
