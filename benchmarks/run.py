#!/usr/bin/env python
"""liverannot benchmarks: accuracy against peers on real cells, and speed and memory at scale.

    python benchmarks/run.py                 # everything (peers get their own venvs under benchmarks/out)
    python benchmarks/run.py --smoke         # tiny run used by the test suite
    python benchmarks/run.py --sizes 10000,100000 --no-peers
    python benchmarks/run.py --sections firstrun   # one section: its table, then RESULTS.md rebuilt
    python benchmarks/run.py --results-only  # rebuild RESULTS.md from benchmarks/tables/*.csv

Every method is trained on the same reference: the cells liverannot's shipped models are trained
from (simulated from the liver profiles in the model bundles), and tested on the same real query
cells (../shared/data/real_cells: liver development sets and liver cell types in other tissues).
Each method runs as its own process under /usr/bin/time (wall seconds, peak RSS). Each section writes
its table to benchmarks/tables/<section>.csv as it ends; RESULTS.md is rebuilt from every table there.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
PY = sys.executable
LIVERANNOT = str(Path(PY).parent / "liverannot")
PEER_VENVS = {
    "celltypist": ["celltypist==1.7.1", "scikit-learn==1.7.2"],
    "singler": ["singler==0.5.0", "anndata"],
    "ingest": ["scanpy", "pynndescent==0.6.0"],
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def timed(cmd: list[str], *, env=None, timeout=3600) -> dict:
    """Run cmd under /usr/bin/time: wall seconds, peak RSS (MB), return code."""
    tf = OUT / ".time"
    tf.unlink(missing_ok=True)
    t0 = time.perf_counter()
    # own process group, so that a run over its time limit is stopped with all its children (not only
    # /usr/bin/time) and reported as a failed row instead of ending the whole harness
    p = subprocess.Popen(["/usr/bin/time", "-f", "%e %M", "-o", str(tf), *cmd], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return {"seconds": time.perf_counter() - t0, "peak_rss_mb": None, "rc": -signal.SIGKILL,
                "stderr": f"timed out after {timeout} s"}
    wall = time.perf_counter() - t0
    rss = None
    try:
        parts = tf.read_text().strip().split()[-2:]
        wall, rss = float(parts[0]), float(parts[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return {"seconds": wall, "peak_rss_mb": rss, "rc": p.returncode, "stderr": err[-1500:]}


def peer_python(name: str) -> str | None:
    venv = OUT / "venvs" / name
    py = venv / "bin" / "python"
    if not py.exists():
        log(f"creating venv for {name}: {PEER_VENVS[name]}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", *PEER_VENVS[name]], capture_output=True, text=True)
        if r.returncode != 0:
            log(f"  {name}: install failed: {r.stderr[-400:]}")
            return None
    return str(py)


# ------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------

def training_cells(species: str, n_per_class: int, seed: int = 0):
    """Cells simulated from the shipped model's liver profiles over the whole reference gene set."""
    import anndata as ad
    import scipy.sparse as sp

    from liverannot.model import shipped_model_path
    from liverannot.reference import Reference, lineage_map, training_class
    from liverannot.simulate import SimulationSettings, simulate_counts
    from liverannot.train import cells_per_column

    full = Reference.load(shipped_model_path(species, "nn") / "reference.npz")
    # every liver column, another atlas's profiles of a class (``Class|source``) included
    liver_cols = full.liver_columns
    labels = np.array([training_class(c) for c in liver_cols])
    prof = full.profiles[liver_cols]
    prof = prof[prof.sum(axis=1) > 0]
    ref = Reference(species, prof)
    lin = lineage_map(species)
    # as the shipped models' simulation does, a class's cells are shared among its atlases' columns
    n_rows = cells_per_column(liver_cols, n_per_class)
    counts, y = simulate_counts(ref.proportions(ref.genes), [lin[t] for t in labels],
                                SimulationSettings(n_per_class=n_per_class, gene_dropout_share=0.0),
                                np.random.default_rng(seed), class_weights=ref.depth(), n_per_row=n_rows)
    a = ad.AnnData(sp.csr_matrix(counts), obs=pd.DataFrame({"label": labels[y]},
                                                             index=[f"t{i}" for i in range(len(y))]),
                   var=pd.DataFrame(index=ref.genes))
    profiles = ad.AnnData(prof.T.to_numpy(np.float32), obs=pd.DataFrame({"label": labels}, index=liver_cols),
                          var=pd.DataFrame(index=ref.genes))
    return a, profiles, lin


def query_cells(species: str):
    """Real cells of liver cell types (and non-liver types) with their expected lineage."""
    import anndata as ad

    from liverannot.evaluate import dev_datasets, expected_classes, expected_lineages

    parts = []
    for name, path in dev_datasets(species).items():
        a = ad.read_h5ad(path)
        a.obs["dataset"] = name
        a.obs["expected_lineage"] = expected_lineages(name, a.obs["cell_type"])
        a.obs["expected_classes"] = expected_classes(name, a.obs["cell_type"])
        a = a[a.obs["expected_lineage"] != ""].copy()
        a.obs_names = [f"{name}:{i}" for i in a.obs_names]
        parts.append(a)
    q = ad.concat(parts, join="outer", fill_value=0)
    q.obs["dataset"] = q.obs["dataset"].astype(str)
    return q


def synthetic_h5ad(path: Path, n_cells: int, species: str = "human", block: int = 20000, seed: int = 0):
    """Write an n_cells h5ad of sparse raw counts (10x-like depth) in chunks, never whole in memory."""
    import anndata as ad
    import h5py
    import scipy.sparse as sp

    try:
        from anndata.io import write_elem
    except ImportError:  # older anndata
        from anndata.experimental import write_elem
    from liverannot.demo import simulate_sample

    base = simulate_sample(species, n_cells=min(block, n_cells), seed=seed)
    X = sp.csr_matrix(base.X).astype(np.float32)
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        f.attrs["encoding-type"] = "anndata"
        f.attrs["encoding-version"] = "0.1.0"
        g = f.create_group("X")
        g.attrs["encoding-type"] = "csr_matrix"
        g.attrs["encoding-version"] = "0.1.0"
        g.attrs["shape"] = (n_cells, X.shape[1])
        data = g.create_dataset("data", shape=(0,), maxshape=(None,), dtype="float32", chunks=(1 << 18,))
        ind = g.create_dataset("indices", shape=(0,), maxshape=(None,), dtype="int32", chunks=(1 << 18,))
        indptr = [0]
        done = 0
        while done < n_cells:
            m = min(X.shape[0], n_cells - done)
            B = X[rng.permutation(X.shape[0])[:m]]
            s = data.shape[0]
            data.resize((s + B.nnz,))
            ind.resize((s + B.nnz,))
            data[s:] = B.data
            ind[s:] = B.indices
            indptr.extend((B.indptr[1:] + indptr[-1]).tolist())
            done += m
        g.create_dataset("indptr", data=np.asarray(indptr, dtype=np.int64))
        write_elem(f, "obs", pd.DataFrame(index=[f"c{i}" for i in range(n_cells)]))
        write_elem(f, "var", pd.DataFrame(index=base.var_names.astype(str)))
        for k in ("obsm", "varm", "layers", "obsp", "varp", "uns"):
            write_elem(f, k, {})
    return path


