"""Library-size normalization and log1p, keeping raw counts in a layer."""

from __future__ import annotations

import logging

from .io import detect_kind, iter_row_chunks

log = logging.getLogger(__name__)


def log_normalize(X, target_sum: float = 1e4):
    """log1p(X scaled to ``target_sum`` per cell), float32, as scanpy's normalize_total + log1p do
    (cells without counts stay 0), in numpy: scanpy compiles its numba kernels in every process."""
    import numpy as np
    import scipy.sparse as sp

    if sp.issparse(X):
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
        adata.X = log_normalize(adata.X, target_sum)
    else:
        log.info("data already log-transformed: normalization skipped")
    adata.uns["log1p"] = {"base": None}
    info["normalization"] = {"target_sum": target_sum, "counts_layer": counts_layer if kind == "counts" else None}
    return adata
