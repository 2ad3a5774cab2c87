"""Simulate realistic single-cell counts from per-class mean profiles.

Each simulated cell draws: a library size (log-uniform over a wide range so the models see shallow
and deep technologies), a per-batch gene efficiency (log-normal: platform and protocol biases), a
mixture of its class with a neighbour of the same lineage (zonation and activation continua) and
with ambient RNA (the sample-wide average, hepatocyte-heavy in liver), gene-wise overdispersion
(gamma-Poisson = negative binomial counts) and, for a share of cells, a random loss of genes (the
query shares only part of the model's genes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class SimulationSettings:
    n_per_class: int = 300
    min_library: float = 300.0
    max_library: float = 30000.0
    batch_sd: float = 0.6           # sd of log gene efficiency per simulated batch
    n_batches: int = 12
    theta_min: float = 0.5          # NB shape: small = overdispersed (full-length protocols)
    theta_max: float = 10.0
    neighbour_max: float = 0.3      # max share of a same-lineage neighbour profile
    ambient_max: float = 0.1        # max share of ambient RNA
    ambient_batch_sd: float = 0.0   # sd of the log class weights of each batch's ambient RNA ("soup")
    foreign_share: float = 0.0      # share of cells contaminated by a foreign (non-liver) profile
    foreign_max: float = 0.15       # at most this share of such a cell's RNA is foreign
    hepatocyte_doublet_share: float = 0.0  # share of non-hepatocyte liver cells carrying hepatocyte RNA
    hepatocyte_doublet_max: float = 0.8    # at most this share of such a cell's RNA is hepatocyte RNA
    gene_dropout_share: float = 0.5  # share of cells that lose part of their genes
    gene_dropout_max: float = 0.75   # at most this fraction of genes lost

    def to_dict(self):
        return asdict(self)


def simulate_counts(P: np.ndarray, lineages: list[str], settings: SimulationSettings,
                    rng: np.random.Generator, class_weights: np.ndarray | None = None,
                    n_per_row: np.ndarray | None = None, foreign: np.ndarray | None = None):
    """Simulate cells from ``P`` (profiles x genes proportions); ``n_per_row`` cells of each profile
    (default ``settings.n_per_class``).

    ``class_weights`` are the profiles' shares of the ambient RNA (each batch varies them by
    ``settings.ambient_batch_sd``). ``foreign`` marks profiles (non-liver cell types) that are not in
    the sample's ambient RNA but contaminate ``settings.foreign_share`` of the other cells, as cells
    sorted or captured beside another tissue are contaminated by its RNA (insulin in pancreatic
    stellate cells, say). ``settings.hepatocyte_doublet_share`` of the non-hepatocyte liver cells carry
    the RNA of a hepatocyte profile (up to ``settings.hepatocyte_doublet_max`` of their RNA), as
    immune and endothelial cells sorted from liver often carry hepatocyte fragments; they keep their
    own label.

    Returns (counts float32 cells x genes, labels int array of profile indices).
    """
    n_classes, n_genes = P.shape
    n_rows = np.full(n_classes, settings.n_per_class) if n_per_row is None else np.asarray(n_per_row, int)
    n = int(n_rows.sum())
    labels = np.repeat(np.arange(n_classes), n_rows)
    lin = np.asarray(lineages)
    weights = np.ones(n_classes) if class_weights is None else np.asarray(class_weights, float)
    foreign = np.zeros(n_classes, bool) if foreign is None else np.asarray(foreign, bool)
    foreign_rows = np.where(foreign)[0]
    hep_rows = np.where((lin == "hepatocyte") & ~foreign)[0]
    batch = rng.integers(0, settings.n_batches, size=n)
    bw = np.repeat(weights[None, :], settings.n_batches, axis=0)
    if settings.ambient_batch_sd > 0:
        bw = bw * np.exp(rng.normal(0.0, settings.ambient_batch_sd, size=bw.shape))
    ambient = bw @ P / bw.sum(axis=1, keepdims=True)  # batches x genes
    eff = np.exp(rng.normal(0.0, settings.batch_sd, size=(settings.n_batches, n_genes)))
    theta_b = np.exp(rng.uniform(np.log(settings.theta_min), np.log(settings.theta_max), settings.n_batches))
    counts = np.empty((n, n_genes), dtype=np.float32)
    for c in range(n_classes):
        idx = np.where(labels == c)[0]
        same = np.where((lin == lin[c]) & (np.arange(n_classes) != c))[0]
        a = rng.uniform(0, settings.neighbour_max, size=len(idx)) if len(same) else np.zeros(len(idx))
        nb = rng.choice(same, size=len(idx)) if len(same) else np.full(len(idx), c)
        b = rng.uniform(0, settings.ambient_max, size=len(idx))
        p = (1 - a - b)[:, None] * P[c] + a[:, None] * P[nb] + b[:, None] * ambient[batch[idx]]
        if len(foreign_rows) and not foreign[c] and settings.foreign_share > 0:
            hit = rng.random(len(idx)) < settings.foreign_share
            f = np.where(hit, rng.uniform(0, settings.foreign_max, size=len(idx)), 0.0)
            src = rng.choice(foreign_rows, size=len(idx))
            p = (1 - f)[:, None] * p + f[:, None] * P[src]
        if settings.hepatocyte_doublet_share > 0 and len(hep_rows) and lin[c] != "hepatocyte" and not foreign[c]:
            hit = rng.random(len(idx)) < settings.hepatocyte_doublet_share
            d = np.where(hit, rng.uniform(0, settings.hepatocyte_doublet_max, size=len(idx)), 0.0)
            src = rng.choice(hep_rows, size=len(idx))
            p = (1 - d)[:, None] * p + d[:, None] * P[src]
        p = p * eff[batch[idx]]
        p /= p.sum(axis=1, keepdims=True)
        lib = np.exp(rng.uniform(np.log(settings.min_library), np.log(settings.max_library), len(idx)))
        mu = p * lib[:, None]
        theta = theta_b[batch[idx]][:, None]
        lam = rng.gamma(theta, mu / theta)
        counts[idx] = rng.poisson(lam)
    if settings.gene_dropout_share > 0:
        drop_cells = np.where(rng.random(n) < settings.gene_dropout_share)[0]
        frac = rng.uniform(0, settings.gene_dropout_max, size=len(drop_cells))
        for i, f in zip(drop_cells, frac):
            counts[i, rng.random(n_genes) < f] = 0
    return counts, labels


def log_cp10k(counts, out: np.ndarray | None = None, sums: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """log1p of counts per 10k within the given genes, as dense float32 cells x genes (written into
    ``out`` if given: it may be a column slice of a larger buffer), and the per-cell scale 1e4 / total.
    Sparse counts (without duplicate entries, as scipy's products make them) are transformed on their
    nonzeros and scattered into the dense result. ``sums``: a dict that receives ``"log"``, the
    result's :func:`row_sums` (for sparse counts, taken from the nonzeros on the way)."""
    n, g = counts.shape
    if out is None:
        out = np.empty((n, g), dtype=np.float32)
    scale = _scale(counts)
    if sp.issparse(counts):
        from .kernels import log_cp10k_rows

        X = counts.tocsr()
        s12 = log_cp10k_rows(out, X.data, X.indices, X.indptr, scale)  # zeroes each row, then places its values
    else:
        np.multiply(np.asarray(counts, dtype=np.float32), scale, out=out)
        np.log1p(out, out=out)
        s12 = row_sums(out) if sums is not None else None
    if sums is not None:
        sums["log"] = s12
    return out, scale


def n_features(n_genes: int, modules: np.ndarray | None = None, profiles: np.ndarray | None = None) -> int:
    """The width of :func:`features` for these genes, modules and profiles."""
    return n_genes + (modules.shape[1] if modules is not None else 0) + (len(profiles) if profiles is not None else 0)


def features(counts, modules: np.ndarray | None = None, profiles: np.ndarray | None = None,
             out: np.ndarray | None = None, sums: dict | None = None) -> np.ndarray:
    """The models' input, cells x :func:`n_features`: log1p of counts per 10k within the given genes;
    with ``modules`` (genes x modules 0/1 matrix), one more column per module: log1p of the module's
    counts per 10k; with ``profiles`` (classes x genes, in the same log1p space), one more column per
    class: the cell's Pearson correlation with that class's reference profile. ``counts`` may be dense
    or sparse. ``out``: a float32 buffer of that shape to fill (classify reuses one per chunk, sparing
    the allocation of a cells x genes matrix each time). ``sums``: a dict that receives
    ``"log"``, the :func:`row_sums` of the log1p CP10k part (for more correlations of the same cells)."""
    n, g = counts.shape
    width = n_features(g, modules, profiles)
    if out is None:
        out = np.empty((n, width), dtype=np.float32)
    elif out.shape != (n, width):
        raise ValueError(f"features: out has shape {out.shape}, expected {(n, width)}")
    own = {} if sums is None else sums  # the log part's row sums: the correlations need them too
    F, scale = log_cp10k(counts, out=out[:, :g], sums=own if profiles is not None or sums is not None else None)
    col = g
    if modules is not None and modules.shape[1]:
        if sp.issparse(counts):  # a sparse chunk's module counts: the sparse product's sums, in its order
            from .kernels import module_sums

            S = module_sums(counts.tocsr(), modules)
        else:
            S = counts @ modules
        out[:, col:col + modules.shape[1]] = np.log1p(np.asarray(S, dtype=np.float32) * scale)
        col += modules.shape[1]
    if profiles is not None:
        out[:, col:] = correlations(F, profiles, own["log"])
    return out


def _scale(counts) -> np.ndarray:
    """1e4 / each cell's total (cells x 1 float32; empty cells get 1e4)."""
    tot = np.asarray(counts.sum(axis=1), dtype=np.float32).reshape(-1, 1)
    tot[tot == 0] = 1
    return (1e4 / tot).astype(np.float32)


def row_sums(F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's sum and sum of squares (float64): what :func:`correlations` needs of the cells."""
    return F.sum(axis=1, dtype=np.float64), np.einsum("ij,ij->i", F, F, dtype=np.float64)


def correlations(F: np.ndarray, L: np.ndarray, sums: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Pearson correlation of every cell (rows of F) with every class profile (rows of L).

    The profiles are centred, so F @ Lc.T equals the centred cells' product and the cells' squared
    norms come from their sums: no centred copy of F is made (F is cells x thousands of genes).
    ``sums``: :func:`row_sums` of F when already computed (one pass over F serves several calls)."""
    g = F.shape[1]
    Lc = L - L.mean(axis=1, keepdims=True)
    s1, ss = row_sums(F) if sums is None else sums
    var_f = np.maximum(ss - s1 * s1 / g, 0.0)
    den = np.sqrt(var_f[:, None] * (Lc * Lc).sum(axis=1, dtype=np.float64)[None, :]).astype(np.float32)
    num = F @ Lc.T.astype(np.float32)
    return np.divide(num, den, out=np.zeros((F.shape[0], L.shape[0]), dtype=np.float32), where=den > 1e-6)
