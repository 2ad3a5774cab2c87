"""Hepatocyte zonation: place every hepatocyte on the lobule's central-portal axis.

Method (reference: Halpern et al. 2017, Nature 542:352, shipped in ``data/``): Halpern measured
the expression of 2,166 mouse genes across 9 lobule layers (1 = pericentral ... 9 = periportal) by
single-molecule FISH-anchored spatial reconstruction, given as each gene's z-scored profile over the
layers (human: the same profiles under one-to-one human orthologs).

1. Genes: those of Halpern's table whose profile is zonated along the axis (|Pearson correlation
   of the profile with the layer number| >= ``MIN_GENE_ZONATION``) and that the query has.
2. Expression: log1p CP10k of every hepatocyte (counts from the layer the classifier read), each
   gene standardized across the sample's hepatocytes, as Halpern's profiles are standardized across
   layers: a liver sample's hepatocytes span the lobule, so the sample's mean is the lobule's mean.
3. Per cell, the Pearson correlation (over the zonated genes) of its standardized expression with
   each layer's profile; the layer is the best-matching one, refined between layers by a parabola
   through the best correlation and its neighbours; ``zonation = (layer - 1) / 8`` (0 pericentral,
   1 periportal). Hundreds of genes vote, so a dropout of any few moves a cell little.
4. Confidence: the best correlation (0..1) and the number of zonated genes detected in the cell.

Non-hepatocytes (and Unassigned cells) get NaN.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np
import pandas as pd

from .errors import LiverannotError

log = logging.getLogger(__name__)

N_LAYERS = 9
MIN_GENE_ZONATION = 0.7     # |corr(gene's layer profile, layer number)|: the gene is zonated along the axis
MIN_GENES = 20              # fewer zonated genes in the query: no zonation
MIN_HEPATOCYTES = 5         # fewer hepatocytes: the sample's standardization is meaningless
#: classic landmarks (Halpern 2017; Ben-Moshe 2019): the benchmark leaves them out of the scoring
LANDMARKS = {
    "mouse": {"pericentral": ["Cyp2e1", "Glul", "Oat", "Cyp1a2"], "periportal": ["Cyp2f2", "Hal", "Sds", "Ass1", "Pck1"]},
    "human": {"pericentral": ["CYP2E1", "GLUL", "OAT", "CYP1A2"], "periportal": ["HAL", "SDS", "ASS1", "PCK1"]},
}


@lru_cache(maxsize=None)
def layer_profiles(species: str) -> pd.DataFrame:
    """Halpern 2017's z-scored layer profiles (genes x layers 1..9) for ``species``."""
    from .reference import data_path

    if species not in ("human", "mouse"):
        raise LiverannotError(f"no zonation reference for species {species!r} (human, mouse).")
    df = pd.read_csv(data_path(f"zonation_halpern2017_{species}.tsv.gz"), sep="\t", index_col=0)
    df = df[~df.index.duplicated()]
    df.columns = list(range(1, N_LAYERS + 1))
    return df.astype(np.float64)


