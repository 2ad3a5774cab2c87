"""Compiled loops for the hot paths of classification and clustering (numba, compiled on first use
and cached on disk).

Each replaces a chain of numpy/scipy passes over a chunk's nonzeros by one pass, with the same
arithmetic: sums of the same values and plain copies, so the results equal the numpy path's (sums
of integer counts are exact in any order; of non-integer values, equal to the last bit or two).
"""

from __future__ import annotations

import math

import numba  # this module is imported only where one of its kernels is about to run
import numpy as np


def _jit(f):
    return numba.njit(cache=True, nogil=True)(f)


def _map_columns(data, indices, indptr, colmap, n_out, out_data, out_idx, out_ptr):
    """CSR rows with columns renamed by ``colmap`` (-1: dropped), duplicates summed, written into
    ``out_data``/``out_idx``/``out_ptr`` (sized for every entry); returns the number kept."""
    n = len(indptr) - 1
    stamp = np.full(n_out, -1, np.int64)
    where = np.zeros(n_out, np.int64)
    pos = 0
    out_ptr[0] = 0
    for r in range(n):
        for k in range(indptr[r], indptr[r + 1]):
            c = colmap[indices[k]]
            if c < 0:
                continue
            if stamp[c] == r:
                out_data[where[c]] += data[k]
            else:
                stamp[c] = r
                where[c] = pos
                out_idx[pos] = c
                out_data[pos] = data[k]
                pos += 1
        out_ptr[r + 1] = pos
    return pos


def _map_columns_onto(data, indices, indptr, colmap, n_out, out_data, out_idx, out_ptr):
    """_map_columns for a ``colmap`` that sends no two columns to the same place, rows in threads:
    each row's kept entries are counted, then written at their place (kept or not by the column's
    sign, without a branch: most query genes are not model genes, so a branch on it is mispredicted
    often)."""
    n = len(indptr) - 1
    out_ptr[0] = 0
    for r in numba.prange(n):  # each row's count, then their running sum: the rows' starts
        c = 0
        for k in range(indptr[r], indptr[r + 1]):
            c += colmap[indices[k]] >= 0
        out_ptr[r + 1] = c
    for r in range(n):
        out_ptr[r + 1] += out_ptr[r]
    for r in numba.prange(n):
        pos, end = out_ptr[r], out_ptr[r + 1]
        for k in range(indptr[r], indptr[r + 1]):
            if pos == end:  # the row's last kept entry is written: the rest are dropped (and the
                break       # next slot is the next row's, written by another thread)
            c = colmap[indices[k]]
            out_idx[pos] = c
            out_data[pos] = data[k]
            pos += c >= 0
    return out_ptr[n]


def _log_cp10k_rows(data, indices, indptr, scale, out, s1, s2):
    """out[r, indices[k]] = log1p(data[k] * scale[r]) for the CSR rows (single precision, as numpy's
    float32 product and log1p; the rest of each row zeroed), rows in threads; each row's sum and
    sum of squares (float64) into s1, s2."""
    for r in numba.prange(len(indptr) - 1):
        row = out[r]
        row[:] = 0
        f = scale[r]
        a, b = 0.0, 0.0
        for k in range(indptr[r], indptr[r + 1]):
            v = math.log1p(np.float32(data[k]) * f)
            row[indices[k]] = v
            a += v
            b += np.float64(v) * v
        s1[r], s2[r] = a, b


def _module_sums(data, indices, indptr, mptr, midx, out):
    """out[r, m] = the sum of row r's values in the columns of module m (``mptr``/``midx``: each
    column's modules, CSR), added in stored order as scipy's sparse product adds them; rows in
    threads. ``out`` zeroed by the caller."""
    for r in numba.prange(len(indptr) - 1):
        row = out[r]
        for k in range(indptr[r], indptr[r + 1]):
            j = indices[k]
            for q in range(mptr[j], mptr[j + 1]):
                row[midx[q]] += data[k]


def _nearest_update_cols(partial, sq_cols, cols, best_d, best_i):
    """Keep, per row, the ``best_d.shape[1]`` smallest pairs (value, column) of ``partial[r, j] +
    sq_cols[j]`` (with partial = -2 x.y, a squared distance less the row's own squared norm) and
    column ``cols[j]``, sorted, a lower column first on equal values, so the lists do not depend on
    the order in which blocks of columns come. Single precision throughout: the candidates are
    re-ranked exactly afterwards."""
    m = best_d.shape[1]
    for r in range(partial.shape[0]):
        worst, worst_i = best_d[r, m - 1], best_i[r, m - 1]
        row = partial[r]
        for j in range(partial.shape[1]):
            v = row[j] + sq_cols[j]
            c = cols[j]
            if v < worst or (v == worst and c < worst_i):
                p = m - 1
                while p > 0 and (best_d[r, p - 1] > v or (best_d[r, p - 1] == v and best_i[r, p - 1] > c)):
                    best_d[r, p] = best_d[r, p - 1]
                    best_i[r, p] = best_i[r, p - 1]
                    p -= 1
                best_d[r, p] = v
                best_i[r, p] = c
                worst, worst_i = best_d[r, m - 1], best_i[r, m - 1]