# ------------------------------------------------------------------------------------------
# accuracy
# ------------------------------------------------------------------------------------------

def score(pred_lineage, q, best_lineage=None, best_class=None) -> dict:
    """Lineage accuracy on the liver types (an Unassigned answer counts as wrong), macro-F1, the share
    of non-liver cells answered Unassigned, ``forced_lineage_accuracy``: the accuracy of the best
    liver call (liverannot's ``liver_best_lineage``; the call itself for methods that always call), and
    ``fine_accuracy``: the best call's class against the comparable reference classes of the cells'
    labels (``expected_classes`` of eval_labels.tsv)."""
    from sklearn.metrics import f1_score

    from liverannot.evaluate import fine_accuracy

    exp = q.obs["expected_lineage"].astype(str).to_numpy()
    pred = np.asarray(pred_lineage, dtype=object)
    best = pred if best_lineage is None else np.asarray(best_lineage, dtype=object)
    liver = exp != "unassigned"
    out = {"lineage_accuracy": float((pred[liver] == exp[liver]).mean()),
           "forced_lineage_accuracy": float((best[liver] == exp[liver]).mean()),
           "lineage_macro_f1": float(f1_score(exp[liver], pred[liver], average="macro", labels=sorted(set(exp[liver])))),
           "nonliver_unassigned": float((pred[~liver] == "unassigned").mean()) if (~liver).any() else float("nan")}
    dev = q.obs["dataset"].str.contains("_liver_").to_numpy() & liver
    out["dev_lineage_accuracy"] = float((pred[dev] == exp[dev]).mean()) if dev.any() else float("nan")
    if best_class is not None:
        out["fine_accuracy"], out["fine_cells"] = fine_accuracy(best_class, q.obs["expected_classes"].to_numpy())
    return out


def accuracy(species: str, peers: bool, repeats: int) -> pd.DataFrame:
    from liverannot.io import write_h5ad

    d = OUT / species
    d.mkdir(parents=True, exist_ok=True)
    train, profiles, lin = training_cells(species, n_per_class=200)
    q = query_cells(species)
    write_h5ad(train, d / "train.h5ad")
    write_h5ad(profiles, d / "profiles.h5ad")
    write_h5ad(q, d / "query.h5ad")
    methods = {
        "liverannot nn": [LIVERANNOT, "classify", "-i", str(d / "query.h5ad"), "-o", str(d / "pred_nn.csv"),
                          "--species", species, "--model", "nn", "-q"],
        "liverannot rf": [LIVERANNOT, "classify", "-i", str(d / "query.h5ad"), "-o", str(d / "pred_rf.csv"),
                          "--species", species, "--model", "rf", "-q"],
        "published RF (dense)": [PY, str(HERE / "methods.py"), "published_rf", str(d / "train.h5ad"), str(d / "query.h5ad"), str(d / "pred_prf.csv")],
        "published MLP-256 (dense)": [PY, str(HERE / "methods.py"), "published_mlp", str(d / "train.h5ad"), str(d / "query.h5ad"), str(d / "pred_pmlp.csv")],
        "Spearman baseline": [PY, str(HERE / "methods.py"), "spearman", str(d / "train.h5ad"), str(d / "query.h5ad"), str(d / "pred_sp.csv")],
    }
    if peers:
        for name, script, train_file in (("celltypist", "celltypist_run.py", "train.h5ad"),
                                         ("singler", "singler_run.py", "profiles.h5ad"),
                                         ("ingest", "ingest_run.py", "train.h5ad")):
            py = peer_python(name)
            if py:
                label = {"celltypist": "CellTypist (own model)", "singler": "SingleR (PyPI singler)",
                         "ingest": "scanpy ingest"}[name]
                methods[label] = [py, str(HERE / "peers" / script), str(d / train_file), str(d / "query.h5ad"),
                                  str(d / f"pred_{name}.csv")]
    rows = []
    for name, cmd in methods.items():
        scores = []
        out = cmd[cmd.index("-o") + 1] if "-o" in cmd else cmd[-1]
        # every method, peers too: medians of repeated runs, each run's predictions scored
        runs = repeat(cmd, repeats, after_each=lambda: scores.append(score_predictions(out, q, lin)))
        ok = [r for r in runs if r["rc"] == 0]
        if not ok:
            log(f"{species} {name}: FAILED: {runs[-1]['stderr']}")
            rows.append({"species": species, "method": name, "status": "failed: " + runs[-1]["stderr"].strip().splitlines()[-1][:120] if runs[-1]["stderr"].strip() else "failed"})
            continue
        # seeded methods score the same every run; a method that does not would show it here
        s = {k: (statistics.median(sc[k] for sc in scores) if scores[0][k] is not None else None) for k in scores[0]}
        rows.append({"species": species, "method": name, "status": "ok", **s,
                     "same_scores_every_run": all(sc == scores[0] for sc in scores),
                     "seconds_median": statistics.median(r["seconds"] for r in ok),
                     "peak_rss_mb_median": statistics.median(r["peak_rss_mb"] for r in ok if r["peak_rss_mb"]),
                     "runs": len(ok)})
        log(f"{species} {name}: {rows[-1]}")
    return pd.DataFrame(rows)


def score_predictions(path, q, lin: dict[str, str]) -> dict:
    """Scores of one run's prediction file: liverannot's calls (lineage, best liver call and its class)
    or a peer's reference class per cell (mapped to its lineage)."""
    pred = pd.read_csv(path, index_col=0).reindex(q.obs_names)
    if "liver_lineage" in pred:
        return score(pred["liver_lineage"].astype(str).to_numpy(), q,
                     pred["liver_best_lineage"].astype(str).to_numpy(), pred["liver_best_celltype"].astype(str).to_numpy())
    label = pred["label"].astype(str)
    return score(label.map(lin).fillna("unassigned").to_numpy(), q, best_class=label.to_numpy())


# ------------------------------------------------------------------------------------------
# scale
# ------------------------------------------------------------------------------------------

