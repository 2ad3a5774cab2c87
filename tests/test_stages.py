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


@needs_shared
def test_calls_identical_to_the_snapshot():
    """Calls and probabilities of the four shipped models on every development and other-tissue
    set, with all genes and with 30% of them (the refit path), are those of the snapshot written by
    the classifier before its split into stages (tests/classify_snapshot.py)."""
    import liverannot as la

    commit, before = classify_snapshot.read()
    now = classify_snapshot.compute(lambda a, m: la.classify(a, model=m))
    assert sorted(now) == sorted(before)
    assert len(before) == 18   # 2 species x 2 models x (liver + other tissues + liver with 30% genes)
    assert sum(bool(d["refit"]) for d in before.values()) == 4
    for case, old in before.items():
        new = now[case]
        for field in classify_snapshot.OBS + ("classes",):
            assert (new[field] == old[field]).all(), (case, field, commit)
        assert new["n_shared_genes"] == old["n_shared_genes"] and new["refit"] == old["refit"], case
        # the same operations in the same order: equal to float32 rounding (bitwise on one machine)
        np.testing.assert_allclose(new["proba"], old["proba"], rtol=0, atol=1e-6, err_msg=case)
        for field in classify_snapshot.FLOATS:
            np.testing.assert_allclose(new[field], old[field], rtol=0, atol=1e-6, err_msg=f"{case} {field}")


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
