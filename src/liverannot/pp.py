"""Preprocessing for notebook users (``la.pp``): the pipeline's QC, normalization and clustering."""

from __future__ import annotations


def qc(adata, *, min_genes: int = 200, min_cells: int = 3, max_pct_mt: float = 20.0, max_genes: int | None = None,
       doublets: bool = False, layer: str | None = None, symbol_col: str | None = None, random_state: int = 0):
    """QC metrics into ``adata.obs`` (n_genes, total_counts, pct_counts_mt, pct_counts_ribo), then the
    filters; returns the cells and genes that pass, as a new AnnData, with the filter table in
    ``uns['liverannot']['qc_filters']``. QC reads the raw counts (``layer``, else layer ``counts`` if
    present, else X)."""
    from .api import _check_adata
    from .qc import run_qc

    _check_adata(adata)
    out, table = run_qc(adata, layer=layer, symbol_col=symbol_col, min_genes=min_genes, min_cells=min_cells,
                        max_pct_mt=max_pct_mt, max_genes=max_genes, doublets=doublets, random_state=random_state)
    out.uns["liverannot"]["qc_filters"] = table.astype(str).to_dict(orient="list")
    return out


def normalize(adata, *, target_sum: float = 1e4, kind: str | None = None):
    """Normalize X in place to ``target_sum`` per cell and log1p it; raw counts are kept in
    ``layers['counts']``; CPM-like input is re-normalized, log1p input left as it is."""
    from .api import _check_adata
    from .normalize import normalize as run

    _check_adata(adata)
    run(adata, target_sum=target_sum, kind=kind)


def cluster(adata, *, resolution: float = 1.0, n_top_genes: int = 2000, n_pcs: int = 30, n_neighbors: int = 15,
            random_state: int = 0, key_added: str = "leiden", umap: bool = True):
    """Highly variable genes, PCA, neighbours, Leiden (``obs[key_added]``) and UMAP on log-normalized X."""
    from .api import _check_adata
    from .cluster import cluster as run

    _check_adata(adata)
    run(adata, resolution=resolution, n_top_genes=n_top_genes, n_pcs=n_pcs, n_neighbors=n_neighbors,
        random_state=random_state, key_added=key_added, umap=umap)
