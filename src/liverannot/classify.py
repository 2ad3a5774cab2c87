"""Classify every cell with a liver model, chunk by chunk (the whole matrix is never densified)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import GeneMatchError
from .io import (check_values, counts_layer, detect_kind, gene_id_hint, gene_names, gene_symbols, get_matrix,
                 iter_row_chunks, linear_expression, reference_genomes, several_species, strip_genome_prefixes)
from .model import SPECIES, Model, shipped_model_path
from .reference import NONLIVER_CLASS, lineage_vocabulary, unassigned_label
from .simulate import correlations as profile_correlations

log = logging.getLogger(__name__)

MIN_SHARED_GENES = 50


def _other_species_overlap(symbols: set[str], species: str) -> tuple[str, int] | None:
    for other in SPECIES:
        if other == species:
            continue
        path = shipped_model_path(other, "nn") / "genes.txt"
        if path.exists():
            return other, len(symbols & set(path.read_text().split()))
    return None


def gene_mapping(symbols, model_genes) -> tuple[sp.csr_matrix, np.ndarray]:
    """Sparse (query genes x model genes) 0/1 matrix summing duplicate symbols, and the mask of
    model genes the query has."""
    pos = {g: i for i, g in enumerate(model_genes)}
    rows, cols = [], []
    for j, s in enumerate(symbols):
        i = pos.get(s)
        if i is not None:
            rows.append(j)
            cols.append(i)
    M = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(symbols), len(model_genes)))
    present = np.zeros(len(model_genes), bool)
    present[cols] = True
    return M, present


def fuse(P: np.ndarray, C: np.ndarray, liver: np.ndarray, beta: float) -> np.ndarray:
    """Re-weight the classifier's probabilities among the liver classes by how well the cell
    correlates with each class's reference profile (weight exp(beta * (corr - best corr))); the
    liver classes keep their total probability, the Non-liver class keeps its own."""
    if beta <= 0 or not liver.any():
        return P
    Cl = np.where(liver[None, :], C, -np.inf)
    W = np.exp(beta * (C[:, liver] - Cl.max(axis=1, keepdims=True)))
    Q = P.copy()
    mass = P[:, liver].sum(axis=1, keepdims=True)
    fused = P[:, liver] * W
    Q[:, liver] = fused / np.maximum(fused.sum(axis=1, keepdims=True), 1e-12) * mass
    return Q


def with_mixtures(C: np.ndarray, M: np.ndarray, mix_class: np.ndarray) -> np.ndarray:
    """``C`` (cells x classes correlations) with each class's entry raised to the cell's best
    correlation among that class's mixture profiles (``M``: cells x mixtures, of class ``mix_class``)."""
    if not len(mix_class):
        return C
    out = C.copy()
    for j in np.unique(mix_class):
        np.maximum(out[:, j], M[:, mix_class == j].max(axis=1), out=out[:, j])
    return out


def _lineage_sums(proba: np.ndarray, lineages: np.ndarray, names, keep: np.ndarray) -> np.ndarray:
    """Cells x ``names``: the summed probability of each lineage's classes among ``keep``."""
    return np.stack([proba[:, keep & (lineages == ln)].sum(1) for ln in names], axis=1)


