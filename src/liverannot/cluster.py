"""Highly variable genes, PCA, neighbours, Leiden clustering and UMAP."""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

#: fewer cells than this cannot be clustered meaningfully (and below 4, UMAP's layout fails)
MIN_CELLS = 10


def cluster(adata, *, n_top_genes: int = 2000, n_pcs: int = 30, n_neighbors: int = 15,
            resolution: float = 1.0, random_state: int = 0, key_added: str = "leiden",
            umap: bool = True):
    """Cluster log-normalized ``adata`` (X) in place; labels go to ``obs[key_added]``."""
    import scanpy as sc

    from .errors import InputError

    if adata.n_obs < MIN_CELLS:
        raise InputError(f"only {adata.n_obs} cells: too few to cluster (at least {MIN_CELLS} are needed for "
                         f"neighbours, Leiden and UMAP). If QC removed most cells, lower --min-genes or raise "
                         f"--max-pct-mt; `liverannot classify` calls cells without clustering.")
    n_top = min(n_top_genes, adata.n_vars)
    try:
        sc.pp.highly_variable_genes(adata, n_top_genes=n_top, flavor="seurat")
    except Exception as exc:  # tiny or degenerate data
        log.warning("highly variable genes failed (%s): using all genes", exc)
        adata.var["highly_variable"] = True
    sub = adata[:, adata.var["highly_variable"].to_numpy()].copy()
    n_comps = max(2, min(n_pcs, sub.n_obs - 1, sub.n_vars - 1))
    sc.pp.scale(sub, max_value=10)
    sc.tl.pca(sub, n_comps=n_comps, random_state=random_state, svd_solver="arpack")
    adata.obsm["X_pca"] = sub.obsm["X_pca"]
    adata.uns["pca"] = sub.uns["pca"]
    nn = max(2, min(n_neighbors, adata.n_obs - 1))
    # exact neighbours through scikit-learn: deterministic, and avoids scanpy 1.11's approximate
    # path above 4096 cells, which fails on scipy sparse arrays ('csr_array' has no getnnz)
    from sklearn.neighbors import KNeighborsTransformer

    transformer = KNeighborsTransformer(n_neighbors=nn, mode="distance", n_jobs=-1)
    sc.pp.neighbors(adata, n_neighbors=nn, n_pcs=n_comps, random_state=random_state, transformer=transformer)
    sc.tl.leiden(adata, resolution=resolution, random_state=random_state, key_added=key_added,
                 flavor="igraph", n_iterations=2, directed=False)
    if umap:
        sc.tl.umap(adata, random_state=random_state)
    info = adata.uns.setdefault("liverannot", {})
    info["cluster"] = {"n_top_genes": n_top, "n_pcs": int(n_comps), "n_neighbors": nn,
                       "resolution": resolution, "key": key_added,
                       "n_clusters": int(adata.obs[key_added].nunique())}
    log.info("%d clusters (Leiden, resolution %.2f)", adata.obs[key_added].nunique(), resolution)
    return adata
