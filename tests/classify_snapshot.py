"""The classifier's outputs on every development and other-tissue set, for the four shipped models,
with all genes and with 30% of each model's genes (the refit path).

`python tests/classify_snapshot.py` writes them to tests/data/classify_snapshot.npz. The snapshot
in the repository was written by the classifier before it was split into stages (commit recorded in
the file), on one machine. Two tests use it (tests/test_stages.py):

- the split changed nothing: the classifier of the recorded commit (its ``src/``, taken out with
  ``git archive`` and run in a subprocess by ``compute_at_commit``) and the code of the day classify
  every case on the machine the tests run on, and must give the same calls (floats equal to
  float32 rounding: the fast paths sum in another order);
- another machine's CPU gives the same calls: today's outputs against the stored file. Float32
  sums run in another order with other SIMD kernels (AVX2 vs AVX-512 BLAS, for one), so the
  probabilities agree to rounding only, and a network retrained at classify time (the nn refit
  path) is not expected to come out the same.

Regenerate it only for a deliberate change of behaviour, and say so in the commit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SNAPSHOT = HERE / "data" / "classify_snapshot.npz"
OBS = ("celltype", "lineage", "best_celltype", "best_lineage", "unassigned_reason")
FLOATS = ("confidence", "celltype_confidence", "similarity", "nonliver_share")
GENE_LOSS_FRACTION = 0.3


def cases():
    """(case name, species, kind, dataset path, fraction of model genes kept)."""
    from liverannot.evaluate import dev_datasets

    out = []
    for species in ("human", "mouse"):
        for kind in ("nn", "rf"):
            for name, path in dev_datasets(species).items():
                out.append((f"{species}_{kind}/{name}", species, kind, path, 1.0))
                if "_liver_" in name:
                    out.append((f"{species}_{kind}/{name}/genes30", species, kind, path, GENE_LOSS_FRACTION))
    return out


def query(path, model, fraction: float):
    """The dataset, less (1 - fraction) of the model's genes (chosen with a fixed seed)."""
    import anndata as ad

    a = ad.read_h5ad(path)
    if fraction < 1.0:
        rng = np.random.default_rng(7)
        model_genes = set(model.genes)
        keep_model = set(rng.choice(sorted(model_genes), int(fraction * len(model_genes)), replace=False))
        a = a[:, [g for g in a.var_names if g not in model_genes or g in keep_model]].copy()
    return a


def outputs(a, key: str = "liver") -> dict[str, np.ndarray]:
    out = {c: a.obs[f"{key}_{c}"].astype(str).to_numpy().astype("U") for c in OBS}
    out.update({c: a.obs[f"{key}_{c}"].to_numpy(np.float32) for c in FLOATS})
    out["proba"] = np.asarray(a.obsm[f"{key}_proba"], np.float32)
    info = a.uns[f"{key}_classify"]
    out["classes"] = np.array(info["classes"], dtype="U")
    out["n_shared_genes"] = np.int64(info["n_shared_genes"])
    out["refit"] = np.bool_(info["refit_on_shared_genes"])
    return out


def compute(classify_case) -> dict[str, dict[str, np.ndarray]]:
    """``classify_case(adata, model)`` annotates ``adata`` in place; returns case -> outputs."""
    from liverannot.model import Model

    models, result = {}, {}
    for case, species, kind, path, fraction in cases():
        model = models.setdefault((species, kind), Model.shipped(species, kind))
        a = query(path, model, fraction)
        classify_case(a, model)
        result[case] = outputs(a)
    return result


def compute_at_commit(commit: str, workdir: Path) -> dict[str, dict[str, np.ndarray]]:
    """The outputs of the classifier of ``commit``, computed on this machine: that commit's
    ``src/`` is exported to ``workdir`` and this script runs on it in a fresh interpreter."""
    from liverannot.evaluate import shared_data_dir

    archive = subprocess.run(["git", "archive", commit, "src"], cwd=HERE.parent, capture_output=True)
    if archive.returncode != 0:
        raise RuntimeError(f"git archive {commit} failed (a clone without history?): {archive.stderr.decode()}")
    subprocess.run(["tar", "-x", "-C", str(workdir)], input=archive.stdout, check=True)
    out = workdir / "snapshot.npz"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["LIVERANNOT_SHARED_DATA"] = str(shared_data_dir())
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--src", str(workdir / "src"), "--out", str(out),
                    "--commit", commit], check=True, env=env, cwd=workdir)
    return read(out)[1]


def write(result, path: Path = SNAPSHOT, commit: str | None = None) -> None:
    if commit is None:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    flat = {f"{case}|{k}": v for case, d in result.items() for k, v in d.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, __commit__=np.array(commit), **flat)


def read(path: Path = SNAPSHOT) -> tuple[str, dict[str, dict[str, np.ndarray]]]:
    with np.load(path, allow_pickle=False) as z:
        out: dict[str, dict[str, np.ndarray]] = {}
        for k in z.files:
            if k == "__commit__":
                continue
            case, field = k.rsplit("|", 1)
            out.setdefault(case, {})[field] = z[k]
        return str(z["__commit__"]), out


if __name__ == "__main__":
    import argparse
    import importlib

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=HERE.parent / "src", help="the package sources to run")
    ap.add_argument("--out", type=Path, default=SNAPSHOT)
    ap.add_argument("--commit", help="the commit those sources are from (default: HEAD)")
    args = ap.parse_args()
    sys.path.insert(0, str(args.src.resolve()))
    import liverannot

    if not Path(liverannot.__file__).resolve().is_relative_to(args.src.resolve()):
        sys.exit(f"liverannot was imported from {liverannot.__file__}, not from {args.src}")
    try:   # the unsplit classifier's module was liverannot.classify
        classify = importlib.import_module("liverannot.classify").classify
    except (ImportError, AttributeError):
        classify = importlib.import_module("liverannot.classifier").classify
    res = compute(lambda a, m: classify(a, m))
    write(res, args.out, args.commit)
    print(f"wrote {args.out}: {len(res)} cases")
