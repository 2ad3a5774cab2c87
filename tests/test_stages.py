"""The classifier as stages: each one alone, the whole against the snapshot of the unsplit
classifier, and the package's import graph."""

import ast
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import classify_snapshot
from liverannot.classifier import (ChunkScorer, Classification, decide, gate_nonliver, match_genes, score_cells)
from liverannot.errors import GeneMatchError
from liverannot.reference import NONLIVER_CLASS

from conftest import needs_shared

SRC = Path(__file__).resolve().parents[1] / "src" / "liverannot"


@pytest.fixture(scope="module")
def today():
    """Today's outputs for every snapshot case, on this machine."""
    import liverannot as la

    return classify_snapshot.compute(lambda a, m: la.classify(a, model=m))


def assert_same_outputs(new: dict, old: dict, case: str, commit: str) -> None:
    """The same calls, genes shared, refit and classes; probabilities, confidences and similarities
    float32 and equal to float32 rounding (1e-5: the bound is in the cross-machine test)."""
    for field in classify_snapshot.OBS + ("classes", "n_shared_genes", "refit"):
        assert np.array_equal(new[field], old[field]), (case, field, commit)
    for field in classify_snapshot.FLOATS + ("proba",):
        assert new[field].dtype == old[field].dtype == np.float32, (case, field)
        np.testing.assert_allclose(new[field], old[field], rtol=0, atol=1e-5, err_msg=f"{case} {field}")


@needs_shared
def test_the_stage_split_changed_no_call(today, tmp_path):
    """The four shipped models on every development and other-tissue set, with all genes and with
    30% of them (the refit path, nn and rf retrained at classify time): the classifier before its
    split into stages (the snapshot's commit, run from its own sources) and today's code give the
    same calls on the machine the tests run on, and probabilities, confidences and similarities
    equal to float32 rounding (1e-5: see the next test for the bound; the fast paths sum in
    another order, measured <= 8.3e-7 on an Intel AVX-512 machine)."""
    commit, recorded = classify_snapshot.read()
    before = classify_snapshot.compute_at_commit(commit, tmp_path)
    assert sorted(before) == sorted(recorded) == sorted(today)
    assert len(before) == 18   # 2 species x 2 models x (liver + other tissues + liver with 30% genes)
    assert sum(bool(d["refit"]) for d in before.values()) == 4
    for case, old in before.items():
        assert sorted(today[case]) == sorted(old), case
        assert_same_outputs(today[case], old, case, commit)


@needs_shared
def test_another_machine_gives_the_same_calls(today):
    """Against the stored snapshot, written on another machine: the same calls wherever no network is
    retrained at classify time, and confidences, similarities and probabilities equal to float32
    rounding. The bound: a float32 dot product over n ~ 2,000 genes, summed in another order, moves
    by ~ sqrt(n) * 2^-24 * |logit| ~ 3e-5 for logits of ~10, and a probability by at most a quarter
    of that. The nn refit path trains a network on this machine's kernels, so its calls may differ
    (measured on an AMD EPYC AVX-512 machine against the snapshot, written on an Intel one: 0.92 of
    human fine labels the same, every lineage the same) and are not compared here; the same-machine
    test above covers them."""
    commit, before = classify_snapshot.read()
    assert sorted(today) == sorted(before)
    compared = 0
    for case, old in before.items():
        new = today[case]
        assert new["n_shared_genes"] == old["n_shared_genes"] and new["refit"] == old["refit"], case
        assert (new["classes"] == old["classes"]).all(), case
        if old["refit"] and case.split("/")[0].endswith("_nn"):
            continue
        compared += 1
        assert_same_outputs(new, old, case, commit)
    assert compared == 16


def test_match_genes_counts_shared_genes_and_refuses_too_few(human_nn):
    genes = list(human_nn.genes)
    m = match_genes(genes[:3000] + ["NOT_A_GENE"], human_nn)
    assert m.n_shared == 3000 and not m.refit and m.model is human_nn
    assert m.mapping.shape == (3001, len(genes)) and m.present[:3000].all() and not m.present[3000:].any()
    with pytest.raises(GeneMatchError, match="only 10 of the human nn model's"):
        match_genes(genes[:10], human_nn)


