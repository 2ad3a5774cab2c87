"""Hepatocyte zonation: place every hepatocyte on the lobule's central-portal axis.

Method (reference: Halpern et al. 2017, Nature 542:352, shipped in ``data/``): Halpern measured
the expression of 2,166 mouse genes across 9 lobule layers (1 = pericentral ... 9 = periportal) by
single-molecule FISH-anchored spatial reconstruction, given as each gene's z-scored profile over the
layers (human: the same profiles under one-to-one human orthologs).

1. Genes: those of Halpern's table whose profile is zonated along the axis (|Pearson correlation
   of the profile with the layer number| >= ``MIN_GENE_ZONATION``) and that the query has.
2. Expression: log1p CP10k of every hepatocyte (counts from the layer the classifier read), each
   gene standardized across the sample's hepatocytes, as Halpern's profiles are standardized across
   layers: a liver sample's hepatocytes span the lobule, so the sample's mean is the lobule's mean.
3. Per cell, the Pearson correlation (over the zonated genes) of its standardized expression with
   each layer's profile; the layer is the best-matching one, refined between layers by a parabola
   through the best correlation and its neighbours; ``zonation = (layer - 1) / 8`` (0 pericentral,
   1 periportal). Hundreds of genes vote, so a dropout of any few moves a cell little.
4. Confidence: the best correlation (0..1) and the number of zonated genes detected in the cell.

Non-hepatocytes (and Unassigned cells) get NaN.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np
import pandas as pd

from .errors import LiverannotError

log = logging.getLogger(__name__)

N_LAYERS = 9
MIN_GENE_ZONATION = 0.7     # |corr(gene's layer profile, layer number)|: the gene is zonated along the axis
MIN_GENES = 20              # fewer zonated genes in the query: no zonation
MIN_HEPATOCYTES = 5         # fewer hepatocytes: the sample's standardization is meaningless
#: classic landmarks (Halpern 2017; Ben-Moshe 2019): the benchmark leaves them out of the scoring
LANDMARKS = {
    "mouse": {"pericentral": ["Cyp2e1", "Glul", "Oat", "Cyp1a2"], "periportal": ["Cyp2f2", "Hal", "Sds", "Ass1", "Pck1"]},
    "human": {"pericentral": ["CYP2E1", "GLUL", "OAT", "CYP1A2"], "periportal": ["HAL", "SDS", "ASS1", "PCK1"]},
}


@lru_cache(maxsize=None)
def layer_profiles(species: str) -> pd.DataFrame:
    """Halpern 2017's z-scored layer profiles (genes x layers 1..9) for ``species``."""
    from .reference import data_path

    if species not in ("human", "mouse"):
        raise LiverannotError(f"no zonation reference for species {species!r} (human, mouse).")
    df = pd.read_csv(data_path(f"zonation_halpern2017_{species}.tsv.gz"), sep="\t", index_col=0)
    df = df[~df.index.duplicated()]
    df.columns = list(range(1, N_LAYERS + 1))
    return df.astype(np.float64)


def log_cp10k_cells(adata, cells, columns, *, layer: str | None = None, kind: str | None = None) -> np.ndarray:
    """log1p CP10k (dense float64, cells x columns) of the genes at positions ``columns`` in the
    rows ``cells``, each cell's library size taken over all its genes. The raw matrix is the one the
    classifier reads (``layer``, else ``layers['counts']``, else X), its kind (counts, normalized,
    log1p) detected unless given."""
    import scipy.sparse as sp

    from .io import check_values, counts_layer, detect_kind, get_matrix, linear_expression

    X = get_matrix(adata, counts_layer(adata, layer))
    block = X[cells]
    check_values(block, "zonation input")
    lin = linear_expression(block, kind or detect_kind(X).kind)
    total = np.asarray(lin.sum(axis=1)).ravel()
    sub = lin[:, columns]
    sub = sub.toarray() if sp.issparse(sub) else np.asarray(sub)
    return np.log1p(sub.astype(np.float64) * (1e4 / np.maximum(total, 1e-12))[:, None])


