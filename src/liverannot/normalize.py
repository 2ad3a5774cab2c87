"""Library-size normalization and log1p, keeping raw counts in a layer."""

from __future__ import annotations

import logging

from .io import detect_kind

log = logging.getLogger(__name__)


def normalize(adata, *, target_sum: float = 1e4, counts_layer: str = "counts", kind: str | None = None):
    """Normalize ``adata.X`` in place to ``target_sum`` per cell and log1p it.

    The input kind is detected (raw counts, CPM-like, log1p) unless given; raw counts are kept in
    ``adata.layers[counts_layer]``; already-log data is left as it is. The detected kind is recorded
    in ``adata.uns['liverannot']['input_kind']``.
    """
    import scanpy as sc

    report = detect_kind(adata.X) if kind is None else None
    kind = kind or report.kind
    info = adata.uns.setdefault("liverannot", {})
    info["input_kind"] = kind
    if report is not None:
        info["input_kind_detail"] = report.detail
        log.info("input values: %s", report.detail)
    if kind == "counts":
        adata.layers[counts_layer] = adata.X.copy()
        sc.pp.normalize_total(adata, target_sum=target_sum)
        sc.pp.log1p(adata)
    elif kind == "normalized":
        sc.pp.normalize_total(adata, target_sum=target_sum)
        sc.pp.log1p(adata)
    else:
        log.info("data already log-transformed: normalization skipped")
    adata.uns["log1p"] = {"base": None}
    info["normalization"] = {"target_sum": target_sum, "counts_layer": counts_layer if kind == "counts" else None}
    return adata
