"""Bad inputs get one clear message and a non-zero exit; inputs are never modified; near-bad inputs work."""

import hashlib
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from liverannot.cli import main
from liverannot.demo import simulate_sample, write_10x
from liverannot.io import write_h5ad


def digest(path: Path) -> str:
    h = hashlib.sha256()
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    for f in files:
        if f.is_file():
            h.update(f.read_bytes())
    return h.hexdigest()


def make(tmp_path, kind, small_sample):
    """A bad input of the given kind; returns (path, words the message must contain)."""
    p = tmp_path / "in.h5ad"
    if kind == "missing":
        return tmp_path / "nope.h5ad", ["nope.h5ad", "no such file"]
    if kind == "empty":
        p.write_bytes(b"")
        return p, ["in.h5ad", "empty"]
    if kind == "truncated":
        write_h5ad(small_sample, p)
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 3])
        return p, ["in.h5ad", "cannot read"]
    if kind == "not_anndata":
        with h5py.File(p, "w") as f:
            f["x"] = np.arange(4)
        return p, ["in.h5ad", "AnnData"]
    if kind == "zero_cells":
        write_h5ad(small_sample[:0].copy(), p)
        return p, ["in.h5ad", "zero cells"]
    if kind == "zero_genes":
        write_h5ad(small_sample[:, :0].copy(), p)
        return p, ["in.h5ad", "zero genes"]
    if kind in ("nan", "inf", "negative"):
        a = small_sample.copy()
        X = a.X.toarray()
        X[2, 3] = {"nan": np.nan, "inf": np.inf, "negative": -2}[kind]
        a.X = sp.csr_matrix(X)
        write_h5ad(a, p)
        return p, [{"nan": "NaN", "inf": "infinite", "negative": "negative"}[kind], "raw counts"]
    if kind == "few_genes":
        write_h5ad(small_sample[:, :20].copy(), p)
        return p, ["only", "genes are in the query", "at least 50"]
    if kind == "other_species":
        write_h5ad(simulate_sample("mouse", 150, seed=3), p)
        return p, ["--species mouse"]
    raise ValueError(kind)


KINDS = ["missing", "empty", "truncated", "not_anndata", "zero_cells", "zero_genes", "nan", "inf", "negative",
         "few_genes", "other_species"]


@pytest.fixture(scope="module")
def small_sample():
    return simulate_sample("human", 150, seed=7)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_input_clear_message(kind, tmp_path, small_sample, capsys):
    path, words = make(tmp_path, kind, small_sample)
    before = digest(path) if path.exists() else None
    rc = main(["classify", "-i", str(path), "-o", str(tmp_path / "out.h5ad"), "--species", "human"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    assert err.count("error:") == 1
    for w in words:
        assert w in err, (w, err)
    assert not (tmp_path / "out.h5ad").exists()
    assert not list(tmp_path.glob(".out.h5ad*")), "temporary file left behind"
    if before:
        assert digest(path) == before


@pytest.mark.parametrize("step", ["qc", "normalize"])
def test_bad_values_refused_by_every_step(step, tmp_path, small_sample, capsys):
    path, words = make(tmp_path, "nan", small_sample)
    rc = main([step, "-i", str(path), "-o", str(tmp_path / "o.h5ad")])
    assert rc == 2 and "NaN" in capsys.readouterr().err
    assert not (tmp_path / "o.h5ad").exists()


def test_run_never_modifies_inputs(tmp_path):
    write_10x(simulate_sample("human", 400, seed=41), tmp_path / "a_10x")
    write_h5ad(simulate_sample("human", 400, seed=42), tmp_path / "b.h5ad")
    (tmp_path / "sheet.csv").write_text("sample,input\na,a_10x\nb,b.h5ad\n")
    before = {p: digest(tmp_path / p) for p in ("a_10x", "b.h5ad", "sheet.csv")}
    assert main(["run", "--samplesheet", str(tmp_path / "sheet.csv"), "--outdir", str(tmp_path / "out"),
                 "--no-multiqc"]) == 0
    assert {p: digest(tmp_path / p) for p in before} == before


def test_run_names_the_failing_sample_and_finishes_the_others(tmp_path, small_sample, capsys):
    write_h5ad(simulate_sample("human", 400, seed=43), tmp_path / "good.h5ad")
    bad = small_sample.copy()
    X = bad.X.toarray()
    X[0, 0] = -1
    bad.X = sp.csr_matrix(X)
    write_h5ad(bad, tmp_path / "bad.h5ad")
    (tmp_path / "sheet.csv").write_text("sample,input\ngood,good.h5ad\nbroken,bad.h5ad\n")
    rc = main(["run", "--samplesheet", str(tmp_path / "sheet.csv"), "--outdir", str(tmp_path / "out"), "--no-multiqc"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "sample broken (samplesheet line 3)" in err and "negative" in err
    assert (tmp_path / "out" / "good" / "good.annotated.h5ad").exists()
    assert not (tmp_path / "out" / "broken").exists()


def test_near_bad_inputs_succeed_through_run(tmp_path):
    """CPM values, Ensembl IDs with a symbol column, dense float64 and duplicate gene names, all at once."""
    a = simulate_sample("human", 600, seed=44)
    truth = a.obs["true_lineage"].copy()
    lib = np.asarray(a.X.sum(1)).ravel()
    X = (sp.diags(1e6 / lib) @ a.X).toarray().astype(np.float64)
    symbols = list(a.var_names)
    symbols[5] = symbols[6]  # a duplicated symbol
    var = pd.DataFrame({"gene_symbols": symbols}, index=[f"ENSG{i:011d}" for i in range(a.n_vars)])
    b = ad.AnnData(X=X, obs=a.obs[[]].copy(), var=var)
    write_h5ad(b, tmp_path / "cpm.h5ad")
    (tmp_path / "sheet.csv").write_text("sample,input\ncpm,cpm.h5ad\n")
    assert main(["run", "--samplesheet", str(tmp_path / "sheet.csv"), "--outdir", str(tmp_path / "out"),
                 "--no-multiqc", "--min-genes", "100"]) == 0
    out = ad.read_h5ad(tmp_path / "out" / "cpm" / "cpm.annotated.h5ad")
    assert out.uns["liverannot"]["input_kind"] == "normalized"  # detected as CPM at normalization
    assert "equal cell totals" in out.uns["liverannot"]["input_kind_detail"]
    assert out.uns["liver_classify"]["n_shared_genes"] > 1000
    acc = (out.obs["liver_lineage"].astype(str) == truth.reindex(out.obs_names)).mean()
    assert acc > 0.95


def test_classify_streams_a_backed_h5ad_to_a_table(tmp_path, small_sample):
    write_h5ad(small_sample, tmp_path / "a.h5ad")
    assert main(["classify", "-i", str(tmp_path / "a.h5ad"), "-o", str(tmp_path / "calls.csv"), "--species", "human",
                 "--chunk-size", "40"]) == 0
    calls = pd.read_csv(tmp_path / "calls.csv", index_col=0)
    assert list(calls.index) == list(small_sample.obs_names)
    assert (calls["liver_lineage"] == small_sample.obs["true_lineage"]).mean() > 0.95
