"""The classifier's and the zonation's fast paths give what the plain formulas give: compiled column
mapping = the 0/1 mapping product (duplicate symbols summed), chunks read straight from a backed
h5ad = the in-memory rows, the zonation's never-standardized algebra = the standardized matrix's
correlations."""

import anndata as ad
import numpy as np
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
    b.file.close()


def _rowwise_corr(A, B):
    """Pearson correlation of every row of A (cells x genes) with every column of B (genes x layers)."""
    Ac = A - A.mean(axis=1, keepdims=True)
    Bc = B - B.mean(axis=0, keepdims=True)
    num = Ac @ Bc
    den = np.sqrt((Ac * Ac).sum(1))[:, None] * np.sqrt((Bc * Bc).sum(0))[None, :]
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def test_zonation_algebra_equals_the_standardized_correlation():
    rng = np.random.default_rng(1)
    L = _counts(2000, 300, seed=2)
    L.data = np.log1p(L.data).astype(np.float32)
    L[:, 7] = 0  # a gene nobody expresses: left out
    L = sp.csr_matrix(L)
    B = rng.normal(size=(300, 9))
    dense = L.toarray().astype(np.float64)
    sd = dense.std(0)
    keep = sd > 0
    R = _rowwise_corr((dense[:, keep] - dense[:, keep].mean(0)) / sd[keep], B[keep])
    best = R.argmax(1)
    for given in (L, dense, RowBlocks(L.data, L.indices.astype(np.uint16), np.diff(L.indptr), 300)):
        res = score_hepatocytes(given, B, chunk_size=600)
        np.testing.assert_allclose(res["confidence"], np.clip(R.max(1), 0, 1), atol=1e-6)
        assert (res["layer"] == np.clip(np.rint(res["zonation"] * 8 + 1), 1, 9)).all()
        assert np.mean(np.abs(res["zonation"] * 8 - best) <= 0.5 + 1e-6) == 1.0
        assert res["n_genes_used"] == keep.sum()
        np.testing.assert_array_equal(res["n_genes"], (dense[:, keep] > 0).sum(1))
