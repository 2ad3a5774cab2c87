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
    gene_dropout_share: float = 0.5  # share of cells that lose part of their genes
    gene_dropout_max: float = 0.75   # at most this fraction of genes lost

    def to_dict(self):
        return asdict(self)


def simulate_counts(P: np.ndarray, lineages: list[str], settings: SimulationSettings,
                    rng: np.random.Generator, class_weights: np.ndarray | None = None,
                    n_per_row: np.ndarray | None = None):
    """Simulate cells from ``P`` (profiles x genes proportions); ``n_per_row`` cells of each profile
    (default ``settings.n_per_class``).

    Returns (counts float32 cells x genes, labels int array of profile indices).
    """
    n_classes, n_genes = P.shape
    n_rows = np.full(n_classes, settings.n_per_class) if n_per_row is None else np.asarray(n_per_row, int)
    n = int(n_rows.sum())
    labels = np.repeat(np.arange(n_classes), n_rows)
    lin = np.asarray(lineages)
    weights = np.ones(n_classes) if class_weights is None else np.asarray(class_weights, float)
    ambient = (weights[:, None] * P).sum(0) / weights.sum()
    batch = rng.integers(0, settings.n_batches, size=n)
    eff = np.exp(rng.normal(0.0, settings.batch_sd, size=(settings.n_batches, n_genes)))
    theta_b = np.exp(rng.uniform(np.log(settings.theta_min), np.log(settings.theta_max), settings.n_batches))
    counts = np.empty((n, n_genes), dtype=np.float32)
    for c in range(n_classes):
        idx = np.where(labels == c)[0]
        same = np.where((lin == lin[c]) & (np.arange(n_classes) != c))[0]
        a = rng.uniform(0, settings.neighbour_max, size=len(idx)) if len(same) else np.zeros(len(idx))
        nb = rng.choice(same, size=len(idx)) if len(same) else np.full(len(idx), c)
        b = rng.uniform(0, settings.ambient_max, size=len(idx))
        p = (1 - a - b)[:, None] * P[c] + a[:, None] * P[nb] + b[:, None] * ambient
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


def features(counts: np.ndarray) -> np.ndarray:
    """The models' input: log1p of counts per 10k within the given genes."""
    counts = np.asarray(counts, dtype=np.float32)
    tot = counts.sum(axis=1, keepdims=True)
    tot[tot == 0] = 1
    return np.log1p(counts / tot * 1e4)
