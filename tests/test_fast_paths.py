"""The classifier's and the zonation's fast paths give what the plain formulas give: compiled column
mapping = the 0/1 mapping product (duplicate symbols summed), chunks read straight from a backed
h5ad = the in-memory rows, the zonation's never-standardized algebra = the standardized matrix's
correlations."""

import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

from liverannot import kernels
from liverannot.io import iter_row_chunks
from liverannot.simulate import log_cp10k
from liverannot.zones import RowBlocks, score_hepatocytes


def _counts(n=3000, g=800, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, g, density=0.08, format="csr", dtype=np.float32, random_state=seed)
    X.data = np.floor(X.data * 20)  # integer counts with explicit zeros
    X[rng.integers(0, n, 5), :] = 0  # empty cells
    return sp.csr_matrix(X)


def test_compiled_column_mapping_equals_the_mapping_product():
    X = _counts()
    colmap = np.full(X.shape[1], -1, np.int64)
    colmap[::2] = np.arange(X.shape[1] // 2)
    colmap[1], colmap[3] = 7, 7  # two query genes with the same symbol: summed
    q = np.flatnonzero(colmap >= 0)
    M = sp.csr_matrix((np.ones(len(q), np.float32), (q, colmap[q])), shape=(X.shape[1], X.shape[1] // 2))
    G = kernels.map_columns(X, colmap, M.shape[1])
    np.testing.assert_array_equal(G.toarray(), (X @ M).toarray())
    out = np.full((X.shape[0], M.shape[1] + 9), 5.0, np.float32)
    F, scale = log_cp10k(G, out=out[:, :M.shape[1]])
    ref, ref_scale = log_cp10k((X @ M).toarray())
    np.testing.assert_array_equal(out[:, :M.shape[1]], ref)
    assert (out[:, M.shape[1]:] == 5).all()  # the rest of the buffer untouched
    # the row sums taken on the way are the dense result's
    sums, ref_sums = {}, {}
    log_cp10k(G, out=out[:, :M.shape[1]], sums=sums)
    log_cp10k((X @ M).toarray(), sums=ref_sums)
    for got, want in zip(sums["log"], ref_sums["log"]):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    # one query gene per model gene (the threaded path): each row's dropped entries after its last
    # kept one must not reach the next row's slots
    one = np.full(X.shape[1], -1, np.int64)
    one[5::3] = np.arange(len(one[5::3]))
    q = np.flatnonzero(one >= 0)
    M1 = sp.csr_matrix((np.ones(len(q), np.float32), (q, one[q])), shape=(X.shape[1], len(q)))
    for block in (X, X[:1], X[1000:1001]):
        np.testing.assert_array_equal(kernels.map_columns(block, one, len(q)).toarray(), (block @ M1).toarray())
    # module sums (a gene in two modules): the sparse product's float32 sums
    modules = np.zeros((M.shape[1], 4), np.float32)
    modules[::3, 0] = modules[1::5, 1] = modules[::7, 2] = modules[1::5, 3] = 1
    np.testing.assert_array_equal(kernels.module_sums(G, modules), (G @ sp.csr_matrix(modules)).toarray())


def test_backed_chunks_equal_the_rows_in_memory(tmp_path):
    X = _counts()
    a = ad.AnnData(X)
    a.write_h5ad(tmp_path / "x.h5ad")
    b = ad.read_h5ad(tmp_path / "x.h5ad", backed="r")
    for src in (b.X, X):
        got = list(iter_row_chunks(src, 700))
        assert [(s, e) for s, e, _ in got] == [(s, min(s + 700, X.shape[0])) for s in range(0, X.shape[0], 700)]
        for s, e, block in got:
            assert (block != X[s:e]).nnz == 0
    # reused buffers: each block is right while it is the current one, and the memory is reused
    seen, owners = [], set()
    for s, e, block in iter_row_chunks(b.X, 700, reuse=True):
        assert (block != X[s:e]).nnz == 0
        seen.append((s, e))
        owners.add(block.data.base.ctypes.data if block.data.base is not None else block.data.ctypes.data)
    assert seen == [(s, min(s + 700, X.shape[0])) for s in range(0, X.shape[0], 700)]
    assert len(owners) <= 3  # two buffers taken in turn (one may grow once), not one per block
    b.file.close()


def test_column_mapping_into_reused_buffers():
    X = _counts()
    colmap = np.full(X.shape[1], -1, np.int64)
    colmap[::3] = np.arange(len(colmap[::3]))
    q = np.flatnonzero(colmap >= 0)
    M = sp.csr_matrix((np.ones(len(q), np.float32), (q, colmap[q])), shape=(X.shape[1], len(q)))
    buffers = []
    for start, size in ((0, 1000), (1000, 400), (1400, 1600)):  # the third outgrows the first buffers
        block = X[start:start + size]
        G = kernels.map_columns(block, colmap, M.shape[1], buffers)
        np.testing.assert_array_equal(G.toarray(), (block @ M).toarray())
        assert G.data.base is buffers[0] or G.data is buffers[0]


def _rowwise_corr(A, B):
    """Pearson correlation of every row of A (cells x genes) with every column of B (genes x layers)."""
    Ac = A - A.mean(axis=1, keepdims=True)
    Bc = B - B.mean(axis=0, keepdims=True)
    num = Ac @ Bc
    den = np.sqrt((Ac * Ac).sum(1))[:, None] * np.sqrt((Bc * Bc).sum(0))[None, :]
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _zonation_em_dense(X: np.ndarray, B: np.ndarray, iterations: int):
    """The zonation model fitted the plain way: the standardized matrix formed, every cell's offset
    and the posteriors over the positions kept whole (what zones.score_hepatocytes must equal)."""
    from scipy.stats import rankdata

    from liverannot.zones import GRID, MIN_CELLS_PER_GENE_FIT, MIN_NOISE, PRIOR_CELLS

    n = len(X)
    sd = X.std(0)
    keep = sd > 0
    Xs = (X[:, keep] - X[:, keep].mean(0)) / sd[keep]
    Zg = np.stack([np.interp(GRID, np.arange(1, 10), z) for z in B[keep]])
    sign = np.sign([np.corrcoef(z, np.arange(1, 10))[0, 1] for z in B[keep]])
    K = len(GRID)
    W = np.zeros((n, K))
    W[np.arange(n), np.clip(np.rint((K - 1) * (rankdata(Xs @ sign) - 0.5) / n), 0, K - 1).astype(int)] = 1
    o = np.zeros(n)
    for _ in range(iterations + 1):
        R = Xs - o[:, None]                                     # cells x genes, offset removed
        num = ((R.T @ W) * Zg).sum(1)
        den = (Zg * Zg) @ W.sum(0)
        raw = num / den
        r_raw = np.maximum(((R * R).sum(0) - 2 * raw * num + raw * raw * den) / n, MIN_NOISE)
        r = (n * r_raw + PRIOR_CELLS * r_raw.mean()) / (n + PRIOR_CELLS)
        var = r / den
        tau2 = max(raw.var() - var.mean(), 1e-6)
        shrink = var / (var + tau2)
        beta = np.maximum((1 - shrink) * raw + shrink * max(num.sum(), 0) / den.sum(), 0)
        if n < MIN_CELLS_PER_GENE_FIT:
            beta, r = np.full_like(beta, max(num.sum(), 0) / den.sum()), np.full_like(r, r_raw.mean())
        if _ == iterations:
            break
        w = 1 / r
        ll = np.zeros((n, K))
        for k in range(K):                                      # best offset at each position, then the residual
            res = Xs - beta * Zg[:, k]
            off = (res * w).sum(1) / w.sum()
            ll[:, k] = -0.5 * (((res - off[:, None]) ** 2) * w).sum(1)
        W = np.exp(ll - ll.max(1, keepdims=True))
        W /= W.sum(1, keepdims=True)
        o = ((Xs * w).sum(1) - W @ ((w * beta) @ Zg)) / w.sum()
    pos = W @ GRID
    return pos, W, keep


@pytest.mark.parametrize("n_cells", [2000, 30])
def test_zonation_algebra_equals_the_plain_model(n_cells):
    """The sparse never-standardized EM equals the model fitted on the standardized matrix, for a
    dense, sparse or gathered (RowBlocks) input whose parts do not align with the scoring's chunks;
    with many cells (every gene its own amplitude) and with few (one for all)."""
    from liverannot.zones import GRID, _zone_of

    rng = np.random.default_rng(1)
    L = _counts(2000, 300, seed=2)[:n_cells]
    L.data = np.log1p(L.data).astype(np.float32)
    L[:, 7] = 0  # a gene nobody expresses: left out
    L = sp.csr_matrix(L)
    B = rng.normal(size=(300, 9))
    dense = L.toarray().astype(np.float64)
    pos, W, keep = _zonation_em_dense(dense, B, iterations=3)
    zone = _zone_of(np.clip(np.rint(pos), 1, 9))
    conf = (W * (_zone_of(np.rint(GRID))[None, :] == zone[:, None])).sum(1)
    bounds = [0, 450, 450, 1300, 2000] if n_cells == 2000 else [0, 10, 10, 30]
    parts = [(L[a:b].data, L[a:b].indices.astype(np.uint16), np.diff(L[a:b].indptr)) for a, b in zip(bounds, bounds[1:])]
    for given in (L, dense, RowBlocks(L.data, L.indices.astype(np.uint16), np.diff(L.indptr), 300),
                  RowBlocks.from_parts(parts, 300)):
        if isinstance(given, RowBlocks):
            assert given.shape == L.shape
            for a, b in ((0, n_cells), (4, 12), (n_cells // 2, n_cells // 2), (n_cells - 1, n_cells)):
                assert (given[a:b] != L[a:b]).nnz == 0 and given[a:b].shape == (b - a, 300)
        res = score_hepatocytes(given, B, chunk_size=600 if n_cells == 2000 else 7, iterations=3)
        np.testing.assert_allclose(res["zonation"], (pos - 1) / 8, atol=1e-5)
        np.testing.assert_allclose(res["confidence"], conf, atol=1e-5)
        assert (res["layer"] == np.clip(np.rint(res["zonation"] * 8 + 1), 1, 9)).all()
        assert res["n_genes_used"] == keep.sum()
        np.testing.assert_array_equal(res["n_genes"], (dense[:, keep] > 0).sum(1))


def _normalized_sample(n_cells=3000, seed=21):
    from liverannot.demo import simulate_sample
    from liverannot.normalize import normalize

    a = simulate_sample("human", n_cells=n_cells, seed=seed)
    a = a[:, np.asarray(a.X.sum(0)).ravel() > 20].copy()
    normalize(a)
    return a


def test_chunked_scaled_pca_equals_scanpy_scale_then_pca():
    """cluster.scaled_pca (row chunks, no scaled matrix) gives scanpy's scale(max_value=10) + PCA: the
    same variances and, up to each component's sign, the same components and coordinates, from
    sparse and from dense X, with chunk boundaries inside the matrix."""
    import scanpy as sc

    from liverannot.cluster import highly_variable_genes, scaled_pca

    a = _normalized_sample()
    highly_variable_genes(a, 1000)
    mask = a.var["highly_variable"].to_numpy()
    ref = a[:, mask].copy()
    sc.pp.scale(ref, max_value=10)
    scaled = ref.X.copy()
    unclipped = a[:, mask].copy()
    sc.pp.scale(unclipped)
    assert (np.abs(unclipped.X) > 10).sum() > 100  # the clip at 10 changes values here
    sc.tl.pca(ref, n_comps=20, svd_solver="arpack", random_state=0)
    for X in (a.X, a.X.toarray()):
        b = ad.AnnData(X, var=a.var[["highly_variable"]].copy())
        scaled_pca(b, mask, 20, max_value=10, chunk_size=700)
        np.testing.assert_allclose(b.uns["pca"]["variance"], ref.uns["pca"]["variance"], rtol=1e-4)
        np.testing.assert_allclose(b.uns["pca"]["variance_ratio"], ref.uns["pca"]["variance_ratio"], rtol=1e-4)
        sign = np.sign((b.obsm["X_pca"] * ref.obsm["X_pca"]).sum(0))
        assert (sign != 0).all()
        scale = np.abs(ref.obsm["X_pca"]).max()
        np.testing.assert_allclose(b.obsm["X_pca"] * sign, ref.obsm["X_pca"], atol=2e-4 * scale)
        PCs = b.varm["PCs"]
        assert (PCs[~mask] == 0).all()
        np.testing.assert_allclose(PCs[mask] * sign, ref.varm["PCs"], atol=2e-4)
        # the coordinates are the clipped scaled values projected on the components
        proj = (np.asarray(scaled, np.float64) - scaled.mean(0)) @ PCs[mask]
        np.testing.assert_allclose(b.obsm["X_pca"], proj, atol=2e-4 * scale)


def test_compiled_scaling_equals_the_dense_path_bit_for_bit():
    """scaled_pca's compiled pass over the stored values (kernels.scaled_rows, canonical CSR) gives
    the dense path's float32 scaled values exactly, clipped on both sides (a rare gene above +10, an
    ever-present gene's zeros below -10), so the PCA of a canonical matrix equals, bit for bit, that of
    the same matrix taking the dense path (non-canonical, e.g. unsorted indices)."""
    from liverannot.cluster import highly_variable_genes, scaled_pca

    a = _normalized_sample()
    X = a.X.tocsr().copy()
    X = X[:, :400].tocsr()
    X.data[X.indices == 4] = 0.0
    X.eliminate_zeros()
    X = sp.lil_matrix(X)
    X[0, 4] = 9.0  # one cell holds gene 4: its z-score > 10
    X[:, 6] = 1.0  # gene 6 in every cell...
    X[:3, 6] = 0.0  # ...but three: their z-scores < -10
    X = sp.csr_matrix(X, dtype=np.float32)
    X.eliminate_zeros()
    X.sort_indices()
    assert X.has_canonical_format
    cols = np.arange(0, 400, 2)
    mu, sd = np.asarray(X[:, cols].mean(0)).ravel(), np.asarray(X[:, cols].toarray().std(0, ddof=1)).ravel()
    colmap = np.full(400, -1, np.int64)
    colmap[cols] = np.arange(cols.size)
    out = np.empty((X.shape[0], cols.size), np.float32)
    kernels.scaled_rows(X, colmap, mu, sd, 10.0, out)
    dense = X[:, cols].toarray().astype(np.float64)
    dense -= mu
    dense /= sd
    np.clip(dense, -10, 10, out=dense)
    assert np.array_equal(out, dense.astype(np.float32))
    assert (out == 10).sum() >= 1 and (out == -10).sum() >= 3
    # the whole PCA: canonical (compiled pass) against unsorted indices (dense path)
    highly_variable_genes(a, 1000)
    mask = a.var["highly_variable"].to_numpy()
    b = ad.AnnData(a.X.copy(), var=a.var[["highly_variable"]].copy())
    shuffled = a.X.copy()
    for r in range(shuffled.shape[0]):  # each row's entries reversed: the same matrix, not canonical
        lo, hi = shuffled.indptr[r], shuffled.indptr[r + 1]
        shuffled.indices[lo:hi] = shuffled.indices[lo:hi][::-1]
        shuffled.data[lo:hi] = shuffled.data[lo:hi][::-1]
    shuffled.has_sorted_indices = False
    c = ad.AnnData(shuffled, var=a.var[["highly_variable"]].copy())
    assert not c.X.has_canonical_format
    scaled_pca(b, mask, 20, chunk_size=700)
    scaled_pca(c, mask, 20, chunk_size=700)
    assert np.array_equal(b.obsm["X_pca"], c.obsm["X_pca"]) and np.array_equal(b.varm["PCs"], c.varm["PCs"])


def test_compiled_qc_sums_equal_scipys():
    """QC's compiled passes (kernels.qc_sums, kernels.positive_per_column) give exactly what scipy's
    CSR products with the mito and ribo 0/1 vectors (float32 accumulation in stored order) and
    np.bincount give, on counts with non-integer values, explicit zeros and empty rows."""
    X = _counts(2499, 900)  # explicit zeros, cells of zeros
    X = sp.vstack([X, sp.csr_matrix((1, 900), dtype=np.float32)], format="csr")  # and one storing nothing
    X.data *= np.random.default_rng(4).uniform(0.5, 1.5, X.nnz).astype(np.float32)  # not integers
    assert X.getnnz(axis=1)[-1] == 0 and (X.data == 0).any()
    rng = np.random.default_rng(5)
    mt, ribo = rng.random(900) < 0.02, rng.random(900) < 0.05
    mt_sum, ribo_sum, n_cells = kernels.qc_sums(X, mt, ribo)
    assert np.array_equal(mt_sum, np.asarray(X @ mt.astype(np.float32)).ravel())
    assert np.array_equal(ribo_sum, np.asarray(X @ ribo.astype(np.float32)).ravel())
    assert np.array_equal(n_cells, np.bincount(X.indices, minlength=900))
    rows = rng.random(2500) < 0.7
    pos = X.data > 0
    pos &= np.repeat(rows, np.diff(X.indptr))
    assert np.array_equal(kernels.positive_per_column(X, rows), np.bincount(X.indices[pos], minlength=900))


def test_log_values_share_the_counts_structure_only_when_safe():
    """normalize keeps raw counts in a layer; their log values share the counts' index arrays when the
    counts are canonical and store no zero, and then no in-place scipy operation on X can alter the
    counts. Counts with stored zeros or unsorted indices get log values of their own."""
    import scipy.sparse as sp

    from liverannot.demo import simulate_sample
    from liverannot.normalize import log_normalize, normalize

    a = simulate_sample("human", n_cells=600, seed=3)
    counts = a.X.copy()
    normalize(a)
    X, layer = a.X, a.layers["counts"]
    assert np.shares_memory(X.indices, layer.indices) and np.shares_memory(X.indptr, layer.indptr)
    assert not np.shares_memory(X.data, layer.data)
    np.testing.assert_array_equal(X.toarray(), log_normalize(counts).toarray())
    X.sort_indices()
    X.sum_duplicates()
    X.eliminate_zeros()
    assert (layer != counts).nnz == 0 and layer.nnz == counts.nnz

    with_zeros = counts.copy()
    with_zeros.data[::7] = 0  # stored zeros: X.eliminate_zeros() would compact shared indices
    p = counts.indptr
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(p))
    rev = p[rows] + p[rows + 1] - 1 - np.arange(counts.nnz)  # every row's entries in reverse order
    unsorted = sp.csr_matrix((counts.data[rev], counts.indices[rev], p.copy()), shape=counts.shape)
    assert not unsorted.has_sorted_indices and (unsorted != counts).nnz == 0
    for given in (with_zeros, unsorted):
        b = ad.AnnData(given.copy())
        normalize(b)
        assert not np.shares_memory(b.X.indices, b.layers["counts"].indices)
        np.testing.assert_allclose(b.X.toarray(), log_normalize(given).toarray(), rtol=1e-6)
        b.X.eliminate_zeros()
        b.X.sort_indices()
        assert (b.layers["counts"] != given).nnz == 0


def test_exact_neighbors_equal_brute_force_at_any_block_and_thread_count():
    """cluster.exact_neighbors (blocks of nearby cells, float32 tiles, running lists, float64 re-rank)
    finds scikit-learn's exact brute-force neighbours in the same order, on the PCs of a real-sized
    simulated sample, with several block sizes and 1 or 2 threads, and the same arrays as its full
    search without skipping blocks; the cell itself comes first even where another cell is its
    exact duplicate; and the scanpy graph built from it has the UMAP connectivities of exact
    distances (the nearest other cell at membership 1)."""
    import scanpy as sc
    from sklearn.neighbors import NearestNeighbors

    from liverannot.cluster import ExactNeighbors, exact_neighbors, highly_variable_genes, scaled_pca

    a = _normalized_sample()
    highly_variable_genes(a, 1000)
    scaled_pca(a, a.var["highly_variable"].to_numpy(), 20)
    X = a.obsm["X_pca"]
    X[7] = X[3]  # an exact duplicate
    ref_d, ref_i = NearestNeighbors(n_neighbors=16, algorithm="brute").fit(X.astype(np.float64)).kneighbors()
    # more cells at one point than candidates kept: each still comes first in its own list
    same, _ = exact_neighbors(np.zeros((60, 5), np.float32), 16)
    assert (same[:, 0] == np.arange(60)).all() and (same[:, 1:] < 16).all()
    full = exact_neighbors(X, 16, prune=False)
    for block, threads in ((1024, 2), (97, 1), (300, 2)):
        idx, dist = exact_neighbors(X, 16, block=block, n_threads=threads)
        # skipping the blocks the triangle inequality rules out changes nothing
        assert np.array_equal(idx, full[0]) and np.array_equal(dist, full[1])
        assert (idx[:, 0] == np.arange(len(X))).all() and (dist[:, 0] == 0).all()
        assert idx[3, 1] == 7 and idx[7, 1] == 3 and dist[3, 1] == 0
        # sklearn's kneighbors() without X leaves the cell itself out
        assert (idx[:, 1:] == ref_i[:, :15]).mean() > 0.999
        assert all(set(i) == set(r) for i, r in zip(idx[:, 1:], ref_i[:, :15]))
        np.testing.assert_allclose(dist[:, 1:], ref_d[:, :15], rtol=1e-5, atol=1e-5)
    from sklearn.neighbors import KNeighborsTransformer

    ref = KNeighborsTransformer(n_neighbors=15, mode="distance").fit_transform(X)
    sc.pp.neighbors(a, n_neighbors=15, transformer=ExactNeighbors(15))
    D = a.obsp["distances"]
    assert (D.indptr == ref.indptr).all() and (D.indices == ref.indices).mean() > 0.999
    np.testing.assert_allclose(D.data, ref.data, atol=1e-5)
    # self at exactly 0 (scikit-learn's is ~1e-7 off): UMAP's local distance is the nearest other cell's
    C = a.obsp["connectivities"]
    assert np.allclose(C.max(axis=1).toarray(), 1.0)


def test_graph_leiden_and_umap_without_scanpy_equal_scanpys():
    """cluster.neighbors, cluster.leiden and cluster.umap_layout write what scanpy's neighbors (with the
    exact transformer), leiden (igraph flavour) and umap write for the same PCs and seeds: the same
    distances and connectivities (bit for bit), clusters, coordinates and uns entries; two seeds and
    resolutions. And clustering a sample of more cells than its 2,000 highly variable genes (fewer take
    scanpy's scale and PCA) does not import scanpy (1-1.5 s of every process)."""
    import subprocess
    import sys

    import scanpy as sc
    import umap.umap_ as umap_module

    from liverannot import cluster

    a = _normalized_sample(2500, seed=5)
    cluster.highly_variable_genes(a, 1000)
    cluster.scaled_pca(a, a.var["highly_variable"].to_numpy(), 20)
    for seed, resolution in ((0, 1.0), (3, 0.5)):
        ours, ref = a.copy(), a.copy()
        cluster.neighbors(ours, 15, 20, random_state=seed)
        cluster.leiden(ours, resolution=resolution, random_state=seed)
        cluster.umap_layout(ours, ours.obs["leiden"], random_state=seed, maxiter=30)
        sc.pp.neighbors(ref, n_neighbors=15, n_pcs=20, random_state=seed, transformer=cluster.ExactNeighbors(15))
        sc.tl.leiden(ref, resolution=resolution, random_state=seed, flavor="igraph", n_iterations=2, directed=False)
        # scanpy's umap with the same threaded layout, so that only the rest of the path is compared
        original = umap_module.optimize_layout_euclidean
        codes = ref.obs["leiden"].cat.codes.to_numpy().astype(np.int64)

        def threaded(e, _t, head, tail, n_epochs, _n, eps, a_, b_, rng, gamma, alpha, neg, *args, **kwargs):
            kernels.layout_epochs(e, codes, head, tail, n_epochs, eps, a_, b_, rng, gamma, alpha, neg)
            return e

        umap_module.optimize_layout_euclidean = threaded
        try:
            sc.tl.umap(ref, random_state=seed, maxiter=30)
        finally:
            umap_module.optimize_layout_euclidean = original
        for key in ("distances", "connectivities"):
            A, B = ours.obsp[key], ref.obsp[key]
            assert A.dtype == B.dtype and np.array_equal(A.indptr, B.indptr)
            assert np.array_equal(A.indices, B.indices) and np.array_equal(A.data, B.data)
        assert ours.obs["leiden"].nunique() > 5
        assert list(ours.obs["leiden"].cat.categories) == list(ref.obs["leiden"].cat.categories)
        assert (ours.obs["leiden"].astype(str) == ref.obs["leiden"].astype(str)).all()
        assert np.array_equal(ours.obsm["X_umap"], ref.obsm["X_umap"])
        for key in ("neighbors", "leiden", "umap"):
            assert ours.uns[key] == ref.uns[key], key
    code = ("import sys; from liverannot.demo import simulate_sample; from liverannot.normalize import normalize; "
            "from liverannot.cluster import cluster; a = simulate_sample('human', n_cells=2500, seed=1); "
            "normalize(a); cluster(a); assert a.obs['leiden'].nunique() > 1; print('scanpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"


def test_compiled_gene_moments_equal_the_bincount_sums():
    """cluster._mean_var's compiled pass (kernels.column_moments) gives bit for bit the per-gene sums
    np.bincount gave over the same stored values (so highly variable genes and the PCA's scaling are
    unchanged): all genes and a subset, with and without expm1, chunk edges inside the matrix; a dense
    matrix gives the same to rounding."""
    from liverannot.cluster import _mean_var

    X = _counts(3000, 800)
    X.data = np.log1p(X.data).astype(np.float32)
    cols = np.flatnonzero(np.random.default_rng(3).random(800) < 0.3)
    for sub in (None, cols):
        for expm1 in (False, True):
            g = 800 if sub is None else sub.size
            s1, s2 = np.zeros(g), np.zeros(g)
            for start in range(0, 3000, 700):
                block = X[start:start + 700]
                if sub is not None:
                    block = block[:, sub]
                v = block.data.astype(np.float64)
                if expm1:
                    v = np.expm1(v)
                s1 += np.bincount(block.indices, weights=v, minlength=g)
                s2 += np.bincount(block.indices, weights=v * v, minlength=g)
            mean = s1 / 3000
            var = np.maximum(s2 - 3000 * mean * mean, 0.0) / 2999
            m, va = _mean_var(X, sub, expm1=expm1, chunk_size=700)
            assert np.array_equal(m, mean) and np.array_equal(va, var)
            md, vd = _mean_var(X.toarray(), sub, expm1=expm1, chunk_size=700)
            np.testing.assert_allclose(md, mean, rtol=1e-10)
            np.testing.assert_allclose(vd, var, rtol=1e-9, atol=1e-12)


def test_compiled_forest_equals_scikit_learns_forest():
    """The rf backend's compiled walk gives scikit-learn's probabilities bit for bit (trees summed in
    order, as with n_jobs=1), also for values right at and next to every threshold: the float32
    thresholds decide exactly as the float64 ones."""
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X = (rng.poisson(1.0, (600, 40)) * rng.random((600, 40))).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > X[:, 2] + 1).astype(int) + 2 * (X[:, 3] > 0.5)
    forest = RandomForestClassifier(n_estimators=13, min_samples_leaf=2, random_state=0, n_jobs=1).fit(X, y)
    compiled = kernels.CompiledForest(forest)
    tests = [X, rng.permutation(X)[:50] * 1.5]
    # rows that reach a split with the split's value on the float32 grid right at and above its threshold
    for est in forest.estimators_[:4]:
        t = est.tree_
        inner = np.flatnonzero(t.children_left >= 0)
        reaches = est.decision_path(X).tocsc()
        rows = X[[reaches.indices[reaches.indptr[k]] for k in inner]]  # a training row through each split
        below = t.threshold[inner].astype(np.float32)
        below = np.where(below.astype(np.float64) > t.threshold[inner], np.nextafter(below, np.float32(-np.inf)), below)
        at, over = rows.copy(), rows.copy()
        at[np.arange(len(inner)), t.feature[inner]] = below
        over[np.arange(len(inner)), t.feature[inner]] = np.nextafter(below, np.float32(np.inf))
        tests += [at, over]
    for F in tests:
        np.testing.assert_array_equal(compiled.predict_proba(F), forest.predict_proba(F))