def test_chunk_scorer_stages_compose(adata, human_nn):
    """features -> probabilities -> Non-liver gate -> fusion, each callable on one chunk."""
    match = match_genes(list(adata.var_names), human_nn)
    scorer = ChunkScorer(match)
    block = adata.X[:50]
    G = scorer.model_gene_counts(block)
    assert G.shape == (50, len(human_nn.genes)) and sp.issparse(G)
    F = scorer.features(G)
    assert F.shape == (50, human_nn.n_features)
    P = human_nn.predict_proba(F)
    np.testing.assert_allclose(P.sum(1), 1, atol=1e-5)
    out = scorer(block)
    assert out.proba.shape == P.shape
    np.testing.assert_allclose(out.proba.sum(1), 1, atol=1e-5)
    assert ((out.nonliver_share >= 0) & (out.nonliver_share <= 1)).all()
    # streaming in any chunk size gives the same numbers as one chunk
    whole = score_cells(adata.X[:50], "counts", ChunkScorer(match), chunk_size=1000)
    small = score_cells(adata.X[:50], "counts", ChunkScorer(match), chunk_size=7)
    np.testing.assert_allclose(whole.proba, small.proba, atol=1e-6)
    np.testing.assert_allclose(whole.proba, out.proba, atol=1e-6)


def test_nonliver_gate_needs_evidence():
    P = np.array([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]], np.float32)
    out = gate_nonliver(P.copy(), np.array([0.01, 0.5]), nl_class=2, min_share=0.08)
    np.testing.assert_allclose(out[0], [0.4, 0.6, 0.0], atol=1e-6)   # no evidence: Non-liver removed
    np.testing.assert_allclose(out[1], P[1])                         # evidence: kept


def test_decide_lineage_fine_label_and_reasons():
    classes = ["Hep.1", "Hep.2", "Kupffer", NONLIVER_CLASS]
    lineages = ["hepatocyte", "hepatocyte", "myeloid", "other"]
    proba = np.array([
        [0.30, 0.30, 0.40, 0.00],   # torn between two zones: still confidently a hepatocyte (0.6)
        [0.05, 0.03, 0.12, 0.80],   # Non-liver
        [0.20, 0.20, 0.30, 0.30],   # no lineage above 0.5
        [0.00, 0.00, 0.95, 0.05],   # Kupffer, but unlike its profile
    ], np.float32)
    sim = np.array([0.9, 0.9, 0.9, 0.1], np.float32)
    d = decide(proba, sim, classes, lineages, min_confidence=0.5, min_similarity=0.2)
    assert list(d.lineage) == ["hepatocyte", "unassigned", "unassigned", "unassigned"]
    assert list(d.celltype) == ["Hep.1", "Unassigned", "Unassigned", "Unassigned"]
    assert list(d.reason) == ["", "non_liver", "low_confidence", "low_similarity"]
    assert d.confidence[0] == pytest.approx(0.6)
    # the best liver call ignores the Unassigned rules and the Non-liver class
    assert list(d.best_lineage) == ["hepatocyte", "myeloid", "hepatocyte", "myeloid"]
    assert list(d.assigned) == [True, False, False, False]


def test_classification_result_writes_and_tabulates(adata, human_nn):
    from liverannot.classifier import classify_cells

    before = set(adata.obs.columns)
    res = classify_cells(adata, human_nn)
    assert isinstance(res, Classification) and set(adata.obs.columns) == before   # nothing written yet
    table = res.to_table()
    assert len(table) == adata.n_obs and "liver_celltype" in table and "liver_unassigned_reason" in table
    assert res.probability_matrix().shape == (adata.n_obs, len(human_nn.classes))
    res.to_adata(adata, key_added="x")
    assert (adata.obs["x_celltype"].astype(str) == table["liver_celltype"].astype(str)).all()
    assert adata.obsm["x_proba"].shape[1] == len(human_nn.classes)
    assert adata.uns["x_classify"]["n_unassigned"] == res.n_unassigned
    text = repr(res)
    assert text.startswith(f"liverannot Classification: {adata.n_obs:,} cells by the human nn model")
    assert len(text.splitlines()) == 3 and "unassigned:" in text


def _imports(path: Path) -> set[str]:
    """The package modules a module imports, at its top or inside functions."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(a.name for a in node.names)
    return out


def test_package_has_no_import_circle():
    modules = {p.stem: p for p in SRC.glob("*.py")}
    graph = {m: {d for d in _imports(p) if d in modules and d != "__init__"} for m, p in modules.items()}
    graph["__init__"] = {d for d in _imports(modules["__init__"]) if d in modules}
    cycles = []

    def visit(node, path):
        for dep in graph.get(node, ()):
            if dep in path:
                cycles.append(path[path.index(dep):] + [dep])
            elif len(path) < len(graph):
                visit(dep, path + [dep])

    for m in graph:
        if m != "__init__":
            visit(m, [m])
    assert not cycles, f"import circles: {sorted({' -> '.join(c) for c in cycles})}"
    assert "train" not in graph["model"]   # the refit lives in train.py, called by the classifier
