"""The public Python API (``import liverannot as la``): functions over AnnData, in the scanpy way.

The CLI and the Nextflow modules call these same functions, so a notebook and a pipeline run make
the same calls on the same input.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from .constants import CLASSIFY_CHUNK_SIZE
from .errors import InputError, LiverannotError

log = logging.getLogger(__name__)


def _check_adata(adata, what: str = "adata"):
    try:
        from anndata import AnnData
    except ImportError:  # pragma: no cover - anndata is a dependency
        AnnData = ()
    if not isinstance(adata, AnnData):
        hint = " (a file path? read it with la.read(path) first)" if isinstance(adata, (str, Path)) else ""
        raise InputError(f"{what} must be an AnnData, not {type(adata).__name__}{hint}.")
    if adata.n_obs == 0:
        raise InputError(f"{what} has no cells.")
    if adata.n_vars == 0:
        raise InputError(f"{what} has no genes.")


def read(path, *, backed: bool = False):
    """Read a sample: .h5ad (nf-core/scrnaseq's included), a 10x folder or .h5, .loom, .csv/.tsv.
    ``backed=True`` leaves an .h5ad's matrix on disk (classification streams it in chunks)."""
    from .io import read_input

    return read_input(path, backed=backed)


# ------------------------------------------------------------------------------------------
# models
# ------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _shipped(species: str, kind: str):
    from .model import Model

    return Model.shipped(species, kind)


def load_model(species_or_path: str | Path, kind: str = "nn"):
    """A shipped model (``load_model("human", "rf")``) or a model bundle folder written by
    ``liverannot train`` (``load_model("my_models/human_nn")``). Its repr says what it calls and
    how well it did; the full model card is ``model.card``."""
    from .model import SPECIES, Model

    if str(species_or_path) in SPECIES:
        return Model.shipped(str(species_or_path), kind)
    path = Path(species_or_path)
    if path.is_dir():
        return Model.load(path)
    raise LiverannotError(f"{species_or_path!r} is neither a species ({', '.join(SPECIES)}) nor a model "
                          f"bundle folder.")


def models():
    """The shipped models and their measured numbers (one row each), as a DataFrame.

    Columns: species, model, classes, lineages, genes, and from the model cards: lineage accuracy on
    real liver cells of other studies (all genes and 30% of them), on the liver types of other
    tissues, and the share of non-liver cells left Unassigned.
    """
    import json

    import pandas as pd

    from .model import KINDS, SPECIES, shipped_model_path

    rows = []
    for species in SPECIES:
        for kind in KINDS:
            p = shipped_model_path(species, kind)
            row = {"species": species, "model": kind, "path": str(p)}
            if not (p / "settings.json").exists():
                rows.append({**row, "status": "missing"})
                continue
            s = json.loads((p / "settings.json").read_text())
            m = json.loads((p / "metrics.json").read_text()) if (p / "metrics.json").exists() else {}
            classes = pd.read_csv(p / "classes.tsv", sep="\t", keep_default_na=False)
            dev = m.get("development", {})
            liver, other = dev.get("liver", {}), dev.get("other_tissues", {})
            rows.append({**row, "status": "ok", "classes": len(classes), "lineages": classes["lineage"].nunique(),
                         "genes": s.get("n_genes"),
                         "liver_lineage_accuracy": liver.get("lineage_accuracy"),
                         "liver_lineage_accuracy_30pct_genes": liver.get("lineage_accuracy_30pct_genes"),
                         "liver_cells": liver.get("n_cells"),
                         "other_tissues_lineage_accuracy": other.get("lineage_accuracy"),
                         "nonliver_unassigned_rate": other.get("unassigned_rate_nonliver")})
    cols = ["species", "model", "status", "classes", "lineages", "genes", "liver_cells", "liver_lineage_accuracy",
            "liver_lineage_accuracy_30pct_genes", "other_tissues_lineage_accuracy", "nonliver_unassigned_rate", "path"]
    df = pd.DataFrame(rows)
    return df[[c for c in cols if c in df.columns]]


def _resolve_model(adata, species, model, symbol_col):
    from .classifier import detect_species
    from .model import KINDS, Model

    if isinstance(model, Model):
        if species is not None and species != model.species:
            raise LiverannotError(f"the model given is a {model.species} model but species={species!r}; for "
                                  f"{species} data and a {model.species} model pass query_species={species!r}.")
        return model
    if isinstance(model, str) and model in KINDS:
        return _shipped(species or detect_species(adata, symbol_col), model)
    if isinstance(model, (str, Path)) and Path(model).is_dir():
        return Model.load(model)
    raise LiverannotError(f"model={model!r}: use {' or '.join(repr(k) for k in KINDS)} (a shipped model), a "
                          f"model bundle folder or a loaded model (la.load_model).")


# ------------------------------------------------------------------------------------------
# the calls
# ------------------------------------------------------------------------------------------

def classify(adata, species: str | None = None, model="nn", *, layer: str | None = None,
             symbol_col: str | None = None, input_kind: str | None = None, query_species: str | None = None,
             min_confidence: float | None = None, min_similarity: float | None = None, refit_below: float = 0.6,
             chunk_size: int = CLASSIFY_CHUNK_SIZE, key_added: str = "liver", zonation: bool = True, copy: bool = False,
             progress=None):
    """Classify every cell of ``adata`` with a pretrained liver model.

    Parameters
    ----------
    adata
        Cells x genes, in memory or backed. Raw counts, CPM-like or log1p values (detected, or
        ``input_kind``) in ``layer``, else layer ``counts`` if present, else X; sparse or dense;
        genes as symbols, or Ensembl IDs with a symbol column in var (detected, or ``symbol_col``).
    species
        ``"human"`` or ``"mouse"``; detected from the gene names when not given.
    model
        ``"nn"`` (neural network) or ``"rf"`` (random forest) shipped model, a bundle folder, or a
        loaded :class:`~liverannot.model.Model`.
    query_species
        The species of the data when it differs from the model's (genes are translated through
        one-to-one orthologs).
    min_confidence, min_similarity
        Unassigned thresholds (default: the model's).
    refit_below
        Refit the model on the genes the query has when it shares less than this share of them.
    key_added
        Prefix of the results: obs ``{key}_celltype``, ``{key}_lineage``, ``{key}_confidence``,
        ``{key}_unassigned_reason`` (and more), obsm ``{key}_proba``, uns ``{key}_classify``.
    zonation
        Also place every hepatocyte on the central-portal axis (:func:`zonation`): obs
        ``{key}_zonation`` (0 pericentral ... 1 periportal), ``_layer``, ``_confidence``, ``_genes``.
    copy
        Return an annotated copy (in memory) instead of annotating ``adata`` in place.
    progress
        ``callable(done, total)`` called after each chunk of cells.

    Returns
    -------
    The annotated copy if ``copy``, else None.
    """
    from .classifier import classify as run

    _check_adata(adata)
    if copy:
        adata = adata.to_memory() if adata.isbacked else adata.copy()
    m = _resolve_model(adata, species, model, symbol_col)
    zin = None
    if zonation:  # the hepatocytes' zonated genes are gathered on the classifier's pass over the matrix
        from .io import gene_symbols
        from .zones import ZonationInput

        data_species = query_species or m.species
        zin = ZonationInput.for_species(gene_symbols(adata, symbol_col, species=data_species), data_species,
                                        class_lineages=m.class_lineages())
    run(adata, m, layer=layer, symbol_col=symbol_col, input_kind=input_kind, query_species=query_species,
        chunk_size=chunk_size, refit_below=refit_below, min_confidence=min_confidence,
        min_similarity=min_similarity, key_added=key_added, progress=progress,
        on_chunk=zin.add_candidates if zin is not None else None)
    if zonation:
        from .zones import zonation as place

        place(adata, key=key_added, layer=layer, symbol_col=symbol_col, expression=zin)
    return adata if copy else None


def zonation(adata, *, key: str = "liver", species: str | None = None, layer: str | None = None,
             symbol_col: str | None = None, exclude_genes=(), key_added: str | None = None) -> int:
    """Place every cell called hepatocyte by :func:`classify` on the lobule's central-portal axis,
    from Halpern et al. 2017's layer profiles of ~1,200-1,500 zonated genes (method:
    :mod:`liverannot.zones`). Adds obs ``{key}_zonation`` (0 pericentral ... 1 periportal),
    ``{key}_zonation_layer`` (Halpern's layers 1-9), ``{key}_zonation_confidence`` and
    ``{key}_zonation_genes`` (zonated genes detected), NaN for other cells; returns the number of
    hepatocytes placed. ``la.classify`` runs it already unless ``zonation=False``."""
    from .zones import zonation as place

    _check_adata(adata)
    return place(adata, key=key, species=species, layer=layer, symbol_col=symbol_col, exclude_genes=exclude_genes,
                 key_added=key_added)


def annotate(adata, groupby: str = "leiden", mode: str = "mode", *, key: str = "liver",
             key_added: str | None = None, n_genes: int = 5):
    """One liver cell type per cluster of ``obs[groupby]``, from the per-cell calls of :func:`classify`.

    ``mode="mode"``: the most frequent per-cell call (majority vote); ``mode="proba"``: the class
    with the largest summed probability. Adds obs ``{key}_cluster_annotation`` (or ``key_added``) and
    its ``_lineage``, and returns the per-cluster table (cells, label, lineage, agreement, mean
    confidence, supporting marker genes), also kept in uns.
    """
    from .annotation import annotate_clusters

    _check_adata(adata)
    return annotate_clusters(adata, cluster_key=groupby, mode=mode, key=key, key_added=key_added, n_genes=n_genes)


def detect_species(adata, symbol_col: str | None = None) -> str:
    """The species whose shipped model shares the most genes with ``adata``."""
    from .classifier import detect_species as run

    _check_adata(adata)
    return run(adata, symbol_col)
