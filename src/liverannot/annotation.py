"""Cluster annotation: one liver cell type per cluster, by majority vote or summed probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import LiverannotError
from .io import gene_symbols
from .reference import unassigned_label

MODES = ("mode", "proba")


def annotate_clusters(adata, *, cluster_key: str = "leiden", mode: str = "mode", key: str = "liver",
                      key_added: str | None = None, n_genes: int = 5) -> pd.DataFrame:
    """Label every cluster of ``obs[cluster_key]`` from the per-cell calls of :func:`classify`.

    ``mode='mode'``: the most frequent cell type among the cluster's cells (majority vote);
    ``mode='proba'``: the class with the largest summed probability over the cluster's cells.
    Adds ``obs[key_added]`` (default ``{key}_cluster_annotation``) and returns the per-cluster table
    (cells, label, lineage, fraction of cells agreeing, mean confidence, supporting genes), also
    stored in ``uns[key_added]``.
    """
    key_added = key_added or f"{key}_cluster_annotation"
    if mode not in MODES:
        raise LiverannotError(f"unknown annotation mode {mode!r}; use one of {', '.join(MODES)}.")
    ct_col = f"{key}_celltype"
    if ct_col not in adata.obs or f"{key}_proba" not in adata.obsm:
        raise LiverannotError(f"no per-cell calls found (obs {ct_col!r}); run `liverannot classify` first.")
    if cluster_key not in adata.obs:
        raise LiverannotError(f"cluster column {cluster_key!r} not in obs (columns: {list(adata.obs.columns)}); "
                              f"run `liverannot cluster` first or pass --cluster-key.")
    info = adata.uns[f"{key}_classify"]
    classes = list(info["classes"])
    lineage_of = dict(zip(classes, info["lineages"]))
    ua = unassigned_label()
    lineage_of[ua] = "unassigned"
    proba = np.asarray(adata.obsm[f"{key}_proba"])
    celltype = adata.obs[ct_col].astype(str).to_numpy()
    conf = adata.obs[f"{key}_confidence"].to_numpy()
    clusters = adata.obs[cluster_key].astype(str).to_numpy()
    markers = info.get("marker_genes", {})
    symbols = gene_symbols(adata, info.get("symbol_col"), species=info.get("query_species") or info.get("species"))
    rows, labels = [], {}
    order = pd.unique(adata.obs[cluster_key].astype(str)) if not hasattr(adata.obs[cluster_key], "cat") \
        else [str(c) for c in adata.obs[cluster_key].cat.categories]
    for cl in order:
        idx = np.where(clusters == cl)[0]
        if len(idx) == 0:
            continue
        if mode == "mode":
            vals, counts = np.unique(celltype[idx], return_counts=True)
            label = str(vals[np.argmax(counts)])
        else:
            summed = proba[idx].sum(axis=0)
            label = classes[int(np.argmax(summed))]
            # a cluster whose cells are mostly Unassigned stays Unassigned
            if (celltype[idx] == ua).mean() > 0.5:
                label = ua
        agree = float((celltype[idx] == label).mean())
        lin = lineage_of.get(label, "unassigned")
        lin_agree = float(np.mean([lineage_of.get(c, "unassigned") == lin for c in celltype[idx]]))
        genes = _supporting_genes(adata, idx, markers.get(label, []), symbols, n_genes)
        labels[cl] = label
        rows.append({"cluster": cl, "n_cells": int(len(idx)), "label": label, "lineage": lin,
                     "fraction_agreeing": round(agree, 4), "fraction_lineage_agreeing": round(lin_agree, 4),
                     "mean_confidence": round(float(conf[idx].mean()), 4),
                     "supporting_genes": ";".join(genes)})
    table = pd.DataFrame(rows).set_index("cluster")
    adata.obs[key_added] = pd.Categorical([labels[c] for c in clusters],
                                          categories=[c for c in classes + [ua] if c in set(labels.values())])
    adata.obs[f"{key_added}_lineage"] = pd.Categorical([lineage_of.get(labels[c], "unassigned") for c in clusters])
    adata.uns[key_added] = {"mode": mode, "cluster_key": cluster_key,
                            "table": table.reset_index().astype(str).to_dict(orient="list")}
    return table


def _supporting_genes(adata, idx, markers, symbols, n):
    """The label's reference marker genes most expressed in the cluster (from log-normalized X)."""
    if markers is None or len(markers) == 0:
        return []
    first = pd.Series(np.arange(len(symbols)), index=symbols)
    first = first[~first.index.duplicated()]
    pos = first.reindex(markers).fillna(-1).astype(int).to_numpy()
    ok = pos >= 0
    if not ok.any():
        return []
    X = adata.X[idx][:, pos[ok]]
    mean = np.asarray(X.mean(axis=0)).ravel() if sp.issparse(X) else np.asarray(X).mean(axis=0)
    order = np.argsort(-mean)
    names = np.asarray(markers)[ok]
    return [str(names[i]) for i in order[:n] if mean[i] > 0]
