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
    F = m.featurize(counts)
    assert np.array_equal(F, features(counts))  # no modules, no correlations: the genes alone
    p1, p2 = m.predict_proba(F), m2.predict_proba(m2.featurize(counts))
    assert np.allclose(p1, p2, atol=1e-6)
    assert (p1.argmax(1) == y).mean() > 0.85


@pytest.mark.parametrize("kind", ["nn", "rf"])
def test_module_and_correlation_features_survive_write_and_load(small_ref, tmp_path, kind):
    lin = lineage_map("human")
    m = train_model(small_ref, lin, kind, seed=4, search=False,
                    settings={"simulation": {"n_per_class": 120}, "module_selection": {}, "profile_correlation": True,
                              "params": {"epochs": 8} if kind == "nn" else {"n_estimators": 40}})
    # one module per class and per lineage, made of the class's own marker genes
    assert set(m.modules) == {f"class:{c}" for c in small_ref.classes} | {f"lineage:{lin[c]}" for c in small_ref.classes}
    prof = small_ref.profiles / small_ref.profiles.sum(axis=0)
    for c in small_ref.classes:
        genes = m.modules[f"class:{c}"]
        assert len(genes) == 15
        assert (prof.loc[genes].idxmax(axis=1) == c).all(), c  # each gene peaks in its own class
    assert all(set(g) <= set(m.genes) for g in m.modules.values())
    m.write(tmp_path / "b")
    saved = json.loads((tmp_path / "b" / "settings.json").read_text())
    assert saved["modules"] == m.modules and saved["profile_correlation"] is True  # gene lists beside the weights
    m2 = Model.load(tmp_path / "b")
    rng = np.random.default_rng(1)
    counts, y = simulate_counts(small_ref.proportions(m.genes), [lin[c] for c in small_ref.classes],
                                SimulationSettings(n_per_class=30, gene_dropout_share=0), rng)
    F = m2.featurize(counts)
    assert F.shape == (len(y), len(m.genes) + len(m.modules) + len(m.classes))
    # the correlation columns peak at the cell's own class for almost every cell
    assert (F[:, -len(m.classes):].argmax(1) == y).mean() > 0.9
    p1, p2 = m.predict_proba(m.featurize(counts)), m2.predict_proba(F)
    assert np.allclose(p1, p2, atol=1e-6)
    assert (p2.argmax(1) == y).mean() > 0.85


def test_features_of_sparse_counts_equal_the_dense_ones(small_ref):
    """classify keeps each chunk sparse (log1p on the nonzeros, correlations without a centred copy):
    the features must be the ones the models were trained on, which are computed densely."""
    import scipy.sparse as sp

    from liverannot.model import module_matrix
    from liverannot.reference import module_genes
    from liverannot.simulate import correlations

    lin = lineage_map("human")
    genes = small_ref.genes[:3000]
    counts, _ = simulate_counts(small_ref.proportions(genes), [lin[c] for c in small_ref.classes],
                                SimulationSettings(n_per_class=50), np.random.default_rng(0))
    counts[0] = 0  # an empty cell: features 0, correlations 0
    M = module_matrix(genes, module_genes(small_ref, lin, genes))
    L = small_ref.log_profiles(genes)
    dense = features(counts, M, L)
    sparse = features(sp.csr_matrix(counts), M, L)
    assert dense.shape == (len(counts), len(genes) + M.shape[1] + len(L))
    assert np.allclose(dense, sparse, atol=1e-5)
    assert not dense[0].any()
    # the correlation columns are Pearson's r (centred explicitly here)
    F = dense[:, :len(genes)]
    expected = np.array([[np.corrcoef(f, l)[0, 1] for l in L] for f in F[1:40]])
    assert np.allclose(correlations(F, L)[1:40], expected, atol=1e-4)