@lru_cache(maxsize=None)
def zonated_genes(species: str, min_zonation: float = MIN_GENE_ZONATION) -> pd.DataFrame:
    """The layer profiles of the genes zonated along the central-portal axis."""
    Z = layer_profiles(species)
    axis = np.arange(1, N_LAYERS + 1, dtype=float)
    r = np.array([np.corrcoef(row, axis)[0, 1] for row in Z.to_numpy()])
    return Z[np.abs(np.nan_to_num(r)) >= min_zonation]


def _rowwise_corr(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Pearson correlation of every row of A (cells x genes) with every column of B (genes x layers)."""
    Ac = A - A.mean(axis=1, keepdims=True)
    Bc = B - B.mean(axis=0, keepdims=True)
    num = Ac @ Bc
    den = np.sqrt((Ac * Ac).sum(1))[:, None] * np.sqrt((Bc * Bc).sum(0))[None, :]
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _peak(R: np.ndarray) -> np.ndarray:
    """The continuous layer (1..9) of each row's best correlation, refined by a parabola through
    the best layer and its two neighbours."""
    best = R.argmax(1)
    pos = best.astype(float)
    inner = (best > 0) & (best < R.shape[1] - 1)
    i = np.where(inner)[0]
    y0, y1, y2 = R[i, best[i] - 1], R[i, best[i]], R[i, best[i] + 1]
    den = y0 - 2 * y1 + y2
    shift = np.divide(0.5 * (y0 - y2), den, out=np.zeros_like(den), where=den < 0)
    pos[i] += np.clip(shift, -0.5, 0.5)
    return pos + 1


def score_hepatocytes(log_expr: np.ndarray, profiles: np.ndarray) -> dict[str, np.ndarray]:
    """Zonation of hepatocytes from their log expression (cells x genes, the genes of ``profiles``,
    genes x 9 layers): standardized across the cells, correlated with each layer's profile."""
    mu = log_expr.mean(0)
    sd = log_expr.std(0)
    keep = sd > 0
    X = (log_expr[:, keep] - mu[keep]) / sd[keep]
    R = _rowwise_corr(X, profiles[keep])
    layer = _peak(R)
    return {"zonation": ((layer - 1) / (N_LAYERS - 1)).astype(np.float32),
            "layer": np.clip(np.rint(layer), 1, N_LAYERS).astype(np.int64),
            "confidence": np.clip(R.max(1), 0, 1).astype(np.float32),
            "n_genes": (log_expr[:, keep] > 0).sum(1).astype(np.int64), "n_genes_used": int(keep.sum())}


def zonation(adata, *, key: str = "liver", key_added: str | None = None, species: str | None = None,
             layer: str | None = None, symbol_col: str | None = None, exclude_genes=(),
             min_zonation: float = MIN_GENE_ZONATION, min_hepatocytes: int = MIN_HEPATOCYTES):
    """Place every cell called hepatocyte (obs ``{key}_lineage``) on the central-portal axis.

    Adds obs ``{key_added}`` (0 pericentral ... 1 periportal), ``{key_added}_layer`` (1-9, Halpern's
    layers), ``{key_added}_confidence`` (best correlation with a layer profile, 0..1) and
    ``{key_added}_genes`` (zonated genes detected in the cell); NaN (layer 0, genes 0) for other
    cells. uns ``{key_added}``: the method's settings and gene count. ``key_added`` defaults to
    ``{key}_zonation``; ``exclude_genes`` leaves genes out of the scoring (the benchmark's held-out
    landmarks). Counts are read as the classifier read them (``layer``, else ``layers['counts']``,
    else X). Returns the number of hepatocytes placed.
    """
    from .io import gene_symbols

    key_added = key_added or f"{key}_zonation"
    lin_col = f"{key}_lineage"
    if lin_col not in adata.obs:
        raise LiverannotError(f"no per-cell calls in obs ({lin_col}): run la.classify(adata) "
                              f"(liverannot classify) before the zonation.")
    info = adata.uns.get(f"{key}_classify", {})
    species = species or info.get("query_species") or info.get("species")
    symbol_col = symbol_col or info.get("symbol_col")
    n = adata.n_obs
    out = {"zonation": np.full(n, np.nan, np.float32), "layer": np.zeros(n, np.int64),
           "confidence": np.full(n, np.nan, np.float32), "n_genes": np.zeros(n, np.int64)}
    hep = np.where(adata.obs[lin_col].astype(str).to_numpy() == "hepatocyte")[0]
    Z = zonated_genes(species, min_zonation)
    Z = Z.drop(index=[g for g in exclude_genes if g in Z.index])
    symbols = pd.Index(gene_symbols(adata, symbol_col, species=species))
    first = pd.Series(np.arange(len(symbols)), index=symbols)
    first = first[~first.index.duplicated()]
    genes = [g for g in Z.index if g in first.index]
    summary = {"method": "Halpern 2017 layer profiles: correlation over zonated genes", "species": species,
               "n_hepatocytes": int(len(hep)), "n_zonated_genes_reference": int(len(Z)),
               "n_zonated_genes_query": len(genes), "min_gene_zonation": float(min_zonation),
               "excluded_genes": sorted(set(exclude_genes) & set(layer_profiles(species).index))}
    if len(hep) < min_hepatocytes or len(genes) < MIN_GENES:
        why = (f"{len(hep)} hepatocytes (at least {min_hepatocytes} needed)" if len(hep) < min_hepatocytes
               else f"only {len(genes)} zonated genes in the query (at least {MIN_GENES} needed)")
        log.warning("zonation skipped: %s", why)
        summary["skipped"] = why
    else:
        logx = log_cp10k_cells(adata, hep, first[genes].to_numpy(), layer=layer, kind=info.get("input_kind"))
        res = score_hepatocytes(logx, Z.loc[genes].to_numpy())
        for k in ("zonation", "layer", "confidence", "n_genes"):
            out[k][hep] = res[k]
        summary["n_genes_used"] = res["n_genes_used"]
        log.info("zonation: %d hepatocytes placed with %d zonated genes (median layer %.0f)", len(hep),
                 res["n_genes_used"], np.median(res["layer"]))
    adata.obs[key_added] = out["zonation"]
    adata.obs[f"{key_added}_layer"] = out["layer"]
    adata.obs[f"{key_added}_confidence"] = out["confidence"]
    adata.obs[f"{key_added}_genes"] = out["n_genes"]
    adata.uns[key_added] = summary
    return int(len(hep)) if "skipped" not in summary else 0


def zone_counts(adata, key_added: str = "liver_zonation") -> dict[str, int]:
    """Hepatocytes per zone: pericentral (layers 1-3), mid-lobular (4-6), periportal (7-9)."""
    layer = adata.obs[f"{key_added}_layer"].to_numpy() if f"{key_added}_layer" in adata.obs else np.zeros(0)
    return {"pericentral": int(((layer >= 1) & (layer <= 3)).sum()), "midlobular": int(((layer >= 4) & (layer <= 6)).sum()),
            "periportal": int((layer >= 7).sum())}


def card_section() -> list[str]:
    """The model card's paragraph on the zonation that classify adds (one text for every card)."""
    return ["## Hepatocyte zonation", "",
            "`classify` also places every cell called hepatocyte on the lobule's central-portal axis "
            "(obs `liver_zonation`, 0 pericentral ... 1 periportal; `liver_zonation_layer` 1-9): its expression of "
            "the genes zonated in Halpern et al. 2017 (Nature 542:352; |correlation of the gene's layer profile with "
            f"the layer| >= {MIN_GENE_ZONATION}), standardized across the sample's hepatocytes, is correlated with "
            "each of the 9 layer profiles and the best layer refined between layers. It uses no parameter of this "
            "model and is not trained. Measured in benchmarks/ZONATION.md (held-out landmark genes on real "
            "hepatocytes; simulated hepatocytes of known layer).", ""]
