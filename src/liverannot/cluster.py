"""Highly variable genes, PCA, neighbours, Leiden clustering and UMAP."""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

#: fewer cells than this cannot be clustered meaningfully (and below 4, UMAP's layout fails)
MIN_CELLS = 10


def umap_epochs(n_cells: int) -> int:
    """Epochs of UMAP's layout: 200 (UMAP's own choice above 10,000 cells; below, it takes 500, 2.5
    times the time for a layout that is only drawn) up to 50,000 cells, then fewer, down to 100 at
    100,000 cells and beyond (~0.15 s per epoch per 100,000 cells on 2 cores; 50 epochs at 100,000
    cells separate the clusters visibly less: silhouette 0.43 against 0.60 at 100 and 0.66 at 200).
    The clusters and calls do not depend on it."""
    return int(max(100, min(200, round(200 * 50_000 / max(n_cells, 1)))))


def _cache_umap_compilation() -> None:
    """Let numba keep UMAP's compiled functions on disk: umap-learn compiles its graph and layout
    functions afresh in every process (about 5 s, paid by every sample of a cohort, every Nextflow
    task). Where no cache folder is writable, numba compiles as before."""
    import umap.layouts
    import umap.umap_

    for mod in (umap.umap_, umap.layouts):
        for name in dir(mod):
            f = getattr(mod, name)
            if hasattr(f, "enable_caching") and type(getattr(f, "_cache", None)).__name__ == "NullCache":
                try:
                    f.enable_caching()
                except Exception as exc:  # e.g. no writable cache location
                    log.debug("numba cache for umap.%s: %s", name, exc)


#: extra candidates kept per cell by the float32 pass of exact_neighbors, re-ranked in float64
NEIGHBOR_MARGIN = 8


