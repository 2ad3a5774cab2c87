"""Compile once, at install or image build time, what every process would otherwise compile on its
first sample: the numba kernels of liverannot, UMAP and scanpy (kept in numba's on-disk cache) and
matplotlib's font list.

Without it a user's first `liverannot run` of 10,000 cells takes about 1.8 times as long as the
next one (benchmarks/RESULTS.md; numba compiling the neighbour graph's, UMAP's and the
classifier's kernels), and in a container whose cache folder is thrown away with the container
every task pays that again.
``make setup`` and the image build call ``liverannot precompile``; a user who installs with pip
may call it once too (nothing breaks without it: numba then compiles on first use, as before).

The cache is written where numba puts it: ``NUMBA_CACHE_DIR`` when set, else ``__pycache__``
beside each library's sources. numba keys each entry by the function's source, its argument types
and the CPU, so the entries made here serve any later run on this machine; a run on another CPU
model, or with argument types the small sample does not use, compiles its own (and adds them).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

#: cells of the simulated sample the chain runs on: more than the 2,000 highly variable genes,
#: so that clustering takes the same path (PCA of the scaled genes from row chunks) as a real sample
N_CELLS = 2500
#: and a sample with fewer cells than that, which clusters through scanpy's scale
SMALL = 600


def cache_location() -> str:
    """Where numba keeps its compiled functions for this process."""
    import numba

    return numba.config.CACHE_DIR or "__pycache__ beside each library's sources"


def precompile(n_cells: int = N_CELLS, seed: int = 0) -> dict:
    """Run the whole per-sample chain (QC, normalization, clustering with UMAP, classification with
    zonation, annotation, plots) on two small simulated samples, a human one of ``n_cells`` and a
    mouse one of fewer cells than highly variable genes, then classify both read back from their
    h5ad with either kind of model, as the Nextflow steps do, in a temporary folder, so that numba
    writes every kernel the chain uses to its cache and matplotlib its font list. Returns the
    seconds it took and where the compiled functions went."""
    from . import api
    from .demo import simulate_sample
    from .io import read_input
    from .pipeline import RunSettings, process_sample

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="liverannot-precompile-") as tmp:
        out = Path(tmp)
        # a sample with more cells than highly variable genes (PCA from row chunks) and one with fewer
        # (scanpy's scale), each through the whole chain
        samples = (("human", n_cells), ("mouse", SMALL))
        for species, n in samples:
            process_sample(simulate_sample(species, n_cells=n, seed=seed), species,
                           RunSettings(species=species, seed=seed), out / species)
        # the separate steps of the Nextflow pipeline classify a sample read back from its h5ad; each
        # species' and kind's model lays out its features differently, and numba compiles a kernel
        # once per memory layout of its arguments
        for species, _ in samples:
            for model in ("nn", "rf"):
                api.classify(read_input(out / species / f"{species}.annotated.h5ad"), species=species, model=model)
    seconds = time.perf_counter() - t0
    import matplotlib

    where = {"numba_cache": cache_location(), "matplotlib_config": matplotlib.get_configdir()}
    log.info("compiled in %.1f s; numba cache: %s; matplotlib: %s", seconds, where["numba_cache"],
             where["matplotlib_config"])
    return {"seconds": round(seconds, 1), **where}