def test_simulation_ambient_and_foreign_rna(small_ref):
    lin = lineage_map("human")
    hep = small_ref.classes.index("Hep.1")
    bcell = small_ref.classes.index("Mature.B.cells")
    P = small_ref.proportions(small_ref.genes)
    # a made-up foreign profile: all of its RNA in one gene no liver class has
    genes = small_ref.genes
    # the hepatocyte gene most absent from T cells (ALB itself is in MacParland's T-cell profile, from ambient RNA)
    t = small_ref.classes.index("CD3+.alpha.beta.T.cells")
    alb = int(np.argmax(np.where(P[hep] > 1e-3, P[hep] / P[t], 0)))
    foreign = np.full((1, len(genes)), 1e-9)
    foreign[0, genes.index("CD79A")] = 1.0  # any gene works; a B-cell gene is easy to count
    P2 = np.vstack([P, foreign / foreign.sum()])
    lins = [lin[c] for c in small_ref.classes] + ["other"]
    fmask = np.r_[np.zeros(len(P), bool), True]
    s = SimulationSettings(n_per_class=200, ambient_max=0.3, foreign_share=1.0, foreign_max=0.2, gene_dropout_share=0,
                           min_library=5000, max_library=5000)
    weights = np.r_[np.where(np.arange(len(P)) == hep, 10.0, 1.0), 0.0]
    counts, y = simulate_counts(P2, lins, s, np.random.default_rng(0), class_weights=weights, foreign=fmask)
    cd79a = genes.index("CD79A")
    plain, _ = simulate_counts(P2, lins, SimulationSettings(**{**s.to_dict(), "ambient_max": 0.0, "foreign_share": 0.0}),
                               np.random.default_rng(0), class_weights=weights, foreign=fmask)

    def mean_share(c, cls, gene):
        return float((c[y == cls, gene] / c[y == cls].sum(1)).mean())

    # T cells carry hepatocyte-heavy ambient RNA (ALB) and the foreign gene; without both they have little of either
    assert mean_share(counts, t, alb) > 5 * mean_share(plain, t, alb)
    assert mean_share(counts, t, cd79a) > 5 * mean_share(plain, t, cd79a)
    # foreign RNA is at most foreign_max of a cell: B cells keep most of their own CD79A
    assert mean_share(counts, bcell, cd79a) > 0.7 * mean_share(plain, bcell, cd79a)
    # the foreign profile itself gets no foreign RNA and no ambient in this simulation's labels
    assert (y == len(P)).sum() == 200


def test_simulation_hepatocyte_doublets(small_ref):
    """Non-hepatocyte cells may carry hepatocyte RNA (doublets, hepatocyte fragments) up to the set
    share of their RNA and keep their own label; hepatocytes themselves are left alone."""
    lin = lineage_map("human")
    P = small_ref.proportions(small_ref.genes)
    lins = [lin[c] for c in small_ref.classes]
    hep, b = small_ref.classes.index("Hep.1"), small_ref.classes.index("Mature.B.cells")
    # the hepatocyte genes that B cells lack, summed (many counts: little Poisson noise)
    hep_genes = P[b] < 0.01 * P[hep]
    cd79a = small_ref.genes.index("CD79A")
    base = dict(n_per_class=300, ambient_max=0.0, neighbour_max=0.0, gene_dropout_share=0, batch_sd=0.0,
                min_library=20000, max_library=20000)
    plain, y = simulate_counts(P, lins, SimulationSettings(**base), np.random.default_rng(1))
    dbl, y2 = simulate_counts(P, lins, SimulationSettings(**base, hepatocyte_doublet_share=0.5, hepatocyte_doublet_max=0.8),
                              np.random.default_rng(1))
    assert (y == y2).all()  # labels are kept

    def share(c, cls, genes):
        return c[y == cls][:, genes].sum(1) / c[y == cls].sum(1)

    # about half of the B cells carry hepatocyte RNA, up to 0.8 of a hepatocyte's share of those genes
    hep_level = share(plain, hep, hep_genes).mean()
    assert share(plain, b, hep_genes).mean() < 0.05 * hep_level
    carried = share(dbl, b, hep_genes) / hep_level
    assert 0.3 < (carried > 0.1).mean() < 0.7
    assert 0.6 < carried.max() < 0.9
    # B cells keep their own RNA in proportion; hepatocytes get no doublets
    assert share(dbl, b, [cd79a]).mean() > 0.6 * share(plain, b, [cd79a]).mean()
    assert share(dbl, hep, hep_genes).mean() == pytest.approx(hep_level, rel=0.02)


