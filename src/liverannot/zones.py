"""Hepatocyte zonation: place every hepatocyte on the lobule's central-portal axis.

Reference: Halpern et al. 2017 (Nature 542:352, shipped in ``data/``) measured 2,166 mouse genes
across 9 lobule layers (1 = pericentral ... 9 = periportal) by smFISH-anchored spatial
reconstruction, given as each gene's z-scored profile over the layers (human: the same profiles
under one-to-one human orthologs).

1. Genes: those of Halpern's table zonated along the axis (|Pearson correlation of the profile
   with the layer number| >= ``MIN_GENE_ZONATION``) that the query has.
2. Expression: log1p CP10k of every hepatocyte (counts from the layer the classifier read), each
   gene standardized across the sample's hepatocytes (a sample's hepatocytes span the lobule).
3. A latent-position model fitted to the sample (:func:`score_hepatocytes`): a gene's standardized
   expression = the cell's offset (capture, depth: shared by its genes) + the gene's amplitude in
   this sample x Halpern's profile at the cell's position + noise of the gene's own variance.
   Amplitudes (empirical Bayes, shrunk towards the genes' common one) and noise are learnt by EM
   from the cells' posteriors over positions (quarter layers, uniform prior), starting from the
   signed mean score. A gene that is not zonated in this sample, or that dropout or another
   programme dominates, weighs little; with few hepatocytes every gene weighs alike.
4. Output: the posterior mean position, ``zonation = (position - 1) / 8`` (0 pericentral, 1
   periportal), its layer, and the posterior probability of the zone it falls in (pericentral 1-3,
   mid-lobular 4-6, periportal 7-9) as the confidence: calibrated on simulated samples
   (benchmarks/ZONATION.md).

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


def axis_correlation(profiles) -> np.ndarray:
    """Pearson correlation of each gene's layer profile (rows, 9 layers) with the layer number: > 0
    periportal, < 0 pericentral; 0 for a flat profile."""
    axis = np.arange(1, N_LAYERS + 1, dtype=float)
    return np.array([np.corrcoef(z, axis)[0, 1] if np.ptp(z) > 0 else 0.0 for z in np.asarray(profiles)])


@lru_cache(maxsize=None)
def zonated_genes(species: str, min_zonation: float = MIN_GENE_ZONATION) -> pd.DataFrame:
    """The layer profiles of the genes zonated along the central-portal axis."""
    Z = layer_profiles(species)
    r = axis_correlation(Z.to_numpy())
    return Z[np.abs(np.nan_to_num(r)) >= min_zonation]


GRID = np.linspace(1, N_LAYERS, 4 * (N_LAYERS - 1) + 1)   # positions a cell may take: quarter layers
ITERATIONS = 6              # EM rounds (simulations: positions within 0.01-0.02 layer, on average, of 20 rounds')
MIN_NOISE = 0.05            # a gene's residual variance (in its standardized units) is at least this
PRIOR_CELLS = 50           # a gene's noise: its own estimate weighs n cells, the genes' common one this many
FIT_CELLS = 20_000          # the gene parameters are learnt from at most this many hepatocytes (at random)
MIN_CELLS_PER_GENE_FIT = 50   # fewer hepatocytes: every gene gets the common amplitude and noise (simulations: the
                              # per-gene fit wins from 60 cells, loses below 30: benchmarks/ZONATION.md)
ZONES = {"pericentral": (1, 3), "midlobular": (4, 6), "periportal": (7, 9)}


def _grid_profiles(profiles: np.ndarray) -> np.ndarray:
    """Halpern's layer profiles (genes x 9) at the positions of :data:`GRID` (linear between layers)."""
    layers = np.arange(1, N_LAYERS + 1, dtype=float)
    return np.stack([np.interp(GRID, layers, z) for z in profiles]) if len(profiles) else np.zeros((0, len(GRID)))


def _zone_of(layer) -> np.ndarray:
    """The zone (0 pericentral, 1 mid-lobular, 2 periportal: :data:`ZONES`) of rounded layers."""
    layer = np.asarray(layer)
    bounds = [hi for lo, hi in ZONES.values()][:-1]
    return np.searchsorted(np.asarray(bounds), layer, side="left")


def average_ranks(x) -> np.ndarray:
    """Ranks 1..n of ``x``, tied values sharing the mean of their ranks (scipy.stats.rankdata's
    default), without importing scipy.stats (~1 s of a classify process)."""
    x = np.asarray(x).ravel()
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])   # first sorted position of each value
    ends = np.r_[starts[1:], x.size]                          # one past its last
    out = np.empty(x.size)
    out[order] = np.repeat(0.5 * (starts + 1 + ends), ends - starts)
    return out