def _best_in_lineage(proba: np.ndarray, lineages: np.ndarray, chosen: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Each cell's most probable class among ``keep`` within its ``chosen`` lineage (class indices)."""
    return np.where(keep[None, :] & (lineages[None, :] == chosen[:, None]), proba, -1).argmax(1)


def marker_genes(model: Model, n: int = 30) -> dict[str, list[str]]:
    """For each class, the model genes most specific to it in the reference (for explanations)."""
    L = model.log_profiles()
    out = {}
    for i, c in enumerate(model.classes):
        others = np.delete(L, i, axis=0).max(axis=0)
        score = L[i] - others
        out[c] = [model.genes[j] for j in np.argsort(-score)[:n]]
    return out


def classify(adata, model: Model, *, layer: str | None = None, symbol_col: str | None = None,
             input_kind: str | None = None, chunk_size: int = 20000, refit_below: float = 0.6,
             min_confidence: float | None = None, min_similarity: float | None = None,
             query_species: str | None = None, key_added: str = "liver", progress=None):
    """Predict a liver cell type for every cell of ``adata``.

    Adds obs ``{key}_celltype`` (fine label or ``Unassigned``), ``{key}_lineage``,
    ``{key}_confidence`` (calibrated probability of the call, 0..1), ``{key}_similarity`` (correlation
    with the called class's reference profile), ``{key}_best_celltype`` and ``{key}_best_lineage``
    (the best liver call ignoring the Unassigned rules), obsm ``{key}_proba`` (cells x classes) and
    uns ``{key}_classify`` (classes, model, genes shared, detected input kind, thresholds).
    Raw counts are taken from ``layer``, else layer ``counts`` if present, else X. With
    ``query_species`` other than the model's, gene symbols are translated through one-to-one
    orthologs first (a human model on mouse data, or the reverse).
    """
    layer = counts_layer(adata, layer)
    X = get_matrix(adata, layer)
    matrix_name = f"matrix {'layers[' + repr(layer) + ']' if layer else 'X'}"
    kind_report = detect_kind(X) if input_kind is None else None
    kind = input_kind or kind_report.kind
    if kind_report is not None:
        log.info("classify input: %s", kind_report.detail)
    symbols = gene_symbols(adata, symbol_col, species=query_species or model.species)
    if query_species and query_species != model.species:
        from .orthologs import translate

        symbols = translate(symbols, query_species, model.species)
        log.info("query genes translated %s -> %s through one-to-one orthologs", query_species, model.species)
    M, present = gene_mapping(symbols, model.genes)
    n_shared = int(present.sum())
    frac = n_shared / len(model.genes)
    if n_shared < MIN_SHARED_GENES:
        hint = ""
        other = _other_species_overlap(set(symbols), model.species)
        if other and other[1] > max(3 * n_shared, MIN_SHARED_GENES):
            hint = (f" The query shares {other[1]} genes with the {other[0]} model: is this {other[0]} "
                    f"data? Use --species {other[0]}.")
        else:
            hint = gene_id_hint(symbols) or " Check that genes are identified by symbols (e.g. ALB, Alb) of the model's species."
        raise GeneMatchError(f"only {n_shared} of the {model.species} {model.kind} model's "
                             f"{len(model.genes)} genes are in the query (at least {MIN_SHARED_GENES} "
                             f"needed).{hint}")
    refit = False
    if frac < refit_below:
        avail = set(symbols) & set(model.reference.genes)
        log.warning("query shares %d of %d model genes (%.0f%%): refitting the %s model on the %d reference "
                    "genes the query has", n_shared, len(model.genes), 100 * frac, model.kind, len(avail))
        model = model.refit(avail)
        M, present = gene_mapping(symbols, model.genes)
        refit = True
    elif frac < 0.95:
        log.info("query shares %d of %d model genes (%.0f%%)", n_shared, len(model.genes), 100 * frac)
    # similarity is computed over the genes the query has, against profiles renormalised to them
    shared_genes = [g for g, p in zip(model.genes, present) if p]
    logprof_shared = model.reference.log_profiles(shared_genes)
    # the fusion also credits each non-hepatocyte class with its best match among its mixtures with
    # hepatocyte RNA, so a sorted immune cell carrying hepatocyte fragments is not pulled to hepatocyte
    mix_prof, mix_class = model.reference.hepatocyte_mixtures(shared_genes, model.lineage,
                                                              model.settings.get("fusion_hepatocyte_mix", []))
    all_present = bool(present.all())
    reuse_correlations = all_present and model.feature_profiles is not None
    # one correlation pass per chunk: the class profiles (unless the features hold them) and the mixtures
    n_prof = logprof_shared.shape[0]
    corr_prof = mix_prof if reuse_correlations else np.vstack([logprof_shared, mix_prof])
    n = adata.n_obs
    n_classes = len(model.classes)
    proba = np.empty((n, n_classes), dtype=np.float32)
    sim = np.empty(n, dtype=np.float32)
    # a Non-liver call needs positive evidence: enough of the cell's counts in non-liver marker genes
    nl_genes = set(model.settings.get("nonliver_genes", []))
    nl_vec = np.array([g in nl_genes for g in model.genes], dtype=np.float32)
    nl_class = model.classes.index(NONLIVER_CLASS) if NONLIVER_CLASS in model.classes else None
    nl_share = np.zeros(n, dtype=np.float32)
    min_nl = model.min_nonliver_share
    liver_mask = np.array([c != NONLIVER_CLASS for c in model.classes])
    beta = float(model.settings.get("fusion_beta", 0.0))
    buf = None
    for start, stop, block in iter_row_chunks(X, chunk_size):
        check_values(block, f"{matrix_name} (cells {start}-{stop})")  # checked as read: one pass
        block = linear_expression(block, kind)
        G = block @ M  # cells x model genes, sparse when the input is: log1p runs on the nonzeros
        G = G.tocsr() if sp.issparse(G) else np.asarray(G)
        if buf is None or buf.shape[0] < G.shape[0]:
            buf = np.empty((G.shape[0], model.n_features), dtype=np.float32)  # reused by every chunk
        Fx = model.featurize(G, out=buf[:G.shape[0]])
        # log1p CP10k within the model genes: absent genes are 0 columns, so logG[:, present]
        # equals the features of G[:, present]
        logG = Fx[:, :len(model.genes)]
        P = model.predict_proba(Fx)
        if nl_class is not None:
            tot = np.asarray(G.sum(axis=1)).ravel()
            share = np.divide(np.asarray(G @ nl_vec).ravel(), tot, out=np.zeros(len(tot)), where=tot > 0)
            nl_share[start:stop] = share
            gate = share < min_nl
            if gate.any():
                P[gate, nl_class] = 0.0
                P[gate] /= P[gate].sum(axis=1, keepdims=True)
        R = profile_correlations(logG if all_present else logG[:, present], corr_prof) if len(corr_prof) else None
        if reuse_correlations:  # every model gene present: the correlation features are the same numbers
            C, Mx = Fx[:, -n_prof:], R
        else:
            C, Mx = R[:, :n_prof], R[:, n_prof:]
        P = fuse(P, with_mixtures(C, Mx, mix_class), liver_mask, beta)
        proba[start:stop] = P
        sim[start:stop] = C[np.arange(len(P)), P.argmax(1)]
        if progress is not None:
            progress(stop, n)
    min_conf = model.min_confidence if min_confidence is None else min_confidence
    min_sim = model.min_similarity if min_similarity is None else min_similarity
    best = proba.argmax(axis=1)
    conf = proba[np.arange(n), best]
    classes = np.array(model.classes, dtype=object)
    lineages = np.array(model.class_lineages(), dtype=object)
    # lineage confidence: the summed probability of the called lineage (a cell torn between two
    # hepatocyte zones is still confidently a hepatocyte)
    lin_names = sorted(set(lineages))
    every = np.ones(len(lineages), bool)
    lin_proba = _lineage_sums(proba, lineages, lin_names, every)
    lin_best = lin_proba.argmax(1)
    lin_conf = np.clip(lin_proba[np.arange(n), lin_best], 0.0, 1.0)  # float32 sums may exceed 1 by 1e-7
    ua = unassigned_label()
    # fine label = best class within the called lineage
    fine = _best_in_lineage(proba, lineages, np.array(lin_names, dtype=object)[lin_best], every)
    nonliver = classes[fine] == NONLIVER_CLASS
    low_conf = lin_conf < min_conf
    low_sim = sim < min_sim
    assigned = ~(nonliver | low_conf | low_sim)
    reason = np.where(nonliver, "non_liver", np.where(low_conf, "low_confidence", np.where(low_sim, "low_similarity", "")))
    celltype = np.where(assigned, classes[fine], ua)
    lineage = np.where(assigned, np.array(lin_names, dtype=object)[lin_best], "unassigned")
    vocabulary = [c for c in model.classes if c != NONLIVER_CLASS] + [ua]
    adata.obs[f"{key_added}_celltype"] = pd.Categorical(celltype, categories=vocabulary)
    adata.obs[f"{key_added}_lineage"] = pd.Categorical(lineage, categories=list(lineage_vocabulary()))
    adata.obs[f"{key_added}_confidence"] = lin_conf.astype(np.float32)
    # the best liver call whatever the Unassigned rules say (what an Unassigned cell most resembles;
    # what a classifier without an Unassigned answer would say)
    liver_lin = [ln for ln in lin_names if (lineages[liver_mask] == ln).any()]
    best_lin = np.array(liver_lin, dtype=object)[_lineage_sums(proba, lineages, liver_lin, liver_mask).argmax(1)]
    best_fine = _best_in_lineage(proba, lineages, best_lin, liver_mask)
    adata.obs[f"{key_added}_best_celltype"] = pd.Categorical(classes[best_fine], categories=vocabulary[:-1])
    adata.obs[f"{key_added}_best_lineage"] = pd.Categorical(best_lin, categories=[ln for ln in lineage_vocabulary()
                                                                                  if ln in liver_lin])
    adata.obs[f"{key_added}_celltype_confidence"] = np.clip(proba[np.arange(n), fine], 0.0, 1.0).astype(np.float32)
    adata.obs[f"{key_added}_similarity"] = sim
    adata.obs[f"{key_added}_nonliver_share"] = nl_share
    adata.obs[f"{key_added}_unassigned_reason"] = pd.Categorical(
        reason, categories=["", "non_liver", "low_confidence", "low_similarity"])
    adata.obsm[f"{key_added}_proba"] = proba
    adata.uns[f"{key_added}_classify"] = {
        "classes": list(model.classes), "lineages": list(model.class_lineages()),
        "species": model.species, "model": model.kind, "n_model_genes": int(len(present)),
        "n_shared_genes": n_shared, "refit_on_shared_genes": refit, "input_kind": kind,
        "min_confidence": float(min_conf), "min_similarity": float(min_sim),
        "query_species": query_species or model.species, "fusion_beta": beta,
        "n_unassigned": int((~assigned).sum()), "symbol_col": symbol_col, "min_nonliver_share": float(min_nl),
        "marker_genes": marker_genes(model),
    }
    log.info("classified %d cells: %d unassigned (%.1f%%: %d non-liver, %d low confidence, %d low similarity)",
             n, (~assigned).sum(), 100 * (~assigned).mean(), nonliver.sum(), (low_conf & ~nonliver).sum(),
             (low_sim & ~low_conf & ~nonliver).sum())
    return adata


def detect_species(adata, symbol_col: str | None = None) -> str:
    """The species whose shipped model shares the most genes with the query."""
    names = gene_names(adata, symbol_col)
    if several_species(reference_genomes(names)):
        raise GeneMatchError("cannot tell the species:" + gene_id_hint(names))
    symbols = set(strip_genome_prefixes(names))
    best, best_n = None, -1
    counts = {}
    for sp_name in SPECIES:
        path = shipped_model_path(sp_name, "nn") / "genes.txt"
        if not path.exists():
            continue
        n = len(symbols & set(path.read_text().split()))
        counts[sp_name] = n
        if n > best_n:
            best, best_n = sp_name, n
    if best is None or best_n < MIN_SHARED_GENES:
        raise GeneMatchError(f"cannot tell the species: the query shares {counts} genes with the shipped "
                             f"models.{gene_id_hint(names) or ' Are genes identified by symbols? Pass --species and --symbol-col.'}")
    log.info("species detected from gene names: %s (%s shared genes)", best, counts)
    return best
