"""Model bundles: training from profiles, writing and loading without pickle, refitting."""

import json

import numpy as np
import pandas as pd
import pytest

from liverannot.model import Model
from liverannot.reference import Reference, lineage_map
from liverannot.simulate import SimulationSettings, features, simulate_counts
from liverannot.train import train_model


@pytest.fixture(scope="module")
def small_ref(human_nn):
    # a 6-class subset of the shipped reference: enough biology, fast to train
    ref = human_nn.reference
    keep = ["Hep.1", "Central.venous.LSECs", "Cholangiocytes", "Inflammatory.macrophages",
            "CD3+.alpha.beta.T.cells", "Mature.B.cells"]
    return Reference("human", ref.profiles[keep], "test subset")


@pytest.mark.parametrize("kind", ["nn", "rf"])
def test_train_write_load_predict(small_ref, tmp_path, kind):
    lin = lineage_map("human")
    m = train_model(small_ref, lin, kind, seed=3, search=False,
                    settings={"simulation": {"n_per_class": 150}, "params": {"epochs": 8} if kind == "nn" else {"n_estimators": 40}})
    assert m.settings["simulated_validation_accuracy"] > 0.9
    m.write(tmp_path / "b")
    files = {p.name for p in (tmp_path / "b").iterdir()}
    assert {"weights.npz", "genes.txt", "classes.tsv", "reference.npz", "settings.json"} <= files
    # plain arrays only: loading with allow_pickle=False must work for every file
    for f in ("weights.npz", "reference.npz"):
        with np.load(tmp_path / "b" / f, allow_pickle=False) as z:
            assert all(z[k].dtype != object for k in z.files)
    m2 = Model.load(tmp_path / "b")
    assert m2.genes == m.genes and m2.classes == m.classes and m2.lineage == m.lineage
    rng = np.random.default_rng(0)
    counts, y = simulate_counts(small_ref.proportions(m.genes), [lin[c] for c in small_ref.classes],
                                SimulationSettings(n_per_class=30, gene_dropout_share=0), rng)
    F = features(counts)
    p1, p2 = m.predict_proba(F), m2.predict_proba(F)
    assert np.allclose(p1, p2, atol=1e-6)
    assert (p1.argmax(1) == y).mean() > 0.85


def test_training_is_reproducible(small_ref):
    lin = lineage_map("human")
    s = {"simulation": {"n_per_class": 60}, "params": {"epochs": 3}}
    a = train_model(small_ref, lin, "nn", seed=5, search=False, settings=s)
    b = train_model(small_ref, lin, "nn", seed=5, search=False, settings=s)
    assert len(a.backend.members) == 3  # the default ensemble
    for la, lb in zip(a.backend.members, b.backend.members):
        for (W1, b1), (W2, b2) in zip(la, lb):
            assert np.array_equal(W1, W2) and np.array_equal(b1, b2)
    # members differ (different seeds), so the ensemble is not three copies of one network
    assert not np.array_equal(a.backend.members[0][0][0], a.backend.members[1][0][0])


def test_shipped_bundles_are_complete_and_small():
    from liverannot.model import KINDS, SPECIES, shipped_model_path

    vocab = json.loads((shipped_model_path("human", "nn").parent.parent / "data" / "lineages.json").read_text())["lineages"]
    for sp in SPECIES:
        for kind in KINDS:
            p = shipped_model_path(sp, kind)
            size = sum(f.stat().st_size for f in p.iterdir())
            assert size < 50e6, (p, size)
            m = Model.load(p)
            assert m.species == sp and m.kind == kind
            assert set(m.lineage.values()) <= set(vocab)
            # the bundle's lineage map is the package's single source of truth
            assert m.lineage == {c: lineage_map(sp)[c] for c in m.classes}
            assert "lineage_accuracy" in m.metrics["development"]["liver"]
            assert (p / "MODEL_CARD.md").read_text().count("|") > 20


def test_refit_on_subset_of_genes(human_nn):
    # the query has a third of the model genes and a third of the other reference genes
    available = set(human_nn.reference.genes[::3])
    m = human_nn.refit(available)
    assert set(m.genes) <= available
    assert len(m.genes) > len(set(human_nn.genes) & available)  # genes re-selected, not only the survivors
    assert m.classes == human_nn.classes
    assert m.settings["simulated_validation_accuracy"] > 0.8
