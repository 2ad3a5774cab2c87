"""Classify every cell with a liver model, in stages that can each be read and tested alone:

1. **genes** (:func:`match_genes`): the query's gene symbols against the model's; too few shared
   genes is an error, fewer than ``refit_below`` of them gets a model refit on the genes the query has.
2. **chunks** (:func:`score_cells`): the matrix is streamed in row chunks, never densified whole;
   each chunk is checked and turned into linear expression.
3. **features and probabilities** (:class:`ChunkScorer`): model-gene counts -> the model's features
   -> its class probabilities -> the Non-liver gate (a Non-liver call needs positive evidence) ->
   the fusion with the cell's correlation to each class's reference profile (:func:`fuse`).
4. **decisions** (:func:`decide`): lineage (summed probability of its classes), fine label (best
   class within the lineage), confidence, and the Unassigned call with its reason.
5. **outputs** (:class:`Classification`): ``to_adata`` writes obs/obsm/uns, ``to_table`` gives the
   per-cell table.

:func:`classify` runs the five in order; :func:`liverannot.classify` (the public API) adds the
model choice and species detection on top.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .constants import CLASSIFY_CHUNK_SIZE
from .errors import GeneMatchError
from .io import (check_values, counts_layer, detect_kind, gene_id_hint, gene_names, gene_symbols, get_matrix,
                 iter_row_chunks, linear_expression, reference_genomes, several_species, strip_genome_prefixes)
from .model import SPECIES, Model, shipped_model_path
from .reference import NONLIVER_CLASS, lineage_vocabulary, unassigned_label
from .simulate import correlations as profile_correlations

log = logging.getLogger(__name__)

MIN_SHARED_GENES = 50
REASONS = ("", "non_liver", "low_confidence", "low_similarity")


# ------------------------------------------------------------------------------------------
# stage 1: genes
# ------------------------------------------------------------------------------------------

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


@dataclass
class GeneMatch:
    """The query's genes against the model's (stage 1)."""

    model: Model = field(repr=False)            # scores the cells: refit on the query's genes if ``refit``
    mapping: sp.csr_matrix = field(repr=False)  # query genes x model genes, 0/1
    present: np.ndarray = field(repr=False)     # model genes the query has
    n_shared: int               # model genes the query has, before any refit
    refit: bool

    @property
    def shared_genes(self) -> list[str]:
        return [g for g, p in zip(self.model.genes, self.present) if p]


def _other_species_overlap(symbols: set[str], species: str) -> tuple[str, int] | None:
    for other in SPECIES:
        if other == species:
            continue
        path = shipped_model_path(other, "nn") / "genes.txt"
        if path.exists():
            return other, len(symbols & set(path.read_text().split()))
    return None


def match_genes(symbols, model: Model, *, refit_below: float = 0.6) -> GeneMatch:
    """Map the query's gene ``symbols`` to the model's genes; refit the model on the reference genes
    the query has when it shares less than ``refit_below`` of them; raise :class:`GeneMatchError`
    (naming the likely fix) below :data:`MIN_SHARED_GENES`."""
    M, present = gene_mapping(symbols, model.genes)
    n_shared = int(present.sum())
    n_model = len(model.genes)
    frac = n_shared / n_model
    if n_shared < MIN_SHARED_GENES:
        other = _other_species_overlap(set(symbols), model.species)
        if other and other[1] > max(3 * n_shared, MIN_SHARED_GENES):
            hint = (f" The query shares {other[1]} genes with the {other[0]} model: is this {other[0]} "
                    f"data? Use --species {other[0]} (species={other[0]!r} in Python).")
        else:
            hint = gene_id_hint(symbols) or " Check that genes are identified by symbols (e.g. ALB, Alb) of the model's species."
        raise GeneMatchError(f"only {n_shared} of the {model.species} {model.kind} model's "
                             f"{n_model} genes are in the query (at least {MIN_SHARED_GENES} "
                             f"needed).{hint}")
    refit = False
    if frac < refit_below:
        from .train import refit as refit_model

        avail = set(symbols) & set(model.reference.genes)
        log.warning("query shares %d of %d model genes (%.0f%%): refitting the %s model on the %d reference "
                    "genes the query has", n_shared, n_model, 100 * frac, model.kind, len(avail))
        model = refit_model(model, avail)
        M, present = gene_mapping(symbols, model.genes)
        refit = True
    elif frac < 0.95:
        log.info("query shares %d of %d model genes (%.0f%%)", n_shared, n_model, 100 * frac)
    return GeneMatch(model, M, present, n_shared, refit)


# ------------------------------------------------------------------------------------------
# stage 3: features -> probabilities -> Non-liver gate -> fusion, one chunk at a time
# ------------------------------------------------------------------------------------------

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


def gate_nonliver(P: np.ndarray, share: np.ndarray, nl_class: int, min_share: float) -> np.ndarray:
    """Zero the Non-liver probability of the cells with less than ``min_share`` of their model-gene
    counts in non-liver marker genes, and renormalise them (in place; returns ``P``)."""
    gate = share < min_share
    if gate.any():
        P[gate, nl_class] = 0.0
        P[gate] /= P[gate].sum(axis=1, keepdims=True)
    return P


@dataclass
class ChunkScores:
    proba: np.ndarray           # cells x classes
    similarity: np.ndarray      # correlation with the called class's reference profile
    nonliver_share: np.ndarray  # share of the cell's model-gene counts in non-liver marker genes


class ChunkScorer:
    """Scores one chunk of linear expression (cells x query genes) with the model of a
    :class:`GeneMatch`. Everything that depends only on the model and the shared genes is prepared
    once, here: the profiles the cells are correlated with (renormalised to the shared genes), the
    hepatocyte mixtures, the non-liver marker genes and the fusion weight."""

    def __init__(self, match: GeneMatch):
        model = self.model = match.model
        self.mapping, self.present = match.mapping, match.present
        # query gene -> model gene (-1: not a model gene); the mapping matrix has one 1 per query row
        self.colmap = np.full(self.mapping.shape[0], -1, np.int64)
        q, mg = self.mapping.nonzero()
        self.colmap[q] = mg
        shared_genes = match.shared_genes
        # similarity is computed over the genes the query has, against profiles renormalised to them
        logprof_shared = model.reference.log_profiles(shared_genes)
        # the fusion also credits each non-hepatocyte class with its best match among its mixtures with
        # hepatocyte RNA, so a sorted immune cell carrying hepatocyte fragments is not pulled to hepatocyte
        mix_prof, self.mix_class = model.reference.hepatocyte_mixtures(
            shared_genes, model.lineage, model.settings.get("fusion_hepatocyte_mix", []))
        self.all_present = bool(self.present.all())
        # every model gene present: the correlation features are the class-profile correlations
        self.reuse_correlations = self.all_present and model.feature_profiles is not None
        # one correlation pass per chunk: the class profiles (unless the features hold them) and the mixtures
        self.n_prof = logprof_shared.shape[0]
        self.corr_prof = mix_prof if self.reuse_correlations else np.vstack([logprof_shared, mix_prof])
        nl_genes = set(model.settings.get("nonliver_genes", []))
        self.nl_vec = np.array([g in nl_genes for g in model.genes], dtype=np.float32)
        self.nl_class = model.classes.index(NONLIVER_CLASS) if NONLIVER_CLASS in model.classes else None
        self.min_nonliver_share = model.min_nonliver_share
        self.liver_mask = np.array([c != NONLIVER_CLASS for c in model.classes])
        self.beta = float(model.settings.get("fusion_beta", 0.0))
        self._buf = None
        self._map_buffers = []  # model-gene counts of a chunk: valid until the next chunk's

    def model_gene_counts(self, block):
        """Cells x model genes (duplicate symbols summed), sparse when ``block`` is."""
        if sp.issparse(block) and block.format == "csr":
            from .kernels import map_columns

            return map_columns(block, self.colmap, self.mapping.shape[1], self._map_buffers)
        G = block @ self.mapping
        return G.tocsr() if sp.issparse(G) else np.asarray(G)

    def features(self, G) -> np.ndarray:
        """The model's features of model-gene counts ``G``, in a buffer reused by every chunk; the
        row sums of their log1p CP10k part are kept (``self.sums``) for :meth:`correlations`."""
        if self._buf is None or self._buf.shape[0] < G.shape[0]:
            self._buf = np.empty((G.shape[0], self.model.n_features), dtype=np.float32)
        self.sums = {}
        return self.model.featurize(G, out=self._buf[:G.shape[0]], sums=self.sums)

    def nonliver_share(self, G) -> np.ndarray:
        tot = np.asarray(G.sum(axis=1)).ravel()
        return np.divide(np.asarray(G @ self.nl_vec).ravel(), tot, out=np.zeros(len(tot)), where=tot > 0)

    def correlations(self, Fx: np.ndarray, sums=None) -> tuple[np.ndarray, np.ndarray]:
        """(cells x classes correlations with the reference profiles, cells x mixtures correlations);
        ``sums``: the row sums of Fx's log1p CP10k part when known (``self.sums`` after :meth:`features`)."""
        # log1p CP10k within the model genes: absent genes are 0 columns, so logG[:, present]
        # equals the features of G[:, present] (and has the same row sums)
        logG = Fx[:, :len(self.model.genes)]
        R = profile_correlations(logG if self.all_present else logG[:, self.present], self.corr_prof, sums) \
            if len(self.corr_prof) else None
        if self.reuse_correlations:  # every model gene present: the correlation features are the same numbers
            return Fx[:, -self.n_prof:], R
        return R[:, :self.n_prof], R[:, self.n_prof:]

    def __call__(self, block) -> ChunkScores:
        G = self.model_gene_counts(block)
        Fx = self.features(G)
        P = self.model.predict_proba(Fx)
        share = np.zeros(G.shape[0], dtype=np.float32)
        if self.nl_class is not None:
            share = self.nonliver_share(G)
            P = gate_nonliver(P, share, self.nl_class, self.min_nonliver_share)
        C, Mx = self.correlations(Fx, self.sums.get("log"))
        P = fuse(P, with_mixtures(C, Mx, self.mix_class), self.liver_mask, self.beta)
        return ChunkScores(P, C[np.arange(len(P)), P.argmax(1)], share)