def score_hepatocytes(log_expr, profiles: np.ndarray, chunk_size: int = 10_000,
                      iterations: int = ITERATIONS) -> dict[str, np.ndarray]:
    """Zonation of hepatocytes from their log expression (cells x genes, dense or sparse, the genes
    of ``profiles``, genes x 9 layers): a one-dimensional latent-position model fitted to the sample.

    Each gene's expression, standardized across the sample's hepatocytes (x_cg), is modelled as
    ``beta_g * z_g(p_c) + noise`` with variance ``r_g``: z_g is Halpern's profile of the gene along
    the lobule (its shape and direction, from the spatial reference), p_c the cell's position (1..9,
    :data:`GRID`), ``beta_g >= 0`` how strongly the gene follows its profile in *this* sample and
    r_g how noisy it is there (both learnt from the sample by EM; a gene that dropout or another
    programme dominates, or that is not zonated in this tissue, weighs little). Positions start
    from the signed mean of the standardized genes (periportal genes +, pericentral -), ranked
    along the lobule; each round computes every cell's posterior over the positions (uniform
    prior) and refits beta and r from it. The position is the posterior mean; ``confidence`` is the
    posterior probability of the zone (pericentral 1-3, mid 4-6, periportal 7-9) it falls in.

    A cell's offset (its capture and depth lower or raise all its genes alike) is fitted at every
    position and profiled out. Amplitudes are shrunk towards the genes' common one by empirical Bayes;
    below :data:`MIN_CELLS_PER_GENE_FIT` cells every gene gets the common amplitude and noise. Gene
    parameters are learnt from at most :data:`FIT_CELLS` cells (at random), then every cell is placed
    in one last pass.

    The standardized matrix is never formed: with s = 1/sd, a cell's term sum_g x_cg v_gk is
    C_c (s v) - (mu s) v, and the M-step's sum_c x_cg w_ck is s_g (C^T W - mu_g sum_c w_ck), so a
    sparse matrix stays sparse (float64, ``chunk_size`` cells at a time, nothing of size cells x
    positions kept)."""
    import scipy.sparse as sp

    L = log_expr if isinstance(log_expr, RowBlocks) else (
        sp.csr_matrix(log_expr) if sp.issparse(log_expr) else np.asarray(log_expr))
    n, n_genes = L.shape
    K = len(GRID)

    def chunks():
        for a in range(0, n, chunk_size):
            b = min(n, a + chunk_size)
            block = L[a:b]
            yield a, b, (sp.csr_matrix(block, dtype=np.float64) if sp.issparse(block) else np.asarray(block, np.float64))

    # the cells the gene parameters are learnt from: all, or FIT_CELLS of them at random (plenty for
    # ~1,000 amplitudes; the positions of every cell come from one last pass), picked on the pass
    # that sums the genes
    fit_rows = np.sort(np.random.default_rng(0).choice(n, FIT_CELLS, replace=False)) if n > FIT_CELLS \
        else np.arange(n)
    col1, col2, picked = np.zeros(n_genes), np.zeros(n_genes), []
    for a, b, C in chunks():
        if sp.issparse(C):
            col1 += np.bincount(C.indices, weights=C.data, minlength=n_genes)
            col2 += np.bincount(C.indices, weights=C.data * C.data, minlength=n_genes)
        else:
            col1 += C.sum(axis=0)
            col2 += (C * C).sum(axis=0)
        picked.append(C[fit_rows[(fit_rows >= a) & (fit_rows < b)] - a])
    mu = col1 / max(n, 1)
    sd = np.sqrt(np.maximum(col2 / max(n, 1) - mu * mu, 0.0))
    keep = sd > 1e-12 * np.maximum(1.0, np.abs(mu))
    s = np.where(keep, 1.0 / np.where(keep, sd, 1.0), 0.0)  # dropped genes weigh nothing
    g = int(keep.sum())
    Zg = np.where(keep[:, None], _grid_profiles(profiles), 0.0)
    direction = np.sign(axis_correlation(profiles))

    F = (sp.vstack(picked, format="csr") if sp.issparse(picked[0]) else np.vstack(picked)) if picked \
        else np.zeros((0, n_genes))
    nf = F.shape[0]

    def fit_chunks():
        for a in range(0, nf, chunk_size):
            yield F[a:min(nf, a + chunk_size)]

    f1 = np.asarray(F.sum(axis=0)).ravel()
    f2 = np.asarray((F.multiply(F) if sp.issparse(F) else F * F).sum(axis=0)).ravel()
    xx_fit = s * s * (f2 - 2 * mu * f1 + nf * mu * mu)              # sum over the fit cells of x_cg^2

    # start: the signed mean score, ranked along the lobule (one-hot posteriors)
    t = np.concatenate([np.asarray(C @ (s * direction)).ravel() for C in fit_chunks()]) if nf else np.zeros(0)
    start = np.clip(np.rint((K - 1) * (average_ranks(t) - 0.5) / max(nf, 1)), 0, K - 1).astype(np.int64)

    def m_step(st):
        # sum_c (x_cg - o_c) w_ck, and sum_c (x_cg - o_c)^2 over the fit cells
        XtW = s[:, None] * (st["CtW"] - mu[:, None] * st["wsum"][None, :]) - st["OW"][None, :]
        xx = xx_fit - 2 * s * (st["Cto"] - mu * st["osum"]) + st["o2sum"]
        num = (XtW * Zg).sum(1)
        den = (Zg * Zg) @ st["wsum"]
        # empirical Bayes: each gene's amplitude shrunk towards the genes' common one by how uncertain
        # its own estimate is (variance r/den) against how much the genes' amplitudes really differ
        # (tau2: their spread less that uncertainty). Noise: PRIOR_CELLS pseudo-cells.
        safe = np.where(den > 0, den, 1.0)
        raw = np.where(keep & (den > 0), num / safe, 0.0)
        common = max(num[keep].sum(), 0.0) / max(den[keep].sum(), 1e-12) if g else 0.0
        r_raw = np.clip((xx - 2 * raw * num + raw * raw * den) / max(nf, 1), MIN_NOISE, None)
        r_common = float(r_raw[keep].mean()) if g else 1.0
        r = (nf * r_raw + PRIOR_CELLS * r_common) / (nf + PRIOR_CELLS)
        var = np.where(keep & (den > 0), r / safe, 1e12)   # a dropped gene: all prior (and beta 0)
        tau2 = max(float(raw[keep].var() - np.mean(var[keep])), 1e-6) if g else 1e-6
        shrink = var / (var + tau2)
        beta = np.where(keep, np.maximum((1 - shrink) * raw + shrink * common, 0.0), 0.0)
        if nf < MIN_CELLS_PER_GENE_FIT:   # too few cells to tell the genes apart: one amplitude and noise for all
            beta, r = np.where(keep, common, 0.0), np.full(n_genes, r_common)
        return beta, r

    def new_stats():
        return {"CtW": np.zeros((n_genes, K)), "wsum": np.zeros(K), "OW": np.zeros(K), "Cto": np.zeros(n_genes),
                "osum": 0.0, "o2sum": 0.0}

    def add_stats(st, C, W, o):
        st["CtW"] += np.asarray(C.T @ W)
        st["wsum"] += W.sum(0)
        st["OW"] += o @ W
        st["Cto"] += np.asarray(C.T @ o).ravel()
        st["osum"] += o.sum()
        st["o2sum"] += o @ o

    def e_step(beta, r):
        """A function giving, for a block of cells, their posteriors over GRID and their offsets: a
        cell's technical offset o_c (capture, depth: shared by all its genes) is profiled out, the
        weighted residual of x_c - o_c - beta z(p) is what each position is judged by."""
        omega = np.where(keep, 1.0 / r, 0.0)
        Omega = max(float(omega.sum()), 1e-12)
        V = (omega * beta)[:, None] * Zg
        m = V.sum(0)
        sV, const = s[:, None] * V, (mu * s) @ V + 0.5 * ((omega * beta * beta) @ (Zg * Zg)) - 0.5 * m * m / Omega
        s_omega, mu_omega = s * omega, float((mu * s) @ omega)

        both = np.column_stack([sV, s_omega])

        def posterior(C):
            prod = np.asarray(C @ both)
            cw = prod[:, -1] - mu_omega                           # sum_g omega_g x_cg
            ll = prod[:, :-1] - const - np.outer(cw, m) / Omega
            ll -= ll.max(1, keepdims=True)
            W = np.exp(ll)
            W /= W.sum(1, keepdims=True)
            return W, (cw - W @ m) / Omega
        return posterior

    st, a = new_stats(), 0
    for C in fit_chunks():
        W = np.zeros((C.shape[0], K))
        W[np.arange(C.shape[0]), start[a:a + C.shape[0]]] = 1.0
        add_stats(st, C, W, np.zeros(C.shape[0]))
        a += C.shape[0]
    beta, r = m_step(st)
    for _ in range(max(iterations, 1) - 1):
        posterior, st = e_step(beta, r), new_stats()
        for C in fit_chunks():
            add_stats(st, C, *posterior(C))
        beta, r = m_step(st)
    del F, picked
    # every cell placed with the learnt genes
    posterior = e_step(beta, r)
    pos, zone_p = np.zeros(n), np.zeros(n)
    detected = np.zeros(n, np.int64)
    zone_of_grid = _zone_of(np.rint(GRID))
    for a, b, C in chunks():
        W, _ = posterior(C)
        if sp.issparse(C):   # zonated genes detected: the stored positive values in kept columns, per row
            hit = sp.csr_matrix(((C.data > 0) & keep[C.indices], C.indices, C.indptr), shape=C.shape, dtype=np.int64)
            detected[a:b] = np.asarray(hit.sum(1)).ravel()
        else:
            detected[a:b] = (C[:, keep] > 0).sum(1)
        pos[a:b] = W @ GRID
        zone = _zone_of(np.clip(np.rint(pos[a:b]), 1, N_LAYERS))
        zone_p[a:b] = (W * (zone_of_grid[None, :] == zone[:, None])).sum(1)
    return {"zonation": ((pos - 1) / (N_LAYERS - 1)).astype(np.float32),
            "layer": np.clip(np.rint(pos), 1, N_LAYERS).astype(np.int64),
            "confidence": np.clip(zone_p, 0, 1).astype(np.float32),
            "n_genes": detected, "n_genes_used": g}