def scale(sizes: list[int], repeats: int, peers: bool) -> pd.DataFrame:
    rows = []
    for n in sizes:
        path = OUT / f"synthetic_{n}.h5ad"
        if not path.exists():
            t0 = time.perf_counter()
            synthetic_h5ad(path, n)
            log(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t0:.0f}s")
        for kind in ("nn", "rf"):
            runs = repeat([LIVERANNOT, "classify", "-i", str(path), "-o", str(OUT / f"calls_{n}_{kind}.csv"),
                           "--species", "human", "--model", kind, "-q"], repeats)
            rows.append(scale_row(n, f"liverannot classify {kind}", runs))
            log(rows[-1])
        if peers and n <= 100_000:
            for name, cmd in scale_peer_commands(n):
                runs = repeat([*cmd, str(path), str(OUT / f"peer_{n}.csv")], repeats, timeout=1800)
                rows.append(scale_row(n, name + " (train + predict)", runs))
                log(rows[-1])
            for name, cmd in predict_only_commands():
                runs = repeat([*cmd, str(path), str(OUT / f"peer_{n}.csv")], repeats, timeout=1800)
                rows.append(scale_row(n, name + " (predict only)", runs))
                log(rows[-1])
    return pd.DataFrame(rows)


def classify_profile(n: int, repeats: int) -> pd.DataFrame:
    """Where `liverannot classify` of the n-cell scale file spends its time, stage by stage, for each
    model (benchmarks/profile_classify.py, a fresh process per run; medians of ``repeats`` runs): what
    the 1M-cell goal of issue #33 is missed by, and where it is spent."""
    path = OUT / f"synthetic_{n}.h5ad"
    if not path.exists():
        synthetic_h5ad(path, n)
    rows = []
    for kind in ("nn", "rf"):
        runs = []
        for _ in range(repeats):
            r = subprocess.run([sys.executable, str(HERE / "profile_classify.py"), str(path), kind],
                               capture_output=True, text=True, timeout=1800)
            if r.returncode != 0:
                raise SystemExit(f"profile of classify {kind} failed: {r.stderr[-2000:]}")
            runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
        for stage in runs[0]:
            vals = [x[stage] for x in runs]
            rows.append({"cells": n, "model": kind, "stage": stage, "seconds_median": statistics.median(vals),
                         "seconds_min": min(vals), "seconds_max": max(vals), "runs": len(vals)})
        log(rows[-1])
    return pd.DataFrame(rows)


#: what each liverannot model kind is called in the goal lines
MODEL_NAMES = {"nn": "network", "rf": "forest"}


def profile_summary(pr: pd.DataFrame) -> str:
    """The profile as one table (stages x models) and, per model, what is left of the 1M goal once its
    model stage is taken out: the part a smaller network or forest cannot save."""
    from liverannot.report import markdown_table

    lines = []
    for n, d in pr.groupby("cells"):
        wide = d.pivot_table(index="stage", columns="model", values="seconds_median", sort=False)
        wide = wide.reindex(list(dict.fromkeys(d["stage"])))
        wide.columns = [f"{c} s" for c in wide.columns]
        total = d[d["stage"] == "total"].set_index("model")["seconds_median"]
        for c in total.index:
            wide[f"{c} share"] = (wide[f"{c} s"] / total[c]).map(lambda x: f"{x:.0%}" if pd.notna(x) else "")
        runs = int(d["runs"].min()) if "runs" in d else None
        lines.append(f"{n:,} cells (seconds: medians of {runs or 'the'} runs; the section's CSV also has each stage's "
                     f"fastest and slowest run):\n\n{markdown_table(wide.reset_index())}\n")
        for kind, t in total.items():
            s = d[d["model"] == kind].set_index("stage")["seconds_median"]
            rest = t - s.get("model", 0.0)
            name = MODEL_NAMES[kind]
            top = s.drop(["total", "model", "first layer alone"], errors="ignore").sort_values(ascending=False)[:4]
            line = (f"- {kind}: {t:.0f} s in all; the {name} {s.get('model', 0.0):.0f} s; everything else "
                    f"{rest:.0f} s (largest: " + ", ".join(f"{k} {v:.1f} s" for k, v in top.items()) + ")")
            if "first layer alone" in s:
                line += f"; the network's first layer alone (one matrix product) {s['first layer alone']:.0f} s"
            lines.append(line + (f". Even a free {name} leaves {rest:.0f} s, over the 45 s goal." if rest > 45
                                 else "."))
    return "\n".join(lines)


def predict_only_commands() -> list[tuple[str, list[str]]]:
    """Every peer's prediction alone: each trained once (on the same training cells, untimed) and its
    saved model applied to the file (the query file and the output are appended). SingleR has no
    separate model: its reference (the class profiles) is prepared in every call, so its row is its
    whole call. The Spearman baseline is its whole call too (10k cells only, in the train + predict rows)."""
    train = str(OUT / "human" / "train.h5ad")
    models = OUT / "models"
    models.mkdir(parents=True, exist_ok=True)
    out = []

    def trained(label, train_cmd, model_path, predict_cmd):
        if not Path(model_path).exists():
            r = timed(train_cmd, timeout=3600)
            if r["rc"] != 0:
                log(f"training {label} failed: {r['stderr'][-300:]}")
                return
            log(f"trained {label} once in {r['seconds']:.0f} s")
        out.append((label, predict_cmd))

    for m, label in (("published_rf", "published RF (dense)"), ("published_mlp", "published MLP-256 (dense)")):
        model = str(models / f"{m}.pkl")
        trained(label, [PY, str(HERE / "methods.py"), m, "train", train, model], model,
                [PY, str(HERE / "methods.py"), m, "predict", model])
    for name, label, script, suffix in (("celltypist", "CellTypist", "celltypist_run.py", "pkl"),
                                        ("ingest", "scanpy ingest", "ingest_run.py", "h5ad")):
        py = peer_python(name)
        if py:
            model = str(models / f"{name}.{suffix}")
            trained(label, [py, str(HERE / "peers" / script), "train", train, model], model,
                    [py, str(HERE / "peers" / script), "predict", model])
    py = peer_python("singler")
    if py:
        out.append(("SingleR (PyPI singler)", [py, str(HERE / "peers" / "singler_run.py"),
                                               str(OUT / "human" / "profiles.h5ad")]))
    return out


def scale_peer_commands(n: int) -> list[tuple[str, list[str]]]:
    """Every peer of the accuracy table on the synthetic file, each with its training input (the
    simulated training cells, or the class profiles for SingleR); the query file and the output are
    appended. Not beyond 100k cells: at 100k they already use 6-20 GB (RESULTS.md)."""
    train, profiles = str(OUT / "human" / "train.h5ad"), str(OUT / "human" / "profiles.h5ad")
    out = [("published RF (dense)", [PY, str(HERE / "methods.py"), "published_rf", train]),
           ("published MLP-256 (dense)", [PY, str(HERE / "methods.py"), "published_mlp", train])]
    if n <= 10_000:  # per-cell ranking of every gene: too slow beyond that
        out.append(("Spearman baseline", [PY, str(HERE / "methods.py"), "spearman", train]))
    for name, label, script, ref in (("celltypist", "CellTypist", "celltypist_run.py", train),
                                     ("singler", "SingleR (PyPI singler)", "singler_run.py", profiles),
                                     ("ingest", "scanpy ingest", "ingest_run.py", train)):
        py = peer_python(name)
        if py:
            out.append((label, [py, str(HERE / "peers" / script), ref]))
    return out


