"""The Model object: load, predict, write. Bundles are folders of plain files (npz arrays, JSON,
TSV, text): loading never executes code from a file (no pickle).

A bundle holds
- ``weights.npz``      the classifier (tree arrays for ``rf``, layer matrices for ``nn``)
- ``genes.txt``        the feature genes, in order
- ``classes.tsv``      class -> lineage (the fine labels and their lineage)
- ``reference.npz``    the training profiles, used to refit on the genes a query shares and for
                       the similarity gate of the Unassigned call
- ``settings.json``    training settings, hyperparameters, calibration and thresholds
- ``MODEL_CARD.md`` and ``metrics.json``  what it was measured to do
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import LiverannotError
from .reference import Reference

log = logging.getLogger(__name__)

KINDS = ("nn", "rf")
SPECIES = ("human", "mouse")
TREE_FIELDS = ("left_child", "right_child", "feature", "threshold", "impurity", "n_node_samples",
               "weighted_n_node_samples", "missing_go_to_left")


def shipped_models_dir() -> Path:
    return Path(str(resources.files("liverannot") / "models"))


def shipped_model_path(species: str, kind: str) -> Path:
    return shipped_models_dir() / f"{species}_{kind}"


# ------------------------------------------------------------------------------------------
# backends
# ------------------------------------------------------------------------------------------

class NNBackend:
    """An ensemble of multilayer perceptrons trained with PyTorch (different seeds, probabilities
    averaged); inference in numpy, so classifying needs no torch."""

    kind = "nn"

    def __init__(self, members: list[list[tuple[np.ndarray, np.ndarray]]], temperature: float = 1.0,
                 projection: tuple[np.ndarray, np.ndarray] | None = None):
        self.members = [[(np.asarray(W, np.float32), np.asarray(b, np.float32)) for W, b in layers]
                        for layers in members]
        self.temperature = float(temperature)
        #: (P, c): the members' input is ``F @ P + c`` (the training features' principal components,
        #: centred), shared by every member; None: the features themselves
        self.projection = None if projection is None else tuple(np.asarray(a, np.float32) for a in projection)

    @staticmethod
    def _logits(layers, F: np.ndarray) -> np.ndarray:
        h = np.asarray(F, np.float32)
        for i, (W, b) in enumerate(layers):
            h = h @ W + b
            if i < len(layers) - 1:
                np.maximum(h, 0, out=h)
        return h

    @cached_property
    def _first_layers(self) -> tuple[np.ndarray, np.ndarray]:
        """Every member's first layer side by side (one product with the features for all members)."""
        return (np.ascontiguousarray(np.hstack([layers[0][0] for layers in self.members])),
                np.concatenate([layers[0][1] for layers in self.members]))

    def _member_logits(self, F: np.ndarray):
        """Each member's logits; the first layers of all members in one matrix product."""
        W, b = self._first_layers
        F = np.asarray(F, np.float32)
        if self.projection is not None:
            P, c = self.projection
            F = F @ P
            F += c
        H = F @ W
        H += b
        start = 0
        for layers in self.members:
            width = layers[0][0].shape[1]
            h = H[:, start:start + width]
            start += width
            yield h if len(layers) == 1 else self._logits(layers[1:], np.maximum(h, 0, out=h))

    def predict_proba(self, F: np.ndarray) -> np.ndarray:
        out = None
        for z in self._member_logits(F):
            z = z / self.temperature
            z -= z.max(axis=1, keepdims=True)
            np.exp(z, out=z)
            z /= z.sum(axis=1, keepdims=True)
            out = z if out is None else out + z
        return out / len(self.members)

    def to_arrays(self) -> dict:
        out = {"temperature": np.float32(self.temperature), "n_members": np.int64(len(self.members)),
               "n_layers": np.int64(len(self.members[0]))}
        for m, layers in enumerate(self.members):
            for i, (W, b) in enumerate(layers):
                out[f"m{m}_W{i}"], out[f"m{m}_b{i}"] = W, b
        if self.projection is not None:
            out["projection_P"], out["projection_c"] = self.projection
        return out

    @classmethod
    def from_arrays(cls, z) -> "NNBackend":
        n_members, n_layers = int(z["n_members"]), int(z["n_layers"])
        projection = (z["projection_P"], z["projection_c"]) if "projection_P" in z else None
        return cls([[(z[f"m{m}_W{i}"], z[f"m{m}_b{i}"]) for i in range(n_layers)] for m in range(n_members)],
                   float(z["temperature"]), projection)


