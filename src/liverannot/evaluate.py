"""Evaluation on real labelled cells (the shared development data) and the Spearman baseline."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import rankdata

from .reference import eval_labels


def shared_data_dir() -> Path | None:
    """``../shared/data`` of the checkout, or ``$LIVERANNOT_SHARED_DATA``; None if absent."""
    env = os.environ.get("LIVERANNOT_SHARED_DATA")
    cands = [Path(env)] if env else []
    here = Path(__file__).resolve()
    cands += [p / "shared" / "data" for p in here.parents]
    cands += [Path.cwd().parent / "shared" / "data", Path.cwd() / "shared" / "data"]
    for c in cands:
        if (c / "profiles").is_dir():
            return c
    return None


def dev_datasets(species: str, include_other_tissues: bool = True) -> dict[str, Path]:
    root = shared_data_dir()
    if root is None:
        return {}
    out = {}
    for sub in ("liver", "other_tissues") if include_other_tissues else ("liver",):
        for f in sorted((root / "real_cells" / sub).glob(f"{species}_*.h5ad")):
            out[f.stem] = f
    return out


def _eval_column(dataset: str, cell_types, column: str) -> np.ndarray:
    lab = eval_labels()
    lab = lab[lab["dataset"] == dataset]
    m = dict(zip(lab["cell_type"], lab[column]))
    return np.array([m.get(c, "") for c in cell_types], dtype=object)


def expected_lineages(dataset: str, cell_types) -> np.ndarray:
    """The lineage each cell's label should get ("unassigned" for non-liver types, "" if not scored)."""
    return _eval_column(dataset, cell_types, "expected_lineage")


def expected_classes(dataset: str, cell_types) -> np.ndarray:
    """The model classes (comma-separated) that name each cell's label, where the label is finer than
    its lineage and a reference class matches it (e.g. blood pDC -> Plasmacytoid.dendritic.cells);
    "" where no class is comparable."""
    return _eval_column(dataset, cell_types, "expected_classes")


def fine_accuracy(pred_class, expected) -> tuple[float | None, int]:
    """Share of the cells with comparable classes (``expected`` from :func:`expected_classes`) whose
    predicted class is one of them, and the number of such cells."""
    pred = np.asarray(pred_class, dtype=object)
    expected = np.asarray(expected, dtype=object)
    scored = expected != ""
    if not scored.any():
        return None, 0
    hit = [p in e.split(",") for p, e in zip(pred[scored], expected[scored])]
    return float(np.mean(hit)), int(scored.sum())


def score(pred_lineage, expected) -> dict:
    """Lineage accuracy on liver types, and the Unassigned rate on non-liver types."""
    pred = np.asarray(pred_lineage, dtype=object)
    expected = np.asarray(expected, dtype=object)
    liver = (expected != "") & (expected != "unassigned")
    nonliver = expected == "unassigned"
    from sklearn.metrics import f1_score

    out = {"n_cells": int(liver.sum()),
           "lineage_accuracy": float((pred[liver] == expected[liver]).mean()) if liver.any() else None,
           "unassigned_rate_liver_types": float((pred[liver] == "unassigned").mean()) if liver.any() else None}
    if liver.any():
        out["lineage_macro_f1"] = float(f1_score(expected[liver], pred[liver], average="macro",
                                                 labels=sorted(set(expected[liver]))))
    if nonliver.any():
        out["n_nonliver_cells"] = int(nonliver.sum())
        out["unassigned_rate_nonliver"] = float((pred[nonliver] == "unassigned").mean())
    return out