def repeat(cmd: list[str], repeats: int, after_each=None, **kw) -> list[dict]:
    """Up to ``repeats`` timed runs of cmd, stopping at the first failure; ``after_each()`` is called
    after every successful run (e.g. to read its output before the next run overwrites it)."""
    runs = []
    for _ in range(repeats):
        runs.append(timed(cmd, **kw))
        if runs[-1]["rc"] != 0:
            break
        if after_each is not None:
            after_each()
    return runs


def scale_row(n: int, method: str, runs: list[dict]) -> dict:
    """Median seconds, throughput, and the median and largest peak RSS of the successful runs."""
    ok = [r for r in runs if r["rc"] == 0]
    if not ok:
        return {"cells": n, "method": method, "status": "failed: " + runs[-1]["stderr"][-200:].strip()}
    sec = statistics.median(r["seconds"] for r in ok)
    return {"cells": n, "method": method, "status": "ok", "seconds_median": sec, "cells_per_second": n / sec,
            "peak_rss_mb_median": statistics.median(r["peak_rss_mb"] for r in ok),
            "peak_rss_mb_max": max(r["peak_rss_mb"] for r in ok), "runs": len(ok)}


STEPS = ("qc", "normalize", "cluster", "classify", "annotate", "write", "plots")
#: the parts of the cluster step (summary.json "cluster_seconds")
CLUSTER_PARTS = ("hvg", "pca", "neighbors", "leiden", "umap")


def run_sample(n: int) -> Path:
    """The folder of the end-to-end runs at ``n`` cells: one sample of distinct simulated human cells
    (s.h5ad, written once) and its samplesheet."""
    from liverannot.demo import simulate_sample
    from liverannot.io import write_h5ad

    d = OUT / f"run_{n}"
    d.mkdir(parents=True, exist_ok=True)
    if not (d / "s.h5ad").exists():
        write_h5ad(simulate_sample("human", n, seed=5), d / "s.h5ad")
    (d / "sheet.csv").write_text("sample,input,species\ns,s.h5ad,human\n")
    return d


def first_run(n: int, repeats: int) -> pd.DataFrame:
    """A user's first `liverannot run` (MultiQC excluded) against later ones, at ``n`` cells. numba
    compiles the kernels of clustering, UMAP and classification on first use and keeps them in its
    disk cache; each row starts from an empty cache (NUMBA_CACHE_DIR, a new folder per run):
    without `liverannot precompile` (what a first run cost before make setup ran it), right after it
    (what make setup and the image build now do; its own seconds in `precompile_s`), and warm (the
    same cache, runs after the first). With podman and the image (`make image`), also a run in a
    fresh container, as every Nextflow task with -profile podman starts one."""
    import shutil
    import tempfile

    d = run_sample(n)
    cmd = [LIVERANNOT, "run", "--input", str(d / "sheet.csv"), "--no-multiqc", "-q"]
    caches = Path(tempfile.mkdtemp(prefix="numba-caches-", dir=OUT))

    def with_cache(i: int, name: str) -> dict:
        return dict(os.environ, NUMBA_CACHE_DIR=str(caches / f"{name}{i}"))

    measured = {"first run, empty numba cache (no precompile)": [], "first run after liverannot precompile": [],
                "warm run": []}
    pre = []
    for i in range(repeats):
        measured["first run, empty numba cache (no precompile)"].append(
            timed(cmd + ["--outdir", str(d / "first_cold")], env=with_cache(i, "cold")))
        pre.append(timed([LIVERANNOT, "precompile", "-q"], env=with_cache(i, "pre")))
        measured["first run after liverannot precompile"].append(
            timed(cmd + ["--outdir", str(d / "first_pre")], env=with_cache(i, "pre")))
    for i in range(repeats):  # the cache of the first precompiled run, filled and used before
        measured["warm run"].append(timed(cmd + ["--outdir", str(d / "warm")], env=with_cache(0, "pre")))
    image = f"ghcr.io/liverannot/liverannot:{__import__('liverannot').__version__}"
    if shutil.which("podman") and subprocess.run(["podman", "image", "exists", image]).returncode == 0:
        # podman's settings for this sandbox (no default ulimits, cgroupfs, runc), as make image uses them
        env = dict(os.environ)
        env.setdefault("CONTAINERS_CONF", str(ROOT / "containers" / "containers.conf"))
        measured["fresh container (podman run --rm), image's precompiled cache"] = [
            timed(["podman", "run", "--rm", "-v", f"{d}:/data", image, "liverannot", "run", "--input",
                   "/data/sheet.csv", "--outdir", "/data/container", "--no-multiqc", "-q"], env=env)
            for _ in range(repeats)]
    shutil.rmtree(caches)
    ok = {k: [r for r in v if r["rc"] == 0] for k, v in measured.items()}
    warm = statistics.median(r["seconds"] for r in ok["warm run"]) if ok["warm run"] else None
    rows = []
    for what, runs in measured.items():
        good = ok[what]
        sec = statistics.median(r["seconds"] for r in good) if good else None
        rows.append({"cells": n, "what": what,
                     "status": "ok" if good else "failed: " + runs[-1]["stderr"][-200:].strip(),
                     "seconds_median": sec, "seconds_min": min(r["seconds"] for r in good) if good else None,
                     "seconds_max": max(r["seconds"] for r in good) if good else None,
                     "ratio_to_warm": sec / warm if sec and warm else None,
                     "precompile_s": statistics.median(r["seconds"] for r in pre if r["rc"] == 0)
                     if what.endswith("precompile") and any(r["rc"] == 0 for r in pre) else None,
                     "runs": len(good)})
        log(rows[-1])
    return pd.DataFrame(rows)


def goals_first_run(fr: pd.DataFrame | None) -> str:
    """A first run after an install within 1.3x of a warm run (issue #33)."""
    if fr is None or fr.empty:
        return "- first run: not measured (`--sections firstrun`)."
    lines = []
    for _, r in fr[fr["what"] != "warm run"].iterrows():
        if r["status"] != "ok":
            lines.append(f"- {r['what']}, {int(r['cells']):,} cells: {r['status']}.")
            continue
        verdict = ""
        if "precompile" in r["what"] and "no precompile" not in r["what"] or "container" in r["what"]:
            verdict = f": {'meets' if r['ratio_to_warm'] <= 1.3 else 'misses'} the goal of at most 1.3 times a warm run"
        lines.append(f"- {r['what']}, {int(r['cells']):,} cells: {r['seconds_median']:.1f} s, "
                     f"{r['ratio_to_warm']:.2f} times a warm run{verdict}.")
    return "\n".join(lines)


