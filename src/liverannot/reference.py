"""Reference profiles (per-class mean expression) and the vocabulary files beside them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

MITO_RIBO_PREFIXES = ("MT-", "mt-", "RPL", "RPS", "Rpl", "Rps", "MRPL", "MRPS", "Mrpl", "Mrps")


def data_path(name: str) -> Path:
    return Path(str(resources.files("liverannot") / "data" / name))


@lru_cache(maxsize=None)
def lineage_vocabulary() -> tuple[str, ...]:
    return tuple(json.loads(data_path("lineages.json").read_text())["lineages"])


@lru_cache(maxsize=None)
def unassigned_label() -> str:
    return json.loads(data_path("lineages.json").read_text())["unassigned_label"]


def lineage_map(species: str) -> dict[str, str]:
    df = pd.read_csv(data_path("lineage_map.tsv"), sep="\t")
    df = df[df["species"] == species]
    bad = set(df["lineage"]) - set(lineage_vocabulary())
    if bad:
        raise ValueError(f"lineage_map.tsv uses lineages outside the vocabulary: {bad}")
    return dict(zip(df["class"], df["lineage"]))


def eval_labels() -> pd.DataFrame:
    return pd.read_csv(data_path("eval_labels.tsv"), sep="\t")


@dataclass
class Reference:
    """Mean expression (counts per cell) of each class: ``profiles`` is genes x classes."""

    species: str
    profiles: pd.DataFrame
    source: str = ""

    @property
    def classes(self) -> list[str]:
        return list(self.profiles.columns)

    @property
    def genes(self) -> list[str]:
        return list(self.profiles.index)

    def proportions(self, genes) -> np.ndarray:
        """Classes x genes matrix of expression proportions within ``genes`` (rows sum to 1)."""
        P = self.profiles.reindex(genes).fillna(0.0).to_numpy(dtype=np.float64).T
        P = P + 1e-9
        return P / P.sum(axis=1, keepdims=True)

    def log_profiles(self, genes) -> np.ndarray:
        """Classes x genes log1p(CP10k within ``genes``): the feature space of the models."""
        return np.log1p(self.proportions(genes) * 1e4).astype(np.float32)

    def depth(self) -> np.ndarray:
        return self.profiles.sum(axis=0).to_numpy()

    def save(self, path: Path) -> None:
        np.savez_compressed(path, genes=np.array(self.genes, dtype=str),
                            classes=np.array(self.classes, dtype=str),
                            values=self.profiles.to_numpy(np.float32), species=self.species,
                            source=self.source)

    @classmethod
    def load(cls, path: Path) -> "Reference":
        with np.load(path, allow_pickle=False) as z:
            df = pd.DataFrame(z["values"], index=z["genes"].tolist(), columns=z["classes"].tolist())
            return cls(str(z["species"]), df, str(z["source"]))

    @classmethod
    def from_table(cls, path: str | Path, species: str) -> "Reference":
        """Read a genes x classes table of mean counts per cell (TSV/CSV, gzipped or not)."""
        path = Path(path)
        if not path.exists():
            raise InputError(f"{path}: reference profile table not found.")
        sep = "," if ".csv" in path.name else "\t"
        df = pd.read_csv(path, sep=sep, index_col=0)
        df = df.groupby(level=0).sum()
        if (df.to_numpy() < 0).any():
            raise InputError(f"{path}: reference profiles must be non-negative mean counts.")
        return cls(species, df.astype(np.float64), str(path.name))


def select_genes(ref: Reference, lineages: dict[str, str], n_per_class: int = 60,
                 min_cp10k: float = 1.0) -> list[str]:
    """Choose the model's feature genes from the profiles: for each class the genes most specific
    to it against other classes and against other lineages; mitochondrial and ribosomal genes
    excluded (technical, not cell-type)."""
    genes = pd.Index(ref.genes)
    ok = ~genes.str.startswith(MITO_RIBO_PREFIXES)
    genes = genes[ok]
    L = np.log1p(ref.proportions(genes) * 1e4)  # classes x genes
    classes = ref.classes
    lin = np.array([lineages[c] for c in classes])
    chosen: set[str] = set()
    for i, c in enumerate(classes):
        others = np.arange(len(classes)) != i
        other_lin = lin != lin[i]
        expressed = L[i] > np.log1p(min_cp10k)
        s_class = L[i] - L[others].max(axis=0)
        s_lin = L[i] - (L[other_lin].max(axis=0) if other_lin.any() else 0)
        for score in (s_class, s_lin):
            score = np.where(expressed, score, -np.inf)
            top = np.argsort(-score)[:n_per_class]
            chosen.update(genes[top][np.isfinite(score[top])])
    # plus the genes varying most across classes
    var = L.var(axis=0)
    chosen.update(genes[np.argsort(-var)[: 4 * n_per_class]])
    return sorted(chosen)
