"""Per-cell quality metrics and filters."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InputError
from .io import gene_symbols

log = logging.getLogger(__name__)

MITO_PREFIXES = ("MT-", "mt-")
RIBO_PREFIXES = ("RPS", "RPL", "Rps", "Rpl")


def use_counts(adata, layer: str | None = None):
    """Make the raw counts the matrix that QC and the later steps work on, in place.

    The layer of io.counts_layer (``layer``, else ``layers['counts']`` when present: ``X`` is often
    normalized there), as classify reads it; else ``X`` as it is. Returns the layer used, or None.
    """
    from .io import counts_layer, get_matrix

    layer = counts_layer(adata, layer)
    if layer is None:
        return None
    adata.X = get_matrix(adata, layer).copy()
    log.info("QC on the raw counts in layers[%r]", layer)
    return layer


def calculate_qc_metrics(adata, *, layer: str | None = None, symbol_col: str | None = None):
    """Add per-cell ``n_genes``, ``total_counts``, ``pct_counts_mt`` and ``pct_counts_ribo`` to obs."""
    X = adata.layers[layer] if layer else adata.X
    symbols = gene_symbols(adata, symbol_col)
    mt = np.asarray(symbols.str.startswith(MITO_PREFIXES))
    ribo = np.asarray(symbols.str.startswith(RIBO_PREFIXES))
    if sp.issparse(X) and X.dtype.kind == "f":
        from . import kernels

        X = X if X.format == "csr" else sp.csr_matrix(X)
        total = np.asarray(X.sum(axis=1)).ravel()
        # mito and ribo row sums and cells per gene in one compiled pass, with scipy's arithmetic
        mt_sum, ribo_sum, n_cells = kernels.qc_sums(X, mt, ribo)
        n_genes = np.diff(X.indptr)
    elif sp.issparse(X):
        X = X if X.format == "csr" else sp.csr_matrix(X)
        total = np.asarray(X.sum(axis=1)).ravel()
        n_genes = np.diff(X.indptr)
        # products with 0/1 gene vectors: one pass over the matrix, no column subset copied
        # (in the matrix's own float type: a float64 vector would make scipy copy the matrix to float64)
        vt = X.dtype if X.dtype.kind == "f" else np.float64
        mt_sum = np.asarray(X @ mt.astype(vt)).ravel() if mt.any() else np.zeros(X.shape[0])
        ribo_sum = np.asarray(X @ ribo.astype(vt)).ravel() if ribo.any() else np.zeros(X.shape[0])
        n_cells = np.zeros(X.shape[1], np.int64)
        for a in range(0, len(X.indices), 1 << 24):  # in pieces: bincount copies its input to intp
            n_cells += np.bincount(X.indices[a:a + (1 << 24)], minlength=X.shape[1])
    else:
        X = np.asarray(X)
        total = X.sum(axis=1)
        n_genes = (X > 0).sum(axis=1)
        mt_sum = X[:, mt].sum(axis=1)
        ribo_sum = X[:, ribo].sum(axis=1)
        n_cells = (X > 0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        adata.obs["n_genes"] = n_genes.astype(np.int64)
        adata.obs["total_counts"] = total.astype(np.float64)
        adata.obs["pct_counts_mt"] = np.nan_to_num(100 * mt_sum.astype(np.float64) / total)
        adata.obs["pct_counts_ribo"] = np.nan_to_num(100 * ribo_sum.astype(np.float64) / total)
    adata.var["n_cells"] = np.asarray(n_cells).astype(np.int64)
    adata.uns.setdefault("liverannot", {})["qc_mito_genes"] = int(mt.sum())
    return adata


def score_doublets(adata, *, random_state: int = 0, key_added: str = "doublet_score"):
    """Score doublets with scanpy's scrublet (needs raw counts); adds obs ``doublet_score`` and
    ``predicted_doublet``."""
    import scanpy as sc

    if adata.n_obs < 100:
        log.warning("doublet scoring skipped: %d cells is too few for scrublet", adata.n_obs)
        adata.obs[key_added] = np.nan
        adata.obs["predicted_doublet"] = False
        return adata
    tmp = adata.copy()
    sc.pp.scrublet(tmp, random_state=random_state, verbose=False)
    adata.obs[key_added] = tmp.obs["doublet_score"].to_numpy()
    adata.obs["predicted_doublet"] = tmp.obs["predicted_doublet"].fillna(False).astype(bool).to_numpy()
    return adata


def subset(adata, cells: np.ndarray, genes: np.ndarray):
    """A new AnnData of the ``cells`` x ``genes`` (bool masks) of ``adata``, each matrix copied
    once (anndata's view-then-copy holds the large ones twice)."""
    import copy

    import anndata as ad

    if len(adata.obsp) or len(adata.varp):
        return adata[cells][:, genes].copy()
    ci, gi = np.flatnonzero(cells), np.flatnonzero(genes)
    all_genes = len(gi) == adata.n_vars

    def take(M):
        M = M[ci]
        return M if all_genes else M[:, gi]

    return ad.AnnData(X=take(adata.X), obs=adata.obs.iloc[ci].copy(), var=adata.var.iloc[gi].copy(),
                      uns=copy.deepcopy(dict(adata.uns)), layers={k: take(v) for k, v in adata.layers.items()},
                      obsm={k: (v.iloc[ci] if hasattr(v, "iloc") else v[ci]) for k, v in adata.obsm.items()},
                      varm={k: (v.iloc[gi] if hasattr(v, "iloc") else v[gi]) for k, v in adata.varm.items()})


def cells_per_gene(X, rows: np.ndarray) -> np.ndarray:
    """How many of the cells ``rows`` (bool mask) have a positive value in each gene, without
    copying the matrix."""
    if sp.issparse(X) and X.format == "csr":
        from . import kernels

        return kernels.positive_per_column(X, rows)  # one compiled pass, no mask as long as the matrix
    X = X[rows]
    return np.asarray((X > 0).sum(axis=0)).ravel()


def filter_cells_genes(adata, *, min_genes: int = 200, min_cells: int = 3, max_pct_mt: float = 20.0,
                       max_genes: int | None = None, remove_doublets: bool = False, copy: bool = True):
    """Filter cells and genes; returns (filtered AnnData, table of the filters and how many each removed).
    With ``copy=False``, ``adata`` itself is returned when nothing is filtered out."""
    if "n_genes" not in adata.obs:
        calculate_qc_metrics(adata)
    obs = adata.obs
    rows = []
    keep = np.ones(adata.n_obs, dtype=bool)
    filters = [(f"n_genes < {min_genes}", obs["n_genes"].to_numpy() < min_genes)]
    if max_genes:
        filters.append((f"n_genes > {max_genes}", obs["n_genes"].to_numpy() > max_genes))
    filters.append((f"pct_counts_mt > {max_pct_mt:g}", obs["pct_counts_mt"].to_numpy() > max_pct_mt))
    if remove_doublets and "predicted_doublet" in obs:
        filters.append(("predicted_doublet", obs["predicted_doublet"].to_numpy(bool)))
    for name, mask in filters:  # only the filters in force: a cell counts under the first it fails
        rows.append({"filter": name, "cells_removed": int((keep & mask).sum())})
        keep &= ~mask
    if keep.sum() == 0:
        raise InputError(f"QC removed all {adata.n_obs} cells (median genes per cell "
                         f"{np.median(obs['n_genes']):.0f}, median % mito {np.median(obs['pct_counts_mt']):.1f}). "
                         f"Lower --min-genes or raise --max-pct-mt.")
    gene_keep = cells_per_gene(adata.X, keep) >= min_cells
    rows.append({"filter": f"genes in < {min_cells} cells", "genes_removed": int((~gene_keep).sum())})
    if gene_keep.sum() == 0:
        raise InputError(f"QC removed all genes (none is detected in >= {min_cells} cells). Lower --min-cells.")
    # one copy of the matrix, rows and columns at once (a sample's matrix is its largest object)
    if keep.all() and gene_keep.all():
        out = adata.copy() if copy else adata
    else:
        out = subset(adata, keep, gene_keep)
    table = pd.DataFrame(rows).fillna(0).astype({"cells_removed": int, "genes_removed": int})
    out.uns.setdefault("liverannot", {})["qc"] = {
        "cells_before": int(adata.n_obs), "cells_after": int(out.n_obs),
        "genes_before": int(adata.n_vars), "genes_after": int(out.n_vars),
        "min_genes": min_genes, "min_cells": min_cells, "max_pct_mt": max_pct_mt,
    }
    return out, table


def run_qc(adata, *, layer: str | None = None, symbol_col: str | None = None, min_genes: int = 200,
           min_cells: int = 3, max_pct_mt: float = 20.0, max_genes: int | None = None, doublets: bool = False,
           random_state: int = 0, name: str = "input", copy: bool = True):
    """The QC step as the CLI and the pipeline run it: raw counts into X (:func:`use_counts`), values
    checked, metrics, optional doublet scores, filters. ``adata`` gets the metrics in obs; returns
    (filtered AnnData, table of the filters in force and what each removed); ``copy=False``: ``adata``
    itself when no cell and no gene is filtered out (the pipeline, which discards the input)."""
    from .io import check_values

    use_counts(adata, layer)
    check_values(adata.X, name)
    calculate_qc_metrics(adata, symbol_col=symbol_col)
    if doublets:
        score_doublets(adata, random_state=random_state)
    return filter_cells_genes(adata, min_genes=min_genes, min_cells=min_cells, max_pct_mt=max_pct_mt,
                              max_genes=max_genes, remove_doublets=doublets, copy=copy)


def write_qc_tables(adata, filtered, filters: pd.DataFrame, sample: str, qc_csv) -> dict:
    """The QC step's tables, as the ``qc`` subcommand and every per-sample chain write them: the
    per-cell metrics of every input cell and whether it passed (``qc_csv``), the filters with what
    each removed (``<qc_csv stem>.filters.csv``) and the same as MultiQC custom content
    (``.filters_mqc.tsv``). ``adata``: the input with its QC metrics; ``filtered``: the cells kept."""
    from pathlib import Path

    from .io import write_table
    from .report import write_qc_filters_mqc

    cols = [c for c in ("n_genes", "total_counts", "pct_counts_mt", "pct_counts_ribo", "doublet_score",
                        "predicted_doublet") if c in adata.obs]
    out = adata.obs[cols].copy()
    out["passed_qc"] = adata.obs_names.isin(filtered.obs_names)
    stem = str(Path(qc_csv).with_suffix(""))
    paths = {"cells": Path(qc_csv), "filters": Path(stem + ".filters.csv"), "mqc": Path(stem + ".filters_mqc.tsv")}
    paths["cells"].parent.mkdir(parents=True, exist_ok=True)
    write_table(out, paths["cells"], index_label="cell")
    write_table(filters, paths["filters"], index=False)
    write_qc_filters_mqc(filters, sample, adata.n_obs, paths["mqc"])
    return paths