def run_end_to_end(sizes: list[int], repeats: int) -> pd.DataFrame:
    """`liverannot run` on one sample of distinct simulated cells (every cell drawn on its own: the
    scale files repeat one block, and duplicate cells make a pathological neighbour graph), MultiQC
    excluded; the seconds of each step come from the sample's summary.json. Plus, at the smallest
    size, the whole run with MultiQC."""
    rows = []
    for n in sizes:
        d = run_sample(n)
        for multiqc in ((False, True) if n == min(sizes) else (False,)):
            runs, steps = [], []
            for i in range(repeats):
                res = d / f"res{i}"
                cmd = [LIVERANNOT, "run", "--input", str(d / "sheet.csv"), "--outdir", str(res), "-q"]
                runs.append(timed(cmd + ([] if multiqc else ["--no-multiqc"])))
                if runs[-1]["rc"] != 0:
                    break
                summary = json.loads((res / "s" / "s.summary.json").read_text())
                steps.append({**summary.get("seconds", {}),
                              **{f"cluster_{k}": v for k, v in summary.get("cluster_seconds", {}).items()}})
            ok = [r for r in runs if r["rc"] == 0]
            row = {"cells": n, "what": "liverannot run " + ("with MultiQC" if multiqc else "(MultiQC excluded)"),
                   "status": "ok" if ok else "failed: " + runs[-1]["stderr"][-200:].strip(),
                   "seconds_median": statistics.median(r["seconds"] for r in ok) if ok else None,
                   "peak_rss_mb_median": statistics.median(r["peak_rss_mb"] for r in ok) if ok else None,
                   "peak_rss_mb_max": max(r["peak_rss_mb"] for r in ok) if ok else None, "runs": len(ok)}
            for k in STEPS + tuple(f"cluster_{p}" for p in CLUSTER_PARTS):
                vals = [st[k] for st in steps if k in st]
                row[f"{k}_s"] = statistics.median(vals) if vals else None
            rows.append(row)
            log(rows[-1])
    return pd.DataFrame(rows)


def goals_run(e2e: pd.DataFrame) -> str:
    """The end-to-end goals of issue #33 (MultiQC excluded): 10k cells <= 10 s; 100k cells <= 60 s and
    <= 4 GB; and what dominates at each size."""
    goals = {10_000: (10, None), 100_000: (60, 4096)}
    lines = []
    d = e2e[e2e["what"].str.contains("excluded")] if "what" in e2e else e2e.iloc[0:0]
    for _, r in d.iterrows():
        if r.get("status") != "ok":
            lines.append(f"- liverannot run, {int(r['cells']):,} cells: {r.get('status')}.")
            continue
        steps = {k: r.get(f"{k}_s") for k in STEPS if pd.notna(r.get(f"{k}_s"))}
        top = sorted(steps.items(), key=lambda kv: -kv[1])[:3]
        sec, mem = goals.get(int(r["cells"]), (None, None))
        verdict = ""
        if sec is not None:
            parts = [(f"{sec} s", r["seconds_median"] <= sec)] + ([(f"{mem:,} MB", r["peak_rss_mb_max"] <= mem)] if mem else [])
            verdict = "".join(f"; {'meets' if ok else 'misses'} the goal of at most {what}" for what, ok in parts)
        parts = {p: r.get(f"cluster_{p}_s") for p in CLUSTER_PARTS if pd.notna(r.get(f"cluster_{p}_s"))}
        inside = ("; in cluster: " + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]))
                  if parts else "")
        # what no step covers: starting the process, imports, reading the input, the summary
        outside = r["seconds_median"] - sum(steps.values())
        lines.append(f"- liverannot run, {int(r['cells']):,} cells: {r['seconds_median']:.1f} s (median), "
                     f"{r['peak_rss_mb_max']:,.0f} MB peak RSS{verdict}. Largest steps: "
                     + ", ".join(f"{k} {v:.1f} s" for k, v in top) + inside
                     + f"; outside the steps (start-up, imports, reading the input, summary) {outside:.1f} s.")
    return "\n".join(lines) or "- not run."


def large_sample(n: int) -> pd.DataFrame:
    """`liverannot run` on one n-cell sample (1M by default, an atlas or a pooled cohort): it completes,
    or it stops at once saying what it needs (liverannot.resources.check_memory). The sample's cells
    repeat blocks of distinct simulated cells (synthetic_h5ad: simulating 1M distinct cells takes
    about an hour here), at the run section's depth; the check reads only the file's size."""
    from liverannot import resources

    d = OUT / f"large_{n}"
    d.mkdir(parents=True, exist_ok=True)
    f = d / "s.h5ad"
    if not f.exists():
        log(f"writing {n:,} cells to {f}")
        synthetic_h5ad(f, n)
    (d / "sheet.csv").write_text("sample,input,species\ns,s.h5ad,human\n")
    res = d / "res"
    shutil.rmtree(res, ignore_errors=True)
    cells, nnz = resources.peek_size(f)
    r = timed([LIVERANNOT, "run", "--input", str(d / "sheet.csv"), "--outdir", str(res), "-q", "--no-multiqc"],
              timeout=3600)
    err = r["stderr"].strip().splitlines()
    refused = r["rc"] != 0 and any("GB is available here" in line for line in err)
    row = {"cells": cells, "stored_counts": nnz, "estimate_mb": round(resources.estimate_peak_mb(cells, nnz)),
           "available_mb": round(resources.available_mb() or 0),
           "status": "ok" if r["rc"] == 0 else ("refused before the work" if refused else f"failed (exit {r['rc']})"),
           "seconds": r["seconds"], "peak_rss_mb": r["peak_rss_mb"],
           # the check's own words, less the log line's time and level
           "message": next((line.partition(" failed: ")[2] or line for line in err if "GB is available here" in line),
                           err[-1] if err else "")}
    log(row)
    return pd.DataFrame([row])


def goals_large(lg: pd.DataFrame | None) -> str:
    if lg is None:
        return "- a 1M-cell sample end to end: not run (`--sections large`)."
    lines = []
    for _, r in lg.iterrows():
        what = f"- liverannot run, one sample of {int(r['cells']):,} cells ({int(r['stored_counts']):,} stored counts): "
        if r["status"] == "ok":
            lines.append(what + f"completed in {r['seconds']:.0f} s at {r['peak_rss_mb']:,.0f} MB peak RSS.")
        elif str(r["status"]).startswith("refused"):
            lines.append(what + f"stopped after {r['seconds']:.1f} s ({r['peak_rss_mb']:,.0f} MB peak RSS), before "
                         f"reading the matrix: it needs about {r['estimate_mb'] / 1024:.1f} GB and "
                         f"{r['available_mb'] / 1024:.1f} GB was available. The message: \"{r['message']}\"")
        else:
            lines.append(what + f"{r['status']} after {r['seconds']:.0f} s: {r['message']}")
    return "\n".join(lines)