def _nearest_centroid(X: np.ndarray, C: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Index of the nearest row of ``C`` for every row of ``X`` (float64, in row chunks)."""
    out = np.empty(X.shape[0], np.int64)
    csq = np.einsum("ij,ij->i", C, C)
    for s in range(0, X.shape[0], chunk):
        out[s:s + chunk] = (csq[None, :] - 2.0 * (X[s:s + chunk] @ C.T)).argmin(axis=1)
    return out


def spatial_blocks(X: np.ndarray, size: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``X`` (float64) grouped into blocks of at most ``size`` rows that lie close together:
    k-means (5 rounds on up to 20,000 rows, seeded) with about two centroids per ``size`` rows, each
    centroid's rows ordered along their widest coordinate and cut into runs. Returns the order (a
    permutation of the rows) and the blocks' starts in it (``len(blocks) + 1`` entries). Only the
    speed of exact_neighbors depends on this grouping, not its result."""
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    sample = X if n <= 20000 else X[np.sort(rng.choice(n, 20000, replace=False))]
    n_centroids = int(min(len(sample), max(1, np.ceil(2 * n / size))))
    C = sample[np.sort(rng.choice(len(sample), n_centroids, replace=False))].copy()
    for _ in range(5):
        lab = _nearest_centroid(sample, C)
        counts = np.bincount(lab, minlength=n_centroids)
        sums = np.stack([np.bincount(lab, weights=sample[:, j], minlength=n_centroids) for j in range(X.shape[1])], 1)
        filled = counts > 0
        C[filled] = sums[filled] / counts[filled, None]
    lab = _nearest_centroid(X, C)
    by_label = np.argsort(lab, kind="stable")
    bounds = np.searchsorted(lab[by_label], np.arange(n_centroids + 1))
    order, starts = [], [0]
    for c in range(n_centroids):
        rows = by_label[bounds[c]:bounds[c + 1]]
        if rows.size == 0:
            continue
        pts = X[rows]
        rows = rows[np.argsort(pts[:, int(pts.var(axis=0).argmax())], kind="stable")]
        n_runs = -(-rows.size // size)
        for run in np.array_split(rows, n_runs):
            order.append(run)
            starts.append(starts[-1] + run.size)
    return np.concatenate(order), np.asarray(starts, np.int64)


def exact_neighbors(X: np.ndarray, k: int, *, block: int = 1024, n_threads: int | None = None,
                    prune: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest points of every row of ``X`` (cells x PCs), the row itself first, by exact
    Euclidean distance: indices (int64) and distances (float32), each row sorted by distance (ties
    by index). Brute force like scikit-learn's, but blockwise: the cells are grouped into blocks of
    nearby cells (spatial_blocks); for each block of queries the point blocks come nearest first, each
    skipped when the triangle inequality (distance to its centre less its radius, less a margin for
    single-precision rounding) puts all its cells beyond every query's current worst candidate, and
    the others merged (single-precision products -2 x.y by BLAS, one compiled pass) into each
    query's running list of the ``k + NEIGHBOR_MARGIN`` best, ties by index, so the lists do not
    depend on the order of the blocks; the candidates are then re-ranked in double precision. The
    result is that of the full search (``prune=False``); only its time changes (on clustered cells
    most blocks are skipped). Query blocks run in threads, one BLAS thread each."""
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    from . import kernels

    X = np.ascontiguousarray(X, dtype=np.float32)
    n = X.shape[0]
    k = min(k, n)
    m = min(k + NEIGHBOR_MARGIN, n)
    X64 = X.astype(np.float64)
    order, starts = spatial_blocks(X64, max(block, m))
    Xo = np.ascontiguousarray(X[order])
    sq = np.einsum("ij,ij->i", Xo, Xo)
    minus2 = Xo * np.float32(-2.0)  # exact (a power of two): the products come out as -2 x.y
    Xo64 = X64[order]
    sq64 = np.einsum("ij,ij->i", Xo64, Xo64)
    n_blocks = starts.size - 1
    centres = np.stack([Xo64[starts[b]:starts[b + 1]].mean(axis=0) for b in range(n_blocks)])
    radius = np.array([np.sqrt(((Xo64[starts[b]:starts[b + 1]] - centres[b]) ** 2).sum(axis=1).max())
                       for b in range(n_blocks)])
    largest_norm = np.array([np.sqrt(sq64[starts[b]:starts[b + 1]].max()) for b in range(n_blocks)])
    csq = np.einsum("ij,ij->i", centres, centres)
    indices = np.empty((n, k), np.int64)
    distances = np.empty((n, k), np.float32)

    def rows(b):
        r0, r1 = starts[b], starts[b + 1]
        q, qsq = Xo[r0:r1], sq64[r0:r1]
        best_d = np.full((r1 - r0, m), np.inf, np.float32)
        best_i = np.zeros((r1 - r0, m), np.int64)
        d_centre = np.sqrt(np.maximum(qsq[:, None] - 2.0 * (Xo64[r0:r1] @ centres.T) + csq[None, :], 0.0))
        # a lower bound of each block's single-precision values |p|^2 - 2 q.p for each query
        margin = 3e-5 * (np.sqrt(qsq)[:, None] + largest_norm[None, :]) ** 2
        bound = np.maximum(d_centre - radius[None, :], 0.0) ** 2 - qsq[:, None] - margin
        for p in np.argsort(d_centre.min(axis=0), kind="stable"):
            if prune and (bound[:, p] > best_d[:, m - 1]).all():
                continue
            c0, c1 = starts[p], starts[p + 1]
            kernels.nearest_update_cols(q @ minus2[c0:c1].T, sq[c0:c1], order[c0:c1], best_d, best_i)
        # re-rank in double precision; the row itself first, then by distance, then by index
        own = order[r0:r1]
        # more than m cells at one point (e.g. cells without counts in the genes of the PCA): the ties
        # keep the lowest indices, so a cell may be missing from its own list; it takes the last place
        lost = ~(best_i == own[:, None]).any(axis=1)
        best_i[lost, m - 1] = own[lost]
        d2 = ((X64[best_i] - X64[own][:, None, :]) ** 2).sum(axis=2)
        d2[best_i == own[:, None]] = -1.0
        ranked = np.lexsort((best_i, d2), axis=1)[:, :k]
        indices[own] = np.take_along_axis(best_i, ranked, axis=1)
        distances[own] = np.sqrt(np.maximum(np.take_along_axis(d2, ranked, axis=1), 0.0))

    if n_threads is None:
        import os

        n_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(max(1, n_threads)) as pool:
        list(pool.map(rows, range(n_blocks)))
    return indices, distances


class ExactNeighbors:
    """An exact k-nearest-neighbour transformer for ``sc.pp.neighbors(transformer=...)``, in the form of
    scikit-learn's KNeighborsTransformer(n_neighbors, mode="distance"): each row holds the cell itself
    (an explicit 0, first) and its ``n_neighbors`` nearest others in order of distance."""

    def __init__(self, n_neighbors: int):
        self.n_neighbors = n_neighbors

    def get_params(self, deep: bool = True) -> dict:
        return {"n_neighbors": self.n_neighbors}

    def fit_transform(self, X):
        return _knn_matrix(*exact_neighbors(np.asarray(X), self.n_neighbors + 1))


def _knn_matrix(idx: np.ndarray, dist: np.ndarray):
    """The cells x cells CSR matrix of each row's neighbours ``idx`` at distances ``dist``."""
    import scipy.sparse as sp

    n, k = idx.shape
    return sp.csr_matrix((dist.ravel(), idx.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))


def neighbors(adata, n_neighbors: int, n_pcs: int, *, random_state: int = 0) -> None:
    """What ``sc.pp.neighbors(adata, n_neighbors, n_pcs=n_pcs, transformer=ExactNeighbors(n_neighbors))``
    writes, without importing scanpy (1-1.5 s of every process): obsp ``distances`` (each cell itself,
    an explicit 0, then its ``n_neighbors`` nearest others), obsp ``connectivities`` (umap-learn's fuzzy
    simplicial set of the ``n_neighbors`` nearest, the cell itself counted, as scanpy takes them) and uns
    ``neighbors``. The same arrays as scanpy's, bit for bit (tests/test_fast_paths.py)."""
    import scipy.sparse as sp
    import umap.umap_ as umap_module

    X = np.asarray(adata.obsm["X_pca"][:, :n_pcs])
    idx, dist = exact_neighbors(X, n_neighbors + 1)
    adata.obsp["distances"] = _knn_matrix(idx, dist)
    conn, _, _ = umap_module.fuzzy_simplicial_set(
        sp.coo_matrix((idx.shape[0], 1)), n_neighbors, None, None, knn_indices=idx[:, :n_neighbors],
        knn_dists=dist[:, :n_neighbors], set_op_mix_ratio=1.0, local_connectivity=1.0)
    adata.obsp["connectivities"] = conn.tocsr()
    adata.uns["neighbors"] = {"connectivities_key": "connectivities", "distances_key": "distances",
                              "params": {"n_neighbors": n_neighbors, "method": "umap", "random_state": random_state,
                                         "metric": "euclidean", "n_pcs": n_pcs}}


class _IgraphRandom:
    """igraph's random number source drawn from ``np.random.RandomState(seed)``, as scanpy seeds
    igraph's Leiden (so the clusters are scanpy's for the same seed)."""

    def __init__(self, seed: int):
        self._rng = np.random.RandomState(seed)

    def getrandbits(self, k: int) -> int:
        return self._rng.tomaxint() & ((1 << k) - 1)

    def randint(self, a: int, b: int) -> int:
        return self._rng.randint(a, b + 1)

    def random(self) -> float:
        return self._rng.random()

    def gauss(self, mu: float, sigma: float) -> float:
        return self._rng.normal(mu, sigma)


def leiden(adata, *, resolution: float = 1.0, random_state: int = 0, key_added: str = "leiden",
           n_iterations: int = 2) -> None:
    """What ``sc.tl.leiden(adata, resolution, random_state=..., flavor="igraph", n_iterations=2,
    directed=False)`` writes (obs ``key_added``, categories in numeric order; uns ``key_added``), on
    obsp ``connectivities``, without importing scanpy: igraph's Leiden (modularity, edge weights) on the
    graph scanpy builds (every stored nonzero an edge, in the matrix's order), seeded the same way.
    The same clusters as scanpy's (tests/test_fast_paths.py)."""
    import random

    import igraph as ig
    import pandas as pd

    A = adata.obsp["connectivities"].tocoo()
    A.sum_duplicates()  # one value per (row, column), as scanpy's indexing reads them
    keep = A.data != 0
    # a list of pairs of Python ints: igraph reads it faster than an array (its buffer path takes
    # ~2x as long at 100,000 cells)
    g = ig.Graph(n=A.shape[0], edges=list(zip(A.row[keep].tolist(), A.col[keep].tolist())), directed=False)
    g.es["weight"] = A.data[keep].astype(np.float64)
    try:
        ig.set_random_number_generator(_IgraphRandom(random_state))
        part = g.community_leiden(objective_function="modularity", weights="weight", resolution=resolution,
                                  n_iterations=n_iterations)
    finally:
        ig.set_random_number_generator(random)
    groups = np.asarray(part.membership)
    codes = np.unique(groups)
    adata.obs[key_added] = pd.Categorical(groups.astype("U"), categories=[str(c) for c in codes])
    adata.uns[key_added] = {"params": {"resolution": resolution, "random_state": random_state,
                                       "n_iterations": n_iterations}}


def umap_layout(adata, groups, *, random_state: int = 0, maxiter: int | None = None) -> None:
    """``sc.tl.umap`` (its spectral start, curve, edge sampling and learning-rate schedule; obsm
    ``X_umap``, uns ``umap``) from obsp ``connectivities``, through umap-learn's own functions without
    importing scanpy, with the layout's epochs in threads (kernels.layout_epochs): the edges inside
    each group of ``groups`` (the clusters) run in parallel, the few between groups after them in one
    thread, negative samples read the epoch's starting positions. umap-learn runs the layout in one
    thread whenever it must be reproducible; this one gives the same layout at any thread count, in
    ~0.6x the time on 2 cores, with umap-learn's neighbourhood preservation and cluster separation
    (tests/test_steps.py)."""
    import pandas as pd
    import umap.umap_ as umap_module

    from . import kernels

    codes = pd.Categorical(groups).codes.astype(np.int64)
    original = umap_module.optimize_layout_euclidean

    def threaded(head_embedding, tail_embedding, head, tail, n_epochs, n_vertices, epochs_per_sample, a, b,
                 rng_state, gamma=1.0, initial_alpha=1.0, negative_sample_rate=5.0, *args, **kwargs):
        if tail_embedding is not head_embedding or n_vertices != codes.size or not isinstance(n_epochs, int) \
                or kwargs.get("densmap"):
            return original(head_embedding, tail_embedding, head, tail, n_epochs, n_vertices, epochs_per_sample, a,
                            b, rng_state, gamma, initial_alpha, negative_sample_rate, *args, **kwargs)
        kernels.layout_epochs(head_embedding, codes, head, tail, n_epochs, epochs_per_sample, a, b, rng_state,
                              gamma, initial_alpha, negative_sample_rate)
        return head_embedding

    graph = adata.obsp["connectivities"]
    params = adata.uns.get("neighbors", {}).get("params", {})
    X = adata.obsm["X_pca"][:, :params["n_pcs"]] if "n_pcs" in params else adata.obsm["X_pca"]
    a, b = umap_module.find_ab_params(1.0, 0.5)  # scanpy's spread and min_dist
    adata.uns["umap"] = {"params": {"a": a, "b": b}}
    if random_state != 0:
        adata.uns["umap"]["params"]["random_state"] = random_state
    n_epochs = maxiter if maxiter is not None else (500 if graph.shape[0] <= 10000 else 200)
    umap_module.optimize_layout_euclidean = threaded
    try:
        coords, _ = umap_module.simplicial_set_embedding(
            data=X, graph=graph.tocoo(), n_components=2, initial_alpha=1.0, a=a, b=b, gamma=1.0,
            negative_sample_rate=5, n_epochs=n_epochs, init="spectral", random_state=np.random.RandomState(random_state),
            metric="euclidean", metric_kwds={}, densmap=False, densmap_kwds={}, output_dens=False, verbose=False)
    finally:
        umap_module.optimize_layout_euclidean = original
    adata.obsm["X_umap"] = coords


def _column_map(n_columns: int, cols: np.ndarray) -> np.ndarray:
    """For the compiled passes over a matrix's stored values: column ``cols[i]`` -> i, every other
    column -> -1 (left out)."""
    colmap = np.full(n_columns, -1, np.int64)
    colmap[cols] = np.arange(len(cols))
    return colmap


def _mean_var(X, cols: np.ndarray | None = None, *, expm1: bool = False,
              chunk_size: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean and variance (ddof 1) of ``X[:, cols]`` (every gene if ``cols`` is None), or of
    its expm1 with ``expm1``, in row chunks from the stored values, without a copy of X."""
    import scipy.sparse as sp

    from . import kernels
    from .io import iter_row_chunks

    g = X.shape[1] if cols is None else cols.size
    colmap = np.arange(g, dtype=np.int64) if cols is None else _column_map(X.shape[1], cols)
    s1, s2 = np.zeros(g), np.zeros(g)
    for _, _, block in iter_row_chunks(X, chunk_size):
        if sp.issparse(block):
            block = block if block.format == "csr" else sp.csr_matrix(block)
            # one compiled pass over the stored values (per chunk, as np.bincount summed them before)
            b1, b2 = kernels.column_moments(block, colmap, g, expm1)
            s1 += b1
            s2 += b2
        else:
            if cols is not None:
                block = np.asarray(block)[:, cols]
            v = np.asarray(block, np.float64)
            if expm1:
                v = np.expm1(v)
            s1 += v.sum(0)
            s2 += (v * v).sum(0)
    n = X.shape[0]
    mean = s1 / n
    return mean, np.maximum(s2 - n * mean * mean, 0.0) / max(n - 1, 1)


def highly_variable_genes(adata, n_top_genes: int, n_bins: int = 20) -> None:
    """Seurat's highly variable genes on log1p-normalized X, as scanpy's ``flavor="seurat"`` selects
    them (dispersion of expm1(X), normalized within 20 bins of mean expression; the ``n_top_genes``
    largest), computed in row chunks: scanpy's copies X twice (~3 GB at 100,000 cells). Writes var
    ``means``, ``dispersions``, ``dispersions_norm``, ``highly_variable``."""
    import pandas as pd

    mean, var = _mean_var(adata.X, expm1=True)
    expressed = var > 0 if adata.n_obs > 1 else mean > 0
    expressed |= mean > 0
    m = mean[expressed].copy()
    m[m == 0] = 1e-12
    disp = var[expressed] / m
    disp[disp == 0] = np.nan
    disp = np.log(disp)
    lm = np.log1p(m)
    df = pd.DataFrame({"means": lm, "dispersions": disp})
    df["mean_bin"] = pd.cut(df["means"], bins=n_bins)
    stats = df.groupby("mean_bin", observed=True)["dispersions"].agg(avg="mean", dev="std")
    single = stats["dev"].isnull()  # one gene in its bin: normalized dispersion 1, as Seurat's
    stats.loc[single, "dev"] = stats.loc[single, "avg"]
    stats.loc[single, "avg"] = 0
    stats = stats.loc[df["mean_bin"]].set_index(df.index)
    norm = ((df["dispersions"] - stats["avg"]) / stats["dev"]).to_numpy()
    n_top = min(n_top_genes, int(expressed.sum()))
    ranked = np.sort(np.nan_to_num(norm, nan=-np.inf))[::-1]
    cut = ranked[n_top - 1] if n_top > 0 else np.inf
    full = {k: np.zeros(adata.n_vars) for k in ("means", "dispersions", "dispersions_norm")}
    full["means"][expressed], full["dispersions"][expressed], full["dispersions_norm"][expressed] = lm, disp, norm
    hv = np.zeros(adata.n_vars, bool)
    hv[expressed] = np.nan_to_num(norm, nan=-np.inf) >= cut
    for k, v in full.items():
        adata.var[k] = v
    adata.var["highly_variable"] = hv
    adata.uns["hvg"] = {"flavor": "seurat"}


def _column_blocks(X, cols: np.ndarray, chunk_size: int):
    """Yield (start, stop, block) with block the float64 dense ``X[start:stop, cols]``, written into
    one reused buffer (a fresh 20,000 x 2,000 float64 array per block costs more in page faults than
    the copy itself)."""
    import scipy.sparse as sp

    from .io import iter_row_chunks

    buf = None
    for start, stop, block in iter_row_chunks(X, chunk_size):
        if buf is None:
            buf = np.empty((min(chunk_size, X.shape[0]), cols.size))
        out = buf[: stop - start]
        if sp.issparse(block):
            out[...] = 0  # scipy's toarray(out=) adds the stored values into out
            sp.csr_matrix(block[:, cols], dtype=np.float64).toarray(out=out)
        else:
            out[...] = np.asarray(block)[:, cols]
        yield start, stop, out


def scaled_pca(adata, mask: np.ndarray, n_comps: int, max_value: float = 10.0, chunk_size: int = 10000) -> None:
    """PCA of the genes in ``mask`` scaled to unit variance and zero mean, clipped to +-``max_value``,
    as ``sc.pp.scale(adata[:, mask], max_value=...)`` then PCA computes it, without the scaled matrix:
    scanpy's scale densifies the gene subset into one float64 matrix (1.6 GB at 100,000 cells x 2,000
    genes, plus its float32 copy for PCA). Here X is read in row chunks: once for the genes' mean and
    variance (stored values only), once for the covariance of the scaled values (float32 products,
    summed in float64), once for the projection. The components are the exact ones (those of ARPACK,
    to numerical precision) from a partial eigendecomposition of that covariance. For cells
    outnumbering genes. Writes obsm ``X_pca``, varm ``PCs`` (zeros outside ``mask``, as scanpy's
    ``mask_var``), uns ``pca``; signs as scikit-learn fixes them (each component's largest loading
    positive)."""
    from scipy.linalg import eigh

    X = adata.X
    cols = np.flatnonzero(mask)
    n, g = X.shape[0], cols.size
    mu, var = _mean_var(X, cols, chunk_size=chunk_size)  # ddof 1, as scanpy's scale takes them
    std = np.sqrt(var)
    std[std == 0] = 1

    def scaled_blocks():
        import scipy.sparse as sp

        from . import kernels
        from .io import iter_row_chunks

        z = None
        if sp.issparse(X) and X.format == "csr" and X.has_canonical_format:
            # one compiled pass per chunk from the stored values (no dense float64 copy, no column slice)
            colmap = _column_map(X.shape[1], cols)
            for start, stop, block in iter_row_chunks(X, chunk_size):
                if z is None:
                    z = np.empty((min(chunk_size, n), g), dtype=np.float32)
                kernels.scaled_rows(block, colmap, mu, std, max_value, z[: stop - start])
                yield start, stop, z[: stop - start]
            return
        for start, stop, d in _column_blocks(X, cols, chunk_size):
            d -= mu
            d /= std
            np.clip(d, -max_value, max_value, out=d)
            if z is None:
                z = np.empty(d.shape, dtype=np.float32)
            np.copyto(z[: stop - start], d, casting="same_kind")
            yield start, stop, z[: stop - start]

    C = np.zeros((g, g))
    col_sum = np.zeros(g)
    for _, _, Z in scaled_blocks():
        C += Z.T @ Z
        col_sum += Z.sum(0, dtype=np.float64)
    mean = col_sum / n
    C -= n * np.outer(mean, mean)
    C /= max(n - 1, 1)
    total_var = float(np.trace(C))
    values, vectors = eigh(C, subset_by_index=[g - n_comps, g - 1])
    order = np.argsort(values)[::-1]
    values, V = values[order], vectors[:, order]
    V *= np.sign(V[np.abs(V).argmax(axis=0), np.arange(V.shape[1])])[None, :]
    V32 = V.astype(np.float32)
    shift = (mean @ V).astype(np.float32)[None, :]
    X_pca = np.empty((n, n_comps), dtype=np.float32)
    for start, stop, Z in scaled_blocks():
        X_pca[start:stop] = Z @ V32 - shift
    adata.obsm["X_pca"] = X_pca
    PCs = np.zeros((X.shape[1], n_comps))
    PCs[cols] = V
    adata.varm["PCs"] = PCs
    adata.uns["pca"] = {"params": {"zero_center": True, "use_highly_variable": False, "mask_var": "highly_variable",
                                   "solver": "covariance_eigh of chunked scaled values (liverannot)"},
                        "variance": values, "variance_ratio": values / total_var if total_var > 0 else values * 0}


def cluster(adata, *, n_top_genes: int = 2000, n_pcs: int = 30, n_neighbors: int = 15,
            resolution: float = 1.0, random_state: int = 0, key_added: str = "leiden",
            umap: bool = True):
    """Cluster log-normalized ``adata`` (X) in place; labels go to ``obs[key_added]``. The seconds of
    each part (hvg, pca, neighbors, leiden, umap) go to ``uns["liverannot"]["cluster"]["seconds"]``."""
    import time

    from .errors import InputError

    if adata.n_obs < MIN_CELLS:
        raise InputError(f"only {adata.n_obs} cells: too few to cluster (at least {MIN_CELLS} are needed for "
                         f"neighbours, Leiden and UMAP). If QC removed most cells, lower --min-genes or raise "
                         f"--max-pct-mt; `liverannot classify` calls cells without clustering.")
    seconds = {}
    t = time.perf_counter()

    def part(name):
        nonlocal t
        now = time.perf_counter()
        seconds[name] = round(now - t, 2)
        t = now

    n_top = min(n_top_genes, adata.n_vars)
    try:
        highly_variable_genes(adata, n_top)
    except Exception as exc:  # tiny or degenerate data
        log.warning("highly variable genes failed (%s): using all genes", exc)
        adata.var["highly_variable"] = True
    part("hvg")
    mask = adata.var["highly_variable"].to_numpy()
    n_comps = max(2, min(n_pcs, adata.n_obs - 1, int(mask.sum()) - 1))
    if adata.n_obs > mask.sum():
        scaled_pca(adata, mask, n_comps, max_value=10)
    else:  # fewer cells than genes: scanpy's scale and ARPACK on the (small) scaled copy
        import scanpy as sc

        sub = adata[:, mask].copy()
        sc.pp.scale(sub, max_value=10)
        sc.tl.pca(sub, n_comps=n_comps, random_state=random_state, svd_solver="arpack")
        adata.obsm["X_pca"] = sub.obsm["X_pca"]
        adata.uns["pca"] = sub.uns["pca"]
    part("pca")
    nn = max(2, min(n_neighbors, adata.n_obs - 1))
    # exact neighbours (the same as scikit-learn's brute force, in about half its time): deterministic
    # at any thread count, unlike pynndescent (scanpy's default above 4,096 cells, whose path also fails
    # on scipy sparse arrays in scanpy 1.11, and which compiles ~12 s in every process)
    _cache_umap_compilation()
    neighbors(adata, nn, n_comps, random_state=random_state)
    part("neighbors")
    leiden(adata, resolution=resolution, random_state=random_state, key_added=key_added)
    part("leiden")
    if umap:
        umap_layout(adata, adata.obs[key_added], random_state=random_state, maxiter=umap_epochs(adata.n_obs))
        part("umap")
    info = adata.uns.setdefault("liverannot", {})
    info["cluster"] = {"n_top_genes": n_top, "n_pcs": int(n_comps), "n_neighbors": nn,
                       "resolution": resolution, "key": key_added,
                       "n_clusters": int(adata.obs[key_added].nunique()), "seconds": seconds}
    log.info("%d clusters (Leiden, resolution %.2f)", adata.obs[key_added].nunique(), resolution)
    return adata
