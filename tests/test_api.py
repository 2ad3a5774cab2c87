"""The public Python API (`import liverannot as la`): the README's notebook example on a real
development set, the same calls as the CLI on every kind of input, errors, plots, lazy imports."""

import re
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import liverannot as la
from liverannot.cli import main
from liverannot.evaluate import dev_datasets, expected_lineages, score

from conftest import needs_shared, write_h5ad

ROOT = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- notebook-example[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert m, "README.md has no notebook-example block"
    return m.group(1)


@needs_shared
@pytest.mark.parametrize("species", ["human", "mouse"])
def test_readme_notebook_example_runs_on_a_real_dev_set(species, capsys):
    (name, path), = [(n, p) for n, p in dev_datasets(species, include_other_tissues=False).items()]
    ns = {"path": str(path)}
    exec(compile(readme_example(), "README.md", "exec"), ns)
    adata, table = ns["adata"], ns["table"]
    info = adata.uns["liver_classify"]
    assert info["species"] == species   # detected from the gene names
    for col in ("liver_celltype", "liver_lineage", "liver_confidence", "liver_unassigned_reason",
                "liver_cluster_annotation", "leiden"):
        assert col in adata.obs, col
    assert adata.obsm["liver_proba"].shape == (adata.n_obs, len(info["classes"]))
    assert set(table["label"]) <= set(info["classes"]) | {"Unassigned"} and len(table) == adata.obs["leiden"].nunique()
    assert table["n_cells"].sum() == adata.n_obs
    # the calls are right on these real cells of another study, after QC, as in the model card
    acc = score(adata.obs["liver_lineage"].astype(str).to_numpy(), expected_lineages(name, adata.obs["cell_type"]))
    assert acc["lineage_accuracy"] >= 0.9, acc
    assert len(ns["fig"].axes) >= 1
    out = capsys.readouterr().out
    assert "liverannot Model: human rf" in out and "label" in out


# ------------------------------------------------------------------------------------------
# the same calls as the CLI, on every kind of input
# ------------------------------------------------------------------------------------------

def _variant(a, kind: str):
    a = a.copy()
    X = a.X.tocsr().astype(np.float32)
    lib = np.asarray(X.sum(1)).ravel()
    cpm = sp.csr_matrix(sp.diags(1e6 / lib) @ X).astype(np.float32)
    if kind == "counts":
        a.X = X
    elif kind == "dense":
        a.X = X.toarray()
    elif kind == "cpm":
        a.X = cpm
    elif kind == "log1p":
        a.X = cpm.copy()
        a.X.data = np.log1p(a.X.data / 100)
    elif kind == "counts_layer":          # scanpy users and nf-core/scrnaseq: log values in X, counts in a layer
        a.layers["counts"] = X
        a.X = cpm.copy()
        a.X.data = np.log1p(a.X.data / 100)
    elif kind == "ensembl":               # nf-core/scrnaseq: Ensembl IDs in the index, symbols in var
        a.X = X
        a.var["gene_symbols"] = a.var_names.to_numpy()
        a.var_names = [f"ENSG{i:011d}" for i in range(a.n_vars)]
    return a


CALL_COLUMNS = ["liver_celltype", "liver_lineage", "liver_best_celltype", "liver_unassigned_reason"]


@pytest.mark.parametrize("kind", ["counts", "dense", "cpm", "log1p", "counts_layer", "ensembl"])
def test_api_and_cli_make_the_same_calls(human_sample, tmp_path, kind):
    a = _variant(human_sample[:300], kind)
    src = write_h5ad(a, tmp_path / "in.h5ad")
    assert main(["classify", "-i", str(src), "-o", str(tmp_path / "cli.h5ad")]) == 0
    cli = ad.read_h5ad(tmp_path / "cli.h5ad")
    mine = la.read(src)
    assert la.classify(mine) is None            # in place, scanpy-style
    for col in CALL_COLUMNS:
        assert (mine.obs[col].astype(str) == cli.obs[col].astype(str)).all(), col
    np.testing.assert_array_equal(mine.obsm["liver_proba"], cli.obsm["liver_proba"])
    np.testing.assert_array_equal(mine.obs["liver_confidence"], cli.obs["liver_confidence"])
    assert mine.uns["liver_classify"]["input_kind"] == cli.uns["liver_classify"]["input_kind"]
    truth = human_sample[:300].obs["true_lineage"].astype(str).to_numpy()
    assert (mine.obs["liver_lineage"].astype(str).to_numpy() == truth).mean() > 0.95


def test_backed_input_streams_and_matches_the_cli_table(human_sample, tmp_path):
    src = write_h5ad(_variant(human_sample[:300], "counts"), tmp_path / "in.h5ad")
    assert main(["classify", "-i", str(src), "-o", str(tmp_path / "calls.csv")]) == 0   # the CLI's backed path
    cli = pd.read_csv(tmp_path / "calls.csv", index_col=0)
    backed = la.read(src, backed=True)
    assert backed.isbacked
    seen = []
    la.classify(backed, species="human", chunk_size=64, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (300, 300) and len(seen) == 5
    assert (backed.obs["liver_celltype"].astype(str).to_numpy() == cli["liver_celltype"].astype(str).to_numpy()).all()
    np.testing.assert_allclose(backed.obs["liver_confidence"].to_numpy(), cli["liver_confidence"].to_numpy(), atol=1e-6)
    # copy=True of a backed AnnData gives an annotated in-memory copy and leaves the original as it was
    fresh = la.read(src, backed=True)
    out = la.classify(fresh, copy=True, key_added="x")
    assert not out.isbacked and "x_celltype" in out.obs and "x_celltype" not in fresh.obs


def test_copy_key_added_species_and_model_choices(adata, mouse_sample):
    before = adata.obs.columns.tolist()
    out = la.classify(adata, species="human", model="rf", copy=True, key_added="rf")
    assert adata.obs.columns.tolist() == before and "rf_celltype" in out.obs and "rf_proba" in out.obsm
    assert out.uns["rf_classify"]["model"] == "rf"
    m = mouse_sample[:200].copy()
    la.classify(m)
    assert m.uns["liver_classify"]["species"] == "mouse"
    assert la.detect_species(m) == "mouse"
    # a loaded model, or a bundle folder, is used as it is
    model = la.load_model("mouse", "nn")
    b = mouse_sample[:200].copy()
    la.classify(b, model=model)
    c = mouse_sample[:200].copy()
    la.classify(c, model=la.models().set_index(["species", "model"]).loc[("mouse", "nn"), "path"])
    assert (b.obs["liver_celltype"].astype(str) == m.obs["liver_celltype"].astype(str)).all()
    assert (c.obs["liver_celltype"].astype(str) == m.obs["liver_celltype"].astype(str)).all()


def test_annotate_returns_the_table_and_writes_obs(processed):
    a = processed[0].copy()
    table = la.annotate(a, groupby="leiden", mode="proba", key_added="by_proba")
    assert list(table.index) == [str(c) for c in a.obs["leiden"].cat.categories]
    assert {"n_cells", "label", "lineage", "fraction_agreeing", "mean_confidence", "supporting_genes"} <= set(table)
    assert (a.obs["by_proba"].astype(str).to_numpy() == table.loc[a.obs["leiden"].astype(str), "label"].to_numpy()).all()
    assert a.uns["by_proba"]["mode"] == "proba"


# ------------------------------------------------------------------------------------------
# models, plots, errors, imports
# ------------------------------------------------------------------------------------------

def test_models_table_holds_the_cards_numbers():
    import json

    df = la.models()
    assert len(df) == 4 and set(df["status"]) == {"ok"}
    for r in df.to_dict(orient="records"):
        metrics = json.loads((Path(r["path"]) / "metrics.json").read_text())["development"]
        assert r["liver_lineage_accuracy"] == metrics["liver"]["lineage_accuracy"]
        assert r["nonliver_unassigned_rate"] == metrics["other_tissues"]["unassigned_rate_nonliver"]
        assert 0.5 < r["liver_lineage_accuracy"] <= 1 and r["genes"] > 1000 and r["classes"] > 15


def test_model_repr_is_short_and_useful():
    m = la.load_model("human", "nn")
    text = repr(m)
    assert len(text) < 1000 and len(text.splitlines()) <= 6
    assert text.startswith("liverannot Model: human nn (neural network), 23 classes")
    assert f"{len(m.genes):,} genes" in text and "lineage accuracy" in text
    assert len(m.card) > 2 * len(text)   # the full card is still there


def test_plots_are_figures(processed):
    from matplotlib.figure import Figure

    a = processed[0]
    fig = la.pl.umap(a)
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == ["clusters", "cluster annotation", "per-cell call"]
    xy = {tuple(p) for p in np.asarray(a.obsm["X_umap"], float)}
    for ax, col in zip(fig.axes, ("leiden", "liver_cluster_annotation", "liver_celltype")):
        # every cell drawn once, in its category's colour, the categories in the legend with their sizes
        drawn = [(line.get_label(), np.column_stack(line.get_data())) for line in ax.lines]
        assert sum(len(p) for _, p in drawn) == a.n_obs and {tuple(p) for _, d in drawn for p in d} == xy
        counts = a.obs[col].astype(str).value_counts()
        assert sorted(lab for lab, _ in drawn) == sorted(f"{c} ({n})" for c, n in counts.items() if n > 0)
        assert len({line.get_color() for line in ax.lines}) == len(ax.lines)
    one = la.pl.umap(a, color="liver_lineage", title="s1")
    assert [ax.get_title() for ax in one.axes] == ["s1: liver_lineage"]
    comp = la.pl.composition(a)
    labels = {t.get_text() for t in comp.axes[0].get_yticklabels()}
    assert labels == set(a.obs["liver_lineage"].astype(str))
    conf = la.pl.confidence(a)
    assert sum(p.get_height() for p in conf.axes[0].patches) == a.n_obs
    # into an axes of one's own
    mine = Figure()
    ax = mine.subplots()
    assert la.pl.confidence(a, ax=ax) is mine


def test_errors_are_liverannot_errors(adata, processed, tmp_path):
    with pytest.raises(la.InputError, match="must be an AnnData, not str .*la.read"):
        la.classify("sample.h5ad")
    with pytest.raises(la.LiverannotError, match="unknown species 'martian'"):
        la.classify(adata, species="martian")
    with pytest.raises(la.LiverannotError, match="model='svm'"):
        la.classify(adata, model="svm")
    with pytest.raises(la.LiverannotError, match="a mouse model but species='human'"):
        la.classify(adata, species="human", model=la.load_model("mouse"))
    with pytest.raises(la.InputError, match="layer 'raw' not found"):
        la.classify(adata, layer="raw")
    with pytest.raises(la.InputError, match="has no cells"):
        la.classify(adata[:0].copy())
    with pytest.raises(la.GeneMatchError, match="--species mouse .*species='mouse'"):
        la.classify(_mouse_like(adata), species="human")
    with pytest.raises(la.LiverannotError, match="run `liverannot classify` first"):
        la.annotate(adata)
    with pytest.raises(la.LiverannotError, match="cluster column 'louvain' not in obs"):
        la.annotate(processed[0].copy(), groupby="louvain")
    with pytest.raises(la.LiverannotError, match="no X_umap in obsm"):
        la.pl.umap(adata)
    with pytest.raises(la.LiverannotError, match="run la.classify"):
        la.pl.composition(adata)
    with pytest.raises(la.LiverannotError, match="neither a species"):
        la.load_model(tmp_path / "nothing")


def _mouse_like(a):
    from liverannot.model import Model

    m = Model.shipped("mouse", "nn")
    b = a[:, :len(m.genes)].copy()
    b.var_names = m.genes
    return b


def test_import_is_light():
    code = ("import sys, liverannot as la; heavy = ['scanpy', 'anndata', 'matplotlib', 'sklearn', 'torch', "
            "'numba', 'umap']; print([m for m in heavy if m in sys.modules])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]", r.stdout


def test_version_and_the_package_top_import_nothing_heavy_until_a_function_is_used():
    """Every pipeline task runs `liverannot --version` for its versions.yml: it must not pay for
    numpy, pandas or anndata (over a second per task before, ~0.1 s now). The public names still
    resolve on first use, and a wrong name is an AttributeError."""
    heavy = "['numpy', 'pandas', 'scipy', 'anndata', 'scanpy', 'sklearn', 'matplotlib', 'torch', 'numba']"
    code = ("import sys\nfrom liverannot.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
            f"print([m for m in {heavy} if m in sys.modules])\n"
            "import liverannot as la\n"
            f"print([m for m in {heavy} if m in sys.modules])\n"
            "print(callable(la.classify), la.pl.__name__, la.pp.__name__, 'annotate' in dir(la))\n"
            "print('pandas' in sys.modules)\n"
            "try:\n    la.no_such_function\nexcept AttributeError as e:\n    print('AttributeError', e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"liverannot {la.__version__}"
    assert lines[1] == "[]" and lines[2] == "[]", lines
    assert lines[3] == "True liverannot.pl liverannot.pp True" and lines[4] == "True"
    assert lines[5].startswith("AttributeError") and "no_such_function" in lines[5]