def test_modules_without_hepatocyte_genes_keep_a_b_cell_score_under_hepatocyte_rna():
    """max_hepatocyte_cp10k drops, from the non-hepatocyte modules, the genes hepatocytes express (the
    ER genes plasma cells share with hepatocytes in the Mouse Cell Atlas), so hepatocytes score low
    for the B-cell module while B cells carrying most of a hepatocyte's RNA still score high: the
    capped module separates the two where the plain one overlaps."""
    from liverannot.model import module_matrix
    from liverannot.reference import module_genes

    lin = lineage_map("mouse")
    full = Model.shipped("mouse", "rf").reference
    keep = ["Pericentral.hepatocyte", "Periportal.hepatocyte", "B.cell.Fcmr.high", "B.cell.Jchain.high",
            "Kupffer.cell", "Endothelial.cell", "T.cell.Trbc2.high"]
    ref = Reference("mouse", full.profiles[keep], "test subset")
    genes = ref.genes
    plain = module_genes(ref, lin, genes, n_class=0)
    capped = module_genes(ref, lin, genes, n_class=0, max_hepatocyte_cp10k=1.0)
    P = ref.proportions(genes)
    hep_cp10k = pd.Series(P[:2].max(axis=0) * 1e4, index=genes)
    assert capped["lineage:hepatocyte"] == plain["lineage:hepatocyte"]
    for name, members in capped.items():
        if name.startswith("lineage:") and name != "lineage:hepatocyte":
            assert (hep_cp10k[members] <= 1.0 + 1e-6).all(), name
    assert (hep_cp10k[plain["lineage:b_plasma"]] > 1.0).sum() >= 3  # the cap has something to remove

    lins = [lin[c] for c in keep]
    sim = SimulationSettings(n_per_class=200, ambient_max=0.1, gene_dropout_share=0)
    counts, y = simulate_counts(P, lins, sim, np.random.default_rng(2))
    dbl, _ = simulate_counts(P, lins, SimulationSettings(**{**sim.to_dict(), "hepatocyte_doublet_share": 1.0,
                                                            "hepatocyte_doublet_max": 0.8}), np.random.default_rng(2))

    def gap(modules):
        col = list(modules).index("lineage:b_plasma")
        score_hep = features(counts[y < 2], module_matrix(genes, modules))[:, len(genes) + col]
        score_dbl = features(dbl[y == 2], module_matrix(genes, modules))[:, len(genes) + col]
        return np.percentile(score_dbl, 10) - np.percentile(score_hep, 90)

    assert gap(capped) > gap(plain) + 0.2


def test_hepatocyte_mixture_correlations_favour_the_carrier_class(small_ref):
    """A B cell carrying 70% hepatocyte RNA correlates best with the hepatocyte profile, but with the
    B-cell/hepatocyte mixtures at least as well; a pure hepatocyte still correlates best with Hep.1."""
    from liverannot.classifier import with_mixtures
    from liverannot.simulate import correlations, log_cp10k

    lin = lineage_map("human")
    genes = small_ref.genes
    P = small_ref.proportions(genes)
    hep, b = small_ref.classes.index("Hep.1"), small_ref.classes.index("Mature.B.cells")
    prof, idx = small_ref.hepatocyte_mixtures(genes, lin, [0.25, 0.5, 0.75])
    assert len(prof) == 3 * (len(small_ref.classes) - 1) and hep not in idx
    lib = 20000
    rng = np.random.default_rng(0)
    cells = np.vstack([rng.poisson(lib * (0.3 * P[b] + 0.7 * P[hep])), rng.poisson(lib * P[hep])]).astype(np.float32)
    F, _ = log_cp10k(cells)
    C = correlations(F, small_ref.log_profiles(genes))
    Cm = with_mixtures(C, correlations(F, prof), idx)
    assert C[0].argmax() == hep and Cm[0].argmax() == b  # the doublet: plain says hepatocyte, mixtures B cell
    assert Cm[1].argmax() == hep  # the real hepatocyte is still closest to its own profile
    assert (Cm >= C).all() and (Cm[:, hep] == C[:, hep]).all()
    assert small_ref.hepatocyte_mixtures(genes, lin, [])[0].shape == (0, len(genes))