def _scaled_rows(data, indices, indptr, colmap, mu, std, zero, max_value, out):
    """Row r of ``out`` (float32, one column per mapped gene) = the row's values of the genes in
    ``colmap`` (-1: left out) less ``mu``, over ``std``, clipped to +-``max_value``, computed in
    float64 then rounded, as the dense numpy path computes them; ``zero`` holds that value for a
    count of 0. Rows in threads; no two stored entries of a row in one column (canonical CSR)."""
    for r in numba.prange(len(indptr) - 1):
        row = out[r]
        row[:] = zero
        for k in range(indptr[r], indptr[r + 1]):
            c = colmap[indices[k]]
            if c >= 0:
                z = (np.float64(data[k]) - mu[c]) / std[c]
                if z > max_value:
                    z = max_value
                elif z < -max_value:
                    z = -max_value
                row[c] = np.float32(z)


def _column_moments(data, indices, colmap, expm1, s1, s2):
    """s1[c] += v, s2[c] += v * v for each stored value v (its expm1 with ``expm1``, in float64) of
    column ``c = colmap[indices[k]]`` (-1: skipped), in stored order: np.bincount's sums of the same
    values in the same order."""
    for k in range(data.shape[0]):
        c = colmap[indices[k]]
        if c < 0:
            continue
        v = np.float64(data[k])
        if expm1:
            v = math.expm1(v)
        s1[c] += v
        s2[c] += v * v


def _qc_sums(data, indices, indptr, mt, ribo, mt_sum, ribo_sum, n_cells):
    """Per row: the sum of its values in the genes flagged by ``mt`` and by ``ribo`` (0/1, the
    matrix's float type), as scipy's CSR products with those vectors accumulate them (in the
    matrix's float type, stored order); per column: its stored entries. One pass over the matrix
    for QC's metrics."""
    for r in range(len(indptr) - 1):
        m = mt_sum.dtype.type(0)
        b = ribo_sum.dtype.type(0)
        for k in range(indptr[r], indptr[r + 1]):
            v = data[k]
            j = indices[k]
            m += v * mt[j]
            b += v * ribo[j]
            n_cells[j] += 1
        mt_sum[r], ribo_sum[r] = m, b


def _positive_per_column(data, indices, indptr, rows, counts):
    """counts[j] += 1 for each positive stored value of column j in the rows flagged by ``rows``."""
    for r in range(len(indptr) - 1):
        if not rows[r]:
            continue
        for k in range(indptr[r], indptr[r + 1]):
            if data[k] > 0:
                counts[indices[k]] += 1


def _layout_groups(emb, snap, ptr, head, tail, epochs_per_sample, epochs_per_negative_sample,
                   next_sample, next_negative, rng, a, b, gamma, alpha, n):
    """One epoch of UMAP's layout (its attractive step, which moves both ends, and negative samples,
    which move the head; every step clipped at 4) over groups of edges, the groups in threads: group
    g takes edges ``ptr[g]`` to ``ptr[g + 1] - 1`` in that order. Deterministic at any thread count when
    no two groups share a cell (the caller's edges inside each cluster) or when there is one group
    (the edges between clusters): a group writes only its own cells, and negative samples read the
    positions of the epoch's start (``snap``). Each head draws its negative samples from its own
    random stream ``rng[j]`` (xorshift64)."""
    n_vertices = emb.shape[0]
    dim = emb.shape[1]
    b32 = np.float32(b)
    for grp in numba.prange(len(ptr) - 1):
        for i in range(ptr[grp], ptr[grp + 1]):
            if next_sample[i] > n:
                continue
            j = head[i]
            current = emb[j]
            other = emb[tail[i]]
            d2 = 0.0
            for d in range(dim):
                d2 += (current[d] - other[d]) ** 2
            coeff = 0.0
            if d2 > 0.0:
                # the curve's power in single precision, the positions' own precision (a fifth faster)
                pb = np.float32(d2) ** b32
                coeff = -2.0 * a * b * (pb / d2) / (a * pb + 1.0)
            for d in range(dim):
                g = min(4.0, max(-4.0, coeff * (current[d] - other[d])))
                current[d] += g * alpha
                other[d] -= g * alpha
            next_sample[i] += epochs_per_sample[i]
            n_neg = int((n - next_negative[i]) / epochs_per_negative_sample[i])
            for _ in range(n_neg):
                x = rng[j]
                x ^= x << np.uint64(13)
                x ^= x >> np.uint64(7)
                x ^= x << np.uint64(17)
                rng[j] = x
                k = np.int64(x % np.uint64(n_vertices))
                if k == j:
                    continue
                far = snap[k]
                d2 = 0.0
                for d in range(dim):
                    d2 += (current[d] - far[d]) ** 2
                if d2 <= 0.0:
                    continue
                coeff = 2.0 * gamma * b / ((0.001 + d2) * (a * np.float32(d2) ** b32 + 1.0))
                for d in range(dim):
                    current[d] += min(4.0, max(-4.0, coeff * (current[d] - far[d]))) * alpha
            next_negative[i] += n_neg * epochs_per_negative_sample[i]