def spearman_baseline(adata, ref, lineage: dict[str, str], genes=None) -> np.ndarray:
    """Lineage of the reference profile with the highest Spearman correlation to each cell, over
    the genes the cell and the reference share (the simple baseline of the issue)."""
    names = pd.Index(adata.var_names.astype(str))
    genes = [g for g in (genes if genes is not None else ref.genes) if g in set(names)]
    idx = names.get_indexer(genes)
    X = adata.X[:, idx]
    X = X.toarray() if sp.issparse(X) else np.asarray(X)
    P = ref.profiles.loc[genes].to_numpy().T  # classes x genes
    rx = np.apply_along_axis(rankdata, 1, X)
    rp = np.apply_along_axis(rankdata, 1, P)
    rx = (rx - rx.mean(1, keepdims=True)) / (rx.std(1, keepdims=True) + 1e-9)
    rp = (rp - rp.mean(1, keepdims=True)) / (rp.std(1, keepdims=True) + 1e-9)
    corr = rx @ rp.T / len(genes)
    best = corr.argmax(1)
    return np.array([lineage[ref.classes[i]] for i in best], dtype=object)


# ------------------------------------------------------------------------------------------
# zonation: held-out landmark genes, simulated hepatocytes of known position
# ------------------------------------------------------------------------------------------

def landmark_correlations(adata, species: str, key_added: str = "liver_zonation") -> pd.DataFrame:
    """Spearman correlation, over the cells with a zonation, between the zonation and each landmark
    gene's log1p CP10k (landmarks: :data:`liverannot.zones.LANDMARKS`; score them with the
    landmarks excluded). Pericentral landmarks should correlate negatively, periportal positively."""
    from scipy.stats import spearmanr

    from .io import gene_symbols
    from .zones import LANDMARKS, log_cp10k_cells

    z = adata.obs[key_added].to_numpy()
    cells = np.where(np.isfinite(z))[0]
    info = adata.uns.get("liver_classify", {})
    symbols = list(gene_symbols(adata, info.get("symbol_col"), species=species))
    present = [g for zone in LANDMARKS[species].values() for g in zone if g in symbols]
    logx = log_cp10k_cells(adata, cells, [symbols.index(g) for g in present], kind=info.get("input_kind"))
    rows = []
    for zone, genes in LANDMARKS[species].items():
        for g in genes:
            if g not in present:
                continue
            v = logx[:, present.index(g)]
            rho = spearmanr(z[cells], v).statistic if v.std() > 0 and len(cells) > 2 else np.nan
            rows.append({"zone": zone, "gene": g, "n_cells": len(cells), "detected": int((v > 0).sum()),
                         "spearman": float(rho)})
    return pd.DataFrame(rows)


def simulate_layered_hepatocytes(base: pd.Series, species: str, n_cells: int = 450, amplitude: float = 0.5,
                                 seed: int = 0):
    """Hepatocytes of known lobule layer (1-9, obs ``true_layer``): a real hepatocyte profile
    ``base`` (mean counts per gene) whose zonated genes are modulated by Halpern's layer profile,
    ``base * exp(amplitude * z(layer))``, then library sizes 1k-20k and negative binomial counts
    (shape 2), so the zonated genes' counts carry sampling noise and dropout as real cells do."""
    import anndata as ad

    from .zones import N_LAYERS, layer_profiles

    rng = np.random.default_rng(seed)
    Z = layer_profiles(species).reindex(base.index).fillna(0.0).to_numpy()
    layer = rng.integers(1, N_LAYERS + 1, n_cells)
    P = base.to_numpy()[None, :] * np.exp(amplitude * Z[:, layer - 1].T)
    P /= P.sum(1, keepdims=True)
    lib = np.exp(rng.uniform(np.log(1000), np.log(20000), n_cells))
    counts = rng.poisson(rng.gamma(2.0, P * lib[:, None] / 2.0)).astype(np.float32)
    a = ad.AnnData(sp.csr_matrix(counts), obs=pd.DataFrame({"true_layer": layer}, index=[f"h{i}" for i in range(n_cells)]),
                   var=pd.DataFrame(index=list(base.index)))
    a.obs["liver_lineage"] = "hepatocyte"
    a.uns["liver_classify"] = {"input_kind": "counts"}
    return a