class RFBackend:
    """A scikit-learn RandomForestClassifier, stored as plain tree arrays."""

    kind = "rf"

    def __init__(self, forest, temperature: float = 1.0):
        self.forest = forest
        self.temperature = float(temperature)

    @cached_property
    def _compiled(self):
        from .kernels import CompiledForest

        return CompiledForest(self.forest)

    def predict_proba(self, F: np.ndarray) -> np.ndarray:
        """The forest's class probabilities (scikit-learn's, its trees summed in order), walked by
        :class:`~liverannot.kernels.CompiledForest`."""
        p = self._compiled.predict_proba(F)
        if self.temperature != 1.0:
            p = np.power(np.clip(p, 1e-6, 1), 1.0 / self.temperature)
            p /= p.sum(axis=1, keepdims=True)
        return p

    def to_arrays(self) -> dict:
        trees = [e.tree_ for e in self.forest.estimators_]
        states = [t.__getstate__() for t in trees]
        out = {"temperature": np.float32(self.temperature),
               "n_features": np.int64(self.forest.n_features_in_),
               "n_classes": np.int64(len(self.forest.classes_)),
               "classes": np.asarray(self.forest.classes_),
               "node_counts": np.array([s["node_count"] for s in states], np.int64),
               "max_depths": np.array([s["max_depth"] for s in states], np.int64),
               "values": np.concatenate([s["values"][:, 0, :] for s in states]).astype(np.float32)}
        for name in TREE_FIELDS:
            if name in states[0]["nodes"].dtype.names:
                out[f"node_{name}"] = np.concatenate([s["nodes"][name] for s in states])
        return out

    @classmethod
    def from_arrays(cls, z) -> "RFBackend":
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.tree import DecisionTreeClassifier
        from sklearn.tree._tree import Tree

        n_features, n_classes = int(z["n_features"]), int(z["n_classes"])
        classes = np.asarray(z["classes"])
        counts = z["node_counts"]
        offsets = np.concatenate([[0], np.cumsum(counts)])
        values = z["values"].astype(np.float64)
        node_arrays = {k[5:]: z[k] for k in z.files if k.startswith("node_") and k != "node_counts"}
        estimators = []
        for i, n in enumerate(counts):
            tree = Tree(n_features, np.array([n_classes], dtype=np.intp), 1)
            dtype = tree.__getstate__()["nodes"].dtype
            nodes = np.zeros(n, dtype=dtype)
            for name in dtype.names:
                if name in node_arrays:
                    nodes[name] = node_arrays[name][offsets[i]:offsets[i + 1]]
            vals = np.ascontiguousarray(values[offsets[i]:offsets[i + 1]][:, None, :])
            tree.__setstate__({"max_depth": int(z["max_depths"][i]), "node_count": int(n),
                               "nodes": nodes, "values": vals})
            est = DecisionTreeClassifier()
            est.tree_ = tree
            est.n_outputs_ = 1
            est.n_classes_ = n_classes
            est.classes_ = classes
            est.n_features_in_ = n_features
            est.max_features_ = n_features
            estimators.append(est)
        forest = RandomForestClassifier(n_estimators=len(estimators))
        forest.estimators_ = estimators
        forest.n_outputs_ = 1
        forest.n_classes_ = n_classes
        forest.classes_ = classes
        forest.n_features_in_ = n_features
        forest.n_jobs = -1
        forest.estimator_ = estimators[0]
        return cls(forest, float(z["temperature"]))


BACKENDS = {"nn": NNBackend, "rf": RFBackend}


def module_matrix(genes: list[str], modules: dict[str, list[str]]) -> np.ndarray:
    """Genes x modules 0/1 float32 matrix (module genes absent from ``genes`` are ignored)."""
    pos = {g: i for i, g in enumerate(genes)}
    M = np.zeros((len(genes), len(modules)), dtype=np.float32)
    for j, members in enumerate(modules.values()):
        M[[pos[g] for g in members if g in pos], j] = 1.0
    return M


# ------------------------------------------------------------------------------------------
# the Model
# ------------------------------------------------------------------------------------------