def machine() -> str:
    mem = ""
    try:
        mem = next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1]
        mem = f"{int(mem) / 1024 ** 2:.0f} GiB"
    except (OSError, StopIteration):
        pass
    cpu = platform.processor() or platform.machine()
    try:  # the CPU model: float32 kernels, and so timings and last bits, differ between CPU families
        cpu = next(line for line in open("/proc/cpuinfo") if line.startswith("model name")).split(":", 1)[1].strip()
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores, {mem} RAM, {cpu}, Python {platform.python_version()}"


#: the harness's sections, each writing its table to benchmarks/tables/<name>.csv (kept in git, so that
#: RESULTS.md can be rebuilt anywhere from the last run of every section)
SECTIONS = ("accuracy", "scale", "profile", "run", "firstrun", "large")
TABLES = HERE / "tables"
#: the columns of the tables that count things (the others are measurements)
COUNT_COLUMNS = ("cells", "runs", "fine_cells")


def save_table(name: str, t: pd.DataFrame, merge_on: tuple[str, ...] | None = None) -> pd.DataFrame:
    """A section's table, its first line a comment with the date and the machine it was measured on.
    ``merge_on``: the rows of the last table whose keys the new one lacks are kept (a rerun of some
    sizes or without peers replaces only what it measured); every row then carries the date it was
    measured (column ``measured``) and the comment line gives the newest. Returns the table written."""
    TABLES.mkdir(exist_ok=True)
    today = time.strftime('%Y-%m-%d')
    if merge_on:
        t = t.assign(measured=today)
        old = load_tables().get(name)
        if old is not None:
            prev, when = old
            if "measured" not in prev.columns:
                prev = prev.assign(measured=when.split(";")[0].strip())

            def keys(df):
                return list(map(tuple, df[list(merge_on)].to_numpy().tolist()))

            new_keys, prev_keys = set(keys(t)), keys(prev)
            order = {k: i for i, k in enumerate(prev_keys)}
            t = pd.concat([prev[[k not in new_keys for k in prev_keys]], t], ignore_index=True)
            # the last table's order (new keys after it), so a partial rerun does not reshuffle RESULTS.md
            rank = [order.get(k, len(order) + i) for i, k in enumerate(keys(t))]
            t = t.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)
    with open(TABLES / f"{name}.csv", "w") as f:
        f.write(f"# {today}; {machine()}" + ("; rows measured earlier keep their date (column measured)" if merge_on else "") + "\n")
        t.to_csv(f, index=False)
    return t


