#!/usr/bin/env python
"""Where `liverannot classify` spends its time, stage by stage (issue #33: what remains of the 1M goal).

    python benchmarks/profile_classify.py benchmarks/out/synthetic_1000000.h5ad nn   # prints one JSON line

Runs ``liverannot classify -i FILE -o calls.csv`` in this process, exactly as the command line does,
with a clock around each stage function of the classifier (stream -> features -> probabilities ->
decisions -> outputs); the clocks are taken once per 10,000-cell chunk, so they cost nothing measurable.
The seconds are wall time on the main thread: reading runs in a thread of its own, so "waiting for the
reader" is only the part of the reading that the work did not hide. "rest" is what no clock covered
(start-up, imports, opening the file and loading the model, and the small steps between the clocked
ones: the hepatocyte mixtures' credit, the non-liver gate, copying each chunk's scores out).

For the network, its first layer (every member's first layer in one matrix product) is also timed
alone, after the run, on the features of the file's first chunks, and scaled to the file's cells:
that product's floating-point work is fixed by the network's shape, so it shows what a smaller
network (issue #32's recipes) would save.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

#: (stage name, module path, attribute path): the functions clocked, in the order of the pipeline
STAGES = [
    ("waiting for the reader", "liverannot.classifier", "iter_row_chunks"),
    ("value check", "liverannot.classifier", "check_values"),
    ("linear expression", "liverannot.classifier", "linear_expression"),
    ("gene mapping", "liverannot.classifier", "ChunkScorer.model_gene_counts"),
    ("features", "liverannot.classifier", "ChunkScorer.features"),
    ("model", "liverannot.model", "Model.predict_proba"),
    ("non-liver share", "liverannot.classifier", "ChunkScorer.nonliver_share"),
    ("correlations", "liverannot.classifier", "ChunkScorer.correlations"),
    ("fusion", "liverannot.classifier", "fuse"),
    ("zonation: gathering hepatocytes", "liverannot.zones", "ZonationInput.add_candidates"),
    ("decisions", "liverannot.classifier", "decide"),
    ("obs columns", "liverannot.classifier", "Classification.to_adata"),
    ("zonation: placing hepatocytes", "liverannot.zones", "zonation"),
    ("writing the CSV", "liverannot.io", "write_table"),
]


def _clock(fn, name: str, spent: dict):
    def timed(*a, **k):
        t0 = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            spent[name] += time.perf_counter() - t0
    return timed


def _clock_iter(fn, name: str, spent: dict):
    """A generator function whose every next() is clocked (the time the consumer waits for it)."""
    def timed(*a, **k):
        it = iter(fn(*a, **k))
        while True:
            t0 = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                spent[name] += time.perf_counter() - t0
                return
            spent[name] += time.perf_counter() - t0
            yield item
    return timed


def _install(spent: dict) -> None:
    import importlib

    for name, module, attr in STAGES:
        owner = importlib.import_module(module)
        *path, last = attr.split(".")
        for p in path:
            owner = getattr(owner, p)
        fn = getattr(owner, last)
        wrap = _clock_iter if last == "iter_row_chunks" else _clock
        setattr(owner, last, wrap(fn, name, spent))
        spent[name] = 0.0


def first_layer_seconds(path: str, kind: str, n_chunks: int = 3, repeats: int = 3) -> float | None:
    """The network's first-layer product alone, seconds per cell of ``path`` times its cells (None for rf)."""
    if kind != "nn":
        return None
    import numpy as np

    from liverannot.classifier import ChunkScorer, linear_expression, match_genes
    from liverannot.io import gene_symbols, iter_row_chunks, read_input
    from liverannot.model import Model

    a = read_input(path, backed=True)
    model = Model.shipped("human", "nn")
    scorer = ChunkScorer(match_genes(gene_symbols(a, None, species="human"), model))
    W, b = model.backend._first_layers
    seconds, cells = 0.0, 0
    for k, (start, stop, block) in enumerate(iter_row_chunks(a.X, 10000)):
        if k == n_chunks:
            break
        F = scorer.features(scorer.model_gene_counts(linear_expression(block, "counts"))).copy()
        cells += F.shape[0]
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            H = F @ W
            H += b
            runs.append(time.perf_counter() - t0)
        seconds += float(np.median(runs))
    return seconds / cells * a.n_obs


def profile(path: str, kind: str) -> dict:
    """{stage: seconds} of one ``liverannot classify`` of ``path`` with model ``kind``, plus "total"
    (wall time of the whole command, imports included), "rest" and "first layer alone"."""
    t_start = time.perf_counter()
    spent: dict[str, float] = {}
    _install(spent)
    from liverannot import cli

    with tempfile.TemporaryDirectory() as tmp:
        rc = cli.main(["classify", "--quiet", "-i", path, "-o", str(Path(tmp) / "calls.csv"), "--model", kind])
        if rc not in (0, None):
            raise SystemExit(f"liverannot classify exited with {rc}")
    total = time.perf_counter() - t_start
    # the gathering and the fusion run inside clocked stages' callers, never inside another clocked stage
    out = {name: round(s, 4) for name, s in spent.items()}
    out["rest"] = round(total - sum(spent.values()), 4)
    out["total"] = round(total, 4)
    layer = first_layer_seconds(path, kind)
    if layer is not None:
        out["first layer alone"] = round(layer, 4)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] not in ("nn", "rf"):
        raise SystemExit("usage: profile_classify.py FILE.h5ad nn|rf")
    print(json.dumps(profile(sys.argv[1], sys.argv[2])))