class ZonationInput:
    """The zonated genes' expression of the cells to be placed, gathered chunk by chunk: by the
    classifier's own pass over the matrix (:meth:`add_candidates`, every cell whose most probable
    lineage is hepatocyte: a superset of the cells finally called hepatocyte) or by a pass of its
    own (:meth:`add`). Keeps, per cell, the log1p CP10k of the zonated genes (library size over all
    its genes; sparse), so the zonation needs no second read of the data."""

    def __init__(self, columns, *, class_lineages=None):
        self.columns = np.asarray(columns, dtype=np.int64)   # query gene positions gathered
        self.active = len(self.columns) > 0
        self._lineage_matrix = self._hep_col = None
        if class_lineages is not None:
            names = sorted(set(class_lineages))
            self._lineage_matrix = np.array([[ln == n for n in names] for ln in class_lineages], np.float32)
            self._hep_col = names.index("hepatocyte") if "hepatocyte" in names else None
        self.rows, self._values = [], []

    @classmethod
    def for_species(cls, symbols, species: str, *, exclude_genes=(), min_zonation: float = MIN_GENE_ZONATION,
                    class_lineages=None) -> "ZonationInput":
        """The zonated genes of ``species`` (less ``exclude_genes``) that the query's ``symbols`` have
        (first of duplicate symbols); gathers nothing when they are fewer than :data:`MIN_GENES`."""
        Z = zonated_genes(species, min_zonation)
        Z = Z.drop(index=[g for g in exclude_genes if g in Z.index])
        symbols = pd.Index(symbols)
        first = pd.Series(np.arange(len(symbols)), index=symbols)
        first = first[~first.index.duplicated()]
        genes = [g for g in Z.index if g in first.index]
        zin = cls(first[genes].to_numpy(), class_lineages=class_lineages)
        zin.active = len(genes) >= MIN_GENES
        zin.species, zin.genes, zin.profiles, zin.n_reference_genes = species, genes, Z.loc[genes].to_numpy(), len(Z)
        return zin

    def add(self, start: int, block, keep: np.ndarray) -> None:
        """Keep the rows ``keep`` (bool mask) of ``block`` (linear expression of cells start.., all
        genes): their log1p CP10k (library size over all genes) of the gathered genes, sparse float32
        with 16-bit gene indices where they fit (a 1M-cell sample's hepatocytes hold ~10^8 values)."""
        import scipy.sparse as sp

        idx = np.flatnonzero(keep)
        if not len(idx) or not self.active:
            return
        sub = block[idx]
        total = np.asarray(sub.sum(axis=1), dtype=np.float64).ravel()
        V = sp.csr_matrix(sub[:, self.columns], dtype=np.float64)
        V.data *= np.repeat(1e4 / np.maximum(total, 1e-12), np.diff(V.indptr))
        np.log1p(V.data, out=V.data)
        small = np.uint16 if len(self.columns) < 2 ** 16 else np.int32
        self._values.append((V.data.astype(np.float32), V.indices.astype(small), np.diff(V.indptr)))
        self.rows.append(idx + start)

    def add_candidates(self, start: int, block, proba: np.ndarray) -> None:
        """Keep the cells of ``block`` whose most probable lineage (summed class probabilities, as the
        classifier decides) is hepatocyte."""
        if self._lineage_matrix is None or self._hep_col is None:
            return
        lin = proba @ self._lineage_matrix
        self.add(start, block, lin[:, self._hep_col] >= lin.max(axis=1))

    def log_expression(self, cells: np.ndarray) -> "RowBlocks":
        """log1p CP10k (``cells`` x gathered genes, sparse float32) of gathered ``cells`` (sorted),
        kept compact (:class:`RowBlocks`: scipy CSR row blocks on demand). The other gathered cells
        (candidates not called hepatocyte) are dropped, freeing their values."""
        rows = np.concatenate(self.rows) if self.rows else np.zeros(0, np.int64)
        pos = np.searchsorted(rows, cells)
        if len(cells) and (pos.max() >= len(rows) or not np.array_equal(rows[pos], cells)):
            raise LiverannotError("zonation: a hepatocyte's expression was not gathered during classification.")
        keep = np.zeros(len(rows), bool)
        keep[pos] = True
        parts, self._values = self._values, []
        start = 0
        while parts:  # part by part (each a classifier chunk's), the dropped cells' values freed as we go
            d, i, c = parts.pop(0)
            rows_keep = keep[start:start + len(c)]
            start += len(c)
            if not rows_keep.all():
                k = np.repeat(rows_keep, c)
                d, i, c = d[k], i[k], c[rows_keep]
            self._values.append((d, i, c))
        self.rows = [cells.copy()]
        return RowBlocks.from_parts(self._values, len(self.columns))


