"""Library-size normalization and log1p, keeping raw counts in a layer."""

from __future__ import annotations

import logging

from .io import detect_kind, iter_row_chunks

log = logging.getLogger(__name__)


def _shareable_structure(X) -> bool:
    """Whether a new CSR matrix may keep ``X``'s ``indices`` and ``indptr`` arrays instead of copies:
    only when no in-place scipy operation can change them, which is when X is in canonical form
    (sorted indices, no duplicates: ``sort_indices`` and ``sum_duplicates`` are no-ops) and stores
    no zero (``eliminate_zeros`` is a no-op; log1p of a positive value is positive): every stored
    value positive, a reduction with no temporary as long as the data."""
    import numpy as np
    import scipy.sparse as sp

    return (sp.issparse(X) and X.format == "csr" and X.dtype == np.float32 and X.has_canonical_format
            and (X.nnz == 0 or X.data.min() > 0))


def log_normalize(X, target_sum: float = 1e4, *, share_structure: bool = False):
    """log1p(X scaled to ``target_sum`` per cell), float32, as scanpy's normalize_total + log1p do
    (cells without counts stay 0), in numpy: scanpy compiles its numba kernels in every process.

    With ``share_structure`` a sparse result keeps X's index arrays (the same nonzero pattern) when
    that is safe (:func:`_shareable_structure`), so that counts kept beside their log values cost
    the values alone: 0.8 GB less at 100,000 cells."""
    import numpy as np
    import scipy.sparse as sp

    if sp.issparse(X):
        if share_structure and _shareable_structure(X):
            X = sp.csr_matrix((X.data.copy(), X.indices, X.indptr), shape=X.shape, copy=False)
        else:
            X = sp.csr_matrix(X, dtype=np.float32, copy=True)
        total = np.asarray(X.sum(axis=1), dtype=np.float64).ravel()
        scale = np.divide(target_sum, total, out=np.zeros_like(total), where=total > 0).astype(np.float32)
        # in row chunks (no temporary as long as the matrix); the chunks are views of X's arrays
        for start, stop, block in iter_row_chunks(X, 20000):
            block.data *= np.repeat(scale[start:stop], np.diff(block.indptr))
            np.log1p(block.data, out=block.data)
        return X
    X = np.array(X, dtype=np.float32)
    total = X.sum(axis=1, dtype=np.float64)
    scale = np.divide(target_sum, total, out=np.zeros_like(total), where=total > 0)
    X *= scale.astype(np.float32)[:, None]
    return np.log1p(X, out=X)


def normalize(adata, *, target_sum: float = 1e4, counts_layer: str = "counts", kind: str | None = None):
    """Normalize ``adata.X`` in place to ``target_sum`` per cell and log1p it.

    The input kind is detected (raw counts, CPM-like, log1p) unless given; raw counts are kept in
    ``adata.layers[counts_layer]``; already-log data is left as it is. The detected kind is recorded
    in ``adata.uns['liverannot']['input_kind']``.
    """
    report = detect_kind(adata.X) if kind is None else None
    kind = kind or report.kind
    info = adata.uns.setdefault("liverannot", {})
    info["input_kind"] = kind
    if report is not None:
        info["input_kind_detail"] = report.detail
        log.info("input values: %s", report.detail)
    if kind == "counts":
        adata.layers[counts_layer] = adata.X  # X is replaced by a new matrix below: no copy needed
    if kind in ("counts", "normalized"):
        # raw counts stay in the layer, so their log values may share the counts' sparse structure
        adata.X = log_normalize(adata.X, target_sum, share_structure=kind == "counts")
    else:
        log.info("data already log-transformed: normalization skipped")
    adata.uns["log1p"] = {"base": None}
    info["normalization"] = {"target_sum": target_sum, "counts_layer": counts_layer if kind == "counts" else None}
    return adata