def test_nn_training_is_the_same_whatever_the_thread_count(small_ref):
    """The shipped networks must come out bit for bit the same on a laptop and on a 64-core node."""
    import torch

    lin = lineage_map("human")
    settings = {"simulation": {"n_per_class": 80}, "params": {"epochs": 3, "n_ensemble": 1}}
    before = torch.get_num_threads()
    weights = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            m = train_model(small_ref, lin, "nn", seed=5, search=False, quiet=True, settings=settings)
            weights.append([w for layer in m.backend.members[0] for w in layer])
            assert torch.get_num_threads() == threads  # the caller's setting is given back
    finally:
        torch.set_num_threads(before)
    assert all(np.array_equal(a, b) for a, b in zip(*weights))


def test_a_network_on_the_training_features_principal_components_is_written_and_read_back(small_ref, tmp_path):
    """``params.input_pcs`` (benchmarks/recipes.py nn_pcs*): every member reads the same k centred
    principal components of the training features; the bundle keeps the projection, so the loaded
    model gives the same probabilities, and the axes come out the same on every call."""
    from liverannot.train import input_projection

    lin = lineage_map("human")
    m = train_model(small_ref, lin, "nn", seed=3, search=False, quiet=True,
                    settings={"simulation": {"n_per_class": 120}, "params": {"epochs": 6, "n_ensemble": 2, "input_pcs": 16}})
    P, c = m.backend.projection
    assert P.shape == (m.n_features, 16) and c.shape == (16,)
    assert all(layers[0][0].shape[0] == 16 for layers in m.backend.members)   # the members' input is the projection
    assert m.settings["simulated_validation_accuracy"] > 0.9
    m.write(tmp_path / "b")
    back = Model.load(tmp_path / "b")
    rng = np.random.default_rng(0)
    F = rng.random((50, m.n_features)).astype(np.float32)
    assert np.array_equal(back.backend.predict_proba(F), m.backend.predict_proba(F))
    # centred: the projected rows average to 0; orthonormal axes; the same axes again
    X = rng.normal(size=(300, 40)).astype(np.float32) @ rng.normal(size=(40, 40)).astype(np.float32)
    P2, c2 = input_projection(X, 8)
    assert np.abs((X @ P2 + c2).mean(axis=0)).max() < 1e-3 * np.abs(X).max()
    assert np.allclose(P2.T @ P2, np.eye(8), atol=1e-5)
    assert all(np.array_equal(a, b) for a, b in zip((P2, c2), input_projection(X, 8)))


def test_evaluation_fine_labels_name_classes_of_the_shipped_models_in_the_expected_lineage():
    """eval_labels.tsv's expected_classes (the fine labels the benchmark scores) must name classes the
    shipped models of the dataset's species can answer, each in the label's expected lineage."""
    from liverannot.reference import eval_labels

    lab = eval_labels()
    fine = lab[lab["expected_classes"] != ""]
    assert len(fine) >= 10
    for species in ("human", "mouse"):
        rows = fine[fine["dataset"].str.startswith(species + "_")]
        assert len(rows), species
        for kind in ("nn", "rf"):
            m = Model.shipped(species, kind)
            for r in rows.itertuples():
                for c in r.expected_classes.split(","):
                    assert c in m.classes, (species, kind, r.cell_type, c)
                    assert m.lineage[c] == r.expected_lineage, (r.cell_type, c, m.lineage[c])


def test_the_model_repr_is_short_and_says_what_it_calls_and_how_well(human_nn):
    """print(model) in a notebook: a few lines, not the ~70 kB of fields it was."""
    text = repr(human_nn)
    assert len(text) < 1000 and text.count("\n") <= 6
    assert text.startswith("liverannot Model: human nn (neural network)")
    assert f"{len(human_nn.classes)} classes" in text and f"{len(human_nn.genes):,} genes" in text
    dev = human_nn.metrics["development"]["liver"]["lineage_accuracy"]
    assert f"lineage accuracy {dev:.3f}" in text
    assert str(human_nn) == text