#: platforms the zonation benchmark simulates: library sizes (log-uniform range) and the negative
#: binomial shape of a gene's counts around its mean (smaller = more overdispersed)
PLATFORMS = {"10x 3' (1-5k UMIs)": {"depth": (1000, 5000), "shape": 2.0},
             "Smart-seq2 (0.2-2M reads)": {"depth": (2e5, 2e6), "shape": 0.7}}


def simulate_zonated_hepatocytes(base: pd.Series, species: str, n_cells: int = 600, platform: str = "10x 3' (1-5k UMIs)",
                                 amplitude: float = 0.25, amplitude_sd: float = 0.7, inactive_fraction: float = 0.4,
                                 nuisance: float = 0.3, seed: int = 0):
    """Hepatocytes at known continuous lobule positions (obs ``true_position``, 1..9, uniform), made as
    real samples differ from Halpern's reference: each gene follows its layer profile with its own
    amplitude (log-normal around ``amplitude``, sd ``amplitude_sd`` in log; Halpern's profiles are
    z-scores, the fold changes behind them differ gene by gene), ``inactive_fraction`` of the genes
    are not zonated in this sample (another species, strain, age, diet), and a second programme of
    ``nuisance`` strength (stress, cycle, sex) moves a fifth of the genes cell by cell; library sizes
    and counts of ``platform`` (:data:`PLATFORMS`)."""
    import anndata as ad

    from .zones import N_LAYERS, layer_profiles

    rng = np.random.default_rng(seed)
    plat = PLATFORMS[platform]
    Z = layer_profiles(species).reindex(base.index).fillna(0.0).to_numpy()
    amp = amplitude * np.exp(rng.normal(0.0, amplitude_sd, len(base))) * (rng.random(len(base)) >= inactive_fraction)
    x = rng.uniform(1, N_LAYERS, n_cells)
    lo = np.minimum(np.floor(x).astype(int), N_LAYERS - 1)
    f = x - lo
    Zx = Z[:, lo - 1].T * (1 - f[:, None]) + Z[:, lo].T * f[:, None]
    programme = rng.normal(0.0, 1.0, len(base)) * (rng.random(len(base)) < 0.2)
    P = base.to_numpy()[None, :] * np.exp(amp[None, :] * Zx + nuisance * rng.normal(0.0, 1.0, n_cells)[:, None] * programme)
    P /= P.sum(1, keepdims=True)
    lib = np.exp(rng.uniform(np.log(plat["depth"][0]), np.log(plat["depth"][1]), n_cells))
    shape = plat["shape"]
    counts = rng.poisson(rng.gamma(shape, P * lib[:, None] / shape)).astype(np.float32)
    a = ad.AnnData(sp.csr_matrix(counts), obs=pd.DataFrame({"true_position": x}, index=[f"h{i}" for i in range(n_cells)]),
                   var=pd.DataFrame(index=list(base.index)))
    a.obs["liver_lineage"] = "hepatocyte"
    a.uns["liver_classify"] = {"input_kind": "counts", "query_species": species}
    return a


def signed_mean_score(log_expr: np.ndarray, profiles: np.ndarray, centred: bool = False) -> np.ndarray:
    """The naive zonation score: the mean over genes of each gene's log expression standardized
    across the cells, periportal genes (profile rising with the layer) counted +, pericentral -.
    ``centred``: each cell's standardized values first centred over the genes (its offset shared by
    all genes, e.g. capture efficiency, removed)."""
    X = np.asarray(log_expr, dtype=np.float64)
    sd = X.std(0)
    ok = sd > 0
    Zs = (X[:, ok] - X[:, ok].mean(0)) / sd[ok]
    if centred:
        Zs = Zs - Zs.mean(1, keepdims=True)
    from .zones import axis_correlation

    sign = np.sign(axis_correlation(profiles[ok]))
    return (Zs * sign).mean(1)