class RowBlocks:
    """A compact sparse matrix (float32 values, 16-bit column indices, row lengths), held as the parts
    it was gathered in (never concatenated whole: a 1M-cell sample's hepatocytes hold ~10^8 values),
    that hands out scipy CSR blocks of rows: ``M[a:b]``."""

    def __init__(self, data, indices, counts, n_cols: int):
        self._set_parts([(data, indices, counts)], n_cols)

    @classmethod
    def from_parts(cls, parts, n_cols: int) -> "RowBlocks":
        """Rows of ``parts`` ((data, indices, row lengths) each) one after the other."""
        m = cls.__new__(cls)
        m._set_parts(parts, n_cols)
        return m

    def _set_parts(self, parts, n_cols: int) -> None:
        self._parts = [(d, i, np.concatenate([[0], np.cumsum(c, dtype=np.int64)])) for d, i, c in parts]
        self._first_row = np.concatenate([[0], np.cumsum([len(c) for _, _, c in parts], dtype=np.int64)])
        self.shape = (int(self._first_row[-1]), n_cols)

    def __getitem__(self, rows: slice):
        import scipy.sparse as sp

        a, b, _ = rows.indices(self.shape[0])
        b = max(a, b)
        data, indices, lengths = [], [], []
        for k in range(len(self._parts)):
            lo, hi = int(self._first_row[k]), int(self._first_row[k + 1])
            if hi <= a or lo >= b or hi == lo:
                continue
            d, i, ptr = self._parts[k]
            r0, r1 = max(a, lo) - lo, min(b, hi) - lo
            p, q = ptr[r0], ptr[r1]
            data.append(d[p:q])
            indices.append(i[p:q].astype(np.int32))
            lengths.append(np.diff(ptr[r0:r1 + 1]))
        indptr = np.concatenate([[0], np.cumsum(np.concatenate(lengths), dtype=np.int64)]) if lengths \
            else np.zeros(b - a + 1, np.int64)
        return sp.csr_matrix((np.concatenate(data) if data else np.zeros(0, np.float32),
                              np.concatenate(indices) if indices else np.zeros(0, np.int32), indptr),
                             shape=(b - a, self.shape[1]))

    def toarray(self) -> np.ndarray:
        return self[0:self.shape[0]].toarray()


def gather(adata, cells: np.ndarray, zin: ZonationInput, *, layer: str | None = None, kind: str | None = None,
           chunk_size: int = 20000) -> None:
    """Fill ``zin`` with ``cells`` (sorted indices) in one pass over the raw matrix the classifier
    reads (``layer``, else ``layers['counts']``, else X), its kind detected unless given."""
    from .io import check_values, counts_layer, detect_kind, get_matrix, iter_row_chunks, linear_expression

    X = get_matrix(adata, counts_layer(adata, layer))
    kind = kind or detect_kind(X).kind
    keep = np.zeros(X.shape[0], bool)
    keep[cells] = True
    for start, stop, block in iter_row_chunks(X, chunk_size):
        if keep[start:stop].any():
            check_values(block, "zonation input")
            zin.add(start, linear_expression(block, kind), keep[start:stop])


def log_cp10k_cells(adata, cells, columns, *, layer: str | None = None, kind: str | None = None) -> np.ndarray:
    """log1p CP10k (dense float64, cells x columns) of the genes at positions ``columns`` in the
    rows ``cells`` (sorted), each cell's library size taken over all its genes. The raw matrix is the
    one the classifier reads (``layer``, else ``layers['counts']``, else X), its kind (counts,
    normalized, log1p) detected unless given."""
    zin = ZonationInput(columns)
    cells = np.asarray(cells)
    gather(adata, cells, zin, layer=layer, kind=kind)
    return zin.log_expression(cells).toarray().astype(np.float64)


@lru_cache(maxsize=None)
def zonated_genes(species: str, min_zonation: float = MIN_GENE_ZONATION) -> pd.DataFrame:
    """The layer profiles of the genes zonated along the central-portal axis."""
    Z = layer_profiles(species)
    axis = np.arange(1, N_LAYERS + 1, dtype=float)
    r = np.array([np.corrcoef(row, axis)[0, 1] for row in Z.to_numpy()])
    return Z[np.abs(np.nan_to_num(r)) >= min_zonation]


def _peak(R: np.ndarray) -> np.ndarray:
    """The continuous layer (1..9) of each row's best correlation, refined by a parabola through
    the best layer and its two neighbours."""
    best = R.argmax(1)
    pos = best.astype(float)
    inner = (best > 0) & (best < R.shape[1] - 1)
    i = np.where(inner)[0]
    y0, y1, y2 = R[i, best[i] - 1], R[i, best[i]], R[i, best[i] + 1]
    den = y0 - 2 * y1 + y2
    shift = np.divide(0.5 * (y0 - y2), den, out=np.zeros_like(den), where=den < 0)
    pos[i] += np.clip(shift, -0.5, 0.5)
    return pos + 1