def _forest_proba(X, feature, threshold, left, right, leaf_row, roots, values, out):
    """Each row of X (float32) down every tree (node arrays of all trees side by side, ``roots``
    their first nodes; ``left`` < 0 at a leaf, whose class fractions are ``values[leaf_row[node]]``);
    ``out`` (float64) gets the fractions summed over the trees in tree order, over the number of
    trees. Rows in threads; each row's values stay in cache while it goes down all the trees, four
    trees at a time (four independent walks keep the memory busy where one waits on each node)."""
    n_trees = len(roots)
    for i in numba.prange(X.shape[0]):
        x = X[i]
        acc = out[i]
        acc[:] = 0.0
        for t in range(0, n_trees, 4):
            a = roots[t]
            b = roots[t + 1] if t + 1 < n_trees else roots[t]
            c = roots[t + 2] if t + 2 < n_trees else roots[t]
            d = roots[t + 3] if t + 3 < n_trees else roots[t]
            # the four steps written out: through a shared step function (or a loop over an array of
            # nodes) the walk took 1.5x as long, measured on a 10,000-cell chunk
            while True:
                moved = False
                if left[a] >= 0:
                    a = left[a] if x[feature[a]] <= threshold[a] else right[a]
                    moved = True
                if left[b] >= 0:
                    b = left[b] if x[feature[b]] <= threshold[b] else right[b]
                    moved = True
                if left[c] >= 0:
                    c = left[c] if x[feature[c]] <= threshold[c] else right[c]
                    moved = True
                if left[d] >= 0:
                    d = left[d] if x[feature[d]] <= threshold[d] else right[d]
                    moved = True
                if not moved:
                    break
            for j, node in enumerate((a, b, c, d)):
                if t + j < n_trees:
                    v = values[leaf_row[node]]
                    for k in range(acc.size):
                        acc[k] += v[k]
        for k in range(acc.size):
            acc[k] /= n_trees


#: kernels whose outer loop runs in threads (numba.prange)
_PARALLEL = {"_layout_groups", "_scaled_rows", "_map_columns_onto", "_log_cp10k_rows", "_module_sums", "_forest_proba"}
_compiled = {}


def _get(name):
    if name not in _compiled:
        f = globals()[name]
        _compiled[name] = numba.njit(cache=True, nogil=True, parallel=True)(f) if name in _PARALLEL else _jit(f)
    return _compiled[name]