def zonation(adata, *, key: str = "liver", key_added: str | None = None, species: str | None = None,
             layer: str | None = None, symbol_col: str | None = None, exclude_genes=(),
             min_zonation: float = MIN_GENE_ZONATION, min_hepatocytes: int = MIN_HEPATOCYTES,
             expression: ZonationInput | None = None):
    """Place every cell called hepatocyte (obs ``{key}_lineage``) on the central-portal axis.

    Adds obs ``{key_added}`` (0 pericentral ... 1 periportal), ``{key_added}_layer`` (1-9, Halpern's
    layers), ``{key_added}_confidence`` (posterior probability of the cell's zone, 0..1) and
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
    summary = {"method": "Halpern 2017 layer profiles: latent-position model (EM) over zonated genes", "species": species,
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
        summary["n_genes_used"] = res["n_genes_used"]
        if res["n_genes_used"] < MIN_GENES:   # present but never varying across the hepatocytes
            why = (f"only {res['n_genes_used']} zonated genes vary across the hepatocytes (at least {MIN_GENES} "
                   f"needed)")
            log.warning("zonation skipped: %s", why)
            summary["skipped"] = why
        else:
            for k in ("zonation", "layer", "confidence", "n_genes"):
                out[k][hep] = res[k]
            log.info("zonation: %d hepatocytes placed with %d zonated genes (median layer %.0f)", len(hep),
                     res["n_genes_used"], np.median(res["layer"]))
    adata.obs[key_added] = out["zonation"]
    adata.obs[f"{key_added}_layer"] = out["layer"]
    adata.obs[f"{key_added}_confidence"] = out["confidence"]
    adata.obs[f"{key_added}_genes"] = out["n_genes"]
    adata.uns[key_added] = summary
    return int(len(hep)) if "skipped" not in summary else 0


def zone_counts(adata, key_added: str = "liver_zonation") -> dict[str, int]:
    """Hepatocytes per zone (:data:`ZONES`): pericentral (layers 1-3), mid-lobular (4-6), periportal (7-9)."""
    layer = adata.obs[f"{key_added}_layer"].to_numpy() if f"{key_added}_layer" in adata.obs else np.zeros(0)
    return {zone: int(((layer >= lo) & (layer <= hi)).sum()) for zone, (lo, hi) in ZONES.items()}


def card_section() -> list[str]:
    """The model card's paragraph on the zonation that classify adds (one text for every card)."""
    return ["## Hepatocyte zonation", "",
            "`classify` also places every cell called hepatocyte on the lobule's central-portal axis "
            "(obs `liver_zonation`, 0 pericentral ... 1 periportal; `liver_zonation_layer` 1-9; "
            "`liver_zonation_confidence`, the posterior probability of the zone): its expression of the genes "
            "zonated in Halpern et al. 2017 (Nature 542:352; |correlation of the gene's layer profile with the layer| >= "
            f"{MIN_GENE_ZONATION}), standardized across the sample's hepatocytes, is explained by a position along "
            "Halpern's layer profiles, a per-cell offset and per-gene amplitudes and noise learnt from the sample (EM). "
            "It uses no parameter of this model and is not trained. Measured in benchmarks/ZONATION.md (split-half "
            "agreement and held-out landmarks on real hepatocytes; simulated hepatocytes of known position).", ""]
