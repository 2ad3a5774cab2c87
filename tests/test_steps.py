import numpy as np
import pytest

from liverannot import cluster, normalize, qc
from liverannot.errors import InputError


def test_qc_metrics_and_filters(adata):
    qc.calculate_qc_metrics(adata)
    obs = adata.obs
    assert {"n_genes", "total_counts", "pct_counts_mt", "pct_counts_ribo"} <= set(obs.columns)
    assert adata.uns["liverannot"]["qc_mito_genes"] == 13
    # the simulated mito share is ~5% (beta(2, 40))
    assert 2 < obs["pct_counts_mt"].median() < 10
    assert np.allclose(obs["total_counts"], np.asarray(adata.X.sum(1)).ravel())
    # make 30 cells mito-heavy and 20 cells nearly empty; the filters must remove those, plus the
    # cells that failed already
    failed_before = set(qc.filter_cells_genes(adata.copy(), min_genes=200, max_pct_mt=20)[0].obs_names) ^ set(adata.obs_names)
    failed_before -= set(adata.obs_names[:50])
    mito_before = int((adata.obs["pct_counts_mt"].to_numpy()[50:] > 20).sum())
    X = adata.X.tolil()
    mt_cols = np.where(adata.var_names.str.startswith("MT-"))[0]
    for i in range(30):
        X[i, mt_cols[0]] = 1e5
    for i in range(30, 50):
        X[i, :] = 0
        X[i, 0] = 5
    adata.X = X.tocsr()
    qc.calculate_qc_metrics(adata)
    out, table = qc.filter_cells_genes(adata, min_genes=200, max_pct_mt=20)
    assert out.n_obs == adata.n_obs - 50 - len(failed_before)
    assert set(out.obs_names).isdisjoint(adata.obs_names[:50])
    assert table.set_index("filter").loc["pct_counts_mt > 20", "cells_removed"] == 30 + mito_before
    assert out.uns["liverannot"]["qc"]["cells_after"] == out.n_obs


def test_qc_removing_everything_is_a_clear_error(adata):
    qc.calculate_qc_metrics(adata)
    with pytest.raises(InputError, match="removed all"):
        qc.filter_cells_genes(adata, min_genes=10**6)


def test_doublets(adata):
    qc.score_doublets(adata)
    assert adata.obs["doublet_score"].between(0, 1).all()
    assert adata.obs["predicted_doublet"].dtype == bool


def test_normalize_counts_keeps_raw(adata):
    raw = adata.X.copy()
    normalize.normalize(adata)
    assert adata.uns["liverannot"]["input_kind"] == "counts"
    assert (adata.layers["counts"] != raw).nnz == 0
    sums = np.asarray(np.expm1(adata.X).sum(1)).ravel()
    assert np.allclose(sums, 1e4, rtol=1e-3)


def test_normalize_detects_log_data(adata):
    normalize.normalize(adata)
    once = adata.X.copy()
    del adata.layers["counts"]
    normalize.normalize(adata)  # already log1p: must not be transformed twice
    assert adata.uns["liverannot"]["input_kind"] == "log1p"
    assert abs(adata.X - once).max() < 1e-6


def test_cluster_finds_the_cell_types(adata):
    from sklearn.metrics import adjusted_rand_score

    normalize.normalize(adata)
    cluster.cluster(adata, resolution=1.0)
    assert "X_umap" in adata.obsm and "X_pca" in adata.obsm
    n = adata.obs["leiden"].nunique()
    assert 5 <= n <= 40
    # clusters recover the simulated fine cell types, and none mixes lineages
    ari = adjusted_rand_score(adata.obs["true_celltype"], adata.obs["leiden"])
    assert ari > 0.8, ari
    majority = adata.obs.groupby("leiden", observed=True)["true_lineage"].agg(lambda s: s.value_counts().index[0])
    purity = (adata.obs["leiden"].map(majority).astype(str) == adata.obs["true_lineage"]).mean()
    assert purity > 0.97, purity


def test_cluster_10000_cells():
    """Regression: scanpy 1.11's approximate-neighbour path failed at this size ('csr_array' has no getnnz)."""
    from liverannot.demo import simulate_sample

    a = simulate_sample("human", n_cells=10000, seed=13)
    a = a[:, np.asarray(a.X.sum(0)).ravel() > 50].copy()
    assert a.n_obs > 4096
    normalize.normalize(a)
    cluster.cluster(a, umap=False)
    assert a.obs["leiden"].nunique() >= 5


