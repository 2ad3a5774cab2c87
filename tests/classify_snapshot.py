"""The classifier's outputs on every development and other-tissue set, for the four shipped models,
with all genes and with 30% of each model's genes (the refit path).

`python tests/classify_snapshot.py` writes them to tests/data/classify_snapshot.npz; the test
``test_stages.py::test_calls_identical_to_the_snapshot`` recomputes them with the code of the day
and compares. The snapshot in the repository was written by the classifier before it was split
into stages (commit recorded in the file), so the test proves that the split changed no call and
no probability. Regenerate it only for a deliberate change of behaviour, and say so in the commit.
"""

from __future__ import annotations

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


def write(result, path: Path = SNAPSHOT) -> None:
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
    sys.path.insert(0, str(HERE.parent / "src"))
    from liverannot.classifier import classify

    res = compute(lambda a, m: classify(a, m))
    write(res)
    print(f"wrote {SNAPSHOT}: {len(res)} cases")