# ------------------------------------------------------------------------------------------
# stage 2: stream the matrix in chunks through the scorer
# ------------------------------------------------------------------------------------------

def score_cells(X, kind: str, scorer: ChunkScorer, *, chunk_size: int = CLASSIFY_CHUNK_SIZE, matrix_name: str = "matrix X",
                progress=None, on_chunk=None) -> ChunkScores:
    """Every cell of ``X`` (cells x query genes; ``kind``: counts, cpm or log1p) scored chunk by chunk;
    each chunk's values are checked as they are read (one pass over the data). ``on_chunk(start,
    linear_block, proba)`` is called after each chunk is scored: what else needs the cells' values
    (the zonation's :class:`~liverannot.zones.ZonationInput`) takes them on the same pass."""
    n = X.shape[0]
    out = ChunkScores(np.empty((n, len(scorer.model.classes)), dtype=np.float32), np.empty(n, dtype=np.float32),
                      np.zeros(n, dtype=np.float32))
    for start, stop, block in iter_row_chunks(X, chunk_size, reuse=True):  # no block outlives its turn
        check_values(block, f"{matrix_name} (cells {start}-{stop})")
        lin = linear_expression(block, kind)
        s = scorer(lin)
        out.proba[start:stop], out.similarity[start:stop], out.nonliver_share[start:stop] = \
            s.proba, s.similarity, s.nonliver_share
        if on_chunk is not None:
            on_chunk(start, lin, s.proba)
        if progress is not None:
            progress(stop, n)
    return out