@dataclass
class Model:
    species: str
    kind: str
    genes: list[str]
    classes: list[str]
    lineage: dict[str, str]
    backend: object
    reference: Reference
    settings: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    card: str = ""

    def __repr__(self) -> str:
        """A few lines: what the model calls and how well it did (the full card: ``model.card``)."""
        kinds = {"nn": "neural network", "rf": "random forest"}
        lineages = sorted(set(self.class_lineages()))
        shown = ", ".join(self.classes[:8]) + (f", ... ({len(self.classes) - 8} more)" if len(self.classes) > 8 else "")
        lines = [f"liverannot Model: {self.species} {self.kind} ({kinds.get(self.kind, self.kind)}), "
                 f"{len(self.classes)} classes in {len(lineages)} lineages, {len(self.genes):,} genes",
                 f"  classes: {shown}",
                 f"  lineages: {', '.join(lineages)}"]
        dev = self.metrics.get("development", {})
        liver, other = dev.get("liver", {}), dev.get("other_tissues", {})

        def num(d, key):
            v = d.get(key)
            return f"{v:.3f}" if isinstance(v, (int, float)) else "n/a"

        if liver:
            lines.append(f"  real liver cells of other studies ({liver.get('n_cells', '?')}): lineage accuracy "
                         f"{num(liver, 'lineage_accuracy')}, with 30% of the genes {num(liver, 'lineage_accuracy_30pct_genes')}")
        if other:
            lines.append(f"  other tissues: liver types {num(other, 'lineage_accuracy')}, non-liver cells "
                         f"Unassigned {num(other, 'unassigned_rate_nonliver')}")
        return "\n".join(lines)

    __str__ = __repr__

    # -- prediction ---------------------------------------------------------------------------
    @property
    def modules(self) -> dict[str, list[str]]:
        """Marker modules whose count shares are features beside the genes (settings.json)."""
        return self.settings.get("modules", {})

    @cached_property
    def module_matrix(self) -> np.ndarray | None:
        """Genes x modules 0/1 matrix of ``modules`` over the model's genes (None without modules)."""
        return module_matrix(self.genes, self.modules) if self.modules else None

    @cached_property
    def feature_profiles(self) -> np.ndarray | None:
        """Class profiles the cells are correlated with as features (None if the model has none)."""
        return self.log_profiles() if self.settings.get("profile_correlation") else None

    def featurize(self, counts, out: np.ndarray | None = None, sums: dict | None = None) -> np.ndarray:
        """The classifier's input for a cells x ``genes`` matrix (dense or sparse) of counts or
        linear expression; written into ``out`` (cells x :attr:`n_features` float32) if given;
        ``sums`` receives the row sums of the log1p CP10k part (:func:`~liverannot.simulate.features`)."""
        from .simulate import features

        return features(counts, self.module_matrix, self.feature_profiles, out=out, sums=sums)

    @property
    def n_features(self) -> int:
        from .simulate import n_features

        return n_features(len(self.genes), self.module_matrix, self.feature_profiles)

    def predict_proba(self, F: np.ndarray) -> np.ndarray:
        """Class probabilities for a feature matrix made by :meth:`featurize`."""
        return self.backend.predict_proba(F)

    def log_profiles(self) -> np.ndarray:
        return self.reference.log_profiles(self.genes)

    @property
    def min_confidence(self) -> float:
        return float(self.settings.get("thresholds", {}).get("min_confidence", 0.5))

    @property
    def min_similarity(self) -> float:
        return float(self.settings.get("thresholds", {}).get("min_similarity", 0.0))

    @property
    def min_nonliver_share(self) -> float:
        return float(self.settings.get("thresholds", {}).get("min_nonliver_share", 0.0))

    def class_lineages(self) -> list[str]:
        return [self.lineage[c] for c in self.classes]

    # -- IO -----------------------------------------------------------------------------------
    def write(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path / "weights.npz", **self.backend.to_arrays())
        (path / "genes.txt").write_text("\n".join(self.genes) + "\n")
        pd.DataFrame({"class": self.classes, "lineage": [self.lineage[c] for c in self.classes]}) \
            .to_csv(path / "classes.tsv", sep="\t", index=False)
        self.reference.save(path / "reference.npz")
        meta = {"species": self.species, "kind": self.kind, **self.settings}
        (path / "settings.json").write_text(json.dumps(meta, indent=2, default=_json_default) + "\n")
        if self.metrics:
            (path / "metrics.json").write_text(json.dumps(self.metrics, indent=2, default=_json_default) + "\n")
        if self.card:
            (path / "MODEL_CARD.md").write_text(self.card)

    @classmethod
    def load(cls, path: str | Path) -> "Model":
        path = Path(path)
        needed = ["weights.npz", "genes.txt", "classes.tsv", "reference.npz", "settings.json"]
        missing = [n for n in needed if not (path / n).exists()]
        if missing:
            raise LiverannotError(f"{path}: not a liverannot model bundle (missing {', '.join(missing)}).")
        settings = json.loads((path / "settings.json").read_text())
        species, kind = settings.pop("species"), settings.pop("kind")
        genes = (path / "genes.txt").read_text().split()
        cl = pd.read_csv(path / "classes.tsv", sep="\t", keep_default_na=False)
        with np.load(path / "weights.npz", allow_pickle=False) as z:
            backend = BACKENDS[kind].from_arrays(z)
        metrics = json.loads((path / "metrics.json").read_text()) if (path / "metrics.json").exists() else {}
        card = (path / "MODEL_CARD.md").read_text() if (path / "MODEL_CARD.md").exists() else ""
        return cls(species, kind, genes, cl["class"].tolist(), dict(zip(cl["class"], cl["lineage"])),
                   backend, Reference.load(path / "reference.npz"), settings, metrics, card)

    @classmethod
    def shipped(cls, species: str, kind: str) -> "Model":
        if species not in SPECIES:
            raise LiverannotError(f"unknown species {species!r}; shipped models: {', '.join(SPECIES)}.")
        if kind not in KINDS:
            raise LiverannotError(f"unknown model kind {kind!r}; use one of {', '.join(KINDS)}.")
        path = shipped_model_path(species, kind)
        if not path.exists():
            raise LiverannotError(f"the shipped {species} {kind} model is missing at {path}; "
                                  f"regenerate it with `liverannot train --all` (see README).")
        return cls.load(path)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o))