def test_qc_lists_only_the_filters_in_force_as_whole_numbers(adata):
    qc.calculate_qc_metrics(adata)
    _, table = qc.filter_cells_genes(adata, min_genes=200, max_pct_mt=20)
    assert list(table["filter"]) == ["n_genes < 200", "pct_counts_mt > 20", "genes in < 3 cells"]
    assert table["cells_removed"].dtype.kind == "i" and table["genes_removed"].dtype.kind == "i"
    _, table = qc.filter_cells_genes(adata, min_genes=200, max_genes=5000, max_pct_mt=12.5)
    assert list(table["filter"])[:3] == ["n_genes < 200", "n_genes > 5000", "pct_counts_mt > 12.5"]


def test_qc_measures_the_raw_counts_layer_when_x_is_normalized(adata):
    """nf-core/scrnaseq's h5ad and scanpy users keep raw counts in layers['counts'] beside a
    normalized X: QC must count UMIs there, as classify reads them there."""
    import scanpy as sc

    raw_totals = np.asarray(adata.X.sum(axis=1)).ravel()
    a = adata.copy()
    a.layers["counts"] = a.X.copy()
    sc.pp.normalize_total(a, target_sum=1e4)
    sc.pp.log1p(a)
    assert qc.use_counts(a) == "counts"
    qc.calculate_qc_metrics(a)
    assert np.allclose(a.obs["total_counts"], raw_totals)
    b = adata.copy()
    b.layers["raw"] = b.X.copy()
    b.X = b.X * 0.5
    assert qc.use_counts(b, "raw") == "raw"
    assert np.allclose(np.asarray(b.X.sum(axis=1)).ravel(), raw_totals)
    assert qc.use_counts(adata.copy()) is None   # no counts layer: X as it is
    with pytest.raises(InputError, match="layer 'nope' not found"):
        qc.use_counts(adata.copy(), "nope")


def test_qc_filters_reach_multiqc_as_custom_content(tmp_path):
    import pandas as pd

    from liverannot.report import write_qc_filters_mqc

    table = pd.DataFrame({"filter": ["n_genes < 200", "pct_counts_mt > 20", "genes in < 3 cells"],
                          "cells_removed": [7, 3, 0], "genes_removed": [0, 0, 120]})
    path = write_qc_filters_mqc(table, "liver1", 100, tmp_path / "liver1.qc.filters_mqc.tsv")
    assert path.name.endswith("_mqc.tsv")   # the suffix MultiQC's custom content looks for
    lines = path.read_text().splitlines()
    header = dict(line[2:].split(": ", 1) for line in lines if line.startswith("# "))
    assert header["id"] == '"liverannot_qc_filters"' and header["plot_type"] == '"bargraph"'
    body = [line.split("\t") for line in lines if not line.startswith("#")]
    assert body == [["Sample", "kept", "n_genes < 200", "pct_counts_mt > 20"], ["liver1", "90", "7", "3"]]


def test_threaded_umap_layout_is_reproducible_and_as_good_as_umap_learns():
    """cluster.umap_layout (the layout's epochs in threads, by cluster) gives the same coordinates with
    1 and 2 threads, and lays the cells out as well as umap-learn's single-threaded layout: over seeds
    0-2, each cell's 15 neighbours kept in the layout and the clusters' silhouette within 0.01 and
    0.03 of umap-learn's, from the same graph and spectral start."""
    import numba
    import scanpy as sc
    from sklearn.metrics import silhouette_score
    from sklearn.neighbors import NearestNeighbors

    from liverannot.demo import simulate_sample

    a = simulate_sample("human", n_cells=5000, seed=13)
    a = a[:, np.asarray(a.X.sum(0)).ravel() > 50].copy()
    normalize.normalize(a)
    cluster.cluster(a, umap=False)
    D = a.obsp["distances"]
    labels = a.obs["leiden"].to_numpy()

    def quality(U):
        near = NearestNeighbors(n_neighbors=15).fit(U).kneighbors(U, return_distance=False)
        kept = np.mean([len(set(D[i].indices) & set(near[i][1:])) / D[i].indices.size for i in range(len(U))])
        return kept, silhouette_score(U, labels)

    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        cluster.umap_layout(a, a.obs["leiden"], random_state=0, maxiter=200)
        one = a.obsm["X_umap"].copy()
        numba.set_num_threads(max(2, threads))
        cluster.umap_layout(a, a.obs["leiden"], random_state=0, maxiter=200)
        assert np.array_equal(a.obsm["X_umap"], one)
    finally:
        numba.set_num_threads(threads)
    ours, theirs = [], []
    for seed in range(3):
        cluster.umap_layout(a, a.obs["leiden"], random_state=seed, maxiter=200)
        ours.append(quality(a.obsm["X_umap"]))
        sc.tl.umap(a, random_state=seed, maxiter=200)
        theirs.append(quality(a.obsm["X_umap"]))
    ours, theirs = np.mean(ours, axis=0), np.mean(theirs, axis=0)
    assert ours[0] >= theirs[0] - 0.01 and ours[1] >= theirs[1] - 0.03, (ours, theirs)
