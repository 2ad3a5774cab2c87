"""Compiled loops for the hot paths of classification and clustering (numba, compiled on first use
and cached on disk).

Each replaces a chain of numpy/scipy passes over a chunk's nonzeros by one pass, with the same
arithmetic: sums of the same values and plain copies, so the results equal the numpy path's (sums
of integer counts are exact in any order; of non-integer values, equal to the last bit or two).
"""

from __future__ import annotations

import numpy as np


def _jit(f):
    import numba

    return numba.njit(cache=True, nogil=True)(f)


def _map_columns(data, indices, indptr, colmap, n_out):
    """CSR rows with columns renamed by ``colmap`` (-1: dropped), duplicates summed."""
    n = len(indptr) - 1
    out_data = np.empty(len(data), np.float32)
    out_idx = np.empty(len(data), np.int32)
    out_ptr = np.zeros(n + 1, np.int64)
    stamp = np.full(n_out, -1, np.int64)
    where = np.zeros(n_out, np.int64)
    pos = 0
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
    return out_data[:pos], out_idx[:pos], out_ptr


def _scatter_rows(out, values, indices, indptr):
    """out[r, indices[k]] = values[k] for the CSR rows (out zeroed first)."""
    n = len(indptr) - 1
    for r in range(n):
        row = out[r]
        row[:] = 0
        for k in range(indptr[r], indptr[r + 1]):
            row[indices[k]] = values[k]


def _nearest_update(partial, sq_cols, col0, best_d, best_i):
    """Keep, per row, the ``best_d.shape[1]`` smallest ``partial[r, j] + sq_cols[j]`` (with partial =
    -2 x.y, a squared distance less the row's own squared norm), sorted, with their column numbers
    ``col0 + j``; on equal values the lower column stays first. Single precision throughout: the
    candidates are re-ranked exactly afterwards."""
    m = best_d.shape[1]
    for r in range(partial.shape[0]):
        worst = best_d[r, m - 1]
        row = partial[r]
        for j in range(partial.shape[1]):
            v = row[j] + sq_cols[j]
            if v < worst:
                p = m - 1
                while p > 0 and best_d[r, p - 1] > v:
                    best_d[r, p] = best_d[r, p - 1]
                    best_i[r, p] = best_i[r, p - 1]
                    p -= 1
                best_d[r, p] = v
                best_i[r, p] = col0 + j
                worst = best_d[r, m - 1]


_compiled = {}


def _get(name):
    if name not in _compiled:
        _compiled[name] = _jit(globals()[name])
    return _compiled[name]


def map_columns(block, colmap: np.ndarray, n_out: int):
    """``block`` (CSR) as a CSR matrix over ``n_out`` columns, column j moved to ``colmap[j]`` (or
    dropped where -1), values of columns mapped to the same place summed: ``block @ M`` for the 0/1
    mapping matrix M, in one pass."""
    import scipy.sparse as sp

    data = np.asarray(block.data, np.float32)
    d, i, p = _get("_map_columns")(data, block.indices, block.indptr.astype(np.int64, copy=False), colmap, n_out)
    m = sp.csr_matrix((block.shape[0], n_out), dtype=np.float32)
    m.data, m.indices, m.indptr = d, i, p.astype(np.int32) if p[-1] < 2 ** 31 else p
    if m.indptr.dtype != m.indices.dtype:
        m.indices = m.indices.astype(m.indptr.dtype)
    return m


def scatter_rows(out: np.ndarray, values: np.ndarray, indices: np.ndarray, indptr: np.ndarray) -> None:
    """Fill ``out`` (cells x columns, may be a column slice of a wider buffer) with CSR rows."""
    _get("_scatter_rows")(out, values, indices, indptr)


def nearest_update(partial: np.ndarray, sq_cols: np.ndarray, col0: int, best_d: np.ndarray, best_i: np.ndarray) -> None:
    """Merge a block of candidates (``partial`` = queries x points products) into the running sorted
    lists ``best_d``/``best_i`` of each query (see _nearest_update); releases the GIL."""
    _get("_nearest_update")(partial, sq_cols, col0, best_d, best_i)