def score_hepatocytes(log_expr, profiles: np.ndarray, chunk_size: int = 10_000) -> dict[str, np.ndarray]:
    """Zonation of hepatocytes from their log expression (cells x genes, dense or sparse, the genes
    of ``profiles``, genes x 9 layers): standardized across the cells, correlated with each layer's
    profile. The standardized matrix is never formed: with s = 1/sd and the layer profiles centred
    over the genes (Bc), a cell's centred product is L_i (s Bc) - (mu s) Bc and its squared norm
    comes from L_i^2 s^2, L_i (mu s^2) and L_i s, so a sparse matrix stays sparse (arithmetic in
    float64, ``chunk_size`` cells at a time)."""
    import scipy.sparse as sp

    L = log_expr if isinstance(log_expr, RowBlocks) else (
        sp.csr_matrix(log_expr) if sp.issparse(log_expr) else np.asarray(log_expr))
    n, n_genes = L.shape

    def chunks():
        for a in range(0, n, chunk_size):
            b = min(n, a + chunk_size)
            block = L[a:b]
            yield a, b, (sp.csr_matrix(block, dtype=np.float64) if sp.issparse(block) else np.asarray(block, np.float64))

    col1, col2 = np.zeros(n_genes), np.zeros(n_genes)
    for _, _, C in chunks():
        col1 += np.asarray(C.sum(axis=0)).ravel()
        col2 += np.asarray((C.multiply(C) if sp.issparse(C) else C * C).sum(axis=0)).ravel()
    mu = col1 / max(n, 1)
    sd = np.sqrt(np.maximum(col2 / max(n, 1) - mu * mu, 0.0))
    keep = sd > 1e-12 * np.maximum(1.0, np.abs(mu))
    s = np.where(keep, 1.0 / np.where(keep, sd, 1.0), 0.0)  # dropped genes weigh nothing
    g = int(keep.sum())
    Bc = np.where(keep[:, None], profiles - (profiles[keep].mean(axis=0, keepdims=True) if g else 0.0), 0.0)
    sBc, s2 = s[:, None] * Bc, s * s
    const_num, const_norm, const_mean = (mu * s) @ Bc, float((mu * mu) @ s2), float(mu @ s)
    b_norm = np.sqrt((Bc * Bc).sum(0))
    R = np.zeros((n, profiles.shape[1]))
    detected = np.zeros(n, np.int64)
    for a, b, C in chunks():
        sq = C.multiply(C) if sp.issparse(C) else C * C
        num = np.asarray(C @ sBc) - const_num
        norm2 = np.asarray(sq @ s2).ravel() - 2 * np.asarray(C @ (mu * s2)).ravel() + const_norm
        mean_x = (np.asarray(C @ s).ravel() - const_mean) / max(g, 1)
        den = np.sqrt(np.maximum(norm2 - g * mean_x * mean_x, 0.0))[:, None] * b_norm[None, :]
        R[a:b] = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        detected[a:b] = np.asarray((C[:, keep] > 0).sum(1)).ravel()
    layer = _peak(R)
    return {"zonation": ((layer - 1) / (N_LAYERS - 1)).astype(np.float32),
            "layer": np.clip(np.rint(layer), 1, N_LAYERS).astype(np.int64),
            "confidence": np.clip(R.max(1) if n else np.zeros(0), 0, 1).astype(np.float32),
            "n_genes": detected, "n_genes_used": g}