def load_tables() -> dict[str, tuple[pd.DataFrame, str]]:
    """Every section's last table and its comment line (date and machine)."""
    out = {}
    for name in SECTIONS:
        f = TABLES / f"{name}.csv"
        if f.exists():
            with open(f) as fh:
                first = fh.readline()
            t = pd.read_csv(f, skiprows=1 if first.startswith("#") else 0)
            # measurements read back as integers where every value happened to be whole: floats, as measured
            for col in t.columns:
                if col not in COUNT_COLUMNS and pd.api.types.is_integer_dtype(t[col]):
                    t[col] = t[col].astype(float)
            out[name] = (t, first[1:].strip() if first.startswith("#") else "date not recorded")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000", help="cells for the scale benchmark")
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement (medians are reported)")
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help="what to run: accuracy, scale, profile, run, firstrun, large (comma-separated); RESULTS.md is rebuilt from "
                         "the tables of these and the last run of every other section (benchmarks/tables/*.csv)")
    ap.add_argument("--accuracy-species", default="human,mouse", choices=["human,mouse", "human", "mouse"],
                    help="species of the accuracy section (each takes ~20 minutes with the peers)")
    ap.add_argument("--profile-size", type=int, default=1_000_000,
                    help="cells of the scale file whose classify is profiled stage by stage (default 1M)")
    ap.add_argument("--firstrun-size", type=int, default=10000, help="cells of the first-run benchmark (default 10000)")
    ap.add_argument("--large-size", type=int, default=1_000_000, help="cells of the one-sample end-to-end trial (default 1M)")
    ap.add_argument("--run-sizes", default="10000,100000", help="cells for the end-to-end `liverannot run` benchmark")
    ap.add_argument("--no-peers", action="store_true", help="skip CellTypist, SingleR, scanpy ingest")
    ap.add_argument("--smoke", action="store_true", help="tiny run: 2k cells, one repeat, no peers, no RESULTS.md")
    ap.add_argument("--results-only", action="store_true",
                    help="rebuild RESULTS.md from the tables of the last run of each section (benchmarks/tables/*.csv); run "
                         "nothing. Give the same --sizes, --repeats and --no-peers as that run: RESULTS.md names them")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.results_only:
        if not load_tables():
            raise SystemExit(f"error: no tables in {TABLES}; run `python benchmarks/run.py` (or some --sections) first")
        write_results(args)
        return
    if args.smoke:
        sc = scale([2000], 1, False)
        print(sc.to_string(index=False))
        assert (sc["status"] == "ok").all(), sc
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    sections = set(args.sections.split(","))
    tables = {}
    unknown = sections - set(SECTIONS)
    if unknown:
        raise SystemExit(f"error: unknown --sections {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    if "accuracy" in sections:
        # one species at a time fits a session's 20 minutes; a rerun of one replaces only its rows
        tables["accuracy"] = save_table("accuracy", pd.concat([accuracy(sp, not args.no_peers, args.repeats)
                                                               for sp in args.accuracy_species.split(",")]),
                                        merge_on=("species", "method"))
    if "scale" in sections:
        # a rerun of some sizes, or without peers, replaces only the rows it measured
        tables["scale"] = save_table("scale", scale(sizes, args.repeats, not args.no_peers), merge_on=("cells", "method"))
    if "profile" in sections:
        tables["profile"] = classify_profile(args.profile_size, args.repeats)
        save_table("profile", tables["profile"])
    if "run" in sections:
        tables["run"] = run_end_to_end([int(x) for x in args.run_sizes.split(",") if x], args.repeats)
        save_table("run", tables["run"])
    if "firstrun" in sections:
        tables["firstrun"] = first_run(args.firstrun_size, args.repeats)
        save_table("firstrun", tables["firstrun"])
    if "large" in sections:
        tables["large"] = large_sample(args.large_size)
        save_table("large", tables["large"])
    for name, t in tables.items():
        print(t.to_string(index=False))
    # with the other sections' tables from their last runs, so that one section can be rerun alone
    write_results(args)


def is_ours(d: pd.DataFrame) -> pd.Series:
    """Rows of liverannot's own methods (the rest are peers)."""
    return d["method"].str.startswith("liverannot")


def goals_accuracy(acc: pd.DataFrame) -> str:
    """Per species: the best liverannot model against every peer. Peers always name a liver type, so
    they are compared with liverannot's best liver call (``forced_lineage_accuracy``); liverannot's
    answer with Unassigned, and the non-liver cells it leaves Unassigned, are reported beside it."""
    lines = []
    for species, d in acc[acc["status"] == "ok"].groupby("species", sort=False):
        ours, peers = d[is_ours(d)], d[~is_ours(d)]
        if ours.empty or peers.empty:
            continue
        best = ours.sort_values(["forced_lineage_accuracy", "seconds_median"], ascending=[False, True]).iloc[0]
        top = peers.sort_values("forced_lineage_accuracy").iloc[-1]
        better = peers[peers["forced_lineage_accuracy"] > best["forced_lineage_accuracy"]]
        faster = peers[peers["seconds_median"] < best["seconds_median"]]
        verdict = "meets" if better.empty and faster.empty else "misses"
        lines.append(f"- {species}: {best['method']}: best liver call {best['forced_lineage_accuracy']:.3f} "
                     f"(with Unassigned answers {best['lineage_accuracy']:.3f}; non-liver cells Unassigned "
                     f"{best['nonliver_unassigned']:.2f}) in {best['seconds_median']:.1f} s. Best peer: "
                     f"{top['method']}, {top['forced_lineage_accuracy']:.3f} in {top['seconds_median']:.1f} s "
                     f"(non-liver cells Unassigned: none). Peers more accurate: "
                     f"{', '.join(f'{m} ({a:.3f})' for m, a in zip(better['method'], better['forced_lineage_accuracy'])) or 'none'}; "
                     f"peers faster: {', '.join(faster['method']) or 'none'}. Goal (faster than every peer at "
                     f"equal or better accuracy): {verdict}.")
        if "fine_accuracy" in d and d["fine_accuracy"].notna().any():
            fine_top = peers.sort_values("fine_accuracy").iloc[-1]
            lines.append(f"  Fine labels where comparable ({int(best['fine_cells'])} cells): {best['method']} "
                         f"{best['fine_accuracy']:.3f}; best peer {fine_top['method']} {fine_top['fine_accuracy']:.3f}.")
    return "\n".join(lines)


def goals_scale(sc: pd.DataFrame, pr: pd.DataFrame | None = None) -> str:
    """The 1M-cell goal (at most 45 s and 2 GB peak RSS) for each liverannot model; where the time
    goal is missed and the profile section ran at 1M cells, where the time goes."""
    lines = []
    for _, r in sc[is_ours(sc) & (sc["cells"] == 1_000_000)].iterrows():
        if r["status"] != "ok":
            lines.append(f"- {r['method']}, 1M cells: {r['status']}.")
            continue
        fast, small = r["seconds_median"] <= 45, r["peak_rss_mb_max"] <= 2048
        line = (f"- {r['method']}, 1M cells: {r['seconds_median']:.0f} s (median), {r['peak_rss_mb_max']:,.0f} MB "
                f"peak RSS (largest of the runs): {'meets' if fast else 'misses'} the goal of at most 45 s; "
                f"{'meets' if small else 'misses'} the goal of at most 2,048 MB.")
        kind = r["method"].split()[-1]
        prof = None if pr is None else pr[(pr["cells"] == 1_000_000) & (pr["model"] == kind)].set_index("stage")["seconds_median"]
        if not fast and prof is not None and "total" in prof:
            model = prof.get("model", 0.0)
            name, rest = MODEL_NAMES[kind], prof["total"] - model
            line += (f" Where it goes (profile above, {prof['total']:.0f} s in that run): the {name} {model:.0f} s, "
                     f"the rest of the pass and the outputs {rest:.0f} s: "
                     + (f"even a free {name} would leave it over 45 s." if rest > 45 else
                        f"the {name} alone would have to lose {prof['total'] - 45:.0f} s of its {model:.0f} s."))
        lines.append(line)
    return "\n".join(lines) or "- 1M cells not run (use the default `--sizes`)."


def scale_peers_summary(sc: pd.DataFrame) -> str:
    """Per size where peers ran: the fastest liverannot model against the peers, in time and peak RSS;
    and why none runs at 1M (their measured memory at the largest size they ran)."""
    def secs(x):
        return f"{x:.1f}" if x < 10 else f"{x:.0f}"

    lines = []
    ok = sc[sc["status"] == "ok"]
    ours_all, peers_all = ok[is_ours(ok)], ok[~is_ours(ok)]
    for n, peers in peers_all.groupby("cells"):
        ours = ours_all[ours_all["cells"] == n].sort_values("seconds_median")
        if ours.empty:
            continue
        best = ours.iloc[0]
        fastest = peers.sort_values("seconds_median").iloc[0]
        slower = (peers["seconds_median"] > best["seconds_median"]).all()
        smaller = (peers["peak_rss_mb_median"] > ours["peak_rss_mb_median"].max()).all()
        failed = sc[(sc["cells"] == n) & (sc["status"] != "ok")]["method"]
        lines.append(f"- {n:,} cells: {best['method']} {best['seconds_median']:.1f} s, "
                     f"{ours['peak_rss_mb_median'].min():,.0f}–{ours['peak_rss_mb_median'].max():,.0f} MB (both models); "
                     f"{len(peers)} peer{'' if len(peers) == 1 else 's'} {secs(peers['seconds_median'].min())}–"
                     f"{secs(peers['seconds_median'].max())} s "
                     f"(fastest: {fastest['method']}), {peers['peak_rss_mb_median'].min():,.0f}–"
                     f"{peers['peak_rss_mb_median'].max():,.0f} MB. Every peer slower: {'yes' if slower else 'no'}; "
                     f"every peer uses more memory: {'yes' if smaller else 'no'}."
                     + (f" Failed: {', '.join(failed)}." if len(failed) else ""))
    pred = peers_all[peers_all["method"].str.endswith("(predict only)")]
    for n, p in pred.groupby("cells"):
        ours = ours_all[ours_all["cells"] == n].sort_values("seconds_median")
        if ours.empty:
            continue
        fastest = p.sort_values("seconds_median").iloc[0]
        lines.append(f"- {n:,} cells, prediction alone: the fastest peer is {fastest['method']} "
                     f"({fastest['seconds_median']:.1f} s); liverannot classify {ours.iloc[0]['method'].split()[-1]} "
                     f"takes {ours.iloc[0]['seconds_median']:.1f} s, {ours.iloc[0]['seconds_median'] / fastest['seconds_median']:.2f} "
                     f"times its time (below 1: faster).")
    if not peers_all.empty and ours_all["cells"].max() > peers_all["cells"].max():
        top = peers_all[peers_all["cells"] == peers_all["cells"].max()]
        lines.append(f"- No peer is run at {ours_all['cells'].max():,} cells: at {top['cells'].max():,} they already "
                     f"peak at {top['peak_rss_mb_median'].min():,.0f}–{top['peak_rss_mb_median'].max():,.0f} MB, and "
                     f"their memory grows with the number of cells (this machine: {machine()}).")
    return "\n".join(lines)


def write_results(args, path: Path = HERE / "RESULTS.md"):
    """RESULTS.md from the tables present (each section's last run); a missing one says how to make it."""
    from liverannot.report import markdown_table

    loaded = load_tables()

    def table(name: str, body, full: bool = True) -> str:
        """The section's table (``full``; else only what ``body`` makes of it) with its date."""
        if name not in loaded:
            return f"_Not run yet: `python benchmarks/run.py --sections {name}`._"
        t, when = loaded[name]
        shown = f"{markdown_table(t)}\n\n" if full else ""
        return f"Measured {when} (`benchmarks/tables/{name}.csv`).\n\n{shown}{body(t)}".rstrip()

    acc, sc, pr, e2e, fr, lg = (loaded[k][0] if k in loaded else None for k in SECTIONS)
    cmd = "python benchmarks/run.py" + ("" if args.sizes == "10000,100000,1000000" else f" --sizes {args.sizes}") + \
          ("" if args.repeats == 3 else f" --repeats {args.repeats}") + (" --no-peers" if args.no_peers else "")
    text = f"""# liverannot benchmarks

Produced by `{cmd}` (from a clean checkout: `make setup && .venv/bin/{cmd}`).
Every section (`--sections {','.join(SECTIONS)}`) writes its table to `benchmarks/tables/` (kept
in git) when it ends, and this text is rebuilt from the tables present after every run (or with
`--results-only`), so a section can be rerun alone; each table gives its date and machine. Every method, peers included, runs {args.repeats} times:
seconds and peak RSS are medians of the runs (the column `runs` says how many succeeded; the scale
table also gives the largest peak RSS, which the 1M-cell goal uses). Every method is seeded, so its
calls are the same in every run (`same_scores_every_run`).

## Accuracy on real cells

Every method is trained on the same reference: cells simulated from the liver profiles that the
shipped liverannot models use (MacParland 2018 human, Mouse Cell Atlas liver mouse). SingleR gets the
profiles themselves. Every method is tested on the same real query cells from other studies and
platforms (`../shared/data/real_cells`): the liver development sets (Aizarani 2019, Tabula Muris
liver) and the liver cell types found in other tissues (pancreas, blood, kidney, lung, spleen).
Metrics are at lineage level, with endothelial subtypes merged. `dev_lineage_accuracy` counts the
liver studies only. `nonliver_unassigned` is the share of non-liver cells (acinar, islet, kidney
tubule, lung epithelium) answered Unassigned; only liverannot can give that answer. In
`lineage_accuracy` a liver-type cell answered Unassigned counts as wrong; `forced_lineage_accuracy` is
liverannot's best liver call (`liver_best_lineage`, the Unassigned rules ignored), the answer the peers
always give, so for them the two columns are equal. The goal compares best calls. `fine_accuracy` scores
the best call's class on the `fine_cells` cells whose label names a reference class (the
`expected_classes` column of `src/liverannot/data/eval_labels.tsv`: e.g. blood pDC ->
Plasmacytoid.dendritic.cells, Tabula Muris Kupffer cell -> Kupffer.cell); labels no finer than their
lineage, or contradicted by the cells' expression (its `note` column says which), are not counted
there. Seconds and peak RSS
cover the whole process: reading, training where the method trains, and predicting. Scored cells: the
expected lineages of `src/liverannot/data/eval_labels.tsv` (its `note` column says which cells are
not scored, and why).

The human reference holds, beside the 20 MacParland clusters, plasmacytoid and conventional dendritic
cell profiles built from PanglaoDB markers (`src/liverannot/data/marker_classes.tsv`; MacParland has
no dendritic cell cluster): every method trains on them.

{table("accuracy", goals_accuracy)}

## Scale: `liverannot classify` on synthetic sparse counts

Sparse raw counts (10x-like depth) simulated from the human profiles and written to h5ad. Each run is
`liverannot classify -i N.h5ad -o calls.csv`: the h5ad is streamed from disk in chunks and never
densified. Every peer of the accuracy table trains (on the same training cells) and predicts the same
file at 10k and 100k cells (the Spearman baseline, which ranks every gene of every cell, at 10k only):
the `(train + predict)` rows. The `(predict only)` rows time each peer's trained model (trained once,
untimed) applied to the same file, as liverannot's shipped models are: the fair comparison.

{table("scale", scale_peers_summary)}

### Where the time of `classify` goes

`python benchmarks/profile_classify.py FILE nn|rf` runs `liverannot classify` of the largest scale
file in one process with a clock around each stage function (once per 10,000-cell chunk): wall
seconds on the main thread. Reading runs in a thread of its own, so `waiting for the reader` is only
the reading the work did not hide; `rest` is what no clock covers (start-up, imports, opening the file,
loading the model, and the small steps between the clocked ones); `total` is the whole command. `first layer alone` times the network's first
matrix product (every member's first layer at once) on the file's first chunks, scaled to its cells:
it is part of `model`.

{table("profile", profile_summary, full=False)}

## `liverannot run`, one sample, end to end

One sample of distinct simulated cells (10x-like depth) per size, from QC to the report; `*_s` are
the median seconds of each step (from the sample's summary.json; reading the input and starting the
process make up the rest).

{table("run", lambda t: "")}

### One sample of a million cells

An atlas or a pooled cohort in one sample. Before reading each sample, `liverannot run` estimates
the memory of its chain from the cells and stored counts in the file's header (a fixed part plus a
part per stored count, fitted to the peaks above: `src/liverannot/resources.py`) and stops at once
when that does not fit in what is available, saying what it needs. The 1M-cell file repeats blocks
of distinct simulated cells at the depth above.

{table("large", lambda t: "")}

## The first run after an install

numba compiles the kernels of clustering, UMAP and classification on first use and keeps them in a
disk cache. `liverannot precompile` fills that cache; `make setup` runs it, and the image build runs
it into the image (`/opt/liverannot/cache`). Each run below is `liverannot run` of the 10,000-cell
sample above (MultiQC excluded), starting from an empty cache (a new `NUMBA_CACHE_DIR`) except the
warm runs; the container rows start a new container every run, as every Nextflow task does.

{table("firstrun", lambda t: "")}

## Goals

{goals_scale(sc, pr) if sc is not None else "- 1M cells: the scale section has not run."}
{goals_run(e2e) if e2e is not None else "- liverannot run: the run section has not run."}
{goals_first_run(fr)}
{goals_large(lg)}
"""
    path.write_text(text)
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