# ------------------------------------------------------------------------------------------
# stage 4: decisions
# ------------------------------------------------------------------------------------------

def _lineage_sums(proba: np.ndarray, lineages: np.ndarray, names, keep: np.ndarray) -> np.ndarray:
    """Cells x ``names``: the summed probability of each lineage's classes among ``keep``."""
    return np.stack([proba[:, keep & (lineages == ln)].sum(1) for ln in names], axis=1)


def _best_in_lineage(proba: np.ndarray, lineages: np.ndarray, chosen: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Each cell's most probable class among ``keep`` within its ``chosen`` lineage (class indices)."""
    return np.where(keep[None, :] & (lineages[None, :] == chosen[:, None]), proba, -1).argmax(1)


@dataclass
class Decisions:
    """The per-cell calls made from the probabilities (stage 4); arrays of one entry per cell."""

    celltype: np.ndarray             # fine label, or Unassigned
    lineage: np.ndarray              # lineage, or "unassigned"
    confidence: np.ndarray           # summed probability of the called lineage
    celltype_confidence: np.ndarray  # probability of the fine label
    best_celltype: np.ndarray        # the best liver call whatever the Unassigned rules say
    best_lineage: np.ndarray
    reason: np.ndarray               # "" (assigned), non_liver, low_confidence or low_similarity
    min_confidence: float
    min_similarity: float

    @property
    def assigned(self) -> np.ndarray:
        return self.reason == ""


def decide(proba: np.ndarray, similarity: np.ndarray, classes, class_lineages, *,
           min_confidence: float, min_similarity: float) -> Decisions:
    """Lineage, fine label, confidence and the Unassigned call of every cell.

    The lineage is the one with the largest summed probability of its classes (a cell torn between
    two hepatocyte zones is still confidently a hepatocyte); the fine label is the best class within
    it. A cell is Unassigned when its fine label is the Non-liver class (``non_liver``), its lineage
    confidence is below ``min_confidence`` (``low_confidence``) or its similarity to the called
    class's profile below ``min_similarity`` (``low_similarity``), in that order of precedence.
    """
    n = len(proba)
    classes = np.array(classes, dtype=object)
    lineages = np.array(class_lineages, dtype=object)
    lin_names = sorted(set(lineages))
    every = np.ones(len(lineages), bool)
    lin_proba = _lineage_sums(proba, lineages, lin_names, every)
    lin_best = lin_proba.argmax(1)
    lin_conf = np.clip(lin_proba[np.arange(n), lin_best], 0.0, 1.0)  # float32 sums may exceed 1 by 1e-7
    fine = _best_in_lineage(proba, lineages, np.array(lin_names, dtype=object)[lin_best], every)
    nonliver = classes[fine] == NONLIVER_CLASS
    low_conf = lin_conf < min_confidence
    low_sim = similarity < min_similarity
    assigned = ~(nonliver | low_conf | low_sim)
    reason = np.where(nonliver, "non_liver", np.where(low_conf, "low_confidence", np.where(low_sim, "low_similarity", "")))
    # the best liver call whatever the Unassigned rules say (what an Unassigned cell most resembles;
    # what a classifier without an Unassigned answer would say)
    liver_mask = classes != NONLIVER_CLASS
    liver_lin = [ln for ln in lin_names if (lineages[liver_mask] == ln).any()]
    best_lin = np.array(liver_lin, dtype=object)[_lineage_sums(proba, lineages, liver_lin, liver_mask).argmax(1)]
    best_fine = _best_in_lineage(proba, lineages, best_lin, liver_mask)
    return Decisions(celltype=np.where(assigned, classes[fine], unassigned_label()),
                     lineage=np.where(assigned, np.array(lin_names, dtype=object)[lin_best], "unassigned"),
                     confidence=lin_conf.astype(np.float32),
                     celltype_confidence=np.clip(proba[np.arange(n), fine], 0.0, 1.0).astype(np.float32),
                     best_celltype=classes[best_fine], best_lineage=best_lin, reason=reason,
                     min_confidence=float(min_confidence), min_similarity=float(min_similarity))


# ------------------------------------------------------------------------------------------
# stage 5: outputs
# ------------------------------------------------------------------------------------------

def marker_genes(model: Model, n: int = 30) -> dict[str, list[str]]:
    """For each class, the model genes most specific to it in the reference (for explanations)."""
    L = model.log_profiles()
    out = {}
    for i, c in enumerate(model.classes):
        others = np.delete(L, i, axis=0).max(axis=0)
        score = L[i] - others
        out[c] = [model.genes[j] for j in np.argsort(-score)[:n]]
    return out


@dataclass
class Classification:
    """The result of classifying a query: probabilities, decisions and how they were made."""

    obs_names: pd.Index
    model: Model                  # the model that scored the cells (a refit one if ``info['refit_on_shared_genes']``)
    scores: ChunkScores
    decisions: Decisions
    info: dict = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        return list(self.model.classes)

    @property
    def n_unassigned(self) -> int:
        return int((~self.decisions.assigned).sum())

    def probability_matrix(self) -> pd.DataFrame:
        """Cells x classes probabilities."""
        return pd.DataFrame(self.scores.proba, index=self.obs_names, columns=self.classes)

    def to_table(self, key_added: str = "liver") -> pd.DataFrame:
        """The per-cell obs columns that :meth:`to_adata` writes, as a table."""
        d, ua = self.decisions, unassigned_label()
        vocabulary = [c for c in self.model.classes if c != NONLIVER_CLASS] + [ua]
        best_lineages = [ln for ln in lineage_vocabulary() if ln in {self.model.lineage[c] for c in vocabulary[:-1]}]
        k = key_added
        cols = {
            f"{k}_celltype": pd.Categorical(d.celltype, categories=vocabulary),
            f"{k}_lineage": pd.Categorical(d.lineage, categories=list(lineage_vocabulary())),
            f"{k}_confidence": d.confidence,
            f"{k}_best_celltype": pd.Categorical(d.best_celltype, categories=vocabulary[:-1]),
            f"{k}_best_lineage": pd.Categorical(d.best_lineage, categories=best_lineages),
            f"{k}_celltype_confidence": d.celltype_confidence,
            f"{k}_similarity": self.scores.similarity,
            f"{k}_nonliver_share": self.scores.nonliver_share,
            f"{k}_unassigned_reason": pd.Categorical(d.reason, categories=list(REASONS)),
        }
        return pd.DataFrame(cols, index=self.obs_names)

    def to_adata(self, adata, key_added: str = "liver"):
        """Write obs ``{key}_*`` columns, obsm ``{key}_proba`` and uns ``{key}_classify`` into ``adata``."""
        for col, values in self.to_table(key_added).items():
            adata.obs[col] = values.to_numpy() if not isinstance(values.dtype, pd.CategoricalDtype) else values.values
        adata.obsm[f"{key_added}_proba"] = self.scores.proba
        adata.uns[f"{key_added}_classify"] = {**self.info, "n_unassigned": self.n_unassigned,
                                              "marker_genes": marker_genes(self.model)}
        return adata

    def __repr__(self) -> str:
        d = self.decisions
        n = len(d.celltype)
        reasons = pd.Series(d.reason[~d.assigned]).value_counts().to_dict()
        top = pd.Series(d.lineage).value_counts().head(5)
        return (f"liverannot Classification: {n:,} cells by the {self.model.species} {self.model.kind} model "
                f"({self.info.get('n_shared_genes')} of {self.info.get('n_model_genes')} genes shared"
                f"{', refit' if self.info.get('refit_on_shared_genes') else ''})\n"
                f"  lineages: {', '.join(f'{k} {v:,}' for k, v in top.items())}\n"
                f"  unassigned: {self.n_unassigned:,} ({', '.join(f'{k} {v}' for k, v in reasons.items()) or 'none'})")


# ------------------------------------------------------------------------------------------
# the stages in order
# ------------------------------------------------------------------------------------------

def classify_cells(adata, model: Model, *, layer: str | None = None, symbol_col: str | None = None,
                   input_kind: str | None = None, chunk_size: int = CLASSIFY_CHUNK_SIZE, refit_below: float = 0.6,
                   min_confidence: float | None = None, min_similarity: float | None = None,
                   query_species: str | None = None, progress=None, on_chunk=None) -> Classification:
    """Stages 1-4 on ``adata`` (left unchanged): the :class:`Classification` of every cell.
    ``on_chunk``: see :func:`score_cells`."""
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
    match = match_genes(symbols, model, refit_below=refit_below)
    scores = score_cells(X, kind, ChunkScorer(match), chunk_size=chunk_size, matrix_name=matrix_name,
                         progress=progress, on_chunk=on_chunk)
    used = match.model
    min_conf = used.min_confidence if min_confidence is None else min_confidence
    min_sim = used.min_similarity if min_similarity is None else min_similarity
    decisions = decide(scores.proba, scores.similarity, used.classes, used.class_lineages(),
                       min_confidence=min_conf, min_similarity=min_sim)
    info = {"classes": list(used.classes), "lineages": list(used.class_lineages()),
            "species": used.species, "model": used.kind, "n_model_genes": int(len(match.present)),
            "n_shared_genes": match.n_shared, "refit_on_shared_genes": match.refit, "input_kind": kind,
            "min_confidence": float(min_conf), "min_similarity": float(min_sim),
            "query_species": query_species or used.species, "fusion_beta": float(used.settings.get("fusion_beta", 0.0)),
            "symbol_col": symbol_col, "min_nonliver_share": float(used.min_nonliver_share)}
    result = Classification(adata.obs_names.copy(), used, scores, decisions, info)
    d = decisions
    nonliver, low_conf = d.reason == "non_liver", d.reason == "low_confidence"
    log.info("classified %d cells: %d unassigned (%.1f%%: %d non-liver, %d low confidence, %d low similarity)",
             len(d.reason), result.n_unassigned, 100 * result.n_unassigned / max(len(d.reason), 1), nonliver.sum(),
             low_conf.sum(), (d.reason == "low_similarity").sum())
    return result


def classify(adata, model: Model, *, key_added: str = "liver", **kwargs):
    """Predict a liver cell type for every cell of ``adata`` with ``model``; returns ``adata``.

    Adds obs ``{key}_celltype`` (fine label or ``Unassigned``), ``{key}_lineage``,
    ``{key}_confidence`` (calibrated probability of the called lineage, 0..1),
    ``{key}_celltype_confidence``, ``{key}_similarity`` (correlation with the called class's
    reference profile), ``{key}_best_celltype`` and ``{key}_best_lineage`` (the best liver call
    ignoring the Unassigned rules), ``{key}_nonliver_share``, ``{key}_unassigned_reason``, obsm
    ``{key}_proba`` (cells x classes) and uns ``{key}_classify`` (classes, model, genes shared,
    detected input kind, thresholds). Raw counts are taken from ``layer``, else layer ``counts`` if
    present, else X. With ``query_species`` other than the model's, gene symbols are translated
    through one-to-one orthologs first (a human model on mouse data, or the reverse). Keyword
    arguments are those of :func:`classify_cells`.
    """
    return classify_cells(adata, model, **kwargs).to_adata(adata, key_added)


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