def zonation(adata, *, key: str = "liver", key_added: str | None = None, species: str | None = None,
             layer: str | None = None, symbol_col: str | None = None, exclude_genes=(),
             min_zonation: float = MIN_GENE_ZONATION, min_hepatocytes: int = MIN_HEPATOCYTES,
             expression: ZonationInput | None = None):
    """Place every cell called hepatocyte (obs ``{key}_lineage``) on the central-portal axis.

    Adds obs ``{key_added}`` (0 pericentral ... 1 periportal), ``{key_added}_layer`` (1-9, Halpern's
    layers), ``{key_added}_confidence`` (best correlation with a layer profile, 0..1) and
    ``{key_added}_genes`` (zonated genes detected in the cell); NaN (layer 0, genes 0) for other
    cells. uns ``{key_added}``: the method's settings and gene count. ``key_added`` defaults to
    ``{key}_zonation``; ``exclude_genes`` leaves genes out of the scoring (the benchmark's held-out
    landmarks). Counts are read as the classifier read them (``layer``, else ``layers['counts']``,
    else X), in one pass over the hepatocytes' rows, unless ``expression`` (a :class:`ZonationInput`
    that the classifier filled on its own pass) already holds them. Returns the number of
    hepatocytes placed.
    """
    from .io import gene_symbols

    key_added = key_added or f"{key}_zonation"
    lin_col = f"{key}_lineage"
    if lin_col not in adata.obs:
        raise LiverannotError(f"no per-cell calls in obs ({lin_col}): run la.classify(adata) "
                              f"(liverannot classify) before the zonation.")
    info = adata.uns.get(f"{key}_classify", {})
    species = species or info.get("query_species") or info.get("species")
    symbol_col = symbol_col or info.get("symbol_col")
    n = adata.n_obs
    out = {"zonation": np.full(n, np.nan, np.float32), "layer": np.zeros(n, np.int64),
           "confidence": np.full(n, np.nan, np.float32), "n_genes": np.zeros(n, np.int64)}
    hep = np.where(adata.obs[lin_col].astype(str).to_numpy() == "hepatocyte")[0]
    if expression is None:
        expression = ZonationInput.for_species(gene_symbols(adata, symbol_col, species=species), species,
                                               exclude_genes=exclude_genes, min_zonation=min_zonation)
        if len(hep) >= min_hepatocytes and expression.active:
            gather(adata, hep, expression, layer=layer, kind=info.get("input_kind"))
    genes = expression.genes
    summary = {"method": "Halpern 2017 layer profiles: correlation over zonated genes", "species": species,
               "n_hepatocytes": int(len(hep)), "n_zonated_genes_reference": int(expression.n_reference_genes),
               "n_zonated_genes_query": len(genes), "min_gene_zonation": float(min_zonation),
               "excluded_genes": sorted(set(exclude_genes) & set(layer_profiles(species).index))}
    if len(hep) < min_hepatocytes or len(genes) < MIN_GENES:
        why = (f"{len(hep)} hepatocytes (at least {min_hepatocytes} needed)" if len(hep) < min_hepatocytes
               else f"only {len(genes)} zonated genes in the query (at least {MIN_GENES} needed)")
        log.warning("zonation skipped: %s", why)
        summary["skipped"] = why
    else:
        res = score_hepatocytes(expression.log_expression(hep), expression.profiles)
        for k in ("zonation", "layer", "confidence", "n_genes"):
            out[k][hep] = res[k]
        summary["n_genes_used"] = res["n_genes_used"]
        log.info("zonation: %d hepatocytes placed with %d zonated genes (median layer %.0f)", len(hep),
                 res["n_genes_used"], np.median(res["layer"]))
    adata.obs[key_added] = out["zonation"]
    adata.obs[f"{key_added}_layer"] = out["layer"]
    adata.obs[f"{key_added}_confidence"] = out["confidence"]
    adata.obs[f"{key_added}_genes"] = out["n_genes"]
    adata.uns[key_added] = summary
    return int(len(hep)) if "skipped" not in summary else 0


def zone_counts(adata, key_added: str = "liver_zonation") -> dict[str, int]:
    """Hepatocytes per zone: pericentral (layers 1-3), mid-lobular (4-6), periportal (7-9)."""
    layer = adata.obs[f"{key_added}_layer"].to_numpy() if f"{key_added}_layer" in adata.obs else np.zeros(0)
    return {"pericentral": int(((layer >= 1) & (layer <= 3)).sum()), "midlobular": int(((layer >= 4) & (layer <= 6)).sum()),
            "periportal": int((layer >= 7).sum())}


def card_section() -> list[str]:
    """The model card's paragraph on the zonation that classify adds (one text for every card)."""
    return ["## Hepatocyte zonation", "",
            "`classify` also places every cell called hepatocyte on the lobule's central-portal axis "
            "(obs `liver_zonation`, 0 pericentral ... 1 periportal; `liver_zonation_layer` 1-9): its expression of "
            "the genes zonated in Halpern et al. 2017 (Nature 542:352; |correlation of the gene's layer profile with "
            f"the layer| >= {MIN_GENE_ZONATION}), standardized across the sample's hepatocytes, is correlated with "
            "each of the 9 layer profiles and the best layer refined between layers. It uses no parameter of this "
            "model and is not trained. Measured in benchmarks/ZONATION.md (held-out landmark genes on real "
            "hepatocytes; simulated hepatocytes of known layer).", ""]