def map_columns(block, colmap: np.ndarray, n_out: int, buffers: list | None = None):
    """``block`` (CSR) as a CSR matrix over ``n_out`` columns, column j moved to ``colmap[j]`` (or
    dropped where -1), values of columns mapped to the same place summed: ``block @ M`` for the 0/1
    mapping matrix M, in one pass. ``buffers``: a list (empty at first) that keeps the output's
    arrays for the next call, which then writes into the same memory (the result is valid until
    then): a stream of chunks spares mapping fresh memory for every one."""
    import scipy.sparse as sp

    data = np.asarray(block.data, np.float32)
    kept = colmap[colmap >= 0]
    one_to_one = np.unique(kept).size == kept.size
    size, rows = data.size + 1, block.shape[0] + 1
    if buffers and buffers[0].size >= size and buffers[2].size >= rows:
        d, i, p = buffers
    else:
        room = size + size // 4  # the next chunks may hold a few more values
        d, i, p = np.empty(room, np.float32), np.empty(room, np.int32), np.empty(rows + rows // 4, np.int64)
        if buffers is not None:
            buffers[:] = d, i, p
    pos = _get("_map_columns_onto" if one_to_one else "_map_columns")(
        data, block.indices, block.indptr.astype(np.int64, copy=False), colmap, n_out, d, i, p)
    p = p[:rows]
    m = sp.csr_matrix((block.shape[0], n_out), dtype=np.float32)
    m.data, m.indices, m.indptr = d[:pos], i[:pos], p.astype(np.int32) if p[-1] < 2 ** 31 else p
    if m.indptr.dtype != m.indices.dtype:
        m.indices = m.indices.astype(m.indptr.dtype)
    return m


def log_cp10k_rows(out: np.ndarray, values: np.ndarray, indices: np.ndarray, indptr: np.ndarray,
                   scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill ``out`` (cells x columns, may be a column slice of a wider buffer) with log1p of the CSR
    rows' values times each row's ``scale``; returns each row's sum and sum of squares (float64),
    taken on the way."""
    s1, s2 = np.empty(out.shape[0]), np.empty(out.shape[0])
    _get("_log_cp10k_rows")(values, indices, indptr, np.ascontiguousarray(scale, np.float32).ravel(), out, s1, s2)
    return s1, s2


def module_sums(X, modules) -> np.ndarray:
    """``X @ modules`` (float32, dense) for a CSR ``X`` and a 0/1 genes x modules matrix, without
    scipy's sparse product (the same float32 sums in the same order)."""
    import scipy.sparse as sp

    M = sp.csr_matrix(modules)
    out = np.zeros((X.shape[0], M.shape[1]), np.float32)
    _get("_module_sums")(np.asarray(X.data, np.float32), X.indices, X.indptr, M.indptr, M.indices, out)
    return out


def nearest_update_cols(partial: np.ndarray, sq_cols: np.ndarray, cols: np.ndarray, best_d: np.ndarray,
                        best_i: np.ndarray) -> None:
    """Merge a block of candidates (``partial`` = queries x points products, the points' numbers in
    ``cols``) into the running sorted lists ``best_d``/``best_i`` of each query (see
    _nearest_update_cols); releases the GIL."""
    _get("_nearest_update_cols")(partial, sq_cols, cols, best_d, best_i)


def layout_epochs(embedding, groups: np.ndarray, head, tail, n_epochs: int, epochs_per_sample, a, b, rng_state,
                  gamma, initial_alpha, negative_sample_rate) -> None:
    """UMAP's layout optimisation of ``embedding`` (in place) in threads, reproducible at any thread
    count: per epoch, the edges inside each group of cells (``groups``: a label per cell, the clusters)
    with the groups in threads, then the edges between groups in one thread (see _layout_groups).
    The other arguments are umap-learn's (its edge sampling schedule, curve a, b, seed)."""
    epoch = _get("_layout_groups")
    groups = np.asarray(groups, np.int64)
    head = np.asarray(head, np.int64)
    tail = np.asarray(tail, np.int64)
    inside = groups[head] == groups[tail]
    own = np.flatnonzero(inside)
    sizes = np.bincount(groups[head[own]], minlength=int(groups.max()) + 1)
    # threads take the groups largest first, one at a time; inside a group the edges keep their order
    big_first = np.argsort(-sizes, kind="stable")
    rank = np.empty_like(big_first)
    rank[big_first] = np.arange(big_first.size)
    own = own[np.argsort(rank[groups[head[own]]], kind="stable")]
    own_ptr = np.concatenate([[0], np.cumsum(sizes[big_first])]).astype(np.int64)
    between = np.flatnonzero(~inside)
    # the edges between groups after them, as one group (one thread, in edge order)
    between_ptr = np.array([own.size, own.size + between.size], np.int64)
    # the edge arrays once in that order: each group's edges are one contiguous range
    order = np.concatenate([own, between])
    head, tail, epochs_per_sample = head[order], tail[order], np.asarray(epochs_per_sample)[order]
    per_negative = epochs_per_sample / negative_sample_rate
    next_sample = epochs_per_sample.copy()
    next_negative = per_negative.copy()
    seed = np.uint64((int(np.asarray(rng_state, np.int64).sum()) % (2 ** 63)) | 1)
    rng = (np.arange(1, embedding.shape[0] + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ seed
    rng[rng == 0] = np.uint64(1)
    snap = np.empty_like(embedding)
    chunk = numba.set_parallel_chunksize(1)
    try:
        for n in range(n_epochs):
            alpha = initial_alpha * (1.0 - n / n_epochs)
            np.copyto(snap, embedding)
            for ptr in (own_ptr, between_ptr):
                epoch(embedding, snap, ptr, head, tail, epochs_per_sample, per_negative, next_sample,
                      next_negative, rng, a, b, gamma, alpha, n)
    finally:
        numba.set_parallel_chunksize(chunk)


def scaled_rows(block, colmap: np.ndarray, mu: np.ndarray, std: np.ndarray, max_value: float,
                out: np.ndarray) -> None:
    """``out`` (rows x mapped genes, float32) = clip((block's values - mu) / std, +-max_value) for
    a canonical CSR ``block`` (see _scaled_rows): the scaled genes of a chunk in one pass."""
    zero = np.clip((0.0 - mu) / std, -max_value, max_value).astype(np.float32)
    _get("_scaled_rows")(block.data, block.indices, block.indptr, colmap, mu, std, zero, float(max_value), out)


def qc_sums(X, mt: np.ndarray, ribo: np.ndarray):
    """(row sums over the ``mt`` genes, over the ``ribo`` genes, stored entries per column) of a CSR
    matrix with a float dtype, in one pass (see _qc_sums)."""
    n, g = X.shape
    mt_sum, ribo_sum = np.zeros(n, X.dtype), np.zeros(n, X.dtype)
    n_cells = np.zeros(g, np.int64)
    _get("_qc_sums")(X.data, X.indices, X.indptr, mt.astype(X.dtype), ribo.astype(X.dtype), mt_sum, ribo_sum,
                     n_cells)
    return mt_sum, ribo_sum, n_cells


def positive_per_column(X, rows: np.ndarray) -> np.ndarray:
    """How many of the rows flagged by ``rows`` hold a positive value in each column of a CSR matrix."""
    counts = np.zeros(X.shape[1], np.int64)
    _get("_positive_per_column")(X.data, X.indices, X.indptr, np.asarray(rows, np.bool_), counts)
    return counts


def column_moments(block, colmap: np.ndarray, n_out: int, expm1: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per output column, the sum and the sum of squares (float64) of a CSR block's stored values
    (or of their expm1), columns renamed by ``colmap`` (-1: left out): one pass, no column slice."""
    s1, s2 = np.zeros(n_out), np.zeros(n_out)
    _get("_column_moments")(block.data, block.indices, colmap, expm1, s1, s2)
    return s1, s2


class CompiledForest:
    """A fitted scikit-learn forest classifier's trees as compact arrays (16 bytes a node instead of
    scikit-learn's 64) walked by a compiled loop, cell by cell through all trees: the same
    probabilities as ``forest.predict_proba`` with the trees summed in order (``n_jobs=1``; threads
    sum them in the order they finish), bit for bit. Each threshold is stored as the largest float32
    not above it, so a float32 feature compares to it exactly as to the float64 threshold. Features
    are never NaN here (inputs are checked; see simulate.features): a NaN would go right at every
    split, where scikit-learn follows each split's ``missing_go_to_left``."""

    def __init__(self, forest):
        feats, thr, left, right, leaf_row, roots, values = [], [], [], [], [], [], []
        start = rows = 0
        for est in forest.estimators_:
            tree = est.tree_
            if tree.n_outputs != 1:
                raise ValueError("CompiledForest: one output only")
            is_leaf = tree.children_left < 0
            t64 = tree.threshold
            t32 = t64.astype(np.float32)
            over = t32.astype(np.float64) > t64
            t32[over] = np.nextafter(t32[over], np.float32(-np.inf))
            feats.append(tree.feature.astype(np.int32))
            thr.append(t32)
            left.append(np.where(is_leaf, -1, tree.children_left + start).astype(np.int32))
            right.append(np.where(is_leaf, -1, tree.children_right + start).astype(np.int32))
            lr = np.full(tree.node_count, -1, np.int32)
            lr[is_leaf] = rows + np.arange(int(is_leaf.sum()), dtype=np.int32)
            leaf_row.append(lr)
            values.append(tree.value[is_leaf, 0, :forest.n_classes_])
            roots.append(start)
            start += tree.node_count
            rows += int(is_leaf.sum())
        self.feature, self.threshold = np.concatenate(feats), np.concatenate(thr)
        self.left, self.right = np.concatenate(left), np.concatenate(right)
        self.leaf_row, self.roots = np.concatenate(leaf_row), np.array(roots, np.int64)
        self.values = np.ascontiguousarray(np.concatenate(values), dtype=np.float64)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float32)
        out = np.empty((X.shape[0], self.values.shape[1]), np.float64)
        _get("_forest_proba")(X, self.feature, self.threshold, self.left, self.right, self.leaf_row, self.roots,
                              self.values, out)
        return out
